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

    /// Allocates `count` elements, all zero.
    public init(count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        // SIMD loads in OpenBLAS and in our loops prefer cache-line alignment.
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
        self.count = count
    }

    deinit {
        base.deallocate()
    }

    /// The whole storage as a buffer.
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: base, count: count)
    }
}
