import DDPTestSupport
import Foundation
import Launcher
import MPIRunSupport
import Training
import XCTest

/// A checkpoint write that meets a full disk is a runtime failure, not bad
/// input: it names the path and the system's reason, exits with the I/O
/// code (which `ddp launch` restarts), removes its half-written directory,
/// and leaves the previous checkpoint intact for `--resume auto`.
final class FullDiskTests: ScratchTestCase {
    override class var scratchPrefix: String { "ddp-full-disk" }

    func testCheckpointOnAFullDiskIsARestartableFailureAndThePreviousOneStands() throws {
        guard geteuid() == 0 else { throw Prerequisite.missing("mounting a small tmpfs needs root (CI runs as root)") }
        let disk = scratch.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        // Room for one checkpoint of this model (2 x 86 KB) and the logs, not two.
        let mount = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/bin/mount"),
                                          arguments: ["-t", "tmpfs", "-o", "size=256k", "tmpfs", disk.path], timeout: 30)
        XCTAssertEqual(mount.exitCode, 0, "\(mount)")
        guard mount.exitCode == 0 else { return }
        defer { _ = try? MPIRun.runProcess(executable: URL(fileURLWithPath: "/bin/umount"), arguments: [disk.path], timeout: 30) }

        let config = try writeConfig(ScratchTestCase.smallMLP(steps: 20).replacingOccurrences(of: "hidden: [32]", with: "hidden: [1024]")
            .replacingOccurrences(of: "  every: 10\n  keep_last: 10", with: "  every: 10\n  keep_last: 3"))
        let run = disk.appendingPathComponent("run")
        let ddp = try MPIRun.executableURL(named: "ddp")
        let result = try MPIRun.runProcess(executable: ddp, arguments: ["train", "--config", config, "--run-dir", run.path, "--plain"],
                                           timeout: 120)
        XCTAssertEqual(result.exitCode, JobExitCode.ioFailure, "\(result)")
        XCTAssertTrue(result.stderr.contains("No space left on device"), result.stderr)
        XCTAssertTrue(result.stderr.contains(run.path), result.stderr)
        XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)

        let checkpoints = run.appendingPathComponent("checkpoints")
        let left = try FileManager.default.contentsOfDirectory(atPath: checkpoints.path)
        XCTAssertFalse(left.contains { $0.hasPrefix(".tmp") || $0.hasPrefix("tmp") }, "a half-written checkpoint stayed: \(left)")
        XCTAssertEqual(RunProgress(runDirectory: run).checkpointStep, 10, "\(left)")

        // The step-10 checkpoint is intact, and a resume elsewhere continues from it.
        let moved = scratch.appendingPathComponent("moved")
        try FileManager.default.copyItem(at: run, to: moved)
        let resumed = try MPIRun.runProcess(executable: ddp, arguments: ["train", "--config", config, "--run-dir", moved.path,
                                                                         "--plain", "--resume", "auto"], timeout: 120)
        XCTAssertEqual(resumed.exitCode, 0, "\(resumed)")
        XCTAssertTrue(resumed.stdout.contains("resuming from step 10"), resumed.stdout)
    }
}
