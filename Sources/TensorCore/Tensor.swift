/// A row-major, contiguous Float32 tensor: a shape and a view into storage.
///
/// `Tensor` has reference semantics for its elements: copies of a tensor
/// value, and views made with ``reshaped(_:)`` or ``init(viewing:offset:shape:)``,
/// share storage, so writing through one is seen through the others. This is
/// deliberate: layers write into preallocated outputs and gradient views of a
/// flat buffer without copying. Use ``clone()`` for an independent copy.
public struct Tensor: @unchecked Sendable {
    /// The storage this tensor views.
    public let storage: TensorStorage
    /// The index in `storage` of this tensor's first element.
    public let offset: Int
    /// The extent of each dimension, outermost first.
    public let shape: [Int]
    /// The number of elements, the product of `shape`.
    public let count: Int

    /// A new zero-filled tensor.
    public init(zeros shape: [Int]) {
        let count = Tensor.elementCount(shape)
        self.init(viewing: TensorStorage(count: count), offset: 0, shape: shape)
    }

    /// A new tensor holding `values` in row-major order.
    public init(shape: [Int], values: [Float]) {
        let count = Tensor.elementCount(shape)
        precondition(values.count == count,
                     "Tensor: shape \(shape) holds \(count) values, got \(values.count)")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { source in
            if let start = source.baseAddress { pointer.update(from: start, count: count) }
        }
    }

    /// A new tensor filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(zeros: shape)
        pointer.update(repeating: value, count: count)
    }

    /// A view of `shape.product` elements of `storage` starting at `offset`.
    public init(viewing storage: TensorStorage, offset: Int = 0, shape: [Int]) {
        let count = Tensor.elementCount(shape)
        precondition(offset >= 0 && offset + count <= storage.count,
                     "Tensor: view [\(offset), \(offset + count)) outside storage of \(storage.count)")
        (self.storage, self.offset, self.shape, self.count) = (storage, offset, shape, count)
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The first element.
    public var pointer: UnsafeMutablePointer<Float> { storage.base + offset }

    /// The elements as a mutable buffer (writes go to the shared storage).
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// The elements copied into an array.
    public var array: [Float] { Array(buffer) }

    /// The element at flat row-major index `index`.
    public subscript(index: Int) -> Float {
        get {
            precondition(index >= 0 && index < count, "Tensor: index \(index) out of range 0..<\(count)")
            return pointer[index]
        }
        nonmutating set {
            precondition(index >= 0 && index < count, "Tensor: index \(index) out of range 0..<\(count)")
            pointer[index] = newValue
        }
    }

    /// A view of the same elements with another shape of the same size.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count,
                     "Tensor: cannot reshape \(shape) to \(newShape)")
        return Tensor(viewing: storage, offset: offset, shape: newShape)
    }

    /// A view of rows `range` of the outermost dimension.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "Tensor: rows \(range) outside \(shape)")
        let rowSize = shape.count > 1 ? count / shape[0] : 1
        var newShape = shape
        newShape[0] = range.count
        return Tensor(viewing: storage, offset: offset + range.lowerBound * rowSize, shape: newShape)
    }

    /// An independent copy with its own storage.
    public func clone() -> Tensor {
        let copy = Tensor(zeros: shape)
        copy.pointer.update(from: pointer, count: count)
        return copy
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) {
        pointer.update(repeating: value, count: count)
    }

    /// Copies the elements of `source`, which must have the same count.
    public func copy(from source: Tensor) {
        precondition(source.count == count, "Tensor: copy of \(source.count) elements into \(count)")
        pointer.update(from: source.pointer, count: count)
    }

    static func elementCount(_ shape: [Int]) -> Int {
        var count = 1
        for extent in shape {
            precondition(extent >= 0, "Tensor: negative extent in shape \(shape)")
            count *= extent
        }
        return count
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = buffer.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(\(shape): [\(shown)\(count > 8 ? ", ..." : "")])"
    }
}
