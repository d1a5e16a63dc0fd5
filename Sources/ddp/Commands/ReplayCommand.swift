import ArgumentParser
import Foundation
import Training

/// `ddp replay`: re-executes part of a run from a checkpoint and compares
/// the result with the run's own later checkpoint, bit for bit.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a run from a checkpoint to a later step and compare with the run's checkpoint of that step.",
        discussion: """
            Uses the config recorded in the checkpoints and the same number of ranks as the checkpoint
            was written by (bit-for-bit results depend on it), e.g.:
              mpirun -np 2 ddp replay --checkpoint runs/mnist-mlp/checkpoints/step-00000020 --to-step 40
            The replay writes into a scratch run directory, never the run's own. Exits 0 when the
            replay matches (or there is no checkpoint of that step to compare with), 1 when it differs,
            naming the first tensor and element, 2 for bad input such as the wrong number of ranks.
            With --explain it stops at the first anomalous step after the checkpoint (NaN, Inf or a
            spike; at the latest --to-step), and runs each sample of that step alone: its loss,
            gradient norm, and the first layer whose output and the first parameter whose gradient
            go non-finite. Exits 0 when it explained a step.
            """
    )

    @Option(name: .long, help: "The checkpoint to start from, e.g. RUN/checkpoints/step-00000020.")
    var checkpoint: String

    @Option(name: .customLong("to-step"), help: "The step to replay to; compared with RUN/checkpoints/step-<to-step> when it exists.")
    var toStep: Int

    @Option(name: .customLong("run-dir"),
            help: "A new or empty directory for the replay's run directory, kept; default a temporary one, removed.")
    var runDirectory: String?

    @Option(name: .customLong("data-dir"), help: "Where the data sets are, if not the recorded data.dir.")
    var dataDirectory: String?

    @Flag(name: .long, help: "Find the first anomalous step up to --to-step and name the samples and layers responsible.")
    var explain = false

    func validate() throws {
        if toStep < 1 { throw ValidationError("--to-step must be at least 1") }
        if explain && runDirectory != nil { throw ValidationError("--explain writes nothing: drop --run-dir") }
    }

    func run() throws {
        let world = try startWorld()
        var rerun = "ddp replay --checkpoint \(checkpoint) --to-step \(toStep)"
        if let runDirectory { rerun += " --run-dir \(runDirectory)" }
        if let dataDirectory { rerun += " --data-dir \(dataDirectory)" }
        if explain {
            var found: AnomalyExplanation?
            try runOnAllRanks(world) {
                found = try RunReplay.explain(from: checkpoint, toStep: toStep, dataDirectory: dataDirectory,
                                              communicator: world, rerun: rerun + " --explain")
            }
            if world.rank == 0, let found { for line in found.lines { print("ddp: " + line) } }
            return
        }
        var result: ReplayResult?
        try runOnAllRanks(world) {
            result = try RunReplay.replay(from: checkpoint, toStep: toStep, scratch: runDirectory,
                                          dataDirectory: dataDirectory, communicator: world, rerun: rerun)
        }
        guard let result else { return }
        if world.rank == 0 { print(result.description) }
        if result.matches == false { throw ExitCode(JobExitCode.failure) }
    }
}
