import TensorCore

/// A multilayer perceptron: Linear layers with an activation (and optional
/// dropout) between them, trained with cross-entropy or mean squared error.
///
/// Parameters are named `layers.0.weight`, `layers.0.bias`, `layers.1.weight`, ...
/// counting Linear layers from the input, and laid out in reverse forward order.
public final class MLP: Model {
    /// The shape of an MLP.
    public struct Configuration: Sendable, Equatable, Codable {
        /// Input features.
        public var inputs: Int
        /// Widths of the hidden layers, from the input side.
        public var hidden: [Int]
        /// Output features: classes, or regression outputs.
        public var outputs: Int
        /// The nonlinearity after each hidden Linear layer.
        public var activation: Activation
        /// The dropout rate after each hidden activation (0 for none).
        public var dropout: Float
        /// The training objective.
        public var loss: LossKind

        public init(inputs: Int, hidden: [Int], outputs: Int, activation: Activation = .relu,
                    dropout: Float = 0, loss: LossKind = .crossEntropy) {
            (self.inputs, self.hidden, self.outputs, self.activation) = (inputs, hidden, outputs, activation)
            (self.dropout, self.loss) = (dropout, loss)
        }

        /// The benchmark shape 784-1024-1024-10 with ReLU.
        public static let benchmark = Configuration(inputs: 784, hidden: [1024, 1024], outputs: 10)
    }

    /// The configuration this model was built from.
    public let configuration: Configuration
    public var parameters: ParameterStore { stack.store }

    public var layerObserver: LayerObserver? {
        get { stack.observer }
        set { stack.observer = newValue }
    }
    public var isTraining = true
    public var dropoutGenerator = RandomGenerator(seed: 0, stream: 0xD80)

    private let stack: LayerStack
    private let loss: Loss
    // A copy of the inputs: the first Linear layer reads them again in backward.
    private var inputCopy = Workspace()

    /// Builds the layers and an all-zero parameter store; call
    /// ``initializeParameters(seed:)`` before training.
    public init(_ configuration: Configuration) {
        precondition(configuration.inputs > 0 && configuration.outputs > 0
                     && configuration.hidden.allSatisfy { $0 > 0 },
                     "MLP: every size must be positive, got \(configuration)")
        self.configuration = configuration
        let widths = [configuration.inputs] + configuration.hidden + [configuration.outputs]
        var layers: [(name: String, layer: Layer)] = []
        for i in 0..<(widths.count - 1) {
            layers.append(("layers.\(i)", Linear(inputs: widths[i], outputs: widths[i + 1],
                                                 initialization: configuration.activation.initialization)))
            if i < widths.count - 2 {
                layers.append(("activations.\(i)", configuration.activation.makeLayer()))
                if configuration.dropout > 0 {
                    layers.append(("dropout.\(i)", Dropout(rate: configuration.dropout)))
                }
            }
        }
        stack = LayerStack(layers)
        loss = configuration.loss.makeLoss()
    }

    /// A convenience for ``init(_:)``.
    public convenience init(inputs: Int, hidden: [Int], outputs: Int, activation: Activation = .relu,
                            dropout: Float = 0, loss: LossKind = .crossEntropy) {
        self.init(Configuration(inputs: inputs, hidden: hidden, outputs: outputs,
                                activation: activation, dropout: dropout, loss: loss))
    }

    public func initializeParameters(seed: UInt64) {
        stack.initializeParameters(seed: seed)
    }

    public func forward(inputs: Tensor, targets: Tensor) -> LossResult {
        let output = run(inputs, training: isTraining)
        return loss.forward(output, targets: targets)
    }

    public func backward(gradientsReady: ((Range<Int>) -> Void)?) {
        stack.backward(loss.backward(scale: 1), gradientsReady: gradientsReady)
    }

    /// Class logits (or regression outputs) `[B, outputs]`, dropout off.
    ///
    /// Reuses the forward workspaces, so call it outside a forward/backward pair.
    public func logits(inputs: Tensor) -> Tensor {
        run(inputs, training: false).clone()
    }

    private func run(_ inputs: Tensor, training: Bool) -> Tensor {
        precondition(inputs.rank >= 1 && inputs.shape[0] > 0
                     && inputs.count == inputs.shape[0] * configuration.inputs,
                     "MLP: expected [B, \(configuration.inputs)] inputs, got \(inputs.shape)")
        let x = inputCopy.tensor([inputs.shape[0], configuration.inputs])
        x.copy(from: inputs)
        var context = ForwardContext(isTraining: training, generator: dropoutGenerator)
        let output = stack.forward(x, context: &context)
        if training { dropoutGenerator = context.generator }
        return output
    }
}
