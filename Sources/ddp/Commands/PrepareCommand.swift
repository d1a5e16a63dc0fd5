import ArgumentParser
import DataPipeline
import DataPreparation
import Foundation
import Training

/// `ddp prepare`: raw data to the shards a run memory-maps (`data.dataset: prepared`).
struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Turn text, an image folder or a CSV file into shards that training memory-maps.",
        discussion: """
            The output directory holds shard-NNNNN.bin files (and .labels for images and tables), a
            manifest.json and, for subword text, tokenizer.model; docs/prepared-data.md describes the
            format. It is written as OUTPUT.partial and renamed when complete: rerunning an interrupted
            command resumes after its last whole shard. Train on it with
              data: {dataset: prepared, path: OUTPUT}
            Exits 2 for bad input (naming the file, line or option), 74 when the file system fails.
            """,
        subcommands: [PrepareText.self, PrepareImages.self, PrepareTable.self, PrepareVerify.self]
    )
}

/// The configuration of a `ddp prepare` subcommand.
private func prepareSubcommand(_ name: String, _ abstract: String, _ discussion: String) -> CommandConfiguration {
    CommandConfiguration(commandName: name, abstract: abstract, discussion: discussion)
}

/// Options every `ddp prepare` subcommand takes.
struct PrepareOutputOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "The data set directory to create.")
    var output: String

    @Flag(name: .long, help: "No progress output.")
    var quiet = false
}

/// Runs `body`; a preparation's error is one line on standard error and
/// exit code 2 (bad input) or 74 (the file system failed).
private func exitOnPrepareError(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as PrepareError {
        printError(error.description)
        throw ExitCode(error.isBadInput ? JobExitCode.userError : JobExitCode.ioFailure)
    } catch let error as DataError {
        printError(error.description)
        throw ExitCode(JobExitCode.userError)
    }
}

/// Runs a preparation and prints its summary.
private func runPreparation(_ output: PrepareOutputOptions, _ body: () throws -> PreparedManifest) throws {
    let start = Date()
    try exitOnPrepareError {
        let manifest = try body()
        let seconds = Date().timeIntervalSince(start)
        let megabytes = Double(manifest.source.bytes) / 1e6
        let what: String
        switch manifest.kind {
        case .text:
            what = "\(manifest.count) tokens (vocabulary \(manifest.text!.vocabularySize), \(manifest.text!.dtype.rawValue))"
        case .images:
            let info = manifest.images!
            what = "\(manifest.count) images of \(info.shape) in \(info.classes.count) classes"
                + (info.skipped.isEmpty ? "" : ", \(info.skipped.count) corrupt files skipped")
        case .table:
            what = "\(manifest.count) rows of \(manifest.table!.features) features, \(manifest.table!.classes.count) classes"
        }
        print(String(format: "prepared %@ in %d shards from %.2f MB in %.1f s (%.1f MB/s) -> %@", what,
                     manifest.shards.count, megabytes, seconds, megabytes / max(seconds, 1e-9), output.output))
    }
}

struct PrepareText: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "text",
        abstract: "UTF-8 files (or directories of them, read in path order) to token shards.",
        discussion: """
            --tokenizer characters gives one token per character, the sorted characters of the corpus.
            --tokenizer sentencepiece trains a BPE or unigram model on a sample of the corpus, saved as
            tokenizer.model; it keeps text exactly (no normalization, bytes for unseen characters).
            """
    )

    @Argument(help: "Text files or directories.")
    var inputs: [String]

    @OptionGroup var output: PrepareOutputOptions

    @Option(name: .long, help: "characters or sentencepiece.")
    var tokenizer = "characters"

    @Option(name: .customLong("vocabulary-size"), help: "SentencePiece pieces (300 or more).")
    var vocabularySize = 4000

    @Option(name: .long, help: "SentencePiece algorithm: bpe or unigram.")
    var algorithm = "bpe"

    @Option(name: .long, help: "uint16 or uint32; default the smallest that holds the vocabulary.")
    var dtype: String?

    @Option(name: .customLong("shard-tokens"), help: "Tokens per shard.")
    var shardTokens = 1 << 26

    @Option(name: .customLong("sample-mb"), help: "Megabytes of the corpus, spread over it, that train a SentencePiece model.")
    var sampleMegabytes = 64

    func run() throws {
        try runPreparation(output) {
            var options = TextPreparation.Options()
            options.quiet = output.quiet
            switch tokenizer {
            case "characters": options.tokenizer = .characters
            case "sentencepiece": options.tokenizer = .sentencePiece(vocabularySize: vocabularySize, algorithm: algorithm)
            default: throw PrepareError.invalid("--tokenizer \(tokenizer) is not characters or sentencepiece")
            }
            if let dtype {
                guard let parsed = PreparedManifest.TokenDType(rawValue: dtype) else {
                    throw PrepareError.invalid("--dtype \(dtype) is not uint16 or uint32")
                }
                options.dtype = parsed
            }
            guard sampleMegabytes >= 1 else { throw PrepareError.invalid("--sample-mb must be at least 1") }
            options.shardTokens = shardTokens
            options.sampleBytes = sampleMegabytes << 20
            return try TextPreparation.prepare(inputs: inputs, output: output.output, options: options)
        }
    }
}

struct PrepareImages: ParsableCommand {
    static let configuration = prepareSubcommand(
        "images", "A folder of class subfolders of PNG and JPEG files to uint8 image shards.",
        "Classes are the subfolder names, sorted. A file that cannot be decoded stops the run, naming it, unless --skip-corrupt.")

    @Argument(help: "The folder with one subfolder per class.")
    var folder: String

    @OptionGroup var output: PrepareOutputOptions

    @Option(name: .long, help: "HEIGHTxWIDTH, or one number for a square; default the first image's size.")
    var size: String?

    @Option(name: .long, help: "1 (gray) or 3 (RGB); default the first image's.")
    var channels: Int?

    @Option(name: .long, help: "crop (scale to cover, cut the centre) or resize (stretch).")
    var fit = "crop"

    @Flag(name: .customLong("skip-corrupt"), help: "Leave out undecodable files (listed in the manifest) instead of stopping.")
    var skipCorrupt = false

    @Option(name: .customLong("shard-images"), help: "Images per shard; default about 64 MB a shard.")
    var shardImages: Int?

    func run() throws {
        try runPreparation(output) {
            var options = ImagePreparation.Options()
            options.quiet = output.quiet
            if let size {
                let parts = size.split(separator: "x").map { Int($0) }
                guard (parts.count == 1 || parts.count == 2), parts.allSatisfy({ $0 != nil && $0! > 0 }) else {
                    throw PrepareError.invalid("--size \(size) is not HEIGHTxWIDTH or one positive number")
                }
                options.size = (parts[0]!, parts.last!!)
            }
            guard let parsedFit = ImageFit(rawValue: fit) else { throw PrepareError.invalid("--fit \(fit) is not crop or resize") }
            (options.channels, options.fit, options.skipCorrupt, options.shardImages) = (channels, parsedFit, skipCorrupt, shardImages)
            return try ImagePreparation.prepare(folder: folder, output: output.output, options: options)
        }
    }
}

struct PrepareTable: ParsableCommand {
    static let configuration = prepareSubcommand(
        "table", "A CSV file of any size, streamed to float32 feature shards with per-feature statistics.",
        "The first line is a header when a field of it is not a number. Labels are non-negative integers.")

    @Argument(help: "The CSV file.")
    var file: String

    @OptionGroup var output: PrepareOutputOptions

    @Option(name: .customLong("label-column"), help: "The label's column; negative counts from the end.")
    var labelColumn = -1

    @Option(name: .customLong("shard-rows"), help: "Rows per shard; default about 64 MB a shard.")
    var shardRows: Int?

    func run() throws {
        try runPreparation(output) {
            var options = TablePreparation.Options()
            (options.labelColumn, options.shardRows, options.quiet) = (labelColumn, shardRows, output.quiet)
            return try TablePreparation.prepare(file: file, output: output.output, options: options)
        }
    }
}

struct PrepareVerify: ParsableCommand {
    static let configuration = prepareSubcommand(
        "verify", "Check a prepared data set's checksums and, with --against, that its tokens decode to the corpus.",
        "Exits 0 when everything holds, 2 naming the first file that does not.")

    @Argument(help: "The prepared data set directory.")
    var directory: String

    @Option(name: .long, parsing: .upToNextOption, help: "The text inputs it was prepared from (text data sets).")
    var against: [String] = []

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        let start = Date()
        try exitOnPrepareError {
            let report = try PreparedVerification.verify(directory: directory, against: against.isEmpty ? nil : against, quiet: quiet)
            let seconds = Date().timeIntervalSince(start)
            var line = String(format: "verified %d files (%.1f MB) against their SHA-256", report.filesChecked,
                              Double(report.bytesChecked) / 1e6)
            if let compared = report.textBytesCompared {
                line += String(format: "; the tokens decode to the %.1f MB of text exactly", Double(compared) / 1e6)
            }
            print(line + String(format: " (%.1f s)", seconds))
        }
    }
}
