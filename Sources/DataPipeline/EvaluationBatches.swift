import TensorCore

extension Dataset {
    /// Walks one rank's shard of this split in order for evaluation, giving
    /// each batch's real samples only: the padding the sampler adds so that
    /// every rank takes the same number of steps is cut, so that over all
    /// ranks each sample counts exactly once.
    ///
    /// The one loop behind training-time evaluation, `ddp eval` and the
    /// compressor's measurements.
    ///
    /// - Parameters:
    ///   - rank: This process's rank among `ranks`.
    ///   - ranks: How many processes share the split.
    ///   - batchSize: The global batch; each rank takes its share.
    ///   - maxBatches: Stop after this many batches (0 for the whole shard).
    ///   - body: Called with the inputs and targets of each batch's real samples.
    public func forEachEvaluationBatch(
        rank: Int = 0, ranks: Int = 1, batchSize: Int, maxBatches: Int = 0,
        _ body: (_ inputs: Tensor, _ targets: Tensor) throws -> Void
    ) rethrows {
        precondition(batchSize > 0, "forEachEvaluationBatch: batchSize must be positive, got \(batchSize)")
        let sampler = DistributedSampler(count: count, ranks: ranks, rank: rank, seed: 0, shuffle: false, dropLast: false)
        let perRank = max(1, (batchSize + ranks - 1) / ranks)
        let loader = BatchLoader(dataset: self, sampler: sampler, batchSize: min(perRank, max(sampler.samplesPerRank, 1)))
        var batches = 0
        while let batch = loader.next() {
            if maxBatches > 0 && batches == maxBatches { break }
            batches += 1
            guard batch.realCount > 0 else { continue }
            let real = batch.realCount == batch.count
            try body(real ? batch.inputs : batch.inputs.rows(0..<batch.realCount),
                     real ? batch.targets : batch.targets.rows(0..<batch.realCount))
        }
    }
}
