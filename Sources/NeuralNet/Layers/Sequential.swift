import TensorCore

/// Layers applied in order, each under its own name (`prefix + name + "."`).
///
/// Parameters are laid out in reverse forward order, as a ``ParameterStore`` expects.
public final class Sequential: Layer {
    /// The named layers in forward order.
    public let layers: [(name: String, layer: Layer)]

    /// - Parameter layers: The named layers in forward order.
    public init(_ layers: [(name: String, layer: Layer)]) {
        self.layers = layers
    }

    /// Layers named by their position, `"0"`, `"1"`, ...
    public convenience init(_ layers: [Layer]) {
        self.init(layers.enumerated().map { (String($0.offset), $0.element) })
    }

    public func parameterSpecs(prefix: String) -> [ParameterSpec] {
        layers.reversed().flatMap { $0.layer.parameterSpecs(prefix: prefix + $0.name + ".") }
    }

    public func bind(to store: ParameterStore, prefix: String) {
        for (name, layer) in layers { layer.bind(to: store, prefix: prefix + name + ".") }
    }

    public func initializeParameters(seed: UInt64) {
        for (_, layer) in layers { layer.initializeParameters(seed: seed) }
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        var x = input
        for (_, layer) in layers { x = layer.forward(x, context: &context) }
        return x
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        var gradient: Tensor? = outputGradient
        for (i, entry) in layers.enumerated().reversed() {
            guard let g = gradient else { break }
            gradient = entry.layer.backward(g, needsInputGradient: i > 0 || needsInputGradient)
        }
        return gradient
    }
}
