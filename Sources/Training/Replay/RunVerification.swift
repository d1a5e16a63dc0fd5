import Checkpoint
import Foundation
import MPI

/// `ddp verify`: checks a whole run directory. Every checkpoint's checksums
/// (``CheckpointStore/verify(_:)``), then every consecutive pair of
/// checkpoints, sorted by step, replayed one after the other
/// (``RunReplay``): the pair (A, B) passes when the replay from A arrives at
/// B bit for bit.
///
/// Only the checkpoints that exist can be checked: `checkpoint.keep_last`
/// (3 by default) prunes older ones as a run goes, so a run meant to be
/// verified whole needs a `keep_last` of at least its number of checkpoints
/// (or `checkpoint.keep_every` equal to `checkpoint.every`).
public enum RunVerification {
    /// Verifies the run in `run` (a run directory, or its `checkpoints`
    /// folder). Collective; the replays run on every rank.
    ///
    /// Stops at the first damaged checkpoint set (all are checked first)
    /// or the first replay that differs.
    ///
    /// - Parameters:
    ///   - report: Called on rank 0 with one line per finding: each damaged
    ///     checkpoint, each replay's ``ReplayResult/description``.
    ///   - rerun: The command, without `mpirun`, that a wrong rank count's
    ///     message tells the user to run.
    /// - Returns: The same result on every rank.
    /// - Throws: ``ReplayError`` for a path that is no run directory or holds
    ///   fewer than 2 checkpoints, or a run written by another number of ranks;
    ///   what a replay throws.
    public static func verify(run: String, dataDirectory: String? = nil, communicator: Communicator, rerun: String,
                              report: (String) -> Void) throws -> VerificationResult {
        let listing = try communicator.leaderValue("read the checkpoints of \(run)") { try Listing.make(run) }
        let leader = communicator.rank == 0
        if !listing.damaged.isEmpty {
            if leader { listing.damaged.forEach { report("ddp: verify: damaged checkpoint: \($0)") } }
            return VerificationResult(root: listing.root, checkpoints: listing.steps.count, damaged: listing.damaged, replays: [])
        }
        let store = CheckpointStore(root: URL(fileURLWithPath: listing.root))
        var replays: [ReplayResult] = []
        for (start, end) in zip(listing.steps, listing.steps.dropFirst()) {
            let result = try RunReplay.replay(from: store.url(step: start).path, toStep: end, dataDirectory: dataDirectory,
                                              communicator: communicator, rerun: rerun)
            if leader { report(result.description) }
            replays.append(result)
            if result.matches != true { break }
        }
        return VerificationResult(root: listing.root, checkpoints: listing.steps.count, damaged: [], replays: replays)
    }

    /// The checkpoints of a run, read by rank 0.
    struct Listing: Codable {
        /// The `checkpoints` folder.
        var root: String
        /// Their steps, ascending.
        var steps: [Int]
        /// Why each damaged one fails, naming it.
        var damaged: [String]

        static func make(_ path: String) throws -> Listing {
            let url = URL(fileURLWithPath: path).standardizedFileURL
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw ReplayError.notARunDirectory(path: path, reason: "no such file or directory")
            }
            guard isDirectory.boolValue else {
                throw ReplayError.notARunDirectory(path: path, reason: "it is a file")
            }
            if CheckpointLocator.isCheckpointDirectory(url) {
                throw ReplayError.notARunDirectory(
                    path: path, reason: "it is one checkpoint; give the run directory that holds its checkpoints folder "
                        + "(\(url.deletingLastPathComponent().deletingLastPathComponent().path))")
            }
            let nested = url.appendingPathComponent("checkpoints")
            let store: CheckpointStore
            if FileManager.default.fileExists(atPath: nested.path) {
                store = CheckpointStore(root: nested)
            } else if url.lastPathComponent == "checkpoints" {
                store = CheckpointStore(root: url)
            } else {
                throw ReplayError.notARunDirectory(path: path, reason: "it has no checkpoints folder")
            }
            let checkpoints = store.list().reversed()
            guard checkpoints.count >= 2 else {
                throw ReplayError.tooFewCheckpoints(path: path, count: checkpoints.count)
            }
            var damaged: [String] = []
            for checkpoint in checkpoints {
                do {
                    _ = try CheckpointStore.verify(checkpoint.url, step: checkpoint.step)
                } catch let error as CheckpointError {
                    damaged.append("\(checkpoint.url.lastPathComponent): \(error)")
                }
            }
            return Listing(root: store.root.path, steps: checkpoints.map(\.step), damaged: damaged)
        }
    }
}
