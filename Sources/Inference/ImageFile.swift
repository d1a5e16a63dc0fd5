import DataPipeline
import Foundation

/// Grayscale images read from a file for prediction: one image from a PGM
/// or PNG file, or many from an IDX file (as MNIST ships them).
public struct ImageBatch: Equatable, Sendable {
    /// Images in the file.
    public let count: Int
    /// Pixel rows per image.
    public let rows: Int
    /// Pixel columns per image.
    public let columns: Int
    /// `count × rows × columns` intensities 0...255, row-major.
    public let pixels: [Float]

    public init(count: Int, rows: Int, columns: Int, pixels: [Float]) {
        precondition(pixels.count == count * rows * columns,
                     "ImageBatch: \(pixels.count) pixels for \(count) images of \(rows)x\(columns)")
        (self.count, self.rows, self.columns, self.pixels) = (count, rows, columns, pixels)
    }

    /// Reads `path`, telling the format by its first bytes: IDX (`00 00 08 03`,
    /// optionally gzip'd), binary or plain PGM (`P5`/`P2`), or PNG.
    ///
    /// PNG support covers what image tools write for a small grayscale picture:
    /// 8-bit gray, gray+alpha, RGB or RGBA, not interlaced. Color is reduced
    /// to luma (ITU-R BT.601 weights); alpha is ignored.
    ///
    /// - Throws: ``InferenceError/invalidInput(source:reason:)`` saying why the
    ///   file is unreadable or in an unsupported form.
    public static func read(path: String) throws -> ImageBatch {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw InferenceError.invalidInput(source: path, reason: reason)
        }
        var bytes = [UInt8](data)
        if bytes.starts(with: [0x1f, 0x8b]) {
            bytes = try asInvalidInput { try inflateAll(bytes, expected: nil, source: path) }
        }
        if bytes.starts(with: PNGImage.signature) {
            return try PNGDecoder.decode(bytes, source: path)
        }
        if bytes.starts(with: [0x50, 0x35]) || bytes.starts(with: [0x50, 0x32]) {
            return try decodePGM(bytes, source: path)
        }
        if bytes.count >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x08 && (bytes[3] == 3 || bytes[3] == 2) {
            return try decodeIDX(bytes, source: path)
        }
        throw InferenceError.invalidInput(source: path, reason: "not an IDX (ubyte images), PGM or PNG file")
    }

    /// An IDX file of unsigned bytes: `[count, rows, columns]` or one `[rows, columns]` image.
    static func decodeIDX(_ bytes: [UInt8], source: String) throws -> ImageBatch {
        guard bytes.count >= 4 else { throw InferenceError.invalidInput(source: source, reason: "IDX header is truncated") }
        let dimensions = Int(bytes[3])
        guard dimensions == 2 || dimensions == 3 else {
            throw InferenceError.invalidInput(source: source, reason: "IDX images have 2 or 3 dimensions, this file \(dimensions)")
        }
        let header = 4 + 4 * dimensions
        guard bytes.count >= header else {
            throw InferenceError.invalidInput(source: source, reason: "IDX header is truncated")
        }
        let sizes = (0..<dimensions).map { d in
            (0..<4).reduce(0) { $0 << 8 | Int(bytes[4 + 4 * d + $1]) }
        }
        let (count, rows, columns) = dimensions == 3 ? (sizes[0], sizes[1], sizes[2]) : (1, sizes[0], sizes[1])
        guard count > 0, rows > 0, columns > 0 else {
            throw InferenceError.invalidInput(source: source, reason: "IDX file holds no pixels (dimensions \(sizes))")
        }
        // Each size is up to 2^32 - 1: the product is checked, and no file this size can hold it anyway.
        let (plane, overflow1) = rows.multipliedReportingOverflow(by: columns)
        let (total, overflow2) = plane.multipliedReportingOverflow(by: count)
        guard !overflow1, !overflow2, total <= bytes.count else {
            throw InferenceError.invalidInput(source: source,
                                              reason: "IDX dimensions \(sizes) need more bytes than the file's \(bytes.count)")
        }
        guard bytes.count == header + total else {
            throw InferenceError.invalidInput(source: source,
                                              reason: "IDX dimensions \(sizes) need \(header + total) bytes, the file has \(bytes.count)")
        }
        return ImageBatch(count: count, rows: rows, columns: columns, pixels: bytes[header...].map { Float($0) })
    }

    /// A PGM image: `P5` (binary) or `P2` (plain text), any maxval up to
    /// 65535, rescaled to 0...255.
    static func decodePGM(_ bytes: [UInt8], source: String) throws -> ImageBatch {
        func invalid(_ reason: String) -> InferenceError { .invalidInput(source: source, reason: reason) }
        var position = 2
        // Header fields are whitespace-separated; `#` starts a comment to the end of the line.
        func nextToken() throws -> String {
            while position < bytes.count {
                if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 0x0a { position += 1 }
                } else if [0x20, 0x09, 0x0a, 0x0d].contains(bytes[position]) {
                    position += 1
                } else {
                    break
                }
            }
            let start = position
            while position < bytes.count && ![0x20, 0x09, 0x0a, 0x0d].contains(bytes[position]) { position += 1 }
            guard position > start else { throw invalid("PGM header is truncated") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }
        func number(_ what: String) throws -> Int {
            let token = try nextToken()
            guard let value = Int(token), value > 0 else { throw invalid("PGM \(what) \(token) is not a positive integer") }
            return value
        }
        let columns = try number("width"), rows = try number("height"), maxValue = try number("maxval")
        guard maxValue <= 65535 else { throw invalid("PGM maxval \(maxValue) exceeds 65535") }
        guard columns <= 1 << 16, rows <= 1 << 16, rows * columns <= 1 << 26 else { throw invalid("PGM image \(columns)x\(rows) is implausibly large") }
        let scale = 255 / Float(maxValue)
        var pixels = [Float]()
        pixels.reserveCapacity(rows * columns)
        if bytes[1] == UInt8(ascii: "5") {
            position += 1  // the single whitespace byte after maxval
            let width = maxValue < 256 ? 1 : 2
            guard bytes.count - position >= rows * columns * width else {
                throw invalid("PGM pixel data is truncated: \(bytes.count - position) bytes for \(columns)x\(rows) pixels")
            }
            for i in 0..<(rows * columns) {
                let value = width == 1 ? Int(bytes[position + i])
                    : Int(bytes[position + 2 * i]) << 8 | Int(bytes[position + 2 * i + 1])
                pixels.append(Float(min(value, maxValue)) * scale)
            }
        } else {
            for _ in 0..<(rows * columns) {
                let token = try nextToken()
                guard let value = Int(token), value >= 0, value <= maxValue else {
                    throw invalid("PGM pixel \(token) is not in 0...\(maxValue)")
                }
                pixels.append(Float(value) * scale)
            }
        }
        return ImageBatch(count: 1, rows: rows, columns: columns, pixels: pixels)
    }
}

/// PNG files through DataPipeline's decoder, reduced to one grayscale image.
enum PNGDecoder {
    static func decode(_ bytes: [UInt8], source: String) throws -> ImageBatch {
        let image = try asInvalidInput { try PNGImage.decode(bytes, source: source) }
        return ImageBatch(count: 1, rows: image.height, columns: image.width, pixels: image.luma())
    }

    static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int { PNGImage.paeth(a, b, c) }
}

/// Runs `body`, reporting an undecodable image as the request's bad input.
func asInvalidInput<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch DataError.badImage(let file, let reason) {
        throw InferenceError.invalidInput(source: file, reason: reason)
    }
}
