import ArgumentParser
import Foundation
import MPI
import NeuralNet
import Compression
import Training

/// `ddp compress`: prune, quantize and factorize a trained model.
struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Compress a checkpoint: magnitude pruning, int8 quantization, low-rank factorization.",
        discussion: """
            Steps combine and run in the order prune (then fine-tune) → factorize → quantize:
              ddp compress --checkpoint runs/mnist-mlp --out runs/mnist-mlp-small --prune 0.5 --quantize int8
              ddp compress --checkpoint CKPT --out OUT --low-rank-energy 0.9
            The output is a checkpoint directory that eval, predict and serve load. A table compares \
            parameters, bytes on disk, accuracy and loss on the test split, and median inference \
            latency at batch 1 and 256, before and after.
            """
    )

    @Option(name: .long, help: "The checkpoint: a step-XXXXXXXX directory, or a run directory (its newest valid checkpoint).")
    var checkpoint: String

    @Option(name: .long, help: "The directory to write the compressed checkpoint to.")
    var out: String

    @Option(name: .long, help: ArgumentHelp("Remove this fraction of the weight-matrix elements, smallest magnitudes first.",
                                            valueName: "sparsity"))
    var prune: Double?

    @Option(name: .customLong("prune-scope"), help: "global: one threshold over all matrices; layer: each matrix to the same sparsity.")
    var pruneScope: String = "global"

    @Option(name: .customLong("finetune-steps"), help: "Optimizer steps on the training data after pruning, keeping the mask.")
    var finetuneSteps = 0

    @Option(name: .customLong("finetune-lr"), help: "The fine-tuning learning rate (default: a tenth of optimizer.lr).")
    var finetuneLearningRate: Double?

    @Option(name: .long, help: ArgumentHelp("Quantize Linear weights: int8 (symmetric, per output channel).", valueName: "int8"))
    var quantize: String?

    @Option(name: .customLong("low-rank-energy"),
            help: ArgumentHelp("Factorize Linear layers by truncated SVD, keeping this fraction of Σ s².", valueName: "fraction"))
    var lowRankEnergy: Double?

    @Option(name: .customLong("low-rank-rank"), help: ArgumentHelp("Factorize Linear layers at this fixed rank.", valueName: "rank"))
    var lowRankRank: Int?

    @Option(name: .customLong("set"), help: "Override a config key for reading the data, e.g. --set data.dir=/data (repeatable).")
    var overrides: [String] = []

    @Option(name: .customLong("latency-runs"), help: "Timed forward passes at batch 256 (five times as many at batch 1).")
    var latencyRuns = 21

    @Option(name: .customLong("eval-samples"), help: "Evaluate on the first N samples of the test split (default: all).")
    var evaluationSamples = 0

    func validate() throws {
        if let quantize, quantize != "int8" { throw ValidationError("--quantize supports int8 only, got \(quantize)") }
        if lowRankEnergy != nil && lowRankRank != nil {
            throw ValidationError("give --low-rank-energy or --low-rank-rank, not both")
        }
        if PruningScope(rawValue: pruneScope) == nil {
            throw ValidationError("--prune-scope must be global or layer, got \(pruneScope)")
        }
    }

    func run() throws {
        let world = try startWorld()
        try exitOnUserError {
            var options = CompressionOptions(pruneSparsity: prune, pruneScope: PruningScope(rawValue: pruneScope)!,
                                             finetuneSteps: finetuneSteps, finetuneLearningRate: finetuneLearningRate,
                                             quantizeInt8: quantize == "int8", latencyRuns: latencyRuns,
                                             evaluationSamples: evaluationSamples)
            if let lowRankEnergy { options.lowRank = .energy(lowRankEnergy) }
            if let lowRankRank { options.lowRank = .fixed(lowRankRank) }
            let report = try CheckpointCompressor.compress(checkpoint: checkpoint, output: out, options: options,
                                                           communicator: world, overrides: overrides) { line in
                print("ddp: \(line)")
            }
            print("")
            print(report.table)
        }
    }
}
