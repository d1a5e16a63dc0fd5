import ArgumentParser

/// `ddp`: data-parallel training on MPI ranks.
struct DDPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ddp",
        abstract: "Distributed data-parallel training in Swift on MPI and OpenBLAS.",
        discussion: """
            Run one process, or many under mpirun or srun:
              ddp train --config configs/mnist-mlp.yaml
              mpirun -np 2 ddp train --config configs/mnist-mlp.yaml
            """,
        subcommands: [TrainCommand.self, LaunchCommand.self, PrepareCommand.self, EnvCommand.self, BenchCommand.self, ConfigCommand.self]
            + [PlotCommand.self, CompressCommand.self]
            + [EvalCommand.self, PredictCommand.self, InspectCommand.self, ServeCommand.self]
            + [ReplayCommand.self, VerifyCommand.self]
            + [ExportCommand.self]
    )
}
