import ArgumentParser
import Foundation
import Training

/// Runs `body`; an error is printed as one line on standard error, never as a
/// crash trace, and exits with code 2 when the user's input caused it (a
/// config, a data file, a checkpoint), else with its runtime code
/// (``JobExitCode/forError(_:)``: MPI, the system refusing I/O).
func exitOnUserError(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        printError("\(error)")
        throw ExitCode(JobExitCode.forError(error))
    }
}

/// Writes `message` to standard error as `ddp: error: message`.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("ddp: error: \(message)\n".utf8))
}
