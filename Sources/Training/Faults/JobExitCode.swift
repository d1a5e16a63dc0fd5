import Checkpoint
import Foundation
import MPI

/// The exit codes `ddp train` and `ddp launch` end with, which job scripts
/// and the launcher's restart policy read.
public enum JobExitCode {
    /// The run finished.
    public static let success: Int32 = 0
    /// What a command found is not well (`ddp inspect`: a file does not match
    /// its record), or a service stopped on an error (`ddp serve` could not bind).
    public static let failure: Int32 = 1
    /// Bad input: a config, data set, checkpoint or argument. Restarting cannot help.
    public static let userError: Int32 = 2
    /// MPI could not start, or an MPI call failed: a runtime failure, which
    /// `ddp launch` restarts.
    public static let mpiStartFailure: Int32 = 3
    /// A file could not be written or read for a reason of the system (a full
    /// disk, an I/O error, a read-only file system), named with its path and
    /// errno: a runtime failure, which `ddp launch` restarts.
    /// `EX_IOERR` from sysexits.h.
    public static let ioFailure: Int32 = 74
    /// Preempted (SIGTERM or SIGUSR1): a checkpoint was written at a step
    /// boundary and the job should be requeued; `--resume auto` continues it.
    /// `EX_TEMPFAIL` from sysexits.h: "a temporary failure; retry later".
    public static let preempted: Int32 = 75
    /// The collective watchdog aborted the job (``CollectiveWatchdog``).
    public static let watchdog: Int32 = 124
    /// The user interrupted `ddp launch` (SIGINT), as shells report it.
    public static let interrupted: Int32 = 130

    /// The code a command ends with for `error`: runtime failures (MPI, the
    /// system refusing I/O) have their own codes, anything else a user or a
    /// file can cause is bad input.
    public static func forError(_ error: Error) -> Int32 {
        switch error {
        case let failure as RankZeroFailure:
            return failure.exitCode
        case is MPIError:
            return mpiStartFailure
        case CheckpointError.io(_, _, let code) where systemErrnos.contains(code):
            return ioFailure
        default:
            return userError
        }
    }

    /// errno values that say the system, not the input, is at fault.
    static let systemErrnos: Set<Int32> = [ENOSPC, EDQUOT, EIO, EROFS, ENOMEM, EFBIG, ENFILE, EMFILE]
}

/// Rank 0 failed at something every rank takes part in; the other ranks know
/// only that, and the exit code its failure deserves.
public struct RankZeroFailure: Error, CustomStringConvertible {
    /// What rank 0 was doing, e.g. "write the checkpoint of step 20".
    public let what: String
    /// ``JobExitCode/forError(_:)`` of rank 0's error.
    public let exitCode: Int32

    public var description: String { "rank 0 failed to \(what)" }
}

