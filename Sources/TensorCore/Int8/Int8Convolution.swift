// The int8 convolution: each input image is quantized onto one grid of its
// own (dynamic, per sample), its receptive fields are gathered as rows of
// signed codes (one row per output position, the patch in the weight's
// channel-kernel order), and the whole batch is one integer product with
// the weight [outChannels, patch] on the left, so the sums come out one
// output channel per row, as the channels-first output is laid out.
//
// Quantizing the image before gathering touches each value once rather
// than once per kernel offset, and every row of an image then shares its
// grid, so one zero-point correction per image and channel stays exact.

extension Kernels {
    /// Gathers the receptive fields of one image of codes into `rows` as
    /// signed codes `code − offset`: row `oh · outW + ow` holds the patch
    /// `[c, i, j]` (the weight's order); positions in the padding hold
    /// `padding − offset`, the code of 0.
    ///
    /// A kernel row of up to 8 codes inside the image moves as one 8-byte
    /// load and store, whose surplus bytes the next store overwrites; so
    /// `image` must be readable, and `rows` writable, 8 bytes past their ends.
    ///
    /// - Parameters:
    ///   - image: `geometry.imageCount` codes, channels-first.
    ///   - geometry: The convolution's shapes.
    ///   - padding: The code standing for 0.
    ///   - offset: Subtracted from every code (``Int8Product/signedOffset``).
    ///   - rows: `geometry.columnColumns` rows of `geometry.columnRows` codes, overwritten.
    @inlinable
    public static func im2row(_ image: UnsafePointer<UInt8>, geometry g: Conv2DGeometry, padding: UInt8, offset: UInt8,
                              into rows: UnsafeMutablePointer<Int8>) {
        let (outH, outW) = (g.outputHeight, g.outputWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let patch = g.columnRows
        let shift = SIMD8<UInt8>(repeating: offset)
        for oh in 0..<outH {
            for ow in 0..<outW {
                var out = UnsafeMutableRawPointer(rows + (oh * outW + ow) * patch)
                let top = oh * g.strideHeight - g.paddingHeight, left = ow * g.strideWidth - g.paddingWidth
                let inside = top >= 0 && left >= 0 && top + kh <= g.height && left + kw <= g.width
                for c in 0..<g.channels {
                    let plane = image + c * g.height * g.width
                    for i in 0..<kh {
                        let y = top + i
                        if inside && kw <= 8 {
                            let codes = UnsafeRawPointer(plane + y * g.width + left).loadUnaligned(as: SIMD8<UInt8>.self)
                            out.storeBytes(of: codes &- shift, as: SIMD8<UInt8>.self)
                        } else {
                            for j in 0..<kw {
                                let x = left + j
                                let code = y >= 0 && y < g.height && x >= 0 && x < g.width ? plane[y * g.width + x] : padding
                                out.storeBytes(of: code &- offset, toByteOffset: j, as: UInt8.self)
                            }
                        }
                        out += kw
                    }
                }
            }
        }
    }

    /// `out[b, o] = conv(input[b], W[o]) + bias[o]` with int8 `W` and each
    /// image quantized at run time.
    ///
    /// - Parameters:
    ///   - out: `[batch, outChannels, outH, outW]`, overwritten.
    ///   - input: `[batch, channels, height, width]`, finite.
    ///   - geometry: The convolution's shapes; `weight.inputs` must be its patch size.
    ///   - weight: `[outChannels, channels · kh · kw]` codes.
    ///   - bias: `[outChannels]`, or nil.
    ///   - batch: Images.
    ///   - scratch: Reused buffers.
    public static func int8ConvolutionForward(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, geometry g: Conv2DGeometry,
        weight: Int8WeightView, bias: UnsafePointer<Float>?, batch: Int, scratch: Int8Scratch
    ) {
        precondition(weight.inputs == g.columnRows,
                     "int8ConvolutionForward: weight takes \(weight.inputs) inputs, the patch is \(g.columnRows)")
        let (patch, plane, image, channels) = (g.columnRows, g.columnColumns, g.imageCount, weight.outputs)
        let columns = batch * plane
        let imageCodes = scratch.imageCodes.reserve(batch * image + 8)
        let rows = scratch.signedCodes.reserve(columns * patch + 8)
        let sums = scratch.sums.reserve(channels * columns)
        let scales = scratch.rowScales.reserve(batch), zeros = scratch.rowZeros.reserve(batch)
        quantizeRows(input, rows: batch, columns: image, levels: Int8Product.activationLevels,
                     codes: imageCodes, scales: scales, zeroPoints: zeros)
        let offset = Int8Product.signedOffset
        for b in 0..<batch {
            im2row(imageCodes + b * image, geometry: g, padding: UInt8(zeros[b]), offset: UInt8(offset),
                   into: rows + b * plane * patch)
        }
        signedInt8Product(m: channels, n: columns, k: patch, a: weight.codes, b: rows, c: sums)
        // x ≈ scale · (code − zero) = scale · ((code − offset) − (zero − offset)).
        for b in 0..<batch {
            let (scale, zero) = (scales[b], zeros[b] - offset)
            for o in 0..<channels {
                let factor = scale * weight.scales[o], correction = zero &* weight.codeSums[o]
                let shift = bias?[o] ?? 0
                let s = sums + o * columns + b * plane
                let y = out + (b * channels + o) * plane
                for p in 0..<plane { y[p] = factor * Float(s[p] &- correction) + shift }
            }
        }
    }
}
