import ArgumentParser
import Foundation
import MPI
import Training

/// Starts MPI (or the single-process fallback) and returns the world.
func startWorld() throws -> Communicator {
    do {
        try MPI.initialize(threadLevel: .funneled)
    } catch {
        printError("cannot start MPI: \(error)")
        throw ExitCode(JobExitCode.mpiStartFailure)
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
    // Every rank learns whether any failed, and how, so none is left waiting
    // in a collective and all end with the same code.
    let mine = failure.map { JobExitCode.forError($0) } ?? 0
    let codes = (try? world.allGather([mine])) ?? [mine == 0 ? JobExitCode.mpiStartFailure : mine]
    guard let code = codes.first(where: { $0 != 0 }) else { return }
    if let failure {
        if codes.allSatisfy({ $0 != 0 }) {
            // The same input failed everywhere: one message is enough.
            if world.rank == 0 { printError("\(failure)") }
        } else {
            printError("rank \(world.rank): \(failure)")
        }
    }
    // Runtime failures (MPI, a full disk) keep their own code, so that `ddp launch` restarts them.
    throw ExitCode(code)
}
