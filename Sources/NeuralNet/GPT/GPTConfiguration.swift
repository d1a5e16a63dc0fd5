/// The shape of a ``GPT``.
public struct GPTConfiguration: Sendable, Equatable, Hashable, Codable {
    /// Distinct tokens (65 for the Tiny Shakespeare characters).
    public var vocabSize: Int
    /// The longest sequence the position embedding covers.
    public var contextLength: Int
    /// Transformer blocks.
    public var layers: Int
    /// Attention heads per block; divides ``width``.
    public var heads: Int
    /// Channels of the residual stream.
    public var width: Int
    /// Dropout probability on the attention and MLP outputs while training.
    public var dropout: Float

    /// A configuration; preconditions reject shapes no model can have.
    ///
    /// - Parameters:
    ///   - vocabSize: Distinct tokens.
    ///   - contextLength: Longest sequence.
    ///   - layers: Transformer blocks.
    ///   - heads: Attention heads, dividing `width`.
    ///   - width: Residual channels.
    ///   - dropout: In `0..<1`; 0 disables it.
    public init(vocabSize: Int, contextLength: Int, layers: Int, heads: Int, width: Int, dropout: Float = 0) {
        precondition(vocabSize > 0 && contextLength > 0 && layers > 0 && heads > 0 && width > 0,
                     "GPTConfiguration: every extent must be positive")
        precondition(width % heads == 0, "GPTConfiguration: \(heads) heads do not divide width \(width)")
        precondition(dropout >= 0 && dropout < 1, "GPTConfiguration: dropout \(dropout) outside 0..<1")
        (self.vocabSize, self.contextLength, self.layers, self.heads) = (vocabSize, contextLength, layers, heads)
        (self.width, self.dropout) = (width, dropout)
    }

    /// The benchmark shape: a character vocabulary, 4 blocks of 4 heads, 128 wide, 128 long.
    public static let benchmark = GPTConfiguration(vocabSize: 65, contextLength: 128, layers: 4, heads: 4, width: 128)

    /// Channels per attention head.
    public var headSize: Int { width / heads }

    /// Training FLOPs per token in the usual estimate, `6 N + 12 L T C` at the
    /// full context: forward plus backward of every weight, plus attention's
    /// two products.
    public func trainingFLOPsPerToken(parameterCount: Int) -> Double {
        6 * Double(parameterCount) + 12 * Double(layers * contextLength * width)
    }
}
