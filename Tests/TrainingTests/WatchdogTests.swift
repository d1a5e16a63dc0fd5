import DDPTestSupport
import Foundation
import MPIRunSupport
import Training
import XCTest

/// The collective watchdog: in process with a recording handler, and in a
/// real two-rank job where one rank stops calling collectives.
final class WatchdogTests: XCTestCase {
    /// Collects the messages of a watchdog's expiries.
    private final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var _messages: [String] = []
        var messages: [String] { lock.lock(); defer { lock.unlock() }; return _messages }
        func record(_ message: String) { lock.lock(); _messages.append(message); lock.unlock() }

        /// Waits (bounded) until a message arrives.
        func waitForMessage(seconds: Double) -> String? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let first = messages.first { return first }
                usleep(10_000)
            }
            return messages.first
        }
    }

    func testArmedCollectiveThatNeverCompletesFiresOnceWithRankStepAndOperation() {
        let recorder = Recorder()
        let watchdog = CollectiveWatchdog(timeout: 0.2, rank: 3, onTimeout: recorder.record)
        watchdog.arm(.gradientReduction, step: 17)
        let message = recorder.waitForMessage(seconds: 10)
        XCTAssertEqual(message, CollectiveWatchdog.message(rank: 3, step: 17, operation: .gradientReduction, timeout: 0.2))
        XCTAssertTrue(message?.contains("rank 3") ?? false, message ?? "no message")
        XCTAssertTrue(message?.contains("gradient reduction at step 17") ?? false, message ?? "no message")
        XCTAssertTrue(watchdog.hasFired)
        // Still armed, but it fires only once: the handler aborts the job.
        usleep(500_000)
        XCTAssertEqual(recorder.messages.count, 1)
        watchdog.stop()
    }

    func testCollectivesThatCompleteInTimeNeverFire() throws {
        let recorder = Recorder()
        let watchdog = CollectiveWatchdog(timeout: 0.3, rank: 0, onTimeout: recorder.record)
        // Many short collectives, together far longer than the timeout.
        for step in 1...40 {
            try watchdog.guarding(.lossAllreduce, step: step) { usleep(20_000) }
        }
        // Disarmed between collectives: time spent computing does not count.
        usleep(600_000)
        XCTAssertEqual(recorder.messages, [])
        XCTAssertFalse(watchdog.hasFired)
    }

    func testGuardingDisarmsWhenTheCollectiveThrows() {
        struct Failure: Error {}
        let recorder = Recorder()
        let watchdog = CollectiveWatchdog(timeout: 0.2, rank: 0, onTimeout: recorder.record)
        XCTAssertThrowsError(try watchdog.guarding(.evaluation, step: 1) { throw Failure() })
        usleep(600_000)
        XCTAssertEqual(recorder.messages, [])
    }

    func testReleasedWatchdogStopsItsThread() {
        let recorder = Recorder()
        weak var released: CollectiveWatchdog?
        do {
            let watchdog = CollectiveWatchdog(timeout: 0.2, rank: 0, onTimeout: recorder.record)
            watchdog.arm(.checkpoint, step: 1)
            released = watchdog
        }
        XCTAssertNil(released, "the thread must not keep the watchdog alive")
        usleep(500_000)
        XCTAssertEqual(recorder.messages, [], "a released watchdog does not fire")
    }

    /// Rank 1 sleeps forever at the start of step 5 (test hook); rank 0 waits
    /// in the gradient reduction of step 5 until its watchdog aborts the job.
    func testRankThatStopsCallingCollectivesEndsTheJobWithTheWatchdogMessage() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ddp-watchdog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let config = scratch.appendingPathComponent("stall.yaml")
        try ScratchTestCase.smallMLP(steps: 40, extra: "  collective_timeout: 3\n").write(to: config, atomically: true, encoding: .utf8)

        let started = Date()
        // The harness's own timeout (kill everything, fail) bounds the test if the watchdog never fires.
        let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: 2,
                                    arguments: ["train", "--config", config.path, "--run-dir", scratch.appendingPathComponent("run").path],
                                    environment: ["DDP_TEST_STALL_RANK": "1", "DDP_TEST_STALL_STEP": "5"],
                                    timeout: 60)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(result.exitCode, JobExitCode.watchdog, "\(result)")
        XCTAssertTrue(result.stderr.contains("watchdog: rank 0 on \(Self.hostName) waited more than 3 s in the gradient reduction at step 5"),
                      result.stderr)
        // Exit 124 is the watchdog's MPI_Abort error code, which mpirun passes on; the
        // "MPI_ABORT was invoked" banner is not asserted: mpirun may kill the rank before it arrives.
        XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
        print("watchdog job ended after \(String(format: "%.1f", elapsed)) s (timeout 3 s, startup included)")
    }

    /// This machine's name as `MPI_Get_processor_name` reports it (gethostname).
    static var hostName: String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        return String(cString: name)
    }
}
