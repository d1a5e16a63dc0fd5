import DDPTestSupport
import Foundation
import Launcher
import MPIRunSupport
import Training
import XCTest

/// `ddp launch`: its mpirun command line, its restart policy, what it reads
/// from a run directory, and real jobs in which a rank is killed.
final class LaunchTests: ScratchTestCase {
    override class var scratchPrefix: String { "ddp-launch" }

    // MARK: - The command line

    private func plan(ranks: Int, root: Bool = false, cores: Int = 2, terminal: Bool = true) -> LaunchPlan {
        LaunchPlan(mpirun: "/usr/bin/mpirun", executable: "/opt/ddp", ranks: ranks, config: "/c.yaml",
                   runDirectory: "/runs/c", isRoot: root, cores: cores, stdoutIsTerminal: terminal)
    }

    func testPlainUserOnAWorkstationGetsNoExtraFlags() {
        XCTAssertEqual(plan(ranks: 2).arguments(attempt: 1),
                       ["-np", "2", "-x", "DDP_LAUNCH_ATTEMPT=1",
                        "/opt/ddp", "train", "--config", "/c.yaml", "--run-dir", "/runs/c", "--resume", "auto"])
    }

    func testRootOversubscriptionAndPlainOutputAddTheirFlags() {
        var p = plan(ranks: 4, root: true, terminal: false)
        p.overrides = ["training.steps=5"]
        p.extraMPIArguments = ["--mca", "btl", "self,vader"]
        p.exported = ["DDP_BLAS_THREADS": "2"]
        XCTAssertEqual(p.arguments(attempt: 3),
                       ["-np", "4", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                        "-x", "DDP_BLAS_THREADS=2", "-x", "DDP_LAUNCH_ATTEMPT=3", "-x", "DDP_PLAIN_PROGRESS=1",
                        "--mca", "btl", "self,vader",
                        "/opt/ddp", "train", "--config", "/c.yaml", "--run-dir", "/runs/c", "--resume", "auto",
                        "--set", "training.steps=5"])
    }

    func testHostfileLeavesSlotsToTheHostfile() {
        var p = plan(ranks: 16)
        p.hostfile = "/etc/hosts.mpi"
        let arguments = p.arguments(attempt: 1)
        XCTAssertFalse(arguments.contains("--oversubscribe"), "\(arguments)")
        XCTAssertEqual(Array(arguments[2...3]), ["--hostfile", "/etc/hosts.mpi"])
        XCTAssertTrue(p.commandLine(attempt: 1).hasPrefix("/usr/bin/mpirun -np 16 --hostfile /etc/hosts.mpi"))
        // Across hosts the daemons' links are probed, so a host that is gone ends the job in seconds.
        XCTAssertEqual(Array(arguments[4...6]), ["--mca", "oob_tcp_keepalive_time", "10"], "\(arguments)")
    }

    /// A parameter the user set (environment or `--mca` after `--`) is not set again.
    func testHostfileKeepsTheUsersMCAParameters() {
        var p = plan(ranks: 4)
        p.hostfile = "/etc/hosts.mpi"
        p.userMCAParameters = ["oob_tcp_keepalive_time"]
        let arguments = p.arguments(attempt: 1)
        XCTAssertFalse(arguments.contains("oob_tcp_keepalive_time"), "\(arguments)")
        XCTAssertTrue(arguments.contains("oob_tcp_keepalive_probes"), "\(arguments)")
    }

    // MARK: - Restart policy

    func testOnlyFailuresAreRestarted() {
        XCTAssertEqual(AttemptOutcome(exitCode: 0, stopRequested: false), .succeeded)
        XCTAssertEqual(AttemptOutcome(exitCode: JobExitCode.preempted, stopRequested: true), .preempted)
        XCTAssertEqual(AttemptOutcome(exitCode: 2, stopRequested: false), .userError)
        XCTAssertEqual(AttemptOutcome(exitCode: 137, stopRequested: true), .stopped(exitCode: 137))
        XCTAssertEqual(AttemptOutcome(exitCode: 137, stopRequested: false), .failed(exitCode: 137))
        XCTAssertTrue(AttemptOutcome(exitCode: JobExitCode.watchdog, stopRequested: false).isRestartable)
        for code: Int32 in [0, 2, JobExitCode.preempted] {
            XCTAssertFalse(AttemptOutcome(exitCode: code, stopRequested: false).isRestartable, "exit \(code)")
            XCTAssertEqual(AttemptOutcome(exitCode: code, stopRequested: false).exitCode, code)
        }
        XCTAssertFalse(AttemptOutcome(exitCode: 1, stopRequested: true).isRestartable)
        // mpirun ending by a signal (or faulting) after a forwarded preemption: requeue, not a failure.
        for code: Int32 in [128 + SIGUSR1, 128 + SIGTERM, 139] {
            XCTAssertEqual(AttemptOutcome(exitCode: code, stopRequested: true, preemptionRequested: true), .preempted)
            XCTAssertEqual(AttemptOutcome(exitCode: code, stopRequested: true, preemptionRequested: false), .stopped(exitCode: code))
        }
        XCTAssertEqual(AttemptOutcome(exitCode: 1, stopRequested: true, preemptionRequested: true), .stopped(exitCode: 1))
        // The OOM killer's SIGKILL during a preemption is still a failure to report, not a checkpointed stop.
        XCTAssertEqual(AttemptOutcome(exitCode: 137, stopRequested: true, preemptionRequested: true), .stopped(exitCode: 137))
    }

    // MARK: - Run directory

    func testRunProgressReadsNewestCheckpointAndLastMetrics() throws {
        let checkpoints = scratch.appendingPathComponent("checkpoints")
        for name in ["step-00000010", "step-00000030", "step-00000020", "step-00000040.tmp", "latest"] {
            let directory = checkpoints.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            // step 30 is still being written: no trainer state yet.
            if name != "step-00000030" {
                FileManager.default.createFile(atPath: directory.appendingPathComponent("trainer.json").path, contents: Data())
            }
        }
        let metrics = """
            {"kind":"train","step":10,"loss":1.5}
            {"kind":"eval","step":20,"loss":0.9,"accuracy":0.75}
            {"kind":"train","step":20,"loss":1.25}
            not json
            """
        try metrics.write(to: scratch.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let progress = RunProgress(runDirectory: scratch)
        XCTAssertEqual(progress.checkpointStep, 20)
        XCTAssertEqual(progress.lastTrain["loss"], 1.25)
        XCTAssertEqual(progress.lastEvaluation["accuracy"], 0.75)
        XCTAssertEqual(progress.stepsDone, 20)
        XCTAssertEqual(progress.summary,
                       "20 steps done; newest checkpoint at step 20; train loss 1.2500 at step 20; eval loss 0.9000, accuracy 75.00% at step 20")
        XCTAssertEqual(RunProgress(runDirectory: scratch.appendingPathComponent("absent")).stepsDone, 0)
    }

    // MARK: - Real jobs

    private func launch(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 180) throws -> MPIRunResult {
        try MPIRun.runProcess(executable: try MPIRun.executableURL(named: "ddp"), arguments: ["launch"] + arguments,
                              environment: environment, timeout: timeout)
    }

    private func modelBytes(_ run: URL, step: Int) throws -> Data {
        let url = run.appendingPathComponent("checkpoints")
            .appendingPathComponent(String(format: "step-%08d", step)).appendingPathComponent("model.safetensors")
        return try Data(contentsOf: url)
    }

    /// Rank 1 is SIGKILLed at step 25 of 40, once; mpirun ends the job, the
    /// launcher starts it again, the run resumes from step 20 and finishes
    /// with parameters byte-equal to an uninterrupted run's.
    func testKilledRankRestartsTheJobAndTheRunEndsBitwiseAsIfUninterrupted() throws {
        let config = scratch.appendingPathComponent("mlp.yaml")
        try Self.smallMLP(steps: 40).write(to: config, atomically: true, encoding: .utf8)
        let interrupted = scratch.appendingPathComponent("interrupted")
        let marker = scratch.appendingPathComponent("killed-once").path
        let result = try launch(["-n", "2", "--config", config.path, "--run-dir", interrupted.path,
                                 "--max-restarts", "2", "--restart-delay", "0.2"],
                                environment: ["DDP_TEST_KILL_RANK": "1", "DDP_TEST_KILL_STEP": "25",
                                              "DDP_TEST_KILL_MARKER": marker])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "the kill hook fired")
        XCTAssertTrue(result.stderr.contains("exited on signal 9"), result.stderr)
        XCTAssertTrue(result.stdout.contains("ddp launch: attempt 1 failed: a process was killed by signal 9 (exit 137)"),
                      result.stdout)
        XCTAssertTrue(result.stdout.contains("attempt 2 of 3, resuming from the checkpoint of step 20"), result.stdout)
        XCTAssertTrue(result.stdout.contains("ddp: done, 40 steps"), result.stdout)
        XCTAssertTrue(result.stdout.contains("summary: 2 attempt(s)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("summary: 40 steps done; newest checkpoint at step 40"), result.stdout)

        let uninterrupted = scratch.appendingPathComponent("uninterrupted")
        let reference = try launch(["-n", "2", "--config", config.path, "--run-dir", uninterrupted.path, "--max-restarts", "0"])
        XCTAssertEqual(reference.exitCode, 0, "\(reference)")
        XCTAssertTrue(reference.stdout.contains("summary: 1 attempt(s): #1 completed at step 40"), reference.stdout)

        let resumed = try modelBytes(interrupted, step: 40)
        XCTAssertGreaterThan(resumed.count, 676 * 4)
        XCTAssertEqual(resumed, try modelBytes(uninterrupted, step: 40), "final parameters differ from an uninterrupted run")
    }

    /// A rank that dies every time: the launcher gives up after
    /// --max-restarts and exits with mpirun's code.
    func testRepeatedFailuresStopAfterMaxRestarts() throws {
        let config = scratch.appendingPathComponent("mlp.yaml")
        try Self.smallMLP(steps: 40).write(to: config, atomically: true, encoding: .utf8)
        let result = try launch(["-n", "2", "--config", config.path, "--run-dir", scratch.appendingPathComponent("run").path,
                                 "--max-restarts", "1", "--restart-delay", "0"],
                                environment: ["DDP_TEST_KILL_RANK": "0", "DDP_TEST_KILL_STEP": "15"])
        XCTAssertEqual(result.exitCode, 137, "\(result)")
        XCTAssertTrue(result.stdout.contains("attempt 2 of 2, resuming from the checkpoint of step 10"), result.stdout)
        XCTAssertFalse(result.stdout.contains("attempt 3"), result.stdout)
        XCTAssertTrue(result.stdout.contains("summary: 2 attempt(s)"), result.stdout)
    }

    /// A config error is the user's to fix: one attempt, exit 2.
    func testConfigErrorIsNotRestarted() throws {
        let config = scratch.appendingPathComponent("bad.yaml")
        try Self.smallMLP(steps: 40).replacingOccurrences(of: "lr: 0.1", with: "lr: fast")
            .write(to: config, atomically: true, encoding: .utf8)
        let result = try launch(["-n", "2", "--config", config.path, "--run-dir", scratch.appendingPathComponent("run").path])
        XCTAssertEqual(result.exitCode, 2, "\(result)")
        XCTAssertTrue(result.stderr.contains("optimizer.lr: expected a number"), result.stderr)
        XCTAssertFalse(result.stdout.contains("attempt 2"), result.stdout)
    }

    // MARK: - Preemption

    /// More ranks than the machine (or the hostfile's slots) can take are
    /// refused before mpirun starts, with the bound and the override named.
    func testRanksBeyondTheBoundAreRefused() throws {
        let config = try writeConfig(Self.smallMLP(steps: 10))
        let hostfile = try writeConfig("# two nodes\nnode01 slots=2\nnode02 slots=3 # the big one\n", name: "hosts")
        let cases: [([String], String)] = [
            (["-n", "100000"], "allows at most \(ProcessInfo.processInfo.activeProcessorCount * LaunchPlan.ranksPerCore) ranks"),
            (["-n", "6", "--hostfile", hostfile], "declares 5 slots"),
        ]
        for (arguments, message) in cases {
            let started = Date()
            let result = try launch(arguments + ["--config", config, "--run-dir", scratch.appendingPathComponent("run").path])
            XCTAssertEqual(result.exitCode, JobExitCode.userError, "\(arguments): \(result)")
            XCTAssertTrue(result.stderr.contains(message) && result.stderr.contains("--allow-oversubscription"),
                          "\(arguments): \(result.stderr)")
            XCTAssertFalse(result.stdout.contains("attempt 1"), "\(arguments): mpirun must not start\n\(result)")
            XCTAssertLessThan(Date().timeIntervalSince(started), 30)
        }
    }

    /// SIGTERM at any moment of a launch's start (before the OpenBLAS
    /// relaunch, before mpirun runs, while it starts its ranks, before the
    /// first step) ends with the preemption code, so that a job script
    /// requeues the job; nothing is lost. The moments count from the top of
    /// `ddp`'s `main`: before it, the dynamic loader maps the libraries for
    /// 50-80 ms on this host, and a signal then has its default action in
    /// any program.
    func testSIGTERMWhileStartingExitsWithThePreemptionCode() throws {
        let config = try writeConfig(Self.smallMLP(steps: 1_000_000))
        for (index, delay) in [0, 0.05, 0.15, 0.3, 0.6, 1.0].enumerated() {
            let job = try BackgroundDDP(["launch", "-n", "2", "--config", config,
                                         "--run-dir", scratch.appendingPathComponent("run-\(index)").path],
                                        output: scratch.appendingPathComponent("launch-\(index).out"))
            XCTAssertTrue(BackgroundDDP.waitFor(30) { job.holds(SIGTERM) || !job.isRunning },
                          "ddp launch never took charge of SIGTERM\n\(job.log)")
            usleep(UInt32(delay * 1e6))
            job.send(SIGTERM)
            XCTAssertTrue(BackgroundDDP.waitFor(60) { !job.isRunning }, "SIGTERM after \(delay) s: still running\n\(job.log)")
            guard !job.isRunning else { continue }
            XCTAssertEqual(job.process.terminationStatus, JobExitCode.preempted, "SIGTERM after \(delay) s\n\(job.log)")
        }
    }

    /// SIGTERM to `ddp launch` mid-run: the ranks checkpoint at a step
    /// boundary, the launcher exits with the preemption code without a
    /// restart, and a second launch resumes and ends bitwise where an
    /// uninterrupted run of the same length ends.
    func testSIGTERMCheckpointsExitsWithThePreemptionCodeAndResumesBitwise() throws {
        let config = scratch.appendingPathComponent("long.yaml")
        // Constant learning rate, so the total step count (changed for the resume) does not change any update.
        try Self.smallMLP(steps: 1_000_000).replacingOccurrences(of: "checkpoint:\n  every: 10\n", with: "checkpoint:\n  every: 1000000\n")
            .write(to: config, atomically: true, encoding: .utf8)
        let run = scratch.appendingPathComponent("preempted")
        let job = try BackgroundDDP(["launch", "-n", "2", "--config", config.path, "--run-dir", run.path],
                                       output: scratch.appendingPathComponent("launch.out"))
        guard let text = job.preempt(afterStep: 50, stopTimeout: 120) else { return }
        XCTAssertTrue(text.contains("received SIGTERM, sending SIGUSR1 to mpirun"), text)
        let progress = RunProgress(runDirectory: run)
        let stopped = try XCTUnwrap(progress.checkpointStep, "no checkpoint after SIGTERM\n\(text)")
        XCTAssertGreaterThanOrEqual(stopped, 50)
        XCTAssertTrue(text.contains("ddp: preempted at step \(stopped)"), text)
        XCTAssertTrue(text.contains("summary: 1 attempt(s): #1 preempted"), text)

        // Launching again resumes; 10 more steps end where an uninterrupted run of stopped + 10 does.
        let end = stopped + 10
        let resumed = try launch(["-n", "2", "--config", config.path, "--run-dir", run.path,
                                  "--set", "training.steps=\(end)"])
        XCTAssertEqual(resumed.exitCode, 0, "\(resumed)")
        XCTAssertTrue(resumed.stdout.contains("resuming from the checkpoint of step \(stopped)"), resumed.stdout)
        let reference = scratch.appendingPathComponent("reference")
        let straight = try launch(["-n", "2", "--config", config.path, "--run-dir", reference.path,
                                   "--set", "training.steps=\(end)"])
        XCTAssertEqual(straight.exitCode, 0, "\(straight)")
        XCTAssertEqual(try modelBytes(run, step: end), try modelBytes(reference, step: end),
                       "parameters after a preempted and resumed run differ from an uninterrupted run's")
    }
}
