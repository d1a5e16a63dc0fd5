import TensorCore

/// A finite collection of samples addressed by index.
///
/// A sample is an input and a target, each a fixed-shape block of `Float`s.
/// Class ids and token ids are stored as exact floats (every integer below
/// 2^24 is exact), so one copy routine serves classification, language
/// modelling and regression alike.
///
/// Implementations must make ``copySample(_:input:target:)`` safe to call
/// for different indices concurrently: it only reads the data set.
public protocol Dataset: AnyObject {
    /// The number of samples.
    var count: Int { get }
    /// The shape of one input, e.g. `[784]`, `[1, 28, 28]` or `[T]`.
    var inputShape: [Int] { get }
    /// The shape of one target: `[]` for a class id, `[T]` for next tokens,
    /// `[k]` for regression or one-hot targets.
    var targetShape: [Int] { get }
    /// The number of classes or the vocabulary size; `nil` for regression.
    var classCount: Int? { get }
    /// Writes sample `index` into `input` (``inputSize`` floats) and
    /// `target` (``targetSize`` floats).
    func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>)
    /// Writes sample `index` as drawn in training epoch `epoch`: the same as
    /// ``copySample(_:input:target:)`` except where a data set varies its
    /// samples by epoch (``AugmentedDataset``) or wraps one that does.
    func copySample(_ index: Int, epoch: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>)
}

extension Dataset {
    public func copySample(_ index: Int, epoch: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        copySample(index, input: input, target: target)
    }

    /// The number of floats in one input.
    public var inputSize: Int { inputShape.reduce(1, *) }
    /// The number of floats in one target.
    public var targetSize: Int { targetShape.reduce(1, *) }

    /// Sample `index` as a pair of arrays; for tests and inspection, not for
    /// training loops (it allocates).
    public func sample(_ index: Int) -> (input: [Float], target: [Float]) {
        precondition(index >= 0 && index < count, "Dataset: sample \(index) outside 0..<\(count)")
        var input = [Float](repeating: 0, count: inputSize)
        var target = [Float](repeating: 0, count: max(targetSize, 1))
        input.withUnsafeMutableBufferPointer { i in
            target.withUnsafeMutableBufferPointer { t in
                copySample(index, input: i.baseAddress!, target: t.baseAddress!)
            }
        }
        return (input, Array(target.prefix(targetSize)))
    }
}

/// A view of some samples of another data set, in a given order.
public final class SubsetDataset: Dataset {
    /// The data set the samples come from.
    public let base: Dataset
    /// The base index of each sample of this subset.
    public let indices: [Int]

    /// A subset holding `base`'s samples at `indices`.
    public init(_ base: Dataset, indices: [Int]) {
        for index in indices {
            precondition(index >= 0 && index < base.count,
                         "SubsetDataset: index \(index) outside 0..<\(base.count)")
        }
        self.base = base
        self.indices = indices
    }

    public var count: Int { indices.count }
    public var inputShape: [Int] { base.inputShape }
    public var targetShape: [Int] { base.targetShape }
    public var classCount: Int? { base.classCount }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        base.copySample(indices[index], input: input, target: target)
    }

    public func copySample(_ index: Int, epoch: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        base.copySample(indices[index], epoch: epoch, input: input, target: target)
    }
}

/// Splits a data set into a training and a validation part at random.
///
/// The split depends only on `seed`, so every rank and every resumed run
/// draws the same validation samples.
/// - Parameters:
///   - dataset: The samples to split.
///   - validationFraction: The share of samples for validation, in `[0, 1)`;
///     the count is rounded down.
///   - seed: Fixes which samples go where.
/// - Returns: Disjoint subsets that together hold every sample once.
public func splitDataset(_ dataset: Dataset, validationFraction: Double, seed: UInt64)
    -> (train: SubsetDataset, validation: SubsetDataset)
{
    precondition(validationFraction >= 0 && validationFraction < 1,
                 "splitDataset: validationFraction \(validationFraction) outside [0, 1)")
    // A stream of its own keeps the split unrelated to the sampler's epochs.
    var generator = RandomGenerator(seed: seed, stream: 0x5_0117)
    var order = Array(0..<dataset.count)
    shuffle(&order, using: &generator)
    let validationCount = Int(Double(dataset.count) * validationFraction)
    let trainCount = dataset.count - validationCount
    return (SubsetDataset(dataset, indices: Array(order[..<trainCount])),
            SubsetDataset(dataset, indices: Array(order[trainCount...])))
}

/// Fisher-Yates, spelled out rather than `Array.shuffle(using:)` so the
/// permutation for a seed can never change with the standard library.
func shuffle(_ values: inout [Int], using generator: inout RandomGenerator) {
    var i = values.count - 1
    while i > 0 {
        let j = generator.nextIndex(below: i + 1)
        values.swapAt(i, j)
        i -= 1
    }
}

/// The index of sample `index` of `dataset` in the data set its wrappers
/// start from (a CSV file's data rows from 0, an IDX file's images, a
/// corpus's windows): through the subsets of a split and the wrappers that
/// preprocess or augment, which keep indices.
public func originalIndex(of index: Int, in dataset: Dataset) -> Int {
    switch dataset {
    case let subset as SubsetDataset: return originalIndex(of: subset.indices[index], in: subset.base)
    case let preprocessed as PreprocessedDataset: return originalIndex(of: index, in: preprocessed.base)
    case let augmented as AugmentedDataset: return originalIndex(of: index, in: augmented.base)
    default: return index
    }
}
