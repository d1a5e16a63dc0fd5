extension GPTKernels {
    /// `sqrt(2 / pi)`, the scale inside the tanh approximation of GELU.
    @usableFromInline static let geluScale: Float = 0.797_884_56
    /// The cubic coefficient of the tanh approximation.
    @usableFromInline static let geluCubic: Float = 0.044_715

    /// GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    ///
    /// Evaluated as `x * sigmoid(2u)`, the same function with one exponential
    /// and one division, since GELU is one of the costliest non-GEMM kernels.
    ///
    /// - Parameters:
    ///   - out: `count` values, overwritten.
    ///   - input: `count` values.
    public static func geluForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let x = input[i]
            let twoU = 2 * geluScale * (x + geluCubic * x * x * x)
            out[i] = x / (1 + fastExp(-twoU))
        }
    }

    /// Back-propagates ``geluForward(out:input:count:)``:
    /// with `s = sigmoid(2u)`, `d/dx = s + 2 x s (1 - s) du/dx`.
    ///
    /// - Parameters:
    ///   - dinput: `count` values, overwritten; may be the same memory as `dout`.
    ///   - input: Forward's input.
    ///   - dout: The output gradient.
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
