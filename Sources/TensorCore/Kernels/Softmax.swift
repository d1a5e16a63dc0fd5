// Softmax, the one kernel every model's loss, attention and prediction uses.
// Subtracting the row maximum before exponentiating keeps e^x from
// overflowing for large logits; the exponentials come from
// ``Kernels/fastExp(_:)`` and their sum from lanes, so rows vectorize.

extension Kernels {
    /// What a softmax row needed besides its output: enough for
    /// `log Σ e^x = maximum + log(total)`, the cross-entropy term.
    public struct SoftmaxNormalizer: Sendable, Equatable {
        /// The row's largest logit, subtracted before exponentiating.
        public var maximum: Float
        /// `Σ e^(x - maximum)`, at least 1.
        public var total: Float

        @inlinable
        public init(maximum: Float, total: Float) {
            self.maximum = maximum
            self.total = total
        }
    }

    /// `y = softmax(x)` over one row of `count > 0` values.
    ///
    /// - Parameters:
    ///   - x: Logits.
    ///   - y: Probabilities; may be `x` itself.
    /// - Returns: The maximum and the sum of exponentials, for a log-likelihood.
    @inlinable @inline(__always)
    @discardableResult
    public static func softmaxRow(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int
    ) -> SoftmaxNormalizer {
        let largest = max(x, count: count)
        // Exponentials first, sum after: a fused loop would not vectorize.
        // In place needs its own loop: an output exactly aliasing the input
        // fails the vectorizer's overlap check and runs scalar.
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = fastExp(y[i] - largest) }
        } else {
            for i in 0..<count { y[i] = fastExp(x[i] - largest) }
        }
        let total = laneSum(y, count: count)
        // total >= 1 because the maximum contributes e^0.
        let inverse = 1 / total
        for i in 0..<count { y[i] *= inverse }
        return SoftmaxNormalizer(maximum: largest, total: total)
    }

    /// ``softmaxRow(_:into:count:)`` for each row of a `rows x columns` matrix.
    @inlinable
    public static func softmaxRows(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) {
        precondition(rows >= 0 && columns >= 0, "Kernels.softmaxRows: negative shape \(rows) x \(columns)")
        if columns == 0 { return }
        for r in 0..<rows { softmaxRow(x + r * columns, into: y + r * columns, count: columns) }
    }
}

extension Tensor {
    /// Softmax over the last dimension, written into `output` (same shape;
    /// may be `self`).
    public func softmax(into output: Tensor) {
        precondition(rank >= 1, "Tensor.softmax: scalar tensor")
        precondition(output.shape == shape, "Tensor.softmax: output \(output.shape), expected \(shape)")
        let columns = shape[rank - 1]
        Kernels.softmaxRows(pointer, into: output.pointer, rows: columns > 0 ? count / columns : 0, columns: columns)
    }
}
