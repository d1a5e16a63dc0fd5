import DDPTestSupport
import Foundation
@testable import Inference
import MPIRunSupport
@testable import ONNXExport
import TensorCore
import XCTest
import _ProtobufWire

/// `ddp export --format onnx` checked by the official tools: Python's `onnx`
/// checker accepts each exported model (full check, with shape inference),
/// and `onnxruntime` gives the logits the project's own inference computes on
/// the same raw inputs, at two batch sizes (the batch is free) and, for the
/// GPT, two sequence lengths.
final class ONNXExportTests: InferenceTestCase {
    override class var scratchPrefix: String { "ddp-onnx" }

    /// The largest difference allowed, relative to the largest reference value.
    private static let tolerance = 1e-4

    // MARK: - The encoder

    func testProtobufEncoderEncodesTheWireFormat() {
        var w = ProtobufEncoder()
        w.appendVarint(300)
        XCTAssertEqual(w.bytes, [0xAC, 0x02])
        w = ProtobufEncoder()
        w.appendInt(field: 1, -1)  // ten bytes of two's complement
        XCTAssertEqual(w.bytes, [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        w = ProtobufEncoder()
        w.appendString(field: 2, "ab")
        w.appendFloat(field: 3, 1)
        XCTAssertEqual(w.bytes, [0x12, 0x02, 0x61, 0x62, 0x1D, 0x00, 0x00, 0x80, 0x3F])
        w = ProtobufEncoder()
        w.appendMessage(field: 7) { $0.appendInt(field: 1, 150) }
        XCTAssertEqual(w.bytes, [0x3A, 0x03, 0x08, 0x96, 0x01])
    }

    // MARK: - Models against onnxruntime

    /// An MLP with GELU on standardized synthetic features (per-feature statistics in the graph).
    func testMLPExportMatchesTheProjectsLogitsInONNXRuntime() throws {
        try requireONNXRuntime()
        let config = Self.classifierConfig.replacingOccurrences(of: "hidden: [32]", with: "hidden: [32, 16]\n  activation: gelu")
        let run = try trainRun(config, name: "mlp")
        try assertExportMatches(checkpoint: run.path, name: "mlp")
    }

    /// An MLP with tanh trained as a regressor (no `probabilities` output), after
    /// `ddp compress`: int8 weights and low-rank layers export as Float32.
    func testCompressedMLPExportMatchesTheProjectsLogitsInONNXRuntime() throws {
        try requireONNXRuntime()
        let config = Self.classifierConfig.replacingOccurrences(of: "hidden: [32]", with: "hidden: [32]\n  activation: tanh\n  loss: mse")
        let run = try trainRun(config, name: "plain")
        let compressed = scratch.appendingPathComponent("compressed").path
        let result = try ddp(["compress", "--checkpoint", run.path, "--out", compressed,
                              "--quantize", "int8", "--low-rank-rank", "4", "--latency-runs", "1"], timeout: 180)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let record = try XCTUnwrap(try InferenceSession(path: compressed).checkpoint.compression)
        XCTAssertEqual(record.quantization, "int8")
        XCTAssertEqual(record.factorized.count, 1, "\(record)")  // layers.0, 12 → 32; layers.1 (32 → 4) is not worth it at rank 4
        // The graph multiplies in Float32 with the int8 weights; the project also rounds the activations
        // onto 8-bit grids, which moves these logits by about 1% of the largest (0.4-0.8% measured).
        let report = try assertExportMatches(checkpoint: compressed, name: "compressed", tolerance: 0.05)
        // Two Linear layers, one of them factored: three products.
        XCTAssertEqual((report["ops"] as? [String])?.filter { $0 == "Gemm" }.count, 3, "\(report)")
    }

    /// LeNet on MNIST: pixels 0...255 in, scaled inside the graph.
    func testCNNExportMatchesTheProjectsLogitsInONNXRuntime() throws {
        try requireONNXRuntime()
        let data = try requireMNIST()
        let config = """
            model:
              kind: cnn
              channels: [4, 8]
              fc_width: 16
            data:
              dataset: mnist
              dir: \(data)
              normalize: scale
            training:
              batch_size: 32
              epochs: 0
              steps: 6
              log_every: 3
              eval_batches: 1
              eval_batch_size: 50
            optimizer:
              kind: sgd
              lr: 0.05
            """
        let run = try trainRun(config, name: "cnn")
        try assertExportMatches(checkpoint: run.path, name: "cnn")

        // And end to end: `ddp predict` on MNIST's test file, onnxruntime on the same images.
        let images = data + "/mnist/t10k-images-idx3-ubyte"
        let predict = try ddp(["predict", "--checkpoint", run.path, "--input", images, "--limit", "4", "--top-k", "10", "--json"])
        XCTAssertEqual(predict.exitCode, 0, "\(predict)")
        let predictions = try XCTUnwrap(try jsonOutput(predict)["predictions"] as? [[[String: Any]]])
        let script = """
            import json, sys
            import numpy as np, onnxruntime
            images = np.fromfile(sys.argv[2], np.uint8, offset=16).reshape(-1, 1, 28, 28)[:4].astype(np.float32)
            session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
            print(json.dumps(session.run(["probabilities"], {"input": images})[0].tolist()))
            """
        let result = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                           arguments: ["python3", "-c", script, scratch.path + "/cnn.onnx", images], timeout: 120)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let runtime = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[Double]])
        XCTAssertEqual(runtime.count, predictions.count)
        for (image, (ours, theirs)) in zip(predictions, runtime).enumerated() {
            XCTAssertEqual(ours.count, 10)
            for entry in ours {
                let label = try XCTUnwrap(entry["label"] as? Int), probability = try XCTUnwrap(entry["probability"] as? Double)
                XCTAssertEqual(theirs[label], probability, accuracy: 1e-5, "image \(image), class \(label)")
            }
        }

        // int8: each convolution, with its fused ReLU and pooling, exports as Conv, Relu and MaxPool on the
        // restored weights; the project also rounds the activations, which moves the logits by about 1% (0.6-0.7%).
        let int8 = scratch.appendingPathComponent("cnn-int8").path
        let compressed = try ddp(["compress", "--checkpoint", run.path, "--out", int8, "--quantize", "int8", "--latency-runs", "1"],
                                 timeout: 180)
        XCTAssertEqual(compressed.exitCode, 0, "\(compressed)")
        let report = try assertExportMatches(checkpoint: int8, name: "cnn-int8", tolerance: 0.05)
        let ops = report["ops"] as? [String] ?? []
        XCTAssertEqual(ops.filter { $0 == "Conv" }.count, 2, "\(report)")
        XCTAssertEqual(ops.filter { $0 == "MaxPool" }.count, 2, "\(report)")
    }

    /// A two-layer GPT: full-context and shorter sequences, two batch sizes. The
    /// context is longer than the project's attention block (64 query rows),
    /// so its blocked kernel is checked across a block boundary. The learning
    /// rate moves the weights well away from their small initial values, so that
    /// attention scores and GELU inputs are large enough for a wrong scale or
    /// coefficient to show beyond the tolerance.
    func testGPTExportMatchesTheProjectsLogitsInONNXRuntime() throws {
        try requireONNXRuntime()
        let config = """
            model:
              kind: gpt
              layers: 2
              heads: 2
              width: 16
              context: 80
            data:
              dataset: synthetic_text
              samples: 400
              vocabulary: 11
            training:
              batch_size: 4
              epochs: 0
              steps: 30
              log_every: 10
              eval_batches: 1
            optimizer:
              kind: adamw
              lr: 0.05
            """
        let run = try trainRun(config, name: "gpt")
        try assertExportMatches(checkpoint: run.path, name: "gpt")
    }

    // MARK: - Bad input

    func testBadExportRequestsExitTwoWithAOneLineMessage() throws {
        let run = try trainRun(Self.classifierConfig.replacingOccurrences(of: "steps: 40", with: "steps: 4"), name: "small")
        let out = scratch.appendingPathComponent("m.onnx").path
        let cases: [(name: String, arguments: [String], message: String)] = [
            ("unknown format", ["--checkpoint", run.path, "--format", "tflite", "--out", out], "'tflite' is invalid for '--format"),
            ("missing checkpoint", ["--checkpoint", scratch.path + "/nowhere", "--out", out], scratch.path + "/nowhere"),
            ("checkpoint is a file", ["--checkpoint", try writeConfig("x", name: "notes.txt"), "--out", out], "notes.txt"),
            ("unwritable out", ["--checkpoint", run.path, "--out", scratch.path + "/no/such/dir/m.onnx"],
             scratch.path + "/no/such/dir/m.onnx: create failed: No such file or directory"),
            ("out is a directory", ["--checkpoint", run.path, "--out", scratch.path], scratch.path + ": create failed"),
            ("missing --out", ["--checkpoint", run.path], "--out"),
        ]
        for (name, arguments, message) in cases {
            let result = try ddp(["export"] + arguments)
            XCTAssertEqual(result.exitCode, 2, "\(name): \(result)")
            let lines = result.stderr.split(separator: "\n")
            XCTAssertTrue(lines.first.map { $0.contains(message) } ?? false, "\(name): \(result)")
            XCTAssertFalse(result.stderr.contains("Fatal error") || result.stderr.contains("Stack dump"), "\(name): \(result)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a failed export left a file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".partial"))
    }

    // MARK: - Support

    /// Exports `checkpoint` with `ddp export`, computes the project's logits
    /// for raw inputs in-process, and has Python's onnx and onnxruntime check
    /// the file and compare.
    @discardableResult
    private func assertExportMatches(checkpoint: String, name: String, tolerance: Double = ONNXExportTests.tolerance) throws -> [String: Any] {
        let model = scratch.appendingPathComponent("\(name).onnx").path
        let export = try ddp(["export", "--checkpoint", checkpoint, "--format", "onnx", "--out", model])
        XCTAssertEqual(export.exitCode, 0, "\(export)")
        XCTAssertTrue(export.stdout.contains("ONNX opset 17"), "\(export)")

        let session = try InferenceSession(path: checkpoint)
        var generator = RandomGenerator(seed: 16, stream: 1)
        var cases: [[String: Any]] = []
        func write(_ values: [Float], _ file: String) throws -> String {
            let path = scratch.appendingPathComponent(file).path
            try values.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
            return path
        }
        switch session.task {
        case .languageModel(let vocabulary, let context):
            for (batch, time) in [(3, context), (2, context - 3), (1, 1)] {
                let ids = (0..<(batch * time)).map { _ in Float(Int(generator.nextUniform() * Float(vocabulary)) % vocabulary) }
                let logits = session.model.logits(Tensor(shape: [batch, time], values: ids))
                cases.append(["input": try write(ids, "\(name)-\(batch)x\(time).in"), "shape": [batch, time],
                              "expected": try write(logits.array, "\(name)-\(batch)x\(time).out"), "expected_shape": logits.shape])
            }
        case .classifier:
            XCTAssertFalse(session.inputSteps.isEmpty, "\(name): no preprocessing to export")
            let isImage = session.sampleShape.count == 3
            for batch in [5, 2] {
                // Pixels as an image file holds them, features on the data's own scale.
                let raw = (0..<(batch * session.sampleSize)).map { _ in
                    isImage ? Float(Int(generator.nextUniform() * 256) % 256) : 3 * generator.nextNormal()
                }
                let inputs = Tensor(shape: [batch] + session.model.inputShape, values: raw)
                session.preprocess(inputs.pointer, rows: batch)
                let logits = session.model.logits(inputs)
                cases.append(["input": try write(raw, "\(name)-\(batch).in"), "shape": [batch] + session.sampleShape,
                              "expected": try write(logits.array, "\(name)-\(batch).out"), "expected_shape": logits.shape])
            }
        }
        let manifest = scratch.appendingPathComponent("\(name)-cases.json")
        try JSONSerialization.data(withJSONObject: cases).write(to: manifest)
        let result = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                           arguments: ["python3", "-c", Self.checkScript, model, manifest.path,
                                                       String(tolerance)],
                                           timeout: 300)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let report = try jsonOutput(result)
        XCTAssertEqual(report["opset"] as? Int, 17)
        XCTAssertEqual(report["ir_version"] as? Int, 8)
        let isGPT = session.languageModel != nil
        XCTAssertEqual(report["inputs"] as? [String], [isGPT ? "input_ids" : "input"])
        let hasProbabilities = !isGPT && session.checkpoint.loss == .crossEntropy
        XCTAssertEqual(report["outputs"] as? [String], hasProbabilities ? ["logits", "probabilities"] : ["logits"])
        XCTAssertEqual((report["batch_dim"] as? String), "batch")
        let errors = try XCTUnwrap(report["errors"] as? [Double])
        XCTAssertEqual(errors.count, cases.count)
        for error in errors { XCTAssertLessThanOrEqual(error, tolerance, "\(name): \(report)") }
        print("\(name): onnxruntime against the project's logits, largest relative difference per case: \(errors)")
        return report
    }

    /// Loads the model, runs the full checker, runs every case in
    /// onnxruntime and prints one JSON line; exits 1 on any mismatch.
    private static let checkScript = """
        import json, sys
        import numpy as np
        import onnx, onnxruntime
        path, manifest, tolerance = sys.argv[1], sys.argv[2], float(sys.argv[3])
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        inputs = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        errors = []
        for case in json.load(open(manifest)):
            dtype = np.int64 if inputs == ["input_ids"] else np.float32
            x = np.fromfile(case["input"], dtype=np.float32).reshape(case["shape"]).astype(dtype)
            expected = np.fromfile(case["expected"], dtype=np.float32).reshape(case["expected_shape"])
            got = session.run(None, {inputs[0]: x})
            logits = got[0]
            assert logits.shape == expected.shape, (logits.shape, expected.shape)
            errors.append(float(np.max(np.abs(logits - expected)) / max(np.max(np.abs(expected)), 1e-30)))
            if len(got) > 1:
                # The graph's softmax of its own logits (which may differ from ours within the tolerance).
                shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
                assert np.allclose(got[1], shifted / shifted.sum(axis=-1, keepdims=True), rtol=1e-4, atol=1e-6)
        dims = model.graph.input[0].type.tensor_type.shape.dim
        print(json.dumps({"opset": model.opset_import[0].version, "ir_version": model.ir_version,
                          "inputs": inputs, "outputs": outputs, "batch_dim": dims[0].dim_param, "errors": errors,
                          "ops": [node.op_type for node in model.graph.node]}))
        sys.exit(0 if max(errors) <= tolerance else 1)
        """

    /// Fails, not skips, without onnx and onnxruntime: `launch/test.sh` installs them.
    private func requireONNXRuntime() throws {
        let result = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                           arguments: ["python3", "-c", "import onnx, onnxruntime, numpy"], timeout: 120)
        guard result.exitCode == 0 else { throw MissingPythonPackages(output: result.stderr) }
    }

    private struct MissingPythonPackages: Error, CustomStringConvertible {
        let output: String
        var description: String {
            "python3 cannot import onnx, onnxruntime and numpy (launch/test.sh installs them with pip): \(output)"
        }
    }
}
