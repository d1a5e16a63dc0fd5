import NeuralNet

/// The ONNX graph of a ``GPT``, operator for operator what `GPT.runTrunk`
/// computes: token plus position embedding, then per block
/// `x += proj(attention(ln1(x)))` and `x += proj(gelu(fc(ln2(x))))`, a final
/// layer norm, and the head tied to the token embedding.
///
/// The sequence length is free up to the context: the position embedding and
/// the causal mask are sliced to it with `Shape` and `Slice`. The attention
/// reads the packed `[q | k | v]` columns as the project's kernel does
/// (`[batch, time, 3, heads, headSize]`), scales the scores by
/// `1 / sqrt(headSize)` and masks the future to `-inf` before the softmax.
enum GPTExport {
    /// The graph of `gpt` with its current weights.
    static func graph(_ gpt: GPT) -> ONNXGraph {
        let configuration = gpt.configuration
        let (width, heads) = (configuration.width, configuration.heads)
        let (headSize, context) = (width / heads, configuration.contextLength)
        let epsilon = GPTKernels.layerNormEpsilon
        let b = ONNXGraphBuilder()
        let ids = ONNXExporter.tokenInputName
        b.reserve(ids)
        func parameter(_ name: String) -> String {
            let value = gpt.parameters.value(name)
            return b.floats(name, value.array, shape: value.shape)
        }

        let wte = parameter("wte.weight"), wpe = parameter("wpe.weight")
        let tokens = b.apply("Gather", [wte, ids], [.int("axis", 0)], hint: "wte.lookup")
        // [sequence], as a one-element Int64 tensor.
        let length = b.apply("Shape", [ids], [.int("start", 1), .int("end", 2)], hint: "sequence_length")
        let zero = b.int64s("zero", [0])
        let positions = b.apply("Slice", [wpe, zero, length, zero], hint: "wpe.slice")
        var x = b.apply("Add", [tokens, positions], hint: "embedding")

        // True where a query (row) may see a key (column): at or before it.
        let mask = (0..<context).flatMap { row in (0..<context).map { $0 <= row } }
        let fullMask = b.initializer(ONNXTensor(name: "causal_mask", shape: [context, context], bools: mask))
        let square = b.apply("Concat", [length, length], [.int("axis", 0)], hint: "sequence_square")
        let visible = b.apply("Slice", [fullMask, b.int64s("zeros_2", [0, 0]), square, b.int64s("axes_01", [0, 1])],
                              hint: "causal_mask.slice")
        let hidden = b.scalar(-Float.infinity)
        let scale = b.scalar(1 / Float(headSize).squareRoot())
        let packedShape = b.int64s("qkv_heads_shape", [0, 0, 3, heads, headSize])
        let mergedShape = b.int64s("merged_heads_shape", [0, 0, width])
        let part = (0..<3).map { b.initializer(ONNXTensor(name: "qkv_index_\($0)", shape: [], int64s: [$0])) }

        for l in 0..<configuration.layers {
            let p = "blocks.\(l)."
            let ln1 = b.layerNorm(x, weight: parameter(p + "ln1.weight"), bias: parameter(p + "ln1.bias"),
                                  epsilon: epsilon, hint: p + "ln1")
            let qkv = b.batchedLinear(ln1, weight: parameter(p + "attn.qkv.weight"), bias: parameter(p + "attn.qkv.bias"),
                                      hint: p + "attn.qkv")
            // [batch, time, 3 * width] → [3, batch, heads, time, headSize].
            let packed = b.apply("Reshape", [qkv, packedShape], hint: p + "attn.qkv_heads")
            let split = b.apply("Transpose", [packed], [.ints("perm", [2, 0, 3, 1, 4])], hint: p + "attn.qkv_split")
            let (q, k, v) = (b.apply("Gather", [split, part[0]], [.int("axis", 0)], hint: p + "attn.q"),
                             b.apply("Gather", [split, part[1]], [.int("axis", 0)], hint: p + "attn.k"),
                             b.apply("Gather", [split, part[2]], [.int("axis", 0)], hint: p + "attn.v"))
            let keys = b.apply("Transpose", [k], [.ints("perm", [0, 1, 3, 2])], hint: p + "attn.k_t")
            let scores = b.apply("Mul", [b.apply("MatMul", [q, keys], hint: p + "attn.qk"), scale], hint: p + "attn.scores")
            let masked = b.apply("Where", [visible, scores, hidden], hint: p + "attn.masked")
            let weights = b.apply("Softmax", [masked], [.int("axis", -1)], hint: p + "attn.softmax")
            let mixed = b.apply("MatMul", [weights, v], hint: p + "attn.mixed")
            let merged = b.apply("Reshape", [b.apply("Transpose", [mixed], [.ints("perm", [0, 2, 1, 3])], hint: p + "attn.heads_last"),
                                             mergedShape], hint: p + "attn.merged")
            let attention = b.batchedLinear(merged, weight: parameter(p + "attn.proj.weight"),
                                            bias: parameter(p + "attn.proj.bias"), hint: p + "attn.proj")
            let residual = b.apply("Add", [x, attention], hint: p + "residual1")

            let ln2 = b.layerNorm(residual, weight: parameter(p + "ln2.weight"), bias: parameter(p + "ln2.bias"),
                                  epsilon: epsilon, hint: p + "ln2")
            let fc = b.batchedLinear(ln2, weight: parameter(p + "mlp.fc.weight"), bias: parameter(p + "mlp.fc.bias"),
                                     hint: p + "mlp.fc")
            let activated = b.gelu(fc, hint: p + "mlp.gelu")
            let mlp = b.batchedLinear(activated, weight: parameter(p + "mlp.proj.weight"), bias: parameter(p + "mlp.proj.bias"),
                                      hint: p + "mlp.proj")
            x = b.apply("Add", [residual, mlp], hint: p + "residual2")
        }
        let final = b.layerNorm(x, weight: parameter("ln_f.weight"), bias: parameter("ln_f.bias"), epsilon: epsilon, hint: "ln_f")
        // The head is the token embedding itself, transposed: no second copy in the file.
        let head = b.apply("Transpose", [wte], [.ints("perm", [1, 0])], hint: "wte.T")
        let logits = b.apply("MatMul", [final, head], hint: "", output: ONNXExporter.logitsName)

        let batch = ONNXDimension.named(ONNXExporter.batchDimension), sequence = ONNXDimension.named(ONNXExporter.sequenceDimension)
        return b.graph(name: "swift-ddp-gpt",
                       inputs: [ONNXValueInfo(name: ids, elementType: .int64, shape: [batch, sequence])],
                       outputs: [ONNXValueInfo(name: logits, elementType: .float,
                                               shape: [batch, sequence, .fixed(configuration.vocabSize)])])
    }
}
