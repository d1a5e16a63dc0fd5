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
        var out = [UInt8](repeating: 0, count: channels * targetHeight * targetWidth)
        if targetHeight == height && targetWidth == width {
            for c in 0..<channels {
                for p in 0..<(height * width) { out[c * height * width + p] = UInt8(value(channel: c, of: channels, at: p).rounded()) }
            }
            return out
        }
        // Source pixels per target pixel along each axis, and the offset of the kept window.
        var scaleY = Double(height) / Double(targetHeight), scaleX = Double(width) / Double(targetWidth)
        var offsetY = 0.0, offsetX = 0.0
        if fit == .crop {
            let scale = min(scaleY, scaleX)
            offsetY = (Double(height) - scale * Double(targetHeight)) / 2
            offsetX = (Double(width) - scale * Double(targetWidth)) / 2
            (scaleY, scaleX) = (scale, scale)
        }
        for c in 0..<channels {
            for y in 0..<targetHeight {
                let sy = min(max(offsetY + (Double(y) + 0.5) * scaleY - 0.5, 0), Double(height - 1))
                let y0 = Int(sy), y1 = min(y0 + 1, height - 1), fy = Float(sy - Double(y0))
                for x in 0..<targetWidth {
                    let sx = min(max(offsetX + (Double(x) + 0.5) * scaleX - 0.5, 0), Double(width - 1))
                    let x0 = Int(sx), x1 = min(x0 + 1, width - 1), fx = Float(sx - Double(x0))
                    func at(_ yy: Int, _ xx: Int) -> Float { value(channel: c, of: channels, at: yy * width + xx) }
                    let top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
                    let bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
                    let blended = top * (1 - fy) + bottom * fy
                    out[(c * targetHeight + y) * targetWidth + x] = UInt8(min(max(blended.rounded(), 0), 255))
                }
            }
        }
        return out
    }

    /// Output channel `c` of `target` at pixel `p`, read from the decoded
    /// samples: luma (rounded) for gray output, the colour channel (or the
    /// one gray channel, repeated) for RGB; alpha ignored. No plane is
    /// converted whole, so a large image costs no float copy of itself.
    @inline(__always)
    private func value(channel c: Int, of target: Int, at p: Int) -> Float {
        let base = p * channels
        if target == 1 {
            guard channels >= 3 else { return Float(pixels[base]) }
            return (0.299 * Float(pixels[base]) + 0.587 * Float(pixels[base + 1]) + 0.114 * Float(pixels[base + 2])).rounded()
        }
        return Float(pixels[base + (channels >= 3 ? c : 0)])
    }
}
