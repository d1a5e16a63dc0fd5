import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// `ddp plot` as a user runs it.
final class PlotCommandTests: ScratchTestCase {
    override class var scratchPrefix: String { "ddp-observe" }

    func testWritesTheSVGToTheRunDirectoryAndToOut() throws {
        let run = scratch.appendingPathComponent("my-run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try PlotTests.syntheticMetrics().write(to: run.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)

        let result = try ddp(["plot", run.path])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let svg = try String(contentsOf: run.appendingPathComponent("plot.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains(">my-run</text>"), "titled with the run directory's name")
        XCTAssertEqual(PlotTests.polyline("train loss", in: svg)?.count, 10)
        XCTAssertTrue(result.stdout.contains("wrote \(run.path)/plot.svg (12 records)"), result.stdout)
        if result.stdout.contains("plot.png (with") {
            let png = try Data(contentsOf: run.appendingPathComponent("plot.png"))
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a real PNG")
        } else {
            XCTAssertTrue(result.stdout.contains("no PNG"), result.stdout)
        }

        let out = scratch.appendingPathComponent("elsewhere.svg")
        XCTAssertEqual(try ddp(["plot", run.path, "--out", out.path]).exitCode, 0)
        XCTAssertEqual(try String(contentsOf: out, encoding: .utf8), svg)
    }

    func testMalformedAndMissingMetricsAreOneLineErrors() throws {
        let run = scratch.appendingPathComponent("bad")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let metrics = run.appendingPathComponent("metrics.jsonl")
        try "{\"kind\":\"train\",\"step\":1,\"loss\":1}\n{\"kind\":\"train\",\"step\":2,\"loss\":1.5\n"
            .write(to: metrics, atomically: true, encoding: .utf8)
        let malformed = try ddp(["plot", run.path])
        XCTAssertEqual(malformed.exitCode, 2, "\(malformed)")
        XCTAssertTrue(malformed.stderr.contains("ddp: error: \(metrics.path):2: not valid JSON"), malformed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.appendingPathComponent("plot.svg").path))

        let missing = try ddp(["plot", scratch.appendingPathComponent("absent").path])
        XCTAssertEqual(missing.exitCode, 2, "\(missing)")
        XCTAssertTrue(missing.stderr.contains("absent/metrics.jsonl: no such file"), missing.stderr)
        XCTAssertFalse(missing.stderr.contains("Fatal error"), missing.stderr)
    }
}
