import TensorCore

extension GPTKernels {
    /// Rows per block of the causal products. A block of query rows needs keys
    /// only up to its own end, so blocking skips most of the masked half;
    /// 64 rows keep each `sgemm` large enough to stay efficient (it measured
    /// ahead of 32 and of one block per head, docs/benchmarks.md).
    public static let attentionBlock = 64

    /// The profile's regions inside attention: the products of scores and
    /// values, and the softmax with its backward.
    static let attentionProducts = ProfileRegion("attention products", group: .matmul)
    static let attentionSoftmax = ProfileRegion("attention softmax", group: .attention)

    /// Causal multi-head self-attention on a packed `[q | k | v]` buffer.
    ///
    /// For each sequence and head, `att = softmax(q kᵀ / sqrt(headSize))` with
    /// the future masked out, then `out = att v`. The products are `sgemm`
    /// calls per block of ``attentionBlock`` query rows, reading the head's
    /// columns of `qkv` through its row stride, so no re-layout is needed.
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
        let shape = AttentionShape(batch: batch, time: time, channels: channels, heads: heads)
        let (stride, headSize, scale) = (shape.stride, shape.headSize, shape.scale)
        shape.forEachHead { column, attOffset, outOffset in
            let (q, k, v) = shape.queryKeyValue(qkv + column)
            let (a, o) = (att + attOffset, out + outOffset)
            for start in Swift.stride(from: 0, to: time, by: attentionBlock) {
                let rows = min(attentionBlock, time - start)
                let keys = start + rows
                let block = a + start * time
                KernelProfile.measure(attentionProducts, flops: 2 * Double(rows * keys * headSize)) {
                    sgemm(m: rows, n: keys, k: headSize, alpha: scale,
                          a: q + start * stride, lda: stride, b: k, ldb: stride, transposeB: true,
                          c: block, ldc: time)
                }
                KernelProfile.measure(attentionSoftmax) {
                    for r in 0..<rows {
                        causalSoftmaxRow(block + r * time, visible: start + r + 1, width: time)
                    }
                }
                KernelProfile.measure(attentionProducts, flops: 2 * Double(rows * headSize * keys)) {
                    sgemm(m: rows, n: headSize, k: keys,
                          a: block, lda: time, b: v, ldb: stride,
                          c: o + start * channels, ldc: channels)
                }
            }
        }
    }

    /// Softmax over the first `visible` entries of a row, zeros after them.
    @inline(__always)
    static func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, visible: Int, width: Int) {
        Kernels.softmaxRow(row, into: row, count: visible)
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
        let shape = AttentionShape(batch: batch, time: time, channels: channels, heads: heads)
        let (stride, headSize, scale) = (shape.stride, shape.headSize, shape.scale)
        shape.forEachHead { column, attOffset, outOffset in
            let (q, k, v) = shape.queryKeyValue(qkv + column)
            let (dq, dk, dv) = shape.queryKeyValue(dqkv + column)
            let a = att + attOffset
            let d = dout + outOffset
            // Row blocks: d(att) = dout vᵀ, the softmax backward, dq = dscores k.
            for start in Swift.stride(from: 0, to: time, by: attentionBlock) {
                let rows = min(attentionBlock, time - start)
                let keys = start + rows
                let g = scratch + start * time
                KernelProfile.measure(attentionProducts, flops: 2 * Double(rows * keys * headSize)) {
                    sgemm(m: rows, n: keys, k: headSize,
                          a: d + start * channels, lda: channels, b: v, ldb: stride, transposeB: true,
                          c: g, ldc: time)
                }
                KernelProfile.measure(attentionSoftmax) {
                    for r in 0..<rows {
                        let t = start + r
                        let p = a + t * time
                        let gr = g + r * time
                        let pg = Kernels.dot(p, gr, count: t + 1)
                        // The score scale folds in here; the masked part of the
                        // block must be exactly zero for the products.
                        for s in 0...t { gr[s] = scale * p[s] * (gr[s] - pg) }
                        (gr + t + 1).update(repeating: 0, count: keys - t - 1)
                    }
                }
                KernelProfile.measure(attentionProducts, flops: 2 * Double(rows * headSize * keys)) {
                    sgemm(m: rows, n: headSize, k: keys,
                          a: g, lda: time, b: k, ldb: stride,
                          c: dq + start * stride, ldc: stride)
                }
            }
            // Column blocks: key and value rows see only the queries at or after them.
            for start in Swift.stride(from: 0, to: time, by: attentionBlock) {
                let rows = min(attentionBlock, time - start)
                let queries = time - start
                // dv = attᵀ dout, dk = dscoresᵀ q, over the queries from `start` on.
                KernelProfile.measure(attentionProducts, flops: 2 * Double(rows * headSize * queries)) {
                    sgemm(m: rows, n: headSize, k: queries,
                          a: a + start * time + start, lda: time, transposeA: true,
                          b: d + start * channels, ldb: channels,
                          c: dv + start * stride, ldc: stride)
                }
                KernelProfile.measure(attentionProducts, flops: 2 * Double(rows * headSize * queries)) {
                    sgemm(m: rows, n: headSize, k: queries,
                          a: scratch + start * time + start, lda: time, transposeA: true,
                          b: q + start * stride, ldb: stride,
                          c: dk + start * stride, ldc: stride)
                }
            }
        }
    }
}

/// The geometry of attention on a packed `[q | k | v]` buffer, which
/// forward and backward walk the same way.
struct AttentionShape {
    let batch: Int, time: Int, channels: Int, heads: Int

    init(batch: Int, time: Int, channels: Int, heads: Int) {
        precondition(channels % heads == 0, "attention: \(heads) heads do not divide \(channels) channels")
        (self.batch, self.time, self.channels, self.heads) = (batch, time, channels, heads)
    }

    /// The row stride of `qkv`.
    var stride: Int { 3 * channels }
    var headSize: Int { channels / heads }
    /// The score scale, `1 / sqrt(headSize)`.
    var scale: Float { 1 / Float(headSize).squareRoot() }

    /// A head's queries, keys and values, from a pointer to its queries.
    @inline(__always)
    func queryKeyValue<Pointer: Strideable>(_ queries: Pointer) -> (Pointer, Pointer, Pointer) where Pointer.Stride == Int {
        (queries, queries.advanced(by: channels), queries.advanced(by: 2 * channels))
    }

    /// Calls `body` for each sequence and head with the offsets of that head's
    /// queries in `qkv`, its probabilities in `att`, and its columns in `out`.
    @inline(__always)
    func forEachHead(_ body: (_ qkvOffset: Int, _ attOffset: Int, _ outOffset: Int) -> Void) {
        for b in 0..<batch {
            for h in 0..<heads {
                body(b * time * stride + h * headSize, (b * heads + h) * time * time, b * time * channels + h * headSize)
            }
        }
    }
}
