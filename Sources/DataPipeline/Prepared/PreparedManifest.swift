import Foundation

/// The `manifest.json` of a prepared data set: what `ddp prepare` wrote,
/// and everything a run needs to read it without looking at the raw data.
///
/// The format is documented in `docs/prepared-data.md`. Keys are snake case
/// on disk; ``PreparedManifest/load(directory:)`` checks the format and
/// version, and the sizes of the shards against the files.
public struct PreparedManifest: Codable, Equatable, Sendable {
    /// Always ``formatName``.
    public var format: String
    /// ``currentVersion`` when written by this build.
    public var version: Int
    /// `text`, `images` or `table`.
    public var kind: Kind
    /// Tokens (text) or samples (images, tables) over all shards.
    public var count: Int
    /// Tokens or samples per shard; every shard but the last holds exactly this many.
    public var shardCount: Int
    /// The shards, in order.
    public var shards: [Shard]
    /// What the data came from, and the command's options.
    public var source: Source
    public var text: TextInfo?
    public var images: ImageInfo?
    public var table: TableInfo?

    public init(kind: Kind, count: Int, shardCount: Int, shards: [Shard], source: Source,
                text: TextInfo? = nil, images: ImageInfo? = nil, table: TableInfo? = nil) {
        (format, version) = (Self.formatName, Self.currentVersion)
        (self.kind, self.count, self.shardCount, self.shards, self.source) = (kind, count, shardCount, shards, source)
        (self.text, self.images, self.table) = (text, images, table)
    }

    public static let formatName = "swift-ddp-prepared"
    public static let currentVersion = 1
    public static let fileName = "manifest.json"

    public enum Kind: String, Codable, Sendable { case text, images, table }

    /// One shard: its data file and, for labelled kinds, its labels file.
    public struct Shard: Codable, Equatable, Sendable {
        /// Tokens or samples in this shard.
        public var count: Int
        public var data: FileEntry
        /// `uint32` little-endian class ids, one per sample (images, tables).
        public var labels: FileEntry?

        public init(count: Int, data: FileEntry, labels: FileEntry?) {
            (self.count, self.data, self.labels) = (count, data, labels)
        }
    }

    /// A file of the data set: its name in the directory, size and SHA-256.
    public struct FileEntry: Codable, Equatable, Sendable {
        public var file: String
        public var bytes: Int
        public var sha256: String

        public init(file: String, bytes: Int, sha256: String) {
            (self.file, self.bytes, self.sha256) = (file, bytes, sha256)
        }
    }

    public struct Source: Codable, Equatable, Sendable {
        /// The input paths as given.
        public var inputs: [String]
        /// Bytes read from them.
        public var bytes: Int
        /// The `ddp prepare` options that shaped the output.
        public var options: [String: String]

        public init(inputs: [String], bytes: Int, options: [String: String]) {
            (self.inputs, self.bytes, self.options) = (inputs, bytes, options)
        }
    }

    public struct TextInfo: Codable, Equatable, Sendable {
        /// `uint16` or `uint32`, little-endian.
        public var dtype: TokenDType
        public var vocabularySize: Int
        public var tokenizer: TokenizerInfo

        public init(dtype: TokenDType, vocabularySize: Int, tokenizer: TokenizerInfo) {
            (self.dtype, self.vocabularySize, self.tokenizer) = (dtype, vocabularySize, tokenizer)
        }
    }

    /// `uint16` holds vocabularies up to 65,536 tokens.
    public enum TokenDType: String, Codable, Sendable {
        case uint16, uint32
        public var size: Int { self == .uint16 ? 2 : 4 }
    }

    public struct TokenizerInfo: Codable, Equatable, Sendable {
        /// `characters` or `sentencepiece`.
        public var kind: TokenizerKind
        /// The characters in id order (character tokenizers).
        public var characters: String?
        /// The SentencePiece model beside the shards (subword tokenizers).
        public var model: FileEntry?
        /// `bpe` or `unigram` (subword tokenizers).
        public var algorithm: String?

        public init(kind: TokenizerKind, characters: String?, model: FileEntry?, algorithm: String?) {
            (self.kind, self.characters, self.model, self.algorithm) = (kind, characters, model, algorithm)
        }
    }

    public enum TokenizerKind: String, Codable, Sendable { case characters, sentencepiece }

    public struct ImageInfo: Codable, Equatable, Sendable {
        /// `[channels, height, width]`, stored as `uint8` in that order.
        public var shape: [Int]
        /// Class names in id order (the subfolder names, sorted).
        public var classes: [String]
        /// How images of other sizes were fitted.
        public var fit: ImageFit
        /// Files that could not be decoded and were left out (with `--skip-corrupt`).
        public var skipped: [SkippedFile]

        public init(shape: [Int], classes: [String], fit: ImageFit, skipped: [SkippedFile]) {
            (self.shape, self.classes, self.fit, self.skipped) = (shape, classes, fit, skipped)
        }
    }

    public struct SkippedFile: Codable, Equatable, Sendable {
        public var file: String
        public var reason: String

        public init(file: String, reason: String) {
            (self.file, self.reason) = (file, reason)
        }
    }

    public struct TableInfo: Codable, Equatable, Sendable {
        /// Features per sample, stored as `float32`.
        public var features: Int
        /// The feature columns' names (from the header, or `column_N`).
        public var columns: [String]
        /// Class names in id order: the label column's values.
        public var classes: [String]
        /// Per-feature statistics over every sample, for standardization.
        public var mean: [Double]
        public var std: [Double]
        public var minimum: [Double]
        public var maximum: [Double]

        public init(features: Int, columns: [String], classes: [String], mean: [Double], std: [Double],
                    minimum: [Double], maximum: [Double]) {
            (self.features, self.columns, self.classes) = (features, columns, classes)
            (self.mean, self.std, self.minimum, self.maximum) = (mean, std, minimum, maximum)
        }
    }

    /// Reads and checks `directory/manifest.json` and the shard files' sizes.
    ///
    /// - Throws: ``DataError`` naming the manifest or the shard that is wrong.
    public static func load(directory: String) throws -> PreparedManifest {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: directory + ".partial") {
                throw DataError.badPreparedData(file: directory, reason: "preparation did not finish; run ddp prepare again to resume it")
            }
            throw DataError.fileNotFound(file: path)
        }
        let manifest: PreparedManifest
        do {
            manifest = try decoder.decode(PreparedManifest.self, from: data)
        } catch let error as DecodingError {
            throw DataError.badPreparedData(file: path, reason: describe(error))
        }
        try manifest.check(path: path, directory: directory)
        return manifest
    }

    /// The manifest as written to disk: sorted keys, snake case.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// The product of numbers read from a file, or -1 if one is negative or
    /// it overflows: the checks compare it, they must not trap on it.
    private static func product(_ factors: [Int]) -> Int {
        var result = 1
        for factor in factors {
            let (p, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow || factor < 0 { return -1 }
            result = p
        }
        return result
    }

    private func check(path: String, directory: String) throws {
        func bad(_ reason: String) -> DataError { .badPreparedData(file: path, reason: reason) }
        guard format == Self.formatName else { throw bad("format is \(format.debugDescription), expected \(Self.formatName)") }
        guard version == Self.currentVersion else {
            throw bad("format version \(version) is not \(Self.currentVersion), the one this build reads")
        }
        guard shardCount > 0, !shards.isEmpty, count > 0 else { throw bad("it holds no data") }
        let product = Self.product
        let full = product([shardCount, shards.count - 1])
        guard full >= 0, full < count else { throw bad("\(shards.count) shards of \(shardCount) do not hold \(count)") }
        for (i, shard) in shards.enumerated() {
            guard shard.count == (i == shards.count - 1 ? count - full : shardCount),
                  shard.count > 0, shard.count <= shardCount else {
                throw bad("shard \(i) holds \(shard.count), which does not fit \(count) in shards of \(shardCount)")
            }
        }
        switch kind {
        case .text:
            guard let text else { throw bad("kind text without a text section") }
            guard text.vocabularySize >= 1, text.vocabularySize <= (text.dtype == .uint16 ? 1 << 16 : Int(Int32.max)) else {
                throw bad("vocabulary size \(text.vocabularySize) does not fit \(text.dtype.rawValue)")
            }
            if let shard = Self.firstMisfit(shards, bytesPerItem: text.dtype.size, labelled: false) {
                throw bad("\(shard.data.file) is listed with \(shard.data.bytes) bytes for \(shard.count) tokens")
            }
        case .images:
            guard let images, images.shape.count == 3, images.shape.allSatisfy({ $0 > 0 }), !images.classes.isEmpty else {
                throw bad("kind images without a [channels, height, width] shape and classes")
            }
            let sampleBytes = product(images.shape)
            guard sampleBytes > 0 else { throw bad("images of \(images.shape) are too large") }
            if let shard = Self.firstMisfit(shards, bytesPerItem: sampleBytes, labelled: true) {
                throw bad("\(shard.data.file) is listed with sizes that do not fit \(shard.count) images of \(images.shape)")
            }
        case .table:
            guard let table, table.features > 0, !table.classes.isEmpty,
                  [table.mean, table.std, table.minimum, table.maximum].allSatisfy({ $0.count == table.features }) else {
                throw bad("kind table without its features, classes and statistics")
            }
            if let shard = Self.firstMisfit(shards, bytesPerItem: product([table.features, 4]), labelled: true) {
                throw bad("\(shard.data.file) is listed with sizes that do not fit \(shard.count) rows of \(table.features) features")
            }
        }
        try Self.checkSizes(of: shards.flatMap { [$0.data] + ($0.labels.map { [$0] } ?? []) }, in: directory)
    }

    /// The first shard whose listed data (and, when `labelled`, label) bytes
    /// do not match its count; nil if all do.
    private static func firstMisfit(_ shards: [Shard], bytesPerItem: Int, labelled: Bool) -> Shard? {
        for index in shards.indices {
            let count = shards[index].count
            let dataBytes = product([count, bytesPerItem])
            let labelBytes = labelled ? product([count, 4]) : nil
            if bytesPerItem < 0 || shards[index].data.bytes != dataBytes || shards[index].labels?.bytes != labelBytes {
                return shards[index]
            }
        }
        return nil
    }

    /// Checks that each listed file exists with the listed size.
    private static func checkSizes(of entries: [FileEntry], in directory: String) throws {
        for entry in entries {
            let file = directory + "/" + entry.file
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: file) else {
                throw DataError.fileNotFound(file: file)
            }
            let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
            guard size == entry.bytes else {
                throw DataError.badPreparedData(file: file, reason: "has \(size) bytes, the manifest says \(entry.bytes)")
            }
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let at = context.codingPath.map(\.stringValue).joined(separator: ".")
            return at.isEmpty ? "not a manifest: \(context.debugDescription)" : "bad value at \(at): \(context.debugDescription)"
        @unknown default:
            return "not a manifest"
        }
    }
}
