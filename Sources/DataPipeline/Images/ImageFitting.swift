/// How an image of another size becomes the prepared size.
public enum ImageFit: String, Sendable, Codable, CaseIterable {
    /// Scale so the image covers the target, then cut the centre (torchvision's Resize + CenterCrop).
    case crop
    /// Scale each side to the target independently (the aspect ratio may change).
    case resize
}

extension DecodedImage {
    /// The image as `channels × height × width` bytes: converted to gray
    /// (BT.601 luma) or RGB, alpha dropped, and fitted to the size by `fit`
    /// with bilinear sampling (an image already of that size is copied exactly).
    ///
    /// - Parameters:
    ///   - channels: 1 or 3.
    ///   - height: Target rows.
    ///   - width: Target columns.
    ///   - fit: How the aspect ratio is handled.
    public func planar(channels: Int, height targetHeight: Int, width targetWidth: Int, fit: ImageFit) -> [UInt8] {
        precondition(channels == 1 || channels == 3, "DecodedImage: channels must be 1 or 3, got \(channels)")
        precondition(targetHeight > 0 && targetWidth > 0, "DecodedImage: empty target size")
        let planes = convertedPlanes(channels: channels)
        if targetHeight == height && targetWidth == width { return planes.flatMap { $0.map { UInt8($0) } } }
        // Source pixels per target pixel along each axis, and the offset of the kept window.
        var scaleY = Double(height) / Double(targetHeight), scaleX = Double(width) / Double(targetWidth)
        var offsetY = 0.0, offsetX = 0.0
        if fit == .crop {
            let scale = min(scaleY, scaleX)
            offsetY = (Double(height) - scale * Double(targetHeight)) / 2
            offsetX = (Double(width) - scale * Double(targetWidth)) / 2
            (scaleY, scaleX) = (scale, scale)
        }
        var out = [UInt8](repeating: 0, count: channels * targetHeight * targetWidth)
        for (c, plane) in planes.enumerated() {
            for y in 0..<targetHeight {
                let sy = min(max(offsetY + (Double(y) + 0.5) * scaleY - 0.5, 0), Double(height - 1))
                let y0 = Int(sy), y1 = min(y0 + 1, height - 1), fy = Float(sy - Double(y0))
                for x in 0..<targetWidth {
                    let sx = min(max(offsetX + (Double(x) + 0.5) * scaleX - 0.5, 0), Double(width - 1))
                    let x0 = Int(sx), x1 = min(x0 + 1, width - 1), fx = Float(sx - Double(x0))
                    let top = plane[y0 * width + x0] * (1 - fx) + plane[y0 * width + x1] * fx
                    let bottom = plane[y1 * width + x0] * (1 - fx) + plane[y1 * width + x1] * fx
                    let value = top * (1 - fy) + bottom * fy
                    out[(c * targetHeight + y) * targetWidth + x] = UInt8(min(max(value.rounded(), 0), 255))
                }
            }
        }
        return out
    }

    /// One float plane per output channel, at the image's own size.
    private func convertedPlanes(channels target: Int) -> [[Float]] {
        let count = width * height
        if target == 1 {
            return [luma().map { $0.rounded() }]
        }
        return (0..<3).map { c in
            // Gray (with or without alpha) repeats its one channel; RGB(A) takes channel c.
            let source = channels >= 3 ? c : 0
            return (0..<count).map { Float(pixels[$0 * channels + source]) }
        }
    }
}
