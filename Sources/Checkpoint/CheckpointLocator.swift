import Foundation

/// Finds the checkpoint a user means by a path.
public enum CheckpointLocator {
    /// Resolves `path` to one verified checkpoint.
    ///
    /// `path` may be a checkpoint directory (`.../checkpoints/step-00001200`),
    /// which must be valid, or a run directory or its `checkpoints`
    /// directory, meaning the newest checkpoint that verifies.
    ///
    /// - Returns: The checkpoint directory, its trainer state, and the newer
    ///   checkpoints that failed verification and were skipped.
    /// - Throws: ``CheckpointError/notACheckpoint(path:reason:)`` when there is
    ///   nothing there, or ``CheckpointError`` when the named (or every)
    ///   checkpoint fails verification.
    public static func resolve(_ path: String) throws -> (url: URL, state: TrainerState, skipped: [String]) {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError.notACheckpoint(path: path, reason: "no such file or directory")
        }
        guard isDirectory.boolValue else {
            throw CheckpointError.notACheckpoint(path: path, reason: "expected a checkpoint or run directory, found a file")
        }
        if isCheckpointDirectory(url) {
            // A named checkpoint: no fallback to another one, the user asked for this.
            return (url, try CheckpointStore.verify(url), [])
        }
        let nested = url.appendingPathComponent("checkpoints")
        let store = FileManager.default.fileExists(atPath: nested.path) ? CheckpointStore(root: nested) : CheckpointStore(root: url)
        let (found, rejected) = try store.newestValid()
        guard let found else {
            throw CheckpointError.notACheckpoint(path: path, reason: "no trainer.json here and no step-XXXXXXXX checkpoint under it")
        }
        return (found.url, found.state, rejected)
    }

    /// Whether `url` looks like one checkpoint (rather than a directory of them).
    public static func isCheckpointDirectory(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent(CheckpointStore.stateFile).path)
            || CheckpointStore.step(ofName: url.lastPathComponent) != nil
    }
}
