import DataPipeline
import DataPreparation
import DDPTestSupport
import Foundation
import XCTest

/// `ddp prepare text` into shards, read back through the mapped windows.
final class TextPreparationTests: ScratchTestCase {
    override class var scratchPrefix: String { "ddp-prepare-text" }

    /// A corpus with what tokenizers trip over: several spaces, tabs, digits,
    /// CRLF, accents, CJK, an emoji, a line longer than usual, no final newline.
    static let corpus: String = {
        var lines: [String] = []
        for i in 0..<400 {
            lines.append("Line \(i):  the quick brown fox\tjumps over \(i * 37) lazy dogs; café naïve 日本語 🙂")
            if i % 50 == 0 { lines.append(String(repeating: "long ", count: 300)) }
            if i % 7 == 0 { lines.append("") }
        }
        return lines.joined(separator: "\n") + "\r\nend without newline"
    }()

    private func write(_ text: String, _ name: String) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func options(_ tokenizer: TextPreparation.Tokenizer = .characters, shardTokens: Int = 1 << 26) -> TextPreparation.Options {
        var options = TextPreparation.Options()
        (options.tokenizer, options.shardTokens, options.quiet) = (tokenizer, shardTokens, true)
        return options
    }

    /// All tokens of a prepared text data set, through the windows of stride 1 and context 1.
    private func tokens(_ directory: String) throws -> [Int32] {
        let data = try PreparedData(directory: directory)
        let windows = PreparedTokenWindows(data, range: 0..<data.manifest.count, contextLength: 1, stride: 1)
        var out: [Int32] = []
        for i in 0..<windows.count {
            let sample = windows.sample(i)
            if i == 0 { out.append(Int32(sample.input[0])) }
            out.append(Int32(sample.target[0]))
        }
        return out
    }

    func testCharacterShardsHoldTheSameWindowsAsTheBuiltInCorpus() throws {
        // A directory of two files, read in path order, and shards much smaller than the text.
        let half = Self.corpus.index(Self.corpus.startIndex, offsetBy: Self.corpus.count / 2)
        _ = try write(String(Self.corpus[..<half]), "corpus/a.txt")
        _ = try write(String(Self.corpus[half...]), "corpus/b/c.txt")
        _ = try write("hidden", "corpus/.hidden")
        let output = scratch.appendingPathComponent("prepared").path
        let manifest = try TextPreparation.prepare(inputs: [scratch.appendingPathComponent("corpus").path], output: output,
                                                   options: options(shardTokens: 1000))
        let reference = try CharacterCorpus(text: Self.corpus, contextLength: 16, validationFraction: 0.1)
        XCTAssertEqual(manifest.text?.tokenizer.characters, reference.vocabulary.serialized)
        XCTAssertEqual(manifest.count, Self.corpus.unicodeScalars.count)
        XCTAssertGreaterThan(manifest.shards.count, 10)
        XCTAssertEqual(manifest.text?.dtype, .uint16)

        let data = try PreparedData(directory: output)
        let trainCount = manifest.count - Int(Double(manifest.count) * 0.1)
        let train = PreparedTokenWindows(data, range: 0..<trainCount, contextLength: 16)
        let validation = PreparedTokenWindows(data, range: trainCount..<manifest.count, contextLength: 16)
        for (prepared, builtIn) in [(train, reference.train), (validation, reference.validation)] as [(Dataset, Dataset)] {
            XCTAssertEqual(prepared.count, builtIn.count)
            for i in Swift.stride(from: 0, to: builtIn.count, by: 7) {
                XCTAssertEqual(prepared.sample(i).input, builtIn.sample(i).input, "sample \(i)")
                XCTAssertEqual(prepared.sample(i).target, builtIn.sample(i).target, "sample \(i)")
            }
        }
        XCTAssertEqual(CharacterTokenizer(reference.vocabulary).decode(try tokens(output)), Self.corpus)
    }

    func testSentencePieceRoundTripsTheCorpusExactly() throws {
        let input = try write(String(repeating: Self.corpus + "\n", count: 3), "corpus.txt")
        let output = scratch.appendingPathComponent("spm").path
        let manifest = try TextPreparation.prepare(inputs: [input], output: output,
                                                   options: options(.sentencePiece(vocabularySize: 400, algorithm: "bpe"),
                                                                    shardTokens: 500))
        XCTAssertEqual(manifest.text?.tokenizer.kind, .sentencepiece)
        XCTAssertEqual(manifest.text?.vocabularySize, 400)
        let tokenizer = try SentencePieceTokenizer(path: output + "/tokenizer.model")
        let text = try String(contentsOfFile: input, encoding: .utf8)
        let ids = try tokens(output)
        XCTAssertLessThan(ids.count, text.unicodeScalars.count / 2, "subword tokens should be fewer than characters")
        XCTAssertEqual(tokenizer.decode(ids), text)
        // Text the model never saw round-trips too, through byte pieces.
        let unseen = "Ωμέγα ∑ x² — \u{0007}control\u{0000}nul 🦀\n\n  indented"
        XCTAssertEqual(tokenizer.decode(try tokenizer.encode(unseen, file: "unseen")), unseen)
        // The manifest's checksum is the model's.
        XCTAssertEqual(manifest.text?.tokenizer.model?.sha256,
                       SHA256.hex(of: [UInt8](try Data(contentsOf: URL(fileURLWithPath: output + "/tokenizer.model")))))
    }

    func testUnigramAndUInt32Tokens() throws {
        let input = try write(Self.corpus, "corpus.txt")
        let output = scratch.appendingPathComponent("unigram").path
        var opts = options(.sentencePiece(vocabularySize: 500, algorithm: "unigram"))
        opts.dtype = .uint32
        let manifest = try TextPreparation.prepare(inputs: [input], output: output, options: opts)
        XCTAssertEqual(manifest.text?.dtype, .uint32)
        XCTAssertEqual(manifest.shards[0].data.bytes, manifest.count * 4)
        let tokenizer = try SentencePieceTokenizer(path: output + "/tokenizer.model")
        XCTAssertEqual(tokenizer.decode(try tokens(output)), Self.corpus)
    }

    func testAnInterruptedPreparationResumesToTheSameShards() throws {
        let input = try write(String(repeating: Self.corpus, count: 4), "corpus.txt")
        let whole = scratch.appendingPathComponent("whole").path
        let expected = try TextPreparation.prepare(inputs: [input], output: whole, options: options(shardTokens: 3000))
        XCTAssertGreaterThan(expected.shards.count, 5)

        let resumed = scratch.appendingPathComponent("resumed").path
        var interrupted = options(shardTokens: 3000)
        interrupted.stopAfterShards = 3
        XCTAssertThrowsError(try TextPreparation.prepare(inputs: [input], output: resumed, options: interrupted))
        XCTAssertFalse(FileManager.default.fileExists(atPath: resumed), "an interrupted run must not look complete")
        XCTAssertThrowsError(try PreparedData(directory: resumed)) { error in
            XCTAssertTrue("\(error)".contains("did not finish"), "\(error)")
        }
        let manifest = try TextPreparation.prepare(inputs: [input], output: resumed, options: options(shardTokens: 3000))
        XCTAssertEqual(manifest.shards, expected.shards)
        XCTAssertEqual(manifest.count, expected.count)
        // Other options than the partial run's are refused rather than mixed in.
        var other = options(shardTokens: 2000)
        other.stopAfterShards = 1
        let third = scratch.appendingPathComponent("third").path
        XCTAssertThrowsError(try TextPreparation.prepare(inputs: [input], output: third, options: other))
        XCTAssertThrowsError(try TextPreparation.prepare(inputs: [input], output: third, options: options(shardTokens: 3000))) {
            XCTAssertEqual($0 as? PrepareError, .partialMismatch(third + ".partial"))
        }
    }

    func testBadInputIsNamed() throws {
        let missing = scratch.appendingPathComponent("missing.txt").path
        XCTAssertThrowsError(try TextPreparation.prepare(inputs: [missing], output: scratch.appendingPathComponent("o").path,
                                                         options: options())) {
            XCTAssertEqual($0 as? PrepareError, .data(.fileNotFound(file: missing)))
        }
        let binary = scratch.appendingPathComponent("binary.txt")
        try Data([0x61, 0x62, 0xFF, 0xFE, 0x0A]).write(to: binary)
        XCTAssertThrowsError(try TextPreparation.prepare(inputs: [binary.path], output: scratch.appendingPathComponent("o").path,
                                                         options: options())) {
            XCTAssertTrue("\($0)".contains("binary.txt") && "\($0)".contains("not valid UTF-8"), "\($0)")
        }
        let text = try write("hello\n", "ok.txt")
        let exists = scratch.appendingPathComponent("exists").path
        try FileManager.default.createDirectory(atPath: exists, withIntermediateDirectories: true)
        XCTAssertThrowsError(try TextPreparation.prepare(inputs: [text], output: exists, options: options())) {
            XCTAssertEqual($0 as? PrepareError, .outputExists(exists))
        }
        XCTAssertThrowsError(try TextPreparation.prepare(inputs: [text], output: scratch.appendingPathComponent("v").path,
                                                         options: options(.sentencePiece(vocabularySize: 100, algorithm: "bpe")))) {
            XCTAssertTrue("\($0)".contains("--vocabulary-size 100"), "\($0)")
        }
    }

    func testADamagedManifestOrShardIsNamed() throws {
        let input = try write(Self.corpus, "corpus.txt")
        let output = scratch.appendingPathComponent("p").path
        _ = try TextPreparation.prepare(inputs: [input], output: output, options: options(shardTokens: 5000))
        let manifestPath = output + "/manifest.json"
        let original = try String(contentsOfFile: manifestPath, encoding: .utf8)
        try original.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 9").write(toFile: manifestPath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PreparedData(directory: output)) { XCTAssertTrue("\($0)".contains("format version 9"), "\($0)") }
        // Numbers that would overflow a product are an error, not a trap.
        try original.replacingOccurrences(of: "\"shard_count\" : 5000", with: "\"shard_count\" : 4611686018427387904")
            .write(toFile: manifestPath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PreparedData(directory: output)) { XCTAssertTrue("\($0)".contains("do not hold"), "\($0)") }
        try "{\"format\": 3}".write(toFile: manifestPath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PreparedData(directory: output)) { XCTAssertTrue("\($0)".contains("manifest.json"), "\($0)") }
        try original.write(toFile: manifestPath, atomically: true, encoding: .utf8)
        let shard = output + "/shard-00001.bin"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: shard))
        XCTAssertThrowsError(try PreparedData(directory: output)) {
            XCTAssertEqual($0 as? DataError, .badPreparedData(file: shard, reason: "has 3 bytes, the manifest says 10000"))
        }
        try FileManager.default.removeItem(atPath: shard)
        XCTAssertThrowsError(try PreparedData(directory: output)) { XCTAssertEqual($0 as? DataError, .fileNotFound(file: shard)) }
    }
}
