/// Why a checkpoint could not be written, found or loaded. Every case names
/// the file or directory, so a user can tell which checkpoint is at fault.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// A file a checkpoint needs is not there.
    case missingFile(String)
    /// A file is shorter or longer than its header or record says.
    case wrongSize(path: String, expected: Int, actual: Int)
    /// A file's SHA-256 differs from the one recorded in `trainer.json`.
    case checksumMismatch(path: String, expected: String, actual: String)
    /// A file's contents do not parse.
    case malformed(path: String, reason: String)
    /// A system call on `path` failed.
    case io(path: String, operation: String, errno: Int32)
    /// No checkpoint under `directory` passed verification; `rejected` lists why each failed.
    case noValidCheckpoint(directory: String, rejected: [String])
    /// The path names no checkpoint (nor a run directory holding one).
    case notACheckpoint(path: String, reason: String)
    /// The checkpoint is valid but cannot continue this run.
    case incompatible(checkpoint: String, reason: String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "\(path): missing"
        case .wrongSize(let path, let expected, let actual):
            return "\(path): \(actual) bytes, expected \(expected) (truncated or overwritten?)"
        case .checksumMismatch(let path, let expected, let actual):
            return "\(path): SHA-256 \(actual.prefix(16))… does not match the recorded \(expected.prefix(16))… (corrupted)"
        case .malformed(let path, let reason):
            return "\(path): \(reason)"
        case .io(let path, let operation, let code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code)))"
        case .noValidCheckpoint(let directory, let rejected):
            let reasons = rejected.isEmpty ? "" : "; rejected: " + rejected.joined(separator: "; ")
            return "\(directory): no valid checkpoint to resume from\(reasons)"
        case .notACheckpoint(let path, let reason):
            return "\(path): not a checkpoint: \(reason)"
        case .incompatible(let checkpoint, let reason):
            return "\(checkpoint): cannot resume: \(reason)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
