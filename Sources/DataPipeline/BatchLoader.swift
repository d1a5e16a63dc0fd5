import Dispatch
import TensorCore

/// One mini-batch, viewing a ``BatchLoader``'s reused tensors.
///
/// The tensors are overwritten by the loader's next call; copy what must outlive it.
public struct Batch {
    /// Inputs, shape `[count] + inputShape`.
    public let inputs: Tensor
    /// Targets, shape `[count] + targetShape`.
    public let targets: Tensor
    /// The number of samples in this batch (the batch size, or fewer for a
    /// kept partial last batch).
    public let count: Int
    /// How many leading samples are real rather than padding repeats.
    public let realCount: Int
    /// Which batch this is.
    public let position: SamplerPosition
}

/// Assembles one rank's mini-batches into preallocated tensors.
///
/// After construction no step allocates storage: each batch is copied into
/// the same input and target tensors (a partial last batch is a view of
/// their leading rows). The loader's ``position`` is the next batch to
/// produce; checkpoints save it and ``restore(_:)`` puts it back.
///
/// With `prefetch`, a background queue copies batch j+1 into a second pair
/// of tensors while the caller works on batch j. The indices are still
/// chosen on the caller's thread (the sampler is not thread-safe); the
/// worker only reads the data set and writes the buffer nobody else holds.
public final class BatchLoader {
    /// The samples.
    public let dataset: Dataset
    /// Chooses this rank's samples.
    public let sampler: DistributedSampler
    /// The per-rank batch size.
    public let batchSize: Int
    /// The next batch to produce.
    public private(set) var position: SamplerPosition

    private struct Buffer {
        let inputs: Tensor
        let targets: Tensor
        let indices: UnsafeMutablePointer<Int>
    }

    /// Work handed to the prefetch queue: which batch, into which buffer.
    private struct Pending {
        let position: SamplerPosition
        let buffer: Int
        let count: Int
    }

    private let buffers: [Buffer]
    private var nextBuffer = 0
    private var pending: Pending?
    private let queue: DispatchQueue?
    private let group = DispatchGroup()

    /// A loader for one rank.
    /// - Parameters:
    ///   - dataset: The samples; its count must equal the sampler's.
    ///   - sampler: This rank's sampler.
    ///   - batchSize: Samples per rank per step.
    ///   - position: Where to start, e.g. restored from a checkpoint.
    ///   - prefetch: Copy the next batch on a background queue.
    public init(dataset: Dataset, sampler: DistributedSampler, batchSize: Int,
                position: SamplerPosition = SamplerPosition(epoch: 0, batch: 0), prefetch: Bool = false)
    {
        precondition(batchSize >= 1, "BatchLoader: batch size must be at least 1")
        precondition(dataset.count == sampler.count,
                     "BatchLoader: data set has \(dataset.count) samples, sampler expects \(sampler.count)")
        (self.dataset, self.sampler, self.batchSize, self.position) = (dataset, sampler, batchSize, position)
        buffers = (0..<(prefetch ? 2 : 1)).map { _ in
            Buffer(inputs: Tensor(zeros: [batchSize] + dataset.inputShape),
                   targets: Tensor(zeros: [batchSize] + dataset.targetShape),
                   indices: .allocate(capacity: batchSize))
        }
        queue = prefetch ? DispatchQueue(label: "swift-ddp.batch-prefetch") : nil
        restore(position)
    }

    deinit {
        group.wait()
        for buffer in buffers { buffer.indices.deallocate() }
    }

    /// The first buffer's input tensor, shape `[batchSize] + inputShape`
    /// (with prefetch, batches alternate between two buffers).
    public var inputs: Tensor { buffers[0].inputs }
    /// The first buffer's target tensor, shape `[batchSize] + targetShape`.
    public var targets: Tensor { buffers[0].targets }

    /// Batches per epoch, the same on every rank.
    public var batchesPerEpoch: Int { sampler.batchCount(batchSize: batchSize) }

    /// Moves to `position`, as saved from ``position`` (possibly by another run).
    public func restore(_ position: SamplerPosition) {
        precondition(position.epoch >= 0 && position.batch >= 0 && position.batch <= batchesPerEpoch,
                     "BatchLoader: position \(position) outside an epoch of \(batchesPerEpoch) batches")
        finishPending()
        self.position = position
    }

    /// The next batch of the current epoch, or `nil` once the epoch is done
    /// (the loader then moves to batch 0 of the next epoch, so a training
    /// loop reads `while let batch = loader.next() { ... }` once per epoch).
    /// The batch stays valid until the next call.
    public func next() -> Batch? {
        guard position.batch < batchesPerEpoch else {
            finishPending()
            position = SamplerPosition(epoch: position.epoch + 1, batch: 0)
            return nil
        }
        let batch: Batch
        if let work = pending, work.position == position {
            group.wait()
            pending = nil
            batch = makeBatch(buffer: work.buffer, count: work.count, position: position)
        } else {
            finishPending()
            batch = fill(buffer: nextBuffer, position: position)
        }
        nextBuffer = (nextBuffer + 1) % buffers.count
        position.batch += 1
        if let queue, position.batch < batchesPerEpoch {
            startPrefetch(on: queue)
        }
        return batch
    }

    /// Loads the batch at `position` without moving the loader (e.g. to
    /// evaluate a fixed batch). Invalidates the last batch returned.
    public func load(_ position: SamplerPosition) -> Batch {
        finishPending()
        return fill(buffer: nextBuffer, position: position)
    }

    private func fill(buffer index: Int, position: SamplerPosition) -> Batch {
        let n = sampler.fillBatch(position.batch, epoch: position.epoch, batchSize: batchSize,
                                  into: buffers[index].indices)
        BatchLoader.copySamples(dataset, buffers[index], count: n, epoch: position.epoch)
        return makeBatch(buffer: index, count: n, position: position)
    }

    private func startPrefetch(on queue: DispatchQueue) {
        let buffer = buffers[nextBuffer]
        let n = sampler.fillBatch(position.batch, epoch: position.epoch, batchSize: batchSize, into: buffer.indices)
        pending = Pending(position: position, buffer: nextBuffer, count: n)
        let (dataset, epoch) = (dataset, position.epoch)
        queue.async(group: group) {
            BatchLoader.copySamples(dataset, buffer, count: n, epoch: epoch)
        }
    }

    private func finishPending() {
        guard pending != nil else { return }
        group.wait()
        pending = nil
    }

    private static func copySamples(_ dataset: Dataset, _ buffer: Buffer, count: Int, epoch: Int) {
        let inputSize = dataset.inputSize
        let targetSize = dataset.targetSize
        for k in 0..<count {
            dataset.copySample(buffer.indices[k], epoch: epoch, input: buffer.inputs.pointer + k * inputSize,
                               target: buffer.targets.pointer + k * targetSize)
        }
    }

    private func makeBatch(buffer index: Int, count n: Int, position: SamplerPosition) -> Batch {
        let buffer = buffers[index]
        let real = sampler.realCount(batch: position.batch, batchSize: batchSize)
        if n == batchSize {
            return Batch(inputs: buffer.inputs, targets: buffer.targets, count: n, realCount: real, position: position)
        }
        return Batch(inputs: buffer.inputs.rows(0..<n), targets: buffer.targets.rows(0..<n), count: n,
                     realCount: real, position: position)
    }
}
