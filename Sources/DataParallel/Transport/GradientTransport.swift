/// Moves gradient buckets between ranks and leaves their average behind:
/// the wire half of gradient averaging.
///
/// ``GradientReducer`` owns the buckets and their readiness (how far backward
/// has got, which buckets are complete, the statistics); a transport owns how
/// a complete bucket travels. A new way to move gradients (another network,
/// a compression) is a new conformer, not a branch in the reducer.
///
/// One reduction is `begin`, then `publish` with a growing count as backward
/// completes buckets, `progress` between layers, and `finish`. Buckets are
/// published in order; every rank publishes every bucket before its
/// `finish` returns.
protocol GradientTransport: AnyObject {
    /// How the gradients travel, for reports.
    var kind: GradientTransportKind { get }

    /// Starts a reduction whose result is the sum over ranks times `scale`.
    func begin(scale: Float)

    /// Announces that this rank's buckets `0..<count` are final, and starts
    /// whatever can start with them.
    func publish(readyBuckets count: Int)

    /// Advances the reductions under way without waiting. Called between
    /// layers during backward.
    func progress()

    /// Completes every bucket: afterwards the reducer's owned range holds the
    /// average (the scale applied). Every bucket must have been published.
    ///
    /// - Throws: The first ``MPIError`` of the reduction.
    func finish() throws

    /// Whether the averages this rank computed in the last reduction were all
    /// finite, or `nil` when the transport did not look at them.
    var averagedGradientsFinite: Bool? { get }

    /// Nanoseconds this rank has spent summing gradients itself (not waiting),
    /// since the transport was made.
    var averagingNanoseconds: UInt64 { get }

    /// The gradient bytes one reduction moves, in the wire format, counted
    /// once per element (as the reducer reports them).
    var bytesPerReduction: Int { get }
}

/// How gradients travel between ranks.
public enum GradientTransportKind: String, Sendable, CaseIterable {
    /// Ranks on one node average gradients in each other's memory (see
    /// ``SharedMemoryReduction``); needs gradients in ``SharedGradientBuffers``
    /// and the float32 wire format.
    case sharedMemory = "shared_memory"
    /// Nonblocking MPI collectives on the gradient buffer.
    case mpi
    /// Shared memory inside each host, then one MPI collective per slice
    /// between the hosts (see ``HierarchicalTransport``).
    case hierarchical
}
