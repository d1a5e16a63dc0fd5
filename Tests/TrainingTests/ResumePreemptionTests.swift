import Checkpoint
import DDPTestSupport
import Foundation
import MPIRunSupport
import Training
import XCTest

/// A preemption signal to one rank of a running job: every rank stops at the
/// same step boundary, a checkpoint appears, the exit code is the documented
/// one, and resuming completes the run bitwise identically.
final class ResumePreemptionTests: CheckpointTestCase {
    func testSIGTERMToOneRankCheckpointsAndResumesBitwise() throws {
        let config = try writeConfig(Self.mlpConfig.replacingOccurrences(of: "steps: 30", with: "steps: 1000000")
            .replacingOccurrences(of: "log_every: 5", with: "log_every: 1"))
        let run = scratch.appendingPathComponent("preempted")
        let ddp = try MPIRun.executableURL(named: "ddp")

        let job = Process()
        job.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["mpirun", "-np", "2", "--oversubscribe"]
        if geteuid() == 0 { arguments.append("--allow-run-as-root") }
        job.arguments = arguments + [ddp.path, "train", "--config", config, "--run-dir", run.path, "--plain"]
        job.environment = MPIRun.childEnvironment()
        let output = scratch.appendingPathComponent("job.out")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        job.standardOutput = handle
        job.standardError = handle
        try job.run()

        // Wait until training is under way, then signal rank 1 only.
        let metrics = run.appendingPathComponent("metrics.jsonl")
        let deadline = Date().addingTimeInterval(120)
        var logged = 0
        while logged < 20 && Date() < deadline && job.isRunning {
            usleep(50_000)
            logged = ((try? String(contentsOf: metrics, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        let ranks = childProcesses(of: job.processIdentifier)
        XCTAssertEqual(ranks.count, 2, "mpirun's children: \(ranks)")
        guard logged >= 20, let target = ranks.max() else {
            job.terminate()
            job.waitUntilExit()
            return XCTFail("training did not start: \(String(decoding: (try? Data(contentsOf: output)) ?? Data(), as: UTF8.self))")
        }
        kill(target, SIGTERM)
        job.waitUntilExit()
        try handle.close()
        let text = String(decoding: try Data(contentsOf: output), as: UTF8.self)
        XCTAssertEqual(job.terminationStatus, JobExitCode.preempted, text)
        XCTAssertTrue(text.contains("ddp: preempted at step"), text)

        let steps = CheckpointStore(runDirectory: run).list().map(\.step)
        XCTAssertEqual(steps.count, 1, "one checkpoint, at the step where the ranks agreed to stop")
        let stop = try XCTUnwrap(steps.first)
        XCTAssertGreaterThanOrEqual(stop, 20)
        let state = try CheckpointStore.verify(CheckpointStore(runDirectory: run).url(step: stop))
        XCTAssertEqual(state.worldSize, 2)

        // Resume to stop + 7 steps, and compare with a run that never stopped.
        let total = stop + 7
        let resumed = try ddpTrain(ranks: 2, config: config, runDirectory: run,
                                   extra: ["--set", "training.steps=\(total)", "--resume", "auto"])
        XCTAssertEqual(resumed.exitCode, 0, "\(resumed)")
        XCTAssertTrue(resumed.stdout.contains("resuming from step \(stop)"), resumed.stdout)
        let straight = scratch.appendingPathComponent("straight")
        let uninterrupted = try ddpTrain(ranks: 2, config: config, runDirectory: straight,
                                         extra: ["--set", "training.steps=\(total)"])
        XCTAssertEqual(uninterrupted.exitCode, 0, "\(uninterrupted)")
        for name in ["model.safetensors", "optimizer.safetensors"] {
            XCTAssertEqual(try tensorBytes(checkpoint(run, step: total).appendingPathComponent(name).path),
                           try tensorBytes(checkpoint(straight, step: total).appendingPathComponent(name).path), name)
        }
    }

    /// Live processes whose parent is `parent`, from `/proc`.
    private func childProcesses(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", Int32(fields[1]) == parent else { return nil }
            return pid
        }
    }
}
