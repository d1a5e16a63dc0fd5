import MPI

/// Nonblocking allreduce and broadcast: completion while the rank computes,
/// slices of one buffer, and groups completed by `Request.waitAll`.
func checkNonblocking(_ checker: Checker) {
    let comm = checker.world
    let n = comm.size
    let rank = comm.rank

    checker.expect("nonblocking.allreduce.inplace.test-while-computing") {
        // 4 MiB: large enough that MPI needs several progress calls.
        let count = 1 << 20
        let buffer = MPIBuffer<Float>(count: count, repeating: Float(rank + 1))
        let request = try comm.startAllReduce(buffer, op: .sum)
        let work = MPIBuffer<Float>(count: 4096, repeating: 1)
        var polls = 0
        var accumulator: Float = 0
        while try !request.test() {
            polls += 1
            for index in 0..<work.count { accumulator += work.baseAddress[index] * 0.5 }
        }
        let expected = Float(n * (n + 1) / 2)
        let values = buffer.buffer
        checker.note("nonblocking allreduce rank \(rank): \(polls) compute rounds before completion (\(accumulator > -1))")
        return request.isComplete && values.allSatisfy { $0 == expected }
    }

    checker.expect("nonblocking.allreduce.slice") {
        let buffer = MPIBuffer<Int32>(Array(0..<32).map { Int32($0) })
        let request = try comm.startAllReduce(buffer, range: 8..<20, op: .sum)
        try request.wait()
        return (0..<32).allSatisfy { index in
            buffer[index] == ((8..<20).contains(index) ? Int32(index * n) : Int32(index))
        }
    }

    checker.expect("nonblocking.allreduce.outofplace") {
        let source = MPIBuffer<Double>(count: 100, repeating: Double(rank))
        let destination = MPIBuffer<Double>(count: 100, repeating: -1)
        let request = try comm.startAllReduce(source, into: destination, range: 10..<90, op: .max)
        try request.wait()
        return (0..<100).allSatisfy { index in
            destination[index] == ((10..<90).contains(index) ? Double(n - 1) : -1) && source[index] == Double(rank)
        }
    }

    checker.expect("nonblocking.broadcast") {
        let buffer = MPIBuffer<Int64>(count: 64, repeating: rank == 0 ? 42 : 0)
        let request = try comm.startBroadcast(buffer, root: 0)
        try request.wait()
        return buffer.array.allSatisfy { $0 == 42 }
    }

    checker.expect("nonblocking.waitall.buckets") {
        // Four buckets of one flat buffer in flight at once, plus a broadcast.
        let bucket = 1000
        let flat = MPIBuffer<Float>(count: 4 * bucket, repeating: 0)
        for index in 0..<flat.count { flat[index] = Float(rank + index / bucket) }
        var requests = try (0..<4).map { index in
            try comm.startAllReduce(flat, range: (index * bucket)..<((index + 1) * bucket), op: .sum)
        }
        let extra = MPIBuffer<UInt16>(count: 8, repeating: rank == n - 1 ? 7 : 0)
        requests.append(try comm.startBroadcast(extra, root: n - 1))
        try Request.waitAll(requests)
        let rankSum = n * (n - 1) / 2
        let bucketsOK = (0..<flat.count).allSatisfy { flat[$0] == Float(rankSum + n * ($0 / bucket)) }
        return bucketsOK && extra.array.allSatisfy { $0 == 7 } && requests.allSatisfy(\.isComplete)
    }
}
