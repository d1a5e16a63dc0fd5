import CMPI

// Blocking collectives. Each takes buffer pointers (the zero-copy path) and
// has Array conveniences. On a local communicator every collective is the
// copy that a size-1 MPI collective would perform.

/// Stops with a clear message when `count` elements cannot be described by
/// MPI's `int` counts.
@inline(__always)
func mpiCount(_ count: Int, _ function: StaticString) -> Int32 {
    precondition(count <= Int(Int32.max), "Communicator.\(function): count \(count) exceeds Int32.max")
    return Int32(truncatingIfNeeded: count)
}

/// A non-null address for zero-length buffers, which MPI may reject as null.
@inline(__always)
func address<T>(_ buffer: UnsafeBufferPointer<T>) -> UnsafeRawPointer {
    buffer.baseAddress.map(UnsafeRawPointer.init) ?? UnsafeRawPointer(emptyBufferSentinel)
}

@inline(__always)
func address<T>(_ buffer: UnsafeMutableBufferPointer<T>) -> UnsafeMutableRawPointer {
    buffer.baseAddress.map(UnsafeMutableRawPointer.init) ?? emptyBufferSentinel
}

/// Backing memory for `address(_:)`; never read or written through.
let emptyBufferSentinel = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)

/// Copies `source` into the front of `destination` (the size-1 collective).
@inline(__always)
func copyElements<T>(_ source: UnsafeBufferPointer<T>, to destination: UnsafeMutableBufferPointer<T>) {
    guard let from = source.baseAddress, let to = destination.baseAddress, from != UnsafePointer(to) else { return }
    to.update(from: from, count: source.count)
}

extension Communicator {
    // MARK: Broadcast

    /// Copies `buffer` on `root` into `buffer` on every other rank (`MPI_Bcast`).
    ///
    /// - Parameters:
    ///   - buffer: The data on `root`; the destination elsewhere. Same count on every rank.
    ///   - root: The rank that sends; in `0..<size`.
    public func broadcast<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) throws {
        checkRoot(root, "broadcast")
        try _broadcastUnchecked(buffer, root: root)
    }

    /// Broadcasts `array` from `root`; every rank's array must have the same count.
    public func broadcast<T: MPIScalar>(_ array: inout [T], root: Int) throws {
        try array.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }

    /// Returns `root`'s `value` on every rank.
    public func broadcast<T: MPIScalar>(_ value: T, root: Int) throws -> T {
        var array = [value]
        try broadcast(&array, root: root)
        return array[0]
    }

    /// `broadcast(_:root:)` without the root precondition, so tests can show
    /// that MPI's own argument check throws `MPIError` (class `.root`).
    public func _broadcastUnchecked<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) throws {
        let count = mpiCount(buffer.count, "broadcast")
        guard let handle else {
            if root != 0 {
                throw MPIError(call: "MPI_Bcast", errorClass: .root, message: "MPI_ERR_ROOT: invalid root")
            }
            return
        }
        let root = Int32(clamping: root)
        try check(MPI_Bcast(address(buffer), count, T.mpiDatatype, root, handle), "MPI_Bcast")
    }

    // MARK: Allreduce

    /// Reduces `buffer` across ranks and leaves the result in `buffer` on
    /// every rank (`MPI_Allreduce` with `MPI_IN_PLACE`).
    ///
    /// Allocation-free: the buffer is handed to MPI as is.
    ///
    /// - Parameters:
    ///   - buffer: This rank's contribution, replaced by the result. Same count on every rank.
    ///   - op: The combining operation.
    public func allReduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: ReductionOperation) throws {
        let count = mpiCount(buffer.count, "allReduce")
        guard let handle else { return }
        try check(MPI_Allreduce(cmpi_in_place(), address(buffer), count, T.mpiDatatype, op.handle, handle),
                  "MPI_Allreduce")
    }

    /// Reduces `source` across ranks into `destination` on every rank (`MPI_Allreduce`).
    ///
    /// - Parameters:
    ///   - source: This rank's contribution.
    ///   - destination: Receives the result; same count as `source`; must not overlap it.
    ///   - op: The combining operation.
    public func allReduce<T: MPIScalar>(
        _ source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>, op: ReductionOperation
    ) throws {
        precondition(source.count == destination.count,
                     "Communicator.allReduce: source has \(source.count) elements, destination \(destination.count)")
        let count = mpiCount(source.count, "allReduce")
        guard let handle else { return copyElements(source, to: destination) }
        try check(MPI_Allreduce(address(source), address(destination), count, T.mpiDatatype, op.handle, handle),
                  "MPI_Allreduce")
    }

    /// Reduces `array` in place across ranks.
    public func allReduce<T: MPIScalar>(_ array: inout [T], op: ReductionOperation) throws {
        try array.withUnsafeMutableBufferPointer { try allReduce($0, op: op) }
    }

    /// Returns the reduction of `array` across ranks.
    public func allReduce<T: MPIScalar>(_ array: [T], op: ReductionOperation) throws -> [T] {
        var result = array
        try allReduce(&result, op: op)
        return result
    }

    /// Returns the reduction of one value per rank.
    public func allReduce<T: MPIScalar>(_ value: T, op: ReductionOperation) throws -> T {
        var array = [value]
        try allReduce(&array, op: op)
        return array[0]
    }

    /// Sums `buffer` across ranks in place.
    public func allSum<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>) throws {
        try allReduce(buffer, op: .sum)
    }

    /// Sums `array` across ranks in place.
    public func allSum<T: MPIScalar>(_ array: inout [T]) throws {
        try allReduce(&array, op: .sum)
    }

    /// Returns the sum of one value per rank.
    public func allSum<T: MPIScalar>(_ value: T) throws -> T {
        try allReduce(value, op: .sum)
    }

    // MARK: Allgather

    /// Concatenates every rank's `source`, in rank order, into `destination`
    /// on every rank (`MPI_Allgather`).
    ///
    /// - Parameters:
    ///   - source: This rank's block; the same count on every rank.
    ///   - destination: Receives `size` blocks; exactly `size * source.count` elements.
    public func allGather<T: MPIScalar>(
        _ source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>
    ) throws {
        precondition(destination.count == source.count * size,
                     "Communicator.allGather: destination has \(destination.count) elements, "
                        + "expected \(size) × \(source.count)")
        let count = mpiCount(source.count, "allGather")
        _ = mpiCount(destination.count, "allGather")
        guard let handle else { return copyElements(source, to: destination) }
        try check(MPI_Allgather(address(source), count, T.mpiDatatype,
                                address(destination), count, T.mpiDatatype, handle), "MPI_Allgather")
    }

    /// Returns every rank's `array` concatenated in rank order.
    public func allGather<T: MPIScalar>(_ array: [T]) throws -> [T] {
        try collected(from: array, count: array.count * size) { try allGather($0, into: $1) }
    }

    /// Concatenates blocks of varying length, in rank order, into
    /// `destination` on every rank (`MPI_Allgatherv`).
    ///
    /// - Parameters:
    ///   - source: This rank's block; its count must equal `counts[rank]`.
    ///   - destination: Receives the blocks packed back to back; exactly `counts.reduce(0, +)` elements.
    ///   - counts: Every rank's block length, the same array on every rank.
    public func allGather<T: MPIScalar>(
        _ source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>, counts: [Int]
    ) throws {
        precondition(counts.count == size,
                     "Communicator.allGather: \(counts.count) counts given for a size-\(size) communicator")
        precondition(counts.allSatisfy { $0 >= 0 }, "Communicator.allGather: negative count in \(counts)")
        precondition(counts[rank] == source.count,
                     "Communicator.allGather: counts[\(rank)] is \(counts[rank]) but source has \(source.count) elements")
        let total = counts.reduce(0, +)
        precondition(destination.count == total,
                     "Communicator.allGather: destination has \(destination.count) elements, counts sum to \(total)")
        let count = mpiCount(source.count, "allGather")
        _ = mpiCount(total, "allGather")
        guard let handle else { return copyElements(source, to: destination) }
        var receiveCounts = counts.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for index in 1..<Swift.max(size, 1) {
            displacements[index] = displacements[index - 1] + receiveCounts[index - 1]
        }
        try check(MPI_Allgatherv(address(source), count, T.mpiDatatype,
                                 address(destination), &receiveCounts, &displacements, T.mpiDatatype, handle),
                  "MPI_Allgatherv")
    }

    /// Returns every rank's `array`, of length `counts[rank]`, concatenated in rank order.
    public func allGather<T: MPIScalar>(_ array: [T], counts: [Int]) throws -> [T] {
        let total = counts.reduce(0, +)
        return try collected(from: array, count: total) { try allGather($0, into: $1, counts: counts) }
    }

    // MARK: Reduce-scatter

    /// Reduces `source` across ranks and leaves block `rank` of the result in
    /// `destination` (`MPI_Reduce_scatter_block`).
    ///
    /// - Parameters:
    ///   - source: This rank's contribution: `size` blocks of `destination.count` elements.
    ///   - destination: Receives this rank's block of the reduction.
    ///   - op: The combining operation.
    public func reduceScatter<T: MPIScalar>(
        _ source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>, op: ReductionOperation
    ) throws {
        precondition(source.count == destination.count * size,
                     "Communicator.reduceScatter: source has \(source.count) elements, "
                        + "expected \(size) × \(destination.count)")
        let count = mpiCount(destination.count, "reduceScatter")
        _ = mpiCount(source.count, "reduceScatter")
        guard let handle else { return copyElements(source, to: destination) }
        try check(MPI_Reduce_scatter_block(address(source), address(destination), count, T.mpiDatatype,
                                           op.handle, handle), "MPI_Reduce_scatter_block")
    }

    /// Returns this rank's block of the reduction of `array`, whose count
    /// must be a multiple of `size`.
    public func reduceScatter<T: MPIScalar>(_ array: [T], op: ReductionOperation) throws -> [T] {
        precondition(array.count % size == 0,
                     "Communicator.reduceScatter: \(array.count) elements do not split into \(size) blocks")
        return try collected(from: array, count: array.count / size) { try reduceScatter($0, into: $1, op: op) }
    }

    // MARK: Gather

    /// Concatenates every rank's `source`, in rank order, into `destination`
    /// on `root` (`MPI_Gather`).
    ///
    /// - Parameters:
    ///   - source: This rank's block; the same count on every rank.
    ///   - destination: On `root`, exactly `size * source.count` elements;
    ///     ignored (may be empty) elsewhere.
    ///   - root: The receiving rank; in `0..<size`.
    public func gather<T: MPIScalar>(
        _ source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>, root: Int
    ) throws {
        checkRoot(root, "gather")
        if rank == root {
            precondition(destination.count == source.count * size,
                         "Communicator.gather: destination has \(destination.count) elements, "
                            + "expected \(size) × \(source.count)")
        }
        let count = mpiCount(source.count, "gather")
        _ = mpiCount(source.count * size, "gather")
        guard let handle else { return copyElements(source, to: destination) }
        try check(MPI_Gather(address(source), count, T.mpiDatatype,
                             address(destination), count, T.mpiDatatype, Int32(root), handle), "MPI_Gather")
    }

    /// Returns every rank's `array` concatenated in rank order on `root`, and
    /// an empty array elsewhere.
    public func gather<T: MPIScalar>(_ array: [T], root: Int) throws -> [T] {
        try collected(from: array, count: rank == root ? array.count * size : 0) { try gather($0, into: $1, root: root) }
    }
}

/// A new array of `count` elements that `fill` writes from `array`'s
/// elements: the one shape of every array-returning collective.
func collected<T: MPIScalar>(from array: [T], count: Int,
                             _ fill: (UnsafeBufferPointer<T>, UnsafeMutableBufferPointer<T>) throws -> Void) rethrows -> [T] {
    var result = [T](repeating: array.first ?? zeroElement(), count: count)
    try array.withUnsafeBufferPointer { source in
        try result.withUnsafeMutableBufferPointer { try fill(source, $0) }
    }
    return result
}

/// The all-zero bit pattern of `T`, to size result arrays when no sample
/// element is at hand (every `MPIScalar` is a plain number).
@inline(__always)
func zeroElement<T: MPIScalar>() -> T {
    withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { buffer in
        UnsafeMutableRawPointer(buffer.baseAddress!).initializeMemory(
            as: UInt8.self, repeating: 0, count: MemoryLayout<T>.size)
        return buffer[0]
    }
}
