import Checkpoint
import DataPipeline
import Foundation
import NeuralNet
import RunConfig
import RunLog
import TensorCore

/// Thrown out of ``Trainer/trainStep(learningRate:clipNorm:)`` on every rank
/// when an anomalous step is to be rolled back (`training.on_anomaly:
/// rollback`); ``Trainer/run()`` catches it and rolls back.
struct RollbackRequest: Error, CustomStringConvertible {
    /// The anomalous step, from 1.
    let step: Int
    let reason: String

    var description: String {
        "step \(step): \(reason); training.on_anomaly: rollback needs Trainer.run(), not trainStep alone"
    }
}

// MARK: - The step's agreement: preemption, non-finite values, spikes

extension Trainer {
    /// Checks the step for an anomaly and, in the same collective, whether
    /// any rank has a preemption signal. Every rank calls it once per step,
    /// after the gradient reduction, and all take the same decision.
    ///
    /// One 5-number allgather carries each rank's flags (non-finite loss,
    /// non-finite averaged gradients in its slice, a stop signal), its loss
    /// sum and the squared norm of its slice of the averaged gradients;
    /// every rank combines them in rank order, so the step's loss and norm,
    /// and the spike verdict on them, are bitwise the same everywhere.
    ///
    /// - Returns: Whether to drop this step's update (`training.on_anomaly: skip`).
    /// - Throws: ``RunError/anomaly(step:reason:detail:)`` with `stop`; a
    ///   ``RollbackRequest`` with `rollback`.
    func agreeAfterReduction(loss lossSum: Double) throws -> Bool {
        let gradients = model.parameters.gradients
        let owned = reducer.ownedRange
        // Each rank checks its own slices; the flags are combined below.
        let sigmas = config.run.training.spikeSigmas
        let gradientsFinite: Bool
        var squares = 0.0
        if let averagedFinite = reducer.averagedGradientsFinite {
            gradientsFinite = averagedFinite
            if sigmas > 0 && averagedFinite { squares = sumOfSquares(gradients, range: normSlice) }
        } else if sigmas > 0 {
            // One pass for both: a Double sum of Float squares cannot
            // overflow, so it is finite exactly when every element is.
            let ownedSquares = sumOfSquares(gradients, range: owned)
            gradientsFinite = ownedSquares.isFinite
            // Unsharded, every rank holds all of them: counted once, from rank 0.
            squares = reducer.holdsOnlyItsShard || isLeader ? ownedSquares : 0
        } else {
            gradientsFinite = Kernels.allFinite(gradients.pointer + owned.lowerBound, count: owned.count)
        }
        let stop = PreemptionSignal.received != 0 || (isLeader && stopRequested())
        let mine: [Double] = [lossSum.isFinite ? 0 : 1, gradientsFinite ? 0 : 1, stop ? 1 : 0, lossSum, squares]
        let all = try communicator.allGather(mine)
        var flags = [0.0, 0.0, 0.0], lossTotal = 0.0, squareTotal = 0.0
        for rank in 0..<communicator.size {
            let fields = all[(rank * mine.count)...]
            for k in 0..<3 { flags[k] = max(flags[k], fields[fields.startIndex + k]) }
            lossTotal += fields[fields.startIndex + 3]
            squareTotal += fields[fields.startIndex + 4]
        }
        preemptionPending = flags[2] != 0

        let loss = lossTotal / Double(accumulation * communicator.size)
        let norm = squareTotal.squareRoot()
        if sigmas > 0 { lastGradientNorm = norm }
        var reason: String?
        if flags[0] != 0 {
            reason = "the loss is not finite (NaN or Inf)"
        } else if flags[1] != 0 {
            reason = "a gradient is not finite (NaN or Inf)"
        } else if sigmas > 0 {
            if let (mean, deviation) = lossWindow.spike(loss, sigmas: sigmas, ratio: config.run.training.spikeRatio) {
                reason = Self.spikeText("loss", loss, mean, deviation, lossWindow.values.count)
            } else if let (mean, deviation) = normWindow.spike(norm, sigmas: sigmas, ratio: config.run.training.spikeRatio) {
                reason = Self.spikeText("gradient norm", norm, mean, deviation, normWindow.values.count)
            }
        }
        guard let reason else {
            if sigmas > 0 {
                lossWindow.append(loss)
                normWindow.append(norm)
            }
            return false
        }
        let anomalous = step + 1
        switch config.run.training.onAnomaly {
        case .stop:
            let newest = lastCheckpointStep.map {
                "the newest checkpoint, \(CheckpointStore.name(step: $0)), predates it (ddp replay --checkpoint it "
                    + "--to-step \(anomalous) --explain names the samples responsible)"
            } ?? "no checkpoint predates it"
            throw RunError.anomaly(step: anomalous, reason: reason,
                                   detail: "training.on_anomaly: stop; \(newest)")
        case .skip:
            skippedSteps += 1
            recordSkip(step: anomalous, reason: reason, action: "skip")
            return true
        case .rollback:
            throw RollbackRequest(step: anomalous, reason: reason)
        }
    }

    private static func spikeText(_ what: String, _ value: Double, _ mean: Double, _ deviation: Double, _ steps: Int) -> String {
        String(format: "%@ spike: %.5g, %.1fx the typical %.5g of the last %d steps (%.1f standard deviations of the log)",
               what, value, value / mean, mean, steps, (log(value) - log(mean)) / max(deviation, 1e-30))
    }

    /// This rank's part of the global gradient norm: its shard under ZeRO,
    /// otherwise an even slice (every rank holds every averaged gradient).
    private var normSlice: Range<Int> {
        if reducer.holdsOnlyItsShard { return reducer.ownedRange }
        let count = model.parameters.count, ranks = communicator.size
        let share = (count + ranks - 1) / ranks
        let start = min(count, communicator.rank * share)
        return start..<min(count, start + share)
    }
}

// MARK: - Skipping and rolling back

extension Trainer {
    /// Where step `step` (from 1) starts reading: its epoch and first
    /// micro-batch. Epochs end on a step boundary (see `nextBatch`), so each
    /// step reads `accumulation` micro-batches from here.
    func firstBatch(ofStep step: Int) -> SamplerPosition {
        SamplerPosition(epoch: (step - 1) / stepsPerEpoch, batch: ((step - 1) % stepsPerEpoch) * accumulation)
    }

    /// The indices of step `step`'s global batch in the original data set
    /// (``originalIndex(of:in:)``; the same on every rank), its micro-batches in order.
    public func sampleIndices(ofStep step: Int) -> [Int] {
        let first = firstBatch(ofStep: step)
        return loader.sampler.copy()
            .globalIndices(batches: first.batch..<(first.batch + accumulation), epoch: first.epoch, batchSize: loader.batchSize)
            .map { originalIndex(of: $0, in: data.train) }
    }

    /// Steps over step `step + 1` without computing it: the sampler moves
    /// past its global batch, no update is taken, and dropout draws nothing.
    func skipUncomputed() {
        let skipped = step + 1
        if !anomalies.skipped.contains(where: { $0.step == skipped }) {
            recordSkip(step: skipped, reason: "listed in training.skip_steps", action: "listed")
        }
        let first = firstBatch(ofStep: skipped)
        loader.restore(SamplerPosition(epoch: first.epoch, batch: first.batch + accumulation))
    }

    /// Records a skipped step in the history (and so in the next
    /// checkpoint's `trainer.json`), `metrics.jsonl` and the log.
    func recordSkip(step skipped: Int, reason: String, action: String) {
        let samples = sampleIndices(ofStep: skipped)
        anomalies.skipped.append(.init(step: skipped, reason: reason, action: action, samples: samples))
        guard isLeader else { return }
        metrics?.write([("kind", .string("anomaly")), ("step", .int(skipped)), ("reason", .string(reason)),
                        ("action", .string(action)), ("samples", .ints(samples))])
        guard options.reportsProgress else { return }
        let shown = samples.prefix(8).map(String.init).joined(separator: ", ") + (samples.count > 8 ? ", ..." : "")
        let what = ["skip": "update skipped", "rollback": "rolling back and skipping it", "listed": "skipped"][action] ?? action
        print("ddp: step \(skipped): \(reason); \(what) (samples \(shown); \(samples.count) in all)")
    }

    /// Returns every rank to the newest checkpoint before `request.step`
    /// (the initial state when there is none) and marks that step to be
    /// skipped when the run reaches it again.
    ///
    /// The checkpoint is read back like a resume, so the steps in between
    /// are recomputed bit for bit; the history of skipped steps and
    /// rollbacks is kept from now, not taken from the older checkpoint.
    func rollBack(_ request: RollbackRequest) throws {
        let limit = config.run.training.maxRollbacks
        guard anomalies.rollbacks < limit else {
            throw RunError.anomaly(step: request.step, reason: request.reason,
                                   detail: "training.on_anomaly: rollback, and the run has already rolled back \(limit) "
                                       + "time(s) (training.max_rollbacks); the skipped steps are listed in metrics.jsonl")
        }
        recordSkip(step: request.step, reason: request.reason, action: "rollback")
        var kept = anomalies
        kept.rollbacks += 1
        if let checkpoint = lastCheckpointStep {
            // Only rank 0 reads the path; the others follow its broadcasts.
            let directory = lastCheckpointDirectory ?? checkpointStore?.url(step: checkpoint)
            try resume(from: .path(directory?.path ?? CheckpointStore.name(step: checkpoint)))
        } else {
            restoreInitialState()
        }
        (anomalies.skipped, anomalies.rollbacks) = (kept.skipped, kept.rollbacks)
        skipSteps.formUnion(anomalies.stepsSkippedUncomputed)
        if isLeader {
            let origin = lastCheckpointStep.map { CheckpointStore.name(step: $0) } ?? "the initial state"
            print("ddp: rolled back to \(origin) (rollback \(kept.rollbacks) of at most \(limit)); step \(request.step) will be skipped")
        }
    }

    /// The state of step 0, rebuilt from the seed as `init` built it.
    private func restoreInitialState() {
        Self.initialize(model, seed: UInt64(config.run.training.seed), rank: communicator.rank)
        for state in optimizer.stateBuffers { state.tensor.fill(0) }
        optimizer.stepCount = 0
        loader.restore(SamplerPosition(epoch: 0, batch: 0))
        step = 0
        restoreAnomalyWindows(AnomalyHistory())
    }

    /// Sets the spike windows (and the history) from a checkpoint's record.
    func restoreAnomalyWindows(_ history: AnomalyHistory) {
        anomalies = history
        lossWindow = SpikeWindow(capacity: config.run.training.spikeWindow, values: history.lossWindow)
        normWindow = SpikeWindow(capacity: config.run.training.spikeWindow, values: history.normWindow)
    }

    /// The history as a checkpoint records it, windows included.
    var anomalyRecord: AnomalyHistory {
        var record = anomalies
        (record.lossWindow, record.normWindow) = (lossWindow.values, normWindow.values)
        return record
    }
}
