// Whole-buffer reductions (loss averages, gradient norms for clipping,
// metrics) and per-row argmax (predictions for accuracy).

extension Kernels {
    /// The sum of `count` elements, accumulated in Double.
    ///
    /// Eight independent Double lanes keep the loop vectorized and make the
    /// result accurate far beyond a sequential Float sum over millions of
    /// gradient entries.
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        precondition(count >= 0, "Kernels.sum: negative count \(count)")
        var lanes = SIMD8<Double>()
        let blocked = count & ~7
        var i = 0
        while i < blocked {
            lanes += SIMD8<Double>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += Double(x[i])
            i += 1
        }
        return total
    }

    /// The arithmetic mean of `count` elements; 0 when `count` is 0.
    @inlinable
    public static func mean(_ x: UnsafePointer<Float>, count: Int) -> Double {
        count == 0 ? 0 : sum(x, count: count) / Double(count)
    }

    /// The sum of squares, accumulated in Double, for gradient-norm clipping.
    @inlinable
    public static func squaredNorm(_ x: UnsafePointer<Float>, count: Int) -> Double {
        precondition(count >= 0, "Kernels.squaredNorm: negative count \(count)")
        var lanes = SIMD8<Double>()
        let blocked = count & ~7
        var i = 0
        while i < blocked {
            let v = SIMD8<Double>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
            lanes += v * v
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            let v = Double(x[i])
            total += v * v
            i += 1
        }
        return total
    }

    /// The largest of `count` elements, which must be at least 1.
    ///
    /// NaN handling is unspecified; check with ``allFinite(_:count:)`` first.
    @inlinable
    public static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        precondition(count > 0, "Kernels.max: empty buffer")
        var best = x[0]
        for i in 1..<count where x[i] > best { best = x[i] }
        return best
    }

    /// Writes into `indices[r]` the column of the largest element of each row
    /// of a `rows x columns` matrix; the first such column on ties.
    @inlinable
    public static func argmaxRows(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int,
        into indices: UnsafeMutablePointer<Int>
    ) {
        precondition(rows >= 0, "Kernels.argmaxRows: negative rows \(rows)")
        precondition(rows == 0 || columns > 0, "Kernels.argmaxRows: rows of zero columns have no maximum")
        for r in 0..<rows {
            let row = x + r * columns
            var best = row[0]
            var bestIndex = 0
            for c in 1..<columns where row[c] > best {
                best = row[c]
                bestIndex = c
            }
            indices[r] = bestIndex
        }
    }
}

extension Tensor {
    /// The sum of all elements (accumulated in Double).
    public func sum() -> Float { Float(Kernels.sum(pointer, count: count)) }

    /// The mean of all elements; 0 for an empty tensor.
    public func mean() -> Float { Float(Kernels.mean(pointer, count: count)) }

    /// The largest element; the tensor must not be empty.
    public func max() -> Float { Kernels.max(pointer, count: count) }

    /// The sum of squares of all elements (accumulated in Double).
    public func squaredNorm() -> Double { Kernels.squaredNorm(pointer, count: count) }

    /// The column of the largest element of each row, treating the tensor as
    /// `[shape[0], count / shape[0]]`.
    public func argmaxRows() -> [Int] {
        precondition(rank >= 1, "Tensor.argmaxRows: scalar tensor")
        let rows = shape[0]
        let columns = rows > 0 ? count / rows : 0
        return [Int](unsafeUninitializedCapacity: rows) { buffer, initialized in
            if rows > 0 {
                Kernels.argmaxRows(pointer, rows: rows, columns: columns, into: buffer.baseAddress!)
            }
            initialized = rows
        }
    }
}
