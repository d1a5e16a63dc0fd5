/// The vector width of elementwise loops over whole buffers (optimizer
/// updates, gradient averaging) that the compiler left scalar when written
/// element by element. Each lane computes exactly what a scalar loop would,
/// so results do not depend on the width.
public typealias FloatLanes = SIMD8<Float>

/// The `FloatLanes.scalarCount` elements of `x` from `i` on.
@inlinable @inline(__always)
public func loadLanes(_ x: UnsafeMutablePointer<Float>, _ i: Int) -> FloatLanes {
    UnsafeRawPointer(x + i).loadUnaligned(as: FloatLanes.self)
}

/// Writes `v` to the `FloatLanes.scalarCount` elements of `x` from `i` on.
@inlinable @inline(__always)
public func storeLanes(_ v: FloatLanes, _ x: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(x + i).storeBytes(of: v, as: FloatLanes.self)
}
