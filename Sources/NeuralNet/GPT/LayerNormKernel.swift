import TensorCore

extension GPTKernels {
    /// The variance floor of every layer norm in the model.
    public static let layerNormEpsilon: Float = 1e-5

    /// Layer normalization over the last dimension: `out = (x - mean) * rstd * weight + bias`.
    ///
    /// - Parameters:
    ///   - out: `[rows, channels]`, overwritten.
    ///   - mean: `[rows]`, receives each row's mean for backward.
    ///   - rstd: `[rows]`, receives each row's `1 / sqrt(variance + epsilon)`.
    ///   - input: `[rows, channels]`.
    ///   - weight: `[channels]` gain.
    ///   - bias: `[channels]` shift.
    public static func layerNormForward(
        out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, channels: Int
    ) {
        let inverseChannels = 1 / Float(channels)
        for r in 0..<rows {
            let x = input + r * channels
            let m = Kernels.laneSum(x, count: channels) * inverseChannels
            // Two passes: the shifted sum of squares does not cancel catastrophically.
            let squares = Kernels.squaredDeviations(x, mean: m, count: channels)
            let s = 1 / (squares * inverseChannels + layerNormEpsilon).squareRoot()
            let o = out + r * channels
            for c in 0..<channels { o[c] = (x[c] - m) * s * weight[c] + bias[c] }
            mean[r] = m
            rstd[r] = s
        }
    }

    /// Back-propagates ``layerNormForward(out:mean:rstd:input:weight:bias:rows:channels:)``.
    ///
    /// - Parameters:
    ///   - dinput: `[rows, channels]`, **accumulated** (the input is a residual
    ///     stream whose gradient already holds the skip path's contribution).
    ///   - dweight: `[channels]`, accumulated.
    ///   - dbias: `[channels]`, accumulated.
    ///   - dout: `[rows, channels]`.
    ///   - input, weight, mean, rstd: As in and from forward.
    public static func layerNormBackward(
        dinput: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        rows: Int, channels: Int
    ) {
        let inverseChannels = 1 / Float(channels)
        for r in 0..<rows {
            let x = input + r * channels
            let d = dout + r * channels
            let dx = dinput + r * channels
            let m = mean[r]
            let s = rstd[r]
            // The two row means that couple every output to every input.
            var dnormLanes = SIMD16<Float>()
            var dnormNormLanes = SIMD16<Float>()
            let mLanes = SIMD16<Float>(repeating: m)
            var c = 0
            while c + 16 <= channels {
                let xc = UnsafeRawPointer(x + c).loadUnaligned(as: SIMD16<Float>.self)
                let dnorm = UnsafeRawPointer(d + c).loadUnaligned(as: SIMD16<Float>.self)
                    * UnsafeRawPointer(weight + c).loadUnaligned(as: SIMD16<Float>.self)
                dnormLanes += dnorm
                dnormNormLanes += dnorm * (xc - mLanes)
                c += 16
            }
            var meanDnorm = dnormLanes.sum()
            var meanDnormNorm = dnormNormLanes.sum()
            while c < channels {
                let dnorm = d[c] * weight[c]
                meanDnorm += dnorm
                meanDnormNorm += dnorm * (x[c] - m)
                c += 1
            }
            meanDnorm *= inverseChannels
            meanDnormNorm *= s * inverseChannels
            for c in 0..<channels {
                let norm = (x[c] - m) * s
                let dnorm = d[c] * weight[c]
                dbias[c] += d[c]
                dweight[c] += norm * d[c]
                dx[c] += s * (dnorm - meanDnorm - norm * meanDnormNorm)
            }
        }
    }
}
