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

/// How gradients travel between ranks.
public enum GradientTransport: String, Sendable, CaseIterable {
    /// Ranks on one node average gradients in each other's memory (see
    /// ``SharedMemoryReduction``); needs gradients in ``SharedGradientBuffers``
    /// and the float32 wire format.
    case sharedMemory = "shared_memory"
    /// Nonblocking MPI collectives on the gradient buffer.
    case mpi
}

/// Who drives MPI's progress engine while backward computes (MPI transport
/// only: with shared memory, ranks average between layers on the training thread).
///
/// OpenMPI moves the data of a nonblocking collective only inside MPI calls.
/// Polling tests the pending buckets each time a layer finishes; a thread
/// keeps testing while the GEMMs run. On this 2-core machine both ranks'
/// cores are busy with compute, so the thread's work competes with backward.
/// Measured with `mpirun -np 2 ddp bench train --config configs/bench-mlp.yaml
/// --progress polling|thread --steps 60`, release build, three alternating
/// pairs on an otherwise idle machine: polling 15110, 15218, 14589 samples/s
/// against thread 14358, 13978, 12042, so polling is the default. (Under heavy
/// load from other processes the thread won, 1.36-1.56x, because it makes
/// progress while the training thread is descheduled.)
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
/// When the model's gradients live in ``SharedGradientBuffers`` (all ranks on
/// one node, float32 on the wire), the buckets are averaged by the ranks
/// themselves in shared memory; otherwise by nonblocking MPI collectives on
/// the gradient buffer. Both report the same statistics.
///
/// Buckets are fixed ranges of the flat gradient buffer. Since parameters are
/// laid out in reverse forward order (see ``ParameterStore``), backward fills
/// the buffer from offset 0 upward; a bucket's reduction starts as soon as
/// backward has passed its end.
///
/// Bucket size: the default `parallel.bucket_mb: 4` was kept after measuring
/// 0.5, 1, 2, 4 and 8 MiB in the MLP benchmark at 2 ranks (thread progress):
/// 4 MiB gave the best or near-best samples/s in both rounds (3785 and 4308;
/// 1 MiB: 2355 and 3987; 8 MiB: 3496 and 4127). Fewer, larger buckets mean
/// fewer collectives in flight per step; going past 4 MiB delays the first
/// start until most of backward is over. (A blocking `MPI_Allreduce` of 4 MiB
/// alone is slow here with OpenMPI's CMA single-copy path, 0.2 GB/s bus
/// bandwidth against 4.7 at 1 MiB, but the nonblocking path inside the step
/// did not show that cliff.) With the shared-memory transport the size
/// hardly matters, since a bucket is only a unit of readiness: 0.5 to 1000
/// MiB gave 14,700-17,100 samples/s in two alternating rounds, differences
/// within the machine's noise, and summing took 0.52-0.61 ms per step at
/// every size. Ranks only average between layers, so buckets smaller than a
/// layer add nothing; 4 MiB stays the default for both transports.
///
/// With ``shards`` set (ZeRO stage 1), each bucket is reduced, in place, only
/// onto the ranks whose shard it overlaps (`MPI_Ireduce` per owner, or the
/// owner's own sum in shared memory), so after
/// ``finish()`` each rank holds the averaged gradients of its own shard: the
/// effect of a reduce-scatter, keeping the buffer's layout and the overlap.
public final class GradientReducer {
    /// The ranks gradients are averaged over.
    public let communicator: Communicator
    /// The buffers reduced.
    public let parameters: ParameterStore
    /// The element ranges of the buckets, in the order they become ready.
    public let buckets: [Range<Int>]
    /// Whether reductions start during backward (true) or all after it.
    public let overlap: Bool
    /// The format on the wire.
    public let precision: GradientPrecision
    /// ZeRO-1 shards, or `nil` when every rank needs every gradient.
    public let shards: ParameterShards?
    /// Who makes MPI progress during backward.
    public let progress: ProgressMode
    /// The gradients valid after ``finish()``: all of them, or this rank's shard.
    public let ownedRange: Range<Int>
    /// How the gradients travel.
    public let transport: GradientTransport

    /// The bfloat16 copy of the gradients that is reduced instead of them.
    private let wire: MPIBuffer<UInt16>?
    private let operation: ReductionOperation
    private let isDistributed: Bool
    private var frontier = 0
    private var nextBucket = 0
    private var pending: [Request] = []
    private var firstError: Error?
    private var scale: Float = 1
    private var firstStart: UInt64?
    private var worker: ProgressThread?
    private let shared: SharedMemoryReduction?

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
    /// memory (the shared-memory transport only); the rest is waiting.
    public var averagingSeconds: Double {
        Double((shared?.averagingNanoseconds ?? 0) &- averagingBaseline) * 1e-9
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
        self.communicator = communicator
        self.parameters = parameters
        self.overlap = overlap
        self.precision = precision
        self.shards = shards
        self.progress = progress
        isDistributed = communicator.size > 1
        ownedRange = shards?.ranges[communicator.rank] ?? 0..<parameters.count
        let perBucket = bucketBytes / MemoryLayout<Float>.stride
        buckets = stride(from: 0, to: parameters.count, by: perBucket).map {
            $0..<min($0 + perBucket, parameters.count)
        }
        if precision == .bfloat16 && isDistributed {
            wire = MPIBuffer(count: parameters.count, repeating: 0)
            operation = .custom(try BFloat16Sum.makeOperation())
        } else {
            wire = nil
            operation = .sum
        }
        var sharedBuffers: SharedGradientBuffers?
        if isDistributed {
            // Every rank must take the same path; a rank whose gradients are
            // not shared (or that reduces in bfloat16) sends all to MPI.
            let candidate = (parameters.gradients.storage.owner as? SharedGradientBuffers).flatMap {
                $0.segment.ranks == communicator.size && $0.segment.rank == communicator.rank
                    && $0.count == parameters.count && parameters.gradients.offset == 0 && precision == .float32 ? $0 : nil
            }
            if try communicator.allReduce(Int32(candidate == nil ? 0 : 1), op: .min) == 1 { sharedBuffers = candidate }
        }
        if let sharedBuffers {
            transport = .sharedMemory
            shared = SharedMemoryReduction(buffers: sharedBuffers, buckets: buckets,
                                           ownedRange: shards == nil ? nil : ownedRange)
        } else {
            transport = .mpi
            shared = nil
            if progress == .thread && isDistributed {
                worker = ProgressThread()
            }
        }
    }

    deinit {
        worker?.stop()
    }

    /// Arms the reducer for one backward whose gradients are the sum of
    /// `microBatches` mean-loss gradients; the result is their mean over
    /// micro-batches and ranks.
    public func begin(microBatches: Int = 1) {
        precondition(pending.isEmpty, "GradientReducer: begin() while a reduction is pending; call finish() first")
        frontier = 0
        nextBucket = 0
        firstError = nil
        firstStart = nil
        nextPacked = 0
        scale = 1 / Float(communicator.size * microBatches)
        shared?.begin(scale: scale)
        worker?.arm(start: { [unowned self] count in self.startBuckets(upTo: count) },
                    poll: { [unowned self] in self.poll() })
    }

    /// The callback for ``Model/backward(gradientsReady:)``: notes that
    /// `range` is final, starts every bucket now complete, and advances the
    /// reductions already under way.
    public func gradientsReady(_ range: Range<Int>) {
        precondition(range.lowerBound == frontier,
                     "GradientReducer: gradients ready at \(range), expected to continue from \(frontier)")
        frontier = range.upperBound
        guard overlap, isDistributed else { return }
        if let worker {
            worker.release(upTo: packReadyBuckets())
            return
        }
        let clock = Stopwatch()
        if let shared {
            let ready = packReadyBuckets()
            if ready > 0 && firstStart == nil { firstStart = MonotonicClock.nanoseconds() }
            shared.publish(readyBuckets: ready)
            shared.averageAvailable()
        } else {
            startBuckets(upTo: packReadyBuckets())
            poll()
        }
        exposedSeconds += clock.elapsedSeconds
    }

    /// Starts what is left, waits for every bucket and applies the averaging
    /// scale to ``ownedRange``.
    ///
    /// - Throws: The first ``MPIError`` of any bucket.
    public func finish() throws {
        precondition(frontier == parameters.count || !isDistributed || !overlap || frontier == 0,
                     "GradientReducer: finish() before backward reported every gradient (\(frontier) of \(parameters.count))")
        guard isDistributed else {
            if scale != 1 { scaleBuffer(parameters.gradients.pointer, count: parameters.count, by: scale) }
            return
        }
        frontier = parameters.count
        let clock = Stopwatch()
        if let shared {
            if firstStart == nil { firstStart = MonotonicClock.nanoseconds() }
            shared.publish(readyBuckets: packReadyBuckets())
            shared.finish()
            reducedBytes += parameters.count * MemoryLayout<Float>.stride
            let end = MonotonicClock.nanoseconds()
            exposedSeconds += clock.elapsedSeconds
            if let firstStart { communicationSeconds += Double(end &- firstStart) * 1e-9 }
            // The scale was applied while averaging.
            return
        }
        if let worker {
            worker.finish(upTo: packReadyBuckets())
            pending.removeAll(keepingCapacity: true)
        } else {
            startBuckets(upTo: packReadyBuckets())
            do {
                try Request.waitAll(pending)
            } catch {
                firstError = firstError ?? error
            }
            pending.removeAll(keepingCapacity: true)
        }
        let end = MonotonicClock.nanoseconds()
        exposedSeconds += clock.elapsedSeconds
        if let firstStart { communicationSeconds += Double(end &- firstStart) * 1e-9 }
        if let error = firstError { throw error }
        let owned = ownedRange
        if let wire {
            unpackBFloat16(wire.baseAddress + owned.lowerBound, into: parameters.gradients.pointer + owned.lowerBound,
                           count: owned.count, scale: scale)
        } else if scale != 1 {
            scaleBuffer(parameters.gradients.pointer + owned.lowerBound, count: owned.count, by: scale)
        }
    }

    /// Whether the gradients this rank averaged in the last ``finish()`` were
    /// all finite, or `nil` when the transport did not look at them (MPI).
    ///
    /// With shared memory every gradient is averaged by exactly one rank, so
    /// the ranks' answers, combined, cover ``ownedRange`` of every rank, and
    /// a separate pass over the gradients is not needed.
    public var averagedGradientsFinite: Bool? { shared?.slicesFinite }

    /// Clips the averaged gradients to global L2 norm `maxNorm`.
    ///
    /// Under ZeRO each rank holds only its shard's gradients, so the squared
    /// norms of the shards are summed across ranks first.
    ///
    /// - Returns: The global norm before clipping.
    @discardableResult
    public func clipGradients(maxNorm: Float) throws -> Float {
        guard shards != nil && isDistributed else {
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
        guard let shards, isDistributed else { return }
        let clock = Stopwatch()
        try shards.gatherValues(parameters, over: communicator)
        exposedSeconds += clock.elapsedSeconds
    }

    /// Zeroes the statistics.
    public func resetStatistics() {
        exposedSeconds = 0
        communicationSeconds = 0
        reducedBytes = 0
        averagingBaseline = shared?.averagingNanoseconds ?? 0
    }

    /// Rounds every newly complete bucket into the bfloat16 buffer (when one
    /// is used) and returns how many buckets are complete.
    private func packReadyBuckets() -> Int {
        var ready = nextPacked
        while ready < buckets.count && buckets[ready].upperBound <= frontier {
            if let wire {
                let bucket = buckets[ready]
                packBFloat16(parameters.gradients.pointer + bucket.lowerBound,
                             into: wire.baseAddress + bucket.lowerBound, count: bucket.count)
            }
            ready += 1
        }
        nextPacked = ready
        return ready
    }
    private var nextPacked = 0

    /// Starts the reduction of buckets `nextBucket..<count`.
    private func startBuckets(upTo count: Int) {
        let storage = parameters.gradients.storage
        let base = parameters.gradients.offset
        while nextBucket < count {
            let bucket = buckets[nextBucket]
            nextBucket += 1
            if firstStart == nil { firstStart = MonotonicClock.nanoseconds() }
            do {
                if let shards {
                    for (owner, part) in shards.owners(of: bucket) {
                        if let wire {
                            pending.append(try communicator.startReduce(wire, range: part, root: owner, op: operation))
                        } else {
                            pending.append(try communicator.startReduce(
                                storage, range: (base + part.lowerBound)..<(base + part.upperBound), root: owner, op: operation))
                        }
                    }
                } else if let wire {
                    pending.append(try communicator.startAllReduce(wire, range: bucket, op: operation))
                } else {
                    pending.append(try communicator.startAllReduce(
                        storage, range: (base + bucket.lowerBound)..<(base + bucket.upperBound), op: operation))
                }
                reducedBytes += bucket.count * (wire == nil ? MemoryLayout<Float>.stride : MemoryLayout<UInt16>.stride)
            } catch {
                firstError = firstError ?? error
            }
        }
    }

    /// Tests pending requests in order; returns whether all are complete.
    @discardableResult
    private func poll() -> Bool {
        for request in pending where !request.isComplete {
            do {
                // One test per pending request drives the progress engine;
                // stop at the first unfinished one, later ones depend on it.
                if try !request.test() { return false }
            } catch {
                firstError = firstError ?? error
            }
        }
        return true
    }
}

@inline(__always)
func scaleBuffer(_ pointer: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    for i in 0..<count {
        pointer[i] *= factor
    }
}
