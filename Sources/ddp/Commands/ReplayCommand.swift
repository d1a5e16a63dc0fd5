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

    func validate() throws {
        if toStep < 1 { throw ValidationError("--to-step must be at least 1") }
    }

    func run() throws {
        let world = try startWorld()
        var rerun = "ddp replay --checkpoint \(checkpoint) --to-step \(toStep)"
        if let runDirectory { rerun += " --run-dir \(runDirectory)" }
        if let dataDirectory { rerun += " --data-dir \(dataDirectory)" }
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
