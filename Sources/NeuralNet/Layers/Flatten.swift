import TensorCore

/// Views `[B, d1, d2, ...]` as `[B, d1·d2·...]`, without copying.
public final class Flatten: Layer {
    private var inputShape: [Int] = []

    public init() {}

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        precondition(input.rank >= 1, "Flatten: input must have a batch dimension")
        inputShape = input.shape
        let batch = input.shape[0]
        return input.reshaped([batch, batch == 0 ? 0 : input.count / batch])
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        return outputGradient.reshaped(inputShape)
    }
}
