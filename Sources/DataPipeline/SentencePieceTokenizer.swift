import CSentencePiece
import Foundation

/// A SentencePiece subword model (BPE or unigram).
///
/// Models this project trains normalize nothing and fall back to bytes for
/// what their pieces lack, so decoding the encoding of any UTF-8 text gives
/// the text back exactly (see ``train(sample:modelPath:vocabularySize:algorithm:)``).
public final class SentencePieceTokenizer: TextTokenizer, @unchecked Sendable {
    // SentencePiece's encode and decode are const and safe to call from several threads.
    private let processor: OpaquePointer
    /// Where the model was read from, for errors.
    public let source: String
    public let vocabularySize: Int

    /// Loads the model file at `path`.
    ///
    /// - Throws: ``DataError/tokenizer(file:reason:)`` naming `path`.
    public convenience init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw DataError.fileNotFound(file: path) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(file: path, reason: "cannot be read")
        }
        try self.init(modelBytes: [UInt8](data), source: path)
    }

    /// Loads a model from the bytes of its file.
    ///
    /// - Throws: ``DataError/tokenizer(file:reason:)`` naming `source`.
    public init(modelBytes: [UInt8], source: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let loaded = modelBytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { ddp_spm_load_bytes($0.baseAddress, $0.count, &error) }
        }
        guard let loaded else { throw DataError.tokenizer(file: source, reason: Self.take(error)) }
        processor = loaded
        self.source = source
        vocabularySize = Int(ddp_spm_vocabulary_size(loaded))
    }

    deinit {
        ddp_spm_free(processor)
    }

    public func encode(_ text: String, file: String) throws -> [Int32] {
        var text = text
        return try text.withUTF8 { utf8 in
            try utf8.withMemoryRebound(to: CChar.self) { bytes in
                var ids = [Int32](repeating: 0, count: max(16, bytes.count / 2))
                var error: UnsafeMutablePointer<CChar>?
                while true {
                    let capacity = ids.count
                    let n = ids.withUnsafeMutableBufferPointer {
                        ddp_spm_encode(processor, bytes.baseAddress, bytes.count, $0.baseAddress, capacity, &error)
                    }
                    guard n >= 0 else { throw DataError.tokenizer(file: file, reason: Self.take(error)) }
                    if n <= capacity { return Array(ids.prefix(n)) }
                    ids = [Int32](repeating: 0, count: n)
                }
            }
        }
    }

    public func decode(_ ids: [Int32]) -> String {
        var length = 0
        var error: UnsafeMutablePointer<CChar>?
        guard let text = ids.withUnsafeBufferPointer({ ddp_spm_decode(processor, $0.baseAddress, $0.count, &length, &error) }) else {
            preconditionFailure("SentencePieceTokenizer: \(Self.take(error))")
        }
        defer { free(text) }
        return text.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    /// Trains a model on the UTF-8 lines of `sample` and writes it to `modelPath`.
    ///
    /// The model keeps text exactly: no normalization, no whitespace folding,
    /// no dummy prefix, and byte fallback for characters outside its pieces
    /// (newlines among them: SentencePiece trains on lines).
    ///
    /// - Parameters:
    ///   - sample: A text file of training lines.
    ///   - modelPath: Where the `.model` file goes.
    ///   - vocabularySize: Pieces, including the 256 byte pieces and 3 specials.
    ///   - algorithm: `bpe` or `unigram`.
    /// - Throws: ``DataError/tokenizer(file:reason:)`` naming `sample`.
    public static func train(sample: String, modelPath: String, vocabularySize: Int, algorithm: String) throws {
        precondition(modelPath.hasSuffix(".model"), "SentencePieceTokenizer: model path must end in .model")
        let prefix = String(modelPath.dropLast(".model".count))
        let flags = [
            "--input=\(sample)", "--model_prefix=\(prefix)", "--vocab_size=\(vocabularySize)",
            "--model_type=\(algorithm)", "--character_coverage=1.0", "--byte_fallback=true",
            "--normalization_rule_name=identity", "--remove_extra_whitespaces=false", "--add_dummy_prefix=false",
            "--split_digits=true", "--allow_whitespace_only_pieces=true", "--input_sentence_size=2000000",
            "--shuffle_input_sentence=true", "--max_sentence_length=16384", "--num_threads=2", "--minloglevel=2",
            "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=-1",
            // A corpus too small for the size asked gets the pieces it has rather than an error.
            "--hard_vocab_limit=false",
        ].joined(separator: " ")
        var error: UnsafeMutablePointer<CChar>?
        guard ddp_spm_train(flags, &error) == 0 else { throw DataError.tokenizer(file: sample, reason: take(error)) }
        // The trainer also writes a .vocab listing; only the model is needed.
        try? FileManager.default.removeItem(atPath: prefix + ".vocab")
    }

    private static func take(_ error: UnsafeMutablePointer<CChar>?) -> String {
        guard let error else { return "unknown SentencePiece error" }
        defer { free(error) }
        return String(cString: error)
    }
}
