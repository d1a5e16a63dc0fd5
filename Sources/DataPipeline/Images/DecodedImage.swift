/// An 8-bit image as decoded from a file: `height × width × channels`
/// samples, interleaved (gray, gray+alpha, RGB or RGBA).
public struct DecodedImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA).
    public let channels: Int
    public let pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition((1...4).contains(channels) && pixels.count == width * height * channels,
                     "DecodedImage: \(pixels.count) samples for \(width)x\(height)x\(channels)")
        (self.width, self.height, self.channels, self.pixels) = (width, height, channels, pixels)
    }

    /// Decodes a PNG or JPEG file's bytes, telling the format by its signature.
    ///
    /// - Throws: ``DataError/badImage(file:reason:)`` naming `source`.
    public static func decode(_ bytes: [UInt8], source: String) throws -> DecodedImage {
        if bytes.starts(with: PNGImage.signature) { return try PNGImage.decode(bytes, source: source) }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return try JPEGImage.decode(bytes, source: source) }
        throw DataError.badImage(file: source, reason: "not a PNG or JPEG file")
    }

    /// Luma (ITU-R BT.601 weights) of each pixel, alpha ignored, as floats 0...255.
    public func luma() -> [Float] {
        var gray = [Float](repeating: 0, count: width * height)
        for i in 0..<(width * height) {
            let p = i * channels
            gray[i] = channels >= 3
                ? 0.299 * Float(pixels[p]) + 0.587 * Float(pixels[p + 1]) + 0.114 * Float(pixels[p + 2])
                : Float(pixels[p])
        }
        return gray
    }
}
