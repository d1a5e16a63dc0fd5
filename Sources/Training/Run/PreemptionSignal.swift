#if canImport(Glibc)
import Glibc
#endif

/// Catches SIGTERM and SIGUSR1 so a run can stop cleanly: the handler only
/// records that a signal came; the trainer looks at the flag at each step
/// boundary, all ranks agree through one small allreduce (a signal may
/// reach a single rank, or the ranks at different moments), and every rank
/// writes the checkpoint of the same step and exits with
/// ``JobExitCode/preempted``.
///
/// Schedulers send SIGTERM before a time limit or preemption (Slurm with
/// `--signal`, Kubernetes); `mpirun` forwards SIGUSR1 to every rank, while
/// its own reaction to SIGTERM kills the ranks after a short grace period,
/// so jobs under `mpirun` should signal with SIGUSR1.
public enum PreemptionSignal {
    /// The flag the handler sets: a plain word, allocated once before any
    /// handler can run, since a signal handler may not allocate or take locks.
    private static let flag: UnsafeMutablePointer<sig_atomic_t> = {
        let pointer = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return pointer
    }()
    nonisolated(unsafe) private static var installed = false

    /// Installs the handlers for SIGTERM and SIGUSR1; idempotent.
    public static func install() {
        guard !installed else { return }
        installed = true
        record([SIGTERM, SIGUSR1])
    }

    /// Points `signals` at the recording handler, process-wide.
    private static func record(_ signals: [Int32]) {
        _ = flag
        // The handler stores through a pointer captured by no closure: read once into a C global.
        preemptionFlagAddress = flag
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = recorder
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signal, &action, nil)
        }
    }

    private static let recorder: @convention(c) (Int32) -> Void = { signal in preemptionFlagAddress?.pointee = signal }

    /// Whether `signal` still goes to the recording handler (not yet to a
    /// handler installed after it, such as a dispatch signal source's).
    public static func isRecording(_ signal: Int32) -> Bool {
        var current = sigaction()
        sigaction(signal, nil, &current)
        guard let handler = current.__sigaction_handler.sa_handler else { return false }
        return unsafeBitCast(handler, to: UnsafeRawPointer.self) == unsafeBitCast(recorder, to: UnsafeRawPointer.self)
    }

    /// The environment variable that carries a signal received before the
    /// OpenBLAS relaunch into the relaunched image (exec resets handlers).
    static let carriedVariable = "DDP_SIGNAL_BEFORE_EXEC"

    /// Called first thing in `main`: from here on `signals` cannot kill the
    /// process. They are blocked in this thread (and in the threads and
    /// images it starts later: a blocked signal stays pending across exec),
    /// and recorded by a handler when another thread takes them: OpenBLAS
    /// starts its threads in a library constructor, before `main`, with
    /// nothing blocked. A signal the image before the relaunch recorded is
    /// read back from the environment.
    public static func holdSignals(_ signals: [Int32] = [SIGTERM, SIGUSR1]) {
        if let carried = getenv(carriedVariable).flatMap({ Int32(String(cString: $0)) }) {
            flag.pointee = sig_atomic_t(carried)
            unsetenv(carriedVariable)
        }
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        record(signals)
    }

    /// Passes a recorded signal on to the image the relaunch's exec starts.
    public static func carryAcrossExec() {
        if flag.pointee != 0 { setenv(carriedVariable, "\(flag.pointee)", 1) }
    }

    /// Installs the handlers, then unblocks what ``holdSignals()`` blocked:
    /// a signal that came meanwhile is delivered now, and recorded.
    public static func installAndRelease() {
        install()
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGUSR1)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signal received, or 0 when none has come.
    public static var received: Int32 {
        Int32(flag.pointee)
    }

    /// The file in a run directory by which `ddp launch` asks the ranks to
    /// checkpoint and stop. A signal forwarded while ranks are still
    /// starting (before their handlers exist, or before mpirun knows them)
    /// is lost; the file is not. Rank 0 looks for it at every step boundary.
    public static let requestFile = ".stop-requested"

    /// Forgets a received signal (tests that run several trainers in one process).
    public static func reset() {
        flag.pointee = 0
    }
}

/// The handler's target, a global so the C-convention handler captures nothing.
nonisolated(unsafe) private var preemptionFlagAddress: UnsafeMutablePointer<sig_atomic_t>?
