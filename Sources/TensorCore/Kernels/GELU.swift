// The Gaussian error linear unit, tanh approximation (as in GPT-2),
// `gelu(x) = x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³)))`, for the MLP's
// activation and the GPT's feed-forward alike.
//
// It is evaluated as `x · sigmoid(2u)`, the same function since
// `(1 + tanh u) / 2 = sigmoid(2u)`, with one ``Kernels/fastExp(_:)`` and
// one division: GELU is among the costliest non-GEMM kernels of the GPT,
// and `tanhf` per element kept its loop scalar.

extension Kernels {
    /// `√(2/π)`, the scale inside the tanh approximation.
    @usableFromInline static let geluScale: Float = 0.797_884_56
    /// The cubic coefficient of the tanh approximation.
    @usableFromInline static let geluCubic: Float = 0.044_715

    /// `out[i] = gelu(input[i])`.
    ///
    /// - Parameters:
    ///   - out: `count` values, overwritten; may be `input` itself.
    ///   - input: `count` values.
    @inlinable
    public static func geluForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let x = input[i]
            let twoU = 2 * geluScale * (x + geluCubic * x * x * x)
            out[i] = x / (1 + fastExp(-twoU))
        }
    }

    /// Back-propagates ``geluForward(out:input:count:)``: with
    /// `s = sigmoid(2u)`, `d/dx = s + 2 x s (1 - s) du/dx`.
    ///
    /// - Parameters:
    ///   - dinput: `count` values, overwritten; may be `dout` itself.
    ///   - input: Forward's input.
    ///   - dout: The output gradient.
    @inlinable
    public static func geluBackward(
        dinput: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, dout: UnsafePointer<Float>, count: Int
    ) {
        for i in 0..<count {
            let x = input[i]
            let x2 = x * x
            let twoU = 2 * geluScale * (x + geluCubic * x2 * x)
            let s = 1 / (1 + fastExp(-twoU))
            let du = geluScale * (1 + 3 * geluCubic * x2)
            dinput[i] = (s + 2 * x * s * (1 - s) * du) * dout[i]
        }
    }
}
