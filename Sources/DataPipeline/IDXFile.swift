/// An unsigned-byte array in the IDX format of MNIST and Fashion-MNIST.
///
/// The format is a 4-byte big-endian magic number `0x0000_08NN` (0x08 for
/// unsigned bytes, NN the number of dimensions), one big-endian `UInt32` per
/// dimension, then the elements in row-major order.
struct IDXFile {
    /// The extent of each dimension, outermost first.
    let dimensions: [Int]
    /// The whole file; elements start at ``payloadOffset``.
    let bytes: [UInt8]
    /// The index in ``bytes`` of the first element.
    let payloadOffset: Int

    /// Reads and validates `path` (gzip'd or not) as an IDX file of `rank` dimensions.
    static func load(_ path: String, rank: Int) throws -> IDXFile {
        try IDXFile(bytes: FileBytes.read(path), rank: rank, file: path)
    }

    /// Validates `bytes` as an IDX file of `rank` dimensions named `file` in errors.
    init(bytes: [UInt8], rank: Int, file: String) throws {
        let magic = UInt32(0x0000_0800) | UInt32(rank)
        guard bytes.count >= 4 else {
            throw DataError.truncated(file: file, expected: 4, actual: bytes.count)
        }
        let actualMagic = IDXFile.bigEndianWord(bytes, at: 0)
        guard actualMagic == magic else {
            throw DataError.badMagic(file: file, expected: magic, actual: actualMagic)
        }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw DataError.truncated(file: file, expected: headerSize, actual: bytes.count)
        }
        var dimensions: [Int] = []
        var elementCount = 1
        for d in 0..<rank {
            let extent = Int(IDXFile.bigEndianWord(bytes, at: 4 + 4 * d))
            guard extent > 0 else {
                throw DataError.badDimensions(file: file, reason: "dimension \(d) is zero")
            }
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= Int(Int32.max) else {
                throw DataError.badDimensions(file: file, reason: "\(dimensions + [extent]) is too large")
            }
            elementCount = product
            dimensions.append(extent)
        }
        let expected = headerSize + elementCount
        if bytes.count < expected {
            throw DataError.truncated(file: file, expected: expected, actual: bytes.count)
        }
        if bytes.count > expected {
            throw DataError.trailingBytes(file: file, expected: expected, actual: bytes.count)
        }
        self.dimensions = dimensions
        self.bytes = bytes
        self.payloadOffset = headerSize
    }

    static func bigEndianWord(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
