import Checkpoint
import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// `ddp replay` and `ddp verify` on real runs under mpirun: a run's
/// checkpoints are reproduced bit for bit (plain, ZeRO-1, after a rollback),
/// a tensor altered behind consistent checksums is caught by the replay
/// alone, and the wrong rank count or a path that is no run is bad input.
final class ReplayVerifyCommandTests: CheckpointTestCase {
    /// The small MLP (dropout, momentum, a step schedule) with a checkpoint
    /// every 10 of its 30 steps, all kept.
    static let checkpointedConfig = mlpConfig + """

        checkpoint:
          every: 10
          keep_last: 10
        """

    /// Trains `checkpointedConfig` on `ranks` ranks into a fresh run directory.
    private func train(ranks: Int, name: String, extra: [String] = [], environment: [String: String] = [:],
                       config: String = checkpointedConfig) throws -> URL {
        let path = try writeConfig(config, name: "\(name).yaml")
        let run = scratch.appendingPathComponent(name)
        let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: ranks,
                                    arguments: ["train", "--config", path, "--run-dir", run.path, "--plain"] + extra,
                                    environment: environment, timeout: 180)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        return run
    }

    /// `ddp ARGUMENTS` on `ranks` ranks under mpirun.
    private func ddp(ranks: Int, _ arguments: [String]) throws -> MPIRunResult {
        try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: ranks, arguments: arguments, timeout: 180)
    }

    /// The names and sizes of every file under `directory`, to show a command left it untouched.
    private func listing(_ directory: URL) throws -> [String: Int] {
        var files: [String: Int] = [:]
        let enumerator = try XCTUnwrap(FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.fileSizeKey]))
        for case let url as URL in enumerator {
            files[url.path] = try url.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? -1
        }
        return files
    }

    /// The temporary replay directories present now.
    private func replayScratchDirectories() -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)) ?? []
        return Set(names.filter { $0.hasPrefix("ddp-replay-") })
    }

    // MARK: - (a) a normal 2-rank run verifies

    func testVerifyPassesOnATwoRankRunAndLeavesItUntouched() throws {
        let run = try train(ranks: 2, name: "two")
        let before = try listing(run)
        let temporaries = replayScratchDirectories()
        let result = try ddp(ranks: 2, ["verify", run.path])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertEqual(result.stdoutLines, [
            "ddp: replay from step-00000010 to step 20 matches step-00000020 bit for bit (12 tensors)",
            "ddp: replay from step-00000020 to step 30 matches step-00000030 bit for bit (12 tensors)",
            "ddp: verify: 3 checkpoints, 2 replays, all bit for bit",
        ], "\(result)")
        XCTAssertEqual(try listing(run), before, "verify must not write into the run directory")
        XCTAssertEqual(replayScratchDirectories(), temporaries, "the temporary replay directories are removed")

        // One replay alone, into a kept scratch directory, past the run's end: nothing to compare, it reports the loss.
        let kept = scratch.appendingPathComponent("replay")
        let beyond = try ddp(ranks: 2, ["replay", "--checkpoint", checkpoint(run, step: 20).path, "--to-step", "35",
                                        "--run-dir", kept.path])
        XCTAssertEqual(beyond.exitCode, 0, "\(beyond)")
        let line = try XCTUnwrap(beyond.stdoutLines.last)
        XCTAssertTrue(line.hasPrefix("ddp: replay from step-00000020 to step 35 ended with train loss "), line)
        XCTAssertTrue(line.hasSuffix("the run has no checkpoint of step 35 to compare with; its checkpoint is "
                                     + CheckpointStore(runDirectory: kept).url(step: 35).path), line)
        XCTAssertEqual(try CheckpointStore.verify(CheckpointStore(runDirectory: kept).url(step: 35)).step, 35)

        // The scratch directory must be new or empty: never a run's own directory.
        let intoRun = try ddp(ranks: 2, ["replay", "--checkpoint", checkpoint(run, step: 10).path, "--to-step", "20",
                                         "--run-dir", run.path])
        XCTAssertEqual(intoRun.exitCode, 2, "\(intoRun)")
        XCTAssertTrue(intoRun.stderr.contains("must be new or empty"), intoRun.stderr)
        XCTAssertEqual(try listing(run), before)
    }

    // MARK: - (b) altered tensor bytes behind rewritten checksums

    func testVerifyCatchesAnAlteredTensorWhoseChecksumsWereRewritten() throws {
        let run = try train(ranks: 2, name: "altered")
        let target = checkpoint(run, step: 20)
        let model = target.appendingPathComponent(CheckpointStore.modelFile)

        // One ulp more in element 5 of layers.1.weight.
        let offset = try SafetensorsFile(path: model.path).tensor("layers.1.weight").byteOffset + 5 * 4
        var bytes = try Data(contentsOf: model)
        var bits = bytes.subdata(in: offset..<(offset + 4)).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        let original = Float(bitPattern: bits)
        bits += 1
        withUnsafeBytes(of: bits) { bytes.replaceSubrange(offset..<(offset + 4), with: $0) }
        try bytes.write(to: model)

        // Make every record agree with the altered file: trainer.json's `files` and SHA256SUMS.
        let statePath = target.appendingPathComponent(CheckpointStore.stateFile)
        var state = try TrainerState.decode(try Data(contentsOf: statePath), path: statePath.path)
        let (digest, size) = try sha256OfFile(model.path)
        state.files[CheckpointStore.modelFile] = .init(bytes: size, sha256: digest)
        try state.encoded().write(to: statePath)
        var digests = state.files.mapValues(\.sha256)
        digests[CheckpointStore.stateFile] = try sha256OfFile(statePath.path).sha256
        try CheckpointStore.writeChecksums(in: target, digests)
        XCTAssertNoThrow(try CheckpointStore.verify(target), "the checksums must hold, so only the replay can tell")
        XCTAssertEqual(try ddp(["inspect", target.path]).exitCode, 0)

        let result = try ddp(ranks: 2, ["verify", run.path])
        XCTAssertEqual(result.exitCode, 1, "\(result)")
        let altered = Float(bitPattern: bits)
        XCTAssertEqual(result.stdoutLines.first,
                       "ddp: replay from step-00000010 to step 20 differs from step-00000020: model.safetensors tensor "
                       + "layers.1.weight, first at element 5 (\(original) replayed, \(altered) stored)", "\(result)")
        XCTAssertEqual(result.stdoutLines.last,
                       "ddp: verify: \(target.standardizedFileURL.path) does not match its replay from step-00000010 "
                       + "(0 of 2 replays matched before it)", "\(result)")
        XCTAssertFalse(result.stdout.contains("step-00000020 to step 30"), "verify stops at the first difference")

        // A damaged checksum, by contrast, is found before any replay, and named.
        try Data("garbage".utf8).write(to: checkpoint(run, step: 30).appendingPathComponent(CheckpointStore.optimizerFile))
        let damaged = try ddp(ranks: 2, ["verify", run.path])
        XCTAssertEqual(damaged.exitCode, 1, "\(damaged)")
        XCTAssertTrue(damaged.stdout.contains("ddp: verify: damaged checkpoint: step-00000030: "), damaged.stdout)
        XCTAssertTrue(damaged.stdout.contains("optimizer.safetensors"), damaged.stdout)
        XCTAssertFalse(damaged.stdout.contains("ddp: replay"), damaged.stdout)
    }

    // MARK: - (c) bad input

    func testReplayAndVerifyRefuseTheWrongRankCountAndPathsThatAreNoRun() throws {
        let run = try train(ranks: 2, name: "ranks")
        let start = checkpoint(run, step: 10).path
        let replay = try ddp(["replay", "--checkpoint", start, "--to-step", "20"])
        XCTAssertEqual(replay.exitCode, 2, "\(replay)")
        XCTAssertTrue(replay.stderr.contains("step-00000010 was written by 2 rank(s) and this job has 1"), replay.stderr)
        XCTAssertTrue(replay.stderr.contains("`mpirun -np 2 ddp replay --checkpoint \(start) --to-step 20`"), replay.stderr)

        let verify = try ddp(ranks: 3, ["verify", run.path])
        XCTAssertEqual(verify.exitCode, 2, "\(verify)")
        XCTAssertTrue(verify.stderr.contains("`mpirun -np 2 ddp verify \(run.path)`"), verify.stderr)
        XCTAssertEqual(verify.stderr.components(separatedBy: "ddp: error:").count - 1, 1, "one message: \(verify.stderr)")

        let backwards = try ddp(ranks: 2, ["replay", "--checkpoint", start, "--to-step", "10"])
        XCTAssertEqual(backwards.exitCode, 2, "\(backwards)")
        XCTAssertTrue(backwards.stderr.contains("--to-step 10 must be later"), backwards.stderr)

        let notARun = try ddp(["verify", scratch.path])
        XCTAssertEqual(notARun.exitCode, 2, "\(notARun)")
        XCTAssertTrue(notARun.stderr.contains("not a run directory: it has no checkpoints folder"), notARun.stderr)
        let oneCheckpoint = try ddp(["verify", checkpoint(run, step: 10).path])
        XCTAssertEqual(oneCheckpoint.exitCode, 2, "\(oneCheckpoint)")
        XCTAssertTrue(oneCheckpoint.stderr.contains("it is one checkpoint"), oneCheckpoint.stderr)

        let short = try train(ranks: 1, name: "short", config: Self.checkpointedConfig.replacingOccurrences(of: "every: 10", with: "every: 0"))
        let few = try ddp(["verify", short.path])
        XCTAssertEqual(few.exitCode, 2, "\(few)")
        XCTAssertTrue(few.stderr.contains("holds 1 checkpoint(s); verifying needs at least 2"), few.stderr)
    }

    // MARK: - (d) one rank, ZeRO-1, and a run that rolled back

    /// With a cosine schedule, which depends on the run's `training.steps`:
    /// a replay stops early instead of shortening the run.
    func testOneRankRunWithACosineScheduleVerifies() throws {
        let config = Self.checkpointedConfig.replacingOccurrences(of: "kind: step\n  step_every: 7\n  gamma: 0.7",
                                                                  with: "kind: cosine\n  warmup_steps: 3")
        XCTAssertTrue(config.contains("kind: cosine"))
        let run = try train(ranks: 1, name: "one", config: config)
        let result = try ddp(["verify", run.path])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertEqual(result.stdoutLines.last, "ddp: verify: 3 checkpoints, 2 replays, all bit for bit", "\(result)")
    }

    func testZeROOneRunOnTwoRanksVerifies() throws {
        // AdamW: two state buffers per parameter, each sharded over the ranks, gathered into the checkpoint.
        let config = Self.checkpointedConfig.replacingOccurrences(of: "kind: sgd", with: "kind: adamw")
            .replacingOccurrences(of: "  momentum: 0.9\n", with: "")
        let run = try train(ranks: 2, name: "zero", extra: ["--set", "parallel.zero=1"], config: config)
        let result = try ddp(ranks: 2, ["verify", run.path])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("matches step-00000030 bit for bit (18 tensors)"), "\(result)")
        XCTAssertEqual(result.stdoutLines.last, "ddp: verify: 3 checkpoints, 2 replays, all bit for bit", "\(result)")
    }

    /// A NaN at step 15 rolls the run back to step 10 and skips step 15
    /// uncomputed. The replay, without the fault, must skip it too, from
    /// step-00000020's record, to arrive at the same state.
    func testRunThatRolledBackVerifiesBySkippingTheSameSteps() throws {
        let config = Self.checkpointedConfig.replacingOccurrences(of: "training:\n", with: "training:\n  on_anomaly: rollback\n")
        let run = try train(ranks: 2, name: "rollback", environment: ["DDP_TEST_NAN_RANK": "1", "DDP_TEST_NAN_STEP": "15"],
                            config: config)
        let state = try CheckpointStore.verify(checkpoint(run, step: 20))
        XCTAssertEqual(state.anomalies?.stepsSkippedUncomputed, [15], "\(String(describing: state.anomalies))")
        let result = try ddp(ranks: 2, ["verify", run.path])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertEqual(result.stdoutLines.last, "ddp: verify: 3 checkpoints, 2 replays, all bit for bit", "\(result)")
    }

    // MARK: - --explain

    /// A run that rolled back over a poisoned CSV row: the replay from the
    /// checkpoint before the first rollback finds the anomalous step and
    /// names the row, the layer whose output and the parameter whose
    /// gradient first go non-finite; on 2 ranks, writing nothing.
    func testExplainNamesThePoisonedSampleAndTheFirstNonFiniteLayer() throws {
        let config = PoisonedTable.config(path: try PoisonedTable.write(in: scratch))
        let run = try train(ranks: 2, name: "poisoned", extra: ["--set", "training.on_anomaly=rollback"], config: config)
        let first = try XCTUnwrap(CheckpointStore.verify(checkpoint(run, step: 27)).anomalies?.skipped.first)
        XCTAssertTrue(first.samples.contains(PoisonedTable.poisonedRow))
        let start = (first.step - 1) / 4 * 4
        let before = try listing(run)
        let result = try ddp(ranks: 2, ["replay", "--checkpoint", checkpoint(run, step: start).path,
                                        "--to-step", "27", "--explain"])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertEqual(result.stdoutLines.first,
                       "ddp: replay from step-\(String(format: "%08d", start)): step \(first.step) is anomalous: the loss is not finite (NaN or Inf)",
                       "\(result)")
        let named = result.stdoutLines.filter { $0.hasPrefix("ddp: sample ") }
        XCTAssertEqual(named.count, 1, "\(result)")
        XCTAssertTrue(named.first?.hasPrefix("ddp: sample \(PoisonedTable.poisonedRow) (rank ") ?? false, "\(result)")
        XCTAssertTrue(named.first?.hasSuffix("first non-finite output: layer layers.1; first non-finite gradient: layers.1.weight") ?? false,
                      "\(result)")
        XCTAssertEqual(try listing(run), before, "--explain writes nothing")
    }
}
