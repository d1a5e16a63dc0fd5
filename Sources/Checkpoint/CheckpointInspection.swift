import Foundation

/// What `ddp inspect` shows of a checkpoint: its tensors, its trainer state,
/// and whether each file still matches its recorded size and SHA-256.
public struct CheckpointReport: Codable, Sendable {
    /// One stored tensor.
    public struct TensorEntry: Codable, Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        /// The safetensors dtype (`F32`, or e.g. `I8` in a compressed checkpoint).
        public var dtype: String
        public var bytes: Int
    }

    /// One file's integrity check.
    public struct FileCheck: Codable, Sendable, Equatable {
        public var name: String
        public var recordedBytes: Int
        /// `ok`, `missing`, `wrong size (N bytes)` or `checksum mismatch`.
        public var status: String
        public var ok: Bool { status == "ok" }
    }

    /// The checkpoint directory, or the safetensors file inspected alone.
    public var path: String
    /// The tensors of `model.safetensors` (or of the file), in file order.
    public var tensors: [TensorEntry]
    /// The `__metadata__` of that file.
    public var metadata: [String: String]
    /// The tensors of `optimizer.safetensors`, counted, when present.
    public var optimizerTensors: Int?
    /// The trainer state, when there is a readable `trainer.json`.
    public var state: TrainerState?
    /// Why `trainer.json` could not be read, when it could not.
    public var stateProblem: String?
    /// One check per file `trainer.json` records.
    public var files: [FileCheck]

    /// Whether every recorded file is present and matches.
    public var checksumsHold: Bool { state != nil && files.allSatisfy(\.ok) }

    /// Inspects `path`: a checkpoint directory, a run (or `checkpoints`)
    /// directory, meaning its newest checkpoint whether valid or not, or a
    /// single `.safetensors` file.
    ///
    /// Damage is reported, not thrown: the point is to look at a checkpoint
    /// that may be broken.
    ///
    /// - Throws: ``CheckpointError/notACheckpoint(path:reason:)`` when `path`
    ///   holds no checkpoint at all, or ``CheckpointError`` when the model file
    ///   is not a safetensors file.
    public static func inspect(_ path: String) throws -> CheckpointReport {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError.notACheckpoint(path: path, reason: "no such file or directory")
        }
        if !isDirectory.boolValue {
            let header = try SafetensorsHeader(path: url.path)
            // A lone file has no recorded digest; its own header says how long it must be.
            return CheckpointReport(path: url.path, tensors: header.tensors, metadata: header.metadata,
                                    optimizerTensors: nil, state: nil, stateProblem: nil,
                                    files: [layoutCheck(url.path, name: url.lastPathComponent)])
        }
        let directory = try checkpointDirectory(url, path: path)
        var report = CheckpointReport(path: directory.path, tensors: [], metadata: [:], optimizerTensors: nil,
                                      state: nil, stateProblem: nil, files: [])
        let statePath = directory.appendingPathComponent(CheckpointStore.stateFile).path
        if let data = FileManager.default.contents(atPath: statePath) {
            do {
                report.state = try TrainerState.decode(data, path: statePath)
            } catch {
                report.stateProblem = "\(error)"
            }
        } else {
            report.stateProblem = "\(statePath): missing"
        }
        for (name, record) in (report.state?.files ?? [:]).sorted(by: { $0.key < $1.key }) {
            let filePath = directory.appendingPathComponent(name).path
            let status: String
            do {
                let (digest, bytes) = try sha256OfFile(filePath)
                status = bytes != record.bytes ? "wrong size (\(bytes) bytes)" : digest == record.sha256 ? "ok" : "checksum mismatch"
            } catch CheckpointError.missingFile {
                status = "missing"
            }
            report.files.append(FileCheck(name: name, recordedBytes: record.bytes, status: status))
        }
        // trainer.json cannot record its own digest; SHA256SUMS lists every file, itself aside.
        let sumsPath = directory.appendingPathComponent(CheckpointStore.checksumsFile).path
        if let sums = FileManager.default.contents(atPath: sumsPath) {
            for line in String(decoding: sums, as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else {
                    report.files.append(FileCheck(name: CheckpointStore.checksumsFile, recordedBytes: 0, status: "malformed line"))
                    continue
                }
                let expected = String(parts[0]), name = parts[1].trimmingCharacters(in: .whitespaces)
                let status: String
                var bytes = 0
                do {
                    let (digest, size) = try sha256OfFile(directory.appendingPathComponent(name).path)
                    bytes = size
                    status = digest == expected ? "ok" : "checksum mismatch"
                } catch {
                    status = "missing"
                }
                report.files.append(FileCheck(name: "\(name) (\(CheckpointStore.checksumsFile))", recordedBytes: bytes, status: status))
            }
        }
        let modelPath = directory.appendingPathComponent(CheckpointStore.modelFile).path
        if FileManager.default.fileExists(atPath: modelPath) {
            let header = try SafetensorsHeader(path: modelPath)
            report.tensors = header.tensors
            report.metadata = header.metadata
        }
        let optimizerPath = directory.appendingPathComponent(CheckpointStore.optimizerFile).path
        if FileManager.default.fileExists(atPath: optimizerPath) {
            report.optimizerTensors = (try? SafetensorsHeader(path: optimizerPath))?.tensors.count
        }
        return report
    }

    /// Whether the safetensors file at `path` is as long as its header says,
    /// its tensors tiling the data, as a file check named `name`.
    private static func layoutCheck(_ path: String, name: String) -> FileCheck {
        do {
            let file = try CheckedSafetensors(path: path) { entry in
                guard let size = safetensorsElementSize(entry.dtype) else {
                    throw CheckpointError.malformed(path: path, reason: "tensor \(entry.name): unknown dtype \(entry.dtype)")
                }
                return size
            }
            close(file.fd)
            return FileCheck(name: name, recordedBytes: file.fileSize, status: "ok")
        } catch CheckpointError.wrongSize(_, let expected, let actual) {
            return FileCheck(name: name, recordedBytes: expected, status: "wrong size (\(actual) bytes)")
        } catch {
            return FileCheck(name: name, recordedBytes: 0, status: "\(error)")
        }
    }

    /// The checkpoint `url` names: itself, or the newest under a run or `checkpoints` directory.
    private static func checkpointDirectory(_ url: URL, path: String) throws -> URL {
        if CheckpointLocator.isCheckpointDirectory(url) { return url }
        let nested = url.appendingPathComponent("checkpoints")
        let store = FileManager.default.fileExists(atPath: nested.path) ? CheckpointStore(root: nested) : CheckpointStore(root: url)
        guard let newest = store.list().first else {
            throw CheckpointError.notACheckpoint(path: path, reason: "no trainer.json here and no step-XXXXXXXX checkpoint under it")
        }
        return newest.url
    }
}

/// The header of a safetensors file of any dtype: what inspection lists,
/// including the integer tensors of compressed checkpoints that
/// ``SafetensorsFile`` (a Float32 reader) does not accept.
struct SafetensorsHeader {
    var tensors: [CheckpointReport.TensorEntry]
    var metadata: [String: String]

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CheckpointError.missingFile(path) }
        defer { try? handle.close() }
        func malformed(_ reason: String) -> CheckpointError { .malformed(path: path, reason: reason) }
        let prefix = handle.readData(ofLength: 8)
        guard prefix.count == 8 else { throw malformed("shorter than the 8-byte header length") }
        let length = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length <= 100_000_000 else { throw malformed("header length \(length) is implausible") }
        let header = handle.readData(ofLength: Int(length))
        guard header.count == Int(length),
              let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw malformed("not a safetensors file (the header is not a JSON object)")
        }
        let (entries, rawMetadata) = try safetensorsHeaderEntries(object, path: path)
        metadata = ((rawMetadata as? [String: Any]) ?? [:]).mapValues { "\($0)" }
        for entry in entries where entry.end < entry.begin
            || tensorByteCount(shape: entry.shape, elementSize: safetensorsElementSize(entry.dtype) ?? 1) == nil {
            throw malformed("tensor \(entry.name): data_offsets [\(entry.begin), \(entry.end)] do not fit \(entry.dtype) \(entry.shape)")
        }
        tensors = entries.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }.map {
            CheckpointReport.TensorEntry(name: $0.name, shape: $0.shape, dtype: $0.dtype, bytes: $0.end - $0.begin)
        }
    }
}
