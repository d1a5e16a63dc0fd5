import TensorCore

/// One parameter a layer asks a ``ParameterStore`` to hold.
public typealias ParameterSpec = (name: String, shape: [Int], decays: Bool)

/// What a forward pass carries from layer to layer besides the activations.
public struct ForwardContext {
    /// Whether dropout is active.
    public var isTraining: Bool
    /// The generator dropout draws from; a model copies its own in and back out.
    public var generator: RandomGenerator

    public init(isTraining: Bool, generator: RandomGenerator) {
        self.isTraining = isTraining
        self.generator = generator
    }
}

/// A differentiable building block with forward and backward side by side.
///
/// The life of a layer: a model asks every layer for ``parameterSpecs(prefix:)``,
/// lays them out in one ``ParameterStore`` (reverse forward order), calls
/// ``bind(to:prefix:)`` so the layer keeps views of its values and gradients,
/// and ``initializeParameters(seed:)``. Each step then runs
/// ``forward(_:context:)`` on every layer and ``backward(_:needsInputGradient:)``
/// in reverse.
///
/// A layer owns its output and input-gradient workspaces: the tensors it
/// returns stay valid until its next forward (or backward) call and are
/// overwritten then. Parameter gradients are *added* into the store.
public protocol Layer: AnyObject {
    /// The parameters this layer needs, named `prefix + "weight"` and so on,
    /// in the order they should be laid out.
    func parameterSpecs(prefix: String) -> [ParameterSpec]

    /// Keeps views of this layer's parameters and gradients in `store`.
    func bind(to store: ParameterStore, prefix: String)

    /// Fills this layer's bound parameters deterministically from `seed`.
    func initializeParameters(seed: UInt64)

    /// Runs the layer, keeping what backward needs.
    ///
    /// - Parameters:
    ///   - input: The input; a layer may keep a reference to it for backward,
    ///     so callers must not overwrite it before backward.
    ///   - context: Training mode and the dropout generator.
    /// - Returns: The output, in the layer's workspace.
    func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor

    /// Back-propagates the last forward call.
    ///
    /// - Parameters:
    ///   - outputGradient: The gradient of the loss with respect to the output.
    ///   - needsInputGradient: False for the first layer of a model, which
    ///     skips the work of the input gradient.
    /// - Returns: The input gradient in the layer's workspace, or nil when not needed.
    func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor?
}

extension Layer {
    public func parameterSpecs(prefix: String) -> [ParameterSpec] { [] }
    public func bind(to store: ParameterStore, prefix: String) {}
    public func initializeParameters(seed: UInt64) {}

    /// Back-propagates the last forward call and returns the input gradient.
    public func backward(_ outputGradient: Tensor) -> Tensor {
        guard let gradient = backward(outputGradient, needsInputGradient: true) else {
            preconditionFailure("\(type(of: self)): backward returned no input gradient")
        }
        return gradient
    }

    /// Runs the layer in inference mode.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        var context = ForwardContext(isTraining: false, generator: RandomGenerator(seed: 0))
        return forward(input, context: &context)
    }
}
