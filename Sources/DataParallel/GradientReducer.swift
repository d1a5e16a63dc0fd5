import MPI
import NeuralNet
import TensorCore

/// Averages a model's gradients over the ranks of a communicator, bucket by
/// bucket, overlapping the reduction with backward.
///
/// Buckets are fixed ranges of the flat gradient buffer. Since parameters are
/// laid out in reverse forward order (see ``ParameterStore``), backward fills
/// the buffer from offset 0 upward; a bucket's in-place allreduce starts as
/// soon as backward has passed its end, and pending reductions are advanced
/// with `MPI_Test` each time a layer finishes, because OpenMPI makes no
/// progress on its own between MPI calls.
public final class GradientReducer {
    /// The ranks gradients are averaged over.
    public let communicator: Communicator
    /// The buffers reduced.
    public let parameters: ParameterStore
    /// The element ranges of the buckets, in the order they become ready.
    public let buckets: [Range<Int>]
    /// Whether reductions start during backward (true) or all after it.
    public let overlap: Bool

    private var frontier = 0
    private var nextBucket = 0
    private var pending: [Request] = []
    private var firstError: Error?
    private var scale: Float = 1

    /// Seconds spent in ``finish()`` waiting for reductions: the communication
    /// that backward did not hide. Reset by ``resetStatistics()``.
    public private(set) var exposedSeconds: Double = 0
    /// Bytes reduced since the last reset.
    public private(set) var reducedBytes: Int = 0

    /// - Parameters:
    ///   - communicator: The data-parallel group.
    ///   - parameters: The model's flat buffers.
    ///   - bucketBytes: Target size of a bucket; the last one may be smaller.
    ///   - overlap: Start each bucket during backward.
    public init(communicator: Communicator, parameters: ParameterStore, bucketBytes: Int, overlap: Bool = true) {
        precondition(bucketBytes >= MemoryLayout<Float>.stride, "GradientReducer: bucket of \(bucketBytes) bytes")
        self.communicator = communicator
        self.parameters = parameters
        self.overlap = overlap
        let perBucket = bucketBytes / MemoryLayout<Float>.stride
        buckets = stride(from: 0, to: parameters.count, by: perBucket).map {
            $0..<min($0 + perBucket, parameters.count)
        }
    }

    /// Arms the reducer for one backward whose gradients are the sum of
    /// `microBatches` mean-loss gradients; the result is their mean over
    /// micro-batches and ranks.
    public func begin(microBatches: Int = 1) {
        precondition(pending.isEmpty, "GradientReducer: begin() while a reduction is pending; call finish() first")
        frontier = 0
        nextBucket = 0
        firstError = nil
        scale = 1 / Float(communicator.size * microBatches)
    }

    /// The callback for ``Model/backward(gradientsReady:)``: notes that
    /// `range` is final, starts every bucket now complete, and advances the
    /// reductions already under way.
    public func gradientsReady(_ range: Range<Int>) {
        precondition(range.lowerBound == frontier,
                     "GradientReducer: gradients ready at \(range), expected to continue from \(frontier)")
        frontier = range.upperBound
        guard overlap, communicator.size > 1 else { return }
        startCompleteBuckets()
        poll()
    }

    /// Starts what is left, waits for every bucket and applies the averaging scale.
    ///
    /// - Throws: The first ``MPIError`` of any bucket.
    public func finish() throws {
        precondition(frontier == parameters.count || communicator.size == 1 || !overlap || frontier == 0,
                     "GradientReducer: finish() before backward reported every gradient (\(frontier) of \(parameters.count))")
        if communicator.size > 1 {
            frontier = parameters.count
            startCompleteBuckets()
            let clock = Stopwatch()
            do {
                try Request.waitAll(pending)
            } catch {
                firstError = firstError ?? error
            }
            exposedSeconds += clock.elapsedSeconds
            pending.removeAll(keepingCapacity: true)
            if let error = firstError { throw error }
        }
        if scale != 1 {
            scaleBuffer(parameters.gradients.pointer, count: parameters.count, by: scale)
        }
    }

    /// Zeroes ``exposedSeconds`` and ``reducedBytes``.
    public func resetStatistics() {
        exposedSeconds = 0
        reducedBytes = 0
    }

    private func startCompleteBuckets() {
        let storage = parameters.gradients.storage
        let base = parameters.gradients.offset
        while nextBucket < buckets.count && buckets[nextBucket].upperBound <= frontier {
            let bucket = buckets[nextBucket]
            nextBucket += 1
            do {
                let range = (base + bucket.lowerBound)..<(base + bucket.upperBound)
                pending.append(try communicator.startAllReduce(storage, range: range, op: .sum))
                reducedBytes += bucket.count * MemoryLayout<Float>.stride
            } catch {
                firstError = firstError ?? error
            }
        }
    }

    private func poll() {
        for request in pending where !request.isComplete {
            do {
                // One test per pending request drives the progress engine;
                // stop at the first unfinished one, later ones depend on it.
                if try !request.test() { break }
            } catch {
                firstError = firstError ?? error
            }
        }
    }
}

@inline(__always)
func scaleBuffer(_ pointer: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    for i in 0..<count {
        pointer[i] *= factor
    }
}
