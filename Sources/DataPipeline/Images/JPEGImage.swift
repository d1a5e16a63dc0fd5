import CTurboJPEG

/// JPEG files through libjpeg-turbo's TurboJPEG API, decoded to gray or RGB.
public enum JPEGImage {
    /// Decodes the JPEG file `bytes`: grayscale JPEGs to one channel, all others to RGB.
    ///
    /// - Throws: ``DataError/badImage(file:reason:)`` naming `source`.
    public static func decode(_ bytes: [UInt8], source: String) throws -> DecodedImage {
        func invalid(_ reason: String) -> DataError { .badImage(file: source, reason: "JPEG: " + reason) }
        guard let handle = tjInitDecompress() else { throw invalid("libjpeg-turbo could not start") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer { buffer in
            tjDecompressHeader3(handle, buffer.baseAddress, UInt(buffer.count), &width, &height, &subsampling, &colorspace)
        }
        guard header == 0 else { throw invalid(message(handle)) }
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16, Int(width) * Int(height) <= 1 << 26 else {
            throw invalid("image size \(width)x\(height) is not usable")
        }
        let gray = colorspace == Int32(TJCS_GRAY.rawValue)
        let channels = gray ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let format = gray ? Int32(TJPF_GRAY.rawValue) : Int32(TJPF_RGB.rawValue)
        let result = bytes.withUnsafeBufferPointer { input in
            pixels.withUnsafeMutableBufferPointer { output in
                tjDecompress2(handle, input.baseAddress, UInt(input.count), output.baseAddress,
                              width, 0, height, format, 0)
            }
        }
        // A warning (a slightly damaged but decodable file) still yields the image.
        guard result == 0 || tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue) else { throw invalid(message(handle)) }
        return DecodedImage(width: Int(width), height: Int(height), channels: channels, pixels: pixels)
    }

    private static func message(_ handle: tjhandle) -> String {
        tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown libjpeg-turbo error"
    }
}
