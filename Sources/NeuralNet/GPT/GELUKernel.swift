extension GPTKernels {
    /// `sqrt(2 / pi)`, the scale inside the tanh approximation of GELU.
    @usableFromInline static let geluScale: Float = 0.797_884_56
    /// The cubic coefficient of the tanh approximation.
    @usableFromInline static let geluCubic: Float = 0.044_715

    /// `tanh` through ``fastExp(_:)``: `1 - 2 / (e^{2u} + 1)` keeps the
    /// absolute error near 1e-7 everywhere, which is what GELU needs.
    @inlinable @inline(__always)
    static func fastTanh(_ u: Float) -> Float {
        1 - 2 / (fastExp(2 * u) + 1)
    }

    /// GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    ///
    /// - Parameters:
    ///   - out: `count` values, overwritten.
    ///   - input: `count` values.
    public static func geluForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let x = input[i]
            let u = geluScale * (x + geluCubic * x * x * x)
            out[i] = 0.5 * x * (1 + fastTanh(u))
        }
    }

    /// Back-propagates ``geluForward(out:input:count:)``.
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
            let th = fastTanh(geluScale * (x + geluCubic * x2 * x))
            let sech2 = 1 - th * th
            let local = 0.5 * (1 + th) + 0.5 * x * sech2 * geluScale * (1 + 3 * geluCubic * x2)
            dinput[i] = local * dout[i]
        }
    }
}
