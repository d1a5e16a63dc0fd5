import TensorCore

/// A character-level GPT: token and position embeddings, pre-LayerNorm
/// transformer blocks (causal self-attention and a 4x GELU MLP, each on a
/// residual path), a final LayerNorm and an output head tied to the token
/// embedding.
///
/// Forward and backward run llm.c-style kernels (``GPTKernels``) over one
/// preallocated workspace; after the first step at a given batch shape,
/// neither allocates. The parameter layout is reverse forward order (see
/// ``ParameterStore``), so backward completes the gradient buffer from
/// offset 0 upward and reports each kernel's range as soon as it is done.
public final class GPT: Model {
    /// The model's shape.
    public let configuration: GPTConfiguration
    public let parameters: ParameterStore
    public var isTraining = true
    public var dropoutGenerator: RandomGenerator

    let layout: GPTParameterLayout
    private var workspace: GPTWorkspace?
    /// Sees the activations of each forward with a loss, after the trunk
    /// (its kernels are fused: the values are shown once they are all computed).
    public var layerObserver: LayerObserver?
    /// int8 forms of the block products; when set, forward passes multiply
    /// them in integers (inference only: ``backward(gradientsReady:)`` refuses).
    public var int8Weights: GPTInt8Weights?

    /// What the last forward left for backward.
    struct Pending {
        var batch: Int, time: Int
        var counted: Int
        var usedDropout: Bool
    }
    var pending: Pending?

    /// A model with all parameters zero; call ``initializeParameters(seed:)``.
    ///
    /// - Parameters:
    ///   - configuration: The shape.
    ///   - dropoutSeed: Seeds ``dropoutGenerator``.
    public init(_ configuration: GPTConfiguration, dropoutSeed: UInt64 = 0) {
        self.configuration = configuration
        parameters = ParameterStore(GPTParameterLayout.specs(configuration))
        layout = GPTParameterLayout(configuration: configuration, store: parameters)
        dropoutGenerator = RandomGenerator(seed: dropoutSeed, stream: 0xD120_0007)
    }

    /// Normal(0, 0.02) weights and embeddings, with the two residual output
    /// projections of each block scaled by `1 / sqrt(2 * layers)` so the
    /// residual stream's variance does not grow with depth; zero biases;
    /// LayerNorm gains one and shifts zero.
    ///
    /// Each parameter draws from its own stream, keyed by a hash of its name,
    /// so the values do not depend on the layout or the visiting order.
    public func initializeParameters(seed: UInt64) {
        let residualScale = 1 / Float(2 * configuration.layers).squareRoot()
        for info in parameters.parameters {
            let values = parameters.value(info.name).pointer
            let name = info.name
            if name.hasSuffix(".bias") {
                values.update(repeating: 0, count: info.count)
            } else if name.hasPrefix("ln_f.") || name.contains(".ln1.") || name.contains(".ln2.") {
                values.update(repeating: 1, count: info.count)
            } else {
                let isResidualProjection = name.hasSuffix("attn.proj.weight") || name.hasSuffix("mlp.proj.weight")
                let std: Float = 0.02 * (isResidualProjection ? residualScale : 1)
                var generator = RandomGenerator(seed: seed, stream: parameterStream(name))
                for i in 0..<info.count { values[i] = std * generator.nextNormal() }
            }
        }
    }

    // MARK: - Forward

    public func forward(inputs: Tensor, targets: Tensor) -> LossResult {
        let (batch, time) = checkShape(inputs)
        precondition(targets.shape == inputs.shape,
                     "GPT: targets \(targets.shape) must match inputs \(inputs.shape)")
        let ws = workspace(batch: batch, time: time)
        let v = configuration.vocabSize
        KernelProfile.measure(GPTProfile.tokens) {
            loadTokens(inputs, into: ws.tokens)
            for i in 0..<(batch * time) {
                let value = targets.pointer[i]
                guard let id = Int32(exactly: value), id < v else {
                    preconditionFailure("GPT: target \(value) is not a token id below \(v) or a negative ignore id")
                }
                ws.targets[i] = id
            }
        }
        let useDropout = isTraining && configuration.dropout > 0
        runTrunk(ws, batch: batch, time: time, dropout: useDropout)
        if let layerObserver { ws.observeActivations(batch: batch, time: time, configuration: configuration, layerObserver) }
        let sums = KernelProfile.measure(GPTProfile.crossEntropy) {
            GPTKernels.crossEntropyForward(probabilities: ws.logits, targets: ws.targets, rows: batch * time, vocab: v)
        }
        pending = Pending(batch: batch, time: time, counted: sums.count, usedDropout: useDropout)
        let loss = sums.count > 0 ? Float(sums.loss / Double(sums.count)) : 0
        return LossResult(loss: loss, correct: sums.correct, count: sums.count)
    }

    /// Next-token logits `[B, T, vocab]` for `[B, T]` token ids, without dropout.
    ///
    /// Shares the training workspace: a ``backward(gradientsReady:)`` must
    /// follow its own ``forward(inputs:targets:)`` with no `logits` between.
    public func logits(inputs: Tensor) -> Tensor {
        let (batch, time) = checkShape(inputs)
        let ws = workspace(batch: batch, time: time)
        KernelProfile.measure(GPTProfile.tokens) {
            loadTokens(inputs, into: ws.tokens)
        }
        runTrunk(ws, batch: batch, time: time, dropout: false)
        pending = nil
        let out = Tensor(zeros: [batch, time, configuration.vocabSize])
        out.pointer.update(from: ws.logits, count: out.count)
        return out
    }

    private func checkShape(_ inputs: Tensor) -> (Int, Int) {
        precondition(inputs.rank == 2, "GPT: inputs must be [B, T] token ids, got \(inputs.shape)")
        let (batch, time) = (inputs.shape[0], inputs.shape[1])
        precondition(batch > 0 && time > 0, "GPT: empty batch \(inputs.shape)")
        precondition(time <= configuration.contextLength,
                     "GPT: sequence length \(time) exceeds the context of \(configuration.contextLength)")
        return (batch, time)
    }

    private func loadTokens(_ inputs: Tensor, into tokens: UnsafeMutablePointer<Int32>) {
        let v = configuration.vocabSize
        for i in 0..<inputs.count {
            let value = inputs.pointer[i]
            guard let id = Int32(exactly: value), id >= 0, id < v else {
                preconditionFailure("GPT: input \(value) is not a token id in 0..<\(v)")
            }
            tokens[i] = id
        }
    }

    func workspace(batch: Int, time: Int) -> GPTWorkspace {
        if let workspace, workspace.holds(batch: batch, time: time) { return workspace }
        let grown = GPTWorkspace(configuration: configuration,
                                 batch: max(batch, workspace?.batch ?? 0),
                                 time: max(time, workspace?.time ?? 0))
        workspace = grown
        return grown
    }

    /// Everything from the embedding to the logits.
    func runTrunk(_ ws: GPTWorkspace, batch: Int, time: Int, dropout: Bool) {
        let c = configuration.width
        let rows = batch * time
        let p = parameters.values.pointer
        KernelProfile.measure(GPTProfile.embedding) {
            GPTKernels.encoderForward(out: ws.encoded, tokens: ws.tokens, wte: p + layout.wte, wpe: p + layout.wpe,
                                      batch: batch, time: time, channels: c)
        }
        var x = UnsafePointer(ws.encoded)
        for l in 0..<configuration.layers {
            let w = layout.blocks[l]
            let a = ws.blocks[l]
            KernelProfile.measure(GPTProfile.layerNorm) {
                GPTKernels.layerNormForward(out: a.ln1, mean: a.ln1Mean, rstd: a.ln1Rstd, input: x,
                                            weight: p + w.ln1Weight, bias: p + w.ln1Bias, rows: rows, channels: c)
            }
            blockProduct(.qkv, layer: l, out: a.qkv, input: a.ln1, weight: p + w.qkvWeight, bias: p + w.qkvBias,
                         rows: rows, inChannels: c, outChannels: 3 * c, family: GPTProfile.qkv)
            KernelProfile.measure(GPTProfile.attention) {
                GPTKernels.attentionForward(out: a.attention, att: a.att, qkv: a.qkv,
                                            batch: batch, time: time, channels: c, heads: configuration.heads)
            }
            blockProduct(.attentionProjection, layer: l, out: a.attnProj, input: a.attention,
                         weight: p + w.attnProjWeight, bias: p + w.attnProjBias,
                         rows: rows, inChannels: c, outChannels: c, family: GPTProfile.attentionProjection)
            if dropout, let mask = a.attnMask {
                KernelProfile.measure(GPTProfile.dropout) {
                    GPTKernels.dropoutForward(values: a.attnProj, mask: mask, count: rows * c,
                                              probability: configuration.dropout, generator: &dropoutGenerator)
                }
            }
            KernelProfile.measure(GPTProfile.residual) {
                GPTKernels.residualForward(out: a.residual2, a: x, b: a.attnProj, count: rows * c)
            }
            KernelProfile.measure(GPTProfile.layerNorm) {
                GPTKernels.layerNormForward(out: a.ln2, mean: a.ln2Mean, rstd: a.ln2Rstd, input: a.residual2,
                                            weight: p + w.ln2Weight, bias: p + w.ln2Bias, rows: rows, channels: c)
            }
            blockProduct(.mlpUp, layer: l, out: a.fc, input: a.ln2, weight: p + w.fcWeight, bias: nil,
                         rows: rows, inChannels: c, outChannels: 4 * c, family: GPTProfile.mlpUp)
            KernelProfile.measure(GPTProfile.gelu) {
                // The layer's bias is added here, and a.fc becomes the derivative.
                GPTKernels.biasGELUForward(out: a.fcGELU, values: a.fc, bias: p + w.fcBias, rows: rows, columns: 4 * c)
            }
            blockProduct(.mlpDown, layer: l, out: a.mlpProj, input: a.fcGELU,
                         weight: p + w.mlpProjWeight, bias: p + w.mlpProjBias,
                         rows: rows, inChannels: 4 * c, outChannels: c, family: GPTProfile.mlpDown)
            if dropout, let mask = a.mlpMask {
                KernelProfile.measure(GPTProfile.dropout) {
                    GPTKernels.dropoutForward(values: a.mlpProj, mask: mask, count: rows * c,
                                              probability: configuration.dropout, generator: &dropoutGenerator)
                }
            }
            KernelProfile.measure(GPTProfile.residual) {
                GPTKernels.residualForward(out: a.residual3, a: a.residual2, b: a.mlpProj, count: rows * c)
            }
            x = UnsafePointer(a.residual3)
        }
        KernelProfile.measure(GPTProfile.layerNorm) {
            GPTKernels.layerNormForward(out: ws.lnf, mean: ws.lnfMean, rstd: ws.lnfRstd, input: x,
                                        weight: p + layout.lnfWeight, bias: p + layout.lnfBias, rows: rows, channels: c)
        }
        // The head reuses the token embedding as its weight.
        Kernels.linearForward(out: ws.logits, input: ws.lnf, weight: p + layout.wte, bias: nil,
                                 rows: rows, inChannels: c, outChannels: configuration.vocabSize, family: GPTProfile.head)
    }

    // MARK: - Backward

    public func backward(gradientsReady: ((Range<Int>) -> Void)?) {
        guard let step = pending else {
            preconditionFailure("GPT: backward needs a forward(inputs:targets:) first, once per backward")
        }
        precondition(int8Weights == nil, "GPT: backward through int8 weights (an inference model)")
        pending = nil
        guard let ws = workspace else { preconditionFailure("GPT: no workspace") }
        let (batch, time) = (step.batch, step.time)
        let c = configuration.width
        let v = configuration.vocabSize
        let rows = batch * time
        let p = parameters.values.pointer
        let g = parameters.gradients.pointer

        let scale: Float = step.counted > 0 ? 1 / Float(step.counted) : 0
        KernelProfile.measure(GPTProfile.crossEntropy) {
            GPTKernels.crossEntropyBackward(probabilities: ws.logits, targets: ws.targets,
                                            rows: rows, vocab: v, scale: scale)
        }
        // The head's share of the tied embedding's gradient; the encoder adds the rest.
        Kernels.linearBackward(dinput: ws.dWidth, dweight: g + layout.wte, dbias: nil,
                                  dout: ws.logits, input: ws.lnf, weight: p + layout.wte,
                                  rows: rows, inChannels: c, outChannels: v, family: GPTProfile.head)
        let last = UnsafePointer(ws.blocks[configuration.layers - 1].residual3)
        KernelProfile.measure(GPTProfile.residual) { ws.dResidual.update(repeating: 0, count: rows * c) }
        KernelProfile.measure(GPTProfile.layerNorm) {
            GPTKernels.layerNormBackward(dinput: ws.dResidual, dweight: g + layout.lnfWeight, dbias: g + layout.lnfBias,
                                         dout: ws.dWidth, input: last, weight: p + layout.lnfWeight,
                                         mean: ws.lnfMean, rstd: ws.lnfRstd, rows: rows, channels: c)
        }
        gradientsReady?(layout.lnfRange)

        for l in (0..<configuration.layers).reversed() {
            let w = layout.blocks[l]
            let a = ws.blocks[l]
            let input = l == 0 ? UnsafePointer(ws.encoded) : UnsafePointer(ws.blocks[l - 1].residual3)

            // MLP: the residual gradient is the gradient of its output.
            var dout = UnsafePointer(ws.dResidual)
            if step.usedDropout, let mask = a.mlpMask, let masked = ws.dMasked {
                KernelProfile.measure(GPTProfile.dropout) {
                    GPTKernels.dropoutBackward(dinput: masked, dout: ws.dResidual, mask: mask, count: rows * c)
                }
                dout = UnsafePointer(masked)
            }
            Kernels.linearBackward(dinput: ws.dFC, dweight: g + w.mlpProjWeight, dbias: g + w.mlpProjBias,
                                      dout: dout, input: a.fcGELU, weight: p + w.mlpProjWeight,
                                      rows: rows, inChannels: 4 * c, outChannels: c, family: GPTProfile.mlpDown)
            gradientsReady?(w.mlpProjRange)
            KernelProfile.measure(GPTProfile.geluBackward) {
                GPTKernels.biasGELUBackward(gradient: ws.dFC, derivative: a.fc, count: 4 * rows * c)
            }
            Kernels.linearBackward(dinput: ws.dWidth, dweight: g + w.fcWeight, dbias: g + w.fcBias,
                                      dout: ws.dFC, input: a.ln2, weight: p + w.fcWeight,
                                      rows: rows, inChannels: c, outChannels: 4 * c, family: GPTProfile.mlpUp)
            gradientsReady?(w.fcRange)
            KernelProfile.measure(GPTProfile.layerNorm) {
                GPTKernels.layerNormBackward(dinput: ws.dResidual, dweight: g + w.ln2Weight, dbias: g + w.ln2Bias,
                                             dout: ws.dWidth, input: a.residual2, weight: p + w.ln2Weight,
                                             mean: a.ln2Mean, rstd: a.ln2Rstd, rows: rows, channels: c)
            }
            gradientsReady?(w.ln2Range)

            // Attention, on the residual gradient that now includes the MLP path.
            dout = UnsafePointer(ws.dResidual)
            if step.usedDropout, let mask = a.attnMask, let masked = ws.dMasked {
                KernelProfile.measure(GPTProfile.dropout) {
                    GPTKernels.dropoutBackward(dinput: masked, dout: ws.dResidual, mask: mask, count: rows * c)
                }
                dout = UnsafePointer(masked)
            }
            Kernels.linearBackward(dinput: ws.dWidth, dweight: g + w.attnProjWeight, dbias: g + w.attnProjBias,
                                      dout: dout, input: a.attention, weight: p + w.attnProjWeight,
                                      rows: rows, inChannels: c, outChannels: c, family: GPTProfile.attentionProjection)
            gradientsReady?(w.attnProjRange)
            KernelProfile.measure(GPTProfile.attention) {
                GPTKernels.attentionBackward(dqkv: ws.dqkv, scratch: ws.dScores, dout: ws.dWidth,
                                             qkv: a.qkv, att: a.att,
                                             batch: batch, time: time, channels: c, heads: configuration.heads)
            }
            Kernels.linearBackward(dinput: ws.dWidth, dweight: g + w.qkvWeight, dbias: g + w.qkvBias,
                                      dout: ws.dqkv, input: a.ln1, weight: p + w.qkvWeight,
                                      rows: rows, inChannels: c, outChannels: 3 * c, family: GPTProfile.qkv)
            gradientsReady?(w.qkvRange)
            KernelProfile.measure(GPTProfile.layerNorm) {
                GPTKernels.layerNormBackward(dinput: ws.dResidual, dweight: g + w.ln1Weight, dbias: g + w.ln1Bias,
                                             dout: ws.dWidth, input: input, weight: p + w.ln1Weight,
                                             mean: a.ln1Mean, rstd: a.ln1Rstd, rows: rows, channels: c)
            }
            gradientsReady?(w.ln1Range)
        }

        KernelProfile.measure(GPTProfile.embedding) {
            GPTKernels.encoderBackward(dwte: g + layout.wte, dwpe: g + layout.wpe, dout: ws.dResidual,
                                       tokens: ws.tokens, batch: batch, time: time, channels: c)
        }
        gradientsReady?(layout.embeddingRange)
    }
}
