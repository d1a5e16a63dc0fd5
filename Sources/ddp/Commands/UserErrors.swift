import ArgumentParser
import Foundation

/// Runs `body`; an error caused by the user's input (a config, a data file, a
/// checkpoint) is printed as one line on standard error and exits with code 2,
/// never as a crash trace.
func exitOnUserError(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}

/// Writes `message` to standard error as `ddp: error: message`.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("ddp: error: \(message)\n".utf8))
}
