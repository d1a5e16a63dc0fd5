import Foundation

/// The `mpirun` command line `ddp launch` runs for each attempt: pure, so the
/// flags chosen for a machine can be tested without starting anything.
public struct LaunchPlan: Sendable, Equatable {
    /// The `mpirun` executable.
    public var mpirun: String
    /// The `ddp` executable every rank runs.
    public var executable: String
    /// Ranks (`-np`).
    public var ranks: Int
    /// The run config.
    public var config: String
    /// The run directory, where checkpoints and metrics go.
    public var runDirectory: String
    /// `--set KEY=VALUE` overrides for `ddp train`.
    public var overrides: [String] = []
    /// An `mpirun` hostfile for several nodes, or `nil` for this machine.
    public var hostfile: String?
    /// Extra `mpirun` arguments, placed before the program.
    public var extraMPIArguments: [String] = []
    /// Whether this process runs as root (OpenMPI refuses root without a flag).
    public var isRoot: Bool
    /// Cores of this machine; more ranks than cores need oversubscription.
    public var cores: Int
    /// Whether standard output is a terminal (else ranks print plain lines).
    public var stdoutIsTerminal: Bool
    /// Whether this runs inside a scheduler's allocation (Slurm), whose slots
    /// mpirun reads itself: then this machine's core count means nothing.
    public var insideAllocation = false
    /// Environment variables to export to every rank with `-x` when set
    /// here, so ranks on other nodes see them too.
    public var exported: [String: String] = [:]
    /// MCA parameters the user set already (`OMPI_MCA_*` in the
    /// environment, or `--mca` after `--`); the plan does not override them.
    public var userMCAParameters: Set<String> = []

    /// Ranks per core that `ddp launch` starts on one machine without
    /// `--allow-oversubscription`: enough for tests of more ranks than cores.
    public static let ranksPerCore = 4

    /// OpenMPI parameters for jobs across hosts, as `(name, value)`.
    ///
    /// mpirun learns that a host is gone only from its daemon's TCP
    /// connection, which by default is probed after 300 s idle, 9 times 20 s
    /// apart: a host that loses its link leaves the job hanging for 8
    /// minutes. Keepalive after 10 s idle, 3 probes 2 s apart, ends it in
    /// about 16 s (measured on the test cluster: 485 s with the defaults).
    /// The collective watchdog usually fires first; this covers a host
    /// lost while no collective is armed.
    public static let multiHostParameters: [(String, String)] = [
        ("oob_tcp_keepalive_time", "10"),
        ("oob_tcp_keepalive_intvl", "2"),
        ("oob_tcp_keepalive_probes", "3"),
    ]

    public init(mpirun: String, executable: String, ranks: Int, config: String, runDirectory: String,
                isRoot: Bool, cores: Int, stdoutIsTerminal: Bool) {
        precondition(ranks >= 1, "LaunchPlan: ranks must be at least 1, got \(ranks)")
        (self.mpirun, self.executable, self.ranks, self.config) = (mpirun, executable, ranks, config)
        (self.runDirectory, self.isRoot, self.cores) = (runDirectory, isRoot, cores)
        self.stdoutIsTerminal = stdoutIsTerminal
    }

    /// The variables forwarded to ranks when set in the launcher's environment:
    /// BLAS threads, progress style, and the test-only fault hooks.
    public static let forwardedVariables = [
        "DDP_BLAS_THREADS", "DDP_NO_BLAS_RELAUNCH", "DDP_PLAIN_PROGRESS",
        "DDP_TEST_STALL_RANK", "DDP_TEST_STALL_STEP",
        "DDP_TEST_KILL_RANK", "DDP_TEST_KILL_STEP", "DDP_TEST_KILL_MARKER",
    ]

    /// Whether the ranks may run on several hosts: a hostfile, or a
    /// scheduler's allocation.
    public var spansHosts: Bool { hostfile != nil || insideAllocation }

    /// `mpirun`'s arguments for attempt `attempt` (1-based), without argv[0].
    public func arguments(attempt: Int) -> [String] {
        var arguments = ["-np", "\(ranks)"]
        if isRoot { arguments.append("--allow-run-as-root") }
        // A hostfile declares its own slots; on one machine more ranks than
        // cores need oversubscription and no core binding (two ranks bound to one core would crawl).
        if hostfile == nil && !insideAllocation && ranks > cores { arguments += ["--oversubscribe", "--bind-to", "none"] }
        if let hostfile { arguments += ["--hostfile", hostfile] }
        if spansHosts {
            for (name, value) in Self.multiHostParameters where !userMCAParameters.contains(name) {
                arguments += ["--mca", name, value]
            }
        }
        var exports = exported
        if !stdoutIsTerminal { exports["DDP_PLAIN_PROGRESS"] = "1" }
        exports["DDP_LAUNCH_ATTEMPT"] = "\(attempt)"
        for name in exports.keys.sorted() {
            arguments += ["-x", "\(name)=\(exports[name]!)"]
        }
        arguments += extraMPIArguments
        arguments += [executable, "train", "--config", config, "--run-dir", runDirectory, "--resume", "auto"]
        for override in overrides { arguments += ["--set", override] }
        return arguments
    }

    /// The command line as a shell would show it, for the log.
    public func commandLine(attempt: Int) -> String {
        ([mpirun] + arguments(attempt: attempt)).map(Self.shellQuoted).joined(separator: " ")
    }

    static func shellQuoted(_ word: String) -> String {
        let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_./=:,+@%"))
        if !word.isEmpty && word.unicodeScalars.allSatisfy({ safe.contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
