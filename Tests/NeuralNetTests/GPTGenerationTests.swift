import XCTest
import TensorCore
@testable import NeuralNet

final class GPTGenerationTests: XCTestCase {
    func model() -> GPT {
        let model = GPT(GPTModelTests.tiny)
        model.initializeParameters(seed: 3)
        // Sharper distributions than init, so greedy and sampled choices differ.
        for info in model.parameters.parameters where info.decays {
            let values = model.parameters.value(info.name)
            for i in 0..<values.count { values[i] *= 20 }
        }
        return model
    }

    func testSamplingIsReproducibleAndInRange() {
        let m = model()
        let a = m.generate(prompt: [1, 2], count: 12, temperature: 1, seed: 9)
        let b = m.generate(prompt: [1, 2], count: 12, temperature: 1, seed: 9)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 12)
        XCTAssertTrue(a.allSatisfy { (0..<7).contains($0) })
        let others = (10..<20).map { m.generate(prompt: [1, 2], count: 12, temperature: 1, seed: UInt64($0)) }
        XCTAssertTrue(others.contains { $0 != a })
    }

    func testGreedyFollowsTheLogitsPastTheContext() {
        let m = model()
        // Longer than the context of 5: the model reads the prompt's last 5
        // tokens, then each new one; a full window gives way to its last 2.
        let prompt = [1, 2, 3, 4, 5, 6]
        for cached in [false, true] {
            let greedy = m.generate(prompt: prompt, count: 9, temperature: 0, cached: cached)
            var tokens = prompt
            var start = 1
            for _ in 0..<9 {
                if tokens.count - start > 5 { start = tokens.count - 2 }
                let window = Array(tokens[start...])
                let logits = m.logits(inputs: Tensor(shape: [1, window.count], values: window.map(Float.init)))
                let last = Array(logits.array.suffix(7))
                tokens.append(last.firstIndex(of: last.max()!)!)
            }
            XCTAssertEqual(greedy, Array(tokens.suffix(9)), "cached: \(cached)")
            XCTAssertEqual(m.generate(prompt: prompt, count: 9, temperature: 1, topK: 1, seed: 5, cached: cached), greedy)
        }
    }

    /// The key-value cache changes the cost, not the tokens: greedy and
    /// sampled output, over several windows, equal the uncached output.
    func testTheCacheDrawsTheSameTokensAsTheWholeWindow() {
        let m = model()
        for prompt in [[3], [1, 2, 3, 4, 5, 6, 0]] {
            XCTAssertEqual(m.generate(prompt: prompt, count: 23, temperature: 0, cached: true),
                           m.generate(prompt: prompt, count: 23, temperature: 0, cached: false), "\(prompt)")
            for seed in 0..<3 as Range<UInt64> {
                let sampling = TokenSampling(temperature: 1.3, topP: 0.95)
                XCTAssertEqual(m.generate(prompt: prompt, count: 23, sampling: sampling, seed: seed, cached: true),
                               m.generate(prompt: prompt, count: 23, sampling: sampling, seed: seed, cached: false), "seed \(seed)")
            }
        }
        // The cached logits equal the trunk's to float rounding, position by position.
        let cache = GPTKeyValueCache(configuration: m.configuration)
        let tokens = [4, 1, 6, 2, 2]
        _ = cache.prefill(m, tokens: tokens[0..<1])
        for t in 1..<tokens.count {
            let cached = Array(UnsafeBufferPointer(start: cache.append(m, token: tokens[t]), count: 7))
            let whole = m.logits(inputs: Tensor(shape: [1, t + 1], values: tokens[0...t].map(Float.init))).array.suffix(7)
            for (a, b) in zip(cached, whole) { XCTAssertEqual(a, b, accuracy: 1e-5, "position \(t)") }
        }
    }

    func testTopPKeepsTheNucleusAndTheCallbackStopsEarly() {
        let m = model()
        let prompt = [1, 2, 3]
        let greedy = m.generate(prompt: prompt, count: 6, temperature: 0)
        // A nucleus too small for any second token is greedy whatever the draws.
        for seed in 0..<4 as Range<UInt64> {
            XCTAssertEqual(m.generate(prompt: prompt, count: 6, sampling: TokenSampling(temperature: 1, topP: 1e-6), seed: seed), greedy)
        }
        // topP of 1 draws exactly as without it.
        XCTAssertEqual(m.generate(prompt: prompt, count: 6, sampling: TokenSampling(temperature: 1, topP: 1), seed: 3),
                       m.generate(prompt: prompt, count: 6, temperature: 1, seed: 3))
        // A middle nucleus draws only tokens inside it: fewer distinct tokens over many seeds than without.
        let wide = Set((0..<40 as Range<UInt64>).flatMap { m.generate(prompt: prompt, count: 1, temperature: 2, seed: $0) })
        let narrow = Set((0..<40 as Range<UInt64>).flatMap {
            m.generate(prompt: prompt, count: 1, sampling: TokenSampling(temperature: 2, topP: 0.3), seed: $0)
        })
        XCTAssertLessThan(narrow.count, wide.count)
        // The callback sees each token and can end the generation.
        var seen: [Int] = []
        let stopped = m.generate(prompt: prompt, count: 6, sampling: TokenSampling(temperature: 0)) { token in
            seen.append(token)
            return seen.count < 2
        }
        XCTAssertEqual(stopped, Array(greedy.prefix(2)))
        XCTAssertEqual(seen, stopped)
    }
}
