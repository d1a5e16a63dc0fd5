import DataPipeline
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The checkpoints of one run: `RUN_DIR/checkpoints/step-00001200/` holding
/// `model.safetensors`, `optimizer.safetensors` and `trainer.json`, and a
/// `latest` file naming the newest.
///
/// A checkpoint appears atomically: it is written into a hidden temporary
/// directory beside the others, every file and the directory are fsync'd,
/// and only then is it renamed into place and the parent fsync'd. A crash
/// at any moment leaves either the whole checkpoint or none (plus a stale
/// temporary directory, removed by the next ``prune(keepLast:keepEvery:)``).
/// `latest` is replaced by rename too, so it never names a half-written one.
public struct CheckpointStore: Sendable {
    /// `RUN_DIR/checkpoints`.
    public let root: URL

    /// The checkpoints of the run in `runDirectory`.
    public init(runDirectory: URL) {
        root = runDirectory.appendingPathComponent("checkpoints")
    }

    /// The store whose root is `root` itself.
    public init(root: URL) {
        self.root = root
    }

    public static let modelFile = "model.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let stateFile = "trainer.json"
    /// The SentencePiece model of a run on prepared subword text, copied from the data set.
    public static let tokenizerFile = "tokenizer.model"
    public static let latestFile = "latest"
    /// The digests of every file, in `sha256sum` format: `sha256sum -c SHA256SUMS`
    /// checks a checkpoint without this program.
    public static let checksumsFile = "SHA256SUMS"
    static let temporaryPrefix = ".tmp-"

    /// `step-00001200` for step 1200.
    public static func name(step: Int) -> String {
        "step-" + String(step).leftPadded(to: 8)
    }

    /// The step of a checkpoint directory name, or `nil` if it is not one.
    public static func step(ofName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.count > 5 else { return nil }
        let digits = name.dropFirst(5)
        guard digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// The directory of the checkpoint of `step`.
    public func url(step: Int) -> URL {
        root.appendingPathComponent(Self.name(step: step))
    }

    /// Every checkpoint directory, newest (highest step) first, valid or not.
    public func list() -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.compactMap { name in Self.step(ofName: name).map { ($0, root.appendingPathComponent(name)) } }
            .sorted { $0.step > $1.step }
    }

    /// The checkpoint `latest` names, if the file is there.
    public func latest() -> String? {
        guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(Self.latestFile).path) else {
            return nil
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: - Writing

    /// Creates a fresh temporary directory for the checkpoint of `step`.
    ///
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    public func makeTemporaryDirectory(step: Int) throws -> URL {
        try createDirectory(root)
        let url = root.appendingPathComponent("\(Self.temporaryPrefix)\(Self.name(step: step))-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try createDirectory(url)
        return url
    }

    /// Makes the checkpoint written in `temporary` visible as the one of `step`
    /// and points `latest` at it.
    ///
    /// The files in `temporary` must already be fsync'd. A checkpoint of the
    /// same step that exists already (a run resumed at its last checkpoint
    /// and stopped again) is replaced.
    ///
    /// - Returns: The checkpoint's final directory.
    /// - Throws: ``CheckpointError/io(path:operation:errno:)``.
    @discardableResult
    public func publish(_ temporary: URL, step: Int) throws -> URL {
        try syncDirectory(temporary)
        let final = url(step: step)
        if FileManager.default.fileExists(atPath: final.path) {
            // rename(2) cannot replace a non-empty directory: move the old one
            // aside first; for a moment neither is visible, and the older
            // checkpoints remain to resume from.
            let aside = root.appendingPathComponent("\(Self.temporaryPrefix)old-\(Self.name(step: step))-\(getpid())")
            try? FileManager.default.removeItem(at: aside)
            try rename(final, to: aside)
            try? FileManager.default.removeItem(at: aside)
        }
        try rename(temporary, to: final)
        try syncDirectory(root)
        try writeLatest(Self.name(step: step))
        return final
    }

    /// Replaces `latest` atomically with `name`.
    func writeLatest(_ name: String) throws {
        let temporary = root.appendingPathComponent("\(Self.temporaryPrefix)latest-\(getpid())")
        try writeFileSynced(temporary.path, Data((name + "\n").utf8))
        try rename(temporary, to: root.appendingPathComponent(Self.latestFile))
        try syncDirectory(root)
    }

    /// Deletes checkpoints outside the keep policy and stale temporary directories.
    ///
    /// Kept: the `keepLast` newest, every one whose step is a multiple of
    /// `keepEvery` (when positive), and the one `latest` names.
    ///
    /// - Returns: The names of the deleted checkpoints.
    @discardableResult
    public func prune(keepLast: Int, keepEvery: Int) -> [String] {
        precondition(keepLast >= 1, "CheckpointStore.prune: keepLast must be at least 1, got \(keepLast)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        for name in names where name.hasPrefix(Self.temporaryPrefix) {
            // Only this process writes here (rank 0 of the one job using this run directory).
            try? FileManager.default.removeItem(at: root.appendingPathComponent(name))
        }
        let latest = latest()
        var removed: [String] = []
        for (index, checkpoint) in list().enumerated() {
            let name = checkpoint.url.lastPathComponent
            let keep = index < keepLast || (keepEvery > 0 && checkpoint.step % keepEvery == 0) || name == latest
            if !keep {
                try? FileManager.default.removeItem(at: checkpoint.url)
                removed.append(name)
            }
        }
        if !removed.isEmpty { try? syncDirectory(root) }
        return removed
    }

    /// Writes ``checksumsFile`` into `directory` from digests by file name.
    public static func writeChecksums(in directory: URL, _ digests: [String: String]) throws {
        let text = digests.keys.sorted().map { "\(digests[$0]!)  \($0)\n" }.joined()
        try writeFileSynced(directory.appendingPathComponent(checksumsFile).path, Data(text.utf8))
    }

    // MARK: - Verifying

    /// ``verify(_:)``, and that the checkpoint records `step`, the step its
    /// directory's name gives.
    public static func verify(_ directory: URL, step: Int) throws -> TrainerState {
        let state = try verify(directory)
        guard state.step == step else {
            throw CheckpointError.malformed(path: directory.appendingPathComponent(stateFile).path,
                                            reason: "records step \(state.step), not \(step)")
        }
        return state
    }

    /// Reads `trainer.json` of the checkpoint in `directory` and checks the
    /// size and SHA-256 of every file it records.
    ///
    /// - Returns: The trainer state.
    /// - Throws: ``CheckpointError`` naming the first file that is missing,
    ///   truncated or corrupted.
    public static func verify(_ directory: URL) throws -> TrainerState {
        let statePath = directory.appendingPathComponent(stateFile).path
        guard let data = FileManager.default.contents(atPath: statePath) else {
            throw CheckpointError.missingFile(statePath)
        }
        // trainer.json cannot record its own digest; SHA256SUMS does, when present.
        if let sums = FileManager.default.contents(atPath: directory.appendingPathComponent(checksumsFile).path) {
            let expected = String(decoding: sums, as: UTF8.self).split(separator: "\n")
                .first { $0.hasSuffix("  " + stateFile) }.map { String($0.prefix(64)) }
            let actual = SHA256.hex(of: Array(data))
            guard let expected, expected == actual else {
                throw CheckpointError.checksumMismatch(path: statePath, expected: expected ?? "(not listed)", actual: actual)
            }
        }
        let state = try TrainerState.decode(data, path: statePath)
        for required in [modelFile, optimizerFile] where state.files[required] == nil {
            throw CheckpointError.malformed(path: statePath, reason: "records no \(required)")
        }
        for name in state.files.keys.sorted() {
            let record = state.files[name]!
            let path = directory.appendingPathComponent(name).path
            let (digest, bytes) = try sha256OfFile(path)
            guard bytes == record.bytes else {
                throw CheckpointError.wrongSize(path: path, expected: record.bytes, actual: bytes)
            }
            guard digest == record.sha256 else {
                throw CheckpointError.checksumMismatch(path: path, expected: record.sha256, actual: digest)
            }
        }
        return state
    }

    /// The newest checkpoint that passes ``verify(_:)``.
    ///
    /// - Returns: The checkpoint and its state, or `nil` when there is no
    ///   checkpoint directory at all; `rejected` describes each newer
    ///   checkpoint that failed, by name.
    /// - Throws: ``CheckpointError/noValidCheckpoint(directory:rejected:)``
    ///   when there are checkpoints but none is valid.
    ///
    /// - Parameter accepting: Further checks a verified checkpoint must pass
    ///   (that it fits the run, that its files open); one that throws is
    ///   skipped like a damaged one, with the error as its reason.
    public func newestValid(accepting: (URL, TrainerState) throws -> Void = { _, _ in })
        throws -> (found: (url: URL, state: TrainerState)?, rejected: [String]) {
        var rejected: [String] = []
        let checkpoints = list()
        for checkpoint in checkpoints {
            do {
                let state = try Self.verify(checkpoint.url, step: checkpoint.step)
                try accepting(checkpoint.url, state)
                return ((checkpoint.url, state), rejected)
            } catch {
                rejected.append("\(error)")
            }
        }
        if checkpoints.isEmpty { return (nil, []) }
        throw CheckpointError.noValidCheckpoint(directory: root.path, rejected: rejected)
    }

    // MARK: - File system

    private func createDirectory(_ url: URL) throws {
        if mkdir(url.path, 0o755) != 0 && errno != EEXIST {
            throw CheckpointError.io(path: url.path, operation: "mkdir", errno: errno)
        }
    }

    private func rename(_ from: URL, to: URL) throws {
        guard Glibc.rename(from.path, to.path) == 0 else {
            throw CheckpointError.io(path: to.path, operation: "rename", errno: errno)
        }
    }
}

/// fsyncs the directory `url`, making renames and new entries in it durable.
public func syncDirectory(_ url: URL) throws {
    let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw CheckpointError.io(path: url.path, operation: "open", errno: errno) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw CheckpointError.io(path: url.path, operation: "fsync", errno: errno) }
}

/// Writes `data` to `path` (created or truncated) and fsyncs it.
///
/// - Returns: The SHA-256 of `data`.
@discardableResult
public func writeFileSynced(_ path: String, _ data: Data) throws -> String {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CheckpointError.io(path: path, operation: "open", errno: errno) }
    defer { close(fd) }
    try data.withUnsafeBytes { try writeAll(fd: fd, $0, path: path) }
    guard fsync(fd) == 0 else { throw CheckpointError.io(path: path, operation: "fsync", errno: errno) }
    return data.withUnsafeBytes { bytes in
        let hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }
}
