import ArgumentParser
import Foundation
import Launcher
import TensorCore
import Training

// `ddp launch` must answer a stop signal at any moment, also before its
// handlers exist: the signals wait, blocked in this thread or recorded by a
// handler in OpenBLAS's threads, until `SignalForwarder` takes them (a
// blocked signal stays pending across the relaunch's exec, a recorded one
// goes through the environment).
// A rank of `ddp train` likewise: a SIGUSR1 forwarded by mpirun while the rank
// starts must be recorded (the run then stops at its first step boundary
// with the preemption code), not kill the rank, which would abort the job.
let subcommand = CommandLine.arguments.dropFirst().first
if subcommand == "launch" { SignalForwarder.holdSignals() }
if subcommand == "train" { PreemptionSignal.holdSignals() }

// OpenBLAS reads OPENBLAS_CORETYPE only at load time, so the fix for its
// misdetected kernel has to be a fresh image of this process; it must happen
// before MPI starts, while the process is still free to replace itself.
OpenBLASKernel.relaunchIfNeeded(beforeExec: PreemptionSignal.carryAcrossExec)
OpenBLASKernel.pinToOneThreadUnlessRequested()
if subcommand == "train" { PreemptionSignal.installAndRelease() }

// ArgumentParser exits with 64 (EX_USAGE) for a bad command line; the
// documented code for any bad input is 2, which job scripts and `ddp launch`
// treat as "do not retry".
do {
    var command = try DDPCommand.parseAsRoot()
    try command.run()
} catch {
    if DDPCommand.exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((DDPCommand.fullMessage(for: error) + "\n").utf8))
        exit(JobExitCode.userError)
    }
    DDPCommand.exit(withError: error)
}
