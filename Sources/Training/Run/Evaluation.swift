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
    let wasTraining = model.isTraining
    model.isTraining = false
    defer { model.isTraining = wasTraining }
    var totals = [0.0, 0.0, 0.0, 0.0]  // loss sum, correct, counted, samples
    dataset.forEachEvaluationBatch(rank: communicator.rank, ranks: communicator.size,
                                   batchSize: batchSize, maxBatches: maxBatches) { inputs, targets in
        let result = model.forward(inputs: inputs, targets: targets)
        totals[0] += Double(result.loss) * Double(result.count)
        totals[1] += Double(result.correct)
        totals[2] += Double(result.count)
        totals[3] += Double(inputs.shape[0])
    }
    try communicator.allSum(&totals)
    return EvaluationResult(lossSum: totals[0], correct: totals[1], counted: totals[2], samples: totals[3],
                            isClassifier: dataset.classCount != nil && dataset.targetShape.count <= 1)
}
