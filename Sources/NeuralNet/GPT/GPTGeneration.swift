import TensorCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension GPT {
    /// Continues `prompt` by sampling one token at a time from the model's
    /// next-token distribution, over a window of the last `contextLength` tokens.
    ///
    /// Uses the training workspace, so it must not come between a
    /// ``forward(inputs:targets:)`` and its ``backward(gradientsReady:)``.
    ///
    /// - Parameters:
    ///   - prompt: At least one token id in `0..<vocabSize`.
    ///   - count: How many tokens to generate.
    ///   - temperature: Divides the logits; 0 always takes the most likely token.
    ///   - topK: Samples only among the `topK` most likely tokens; nil for all.
    ///   - seed: Fixes the draws, so a seed reproduces a sample.
    /// - Returns: The `count` generated tokens, without the prompt.
    public func generate(prompt: [Int], count: Int, temperature: Float = 1, topK: Int? = nil,
                         seed: UInt64 = 0) -> [Int] {
        let v = configuration.vocabSize
        precondition(!prompt.isEmpty, "GPT.generate: the prompt must hold at least one token")
        precondition(prompt.allSatisfy { (0..<v).contains($0) }, "GPT.generate: prompt tokens must lie in 0..<\(v)")
        precondition(count >= 0 && temperature >= 0, "GPT.generate: negative count or temperature")
        precondition(topK.map { $0 > 0 } ?? true, "GPT.generate: topK must be positive")
        var generator = RandomGenerator(seed: seed, stream: 0x5A3B_1E00)
        var tokens = prompt
        var generated: [Int] = []
        generated.reserveCapacity(count)
        var weights = [Double](repeating: 0, count: v)
        for _ in 0..<count {
            let window = tokens.suffix(configuration.contextLength)
            let time = window.count
            let ws = workspace(batch: 1, time: time)
            for (i, token) in window.enumerated() { ws.tokens[i] = Int32(token) }
            runTrunk(ws, batch: 1, time: time, dropout: false)
            pending = nil
            let logits = ws.logits + (time - 1) * v
            let next: Int
            if temperature == 0 {
                next = (0..<v).max { logits[$0] < logits[$1] }!
            } else {
                var threshold = -Float.infinity
                if let topK, topK < v {
                    threshold = (0..<v).map { logits[$0] }.sorted(by: >)[topK - 1]
                }
                let largest = (0..<v).map { logits[$0] }.max()!
                var total = 0.0
                for i in 0..<v {
                    weights[i] = logits[i] >= threshold
                        ? exp(Double(logits[i] - largest) / Double(temperature)) : 0
                    total += weights[i]
                }
                var u = Double(generator.nextUniform()) * total
                var pick = v - 1
                for i in 0..<v where weights[i] > 0 {
                    if u < weights[i] { pick = i; break }
                    u -= weights[i]
                }
                // Rounding can leave u past the last weight; fall back to the most likely token.
                if weights[pick] == 0 { pick = (0..<v).max { logits[$0] < logits[$1] }! }
                next = pick
            }
            tokens.append(next)
            generated.append(next)
        }
        return generated
    }
}
