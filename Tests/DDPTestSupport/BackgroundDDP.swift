import Foundation
import MPIRunSupport
import Training
import XCTest

/// A `ddp` command started in the background with its output in a file, for
/// tests that act on a run while it goes on (signal it, cut its network).
public final class BackgroundDDP {
    public let process = Process()
    public let output: URL

    /// Starts `ddp ARGUMENTS` with the test-cleaned environment plus `environment`.
    public init(_ arguments: [String], environment: [String: String] = [:], output: URL) throws {
        self.output = output
        FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = try MPIRun.executableURL(named: "ddp")
        process.arguments = arguments
        process.environment = MPIRun.childEnvironment(adding: environment)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = process.standardOutput
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Everything it printed so far.
    public var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` to it.
    public func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Whether `ddp` holds `signal` back (blocked, ignored or caught), as
    /// `/proc/PID/status` shows: true from the moment its `main` takes
    /// charge of it. Before that the dynamic loader is still at work, and no
    /// program can answer a signal that early. (Before the exec, the spawned
    /// child's mask is the spawner's business, so the name must be `ddp`.)
    public func holds(_ signal: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              status.hasPrefix("Name:\tddp\n") else {
            return false
        }
        let bit = UInt64(1) << UInt64(signal - 1)
        for line in status.split(separator: "\n") where line.hasPrefix("SigBlk:") || line.hasPrefix("SigIgn:") || line.hasPrefix("SigCgt:") {
            let hex = line.split(separator: "\t").last.map(String.init) ?? ""
            if let mask = UInt64(hex.trimmingCharacters(in: .whitespaces), radix: 16), mask & bit != 0 { return true }
        }
        return false
    }

    /// Waits until the log shows `step STEP/`, sends SIGTERM, and checks that
    /// the job then stops with the preemption code and no restart.
    ///
    /// - Returns: The log, or `nil` (the test failed) when the job did not stop within `stopTimeout`.
    public func preempt(afterStep step: Int, stopTimeout: Double,
                        file: StaticString = #filePath, line: UInt = #line) -> String? {
        XCTAssertTrue(Self.waitFor(120) { log.contains("step \(step)/") }, log, file: file, line: line)
        send(SIGTERM)
        XCTAssertTrue(Self.waitFor(stopTimeout) { !isRunning }, "ddp did not stop after SIGTERM\n\(log)", file: file, line: line)
        guard !isRunning else { return nil }
        let text = log
        XCTAssertEqual(process.terminationStatus, JobExitCode.preempted, text, file: file, line: line)
        XCTAssertFalse(text.contains("attempt 2"), "no restart after a signal\n\(text)", file: file, line: line)
        return text
    }

    /// Whether `condition` became true within `seconds`, checked every 20 ms.
    public static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
