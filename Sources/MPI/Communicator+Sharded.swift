import CMPI

// Collectives for sharded state (ZeRO): a flat buffer split into one
// contiguous range per rank. Reducing each bucket slice straight to the rank
// that owns it, in place, keeps the buffer's layout (no packing into a
// separate send buffer) and lets the reduction start while backward goes on;
// gathering in place rebuilds the full buffer from every rank's own range.

extension Communicator {
    /// Starts reducing `buffer[range]` across ranks onto `root`, in place on
    /// the root (`MPI_Ireduce`, `MPI_IN_PLACE` at the root).
    ///
    /// On `root` the slice receives the reduction; elsewhere it is only read.
    /// Do not write the slice (nor read it on `root`) until the request completes.
    ///
    /// - Parameters:
    ///   - buffer: Holds this rank's contribution.
    ///   - range: The elements to reduce; the whole buffer when `nil`. Same count on every rank.
    ///   - root: The rank that receives the result; in `0..<size`.
    ///   - op: The combining operation.
    /// - Returns: The request, which keeps `buffer` (and a custom `op`) alive until complete.
    public func startReduce<B: PinnedBuffer>(
        _ buffer: B, range: Range<Int>? = nil, root: Int, op: ReductionOperation
    ) throws -> Request {
        checkRoot(root, "startReduce")
        let range = range ?? 0..<buffer.count
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count,
                     "Communicator.startReduce: range \(range) is outside the buffer's 0..<\(buffer.count)")
        let count = mpiCount(range.count, "startReduce")
        guard let handle else { return Request(completed: ()) }
        let start = buffer.baseAddress + range.lowerBound
        var request: MPI_Request? = cmpi_request_null()
        // The root reduces into its own slice; other ranks pass their slice as
        // the send buffer and no receive buffer (ignored by MPI off the root).
        let send: UnsafeRawPointer? = rank == root ? UnsafeRawPointer(cmpi_in_place()) : UnsafeRawPointer(start)
        let receive: UnsafeMutableRawPointer? = rank == root ? UnsafeMutableRawPointer(start) : nil
        try check(MPI_Ireduce(send, receive, count, B.Element.mpiDatatype, op.handle, Int32(root), handle, &request),
                  "MPI_Ireduce")
        return Request(handle: request, retaining: [buffer, self] + [op.retainedObject].compactMap { $0 })
    }

    /// Completes a buffer split into one contiguous block per rank: each
    /// rank's block, already in place at its offset, is copied into the same
    /// offset on every other rank (`MPI_Allgatherv` with `MPI_IN_PLACE`).
    ///
    /// - Parameters:
    ///   - buffer: The whole buffer; block `r` starts at the sum of `counts[0..<r]`.
    ///   - counts: Every rank's block length, the same array on every rank;
    ///     they must sum to `buffer.count`. Blocks may be uneven or empty.
    public func allGatherInPlace<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, counts: [Int]) throws {
        precondition(counts.count == size,
                     "Communicator.allGatherInPlace: \(counts.count) counts given for a size-\(size) communicator")
        precondition(counts.allSatisfy { $0 >= 0 }, "Communicator.allGatherInPlace: negative count in \(counts)")
        let total = counts.reduce(0, +)
        precondition(total == buffer.count,
                     "Communicator.allGatherInPlace: counts sum to \(total) but the buffer has \(buffer.count) elements")
        _ = mpiCount(total, "allGatherInPlace")
        guard let handle else { return }
        var receiveCounts = counts.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for index in 1..<Swift.max(size, 1) {
            displacements[index] = displacements[index - 1] + receiveCounts[index - 1]
        }
        try check(MPI_Allgatherv(cmpi_in_place(), 0, T.mpiDatatype, address(buffer),
                                 &receiveCounts, &displacements, T.mpiDatatype, handle), "MPI_Allgatherv")
    }
}
