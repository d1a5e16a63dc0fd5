import ArgumentParser
import Foundation
import MPI
import TensorCore

/// `ddp env`: what each rank runs on.
struct EnvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print each rank's rank, size, host, MPI library, thread level and BLAS kernel."
    )

    func run() throws {
        let world = try startWorld()
        let library = MPI.libraryVersion.split(separator: "\n").first.map(String.init) ?? "?"
        let line = "rank \(world.rank)/\(world.size) host=\(MPI.processorName) mpi=\"\(library)\" "
            + "thread_level=\(MPI.providedThreadLevel.map { "\($0)" } ?? "?") local=\(MPI.isLocal) "
            + "blas_core=\(OpenBLAS.coreName) blas_threads=\(OpenBLAS.threadCount) "
            + "blas_relaunched=\(OpenBLASKernel.wasRelaunched)"
        // Gathered to rank 0 so lines come out in rank order, not interleaved.
        let bytes = Array(line.utf8)
        let counts = try world.allGather([Int64(bytes.count)]).map(Int.init)
        let all = try world.allGather(bytes, counts: counts)
        if world.rank == 0 {
            var offset = 0
            for count in counts {
                print(String(decoding: all[offset..<(offset + count)], as: UTF8.self))
                offset += count
            }
        }
    }
}
