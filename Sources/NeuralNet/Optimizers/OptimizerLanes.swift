/// The vector width of the optimizers' update loops (SGD, Adam), which the
/// compiler left scalar when written element by element.
typealias Lanes = SIMD8<Float>

/// The `Lanes.scalarCount` elements of `x` from `i` on.
@inline(__always)
func loadLanes(_ x: UnsafeMutablePointer<Float>, _ i: Int) -> Lanes {
    UnsafeRawPointer(x + i).loadUnaligned(as: Lanes.self)
}

/// Writes `v` to the `Lanes.scalarCount` elements of `x` from `i` on.
@inline(__always)
func storeLanes(_ v: Lanes, _ x: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(x + i).storeBytes(of: v, as: Lanes.self)
}
