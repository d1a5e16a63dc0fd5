import MPI

/// In-place reduce to an owner and in-place gather of uneven blocks: the two
/// collectives of ZeRO-style sharding.
func checkSharding(_ checker: Checker) {
    let comm = checker.world
    let n = comm.size
    let rank = comm.rank

    checker.expect("sharding.reduce.inplace-per-owner") {
        // One slice per owner, all in flight at once, as the gradient reducer does.
        let block = 37
        let buffer = MPIBuffer<Float>(count: block * n + 5, repeating: 0)
        for index in 0..<buffer.count { buffer[index] = Float(rank + 1) * Float(index % 7) }
        let requests = try (0..<n).map { owner in
            try comm.startReduce(buffer, range: (owner * block)..<((owner + 1) * block), root: owner, op: .sum)
        }
        try Request.waitAll(requests)
        let mine = (rank * block)..<((rank + 1) * block)
        let factor = Float(n * (n + 1) / 2)
        return mine.allSatisfy { buffer[$0] == factor * Float($0 % 7) }
            && (block * n..<buffer.count).allSatisfy { buffer[$0] == Float(rank + 1) * Float($0 % 7) }
    }

    checker.expect("sharding.allgather.inplace-uneven") {
        // Uneven blocks, the last one possibly empty.
        let counts = (0..<n).map { $0 == n - 1 ? 3 : 10 + $0 }
        let total = counts.reduce(0, +)
        let start = counts[0..<rank].reduce(0, +)
        var values = [Int32](repeating: -1, count: total)
        for index in start..<(start + counts[rank]) { values[index] = Int32(index * 3) }
        try values.withUnsafeMutableBufferPointer { try comm.allGatherInPlace($0, counts: counts) }
        return values.enumerated().allSatisfy { $0.element == Int32($0.offset * 3) }
    }
}
