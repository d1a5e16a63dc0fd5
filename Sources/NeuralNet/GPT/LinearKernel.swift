import TensorCore

extension GPTKernels {
    /// A fully connected layer: `out = input * weightᵀ + bias` through one `sgemm`.
    ///
    /// - Parameters:
    ///   - out: `[rows, outChannels]`, overwritten.
    ///   - input: `[rows, inChannels]`.
    ///   - weight: `[outChannels, inChannels]`, the PyTorch layout, so that one
    ///     output's weights are contiguous.
    ///   - bias: `[outChannels]`, or nil for none (the tied output head).
    public static func linearForward(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        rows: Int, inChannels: Int, outChannels: Int
    ) {
        if let bias {
            // Seeding the output with the bias folds the add into sgemm's beta.
            for r in 0..<rows { (out + r * outChannels).update(from: bias, count: outChannels) }
        }
        sgemm(m: rows, n: outChannels, k: inChannels,
              a: input, b: weight, transposeB: true,
              beta: bias == nil ? 0 : 1, c: out)
    }

    /// Back-propagates ``linearForward(out:input:weight:bias:rows:inChannels:outChannels:)``.
    ///
    /// - Parameters:
    ///   - dinput: `[rows, inChannels]`, overwritten; nil skips it.
    ///   - dweight: `[outChannels, inChannels]`, accumulated.
    ///   - dbias: `[outChannels]`, accumulated; nil when forward had no bias.
    ///   - dout: `[rows, outChannels]`.
    ///   - input, weight: As in forward.
    public static func linearBackward(
        dinput: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>,
        dbias: UnsafeMutablePointer<Float>?,
        dout: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inChannels: Int, outChannels: Int
    ) {
        if let dinput {
            sgemm(m: rows, n: inChannels, k: outChannels, a: dout, b: weight, c: dinput)
        }
        sgemm(m: outChannels, n: inChannels, k: rows,
              a: dout, transposeA: true, b: input, beta: 1, c: dweight)
        if let dbias {
            for r in 0..<rows {
                let d = dout + r * outChannels
                for o in 0..<outChannels { dbias[o] += d[o] }
            }
        }
    }
}
