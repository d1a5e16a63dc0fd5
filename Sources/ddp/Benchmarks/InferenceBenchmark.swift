import Foundation
import Inference
import NeuralNet
import RunConfig
import TensorCore
import Training

/// `ddp bench infer`: the latency and throughput of checkpoints side by side
/// in one run, taken in turn so that all see the same drift of a shared host,
/// and for language models the generation speed with and without the
/// key-value cache.
enum InferenceBenchmark {
    struct LatencyRow: Codable {
        var batch: Int
        var medianMilliseconds: Double
        var p99Milliseconds: Double
        var samplesPerSecond: Double
        var timedCalls: Int
    }

    struct Generation: Codable {
        var promptTokens: Int
        var newTokens: Int
        var cachedTokensPerSecond: Double
        var uncachedTokensPerSecond: Double
        /// Cached over uncached tokens per second, median of the per-round ratios.
        var cacheSpeedup: Double
        /// Whether both drew the same tokens (greedy).
        var sameTokens: Bool
        var rounds: Int
    }

    struct CheckpointReport: Codable {
        var checkpoint: String
        var model: String
        var compression: String
        var modelBytes: Int
        var latency: [LatencyRow]
        var generation: Generation?
        var evaluation: CheckpointEvaluation?
    }

    /// A later checkpoint against the first, from the same run.
    struct Comparison: Codable {
        var checkpoint: String
        var against: String
        /// Throughput at each batch, this over the first.
        var throughputRatios: [String: Double]
        /// Median latency at each batch, this over the first.
        var latencyRatios: [String: Double]
        var fileSizeRatio: Double
        var accuracyDifferencePoints: Double?
        var generationSpeedRatio: Double?
    }

    struct Report: Codable {
        var checkpoints: [CheckpointReport]
        var comparisons: [Comparison]
        var blasThreads: Int
    }

    /// - Parameters:
    ///   - sessions: The checkpoints, in the order given.
    ///   - batches: Batch sizes to time.
    ///   - rounds: Timed calls per checkpoint at batch 1; larger batches take fewer.
    ///   - prompt: The prompt of the generation measurement (language models).
    ///   - newTokens: Tokens generated per measurement.
    ///   - evaluate: Whether to evaluate each checkpoint on its held-out split.
    static func run(_ sessions: [InferenceSession], batches: [Int], rounds: Int, prompt: String, newTokens: Int,
                    evaluate: Bool) throws -> Report {
        var latency = [[LatencyRow]](repeating: [], count: sessions.count)
        for batch in batches {
            let inputs = sessions.map { Tensor(zeros: [batch] + $0.model.inputShape) }
            for (session, input) in zip(sessions, inputs) {
                fill(input, for: session)
                for _ in 0..<2 { _ = session.model.logits(input) }
            }
            // Fewer calls for larger batches, at least 15 for the tail.
            let calls = max(15, rounds * 16 / max(16, batch))
            var times = [[Double]](repeating: [], count: sessions.count)
            for _ in 0..<calls {
                for (i, session) in sessions.enumerated() {
                    let watch = Stopwatch()
                    _ = session.model.logits(inputs[i])
                    times[i].append(watch.elapsedSeconds)
                }
            }
            for i in sessions.indices {
                let sorted = times[i].sorted()
                let median = sorted[sorted.count / 2]
                let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
                latency[i].append(LatencyRow(batch: batch, medianMilliseconds: median * 1000, p99Milliseconds: p99 * 1000,
                                             samplesPerSecond: Double(batch) / median, timedCalls: calls))
            }
        }
        let generations = try measureGeneration(sessions, prompt: prompt, newTokens: newTokens)
        var reports: [CheckpointReport] = []
        for (i, session) in sessions.enumerated() {
            var evaluation: CheckpointEvaluation?
            if evaluate {
                let data = try RunComponents.loadData(session.dataConfig)
                evaluation = try evaluateCheckpoint(session, on: data.validation, split: data.validationName, batchSize: 256)
            }
            reports.append(CheckpointReport(
                checkpoint: session.directory.path, model: session.config.run.model.kind,
                compression: describe(session.checkpoint.compression), modelBytes: session.checkpoint.modelBytes,
                latency: latency[i], generation: generations[i], evaluation: evaluation))
        }
        let comparisons = reports.dropFirst().map { compare($0, with: reports[0]) }
        return Report(checkpoints: reports, comparisons: comparisons, blasThreads: 1)
    }

    /// Inputs that look like data: pixel-like values for images, token ids for a language model.
    private static func fill(_ input: Tensor, for session: InferenceSession) {
        var generator = RandomGenerator(seed: 7, stream: 0x1BE4C4)
        if case .languageModel(let vocabulary, _) = session.task {
            for i in 0..<input.count { input.pointer[i] = Float(Int(generator.nextUniform() * Float(vocabulary)) % vocabulary) }
        } else {
            for i in 0..<input.count { input.pointer[i] = (generator.nextUniform() * 255).rounded() }
            session.preprocess(input.pointer, rows: input.shape[0])
        }
    }

    /// Tokens per second with and without the cache, in alternating rounds.
    private static func measureGeneration(_ sessions: [InferenceSession], prompt: String, newTokens: Int) throws -> [Generation?] {
        let rounds = 3
        var results: [Generation?] = []
        for session in sessions {
            guard session.languageModel != nil else {
                results.append(nil)
                continue
            }
            var cached: [Double] = [], uncached: [Double] = [], ratios: [Double] = []
            var same = true
            var promptTokens = 0
            for _ in 0..<rounds {
                var request = CompletionRequest(prompt: prompt, maxTokens: newTokens, temperature: 0)
                var watch = Stopwatch()
                let withCache = try session.complete(request)
                let cachedSeconds = watch.elapsedSeconds
                request.cached = false
                watch = Stopwatch()
                let without = try session.complete(request)
                let uncachedSeconds = watch.elapsedSeconds
                same = same && withCache.tokens == without.tokens
                promptTokens = withCache.promptTokens
                cached.append(Double(withCache.tokens.count) / cachedSeconds)
                uncached.append(Double(without.tokens.count) / uncachedSeconds)
                ratios.append(uncachedSeconds / cachedSeconds)
            }
            results.append(Generation(promptTokens: promptTokens, newTokens: newTokens, cachedTokensPerSecond: median(cached),
                                      uncachedTokensPerSecond: median(uncached), cacheSpeedup: median(ratios),
                                      sameTokens: same, rounds: rounds))
        }
        return results
    }

    private static func compare(_ report: CheckpointReport, with first: CheckpointReport) -> Comparison {
        var throughput: [String: Double] = [:], latency: [String: Double] = [:]
        for (row, base) in zip(report.latency, first.latency) {
            throughput["batch\(row.batch)"] = row.samplesPerSecond / base.samplesPerSecond
            latency["batch\(row.batch)"] = row.medianMilliseconds / base.medianMilliseconds
        }
        var accuracy: Double?
        if let mine = report.evaluation, let base = first.evaluation { accuracy = (mine.accuracy - base.accuracy) * 100 }
        var generation: Double?
        if let mine = report.generation, let base = first.generation {
            generation = mine.cachedTokensPerSecond / base.cachedTokensPerSecond
        }
        return Comparison(checkpoint: report.checkpoint, against: first.checkpoint, throughputRatios: throughput,
                          latencyRatios: latency, fileSizeRatio: Double(report.modelBytes) / Double(first.modelBytes),
                          accuracyDifferencePoints: accuracy, generationSpeedRatio: generation)
    }

    private static func describe(_ record: CompressionRecord?) -> String {
        guard let record else { return "none" }
        var parts: [String] = []
        if let pruning = record.pruning { parts.append("prune \(pruning.sparsity)") }
        if let quantization = record.quantization { parts.append("quantize \(quantization)") }
        if let lowRank = record.lowRank { parts.append("low rank \(lowRank) (\(record.factorized.count) matrices)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
    }
}
