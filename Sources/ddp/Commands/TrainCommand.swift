import ArgumentParser
import Checkpoint
import DataParallel
import Foundation
import MPI
import RunConfig
import TensorCore
import Training

/// `ddp train`: one data-parallel training run.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model from a YAML run config, on one rank or under mpirun.",
        discussion: """
            Every rank runs the same command; rank 0 logs and writes the run directory
            (config.yaml, metrics.jsonl). `ddp config keys` lists what a config may set.
            """
    )

    @Option(name: .long, help: "The YAML run config, e.g. configs/mnist-mlp.yaml.")
    var config: String

    @Option(name: .customLong("set"), help: "Override a key: --set training.epochs=3 (repeatable).")
    var overrides: [String] = []

    @Option(name: .customLong("run-dir"), help: "Where the run writes; default runs/<config name>.")
    var runDirectory: String?

    @Flag(name: .long, help: "Plain log lines instead of a progress bar, even on a terminal.")
    var plain = false

    @Option(name: .long,
            help: ArgumentHelp("Continue from a checkpoint: `auto` takes the newest valid one in the run directory "
                               + "(none: start fresh), or give a checkpoint or run directory.", valueName: "auto|path"))
    var resume: String?

    @Option(name: .customLong("export-parameters"),
            help: ArgumentHelp("At the end, rank 0 writes the flat parameter buffer to this file as raw little-endian "
                               + "float32, in the model's layout order: a tool for comparing runs bit for bit.",
                               valueName: "path"))
    var exportParameters: String?

    @Option(name: .long, help: ArgumentHelp("Who drives MPI progress while backward computes: polling between "
                                            + "layers (the default, measured faster on an idle machine) or a communication thread.",
                                            valueName: "thread|polling"))
    var progress: ProgressMode = .polling

    // Test-only: gives one rank a different override (RANK:KEY=VALUE), to
    // check that mismatched replicas are caught before training.
    @Option(name: .customLong("rank-override"), help: ArgumentHelp(visibility: .private))
    var rankOverrides: [String] = []

    func run() throws {
        // The communication thread calls MPI from a second thread; ask for
        // that before startWorld's default initialization.
        if progress == .thread { _ = try? MPI.initialize(threadLevel: .serialized) }
        let world = try startWorld()
        // From here on SIGTERM and SIGUSR1 stop the run at a step boundary, with a checkpoint.
        PreemptionSignal.install()
        let leader = world.rank == 0
        var trainer: Trainer?
        try runOnAllRanks(world) {
            let resolved = try ResolvedConfig.load(path: config, overrides: overrides + overrides(forRank: world.rank))
            let name = URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
            let directory = URL(fileURLWithPath: runDirectory ?? "runs/\(name)")
            var options = RunOptions(directory: directory, plainProgress: plain)
            options.progress = (MPI.providedThreadLevel ?? .single) >= .serialized ? progress : .polling
            trainer = try Trainer(config: resolved, communicator: world, options: options)
            if leader, let trainer {
                print("ddp: \(world.size) rank(s), \(OpenBLASKernel.summary())")
                print("ddp: \(trainer.data.summary)")
                print("ddp: \(resolved.run.model.kind) with \(trainer.model.parameters.count) parameters, "
                      + "\(trainer.totalSteps) steps of global batch \(resolved.run.training.batchSize) "
                      + "(\(trainer.stepsPerEpoch) per epoch), run directory \(directory.path)")
                let stateBytes = trainer.optimizer.stateBuffers.reduce(0) { $0 + $1.tensor.count * MemoryLayout<Float>.stride }
                print("ddp: optimizer state \(stateBytes) bytes per rank"
                      + (resolved.run.parallel.zero == 1 ? " (ZeRO-1 shard of \(trainer.optimizer.shard.count) parameters)" : ""))
            }
        }
        guard let trainer else { return }
        if let resume {
            try runOnAllRanks(world) {
                let outcome = try trainer.resume(from: ResumeRequest(argument: resume))
                guard leader else { return }
                for skipped in outcome.skipped {
                    FileHandle.standardError.write(Data("ddp: warning: skipping invalid checkpoint: \(skipped)\n".utf8))
                }
                if let checkpoint = outcome.checkpoint {
                    print("ddp: resuming from step \(outcome.step) (\(checkpoint.path))")
                } else {
                    print("ddp: no checkpoint in \(trainer.checkpointStore?.root.path ?? "the run directory"), starting fresh")
                }
            }
        }
        try runOnAllRanks(world) {
            let summary = try trainer.run()
            if trainer.preempted {
                if leader {
                    print("ddp: preempted at step \(summary.steps), checkpoint written; continue with --resume auto "
                          + "(exit code \(JobExitCode.preempted))")
                }
                throw ExitCode(JobExitCode.preempted)
            }
            // Every rank takes part: the figures are the largest over ranks.
            let memory: [Double] = processMemoryBytes().map { [$0.peakResident, $0.anonymous, $0.mappedFiles] } ?? [0, 0, 0]
            let largest = try world.allReduce(memory, op: .max)
            if leader && trainer.step >= trainer.totalSteps && summary.finalTrainLoss.isNaN {
                // Resumed from a checkpoint at the end of the run: nothing new to report.
                print("ddp: nothing to do, the run is already complete at step \(trainer.step) of \(trainer.totalSteps); "
                      + "raise training.steps or training.epochs to continue, or use another --run-dir to start fresh")
            } else if leader {
                var line = String(format: "ddp: done, %d steps in %.1f s (%.0f samples/s), final train loss %.4f",
                                  summary.steps, summary.seconds, summary.samplesPerSecond, summary.finalTrainLoss)
                if let evaluation = summary.evaluation {
                    line += String(format: ", %@ loss %.4f", trainer.data.validationName, evaluation.loss)
                    if let accuracy = evaluation.accuracy {
                        line += String(format: ", accuracy %.2f%%", accuracy * 100)
                    }
                }
                print(line)
                for line in Self.anomalyLines(summary.anomalies) { print(line) }
                if largest[0] > 0 {
                    print(String(format: "ddp: memory per rank (largest over ranks): peak resident %.0f MB; at the end %.0f MB "
                                 + "anonymous, %.0f MB of mapped files", largest[0] / 1e6, largest[1] / 1e6, largest[2] / 1e6))
                }
            }
            if leader, let path = exportParameters {
                let parameters = trainer.model.parameters
                let data = Data(bytes: parameters.values.pointer, count: parameters.count * MemoryLayout<Float>.stride)
                guard FileManager.default.createFile(atPath: path, contents: data) else {
                    throw ValidationError("--export-parameters: cannot write \(path)")
                }
            }
        }
    }

    /// The `--rank-override` values meant for `rank`.
    private func overrides(forRank rank: Int) -> [String] {
        rankOverrides.compactMap { text in
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, Int(parts[0]) == rank else { return nil }
            return String(parts[1])
        }
    }
}

extension ProgressMode: ExpressibleByArgument {}

extension TrainCommand {
    /// The summary's lines on skipped steps and rollbacks: each step, why,
    /// and the first samples of its global batch (`metrics.jsonl` has them all).
    static func anomalyLines(_ history: AnomalyHistory) -> [String] {
        guard !history.skipped.isEmpty || history.rollbacks > 0 else { return [] }
        var lines = ["ddp: \(history.skipped.count) step(s) skipped, \(history.rollbacks) rollback(s)"]
        for skipped in history.skipped {
            let samples = skipped.samples.prefix(8).map(String.init).joined(separator: ", ")
                + (skipped.samples.count > 8 ? ", ... (\(skipped.samples.count) in all)" : "")
            lines.append("ddp:   step \(skipped.step) (\(skipped.action)): \(skipped.reason); samples \(samples)")
        }
        return lines
    }
}
