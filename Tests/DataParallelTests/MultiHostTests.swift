import Foundation
import MPIRunSupport
import XCTest

/// Training across real hosts: the network-namespace hosts of
/// `launch/test-cluster.sh`, each with its own network stack, address,
/// hostname and cores, ranks started on them by mpirun through the
/// cluster's rsh agent. Run by `launch/cluster-test.sh` (root), which brings
/// the cluster up and tears it down; without it every test fails.
///
/// N ranks must still train to the parameters one rank reaches with the
/// whole batch, and `parallel.consistency_every` makes every run compare a
/// checksum of every replica's parameters across the hosts, so a run whose
/// replicas drift apart fails.
final class MultiHostTests: XCTestCase {
    private var cluster: TestCluster!
    static let tolerance = 1e-5
    /// The consistency check compares replicas at steps 10 and 20 (the end).
    static let checked = ["parallel.consistency_every=10"]

    override func setUpWithError() throws {
        cluster = try TestCluster.current()
        XCTAssertGreaterThanOrEqual(cluster.hosts.count, 2, "the test cluster has \(cluster.hosts.count) host(s)")
    }

    /// Runs `job` on `ranks` ranks spread over the hosts and compares with
    /// `reference` (one rank, the whole batch).
    private func assertEquivalent(_ job: DDPJob, ranks: Int, reference: [Float], tolerance: Double = tolerance,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        var checked = job
        checked.overrides += Self.checked
        let outcome = try checked.run(ranks: ranks, cluster: cluster)
        XCTAssertEqual(outcome.result.exitCode, 0, "\(outcome.result)", file: file, line: line)
        guard outcome.parameters.count == reference.count else {
            return XCTFail("\(ranks) ranks exported \(outcome.parameters.count) parameters, 1 rank \(reference.count)",
                           file: file, line: line)
        }
        let difference = relativeDifference(outcome.parameters, reference)
        XCTAssertLessThanOrEqual(difference, tolerance, "\(ranks) ranks on \(cluster.hosts.count) hosts vs 1: \(difference)",
                                 file: file, line: line)
    }

    /// The cases both layouts run: each model, both optimizers, ZeRO-1 on and off.
    private func assertModelsEquivalent(ranks: Int, transport: [String] = []) throws {
        let cases: [(String, [String])] = [
            (TestConfigs.mlp, []),
            (TestConfigs.mlp, TestConfigs.adamW + ["parallel.zero=1"]),
            (TestConfigs.cnn, []),
            (TestConfigs.cnn, TestConfigs.adamW),
            (TestConfigs.gpt, TestConfigs.adamW + ["parallel.zero=1"]),
            (TestConfigs.gpt, []),
        ]
        for (yaml, overrides) in cases {
            let reference = try DDPJob(yaml: yaml, overrides: overrides).parameters(ranks: 1)
            try assertEquivalent(DDPJob(yaml: yaml, overrides: overrides + transport), ranks: ranks, reference: reference)
        }
    }

    /// 2 hosts x 1 rank: flat MPI over TCP.
    func testTwoHostsOneRankEachEqualOneRank() throws {
        try assertModelsEquivalent(ranks: cluster.hosts.count)
    }

    /// 2 hosts x 2 ranks: shared memory inside each host, MPI between them.
    func testTwoHostsTwoRanksEachEqualOneRank() throws {
        try assertModelsEquivalent(ranks: 2 * cluster.hosts.count)
    }

    /// The same layout through flat MPI (`parallel.transport: mpi`), and one-float buckets hierarchically.
    func testTwoHostsTwoRanksEachFlatMPIAndTinyBuckets() throws {
        let reference = try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 1)
        let ranks = 2 * cluster.hosts.count
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: ["parallel.transport=mpi"]), ranks: ranks, reference: reference)
        try assertEquivalent(DDPJob(yaml: TestConfigs.mlp, overrides: ["parallel.bucket_mb=0.0001"]), ranks: ranks,
                             reference: reference)
    }

    /// bf16 on the wire between hosts, with and without ZeRO-1, at both layouts:
    /// close to the Float32 result, not equal to it.
    func testBFloat16AcrossHosts() throws {
        let full = try DDPJob(yaml: TestConfigs.mlp).parameters(ranks: 1)
        for ranks in [cluster.hosts.count, 2 * cluster.hosts.count] {
            for zero in ["0", "1"] {
                let job = DDPJob(yaml: TestConfigs.mlp,
                                 overrides: ["parallel.gradient_dtype=bf16", "parallel.zero=\(zero)"] + Self.checked)
                let outcome = try job.run(ranks: ranks, cluster: cluster)
                XCTAssertEqual(outcome.result.exitCode, 0, "\(outcome.result)")
                guard outcome.parameters.count == full.count else { continue }
                let difference = relativeDifference(outcome.parameters, full)
                XCTAssertGreaterThan(difference, 0, "\(ranks) ranks, zero \(zero): bf16 changed nothing")
                XCTAssertLessThan(difference, 0.02, "\(ranks) ranks, zero \(zero)")
            }
        }
    }

    /// `ddp bench train` across hosts names the layout, chooses the
    /// hierarchical transport for 2 ranks per host and flat MPI for one, and
    /// counts what crossed the network against the layout's minimum.
    func testBenchAcrossHostsReportsTheNetwork() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddp-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("bench.yaml")
        try TestConfigs.mlp.replacingOccurrences(of: "hidden: [48, 24]", with: "hidden: [512]")
            .write(to: config, atomically: true, encoding: .utf8)
        let hosts = cluster.hosts.count
        for (perHost, transport) in [(1, "mpi"), (2, "hierarchical")] {
            let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: hosts * perHost,
                                        arguments: ["bench", "train", "--config", config.path, "--warmup", "2", "--steps", "10"],
                                        timeout: 240, cluster: cluster)
            XCTAssertEqual(result.exitCode, 0, "\(result)")
            let json = try XCTUnwrap(result.stdout.firstIndex(of: "{").map { String(result.stdout[$0...]) }, "\(result)")
            let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            XCTAssertEqual(report["transport"] as? String, transport, "\(perHost) per host")
            let network = try XCTUnwrap(report["network"] as? [String: Any], "\(report)")
            XCTAssertEqual(network["hosts"] as? Int, hosts)
            XCTAssertEqual(network["ranksPerHost"] as? [Int], Array(repeating: perHost, count: hosts))
            XCTAssertEqual(Set(try XCTUnwrap(network["hostNames"] as? [String])).count, hosts, "\(network)")
            let sent = try XCTUnwrap(network["sentBytesPerStepPerHost"] as? [Double], "\(network)")
            let minimum = try XCTUnwrap(network["minimumBytesPerStepPerHost"] as? Double)
            // The gradients really crossed the network, about once per host with either transport.
            // The gradients really crossed the network, once per host with
            // either transport (headers and acknowledgements on top).
            for bytes in sent {
                XCTAssertGreaterThan(bytes, 0.95 * minimum, "\(perHost) per host: \(network)")
                XCTAssertLessThan(bytes, 1.3 * minimum, "\(perHost) per host: \(network)")
            }
            XCTAssertGreaterThan(try XCTUnwrap(network["rawTCPGBs"] as? Double, "\(network)"), 0)
        }
    }
}
