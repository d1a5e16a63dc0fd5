import Checkpoint
import DataPipeline
import DataPreparation
import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// Training on prepared data under real mpirun: augmented image batches do
/// not depend on the world size, resume stays bitwise, prefetching changes
/// nothing, and a prepared table trains like its CSV.
final class PreparedTrainingTests: CheckpointTestCase {
    override class var scratchPrefix: String { "ddp-prepared-train" }

    /// Three classes of 20x20 gray images: a bright bar whose row depends on the class, plus noise.
    private func prepareImages() throws -> String {
        let root = scratch.appendingPathComponent("folder")
        var state: UInt64 = 7
        func noise() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 59)
        }
        for label in 0..<3 {
            let folder = root.appendingPathComponent("class\(label)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<40 {
                let pixels = (0..<400).map { p -> UInt8 in
                    let row = p / 20
                    return UInt8((abs(row - (4 + 6 * label)) <= 1 ? 200 : 20) + noise())
                }
                try Data(pngFile(width: 20, height: 20, channels: 1, pixels: pixels))
                    .write(to: folder.appendingPathComponent("\(i).png"))
            }
        }
        let output = scratch.appendingPathComponent("prepared").path
        var options = ImagePreparation.Options()
        options.quiet = true
        options.shardImages = 25
        _ = try ImagePreparation.prepare(folder: root.path, output: output, options: options)
        return output
    }

    private func cnnConfig(_ path: String, steps: Int) -> String {
        """
        model:
          kind: cnn
          channels: [4, 8]
          fc_width: 16
        data:
          dataset: prepared
          path: \(path)
          normalize: scale
          validation_fraction: 0.2
          augment:
            flip: true
            crop_padding: 2
            rotate_degrees: 8
        optimizer:
          kind: sgd
          lr: 0.05
          momentum: 0.9
        training:
          batch_size: 12
          steps: \(steps)
          epochs: 0
          log_every: 4
          eval_batches: 1
          eval_batch_size: 12
        checkpoint:
          every: 5
        """
    }

    /// Trains and returns the final model's tensors.
    private func train(_ config: String, ranks: Int, run: String, extra: [String] = [], steps: Int) throws -> [String: [UInt8]] {
        let result = try ddpTrain(ranks: ranks, config: config, runDirectory: scratch.appendingPathComponent(run), extra: extra)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        return try tensorBytes(checkpoint(scratch.appendingPathComponent(run), step: steps)
            .appendingPathComponent(CheckpointStore.modelFile).path)
    }

    private func maxRelativeDifference(_ a: [String: [UInt8]], _ b: [String: [UInt8]]) -> Double {
        var worst = 0.0
        for (name, bytes) in a {
            let x = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let y = (b[name] ?? []).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            guard x.count == y.count else { return .infinity }
            let scale = max(x.map { abs(Double($0)) }.max() ?? 1, 1e-6)
            worst = max(worst, zip(x, y).map { abs(Double($0) - Double($1)) / scale }.max() ?? 0)
        }
        return worst
    }

    func testAugmentedImagesTrainAlikeOnOneAndTwoRanksAndResumeBitwise() throws {
        let config = try writeConfig(cnnConfig(try prepareImages(), steps: 12))
        let one = try train(config, ranks: 1, run: "one", steps: 12)
        let two = try train(config, ranks: 2, run: "two", steps: 12)
        XCTAssertLessThanOrEqual(maxRelativeDifference(one, two), 1e-5, "2 ranks vs 1 with augmentation")
        let unaugmented = try train(config, ranks: 1, run: "plain", extra: ["--set", "data.augment.flip=false",
                                                                            "--set", "data.augment.crop_padding=0",
                                                                            "--set", "data.augment.rotate_degrees=0"], steps: 12)
        XCTAssertGreaterThan(maxRelativeDifference(one, unaugmented), 1e-4, "augmentation must change the training")

        // Stop at 5 on two ranks, resume to 12: the same bits as the straight two-rank run.
        let run = scratch.appendingPathComponent("resumed")
        let first = try ddpTrain(ranks: 2, config: config, runDirectory: run, extra: ["--set", "training.steps=5"])
        XCTAssertEqual(first.exitCode, 0, "\(first)")
        let second = try ddpTrain(ranks: 2, config: config, runDirectory: run, extra: ["--resume", "auto"])
        XCTAssertEqual(second.exitCode, 0, "\(second)")
        XCTAssertTrue(second.stdout.contains("resuming from step 5"), second.stdout)
        let resumed = try tensorBytes(checkpoint(run, step: 12).appendingPathComponent(CheckpointStore.modelFile).path)
        XCTAssertEqual(resumed, two, "resumed augmented run differs from the straight one")
    }

    /// Shakespeare prepared with the character tokenizer trains exactly as the built-in data set.
    func testPreparedShakespeareGivesTheBuiltInLossCurve() throws {
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data")
        let text = data.appendingPathComponent("shakespeare/shakespeare.txt").path
        guard FileManager.default.fileExists(atPath: text) else {
            throw Prerequisite.missing("Shakespeare is not in data/shakespeare (run launch/fetch-data.sh shakespeare)")
        }
        let prepared = scratch.appendingPathComponent("shakespeare").path
        var options = TextPreparation.Options()
        options.quiet = true
        _ = try TextPreparation.prepare(inputs: [text], output: prepared, options: options)
        let yaml = """
            model:
              kind: gpt
              layers: 1
              heads: 2
              width: 32
              context: 32
            data:
              dataset: shakespeare
              dir: \(data.path)
            optimizer:
              kind: adamw
              lr: 0.003
            training:
              batch_size: 8
              steps: 10
              epochs: 0
              log_every: 2
              eval_batches: 2
              eval_batch_size: 8
            checkpoint:
              every: 5
            """
        let config = try writeConfig(yaml)
        let builtIn = try train(config, ranks: 2, run: "builtin", steps: 10)
        let fromShards = try train(config, ranks: 2, run: "prepared", extra: ["--set", "data.dataset=prepared",
                                                                             "--set", "data.path=\(prepared)"], steps: 10)
        XCTAssertEqual(builtIn, fromShards, "the prepared run's parameters differ from the built-in run's")
        func losses(_ run: String) throws -> [String] {
            try String(contentsOf: scratch.appendingPathComponent(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
                .split(separator: "\n").filter { $0.contains("\"loss\"") }
                .map { String($0.replacingOccurrences(of: #","samples_per_second.*"#, with: "", options: .regularExpression)) }
        }
        XCTAssertEqual(try losses("builtin"), try losses("prepared"))
        XCTAssertTrue(try losses("prepared").contains { $0.contains("bits_per_character") })
    }

    /// A GPT trained on SentencePiece text carries the tokenizer in its checkpoint and generates text with it.
    func testSubwordCheckpointsCarryTheirTokenizer() throws {
        let corpus = scratch.appendingPathComponent("corpus.txt")
        try String(repeating: "the cat sat on the mat; the dog sat on the log.\n", count: 300)
            .write(to: corpus, atomically: true, encoding: .utf8)
        let prepared = scratch.appendingPathComponent("spm").path
        var options = TextPreparation.Options()
        (options.tokenizer, options.quiet) = (.sentencePiece(vocabularySize: 300, algorithm: "bpe"), true)
        _ = try TextPreparation.prepare(inputs: [corpus.path], output: prepared, options: options)
        let yaml = """
            model:
              kind: gpt
              layers: 1
              heads: 2
              width: 16
              context: 16
            data:
              dataset: prepared
              path: \(prepared)
            training:
              batch_size: 4
              steps: 3
              epochs: 0
              log_every: 1
              eval_batches: 1
              eval_batch_size: 4
            """
        let run = scratch.appendingPathComponent("run")
        let result = try ddpTrain(ranks: 1, config: try writeConfig(yaml), runDirectory: run)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let state = try CheckpointStore.verify(checkpoint(run, step: 3))
        XCTAssertNotNil(state.files[CheckpointStore.tokenizerFile], "the checkpoint does not record tokenizer.model")
        // Moving the data set away must not matter: the checkpoint is self-contained.
        try FileManager.default.moveItem(atPath: prepared, toPath: prepared + "-moved")
        let predicted = try ddp(["predict", "--checkpoint", run.path, "--prompt", "the cat", "--tokens", "5"])
        XCTAssertEqual(predicted.exitCode, 0, "\(predicted)")
        XCTAssertTrue(predicted.stdout.hasPrefix("the cat"), predicted.stdout)
        XCTAssertFalse(predicted.stdout.contains("<0x"), "byte pieces must decode to text: \(predicted.stdout)")
    }

    func testPrefetchingChangesNothing() throws {
        let config = try writeConfig(cnnConfig(try prepareImages(), steps: 10))
        let on = try train(config, ranks: 2, run: "on", steps: 10)
        let off = try train(config, ranks: 2, run: "off", extra: ["--set", "data.prefetch=false"], steps: 10)
        XCTAssertEqual(on, off)
    }

    func testAPreparedTableTrainsAsItsCSVDoes() throws {
        var lines = ["a,b,c,label"]
        for i in 0..<300 {
            let x = Double(i % 17) / 3, y = Double((i * 7) % 11) - 5, z = Double(i % 5)
            lines.append("\(x),\(y),\(z),\(x + y > 0 ? 1 : 0)")
        }
        let csv = scratch.appendingPathComponent("table.csv")
        try lines.joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        let output = scratch.appendingPathComponent("table").path
        var options = TablePreparation.Options()
        (options.shardRows, options.quiet) = (64, true)
        let manifest = try TablePreparation.prepare(file: csv.path, output: output, options: options)
        XCTAssertEqual(manifest.count, 300)
        XCTAssertEqual(manifest.table?.columns, ["a", "b", "c"])
        XCTAssertEqual(manifest.table?.classes, ["0", "1"])
        XCTAssertEqual(manifest.shards.map(\.count), [64, 64, 64, 64, 44])
        let table = try PreparedTable(PreparedData(directory: output))
        let csvTable = try TabularDataset.loadCSV(file: csv.path)
        for i in [0, 63, 64, 200, 299] { XCTAssertEqual(table.sample(i).input, csvTable.sample(i).input, "row \(i)") }
        XCTAssertEqual(manifest.table!.mean[0], (0..<300).map { Double(Float(Double($0 % 17) / 3)) }.reduce(0, +) / 300, accuracy: 1e-9)

        let config = """
            model:
              kind: mlp
              hidden: [16]
            data:
              dataset: prepared
              path: \(output)
              normalize: scale
            optimizer:
              kind: sgd
              lr: 0.1
            training:
              batch_size: 20
              steps: 30
              epochs: 0
              log_every: 10
            """
        let result = try ddpTrain(ranks: 2, config: try writeConfig(config), runDirectory: scratch.appendingPathComponent("mlp"))
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("prepared: 270 training and 30 validation samples, input [3], 2 classes"), result.stdout)
    }

    func testABadPreparedDirectoryIsBadInput() throws {
        let config = """
            model:
              kind: mlp
            data:
              dataset: prepared
              path: \(scratch.appendingPathComponent("nowhere").path)
            training:
              steps: 1
            """
        let result = try ddpTrain(ranks: 1, config: try writeConfig(config), runDirectory: scratch.appendingPathComponent("bad"))
        XCTAssertEqual(result.exitCode, 2, "\(result)")
        XCTAssertTrue(result.stderr.contains("nowhere/manifest.json: no such file"), result.stderr)
        XCTAssertFalse(result.stderr.contains("Backtrace") || result.stderr.contains("Fatal error"), result.stderr)
    }
}
