import Checkpoint
import Foundation

/// The run directory a replay writes: one the user named, which must be new
/// or empty (so it is never a run's own), or a fresh temporary one.
struct ReplayScratch: Codable {
    var path: String
    /// Whether the replay made it and removes it afterwards.
    var temporary: Bool

    /// Creates the directory (rank 0).
    ///
    /// - Throws: ``ReplayError/scratchNotEmpty(path:)``, or the file system's error.
    static func make(_ requested: String?) throws -> ReplayScratch {
        let manager = FileManager.default
        let scratch: ReplayScratch
        if let requested {
            let url = URL(fileURLWithPath: requested).standardizedFileURL
            if manager.fileExists(atPath: url.path) {
                guard (try? manager.contentsOfDirectory(atPath: url.path))?.isEmpty == true else {
                    throw ReplayError.scratchNotEmpty(path: requested)
                }
            }
            try manager.createDirectory(at: url, withIntermediateDirectories: true)
            scratch = ReplayScratch(path: url.path, temporary: false)
        } else {
            let url = manager.temporaryDirectory.appendingPathComponent("ddp-replay-\(UUID().uuidString)")
            try manager.createDirectory(at: url, withIntermediateDirectories: true)
            scratch = ReplayScratch(path: url.path, temporary: true)
        }
        return scratch
    }
}
