// Times the product's real training path (Trainer.trainStep: forward,
// backward with the bucketed reduction, clipping, optimizer, ZeRO gather) on
// a benchmark config, and relates it to what this machine's sgemm can do,
// measured in the same run on every rank at once.

import DataParallel
import Foundation
import MPI
import NeuralNet
import RunConfig
import TensorCore
import Training

/// What `ddp bench train` prints.
struct TrainBenchmarkReport: Codable, Sendable {
    var model: String
    var ranks: Int
    var parameters: Int
    var globalBatch: Int
    var perRankBatch: Int
    var timedSteps: Int
    var progress: String
    /// How gradients travelled: `shared_memory`, `hierarchical` or `mpi`.
    var transport: String
    var bucketMB: Double
    var gradientDtype: String
    var zero: Int
    /// Global samples (sequences for GPT) per second.
    var samplesPerSecond: Double
    /// Global tokens per second (GPT only).
    var tokensPerSecond: Double?
    /// Mean wall time of one optimizer step, slowest rank.
    var stepSeconds: Double
    /// `stepSeconds - exposedCommunicationSeconds`.
    var computeSeconds: Double
    /// Time per step the training thread spent on communication instead of
    /// compute: reduction work and tests during backward, and waits (mean over ranks).
    var exposedCommunicationSeconds: Double
    /// Of `exposedCommunicationSeconds`, the time spent summing gradients
    /// (shared-memory transport; the rest is waiting for the slowest rank).
    var averagingSeconds: Double
    /// `exposedCommunicationSeconds / stepSeconds`.
    var exposedCommunicationShare: Double
    /// Time per step from the first bucket's start until all completed.
    var communicationInFlightSeconds: Double
    /// Gradient bytes reduced per step (wire format).
    var reducedBytesPerStep: Int
    /// `bytes * 2(n-1)/n / communicationInFlightSeconds`, GB/s (the NCCL-tests convention).
    var allreduceBusBandwidthGBs: Double?
    /// `bytes * 2(n-1)/n / averagingSeconds`, GB/s: the bus bandwidth of the
    /// shared-memory averaging while it works (shared-memory transport only),
    /// comparable with `ddp bench allreduce`.
    var averagingBusBandwidthGBs: Double?
    /// Single-thread sgemm GFLOP/s at 1024x1024x1024, the MFU reference: see `sgemmReference`.
    var sgemmGFLOPs: Double
    /// The median of the same sgemm samples, mean over ranks: how far the machine drifted.
    var sgemmMedianGFLOPs: Double
    /// How `sgemmGFLOPs` was taken.
    var sgemmReference: String
    /// Model training FLOPs per sample (per token for GPT: 6 x params + 12 x layers x context x width).
    var modelFlopsPerItem: Double
    /// `modelFlopsPerItem * items/s / 1e9`.
    var achievedGFLOPs: Double
    /// `achievedGFLOPs / (ranks * sgemmGFLOPs)`.
    var modelFlopUtilization: Double
    /// Seconds of the step's matmuls alone at the per-rank batch, the median of
    /// one pass after each timed step (MLP only).
    var matmulOnlySeconds: Double?
    /// `matmulOnlySeconds` over the median step (slowest rank): a full step's
    /// throughput relative to its matmuls alone (MLP only).
    var stepToMatmulThroughputRatio: Double?
    /// Bytes of optimizer state held by each rank.
    var optimizerStateBytesPerRank: Int
    /// The speedup over one rank measured in the same job (`--against-one-rank`).
    var scaling: ScalingReport?
    /// Per-region time of a step on rank 0 (`--profile`).
    var profile: StepProfileReport?
    /// Hosts, the bytes they sent per step, the least they must send, and raw
    /// TCP between two of them (several ranks only).
    var network: NetworkReport?
}

enum TrainBenchmark {
    /// Runs the benchmark on every rank; the report is complete on every rank.
    ///
    /// - Parameters:
    ///   - config: The resolved benchmark config.
    ///   - world: The ranks.
    ///   - progress: Who drives MPI progress during backward.
    ///   - warmup: Untimed steps first (page-in, workspaces, OpenMPI's first-use setup).
    ///   - steps: Timed steps.
    ///   - profileSteps: Profiled steps after the timed ones; 0 for no profile.
    static func run(config: ResolvedConfig, world: Communicator, progress: ProgressMode,
                    warmup: Int, steps: Int, profileSteps: Int = 0) throws -> TrainBenchmarkReport {
        var reference = SgemmReference()
        reference.sample(5)

        var options = RunOptions(directory: nil, plainProgress: true)
        options.progress = progress
        let trainer = try Trainer(config: config, communicator: world, options: options)
        let clipNorm = Float(config.run.optimizer.clipNorm)
        let rate = trainer.schedule.learningRate(at: 0)
        for _ in 0..<warmup { _ = try trainer.trainStep(learningRate: rate, clipNorm: clipNorm) }

        let network = world.size > 1 ? try NetworkMeasurement(world: world) : nil
        try network?.start()
        try world.barrier()
        trainer.reducer.resetStatistics()
        // Each step is timed alone, with one reference product (and, for the
        // MLP, one pass of its matmuls alone) after it: the references then
        // see the same drift of this shared host as the steps.
        let perRankBatch = config.run.training.batchSize / (world.size * trainer.accumulation)
        var matmulSet = config.run.model.kind == "mlp"
            ? MLPMatmulSet(parameters: trainer.model.parameters, batch: perRankBatch) : nil
        var stepTimes: [Double] = []
        for _ in 0..<steps {
            try world.barrier()
            let clock = Stopwatch()
            _ = try trainer.trainStep(learningRate: rate, clipNorm: clipNorm)
            stepTimes.append(clock.elapsedSeconds)
            reference.sample()
            matmulSet?.sample()
        }
        let elapsed = stepTimes.reduce(0, +)
        let networkReport = try network?.finish(steps: steps, gradientBytes: trainer.reducer.reducedBytes / max(steps, 1))
        reference.sample(5)
        let sgemm = try world.allSum(reference.bestGFLOPs) / Double(world.size)
        let sgemmMedian = try world.allSum(reference.medianGFLOPs) / Double(world.size)
        let slowest = try world.allReduce(elapsed, op: .max)
        let exposed = try world.allSum(trainer.reducer.exposedSeconds) / Double(world.size)
        let inFlight = try world.allSum(trainer.reducer.communicationSeconds) / Double(world.size)
        let averaging = try world.allSum(trainer.reducer.averagingSeconds) / Double(world.size)
        let reduced = trainer.reducer.reducedBytes / max(steps, 1)

        let kind = config.run.model.kind
        let globalBatch = config.run.training.batchSize
        let stepSeconds = slowest / Double(steps)
        let profile = profileSteps > 0
            ? try StepProfile.run(trainer: trainer, world: world, learningRate: rate, clipNorm: clipNorm,
                                  steps: profileSteps, sgemmGFLOPs: sgemm)
            : nil
        let samplesPerSecond = Double(globalBatch) / stepSeconds
        let parameterCount = trainer.model.parameters.count
        var flopsPerItem = 6 * Double(parameterCount)
        var itemsPerSecond = samplesPerSecond
        var tokensPerSecond: Double?
        switch config.run.model.architecture {
        case .gpt(let layers, _, let width, let context):
            flopsPerItem = 6 * Double(parameterCount) + 12 * Double(layers * context * width)
            itemsPerSecond = samplesPerSecond * Double(context)
            tokensPerSecond = itemsPerSecond
        case .cnn:
            flopsPerItem = lenetTrainingFlops(config: config, inputShape: trainer.data.train.inputShape,
                                              classes: trainer.data.train.classCount ?? 10)
        case .mlp:
            break
        }
        let achieved = flopsPerItem * itemsPerSecond / 1e9
        var matmulSeconds: Double?, matmulRatio: Double?
        if let matmulSet {
            let local = matmulSet.medianSeconds * Double(trainer.accumulation)
            matmulSeconds = try world.allSum(local) / Double(world.size)
            let medianStep = try world.allReduce(stepTimes.sorted()[stepTimes.count / 2], op: .max)
            matmulRatio = matmulSeconds.map { $0 / medianStep }
        }
        let n = Double(world.size)
        let bus: Double? = world.size > 1 && inFlight > 0
            ? Double(reduced) * 2 * (n - 1) / n / (inFlight / Double(steps)) / 1e9 : nil
        let averagingBus: Double? = world.size > 1 && averaging > 0
            ? Double(reduced) * 2 * (n - 1) / n / (averaging / Double(steps)) / 1e9 : nil
        return TrainBenchmarkReport(
            model: kind, ranks: world.size, parameters: parameterCount, globalBatch: globalBatch,
            perRankBatch: perRankBatch, timedSteps: steps, progress: progress.rawValue,
            transport: trainer.reducer.transport.rawValue,
            bucketMB: Double(trainer.reducer.bucketBytes) / 1_048_576, gradientDtype: config.run.parallel.gradientDtype.rawValue,
            zero: config.run.parallel.zero,
            samplesPerSecond: samplesPerSecond, tokensPerSecond: tokensPerSecond,
            stepSeconds: stepSeconds, computeSeconds: stepSeconds - exposed / Double(steps),
            exposedCommunicationSeconds: exposed / Double(steps), averagingSeconds: averaging / Double(steps),
            exposedCommunicationShare: exposed / Double(steps) / stepSeconds,
            communicationInFlightSeconds: inFlight / Double(steps), reducedBytesPerStep: reduced,
            allreduceBusBandwidthGBs: bus, averagingBusBandwidthGBs: averagingBus, sgemmGFLOPs: sgemm,
            sgemmMedianGFLOPs: sgemmMedian, sgemmReference: reference.method, modelFlopsPerItem: flopsPerItem,
            achievedGFLOPs: achieved, modelFlopUtilization: achieved / (n * sgemm),
            matmulOnlySeconds: matmulSeconds,
            stepToMatmulThroughputRatio: matmulRatio,
            optimizerStateBytesPerRank: trainer.optimizer.stateBuffers.reduce(0) {
                $0 + $1.tensor.count * MemoryLayout<Float>.stride
            }, profile: profile, network: networkReport)
    }

    /// Training FLOPs per image of the LeNet-style CNN: 6 × its multiply-adds
    /// (forward 2, backward 4), valid 5×5 convolutions and 2×2 pooling.
    static func lenetTrainingFlops(config: ResolvedConfig, inputShape: [Int], classes: Int) -> Double {
        guard case .cnn(let channels, let hidden) = config.run.model.architecture else { return 0 }
        let kernel = 5, side = inputShape[1], inputChannels = inputShape[0]
        let side1 = side - kernel + 1, side2 = side1 / 2 - kernel + 1, flat = channels[1] * (side2 / 2) * (side2 / 2)
        let macs = channels[0] * side1 * side1 * inputChannels * kernel * kernel
            + channels[1] * side2 * side2 * channels[0] * kernel * kernel
            + flat * hidden + hidden * classes
        return 6 * Double(macs)
    }

}
