import Checkpoint
import DDPTestSupport
import Foundation
import MPIRunSupport
import RunConfig
import Training
import XCTest

/// `training.on_anomaly`: a poisoned sample that makes the loss non-finite
/// stops the run naming its step, is skipped, or is rolled back over; a
/// rolled-back run equals a fresh one given its skip list; a loss spike at a
/// known step is found there and nowhere else.
final class AnomalyTests: CheckpointTestCase {
    static let poisonedRow = PoisonedTable.poisonedRow

    func poisonedConfig() throws -> String {
        PoisonedTable.config(path: try PoisonedTable.write(in: scratch))
    }

    /// The steps whose global batch holds the poisoned row, found from the
    /// data set itself: the one training sample with a huge first feature.
    func poisonedSteps(_ trainer: Trainer) -> [Int] {
        (1...trainer.totalSteps).filter { trainer.sampleIndices(ofStep: $0).contains(Self.poisonedRow) }
    }

    func testStopNamesTheStepOfThePoisonedSample() throws {
        let trainer = try makeTrainer(try poisonedConfig(), runDirectory: scratch.appendingPathComponent("stop"))
        let steps = poisonedSteps(trainer)
        XCTAssertEqual(steps.count, 3, "the poisoned row is a training row, once per epoch")
        XCTAssertThrowsError(try trainer.run()) { error in
            XCTAssertTrue("\(error)".hasPrefix("step \(steps[0]): the loss is not finite (NaN or Inf); training.on_anomaly: stop"),
                          "\(error)")
        }
        XCTAssertEqual(trainer.step, steps[0] - 1, "the anomalous update is not applied")
    }

    func testSkipDropsOnlyThePoisonedUpdates() throws {
        let trainer = try makeTrainer(try poisonedConfig(), overrides: ["training.on_anomaly=skip"], runDirectory: nil)
        let steps = poisonedSteps(trainer)
        let summary = try trainer.run()
        XCTAssertEqual(summary.anomalies.skipped.map(\.step), steps)
        XCTAssertTrue(summary.anomalies.skipped.allSatisfy { $0.action == "skip" && $0.samples.contains(Self.poisonedRow) })
        XCTAssertEqual(trainer.optimizer.stepCount, trainer.totalSteps - steps.count)
        XCTAssertTrue(trainer.model.parameters.values.array.allSatisfy(\.isFinite))
    }

    /// Rollback finishes the run, records the skipped steps with the
    /// poisoned row, and ends bit for bit where a fresh run given that skip
    /// list ends; the record survives in `trainer.json` and `metrics.jsonl`.
    func testRollbackEqualsAFreshRunWithTheSkipList() throws {
        let config = try poisonedConfig()
        let run = scratch.appendingPathComponent("rollback")
        let trainer = try makeTrainer(config, overrides: ["training.on_anomaly=rollback"], runDirectory: run)
        let steps = poisonedSteps(trainer)
        let summary = try trainer.run()
        XCTAssertEqual(summary.steps, trainer.totalSteps)
        XCTAssertEqual(summary.anomalies.rollbacks, steps.count)
        XCTAssertEqual(summary.anomalies.skipped.map(\.step), steps)
        XCTAssertTrue(summary.anomalies.skipped.allSatisfy { $0.action == "rollback" && $0.samples.contains(Self.poisonedRow) })

        let final = checkpoint(run, step: trainer.totalSteps)
        let state = try CheckpointStore.verify(final)
        XCTAssertEqual(state.anomalies?.skipped.map(\.step), steps)
        XCTAssertEqual(state.anomalies?.rollbacks, steps.count)
        let metrics = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let anomalyRecords = metrics.split(separator: "\n").filter { $0.contains("\"kind\":\"anomaly\"") }
        XCTAssertEqual(anomalyRecords.count, steps.count, metrics)
        XCTAssertTrue(anomalyRecords.allSatisfy { $0.contains("\"action\":\"rollback\"") && $0.contains("\(Self.poisonedRow)") })

        let freshRun = scratch.appendingPathComponent("fresh")
        let list = "training.skip_steps=[" + steps.map(String.init).joined(separator: ",") + "]"
        let fresh = try makeTrainer(config, overrides: [list], runDirectory: freshRun)
        let freshSummary = try fresh.run()
        XCTAssertEqual(freshSummary.anomalies.skipped.map(\.action), Array(repeating: "listed", count: steps.count))
        XCTAssertEqual(try tensorBytes(final.appendingPathComponent(CheckpointStore.modelFile).path),
                       try tensorBytes(checkpoint(freshRun, step: fresh.totalSteps).appendingPathComponent(CheckpointStore.modelFile).path))
        XCTAssertEqual(try tensorBytes(final.appendingPathComponent(CheckpointStore.optimizerFile).path),
                       try tensorBytes(checkpoint(freshRun, step: fresh.totalSteps).appendingPathComponent(CheckpointStore.optimizerFile).path))
    }

    /// Without any checkpoint before the anomaly the run rolls back to its
    /// initial state; past `training.max_rollbacks` it stops, saying so.
    func testRollbackWithoutCheckpointAndTheRollbackBound() throws {
        let config = try poisonedConfig()
        let trainer = try makeTrainer(config, overrides: ["training.on_anomaly=rollback", "checkpoint.every=0"], runDirectory: nil)
        let steps = poisonedSteps(trainer)
        _ = try trainer.run()
        let fresh = try makeTrainer(config, overrides: ["training.skip_steps=[" + steps.map(String.init).joined(separator: ",") + "]"],
                                    runDirectory: nil)
        _ = try fresh.run()
        XCTAssertEqual(trainer.model.parameters.values.array.map(\.bitPattern),
                       fresh.model.parameters.values.array.map(\.bitPattern))

        let bounded = try makeTrainer(config, overrides: ["training.on_anomaly=rollback", "training.max_rollbacks=1"],
                                      runDirectory: nil)
        XCTAssertThrowsError(try bounded.run()) { error in
            XCTAssertTrue("\(error)".hasPrefix("step \(steps[1]): the loss is not finite"), "\(error)")
            XCTAssertTrue("\(error)".contains("training.max_rollbacks"), "\(error)")
        }
    }

    /// Rollback on 2 ranks, with and without ZeRO-1, under mpirun: the same
    /// steps skipped, and the final model equal to the fresh run's.
    func testRollbackOnTwoRanksWithAndWithoutZeRO() throws {
        let config = scratch.appendingPathComponent("poisoned.yaml")
        try poisonedConfig().write(to: config, atomically: true, encoding: .utf8)
        let local = try makeTrainer(try String(contentsOf: config, encoding: .utf8), runDirectory: nil)
        let steps = poisonedSteps(local)
        let list = "training.skip_steps=[" + steps.map(String.init).joined(separator: ",") + "]"
        for zero in ["0", "1"] {
            let rolled = scratch.appendingPathComponent("rolled-\(zero)")
            let result = try ddpTrain(ranks: 2, config: config.path, runDirectory: rolled,
                                      extra: ["--set", "training.on_anomaly=rollback", "--set", "parallel.zero=\(zero)"])
            XCTAssertEqual(result.exitCode, 0, "\(result)")
            XCTAssertTrue(result.stdout.contains("ddp: \(steps.count) step(s) skipped, \(steps.count) rollback(s)"), result.stdout)
            XCTAssertTrue(result.stdout.contains("ddp:   step \(steps[0]) (rollback): the loss is not finite"), result.stdout)
            let fresh = scratch.appendingPathComponent("fresh-\(zero)")
            let freshResult = try ddpTrain(ranks: 2, config: config.path, runDirectory: fresh,
                                           extra: ["--set", list, "--set", "parallel.zero=\(zero)"])
            XCTAssertEqual(freshResult.exitCode, 0, "\(freshResult)")
            let last = local.totalSteps
            XCTAssertEqual(try tensorBytes(checkpoint(rolled, step: last).appendingPathComponent(CheckpointStore.modelFile).path),
                           try tensorBytes(checkpoint(fresh, step: last).appendingPathComponent(CheckpointStore.modelFile).path),
                           "zero \(zero)")
            let state = try CheckpointStore.verify(checkpoint(rolled, step: last))
            XCTAssertEqual(state.anomalies?.skipped.map(\.step), steps, "zero \(zero)")
        }
    }

    /// The explanation of the poisoned step names the poisoned row alone,
    /// and the layer and parameter where its values first go non-finite.
    func testExplainNamesThePoisonedSampleAndItsFirstNonFiniteLayer() throws {
        let trainer = try makeTrainer(try poisonedConfig(), runDirectory: nil)
        let step = try XCTUnwrap(poisonedSteps(trainer).first)
        let explanation = try trainer.explain(step: step)
        XCTAssertEqual(explanation.samples.count, 12)
        XCTAssertEqual(explanation.responsible.map(\.index), [Self.poisonedRow], "\(explanation.lines)")
        let poisoned = try XCTUnwrap(explanation.responsible.first)
        XCTAssertFalse(poisoned.loss.isFinite)
        // The first Linear's output is still finite (about 1e38); the second one's overflows, and in
        // backward the last layer's weight gradient (activations times an infinite error) is the first to go.
        XCTAssertEqual(poisoned.firstNonFiniteOutput, "layers.1", "\(explanation.lines)")
        XCTAssertEqual(poisoned.firstNonFiniteGradient, "layers.1.weight", "\(explanation.lines)")
        XCTAssertTrue(explanation.samples.filter { $0.index != Self.poisonedRow }.allSatisfy { !$0.isNonFinite })
        XCTAssertTrue(explanation.lines.contains { $0.hasPrefix("sample \(Self.poisonedRow) (rank 0, micro-batch 0): loss NaN") },
                      "\(explanation.lines)")
    }

    /// A GPT whose `blocks.1.mlp.fc.weight` holds a NaN: every sample goes
    /// non-finite first at that layer's output, which the explanation names.
    func testExplainNamesTheFirstNonFiniteActivationOfAGPT() throws {
        let trainer = try makeTrainer(Self.gptConfig, runDirectory: nil)
        let poisoned = try XCTUnwrap(trainer.model.parameters.parameters.first { $0.name == "blocks.1.mlp.fc.weight" })
        trainer.model.parameters.values.pointer[poisoned.offset + 3] = .nan
        let explanation = try trainer.explain(step: 1)
        XCTAssertFalse(explanation.samples.isEmpty)
        XCTAssertTrue(explanation.samples.allSatisfy { $0.isNonFinite && $0.firstNonFiniteOutput == "blocks.1.mlp.fc" },
                      "\(explanation.lines)")
        XCTAssertEqual(explanation.responsible.count, explanation.samples.count)
    }

    // MARK: - Spikes

    /// Trains with every rank's targets of `scrambled` rotated, under
    /// `training.on_anomaly: skip`, and returns the steps found anomalous.
    private func spikes(_ yaml: String, overrides: [String], scrambled: Int) throws -> [AnomalyHistory.SkippedStep] {
        setenv("DDP_TEST_SCRAMBLE_STEP", "\(scrambled)", 1)
        defer { unsetenv("DDP_TEST_SCRAMBLE_STEP") }
        let trainer = try makeTrainer(yaml, overrides: overrides + ["training.on_anomaly=skip"], runDirectory: nil)
        return try trainer.run().anomalies.skipped
    }

    /// An MNIST MLP (784-128-10, the shipped recipe's optimizer) over 300
    /// steps with the default detector: the scrambled step alone.
    func testLossSpikeOnMNISTIsFoundAtItsStepAndNowhereElse() throws {
        let found = try spikes(Self.smallMNIST, overrides: [], scrambled: 230)
        XCTAssertEqual(found.map(\.step), [230], "\(found)")
        XCTAssertTrue(found.first?.reason.contains("spike") ?? false, "\(found)")
    }

    static let smallMNIST = """
            model:
              kind: mlp
              hidden: [128]
            data:
              dataset: mnist
              dir: \(AnomalyTests.dataDirectory)
            optimizer:
              kind: sgd
              lr: 0.05
              momentum: 0.9
            schedule:
              kind: cosine
              warmup_steps: 50
            training:
              batch_size: 64
              epochs: 0
              steps: 300
              log_every: 50
              eval_batches: 1
            """

    /// The same MNIST spike on 2 ranks under mpirun, with `stop`: the run
    /// ends at the scrambled step, naming it as a loss spike.
    func testLossSpikeOnTwoRanksStopsAtItsStep() throws {
        let config = scratch.appendingPathComponent("mnist.yaml")
        try Self.smallMNIST.write(to: config, atomically: true, encoding: .utf8)
        let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: 2,
                                    arguments: ["train", "--config", config.path, "--plain",
                                                "--run-dir", scratch.appendingPathComponent("run").path],
                                    environment: ["DDP_TEST_SCRAMBLE_STEP": "230"], timeout: 180)
        XCTAssertEqual(result.exitCode, JobExitCode.userError, "\(result)")
        XCTAssertTrue(result.stderr.contains("step 230: loss spike:") || result.stderr.contains("step 230: gradient norm spike:"),
                      "\(result)")
        XCTAssertFalse(result.stdout.contains("step 300/"), "\(result)")
    }

    /// A small Shakespeare GPT (the shipped recipe's optimizer and clipping)
    /// over 300 steps with the default detector: the scrambled step alone.
    func testLossSpikeOnShakespeareGPTIsFoundAtItsStepAndNowhereElse() throws {
        let yaml = """
            model:
              kind: gpt
              layers: 2
              heads: 2
              width: 32
              context: 32
            data:
              dataset: shakespeare
              dir: \(Self.dataDirectory)
              validation_fraction: 0.05
            optimizer:
              kind: adamw
              lr: 0.003
              beta2: 0.99
              weight_decay: 0.1
              clip_norm: 1.0
            schedule:
              kind: cosine
              warmup_steps: 100
              min_lr: 0.0003
            training:
              batch_size: 16
              epochs: 0
              steps: 300
              log_every: 50
              eval_batches: 1
              eval_batch_size: 16
            """
        let found = try spikes(yaml, overrides: [], scrambled: 260)
        XCTAssertEqual(found.map(\.step), [260], "\(found)")
    }

    /// The old key still reads, as the new one; both at once is an error naming both.
    func testTheOldKeyNameStillReads() throws {
        let base = "model:\n  kind: mlp\ndata:\n  dataset: iris\ntraining:\n"
        let old = try ResolvedConfig.parse(yaml: base + "  nonfinite: skip\n", source: "old.yaml")
        XCTAssertEqual(old.run.training.onAnomaly, .skip)
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: base + "  nonfinite: skip\n  on_anomaly: stop\n", source: "both.yaml")) {
            XCTAssertTrue("\($0)".contains("training.on_anomaly") && "\($0)".contains("training.nonfinite is its old name"), "\($0)")
        }
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: base + "  skip_steps: [0]\n", source: "zero.yaml")) {
            XCTAssertTrue("\($0)".contains("training.skip_steps"), "\($0)")
        }
    }

    /// The package's data directory (launch/fetch-data.sh).
    static let dataDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("data").path
}
