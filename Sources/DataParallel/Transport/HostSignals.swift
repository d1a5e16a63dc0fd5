import MPI

/// How far one reduction has got on each rank of a host, told through two
/// counters per rank in ``SharedGradientBuffers``: *ready* (buckets whose
/// gradients the rank has finished) and *reduced* (buckets whose slice the
/// rank has averaged and written back).
///
/// Counters hold `generation << 32 | buckets`; the generation is shared by
/// every reducer over the same buffers, so values only grow and nothing ever
/// needs resetting. A rank may touch its buffer again only when every peer's
/// reduced counter covers all buckets.
struct HostSignals {
    let rank: Int
    let ranks: Int
    private let buffers: SharedGradientBuffers
    private let ready: [SharedCounter]
    private let reduced: [SharedCounter]
    private var generation: UInt64 = 0
    /// How many buckets this rank has announced ready in this reduction.
    private(set) var published = 0

    init(buffers: SharedGradientBuffers) {
        self.buffers = buffers
        rank = buffers.segment.rank
        ranks = buffers.segment.ranks
        ready = (0..<ranks).map { buffers.readyCounter(ofRank: $0) }
        reduced = (0..<ranks).map { buffers.reducedCounter(ofRank: $0) }
    }

    /// Starts the next reduction.
    mutating func begin() {
        buffers.generation += 1
        generation = buffers.generation
        published = 0
    }

    /// Announces that this rank's buckets `0..<count` are final.
    mutating func publish(readyBuckets count: Int) {
        guard count > published else { return }
        published = count
        ready[rank].store(mark(count))
    }

    /// Whether every other rank has announced `bucket` ready.
    func peersReady(bucket: Int) -> Bool {
        let target = mark(bucket + 1)
        for peer in 0..<ranks where peer != rank && ready[peer].load() < target { return false }
        return true
    }

    /// Waits until every other rank has announced `bucket` ready, calling
    /// `betweenChecks` while it waits.
    func waitForPeersReady(bucket: Int, betweenChecks: () -> Void = {}) {
        let target = mark(bucket + 1)
        for peer in 0..<ranks where peer != rank { ready[peer].wait(untilAtLeast: target, betweenChecks: betweenChecks) }
    }

    /// Announces that this rank has written back its slices of buckets `0..<count`.
    func announceReduced(_ count: Int) {
        reduced[rank].store(mark(count))
    }

    /// Waits until every other rank has written back its slices of buckets
    /// `0..<count`, calling `betweenChecks` while it waits.
    func waitForPeersReduced(_ count: Int, betweenChecks: () -> Void = {}) {
        let target = mark(count)
        for peer in 0..<ranks where peer != rank { reduced[peer].wait(untilAtLeast: target, betweenChecks: betweenChecks) }
    }

    @inline(__always)
    private func mark(_ buckets: Int) -> UInt64 { generation << 32 | UInt64(buckets) }
}
