import TensorCore

/// The keys and values of the positions a ``GPT`` has already read, per
/// layer, so that generating one more token costs one position of work:
/// its own row through every layer, and attention over the cached rows.
///
/// A window is filled by ``prefill(_:tokens:)`` (the trunk over the whole
/// window at once, its keys and values kept) and grown by
/// ``append(_:token:)``. The cache never reaches past the context: the
/// window policy (``GenerationWindow``) starts a new, shorter window first.
final class GPTKeyValueCache {
    let configuration: GPTConfiguration
    /// `[layers][context, width]` each.
    private let keys: [UnsafeMutablePointer<Float>]
    private let values: [UnsafeMutablePointer<Float>]
    /// One row's activations.
    private let row: GPTWorkspace
    /// One row of attention scores, `context` long.
    private let scores: UnsafeMutablePointer<Float>
    /// Positions held.
    private(set) var count = 0

    init(configuration: GPTConfiguration) {
        self.configuration = configuration
        let size = configuration.contextLength * configuration.width
        keys = (0..<configuration.layers).map { _ in .allocate(capacity: size) }
        values = (0..<configuration.layers).map { _ in .allocate(capacity: size) }
        row = GPTWorkspace(configuration: configuration, batch: 1, time: 1)
        scores = .allocate(capacity: configuration.contextLength)
    }

    deinit {
        for buffer in keys + values { buffer.deallocate() }
        scores.deallocate()
    }

    /// Reads `tokens` as a new window from position 0 and returns the
    /// next-token logits after its last token.
    func prefill(_ model: GPT, tokens: ArraySlice<Int>) -> UnsafePointer<Float> {
        let time = tokens.count
        precondition(time >= 1 && time <= configuration.contextLength, "GPTKeyValueCache: a window of \(time) tokens")
        let ws = model.workspace(batch: 1, time: time)
        for (i, token) in tokens.enumerated() { ws.tokens[i] = Int32(token) }
        model.runTrunk(ws, batch: 1, time: time, dropout: false)
        model.pending = nil
        let c = configuration.width
        for l in 0..<configuration.layers {
            let qkv = ws.blocks[l].qkv
            for t in 0..<time {
                (keys[l] + t * c).update(from: qkv + t * 3 * c + c, count: c)
                (values[l] + t * c).update(from: qkv + t * 3 * c + 2 * c, count: c)
            }
        }
        count = time
        return UnsafePointer(ws.logits + (time - 1) * configuration.vocabSize)
    }

    /// Reads one more token at the next position and returns its next-token logits.
    func append(_ model: GPT, token: Int) -> UnsafePointer<Float> {
        precondition(count >= 1 && count < configuration.contextLength,
                     "GPTKeyValueCache: position \(count) is outside the context of \(configuration.contextLength)")
        let c = configuration.width
        let position = count
        let p = UnsafePointer(model.parameters.values.pointer)
        let layout = model.layout
        let ws = row
        // The token's embedding at its position.
        let (e, pe) = (p + layout.wte + token * c, p + layout.wpe + position * c)
        for i in 0..<c { ws.encoded[i] = e[i] + pe[i] }
        var x = UnsafePointer(ws.encoded)
        for l in 0..<configuration.layers {
            let w = layout.blocks[l]
            let a = ws.blocks[l]
            GPTKernels.layerNormForward(out: a.ln1, mean: a.ln1Mean, rstd: a.ln1Rstd, input: x,
                                        weight: p + w.ln1Weight, bias: p + w.ln1Bias, rows: 1, channels: c)
            model.blockProduct(.qkv, layer: l, out: a.qkv, input: a.ln1, weight: p + w.qkvWeight, bias: p + w.qkvBias,
                               rows: 1, inChannels: c, outChannels: 3 * c, family: GPTProfile.qkv)
            (keys[l] + position * c).update(from: a.qkv + c, count: c)
            (values[l] + position * c).update(from: a.qkv + 2 * c, count: c)
            attend(query: a.qkv, layer: l, visible: position + 1, out: a.attention)
            model.blockProduct(.attentionProjection, layer: l, out: a.attnProj, input: a.attention,
                               weight: p + w.attnProjWeight, bias: p + w.attnProjBias,
                               rows: 1, inChannels: c, outChannels: c, family: GPTProfile.attentionProjection)
            GPTKernels.residualForward(out: a.residual2, a: x, b: a.attnProj, count: c)
            GPTKernels.layerNormForward(out: a.ln2, mean: a.ln2Mean, rstd: a.ln2Rstd, input: a.residual2,
                                        weight: p + w.ln2Weight, bias: p + w.ln2Bias, rows: 1, channels: c)
            model.blockProduct(.mlpUp, layer: l, out: a.fc, input: a.ln2, weight: p + w.fcWeight, bias: nil,
                               rows: 1, inChannels: c, outChannels: 4 * c, family: GPTProfile.mlpUp)
            GPTKernels.biasGELUForward(out: a.fcGELU, values: a.fc, bias: p + w.fcBias, rows: 1, columns: 4 * c)
            model.blockProduct(.mlpDown, layer: l, out: a.mlpProj, input: a.fcGELU,
                               weight: p + w.mlpProjWeight, bias: p + w.mlpProjBias,
                               rows: 1, inChannels: 4 * c, outChannels: c, family: GPTProfile.mlpDown)
            GPTKernels.residualForward(out: a.residual3, a: a.residual2, b: a.mlpProj, count: c)
            x = UnsafePointer(a.residual3)
        }
        GPTKernels.layerNormForward(out: ws.lnf, mean: ws.lnfMean, rstd: ws.lnfRstd, input: x,
                                    weight: p + layout.lnfWeight, bias: p + layout.lnfBias, rows: 1, channels: c)
        Kernels.linearForward(out: ws.logits, input: ws.lnf, weight: p + layout.wte, bias: nil,
                              rows: 1, inChannels: c, outChannels: configuration.vocabSize)
        count += 1
        return UnsafePointer(ws.logits)
    }

    /// One query row against the first `visible` cached keys, head by head:
    /// `out = softmax(q kᵀ / sqrt(headSize)) v`, as the trunk's attention computes it.
    private func attend(query: UnsafePointer<Float>, layer: Int, visible: Int, out: UnsafeMutablePointer<Float>) {
        let c = configuration.width
        let heads = configuration.heads
        let headSize = c / heads
        let scale = 1 / Float(headSize).squareRoot()
        let (k, v) = (keys[layer], values[layer])
        for h in 0..<heads {
            let q = query + h * headSize
            for j in 0..<visible { scores[j] = scale * Kernels.dot(q, k + j * c + h * headSize, count: headSize) }
            Kernels.softmaxRow(scores, into: scores, count: visible)
            let o = out + h * headSize
            o.update(repeating: 0, count: headSize)
            for j in 0..<visible {
                let (weight, row) = (scores[j], v + j * c + h * headSize)
                for d in 0..<headSize { o[d] += weight * row[d] }
            }
        }
    }
}

/// Which tokens the model reads when generating: the last `context` of the
/// prompt, then every new token, until the window is full; then a new
/// window of the last half starts. Generation with and without the cache
/// reads the same windows, so both draw the same tokens.
///
/// A window that slid by one token per step would change the position of
/// every token it holds each time, and no cached key would stay valid.
struct GenerationWindow {
    let context: Int
    /// Where the current window starts in the whole sequence.
    private(set) var start: Int

    /// Tokens a new window keeps.
    var kept: Int { max(1, context / 2) }

    /// The window over a prompt of `promptLength` tokens: its last `context`.
    init(context: Int, promptLength: Int) {
        self.context = context
        start = max(0, promptLength - context)
    }

    /// Covers a sequence grown to `count` tokens; returns whether a new window started.
    mutating func cover(_ count: Int) -> Bool {
        guard count - start > context else { return false }
        start = count - kept
        return true
    }
}
