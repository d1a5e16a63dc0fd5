// The fully connected layer every model uses (MLP, GPT, the inference
// runtime): `out = input · weightᵀ + bias` as one sgemm, weight in the
// PyTorch layout `[outChannels, inChannels]` so one output's weights are
// contiguous.

extension Kernels {
    /// `out[rows, outChannels] = input[rows, inChannels] · weightᵀ + bias`.
    ///
    /// - Parameters:
    ///   - out: `[rows, outChannels]`, overwritten.
    ///   - input: `[rows, inChannels]`.
    ///   - weight: `[outChannels, inChannels]`.
    ///   - bias: `[outChannels]`, or nil for none (a tied output head).
    ///   - family: Where the profile counts the product; nil for ``otherMatmul``.
    @inlinable
    public static func linearForward(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        rows: Int, inChannels: Int, outChannels: Int, family: MatmulFamily? = nil
    ) {
        if let bias { KernelProfile.measure(biasRegion) { seedRows(out, with: bias, rows: rows, columns: outChannels) } }
        KernelProfile.measure(family?.forward ?? otherMatmul.forward, flops: 2 * Double(rows * inChannels * outChannels)) {
            sgemm(m: rows, n: outChannels, k: inChannels,
                  a: input, b: weight, transposeB: true,
                  beta: bias == nil ? 0 : 1, c: out)
        }
    }

    /// Back-propagates ``linearForward(out:input:weight:bias:rows:inChannels:outChannels:)``.
    ///
    /// - Parameters:
    ///   - dinput: `[rows, inChannels]`, overwritten; nil skips it.
    ///   - dweight: `[outChannels, inChannels]`, accumulated (`+= doutᵀ · input`).
    ///   - dbias: `[outChannels]`, accumulated; nil when forward had no bias.
    ///   - dout: `[rows, outChannels]`.
    ///   - input, weight: As in forward.
    ///   - family: As in forward.
    @inlinable
    public static func linearBackward(
        dinput: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
        dbias: UnsafeMutablePointer<Float>?,
        dout: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inChannels: Int, outChannels: Int, family: MatmulFamily? = nil
    ) {
        let flops = 2 * Double(rows * inChannels * outChannels)
        let family = family ?? otherMatmul
        if let dinput {
            KernelProfile.measure(family.inputGradient, flops: flops) {
                sgemm(m: rows, n: inChannels, k: outChannels, a: dout, b: weight, c: dinput)
            }
        }
        KernelProfile.measure(family.weightGradient, flops: flops) {
            sgemm(m: outChannels, n: inChannels, k: rows,
                  a: dout, transposeA: true, b: input, beta: 1, c: dweight)
        }
        if let dbias {
            KernelProfile.measure(biasRegion) { accumulateColumnSums(of: dout, rows: rows, columns: outChannels, into: dbias) }
        }
    }

    /// The profile's region for bias broadcasts and bias gradients.
    public static let biasRegion = ProfileRegion("bias", group: .kernel)
    /// Linear products whose caller named no family.
    public static let otherMatmul = MatmulFamily("other linear")

    /// Copies `row` (`columns` values) into each of the `rows` rows of `x`:
    /// a bias seeded this way is added by sgemm's `beta = 1` for free.
    @inlinable
    public static func seedRows(_ x: UnsafeMutablePointer<Float>, with row: UnsafePointer<Float>, rows: Int, columns: Int) {
        for r in 0..<rows { (x + r * columns).update(from: row, count: columns) }
    }
}
