import Foundation
import MPI

/// Runs named checks on every rank and agrees on each outcome.
///
/// Every rank evaluates a check locally; the verdict is the minimum over the
/// world (an allreduce), so one failing rank fails the check everywhere and
/// no rank is left waiting in a later collective. Rank 0 prints one line per
/// check: `PASS <name>` or `FAIL <name>`; failing ranks explain on stderr.
final class Checker {
    let world: Communicator
    private(set) var failures = 0
    private(set) var passes = 0

    init(world: Communicator) {
        self.world = world
    }

    /// Evaluates `body` on every rank; a thrown error counts as failure.
    func expect(_ name: String, _ body: () throws -> Bool) {
        var passed = false
        var detail = "returned false"
        do {
            passed = try body()
        } catch {
            detail = "threw \(error)"
        }
        if !passed {
            FileHandle.standardError.write("rank \(world.rank): \(name): \(detail)\n".data(using: .utf8)!)
        }
        let agreed: Int32
        do {
            agreed = try world.allReduce(Int32(passed ? 1 : 0), op: .min)
        } catch {
            // Without agreement the ranks could diverge; stop the whole job.
            FileHandle.standardError.write("rank \(world.rank): verdict allreduce failed: \(error)\n".data(using: .utf8)!)
            MPI.abort(exitCode: 3)
        }
        if agreed == 1 { passes += 1 } else { failures += 1 }
        if world.rank == 0 {
            print("\(agreed == 1 ? "PASS" : "FAIL") \(name)")
            fflush(stdout)
        }
    }

    /// Prints an informational line from rank 0.
    func note(_ text: String) {
        if world.rank == 0 {
            print("INFO \(text)")
            fflush(stdout)
        }
    }
}
