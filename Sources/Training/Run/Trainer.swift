import DataParallel
import DataPipeline
import Checkpoint
import Foundation
import MPI
import NeuralNet
import RunConfig
import RunLog
import TensorCore

/// Where a run writes, and how it reports.
public struct RunOptions {
    /// The run directory (config, metrics, checkpoints); `nil` writes nothing.
    public var directory: URL?
    /// Log lines even on a terminal.
    public var plainProgress: Bool
    /// Who drives MPI progress during backward (a benchmark compares both).
    public var progress: ProgressMode = .polling
    /// Whether ``Trainer/run()`` evaluates on the validation split after the
    /// last step; a replay (``RunReplay``), which only compares state, does not.
    public var evaluatesAtEnd = true
    /// Stop after this step although the run goes on to ``Trainer/totalSteps``:
    /// the learning-rate schedule still spans the whole run, so the steps up
    /// to here are those of the whole run, bit for bit (``RunReplay``). The
    /// last step taken counts as the run's last: it is logged and checkpointed.
    public var endStep: Int?
    /// Whether rank 0 shows the progress bar or log lines (and the
    /// evaluation lines); `metrics.jsonl` is written either way.
    public var reportsProgress = true

    public init(directory: URL?, plainProgress: Bool = false) {
        self.directory = directory
        self.plainProgress = plainProgress
    }
}

/// What a finished run reports.
public struct RunSummary: Sendable {
    public let steps: Int
    public let epochs: Double
    public let finalTrainLoss: Double
    public let evaluation: EvaluationResult?
    public let samplesPerSecond: Double
    public let seconds: Double
    /// The steps skipped and the rollbacks taken, over the whole run.
    public let anomalies: AnomalyHistory
}

/// One data-parallel training run: every rank builds the same model from the
/// config, rank 0's parameters are copied to all, and each step averages
/// gradients over ranks before every rank takes the same optimizer step.
public final class Trainer {
    public let config: ResolvedConfig
    public let communicator: Communicator
    public let data: DataSplits
    public let model: Model
    public let optimizer: Optimizer
    public let reducer: GradientReducer
    public let loader: BatchLoader
    public let schedule: LearningRateSchedule
    /// Optimizer steps the run will take.
    public let totalSteps: Int
    /// Optimizer steps in one epoch.
    public let stepsPerEpoch: Int
    /// Micro-batches per optimizer step.
    public let accumulation: Int
    /// Optimizer steps taken.
    public internal(set) var step = 0
    /// The step of the last checkpoint written or resumed from.
    var lastCheckpointStep: Int?
    /// That checkpoint's directory, on rank 0: a rollback returns there, also
    /// when it lies outside this run's directory (a resume from another run,
    /// or a replay, whose scratch directory holds only what it writes).
    var lastCheckpointDirectory: URL?
    /// Whether ``run()`` stopped early for a preemption signal (see ``PreemptionSignal``).
    public internal(set) var preempted = false
    /// Set by the step's agreement when any rank has a preemption signal.
    var preemptionPending = false
    /// Steps whose update was dropped for an anomaly (`training.on_anomaly: skip`).
    public internal(set) var skippedSteps = 0
    /// What anomaly handling did so far; every checkpoint records it.
    public internal(set) var anomalies = AnomalyHistory()
    /// Steps stepped over without being computed: `training.skip_steps`, the
    /// steps rollbacks skipped, and any a replay adds.
    public var skipSteps: Set<Int>
    /// The running statistics spikes are judged by (`training.spike_window`).
    var lossWindow: SpikeWindow
    var normWindow: SpikeWindow
    /// The global gradient norm of the last step, when spike detection measures it.
    public internal(set) var lastGradientNorm: Double?

    let options: RunOptions
    private let sync: ReplicaSync
    /// Aborts the job when a collective blocks too long (`training.collective_timeout`).
    let watchdog: CollectiveWatchdog?
    /// Test-only faults (see ``FaultInjection``).
    private let faults: FaultInjection
    var metrics: MetricsLog?
    /// The same records as TensorBoard scalars, for `tensorboard --logdir RUN_DIR`.
    private var events: TensorBoardEventWriter?
    let isLeader: Bool
    /// The run directory's ``PreemptionSignal/requestFile``, watched by rank 0.
    let stopRequestPath: String?
    /// When rank 0 last looked for it (``MonotonicClock`` nanoseconds).
    var lastStopCheck: UInt64 = 0

    /// Builds every part of the run and synchronizes the replicas.
    ///
    /// - Throws: ``ConfigError``, ``RunError``, `DataError` or ``ReplicaError``
    ///   for bad input, the same on every rank.
    public init(config: ResolvedConfig, communicator: Communicator, options: RunOptions) throws {
        (self.config, self.communicator, self.options) = (config, communicator, options)
        isLeader = communicator.rank == 0
        stopRequestPath = options.directory?.appendingPathComponent(PreemptionSignal.requestFile).path
        sync = ReplicaSync(communicator: communicator)
        let watchdog = Self.makeWatchdog(config: config, communicator: communicator)
        if let watchdog, let directory = options.directory {
            watchdog.setReportDirectory(directory.appendingPathComponent(CollectiveWatchdog.reportFolder).path)
        }
        self.watchdog = watchdog
        faults = FaultInjection(rank: communicator.rank)
        skipSteps = Set(config.run.training.skipSteps)
        lossWindow = SpikeWindow(capacity: config.run.training.spikeWindow)
        normWindow = SpikeWindow(capacity: config.run.training.spikeWindow)

        let ranks = communicator.size
        let globalBatch = config.run.training.batchSize
        accumulation = config.run.training.accumulation
        guard globalBatch % (ranks * accumulation) == 0 else {
            throw ConfigError(source: config.source, key: "training.batch_size",
                              message: "\(globalBatch) does not split evenly over \(ranks) ranks × \(accumulation) micro-batches")
        }
        let microBatch = globalBatch / (ranks * accumulation)

        // A generated data set is as large as the config says: checked before it exists.
        if let bytes = MemoryEstimate.generatedDataBytes(config.run) {
            try Self.checkMemory(config, needing: bytes, described: MemoryEstimate.format(bytes) + " of generated data per rank",
                                 key: "data.samples", communicator: communicator)
        }
        data = try RunComponents.loadData(config)
        guard !(config.run.training.dropLast && globalBatch > data.train.count) else {
            throw ConfigError(source: config.source, key: "training.batch_size",
                              message: "\(globalBatch) is larger than the \(data.train.count) training samples")
        }
        let estimate = MemoryEstimate(config.run, inputShape: data.train.inputShape, classes: data.train.classCount ?? 1,
                                      microBatch: microBatch, ranks: ranks, validationSamples: data.validation.count)
        try Self.checkMemory(config, needing: estimate.totalBytes, described: "\(estimate)", key: estimate.dominantKey(config.run),
                             communicator: communicator)
        model = try Self.makeModel(config, data: data, communicator: communicator)
        let seed = UInt64(config.run.training.seed)
        Self.initialize(model, seed: seed, rank: communicator.rank)

        do {
            watchdog?.arm(.startup, step: 0)
            defer { watchdog?.disarm() }
            try sync.verifySameStructure(Self.structureFields(config: config, model: model, data: data, ranks: ranks))
            try sync.broadcastParameters(model.parameters)
            if let watchdog { watchdog.setHosts(try communicator.gatherHostNames()) }
        }

        let sampler = DistributedSampler(count: data.train.count, ranks: ranks, rank: communicator.rank, seed: seed,
                                         shuffle: config.run.training.shuffle, dropLast: config.run.training.dropLast)
        loader = BatchLoader(dataset: data.train, sampler: sampler, batchSize: microBatch, prefetch: config.run.data.prefetch)
        stepsPerEpoch = loader.batchesPerEpoch / accumulation
        guard stepsPerEpoch > 0 else {
            throw ConfigError(source: config.source, key: "training.batch_size",
                              message: "\(globalBatch) is larger than the \(data.train.count) training samples")
        }
        let epochs = config.run.training.epochs, steps = config.run.training.steps
        totalSteps = [epochs > 0 ? epochs * stepsPerEpoch : Int.max, steps > 0 ? steps : Int.max].min()!

        // ZeRO-1: this rank's optimizer holds state for its shard only.
        let shards = config.run.parallel.zero == 1 ? ParameterShards(count: model.parameters.count, ranks: ranks) : nil
        optimizer = RunComponents.makeOptimizer(config, parameters: model.parameters,
                                                shard: shards?.ranges[communicator.rank])
        schedule = RunComponents.makeSchedule(config, totalSteps: totalSteps)
        // Buckets are a unit of readiness on one host; across hosts a smaller
        // one starts crossing the network earlier (docs/benchmarks.md).
        let bucketMB = try communicator.sharesOneNode() ? config.run.parallel.bucketMb : config.run.parallel.bucketMbAcrossHosts
        reducer = try GradientReducer(communicator: communicator, parameters: model.parameters,
                                      bucketBytes: max(4, Int(bucketMB * 1_048_576)),
                                      overlap: config.run.parallel.overlap,
                                      precision: config.run.parallel.gradientDtype == .bf16 ? .bfloat16 : .float32,
                                      shards: shards, progress: options.progress)

        if isLeader, let directory = options.directory {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let configURL = directory.appendingPathComponent("config.yaml")
            guard FileManager.default.createFile(atPath: configURL.path, contents: Data(config.yaml.utf8)) else {
                throw RunError.cannotWrite(configURL.path)
            }
            metrics = try MetricsLog(url: directory.appendingPathComponent(MetricsLog.fileName))
            events = try TensorBoardEventWriter(directory: directory)
        }
    }

    /// Sets the parameters and rank `rank`'s dropout generator from `seed`:
    /// the state of step 0, the same bits on every run.
    static func initialize(_ model: Model, seed: UInt64, rank: Int) {
        model.initializeParameters(seed: seed)
        model.dropoutGenerator = dropoutGenerator(seed: seed, rank: rank)
    }

    /// Rank `rank`'s dropout stream from `seed`.
    static func dropoutGenerator(seed: UInt64, rank: Int) -> RandomGenerator {
        RandomGenerator(seed: seed, stream: 0xD0 &+ UInt64(rank))
    }

    /// Builds the model, with its gradients in memory shared by the ranks
    /// when `parallel.transport` allows it and ranks share a host.
    /// Refuses a run that would not fit: its estimated memory, times the
    /// ranks on each host, against `training.memory_fraction` of what that
    /// host has available. Collective: the hosts' figures are reduced first,
    /// so that every rank reaches the same verdict (a rank refusing alone
    /// would leave the others in the next collective).
    ///
    /// - Parameter estimate: The bytes one rank needs.
    /// - Throws: ``ConfigError`` naming `key`.
    static func checkMemory(_ config: ResolvedConfig, needing estimate: Double, described: String, key: String,
                            communicator: Communicator) throws {
        let host = try communicator.splitByHost()
        let available = availableMemoryBytes() ?? .infinity
        // The tightest host decides: the largest share of its budget one host's ranks would take.
        let budget = available * config.run.training.memoryFraction
        let share = try communicator.allReduce(estimate * Double(host.size) / budget, op: .max)
        guard share <= 1 else {
            let mostRanks = try communicator.allReduce(host.size, op: .max)
            let leastBudget = try communicator.allReduce(budget, op: .min)
            throw ConfigError(source: config.source, key: key,
                              message: "the run needs about \(described) × \(mostRanks) rank(s) on a host, more than "
                                + "\(MemoryEstimate.format(leastBudget)) (training.memory_fraction "
                                + "\(config.run.training.memoryFraction) of the memory available there); lower "
                                + "training.batch_size, training.eval_batch_size, the data set's size or the model's (model.*)")
        }
    }

    static func makeModel(_ config: ResolvedConfig, data: DataSplits, communicator: Communicator) throws -> Model {
        guard communicator.size > 1, config.run.parallel.transport == .auto else {
            return try RunComponents.makeModel(config, data: data)
        }
        let isLeader = communicator.rank == 0
        // On one host bfloat16 saves no wire; between hosts it applies to the network stage.
        // Tests of the hierarchical transport on one machine split the ranks into pretend hosts.
        let simulatedHosts = ProcessInfo.processInfo.environment["DDP_TEST_SIMULATED_HOSTS"].flatMap { Int($0) }
            .flatMap { $0 >= 1 && communicator.size % $0 == 0 ? $0 : nil }
        let allocator = SharedGradientBuffers.allocator(
            communicator: communicator, singleHost: config.run.parallel.gradientDtype == .float32,
            simulatedHosts: simulatedHosts
        ) { error in
            // Several nodes are the normal case for MPI; a failure on one node is worth a line.
            if let error, isLeader {
                FileHandle.standardError.write(Data("ddp: gradients go through MPI: \(error)\n".utf8))
            }
        }
        return try ParameterStore.withGradientAllocator(allocator) {
            try RunComponents.makeModel(config, data: data)
        }
    }

    /// The fields every rank must agree on before training.
    static func structureFields(config: ResolvedConfig, model: Model, data: DataSplits, ranks: Int) -> [(name: String, value: String)] {
        var fields: [(String, String)] = [("config digest", config.digest), ("world size", "\(ranks)"),
                                          ("data", data.summary), ("parameter count", "\(model.parameters.count)")]
        for p in model.parameters.parameters {
            fields.append(("parameter \(p.name)", "\(p.shape) at \(p.offset)"))
        }
        return fields
    }

    /// Trains until `training.steps` or `training.epochs` is reached (or
    /// ``RunOptions/endStep``), evaluating at `training.eval_every` and, unless
    /// ``RunOptions/evaluatesAtEnd`` is false, at the end.
    public func run() throws -> RunSummary {
        // A replay stops early (options.endStep); the schedule still spans totalSteps.
        let endStep = min(totalSteps, options.endStep ?? Int.max)
        let display = isLeader && options.reportsProgress
            ? ProgressDisplay(totalSteps: endStep == Int.max ? nil : endStep, forcePlain: options.plainProgress) : nil
        let logEvery = config.run.training.logEvery
        let evalEvery = config.run.training.evalEvery
        let consistencyEvery = config.run.parallel.consistencyEvery
        let clipNorm = Float(config.run.optimizer.clipNorm)
        let globalBatch = config.run.training.batchSize

        let runClock = Stopwatch()
        // A resumed run starts past 0; its throughput counts its own steps.
        let firstStep = step
        var windowClock = Stopwatch()
        var windowLoss = 0.0, windowCorrect = 0.0, windowCount = 0.0, windowSteps = 0
        var lastLoss = Double.nan
        var lastEvaluation: EvaluationResult?

        while step < endStep {
            let learningRate = schedule.learningRate(at: step)
            let (loss, correct, count): (Double, Double, Double)
            if skipSteps.contains(step + 1) {
                skipUncomputed()
                (loss, correct, count) = (.nan, 0, 0)
            } else {
                faults.beforeStep(step + 1)
                do {
                    (loss, correct, count) = try trainStep(learningRate: learningRate, clipNorm: clipNorm)
                } catch let request as RollbackRequest {
                    try rollBack(request)
                    windowLoss = 0; windowCorrect = 0; windowCount = 0; windowSteps = 0
                    windowClock.reset()
                    continue
                }
            }
            step += 1
            // A skipped step reports a NaN loss and counts in no window.
            if !loss.isNaN {
                windowLoss += loss
                windowCorrect += correct
                windowCount += count
                windowSteps += 1
            }

            let isLast = step == endStep
            if step % logEvery == 0 || isLast {
                var sums = [windowLoss, windowCorrect, windowCount]
                try watched(.lossAllreduce, step: step) { try communicator.allSum(&sums) }
                lastLoss = sums[0] / Double(windowSteps * communicator.size)
                guard lastLoss.isFinite || windowSteps == 0 else { throw RunError.nonFinite(step: step, what: "the training loss") }
                let seconds = windowClock.lap()
                let throughput = Double(windowSteps * globalBatch) / max(seconds, 1e-9)
                let epoch = Double(step) / Double(stepsPerEpoch)
                display?.update(step: step, epoch: Int(epoch) + 1, loss: lastLoss, learningRate: Double(learningRate),
                                samplesPerSecond: throughput, elapsed: runClock.elapsedSeconds, logLine: true)
                var record: [(String, MetricValue)] = [("kind", .string("train")), ("step", .int(step)),
                                                      ("epoch", .double(epoch)), ("loss", .double(lastLoss))]
                if data.train.classCount != nil && sums[2] > 0 && sums[1] > 0 {
                    record.append(("accuracy", .double(sums[1] / sums[2])))
                }
                if let norm = lastGradientNorm { record.append(("grad_norm", .double(norm))) }
                record += [("lr", .double(Double(learningRate))), ("samples_per_second", .double(throughput)),
                           ("elapsed", .double(runClock.elapsedSeconds))]
                metrics?.write(record)
                events?.record(record)
                windowLoss = 0; windowCorrect = 0; windowCount = 0; windowSteps = 0
            }
            if consistencyEvery > 0 && step % consistencyEvery == 0 {
                try watched(.consistencyCheck, step: step) { try sync.verifyConsistent(model.parameters, step: step) }
            }
            if (evalEvery > 0 && step % evalEvery == 0) || (isLast && options.evaluatesAtEnd) {
                lastEvaluation = try watched(.evaluation, step: step) { try evaluateAndReport(display: display) }
                windowClock.reset()
            }
            if checkpointDue(isLast: isLast) {
                _ = try watched(.checkpoint, step: step) { try saveCheckpoint() }
            }
            if preemptionPending {
                try stopForPreemption()
                break
            }
        }
        try watched(.consistencyCheck, step: step) { try sync.verifyConsistent(model.parameters, step: step) }
        display?.finish()
        let seconds = runClock.elapsedSeconds
        return RunSummary(steps: step, epochs: Double(step) / Double(stepsPerEpoch), finalTrainLoss: lastLoss,
                          evaluation: lastEvaluation, samplesPerSecond: Double((step - firstStep) * globalBatch) / max(seconds, 1e-9),
                          seconds: seconds, anomalies: anomalies)
    }

    /// One optimizer step: `accumulation` micro-batches forward and backward,
    /// one gradient reduction overlapped with the last backward, the update.
    ///
    /// - Returns: This rank's mean loss, correct and counted targets.
    public func trainStep(learningRate: Float, clipNorm: Float = 0) throws -> (loss: Double, correct: Double, count: Double) {
        KernelProfile.measure(Self.zeroingRegion) { model.parameters.zeroGradients() }
        reducer.begin(microBatches: accumulation)
        var lossSum = 0.0, correct = 0.0, count = 0.0
        for micro in 0..<accumulation {
            let batch = KernelProfile.measure(Self.dataRegion) { nextBatch() }
            faults.scrambleTargets(step + 1, batch.targets)
            let result = model.forward(inputs: batch.inputs, targets: batch.targets)
            lossSum += Double(result.loss)
            correct += Double(result.correct)
            count += Double(result.count)
            if micro == accumulation - 1 {
                model.backward(gradientsReady: faults.gradientsReady(step + 1, gradients: model.parameters.gradients.storage.buffer,
                                                                     forwardingTo: reducer.gradientsReady))
            } else {
                model.backward(gradientsReady: nil)
            }
        }
        try watched(.gradientReduction, step: step + 1) { try reducer.finish() }
        let disagreed = try KernelProfile.measure(Self.agreementRegion) {
            try watched(.agreement, step: step + 1, { try agreeAfterReduction(loss: lossSum) })
        }
        if disagreed { return (.nan, 0, 0) }
        if clipNorm > 0 {
            _ = try KernelProfile.measure(Self.clippingRegion) {
                try watched(.gradientNorm, step: step + 1) { try reducer.clipGradients(maxNorm: clipNorm) }
            }
        }
        KernelProfile.measure(Self.optimizerRegion) { optimizer.step(learningRate: learningRate) }
        try KernelProfile.measure(GradientReducer.averagingRegion) {
            try watched(.parameterGather, step: step + 1) { try reducer.gatherParameters() }
        }
        return (lossSum / Double(accumulation), correct, count)
    }

    // Where the kernel profile counts the step's own work.
    static let zeroingRegion = ProfileRegion("gradient zeroing", group: .optimizer)
    static let dataRegion = ProfileRegion("data loading", group: .data)
    static let agreementRegion = ProfileRegion("finite-loss agreement", group: .communication)
    static let clippingRegion = ProfileRegion("gradient clipping", group: .optimizer)
    static let optimizerRegion = ProfileRegion("optimizer update", group: .optimizer)

    /// The next micro-batch, moving into the next epoch when one ends. Epochs
    /// end on a step boundary: micro-batches that cannot fill a step are skipped.
    private func nextBatch() -> Batch {
        if loader.position.batch >= stepsPerEpoch * accumulation {
            loader.restore(SamplerPosition(epoch: loader.position.epoch + 1, batch: 0))
        }
        if let batch = loader.next() { return batch }
        return loader.next()!
    }

    private func evaluateAndReport(display: ProgressDisplay?) throws -> EvaluationResult {
        let result = try evaluate(model, on: data.validation, communicator: communicator,
                                  batchSize: config.run.training.evalBatchSize,
                                  maxBatches: config.run.training.evalBatches)
        var text = String(format: "eval step %d  %@ loss %.4f", step, data.validationName, result.loss)
        var record: [(String, MetricValue)] = [("kind", .string("eval")), ("split", .string(data.validationName)),
                                              ("step", .int(step)), ("loss", .double(result.loss))]
        if let accuracy = result.accuracy {
            text += String(format: "  accuracy %.2f%%", accuracy * 100)
            record.append(("accuracy", .double(accuracy)))
        }
        if config.run.model.isLanguageModel {
            text += String(format: "  perplexity %.3f", exp(result.loss))
            record.append(("perplexity", .double(exp(result.loss))))
            if let perToken = data.validationCharactersPerToken {
                let bits = result.loss / log(2) / perToken
                text += String(format: "  %.3f bits/char", bits)
                record.append(("bits_per_character", .double(bits)))
            }
        }
        text += "  (\(result.samples) samples)"
        record.append(("samples", .int(result.samples)))
        display?.message(text)
        metrics?.write(record)
        events?.record(record)
        return result
    }
}
