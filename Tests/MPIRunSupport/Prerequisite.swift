import Foundation
import XCTest

/// A test's missing prerequisite (a data set, a Python package, a program):
/// skipped on a developer's machine, where it may not be installed yet, but
/// a failure in CI, where `launch/test.sh` installs every prerequisite, so
/// that a broken install step cannot pass as a skipped test.
public enum Prerequisite {
    /// Whether this run is CI's (the `CI` variable is set, as CI runners do).
    public static var isCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"] ?? ""
        return !value.isEmpty && value != "0" && value != "false"
    }

    /// The error to throw for a missing prerequisite: `XCTSkip` locally, a
    /// failing error in CI.
    public static func missing(_ message: String, file: StaticString = #filePath, line: UInt = #line) -> Error {
        if isCI { return MissingInCI(message: message) }
        return XCTSkip(message, file: file, line: line)
    }

    struct MissingInCI: Error, CustomStringConvertible {
        let message: String
        var description: String { "missing prerequisite in CI: \(message)" }
    }
}
