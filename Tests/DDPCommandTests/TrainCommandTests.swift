import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// `ddp train` as a user runs it: real processes, real mpirun, real files.
final class TrainCommandTests: ScratchTestCase {
    override class var scratchPrefix: String { "ddp-train" }

    /// The shared small MLP, evaluated twice in 30 steps.
    private let smallMLP = ScratchTestCase.smallMLP(steps: 30).replacingOccurrences(of: "eval_every: 20", with: "eval_every: 15")

    /// A bad command line exits with the documented 2 ("bad input"), not
    /// ArgumentParser's 64, and says what is wrong; help still exits 0.
    func testBadCommandLinesExitWithTheBadInputCode() throws {
        let ddp = try MPIRun.executableURL(named: "ddp")
        let cases: [([String], String)] = [
            (["train", "--config", "x.yaml", "--no-such-flag"], "--no-such-flag"),
            (["train"], "--config"),
            (["launch", "-n", "0", "--config", "x.yaml"], "-n must be at least 1"),
            (["bench", "train", "--config", "x.yaml", "--rounds", "0"], "--rounds"),
            (["no-such-command"], "no-such-command"),
        ]
        for (arguments, named) in cases {
            let result = try MPIRun.runProcess(executable: ddp, arguments: arguments, timeout: 60)
            XCTAssertEqual(result.exitCode, 2, "\(arguments): \(result)")
            XCTAssertTrue(result.stderr.contains(named), "\(arguments): \(result.stderr)")
        }
        XCTAssertEqual(try MPIRun.runProcess(executable: ddp, arguments: ["train", "--help"], timeout: 60).exitCode, 0)
    }

    /// `data.label_column` one past the CSV's last column is named, exit 2, no crash trace.
    /// Issue 12's first finding: absurd sizes reached the allocator (exit 134,
    /// "failed to allocate 3367254360064 bytes") or the OOM killer. They are
    /// refused before anything is allocated, naming the key, with exit 2 and
    /// no restart by `ddp launch`.
    func testRunsThatCannotFitInMemoryAreRefusedBeforeAllocating() throws {
        let config = try writeConfig(smallMLP)
        let ddp = try MPIRun.executableURL(named: "ddp")
        for (override, key) in [("training.batch_size=1073741824", "training.batch_size"),
                                ("model.hidden=[65536, 65536]", "model.hidden")] {
            let result = try MPIRun.runProcess(executable: ddp, arguments: [
                "train", "--config", config, "--run-dir", scratch.appendingPathComponent("run").path,
                "--set", override, "--set", "training.drop_last=false"], timeout: 60)
            XCTAssertEqual(result.exitCode, 2, "\(override): \(result)")
            XCTAssertTrue(result.stderr.contains("run.yaml: \(key): the run needs about"), result.stderr)
            XCTAssertTrue(result.stderr.contains("training.memory_fraction"), result.stderr)
            XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
        }
        let launched = try MPIRun.runProcess(executable: ddp, arguments: [
            "launch", "-n", "1", "--config", config, "--run-dir", scratch.appendingPathComponent("launched").path,
            "--restart-delay", "0", "--set", "model.hidden=[65536, 65536]"], timeout: 60)
        XCTAssertEqual(launched.exitCode, 2, "\(launched)")
        XCTAssertFalse(launched.stdout.contains("attempt 2"), "a config error is not restarted\n\(launched.stdout)")
    }

    func testCSVLabelColumnOutsideTheFileIsABadInput() throws {
        let csv = scratch.appendingPathComponent("table.csv")
        try "1,2,0\n3,4,1\n5,6,0\n7,8,1\n".write(to: csv, atomically: true, encoding: .utf8)
        let config = try writeConfig("""
            model:
              kind: mlp
              hidden: [4]
            data:
              dataset: csv
              path: \(csv.path)
              label_column: 3
            optimizer:
              kind: sgd
            training:
              batch_size: 2
              steps: 1
              epochs: 0
            """)
        let result = try MPIRun.runProcess(executable: try MPIRun.executableURL(named: "ddp"),
                                           arguments: ["train", "--config", config, "--run-dir", scratch.appendingPathComponent("run").path],
                                           timeout: 60)
        XCTAssertEqual(result.exitCode, 2, "\(result)")
        XCTAssertTrue(result.stderr.contains("label column 3 is not one of its 3 columns"), result.stderr)
        XCTAssertTrue(result.stderr.contains("table.csv"), result.stderr)
    }

    func testTwoRanksTrainAndWriteTheRunDirectory() throws {
        let config = try writeConfig(smallMLP)
        let runDirectory = scratch.appendingPathComponent("run")
        let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: 2,
                                    arguments: ["train", "--config", config, "--run-dir", runDirectory.path, "--plain"],
                                    timeout: 120)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        XCTAssertTrue(result.stdout.contains("2 rank(s)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("ddp: done, 30 steps"), result.stdout)

        let lines = try String(contentsOf: runDirectory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let train = records.filter { $0["kind"] as? String == "train" }
        let evals = records.filter { $0["kind"] as? String == "eval" }
        XCTAssertEqual(train.map { $0["step"] as? Int }, [10, 20, 30])
        XCTAssertEqual(evals.map { $0["step"] as? Int }, [15, 30])
        let firstLoss = try XCTUnwrap(train.first?["loss"] as? Double)
        let lastLoss = try XCTUnwrap(train.last?["loss"] as? Double)
        XCTAssertLessThan(lastLoss, firstLoss, "the loss falls on a learnable problem")
        let resolved = try String(contentsOf: runDirectory.appendingPathComponent("config.yaml"), encoding: .utf8)
        XCTAssertTrue(resolved.contains("batch_size: 32"), resolved)
    }

    func testBadConfigFailsOnEveryRankWithOneClearMessage() throws {
        let config = try writeConfig(smallMLP.replacingOccurrences(of: "lr: 0.1", with: "lr: fast"))
        let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: 2,
                                    arguments: ["train", "--config", config, "--run-dir", scratch.path + "/bad"],
                                    timeout: 60)
        XCTAssertNotEqual(result.exitCode, 0)
        let messages = result.stderr.split(separator: "\n").filter { $0.contains("ddp: error:") }
        XCTAssertEqual(messages.count, 1, result.stderr)
        XCTAssertTrue(messages.first?.contains("run.yaml:12: optimizer.lr: expected a number") ?? false, result.stderr)
        XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
    }

    func testMissingDataSetNamesThePathAndTheFetchCommand() throws {
        let config = try writeConfig("""
            model:
              kind: mlp
            data:
              dataset: mnist
              dir: \(scratch.path)/nothing-here
            """)
        let result = try MPIRun.runProcess(executable: try MPIRun.executableURL(named: "ddp"),
                                           arguments: ["train", "--config", config, "--run-dir", scratch.path + "/r"])
        XCTAssertEqual(result.exitCode, 2, "\(result)")
        XCTAssertTrue(result.stderr.contains("nothing-here/mnist: data set not found"), result.stderr)
        XCTAssertTrue(result.stderr.contains("launch/fetch-data.sh mnist"), result.stderr)
    }

    func testBatchThatDoesNotSplitOverRanksIsRejected() throws {
        let config = try writeConfig(smallMLP.replacingOccurrences(of: "batch_size: 32", with: "batch_size: 33"))
        let result = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: 2,
                                    arguments: ["train", "--config", config, "--run-dir", scratch.path + "/odd"])
        XCTAssertEqual(result.exitCode, 2, "\(result)")
        XCTAssertTrue(result.stderr.contains("training.batch_size: 33 does not split evenly over 2 ranks"), result.stderr)
    }
}
