import Checkpoint
import DataParallel
import DataPipeline
import Foundation
import MPI
import NeuralNet
import RunConfig
import TensorCore

/// What `ddp train --resume` asks for.
public enum ResumeRequest: Equatable, Sendable {
    /// The newest valid checkpoint of the run directory; a fresh start when it has none.
    case auto
    /// A checkpoint directory (`.../step-00001200`), or a run or `checkpoints`
    /// directory whose newest valid checkpoint is meant.
    case path(String)

    /// `auto`, or a path.
    public init(argument: String) {
        self = argument == "auto" ? .auto : .path(argument)
    }
}

/// What ``Trainer/resume(from:)`` did.
public struct ResumeOutcome: Sendable {
    /// The checkpoint resumed from; `nil` for a fresh start.
    public let checkpoint: URL?
    /// The step the run continues from.
    public let step: Int
    /// Newer checkpoints that failed verification and were skipped, each
    /// described with the file at fault (rank 0 only; empty elsewhere).
    public let skipped: [String]
}

/// Config keys that may differ between a checkpoint and the run resuming
/// from it: they change how long the run goes, what it logs, where it finds
/// its data, or how gradients travel, never the state a checkpoint holds.
let keysFreeOnResume: Set<String> = [
    "training.steps", "training.epochs", "training.log_every", "training.eval_every", "training.eval_batches",
    "training.eval_batch_size", "checkpoint.every", "checkpoint.keep_last", "checkpoint.keep_every",
    "parallel.consistency_every", "parallel.bucket_mb", "parallel.bucket_mb_across_hosts", "parallel.overlap", "parallel.gradient_dtype",
    "parallel.zero", "data.dir", "training.on_anomaly", "training.spike_sigmas", "training.spike_ratio",
    "training.spike_window", "training.max_rollbacks", "training.skip_steps", "training.collective_timeout", "training.memory_fraction",
]

/// Floats per collective message and file read while streaming state: big
/// enough to amortize latency, small enough to stay far below shared
/// memory's message-size cliff and to keep the scratch buffer modest.
let checkpointChunk = 1 << 20

extension Trainer {
    /// Where this run's checkpoints go; `nil` when the run writes nothing.
    public var checkpointStore: CheckpointStore? {
        options.directory.map { CheckpointStore(runDirectory: $0) }
    }

    /// Whether the step just taken ends with a checkpoint: every
    /// `checkpoint.every` steps and at the end of the run.
    func checkpointDue(isLast: Bool) -> Bool {
        guard options.directory != nil, lastCheckpointStep != step else { return false }
        let every = config.run.checkpoint.every
        return isLast || (every > 0 && step % every == 0)
    }

    // MARK: - Saving

    /// Writes a checkpoint of the current step. Every rank must call it at
    /// the same step: it gathers each rank's dropout generator and, with
    /// sharded (ZeRO-1) optimizer state, every rank's shard, and rank 0 writes.
    ///
    /// Rank 0 streams the parameters straight from the live buffer and the
    /// optimizer state from its buffer (or, sharded, from one gathered chunk
    /// at a time), so no second copy of the model is held in memory. The
    /// optimizer file always holds the full, unsharded state, stored per
    /// parameter as `<state>.<parameter name>` (`momentum.fc1.weight`,
    /// `exp_avg.blocks.0.attn.qkv.weight`), so a checkpoint can be resumed at
    /// another rank count or ZeRO setting, and read outside this program.
    ///
    /// - Returns: The checkpoint directory on rank 0, `nil` elsewhere.
    /// - Throws: ``CheckpointError`` on every rank when rank 0 could not write,
    ///   or an `MPIError`.
    @discardableResult
    public func saveCheckpoint() throws -> URL? {
        guard let store = checkpointStore else { return nil }
        let parameters = model.parameters
        let generator = model.dropoutGenerator.state
        let words = try communicator.allGather([generator.0, generator.1, generator.2, generator.3]
            .map { Int64(bitPattern: $0) })
        let generators = (0..<communicator.size).map { rank in
            RandomGenerator(state: (UInt64(bitPattern: words[4 * rank]), UInt64(bitPattern: words[4 * rank + 1]),
                                    UInt64(bitPattern: words[4 * rank + 2]), UInt64(bitPattern: words[4 * rank + 3])))
        }
        let shards = try optimizerShards()

        // Rank 0 records its first failure but keeps taking part in the
        // collectives, so no rank is left waiting; all learn of it at the end.
        var failure: Error?
        func attempt(_ body: () throws -> Void) {
            guard isLeader, failure == nil else { return }
            do { try body() } catch { failure = error }
        }
        var directory: URL?
        var published = false
        var files: [String: TrainerState.FileRecord] = [:]
        attempt {
            directory = try store.makeTemporaryDirectory(step: step)
            let metadata = ["format": "pt", "step": "\(step)", "producer": "swift-ddp"]
            let writer = try SafetensorsWriter(
                path: directory!.appendingPathComponent(CheckpointStore.modelFile).path,
                entries: parameters.parameters.map { SafetensorsEntry(name: $0.name, shape: $0.shape) },
                metadata: metadata)
            try writer.append(parameters.values.pointer, count: parameters.count)
            let (digest, bytes) = try writer.finish()
            files[CheckpointStore.modelFile] = .init(bytes: bytes, sha256: digest)
        }

        if let model = data.tokenizerModel {
            attempt {
                // The run decodes what it generates with its data set's tokenizer: the checkpoint carries it.
                let target = directory!.appendingPathComponent(CheckpointStore.tokenizerFile).path
                let bytes = try Data(contentsOf: URL(fileURLWithPath: model))
                let digest = try writeFileSynced(target, bytes)
                files[CheckpointStore.tokenizerFile] = .init(bytes: bytes.count, sha256: digest)
            }
        }

        let states = optimizer.stateBuffers
        var optimizerWriter: SafetensorsWriter?
        attempt {
            var entries: [SafetensorsEntry] = []
            for state in states {
                entries += parameters.parameters.map { SafetensorsEntry(name: "\(state.name).\($0.name)", shape: $0.shape) }
            }
            optimizerWriter = try SafetensorsWriter(
                path: directory!.appendingPathComponent(CheckpointStore.optimizerFile).path, entries: entries,
                metadata: ["format": "pt", "step": "\(step)", "optimizer": config.run.optimizer.kind,
                           "step_count": "\(optimizer.stepCount)"])
        }
        // Parameters tile the flat buffer in offset order, so one state's
        // tensors, one after another, are exactly its flat buffer: stream that.
        let scratch = shards == nil ? nil : Tensor(zeros: [min(checkpointChunk, parameters.count)])
        for state in states {
            var start = 0
            while start < parameters.count {
                let chunk = start..<min(start + checkpointChunk, parameters.count)
                let source: UnsafePointer<Float>
                if let shards, let scratch {
                    let mine = chunk.clamped(to: optimizer.shard)
                    let counts = shards.map { chunk.clamped(to: $0).count }
                    try communicator.allGather(
                        UnsafeBufferPointer(start: state.tensor.pointer + (mine.lowerBound - optimizer.shard.lowerBound),
                                            count: mine.count),
                        into: UnsafeMutableBufferPointer(start: scratch.pointer, count: chunk.count), counts: counts)
                    source = UnsafePointer(scratch.pointer)
                } else {
                    source = UnsafePointer(state.tensor.pointer + chunk.lowerBound)
                }
                attempt { try optimizerWriter?.append(source, count: chunk.count) }
                start = chunk.upperBound
            }
        }
        attempt {
            if let (digest, bytes) = try optimizerWriter?.finish() {
                files[CheckpointStore.optimizerFile] = .init(bytes: bytes, sha256: digest)
            }
            let record = TrainerState(
                format: TrainerState.currentFormat, step: step, samplerPosition: loader.position,
                stepsPerEpoch: stepsPerEpoch, worldSize: communicator.size,
                globalBatch: config.run.training.batchSize, accumulation: accumulation,
                trainSamples: data.train.count, parameterCount: parameters.count, dropoutGenerators: generators.map(\.hexWords),
                optimizer: .init(kind: config.run.optimizer.kind, stepCount: optimizer.stepCount,
                                 stateNames: states.map(\.name),
                                 shards: shards.map { $0.map { [$0.lowerBound, $0.upperBound] } }),
                config: config.yaml, configDigest: config.digest, vocabulary: data.vocabulary?.serialized,
                files: files,
                inputPreprocessing: (data.train as? PreprocessedDataset)?.steps,
                anomalies: anomalyRecord)
            let stateDigest = try writeFileSynced(directory!.appendingPathComponent(CheckpointStore.stateFile).path,
                                                  try record.encoded())
            try CheckpointStore.writeChecksums(in: directory!, files.mapValues(\.sha256)
                .merging([CheckpointStore.stateFile: stateDigest]) { a, _ in a })
            directory = try store.publish(directory!, step: step)
            published = true
            store.prune(keepLast: config.run.checkpoint.keepLast, keepEvery: config.run.checkpoint.keepEvery)
        }
        // A half-written checkpoint would keep a full disk full and block the rerun.
        if failure != nil, !published, let directory { try? FileManager.default.removeItem(at: directory) }
        try agreeOnLeaderOutcome(failure, what: "write the checkpoint of step \(step)")
        lastCheckpointStep = step
        lastCheckpointDirectory = isLeader ? directory : nil
        return isLeader ? directory : nil
    }

    /// Every rank's optimizer shard, in rank order, or `nil` when every rank
    /// holds the whole state (no ZeRO).
    private func optimizerShards() throws -> [Range<Int>]? {
        let bounds = try communicator.allGather([optimizer.shard.lowerBound, optimizer.shard.upperBound])
        let shards = (0..<communicator.size).map { bounds[2 * $0]..<bounds[2 * $0 + 1] }
        let whole = 0..<model.parameters.count
        if shards.allSatisfy({ $0 == whole }) { return nil }
        var end = 0
        for (rank, shard) in shards.enumerated() {
            precondition(shard.lowerBound == end || shard.isEmpty,
                         "Trainer: optimizer shard \(shard) of rank \(rank) does not follow the previous one (ends at \(end))")
            end = max(end, shard.upperBound)
        }
        precondition(end == whole.upperBound, "Trainer: optimizer shards end at \(end), not \(whole.upperBound)")
        return shards
    }

    /// Rank 0 tells the others whether `failure` happened; then every rank
    /// throws (rank 0 the error itself) or none does.
    private func agreeOnLeaderOutcome(_ failure: Error?, what: String) throws {
        // Rank 0 sends the exit code its failure deserves (0: none), so every
        // rank ends the same way: bad input, or a restartable runtime failure.
        let code = try communicator.broadcast(failure.map { JobExitCode.forError($0) } ?? 0, root: 0)
        if let failure { throw failure }
        if code != 0 { throw RankZeroFailure(what: what, exitCode: code) }
    }

    // MARK: - Resuming

    /// Restores parameters, optimizer state and step count, sampler position,
    /// dropout generators and step from a checkpoint. Every rank calls it,
    /// after `init` and before ``run()``.
    ///
    /// Rank 0 alone reads the files, after verifying each checksum, and
    /// broadcasts what it read, so the other ranks need not see the run
    /// directory. With ``ResumeRequest/auto`` (or a run directory) a newest
    /// checkpoint that fails verification is skipped, and reported in
    /// ``ResumeOutcome/skipped``, for the next older one.
    ///
    /// **The same number of ranks** continues bit for bit: parameters after
    /// S steps equal those of an uninterrupted S-step run.
    ///
    /// **Another number of ranks** continues with the same global batch and
    /// the same sample order. Each epoch's permutation depends only on seed
    /// and epoch, and step j of an epoch takes positions
    /// `[j*B, (j+1)*B)` of it whatever the rank count N, each rank taking
    /// every N-th: so the saved position (epoch, micro-batch index) means the
    /// same samples at any N for which `batch_size` splits evenly (the
    /// trainer refuses other N). It cannot hold when the sampler pads the
    /// permutation (`drop_last: false` with a training set that is not a
    /// multiple of the batch): that is refused. Results then agree up to
    /// float rounding (sums over ranks associate differently), and dropout
    /// masks differ (each rank has its own stream: ranks beyond the saved
    /// ones start a stream from seed and step).
    ///
    /// - Returns: Where the run resumed from.
    /// - Throws: ``CheckpointError`` on every rank when nothing valid can be
    ///   resumed (explicit path invalid, or checkpoints present but none
    ///   valid) or the checkpoint does not fit this run; an `MPIError`.
    @discardableResult
    public func resume(from request: ResumeRequest) throws -> ResumeOutcome {
        // 1. Rank 0 finds and verifies the checkpoint, then shares its trainer state.
        var failure: Error?
        var found: (url: URL, state: TrainerState)?
        var skipped: [String] = []
        if isLeader {
            do {
                (found, skipped) = try locateCheckpoint(request)
            } catch {
                failure = error
            }
        }
        try agreeOnLeaderOutcome(failure, what: "find a checkpoint to resume from")
        var json = [UInt8]()
        if isLeader, let found { json = Array(try found.state.encoded()) }
        let length = try communicator.broadcast(Int64(json.count), root: 0)
        if length == 0 { return ResumeOutcome(checkpoint: nil, step: step, skipped: []) }
        if !isLeader { json = [UInt8](repeating: 0, count: Int(length)) }
        try communicator.broadcast(&json, root: 0)
        let name = found?.url.path ?? "the checkpoint"
        let state = try TrainerState.decode(Data(json), path: name)

        // 2. Every rank checks the same things, so they all throw alike.
        try checkCompatible(state, checkpoint: name)

        // 3. Parameters and optimizer state, streamed from rank 0's files.
        if isLeader, let url = found?.url {
            do {
                try readParameters(from: url.appendingPathComponent(CheckpointStore.modelFile).path)
            } catch {
                failure = error
            }
        }
        try agreeOnLeaderOutcome(failure, what: "read the parameters of \(name)")
        try ReplicaSync(communicator: communicator).broadcastParameters(model.parameters)
        try restoreOptimizerState(state, from: found?.url.appendingPathComponent(CheckpointStore.optimizerFile).path,
                                  checkpoint: name)

        // 4. The scalars.
        optimizer.stepCount = state.optimizer.stepCount
        if state.worldSize == communicator.size || communicator.rank < state.dropoutGenerators.count,
           let generator = RandomGenerator(hexWords: state.dropoutGenerators[communicator.rank]) {
            model.dropoutGenerator = generator
        } else {
            let seed = UInt64(config.run.training.seed)
            model.dropoutGenerator = Self.dropoutGenerator(seed: seed &+ UInt64(state.step), rank: communicator.rank)
        }
        loader.restore(state.samplerPosition)
        restoreAnomalyWindows(state.anomalies ?? AnomalyHistory())
        skipSteps.formUnion(anomalies.stepsSkippedUncomputed)
        step = state.step
        lastCheckpointStep = state.step
        lastCheckpointDirectory = found?.url
        return ResumeOutcome(checkpoint: found?.url, step: step, skipped: skipped)
    }

    /// Finds the checkpoint `request` means (rank 0 only).
    private func locateCheckpoint(_ request: ResumeRequest) throws -> (found: (url: URL, state: TrainerState)?, skipped: [String]) {
        let store: CheckpointStore
        switch request {
        case .auto:
            guard let runStore = checkpointStore else {
                throw CheckpointError.incompatible(checkpoint: "--resume auto", reason: "the run has no run directory")
            }
            store = runStore
        case .path(let path):
            let url = URL(fileURLWithPath: path)
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(CheckpointStore.stateFile).path)
                || CheckpointStore.step(ofName: url.lastPathComponent) != nil {
                // A named checkpoint: no fallback, the user asked for this one.
                return ((url, try CheckpointStore.verify(url)), [])
            }
            let nested = url.appendingPathComponent("checkpoints")
            store = FileManager.default.fileExists(atPath: nested.path) ? CheckpointStore(root: nested) : CheckpointStore(root: url)
            guard FileManager.default.fileExists(atPath: store.root.path) else {
                throw CheckpointError.missingFile(path)
            }
        }
        // A checkpoint whose checksums hold can still not fit (another model,
        // a hostile header): skip it like a damaged one, for the one before.
        let (found, rejected) = try store.newestValid { url, state in try self.checkLoadable(url, state: state) }
        if found == nil, case .path(let path) = request {
            throw CheckpointError.noValidCheckpoint(directory: path, rejected: [])
        }
        return (found, rejected)
    }

    /// Throws unless the checkpoint at `url` fits this run and its files'
    /// headers hold the tensors the resume reads (rank 0, before choosing it).
    private func checkLoadable(_ url: URL, state: TrainerState) throws {
        try checkCompatible(state, checkpoint: url.path)
        let parameters = model.parameters.parameters
        let model = try SafetensorsFile(path: url.appendingPathComponent(CheckpointStore.modelFile).path)
        try checkTensors(of: model, expected: parameters.map { ($0.name, $0.shape) })
        let states = optimizer.stateBuffers
        guard !states.isEmpty else { return }
        let optimizerState = try SafetensorsFile(path: url.appendingPathComponent(CheckpointStore.optimizerFile).path)
        var expected: [(String, [Int])] = []
        for state in states { expected += parameters.map { ("\(state.name).\($0.name)", $0.shape) } }
        try checkTensors(of: optimizerState, expected: expected)
    }

    /// Throws unless `state` can continue this run (see ``resume(from:)``).
    private func checkCompatible(_ state: TrainerState, checkpoint: String) throws {
        func refuse(_ reason: String) -> CheckpointError { .incompatible(checkpoint: checkpoint, reason: reason) }
        if state.configDigest != config.digest {
            let saved: ResolvedConfig
            do {
                saved = try ResolvedConfig.parse(yaml: state.config, source: checkpoint + " (its config)")
            } catch {
                throw refuse("its config no longer loads: \(error)")
            }
            let keys = Set(saved.values.keys).union(config.values.keys).subtracting(keysFreeOnResume).sorted()
            let differing = keys.filter { saved.values[$0] != config.values[$0] }
            if !differing.isEmpty {
                let list = differing.map { key in
                    "\(key) (checkpoint \(saved.values[key].map { "\($0)" } ?? "unset"), now \(config.values[key].map { "\($0)" } ?? "unset"))"
                }
                throw refuse("the config differs in " + list.joined(separator: ", ")
                             + "; only " + keysFreeOnResume.sorted().joined(separator: ", ") + " may change on resume")
            }
        }
        guard state.trainSamples == data.train.count else {
            throw refuse("it was trained on \(state.trainSamples) samples, this data set has \(data.train.count)")
        }
        guard state.parameterCount == model.parameters.count else {
            throw refuse("its model has \(state.parameterCount) parameters, this one \(model.parameters.count)")
        }
        if state.worldSize != communicator.size {
            let batch = config.run.training.batchSize
            guard config.run.training.dropLast || data.train.count % batch == 0 else {
                throw refuse("it was written by \(state.worldSize) rank(s), this run has \(communicator.size), and with "
                             + "training.drop_last false and \(data.train.count) samples (not a multiple of the batch "
                             + "\(batch)) the padded sample order depends on the rank count; resume on "
                             + "\(state.worldSize) rank(s)")
            }
        }
        guard state.stepsPerEpoch == stepsPerEpoch else {
            throw refuse("it has \(state.stepsPerEpoch) steps per epoch, this run \(stepsPerEpoch)")
        }
        guard state.samplerPosition.batch <= loader.batchesPerEpoch else {
            throw refuse("its sampler position \(state.samplerPosition) lies outside an epoch of \(loader.batchesPerEpoch) batches")
        }
        let names = optimizer.stateBuffers.map(\.name)
        guard state.optimizer.stateNames == names else {
            throw refuse("it holds optimizer state \(state.optimizer.stateNames), this optimizer has \(names)")
        }
        guard state.dropoutGenerators.count == state.worldSize,
              state.dropoutGenerators.allSatisfy({ RandomGenerator(hexWords: $0) != nil }) else {
            throw refuse("its dropout generator states are malformed")
        }
    }

    /// Reads every parameter of `path` straight into the live buffer (rank 0).
    private func readParameters(from path: String) throws {
        let file = try SafetensorsFile(path: path)
        let parameters = model.parameters
        try checkTensors(of: file, expected: parameters.parameters.map { ($0.name, $0.shape) })
        for p in parameters.parameters {
            try file.read(p.name, elements: 0..<p.count, into: parameters.values.pointer + p.offset)
        }
    }

    /// Throws unless `file` holds exactly the tensors `expected`.
    private func checkTensors(of file: SafetensorsFile, expected: [(name: String, shape: [Int])]) throws {
        for (name, shape) in expected {
            guard let tensor = file.tensors[name] else {
                throw CheckpointError.malformed(path: file.path, reason: "no tensor \(name)")
            }
            guard tensor.shape == shape else {
                throw CheckpointError.malformed(path: file.path, reason: "tensor \(name) has shape \(tensor.shape), expected \(shape)")
            }
        }
        guard file.tensors.count == expected.count else {
            throw CheckpointError.malformed(path: file.path,
                                            reason: "\(file.tensors.count) tensors, expected \(expected.count)")
        }
    }

    /// Rank 0 reads each state buffer in flat chunks and broadcasts them;
    /// every rank keeps the part inside its shard.
    private func restoreOptimizerState(_ state: TrainerState, from path: String?, checkpoint: String) throws {
        let parameters = model.parameters
        let states = optimizer.stateBuffers
        var failure: Error?
        var file: SafetensorsFile?
        if isLeader, let path {
            do {
                let opened = try SafetensorsFile(path: path)
                var expected: [(String, [Int])] = []
                for state in states { expected += parameters.parameters.map { ("\(state.name).\($0.name)", $0.shape) } }
                try checkTensors(of: opened, expected: expected)
                file = opened
            } catch {
                failure = error
            }
        }
        try agreeOnLeaderOutcome(failure, what: "open the optimizer state of \(checkpoint)")
        guard !states.isEmpty, parameters.count > 0 else { return }
        let scratch = Tensor(zeros: [min(checkpointChunk, parameters.count)])
        let shard = optimizer.shard
        for state in states {
            var start = 0
            while start < parameters.count {
                let chunk = start..<min(start + checkpointChunk, parameters.count)
                if let file, failure == nil {
                    do {
                        for p in parameters.parameters {
                            let piece = p.range.clamped(to: chunk)
                            if piece.isEmpty { continue }
                            try file.read("\(state.name).\(p.name)",
                                          elements: (piece.lowerBound - p.offset)..<(piece.upperBound - p.offset),
                                          into: scratch.pointer + (piece.lowerBound - chunk.lowerBound))
                        }
                    } catch {
                        failure = error
                    }
                }
                try communicator.broadcast(UnsafeMutableBufferPointer(start: scratch.pointer, count: chunk.count), root: 0)
                let mine = chunk.clamped(to: shard)
                if !mine.isEmpty {
                    (state.tensor.pointer + (mine.lowerBound - shard.lowerBound))
                        .update(from: scratch.pointer + (mine.lowerBound - chunk.lowerBound), count: mine.count)
                }
                start = chunk.upperBound
            }
        }
        try agreeOnLeaderOutcome(failure, what: "read the optimizer state of \(checkpoint)")
    }
}

// MARK: - Step-boundary stop requests

extension Trainer {
    /// Whether `ddp launch` left its stop request in the run directory.
    /// Looked at most once a second: on a shared file system a stat per
    /// step of a fast model would cost more than the step.
    func stopRequested() -> Bool {
        guard let path = stopRequestPath else { return false }
        let now = MonotonicClock.nanoseconds()
        guard now &- lastStopCheck >= 1_000_000_000 || lastStopCheck == 0 else { return false }
        lastStopCheck = now
        return access(path, F_OK) == 0
    }

    /// Writes the checkpoint of the current step (unless it was just written)
    /// and marks the run as ``preempted``.
    func stopForPreemption() throws {
        if options.directory != nil && lastCheckpointStep != step {
            _ = try watched(.checkpoint, step: step) { try saveCheckpoint() }
        }
        preempted = true
    }
}
