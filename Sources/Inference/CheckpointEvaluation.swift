import DataPipeline
import Foundation
import NeuralNet
import TensorCore

/// Loss, accuracy and (for classifiers) the confusion matrix of a checkpoint
/// on one split, summed over every rank's shard.
public struct CheckpointEvaluation: Sendable, Equatable, Codable {
    /// The split evaluated (`train`, `validation` or `test`).
    public var split: String
    /// Mean loss per counted target (cross-entropy, or squared error per output for MSE models).
    public var loss: Double
    /// Correct argmax predictions over counted targets.
    public var accuracy: Double
    /// `exp(loss)`, for a language model.
    public var perplexity: Double?
    /// Counted targets: samples, or tokens for a language model.
    public var count: Int
    /// Samples evaluated.
    public var samples: Int
    /// `confusion[truth][predicted]` counts, for a classifier.
    public var confusion: [[Int]]?
}

/// Evaluates an opened checkpoint on `dataset`, each rank taking a disjoint
/// shard (as training's evaluation does), and sums over `communicator`.
///
/// Works from the model's logits alone, so compressed models evaluate the
/// same way as plain ones.
///
/// - Parameters:
///   - checkpoint: The opened checkpoint.
///   - dataset: A split prepared as in training (``RunComponents/loadData(_:)``).
///   - split: Its name, reported back.
///   - rank: This process's rank among `ranks` sharing the work.
///   - ranks: How many processes share it.
///   - batchSize: The global batch; each rank takes its share.
///   - sumOverRanks: Replaces the values with their sum over every rank (an
///     allreduce); the identity for one process. Inference knows no MPI.
/// - Throws: What `sumOverRanks` throws.
public func evaluateCheckpoint(_ checkpoint: InferenceSession, on dataset: Dataset, split: String,
                               rank: Int = 0, ranks: Int = 1, batchSize: Int,
                               sumOverRanks: (inout [Double]) throws -> Void = { _ in }) throws -> CheckpointEvaluation {
    precondition(batchSize > 0, "evaluateCheckpoint: batchSize must be positive, got \(batchSize)")
    let classes = checkpoint.classCount
    var lossSum = 0.0, correct = 0.0, counted = 0.0, samples = 0.0
    var confusion = [Double](repeating: 0, count: classes * classes)
    let isMSE = checkpoint.config.run.model.loss == .meanSquaredError

    dataset.forEachEvaluationBatch(rank: rank, ranks: ranks, batchSize: batchSize) { inputs, targets in
        let rows = inputs.shape[0]
        let logits = checkpoint.model.logits(inputs.reshaped([rows] + checkpoint.model.inputShape))
        samples += Double(rows)
        switch checkpoint.task {
        case .classifier:
            let z = logits.pointer, t = targets.pointer
            let width = targets.count / rows
            for r in 0..<rows {
                let row = z + r * classes
                let truth = width == 1 ? Int(t[r]) : Kernels.argmax(t + r * width, count: width)
                let predicted = Kernels.argmax(row, count: classes)
                if isMSE {
                    for j in 0..<classes {
                        let e = Double(row[j]) - (width == 1 ? (j == truth ? 1 : 0) : Double(t[r * width + j]))
                        lossSum += e * e / Double(classes)
                    }
                } else {
                    lossSum += logSumExp(row, count: classes) - Double(row[truth])
                }
                if predicted == truth { correct += 1 }
                counted += 1
                if truth >= 0 && truth < classes { confusion[truth * classes + predicted] += 1 }
            }
        case .languageModel(let vocabularySize, _):
            let tokens = targets.count
            let z = logits.pointer, t = targets.pointer
            for i in 0..<tokens where t[i] >= 0 {
                let row = z + i * vocabularySize
                let truth = Int(t[i])
                lossSum += logSumExp(row, count: vocabularySize) - Double(row[truth])
                if Kernels.argmax(row, count: vocabularySize) == truth { correct += 1 }
                counted += 1
            }
        }
    }
    var totals = [lossSum, correct, counted, samples] + confusion
    try sumOverRanks(&totals)
    let loss = totals[2] > 0 ? totals[0] / totals[2] : .nan
    var result = CheckpointEvaluation(split: split, loss: loss, accuracy: totals[2] > 0 ? totals[1] / totals[2] : .nan,
                                      perplexity: nil, count: Int(totals[2]), samples: Int(totals[3]), confusion: nil)
    switch checkpoint.task {
    case .classifier:
        result.confusion = (0..<classes).map { truth in
            (0..<classes).map { Int(totals[4 + truth * classes + $0]) }
        }
    case .languageModel:
        result.perplexity = exp(loss)
    }
    return result
}

/// `log Σ exp(values)`, in Double and shifted by the maximum so it cannot overflow.
func logSumExp(_ values: UnsafePointer<Float>, count: Int) -> Double {
    var largest = -Double.infinity
    for i in 0..<count { largest = max(largest, Double(values[i])) }
    var total = 0.0
    for i in 0..<count { total += exp(Double(values[i]) - largest) }
    return largest + log(total)
}
