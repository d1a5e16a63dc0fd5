import TensorCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the next token is drawn from the model's distribution.
public struct TokenSampling: Equatable, Sendable {
    /// Divides the logits; 0 always takes the most likely token.
    public var temperature: Float
    /// Draws only among the `topK` most likely tokens; `nil` for all.
    public var topK: Int?
    /// Draws only among the most likely tokens whose probabilities, after
    /// the temperature and `topK`, first reach `topP` (nucleus sampling); 1 for all.
    public var topP: Float

    /// - Parameters:
    ///   - temperature: At least 0.
    ///   - topK: At least 1, or `nil`.
    ///   - topP: In `0 < topP <= 1`.
    public init(temperature: Float = 1, topK: Int? = nil, topP: Float = 1) {
        precondition(temperature >= 0, "TokenSampling: negative temperature \(temperature)")
        precondition(topK.map { $0 > 0 } ?? true, "TokenSampling: topK must be positive")
        precondition(topP > 0 && topP <= 1, "TokenSampling: topP \(topP) is not in (0, 1]")
        (self.temperature, self.topK, self.topP) = (temperature, topK, topP)
    }
}

extension GPT {
    /// Continues `prompt` by sampling one token at a time from the model's
    /// next-token distribution.
    ///
    /// The model reads the last `contextLength` tokens of the prompt and then
    /// each new token; once the window is full, a new one of its last half
    /// starts (``GenerationWindow``). With the cache, each new token costs
    /// one position of work and a new window one pass over it; without it,
    /// every token costs a pass over its whole window. Both read the same
    /// windows and draw the same tokens.
    ///
    /// Uses the training workspace, so it must not come between a
    /// ``forward(inputs:targets:)`` and its ``backward(gradientsReady:)``.
    ///
    /// - Parameters:
    ///   - prompt: At least one token id in `0..<vocabSize`.
    ///   - count: How many tokens to generate, at most.
    ///   - sampling: Temperature, top-k and top-p.
    ///   - seed: Fixes the draws, so a seed reproduces a sample.
    ///   - cached: Whether to keep the keys and values of past positions.
    ///   - onToken: Called with each new token as soon as it is drawn;
    ///     returning `false` stops the generation after that token.
    /// - Returns: The generated tokens, without the prompt.
    public func generate(prompt: [Int], count: Int, sampling: TokenSampling, seed: UInt64 = 0, cached: Bool = true,
                         onToken: (Int) -> Bool = { _ in true }) -> [Int] {
        let v = configuration.vocabSize
        precondition(!prompt.isEmpty, "GPT.generate: the prompt must hold at least one token")
        precondition(prompt.allSatisfy { (0..<v).contains($0) }, "GPT.generate: prompt tokens must lie in 0..<\(v)")
        precondition(count >= 0, "GPT.generate: negative count")
        var generator = RandomGenerator(seed: seed, stream: 0x5A3B_1E00)
        var tokens = prompt
        var generated: [Int] = []
        generated.reserveCapacity(count)
        var sampler = NextTokenSampler(vocabularySize: v)
        var window = GenerationWindow(context: configuration.contextLength, promptLength: prompt.count)
        let cache = cached && count > 0 ? GPTKeyValueCache(configuration: configuration) : nil
        var filled = false
        for _ in 0..<count {
            if window.cover(tokens.count) { filled = false }
            let logits: UnsafePointer<Float>
            if let cache {
                logits = filled ? cache.append(self, token: tokens[tokens.count - 1]) : cache.prefill(self, tokens: tokens[window.start...])
                filled = true
            } else {
                let time = tokens.count - window.start
                let ws = workspace(batch: 1, time: time)
                for (i, token) in tokens[window.start...].enumerated() { ws.tokens[i] = Int32(token) }
                runTrunk(ws, batch: 1, time: time, dropout: false)
                pending = nil
                logits = UnsafePointer(ws.logits + (time - 1) * v)
            }
            let next = sampler.draw(logits: logits, sampling: sampling, generator: &generator)
            tokens.append(next)
            generated.append(next)
            if !onToken(next) { break }
        }
        return generated
    }

    /// ``generate(prompt:count:sampling:seed:onToken:)`` with the sampling spelled out.
    public func generate(prompt: [Int], count: Int, temperature: Float = 1, topK: Int? = nil,
                         seed: UInt64 = 0, cached: Bool = true) -> [Int] {
        generate(prompt: prompt, count: count, sampling: TokenSampling(temperature: temperature, topK: topK), seed: seed,
                 cached: cached)
    }
}

/// Draws a token from one row of logits; keeps its buffers between draws.
struct NextTokenSampler {
    private var weights: [Double]
    private var order: [Int]

    init(vocabularySize: Int) {
        weights = [Double](repeating: 0, count: vocabularySize)
        order = Array(0..<vocabularySize)
    }

    mutating func draw(logits: UnsafePointer<Float>, sampling: TokenSampling, generator: inout RandomGenerator) -> Int {
        let v = weights.count
        let mostLikely = (0..<v).max { logits[$0] < logits[$1] }!
        guard sampling.temperature > 0 else { return mostLikely }
        var threshold = -Float.infinity
        if let topK = sampling.topK, topK < v {
            threshold = (0..<v).map { logits[$0] }.sorted(by: >)[topK - 1]
        }
        let largest = logits[mostLikely]
        var total = 0.0
        for i in 0..<v {
            weights[i] = logits[i] >= threshold
                ? exp(Double(logits[i] - largest) / Double(sampling.temperature)) : 0
            total += weights[i]
        }
        if sampling.topP < 1 {
            // The nucleus: the most likely tokens until their mass reaches topP;
            // ties keep the lower id first, so the cut is deterministic.
            for i in 0..<v { order[i] = i }
            order.sort { weights[$0] > weights[$1] || (weights[$0] == weights[$1] && $0 < $1) }
            var kept = 0.0, cut = v
            for (rank, i) in order.enumerated() {
                kept += weights[i]
                if kept >= Double(sampling.topP) * total { cut = rank + 1; break }
            }
            for i in order[cut...] { weights[i] = 0 }
            total = kept
        }
        var u = Double(generator.nextUniform()) * total
        var pick = v - 1
        for i in 0..<v where weights[i] > 0 {
            if u < weights[i] { pick = i; break }
            u -= weights[i]
        }
        // Rounding can leave u past the last weight; fall back to the most likely token.
        return weights[pick] == 0 ? mostLikely : pick
    }
}
