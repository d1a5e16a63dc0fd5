import Foundation
import MPIRunSupport
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
