import DataPipeline
import Foundation
import NeuralNet
import TensorCore

/// What one step looks like sample by sample: each sample's own loss and
/// gradient norm, and, for a sample whose values go non-finite, the first
/// layer whose output does (forward order) and the first parameter whose
/// gradient does (backward order). What `ddp replay --explain` prints.
public struct StepExplanation: Sendable {
    /// One sample of the step's global batch.
    public struct Sample: Sendable, Equatable {
        /// Its index in the original data set (see ``originalIndex(of:in:)``).
        public let index: Int
        /// The rank and micro-batch it was in.
        public let rank: Int
        public let microBatch: Int
        /// Its loss alone, and the norm of its gradient alone.
        public let loss: Double
        public let gradientNorm: Double
        /// The first layer whose output is not finite, if any (for a GPT,
        /// the first of its activations in forward order).
        public let firstNonFiniteOutput: String?
        /// The first parameter, in backward order, whose gradient is not finite.
        public let firstNonFiniteGradient: String?

        /// Whether its loss or gradient is NaN or infinite.
        public var isNonFinite: Bool { !loss.isFinite || !gradientNorm.isFinite }
    }

    /// The step, from 1.
    public let step: Int
    /// Every sample, by rank, then micro-batch, then position.
    public let samples: [Sample]

    /// The samples to blame: the non-finite ones; when none is, those whose
    /// loss or gradient norm is more than 4x the step's median (at most 5).
    public var responsible: [Sample] {
        let nonFinite = samples.filter(\.isNonFinite)
        if !nonFinite.isEmpty { return nonFinite }
        let loss = Self.median(samples.map(\.loss)), norm = Self.median(samples.map(\.gradientNorm))
        return Array(samples.filter { $0.loss > 4 * loss || $0.gradientNorm > 4 * norm }
            .sorted { $0.loss / max(loss, 1e-30) > $1.loss / max(loss, 1e-30) }.prefix(5))
    }

    /// The report, one line per finding.
    public var lines: [String] {
        let loss = Self.median(samples.map(\.loss)), norm = Self.median(samples.map(\.gradientNorm))
        var lines = [String(format: "explain step %d: %d samples; median loss %.4g, median gradient norm %.4g (each sample alone)",
                            step, samples.count, loss, norm)]
        let blamed = responsible
        if blamed.isEmpty {
            lines.append("no sample stands out (none non-finite, none above 4x the median loss or gradient norm)")
        }
        for sample in blamed {
            var line = "sample \(sample.index) (rank \(sample.rank), micro-batch \(sample.microBatch)): loss "
                + Self.number(sample.loss) + ", gradient norm " + Self.number(sample.gradientNorm)
            if let layer = sample.firstNonFiniteOutput { line += "; first non-finite output: layer \(layer)" }
            if let parameter = sample.firstNonFiniteGradient { line += "; first non-finite gradient: \(parameter)" }
            lines.append(line)
        }
        return lines
    }

    /// `%.4g`, with NaN and infinities spelled the same on every platform.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return String(format: "%.4g", value)
    }

    static func median(_ values: [Double]) -> Double {
        let finite = values.filter(\.isFinite).sorted()
        return finite.isEmpty ? .nan : finite[finite.count / 2]
    }
}

extension Trainer {
    /// Examines step `step` sample by sample: each sample of its global
    /// batch goes forward and backward alone (dropout off), with its loss,
    /// gradient norm and first non-finite layer and parameter recorded.
    /// Collective; every rank returns the same explanation.
    ///
    /// The gradients are left overwritten: call it at the end of a replay,
    /// not in the middle of training.
    public func explain(step explained: Int) throws -> StepExplanation {
        precondition(explained >= 1, "Trainer.explain: step \(explained) is not a step (they count from 1)")
        let start = firstBatch(ofStep: explained)
        let (epoch, first) = (start.epoch, start.batch)
        let sampler = loader.sampler.copy()
        let parameters = model.parameters
        let byOffset = parameters.parameters.sorted { $0.offset < $1.offset }
        var layerNames: [String] = []
        var firstOutput: String?
        let wasTraining = model.isTraining
        model.isTraining = false
        model.layerObserver = { name, kind, tensor in
            guard kind == .output else { return }
            if !layerNames.contains(name) { layerNames.append(name) }
            if firstOutput == nil && !Kernels.allFinite(tensor.pointer, count: tensor.count) { firstOutput = name }
        }
        defer {
            model.layerObserver = nil
            model.isTraining = wasTraining
        }

        // Per sample: index, micro-batch, loss, norm, output layer, gradient parameter (-1: none).
        let fields = 6
        var mine: [Double] = []
        for micro in 0..<accumulation {
            let batch = loader.load(SamplerPosition(epoch: epoch, batch: first + micro))
            let indices = sampler.batchIndices(first + micro, epoch: epoch, batchSize: loader.batchSize)
            let inputSize = batch.inputs.count / batch.count, targetSize = batch.targets.count / batch.count
            for k in 0..<batch.count {
                let inputs = Tensor(viewing: batch.inputs.storage, offset: batch.inputs.offset + k * inputSize,
                                    shape: [1] + batch.inputs.shape.dropFirst())
                let targets = Tensor(viewing: batch.targets.storage, offset: batch.targets.offset + k * targetSize,
                                     shape: [1] + batch.targets.shape.dropFirst())
                firstOutput = nil
                parameters.zeroGradients()
                let result = model.forward(inputs: inputs, targets: targets)
                model.backward(gradientsReady: nil)
                let gradients = parameters.gradients.pointer
                let nonFinite = byOffset.firstIndex { !Kernels.allFinite(gradients + $0.offset, count: $0.count) }
                let norm = sumOfSquares(parameters.gradients).squareRoot()
                let real = k < batch.realCount
                mine += [Double(real ? originalIndex(of: indices[k], in: data.train) : -1), Double(micro),
                         Double(result.loss), norm,
                         Double(firstOutput.flatMap { layerNames.firstIndex(of: $0) } ?? -1),
                         Double(nonFinite ?? -1)]
            }
        }
        parameters.zeroGradients()
        let all = try communicator.allGather(mine)
        var samples: [StepExplanation.Sample] = []
        let perRank = mine.count / fields
        for rank in 0..<communicator.size {
            for k in 0..<perRank {
                let f = Array(all[(rank * mine.count + k * fields)..<(rank * mine.count + (k + 1) * fields)])
                guard f[0] >= 0 else { continue }
                samples.append(.init(index: Int(f[0]), rank: rank, microBatch: Int(f[1]), loss: f[2], gradientNorm: f[3],
                                     firstNonFiniteOutput: f[4] >= 0 && Int(f[4]) < layerNames.count ? layerNames[Int(f[4])] : nil,
                                     firstNonFiniteGradient: f[5] >= 0 ? byOffset[Int(f[5])].name : nil))
            }
        }
        return StepExplanation(step: explained, samples: samples)
    }
}
