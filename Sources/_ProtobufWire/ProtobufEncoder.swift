/// The protocol-buffer wire format, as much of it as the project writes:
/// TensorBoard events and ONNX models. Appended to a byte buffer by hand, so
/// neither needs a protobuf runtime for a few dozen lines.
///
/// A field's key is `(number << 3) | wireType`; the wire types used are
/// varint (0), 64-bit (1), length-delimited (2) and 32-bit (5).
public struct ProtobufEncoder {
    /// The encoded message so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Drops the bytes but keeps the capacity, so a long-lived encoder stops allocating.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// An unsigned varint: seven bits per byte, least significant first,
    /// the high bit set on every byte but the last.
    public mutating func appendVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private mutating func appendKey(field: Int, wireType: UInt64) {
        appendVarint(UInt64(field) << 3 | wireType)
    }

    /// An `int64` field; negative values take ten bytes, as protobuf specifies.
    public mutating func appendInt64(field: Int, _ value: Int64) {
        appendKey(field: field, wireType: 0)
        appendVarint(UInt64(bitPattern: value))
    }

    /// An `int64`, `int32` or enum field.
    public mutating func appendInt(field: Int, _ value: Int) {
        appendInt64(field: field, Int64(value))
    }

    /// A `double` field, little-endian.
    public mutating func appendDouble(field: Int, _ value: Double) {
        appendKey(field: field, wireType: 1)
        appendLittleEndian(value.bitPattern)
    }

    /// A `float` field, little-endian.
    public mutating func appendFloat(field: Int, _ value: Float) {
        appendKey(field: field, wireType: 5)
        appendLittleEndian(value.bitPattern)
    }

    /// A `bytes` field.
    public mutating func appendBytes(field: Int, _ value: [UInt8]) {
        appendKey(field: field, wireType: 2)
        appendVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A `string` field as UTF-8.
    public mutating func appendString(field: Int, _ value: String) {
        appendKey(field: field, wireType: 2)
        appendVarint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// An embedded message field: `body` encodes the message into a nested encoder.
    public mutating func appendMessage(field: Int, _ body: (inout ProtobufEncoder) -> Void) {
        var nested = ProtobufEncoder()
        body(&nested)
        appendBytes(field: field, nested.bytes)
    }

    /// A fixed-width integer's bytes, little-endian, without a key.
    public mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
