import Foundation
import MPIRunSupport
import XCTest

/// `ddp bench train` runs the real trainer under mpirun and reports consistent numbers.
final class BenchTests: XCTestCase {
    func testBenchTrainReportsAtTwoRanks() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddp-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("bench.yaml")
        try TestConfigs.gpt.write(to: config, atomically: true, encoding: .utf8)
        let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: 2,
                                    arguments: ["bench", "train", "--config", config.path, "--warmup", "1", "--steps", "3",
                                                "--set", "parallel.zero=1", "--set", "optimizer.kind=adamw"],
                                    timeout: 240)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let json = try XCTUnwrap(result.stdout.firstIndex(of: "{").map { String(result.stdout[$0...]) }, "\(result)")
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(report["ranks"] as? Int, 2)
        XCTAssertEqual(report["model"] as? String, "gpt")
        let step = try XCTUnwrap(report["stepSeconds"] as? Double)
        let compute = try XCTUnwrap(report["computeSeconds"] as? Double)
        let exposed = try XCTUnwrap(report["exposedCommunicationSeconds"] as? Double)
        XCTAssertGreaterThan(step, 0)
        XCTAssertEqual(compute + exposed, step, accuracy: 1e-9)
        XCTAssertGreaterThan(try XCTUnwrap(report["sgemmGFLOPs"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(report["modelFlopUtilization"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(report["tokensPerSecond"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(report["reducedBytesPerStep"] as? Int), 0)
        // ZeRO-1 at 2 ranks: Adam's two moments for about half the parameters.
        let parameters = try XCTUnwrap(report["parameters"] as? Int)
        let state = try XCTUnwrap(report["optimizerStateBytesPerRank"] as? Int)
        XCTAssertLessThanOrEqual(Double(state), 0.55 * Double(parameters * 8))
    }
}
