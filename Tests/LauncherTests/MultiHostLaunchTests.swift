import DDPTestSupport
import Foundation
import Launcher
import MPIRunSupport
import Training
import XCTest

/// `ddp launch --hostfile` on the hosts of `launch/test-cluster.sh`: a rank
/// killed on the second host, and a host cut off from the network mid-run.
/// Run by `launch/cluster-test.sh` (root), which brings the cluster up.
final class MultiHostLaunchTests: ScratchTestCase {
    override class var scratchPrefix: String { "ddp-multihost" }
    private var cluster: TestCluster!

    override func setUpWithError() throws {
        try super.setUpWithError()
        cluster = try TestCluster.current()
        XCTAssertGreaterThanOrEqual(cluster.hosts.count, 2, "the test cluster has \(cluster.hosts.count) host(s)")
    }

    /// The launcher's arguments for `ranks` ranks, one per host in turn.
    private func launchArguments(ranks: Int, config: String, run: URL, extra: [String] = []) -> [String] {
        ["launch", "-n", "\(ranks)", "--hostfile", cluster.hostfile, "--config", config, "--run-dir", run.path] + extra
            + ["--", "--map-by", "node"]
    }

    private func launch(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 240) throws -> MPIRunResult {
        try MPIRun.runProcess(executable: try MPIRun.executableURL(named: "ddp"), arguments: arguments,
                              environment: cluster.environment.merging(environment) { _, mine in mine }, timeout: timeout)
    }

    private func modelBytes(_ run: URL, step: Int) throws -> Data {
        try Data(contentsOf: run.appendingPathComponent("checkpoints")
            .appendingPathComponent(String(format: "step-%08d", step)).appendingPathComponent("model.safetensors"))
    }

    /// Rank 1, on the second host, is SIGKILLed at step 25 of 40 once: the
    /// launcher restarts the job across both hosts, it resumes from step 20,
    /// and the final parameters are byte-equal to an uninterrupted run's.
    func testRankKilledOnTheSecondHostRestartsAndEndsBitwiseAsIfUninterrupted() throws {
        let config = try writeConfig(ScratchTestCase.smallMLP(steps: 40))
        let interrupted = scratch.appendingPathComponent("interrupted")
        let marker = scratch.appendingPathComponent("killed-once").path
        let result = try launch(launchArguments(ranks: 2, config: config, run: interrupted,
                                                extra: ["--max-restarts", "2", "--restart-delay", "0.2"]),
                                environment: ["DDP_TEST_KILL_RANK": "1", "DDP_TEST_KILL_STEP": "25",
                                              "DDP_TEST_KILL_MARKER": marker])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "the kill hook fired\n\(result)")
        XCTAssertTrue(result.stdout.contains("attempt 1 failed"), result.stdout)
        XCTAssertTrue(result.stdout.contains("attempt 2 of 3, resuming from the checkpoint of step 20"), result.stdout)
        XCTAssertTrue(result.stdout.contains("summary: 40 steps done; newest checkpoint at step 40"), result.stdout)

        let uninterrupted = scratch.appendingPathComponent("uninterrupted")
        let reference = try launch(launchArguments(ranks: 2, config: config, run: uninterrupted, extra: ["--max-restarts", "0"]))
        XCTAssertEqual(reference.exitCode, 0, "\(reference)")
        XCTAssertEqual(try modelBytes(interrupted, step: 40), try modelBytes(uninterrupted, step: 40),
                       "final parameters differ from an uninterrupted run")
    }

    /// The second host's link goes down mid-run: the job ends within the
    /// collective timeout plus 5 s with the watchdog's exit code, the
    /// message names the ranks of the host that stopped answering, and the
    /// newest checkpoint is valid.
    func testHostCutOffEndsTheJobInTimeNamingTheHost() throws {
        let timeout = 5.0
        let config = try writeConfig(ScratchTestCase.smallMLP(steps: 1_000_000, extra: "  collective_timeout: \(Int(timeout))\n")
            .replacingOccurrences(of: "  log_every: 10\n", with: "  log_every: 1\n"))
        let run = scratch.appendingPathComponent("cut")
        let launch = try BackgroundDDP(launchArguments(ranks: 2, config: config, run: run, extra: ["--max-restarts", "0", "--plain"]),
                                       environment: cluster.environment, output: scratch.appendingPathComponent("launch.out"))
        let victim = cluster.hosts[1]
        defer {
            if launch.isRunning { launch.send(SIGKILL) }
            // The cut host's orphaned daemon would otherwise remove OpenMPI's
            // session directory under the next job's daemon there.
            _ = try? clusterCommand(["restore", victim])
            _ = try? clusterCommand(["reset", victim])
        }
        // A checkpoint first (every 10 steps), then the cut.
        XCTAssertTrue(BackgroundDDP.waitFor(120) { RunProgress(runDirectory: run).checkpointStep ?? 0 >= 20 }, launch.log)
        let cut = try clusterCommand(["cut", victim])
        XCTAssertEqual(cut.exitCode, 0, "\(cut)")
        let cutAt = Date()
        XCTAssertTrue(BackgroundDDP.waitFor(timeout + 30) { !launch.isRunning }, "ddp launch still running after the cut\n\(launch.log)")
        let took = Date().timeIntervalSince(cutAt)
        guard !launch.isRunning else { return }
        let text = launch.log
        XCTAssertEqual(launch.process.terminationStatus, JobExitCode.watchdog, text)
        XCTAssertLessThanOrEqual(took, timeout + 5, "the job took \(took) s to end after the cut\n\(text)")
        XCTAssertTrue(text.contains("ranks on other hosts: 1 on \(victim)"), text)

        // The newest checkpoint is complete: evaluation loads and verifies it.
        let evaluation = try MPIRun.runProcess(executable: try MPIRun.executableURL(named: "ddp"),
                                               arguments: ["eval", "--checkpoint", run.path], timeout: 120)
        XCTAssertEqual(evaluation.exitCode, 0, "\(evaluation)")
    }

    /// SIGTERM to `ddp launch` reaches the ranks on both hosts: they agree
    /// on a step, write a checkpoint and stop with the preemption code, and
    /// the launcher does not restart the job.
    func testSIGTERMPreemptsRanksOnBothHosts() throws {
        let config = try writeConfig(ScratchTestCase.smallMLP(steps: 1_000_000)
            .replacingOccurrences(of: "checkpoint:\n  every: 10\n", with: "checkpoint:\n  every: 1000000\n"))
        let run = scratch.appendingPathComponent("preempted")
        let launch = try BackgroundDDP(launchArguments(ranks: 2, config: config, run: run, extra: ["--plain"]),
                                       environment: cluster.environment, output: scratch.appendingPathComponent("launch.out"))
        guard let text = launch.preempt(afterStep: 50, stopTimeout: 60) else { return }
        let stopped = try XCTUnwrap(RunProgress(runDirectory: run).checkpointStep, "no checkpoint after SIGTERM\n\(text)")
        XCTAssertTrue(text.contains("ddp: preempted at step \(stopped)"), text)
    }

    /// Runs `launch/test-cluster.sh ARGS` with the cluster's state directory.
    private func clusterCommand(_ arguments: [String]) throws -> MPIRunResult {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("launch/test-cluster.sh")
        return try MPIRun.runProcess(executable: URL(fileURLWithPath: "/bin/bash"), arguments: [script.path] + arguments,
                                     environment: ["DDP_CLUSTER_DIR": cluster.directory], timeout: 60)
    }
}
