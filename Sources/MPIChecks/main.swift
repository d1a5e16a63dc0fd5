// mpi-checks: multi-rank checks of the MPI module, run under mpirun by
// MPITests. Usage: mpi-checks [all|collectives|nonblocking|communicators|
// errors|custom-op|sharding|shared-memory|selftest-fail|hang|misuse-root]...
import Foundation
import MPI

let scenarios: [String: (Checker) throws -> Void] = [
    "collectives": checkAllCollectives,
    "nonblocking": checkNonblocking,
    "communicators": checkCommunicators,
    "errors": checkErrors,
    "custom-op": checkCustomReduction,
    "sharding": checkSharding,
    "shared-memory": checkSharedMemory,
    "selftest-fail": checkDeliberateFailure,
    "hang": { try hangForever($0.world) },
    "misuse-root": { try misuseRoot($0.world) },
]
let everyday = ["communicators", "collectives", "nonblocking", "errors", "custom-op", "sharding", "shared-memory"]

var requested = Array(CommandLine.arguments.dropFirst())
if requested.isEmpty || requested == ["all"] { requested = everyday }
if let unknown = requested.first(where: { scenarios[$0] == nil }) {
    FileHandle.standardError.write("mpi-checks: unknown scenario '\(unknown)'; known: all, \(scenarios.keys.sorted().joined(separator: ", "))\n".data(using: .utf8)!)
    exit(2)
}

do {
    try MPI.initialize(threadLevel: .funneled)
} catch {
    FileHandle.standardError.write("mpi-checks: \(error)\n".data(using: .utf8)!)
    exit(3)
}
let checker = Checker(world: MPI.world)
for name in requested {
    do {
        try scenarios[name]!(checker)
    } catch {
        // A scenario body outside `expect` failed; ranks may disagree on
        // where they are, so only an abort is safe.
        FileHandle.standardError.write("mpi-checks: scenario \(name) failed on rank \(checker.world.rank): \(error)\n".data(using: .utf8)!)
        MPI.abort(exitCode: 4)
    }
}
let failed = (try? checker.world.allReduce(Int32(checker.failures), op: .max)) ?? 1
checker.note("\(checker.passes) passed, \(failed) failed")
MPI.finalize()
exit(failed == 0 ? 0 : 1)
