import TensorCore

/// A buffer that hands out views of a requested shape and grows only when a
/// request exceeds its capacity, so steady-state steps allocate nothing.
public struct Workspace {
    private var storage: TensorStorage?

    public init() {}

    /// The number of elements available without growing.
    public var capacity: Int { storage?.count ?? 0 }

    /// A view of `shape`; its contents are whatever was there before.
    ///
    /// Growing replaces the storage, so views handed out earlier keep the old
    /// memory alive but no longer alias new views: callers take a fresh view
    /// every step rather than keeping one.
    public mutating func tensor(_ shape: [Int]) -> Tensor {
        var count = 1
        for extent in shape { count *= extent }
        if count > capacity {
            storage = TensorStorage(count: count)
        }
        return Tensor(viewing: storage!, offset: 0, shape: shape)
    }
}

/// A growing buffer of `Int32` indices (argmax positions of max pooling).
public final class IndexWorkspace {
    private var base: UnsafeMutablePointer<Int32>?
    private var capacity = 0

    public init() {}

    deinit { base?.deallocate() }

    /// At least `count` elements, contents unspecified.
    public func pointer(count: Int) -> UnsafeMutablePointer<Int32> {
        if base == nil || count > capacity {
            base?.deallocate()
            capacity = max(count, 1)
            let fresh = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
            fresh.initialize(repeating: 0, count: capacity)
            base = fresh
        }
        return base!
    }
}
