import Checkpoint
import DataPipeline
import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// The file formats of a checkpoint: safetensors as written and read here,
/// and as Python's reference reader sees them.
final class CheckpointFormatTests: CheckpointTestCase {
    func testSafetensorsRoundTripAndHeaderLayout() throws {
        let path = scratch.appendingPathComponent("t.safetensors").path
        let a: [Float] = [1, -2.5, .pi, 0, 1e-30, -0.0]
        let b: [Float] = [42]
        let writer = try SafetensorsWriter(path: path, entries: [SafetensorsEntry(name: "layer.\"a\"", shape: [2, 3]),
                                                                 SafetensorsEntry(name: "empty", shape: [0]),
                                                                 SafetensorsEntry(name: "b", shape: [])],
                                           metadata: ["step": "7"])
        // Pieces need not match tensor boundaries.
        try a.withUnsafeBufferPointer { try writer.append($0.baseAddress!, count: 4) }
        try a.withUnsafeBufferPointer { try writer.append($0.baseAddress! + 4, count: 2) }
        try b.withUnsafeBufferPointer { try writer.append($0.baseAddress!, count: 1) }
        let (digest, bytes) = try writer.finish()

        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(raw.count, bytes)
        XCTAssertEqual(SHA256.hex(of: Array(raw)), digest)
        let headerLength = raw.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0, "data starts 8-byte aligned")
        XCTAssertEqual(raw.count, 8 + headerLength + 7 * 4)
        XCTAssertEqual(raw[8], UInt8(ascii: "{"))

        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.names, ["layer.\"a\"", "empty", "b"])
        XCTAssertEqual(file.metadata, ["step": "7"])
        XCTAssertEqual(try file.tensor("layer.\"a\"").shape, [2, 3])
        XCTAssertEqual(try file.tensor("b").shape, [])
        var back = [Float](repeating: 9, count: 6)
        try file.read("layer.\"a\"", elements: 0..<6, into: &back)
        XCTAssertEqual(back.map(\.bitPattern), a.map(\.bitPattern))
        var middle = [Float](repeating: 9, count: 2)
        try file.read("layer.\"a\"", elements: 2..<4, into: &middle)
        XCTAssertEqual(middle, [.pi, 0])
    }

    /// Header integers that overflow when multiplied or added (checksums
    /// could be made to match) are a malformed file, never an arithmetic trap:
    /// eval and resume read checkpoints through this reader.
    func testOverflowingHeaderIntegersAreMalformedNotACrash() throws {
        let cases = [("F32", "[4611686018427387904, 4]", "[0, 16]"), ("F32", "[9223372036854775807]", "[0, 4]"),
                     ("U8", "[9223372036854775807]", "[0, 9223372036854775807]"), ("F32", "[2]", "[1, -9223372036854775808]"),
                     ("F32", "[1e30]", "[0, 4]"), ("F32", "[2.5]", "[0, 10]")]
        for (dtype, shape, offsets) in cases {
            let header = "{\"w\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}}"
            var file = Data()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
            file.append(Data(header.utf8))
            file.append(Data(count: 16))
            let path = scratch.appendingPathComponent("hostile.safetensors").path
            try file.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SafetensorsFile(path: path), "\(shape) \(offsets)") { error in
                guard case CheckpointError.malformed(let where_, _) = error else {
                    return XCTFail("\(shape) \(offsets): expected malformed, got \(error)")
                }
                XCTAssertEqual(where_, path)
            }
        }
    }

    func testTruncatedSafetensorsIsRejectedByName() throws {
        let path = scratch.appendingPathComponent("t.safetensors").path
        let writer = try SafetensorsWriter(path: path, entries: [SafetensorsEntry(name: "w", shape: [64])])
        let values = [Float](repeating: 1, count: 64)
        try values.withUnsafeBufferPointer { try writer.append($0.baseAddress!, count: 64) }
        _ = try writer.finish()
        XCTAssertEqual(truncate(path, 100), 0)
        XCTAssertThrowsError(try SafetensorsFile(path: path)) { error in
            guard case CheckpointError.wrongSize(let where_, _, let actual) = error else {
                return XCTFail("expected wrongSize, got \(error)")
            }
            XCTAssertEqual(where_, path)
            XCTAssertEqual(actual, 100)
        }
    }

    /// The outside-the-product check: Python's `safetensors.numpy`
    /// loads the checkpoint and every tensor equals what the model holds.
    func testPythonSafetensorsReadsTheModelAndOptimizer() throws {
        guard pythonHasSafetensors() else {
            throw Prerequisite.missing("python3 with safetensors and numpy is not available (launch/test.sh installs them)")
        }
        let run = scratch.appendingPathComponent("run")
        let trainer = try makeTrainer(Self.gptConfig, overrides: ["training.steps=3"], runDirectory: run)
        _ = try trainer.run()
        let directory = checkpoint(run, step: 3)
        let script = """
            import hashlib, json, sys
            from safetensors.numpy import load_file
            out = {}
            for kind in ("model", "optimizer"):
                tensors = load_file(sys.argv[1] + "/" + kind + ".safetensors")
                for name, array in tensors.items():
                    assert array.dtype.name == "float32", array.dtype
                    out[kind + ":" + name] = [list(array.shape), hashlib.sha256(array.astype("<f4").tobytes()).hexdigest()]
            print(json.dumps(out))
            """
        let result = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                           arguments: ["python3", "-c", script, directory.path], timeout: 120)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let seen = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [Any]])

        func expect(_ key: String, shape: [Int], pointer: UnsafePointer<Float>, count: Int) {
            guard let entry = seen[key] else { return XCTFail("Python did not see \(key)") }
            XCTAssertEqual(entry[0] as? [Int], shape, key)
            XCTAssertEqual(entry[1] as? String,
                           SHA256.hex(of: Array(UnsafeRawBufferPointer(start: pointer, count: count * 4))), key)
        }
        let parameters = trainer.model.parameters
        for p in parameters.parameters {
            expect("model:\(p.name)", shape: p.shape, pointer: parameters.values.pointer + p.offset, count: p.count)
        }
        let states = trainer.optimizer.stateBuffers
        XCTAssertEqual(states.map(\.name), ["exp_avg", "exp_avg_sq"])
        for state in states {
            for p in parameters.parameters {
                expect("optimizer:\(state.name).\(p.name)", shape: p.shape, pointer: state.tensor.pointer + p.offset, count: p.count)
            }
        }
        XCTAssertEqual(seen.count, parameters.parameters.count * 3)
    }

    private func pythonHasSafetensors() -> Bool {
        let result = try? MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                            arguments: ["python3", "-c", "import safetensors.numpy, numpy"], timeout: 60)
        return result?.exitCode == 0
    }
}
