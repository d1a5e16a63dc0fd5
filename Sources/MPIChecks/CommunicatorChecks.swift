import Foundation
import MPI

/// Library queries, duplicate and split.
func checkCommunicators(_ checker: Checker) {
    let world = checker.world
    let n = world.size
    let rank = world.rank

    checker.note("size \(n), thread level \(MPI.providedThreadLevel.map { "\($0)" } ?? "none"), "
        + "host \(MPI.processorName), library \(MPI.libraryVersion.split(separator: ",").first ?? "")")
    checker.expect("environment.launched") {
        MPI.isLaunched && !world.isLocal && MPI.libraryVersion.contains("MPI") && !MPI.processorName.isEmpty
    }
    checker.expect("environment.wtime-monotonic") {
        let start = MPI.wallTime()
        try world.barrier()
        return MPI.wallTime() >= start
    }

    checker.expect("comm.duplicate") {
        let duplicate = try world.duplicate()
        let total = try duplicate.allSum(Int32(rank))
        return duplicate.size == n && duplicate.rank == rank && total == Int32(n * (n - 1) / 2)
    }
    checker.expect("comm.split.even-odd") {
        let color = rank % 2
        let sub = try world.split(color: color, key: rank)
        let expectedSize = (n - color + 1) / 2
        let members = stride(from: color, to: n, by: 2)
        let total = try sub.allSum(Int64(rank))
        return sub.size == expectedSize && sub.rank == rank / 2 && total == Int64(members.reduce(0, +))
    }
    checker.expect("comm.split.reversed-key") {
        let sub = try world.split(color: 0, key: n - rank)
        let gathered = try sub.allGather([Int32(rank)])
        return sub.size == n && sub.rank == n - 1 - rank && gathered == (0..<n).reversed().map { Int32($0) }
    }
}

/// An invalid root is refused by MPI with `MPI_ERR_ROOT`, thrown as
/// `MPIError`, and the job carries on.
func checkErrors(_ checker: Checker) {
    let world = checker.world
    checker.expect("error.invalid-root-throws") {
        var data: [Float] = [1, 2, 3]
        do {
            try data.withUnsafeMutableBufferPointer { try world._broadcastUnchecked($0, root: world.size + 3) }
            return false
        } catch let error as MPIError {
            checker.note("invalid root error: \(error)")
            return error.errorClass == .root && error.call == "MPI_Bcast" && !error.message.isEmpty
        }
    }
    checker.expect("error.continues-after-error") {
        try world.barrier()
        return try world.allSum(Int32(1)) == Int32(world.size)
    }
}

/// `a ⊕ b = a + b + 1` on Int32: associative and commutative, and unlike
/// any built-in operation, so the result proves MPI called this function.
let sumPlusOne: ReductionFunction = { input, inoutput, count, _ in
    let length = Int(count!.pointee)
    let a = input!.assumingMemoryBound(to: Int32.self)
    let b = inoutput!.assumingMemoryBound(to: Int32.self)
    for index in 0..<length { b[index] = a[index] &+ b[index] &+ 1 }
}

func checkCustomReduction(_ checker: Checker) {
    let world = checker.world
    let n = world.size
    checker.expect("custom-op.blocking") {
        let op = try CustomReduction(commutative: true, function: sumPlusOne)
        let result = try world.allReduce([Int32(world.rank), 10], op: .custom(op))
        return result == [Int32(n * (n - 1) / 2 + n - 1), Int32(10 * n + n - 1)]
    }
    checker.expect("custom-op.nonblocking") {
        let buffer = MPIBuffer<Int32>(count: 1000, repeating: 2)
        // The request keeps the operation alive after this scope's reference goes.
        let request = try world.startAllReduce(
            buffer, op: .custom(try CustomReduction(commutative: true, function: sumPlusOne)))
        try request.wait()
        return buffer.array.allSatisfy { $0 == Int32(2 * n + n - 1) }
    }
}

/// Deliberate failure on the last rank only, to show the job still exits
/// non-zero on every rank without hanging.
func checkDeliberateFailure(_ checker: Checker) {
    checker.expect("selftest.fails-on-last-rank") {
        checker.world.rank != checker.world.size - 1
    }
}

/// Rank 0 never arrives at the barrier, to exercise the harness timeout.
func hangForever(_ world: Communicator) throws {
    if world.rank == 0 {
        while true { sleep(60) }
    }
    try world.barrier()
}

/// Programmer misuse: a root outside the communicator must stop the program
/// with a precondition failure before MPI is called.
func misuseRoot(_ world: Communicator) throws {
    var data: [Int32] = [1]
    try world.broadcast(&data, root: world.size)
    print("UNREACHABLE broadcast with invalid root returned")
}
