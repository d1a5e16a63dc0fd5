import TensorCore

extension GPTKernels {
    /// The MLP's activation fused with the bias of the layer before it:
    /// `out = gelu(x + bias)` row by row, and `x` overwritten with
    /// `gelu'(x + bias)`, which is all the backward needs.
    ///
    /// Saving the derivative spares backward the exponential it would
    /// otherwise recompute, and adding the bias here spares the layer a
    /// separate pass that seeds its output with the bias; the pre-activation
    /// is needed by nothing else, so its buffer holds the derivative.
    ///
    /// - Parameters:
    ///   - out: `[rows, columns]`, overwritten with the activation.
    ///   - values: `[rows, columns]`, the product without its bias in,
    ///     the activation's derivative out.
    ///   - bias: `[columns]`.
    public static func biasGELUForward(
        out: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, columns: Int
    ) {
        for r in 0..<rows {
            let x = values + r * columns, y = out + r * columns
            for c in 0..<columns {
                let (value, derivative) = Kernels.geluWithDerivative(x[c] + bias[c])
                y[c] = value
                x[c] = derivative
            }
        }
    }

    /// Back-propagates ``biasGELUForward(out:values:bias:rows:columns:)`` in
    /// place: `gradient *= derivative`. The bias gradient is the column sum
    /// of the result, which the layer's backward takes.
    public static func biasGELUBackward(
        gradient: UnsafeMutablePointer<Float>, derivative: UnsafePointer<Float>, count: Int
    ) {
        for i in 0..<count { gradient[i] *= derivative[i] }
    }
}
