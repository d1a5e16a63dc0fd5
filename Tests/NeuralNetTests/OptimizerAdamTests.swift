import Foundation
import NeuralNet
import TensorCore
import XCTest

final class OptimizerAdamTests: XCTestCase {
    /// PyTorch's Adam (`decoupled == false`) and AdamW written out in Double.
    private func referenceAdam(
        values: [Double], gradients: [[Float]], lr: Double, beta1: Double, beta2: Double, eps: Double,
        weightDecay: Double, decoupled: Bool, decays: [Bool]
    ) -> (values: [Double], m: [Double], v: [Double]) {
        var p = values
        var m = [Double](repeating: 0, count: p.count)
        var v = m
        for (k, g) in gradients.enumerated() {
            let t = Double(k + 1)
            for i in p.indices {
                var grad = Double(g[i])
                if decays[i] {
                    if decoupled { p[i] *= 1 - lr * weightDecay } else { grad += weightDecay * p[i] }
                }
                m[i] = beta1 * m[i] + (1 - beta1) * grad
                v[i] = beta2 * v[i] + (1 - beta2) * grad * grad
                let mHat = m[i] / (1 - pow(beta1, t))
                let vHat = v[i] / (1 - pow(beta2, t))
                p[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
        return (p, m, v)
    }

    private func check(decoupled: Bool, weightDecay: Float, scope: WeightDecayScope,
                       file: StaticString = #filePath, line: UInt = #line) {
        let store = makeOptimizerTestStore()
        let initial = store.values.array.map(Double.init)
        let optimizer: Optimizer = decoupled
            ? AdamW(parameters: store, betas: (0.8, 0.95), epsilon: 1e-6, weightDecay: weightDecay,
                    weightDecayScope: scope)
            : Adam(parameters: store, betas: (0.8, 0.95), epsilon: 1e-6, weightDecay: weightDecay,
                   weightDecayScope: scope)
        let grads = takeThreeOptimizerTestSteps(optimizer, on: store, learningRate: 0.01)
        XCTAssertEqual(optimizer.stepCount, 3, file: file, line: line)
        let flags = optimizerTestDecayFlags(store, scope: scope)
        let expected = referenceAdam(values: initial, gradients: grads, lr: 0.01, beta1: 0.8, beta2: 0.95,
                                     eps: 1e-6, weightDecay: Double(weightDecay), decoupled: decoupled,
                                     decays: flags)
        let state = Dictionary(uniqueKeysWithValues: optimizer.stateBuffers.map { ($0.name, $0.tensor) })
        XCTAssertEqual(Set(state.keys), ["exp_avg", "exp_avg_sq"], file: file, line: line)
        for i in 0..<store.count {
            XCTAssertEqual(Double(store.values[i]), expected.values[i], accuracy: 2e-6,
                           "value \(i)", file: file, line: line)
            XCTAssertEqual(Double(state["exp_avg"]![i]), expected.m[i], accuracy: 1e-6,
                           "exp_avg \(i)", file: file, line: line)
            XCTAssertEqual(Double(state["exp_avg_sq"]![i]), expected.v[i], accuracy: 1e-6,
                           "exp_avg_sq \(i)", file: file, line: line)
        }
        // The parameters moved by several learning rates' worth, so the
        // comparison above is not trivially satisfied.
        XCTAssertGreaterThan(zip(store.values.array, initial).map { abs(Double($0) - $1) }.max()!, 0.02,
                             file: file, line: line)
    }

    func testAdamMatchesReference() {
        check(decoupled: false, weightDecay: 0, scope: .decayingParameters)
    }

    func testAdamL2MatchesReference() {
        check(decoupled: false, weightDecay: 0.1, scope: .decayingParameters)
    }

    func testAdamWMatchesReference() {
        check(decoupled: true, weightDecay: 0.1, scope: .decayingParameters)
    }

    func testAdamWAllParametersMatchesReference() {
        check(decoupled: true, weightDecay: 0.1, scope: .all)
    }

    /// With bias correction the first Adam step moves every parameter with a
    /// nonzero gradient by almost exactly the learning rate, against its sign.
    func testFirstStepIsLearningRateTimesSign() {
        let store = ParameterStore([(name: "w", shape: [3], decays: true)])
        store.values.copy(from: Tensor(shape: [3], values: [1, 1, 1]))
        store.gradients.copy(from: Tensor(shape: [3], values: [0.5, -2, 0]))
        let adam = Adam(parameters: store)
        adam.step(learningRate: 0.1)
        XCTAssertEqual(store.values[0], 0.9, accuracy: 1e-6)
        XCTAssertEqual(store.values[1], 1.1, accuracy: 1e-6)
        XCTAssertEqual(store.values[2], 1.0)
    }

    /// Decoupled decay with zero gradients: moments stay zero, so parameters
    /// only shrink by `1 - lr * wd`, and only where decay applies.
    func testAdamWDecayScope() {
        for scope in WeightDecayScope.allCases {
            let store = makeOptimizerTestStore()
            let before = store.values.array
            let adamW = AdamW(parameters: store, weightDecay: 0.5, weightDecayScope: scope)
            adamW.step(learningRate: 0.1)
            let flags = optimizerTestDecayFlags(store)
            for i in 0..<store.count {
                let decays = scope == .all || flags[i]
                XCTAssertEqual(store.values[i], decays ? before[i] * 0.95 : before[i], accuracy: 1e-7,
                               "\(scope) element \(i)")
            }
        }
    }

    func testDefaults() {
        let store = makeOptimizerTestStore()
        let adam = Adam(parameters: store)
        let adamW = AdamW(parameters: store)
        XCTAssertEqual(adam.weightDecay, 0)
        XCTAssertEqual(adamW.weightDecay, 0.01)
        XCTAssertEqual(adamW.betas.0, 0.9)
        XCTAssertEqual(adamW.betas.1, 0.999)
        XCTAssertEqual(adamW.epsilon, 1e-8)
        XCTAssertEqual(adamW.shard, 0..<store.count)
        XCTAssertEqual(adamW.firstMoment.count, store.count)
    }
}
