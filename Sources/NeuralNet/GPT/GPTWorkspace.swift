import TensorCore

/// Every activation and activation gradient of one ``GPT`` step, carved out
/// of a single allocation sized for `batch x time`.
///
/// Smaller batches and shorter sequences reuse it packed at the front of each
/// buffer; only a larger batch or longer sequence replaces it.
final class GPTWorkspace {
    /// The activations one block keeps for its backward.
    struct Block {
        let ln1, ln1Mean, ln1Rstd: UnsafeMutablePointer<Float>
        let qkv, attention, att, attnProj, residual2: UnsafeMutablePointer<Float>
        let ln2, ln2Mean, ln2Rstd: UnsafeMutablePointer<Float>
        /// `fc` holds the MLP activation's derivative after forward (see `biasGELUForward`).
        let fc, fcGELU, mlpProj, residual3: UnsafeMutablePointer<Float>
        /// Dropout factors; nil when the model has no dropout.
        let attnMask, mlpMask: UnsafeMutablePointer<Float>?
    }

    /// The capacity: the largest batch and sequence length this workspace holds.
    let batch: Int, time: Int
    private let floats: TensorStorage
    private let ids: UnsafeMutablePointer<Int32>

    let tokens, targets: UnsafeMutablePointer<Int32>
    let encoded: UnsafeMutablePointer<Float>
    let blocks: [Block]
    let lnf, lnfMean, lnfRstd: UnsafeMutablePointer<Float>
    /// Logits, then probabilities after the loss, then logit gradients.
    let logits: UnsafeMutablePointer<Float>

    /// The gradient of the residual stream at the current depth.
    let dResidual: UnsafeMutablePointer<Float>
    /// One `[rows, width]` gradient at a time: of a layer norm's output or of attention's.
    let dWidth: UnsafeMutablePointer<Float>
    let dqkv, dFC: UnsafeMutablePointer<Float>
    /// One head's score gradient.
    let dScores: UnsafeMutablePointer<Float>
    /// The residual gradient times a dropout mask; nil without dropout.
    let dMasked: UnsafeMutablePointer<Float>?

    init(configuration: GPTConfiguration, batch: Int, time: Int) {
        self.batch = batch
        self.time = time
        let rows = batch * time
        let c = configuration.width
        let withDropout = configuration.dropout > 0

        // Sizes first, then one allocation, then the pointers.
        var sizes: [Int] = [rows * c]  // encoded
        let perBlock = [rows * c, rows, rows, 3 * rows * c, rows * c,
                        batch * configuration.heads * time * time, rows * c, rows * c,
                        rows * c, rows, rows, 4 * rows * c, 4 * rows * c, rows * c, rows * c]
            + (withDropout ? [rows * c, rows * c] : [])
        for _ in 0..<configuration.layers { sizes += perBlock }
        sizes += [rows * c, rows, rows, rows * configuration.vocabSize]
        sizes += [rows * c, rows * c, 3 * rows * c, 4 * rows * c, time * time]
        sizes += withDropout ? [rows * c] : []
        // Rounding each buffer to a cache line keeps every one 64-byte aligned.
        let rounded = sizes.map { ($0 + 15) / 16 * 16 }
        floats = TensorStorage(count: rounded.reduce(0, +))
        var next = floats.base
        var index = 0
        func take() -> UnsafeMutablePointer<Float> {
            defer { next += rounded[index]; index += 1 }
            return next
        }

        encoded = take()
        var blocks: [Block] = []
        for _ in 0..<configuration.layers {
            blocks.append(Block(
                ln1: take(), ln1Mean: take(), ln1Rstd: take(),
                qkv: take(), attention: take(), att: take(), attnProj: take(), residual2: take(),
                ln2: take(), ln2Mean: take(), ln2Rstd: take(),
                fc: take(), fcGELU: take(), mlpProj: take(), residual3: take(),
                attnMask: withDropout ? take() : nil, mlpMask: withDropout ? take() : nil))
        }
        self.blocks = blocks
        lnf = take()
        lnfMean = take()
        lnfRstd = take()
        logits = take()
        dResidual = take()
        dWidth = take()
        dqkv = take()
        dFC = take()
        dScores = take()
        dMasked = withDropout ? take() : nil
        precondition(index == sizes.count, "GPTWorkspace: buffer count mismatch")

        ids = .allocate(capacity: 2 * rows)
        ids.initialize(repeating: 0, count: 2 * rows)
        tokens = ids
        targets = ids + rows
    }

    deinit {
        ids.deallocate()
    }

    /// Shows `observer` every activation of the last forward of a
    /// `batch x time` step, in forward order, under the names of the
    /// parameters that make them (`blocks.0.attn.qkv`); the logits before the
    /// loss turns them into probabilities.
    func observeActivations(batch: Int, time: Int, configuration: GPTConfiguration, _ observer: LayerObserver) {
        let rows = batch * time, c = configuration.width
        func show(_ name: String, _ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
            observer(name, .output, Tensor(viewing: floats, offset: pointer - floats.base, shape: [count]))
        }
        show("wte+wpe", encoded, rows * c)
        for (l, block) in blocks.enumerated() {
            let p = "blocks.\(l)."
            show(p + "ln1", block.ln1, rows * c)
            show(p + "attn.qkv", block.qkv, 3 * rows * c)
            show(p + "attn.scores", block.att, batch * configuration.heads * time * time)
            show(p + "attn", block.attention, rows * c)
            show(p + "attn.proj", block.attnProj, rows * c)
            show(p + "attn.residual", block.residual2, rows * c)
            show(p + "ln2", block.ln2, rows * c)
            show(p + "mlp.fc", block.fcGELU, 4 * rows * c)
            show(p + "mlp.proj", block.mlpProj, rows * c)
            show(p + "mlp.residual", block.residual3, rows * c)
        }
        show("ln_f", lnf, rows * c)
        show("logits", logits, rows * configuration.vocabSize)
    }

    /// Whether a `batch x time` step fits.
    func holds(batch: Int, time: Int) -> Bool {
        batch <= self.batch && time <= self.time
    }
}
