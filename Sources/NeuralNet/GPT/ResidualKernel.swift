import TensorCore

extension GPTKernels {
    /// The residual connection `out = a + b`.
    ///
    /// It has no backward kernel: the gradient of the sum reaches both
    /// operands unchanged, so the model passes the residual gradient on as is.
    public static func residualForward(
        out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int
    ) {
        for i in 0..<count { out[i] = a[i] + b[i] }
    }

    /// Inverted dropout in place: each value is zeroed with `probability` and
    /// otherwise scaled by `1 / (1 - probability)`; the factors go to `mask`.
    ///
    /// - Parameters:
    ///   - values: `count` values, scaled in place.
    ///   - mask: `count` values, receives each element's factor for backward.
    ///   - probability: In `0..<1`.
    ///   - generator: The source of the draws; advanced by `count` draws.
    public static func dropoutForward(
        values: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, count: Int,
        probability: Float, generator: inout RandomGenerator
    ) {
        precondition(probability >= 0 && probability < 1, "dropout: probability \(probability) outside 0..<1")
        let keep = 1 / (1 - probability)
        for i in 0..<count {
            let factor: Float = generator.nextUniform() < probability ? 0 : keep
            mask[i] = factor
            values[i] *= factor
        }
    }

    /// Back-propagates dropout: `dinput = dout * mask` (may run in place).
    public static func dropoutBackward(
        dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, mask: UnsafePointer<Float>, count: Int
    ) {
        for i in 0..<count { dinput[i] = dout[i] * mask[i] }
    }
}
