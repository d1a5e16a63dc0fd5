/// Loss and accuracy over a whole split, summed over every rank's shard.
public struct EvaluationResult: Sendable, Equatable {
    /// Mean loss per counted target.
    public let loss: Double
    /// Correct predictions over counted targets; `nil` for regression.
    public let accuracy: Double?
    /// Counted targets (samples, or tokens for a language model).
    public let count: Int
    /// Samples evaluated.
    public let samples: Int

    public init(loss: Double, accuracy: Double?, count: Int, samples: Int) {
        (self.loss, self.accuracy, self.count, self.samples) = (loss, accuracy, count, samples)
    }

    /// The result from sums over a split: `lossSum` is the loss times the
    /// counted targets, summed over batches (and ranks).
    public init(lossSum: Double, correct: Double, counted: Double, samples: Double, isClassifier: Bool) {
        self.init(loss: counted > 0 ? lossSum / counted : .nan,
                  accuracy: isClassifier && counted > 0 ? correct / counted : nil,
                  count: Int(counted), samples: Int(samples))
    }
}
