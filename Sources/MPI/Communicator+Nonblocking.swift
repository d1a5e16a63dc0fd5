import CMPI

// Nonblocking collectives. The buffer is passed as a `PinnedBuffer` object
// and retained by the returned `Request`, so the memory cannot be freed or
// moved while MPI works on it. A range selects a slice of the buffer, which
// lets a gradient bucket be one part of a large flat parameter buffer.

extension Communicator {
    /// Validates `range` against `buffer` and returns the slice's start and count.
    private func slice<B: PinnedBuffer>(
        _ buffer: B, _ range: Range<Int>?, _ function: StaticString
    ) -> (start: UnsafeMutablePointer<B.Element>, count: Int32) {
        let range = range ?? 0..<buffer.count
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count,
                     "Communicator.\(function): range \(range) is outside the buffer's 0..<\(buffer.count)")
        return (buffer.baseAddress + range.lowerBound, mpiCount(range.count, function))
    }

    /// Starts reducing `buffer[range]` across ranks in place (`MPI_Iallreduce`
    /// with `MPI_IN_PLACE`).
    ///
    /// Do not read or write the slice until the request completes.
    ///
    /// - Parameters:
    ///   - buffer: Holds this rank's contribution; receives the result.
    ///   - range: The elements to reduce; the whole buffer when `nil`. Same count on every rank.
    ///   - op: The combining operation.
    /// - Returns: The request, which keeps `buffer` alive until complete.
    public func startAllReduce<B: PinnedBuffer>(
        _ buffer: B, range: Range<Int>? = nil, op: ReductionOperation
    ) throws -> Request {
        let (start, count) = slice(buffer, range, "startAllReduce")
        guard let handle else { return Request(completed: ()) }
        var request: MPI_Request? = cmpi_request_null()
        try check(MPI_Iallreduce(cmpi_in_place(), start, count, B.Element.mpiDatatype, op.handle, handle, &request),
                  "MPI_Iallreduce")
        return Request(handle: request, retaining: [buffer, self] + [op.retainedObject].compactMap { $0 })
    }

    /// Starts reducing `source[range]` across ranks into `destination[range]`
    /// (`MPI_Iallreduce`).
    ///
    /// Do not write the source slice or touch the destination slice until the
    /// request completes.
    ///
    /// - Parameters:
    ///   - source: Holds this rank's contribution.
    ///   - destination: Receives the result at the same offsets; a different object from `source`.
    ///   - range: The elements to reduce; the whole buffer when `nil`.
    ///   - op: The combining operation.
    /// - Returns: The request, which keeps both buffers alive until complete.
    public func startAllReduce<B: PinnedBuffer, D: PinnedBuffer>(
        _ source: B, into destination: D, range: Range<Int>? = nil, op: ReductionOperation
    ) throws -> Request where B.Element == D.Element {
        precondition(source !== destination,
                     "Communicator.startAllReduce: source and destination are the same object; use the in-place form")
        let (from, count) = slice(source, range, "startAllReduce")
        let (to, _) = slice(destination, range, "startAllReduce")
        guard let handle else {
            to.update(from: from, count: Int(count))
            return Request(completed: ())
        }
        var request: MPI_Request? = cmpi_request_null()
        try check(MPI_Iallreduce(from, to, count, B.Element.mpiDatatype, op.handle, handle, &request),
                  "MPI_Iallreduce")
        return Request(handle: request,
                       retaining: [source, destination, self] + [op.retainedObject].compactMap { $0 })
    }

    /// Starts copying `buffer[range]` on `root` to every other rank (`MPI_Ibcast`).
    ///
    /// - Parameters:
    ///   - buffer: The data on `root`; the destination elsewhere.
    ///   - range: The elements to send; the whole buffer when `nil`.
    ///   - root: The sending rank; in `0..<size`.
    /// - Returns: The request, which keeps `buffer` alive until complete.
    public func startBroadcast<B: PinnedBuffer>(
        _ buffer: B, range: Range<Int>? = nil, root: Int
    ) throws -> Request {
        checkRoot(root, "startBroadcast")
        let (start, count) = slice(buffer, range, "startBroadcast")
        guard let handle else { return Request(completed: ()) }
        var request: MPI_Request? = cmpi_request_null()
        try check(MPI_Ibcast(start, count, B.Element.mpiDatatype, Int32(root), handle, &request), "MPI_Ibcast")
        return Request(handle: request, retaining: [buffer, self])
    }
}
