import Foundation
import MPIRunSupport
import XCTest

/// `ddp bench train` runs the real trainer under mpirun and reports consistent numbers.
final class BenchTests: XCTestCase {
    /// Runs `ddp bench train` on the test GPT at 2 ranks and parses its JSON.
    private func benchReport(_ overrides: [String], arguments: [String] = []) throws -> [String: Any] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddp-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("bench.yaml")
        try TestConfigs.gpt.write(to: config, atomically: true, encoding: .utf8)
        let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: 2,
                                    arguments: ["bench", "train", "--config", config.path, "--warmup", "1", "--steps", "3"]
                                        + overrides.flatMap { ["--set", $0] } + arguments,
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
        XCTAssertGreaterThan(try XCTUnwrap(report["averagingSeconds"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(report["averagingBusBandwidthGBs"] as? Double), 0)
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

    /// `--profile` accounts for the step region by region on rank 0: every
    /// kind of GPT kernel appears, matmul families carry FLOPs, and the
    /// regions add up to the profiled steps.
    func testProfileAccountsForTheStep() throws {
        let report = try benchReport(["optimizer.kind=adamw"], arguments: ["--profile", "--profile-steps", "2"])
        let profile = try XCTUnwrap(report["profile"] as? [String: Any], "\(report)")
        XCTAssertEqual(profile["rank"] as? Int, 0)
        XCTAssertEqual(profile["profiledSteps"] as? Int, 2)
        let regions = try XCTUnwrap(profile["regions"] as? [[String: Any]])
        let names = Set(regions.compactMap { $0["name"] as? String })
        for expected in ["attention products", "attention softmax", "gelu", "layer norm", "embedding",
                         "softmax and cross-entropy", "optimizer update", "gradient averaging", "data loading",
                         "mlp up forward", "mlp up weight gradient", "attention qkv input gradient"] {
            XCTAssertTrue(names.contains(expected), "no region \(expected) in \(names.sorted())")
        }
        for region in regions where region["group"] as? String == "matmul" {
            XCTAssertGreaterThan(try XCTUnwrap(region["gflops"] as? Double), 0, "\(region)")
            XCTAssertGreaterThan(try XCTUnwrap(region["toSgemmReference"] as? Double), 0, "\(region)")
        }
        let profiled = try XCTUnwrap(profile["profiledStepSeconds"] as? Double)
        let attributed = try XCTUnwrap(profile["attributedSecondsPerStep"] as? Double)
        let untracked = try XCTUnwrap(profile["untrackedSecondsPerStep"] as? Double)
        XCTAssertEqual(attributed + untracked, profiled, accuracy: 1e-9)
        XCTAssertGreaterThan(attributed, 0.5 * profiled, "most of the step falls outside every region")
        let shares = try XCTUnwrap(profile["groupShares"] as? [String: Double])
        XCTAssertEqual(shares.values.reduce(0, +), try XCTUnwrap(profile["sharesSum"] as? Double), accuracy: 1e-9)
        XCTAssertNotNil(report["sgemmReference"] as? String)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(report["sgemmGFLOPs"] as? Double),
                                    try XCTUnwrap(report["sgemmMedianGFLOPs"] as? Double))
    }

    /// The config chooses MPI collectives, and so does a bfloat16 exchange.
    func testTransportFollowsTheConfig() throws {
        let mpi = try benchReport(["parallel.transport=mpi"])
        XCTAssertEqual(mpi["transport"] as? String, "mpi")
        XCTAssertEqual(mpi["averagingSeconds"] as? Double, 0)
        XCTAssertEqual(try benchReport(["parallel.gradient_dtype=bf16"])["transport"] as? String, "mpi")
    }

    /// `--against-one-rank` times rank 0 alone and both ranks in alternating rounds of one job.
    func testSpeedupOverOneRankInTheSameJob() throws {
        let report = try benchReport([], arguments: ["--against-one-rank", "--rounds", "3"])
        let scaling = try XCTUnwrap(report["scaling"] as? [String: Any], "\(report)")
        XCTAssertEqual(scaling["rounds"] as? Int, 3)
        XCTAssertEqual(scaling["oneRankBatch"] as? Int, report["perRankBatch"] as? Int)
        let single = try XCTUnwrap(scaling["oneRankSamplesPerSecond"] as? [Double])
        let together = try XCTUnwrap(scaling["samplesPerSecond"] as? [Double])
        let speedups = try XCTUnwrap(scaling["speedups"] as? [Double])
        XCTAssertEqual(single.count, 3)
        XCTAssertEqual(together.count, 3)
        for i in 0..<3 {
            XCTAssertGreaterThan(single[i], 0)
            XCTAssertEqual(speedups[i], together[i] / single[i], accuracy: 1e-9)
        }
        XCTAssertEqual(try XCTUnwrap(scaling["medianSpeedup"] as? Double), speedups.sorted()[1], accuracy: 1e-12)
    }

    func testSpeedupOverOneRankNeedsSeveralRanks() throws {
        let result = try MPIRun.runProcess(executable: try MPIRun.executableURL(named: "ddp"),
                                           arguments: ["bench", "train", "--config", "configs/bench-mlp.yaml", "--against-one-rank"],
                                           timeout: 60)
        XCTAssertEqual(result.exitCode, 2, "\(result)")
        XCTAssertTrue(result.stderr.contains("--against-one-rank"), "\(result)")
    }
}
