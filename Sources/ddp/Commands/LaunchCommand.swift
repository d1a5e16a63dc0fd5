import ArgumentParser
import Dispatch
import Foundation
import Launcher
import TensorCore
import Training

/// `ddp launch`: runs `ddp train` under mpirun, resuming from the newest
/// checkpoint and restarting the whole job after a failure.
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run `ddp train` on N ranks under mpirun; resume, restart after failures, forward signals.",
        discussion: """
            Each attempt runs `mpirun -np N [flags] <this ddp> train --config X --run-dir D --resume auto`, \
            so it continues from the newest valid checkpoint in D. After a failure (a rank died, the \
            collective watchdog fired) the whole job starts again, up to --max-restarts times.

            Signals: SIGUSR1, or a first SIGTERM, reaches the ranks as SIGUSR1: they write a checkpoint \
            at the next step boundary and exit with code \(JobExitCode.preempted). A second SIGTERM (more than \
            \(Int(SignalForwarder.duplicateWindow)) s after the first: Slurm's scancel delivers one twice at once), or SIGINT, stops the \
            job at once. No restart follows a signal.

            Exit code: 0 when the run completed; \(JobExitCode.preempted) when preempted (requeue the job, \
            the next launch resumes); \(JobExitCode.userError) for a config or input error (not restarted); \
            else the last attempt's (\(JobExitCode.mpiStartFailure) for MPI, \(JobExitCode.ioFailure) for I/O the system refused, \
            \(JobExitCode.watchdog) for the watchdog, 128+N for a rank killed by signal N).

            Arguments after `--` go to mpirun: ddp launch -n 4 --config c.yaml -- --mca btl self,vader
            """
    )

    @Option(name: [.customShort("n"), .customLong("ranks")], help: "Ranks to run (mpirun -np).")
    var ranks: Int

    @Option(name: .long, help: "The YAML run config.")
    var config: String

    @Option(name: .customLong("set"), help: "Override a config key: --set training.epochs=3 (repeatable).")
    var overrides: [String] = []

    @Option(name: .customLong("run-dir"), help: "Where the run writes and resumes from; default runs/<config name>.")
    var runDirectory: String?

    @Flag(name: .long, help: "Plain log lines instead of a progress bar, even on a terminal.")
    var plain = false

    @Option(name: .customLong("max-restarts"), help: "Restarts of the whole job after failures.")
    var maxRestarts = 3

    @Option(name: .customLong("restart-delay"), help: "Seconds to wait before a restart.")
    var restartDelay = 2.0

    @Option(name: .long, help: "An mpirun hostfile, to run across nodes (see launch/hostfile.example).")
    var hostfile: String?

    @Option(name: .long, help: "The mpirun to use; default: $DDP_MPIRUN, else mpirun on the PATH.")
    var mpirun: String?

    @Flag(name: .customLong("allow-oversubscription"), help: ArgumentHelp(
        "Start more ranks than the bound: \(LaunchPlan.ranksPerCore) per core on this machine, the slots of a hostfile."))
    var allowOversubscription = false

    @Argument(parsing: .postTerminator, help: "Extra mpirun arguments, after `--`.")
    var mpirunArguments: [String] = []

    func validate() throws {
        guard ranks >= 1 else { throw ValidationError("-n must be at least 1, got \(ranks)") }
        guard maxRestarts >= 0 else { throw ValidationError("--max-restarts must be at least 0") }
        guard restartDelay >= 0 && restartDelay.isFinite else { throw ValidationError("--restart-delay must be at least 0") }
    }

    func run() throws {
        // First, so that a signal at any moment of the launch is handled.
        let signals = SignalForwarder()
        let plan = try makePlan()
        let runURL = URL(fileURLWithPath: plan.runDirectory)
        signals.stopRequestFile = plan.runDirectory + "/" + PreemptionSignal.requestFile
        var outcomes: [(AttemptOutcome, Int)] = []
        var attempt = 0
        while true {
            attempt += 1
            let before = RunProgress(runDirectory: runURL)
            signals.clearStopRequestFile()
            if signals.stopRequested {
                // Asked to stop before the job started: nothing to checkpoint.
                let code = signals.preemptionRequested ? JobExitCode.preempted : 128 + SIGINT
                say("stop requested before the job started; exit \(code)")
                throw ExitCode(code)
            }
            say("attempt \(attempt) of \(maxRestarts + 1)"
                + (before.checkpointStep.map { ", resuming from the checkpoint of step \($0)" } ?? "")
                + ": \(plan.commandLine(attempt: attempt))")
            let exitCode = try supervise(plan, attempt: attempt, signals: signals)
            // A request the ranks acted on must not stop a later `ddp train` in this directory.
            signals.clearStopRequestFile()
            let outcome = AttemptOutcome(exitCode: exitCode, stopRequested: signals.stopRequested,
                                         preemptionRequested: signals.preemptionRequested)
            if outcome == .preempted && exitCode != JobExitCode.preempted {
                say("mpirun ended by signal \(exitCode - 128) after the forwarded SIGUSR1; the newest checkpoint stands")
            }
            let after = RunProgress(runDirectory: runURL)
            outcomes.append((outcome, after.stepsDone))
            say("attempt \(attempt) \(outcome); \(after.stepsDone) steps done")
            guard outcome.isRestartable, attempt <= maxRestarts, !signals.stopRequested else { break }
            if !signals.sleep(seconds: restartDelay) { break }
        }
        summarize(outcomes, progress: RunProgress(runDirectory: runURL))
        let code = outcomes.last!.0.exitCode
        if code != 0 { throw ExitCode(code) }
    }

    /// The mpirun command line for this machine.
    private func makePlan() throws -> LaunchPlan {
        let name = URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
        guard FileManager.default.fileExists(atPath: config) else {
            printError("\(config): no such config file")
            throw ExitCode(JobExitCode.userError)
        }
        if let hostfile, !FileManager.default.fileExists(atPath: hostfile) {
            printError("\(hostfile): no such hostfile")
            throw ExitCode(JobExitCode.userError)
        }
        // Thousands of ranks on one machine would not fail, they would bury it.
        if !allowOversubscription, let limit = rankLimit() {
            guard ranks <= limit.ranks else {
                printError("-n \(ranks): \(limit.reason) allows at most \(limit.ranks) ranks; "
                           + "pass --allow-oversubscription to start more")
                throw ExitCode(JobExitCode.userError)
            }
        }
        guard let mpirunPath = findMPIRun() else {
            printError("mpirun not found on the PATH; install openmpi-bin or pass --mpirun PATH")
            throw ExitCode(JobExitCode.userError)
        }
        // Ranks may start elsewhere (other nodes, another directory): absolute paths mean the same files.
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        var plan = LaunchPlan(mpirun: mpirunPath, executable: Self.ownExecutable(), ranks: ranks,
                              config: absolute(config), runDirectory: absolute(runDirectory ?? "runs/\(name)"),
                              isRoot: geteuid() == 0, cores: ProcessInfo.processInfo.activeProcessorCount,
                              stdoutIsTerminal: isatty(STDOUT_FILENO) != 0)
        plan.overrides = overrides
        if plain { plan.exported["DDP_PLAIN_PROGRESS"] = "1" }
        plan.hostfile = hostfile.map(absolute)
        plan.extraMPIArguments = mpirunArguments
        let environment = ProcessInfo.processInfo.environment
        plan.insideAllocation = environment["SLURM_JOB_ID"] != nil
        plan.userMCAParameters = Set(environment.keys.filter { $0.hasPrefix("OMPI_MCA_") }.map { String($0.dropFirst(9)) })
        for (index, word) in mpirunArguments.enumerated() where (word == "--mca" || word == "-mca") && index + 1 < mpirunArguments.count {
            plan.userMCAParameters.insert(mpirunArguments[index + 1])
        }
        for name in LaunchPlan.forwardedVariables {
            if let value = environment[name] { plan.exported[name] = value }
        }
        return plan
    }

    /// The most ranks this launch may start, and why: the slots of the
    /// hostfile when every line declares them, else (on this machine, outside
    /// a scheduler's allocation) a few per core; `nil` when unknown.
    private func rankLimit() -> (ranks: Int, reason: String)? {
        if let hostfile {
            guard let text = try? String(contentsOfFile: hostfile, encoding: .utf8) else { return nil }
            var slots = 0
            for line in text.split(separator: "\n") {
                let words = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].split(separator: " ")
                guard !words.isEmpty else { continue }
                guard let count = words.dropFirst().first(where: { $0.hasPrefix("slots=") }).flatMap({ Int($0.dropFirst(6)) })
                else { return nil }
                slots += count
            }
            return slots > 0 ? (slots, "\(hostfile) declares \(slots) slots, which") : nil
        }
        guard ProcessInfo.processInfo.environment["SLURM_JOB_ID"] == nil else { return nil }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return (cores * LaunchPlan.ranksPerCore, "this machine has \(cores) cores, and \(LaunchPlan.ranksPerCore) per core")
    }

    private func findMPIRun() -> String? {
        if let mpirun { return FileManager.default.isExecutableFile(atPath: mpirun) ? mpirun : nil }
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["DDP_MPIRUN"], !path.isEmpty { return path }
        let directories = (environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
        return directories.map { $0 + "/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// This program's path (the image the kernel runs, whatever argv[0] says).
    static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Runs one attempt to its end, forwarding signals; returns mpirun's exit code.
    private func supervise(_ plan: LaunchPlan, attempt: Int, signals: SignalForwarder) throws -> Int32 {
        var environment = ProcessInfo.processInfo.environment
        // The launcher's own BLAS relaunch chose a kernel for this CPU; each rank
        // chooses for the node it runs on.
        if OpenBLASKernel.wasRelaunched {
            environment[OpenBLASKernel.coreTypeVariable] = nil
            environment[OpenBLASKernel.relaunchMarkerVariable] = nil
        }
        fflush(stdout)
        // Where a rank's watchdog reports before it aborts the job (see below).
        let reports = plan.runDirectory + "/" + CollectiveWatchdog.reportFolder
        try? FileManager.default.removeItem(atPath: reports)
        let pid = try spawnChild(plan.mpirun, arguments: plan.arguments(attempt: attempt), environment: environment)
        signals.child = pid
        defer { signals.child = nil }
        var status: Int32 = 0
        var watchdogSeen: Date?
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR {
                throw ValidationError("waitpid failed: \(String(cString: strerror(errno)))")
            }
            // After a watchdog abort mpirun waits for every host's daemon; one
            // that lost its link never answers (and mpirun then ignores
            // SIGTERM), so the launcher ends mpirun itself.
            // (On one host mpirun always reaches its ranks and ends the job itself.)
            if plan.spansHosts && watchdogSeen == nil && access(reports, F_OK) == 0 { watchdogSeen = Date() }
            if let seen = watchdogSeen, Date().timeIntervalSince(seen) > Self.watchdogGrace {
                say("a rank's collective watchdog fired and mpirun has not ended \(Int(Self.watchdogGrace)) s later "
                    + "(a host may have stopped answering): killing mpirun")
                for line in Self.watchdogReports(reports) { say(line) }
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return JobExitCode.watchdog
            }
            usleep(50_000)
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Seconds mpirun gets to end the job by itself after a watchdog fired.
    static let watchdogGrace = 2.0

    /// The watchdog messages left in `directory`, in rank order.
    static func watchdogReports(_ directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted { (Int($0.dropFirst(5)) ?? 0) < (Int($1.dropFirst(5)) ?? 0) }.compactMap {
            (try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    private func summarize(_ outcomes: [(AttemptOutcome, Int)], progress: RunProgress) {
        say("summary: \(outcomes.count) attempt(s): "
            + outcomes.enumerated().map { "#\($0.offset + 1) \($0.element.0) at step \($0.element.1)" }
                .joined(separator: ", "))
        say("summary: \(progress.summary)")
    }
}

/// Writes a `ddp launch:` line to standard output, in order with the ranks' output.
private func say(_ text: String) {
    print("ddp launch: \(text)")
    fflush(stdout)
}

/// Starts `executable` with signal dispositions reset to default, since the
/// launcher ignores the ones it forwards and exec would keep them ignored.
private func spawnChild(_ executable: String, arguments: [String], environment: [String: String]) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in SignalForwarder.handled + [SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    posix_spawnattr_setsigmask(&attributes, &emptyMask)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let code = posix_spawn(&pid, executable, nil, &attributes, argv, envp)
    guard code == 0 else {
        printError("cannot start \(executable): \(String(cString: strerror(code)))")
        throw ExitCode(JobExitCode.userError)
    }
    return pid
}

/// Receives SIGINT, SIGTERM and SIGUSR1 for the launcher and passes them on
/// to the running mpirun, which passes them to the ranks.
///
/// SIGUSR1, and a first SIGTERM, reach mpirun as SIGUSR1: mpirun forwards
/// SIGUSR1 untouched, while its own answer to SIGTERM kills the ranks a second
/// later, too soon for a checkpoint. The ranks treat both alike (checkpoint at
/// the next step boundary, exit with the preemption code). A second SIGTERM,
/// and SIGINT, are passed on as they are: stop now. A SIGTERM within a few
/// seconds of the first is a duplicate, not a second request: Slurm's
/// `scancel` signals every process of the job, so the launcher hears it both
/// from Slurm and from its batch script.
final class SignalForwarder {
    static let handled = [SIGINT, SIGTERM, SIGUSR1]

    private let lock = NSLock()
    private var _child: pid_t?
    private var _stopRequested = false
    private var firstTerm: Date?
    /// Seconds after a first SIGTERM during which another one is a duplicate.
    static let duplicateWindow = 5.0
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "ddp.launch.signals")

    init() {
        // Blocked while the sources are set up, so none arrives in between
        // and is lost to SIG_IGN; one that came earlier is delivered on unblocking.
        Self.holdSignals()
        for signal in Self.handled {
            Foundation.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: queue)
            source.setEventHandler { [unowned self] in self.received(signal) }
            source.resume()
            sources.append(source)
        }
        var set = Self.handledSet
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    private static var handledSet: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        return set
    }

    /// Blocks the handled signals in this thread (and the threads and
    /// programs it starts later), so that they wait until handled.
    static func holdSignals() {
        var set = handledSet
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// The running mpirun, to which signals go.
    var child: pid_t? {
        get { lock.lock(); defer { lock.unlock() }; return _child }
        set { lock.lock(); _child = newValue; lock.unlock() }
    }

    /// Whether a signal asked the launcher to stop: no more restarts.
    var stopRequested: Bool {
        lock.lock(); defer { lock.unlock() }
        return _stopRequested
    }

    /// Whether the stop asked for is a preemption (SIGUSR1 or a first
    /// SIGTERM: checkpoint and exit 75), not SIGINT or a second SIGTERM.
    var preemptionRequested: Bool {
        lock.lock(); defer { lock.unlock() }
        return _preemption
    }
    private var _preemption = false

    /// The run directory's ``PreemptionSignal/requestFile``: written on a
    /// preemption, so that ranks still starting up learn of it too.
    var stopRequestFile: String? {
        get { lock.lock(); defer { lock.unlock() }; return _stopRequestFile }
        set { lock.lock(); _stopRequestFile = newValue; lock.unlock() }
    }
    private var _stopRequestFile: String?

    /// Removes a request left by an earlier launch; the run directory is
    /// created on the way if needed, so that the request can be written.
    func clearStopRequestFile() {
        guard let path = stopRequestFile else { return }
        unlink(path)
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
    }

    /// Sleeps `seconds` unless a stop is requested; returns whether it slept through.
    func sleep(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stopRequested { return false }
            usleep(50_000)
        }
        return !stopRequested
    }

    private func received(_ signal: Int32) {
        lock.lock()
        _stopRequested = true
        var forward = signal
        if signal == SIGTERM {
            if let firstTerm {
                if Date().timeIntervalSince(firstTerm) < Self.duplicateWindow {
                    lock.unlock()
                    say("received SIGTERM again within \(Int(Self.duplicateWindow)) s: taken as the same request")
                    return
                }
            } else {
                firstTerm = Date()
                forward = SIGUSR1
            }
        }
        _preemption = forward == SIGUSR1
        let child = _child
        let requestFile = _preemption ? _stopRequestFile : nil
        lock.unlock()
        if let requestFile { FileManager.default.createFile(atPath: requestFile, contents: Data()) }
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "SIGUSR1"
        let forwardedName = forward == SIGUSR1 ? "SIGUSR1" : name
        say("received \(name)" + (child.map { ", sending \(forwardedName) to mpirun (pid \($0))" } ?? "")
            + (forward == SIGUSR1 ? ": ranks checkpoint at the next step boundary and stop" : ": stopping"))
        if let child { kill(child, forward) }
    }
}
