import Checkpoint
import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// `ddp train --resume` under real mpirun: a run stopped at step K and
/// resumed to step S ends with parameters and optimizer state byte-equal to
/// an uninterrupted S-step run.
final class ResumeTests: CheckpointTestCase {
    /// Runs S steps straight, and K then S with `--resume auto`; compares the
    /// step-S checkpoints byte for byte.
    private func checkBitwiseResume(_ yaml: String, ranks: Int, resumeRanks: Int? = nil, stop: Int, steps: Int,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let config = try writeConfig(yaml)
        let straight = scratch.appendingPathComponent("straight-\(ranks)")
        let result = try ddpTrain(ranks: ranks, config: config, runDirectory: straight, extra: ["--set", "training.steps=\(steps)"])
        XCTAssertEqual(result.exitCode, 0, "\(result)", file: file, line: line)

        let interrupted = scratch.appendingPathComponent("interrupted-\(ranks)")
        let first = try ddpTrain(ranks: ranks, config: config, runDirectory: interrupted,
                                 extra: ["--set", "training.steps=\(stop)", "--resume", "auto"])
        XCTAssertEqual(first.exitCode, 0, "\(first)", file: file, line: line)
        XCTAssertTrue(first.stdout.contains("starting fresh"), first.stdout, file: file, line: line)
        let second = try ddpTrain(ranks: resumeRanks ?? ranks, config: config, runDirectory: interrupted,
                                  extra: ["--set", "training.steps=\(steps)", "--resume", "auto"])
        XCTAssertEqual(second.exitCode, 0, "\(second)", file: file, line: line)
        XCTAssertTrue(second.stdout.contains("resuming from step \(stop)"), second.stdout, file: file, line: line)
        XCTAssertTrue(second.stdout.contains("ddp: done, \(steps) steps"), second.stdout, file: file, line: line)

        for name in ["model.safetensors", "optimizer.safetensors"] {
            let expected = try tensorBytes(checkpoint(straight, step: steps).appendingPathComponent(name).path)
            let actual = try tensorBytes(checkpoint(interrupted, step: steps).appendingPathComponent(name).path)
            XCTAssertEqual(expected.keys.sorted(), actual.keys.sorted(), name, file: file, line: line)
            let differing = expected.keys.filter { expected[$0] != actual[$0] }.sorted()
            XCTAssertEqual(differing, [], "\(name): tensors differ after resuming", file: file, line: line)
        }
        let a = try CheckpointStore.verify(checkpoint(straight, step: steps))
        let b = try CheckpointStore.verify(checkpoint(interrupted, step: steps))
        XCTAssertEqual(a.samplerPosition, b.samplerPosition, file: file, line: line)
        XCTAssertEqual(a.dropoutGenerators, b.dropoutGenerators, file: file, line: line)
        XCTAssertEqual(a.optimizer.stepCount, b.optimizer.stepCount, file: file, line: line)
    }

    func testMLPWithSGDMomentumResumesBitwiseOnOneRank() throws {
        // Stops mid-epoch (12 steps per epoch), ends in the third.
        try checkBitwiseResume(Self.mlpConfig, ranks: 1, stop: 17, steps: 30)
    }

    func testMLPWithSGDMomentumResumesBitwiseOnTwoRanks() throws {
        try checkBitwiseResume(Self.mlpConfig, ranks: 2, stop: 12, steps: 26)
    }

    func testGPTWithAdamWResumesBitwiseOnOneRank() throws {
        try checkBitwiseResume(Self.gptConfig, ranks: 1, stop: 5, steps: 12)
    }

    func testGPTWithAdamWResumesBitwiseOnTwoRanks() throws {
        try checkBitwiseResume(Self.gptConfig, ranks: 2, stop: 7, steps: 12)
    }

    /// ZeRO-1: each rank holds the optimizer state of its shard only; the
    /// checkpoint gathers it into one file, and resuming scatters it back.
    func testZeRO1ShardedOptimizerStateResumesBitwiseOnTwoRanks() throws {
        try checkBitwiseResume(Self.gptConfig + "\nparallel:\n  zero: 1\n", ranks: 2, stop: 6, steps: 11)
        let state = try CheckpointStore.verify(checkpoint(scratch.appendingPathComponent("interrupted-2"), step: 11))
        let shards = try XCTUnwrap(state.optimizer.shards, "the sharding is recorded")
        XCTAssertEqual(shards.count, 2)
        XCTAssertEqual(shards[0][0], 0)
        XCTAssertEqual(shards[0][1], shards[1][0])
        XCTAssertEqual(shards[1][1], state.parameterCount)
        // The gathered file holds the whole state: every element of the second
        // moment is set (positive) after 11 AdamW steps, on both ranks' halves.
        let bytes = try tensorBytes(checkpoint(scratch.appendingPathComponent("interrupted-2"), step: 11)
            .appendingPathComponent("optimizer.safetensors").path)
        let zeros = bytes.filter { $0.key.hasPrefix("exp_avg_sq.") }.values.reduce(0) { total, raw in
            total + raw.withUnsafeBytes { $0.bindMemory(to: Float.self).filter { $0 == 0 }.count }
        }
        XCTAssertLessThan(zeros, state.parameterCount / 50)
    }

    /// 2 → 1 ranks: the same global batches in the same order, so without
    /// dropout the result matches the 2-rank run up to float rounding.
    func testTwoRanksResumeOnOneWithTheSameSampleOrder() throws {
        let yaml = Self.mlpConfig.replacingOccurrences(of: "dropout: 0.2", with: "dropout: 0.0")
        let config = try writeConfig(yaml)
        let straight = scratch.appendingPathComponent("straight")
        XCTAssertEqual(try ddpTrain(ranks: 2, config: config, runDirectory: straight).exitCode, 0)
        let moved = scratch.appendingPathComponent("moved")
        XCTAssertEqual(try ddpTrain(ranks: 2, config: config, runDirectory: moved,
                                    extra: ["--set", "training.steps=13"]).exitCode, 0)
        let resumed = try ddpTrain(ranks: 1, config: config, runDirectory: moved, extra: ["--resume", "auto"])
        XCTAssertEqual(resumed.exitCode, 0, "\(resumed)")
        XCTAssertTrue(resumed.stdout.contains("resuming from step 13"), resumed.stdout)

        let expected = try tensorBytes(checkpoint(straight, step: 30).appendingPathComponent("model.safetensors").path)
        let actual = try tensorBytes(checkpoint(moved, step: 30).appendingPathComponent("model.safetensors").path)
        var largest: Float = 0
        for (name, bytes) in expected {
            let a = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let b = try XCTUnwrap(actual[name]).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            for (x, y) in zip(a, b) { largest = max(largest, abs(x - y) / max(abs(x), 1e-2)) }
        }
        XCTAssertLessThan(largest, 1e-3, "the 1-rank continuation follows the 2-rank run")
        XCTAssertEqual(try CheckpointStore.verify(checkpoint(moved, step: 30)).worldSize, 1)

        // A different sample order would result from padding: refused with the reason.
        let padded = try writeConfig(yaml + "\n  drop_last: false\n", name: "padded.yaml")
        let paddedRun = scratch.appendingPathComponent("padded")
        XCTAssertEqual(try ddpTrain(ranks: 2, config: padded, runDirectory: paddedRun,
                                    extra: ["--set", "training.steps=3"]).exitCode, 0)
        let refused = try ddpTrain(ranks: 1, config: padded, runDirectory: paddedRun, extra: ["--resume", "auto"])
        XCTAssertNotEqual(refused.exitCode, 0)
        XCTAssertTrue(refused.stderr.contains("drop_last false"), refused.stderr)
    }

    func testCorruptNewestCheckpointIsReportedAndTheOlderOneUsed() throws {
        let config = try writeConfig(Self.mlpConfig)
        let run = scratch.appendingPathComponent("run")
        XCTAssertEqual(try ddpTrain(ranks: 2, config: config, runDirectory: run,
                                    extra: ["--set", "training.steps=8", "--set", "checkpoint.every=4"]).exitCode, 0)
        let newest = checkpoint(run, step: 8).appendingPathComponent("optimizer.safetensors")
        var data = try Data(contentsOf: newest)
        data[data.count / 2] ^= 1
        try data.write(to: newest)

        let resumed = try ddpTrain(ranks: 2, config: config, runDirectory: run,
                                   extra: ["--set", "training.steps=10", "--resume", "auto"])
        XCTAssertEqual(resumed.exitCode, 0, "\(resumed)")
        XCTAssertTrue(resumed.stderr.contains("step-00000008/optimizer.safetensors"), resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming from step 4"), resumed.stdout)

        // Nothing valid left: a clear error and a non-zero exit.
        for step in [4, 8, 10] {
            XCTAssertEqual(truncate(checkpoint(run, step: step).appendingPathComponent("model.safetensors").path, 9), 0)
        }
        let failed = try ddpTrain(ranks: 2, config: config, runDirectory: run, extra: ["--resume", "auto"])
        XCTAssertEqual(failed.exitCode, 2, "\(failed)")
        XCTAssertTrue(failed.stderr.contains("no valid checkpoint"), failed.stderr)
        XCTAssertFalse(failed.stderr.contains("Fatal error"), failed.stderr)
    }

    /// The newest checkpoint's checksums hold but it cannot continue this run
    /// (it is another model's, copied in): `--resume auto` names it, skips it,
    /// and resumes from the checkpoint before it.
    func testResumeAutoSkipsACheckpointThatDoesNotFitForThePreviousOne() throws {
        let checkpointed = Self.mlpConfig.replacingOccurrences(of: "  steps: 30\n", with: "  steps: 20\n")
            + "\ncheckpoint:\n  every: 10\n  keep_last: 5\n"
        let config = try writeConfig(checkpointed)
        let run = scratch.appendingPathComponent("run")
        XCTAssertEqual(try ddpTrain(ranks: 1, config: config, runDirectory: run).exitCode, 0)
        let other = try writeConfig(checkpointed.replacingOccurrences(of: "hidden: [24, 16]", with: "hidden: [8]")
            .replacingOccurrences(of: "  steps: 20\n", with: "  steps: 30\n"), name: "other.yaml")
        let otherRun = scratch.appendingPathComponent("other")
        XCTAssertEqual(try ddpTrain(ranks: 1, config: other, runDirectory: otherRun).exitCode, 0)
        try FileManager.default.copyItem(at: checkpoint(otherRun, step: 30), to: checkpoint(run, step: 30))

        let resumed = try ddpTrain(ranks: 1, config: config, runDirectory: run,
                                   extra: ["--resume", "auto", "--set", "training.steps=25"])
        XCTAssertEqual(resumed.exitCode, 0, "\(resumed)")
        XCTAssertTrue(resumed.stdout.contains("resuming from step 20"), resumed.stdout)
        XCTAssertTrue((resumed.stdout + resumed.stderr).contains("step-00000030"), "the skipped checkpoint is named\n\(resumed)")
    }
}
