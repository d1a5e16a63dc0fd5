#if canImport(Glibc)
import Glibc
#endif
import Training

/// How one attempt of a launched job ended, and whether the launcher tries again.
public enum AttemptOutcome: Equatable, Sendable, CustomStringConvertible {
    /// Exit 0: the run is complete.
    case succeeded
    /// The preemption code: a checkpoint was written; requeue, do not restart here.
    case preempted
    /// Exit 2: bad input, which a restart would only repeat.
    case userError
    /// The launcher was asked to stop (a signal), whatever the job's exit code.
    case stopped(exitCode: Int32)
    /// Anything else: a rank died, the watchdog fired, MPI failed.
    case failed(exitCode: Int32)

    /// Classifies `mpirun`'s exit code.
    ///
    /// - Parameters:
    ///   - exitCode: The exit status, or 128 + signal when `mpirun` was killed.
    ///   - stopRequested: Whether the launcher received a signal to stop or preempt.
    ///   - preemptionRequested: Whether that signal asked for a preemption
    ///     (checkpoint and requeue). mpirun ended by SIGUSR1 or SIGTERM then
    ///     counts as preempted (the signal reached it while it was starting,
    ///     before it could pass it on), and so does SIGSEGV: OpenMPI 4.1
    ///     faults in `orte_finalize` while ending on the signal (exit 139,
    ///     seen under load). Either way the newest checkpoint stands and the
    ///     job script must requeue. Other signals (SIGKILL from the OOM
    ///     killer, SIGABRT) stay failures.
    public init(exitCode: Int32, stopRequested: Bool, preemptionRequested: Bool = false) {
        switch exitCode {
        case JobExitCode.success: self = .succeeded
        case JobExitCode.preempted: self = .preempted
        case _ where preemptionRequested && [128 + SIGUSR1, 128 + SIGTERM, 128 + SIGSEGV].contains(exitCode):
            self = .preempted
        case _ where stopRequested: self = .stopped(exitCode: exitCode)
        case JobExitCode.userError: self = .userError
        default: self = .failed(exitCode: exitCode)
        }
    }

    /// The code `ddp launch` exits with when this is the last attempt.
    public var exitCode: Int32 {
        switch self {
        case .succeeded: return JobExitCode.success
        case .preempted: return JobExitCode.preempted
        case .userError: return JobExitCode.userError
        case .stopped(let code), .failed(let code): return code
        }
    }

    /// Whether a restart could help (and `--max-restarts` is not used up).
    public var isRestartable: Bool {
        if case .failed = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .succeeded: return "completed"
        case .preempted: return "preempted (exit \(JobExitCode.preempted)), checkpoint written"
        case .userError: return "stopped by a config or input error (exit \(JobExitCode.userError))"
        case .stopped(let code): return "stopped by a signal (exit \(code))"
        case .failed(let code):
            if code == JobExitCode.watchdog { return "aborted by the collective watchdog (exit \(code))" }
            if code > 128 && code < 160 { return "failed: a process was killed by signal \(code - 128) (exit \(code))" }
            return "failed (exit \(code))"
        }
    }
}
