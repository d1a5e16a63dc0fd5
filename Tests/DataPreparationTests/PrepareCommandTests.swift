import DataPipeline
import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// `ddp prepare` as a user runs it: the summary line, and bad input as one line with exit code 2.
final class PrepareCommandTests: ScratchTestCase {
    override class var scratchPrefix: String { "ddp-prepare-cli" }

    func testPreparesAndReportsThroughput() throws {
        let text = scratch.appendingPathComponent("a.txt")
        try String(repeating: "to be or not to be\n", count: 200).write(to: text, atomically: true, encoding: .utf8)
        let output = scratch.appendingPathComponent("out").path
        let result = try ddp(["prepare", "text", text.path, "--output", output])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("prepared 3800 tokens (vocabulary 8, uint16) in 1 shards"), result.stdout)
        XCTAssertTrue(result.stdout.contains("MB/s"), result.stdout)
        XCTAssertTrue(result.stderr.contains("prepare text: 100%"), result.stderr)
        XCTAssertEqual(try PreparedManifest.load(directory: output).count, 3800)

        let again = try ddp(["prepare", "text", text.path, "--output", output, "--quiet"])
        XCTAssertEqual(again.exitCode, 2, "\(again)")
        XCTAssertTrue(again.stderr.contains("ddp: error: \(output) exists already"), again.stderr)
    }

    func testBadOptionsAndInputsExitTwoWithOneLine() throws {
        let folder = scratch.appendingPathComponent("classes/a")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(pngFile(width: 2, height: 2, channels: 1, pixels: [1, 2, 3, 4])).write(to: folder.appendingPathComponent("x.png"))
        let out = scratch.appendingPathComponent("o").path
        let cases: [([String], String)] = [
            (["prepare", "text", scratch.appendingPathComponent("none.txt").path, "-o", out], "none.txt: no such file"),
            (["prepare", "text", folder.path, "-o", out, "--tokenizer", "words"], "--tokenizer words is not characters or sentencepiece"),
            (["prepare", "images", scratch.appendingPathComponent("classes").path, "-o", out, "--size", "0x3"], "--size 0x3"),
            (["prepare", "images", scratch.appendingPathComponent("classes").path, "-o", out, "--fit", "squash"], "--fit squash"),
            (["prepare", "images", folder.path, "-o", out], "has no class subfolders"),
            (["prepare", "table", folder.appendingPathComponent("x.png").path, "-o", out], "not valid UTF-8"),
        ]
        for (arguments, message) in cases {
            let result = try ddp(arguments + ["--quiet"])
            XCTAssertEqual(result.exitCode, 2, "\(arguments): \(result)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(arguments): \(result.stderr)")
        }
    }
}
