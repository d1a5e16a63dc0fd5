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
                say("mpirun ended by signal \(exitCode - 128) after the preemption signal was forwarded; the newest checkpoint stands")
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
        let pid: pid_t
        do {
            pid = try spawnChild(plan.mpirun, arguments: plan.arguments(attempt: attempt), environment: environment)
        } catch let error as LaunchError {
            printError("\(error)")
            throw ExitCode(JobExitCode.userError)
        }
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
