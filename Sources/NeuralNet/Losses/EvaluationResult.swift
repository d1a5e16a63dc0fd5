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
        self.loss = loss
        self.accuracy = accuracy
        self.count = count
        self.samples = samples
    }
}
