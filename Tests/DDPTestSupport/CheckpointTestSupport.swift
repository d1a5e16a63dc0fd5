import Checkpoint
import Foundation
import MPI
import MPIRunSupport
import RunConfig
import Training
import XCTest

/// Shared pieces of the checkpoint and resume tests: scratch directories,
/// small configs, in-process trainers and `ddp` runs under mpirun.
open class CheckpointTestCase: ScratchTestCase {
    open override class var scratchPrefix: String { "ddp-ckpt" }

    /// A small MLP with dropout and SGD momentum on synthetic classes:
    /// 200 samples at batch 16 make 12 steps per epoch, so runs cross epochs.
    public static let mlpConfig = """
        model:
          kind: mlp
          hidden: [24, 16]
          dropout: 0.2
        data:
          dataset: synthetic_classes
          samples: 222
          features: 12
          classes: 3
        optimizer:
          kind: sgd
          lr: 0.05
          momentum: 0.9
          weight_decay: 0.001
        schedule:
          kind: step
          step_every: 7
          gamma: 0.7
        training:
          batch_size: 16
          epochs: 0
          steps: 30
          log_every: 5
          eval_batches: 2
          eval_batch_size: 32
        """

    /// A tiny GPT with dropout and AdamW on synthetic tokens.
    public static let gptConfig = """
        model:
          kind: gpt
          layers: 2
          heads: 2
          width: 16
          context: 8
          dropout: 0.1
        data:
          dataset: synthetic_text
          samples: 96
          vocabulary: 11
        optimizer:
          kind: adamw
          lr: 0.01
          weight_decay: 0.1
        training:
          batch_size: 8
          epochs: 0
          steps: 16
          log_every: 4
          eval_batches: 1
          eval_batch_size: 8
        """

    /// A trainer in this process (the size-1 local world).
    public func makeTrainer(_ yaml: String, overrides: [String] = [], runDirectory: URL?) throws -> Trainer {
        let config = try ResolvedConfig.parse(yaml: yaml, source: "test.yaml", overrides: overrides)
        return try Trainer(config: config, communicator: MPI.world,
                           options: RunOptions(directory: runDirectory, plainProgress: true))
    }

    /// Runs `ddp train` on `ranks` processes under mpirun.
    public func ddpTrain(ranks: Int, config: String, runDirectory: URL, extra: [String] = []) throws -> MPIRunResult {
        try MPIRun.run(executable: try MPIRun.executableURL(named: "ddp"), ranks: ranks,
                       arguments: ["train", "--config", config, "--run-dir", runDirectory.path, "--plain"] + extra,
                       timeout: 180)
    }

    /// The bytes of every tensor in a safetensors file, by name.
    public func tensorBytes(_ path: String) throws -> [String: [UInt8]] {
        let file = try SafetensorsFile(path: path)
        var result: [String: [UInt8]] = [:]
        for name in file.names {
            let count = try file.tensor(name).count
            var values = [Float](repeating: 0, count: count)
            try values.withUnsafeMutableBufferPointer { buffer in
                if count > 0 { try file.read(name, elements: 0..<count, into: buffer.baseAddress!) }
            }
            result[name] = values.withUnsafeBytes { Array($0) }
        }
        return result
    }

    /// The final checkpoint's directory of a run directory.
    public func checkpoint(_ runDirectory: URL, step: Int) -> URL {
        CheckpointStore(runDirectory: runDirectory).url(step: step)
    }
}
