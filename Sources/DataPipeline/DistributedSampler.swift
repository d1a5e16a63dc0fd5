import TensorCore

/// Where a run is within its data: a plain value a checkpoint stores and
/// restores to resume at exactly the next batch.
public struct SamplerPosition: Codable, Equatable, Hashable, Sendable {
    /// The epoch, from 0.
    public var epoch: Int
    /// The index of the next batch within the epoch.
    public var batch: Int

    public init(epoch: Int, batch: Int) {
        self.epoch = epoch
        self.batch = batch
    }
}

/// Splits each epoch's samples among data-parallel ranks.
///
/// Every epoch has one permutation of `0..<count`, computed from `(seed,
/// epoch)` alone with Fisher-Yates over `RandomGenerator(seed:stream: epoch)`,
/// so all ranks agree on it without communicating. The permutation is made a
/// multiple of the rank count N: with `dropLast` its tail is dropped, otherwise
/// it is padded by repeating it from the start. Rank r takes positions
/// r, r + N, r + 2N, ... of it, so every rank gets the same number of samples
/// and so the same number of steps.
///
/// With per-rank batch size b, batch j of rank r holds positions
/// `j*N*b + r + N*k` for k in `0..<b`. The union over ranks of batch j is
/// therefore exactly positions `[j*N*b, (j+1)*N*b)`: **N ranks with batch
/// B/N see, step by step, exactly the samples one rank sees with batch B**
/// (where the permutation is not padded, i.e. always when N divides count).
/// With averaged gradients, data-parallel training thus follows the
/// single-process run.
///
/// The last batch of an epoch may be partial (the per-rank share not a
/// multiple of b): `dropLast` drops it, otherwise it is kept, equally short
/// on every rank.
public final class DistributedSampler {
    /// The number of samples in the data set.
    public let count: Int
    /// The number of ranks N.
    public let ranks: Int
    /// This rank, in `0..<ranks`.
    public let rank: Int
    /// Fixes every epoch's permutation.
    public let seed: UInt64
    /// Whether to permute; otherwise every epoch is `0..<count` in order.
    public let shuffle: Bool
    /// Whether to drop the tail (and partial last batches) instead of padding.
    public let dropLast: Bool

    private var cachedEpoch: Int?
    private var cachedPermutation: [Int] = []

    /// A sampler for one rank.
    /// - Parameters:
    ///   - count: Samples in the data set.
    ///   - ranks: The number of data-parallel ranks N.
    ///   - rank: This rank.
    ///   - seed: Fixes the permutations; the same on every rank.
    ///   - shuffle: Permute each epoch (training) or not (evaluation).
    ///   - dropLast: Drop samples and batches that do not divide evenly,
    ///     rather than padding with repeats and keeping a short last batch.
    public init(count: Int, ranks: Int, rank: Int, seed: UInt64, shuffle: Bool = true, dropLast: Bool = false) {
        precondition(count >= 0, "DistributedSampler: negative count \(count)")
        precondition(ranks >= 1, "DistributedSampler: need at least one rank, got \(ranks)")
        precondition(rank >= 0 && rank < ranks, "DistributedSampler: rank \(rank) outside 0..<\(ranks)")
        (self.count, self.ranks, self.rank, self.seed, self.shuffle) = (count, ranks, rank, seed, shuffle)
        self.dropLast = dropLast
    }

    /// A sampler of the same permutations with a cache of its own, for a
    /// thread other than the one this one serves (a loader may be prefetching).
    public func copy() -> DistributedSampler {
        DistributedSampler(count: count, ranks: ranks, rank: rank, seed: seed, shuffle: shuffle, dropLast: dropLast)
    }

    /// The number of samples each rank takes per epoch.
    public var samplesPerRank: Int {
        dropLast ? count / ranks : (count + ranks - 1) / ranks
    }

    /// The permutation of `0..<count` for `epoch`, the same on every rank.
    public func permutation(epoch: Int) -> [Int] {
        precondition(epoch >= 0, "DistributedSampler: negative epoch \(epoch)")
        var order = Array(0..<count)
        if shuffle {
            var generator = RandomGenerator(seed: seed, stream: UInt64(epoch))
            DataPipeline.shuffle(&order, using: &generator)
        }
        return order
    }

    /// The data-set index at `position` of the epoch's padded permutation.
    private func index(atPosition position: Int, epoch: Int) -> Int {
        if cachedEpoch != epoch {
            cachedPermutation = permutation(epoch: epoch)
            cachedEpoch = epoch
        }
        // Padding repeats the permutation from its start.
        return cachedPermutation[position % count]
    }

    /// This rank's data-set indices for `epoch`, in order.
    public func indices(epoch: Int) -> [Int] {
        (0..<samplesPerRank).map { index(atPosition: rank + ranks * $0, epoch: epoch) }
    }

    /// The number of batches per epoch with per-rank batch size `batchSize`;
    /// the same on every rank.
    public func batchCount(batchSize: Int) -> Int {
        precondition(batchSize >= 1, "DistributedSampler: batch size must be at least 1")
        return dropLast ? samplesPerRank / batchSize : (samplesPerRank + batchSize - 1) / batchSize
    }

    /// The number of samples in batch `batch` (only the last can be short).
    public func batchLength(_ batch: Int, batchSize: Int) -> Int {
        precondition(batch >= 0 && batch < batchCount(batchSize: batchSize),
                     "DistributedSampler: batch \(batch) outside 0..<\(batchCount(batchSize: batchSize))")
        return min(batchSize, samplesPerRank - batch * batchSize)
    }

    /// Writes the data-set indices of this rank's batch `batch` of `epoch`
    /// into `indices` and returns how many were written. Only the first
    /// returned value of them are real samples when the rest are padding:
    /// see ``realCount(batch:batchSize:)``.
    /// - Parameters:
    ///   - batch: The batch within the epoch.
    ///   - epoch: The epoch.
    ///   - batchSize: The per-rank batch size b.
    ///   - indices: Receives up to `batchSize` indices; needs that capacity.
    public func fillBatch(_ batch: Int, epoch: Int, batchSize: Int, into indices: UnsafeMutablePointer<Int>) -> Int {
        let length = batchLength(batch, batchSize: batchSize)
        let first = batch * ranks * batchSize + rank
        for k in 0..<length {
            indices[k] = index(atPosition: first + ranks * k, epoch: epoch)
        }
        return length
    }

    /// The data-set indices of this rank's batch `batch` of `epoch`.
    public func batchIndices(_ batch: Int, epoch: Int, batchSize: Int) -> [Int] {
        var indices = [Int](repeating: 0, count: batchSize)
        let length = indices.withUnsafeMutableBufferPointer {
            fillBatch(batch, epoch: epoch, batchSize: batchSize, into: $0.baseAddress!)
        }
        return Array(indices.prefix(length))
    }

    /// The data-set indices of batches `batches` of `epoch` over all ranks,
    /// in position order: the global batch those per-rank batches make up
    /// (positions `[j*N*b, (j+1)*N*b)` of the epoch's padded permutation for
    /// each batch j). The same on every rank, without communication.
    public func globalIndices(batches: Range<Int>, epoch: Int, batchSize: Int) -> [Int] {
        let end = min(batches.upperBound * ranks * batchSize, samplesPerRank * ranks)
        let start = min(batches.lowerBound * ranks * batchSize, end)
        return (start..<end).map { index(atPosition: $0, epoch: epoch) }
    }

    /// How many leading samples of batch `batch` are real rather than
    /// padding repeats; padding can only trail, since positions grow along a batch.
    /// Evaluation weights its metrics by this so no sample counts twice.
    public func realCount(batch: Int, batchSize: Int) -> Int {
        let length = batchLength(batch, batchSize: batchSize)
        let first = batch * ranks * batchSize + rank
        guard first < count else { return 0 }
        return min(length, (count - first + ranks - 1) / ranks)
    }
}
