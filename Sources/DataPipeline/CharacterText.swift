/// The characters of a corpus, sorted, each standing for its index.
///
/// Characters are Unicode scalars, not Swift `Character`s: a grapheme
/// cluster such as "\r\n" would otherwise become one token, and scalars keep
/// the encoding a plain table lookup. The vocabulary serializes to a string
/// of its characters in order, which a checkpoint stores so a restored
/// model decodes its ids the same way.
public struct CharacterVocabulary: Equatable, Codable, Sendable {
    /// The characters in id order (ascending scalar value).
    public let scalars: [Unicode.Scalar]
    private let table: [Int32]

    /// The distinct characters of `text`, sorted.
    public init(text: String) {
        var seen = Set<UInt32>()
        for scalar in text.unicodeScalars { seen.insert(scalar.value) }
        self.init(sortedScalars: seen.sorted().map { Unicode.Scalar($0)! })
    }

    /// Restores a vocabulary from its ``serialized`` form.
    /// - Throws: ``DataError/invalidVocabulary(reason:)`` if the string is
    ///   empty or its characters are not strictly ascending.
    public init(serialized: String) throws {
        let scalars = Array(serialized.unicodeScalars)
        guard !scalars.isEmpty else { throw DataError.invalidVocabulary(reason: "empty") }
        for i in 1..<scalars.count where scalars[i - 1].value >= scalars[i].value {
            throw DataError.invalidVocabulary(
                reason: "characters not strictly ascending at position \(i)")
        }
        self.init(sortedScalars: scalars)
    }

    private init(sortedScalars: [Unicode.Scalar]) {
        scalars = sortedScalars
        let largest = Int(sortedScalars.last?.value ?? 0)
        var table = [Int32](repeating: -1, count: largest + 1)
        for (id, scalar) in sortedScalars.enumerated() { table[Int(scalar.value)] = Int32(id) }
        self.table = table
    }

    /// The number of characters.
    public var count: Int { scalars.count }

    /// The characters in order, as one string; see ``init(serialized:)``.
    public var serialized: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// The id of `scalar`, or `nil` when the vocabulary lacks it.
    public func id(of scalar: Unicode.Scalar) -> Int32? {
        let value = Int(scalar.value)
        guard value < table.count, table[value] >= 0 else { return nil }
        return table[value]
    }

    /// The ids of `text`'s characters.
    /// - Parameter file: Names the source in errors.
    /// - Throws: ``DataError/unknownCharacter(file:character:offset:)``.
    public func encode(_ text: String, file: String = "<text>") throws -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count)
        var offset = 0
        for scalar in text.unicodeScalars {
            guard let id = id(of: scalar) else {
                throw DataError.unknownCharacter(file: file, character: String(scalar), offset: offset)
            }
            ids.append(id)
            offset += 1
        }
        return ids
    }

    /// The text spelled by `ids`.
    public func decode<S: Sequence>(_ ids: S) -> String where S.Element: BinaryInteger {
        var view = String.UnicodeScalarView()
        for id in ids {
            precondition(id >= 0 && Int(id) < scalars.count, "CharacterVocabulary: id \(id) outside 0..<\(scalars.count)")
            view.append(scalars[Int(id)])
        }
        return String(view)
    }

    private enum CodingKeys: String, CodingKey { case characters }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(serialized: container.decode(String.self, forKey: .characters))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(serialized, forKey: .characters)
    }
}

/// A character-level text corpus split into training and validation windows.
public struct CharacterCorpus {
    /// The vocabulary both splits use.
    public let vocabulary: CharacterVocabulary
    /// Windows over the text before the split point.
    public let train: TokenWindowDataset
    /// Windows over the last `validationFraction` of the text.
    public let validation: TokenWindowDataset

    /// Encodes and splits `text`.
    /// - Parameters:
    ///   - text: The corpus.
    ///   - contextLength: Tokens per sample (T).
    ///   - stride: Distance between window starts; `nil` means `contextLength`.
    ///   - validationFraction: The share of the text, taken from its end, kept
    ///     for validation; in `[0, 1)`.
    ///   - vocabulary: A vocabulary to reuse (e.g. from a checkpoint); `nil`
    ///     builds one from `text`.
    ///   - file: Names the source in errors.
    /// - Throws: ``DataError`` if a character is not in `vocabulary`, or the
    ///   training part is too short for one window.
    public init(text: String, contextLength: Int, stride: Int? = nil, validationFraction: Double = 0.1,
                vocabulary: CharacterVocabulary? = nil, file: String = "<text>") throws
    {
        precondition(validationFraction >= 0 && validationFraction < 1,
                     "CharacterCorpus: validationFraction \(validationFraction) outside [0, 1)")
        let vocabulary = vocabulary ?? CharacterVocabulary(text: text)
        let ids = try vocabulary.encode(text, file: file)
        let trainCount = ids.count - Int(Double(ids.count) * validationFraction)
        guard trainCount > contextLength else {
            throw DataError.tooLittleData(
                file: file, reason: "\(trainCount) training characters cannot fill a window of \(contextLength + 1)")
        }
        self.vocabulary = vocabulary
        train = TokenWindowDataset(tokens: Array(ids[..<trainCount]), vocabularySize: vocabulary.count,
                                   contextLength: contextLength, stride: stride)
        validation = TokenWindowDataset(tokens: Array(ids[trainCount...]), vocabularySize: vocabulary.count,
                                        contextLength: contextLength, stride: stride)
    }

    /// Reads a UTF-8 text file (gzip'd or not) and splits it as ``init(text:contextLength:stride:validationFraction:vocabulary:file:)`` does.
    public static func load(file: String, contextLength: Int, stride: Int? = nil, validationFraction: Double = 0.1,
                            vocabulary: CharacterVocabulary? = nil) throws -> CharacterCorpus
    {
        let bytes = try FileBytes.read(file)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DataError.unreadable(file: file, reason: "not valid UTF-8")
        }
        return try CharacterCorpus(text: text, contextLength: contextLength, stride: stride,
                                   validationFraction: validationFraction, vocabulary: vocabulary, file: file)
    }
}
