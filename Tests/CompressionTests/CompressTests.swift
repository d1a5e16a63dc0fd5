@testable import Checkpoint
@testable import Compression
import DDPTestSupport
import DataPipeline
import Foundation
@testable import Inference
import MPI
import MPIRunSupport
import NeuralNet
import TensorCore
@testable import Training
import XCTest

/// `ddp compress` end to end: compressed checkpoints written, verified,
/// loaded for inference, and the MNIST accuracy bound of the issue.
final class CompressTests: CheckpointTestCase {
    /// A trained synthetic-classes MLP checkpoint (30 steps).
    private func trainedCheckpoint(hidden: String = "[64, 32]") throws -> (trainer: Trainer, checkpoint: URL) {
        let run = scratch.appendingPathComponent("run")
        let trainer = try makeTrainer(Self.mlpConfig, overrides: ["model.hidden=\(hidden)", "data.features=48"], runDirectory: run)
        _ = try trainer.run()
        return (trainer, checkpoint(run, step: 30))
    }

    private func compress(_ checkpoint: URL, _ name: String, _ options: CompressionOptions) throws -> CompressionReport {
        var options = options
        options.latencyRuns = 1
        return try CheckpointCompressor.compress(checkpoint: checkpoint.path, output: scratch.appendingPathComponent(name).path,
                                                 options: options, communicator: MPI.world)
    }

    func testAPlainCheckpointLoadsIntoTheSameLogitsAsTheTrainedModel() throws {
        let (trainer, checkpoint) = try trainedCheckpoint()
        // A run directory resolves to its newest checkpoint.
        let loaded = try InferenceCheckpoint.load(checkpoint.deletingLastPathComponent().deletingLastPathComponent().path)
        XCTAssertEqual(loaded.directory.lastPathComponent, checkpoint.lastPathComponent)
        XCTAssertNil(loaded.compression)
        XCTAssertEqual(loaded.model.inputShape, [48])
        XCTAssertEqual(loaded.model.parameterCount, trainer.model.parameters.count)
        let batch = trainer.data.validation.count
        let x = Tensor(zeros: [batch, 48]), t = Tensor(zeros: [batch])
        for i in 0..<batch { trainer.data.validation.copySample(i, input: x.pointer + i * 48, target: t.pointer + i) }
        XCTAssertEqual(loaded.model.logits(x).array, trainer.model.logits(inputs: x).array)
        let evaluation = evaluateInference(loaded.model, on: trainer.data.validation, loss: loaded.loss, batchSize: 7)
        trainer.model.isTraining = false
        let direct = trainer.model.forward(inputs: x, targets: t)
        XCTAssertEqual(evaluation.accuracy ?? -1, Double(direct.correct) / Double(batch), accuracy: 1e-12)
        XCTAssertEqual(evaluation.loss, Double(direct.loss), accuracy: 1e-5)
    }

    func testPruningHitsTheTargetAndFineTuningKeepsTheMask() throws {
        let (trainer, checkpoint) = try trainedCheckpoint()
        let report = try compress(checkpoint, "pruned", .init(pruneSparsity: 0.6, pruneScope: .layer, finetuneSteps: 4))
        let file = try SafetensorsFile(path: report.output.appendingPathComponent("model.safetensors").path, dtypes: [.f32, .i8, .u8])
        for p in trainer.model.parameters.parameters {
            let values = try file.floats(p.name)
            let zeros = values.filter { $0 == 0 }.count
            if p.name.hasSuffix(".weight") {
                XCTAssertEqual(zeros, Int((0.6 * Double(p.count)).rounded()), p.name)
            } else {
                XCTAssertEqual(zeros, 0, p.name)
            }
        }
        XCTAssertEqual(report.record.pruning?.finetuneSteps, 4)
        XCTAssertEqual(report.record.pruning?.achieved ?? 0, 0.6, accuracy: 1e-3)
        // Pruned matrices go sparse on disk: their nonzeros and one bit per weight.
        XCTAssertEqual(report.after.parameters, report.before.parameters)
        let weights = trainer.model.parameters.parameters.filter { $0.name.hasSuffix(".weight") }
        XCTAssertEqual(Set(file.sparse.keys), Set(weights.map(\.name)))
        for p in weights {
            let kept = p.count - Int((0.6 * Double(p.count)).rounded())
            XCTAssertEqual(try file.entry(p.name + ".values").shape, [kept], p.name)
            XCTAssertEqual(try file.entry(p.name + ".mask"), SafetensorsEntry(name: p.name + ".mask", shape: [(p.count + 7) / 8], dtype: .u8))
            XCTAssertEqual(try file.entry(p.name), SafetensorsEntry(name: p.name, shape: p.shape, dtype: .f32))
        }
        let weightCount = weights.reduce(0) { $0 + $1.count }
        let saved = weightCount * 4 - (weightCount - Int(0.6 * Double(weightCount))) * 4 - weightCount / 8
        XCTAssertLessThan(report.after.bytes, report.before.bytes - saved + 1024)
        XCTAssertLessThan(Double(report.after.bytes), 0.6 * Double(report.before.bytes))
        // It is a checkpoint like any other: checksums verify, the metadata says what was done.
        let state = try CheckpointStore.verify(report.output)
        XCTAssertEqual(state.step, 30)
        let loaded = try InferenceCheckpoint.load(report.output.path)
        XCTAssertEqual(loaded.compression, report.record)
        XCTAssertEqual(loaded.compression?.pruning?.scope, "layer")
        XCTAssertTrue(report.table.contains("nonzero parameters"), report.table)
    }

    func testInt8AndLowRankCheckpointsStoreTheirFormsAndPredictAlike() throws {
        let (trainer, checkpoint) = try trainedCheckpoint(hidden: "[96]")
        let report = try compress(checkpoint, "small", .init(quantizeInt8: true, lowRank: .fixed(8)))
        let file = try SafetensorsFile(path: report.output.appendingPathComponent("model.safetensors").path, dtypes: [.f32, .i8])
        // layers.0 (96x48) factorizes at rank 8; layers.1 (3x96) would not shrink and stays one matrix.
        XCTAssertEqual(try file.entry("layers.0.weight.u"), SafetensorsEntry(name: "layers.0.weight.u", shape: [96, 8], dtype: .i8))
        XCTAssertEqual(try file.entry("layers.0.weight.v"), SafetensorsEntry(name: "layers.0.weight.v", shape: [8, 48], dtype: .i8))
        XCTAssertEqual(try file.entry("layers.0.weight.u.scale").shape, [96])
        XCTAssertEqual(try file.entry("layers.1.weight").dtype, .i8)
        XCTAssertEqual(try file.entry("layers.1.weight.scale").shape, [3])
        XCTAssertEqual(try file.entry("layers.1.bias").dtype, .f32)
        XCTAssertNil(file.tensors["layers.0.weight"])
        XCTAssertEqual(report.record.factorized.map(\.name), ["layers.0.weight"])
        XCTAssertEqual(Set(report.record.quantized), ["layers.0.weight.u", "layers.0.weight.v", "layers.1.weight"])
        XCTAssertLessThan(report.after.bytes, report.before.bytes / 3)
        XCTAssertEqual(report.after.parameters, 96 * 8 + 96 + 8 * 48 + 8 + 96 + 3 * 96 + 3 + 3)

        // Int8 alone: the logits stay close to the float model's.
        let int8 = try compress(checkpoint, "int8", .init(quantizeInt8: true))
        let loaded = try InferenceCheckpoint.load(int8.output.path)
        let batch = 16
        let x = Tensor(zeros: [batch, 48]), t = Tensor(zeros: [batch])
        for i in 0..<batch { trainer.data.validation.copySample(i, input: x.pointer + i * 48, target: t.pointer + i) }
        let expected = trainer.model.logits(inputs: x).array
        // Weights and activations on 8-bit grids: within a few percent of the largest logit.
        let scale = expected.map(abs).max()!
        for rows in [1, batch] {
            let got = loaded.model.logits(x.rows(0..<rows)).array
            for i in got.indices { XCTAssertEqual(got[i], expected[i], accuracy: 0.03 * scale) }
        }
    }

    func testPythonSafetensorsReadsACompressedCheckpoint() throws {
        let probe = try? MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                           arguments: ["python3", "-c", "import safetensors.numpy, numpy"], timeout: 60)
        guard probe?.exitCode == 0 else { throw Prerequisite.missing("python3 with safetensors and numpy is not available") }
        let (_, checkpoint) = try trainedCheckpoint(hidden: "[96]")
        let report = try compress(checkpoint, "small", .init(pruneSparsity: 0.5, quantizeInt8: true))
        // The sparse layout, read back with numpy as docs and SparseTensorLayout describe it.
        let script = """
            import hashlib, json, sys
            import numpy as np
            from safetensors import safe_open
            with safe_open(sys.argv[1], framework="numpy") as f:
                meta = f.metadata()
                out = {k: [f.get_tensor(k).dtype.name, list(f.get_tensor(k).shape)] for k in f.keys()}
                shapes = json.loads(meta["sparse"])
                for name, shape in shapes.items():
                    values, mask = f.get_tensor(name + ".values"), f.get_tensor(name + ".mask")
                    count = int(np.prod(shape))
                    dense = np.zeros(count, dtype=values.dtype)
                    dense[np.unpackbits(mask, bitorder="little")[:count] == 1] = values
                    out["dense:" + name] = [list(shape), hashlib.sha256(dense.reshape(shape).tobytes()).hexdigest(), int((dense == 0).sum())]
            out["compression"] = json.loads(meta["compression"])["quantization"]
            print(json.dumps(out))
            """
        let path = report.output.appendingPathComponent("model.safetensors").path
        let result = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                           arguments: ["python3", "-c", script, path], timeout: 120)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let seen = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((seen["layers.0.weight.values"] as? [Any])?.first as? String, "int8")
        XCTAssertEqual((seen["layers.0.weight.mask"] as? [Any])?.first as? String, "uint8")
        XCTAssertEqual((seen["layers.0.weight.scale"] as? [Any])?.first as? String, "float32")
        XCTAssertEqual(seen["compression"] as? String, "int8")
        // What numpy rebuilt is byte for byte what the loader reads.
        let file = try SafetensorsFile(path: path, dtypes: [.f32, .i8, .u8])
        let dense = try file.int8s("layers.0.weight")
        let rebuilt = try XCTUnwrap(seen["dense:layers.0.weight"] as? [Any])
        XCTAssertEqual(rebuilt[0] as? [Int], [96, 48])
        XCTAssertEqual(rebuilt[1] as? String, SHA256.hex(of: dense.map { UInt8(bitPattern: $0) }))
        // Pruned zeros stay zero through symmetric quantization (global scope over both matrices, so at least some).
        XCTAssertGreaterThan(rebuilt[2] as? Int ?? 0, 96 * 48 / 4)
        XCTAssertEqual(rebuilt[2] as? Int, dense.filter { $0 == 0 }.count)
    }

    func testBadRequestsAreRefusedWithClearErrors() throws {
        let (_, checkpoint) = try trainedCheckpoint()
        XCTAssertThrowsError(try compress(checkpoint, "x", .init())) { error in
            XCTAssertTrue("\(error)".contains("nothing to do"), "\(error)")
        }
        XCTAssertThrowsError(try compress(checkpoint, "x", .init(pruneSparsity: 1.5))) { error in
            XCTAssertTrue("\(error)".contains("--prune"), "\(error)")
        }
        XCTAssertThrowsError(try compress(checkpoint, "x", .init(lowRank: .energy(0)))) { error in
            XCTAssertTrue("\(error)".contains("--low-rank-energy"), "\(error)")
        }
        XCTAssertThrowsError(try InferenceCheckpoint.load(scratch.appendingPathComponent("nowhere").path)) { error in
            XCTAssertEqual(error as? CheckpointError, .missingFile(scratch.appendingPathComponent("nowhere").path))
        }
        // A compressed checkpoint is not compressed again.
        let report = try compress(checkpoint, "once", .init(quantizeInt8: true))
        XCTAssertThrowsError(try compress(report.output, "twice", .init(quantizeInt8: true))) { error in
            XCTAssertTrue("\(error)".contains("already compressed"), "\(error)")
        }

        let gptRun = scratch.appendingPathComponent("gpt")
        _ = try makeTrainer(Self.gptConfig, overrides: ["training.steps=2"], runDirectory: gptRun).run()
        XCTAssertThrowsError(try compress(self.checkpoint(gptRun, step: 2), "g", .init(lowRank: .fixed(4)))) { error in
            XCTAssertEqual(error as? CompressionError, .unsupported(model: "gpt", what: "low-rank factorization"))
        }
        // int8: the four products of every block, computed in integers; the embeddings stay Float32.
        let int8GPT = try compress(self.checkpoint(gptRun, step: 2), "g8", .init(quantizeInt8: true))
        XCTAssertEqual(Set(int8GPT.record.quantized), Set((0..<2).flatMap { GPTInt8Weights.parameterNames(layer: $0) }),
                       "\(int8GPT.record.quantized)")
        XCTAssertEqual(int8GPT.record.activations, CompressionRecord.dynamicInt8Activations)
        let loadedGPT = try InferenceCheckpoint.load(int8GPT.output.path)
        let quantizedGPT = try XCTUnwrap((loadedGPT.model as? ModelInference)?.model as? GPT)
        XCTAssertNotNil(quantizedGPT.int8Weights)
        let floatGPT = try XCTUnwrap((try InferenceCheckpoint.load(self.checkpoint(gptRun, step: 2).path).model as? ModelInference)?.model as? GPT)
        XCTAssertNil(floatGPT.int8Weights)
        let ids = Tensor(shape: [2, 8], values: (0..<16).map { Float($0 % 5) })
        let (got, expected) = (quantizedGPT.logits(inputs: ids).array, floatGPT.logits(inputs: ids).array)
        XCTAssertNotEqual(got, expected, "the int8 products are really used")
        for i in got.indices { XCTAssertEqual(got[i], expected[i], accuracy: 0.05, "logit \(i)") }
        // Generation with the cache equals generation without it through the int8 products too.
        XCTAssertEqual(quantizedGPT.generate(prompt: [1, 2], count: 20, temperature: 0, cached: true),
                       quantizedGPT.generate(prompt: [1, 2], count: 20, temperature: 0, cached: false))
        // Pruning applies to any model, and a GPT checkpoint loads through the same API.
        let pruned = try compress(self.checkpoint(gptRun, step: 2), "g", .init(pruneSparsity: 0.3))
        let gpt = try InferenceCheckpoint.load(pruned.output.path)
        XCTAssertTrue(gpt.model is ModelInference)
        XCTAssertEqual(gpt.model.inputShape, [8])
    }

    private var mnistDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("data")
    }

    private func requireMNIST() throws {
        let images = mnistDirectory.appendingPathComponent("mnist/t10k-images-idx3-ubyte").path
        guard FileManager.default.fileExists(atPath: images) || FileManager.default.fileExists(atPath: images + ".gz") else {
            throw Prerequisite.missing("MNIST is not in \(mnistDirectory.path): run launch/fetch-data.sh mnist")
        }
    }

    func testACompressedCNNLoadsWithItsImageShapeAndFloatConvolutions() throws {
        try requireMNIST()
        let run = scratch.appendingPathComponent("cnn")
        let yaml = """
            model:
              kind: cnn
              channels: [4, 8]
              fc_width: 32
            data:
              dataset: mnist
              dir: \(mnistDirectory.path)
            optimizer:
              kind: sgd
              lr: 0.05
              momentum: 0.9
            training:
              batch_size: 32
              epochs: 0
              steps: 20
              eval_every: 0
              eval_batches: 1
            """
        let trainer = try makeTrainer(yaml, runDirectory: run)
        _ = try trainer.run()
        let report = try compress(checkpoint(run, step: 20), "cnn-small",
                                  .init(pruneSparsity: 0.3, quantizeInt8: true, lowRank: .fixed(8), evaluationSamples: 200))
        XCTAssertEqual(report.before.evaluation.samples, 200)
        // fc2 (10x32) at rank 8 would store 336 weights for 320: left whole.
        XCTAssertEqual(report.record.factorized.map(\.name), ["fc1.weight"])
        XCTAssertEqual(Set(report.record.quantized), ["conv1.weight", "conv2.weight", "fc1.weight.u", "fc1.weight.v", "fc2.weight"])
        let loaded = try InferenceCheckpoint.load(report.output.path)
        let network = try XCTUnwrap(loaded.model as? InferenceNetwork)
        XCTAssertEqual(network.inputShape, [1, 28, 28])
        XCTAssertEqual(network.layers.map(\.name).suffix(4), ["fc1.v", "fc1.u", "relu3", "fc2"])
        // Each int8 convolution runs its ReLU and pooling in the same pass.
        XCTAssertEqual(network.layers.map(\.name).prefix(3), ["conv1", "conv2", "flatten"])
        XCTAssertEqual((network.layers[0].layer as? QuantizedConv2d)?.reluPool, 2)
        XCTAssertEqual((network.layers[1].layer as? QuantizedConv2d)?.reluPool, 2)
        // int8 alone keeps the trained model's predictions: its logits stay close.
        let int8 = try compress(checkpoint(run, step: 20), "cnn-int8", .init(quantizeInt8: true, evaluationSamples: 200))
        let int8Model = try InferenceCheckpoint.load(int8.output.path).model
        let images = Tensor(zeros: [8, 1, 28, 28]), labels = Tensor(zeros: [8])
        for i in 0..<8 { trainer.data.validation.copySample(i, input: images.pointer + i * 784, target: labels.pointer + i) }
        trainer.model.isTraining = false
        let (got, expected) = (int8Model.logits(images).array, trainer.model.logits(inputs: images).array)
        XCTAssertNotEqual(got, expected)
        let scale = expected.map(abs).max()!
        for i in got.indices { XCTAssertEqual(got[i], expected[i], accuracy: 0.03 * scale, "logit \(i)") }
        XCTAssertEqual(int8.after.evaluation.accuracy ?? 0, int8.before.evaluation.accuracy ?? 1, accuracy: 0.02)
        // The dense checkpoint, loaded the same way, scores as the trained model does.
        let subset = SubsetDataset(trainer.data.validation, indices: Array(0..<200))
        trainer.model.isTraining = false
        let direct = try evaluate(trainer.model, on: subset, communicator: MPI.world, batchSize: 50)
        XCTAssertEqual(report.before.evaluation.accuracy ?? -1, direct.accuracy ?? -2, accuracy: 1e-12)
        XCTAssertEqual(report.before.evaluation.loss, direct.loss, accuracy: 1e-4)
    }

    /// The bound: an MNIST MLP pruned to 50% and quantized to int8
    /// loses at most 0.5 points of test accuracy.
    func testMNISTMLPPrunedAndQuantizedLosesAtMostHalfAPoint() throws {
        try requireMNIST()
        let dataDirectory = mnistDirectory
        let yaml = """
            model:
              kind: mlp
              hidden: [256]
            data:
              dataset: mnist
              dir: \(dataDirectory.path)
              normalize: standardize
            optimizer:
              kind: sgd
              lr: 0.05
              momentum: 0.9
            training:
              batch_size: 128
              epochs: 1
              eval_every: 0
              log_every: 100
            """
        let run = scratch.appendingPathComponent("mnist")
        let trainer = try makeTrainer(yaml, runDirectory: run)
        let summary = try trainer.run()
        let report = try compress(checkpoint(run, step: trainer.totalSteps), "mnist-small",
                                  .init(pruneSparsity: 0.5, quantizeInt8: true))
        print(report.table)
        let before = try XCTUnwrap(report.before.evaluation.accuracy)
        let after = try XCTUnwrap(report.after.evaluation.accuracy)
        XCTAssertEqual(before, try XCTUnwrap(summary.evaluation?.accuracy), accuracy: 1e-9)
        XCTAssertGreaterThan(before, 0.95)
        XCTAssertGreaterThanOrEqual(after, before - 0.005)
        XCTAssertEqual(report.before.evaluation.samples, 10_000)
        XCTAssertLessThan(Double(report.after.bytes), Double(report.before.bytes) * 0.3)
    }
}
