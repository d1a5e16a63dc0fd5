import Checkpoint
import Foundation
import MPI
import RunConfig

/// What `ddp replay --explain` found: the first anomalous step after the
/// checkpoint (or, when there is none up to the target, the target step)
/// and its explanation sample by sample.
public struct AnomalyExplanation: Sendable {
    /// The checkpoint replayed from, e.g. `step-00000004`.
    public let startName: String
    /// What made the explained step anomalous; `nil` when the replay
    /// reached the target step without an anomaly.
    public let reason: String?
    public let explanation: StepExplanation

    /// The report, one line per finding.
    public var lines: [String] {
        let head = reason.map { "replay from \(startName): step \(explanation.step) is anomalous: \($0)" }
            ?? "replay from \(startName): no anomaly before step \(explanation.step); explaining it anyway"
        return [head] + explanation.lines
    }
}

extension RunReplay {
    /// Replays from `checkpoint` with `training.on_anomaly: stop` until the
    /// first anomalous step, at the latest step `target`, and explains that
    /// step (``Trainer/explain(step:)``) from the state just before it.
    /// Collective.
    ///
    /// Steps the run skipped after a rollback are not skipped here: finding
    /// what made them anomalous is the point. Nothing is written.
    ///
    /// - Throws: What ``replay(from:toStep:scratch:dataDirectory:communicator:rerun:)`` throws.
    public static func explain(from checkpoint: String, toStep target: Int, dataDirectory: String? = nil,
                               communicator: Communicator, rerun: String) throws -> AnomalyExplanation {
        let plan = try ReplayPlan.shared(checkpoint: checkpoint, target: target, communicator: communicator, rerun: rerun)
        let config = try plan.config(target: target, dataDirectory: dataDirectory, extra: ["training.on_anomaly=stop"])
        var options = RunOptions(directory: nil, plainProgress: true)
        options.evaluatesAtEnd = false
        options.endStep = target - 1
        options.reportsProgress = false
        let trainer = try Trainer(config: config, communicator: communicator, options: options)
        try trainer.resume(from: .path(plan.start))
        var anomaly: (step: Int, reason: String)?
        if trainer.step < target - 1 {
            do {
                _ = try trainer.run()
            } catch RunError.anomaly(let step, let reason, _) {
                // Every rank throws it at the same step: the decision is collective.
                anomaly = (step, reason)
            }
        }
        let explanation = try trainer.explain(step: anomaly?.step ?? target)
        return AnomalyExplanation(startName: plan.startName, reason: anomaly?.reason, explanation: explanation)
    }
}
