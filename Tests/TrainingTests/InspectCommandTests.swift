import Foundation
import Training
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
        XCTAssertEqual(report.files.map(\.name), ["model.safetensors", "optimizer.safetensors"])

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
}
