import DDPTestSupport
import Foundation
import MPIRunSupport
import XCTest

/// `ddp eval` on checkpoints trained in the test: its numbers equal the
/// trainer's own final evaluation, on one rank and data-parallel on two.
final class EvalCommandTests: InferenceTestCase {
    func testClassifierEvalEqualsTheTrainersFinalEvaluationOnOneAndTwoRanks() throws {
        let run = try trainRun(Self.classifierConfig, name: "classifier")
        let expected = try lastEvaluation(run)
        let expectedAccuracy = try XCTUnwrap(expected["accuracy"] as? Double)
        let expectedLoss = try XCTUnwrap(expected["loss"] as? Double)
        let expectedSamples = try XCTUnwrap(expected["samples"] as? Int)
        XCTAssertEqual(expected["step"] as? Int, 40)

        let one = try ddp(["eval", "--checkpoint", run.path, "--json"])
        XCTAssertEqual(one.exitCode, 0, "\(one)")
        let result = try jsonOutput(one)
        XCTAssertEqual(result["step"] as? Int, 40)
        XCTAssertEqual(result["split"] as? String, "validation")
        XCTAssertEqual(result["samples"] as? Int, expectedSamples)
        // metrics.jsonl keeps 6 significant digits.
        let accuracy = try XCTUnwrap(result["accuracy"] as? Double)
        XCTAssertEqual(accuracy, expectedAccuracy, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(result["loss"] as? Double), expectedLoss, accuracy: 1e-5 * max(1, expectedLoss))

        // The confusion matrix accounts for every sample, and its diagonal is the accuracy.
        let confusion = try XCTUnwrap(result["confusion"] as? [[Int]])
        XCTAssertEqual(confusion.count, 4)
        XCTAssertTrue(confusion.allSatisfy { $0.count == 4 })
        XCTAssertEqual(confusion.joined().reduce(0, +), expectedSamples)
        let diagonal = (0..<4).reduce(0) { $0 + confusion[$1][$1] }
        XCTAssertEqual(Double(diagonal) / Double(expectedSamples), accuracy, accuracy: 1e-12)

        // Data-parallel: two ranks split the samples and agree on the totals.
        let two = try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: 2,
                                 arguments: ["eval", "--checkpoint", run.path, "--json", "--batch-size", "16"], timeout: 120)
        XCTAssertEqual(two.exitCode, 0, "\(two)")
        let parallel = try jsonOutput(two)
        XCTAssertEqual(parallel["ranks"] as? Int, 2)
        XCTAssertEqual(parallel["samples"] as? Int, expectedSamples)
        XCTAssertEqual(parallel["confusion"] as? [[Int]], confusion)
        // Float32 batch losses over another split of the samples: equal to float rounding.
        let loss = try XCTUnwrap(result["loss"] as? Double)
        XCTAssertEqual(try XCTUnwrap(parallel["loss"] as? Double), loss, accuracy: 1e-7 * max(1, loss))

        // The text form shows the same numbers and the table.
        let text = try ddp(["eval", "--checkpoint", run.path, "--split", "train"])
        XCTAssertEqual(text.exitCode, 0, "\(text)")
        XCTAssertTrue(text.stdout.contains("split:      train"), text.stdout)
        XCTAssertTrue(text.stdout.contains("confusion (rows: true class, columns: predicted)"), text.stdout)
    }

    func testCompressedCheckpointEvaluatesThroughTheSameLoader() throws {
        let run = try trainRun(Self.classifierConfig, name: "plain")
        let plain = try jsonOutput(try ddp(["eval", "--checkpoint", run.path, "--json"]))
        let small = scratch.appendingPathComponent("int8").path
        let compressed = try ddp(["compress", "--checkpoint", run.path, "--out", small, "--quantize", "int8", "--latency-runs", "1"])
        XCTAssertEqual(compressed.exitCode, 0, "\(compressed)")
        let result = try ddp(["eval", "--checkpoint", small, "--json"])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let json = try jsonOutput(result)
        XCTAssertEqual(json["samples"] as? Int, plain["samples"] as? Int)
        // Int8 weights move the logits a little, not the verdicts much.
        XCTAssertEqual(try XCTUnwrap(json["accuracy"] as? Double), try XCTUnwrap(plain["accuracy"] as? Double), accuracy: 0.05)
        XCTAssertNotEqual(json["loss"] as? Double, plain["loss"] as? Double, "the int8 model is really the one evaluated")
    }

    func testLanguageModelEvalReportsPerplexityOfTheTrainersLoss() throws {
        let yaml = Self.gptConfig.replacingOccurrences(of: "eval_batches: 1", with: "eval_batches: 0")
        let run = try trainRun(yaml, name: "gpt")
        let expected = try lastEvaluation(run)
        let result = try ddp(["eval", "--checkpoint", run.path, "--json"])
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        let json = try jsonOutput(result)
        let loss = try XCTUnwrap(json["loss"] as? Double)
        XCTAssertEqual(loss, try XCTUnwrap(expected["loss"] as? Double), accuracy: 1e-4)
        XCTAssertEqual(try XCTUnwrap(json["perplexity"] as? Double), exp(loss), accuracy: 1e-9 * exp(loss))
        // metrics.jsonl keeps 6 significant digits.
        XCTAssertEqual(try XCTUnwrap(json["accuracy"] as? Double), try XCTUnwrap(expected["accuracy"] as? Double), accuracy: 1e-6)
        XCTAssertNil(json["confusion"])
    }

    func testEvalRejectsMissingCheckpointsAndUnknownSplits() throws {
        let missing = try ddp(["eval", "--checkpoint", scratch.appendingPathComponent("nothing").path])
        XCTAssertEqual(missing.exitCode, 2, "\(missing)")
        XCTAssertTrue(missing.stderr.contains("not a checkpoint: no such file or directory"), missing.stderr)

        let run = try trainRun(Self.classifierConfig.replacingOccurrences(of: "steps: 40", with: "steps: 2"), name: "short")
        let wrongSplit = try ddp(["eval", "--checkpoint", run.path, "--split", "test"])
        XCTAssertEqual(wrongSplit.exitCode, 2, "\(wrongSplit)")
        XCTAssertTrue(wrongSplit.stderr.contains("has no test split; its held-out split is validation"), wrongSplit.stderr)
    }
}
