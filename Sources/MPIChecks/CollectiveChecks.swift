import MPI

/// Integer-valued test data, exact in every supported element type.
///
/// Values stay below 256 for any job of up to 8 ranks, so `UInt8` sums and
/// products are exact too.
protocol CheckScalar: MPIScalar, Numeric, Comparable {}
extension Float: CheckScalar {}
extension Double: CheckScalar {}
extension Int32: CheckScalar {}
extension Int64: CheckScalar {}
extension UInt8: CheckScalar {}
extension UInt16: CheckScalar {}

func value<T: CheckScalar>(_ integer: Int) -> T {
    guard let converted = T(exactly: integer) else { fatalError("\(integer) is not exact in \(T.self)") }
    return converted
}

/// The element every rank contributes at `index`.
func contribution(rank: Int, index: Int) -> Int { rank + 1 + index }

/// Every blocking collective for element type `T`, in place and out of place.
func checkCollectives<T: CheckScalar>(_ type: T.Type, _ checker: Checker) {
    let comm = checker.world
    let n = comm.size
    let rank = comm.rank
    let name = "\(T.self)"
    let length = 5
    let mine: [T] = (0..<length).map { value(contribution(rank: rank, index: $0)) }
    func expected(_ combine: ([Int]) -> Int) -> [T] {
        (0..<length).map { index in value(combine((0..<n).map { contribution(rank: $0, index: index) })) }
    }
    let sums = expected { $0.reduce(0, +) }
    let maxima = expected { $0.max()! }
    let minima = expected { $0.min()! }

    checker.expect("broadcast.\(name).root-last") {
        let root = n - 1
        var data: [T] = rank == root ? (0..<length).map { value(10 + $0) } : Array(repeating: 0, count: length)
        try comm.broadcast(&data, root: root)
        return data == (0..<length).map { value(10 + $0) }
    }

    checker.expect("allreduce.\(name).sum.inplace") {
        var data = mine
        try comm.allReduce(&data, op: .sum)
        return data == sums
    }
    checker.expect("allreduce.\(name).max.inplace") {
        var data = mine
        try data.withUnsafeMutableBufferPointer { try comm.allReduce($0, op: .max) }
        return data == maxima
    }
    checker.expect("allreduce.\(name).min.inplace") {
        var data = mine
        try comm.allReduce(&data, op: .min)
        return data == minima
    }
    checker.expect("allreduce.\(name).product.inplace") {
        // 1 or 2 per rank keeps the product small: 2^(number of odd ranks).
        var data: [T] = [value(rank % 2 + 1), value(1)]
        try comm.allReduce(&data, op: .product)
        return data == [value(1 << (n / 2)), value(1)]
    }
    checker.expect("allreduce.\(name).sum.outofplace") {
        var result = [T](repeating: 0, count: length)
        try mine.withUnsafeBufferPointer { source in
            try result.withUnsafeMutableBufferPointer { try comm.allReduce(source, into: $0, op: .sum) }
        }
        return result == sums
    }
    checker.expect("allreduce.\(name).max.outofplace") {
        try comm.allReduce(mine, op: .max) == maxima
    }
    checker.expect("allsum.\(name).scalar") {
        try comm.allSum(value(rank + 1) as T) == value(n * (n + 1) / 2)
    }

    checker.expect("allgather.\(name)") {
        let gathered = try comm.allGather([value(rank), value(rank + 1)] as [T])
        return gathered == (0..<n).flatMap { [value($0), value($0 + 1)] as [T] }
    }
    checker.expect("allgatherv.\(name).counts-rank-plus-one") {
        let counts = (0..<n).map { $0 + 1 }
        let block: [T] = Array(repeating: value(rank + 1), count: rank + 1)
        let gathered = try comm.allGather(block, counts: counts)
        return gathered == (0..<n).flatMap { Array(repeating: value($0 + 1), count: $0 + 1) as [T] }
    }
    checker.expect("reducescatter.\(name).sum") {
        let block = 2
        let source: [T] = (0..<(block * n)).map { value(rank + $0 % 7) }
        let result = try comm.reduceScatter(source, op: .sum)
        let expectedBlock: [T] = (0..<block).map { offset in
            let index = rank * block + offset
            return value((0..<n).reduce(0) { $0 + $1 + index % 7 })
        }
        return result == expectedBlock
    }
    for root in Set([0, n - 1]).sorted() {
        checker.expect("gather.\(name).root\(root == 0 ? "-first" : "-last")") {
            let gathered = try comm.gather([value(rank * 3), value(rank * 3 + 1)] as [T], root: root)
            if rank == root {
                return gathered == (0..<n).flatMap { [value($0 * 3), value($0 * 3 + 1)] as [T] }
            }
            return gathered.isEmpty
        }
    }
}

func checkAllCollectives(_ checker: Checker) {
    checkCollectives(Float.self, checker)
    checkCollectives(Double.self, checker)
    checkCollectives(Int32.self, checker)
    checkCollectives(Int64.self, checker)
    checkCollectives(UInt8.self, checker)
    checkCollectives(UInt16.self, checker)
    checker.expect("barrier") {
        try checker.world.barrier()
        return true
    }
}
