/// Next-token windows over a range of a prepared token stream, read from
/// the mapped shards: the same samples ``TokenWindowDataset`` makes of the
/// same tokens, without holding the tokens in memory.
public final class PreparedTokenWindows: Dataset {
    public let data: PreparedData
    /// The tokens the windows cover, as positions in the whole stream.
    public let range: Range<Int>
    public let contextLength: Int
    public let stride: Int
    public let count: Int
    private let vocabularySize: Int
    private let tokenSize: Int

    /// Windows of `contextLength + 1` tokens starting every `stride` (default `contextLength`) tokens of `range`.
    public init(_ data: PreparedData, range: Range<Int>, contextLength: Int, stride: Int? = nil) {
        guard let text = data.manifest.text else { preconditionFailure("PreparedTokenWindows: \(data.directory) is not text") }
        precondition(range.lowerBound >= 0 && range.upperBound <= data.manifest.count,
                     "PreparedTokenWindows: \(range) outside the \(data.manifest.count) tokens")
        let stride = stride ?? contextLength
        precondition(contextLength >= 1 && stride >= 1, "PreparedTokenWindows: context and stride must be at least 1")
        (self.data, self.range, self.contextLength, self.stride) = (data, range, contextLength, stride)
        vocabularySize = text.vocabularySize
        tokenSize = text.dtype.size
        count = range.count > contextLength ? (range.count - contextLength - 1) / stride + 1 : 0
    }

    public var inputShape: [Int] { [contextLength] }
    public var targetShape: [Int] { [contextLength] }
    public var classCount: Int? { vocabularySize }

    /// Token `position` of the whole stream.
    @inline(__always)
    public func token(_ position: Int) -> Int {
        let (shard, offset) = data.locate(position)
        let bytes = data.shards[shard].bytes
        if tokenSize == 2 { return Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset * 2, as: UInt16.self))) }
        return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset * 4, as: UInt32.self)))
    }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < count, "PreparedTokenWindows: index \(index) outside 0..<\(count)")
        let start = range.lowerBound + index * stride
        var previous = Float(token(start))
        for t in 0..<contextLength {
            let next = Float(token(start + t + 1))
            input[t] = previous
            target[t] = next
            previous = next
        }
        data.noteRead()
    }

    /// Characters (Unicode scalars) per token over the covered tokens (at most
    /// the first 4 Mi of them), decoded with `tokenizer`.
    public func charactersPerToken(decodingWith tokenizer: TextTokenizer) -> Double {
        let end = min(range.upperBound, range.lowerBound + (1 << 22))
        var characters = 0
        var start = range.lowerBound
        while start < end {
            // Pieces of whole lines would be exact; 64 Ki tokens at a time split at most a few characters.
            let stop = min(start + (1 << 16), end)
            let ids = (start..<stop).map { Int32(token($0)) }
            characters += tokenizer.decode(ids).unicodeScalars.count
            start = stop
        }
        return end > range.lowerBound ? Double(characters) / Double(end - range.lowerBound) : 1
    }
}
