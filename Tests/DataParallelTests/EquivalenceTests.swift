import XCTest

/// N ranks with per-rank batch B/N must train to the parameters one rank
/// reaches with batch B: the averaged gradient is the same mean, up to
/// rounding in a different summation order.
final class EquivalenceTests: XCTestCase {
    static let tolerance = 1e-5

    /// Runs `job` on one process and on each of `ranks`, comparing parameters.
    private func assertEquivalent(_ job: DDPJob, ranks: [Int], reference: [Float]? = nil,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let single = try reference ?? job.parameters(ranks: 1, file: file, line: line)
        for n in ranks {
            let parallel = try job.parameters(ranks: n, file: file, line: line)
            guard parallel.count == single.count else {
                return XCTFail("\(n) ranks exported \(parallel.count) parameters, 1 rank \(single.count)", file: file, line: line)
            }
            let difference = relativeDifference(parallel, single)
            XCTAssertLessThanOrEqual(difference, Self.tolerance, "\(n) ranks vs 1: relative difference \(difference)",
                                     file: file, line: line)
            // Training must have moved the parameters, or equality proves nothing.
            XCTAssertNotEqual(parallel, try DDPJob(yaml: job.yaml, overrides: job.overrides + ["training.steps=1"])
                .parameters(ranks: 1, file: file, line: line), file: file, line: line)
        }
    }

    func testMLPWithSGDMomentum() throws {
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp), ranks: [2, 4])
    }

    func testMLPWithAdamW() throws {
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: TestConfigs.adamW), ranks: [2, 4])
    }

    func testCNNWithSGDMomentum() throws {
        try assertEquivalent(DDPJob(yaml: TestConfigs.cnn), ranks: [2, 4])
    }

    func testCNNWithAdamW() throws {
        try assertEquivalent(DDPJob(yaml: TestConfigs.cnn, overrides: TestConfigs.adamW), ranks: [2])
    }

    func testGPTWithSGDMomentum() throws {
        try assertEquivalent(DDPJob(yaml: TestConfigs.gpt), ranks: [2, 4])
    }

    func testGPTWithAdamW() throws {
        try assertEquivalent(DDPJob(yaml: TestConfigs.gpt, overrides: TestConfigs.adamW), ranks: [2])
    }

    /// One bucket per few floats, the default, and one bucket for the model.
    func testBucketSizes() throws {
        let reference = try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 1)
        for megabytes in ["0.0001", "4", "1000"] {
            try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: ["parallel.bucket_mb=\(megabytes)"]),
                                 ranks: [2], reference: reference)
        }
    }

    func testOverlapOff() throws {
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: ["parallel.overlap=false", "parallel.bucket_mb=0.001"]),
                             ranks: [2])
    }

    /// The MPI transport (the default averages in shared memory when the
    /// ranks share a node), with both ways of driving its progress.
    func testMPITransport() throws {
        let reference = try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 1)
        let mpi = ["parallel.transport=mpi", "parallel.bucket_mb=0.001"]
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: mpi, arguments: ["--progress", "polling"]),
                             ranks: [2, 4], reference: reference)
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: mpi, arguments: ["--progress", "thread"]),
                             ranks: [2], reference: reference)
    }

    /// K micro-batches reduced once equal one batch of K times the size.
    func testAccumulation() throws {
        let reference = try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 1)
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: ["training.accumulation=4"]),
                             ranks: [2], reference: reference)
        let accumulated = try DDPJob(yaml: TestConfigs.mlp, overrides: ["training.accumulation=4"]).parameters(ranks: 1)
        XCTAssertLessThanOrEqual(relativeDifference(accumulated, reference), Self.tolerance)
    }

    /// ZeRO-1 (sharded optimizer state, gradients reduced to owners, parameters
    /// all-gathered) equals plain data parallelism, also with global-norm clipping.
    func testZeroStageOne() throws {
        let adamW = DDPJob(yaml: TestConfigs.mlp, overrides: TestConfigs.adamW + ["parallel.zero=1", "parallel.bucket_mb=0.002"])
        let plain = try DDPJob(yaml: TestConfigs.mlp, overrides: TestConfigs.adamW).parameters(ranks: 1)
        try assertEquivalent(adamW, ranks: [2, 4], reference: plain)
        try assertEquivalent(DDPJob(yaml: adamW.yaml, overrides: adamW.overrides + ["parallel.transport=mpi"]),
                             ranks: [2], reference: plain)

        let clipped = ["optimizer.clip_norm=0.5"]
        let clippedPlain = try DDPJob(yaml: TestConfigs.mlp, overrides: clipped).parameters(ranks: 1)
        XCTAssertGreaterThan(relativeDifference(clippedPlain, try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 1)), 1e-3,
                             "clipping at 0.5 should change the run")
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: clipped + ["parallel.zero=1"]),
                             ranks: [2], reference: clippedPlain)
    }

    /// The hierarchical transport (shared memory inside a host, MPI between
    /// hosts) on one machine split into two pretend hosts of two ranks:
    /// the MLP with both optimizers, ZeRO-1, and one-float buckets.
    func testHierarchicalTransportOnSimulatedHosts() throws {
        let hosts = ["DDP_TEST_SIMULATED_HOSTS": "2"]
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, environment: hosts), ranks: [4])
        let adamW = try DDPJob(yaml: TestConfigs.mlp, overrides: TestConfigs.adamW).parameters(ranks: 1)
        for extra in [[], ["parallel.zero=1"], ["parallel.bucket_mb=0.0001"]] {
            try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: TestConfigs.adamW + extra, environment: hosts),
                                 ranks: [4], reference: adamW)
        }
        try assertEquivalent(DDPJob(yaml: TestConfigs.gpt, environment: hosts), ranks: [4])
    }
}
