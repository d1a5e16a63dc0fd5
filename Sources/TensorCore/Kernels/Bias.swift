// Bias broadcast over the rows of a row-major matrix, and its backward.
// Linear and Conv2d (after lowering) both add one value per output column.

extension Kernels {
    /// `x[r, c] += bias[c]` for every row `r` of a `rows x columns` matrix.
    ///
    /// - Parameters:
    ///   - bias: `columns` elements.
    ///   - x: The matrix, updated in place.
    @inlinable
    public static func addRowVector(
        _ bias: UnsafePointer<Float>,
        to x: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) {
        precondition(rows >= 0 && columns >= 0,
                     "Kernels.addRowVector: negative shape \(rows) x \(columns)")
        for r in 0..<rows {
            let row = x + r * columns
            for c in 0..<columns { row[c] += bias[c] }
        }
    }

    /// Backward of ``addRowVector(_:to:rows:columns:)``:
    /// `biasGradient[c] += sum over r of outputGradient[r, c]`.
    ///
    /// Accumulates rather than overwrites, so gradients of a parameter used
    /// more than once, or over micro-batches, add up.
    ///
    /// - Parameters:
    ///   - outputGradient: `rows x columns`, row-major.
    ///   - biasGradient: `columns` elements, accumulated into.
    @inlinable
    public static func accumulateColumnSums(
        of outputGradient: UnsafePointer<Float>, rows: Int, columns: Int,
        into biasGradient: UnsafeMutablePointer<Float>
    ) {
        precondition(rows >= 0 && columns >= 0,
                     "Kernels.accumulateColumnSums: negative shape \(rows) x \(columns)")
        // Row by row keeps the inner loop contiguous, so it vectorizes.
        for r in 0..<rows {
            let row = outputGradient + r * columns
            for c in 0..<columns { biasGradient[c] += row[c] }
        }
    }
}

extension Tensor {
    /// Adds `bias` (`[columns]`) to every row of this tensor viewed as
    /// `[count / columns, columns]`.
    public func addRowVector(_ bias: Tensor) {
        let columns = bias.count
        precondition(columns > 0 ? count % columns == 0 : count == 0,
                     "Tensor.addRowVector: bias \(bias.shape) does not divide \(shape)")
        Kernels.addRowVector(bias.pointer, to: pointer,
                             rows: columns > 0 ? count / columns : 0, columns: columns)
    }

    /// Accumulates the column sums of this tensor, viewed as
    /// `[count / columns, columns]`, into `biasGradient` (`[columns]`).
    public func accumulateColumnSums(into biasGradient: Tensor) {
        let columns = biasGradient.count
        precondition(columns > 0 ? count % columns == 0 : count == 0,
                     "Tensor.accumulateColumnSums: gradient \(biasGradient.shape) does not divide \(shape)")
        Kernels.accumulateColumnSums(of: pointer, rows: columns > 0 ? count / columns : 0,
                                     columns: columns, into: biasGradient.pointer)
    }
}
