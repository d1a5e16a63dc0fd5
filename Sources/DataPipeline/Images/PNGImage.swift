/// A minimal PNG reader: 8-bit grayscale, gray+alpha, RGB or RGBA images,
/// not interlaced: what image tools and data set exporters write.
public enum PNGImage {
    /// The 8 bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

    /// Decodes the PNG file `bytes`.
    ///
    /// - Throws: ``DataError/badImage(file:reason:)`` naming `source`.
    public static func decode(_ bytes: [UInt8], source: String) throws -> DecodedImage {
        func invalid(_ reason: String) -> DataError { .badImage(file: source, reason: "PNG: " + reason) }
        func word(_ at: Int) -> Int { (0..<4).reduce(0) { $0 << 8 | Int(bytes[at + $1]) } }
        var position = 8
        var width = 0, height = 0, channels = 0
        var compressed: [UInt8] = []
        var sawHeader = false, sawEnd = false
        while position + 12 <= bytes.count {
            let length = word(position)
            let type = String(decoding: bytes[(position + 4)..<(position + 8)], as: UTF8.self)
            let body = position + 8
            guard length >= 0, body + length + 4 <= bytes.count else { throw invalid("chunk \(type) is truncated") }
            switch type {
            case "IHDR":
                guard length >= 13 else { throw invalid("IHDR is too short") }
                width = word(body)
                height = word(body + 4)
                let depth = Int(bytes[body + 8]), color = Int(bytes[body + 9]), interlace = Int(bytes[body + 12])
                guard depth == 8 else { throw invalid("bit depth \(depth) is not supported (only 8)") }
                switch color {
                case 0: channels = 1
                case 2: channels = 3
                case 4: channels = 2
                case 6: channels = 4
                default: throw invalid("color type \(color) is not supported (gray, gray+alpha, RGB or RGBA only)")
                }
                guard interlace == 0 else { throw invalid("interlaced images are not supported") }
                // Each is a 32-bit field: bounded first, so that the product cannot overflow.
                guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16, width * height <= 1 << 26 else {
                    throw invalid("image size \(width)x\(height) is not usable")
                }
                sawHeader = true
            case "IDAT":
                compressed += bytes[body..<(body + length)]
            case "IEND":
                sawEnd = true
            default:
                break
            }
            if sawEnd { break }
            position = body + length + 4
        }
        guard sawHeader else { throw invalid("no IHDR chunk") }
        guard !compressed.isEmpty else { throw invalid("no image data (IDAT)") }
        let stride = width * channels
        // A small file claiming a large image would otherwise allocate for it before inflating a byte.
        guard height * (stride + 1) <= largestInflatedSize(of: compressed.count) else {
            throw invalid("\(compressed.count) bytes of image data cannot hold a \(width)x\(height) image")
        }
        let raw = try inflateAll(compressed, expected: height * (stride + 1), source: source, format: "PNG: ")
        guard raw.count == height * (stride + 1) else {
            throw invalid("image data has \(raw.count) bytes, expected \(height * (stride + 1))")
        }
        var pixels = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            let line = y * (stride + 1) + 1
            for x in 0..<stride {
                let value = Int(raw[line + x])
                let left = x >= channels ? Int(pixels[y * stride + x - channels]) : 0
                let up = y > 0 ? Int(pixels[(y - 1) * stride + x]) : 0
                let upLeft = y > 0 && x >= channels ? Int(pixels[(y - 1) * stride + x - channels]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = left
                case 2: predicted = up
                case 3: predicted = (left + up) / 2
                case 4: predicted = paeth(left, up, upLeft)
                default: throw invalid("row \(y) has unknown filter type \(filter)")
                }
                pixels[y * stride + x] = UInt8(truncatingIfNeeded: value + predicted)
            }
        }
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// The PNG Paeth predictor: whichever neighbour is closest to `a + b - c`.
    public static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }
}


/// Inflates a whole zlib or gzip stream.
///
/// - Parameters:
///   - expected: The decompressed size when known (a PNG's), else it grows.
///   - format: Prefixes the reason of an error, e.g. `PNG: `.
/// - Throws: ``DataError/badImage(file:reason:)`` naming `source`.
public func inflateAll(_ compressed: [UInt8], expected: Int?, source: String, format: String = "") throws -> [UInt8] {
    // One spare byte for a known size lets zlib report the end without running out of room.
    let capacity = max(expected.map { $0 + 1 } ?? compressed.count * 4, 64)
    do {
        return try inflateStream(compressed, capacity: capacity, exactSize: expected != nil)
    } catch InflateError.couldNotStart {
        throw DataError.badImage(file: source, reason: format + "zlib could not start inflating")
    } catch InflateError.truncated {
        throw DataError.badImage(file: source, reason: format + "compressed data end early (truncated file)")
    } catch {
        throw DataError.badImage(file: source, reason: format + "compressed data are corrupt")
    }
}
