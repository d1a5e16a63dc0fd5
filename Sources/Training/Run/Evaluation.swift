import DataPipeline
import MPI
import NeuralNet
import TensorCore

/// Evaluates `model` on `dataset`, each rank taking a disjoint shard.
///
/// Padding samples, which the sampler adds so every rank takes the same number
/// of steps, are cut from each batch so every sample counts exactly once.
///
/// - Parameters:
///   - batchSize: The global batch size; each rank takes its share.
///   - maxBatches: Stop after this many batches (0 for the whole split).
public func evaluate(_ model: Model, on dataset: Dataset, communicator: Communicator,
                     batchSize: Int, maxBatches: Int = 0) throws -> EvaluationResult {
    let ranks = communicator.size
    let perRank = max(1, (batchSize + ranks - 1) / ranks)
    let sampler = DistributedSampler(count: dataset.count, ranks: ranks, rank: communicator.rank, seed: 0,
                                     shuffle: false, dropLast: false)
    let loader = BatchLoader(dataset: dataset, sampler: sampler, batchSize: min(perRank, max(sampler.samplesPerRank, 1)))
    let wasTraining = model.isTraining
    model.isTraining = false
    defer { model.isTraining = wasTraining }
    var lossSum = 0.0, correct = 0.0, counted = 0.0, samples = 0.0
    var batches = 0
    while let batch = loader.next() {
        if maxBatches > 0 && batches == maxBatches { break }
        batches += 1
        guard batch.realCount > 0 else { continue }
        let inputs = batch.realCount == batch.count ? batch.inputs : batch.inputs.rows(0..<batch.realCount)
        let targets = batch.realCount == batch.count ? batch.targets : batch.targets.rows(0..<batch.realCount)
        let result = model.forward(inputs: inputs, targets: targets)
        lossSum += Double(result.loss) * Double(result.count)
        correct += Double(result.correct)
        counted += Double(result.count)
        samples += Double(batch.realCount)
    }
    var totals = [lossSum, correct, counted, samples]
    try communicator.allSum(&totals)
    let isClassifier = dataset.classCount != nil && dataset.targetShape.count <= 1
    return EvaluationResult(loss: totals[2] > 0 ? totals[0] / totals[2] : .nan,
                            accuracy: isClassifier && totals[2] > 0 ? totals[1] / totals[2] : nil,
                            count: Int(totals[2]), samples: Int(totals[3]))
}
