import ArgumentParser
import Foundation
import Training

/// `ddp verify`: every checkpoint of a run intact, and every stretch between
/// two consecutive checkpoints reproducible bit for bit.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a run directory: every checkpoint's checksums, and a replay between each two consecutive ones.",
        discussion: """
            Run it on as many ranks as the run was trained on:
              mpirun -np 2 ddp verify runs/mnist-mlp
            Only the checkpoints still there are checked: checkpoint.keep_last (default 3) prunes
            older ones, so set it to at least the number of checkpoints to verify a whole run.
            Exits 0 when all hold, 1 at the first damaged checkpoint or differing replay (named, with
            the tensor and element), 2 for bad input (not a run directory, fewer than 2 checkpoints,
            the wrong number of ranks).
            """
    )

    @Argument(help: ArgumentHelp("A run directory (holding checkpoints/step-XXXXXXXX).", valueName: "run"))
    var runDirectory: String

    @Option(name: .customLong("data-dir"), help: "Where the data sets are, if not the recorded data.dir.")
    var dataDirectory: String?

    func run() throws {
        let world = try startWorld()
        let rerun = "ddp verify \(runDirectory)" + (dataDirectory.map { " --data-dir \($0)" } ?? "")
        var result: VerificationResult?
        try runOnAllRanks(world) {
            result = try RunVerification.verify(run: runDirectory, dataDirectory: dataDirectory, communicator: world, rerun: rerun) {
                print($0)
                fflush(stdout)
            }
        }
        guard let result else { return }
        if world.rank == 0 { print(result.summary) }
        if !result.passed { throw ExitCode(JobExitCode.failure) }
    }
}
