// Detection of NaN and infinity, to skip a step or stop a run when
// gradients blow up.

extension Kernels {
    /// Whether all `count` elements are finite (no NaN, no ±infinity).
    ///
    /// `x * 0` is 0 for every finite `x` and NaN for NaN and ±infinity, so a
    /// branch-free vectorized sum of those products is 0 exactly when all
    /// elements are finite.
    @inlinable
    public static func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
        precondition(count >= 0, "Kernels.allFinite: negative count \(count)")
        return laneReduce(x, count: count, lane: { $0 * 0 }, element: { $0 * 0 }) == 0
    }
}

extension Tensor {
    /// Whether every element is finite (no NaN, no ±infinity).
    public var isFinite: Bool { Kernels.allFinite(pointer, count: count) }
}
