import Checkpoint
import DDPTestSupport
import Foundation
import Training
import XCTest

/// `training.on_anomaly` (set here by its old name, `training.nonfinite`): a NaN in the loss or gradients stops the run with
/// the last good checkpoint kept, or skips the update on every rank.
final class CheckpointNonFiniteTests: CheckpointTestCase {
    /// A trainer resumed from a 3-step checkpoint, one of whose parameters is
    /// then made NaN, so that step 4 produces a NaN loss.
    private func poisonedTrainer(policy: String) throws -> (Trainer, URL) {
        let run = scratch.appendingPathComponent("run-\(policy)")
        _ = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=3"], runDirectory: run).run()
        let trainer = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=6", "checkpoint.every=1",
                                                                  "training.nonfinite=\(policy)"], runDirectory: run)
        XCTAssertEqual(try trainer.resume(from: .auto).step, 3)
        trainer.model.parameters.values.pointer[5] = .nan
        return (trainer, run)
    }

    func testStopEndsTheRunAndKeepsTheLastGoodCheckpoint() throws {
        let (trainer, run) = try poisonedTrainer(policy: "stop")
        let before = trainer.model.parameters.values.array
        XCTAssertThrowsError(try trainer.run()) { error in
            XCTAssertEqual("\(error)", "step 4: the loss is not finite (NaN or Inf); training.on_anomaly: stop; "
                                        + "the newest checkpoint, step-00000003, predates it (ddp replay --checkpoint it "
                                        + "--to-step 4 --explain names the samples responsible)")
        }
        XCTAssertEqual(CheckpointStore(runDirectory: run).list().map(\.step), [3], "nothing written after the bad step")
        XCTAssertEqual(trainer.optimizer.stepCount, 3, "the bad update was not applied")
        XCTAssertEqual(trainer.model.parameters.values.array.map(\.bitPattern), before.map(\.bitPattern))
    }

    func testSkipLeavesParametersAndOptimizerUntouched() throws {
        let (trainer, run) = try poisonedTrainer(policy: "skip")
        let before = trainer.model.parameters.values.array
        let summary = try trainer.run()
        XCTAssertEqual(summary.steps, 6)
        XCTAssertEqual(trainer.skippedSteps, 3, "the NaN parameter poisons every later step")
        XCTAssertEqual(trainer.optimizer.stepCount, 3)
        XCTAssertEqual(trainer.model.parameters.values.array.map(\.bitPattern), before.map(\.bitPattern))
        XCTAssertEqual(CheckpointStore(runDirectory: run).list().first?.step, 6)
    }

    func testFiniteStepsAreNeitherSkippedNorStopped() throws {
        let trainer = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=4", "training.nonfinite=skip"],
                                      runDirectory: nil)
        _ = try trainer.run()
        XCTAssertEqual(trainer.skippedSteps, 0)
        XCTAssertEqual(trainer.optimizer.stepCount, 4)
    }
}
