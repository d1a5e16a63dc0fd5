import Checkpoint
import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// Writing, keeping and verifying checkpoints, with trainers in this process.
final class CheckpointStoreTests: CheckpointTestCase {
    func testLayoutLatestPointerAndKeepPolicy() throws {
        let run = scratch.appendingPathComponent("run")
        let trainer = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=14", "checkpoint.every=2",
                                                                  "checkpoint.keep_last=2", "checkpoint.keep_every=6"],
                                      runDirectory: run)
        _ = try trainer.run()
        let store = CheckpointStore(runDirectory: run)
        // Written at 2, 4, ..., 14; the two newest and the multiples of 6 stay.
        XCTAssertEqual(store.list().map(\.step), [14, 12, 6])
        XCTAssertEqual(store.latest(), "step-00000014")
        let names = try FileManager.default.contentsOfDirectory(atPath: store.root.path).sorted()
        XCTAssertEqual(names, ["latest", "step-00000006", "step-00000012", "step-00000014"], "no temporary left over")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.url(step: 14).path).sorted(),
                       ["SHA256SUMS", "model.safetensors", "optimizer.safetensors", "trainer.json"])
        let check = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                          arguments: ["sh", "-c", "cd '\(store.url(step: 14).path)' && sha256sum -c SHA256SUMS"])
        XCTAssertEqual(check.exitCode, 0, "sha256sum agrees with the recorded digests: \(check)")
        XCTAssertEqual(check.stdout.split(separator: "\n").count, 3)

        let state = try CheckpointStore.verify(store.url(step: 14))
        XCTAssertEqual(state.step, 14)
        XCTAssertEqual(state.worldSize, 1)
        XCTAssertEqual(state.optimizer.stepCount, 14)
        XCTAssertEqual(state.optimizer.stateNames, ["momentum"])
        XCTAssertEqual(state.samplerPosition, trainer.loader.position)
        XCTAssertEqual(state.configDigest, trainer.config.digest)
        XCTAssertEqual(state.config, trainer.config.yaml)
        XCTAssertEqual(state.dropoutGenerators.count, 1)
        XCTAssertEqual(state.files.keys.sorted(), ["model.safetensors", "optimizer.safetensors"])
        XCTAssertNil(state.vocabulary, "no vocabulary for class data")

        // The model file holds exactly the live parameters.
        let bytes = try tensorBytes(store.url(step: 14).appendingPathComponent("model.safetensors").path)
        let parameters = trainer.model.parameters
        for p in parameters.parameters {
            XCTAssertEqual(bytes[p.name], Array(UnsafeRawBufferPointer(start: parameters.values.pointer + p.offset,
                                                                       count: p.count * 4)), p.name)
        }
    }

    func testEveryZeroWritesOnlyAtTheEnd() throws {
        let run = scratch.appendingPathComponent("run")
        _ = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=5"], runDirectory: run).run()
        XCTAssertEqual(CheckpointStore(runDirectory: run).list().map(\.step), [5])
    }

    func testCorruptedTruncatedAndMissingFilesAreNamedAndSkipped() throws {
        let run = scratch.appendingPathComponent("run")
        _ = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=8", "checkpoint.every=2", "checkpoint.keep_last=10"],
                            runDirectory: run).run()
        let store = CheckpointStore(runDirectory: run)
        XCTAssertEqual(store.list().map(\.step), [8, 6, 4, 2])

        // step 8: one bit flipped in the middle of the model's data.
        let model8 = store.url(step: 8).appendingPathComponent("model.safetensors")
        var data = try Data(contentsOf: model8)
        data[data.count - 37] ^= 0x10
        try data.write(to: model8)
        // step 6: optimizer state truncated.
        let optimizer6 = store.url(step: 6).appendingPathComponent("optimizer.safetensors")
        XCTAssertEqual(truncate(optimizer6.path, 64), 0)
        // step 4: trainer.json missing.
        try FileManager.default.removeItem(at: store.url(step: 4).appendingPathComponent("trainer.json"))
        // A write that never finished: ignored, and removed by the next prune.
        try FileManager.default.createDirectory(at: store.root.appendingPathComponent(".tmp-step-00000010-999"),
                                                withIntermediateDirectories: true)

        let (found, rejected) = try store.newestValid()
        XCTAssertEqual(found?.state.step, 2)
        XCTAssertEqual(rejected.count, 3, "\(rejected)")
        XCTAssertTrue(rejected[0].contains("step-00000008/model.safetensors") && rejected[0].contains("corrupted"), rejected[0])
        XCTAssertTrue(rejected[1].contains("step-00000006/optimizer.safetensors") && rejected[1].contains("64 bytes"), rejected[1])
        XCTAssertTrue(rejected[2].contains("step-00000004/trainer.json") && rejected[2].contains("missing"), rejected[2])

        // Resuming in process takes step 2 and reports the others.
        let resumed = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=8"], runDirectory: run)
        let outcome = try resumed.resume(from: .auto)
        XCTAssertEqual(outcome.step, 2)
        XCTAssertEqual(resumed.step, 2)
        XCTAssertEqual(outcome.checkpoint?.lastPathComponent, "step-00000002")
        XCTAssertEqual(outcome.skipped.count, 3)

        // With step 2 broken too, nothing is valid: a clear error listing all.
        let model2 = store.url(step: 2).appendingPathComponent("model.safetensors")
        XCTAssertEqual(truncate(model2.path, 10), 0)
        let again = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=8"], runDirectory: run)
        XCTAssertThrowsError(try again.resume(from: .auto)) { error in
            guard case CheckpointError.noValidCheckpoint(_, let rejected) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(rejected.count, 4)
            XCTAssertTrue("\(error)".contains("step-00000002/model.safetensors"), "\(error)")
        }
        // A named checkpoint is verified and never replaced by another.
        XCTAssertThrowsError(try again.resume(from: .path(store.url(step: 8).path))) { error in
            XCTAssertTrue("\(error)".contains("step-00000008/model.safetensors"), "\(error)")
        }
    }

    func testAnEditedTrainerStateIsCaughtBySHA256SUMS() throws {
        let run = scratch.appendingPathComponent("run")
        _ = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=3"], runDirectory: run).run()
        let directory = CheckpointStore(runDirectory: run).url(step: 3)
        let state = directory.appendingPathComponent("trainer.json")
        let text = try String(contentsOf: state, encoding: .utf8)
        // Still valid JSON, still a plausible state: only the digest tells.
        try text.replacingOccurrences(of: "\"stepCount\" : 3", with: "\"stepCount\" : 4")
            .write(to: state, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CheckpointStore.verify(directory)) { error in
            guard case CheckpointError.checksumMismatch(let path, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, state.path)
        }
    }

    func testAutoWithoutCheckpointsStartsFresh() throws {
        let run = scratch.appendingPathComponent("fresh")
        let trainer = try makeTrainer(Self.mlpConfig, runDirectory: run)
        let outcome = try trainer.resume(from: .auto)
        XCTAssertNil(outcome.checkpoint)
        XCTAssertEqual(trainer.step, 0)
    }

    func testConfigThatChangesTheModelIsRefusedNamingTheKeys() throws {
        let run = scratch.appendingPathComponent("run")
        _ = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=3"], runDirectory: run).run()
        let other = try makeTrainer(Self.mlpConfig, overrides: ["optimizer.lr=0.2", "model.dropout=0.3"], runDirectory: run)
        XCTAssertThrowsError(try other.resume(from: .auto)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("model.dropout (checkpoint 0.2, now 0.3)"), text)
            XCTAssertTrue(text.contains("optimizer.lr (checkpoint 0.05, now 0.2)"), text)
            XCTAssertFalse(text.contains("training.steps ("), text)
        }
        // Run length, logging and checkpoint keys may change.
        let longer = try makeTrainer(Self.mlpConfig, overrides: ["training.steps=9", "checkpoint.every=3",
                                                                 "training.log_every=1"], runDirectory: run)
        XCTAssertEqual(try longer.resume(from: .auto).step, 3)
    }

    func testTextRunsCarryTheirVocabulary() throws {
        let directory = scratch.appendingPathComponent("data/shakespeare")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let text = String(repeating: "To be, or not to be: that is the question.\n", count: 40)
        try text.write(to: directory.appendingPathComponent("shakespeare.txt"), atomically: true, encoding: .utf8)
        let run = scratch.appendingPathComponent("run")
        let yaml = Self.gptConfig.replacingOccurrences(of: "dataset: synthetic_text", with: "dataset: shakespeare")
            .replacingOccurrences(of: "  samples: 96\n  vocabulary: 11\n",
                                  with: "  dir: \(scratch.appendingPathComponent("data").path)\n")
        _ = try makeTrainer(yaml, overrides: ["training.steps=2"], runDirectory: run).run()
        let state = try CheckpointStore.verify(CheckpointStore(runDirectory: run).url(step: 2))
        XCTAssertEqual(state.vocabulary, String(Set(text.unicodeScalars).sorted().map(Character.init)))
    }
}
