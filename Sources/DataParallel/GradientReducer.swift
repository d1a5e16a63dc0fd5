import Foundation
import MPI
import NeuralNet
import TensorCore

/// The number format gradients travel in between ranks.
public enum GradientPrecision: String, Sendable, CaseIterable {
    /// Exact: the gradient buffer itself is reduced in place.
    case float32
    /// Half the bytes: each bucket is rounded into a bfloat16 buffer and
    /// summed with ``BFloat16Sum`` (additions in Float32).
    case bfloat16
}

/// Who drives MPI's progress engine while backward computes (MPI transport
/// only: with shared memory, ranks average between layers on the training thread).
///
/// OpenMPI moves the data of a nonblocking collective only inside MPI calls.
/// Polling tests the pending buckets each time a layer finishes; a thread
/// keeps testing while the GEMMs run. On this 2-core machine both ranks'
/// cores are busy with compute, so the thread's work competes with backward,
/// and polling measured faster (docs/benchmarks.md); under heavy load from
/// other processes the thread can win.
public enum ProgressMode: String, Sendable, CaseIterable {
    /// The training thread calls `MPI_Test` each time a layer finishes.
    case polling
    /// A communication thread starts the buckets and tests them in a loop;
    /// backward makes no MPI call. Needs MPI initialized with at least
    /// `.serialized` thread support.
    case thread
}

/// Averages a model's gradients over the ranks of a communicator, bucket by
/// bucket, overlapping the reduction with backward.
///
/// The reducer owns the buckets and their readiness: fixed ranges of the flat
/// gradient buffer which, since parameters are laid out in reverse forward
/// order (see ``ParameterStore``), backward fills from offset 0 upward. A
/// bucket is published to the transport as soon as backward has passed its
/// end. How it then travels is the ``GradientTransport``'s business, chosen
/// here once, the same on every rank:
///
/// - all ranks on one node, gradients in ``SharedGradientBuffers``, float32:
///   ``SharedMemoryTransport`` (the ranks average in each other's memory);
/// - several hosts with the same number of ranks each, gradients shared per
///   host: ``HierarchicalTransport`` (shared memory inside a host, one MPI
///   collective per slice between hosts);
/// - otherwise ``MPITransport`` (nonblocking collectives on the buffer).
///
/// The default bucket sizes, `parallel.bucket_mb: 4` on one host and
/// `parallel.bucket_mb_across_hosts: 0.25` across hosts, and the
/// measurements behind them are in docs/benchmarks.md.
///
/// With ``shards`` set (ZeRO stage 1), after ``finish()`` each rank holds at
/// least the averaged gradients of its own shard (``ownedRange``): the MPI
/// transport reduces each bucket only onto the ranks whose shard it
/// overlaps, the effect of a reduce-scatter, keeping the buffer's layout and
/// the overlap.
public final class GradientReducer {
    /// The ranks gradients are averaged over.
    public let communicator: Communicator
    /// The buffers reduced.
    public let parameters: ParameterStore
    /// The element ranges of the buckets, in the order they become ready.
    public let buckets: [Range<Int>]
    /// The target size of a bucket, in Float32 gradient bytes.
    public let bucketBytes: Int
    /// Whether reductions start during backward (true) or all after it.
    public let overlap: Bool
    /// The format on the wire.
    public let precision: GradientPrecision
    /// ZeRO-1 shards, or `nil` when every rank needs every gradient.
    public let shards: ParameterShards?
    /// Who makes MPI progress during backward (the MPI transport).
    public let progress: ProgressMode
    /// The gradients valid after ``finish()``: all of them, or this rank's shard.
    public let ownedRange: Range<Int>
    /// How the gradients travel.
    public var transport: GradientTransportKind { wire?.kind ?? .mpi }

    /// `nil` on a single rank.
    private let wire: GradientTransport?
    private var frontier = 0
    private var readyBuckets = 0
    private var scale: Float = 1
    private var firstPublish: UInt64?

    /// Seconds the training thread spent on communication instead of compute:
    /// reduction work and tests between layers during backward, waiting in
    /// ``finish()``, and the global-norm and parameter collectives of ZeRO.
    /// Reset by ``resetStatistics()``.
    public private(set) var exposedSeconds: Double = 0
    /// Seconds from each step's first bucket start until all buckets were
    /// complete, summed: the time the reduction was in flight.
    public private(set) var communicationSeconds: Double = 0
    /// Gradient bytes reduced (in the wire format) since the last reset.
    public private(set) var reducedBytes: Int = 0
    /// Of ``exposedSeconds``, the seconds spent summing gradients in shared
    /// memory (the shared-memory and hierarchical transports); the rest is
    /// waiting.
    public var averagingSeconds: Double {
        Double((wire?.averagingNanoseconds ?? 0) &- averagingBaseline) * 1e-9
    }
    private var averagingBaseline: UInt64 = 0

    /// Creates a reducer; collective over `communicator` when it has more than
    /// one rank, since the ranks agree on the transport.
    ///
    /// - Parameters:
    ///   - communicator: The data-parallel group.
    ///   - parameters: The model's flat buffers.
    ///   - bucketBytes: Target size of a bucket, counted in Float32 gradient
    ///     bytes; the last one may be smaller.
    ///   - overlap: Start each bucket during backward.
    ///   - precision: The wire format.
    ///   - shards: ZeRO-1 shards (one range per rank), or `nil`.
    ///   - progress: Who drives progress during backward.
    /// - Throws: An `MPIError` if the bfloat16 reduction cannot be registered
    ///   or the ranks cannot agree on the transport.
    public init(communicator: Communicator, parameters: ParameterStore, bucketBytes: Int, overlap: Bool = true,
                precision: GradientPrecision = .float32, shards: ParameterShards? = nil,
                progress: ProgressMode = .polling) throws {
        precondition(bucketBytes >= MemoryLayout<Float>.stride, "GradientReducer: bucket of \(bucketBytes) bytes")
        if let shards {
            precondition(shards.ranges.count == communicator.size && shards.ranges.last?.upperBound == parameters.count,
                         "GradientReducer: shards \(shards.ranges) do not split \(parameters.count) elements over \(communicator.size) ranks")
        }
        if progress == .thread && communicator.size > 1 {
            precondition((MPI.providedThreadLevel ?? .single) >= .serialized,
                         "GradientReducer: a communication thread needs MPI initialized with .serialized or .multiple")
        }
        (self.communicator, self.parameters, self.overlap) = (communicator, parameters, overlap)
        (self.precision, self.shards, self.progress) = (precision, shards, progress)
        ownedRange = shards?.ranges[communicator.rank] ?? 0..<parameters.count
        let perBucket = bucketBytes / MemoryLayout<Float>.stride
        let buckets = stride(from: 0, to: parameters.count, by: perBucket).map {
            $0..<min($0 + perBucket, parameters.count)
        }
        self.buckets = buckets
        self.bucketBytes = bucketBytes
        guard communicator.size > 1 else {
            wire = nil
            return
        }
        // Every rank must take the same path: the ranks agree on the kind
        // their gradient memory allows, and anything mixed goes to MPI.
        let buffers = (parameters.gradients.storage.owner as? SharedGradientBuffers).flatMap {
            $0.count == parameters.count && parameters.gradients.offset == 0 ? $0 : nil
        }
        let possible: GradientTransportKind
        if let buffers, buffers.layout == nil, buffers.segment.ranks == communicator.size,
           buffers.segment.rank == communicator.rank, precision == .float32 {
            possible = .sharedMemory
        } else if let buffers, let layout = buffers.layout, layout.peers.size > 1,
                  layout.host.size * layout.peers.size == communicator.size {
            possible = .hierarchical
        } else {
            possible = .mpi
        }
        let code = Int32(GradientTransportKind.allCases.firstIndex(of: possible)!)
        let agreed = try communicator.allReduce([code, -code] as [Int32], op: .min)
        let kind = agreed[0] == -agreed[1] ? possible : .mpi
        switch (kind, buffers) {
        case (.sharedMemory, let buffers?):
            wire = SharedMemoryTransport(buffers: buffers, buckets: buckets, ownedRange: shards == nil ? nil : ownedRange)
        case (.hierarchical, let buffers?):
            wire = try HierarchicalTransport(buffers: buffers, peers: buffers.layout!.peers, buckets: buckets,
                                             precision: precision)
        default:
            wire = try MPITransport(communicator: communicator, parameters: parameters, buckets: buckets,
                                    precision: precision, shards: shards, progress: progress)
        }
    }

    /// Arms the reducer for one backward whose gradients are the sum of
    /// `microBatches` mean-loss gradients; the result is their mean over
    /// micro-batches and ranks.
    public func begin(microBatches: Int = 1) {
        frontier = 0
        readyBuckets = 0
        firstPublish = nil
        scale = 1 / Float(communicator.size * microBatches)
        wire?.begin(scale: scale)
    }

    /// The callback for ``Model/backward(gradientsReady:)``: notes that
    /// `range` is final, publishes every bucket now complete, and advances the
    /// reductions already under way.
    public func gradientsReady(_ range: Range<Int>) {
        precondition(range.lowerBound == frontier,
                     "GradientReducer: gradients ready at \(range), expected to continue from \(frontier)")
        frontier = range.upperBound
        guard overlap, let wire else { return }
        let clock = Stopwatch()
        KernelProfile.measure(Self.averagingRegion) {
            publishCompleteBuckets(to: wire)
            wire.progress()
        }
        exposedSeconds += clock.elapsedSeconds
    }

    /// Publishes what is left, waits for every bucket and leaves the average
    /// in ``ownedRange``.
    ///
    /// - Throws: The first ``MPIError`` of any bucket.
    public func finish() throws {
        try KernelProfile.measure(Self.averagingRegion) { try measuredFinish() }
    }

    /// The profile's region for everything the reducer does on the training thread.
    public static let averagingRegion = ProfileRegion("gradient averaging", group: .communication)

    private func measuredFinish() throws {
        precondition(frontier == parameters.count || wire == nil || !overlap || frontier == 0,
                     "GradientReducer: finish() before backward reported every gradient (\(frontier) of \(parameters.count))")
        guard let wire else {
            if scale != 1 { scaleBuffer(parameters.gradients.pointer, count: parameters.count, by: scale) }
            return
        }
        frontier = parameters.count
        let clock = Stopwatch()
        publishCompleteBuckets(to: wire)
        defer {
            exposedSeconds += clock.elapsedSeconds
            if let firstPublish { communicationSeconds += Double(MonotonicClock.nanoseconds() &- firstPublish) * 1e-9 }
        }
        try wire.finish()
        reducedBytes += wire.bytesPerReduction
    }

    /// Whether the gradients this rank averaged in the last ``finish()`` were
    /// all finite, or `nil` when the transport did not look at them (MPI).
    ///
    /// With shared memory every gradient is averaged by exactly one rank, so
    /// the ranks' answers, combined, cover ``ownedRange`` of every rank, and
    /// a separate pass over the gradients is not needed.
    public var averagedGradientsFinite: Bool? { wire?.averagedGradientsFinite }

    /// Whether this rank holds averaged gradients only for ``ownedRange``
    /// (ZeRO-1 over several ranks); otherwise it holds all of them.
    public var holdsOnlyItsShard: Bool { shards != nil && wire != nil }

    /// Clips the averaged gradients to global L2 norm `maxNorm`.
    ///
    /// Under ZeRO each rank holds only its shard's gradients, so the squared
    /// norms of the shards are summed across ranks first.
    ///
    /// - Returns: The global norm before clipping.
    @discardableResult
    public func clipGradients(maxNorm: Float) throws -> Float {
        guard shards != nil && wire != nil else {
            return NeuralNet.clipGradients(parameters, maxNorm: maxNorm)
        }
        let clock = Stopwatch()
        let squares = try communicator.allSum(sumOfSquares(parameters.gradients, range: ownedRange))
        exposedSeconds += clock.elapsedSeconds
        let norm = Float(squares.squareRoot())
        NeuralNet.clipGradients(parameters, maxNorm: maxNorm, norm: norm, range: ownedRange)
        return norm
    }

    /// After the optimizer updated this rank's shard, copies every shard to
    /// every rank. Does nothing without ZeRO.
    public func gatherParameters() throws {
        guard let shards, wire != nil else { return }
        let clock = Stopwatch()
        try shards.gatherValues(parameters, over: communicator)
        exposedSeconds += clock.elapsedSeconds
    }

    /// Zeroes the statistics.
    public func resetStatistics() {
        exposedSeconds = 0
        communicationSeconds = 0
        reducedBytes = 0
        averagingBaseline = wire?.averagingNanoseconds ?? 0
    }

    /// Publishes every bucket that backward has completed.
    private func publishCompleteBuckets(to wire: GradientTransport) {
        var ready = readyBuckets
        while ready < buckets.count && buckets[ready].upperBound <= frontier { ready += 1 }
        guard ready > readyBuckets else { return }
        if firstPublish == nil { firstPublish = MonotonicClock.nanoseconds() }
        readyBuckets = ready
        wire.publish(readyBuckets: ready)
    }
}

@inline(__always)
func scaleBuffer(_ pointer: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    for i in 0..<count {
        pointer[i] *= factor
    }
}
