import Foundation
import MPIRunSupport
import XCTest

/// Runs `ddp train` under real mpirun (or alone) and reads back what it wrote.
struct DDPJob {
    /// The YAML of the run config.
    var yaml: String
    /// `--set` overrides.
    var overrides: [String] = []
    /// Extra `ddp train` arguments.
    var arguments: [String] = []
    /// Extra environment variables of the ranks (the test faults).
    var environment: [String: String] = [:]

    /// The package root, for data/ and configs/.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// What a finished job left behind.
    struct Outcome {
        let result: MPIRunResult
        /// The exported flat parameters (empty when the run failed).
        let parameters: [Float]
        /// `loss` of every `train` record of metrics.jsonl, in step order.
        let trainLosses: [Double]
    }

    /// Runs the job on `ranks` processes; 0 ranks runs one process without mpirun.
    func run(ranks: Int, timeout: TimeInterval = 240, cluster: TestCluster? = nil) throws -> Outcome {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ddp-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let configURL = directory.appendingPathComponent("run.yaml")
        try yaml.write(to: configURL, atomically: true, encoding: .utf8)
        let exportURL = directory.appendingPathComponent("parameters.f32")
        let runDirectory = directory.appendingPathComponent("run")
        var args = ["train", "--config", configURL.path, "--run-dir", runDirectory.path, "--plain",
                    "--export-parameters", exportURL.path,
                    "--set", "data.dir=\(Self.packageRoot.appendingPathComponent("data").path)"]
        for override in overrides { args += ["--set", override] }
        args += arguments
        let executable = try MPIRun.executableURL(named: "ddp")
        let result = ranks == 0
            ? try MPIRun.runProcess(executable: executable, arguments: args, environment: environment, timeout: timeout)
            : try MPIRun.run(executable: executable, ranks: ranks, arguments: args, environment: environment, timeout: timeout,
                             cluster: cluster)
        var parameters: [Float] = []
        if let data = FileManager.default.contents(atPath: exportURL.path) {
            parameters = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        var losses: [Double] = []
        if let text = try? String(contentsOf: runDirectory.appendingPathComponent("metrics.jsonl"), encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      object["kind"] as? String == "train", let loss = object["loss"] as? Double else { continue }
                losses.append(loss)
            }
        }
        return Outcome(result: result, parameters: parameters, trainLosses: losses)
    }

    /// Runs and fails the test unless the job succeeded and exported parameters.
    func parameters(ranks: Int, cluster: TestCluster? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
        let outcome = try run(ranks: ranks, cluster: cluster)
        XCTAssertEqual(outcome.result.exitCode, 0, "\(outcome.result)", file: file, line: line)
        XCTAssertFalse(outcome.parameters.isEmpty, "no parameters exported\n\(outcome.result)", file: file, line: line)
        return outcome.parameters
    }
}

/// `||a - b|| / ||b||`, in Double.
func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "relativeDifference: \(a.count) vs \(b.count) elements")
    var difference = 0.0, norm = 0.0
    for i in a.indices {
        let d = Double(a[i]) - Double(b[i])
        difference += d * d
        norm += Double(b[i]) * Double(b[i])
    }
    return (difference / max(norm, .leastNormalMagnitude)).squareRoot()
}

/// Small run configs: fast in a debug build, and 20 steps long.
enum TestConfigs {
    static let mlp = """
        model:
          kind: mlp
          hidden: [48, 24]
        data:
          dataset: synthetic_classes
          samples: 2000
          features: 40
          classes: 5
        optimizer:
          kind: sgd
          lr: 0.05
        training:
          batch_size: 32
          steps: 20
          epochs: 0
          log_every: 5
          eval_batches: 1
          eval_batch_size: 64
        """

    static let cnn = """
        model:
          kind: cnn
          channels: [3, 4]
          fc_width: 16
        data:
          dataset: mnist
          normalize: scale
        optimizer:
          kind: sgd
          lr: 0.05
        training:
          batch_size: 16
          steps: 20
          epochs: 0
          log_every: 5
          eval_batches: 1
          eval_batch_size: 16
        """

    static let gpt = """
        model:
          kind: gpt
          layers: 2
          heads: 2
          width: 16
          context: 16
          dropout: 0
        data:
          dataset: synthetic_text
          vocabulary: 12
          samples: 256
        optimizer:
          kind: sgd
          lr: 0.05
        training:
          batch_size: 8
          steps: 20
          epochs: 0
          log_every: 5
          eval_batches: 1
          eval_batch_size: 8
        """

    /// Overrides that switch a config to AdamW (the base configs use SGD with its default momentum 0.9).
    static let adamW = ["optimizer.kind=adamw", "optimizer.lr=0.003", "optimizer.weight_decay=0.1"]
}
