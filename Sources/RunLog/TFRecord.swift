/// TFRecord framing, the container of TensorBoard event files: each record is
///
///     uint64 length (little-endian)
///     uint32 masked CRC-32C of the 8 length bytes
///     length bytes of data
///     uint32 masked CRC-32C of the data
///
/// The length has its own checksum so a reader can tell a torn write from a huge record.
public enum TFRecord {
    /// Bytes a record adds around its data.
    public static let overhead = 16

    /// Appends one framed record to `output`.
    ///
    /// - Parameters:
    ///   - data: The record's payload (an encoded `Event`).
    ///   - output: The buffer the framed record is appended to.
    public static func append(_ data: [UInt8], to output: inout [UInt8]) {
        let start = output.count
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { output.append(contentsOf: $0) }
        let lengthCRC = CRC32C.masked(output[start..<start + 8])
        withUnsafeBytes(of: lengthCRC.littleEndian) { output.append(contentsOf: $0) }
        output.append(contentsOf: data)
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { output.append(contentsOf: $0) }
    }

    /// The payloads of the records in `bytes`, checking every checksum.
    ///
    /// - Parameter bytes: The contents of a TFRecord file.
    /// - Returns: Each record's data, in order.
    /// - Throws: ``TFRecordError`` when a record is truncated or a checksum does not match.
    public static func records(in bytes: [UInt8]) throws -> [[UInt8]] {
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else { throw TFRecordError.truncated(offset: offset) }
            let length = Int(littleEndian(UInt64.self, bytes, at: offset))
            guard littleEndian(UInt32.self, bytes, at: offset + 8) == CRC32C.masked(bytes[offset..<offset + 8]) else {
                throw TFRecordError.badChecksum(offset: offset, what: "length")
            }
            let dataStart = offset + 12
            guard length >= 0, bytes.count - dataStart >= length + 4 else { throw TFRecordError.truncated(offset: offset) }
            let data = Array(bytes[dataStart..<dataStart + length])
            guard littleEndian(UInt32.self, bytes, at: dataStart + length) == CRC32C.masked(data) else {
                throw TFRecordError.badChecksum(offset: offset, what: "data")
            }
            records.append(data)
            offset = dataStart + length + 4
        }
        return records
    }

    private static func littleEndian<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size {
            value |= T(bytes[offset + i]) << (8 * i)
        }
        return value
    }
}

/// A TFRecord file that does not read back.
public enum TFRecordError: Error, Equatable, CustomStringConvertible {
    case truncated(offset: Int)
    case badChecksum(offset: Int, what: String)

    public var description: String {
        switch self {
        case .truncated(let offset): return "TFRecord truncated in the record at byte \(offset)"
        case .badChecksum(let offset, let what): return "TFRecord \(what) checksum mismatch in the record at byte \(offset)"
        }
    }
}
