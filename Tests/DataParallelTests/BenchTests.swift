import Foundation
import MPIRunSupport
import XCTest

/// `ddp bench train` runs the real trainer under mpirun and reports consistent numbers.
final class BenchTests: XCTestCase {
    /// Runs `ddp bench train` on the test GPT at 2 ranks and parses its JSON.
    private func benchReport(_ overrides: [String]) throws -> [String: Any] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddp-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("bench.yaml")
        try TestConfigs.gpt.write(to: config, atomically: true, encoding: .utf8)
        let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: 2,
                                    arguments: ["bench", "train", "--config", config.path, "--warmup", "1", "--steps", "3"]
                                        + overrides.flatMap { ["--set", $0] },
                                    timeout: 240)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let json = try XCTUnwrap(result.stdout.firstIndex(of: "{").map { String(result.stdout[$0...]) }, "\(result)")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    func testBenchTrainReportsAtTwoRanks() throws {
        let report = try benchReport(["parallel.zero=1", "optimizer.kind=adamw"])
        XCTAssertEqual(report["ranks"] as? Int, 2)
        // Both ranks run on this machine, so gradients are averaged in shared memory.
        XCTAssertEqual(report["transport"] as? String, "shared_memory")
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

    /// The config chooses MPI collectives, and so does a bfloat16 exchange.
    func testTransportFollowsTheConfig() throws {
        XCTAssertEqual(try benchReport(["parallel.transport=mpi"])["transport"] as? String, "mpi")
        XCTAssertEqual(try benchReport(["parallel.gradient_dtype=bf16"])["transport"] as? String, "mpi")
    }
}
