import MPI
import NeuralNet

/// Averages gradient buckets with nonblocking MPI collectives on the
/// gradient buffer: `MPI_Iallreduce` in place, or, under ZeRO-1,
/// `MPI_Ireduce` onto each rank whose shard a bucket overlaps.
///
/// In bfloat16 each bucket is first rounded into a separate wire buffer and
/// summed with ``BFloat16Sum`` (additions in Float32). Progress comes from
/// tests between layers on the training thread, or from a
/// ``ProgressThread`` that starts and tests the buckets itself.
final class MPITransport: GradientTransport {
    let kind = GradientTransportKind.mpi
    private let communicator: Communicator
    private let parameters: ParameterStore
    private let buckets: [Range<Int>]
    private let shards: ParameterShards?
    private let ownedRange: Range<Int>
    /// The bfloat16 copy of the gradients that is reduced instead of them.
    private let wire: MPIBuffer<UInt16>?
    private let operation: ReductionOperation
    private var worker: ProgressThread?
    private var packed = 0
    private var started = 0
    private var pending: [Request] = []
    private var firstError: Error?
    private var scale: Float = 1

    /// - Parameters:
    ///   - communicator: The data-parallel group, with more than one rank.
    ///   - parameters: The model's flat buffers.
    ///   - buckets: The bucket ranges, in the order they become ready.
    ///   - precision: The wire format.
    ///   - shards: ZeRO-1 shards, or `nil`.
    ///   - progress: Who drives MPI's progress during backward.
    /// - Throws: An ``MPIError`` if the bfloat16 reduction cannot be registered.
    init(communicator: Communicator, parameters: ParameterStore, buckets: [Range<Int>],
         precision: GradientPrecision, shards: ParameterShards?, progress: ProgressMode) throws {
        (self.communicator, self.parameters, self.buckets, self.shards) = (communicator, parameters, buckets, shards)
        ownedRange = shards?.ranges[communicator.rank] ?? 0..<parameters.count
        (wire, operation) = try BFloat16Sum.wireFormat(precision, count: parameters.count)
        if progress == .thread { worker = ProgressThread() }
    }

    deinit {
        worker?.stop()
    }

    var averagedGradientsFinite: Bool? { nil }
    var averagingNanoseconds: UInt64 { 0 }
    var bytesPerReduction: Int {
        parameters.count * (wire == nil ? MemoryLayout<Float>.stride : MemoryLayout<UInt16>.stride)
    }

    func begin(scale: Float) {
        precondition(pending.isEmpty, "MPITransport: begin() while a reduction is pending")
        self.scale = scale
        packed = 0
        started = 0
        firstError = nil
        worker?.arm(start: { [unowned self] count in self.startBuckets(upTo: count) },
                    poll: { [unowned self] in self.poll() })
    }

    func publish(readyBuckets count: Int) {
        pack(upTo: count)
        if let worker {
            worker.release(upTo: count)
        } else {
            startBuckets(upTo: count)
        }
    }

    func progress() {
        if worker == nil { poll() }
    }

    func finish() throws {
        pack(upTo: buckets.count)
        if let worker {
            worker.finish(upTo: buckets.count)
        } else {
            startBuckets(upTo: buckets.count)
            do {
                try Request.waitAll(pending)
            } catch {
                firstError = firstError ?? error
            }
        }
        pending.removeAll(keepingCapacity: true)
        if let error = firstError { throw error }
        let owned = ownedRange
        if let wire {
            unpackBFloat16(wire.baseAddress + owned.lowerBound, into: parameters.gradients.pointer + owned.lowerBound,
                           count: owned.count, scale: scale)
        } else if scale != 1 {
            scaleBuffer(parameters.gradients.pointer + owned.lowerBound, count: owned.count, by: scale)
        }
    }

    /// Rounds buckets `packed..<count` into the bfloat16 buffer, if one is used.
    private func pack(upTo count: Int) {
        guard let wire else { return }
        while packed < count {
            let bucket = buckets[packed]
            packBFloat16(parameters.gradients.pointer + bucket.lowerBound,
                         into: wire.baseAddress + bucket.lowerBound, count: bucket.count)
            packed += 1
        }
    }

    /// Starts the reduction of buckets `started..<count`.
    private func startBuckets(upTo count: Int) {
        let storage = parameters.gradients.storage
        let base = parameters.gradients.offset
        while started < count {
            let bucket = buckets[started]
            started += 1
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
