/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum
/// TFRecord framing uses; computed a byte at a time from a 256-entry table.
///
/// TensorBoard rejects records whose checksums do not match, so this must be
/// bit-exact: `CRC32C.checksum("123456789".utf8) == 0xE3069283`.
public enum CRC32C {
    /// One entry per byte value: the CRC of that byte alone, before pre/post inversion.
    private static let table: [UInt32] = (0..<256).map { byte in
        var crc = UInt32(byte)
        for _ in 0..<8 {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
        }
        return crc
    }

    /// The CRC-32C of `bytes`.
    ///
    /// - Parameter bytes: The data, e.g. an `[UInt8]` or a string's `utf8` view.
    /// - Returns: The checksum, as the standard defines it (initial and final inversion).
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        table.withUnsafeBufferPointer { table in
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
            return ~crc
        }
    }

    /// The masked CRC-32C TFRecord stores: rotated right by 15 bits plus a constant,
    /// because a CRC of data that itself embeds CRCs is weak.
    ///
    /// - Parameter bytes: The data.
    /// - Returns: `((crc >> 15) | (crc << 17)) &+ 0xA282EAD8`.
    public static func masked<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        let crc = checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }
}
