// Whole-buffer reductions: loss averages, gradient norms for clipping,
// metrics, and the row maximum softmax subtracts.

extension Kernels {
    /// `Σ element(x[i])` over `count` values accumulated in 8 Double lanes,
    /// which keep the loop vectorized and the result accurate far beyond a
    /// sequential Float sum over millions of gradient entries. `lane` and
    /// `element` must compute the same function.
    @inlinable @inline(__always)
    public static func doubleLaneReduce(
        _ x: UnsafePointer<Float>, count: Int,
        lane: (SIMD8<Double>) -> SIMD8<Double>, element: (Double) -> Double
    ) -> Double {
        var lanes = SIMD8<Double>()
        let blocked = count & ~7
        var i = 0
        while i < blocked {
            lanes += lane(SIMD8<Double>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)))
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += element(Double(x[i]))
            i += 1
        }
        return total
    }

    /// The sum of `count` elements, accumulated in Double.
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        precondition(count >= 0, "Kernels.sum: negative count \(count)")
        return doubleLaneReduce(x, count: count, lane: { $0 }, element: { $0 })
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
        return doubleLaneReduce(x, count: count, lane: { $0 * $0 }, element: { $0 * $0 })
    }

    /// The largest of `count` elements, which must be at least 1.
    ///
    /// NaN handling is unspecified; check with ``allFinite(_:count:)`` first.
    @inlinable @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        precondition(count > 0, "Kernels.max: empty buffer")
        var i = 0
        var best = x[0]
        if count >= 8 {
            // A masked replace lowers to compare-and-blend; the generic
            // `pointwiseMax` goes lane by lane through memory.
            var lanes = UnsafeRawPointer(x).loadUnaligned(as: SIMD8<Float>.self)
            i = 8
            while i + 8 <= count {
                let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                lanes.replace(with: v, where: v .> lanes)
                i += 8
            }
            best = lanes.max()
        }
        while i < count {
            if x[i] > best { best = x[i] }
            i += 1
        }
        return best
    }

    /// The index of the largest of `count > 0` values; the first on ties.
    @inlinable @inline(__always)
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        precondition(count > 0, "Kernels.argmax: empty buffer")
        var best = 0
        for i in 1..<count where x[i] > x[best] { best = i }
        return best
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
}
