import MPI
import TensorCore

/// Averages gradients over several hosts in two stages: through shared memory
/// inside each host, and with one MPI collective per slice between hosts.
///
/// The gradients of a host's ranks live side by side in
/// ``SharedGradientBuffers``. Each bucket is cut into one slice per local
/// rank, as in ``SharedMemoryTransport``. Once every rank of the host has
/// announced a bucket, local rank *i* sums its slice over the host's buffers
/// into its own buffer and starts a nonblocking allreduce of that slice with
/// local rank *i* of every other host (``HostLayout/peers``). When it
/// completes, rank *i* scales the slice and writes it into every buffer of the
/// host. So each gradient byte crosses the network once per host, not once
/// per rank, and the local ranks' network traffic runs in parallel.
///
/// In bfloat16 the host's sum is rounded into a wire buffer, summed between
/// hosts with ``BFloat16Sum``, and widened on the way back. Under ZeRO-1 every
/// rank still receives every average (the optimizer then updates only its own
/// shard): the network carries what it must either way, and the host's
/// ranks share one copy.
///
/// Reductions are deterministic for a fixed layout: the host's sum runs in
/// local-rank order, the hosts' collective has a fixed size per slice, and
/// each average is written by one rank into all buffers of its host.
final class HierarchicalTransport: GradientTransport {
    let kind = GradientTransportKind.hierarchical
    private let buffers: SharedGradientBuffers
    private let peers: Communicator
    private let rank: Int
    private let ranks: Int
    private let slices: [Range<Int>]
    private let gradients: [UnsafeMutablePointer<Float>]
    private let ownGradients: TensorStorage
    private var signals: HostSignals
    private let wire: MPIBuffer<UInt16>?
    private let operation: ReductionOperation
    /// The request of each bucket's slice; `nil` for an empty slice or one not started.
    private var requests: [Request?]
    private var started = 0
    private var completed = 0
    private var scale: Float = 1
    private var firstError: Error?
    private var slicesFinite = true
    private(set) var averagingNanoseconds: UInt64 = 0

    /// - Parameters:
    ///   - buffers: The gradients of this host's ranks.
    ///   - peers: The ranks at this rank's position on every host.
    ///   - buckets: The bucket ranges, in the order they become ready.
    ///   - precision: The format between hosts.
    /// - Throws: An ``MPIError`` if the bfloat16 reduction cannot be registered.
    init(buffers: SharedGradientBuffers, peers: Communicator, buckets: [Range<Int>], precision: GradientPrecision) throws {
        self.buffers = buffers
        self.peers = peers
        rank = buffers.segment.rank
        ranks = buffers.segment.ranks
        let (rank, ranks) = (self.rank, self.ranks)
        slices = buckets.map { cacheLineSlice(of: $0, rank: rank, ranks: ranks) }
        gradients = (0..<ranks).map { buffers.gradients(ofRank: $0) }
        ownGradients = buffers.makeStorage()
        signals = HostSignals(buffers: buffers)
        requests = Array(repeating: nil, count: buckets.count)
        (wire, operation) = try BFloat16Sum.wireFormat(precision, count: buffers.count)
    }

    var averagedGradientsFinite: Bool? { slicesFinite }
    var bytesPerReduction: Int {
        buffers.count * (wire == nil ? MemoryLayout<Float>.stride : MemoryLayout<UInt16>.stride)
    }

    func begin(scale: Float) {
        signals.begin()
        started = 0
        completed = 0
        firstError = nil
        slicesFinite = true
        self.scale = scale
    }

    func publish(readyBuckets count: Int) {
        signals.publish(readyBuckets: count)
    }

    func progress() {
        while started < signals.published && signals.peersReady(bucket: started) { startSlice(of: started) }
        while completed < started && sliceArrived(completed) { completeSlice(of: completed) }
    }

    func finish() throws {
        precondition(signals.published == slices.count,
                     "HierarchicalTransport: finish() with \(signals.published) of \(slices.count) buckets ready")
        while started < slices.count {
            // Test the oldest slice while waiting: it drives MPI's progress
            // and hands finished slices to the host early.
            signals.waitForPeersReady(bucket: started) { completeArrivedSlices() }
            startSlice(of: started)
        }
        while completed < slices.count {
            if let request = requests[completed] {
                do { try request.wait() } catch { firstError = firstError ?? error }
            }
            completeSlice(of: completed)
        }
        signals.waitForPeersReduced(slices.count) { try? self.peers.driveProgress() }
        if let firstError { throw firstError }
    }

    private func completeArrivedSlices() {
        if completed == started { try? peers.driveProgress() }
        while completed < started && sliceArrived(completed) { completeSlice(of: completed) }
    }

    /// Sums this rank's slice of `bucket` over the host into its own buffer
    /// and starts the collective between hosts.
    private func startSlice(of bucket: Int) {
        let slice = slices[bucket]
        started += 1
        guard !slice.isEmpty else { return }
        let begin = MonotonicClock.nanoseconds()
        gradients.withUnsafeBufferPointer { sources in
            _ = average(sources, into: rank, slice, scale: 1)
        }
        if let wire {
            packBFloat16(gradients[rank] + slice.lowerBound, into: wire.baseAddress + slice.lowerBound, count: slice.count)
        }
        averagingNanoseconds &+= MonotonicClock.nanoseconds() &- begin
        do {
            requests[bucket] = try wire.map { try peers.startAllReduce($0, range: slice, op: operation) }
                ?? peers.startAllReduce(ownGradients, range: slice, op: operation)
        } catch {
            firstError = firstError ?? error
        }
    }

    /// Whether the collective of `bucket`'s slice is done (or failed, or was
    /// never needed).
    private func sliceArrived(_ bucket: Int) -> Bool {
        guard let request = requests[bucket] else { return true }
        do {
            return try request.test()
        } catch {
            firstError = firstError ?? error
            return true
        }
    }

    /// Scales the hosts' sum of `bucket`'s slice and writes it into every
    /// buffer of the host.
    private func completeSlice(of bucket: Int) {
        let slice = slices[bucket]
        requests[bucket] = nil
        if !slice.isEmpty {
            let begin = MonotonicClock.nanoseconds()
            let finite = gradients.withUnsafeBufferPointer { destinations in
                if let wire {
                    return distributeBFloat16(wire.baseAddress, to: destinations, slice, scale: scale)
                }
                return distribute(gradients[rank], to: destinations, slice, scale: scale)
            }
            slicesFinite = slicesFinite && finite
            averagingNanoseconds &+= MonotonicClock.nanoseconds() &- begin
        }
        completed += 1
        signals.announceReduced(completed)
    }
}
