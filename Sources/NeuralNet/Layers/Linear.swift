import TensorCore

/// A fully connected layer, `y = x Wᵀ + b`, over the last dimension.
///
/// The weight is `[outputs, inputs]` (each row one output unit's weights), the
/// bias `[outputs]`. Inputs of any rank are treated as `[rows, inputs]`.
public final class Linear: Layer {
    /// Input features.
    public let inputs: Int
    /// Output features.
    public let outputs: Int
    /// Whether the layer adds a bias.
    public let hasBias: Bool
    /// How the weight is initialized.
    public var initialization: WeightInitialization

    private var parameters = WeightAndBias()
    /// Where the profile counts this layer's products.
    private let family: MatmulFamily

    private var input = Tensor(zeros: [0])
    private var output = Workspace()
    private var inputGradient = Workspace()

    /// - Parameters:
    ///   - inputs: Input features.
    ///   - outputs: Output features.
    ///   - bias: Whether to add a bias.
    ///   - initialization: The weight's initialization scheme.
    public init(inputs: Int, outputs: Int, bias: Bool = true,
                initialization: WeightInitialization = .kaimingUniform) {
        precondition(inputs > 0 && outputs > 0, "Linear: sizes must be positive, got \(inputs) -> \(outputs)")
        self.inputs = inputs
        self.outputs = outputs
        self.hasBias = bias
        self.initialization = initialization
        family = MatmulFamily("linear \(inputs)x\(outputs)")
    }

    public func parameterSpecs(prefix: String) -> [ParameterSpec] {
        var specs: [ParameterSpec] = [(prefix + "weight", [outputs, inputs], true)]
        if hasBias { specs.append((prefix + "bias", [outputs], false)) }
        return specs
    }

    public func bind(to store: ParameterStore, prefix: String) {
        parameters.bind(to: store, prefix: prefix, hasBias: hasBias)
    }

    public func initializeParameters(seed: UInt64) {
        parameters.initialize(fanIn: inputs, fanOut: outputs, scheme: initialization, seed: seed, layer: "Linear")
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        guard let weight = parameters.weight else { preconditionFailure("Linear: forward before bind") }
        precondition(input.rank >= 1 && input.shape[input.rank - 1] == inputs,
                     "Linear: input \(input.shape) does not end in \(inputs)")
        self.input = input
        let rows = input.count / inputs
        var shape = input.shape
        shape[shape.count - 1] = outputs
        let y = output.tensor(shape)
        Kernels.linearForward(out: y.pointer, input: input.pointer, weight: weight.pointer, bias: parameters.bias?.pointer,
                              rows: rows, inChannels: inputs, outChannels: outputs, family: family)
        return y
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard let weight = parameters.weight, let weightGradient = parameters.weightGradient else {
            preconditionFailure("Linear: backward before bind")
        }
        let rows = input.count / inputs
        precondition(outputGradient.count == rows * outputs,
                     "Linear: output gradient \(outputGradient.shape) does not match the last forward")
        let dx: Tensor? = needsInputGradient ? inputGradient.tensor(input.shape) : nil
        Kernels.linearBackward(dinput: dx?.pointer, dweight: weightGradient.pointer, dbias: parameters.biasGradient?.pointer,
                               dout: outputGradient.pointer, input: input.pointer, weight: weight.pointer,
                               rows: rows, inChannels: inputs, outChannels: outputs, family: family)
        return dx
    }
}
