/// Where each of a ``GPT``'s parameters sits in its ``ParameterStore``, and
/// which gradient range each backward kernel completes.
///
/// The layout is reverse forward order, and reverse order of use inside each
/// kernel (bias before weight), so every backward kernel finishes the range
/// right after the one finished before it.
struct GPTParameterLayout {
    /// One block's parameter offsets and the ranges its backward kernels finish.
    struct Block {
        var ln1Weight = 0, ln1Bias = 0
        var qkvWeight = 0, qkvBias = 0
        var attnProjWeight = 0, attnProjBias = 0
        var ln2Weight = 0, ln2Bias = 0
        var fcWeight = 0, fcBias = 0
        var mlpProjWeight = 0, mlpProjBias = 0
        // In backward order.
        var mlpProjRange = 0..<0, fcRange = 0..<0, ln2Range = 0..<0
        var attnProjRange = 0..<0, qkvRange = 0..<0, ln1Range = 0..<0
    }

    var lnfWeight = 0, lnfBias = 0
    var lnfRange = 0..<0
    var blocks: [Block] = []
    var wpe = 0, wte = 0
    /// wpe and wte: both finish in the embedding backward, the last kernel.
    var embeddingRange = 0..<0

    /// The parameter specifications, in layout order, for `configuration`.
    static func specs(_ configuration: GPTConfiguration) -> [(name: String, shape: [Int], decays: Bool)] {
        let c = configuration.width
        var specs: [(name: String, shape: [Int], decays: Bool)] = [
            ("ln_f.bias", [c], false),
            ("ln_f.weight", [c], false),
        ]
        for l in (0..<configuration.layers).reversed() {
            let p = "blocks.\(l)."
            specs += [
                (p + "mlp.proj.bias", [c], false),
                (p + "mlp.proj.weight", [c, 4 * c], true),
                (p + "mlp.fc.bias", [4 * c], false),
                (p + "mlp.fc.weight", [4 * c, c], true),
                (p + "ln2.bias", [c], false),
                (p + "ln2.weight", [c], false),
                (p + "attn.proj.bias", [c], false),
                (p + "attn.proj.weight", [c, c], true),
                (p + "attn.qkv.bias", [3 * c], false),
                (p + "attn.qkv.weight", [3 * c, c], true),
                (p + "ln1.bias", [c], false),
                (p + "ln1.weight", [c], false),
            ]
        }
        specs += [
            ("wpe.weight", [configuration.contextLength, c], true),
            ("wte.weight", [configuration.vocabSize, c], true),
        ]
        return specs
    }

    /// Reads the offsets out of a store built from ``specs(_:)``.
    init(configuration: GPTConfiguration, store: ParameterStore) {
        func offset(_ name: String) -> Int { store.info(name).offset }
        func weightAndBias(_ layer: String) -> (Int, Int) { (offset(layer + ".weight"), offset(layer + ".bias")) }
        // A kernel's range runs from its first parameter to the end of its last.
        func span(_ first: String, _ last: String) -> Range<Int> {
            store.info(first).offset..<store.info(last).range.upperBound
        }
        (lnfWeight, lnfBias) = weightAndBias("ln_f")
        lnfRange = span("ln_f.bias", "ln_f.weight")
        for l in 0..<configuration.layers {
            let p = "blocks.\(l)."
            var b = Block()
            (b.ln1Weight, b.ln1Bias) = weightAndBias(p + "ln1")
            (b.qkvWeight, b.qkvBias) = weightAndBias(p + "attn.qkv")
            (b.attnProjWeight, b.attnProjBias) = weightAndBias(p + "attn.proj")
            (b.ln2Weight, b.ln2Bias) = weightAndBias(p + "ln2")
            (b.fcWeight, b.fcBias) = weightAndBias(p + "mlp.fc")
            (b.mlpProjWeight, b.mlpProjBias) = weightAndBias(p + "mlp.proj")
            b.mlpProjRange = span(p + "mlp.proj.bias", p + "mlp.proj.weight")
            b.fcRange = span(p + "mlp.fc.bias", p + "mlp.fc.weight")
            b.ln2Range = span(p + "ln2.bias", p + "ln2.weight")
            b.attnProjRange = span(p + "attn.proj.bias", p + "attn.proj.weight")
            b.qkvRange = span(p + "attn.qkv.bias", p + "attn.qkv.weight")
            b.ln1Range = span(p + "ln1.bias", p + "ln1.weight")
            blocks.append(b)
        }
        wpe = offset("wpe.weight")
        wte = offset("wte.weight")
        embeddingRange = span("wpe.weight", "wte.weight")
    }
}
