import Foundation
import MPI

/// Shared-memory segments: every rank sees every region, counters order the
/// data written before them, and the segment leaves nothing in /dev/shm.
func checkSharedMemory(_ checker: Checker) {
    let comm = checker.world
    let n = comm.size
    let rank = comm.rank

    checker.expect("shared-memory.regions-visible-to-all") {
        // 5000 bytes: not a page multiple, so the rounding is exercised too.
        guard let segment = try comm.allocateSharedSegment(bytesPerRank: 5000) else { return n == 1 }
        guard segment.ranks == n, segment.rank == rank, segment.bytesPerRank % 4096 == 0,
              segment.bytesPerRank >= 5000 else { return false }
        let mine = segment.region(ofRank: rank).bindMemory(to: Int32.self, capacity: 1250)
        let zeroFilled = (0..<1250).allSatisfy { mine[$0] == 0 }
        for i in 0..<1250 { mine[i] = Int32(rank * 10_000 + i) }
        try comm.barrier()
        let everyRegion = (0..<n).allSatisfy { peer in
            let region = segment.region(ofRank: peer).bindMemory(to: Int32.self, capacity: 1250)
            return (0..<1250).allSatisfy { region[$0] == Int32(peer * 10_000 + $0) }
        }
        try comm.barrier()
        return zeroFilled && everyRegion
    }

    checker.expect("shared-memory.counter-publishes-data") {
        // A ring: each rank fills a block, publishes round r, and reads its
        // left neighbour's block of round r, with no MPI call in between.
        guard let segment = try comm.allocateSharedSegment(bytesPerRank: 64 + 4096 * 4) else { return n == 1 }
        let counter = { (peer: Int) in SharedCounter(segment.region(ofRank: peer)) }
        let data = { (peer: Int) in (segment.region(ofRank: peer) + 64).bindMemory(to: Int32.self, capacity: 4096) }
        let left = (rank + n - 1) % n
        var consistent = true
        for round in 1...200 {
            // The neighbour must be done reading round - 1 before it is overwritten.
            let next = (rank + 1) % n
            SharedCounter(segment.region(ofRank: next) + 8).wait(untilAtLeast: UInt64(round - 1))
            for i in 0..<4096 { data(rank)[i] = Int32(round * 7 + rank + i) }
            counter(rank).store(UInt64(round))
            counter(left).wait(untilAtLeast: UInt64(round))
            consistent = consistent && (0..<4096).allSatisfy { data(left)[$0] == Int32(round * 7 + left + $0) }
            SharedCounter(segment.region(ofRank: rank) + 8).store(UInt64(round))
        }
        try comm.barrier()
        return consistent
    }

    checker.expect("shared-memory.nothing-left-in-dev-shm") {
        let before = try comm.broadcast(Int32(rank == 0 ? getpid() : 0), root: 0)
        let segment = try comm.allocateSharedSegment(bytesPerRank: 4096)
        // Rank 0 unlinks right after the ranks agree; wait until it has.
        try comm.barrier()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []
        try comm.barrier()
        _ = segment
        return !names.contains { $0.hasPrefix("swift-ddp-\(before)-") }
    }
}
