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
    /// Without padding, a kernel row of up to 8 codes moves as one 8-byte
    /// load and store; so `image` must be readable 8 bytes past its end.
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
        let unpadded = g.paddingHeight == 0 && g.paddingWidth == 0
        guard unpadded && kw <= 8 else {
            return im2rowPadded(image, geometry: g, padding: padding, offset: offset, into: rows)
        }
        // Field by field across a row of output positions: each kernel row
        // is one 8-byte move whose surplus lands in the row's next fields,
        // written after it. The fields within 8 bytes of a row's end are
        // copied exactly, so nothing spills into the next row's first field,
        // already written.
        let fields = g.channels * kh
        for oh in 0..<outH {
            let outputRow = UnsafeMutableRawPointer(rows + oh * outW * patch)
            for field in 0..<fields {
                let (c, i) = (field / kh, field % kh)
                let source = UnsafeRawPointer(image + c * g.height * g.width + (oh * g.strideHeight + i) * g.width)
                var (out, from) = (outputRow + field * kw, source)
                if field * kw + 8 <= patch {
                    for _ in 0..<outW {
                        let codes = from.loadUnaligned(as: SIMD8<UInt8>.self)
                        out.storeBytes(of: codes &- shift, as: SIMD8<UInt8>.self)
                        (out, from) = (out + patch, from + g.strideWidth)
                    }
                } else {
                    for _ in 0..<outW {
                        for j in 0..<kw {
                            out.storeBytes(of: from.load(fromByteOffset: j, as: UInt8.self) &- offset, toByteOffset: j, as: UInt8.self)
                        }
                        (out, from) = (out + patch, from + g.strideWidth)
                    }
                }
            }
        }
    }

    /// ``im2row(_:geometry:padding:offset:into:)`` position by position, for
    /// padded convolutions and kernels wider than 8.
    @inlinable
    static func im2rowPadded(_ image: UnsafePointer<UInt8>, geometry g: Conv2DGeometry, padding: UInt8, offset: UInt8,
                             into rows: UnsafeMutablePointer<Int8>) {
        let (outH, outW) = (g.outputHeight, g.outputWidth)
        let (kh, kw) = (g.kernelHeight, g.kernelWidth)
        let patch = g.columnRows
        for oh in 0..<outH {
            for ow in 0..<outW {
                var out = UnsafeMutableRawPointer(rows + (oh * outW + ow) * patch)
                let top = oh * g.strideHeight - g.paddingHeight, left = ow * g.strideWidth - g.paddingWidth
                for c in 0..<g.channels {
                    let plane = image + c * g.height * g.width
                    for i in 0..<kh {
                        let y = top + i
                        for j in 0..<kw {
                            let x = left + j
                            let code = y >= 0 && y < g.height && x >= 0 && x < g.width ? plane[y * g.width + x] : padding
                            out.storeBytes(of: code &- offset, toByteOffset: j, as: UInt8.self)
                        }
                        out += kw
                    }
                }
            }
        }
    }

    /// `out[b, o] = conv(input[b], W[o]) + bias[o]` with int8 `W` and each
    /// image quantized at run time, optionally followed by ReLU and max
    /// pooling in the same pass.
    ///
    /// The fused pooling takes the largest integer sum of each window and
    /// brings only it back to Float32: the map from a sum to its output
    /// (a non-negative scale, a shift, ReLU) never decreases, so this equals
    /// converting every sum, applying ReLU and pooling, bit for bit, and
    /// writes a pooled output directly instead of three passes over the
    /// full-size one.
    ///
    /// - Parameters:
    ///   - out: `[batch, outChannels, outH, outW]`, or with `reluPool` `p`,
    ///     `[batch, outChannels, outH / p, outW / p]`; overwritten.
    ///   - input: `[batch, channels, height, width]`, finite.
    ///   - geometry: The convolution's shapes; `weight.inputs` must be its patch size.
    ///   - weight: `[outChannels, channels · kh · kw]` codes.
    ///   - bias: `[outChannels]`, or nil.
    ///   - batch: Images.
    ///   - reluPool: The window (and stride) of a max pooling after a ReLU, or nil.
    ///   - scratch: Reused buffers.
    public static func int8ConvolutionForward(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, geometry g: Conv2DGeometry,
        weight: Int8WeightView, bias: UnsafePointer<Float>?, batch: Int, reluPool: Int? = nil, scratch: Int8Scratch
    ) {
        precondition(weight.inputs == g.columnRows,
                     "int8ConvolutionForward: weight takes \(weight.inputs) inputs, the patch is \(g.columnRows)")
        precondition(reluPool.map { $0 >= 1 && $0 <= g.outputHeight && $0 <= g.outputWidth } ?? true,
                     "int8ConvolutionForward: pooling window \(reluPool!) for a \(g.outputHeight)x\(g.outputWidth) output")
        let (patch, plane, image, channels) = (g.columnRows, g.columnColumns, g.imageCount, weight.outputs)
        // Images go through gathering, product and conversion a group at a
        // time, so that a group's sums (written by the product, read once by
        // the conversion) stay in cache: a whole batch's are megabytes.
        let group = Swift.max(1, Swift.min(batch, 131_072 / Swift.max(1, plane * channels)))
        let imageCodes = scratch.imageCodes.reserve(batch * image + 8)
        let rows = scratch.signedCodes.reserve(group * plane * patch + 8)
        let sums = scratch.sums.reserve(channels * group * plane)
        let scales = scratch.rowScales.reserve(batch), zeros = scratch.rowZeros.reserve(batch)
        quantizeRows(input, rows: batch, columns: image, levels: Int8Product.activationLevels,
                     codes: imageCodes, scales: scales, zeroPoints: zeros)
        let offset = Int8Product.signedOffset
        let (outW, pool) = (g.outputWidth, reluPool ?? 1)
        let (pooledH, pooledW) = (g.outputHeight / pool, outW / pool)
        let columnMax = scratch.poolRow.reserve(outW)
        var first = 0
        while first < batch {
            let count = Swift.min(group, batch - first)
            let columns = count * plane
            for k in 0..<count {
                let b = first + k
                im2row(imageCodes + b * image, geometry: g, padding: UInt8(zeros[b]), offset: UInt8(offset),
                       into: rows + k * plane * patch)
            }
            signedInt8Product(m: channels, n: columns, k: patch, a: weight.codes, b: rows, c: sums)
            // x ≈ scale · (code − zero) = scale · ((code − offset) − (zero − offset)).
            for k in 0..<count {
                let b = first + k
                let (scale, zero) = (scales[b], zeros[b] - offset)
                for o in 0..<channels {
                    let factor = scale * weight.scales[o], correction = zero &* weight.codeSums[o]
                    let shift = bias?[o] ?? 0
                    let s = sums + o * columns + k * plane
                    guard reluPool != nil else {
                        let y = out + (b * channels + o) * plane
                        for p in 0..<plane { y[p] = factor * Float(s[p] &- correction) + shift }
                        continue
                    }
                    let y = out + (b * channels + o) * pooledH * pooledW
                    for ph in 0..<pooledH {
                        // Down the window's rows, then across its columns.
                        let top = s + ph &* pool &* outW
                        columnMax.update(from: top, count: outW)
                        for i in 1..<pool {
                            let row = top + i &* outW
                            for x in 0..<outW { columnMax[x] = Swift.max(columnMax[x], row[x]) }
                        }
                        let target = y + ph &* pooledW
                        for pw in 0..<pooledW {
                            let window = columnMax + pw &* pool
                            var largest = window[0]
                            for j in 1..<pool { largest = Swift.max(largest, window[j]) }
                            target[pw] = Swift.max(0, factor * Float(largest &- correction) + shift)
                        }
                    }
                }
            }
            first += count
        }
    }
}
