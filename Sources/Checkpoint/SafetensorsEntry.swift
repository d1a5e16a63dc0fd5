/// The element types this project stores in safetensors files.
public enum TensorDType: String, Sendable, CaseIterable {
    /// Float32: parameters, optimizer state, biases, quantization scales, factors.
    case f32 = "F32"
    /// Signed 8-bit integers: int8-quantized weights.
    case i8 = "I8"
    /// Bytes: the masks of sparse tensors (``SparseTensorLayout``).
    case u8 = "U8"

    /// Bytes per element.
    public var size: Int { self == .f32 ? 4 : 1 }
}

/// The name, shape and element type of one tensor in a safetensors file.
public struct SafetensorsEntry: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let dtype: TensorDType

    public init(name: String, shape: [Int], dtype: TensorDType = .f32) {
        precondition(shape.allSatisfy { $0 >= 0 }, "SafetensorsEntry: negative dimension in \(shape) of \(name)")
        (self.name, self.shape, self.dtype) = (name, shape, dtype)
    }

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// The number of data bytes.
    public var byteCount: Int { count * dtype.size }
}
