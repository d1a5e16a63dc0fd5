/// The exit codes `ddp train` and `ddp launch` end with, which job scripts
/// and the launcher's restart policy read.
public enum JobExitCode {
    /// The run finished.
    public static let success: Int32 = 0
    /// Bad input: a config, data set, checkpoint or argument. Restarting cannot help.
    public static let userError: Int32 = 2
    /// MPI could not start.
    public static let mpiStartFailure: Int32 = 3
    /// Preempted (SIGTERM or SIGUSR1): a checkpoint was written at a step
    /// boundary and the job should be requeued; `--resume auto` continues it.
    /// `EX_TEMPFAIL` from sysexits.h: "a temporary failure; retry later".
    public static let preempted: Int32 = 75
    /// The collective watchdog aborted the job (``CollectiveWatchdog``).
    public static let watchdog: Int32 = 124
    /// The user interrupted `ddp launch` (SIGINT), as shells report it.
    public static let interrupted: Int32 = 130
}
