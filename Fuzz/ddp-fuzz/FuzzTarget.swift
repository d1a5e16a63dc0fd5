@testable import Checkpoint
@testable import DataPipeline
import Foundation
@testable import Inference
@testable import RunConfig
@testable import Serving

/// The parsers that read what users and files hand us, each fed arbitrary
/// bytes by libFuzzer: every input must end in a value or a thrown error,
/// never a trap, an overflow, or an out-of-bounds access (AddressSanitizer
/// is on in the fuzz build).
///
/// One executable holds every target; `DDP_FUZZ_TARGET` picks one, so that
/// `launch/fuzz.sh` builds once and runs each with its own corpus.
enum FuzzTarget: String, CaseIterable {
    case safetensors
    case trainerState = "trainer-json"
    case idx
    case png
    case csv
    case config
    case predictRequest = "predict-request"
    case manifest
    case jpeg

    /// Runs the parser on `bytes`; errors are the expected outcome for most inputs.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .safetensors:
            // The readers take paths (they stream tensors from the file), so the input goes to memory-backed storage.
            let path = FuzzScratch.write(bytes, name: "model.safetensors")
            if let file = try? SafetensorsFile(path: path) {
                for name in file.names {
                    guard let tensor = try? file.tensor(name), tensor.count <= 1 << 16 else { continue }
                    var values = [Float](repeating: 0, count: tensor.count)
                    values.withUnsafeMutableBufferPointer { buffer in
                        if let base = buffer.baseAddress { try? file.read(name, elements: 0..<tensor.count, into: base) }
                    }
                }
            }
            if let typed = try? SafetensorsFile(path: path, dtypes: [.f32, .i8]) {
                for (name, found) in typed.tensors where found.count <= 1 << 16 {
                    _ = found.dtype == .f32 ? try? typed.floats(name).count : try? typed.int8s(name).count
                }
            }
            _ = try? CheckpointReport.inspect(path)
        case .trainerState:
            _ = try? TrainerState.decode(Data(bytes), path: "trainer.json")
        case .idx:
            for rank in 1...3 { _ = try? IDXFile(bytes: bytes, rank: rank, file: "fuzz.idx") }
            _ = try? ImageBatch.decodeIDX(bytes, source: "fuzz.idx")
            _ = try? ImageBatch.decodePGM(bytes, source: "fuzz.pgm")
        case .png:
            _ = try? PNGDecoder.decode(bytes, source: "fuzz.png")
        case .csv:
            guard let text = String(bytes: bytes, encoding: .utf8) else { return }
            for header in [CSVHeader.automatic, .none] {
                if let table = try? CSVTable(parsing: text, file: "fuzz.csv", header: header) {
                    _ = try? TabularDataset(table: table, labelColumn: -1, classCount: nil)
                    _ = try? TabularDataset(table: table, labelColumn: 0, classCount: nil)
                }
            }
        case .config:
            // The YAML, then `--set` overrides, one a line, after a line of `---set`.
            guard let text = String(bytes: bytes, encoding: .utf8) else { return }
            let parts = text.components(separatedBy: "\n---set\n")
            let overrides = parts.count > 1 ? parts[1].split(separator: "\n").map(String.init) : []
            _ = try? ResolvedConfig.parse(yaml: parts[0], source: "fuzz.yaml", overrides: overrides)
        case .manifest:
            // A manifest.json beside two small shard files, whose sizes it may or may not describe.
            _ = FuzzScratch.write(bytes, name: "manifest.json")
            _ = FuzzScratch.write([UInt8](repeating: 7, count: 64), name: "shard-00000.bin")
            _ = FuzzScratch.write([UInt8](repeating: 0, count: 16), name: "shard-00000.labels")
            if let data = try? PreparedData(directory: FuzzScratch.directory) {
                switch data.manifest.kind {
                case .text:
                    if let context = [1, 3].first(where: { $0 < data.manifest.count }) {
                        let windows = PreparedTokenWindows(data, range: 0..<data.manifest.count, contextLength: context)
                        for i in 0..<min(windows.count, 4) { _ = windows.sample(i) }
                    }
                case .images:
                    if let images = try? PreparedImages(data) { for i in 0..<min(images.count, 4) { _ = images.sample(i) } }
                case .table:
                    if let table = try? PreparedTable(data) { for i in 0..<min(table.count, 4) { _ = table.sample(i) } }
                }
            }
        case .jpeg:
            // Fitting is linear in the image's pixels: large ones are left to the decoder's own checks.
            if let image = try? JPEGImage.decode(bytes, source: "fuzz.jpg"), image.width * image.height <= 1 << 16 {
                _ = image.planar(channels: 3, height: 7, width: 5, fit: .crop)
            }
        case .predictRequest:
            let body = Data(bytes)
            for parser in [PredictRequestParser(maxBatch: 64, maxTokens: 256, sampleShape: [1, 28, 28], classes: 10),
                           PredictRequestParser(maxBatch: 64, maxTokens: 256, sampleShape: [4], classes: 3),
                           PredictRequestParser(maxBatch: 64, maxTokens: 256, sampleShape: [16], classes: 0)] {
                // The scanner's shortcut must read every body exactly as JSONSerialization's path does.
                let (fast, general) = (try? parser.parse(body), try? parser.parseGeneral(body))
                precondition(fast == general, "predict-request: the scanned body differs from the general parse")
            }
        }
    }

    /// The target `DDP_FUZZ_TARGET` names; the process stops with the list when it names none.
    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["DDP_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("ddp-fuzz: set DDP_FUZZ_TARGET to one of \(allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        return target
    }()
}

/// A file in memory-backed storage, rewritten for each input.
enum FuzzScratch {
    static let directory: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = base + "/ddp-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func write(_ bytes: [UInt8], name: String) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTarget.selected.run(bytes)
    return 0
}
