/// Why a replay (``RunReplay``) or a verification (``RunVerification``)
/// could not be carried out: input a user can fix. Each exits with
/// ``JobExitCode/userError`` (2); a replay that runs and finds a difference is
/// not an error but a ``ReplayResult`` that does not match.
public enum ReplayError: Error, CustomStringConvertible, Equatable {
    /// The checkpoint was written by `worldSize` ranks and this job has
    /// `ranks`: results are bit for bit only at the same rank count.
    /// `rerun` is the command to run under `mpirun -np worldSize`.
    case wrongRankCount(checkpoint: String, worldSize: Int, ranks: Int, rerun: String)
    /// `--to-step` is not after the checkpoint's step.
    case targetNotAfterStart(checkpoint: String, step: Int, target: Int)
    /// The scratch run directory exists and is not empty (it could be a
    /// run's own directory, whose checkpoints a replay must not touch).
    case scratchNotEmpty(path: String)
    /// The path is not a run directory (one holding `checkpoints/step-XXXXXXXX`).
    case notARunDirectory(path: String, reason: String)
    /// Fewer than two checkpoints: there is no pair to replay.
    case tooFewCheckpoints(path: String, count: Int)
    /// The replay ended before the step it was to reach.
    case endedEarly(checkpoint: String, step: Int, target: Int)

    public var description: String {
        switch self {
        case let .wrongRankCount(checkpoint, worldSize, ranks, rerun):
            return "\(checkpoint) was written by \(worldSize) rank(s) and this job has \(ranks); a replay is bit for bit "
                + "only on the same number of ranks: run `mpirun -np \(worldSize) \(rerun)`"
        case let .targetNotAfterStart(checkpoint, step, target):
            return "\(checkpoint) is at step \(step); --to-step \(target) must be later"
        case .scratchNotEmpty(let path):
            return "\(path): the replay's scratch run directory must be new or empty (a replay never writes into a run "
                + "directory); give another --run-dir, or none for a temporary one"
        case let .notARunDirectory(path, reason):
            return "\(path): not a run directory: \(reason)"
        case let .tooFewCheckpoints(path, count):
            return "\(path) holds \(count) checkpoint(s); verifying needs at least 2 (train with a smaller "
                + "checkpoint.every, and a checkpoint.keep_last large enough to keep them all)"
        case let .endedEarly(checkpoint, step, target):
            return "the replay from \(checkpoint) ended at step \(step), before step \(target)"
        }
    }
}
