// `ddp bench train --profile`: where one step's time goes on rank 0, region
// by region (see KernelProfile), beside the step measured without the
// profile, so that the shares can be checked to add up.

import MPI
import TensorCore
import Training

/// One region of the step profile.
struct StepProfileRegion: Codable, Sendable {
    var name: String
    var group: String
    var secondsPerStep: Double
    /// `secondsPerStep` over the unprofiled step time.
    var shareOfStep: Double
    var callsPerStep: Double
    /// FLOPs per step (matmul families only).
    var flopsPerStep: Double?
    /// Achieved GFLOP/s while in the region (matmul families only).
    var gflops: Double?
    /// `gflops` over the same-run sgemm reference.
    var toSgemmReference: Double?
}

/// What `--profile` adds to the report.
struct StepProfileReport: Codable, Sendable {
    var rank: Int
    var profiledSteps: Int
    /// The mean step while profiling, wall clock on rank 0.
    var profiledStepSeconds: Double
    /// The mean of the unprofiled steps taken in turn with the profiled ones.
    var stepSeconds: Double
    /// The regions' seconds per step, summed.
    var attributedSecondsPerStep: Double
    /// `attributedSecondsPerStep / stepSeconds`: within 0.95-1.05 when the
    /// profile accounts for the step and its own cost is small.
    var sharesSum: Double
    /// Profiled step time no region claimed, per step.
    var untrackedSecondsPerStep: Double
    /// Shares of the step by group (matmul, attention, kernel, loss, optimizer, communication, data).
    var groupShares: [String: Double]
    /// The regions, largest first.
    var regions: [StepProfileRegion]
}

enum StepProfile {
    /// Runs `steps` profiled steps on every rank, each after an unprofiled
    /// one, and reports rank 0's profile against the unprofiled steps: taken
    /// in turn, both see the same drift of a shared host.
    ///
    /// - Parameters:
    ///   - trainer: A warmed-up trainer.
    ///   - sgemmGFLOPs: The same-run reference for the matmul families.
    static func run(trainer: Trainer, world: Communicator, learningRate: Float, clipNorm: Float,
                    steps: Int, sgemmGFLOPs: Double) throws -> StepProfileReport {
        var wall = 0.0, unprofiled = 0.0
        KernelProfile.reset()
        for _ in 0..<steps {
            try world.barrier()
            var clock = Stopwatch()
            _ = try trainer.trainStep(learningRate: learningRate, clipNorm: clipNorm)
            unprofiled += clock.lap()
            try world.barrier()
            clock.reset()
            KernelProfile.resume()
            _ = try trainer.trainStep(learningRate: learningRate, clipNorm: clipNorm)
            KernelProfile.stop()
            wall += clock.elapsedSeconds
        }
        let perStep = 1 / Double(steps)
        let stepSeconds = unprofiled * perStep
        let entries = KernelProfile.entries()
        let attributed = entries.reduce(0) { $0 + $1.seconds } * perStep
        var groups: [String: Double] = [:]
        for entry in entries { groups[entry.group.rawValue, default: 0] += entry.seconds * perStep / stepSeconds }
        let regions = entries.sorted { $0.seconds > $1.seconds }.map { entry -> StepProfileRegion in
            let isMatmul = entry.group == .matmul && entry.flops > 0
            let gflops = isMatmul ? entry.flops / entry.seconds / 1e9 : nil
            return StepProfileRegion(
                name: entry.name, group: entry.group.rawValue, secondsPerStep: entry.seconds * perStep,
                shareOfStep: entry.seconds * perStep / stepSeconds, callsPerStep: Double(entry.calls) * perStep,
                flopsPerStep: isMatmul ? entry.flops * perStep : nil, gflops: gflops,
                toSgemmReference: gflops.map { $0 / sgemmGFLOPs })
        }
        return StepProfileReport(
            rank: world.rank, profiledSteps: steps, profiledStepSeconds: wall * perStep, stepSeconds: stepSeconds,
            attributedSecondsPerStep: attributed, sharesSum: attributed / stepSeconds,
            untrackedSecondsPerStep: wall * perStep - attributed, groupShares: groups, regions: regions)
    }
}
