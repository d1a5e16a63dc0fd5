import TensorCore

/// The top-level layers of a model in forward order, their parameter store,
/// and the bookkeeping that reports finished gradient ranges during backward.
///
/// Each named layer's parameters are called `name + "." + ...` and laid out in
/// reverse forward order, so walking the layers backward finishes the gradient
/// buffer from offset 0 upward, one contiguous range per layer.
public final class LayerStack {
    /// The named layers in forward order.
    public let layers: [(name: String, layer: Layer)]
    /// The parameters and gradients of all layers.
    public let store: ParameterStore
    // The gradient range each layer finishes, nil for layers without parameters.
    private let ranges: [Range<Int>?]
    // Forward runs the layers as one Sequential (backward reports ranges, so it walks them itself).
    private let sequence: Sequential
    /// Sees every layer's output and input gradient while set (see ``LayerObserver``).
    public var observer: LayerObserver?

    /// Lays out and binds the parameters of `layers`.
    ///
    /// - Parameter layers: Named layers in forward order.
    public init(_ layers: [(name: String, layer: Layer)]) {
        self.layers = layers
        self.sequence = Sequential(layers)
        let specsPerLayer = layers.map { $0.layer.parameterSpecs(prefix: $0.name + ".") }
        let store = ParameterStore(specsPerLayer.reversed().flatMap { $0 })
        self.store = store
        var ranges: [Range<Int>?] = []
        for (entry, specs) in zip(layers, specsPerLayer) {
            entry.layer.bind(to: store, prefix: entry.name + ".")
            let infos = specs.map { store.info($0.name) }
            if let low = infos.map(\.offset).min(), let high = infos.map(\.range.upperBound).max(), low < high {
                ranges.append(low..<high)
            } else {
                ranges.append(nil)
            }
        }
        self.ranges = ranges
    }

    /// Initializes every layer's parameters from `seed`.
    public func initializeParameters(seed: UInt64) {
        sequence.initializeParameters(seed: seed)
    }

    /// Runs all layers in order.
    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        guard let observer else { return sequence.forward(input, context: &context) }
        var x = input
        for (name, layer) in layers {
            x = layer.forward(x, context: &context)
            observer(name, .output, x)
        }
        return x
    }

    /// Runs all layers' backward in reverse, reporting each layer's finished
    /// gradient range right after it, and skipping the first layer's input gradient.
    public func backward(_ outputGradient: Tensor, gradientsReady: ((Range<Int>) -> Void)?) {
        var gradient = outputGradient
        for i in layers.indices.reversed() {
            let next = layers[i].layer.backward(gradient, needsInputGradient: i > 0)
            if let range = ranges[i] { gradientsReady?(range) }
            guard let next else { break }
            observer?(layers[i].name, .inputGradient, next)
            gradient = next
        }
    }
}

/// The nonlinearity between hidden layers.
public enum Activation: String, Sendable, CaseIterable, Codable {
    case relu, gelu, tanh

    /// A new layer computing this activation.
    public func makeLayer() -> Layer {
        switch self {
        case .relu: return ReLU()
        case .gelu: return GELU()
        case .tanh: return Tanh()
        }
    }

    /// The weight initialization that keeps activations well scaled through it.
    public var initialization: WeightInitialization {
        self == .tanh ? .xavierUniform : .kaimingUniform
    }
}

/// The training objective of a classifier or regressor.
public enum LossKind: String, Sendable, CaseIterable, Codable {
    /// Softmax cross-entropy over class logits; targets are class ids.
    case crossEntropy
    /// Mean squared error; targets have the output's shape.
    case meanSquaredError

    /// A new loss of this kind.
    public func makeLoss() -> Loss {
        switch self {
        case .crossEntropy: return SoftmaxCrossEntropy()
        case .meanSquaredError: return MeanSquaredError()
        }
    }
}
