import _ProtobufWire
/// The element types of ONNX tensors this exporter writes, numbered as
/// `TensorProto.DataType` in onnx.proto.
public enum ONNXElementType: Int, Sendable {
    case float = 1
    case int64 = 7
    case bool = 9

    /// The type as numpy and onnxruntime spell it.
    public var name: String {
        switch self {
        case .float: return "float"
        case .int64: return "int64"
        case .bool: return "bool"
        }
    }
}

/// An ONNX `TensorProto`: a named constant (an initializer) with its
/// dimensions and its values as little-endian `raw_data`.
public struct ONNXTensor: Sendable {
    /// The value name nodes refer to it by.
    public var name: String
    /// The dimensions; empty for a scalar.
    public var shape: [Int]
    /// The element type.
    public var elementType: ONNXElementType
    /// The values, little-endian, in row-major order.
    public var rawData: [UInt8]

    /// A Float32 tensor.
    public init(name: String, shape: [Int], floats: [Float]) {
        precondition(floats.count == shape.reduce(1, *), "ONNXTensor \(name): \(floats.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        elementType = .float
        rawData = Self.littleEndianBytes(floats.map(\.bitPattern))
    }

    /// An Int64 tensor.
    public init(name: String, shape: [Int], int64s: [Int]) {
        precondition(int64s.count == shape.reduce(1, *), "ONNXTensor \(name): \(int64s.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        elementType = .int64
        rawData = Self.littleEndianBytes(int64s.map { Int64($0) })
    }

    /// A Boolean tensor, one byte per element.
    public init(name: String, shape: [Int], bools: [Bool]) {
        precondition(bools.count == shape.reduce(1, *), "ONNXTensor \(name): \(bools.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        elementType = .bool
        rawData = bools.map { $0 ? 1 : 0 }
    }

    /// The values' bytes in little-endian order: one copy on a little-endian
    /// host (every platform Swift on Linux runs on), a swap per value elsewhere.
    private static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        #if _endian(little)
        return values.withUnsafeBytes { Array($0) }
        #else
        return values.map(\.littleEndian).withUnsafeBytes { Array($0) }
        #endif
    }

    /// Encodes the `TensorProto` fields: dims (1), data_type (2), name (8), raw_data (9).
    func encode(into writer: inout ProtobufEncoder) {
        for dimension in shape { writer.appendInt(field: 1, dimension) }
        writer.appendInt(field: 2, elementType.rawValue)
        writer.appendString(field: 8, name)
        writer.appendBytes(field: 9, rawData)
    }
}
