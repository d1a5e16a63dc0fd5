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
public final class BatchLoader {
    /// The samples.
    public let dataset: Dataset
    /// Chooses this rank's samples.
    public let sampler: DistributedSampler
    /// The per-rank batch size.
    public let batchSize: Int
    /// The reused input tensor, shape `[batchSize] + inputShape`.
    public let inputs: Tensor
    /// The reused target tensor, shape `[batchSize] + targetShape`.
    public let targets: Tensor
    /// The next batch to produce.
    public private(set) var position: SamplerPosition

    private let indices: UnsafeMutablePointer<Int>

    /// A loader for one rank.
    /// - Parameters:
    ///   - dataset: The samples; its count must equal the sampler's.
    ///   - sampler: This rank's sampler.
    ///   - batchSize: Samples per rank per step.
    ///   - position: Where to start, e.g. restored from a checkpoint.
    public init(dataset: Dataset, sampler: DistributedSampler, batchSize: Int,
                position: SamplerPosition = SamplerPosition(epoch: 0, batch: 0))
    {
        precondition(batchSize >= 1, "BatchLoader: batch size must be at least 1")
        precondition(dataset.count == sampler.count,
                     "BatchLoader: data set has \(dataset.count) samples, sampler expects \(sampler.count)")
        self.dataset = dataset
        self.sampler = sampler
        self.batchSize = batchSize
        self.inputs = Tensor(zeros: [batchSize] + dataset.inputShape)
        self.targets = Tensor(zeros: [batchSize] + dataset.targetShape)
        self.indices = .allocate(capacity: batchSize)
        self.position = position
        restore(position)
    }

    deinit {
        indices.deallocate()
    }

    /// Batches per epoch, the same on every rank.
    public var batchesPerEpoch: Int { sampler.batchCount(batchSize: batchSize) }

    /// Moves to `position`, as saved from ``position`` (possibly by another run).
    public func restore(_ position: SamplerPosition) {
        precondition(position.epoch >= 0 && position.batch >= 0 && position.batch <= batchesPerEpoch,
                     "BatchLoader: position \(position) outside an epoch of \(batchesPerEpoch) batches")
        self.position = position
    }

    /// The next batch of the current epoch, or `nil` once the epoch is done
    /// (the loader then moves to batch 0 of the next epoch, so a training
    /// loop reads `while let batch = loader.next() { ... }` once per epoch).
    public func next() -> Batch? {
        guard position.batch < batchesPerEpoch else {
            position = SamplerPosition(epoch: position.epoch + 1, batch: 0)
            return nil
        }
        let batch = load(position)
        position.batch += 1
        return batch
    }

    /// Loads the batch at `position` without moving the loader (e.g. to
    /// evaluate a fixed batch).
    public func load(_ position: SamplerPosition) -> Batch {
        let n = sampler.fillBatch(position.batch, epoch: position.epoch, batchSize: batchSize, into: indices)
        let inputSize = dataset.inputSize
        let targetSize = dataset.targetSize
        for k in 0..<n {
            dataset.copySample(indices[k], input: inputs.pointer + k * inputSize,
                               target: targets.pointer + k * targetSize)
        }
        let real = sampler.realCount(batch: position.batch, batchSize: batchSize)
        if n == batchSize {
            return Batch(inputs: inputs, targets: targets, count: n, realCount: real, position: position)
        }
        return Batch(inputs: inputs.rows(0..<n), targets: targets.rows(0..<n), count: n, realCount: real,
                     position: position)
    }
}
