/// The few protocol-buffer wire encodings an `Event` needs, appended to a byte
/// buffer by hand so the event writer has no dependency on a protobuf runtime.
///
/// Field keys are `(number << 3) | wireType`; wire types used here are
/// varint (0), 64-bit (1), length-delimited (2) and 32-bit (5).
struct ProtobufEncoder {
    /// The encoded message so far.
    var bytes: [UInt8] = []

    /// Drops the bytes but keeps the capacity, so a long-lived encoder stops allocating.
    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func appendVarint(_ value: UInt64) {
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
    mutating func appendInt64(field: Int, _ value: Int64) {
        appendKey(field: field, wireType: 0)
        appendVarint(UInt64(bitPattern: value))
    }

    /// A `double` field, little-endian.
    mutating func appendDouble(field: Int, _ value: Double) {
        appendKey(field: field, wireType: 1)
        appendLittleEndian(value.bitPattern)
    }

    /// A `float` field, little-endian.
    mutating func appendFloat(field: Int, _ value: Float) {
        appendKey(field: field, wireType: 5)
        appendLittleEndian(value.bitPattern)
    }

    /// A `string` field as UTF-8.
    mutating func appendString(field: Int, _ value: String) {
        appendKey(field: field, wireType: 2)
        appendVarint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// An embedded message field: `body` encodes the message into a nested encoder.
    mutating func appendMessage(field: Int, _ body: (inout ProtobufEncoder) -> Void) {
        var nested = ProtobufEncoder()
        body(&nested)
        appendKey(field: field, wireType: 2)
        appendVarint(UInt64(nested.bytes.count))
        bytes.append(contentsOf: nested.bytes)
    }

    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
