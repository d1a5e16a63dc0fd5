import TensorCore

extension GPTKernels {
    /// Causal multi-head self-attention on a packed `[q | k | v]` buffer.
    ///
    /// For each sequence and head, `att = softmax(q kᵀ / sqrt(headSize))` with
    /// the future masked out, then `out = att v`. Both products are one `sgemm`
    /// each, reading the head's columns of `qkv` through its row stride, so no
    /// re-layout is needed. The score product computes the full square; the
    /// masked half costs less as one large call than as `time` small ones.
    ///
    /// - Parameters:
    ///   - out: `[batch, time, channels]`, heads side by side; overwritten.
    ///   - att: `[batch, heads, time, time]`, receives the probabilities
    ///     (zero above the diagonal) for backward.
    ///   - qkv: `[batch, time, 3 * channels]`, queries, keys, values.
    ///   - heads: Divides `channels`.
    public static func attentionForward(
        out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
        qkv: UnsafePointer<Float>,
        batch: Int, time: Int, channels: Int, heads: Int
    ) {
        precondition(channels % heads == 0, "attention: \(heads) heads do not divide \(channels) channels")
        let stride = 3 * channels
        let headSize = channels / heads
        let scale = 1 / Float(headSize).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                let q = qkv + b * time * stride + h * headSize
                let k = q + channels
                let v = q + 2 * channels
                let a = att + (b * heads + h) * time * time
                sgemm(m: time, n: time, k: headSize, alpha: scale,
                      a: q, lda: stride, b: k, ldb: stride, transposeB: true,
                      c: a, ldc: time)
                for t in 0..<time {
                    causalSoftmaxRow(a + t * time, visible: t + 1, width: time)
                }
                sgemm(m: time, n: headSize, k: time,
                      a: a, lda: time, b: v, ldb: stride,
                      c: out + b * time * channels + h * headSize, ldc: channels)
            }
        }
    }

    /// Softmax over the first `visible` entries of a row, zeros after them.
    @inline(__always)
    static func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, visible: Int, width: Int) {
        let largest = maximum(row, count: visible)
        // Exponentials first, sum after: a fused loop would not vectorize.
        for s in 0..<visible { row[s] = fastExp(row[s] - largest) }
        let inverse = 1 / sum(row, count: visible)
        for s in 0..<visible { row[s] *= inverse }
        (row + visible).update(repeating: 0, count: width - visible)
    }

    /// Back-propagates ``attentionForward(out:att:qkv:batch:time:channels:heads:)``.
    ///
    /// - Parameters:
    ///   - dqkv: `[batch, time, 3 * channels]`, overwritten.
    ///   - scratch: `time * time` floats of workspace for one head's score gradient.
    ///   - dout: `[batch, time, channels]`.
    ///   - qkv, att: The input and the probabilities of forward.
    public static func attentionBackward(
        dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, att: UnsafePointer<Float>,
        batch: Int, time: Int, channels: Int, heads: Int
    ) {
        precondition(channels % heads == 0, "attention: \(heads) heads do not divide \(channels) channels")
        let stride = 3 * channels
        let headSize = channels / heads
        let scale = 1 / Float(headSize).squareRoot()
        for b in 0..<batch {
            for h in 0..<heads {
                let column = b * time * stride + h * headSize
                let q = qkv + column
                let k = q + channels
                let v = q + 2 * channels
                let dq = dqkv + column
                let dk = dq + channels
                let dv = dq + 2 * channels
                let a = att + (b * heads + h) * time * time
                let d = dout + b * time * channels + h * headSize
                // d(att) = dout vᵀ
                sgemm(m: time, n: time, k: headSize,
                      a: d, lda: channels, b: v, ldb: stride, transposeB: true,
                      c: scratch, ldc: time)
                // dv = attᵀ dout
                sgemm(m: time, n: headSize, k: time,
                      a: a, lda: time, transposeA: true, b: d, ldb: channels,
                      c: dv, ldc: stride)
                // Softmax backward, with the score scale folded in; the masked
                // half must be exactly zero for the products below.
                for t in 0..<time {
                    let p = a + t * time
                    let g = scratch + t * time
                    let pg = dot(p, g, count: t + 1)
                    for s in 0...t { g[s] = scale * p[s] * (g[s] - pg) }
                    (g + t + 1).update(repeating: 0, count: time - t - 1)
                }
                // dq = dscores k, dk = dscoresᵀ q
                sgemm(m: time, n: headSize, k: time,
                      a: scratch, lda: time, b: k, ldb: stride,
                      c: dq, ldc: stride)
                sgemm(m: time, n: headSize, k: time,
                      a: scratch, lda: time, transposeA: true, b: q, ldb: stride,
                      c: dk, ldc: stride)
            }
        }
    }
}
