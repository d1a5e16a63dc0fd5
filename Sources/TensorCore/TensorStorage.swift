/// An owned, 64-byte aligned block of `Float` values that tensors view into.
///
/// Storage never moves or resizes, so a pointer taken from it stays valid for
/// as long as the storage is alive. That is what lets a model keep all of its
/// parameters in one buffer, hand views of it to layers, and pass the same
/// memory to a nonblocking allreduce.
public final class TensorStorage: @unchecked Sendable {
    /// The first element.
    public let base: UnsafeMutablePointer<Float>
    /// The number of elements.
    public let count: Int
    /// The object that owns adopted memory, kept alive as long as the
    /// storage; `nil` when the storage allocated its own.
    public let owner: AnyObject?

    /// Allocates `count` elements, all zero.
    public init(count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        // SIMD loads in OpenBLAS and in our loops prefer cache-line alignment.
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
        self.count = count
        owner = nil
    }

    /// Views `count` elements of memory that `owner` allocated and frees,
    /// such as a region of memory shared with other processes.
    ///
    /// - Parameters:
    ///   - base: The first element; 64-byte aligned, valid while `owner` lives.
    ///   - count: The number of elements.
    ///   - owner: The object that keeps the memory alive.
    public init(adopting base: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        precondition(Int(bitPattern: base) % 64 == 0, "TensorStorage: adopted memory at \(base) is not 64-byte aligned")
        (self.base, self.count, self.owner) = (base, count, owner)
    }

    deinit {
        if owner == nil { base.deallocate() }
    }

    /// The whole storage as a buffer.
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: base, count: count)
    }
}
