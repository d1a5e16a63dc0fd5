import TensorCore

/// The regions ``GPT`` reports to ``KernelProfile``: one matmul family per
/// kind of linear layer, and one region per kind of kernel.
enum GPTProfile {
    static let qkv = MatmulFamily("attention qkv")
    static let attentionProjection = MatmulFamily("attention projection")
    static let mlpUp = MatmulFamily("mlp up")
    static let mlpDown = MatmulFamily("mlp down")
    static let head = MatmulFamily("output head")

    /// Attention's own time besides its products and softmax (which have
    /// regions inside the kernel): the masked zeros and the loops.
    static let attention = ProfileRegion("attention, rest", group: .attention)
    static let layerNorm = ProfileRegion("layer norm", group: .kernel)
    static let gelu = ProfileRegion("gelu", group: .kernel)
    static let geluBackward = ProfileRegion("gelu backward", group: .kernel)
    static let residual = ProfileRegion("residual add", group: .kernel)
    static let dropout = ProfileRegion("dropout", group: .kernel)
    static let embedding = ProfileRegion("embedding", group: .kernel)
    static let crossEntropy = ProfileRegion("softmax and cross-entropy", group: .loss)
    static let tokens = ProfileRegion("token ids in", group: .data)
}
