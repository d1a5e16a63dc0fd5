import Checkpoint
import DDPTestSupport
import Foundation
import XCTest

/// `ddp inspect`: tensors, trainer state, and whether checksums hold,
/// including on a checkpoint damaged after it was written.
final class InspectCommandTests: InferenceTestCase {
    func testInspectListsTensorsStateAndCatchesCorruption() throws {
        let run = try trainRun(Self.classifierConfig.replacingOccurrences(of: "steps: 40", with: "steps: 6"), name: "inspect")
        let report = try CheckpointReport.inspect(run.path)
        XCTAssertEqual(URL(fileURLWithPath: report.path).lastPathComponent, "step-00000006")
        XCTAssertEqual(report.tensors.map(\.name).sorted(), ["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"])
        let weight = try XCTUnwrap(report.tensors.first { $0.name == "layers.0.weight" })
        XCTAssertEqual(weight.shape, [32, 12])
        XCTAssertEqual(weight.dtype, "F32")
        XCTAssertEqual(weight.bytes, 32 * 12 * 4)
        XCTAssertEqual(report.state?.step, 6)
        XCTAssertTrue(report.checksumsHold)
        // trainer.json records two files; SHA256SUMS covers those and trainer.json itself.
        XCTAssertEqual(Array(report.files.map(\.name).prefix(2)), ["model.safetensors", "optimizer.safetensors"])
        XCTAssertTrue(report.files.contains { $0.name == "trainer.json (SHA256SUMS)" && $0.ok }, "\(report.files)")

        let text = try ddp(["inspect", run.path])
        XCTAssertEqual(text.exitCode, 0, "\(text)")
        XCTAssertTrue(text.stdout.contains("layers.0.weight"), text.stdout)
        XCTAssertTrue(text.stdout.contains("[32, 12]"), text.stdout)
        XCTAssertTrue(text.stdout.contains("step 6,"), text.stdout)
        XCTAssertTrue(text.stdout.contains("checksums: hold"), text.stdout)

        // Flip one byte of the weights: the checksum no longer holds, and the command says so.
        let model = URL(fileURLWithPath: report.path).appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: model)
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: model)
        let damaged = try ddp(["inspect", report.path, "--json"])
        XCTAssertEqual(damaged.exitCode, 1, "\(damaged)")
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(damaged.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["checksums_hold"] as? Bool, false)
        let files = try XCTUnwrap(json["files"] as? [[String: Any]])
        XCTAssertEqual(files.first { $0["name"] as? String == "model.safetensors" }?["status"] as? String, "checksum mismatch")

        // A single safetensors file lists its tensors.
        let single = try ddp(["inspect", model.path])
        XCTAssertEqual(single.exitCode, 0, "\(single)")
        XCTAssertTrue(single.stdout.contains("tensors (4,"), single.stdout)

        let nothing = try ddp(["inspect", scratch.appendingPathComponent("absent").path])
        XCTAssertEqual(nothing.exitCode, 2, "\(nothing)")
        XCTAssertTrue(nothing.stderr.contains("no such file or directory"), nothing.stderr)
    }

    /// trainer.json, which cannot record its own digest, is checked against
    /// SHA256SUMS: an edited trainer.json does not pass as intact.
    func testEditedTrainerStateIsCaught() throws {
        let run = try trainRun(Self.classifierConfig.replacingOccurrences(of: "steps: 40", with: "steps: 4"), name: "edited")
        let checkpoint = URL(fileURLWithPath: try CheckpointReport.inspect(run.path).path)
        let state = checkpoint.appendingPathComponent("trainer.json")
        let text = try String(contentsOf: state, encoding: .utf8)
        try text.replacingOccurrences(of: "\"step\" : 4", with: "\"step\" : 5")
            .replacingOccurrences(of: "\"step\":4", with: "\"step\":5").write(to: state, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try String(contentsOf: state, encoding: .utf8), text, "the test must change trainer.json")
        let result = try ddp(["inspect", checkpoint.path])
        XCTAssertEqual(result.exitCode, 1, "\(result)")
        XCTAssertTrue(result.stdout.contains("checksums: DO NOT HOLD"), result.stdout)
        XCTAssertTrue(result.stdout.contains("trainer.json (SHA256SUMS)") && result.stdout.contains("checksum mismatch"), result.stdout)
    }

    /// A lone safetensors file cut short, or whose header's shape overflows
    /// when multiplied out, is reported (exit 1, or 2 naming the tensor), never a crash.
    func testDamagedLoneSafetensorsFilesAreReported() throws {
        let run = try trainRun(Self.classifierConfig.replacingOccurrences(of: "steps: 40", with: "steps: 2"), name: "lone")
        let model = URL(fileURLWithPath: try CheckpointReport.inspect(run.path).path).appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: model)
        let truncated = scratch.appendingPathComponent("truncated.safetensors")
        try bytes.prefix(bytes.count - 100).write(to: truncated)
        let cut = try ddp(["inspect", truncated.path])
        XCTAssertEqual(cut.exitCode, 1, "\(cut)")
        XCTAssertTrue(cut.stdout.contains("wrong size"), cut.stdout)
        XCTAssertEqual(try ddp(["inspect", model.path]).exitCode, 0)

        for (shape, offsets) in [("[4611686018427387904, 4]", "[0, 16]"), ("[9223372036854775807]", "[0, 4]"),
                                 ("[2]", "[1, -9223372036854775808]"), ("[1e30]", "[0, 4]")] {
            let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":\(offsets)}}"
            var file = Data()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
            file.append(Data(header.utf8))
            file.append(Data(count: 16))
            let hostile = scratch.appendingPathComponent("hostile.safetensors")
            try file.write(to: hostile)
            let result = try ddp(["inspect", hostile.path])
            XCTAssertTrue(result.exitCode == 1 || result.exitCode == 2, "shape \(shape): \(result)")
            XCTAssertTrue((result.stdout + result.stderr).contains("hostile.safetensors"), "shape \(shape): \(result)")
            XCTAssertFalse(result.stderr.contains("Fatal error"), "shape \(shape): \(result)")
        }
    }
}
