/// Memory that stays at one address for the object's whole lifetime.
///
/// Nonblocking operations take their buffer as a `PinnedBuffer` object, not
/// as a pointer, so the returned `Request` can hold a strong reference until
/// MPI is done with the memory. Conform only types whose storage never moves
/// or is freed while the object is alive (an `Array`'s storage does not
/// qualify: it can be reallocated on mutation).
public protocol PinnedBuffer: AnyObject {
    /// The element type MPI moves.
    associatedtype Element: MPIScalar
    /// The first element; fixed for the object's lifetime.
    var baseAddress: UnsafeMutablePointer<Element> { get }
    /// The number of elements.
    var count: Int { get }
}

/// An owned, 64-byte aligned, fixed-size buffer for MPI communication.
///
/// The memory is freed when the object is released, which a pending
/// `Request` prevents by holding a strong reference.
public final class MPIBuffer<Element: MPIScalar>: PinnedBuffer {
    /// The first element; fixed for the buffer's lifetime.
    public let baseAddress: UnsafeMutablePointer<Element>
    /// The number of elements.
    public let count: Int

    /// Allocates `count` elements, each set to `value`.
    ///
    /// - Parameters:
    ///   - count: The number of elements; non-negative.
    ///   - value: The initial value of every element.
    public init(count: Int, repeating value: Element) {
        precondition(count >= 0, "MPIBuffer: negative element count \(count)")
        // Cache-line alignment suits SIMD reductions inside MPI and BLAS.
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: Swift.max(count, 1) * MemoryLayout<Element>.stride, alignment: 64)
        baseAddress = raw.bindMemory(to: Element.self, capacity: Swift.max(count, 1))
        baseAddress.initialize(repeating: value, count: count)
        self.count = count
    }

    /// Allocates a buffer holding a copy of `elements`.
    public convenience init(_ elements: [Element]) {
        self.init(count: elements.count, repeating: elements.first ?? zeroElement())
        elements.withUnsafeBufferPointer { source in
            if let start = source.baseAddress { baseAddress.update(from: start, count: count) }
        }
    }

    deinit {
        baseAddress.deallocate()
    }

    /// The element at `index`.
    public subscript(index: Int) -> Element {
        get {
            precondition(index >= 0 && index < count, "MPIBuffer: index \(index) out of range 0..<\(count)")
            return baseAddress[index]
        }
        set {
            precondition(index >= 0 && index < count, "MPIBuffer: index \(index) out of range 0..<\(count)")
            baseAddress[index] = newValue
        }
    }

    /// The whole buffer as a mutable buffer pointer, valid while `self` lives.
    public var buffer: UnsafeMutableBufferPointer<Element> {
        UnsafeMutableBufferPointer(start: baseAddress, count: count)
    }

    /// A copy of the contents.
    public var array: [Element] { Array(buffer) }
}
