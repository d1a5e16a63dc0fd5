/// What a run's anomaly handling (`training.on_anomaly`) has done up to a
/// checkpoint: the steps it skipped and why, how often it rolled back, and
/// the spike detector's windows, so that a resumed run decides as the
/// uninterrupted one would.
public struct AnomalyHistory: Codable, Equatable, Sendable {
    /// One step whose update was not applied.
    public struct SkippedStep: Codable, Equatable, Sendable {
        /// The step, from 1.
        public var step: Int
        /// What was anomalous, e.g. "the loss is not finite (NaN or Inf)".
        public var reason: String
        /// `skip` (computed, update dropped), `rollback` (skipped after a
        /// rollback, so not computed again) or `listed` (`training.skip_steps`).
        public var action: String
        /// The indices, into the training set, of the step's global batch.
        public var samples: [Int]

        public init(step: Int, reason: String, action: String, samples: [Int]) {
            (self.step, self.reason, self.action, self.samples) = (step, reason, action, samples)
        }
    }

    /// Skipped steps in the order they happened.
    public var skipped: [SkippedStep] = []
    /// Rollbacks taken.
    public var rollbacks: Int = 0
    /// The losses of the last accepted steps, oldest first.
    public var lossWindow: [Double] = []
    /// Their global gradient norms (empty while spike detection is off).
    public var normWindow: [Double] = []

    public init() {}

    /// The steps a replay must skip without computing them: those skipped
    /// after a rollback (a `skip` step is computed again, and found again).
    public var stepsSkippedUncomputed: Set<Int> {
        Set(skipped.filter { $0.action != "skip" }.map(\.step))
    }
}
