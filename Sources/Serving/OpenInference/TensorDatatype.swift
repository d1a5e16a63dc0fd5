import Foundation

/// The Open Inference Protocol's numeric tensor types that a classifier
/// input can arrive as; each becomes Float32 on the way in.
enum TensorDatatype: String, CaseIterable {
    case fp32 = "FP32", fp64 = "FP64"
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    case uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"

    /// Bytes per element in the binary tensor data extension.
    var size: Int {
        switch self {
        case .int8, .uint8: return 1
        case .int16, .uint16: return 2
        case .fp32, .int32, .uint32: return 4
        case .fp64, .int64, .uint64: return 8
        }
    }

    /// Element `i` of little-endian, row-major binary data.
    func value(in bytes: UnsafeRawBufferPointer, at i: Int) -> Double {
        let offset = i * size
        switch self {
        case .fp32: return Double(Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
        case .fp64: return Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
        case .int8: return Double(bytes.loadUnaligned(fromByteOffset: offset, as: Int8.self))
        case .int16: return Double(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int16.self)))
        case .int32: return Double(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
        case .int64: return Double(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
        case .uint8: return Double(bytes.loadUnaligned(fromByteOffset: offset, as: UInt8.self))
        case .uint16: return Double(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        case .uint32: return Double(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        case .uint64: return Double(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
        }
    }

    /// Whether a JSON number is a value of this type (integers for integer types).
    func admits(_ x: Double) -> Bool {
        switch self {
        case .fp32, .fp64: return true
        default: return x == x.rounded()
        }
    }
}

/// An output tensor on its way out: JSON numbers, or little-endian bytes.
struct OutputTensor {
    let name: String
    let datatype: String
    let shape: [Int]
    /// The values as JSON numbers.
    let values: [Any]
    /// The same values in the binary tensor data extension's layout.
    let bytes: Data

    static func float32(_ name: String, shape: [Int], _ values: [Float]) -> OutputTensor {
        var bytes = Data(capacity: values.count * 4)
        for x in values { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return OutputTensor(name: name, datatype: "FP32", shape: shape, values: values.map { Double($0) }, bytes: bytes)
    }

    static func int64(_ name: String, shape: [Int], _ values: [Int]) -> OutputTensor {
        var bytes = Data(capacity: values.count * 8)
        for x in values { withUnsafeBytes(of: Int64(x).littleEndian) { bytes.append(contentsOf: $0) } }
        return OutputTensor(name: name, datatype: "INT64", shape: shape, values: values, bytes: bytes)
    }
}
