import MPI
import TensorCore

/// Averages gradients that live in ``SharedGradientBuffers``, bucket by
/// bucket, by loads and stores between the ranks of one node.
///
/// Each bucket is cut into one slice per rank. When every rank has announced
/// a bucket final, each rank sums its slice over all ranks' buffers, scales
/// it, and writes the average back into every rank's buffer: every gradient
/// byte is read once and written once per rank, with no copy into MPI's
/// buffers. (OpenMPI's shared-memory allreduce copies each byte in and out of
/// its own segments; on this machine that copying, not the wait, was what
/// two ranks lost per step.) Each average is computed by exactly one rank,
/// so every replica receives the same bits.
///
/// Ranks tell each other how far they are through ``HostSignals``; a rank
/// may touch its buffer again only when every peer has averaged its slices
/// of all buckets, which ``finish()`` waits for.
///
/// Under ZeRO-1 a rank's slice of a bucket is the part inside its own shard,
/// and it writes only its own buffer, since only the owner updates a shard.
final class SharedMemoryTransport: GradientTransport {
    let kind = GradientTransportKind.sharedMemory
    private let buffers: SharedGradientBuffers
    private let rank: Int
    private let ranks: Int
    /// This rank's slice of each bucket; may be empty.
    private let slices: [Range<Int>]
    /// Whether averages go to every rank (plain) or only to this one (ZeRO-1).
    private let writesPeers: Bool
    private let peerGradients: [UnsafeMutablePointer<Float>]
    private var signals: HostSignals
    private var averaged = 0
    private var scale: Float = 1
    /// Nanoseconds spent summing slices (the rest of the reducer's time is
    /// waiting for peers).
    private(set) var averagingNanoseconds: UInt64 = 0
    /// Whether every average this rank computed in the current reduction was
    /// finite. The ranks' slices cover every gradient, so the ranks' flags
    /// together answer the trainer's non-finite check without another pass.
    private(set) var slicesFinite = true

    var averagedGradientsFinite: Bool? { slicesFinite }
    var bytesPerReduction: Int { buffers.count * MemoryLayout<Float>.stride }

    /// - Parameters:
    ///   - buffers: Every rank's gradients.
    ///   - buckets: The bucket ranges, in the order they become ready.
    ///   - ownedRange: This rank's ZeRO shard, or `nil` without ZeRO.
    init(buffers: SharedGradientBuffers, buckets: [Range<Int>], ownedRange: Range<Int>?) {
        self.buffers = buffers
        rank = buffers.segment.rank
        ranks = buffers.segment.ranks
        writesPeers = ownedRange == nil
        let (rank, ranks) = (self.rank, self.ranks)
        slices = buckets.map { bucket in
            ownedRange.map { bucket.clamped(to: $0) } ?? cacheLineSlice(of: bucket, rank: rank, ranks: ranks)
        }
        peerGradients = (0..<ranks).map { buffers.gradients(ofRank: $0) }
        signals = HostSignals(buffers: buffers)
    }

    /// Starts a reduction whose result is the sum over ranks times `scale`.
    func begin(scale: Float) {
        signals.begin()
        averaged = 0
        slicesFinite = true
        self.scale = scale
    }

    /// Announces that this rank's first `buckets` buckets are final.
    func publish(readyBuckets buckets: Int) {
        signals.publish(readyBuckets: buckets)
    }

    /// Averages the slices of buckets that every rank has announced, without
    /// waiting for any. Call between layers during backward.
    func progress() {
        while averaged < signals.published && signals.peersReady(bucket: averaged) {
            averageSlice(of: averaged)
        }
    }

    /// Averages every remaining slice, waiting for peers as needed, then
    /// waits until every peer has averaged its slices too. Every bucket must
    /// have been published.
    func finish() {
        precondition(signals.published == slices.count,
                     "SharedMemoryTransport: finish() with \(signals.published) of \(slices.count) buckets ready")
        while averaged < slices.count {
            signals.waitForPeersReady(bucket: averaged)
            averageSlice(of: averaged)
        }
        signals.waitForPeersReduced(slices.count)
    }

    private func averageSlice(of bucket: Int) {
        let slice = slices[bucket]
        let start = MonotonicClock.nanoseconds()
        if !slice.isEmpty {
            peerGradients.withUnsafeBufferPointer { sources in
                let finite = ranks == 2 && writesPeers
                    ? averagePairInPlace(sources[0], sources[1], slice, scale: scale)
                    : average(sources, into: writesPeers ? nil : rank, slice, scale: scale)
                slicesFinite = slicesFinite && finite
            }
        }
        averaged += 1
        signals.announceReduced(averaged)
        averagingNanoseconds &+= MonotonicClock.nanoseconds() &- start
    }
}
