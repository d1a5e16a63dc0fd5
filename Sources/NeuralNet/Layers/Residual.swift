import TensorCore

/// A skip connection around a body: `y = x + body(x)`.
///
/// The body's parameters are named `prefix + "body."`.
public final class Residual: Layer {
    /// The branch added to the identity.
    public let body: Layer

    private var output = Workspace()
    private var inputGradient = Workspace()

    /// - Parameter body: The branch; its output must have the input's shape.
    public init(_ body: Layer) {
        self.body = body
    }

    public func parameterSpecs(prefix: String) -> [ParameterSpec] {
        body.parameterSpecs(prefix: prefix + "body.")
    }

    public func bind(to store: ParameterStore, prefix: String) {
        body.bind(to: store, prefix: prefix + "body.")
    }

    public func initializeParameters(seed: UInt64) {
        body.initializeParameters(seed: seed)
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        let branch = body.forward(input, context: &context)
        precondition(branch.shape == input.shape,
                     "Residual: body maps \(input.shape) to \(branch.shape)")
        let y = output.tensor(input.shape)
        let x = input.pointer, b = branch.pointer, yp = y.pointer
        for i in 0..<y.count { yp[i] = x[i] + b[i] }
        return y
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        // The body's parameters need its backward even when the input gradient does not.
        let branch = body.backward(outputGradient, needsInputGradient: needsInputGradient)
        guard needsInputGradient, let branch else { return nil }
        let dx = inputGradient.tensor(outputGradient.shape)
        let dy = outputGradient.pointer, b = branch.pointer, dxp = dx.pointer
        for i in 0..<dx.count { dxp[i] = dy[i] + b[i] }
        return dx
    }
}
