import TensorCore

/// The int8 forms of a ``GPT``'s block products (attention qkv and
/// projection, MLP up and down), for inference: with them set as
/// ``GPT/int8Weights``, every forward multiplies those four in integers,
/// activations quantized per row at run time. The embeddings, and so the
/// head tied to the token embedding, stay Float32.
public final class GPTInt8Weights {
    /// One block's products, each `[outputs, inputs]`.
    public struct Block {
        public var qkv: QuantizedMatrix
        public var attentionProjection: QuantizedMatrix
        public var mlpUp: QuantizedMatrix
        public var mlpDown: QuantizedMatrix

        public init(qkv: QuantizedMatrix, attentionProjection: QuantizedMatrix,
                    mlpUp: QuantizedMatrix, mlpDown: QuantizedMatrix) {
            (self.qkv, self.attentionProjection, self.mlpUp, self.mlpDown) = (qkv, attentionProjection, mlpUp, mlpDown)
        }
    }

    /// One per layer, from the input side.
    public let blocks: [Block]
    let scratch = Int8Scratch()

    /// - Parameters:
    ///   - blocks: One per layer of `configuration`, each product of its shape.
    ///   - configuration: The model's shape.
    public init(blocks: [Block], configuration: GPTConfiguration) {
        let c = configuration.width
        precondition(blocks.count == configuration.layers,
                     "GPTInt8Weights: \(blocks.count) blocks for \(configuration.layers) layers")
        for b in blocks {
            precondition([b.qkv.rows, b.qkv.columns] == [3 * c, c] && [b.attentionProjection.rows, b.attentionProjection.columns] == [c, c]
                         && [b.mlpUp.rows, b.mlpUp.columns] == [4 * c, c] && [b.mlpDown.rows, b.mlpDown.columns] == [c, 4 * c],
                         "GPTInt8Weights: a block's products do not fit width \(c)")
        }
        self.blocks = blocks
    }

    /// The parameter names of the quantized products of layer `l`, in
    /// ``Block``'s order.
    public static func parameterNames(layer l: Int) -> [String] {
        productNames.map { "blocks.\(l).\($0)" }
    }

    /// Whether `name` is one of the parameters held in int8 (a block's product weight).
    public static func isBlockProduct(_ name: String) -> Bool {
        name.hasPrefix("blocks.") && productNames.contains { name.hasSuffix("." + $0) }
    }

    private static let productNames = ["attn.qkv.weight", "attn.proj.weight", "mlp.fc.weight", "mlp.proj.weight"]
}

extension GPT {
    /// Which of a block's products ``blockProduct(_:layer:out:input:weight:bias:rows:inChannels:outChannels:family:)`` runs.
    enum BlockProduct {
        case qkv, attentionProjection, mlpUp, mlpDown
    }

    /// One of a block's products: `out = input · Wᵀ + bias`, in int8 when
    /// ``int8Weights`` is set, else in Float32 with `weight`.
    @inline(__always)
    func blockProduct(_ product: BlockProduct, layer l: Int, out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                      weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, inChannels: Int, outChannels: Int,
                      family: MatmulFamily) {
        guard let int8 = int8Weights else {
            return Kernels.linearForward(out: out, input: input, weight: weight, bias: bias, rows: rows,
                                         inChannels: inChannels, outChannels: outChannels, family: family)
        }
        let block = int8.blocks[l]
        let matrix: QuantizedMatrix
        switch product {
        case .qkv: matrix = block.qkv
        case .attentionProjection: matrix = block.attentionProjection
        case .mlpUp: matrix = block.mlpUp
        case .mlpDown: matrix = block.mlpDown
        }
        KernelProfile.measure(family.forward, flops: 2 * Double(rows * inChannels * outChannels)) {
            matrix.withView { view in
                Kernels.int8LinearForward(out: out, input: input, weight: view, bias: bias, rows: rows, scratch: int8.scratch)
            }
        }
    }
}
