// The Gaussian error linear unit, tanh approximation (as in GPT-2),
// `gelu(x) = x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³)))`, for the MLP's
// activation and the GPT's feed-forward alike.
//
// It is evaluated as `x · sigmoid(2u)`, the same function since
// `(1 + tanh u) / 2 = sigmoid(2u)`, with one ``Kernels/fastExp(_:)`` and
// one division, written once in `geluWithDerivative`: GELU is among the costliest non-GEMM kernels of the GPT,
// and `tanhf` per element kept its loop scalar.
//
// In-place calls get loops of their own: with an output that is exactly an
// input, the vectorizer's runtime overlap check fails and the scalar
// fallback runs, about 4x slower (14.6 against 3.7 ns per element here).

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
        if UnsafePointer(out) == input {
            for i in 0..<count { out[i] = gelu(out[i]) }
        } else {
            for i in 0..<count { out[i] = gelu(input[i]) }
        }
    }

    /// `gelu(x)` of one value (the derivative beside it is optimized away).
    @inlinable @inline(__always)
    public static func gelu(_ x: Float) -> Float { geluWithDerivative(x).value }

    /// `d gelu(x) / dx` of one value.
    @inlinable @inline(__always)
    public static func geluDerivative(_ x: Float) -> Float { geluWithDerivative(x).derivative }

    /// `gelu(x)` and its derivative from one exponential: with
    /// `s = sigmoid(2u)`, `gelu = x s` and `gelu' = s + 2 x s (1 - s) du/dx`.
    @inlinable @inline(__always)
    public static func geluWithDerivative(_ x: Float) -> (value: Float, derivative: Float) {
        let x2 = x * x
        let twoU = 2 * geluScale * (x + geluCubic * x2 * x)
        let s = 1 / (1 + fastExp(-twoU))
        let du = geluScale * (1 + 3 * geluCubic * x2)
        return (x * s, s + 2 * x * s * (1 - s) * du)
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
        if UnsafePointer(dinput) == dout {
            for i in 0..<count { dinput[i] = geluDerivative(input[i]) * dinput[i] }
        } else {
            for i in 0..<count { dinput[i] = geluDerivative(input[i]) * dout[i] }
        }
    }
}
