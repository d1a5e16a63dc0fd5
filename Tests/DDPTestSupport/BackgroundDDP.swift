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
