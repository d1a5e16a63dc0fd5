import ArgumentParser
import Foundation
import MPI

/// Starts MPI (or the single-process fallback) and returns the world.
func startWorld() throws -> Communicator {
    do {
        try MPI.initialize(threadLevel: .funneled)
    } catch {
        printError("cannot start MPI: \(error)")
        throw ExitCode(3)
    }
    return MPI.world
}

/// Runs `body` on every rank; a user error on any rank stops all of them:
/// ranks agree through an allreduce, so none is left waiting in a collective.
/// The failing rank(s) print the error, rank 0 prints it when all fail alike.
func runOnAllRanks(_ world: Communicator, _ body: () throws -> Void) throws {
    var failure: Error?
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        failure = error
    }
    // Every rank learns whether any failed, so none is left waiting in a collective.
    let failed = (try? world.allGather([Int32(failure == nil ? 0 : 1)])) ?? [1]
    guard failed.contains(1) else { return }
    if let failure {
        if failed.allSatisfy({ $0 == 1 }) {
            // The same input failed everywhere: one message is enough.
            if world.rank == 0 { printError("\(failure)") }
        } else {
            printError("rank \(world.rank): \(failure)")
        }
    }
    throw ExitCode(2)
}
