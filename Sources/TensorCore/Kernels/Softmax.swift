// Row-wise softmax and log-softmax with their backward passes, for
// classification losses and attention. Subtracting the row maximum before
// exponentiating keeps exp from overflowing for large logits.

#if canImport(Glibc)
import Glibc
#endif

extension Kernels {
    /// `y[r, :] = softmax(x[r, :])` for each row of a `rows x columns` matrix.
    ///
    /// - Parameters:
    ///   - x: Logits, row-major.
    ///   - y: Probabilities; may be `x` itself.
    @inlinable
    public static func softmaxRows(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) {
        precondition(rows >= 0 && columns >= 0, "Kernels.softmaxRows: negative shape \(rows) x \(columns)")
        if columns == 0 { return }
        for r in 0..<rows {
            let input = x + r * columns
            let output = y + r * columns
            let rowMax = max(input, count: columns)
            var total: Float = 0
            for c in 0..<columns {
                let e = expf(input[c] - rowMax)
                output[c] = e
                total += e
            }
            // total >= 1 because the maximum contributes exp(0).
            let inverse = 1 / total
            for c in 0..<columns { output[c] *= inverse }
        }
    }

    /// Backward of ``softmaxRows(_:into:rows:columns:)``:
    /// `dx = y * (dy - sum(dy * y))` per row.
    ///
    /// - Parameters:
    ///   - y: The forward output (probabilities).
    ///   - outputGradient: `dy`.
    ///   - inputGradient: `dx`, overwritten; may alias `outputGradient`.
    @inlinable
    public static func softmaxBackwardRows(
        output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        into dx: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) {
        precondition(rows >= 0 && columns >= 0, "Kernels.softmaxBackwardRows: negative shape \(rows) x \(columns)")
        for r in 0..<rows {
            let yr = y + r * columns, dyr = dy + r * columns, dxr = dx + r * columns
            var dot: Float = 0
            for c in 0..<columns { dot += dyr[c] * yr[c] }
            for c in 0..<columns { dxr[c] = yr[c] * (dyr[c] - dot) }
        }
    }

    /// `y[r, :] = log(softmax(x[r, :]))` per row, computed as
    /// `(x - max) - log(sum(exp(x - max)))`, which stays finite where
    /// `log(softmax)` would underflow to `-inf`.
    @inlinable
    public static func logSoftmaxRows(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) {
        precondition(rows >= 0 && columns >= 0, "Kernels.logSoftmaxRows: negative shape \(rows) x \(columns)")
        if columns == 0 { return }
        for r in 0..<rows {
            let input = x + r * columns
            let output = y + r * columns
            let rowMax = max(input, count: columns)
            var total: Float = 0
            for c in 0..<columns { total += expf(input[c] - rowMax) }
            // Subtracting the maximum first keeps the difference exact for
            // large logits, where folding it into one shift would round.
            let logTotal = logf(total)
            for c in 0..<columns { output[c] = (input[c] - rowMax) - logTotal }
        }
    }

    /// Backward of ``logSoftmaxRows(_:into:rows:columns:)``:
    /// `dx = dy - exp(y) * sum(dy)` per row.
    ///
    /// - Parameters:
    ///   - y: The forward output (log-probabilities).
    ///   - outputGradient: `dy`.
    ///   - inputGradient: `dx`, overwritten; may alias `outputGradient`.
    @inlinable
    public static func logSoftmaxBackwardRows(
        output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        into dx: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) {
        precondition(rows >= 0 && columns >= 0, "Kernels.logSoftmaxBackwardRows: negative shape \(rows) x \(columns)")
        for r in 0..<rows {
            let yr = y + r * columns, dyr = dy + r * columns, dxr = dx + r * columns
            var total: Float = 0
            for c in 0..<columns { total += dyr[c] }
            for c in 0..<columns { dxr[c] = dyr[c] - expf(yr[c]) * total }
        }
    }
}

extension Tensor {
    /// Softmax over the last dimension, written into `output` (same shape;
    /// may be `self`).
    public func softmax(into output: Tensor) {
        let (rows, columns) = lastDimensionRows("softmax", output)
        Kernels.softmaxRows(pointer, into: output.pointer, rows: rows, columns: columns)
    }

    /// Log-softmax over the last dimension, written into `output` (same
    /// shape; may be `self`).
    public func logSoftmax(into output: Tensor) {
        let (rows, columns) = lastDimensionRows("logSoftmax", output)
        Kernels.logSoftmaxRows(pointer, into: output.pointer, rows: rows, columns: columns)
    }

    private func lastDimensionRows(_ op: String, _ output: Tensor) -> (rows: Int, columns: Int) {
        precondition(rank >= 1, "Tensor.\(op): scalar tensor")
        precondition(output.shape == shape, "Tensor.\(op): output \(output.shape), expected \(shape)")
        let columns = shape[rank - 1]
        return (columns > 0 ? count / columns : 0, columns)
    }
}
