// Lowering of a 2-D convolution onto sgemm. For one image (C x H x W,
// row-major), im2col gathers every receptive field into a column of a
// (C*kh*kw) x (outH*outW) matrix; then
//     output[outC, outH*outW] = weight[outC, C*kh*kw] * columns
// is the NCHW output of that image, and backward is two more sgemms plus
// col2im scattering the column gradient back onto the image.

/// The shape arithmetic of a 2-D convolution on one NCHW image.
public struct Conv2DGeometry: Sendable, Equatable {
    /// Input channels.
    public let channels: Int
    /// Input height.
    public let height: Int
    /// Input width.
    public let width: Int
    /// Kernel height.
    public let kernelHeight: Int
    /// Kernel width.
    public let kernelWidth: Int
    /// Vertical stride.
    public let strideHeight: Int
    /// Horizontal stride.
    public let strideWidth: Int
    /// Zero rows added above and below.
    public let paddingHeight: Int
    /// Zero columns added left and right.
    public let paddingWidth: Int

    /// A geometry; the kernel must fit in the padded input.
    ///
    /// - Parameters:
    ///   - channels, height, width: The input image, C x H x W.
    ///   - kernel: (height, width) of the kernel.
    ///   - stride: (height, width) step between receptive fields; default 1.
    ///   - padding: (height, width) zeros on each side; default 0.
    public init(
        channels: Int, height: Int, width: Int,
        kernel: (height: Int, width: Int),
        stride: (height: Int, width: Int) = (1, 1),
        padding: (height: Int, width: Int) = (0, 0)
    ) {
        precondition(channels >= 0 && height >= 0 && width >= 0,
                     "Conv2DGeometry: negative input \(channels) x \(height) x \(width)")
        precondition(kernel.height >= 1 && kernel.width >= 1,
                     "Conv2DGeometry: kernel \(kernel.height) x \(kernel.width) must be at least 1 x 1")
        precondition(stride.height >= 1 && stride.width >= 1,
                     "Conv2DGeometry: stride \(stride.height) x \(stride.width) must be at least 1")
        precondition(padding.height >= 0 && padding.width >= 0,
                     "Conv2DGeometry: negative padding \(padding.height) x \(padding.width)")
        precondition(height + 2 * padding.height >= kernel.height && width + 2 * padding.width >= kernel.width,
                     "Conv2DGeometry: kernel \(kernel.height) x \(kernel.width) larger than padded input "
                        + "\(height + 2 * padding.height) x \(width + 2 * padding.width)")
        (self.channels, self.height, self.width) = (channels, height, width)
        self.kernelHeight = kernel.height
        self.kernelWidth = kernel.width
        self.strideHeight = stride.height
        self.strideWidth = stride.width
        self.paddingHeight = padding.height
        self.paddingWidth = padding.width
    }

    /// Output height, `(H + 2p - kh) / s + 1`.
    @inlinable public var outputHeight: Int { (height + 2 * paddingHeight - kernelHeight) / strideHeight + 1 }
    /// Output width, `(W + 2p - kw) / s + 1`.
    @inlinable public var outputWidth: Int { (width + 2 * paddingWidth - kernelWidth) / strideWidth + 1 }
    /// Rows of the column matrix, `C * kh * kw` (the sgemm inner dimension).
    @inlinable public var columnRows: Int { channels * kernelHeight * kernelWidth }
    /// Columns of the column matrix, `outH * outW`.
    @inlinable public var columnColumns: Int { outputHeight * outputWidth }
    /// Elements of one input image, `C * H * W`.
    @inlinable public var imageCount: Int { channels * height * width }
    /// Elements of the column matrix.
    @inlinable public var columnCount: Int { columnRows * columnColumns }

    /// The output positions `ow` in `0..<outputWidth` whose input column
    /// `ow * stride - padding + kernelOffset` lies inside the image; outside
    /// this range the lowered value is padding (zero).
    @inlinable
    func validOutputRange(kernelOffset: Int, stride: Int, padding: Int, inputExtent: Int, outputExtent: Int) -> Range<Int> {
        // First ow with ow * stride >= padding - kernelOffset (ceiling division).
        let shiftLow = padding - kernelOffset
        let low = shiftLow <= 0 ? 0 : (shiftLow + stride - 1) / stride
        // First ow with ow * stride >= inputExtent + padding - kernelOffset.
        let shiftHigh = inputExtent + padding - kernelOffset
        let high = shiftHigh <= 0 ? 0 : (shiftHigh + stride - 1) / stride
        let lo = Swift.min(low, outputExtent)
        return lo..<Swift.max(lo, Swift.min(high, outputExtent))
    }
}

extension Kernels {
    /// Gathers the receptive fields of one C x H x W image into the
    /// `columnRows x columnColumns` matrix `columns`, padding with zeros.
    ///
    /// Row `(c * kh + i) * kw + j`, column `oh * outW + ow` holds
    /// `image[c, oh * sh - ph + i, ow * sw - pw + j]`.
    ///
    /// - Parameters:
    ///   - image: `geometry.imageCount` elements.
    ///   - geometry: The convolution's shapes.
    ///   - columns: `geometry.columnCount` elements, overwritten.
    @inlinable
    public static func im2col(
        _ image: UnsafePointer<Float>, geometry g: Conv2DGeometry,
        into columns: UnsafeMutablePointer<Float>
    ) {
        let outH = g.outputHeight, outW = g.outputWidth
        forEachColumnRow(of: g) { c, i, j, rowsValid, colsValid, row in
            let plane = image + c * g.height * g.width
            let rowStart = columns + row * outH * outW
            for oh in 0..<outH {
                let out = rowStart + oh * outW
                guard rowsValid.contains(oh) else {
                    out.update(repeating: 0, count: outW)
                    continue
                }
                let source = plane + (oh * g.strideHeight - g.paddingHeight + i) * g.width
                let shift = j - g.paddingWidth
                out.update(repeating: 0, count: colsValid.lowerBound)
                if g.strideWidth == 1 {
                    // A contiguous run on both sides: one copy.
                    (out + colsValid.lowerBound).update(from: source + (colsValid.lowerBound + shift), count: colsValid.count)
                } else {
                    for ow in colsValid { out[ow] = source[ow * g.strideWidth + shift] }
                }
                (out + colsValid.upperBound).update(repeating: 0, count: outW - colsValid.upperBound)
            }
        }
    }

    /// The adjoint of ``im2col(_:geometry:into:)``: adds every entry of
    /// `columns` back onto the image position it was gathered from.
    ///
    /// Accumulates into `image` (positions covered by several receptive
    /// fields receive the sum), so zero it first for a plain backward.
    ///
    /// - Parameters:
    ///   - columns: `geometry.columnCount` elements, the column gradient.
    ///   - geometry: The convolution's shapes.
    ///   - image: `geometry.imageCount` elements, accumulated into.
    @inlinable
    public static func col2im(
        _ columns: UnsafePointer<Float>, geometry g: Conv2DGeometry,
        accumulatingInto image: UnsafeMutablePointer<Float>
    ) {
        let outH = g.outputHeight, outW = g.outputWidth
        forEachColumnRow(of: g) { c, i, j, rowsValid, colsValid, row in
            let plane = image + c * g.height * g.width
            let rowStart = columns + row * outH * outW
            for oh in rowsValid {
                let source = rowStart + oh * outW
                let target = plane + (oh * g.strideHeight - g.paddingHeight + i) * g.width
                let shift = j - g.paddingWidth
                if g.strideWidth == 1 {
                    // Contiguous on both sides: a loop the compiler vectorizes.
                    let to = target + (colsValid.lowerBound + shift), from = source + colsValid.lowerBound
                    for k in 0..<colsValid.count { to[k] += from[k] }
                } else {
                    for ow in colsValid { target[ow * g.strideWidth + shift] += source[ow] }
                }
            }
        }
    }

    /// Calls `body` for each row of the column matrix, `(c * kh + i) * kw + j`,
    /// with the output rows and columns whose input lies inside the image
    /// for that kernel offset (outside them the lowered value is padding).
    @inlinable @inline(__always)
    static func forEachColumnRow(
        of g: Conv2DGeometry,
        _ body: (_ channel: Int, _ i: Int, _ j: Int, _ rowsValid: Range<Int>, _ colsValid: Range<Int>, _ row: Int) -> Void
    ) {
        var row = 0
        for c in 0..<g.channels {
            for i in 0..<g.kernelHeight {
                let rowsValid = g.validOutputRange(kernelOffset: i, stride: g.strideHeight, padding: g.paddingHeight,
                                                   inputExtent: g.height, outputExtent: g.outputHeight)
                for j in 0..<g.kernelWidth {
                    let colsValid = g.validOutputRange(kernelOffset: j, stride: g.strideWidth, padding: g.paddingWidth,
                                                       inputExtent: g.width, outputExtent: g.outputWidth)
                    body(c, i, j, rowsValid, colsValid, row)
                    row += 1
                }
            }
        }
    }
}
