import NeuralNet

/// What `ddp compress` does to a checkpoint; steps run in the order
/// prune (and fine-tune) → factorize → quantize.
public struct CompressionOptions: Sendable, Equatable {
    /// The fraction of weight-matrix elements to remove by magnitude, or `nil`.
    public var pruneSparsity: Double?
    /// One threshold over all matrices, or one per matrix.
    public var pruneScope: PruningScope = .global
    /// Optimizer steps on the training split after pruning, the mask held fixed.
    public var finetuneSteps = 0
    /// Their learning rate; `nil` takes a tenth of `optimizer.lr`: the model
    /// is already near a minimum and the optimizer state starts afresh.
    public var finetuneLearningRate: Double?
    /// Quantize Linear weights to int8 (per output channel).
    public var quantizeInt8 = false
    /// Factorize Linear weights by a truncated SVD, or `nil`.
    public var lowRank: RankChoice?
    /// Timed calls per latency measurement.
    public var latencyRuns = 21
    /// Evaluate on the first this many samples of the split (0 for all).
    public var evaluationSamples = 0

    public init(pruneSparsity: Double? = nil, pruneScope: PruningScope = .global, finetuneSteps: Int = 0,
                finetuneLearningRate: Double? = nil, quantizeInt8: Bool = false, lowRank: RankChoice? = nil,
                latencyRuns: Int = 21, evaluationSamples: Int = 0) {
        (self.pruneSparsity, self.pruneScope, self.finetuneSteps) = (pruneSparsity, pruneScope, finetuneSteps)
        (self.finetuneLearningRate, self.quantizeInt8, self.lowRank) = (finetuneLearningRate, quantizeInt8, lowRank)
        (self.latencyRuns, self.evaluationSamples) = (latencyRuns, evaluationSamples)
    }

    /// Throws unless the options are in range and ask for something.
    public func validate() throws {
        if let s = pruneSparsity, !(s >= 0 && s < 1) {
            throw CompressionError.invalidOption("--prune must be in [0, 1), got \(s)")
        }
        if finetuneSteps < 0 { throw CompressionError.invalidOption("--finetune-steps must be >= 0, got \(finetuneSteps)") }
        if finetuneSteps > 0 && pruneSparsity == nil {
            throw CompressionError.invalidOption("--finetune-steps applies to pruning: give --prune too")
        }
        if let rate = finetuneLearningRate, !(rate > 0) {
            throw CompressionError.invalidOption("--finetune-lr must be positive, got \(rate)")
        }
        switch lowRank {
        case .energy(let e) where !(e > 0 && e <= 1):
            throw CompressionError.invalidOption("--low-rank-energy must be in (0, 1], got \(e)")
        case .fixed(let r) where r < 1:
            throw CompressionError.invalidOption("--low-rank-rank must be >= 1, got \(r)")
        default:
            break
        }
        if evaluationSamples < 0 {
            throw CompressionError.invalidOption("evaluation samples must be >= 0, got \(evaluationSamples)")
        }
        if latencyRuns < 1 { throw CompressionError.invalidOption("latency runs must be >= 1, got \(latencyRuns)") }
        if pruneSparsity == nil && !quantizeInt8 && lowRank == nil {
            throw CompressionError.invalidOption("nothing to do: give --prune, --quantize int8, --low-rank-energy or --low-rank-rank")
        }
    }
}
