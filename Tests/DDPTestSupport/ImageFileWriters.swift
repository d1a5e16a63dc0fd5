import CTurboJPEG
import Foundation

/// A PNG file of 8-bit samples (1 gray, 2 gray+alpha, 3 RGB or 4 RGBA
/// channels), row `y` filtered with `filters[y % filters.count]` (0 none, 1
/// sub, 2 up, 3 average, 4 Paeth), the data in stored (uncompressed) deflate
/// blocks: what any decoder reads, written without a compressor.
public func pngFile(width: Int, height: Int, channels: Int, pixels: [UInt8], filters: [UInt8] = [0]) -> [UInt8] {
    precondition(pixels.count == width * height * channels, "pngFile: wrong pixel count")
    func be32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }
    func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return be32(body.count) + typed + be32(Int(crc32(typed)))
    }
    func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
        return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
    }
    let stride = width * channels
    var raw: [UInt8] = []
    for y in 0..<height {
        let filter = filters[y % filters.count]
        raw.append(filter)
        for x in 0..<stride {
            let left = x >= channels ? Int(pixels[y * stride + x - channels]) : 0
            let up = y > 0 ? Int(pixels[(y - 1) * stride + x]) : 0
            let upLeft = y > 0 && x >= channels ? Int(pixels[(y - 1) * stride + x - channels]) : 0
            let predicted = [0, left, up, (left + up) / 2, paeth(left, up, upLeft)][Int(filter)]
            raw.append(UInt8(truncatingIfNeeded: Int(pixels[y * stride + x]) - predicted))
        }
    }
    var zlib: [UInt8] = [0x78, 0x01]
    var offset = 0
    repeat {
        let length = min(65_535, raw.count - offset)
        let final: UInt8 = offset + length == raw.count ? 1 : 0
        zlib += [final, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
        zlib += raw[offset..<(offset + length)]
        offset += length
    } while offset < raw.count
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in raw { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
    zlib += be32(Int(b << 16 | a))
    let color: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][channels]!
    let header = be32(width) + be32(height) + [8, color, 0, 0, 0]
    return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
}

/// CRC-32 (ISO 3309), as PNG chunks carry it.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
    }
    return ~crc
}

/// A JPEG file of gray (1 channel) or RGB (3) pixels, through libjpeg-turbo.
public func jpegFile(width: Int, height: Int, channels: Int, pixels: [UInt8], quality: Int32 = 95) -> [UInt8] {
    let handle = tjInitCompress()!
    defer { tjDestroy(handle) }
    var output: UnsafeMutablePointer<UInt8>?
    var size: UInt = 0
    let format = channels == 1 ? Int32(TJPF_GRAY.rawValue) : Int32(TJPF_RGB.rawValue)
    let subsampling = channels == 1 ? Int32(TJSAMP_GRAY.rawValue) : Int32(TJSAMP_444.rawValue)
    let result = pixels.withUnsafeBufferPointer {
        tjCompress2(handle, $0.baseAddress, Int32(width), 0, Int32(height), format, &output, &size, subsampling, quality, 0)
    }
    precondition(result == 0, "jpegFile: libjpeg-turbo failed")
    defer { tjFree(output) }
    return Array(UnsafeBufferPointer(start: output, count: Int(size)))
}
