import Foundation
import MPIRunSupport
import XCTest

/// Runs the `mpi-checks` executable under real `mpirun`.
final class MultiRankTests: XCTestCase {
    /// Check lines every full run must print, one per kind of scenario.
    let expectedLines = [
        "PASS allreduce.Float.sum.inplace",
        "PASS allreduce.UInt16.sum.outofplace",
        "PASS allreduce.Int64.product.inplace",
        "PASS broadcast.Double.root-last",
        "PASS allgather.Int32",
        "PASS allgatherv.UInt8.counts-rank-plus-one",
        "PASS reducescatter.Float.sum",
        "PASS gather.Int64.root-last",
        "PASS nonblocking.allreduce.inplace.test-while-computing",
        "PASS nonblocking.waitall.buckets",
        "PASS comm.duplicate",
        "PASS comm.split.even-odd",
        "PASS error.invalid-root-throws",
        "PASS error.continues-after-error",
        "PASS custom-op.blocking",
        "PASS custom-op.nonblocking",
        "PASS shared-memory.regions-visible-to-all",
        "PASS shared-memory.counter-publishes-data",
        "PASS shared-memory.nothing-left-in-dev-shm",
    ]

    func checks() throws -> URL {
        try MPIRun.executableURL(named: "mpi-checks")
    }

    func runAll(ranks: Int) throws {
        let result = try MPIRun.run(executable: checks(), ranks: ranks, arguments: ["all"], timeout: 60)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let lines = Set(result.stdoutLines)
        for line in expectedLines {
            XCTAssertTrue(lines.contains(line), "missing '\(line)' in\n\(result)")
        }
        XCTAssertFalse(result.stdout.contains("FAIL"), "\(result)")
        XCTAssertTrue(result.stdout.contains("INFO size \(ranks),"), "\(result)")
        XCTAssertTrue(result.stdout.contains("0 failed"), "\(result)")
    }

    func testAllChecksOnTwoRanks() throws {
        try runAll(ranks: 2)
    }

    func testAllChecksOnFourRanksOversubscribed() throws {
        try runAll(ranks: 4)
    }

    func testFailureOnOneRankFailsTheJobWithoutHanging() throws {
        let result = try MPIRun.run(executable: checks(), ranks: 2, arguments: ["selftest-fail"], timeout: 60)
        XCTAssertNotEqual(result.exitCode, 0, "\(result)")
        XCTAssertTrue(result.stdoutLines.contains("FAIL selftest.fails-on-last-rank"), "\(result)")
        XCTAssertTrue(result.stderr.contains("rank 1: selftest.fails-on-last-rank"), "\(result)")
    }

    func testTimeoutKillsEveryRank() throws {
        let start = Date()
        XCTAssertThrowsError(try MPIRun.run(executable: checks(), ranks: 2, arguments: ["hang"], timeout: 3)) {
            guard case MPIRunError.timedOut = $0 else { return XCTFail("unexpected error \($0)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
        // No rank of the killed job may survive it.
        let survivors = try livingProcesses(named: "mpi-checks").filter { $0.arguments.contains("hang") }
        XCTAssertTrue(survivors.isEmpty, "left running: \(survivors)")
    }

    func testSingleProcessUsesLocalFallback() throws {
        let result = try MPIRun.runProcess(executable: checks(), arguments: ["communicators", "custom-op"], timeout: 60)
        // Not launched by mpirun, so the launch check alone fails.
        XCTAssertEqual(result.exitCode, 1, "\(result)")
        XCTAssertTrue(result.stdout.contains("INFO size 1,"), "\(result)")
        XCTAssertTrue(result.stdoutLines.contains("FAIL environment.launched"), "\(result)")
        XCTAssertTrue(result.stdoutLines.contains("PASS comm.split.even-odd"), "\(result)")
        XCTAssertTrue(result.stdoutLines.contains("PASS custom-op.blocking"), "\(result)")
    }

    func testInvalidRootIsAPreconditionFailure() throws {
        let result = try MPIRun.runProcess(executable: checks(), arguments: ["misuse-root"], timeout: 60)
        XCTAssertNotEqual(result.exitCode, 0, "\(result)")
        XCTAssertFalse(result.stdout.contains("UNREACHABLE"), "\(result)")
    }

    func testMissingExecutableIsReported() {
        XCTAssertThrowsError(try MPIRun.executableURL(named: "no-such-product-here")) {
            guard case MPIRunError.executableNotFound(let name, let searched) = $0 else {
                return XCTFail("unexpected error \($0)")
            }
            XCTAssertEqual(name, "no-such-product-here")
            XCTAssertFalse(searched.isEmpty)
        }
    }

    func testChildEnvironmentDropsLauncherVariables() {
        setenv("OMPI_COMM_WORLD_SIZE_TEST_LEAK", "1", 1)
        setenv("PMIX_TEST_LEAK", "1", 1)
        defer {
            unsetenv("OMPI_COMM_WORLD_SIZE_TEST_LEAK")
            unsetenv("PMIX_TEST_LEAK")
        }
        let environment = MPIRun.childEnvironment(adding: ["EXTRA_VARIABLE": "x"])
        XCTAssertNil(environment["OMPI_COMM_WORLD_SIZE_TEST_LEAK"])
        XCTAssertNil(environment["PMIX_TEST_LEAK"])
        XCTAssertEqual(environment["EXTRA_VARIABLE"], "x")
        XCTAssertNotNil(environment["PATH"])
    }

    /// Live (non-zombie) processes whose executable name is `name`.
    func livingProcesses(named name: String) throws -> [(pid: String, arguments: [String])] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { entry in
            guard Int(entry) != nil,
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"),
                  stat[stat.index(after: close)...].split(separator: " ").first != "Z",
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let first = arguments.first, first.hasSuffix("/" + name) || first == name else { return nil }
            return (entry, arguments)
        }
    }
}
