import DDPTestSupport
import Foundation
import MPIRunSupport
@testable import RunLog
import XCTest

/// A real `ddp train` run writes an event file holding exactly what metrics.jsonl holds.
final class TensorBoardRunTests: XCTestCase {
    func testTrainingRunWritesTheSameScalarsToTheEventFile() throws {
        let scratch = try observeScratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let config = scratch.appendingPathComponent("tiny.yaml")
        try """
            model:
              kind: mlp
              hidden: [16]
            data:
              dataset: synthetic_classes
              samples: 512
              features: 8
              classes: 4
            optimizer:
              kind: sgd
              lr: 0.1
            training:
              batch_size: 32
              steps: 20
              epochs: 0
              log_every: 5
              eval_every: 10
            """.write(to: config, atomically: true, encoding: .utf8)
        let run = scratch.appendingPathComponent("run")
        let result = try MPIRun.runProcess(executable: try MPIRun.executableURL(named: "ddp"),
                                           arguments: ["train", "--config", config.path, "--run-dir", run.path, "--plain"],
                                           timeout: 180)
        XCTAssertEqual(result.exitCode, 0, "\(result)")

        let files = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(files.count, 1, "\(files)")
        let eventFile = run.appendingPathComponent(try XCTUnwrap(files.first))
        let records = try MetricsFile.read(run.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(records.filter { $0.kind == "train" }.map(\.step), [5, 10, 15, 20])

        // 1 version event, then one event per metrics record, all with good checksums.
        let framed = try TFRecord.records(in: Array(try Data(contentsOf: eventFile)))
        XCTAssertEqual(framed.count, 1 + records.count)

        let readback = try TensorBoardPythonTests.readWithTensorBoard(eventFile)
        XCTAssertEqual(readback.fileVersion, "brain.Event:2")
        for record in records {
            let prefix = record.kind == "train" ? "train/" : "eval/\(record.split ?? "")/"
            let fields = record.kind == "train" ? TensorBoardScalars.trainFields : TensorBoardScalars.evalFields
            for field in fields {
                guard let expected = record.values[field] else { continue }
                let events = try XCTUnwrap(readback.scalars[prefix + field], prefix + field)
                let event = try XCTUnwrap(events.first { $0.step == record.step }, "\(prefix + field) at \(record.step)")
                // metrics.jsonl keeps 6 significant digits, the event file a float32.
                XCTAssertEqual(event.value, expected, accuracy: abs(expected) * 1e-5 + 1e-9, "\(prefix + field) at \(record.step)")
            }
        }
        XCTAssertEqual(readback.scalars["eval/validation/loss"]?.map(\.step) ?? readback.scalars["eval/test/loss"]?.map(\.step),
                       [10, 20])
    }
}
