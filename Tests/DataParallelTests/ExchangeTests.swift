import XCTest

/// The optional exchange modes and the failure paths, under real mpirun.
final class ExchangeTests: XCTestCase {
    /// bf16 gradient exchange tracks the Float32 loss curve on MNIST.
    func testBFloat16LossCurveFollowsFloat32() throws {
        let yaml = """
            model:
              kind: mlp
              hidden: [64]
            data:
              dataset: mnist
              normalize: scale
            training:
              batch_size: 64
              steps: 200
              epochs: 0
              log_every: 20
              eval_batches: 1
              eval_batch_size: 100
            optimizer:
              kind: sgd
              lr: 0.05
              momentum: 0.9
            """
        let float32 = try DDPJob(yaml: yaml).run(ranks: 2)
        let bfloat16 = try DDPJob(yaml: yaml, overrides: ["parallel.gradient_dtype=bf16"]).run(ranks: 2)
        XCTAssertEqual(float32.result.exitCode, 0, "\(float32.result)")
        XCTAssertEqual(bfloat16.result.exitCode, 0, "\(bfloat16.result)")
        XCTAssertEqual(float32.trainLosses.count, 10)
        XCTAssertEqual(bfloat16.trainLosses.count, float32.trainLosses.count)
        for (index, (low, full)) in zip(bfloat16.trainLosses, float32.trainLosses).enumerated() {
            XCTAssertLessThanOrEqual(abs(low - full) / full, 0.02,
                                     "window \(index): bf16 loss \(low) vs float32 \(full)")
        }
        // Learning happened, and bf16 really changed the bits.
        XCTAssertLessThan(float32.trainLosses.last!, float32.trainLosses.first! * 0.5)
        XCTAssertNotEqual(bfloat16.parameters, float32.parameters)
        XCTAssertLessThan(relativeDifference(bfloat16.parameters, float32.parameters), 0.05)
    }

    /// bf16 also composes with ZeRO-1 and 4 ranks.
    func testBFloat16WithZeroAtFourRanks() throws {
        let job = DDPJob(yaml: TestConfigs.mlp, overrides: ["parallel.gradient_dtype=bf16", "parallel.zero=1"])
        let low = try job.parameters(ranks: 4)
        let full = try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 1)
        let difference = relativeDifference(low, full)
        XCTAssertGreaterThan(difference, 0)
        XCTAssertLessThan(difference, 0.02)
    }

    /// bf16 between two pretend hosts of two ranks (the hierarchical
    /// transport rounds each host's sum), with and without ZeRO-1.
    func testBFloat16BetweenSimulatedHosts() throws {
        let full = try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 1)
        for zero in ["0", "1"] {
            let job = DDPJob(yaml: TestConfigs.mlp, overrides: ["parallel.gradient_dtype=bf16", "parallel.zero=\(zero)"],
                             environment: ["DDP_TEST_SIMULATED_HOSTS": "2"])
            let difference = relativeDifference(try job.parameters(ranks: 4), full)
            XCTAssertGreaterThan(difference, 0, "zero \(zero)")
            XCTAssertLessThan(difference, 0.02, "zero \(zero)")
        }
    }

    /// ZeRO-1 with AdamW at 2 ranks keeps at most 55% of the plain run's optimizer state per rank.
    func testZeroShardsOptimizerState() throws {
        func stateBytes(_ outcome: DDPJob.Outcome) -> Int? {
            for line in outcome.result.stdoutLines where line.hasPrefix("ddp: optimizer state ") {
                return Int(line.dropFirst("ddp: optimizer state ".count).split(separator: " ")[0])
            }
            return nil
        }
        let plain = try DDPJob(yaml: TestConfigs.mlp, overrides: TestConfigs.adamW + ["training.steps=2"]).run(ranks: 2)
        let zero = try DDPJob(yaml: TestConfigs.mlp, overrides: TestConfigs.adamW + ["training.steps=2", "parallel.zero=1"])
            .run(ranks: 2)
        let plainBytes = try XCTUnwrap(stateBytes(plain), "\(plain.result)")
        let zeroBytes = try XCTUnwrap(stateBytes(zero), "\(zero.result)")
        XCTAssertGreaterThan(zeroBytes, 0)
        XCTAssertLessThanOrEqual(Double(zeroBytes) / Double(plainBytes), 0.55, "\(zeroBytes) vs \(plainBytes) bytes")
    }

    /// Ranks that build different models stop together, with the named error, before training.
    func testStructureMismatchStopsEveryRank() throws {
        let job = DDPJob(yaml: TestConfigs.mlp, arguments: ["--rank-override", "1:model.hidden=[48, 25]"])
        let start = Date()
        let outcome = try job.run(ranks: 2, timeout: 60)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
        XCTAssertNotEqual(outcome.result.exitCode, 0)
        XCTAssertTrue(outcome.result.stderr.contains("rank 1 differs from rank 0"), "\(outcome.result)")
        XCTAssertTrue(outcome.parameters.isEmpty)
    }

    /// One process without mpirun trains and exports too.
    func testSingleProcessWithoutLauncher() throws {
        let alone = try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 0)
        let launched = try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 1)
        XCTAssertEqual(alone, launched)
    }

    /// A NaN gradient on one rank, with finite losses, stops every rank at that
    /// step. Rank 0 poisons its last gradient, which rank 1 averages in shared
    /// memory: the check must combine what each rank saw while averaging.
    func testNonFiniteGradientOnOneRankStopsEveryRank() throws {
        // "hierarchical": two pretend hosts of two ranks; rank 0's NaN is averaged by rank 1 of the host.
        for transport in ["auto", "mpi", "hierarchical"] {
            for zero in ["0", "1"] {
                var environment = ["DDP_TEST_NAN_RANK": "0", "DDP_TEST_NAN_STEP": "3"]
                if transport == "hierarchical" { environment["DDP_TEST_SIMULATED_HOSTS"] = "2" }
                let job = DDPJob(yaml: TestConfigs.mlp,
                                 overrides: ["parallel.transport=\(transport == "mpi" ? "mpi" : "auto")", "parallel.zero=\(zero)"],
                                 environment: environment)
                let outcome = try job.run(ranks: transport == "hierarchical" ? 4 : 2, timeout: 60)
                XCTAssertNotEqual(outcome.result.exitCode, 0, "transport \(transport), zero \(zero): \(outcome.result)")
                XCTAssertTrue(outcome.result.stderr.contains("step 3: a gradient is not finite (NaN or Inf); training.on_anomaly: stop"),
                              "transport \(transport), zero \(zero): \(outcome.result)")
            }
        }
    }
}
