import DataPipeline
import Foundation
import NeuralNet
import TensorCore

/// Loss and accuracy of an ``InferenceModel`` over a whole split, in this process.
///
/// The loss is the training objective's (`loss`), computed on the logits,
/// so a plain checkpoint scores exactly as the trainer's evaluation did. A
/// ``ModelInference`` (the GPT) is scored by its own forward pass.
///
/// - Parameters:
///   - model: The model.
///   - dataset: The split, preprocessed as in training.
///   - loss: The objective the model was trained with.
///   - batchSize: Samples per forward pass.
///   - maxBatches: Stop after this many batches (0 for the whole split).
public func evaluateInference(_ model: InferenceModel, on dataset: Dataset, loss: LossKind,
                              batchSize: Int = 256, maxBatches: Int = 0) -> EvaluationResult {
    let objective = loss.makeLoss()
    var lossSum = 0.0, correct = 0.0, counted = 0.0, samples = 0.0
    dataset.forEachEvaluationBatch(batchSize: batchSize, maxBatches: maxBatches) { inputs, targets in
        let result: LossResult
        if let wrapped = model as? ModelInference {
            result = wrapped.model.forward(inputs: inputs, targets: targets)
        } else {
            result = objective.forward(model.logits(inputs), targets: targets)
        }
        lossSum += Double(result.loss) * Double(result.count)
        correct += Double(result.correct)
        counted += Double(result.count)
        samples += Double(inputs.shape[0])
    }
    return EvaluationResult(lossSum: lossSum, correct: correct, counted: counted, samples: samples,
                            isClassifier: dataset.classCount != nil && dataset.targetShape.count <= 1)
}

/// The median wall time of `model.logits` on the first `batch` samples of `dataset`.
///
/// - Parameters:
///   - runs: Timed calls, after two untimed warm-up calls.
/// - Returns: Seconds per call.
public func medianLatency(_ model: InferenceModel, on dataset: Dataset, batch: Int, runs: Int) -> Double {
    precondition(batch > 0 && runs > 0, "medianLatency: batch and runs must be positive")
    let sampler = DistributedSampler(count: dataset.count, ranks: 1, rank: 0, seed: 0, shuffle: false, dropLast: false)
    let loader = BatchLoader(dataset: dataset, sampler: sampler, batchSize: min(batch, dataset.count))
    guard let first = loader.next() else { return .nan }
    var inputs = first.inputs.clone()
    if inputs.shape[0] < batch {
        // A split smaller than the batch: repeat its samples.
        let rows = inputs.shape[0], width = inputs.count / rows
        let grown = Tensor(zeros: [batch] + Array(inputs.shape.dropFirst()))
        for r in 0..<batch { (grown.pointer + r * width).update(from: inputs.pointer + (r % rows) * width, count: width) }
        inputs = grown
    }
    for _ in 0..<2 { _ = model.logits(inputs) }
    var times: [Double] = []
    for _ in 0..<runs {
        let watch = Stopwatch()
        _ = model.logits(inputs)
        times.append(watch.elapsedSeconds)
    }
    times.sort()
    return runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2
}
