import TensorCore

/// Inverted dropout: while training, zeroes each element with probability
/// `rate` and scales survivors by `1 / (1 - rate)`, so inference is the identity.
public final class Dropout: Layer {
    /// The probability of dropping an element.
    public let rate: Float

    private var output = Workspace()
    private var inputGradient = Workspace()
    // The per-element factor, 0 or 1 / (1 - rate); empty when the last forward was the identity.
    private var mask = Workspace()
    private var lastMask: Tensor?

    /// - Parameter rate: The drop probability, in [0, 1).
    public init(rate: Float) {
        precondition(rate >= 0 && rate < 1, "Dropout: rate must be in [0, 1), got \(rate)")
        self.rate = rate
    }

    public func forward(_ input: Tensor, context: inout ForwardContext) -> Tensor {
        guard context.isTraining && rate > 0 else {
            lastMask = nil
            return input
        }
        let m = mask.tensor(input.shape)
        let y = output.tensor(input.shape)
        let keep = 1 / (1 - rate)
        let x = input.pointer, mp = m.pointer, yp = y.pointer
        for i in 0..<input.count {
            let factor: Float = context.generator.nextUniform() < rate ? 0 : keep
            mp[i] = factor
            yp[i] = x[i] * factor
        }
        lastMask = m
        return y
    }

    public func backward(_ outputGradient: Tensor, needsInputGradient: Bool) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard let m = lastMask else { return outputGradient }
        precondition(outputGradient.count == m.count,
                     "Dropout: output gradient \(outputGradient.shape) does not match the last forward")
        let dx = inputGradient.tensor(m.shape)
        let dy = outputGradient.pointer, mp = m.pointer, dxp = dx.pointer
        for i in 0..<dx.count { dxp[i] = dy[i] * mp[i] }
        return dx
    }
}
