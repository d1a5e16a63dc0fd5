/// Fixed-length windows of a token stream for next-token prediction.
///
/// Sample `i` is the `contextLength + 1` tokens starting at `i * stride`:
/// the input is the first `contextLength`, the target the last
/// `contextLength` (each input token's successor). Token ids are stored as
/// `Int32` and copied as exact floats.
public final class TokenWindowDataset: Dataset {
    /// The token stream.
    public let tokens: [Int32]
    /// The number of distinct token ids; every token lies below it.
    public let vocabularySize: Int
    /// The number of tokens in one input (T).
    public let contextLength: Int
    /// The distance between the starts of consecutive windows.
    public let stride: Int
    public let count: Int

    /// Windows over `tokens`.
    /// - Parameters:
    ///   - tokens: Token ids, each in `0..<vocabularySize`.
    ///   - vocabularySize: The number of token ids.
    ///   - contextLength: Tokens per input (T), at least 1.
    ///   - stride: Distance between window starts; `nil` means `contextLength`
    ///     (windows that overlap only in their boundary token).
    public init(tokens: [Int32], vocabularySize: Int, contextLength: Int, stride: Int? = nil) {
        let stride = stride ?? contextLength
        precondition(contextLength >= 1, "TokenWindowDataset: contextLength must be at least 1")
        precondition(stride >= 1, "TokenWindowDataset: stride must be at least 1")
        precondition(vocabularySize >= 1, "TokenWindowDataset: empty vocabulary")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < vocabularySize },
                     "TokenWindowDataset: a token lies outside 0..<\(vocabularySize)")
        (self.tokens, self.vocabularySize, self.contextLength) = (tokens, vocabularySize, contextLength)
        self.stride = stride
        self.count = tokens.count > contextLength ? (tokens.count - contextLength - 1) / stride + 1 : 0
    }

    public var inputShape: [Int] { [contextLength] }
    public var targetShape: [Int] { [contextLength] }
    public var classCount: Int? { vocabularySize }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < count, "TokenWindowDataset: index \(index) outside 0..<\(count)")
        tokens.withUnsafeBufferPointer { stream in
            let start = stream.baseAddress! + index * stride
            for t in 0..<contextLength {
                input[t] = Float(start[t])
                target[t] = Float(start[t + 1])
            }
        }
    }
}
