/// The protocol-buffer wire format, as much of it as an ONNX model needs:
/// varints, 32-bit floats and length-delimited fields (strings, bytes,
/// embedded messages), appended to a byte buffer.
///
/// Written here rather than shared with the TensorBoard event writer's
/// encoder, which is internal to `RunLog` (a module of the same layer) and
/// has no bytes fields; a protobuf runtime would be a dependency for a
/// few dozen lines.
///
/// A field's key is `(number << 3) | wireType`; the wire types used are
/// varint (0), length-delimited (2) and 32-bit (5).
struct ProtobufWriter {
    /// The encoded message so far.
    private(set) var bytes: [UInt8] = []

    /// An unsigned varint: seven bits per byte, least significant first,
    /// the high bit set on every byte but the last.
    mutating func appendVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private mutating func appendKey(_ field: Int, wireType: UInt64) {
        appendVarint(UInt64(field) << 3 | wireType)
    }

    /// An `int64` or `int32` (or enum) field; negative values take ten bytes,
    /// their two's complement as a 64-bit varint, as protobuf specifies.
    mutating func appendInt(_ field: Int, _ value: Int) {
        appendKey(field, wireType: 0)
        appendVarint(UInt64(bitPattern: Int64(value)))
    }

    /// A `float` field, little-endian.
    mutating func appendFloat(_ field: Int, _ value: Float) {
        appendKey(field, wireType: 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A `bytes` field.
    mutating func appendBytes(_ field: Int, _ value: [UInt8]) {
        appendKey(field, wireType: 2)
        appendVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A `string` field as UTF-8.
    mutating func appendString(_ field: Int, _ value: String) {
        appendBytes(field, Array(value.utf8))
    }

    /// An embedded message field: `body` encodes the message into a nested writer.
    mutating func appendMessage(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        body(&nested)
        appendBytes(field, nested.bytes)
    }
}
