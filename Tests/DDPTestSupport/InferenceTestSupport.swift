import Foundation
import MPIRunSupport
import XCTest

/// Pieces shared by the eval, predict, inspect and serve tests: `ddp` runs
/// in a child process and the metrics a training run wrote.
open class InferenceTestCase: CheckpointTestCase {
    /// Trains `yaml` with `ddp train` on one rank into a fresh run directory.
    public func trainRun(_ yaml: String, name: String, extra: [String] = []) throws -> URL {
        let config = try writeConfig(yaml, name: "\(name).yaml")
        let run = scratch.appendingPathComponent(name)
        let result = try ddpTrain(ranks: 1, config: config, runDirectory: run, extra: extra)
        XCTAssertEqual(result.exitCode, 0, "\(result)")
        return run
    }

    /// The last `kind: eval` record of a run's metrics.jsonl.
    public func lastEvaluation(_ run: URL) throws -> [String: Any] {
        let text = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let records = text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        return try XCTUnwrap(records.last { $0["kind"] as? String == "eval" }, "no eval record in metrics.jsonl")
    }

    /// The JSON object a command printed as its last line.
    public func jsonOutput(_ result: MPIRunResult) throws -> [String: Any] {
        let line = try XCTUnwrap(result.stdoutLines.last { $0.hasPrefix("{") }, "no JSON in \(result)")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// Whether MNIST is where `launch/fetch-data.sh mnist` puts it.
    public func requireMNIST() throws -> String {
        let directory = FileManager.default.currentDirectoryPath + "/data"
        guard FileManager.default.fileExists(atPath: directory + "/mnist/t10k-images-idx3-ubyte") else {
            throw Prerequisite.missing("MNIST is not in data/mnist (run launch/fetch-data.sh mnist)")
        }
        return directory
    }

    /// A small MNIST MLP trained for `steps` steps from the data in `data`.
    public static func mnistMLPConfig(data: String, steps: Int, logEvery: Int, evalBatches: Int) -> String {
        """
        model:
          kind: mlp
          hidden: [32]
        data:
          dataset: mnist
          dir: \(data)
        optimizer:
          kind: sgd
          lr: 0.1
          momentum: 0.9
        training:
          batch_size: 100
          epochs: 0
          steps: \(steps)
          log_every: \(logEvery)
          eval_batches: \(evalBatches)
        """
    }

    /// A small synthetic classifier, evaluated on its whole validation split.
    public static let classifierConfig = """
        model:
          kind: mlp
          hidden: [32]
        data:
          dataset: synthetic_classes
          samples: 600
          features: 12
          classes: 4
        training:
          batch_size: 32
          epochs: 0
          steps: 40
          log_every: 20
          eval_batches: 0
          eval_batch_size: 50
        optimizer:
          kind: sgd
          lr: 0.1
          momentum: 0.9
        """
}
