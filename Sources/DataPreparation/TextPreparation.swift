import DataPipeline
import Foundation

/// `ddp prepare text`: UTF-8 files to token shards, with a character or a
/// SentencePiece tokenizer saved beside them.
public enum TextPreparation {
    /// What the tokens are.
    public enum Tokenizer: Equatable, Sendable {
        /// One token per Unicode scalar, the sorted characters of the corpus (as the built-in Shakespeare).
        case characters
        /// A SentencePiece model trained on (a sample of) the corpus.
        case sentencePiece(vocabularySize: Int, algorithm: String)
    }

    public struct Options: Sendable {
        public var tokenizer: Tokenizer = .characters
        /// `nil` picks `uint16` when the vocabulary fits, else `uint32`.
        public var dtype: PreparedManifest.TokenDType?
        /// Tokens per shard.
        public var shardTokens = 1 << 26
        /// Bytes of the corpus, spread over it, that train a SentencePiece model.
        public var sampleBytes = 64 << 20
        public var quiet = false
        /// A test hook: fail once this many shards are written, leaving a partial run to resume.
        public var stopAfterShards: Int?

        public init() {}
    }

    /// Where the token stream stands after a shard.
    struct Cursor: Codable, Equatable {
        /// The chunk holding the next token.
        var next: TextChunks.Position
        /// Tokens of that chunk already written.
        var skip: Int
        /// Tokens written so far.
        var tokens: Int
        /// The character tokenizer's characters, in id order.
        var characters: String?
    }

    /// Prepares `inputs` (files or directories) into `output`.
    ///
    /// - Returns: The manifest written.
    /// - Throws: ``PrepareError`` for bad options or inputs, and file system failures.
    public static func prepare(inputs: [String], output: String, options: Options) throws -> PreparedManifest {
        let chunks = try wrapped { try TextChunks(inputs: inputs) }
        var optionTable = ["tokenizer": "characters", "shard_tokens": "\(options.shardTokens)"]
        if case .sentencePiece(let size, let algorithm) = options.tokenizer {
            guard ["bpe", "unigram"].contains(algorithm) else {
                throw PrepareError.invalid("--algorithm \(algorithm) is not bpe or unigram")
            }
            guard size >= 300, size <= 1 << 20 else {
                throw PrepareError.invalid("--vocabulary-size \(size) is outside 300...1048576 (a SentencePiece model holds 259 byte and special pieces)")
            }
            optionTable = ["tokenizer": "sentencepiece", "vocabulary_size": "\(size)", "algorithm": algorithm,
                           "shard_tokens": "\(options.shardTokens)", "sample_bytes": "\(options.sampleBytes)"]
        }
        if let dtype = options.dtype { optionTable["dtype"] = dtype.rawValue }
        guard options.shardTokens >= 1 else { throw PrepareError.invalid("--shard-tokens must be at least 1") }
        let out = try ShardedOutput<Cursor>(output: output, inputs: Dictionary(uniqueKeysWithValues: zip(chunks.files, chunks.sizes)),
                                            options: optionTable)
        out.stopAfterShards = options.stopAfterShards

        // The tokenizer: found in the cursor or the partial directory when resuming.
        let tokenizer: TextTokenizer
        var tokenizerInfo: PreparedManifest.TokenizerInfo
        var characters: String?
        switch options.tokenizer {
        case .characters:
            characters = try out.cursor?.characters ?? scanCharacters(chunks, quiet: options.quiet)
            let vocabulary = try wrapped { try CharacterVocabulary(serialized: characters!) }
            tokenizer = CharacterTokenizer(vocabulary)
            tokenizerInfo = .init(kind: .characters, characters: characters, model: nil, algorithm: nil)
        case .sentencePiece(let size, let algorithm):
            let modelPath = out.partial + "/tokenizer.model"
            if !FileManager.default.fileExists(atPath: modelPath) {
                try trainSentencePiece(chunks, modelPath: modelPath, vocabularySize: size, algorithm: algorithm, options: options)
            }
            tokenizer = try wrapped { try SentencePieceTokenizer(path: modelPath) }
            let (digest, bytes) = try wrapped { try hashFile(modelPath) }
            tokenizerInfo = .init(kind: .sentencepiece, characters: nil,
                                  model: .init(file: "tokenizer.model", bytes: bytes, sha256: digest), algorithm: algorithm)
        }
        let vocabularySize = tokenizer.vocabularySize
        let dtype = options.dtype ?? (vocabularySize <= 1 << 16 ? .uint16 : .uint32)
        guard dtype == .uint32 || vocabularySize <= 1 << 16 else {
            throw PrepareError.invalid("a vocabulary of \(vocabularySize) tokens does not fit uint16; use --dtype uint32")
        }

        // The tokens, shard by shard, from where a previous run stopped.
        let meter = ProgressMeter(total: chunks.totalBytes, label: "text", quiet: options.quiet)
        var cursor = out.cursor ?? Cursor(next: .init(file: 0, offset: 0), skip: 0, tokens: 0, characters: characters)
        var writer: ShardFileWriter?
        var inShard = 0
        var wide: [UInt32] = [], narrow: [UInt16] = []
        func append(_ ids: ArraySlice<Int32>) throws {
            if writer == nil { writer = try out.writer("bin") }
            if dtype == .uint16 {
                narrow.removeAll(keepingCapacity: true)
                narrow.append(contentsOf: ids.lazy.map { UInt16(truncatingIfNeeded: $0).littleEndian })
                try narrow.withUnsafeBufferPointer { try writer!.append($0) }
            } else {
                wide.removeAll(keepingCapacity: true)
                wide.append(contentsOf: ids.lazy.map { UInt32(truncatingIfNeeded: $0).littleEndian })
                try wide.withUnsafeBufferPointer { try writer!.append($0) }
            }
            inShard += ids.count
        }
        func closeShard(next: Cursor) throws {
            let entry = try writer!.finish()
            try out.finish(.init(count: inShard, data: entry, labels: nil), cursor: next)
            (writer, inShard) = (nil, 0)
        }
        if cursor.next.file < chunks.files.count {
            let start = cursor
            // Chunks are encoded a few at a time on every core, then written in order.
            var pending: [(text: String, position: TextChunks.Position, next: TextChunks.Position)] = []
            let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
            func flush() throws {
                var encoded = [Result<[Int32], Error>](repeating: .success([]), count: pending.count)
                encoded.withUnsafeMutableBufferPointer { results in
                    DispatchQueue.concurrentPerform(iterations: pending.count) { i in
                        results[i] = Result { try tokenizer.encode(pending[i].text, file: chunks.files[pending[i].position.file]) }
                    }
                }
                for (chunk, result) in zip(pending, encoded) {
                    let ids = try wrapped { try result.get() }
                    var used = chunk.position == start.next ? start.skip : 0
                    while used < ids.count {
                        let take = min(ids.count - used, options.shardTokens - inShard)
                        try append(ids[used..<(used + take)])
                        used += take
                        cursor.tokens += take
                        if inShard == options.shardTokens {
                            let resume = used == ids.count ? Cursor(next: chunk.next, skip: 0, tokens: cursor.tokens, characters: characters)
                                : Cursor(next: chunk.position, skip: used, tokens: cursor.tokens, characters: characters)
                            try closeShard(next: resume)
                        }
                    }
                    let done = chunk.next.file < chunks.files.count ? chunk.next : .init(file: chunks.files.count, offset: 0)
                    meter.update(chunks.bytesBefore(done))
                }
                pending.removeAll()
            }
            try chunks.forEach(from: cursor.next) { text, position, next in
                pending.append((text, position, next))
                if pending.count == 2 * cores { try flush() }
                return true
            }
            try flush()
            if inShard > 0 {
                try closeShard(next: Cursor(next: .init(file: chunks.files.count, offset: 0), skip: 0, tokens: cursor.tokens,
                                            characters: characters))
            }
        }
        meter.update(chunks.totalBytes)
        meter.finish()
        guard cursor.tokens > 0 || !out.shards.isEmpty else { throw PrepareError.invalid("the text encodes to no tokens") }
        let total = out.shards.reduce(0) { $0 + $1.count }
        let manifest = PreparedManifest(
            kind: .text, count: total,
            shardCount: options.shardTokens, shards: out.shards,
            source: .init(inputs: inputs, bytes: chunks.totalBytes, options: optionTable),
            text: .init(dtype: dtype, vocabularySize: vocabularySize, tokenizer: tokenizerInfo), images: nil, table: nil)
        try out.publish(manifest)
        return manifest
    }

    /// The sorted distinct characters of the corpus, serialized.
    private static func scanCharacters(_ chunks: TextChunks, quiet: Bool) throws -> String {
        let meter = ProgressMeter(total: chunks.totalBytes, label: "characters", quiet: quiet)
        var seen = [Bool](repeating: false, count: 1 << 16)
        var wideSeen = Set<UInt32>()
        try chunks.forEach { text, _, next in
            for scalar in text.unicodeScalars {
                if scalar.value < 1 << 16 { seen[Int(scalar.value)] = true } else { wideSeen.insert(scalar.value) }
            }
            meter.update(next.file < chunks.files.count ? chunks.bytesBefore(next) : chunks.totalBytes)
            return true
        }
        meter.finish()
        var view = String.UnicodeScalarView()
        for value in 0..<(1 << 16) where seen[value] {
            if let scalar = Unicode.Scalar(UInt32(value)) { view.append(scalar) }
        }
        for value in wideSeen.sorted() { view.append(Unicode.Scalar(value)!) }
        return String(view)
    }

    /// Trains the SentencePiece model on chunks spread evenly over the corpus.
    private static func trainSentencePiece(_ chunks: TextChunks, modelPath: String, vocabularySize: Int, algorithm: String,
                                           options: Options) throws {
        // A directory of our own: SentencePiece takes its paths in one space-separated flag string.
        let scratch = NSTemporaryDirectory() + "/ddp-sentencepiece-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let samplePath = scratch + "/sample.txt"
        FileManager.default.createFile(atPath: samplePath, contents: nil)
        guard let sample = FileHandle(forWritingAtPath: samplePath) else { throw PrepareError.io(path: samplePath, reason: "cannot be written") }
        let every = max(1, chunks.totalBytes / max(options.sampleBytes, 1))
        var index = 0
        let meter = ProgressMeter(total: chunks.totalBytes, label: "sample", quiet: options.quiet)
        try chunks.forEach { text, _, next in
            if index % every == 0 {
                sample.write(Data(text.utf8))
                if !text.hasSuffix("\n") { sample.write(Data("\n".utf8)) }
            }
            index += 1
            meter.update(next.file < chunks.files.count ? chunks.bytesBefore(next) : chunks.totalBytes)
            return true
        }
        meter.finish()
        try sample.close()
        let start = Date()
        try wrapped {
            try SentencePieceTokenizer.train(sample: samplePath, modelPath: scratch + "/tokenizer.model",
                                             vocabularySize: vocabularySize, algorithm: algorithm)
        }
        if !options.quiet {
            FileHandle.standardError.write(Data(String(format: "prepare: trained a %@ tokenizer of %d pieces in %.1f s\n",
                                                       algorithm, vocabularySize, Date().timeIntervalSince(start)).utf8))
        }
        try FileManager.default.moveItem(atPath: scratch + "/tokenizer.model", toPath: modelPath)
    }
}

/// Runs `body`, reporting a ``DataError`` as ``PrepareError/data(_:)``.
func wrapped<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as DataError {
        throw PrepareError.data(error)
    }
}
