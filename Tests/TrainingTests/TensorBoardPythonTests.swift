import DDPTestSupport
import Foundation
import MPIRunSupport
@testable import RunLog
import XCTest

/// Event files read back by the Python `tensorboard` package, the reader
/// `tensorboard --logdir` itself uses (installed by launch/test.sh).
final class TensorBoardPythonTests: XCTestCase {
    /// Prints, as the last line, JSON of the first event's file_version and every scalar tag's (step, value) pairs.
    static let reader = """
        import json, sys
        from tensorboard.backend.event_processing import event_file_loader
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        path = sys.argv[1]
        first = next(iter(event_file_loader.LegacyEventFileLoader(path).Load()))
        accumulator = EventAccumulator(path, size_guidance={"scalars": 0})
        accumulator.Reload()
        scalars = {tag: [[e.step, e.value, e.wall_time] for e in accumulator.Scalars(tag)]
                   for tag in accumulator.Tags()["scalars"]}
        print(json.dumps({"file_version": first.file_version, "scalars": scalars}))
        """

    struct Readback {
        var fileVersion: String
        var scalars: [String: [(step: Int, value: Double, wallTime: Double)]]
    }

    /// Reads `file` with TensorBoard's loaders, or skips when the package is missing.
    static func readWithTensorBoard(_ file: URL) throws -> Readback {
        let probe = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                          arguments: ["python3", "-c", "import tensorboard"], timeout: 120)
        guard probe.exitCode == 0 else {
            throw Prerequisite.missing("the Python tensorboard package is not installed (pip install tensorboard; launch/test.sh does it): "
                          + probe.stderr.suffix(200))
        }
        let result = try MPIRun.runProcess(executable: URL(fileURLWithPath: "/usr/bin/env"),
                                           arguments: ["python3", "-c", reader, file.path], timeout: 120)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let line = try XCTUnwrap(result.stdoutLines.last(where: { $0.hasPrefix("{") }), "\(result)")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        var readback = Readback(fileVersion: object["file_version"] as? String ?? "", scalars: [:])
        for (tag, events) in object["scalars"] as? [String: [[Double]]] ?? [:] {
            readback.scalars[tag] = events.map { (Int($0[0]), $0[1], $0[2]) }
        }
        return readback
    }

    func testTensorBoardReadsTheScalarsBack() throws {
        let directory = try observeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try TensorBoardEventWriter(directory: directory, wallTime: 1_700_000_000)
        for step in stride(from: 10, through: 30, by: 10) {
            writer.record([("kind", .string("train")), ("step", .int(step)), ("epoch", .double(Double(step) / 100)),
                           ("loss", .double(2.0 / Double(step))), ("accuracy", .double(Double(step) / 40)),
                           ("lr", .double(0.1)), ("samples_per_second", .double(1000 + Double(step))),
                           ("elapsed", .double(Double(step)))])
        }
        writer.record([("kind", .string("eval")), ("split", .string("validation")), ("step", .int(30)),
                       ("loss", .double(0.125)), ("accuracy", .double(0.875)), ("samples", .int(64))])
        try writer.writeScalars([("custom/negative", -3.25)], step: 7, wallTime: 1_700_000_123.25)
        XCTAssertNil(writer.failure)

        let readback = try Self.readWithTensorBoard(writer.url)
        XCTAssertEqual(readback.fileVersion, "brain.Event:2")
        XCTAssertEqual(Set(readback.scalars.keys), ["train/loss", "train/accuracy", "train/lr", "train/samples_per_second",
                                                    "eval/validation/loss", "eval/validation/accuracy", "custom/negative"])
        let loss = try XCTUnwrap(readback.scalars["train/loss"])
        XCTAssertEqual(loss.map(\.step), [10, 20, 30])
        for (event, step) in zip(loss, [10.0, 20, 30]) {
            XCTAssertEqual(Float(event.value), Float(2.0 / step), "stored as float32 simple_value")
        }
        XCTAssertEqual(readback.scalars["train/samples_per_second"]?.map(\.value), [1010, 1020, 1030])
        XCTAssertEqual(readback.scalars["eval/validation/accuracy"]?.map(\.step), [30])
        XCTAssertEqual(readback.scalars["eval/validation/accuracy"]?.first?.value, 0.875)
        let custom = try XCTUnwrap(readback.scalars["custom/negative"]?.first)
        XCTAssertEqual(custom.step, 7)
        XCTAssertEqual(custom.value, -3.25)
        XCTAssertEqual(custom.wallTime, 1_700_000_123.25)
    }
}
