import Checkpoint
import Foundation
import MPI
import RunConfig

/// `ddp replay`: re-executes part of a run from one of its checkpoints and
/// checks that it arrives at the run's own later checkpoint bit for bit.
///
/// From checkpoint `step-A` to step `M`, the replay
/// 1. reads the checkpoint (rank 0, after verifying its checksums) and the
///    run's own `step-M` beside it, when there is one;
/// 2. refuses to run on another number of ranks than the checkpoint's
///    `worldSize`: sums over ranks associate differently at another count,
///    so only the same count can agree to the bit;
/// 3. builds a ``Trainer`` from the config the run recorded (that of `step-M`
///    when it exists, since it made the steps up to M, else that of `step-A`),
///    with only keys that are free on resume changed: a checkpoint only at
///    the end, no evaluation. The run still spans its own `training.steps`
///    (a cosine schedule depends on it), and the replay stops at M
///    (``RunOptions/endStep``); only a replay past the run's end raises
///    `training.steps` to M;
/// 4. resumes from `step-A`, adds to ``Trainer/skipSteps`` the steps that
///    `step-M` records as skipped without being computed (after a
///    rollback), runs to M and writes its checkpoint into a scratch run
///    directory, never the run's own;
/// 5. compares that checkpoint with `step-M` (``CheckpointComparison``).
///
/// Every rank takes part in the training; rank 0 alone reads the run's files
/// and compares, and every rank returns the same ``ReplayResult``.
public enum RunReplay {
    /// Replays the run from `checkpoint` (a `.../checkpoints/step-00000020`
    /// directory) to step `target`. Collective.
    ///
    /// - Parameters:
    ///   - scratch: The run directory the replay writes, which must be new or
    ///     empty and is kept; `nil` for a temporary one, removed afterwards.
    ///   - dataDirectory: Replaces the recorded `data.dir`.
    ///   - rerun: The command, without `mpirun`, that a wrong rank count's
    ///     message tells the user to run.
    /// - Throws: ``ReplayError`` and ``CheckpointError`` for bad input, the same
    ///   on every rank (rank 0 the error, the others a ``RankZeroFailure``);
    ///   what the training throws.
    public static func replay(from checkpoint: String, toStep target: Int, scratch: String? = nil,
                              dataDirectory: String? = nil, communicator: Communicator,
                              rerun: String) throws -> ReplayResult {
        let plan = try ReplayPlan.shared(checkpoint: checkpoint, target: target, communicator: communicator, rerun: rerun)
        let startName = plan.startName
        let config = try plan.config(target: target, dataDirectory: dataDirectory)
        let place = try communicator.leaderValue("create the replay's scratch run directory") {
            try ReplayScratch.make(scratch)
        }
        defer {
            if communicator.rank == 0 && place.temporary { try? FileManager.default.removeItem(atPath: place.path) }
        }
        let directory = URL(fileURLWithPath: place.path)
        let finalLoss: Double
        do {
            var options = RunOptions(directory: directory, plainProgress: true)
            options.evaluatesAtEnd = false
            options.endStep = target
            options.reportsProgress = false
            let trainer = try Trainer(config: config, communicator: communicator, options: options)
            try trainer.resume(from: .path(plan.start))
            trainer.skipSteps.formUnion(plan.storedSkips)
            finalLoss = try trainer.run().finalTrainLoss
            guard trainer.step == target, trainer.lastCheckpointStep == target else {
                throw ReplayError.endedEarly(checkpoint: startName, step: trainer.step, target: target)
            }
        }
        return try communicator.leaderValue("compare the replay with \(plan.stored ?? "the run")") {
            let replayed = CheckpointStore(runDirectory: directory).url(step: target)
            var comparison: CheckpointComparison?
            if let stored = plan.stored, let storedState = plan.storedState {
                let statePath = replayed.appendingPathComponent(CheckpointStore.stateFile).path
                guard let data = FileManager.default.contents(atPath: statePath) else {
                    throw CheckpointError.missingFile(statePath)
                }
                comparison = try CheckpointComparison.compare(
                    replayed: replayed, try TrainerState.decode(data, path: statePath),
                    stored: URL(fileURLWithPath: stored), storedState)
            }
            return ReplayResult(startName: startName, endStep: target, stored: plan.stored,
                                tensors: comparison?.tensors ?? 0, difference: comparison?.difference,
                                finalLoss: finalLoss.isFinite ? finalLoss : nil,
                                replayed: place.temporary ? nil : replayed.path)
        }
    }
}

/// What rank 0 read before a replay, sent to every rank.
struct ReplayPlan: Codable {
    /// The checkpoint replayed from, its path standardized.
    var start: String
    var startState: TrainerState
    /// The run's own checkpoint of the target step, when it has one.
    var stored: String?
    var storedState: TrainerState?

    /// The steps the stored checkpoint records as skipped without being computed.
    var storedSkips: Set<Int> { storedState?.anomalies?.stepsSkippedUncomputed ?? [] }

    /// The checkpoint's directory name, e.g. `step-00000020`.
    var startName: String { URL(fileURLWithPath: start).lastPathComponent }

    /// ``make(checkpoint:target:)`` on rank 0, sent to every rank, which all
    /// refuse alike to replay on another number of ranks than the checkpoint's.
    static func shared(checkpoint: String, target: Int, communicator: Communicator, rerun: String) throws -> ReplayPlan {
        let plan = try communicator.leaderValue("read the checkpoint \(checkpoint)") {
            try ReplayPlan.make(checkpoint: checkpoint, target: target)
        }
        guard plan.startState.worldSize == communicator.size else {
            throw ReplayError.wrongRankCount(checkpoint: plan.startName, worldSize: plan.startState.worldSize,
                                             ranks: communicator.size, rerun: rerun)
        }
        return plan
    }

    /// Reads and verifies `checkpoint` and, when it exists, its sibling of step `target` (rank 0).
    static func make(checkpoint: String, target: Int) throws -> ReplayPlan {
        let url = URL(fileURLWithPath: checkpoint).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CheckpointError.notACheckpoint(path: checkpoint, reason: "expected a checkpoint directory such as "
                                                 + "RUN/checkpoints/step-00000020")
        }
        let state = try CheckpointStore.verify(url)
        guard target > state.step else {
            throw ReplayError.targetNotAfterStart(checkpoint: url.lastPathComponent, step: state.step, target: target)
        }
        let sibling = url.deletingLastPathComponent().appendingPathComponent(CheckpointStore.name(step: target))
        var plan = ReplayPlan(start: url.path, startState: state)
        if FileManager.default.fileExists(atPath: sibling.path) {
            let stored = try CheckpointStore.verify(sibling, step: target)
            (plan.stored, plan.storedState) = (sibling.path, stored)
        }
        return plan
    }

    /// The config the replay trains with: the recorded one (the stored
    /// checkpoint's, else the start's), with a checkpoint only at the end, no
    /// evaluation, `training.steps` raised to `target` only when the run ends
    /// before it, and `data.dir` replaced when asked. All free on resume.
    func config(target: Int, dataDirectory: String?, extra: [String] = []) throws -> ResolvedConfig {
        var (yaml, source) = (startState.config, start)
        if let stored, let storedState { (yaml, source) = (storedState.config, stored) }
        let label = source + "/" + CheckpointStore.stateFile + " (its config)"
        let recorded = try ResolvedConfig.parse(yaml: yaml, source: label)
        let (epochs, steps) = (recorded.run.training.epochs, recorded.run.training.steps)
        let total = min(epochs > 0 ? epochs * startState.stepsPerEpoch : Int.max, steps > 0 ? steps : Int.max)
        var overrides = ["checkpoint.every=0", "training.eval_every=0"]
        if target > total { overrides += ["training.steps=\(target)", "training.epochs=0"] }
        if let dataDirectory { overrides.append("data.dir=\(dataDirectory)") }
        return try ResolvedConfig.parse(yaml: yaml, source: label, overrides: overrides + extra)
    }
}
