// Speedup of N ranks over one, both measured inside one mpirun job: the host
// is shared and its speed drifts by up to a fifth over minutes, so a ratio of
// two separate jobs measures the drift as much as the scaling. Here rounds
// alternate a one-rank phase (rank 0 alone, the others asleep) and an N-rank
// phase, and each round's ratio compares neighbours in time.

import DataParallel
import Foundation
import MPI
import RunConfig
import TensorCore
import Training

/// The `scaling` section of `ddp bench train --against-one-rank`.
struct ScalingReport: Codable, Sendable {
    /// Rounds of (one rank, then all ranks).
    var rounds: Int
    /// The batch of the one-rank run: the N-rank run's per-rank batch.
    var oneRankBatch: Int
    /// Samples per second of rank 0 training alone, per round.
    var oneRankSamplesPerSecond: [Double]
    /// Samples per second of all ranks together, per round.
    var samplesPerSecond: [Double]
    /// `samplesPerSecond / oneRankSamplesPerSecond`, per round.
    var speedups: [Double]
    /// The median of ``speedups``.
    var medianSpeedup: Double
    /// `medianSpeedup / ranks`.
    var scalingEfficiency: Double
    /// Per round, the share of the N-rank step time spent on communication
    /// instead of compute (mean over ranks; see `exposedCommunicationShare`).
    var exposedCommunicationShares: [Double]
    /// The median of ``exposedCommunicationShares``.
    var medianExposedCommunicationShare: Double
}

enum ScalingBenchmark {
    /// Runs the comparison on every rank; every rank returns the same report.
    ///
    /// - Parameters:
    ///   - config: The N-rank config.
    ///   - oneRankConfig: The same config with the per-rank batch as its global batch.
    ///   - world: All ranks.
    ///   - progress: Who drives MPI progress during backward.
    ///   - warmup: Untimed steps of each trainer before the first round.
    ///   - steps: Timed steps per phase.
    ///   - rounds: Phase pairs.
    static func run(config: ResolvedConfig, oneRankConfig: ResolvedConfig, world: Communicator, progress: ProgressMode,
                    warmup: Int, steps: Int, rounds: Int) throws -> ScalingReport {
        precondition(rounds > 0 && steps > 0, "ScalingBenchmark: \(rounds) rounds of \(steps) steps")
        var options = RunOptions(directory: nil, plainProgress: true)
        options.progress = progress
        let alone = try world.split(color: world.rank == 0 ? 0 : 1, key: 0)
        let solo = world.rank == 0 ? try Trainer(config: oneRankConfig, communicator: alone, options: options) : nil
        let together = try Trainer(config: config, communicator: world, options: options)
        let rate = together.schedule.learningRate(at: 0)
        let clipNorm = Float(config.run.optimizer.clipNorm)

        if let solo { try timeSteps(solo, count: warmup, learningRate: rate, clipNorm: clipNorm) }
        try waitIdly(world)
        try timeSteps(together, count: warmup, learningRate: rate, clipNorm: clipNorm)

        var single: [Double] = [], parallel: [Double] = [], exposedShares: [Double] = []
        for _ in 0..<rounds {
            if let solo {
                let seconds = try timeSteps(solo, count: steps, learningRate: rate, clipNorm: clipNorm)
                single.append(Double(steps * oneRankConfig.run.training.batchSize) / seconds)
            }
            try waitIdly(world)
            try world.barrier()
            let exposedBefore = together.reducer.exposedSeconds
            let seconds = try world.allReduce(try timeSteps(together, count: steps, learningRate: rate, clipNorm: clipNorm),
                                              op: .max)
            let exposed = try world.allSum(together.reducer.exposedSeconds - exposedBefore) / Double(world.size)
            parallel.append(Double(steps * config.run.training.batchSize) / seconds)
            exposedShares.append(exposed / seconds)
        }
        // Only rank 0 timed the one-rank phases.
        var oneRank = world.rank == 0 ? single : Array(repeating: 0, count: rounds)
        try world.broadcast(&oneRank, root: 0)
        single = oneRank
        let speedups = zip(parallel, single).map { $0 / $1 }
        let median = speedups.sorted()[speedups.count / 2]
        return ScalingReport(rounds: rounds, oneRankBatch: oneRankConfig.run.training.batchSize,
                             oneRankSamplesPerSecond: single, samplesPerSecond: parallel, speedups: speedups,
                             medianSpeedup: median, scalingEfficiency: median / Double(world.size),
                             exposedCommunicationShares: exposedShares,
                             medianExposedCommunicationShare: exposedShares.sorted()[exposedShares.count / 2])
    }

    /// Seconds of `count` optimizer steps.
    @discardableResult
    private static func timeSteps(_ trainer: Trainer, count: Int, learningRate: Float, clipNorm: Float) throws -> Double {
        let clock = Stopwatch()
        for _ in 0..<count { _ = try trainer.trainStep(learningRate: learningRate, clipNorm: clipNorm) }
        return clock.elapsedSeconds
    }

    /// A barrier in which waiting ranks sleep instead of spinning, so that
    /// rank 0's one-rank phase has the machine to itself.
    private static func waitIdly(_ world: Communicator) throws {
        let token = MPIBuffer<Int32>(count: 1, repeating: 0)
        let request = try world.startAllReduce(token, op: .sum)
        while try !request.test() { usleep(1000) }
    }
}
