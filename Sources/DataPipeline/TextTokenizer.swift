/// Turns text into token ids and back: the character vocabulary, or a
/// SentencePiece subword model. Training, evaluation, generation and serving
/// use the one a data set was prepared with.
public protocol TextTokenizer: AnyObject, Sendable {
    /// Token ids lie in `0..<vocabularySize`.
    var vocabularySize: Int { get }
    /// The ids of `text`.
    ///
    /// - Parameter file: Names the source in errors.
    /// - Throws: ``DataError`` when the text holds what the tokenizer cannot encode.
    func encode(_ text: String, file: String) throws -> [Int32]
    /// The text spelled by `ids`, each in `0..<vocabularySize`.
    func decode(_ ids: [Int32]) -> String
}

/// ``CharacterVocabulary`` as a ``TextTokenizer``.
public final class CharacterTokenizer: TextTokenizer {
    public let vocabulary: CharacterVocabulary

    public init(_ vocabulary: CharacterVocabulary) {
        self.vocabulary = vocabulary
    }

    public var vocabularySize: Int { vocabulary.count }

    public func encode(_ text: String, file: String) throws -> [Int32] {
        try vocabulary.encode(text, file: file)
    }

    public func decode(_ ids: [Int32]) -> String {
        vocabulary.decode(ids)
    }
}
