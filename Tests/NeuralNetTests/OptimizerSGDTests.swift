import NeuralNet
import TensorCore
import XCTest

final class OptimizerSGDTests: XCTestCase {
    /// PyTorch's SGD written out in Double, independent of the implementation.
    private func referenceSGD(
        values: [Double], gradients: [[Float]], lr: Double, momentum: Double, dampening: Double,
        nesterov: Bool, weightDecay: Double, decays: [Bool]
    ) -> (values: [Double], buffer: [Double]) {
        var p = values
        var b = [Double](repeating: 0, count: p.count)
        for (t, g) in gradients.enumerated() {
            for i in p.indices {
                var d = Double(g[i])
                if decays[i] { d += weightDecay * p[i] }
                if momentum != 0 {
                    b[i] = t == 0 ? d : momentum * b[i] + (1 - dampening) * d
                    d = nesterov ? d + momentum * b[i] : b[i]
                }
                p[i] -= lr * d
            }
        }
        return (p, b)
    }

    private func check(momentum: Float, dampening: Float = 0, nesterov: Bool, weightDecay: Float,
                       scope: WeightDecayScope, file: StaticString = #filePath, line: UInt = #line) {
        let store = makeOptimizerTestStore()
        let initial = store.values.array.map(Double.init)
        let sgd = SGD(parameters: store, momentum: momentum, dampening: dampening, nesterov: nesterov,
                      weightDecay: weightDecay, weightDecayScope: scope)
        let grads = takeThreeOptimizerTestSteps(sgd, on: store, learningRate: 0.1)
        XCTAssertEqual(sgd.stepCount, 3, file: file, line: line)
        let flags = optimizerTestDecayFlags(store, scope: scope)
        let expected = referenceSGD(values: initial, gradients: grads, lr: 0.1, momentum: Double(momentum),
                                    dampening: Double(dampening), nesterov: nesterov,
                                    weightDecay: Double(weightDecay), decays: flags)
        for i in 0..<store.count {
            XCTAssertEqual(Double(store.values[i]), expected.values[i], accuracy: 1e-6,
                           "value \(i)", file: file, line: line)
            if momentum > 0 {
                XCTAssertEqual(Double(sgd.momentumBuffer[i]), expected.buffer[i], accuracy: 1e-6,
                               "momentum \(i)", file: file, line: line)
            }
        }
    }

    func testPlainSGDMatchesReference() {
        check(momentum: 0, nesterov: false, weightDecay: 0, scope: .decayingParameters)
    }

    func testMomentumMatchesReference() {
        check(momentum: 0.9, nesterov: false, weightDecay: 0.05, scope: .decayingParameters)
    }

    func testDampenedMomentumMatchesReference() {
        check(momentum: 0.8, dampening: 0.3, nesterov: false, weightDecay: 0, scope: .decayingParameters)
    }

    func testNesterovMatchesReference() {
        check(momentum: 0.9, nesterov: true, weightDecay: 0.05, scope: .all)
    }

    /// Scalar updates worked out by hand: p = 1, g = 0.5, lr = 0.1, mu = 0.9.
    func testHandComputedMomentumAndNesterov() {
        for nesterov in [false, true] {
            let store = ParameterStore([(name: "w", shape: [1], decays: true)])
            store.values[0] = 1
            store.gradients[0] = 0.5
            let sgd = SGD(parameters: store, momentum: 0.9, nesterov: nesterov)
            sgd.step(learningRate: 0.1)
            // b = 0.5; plain: p = 1 - 0.05; Nesterov: p = 1 - 0.1 * (0.5 + 0.45).
            XCTAssertEqual(store.values[0], nesterov ? 0.905 : 0.95, accuracy: 1e-6)
            sgd.step(learningRate: 0.1)
            // b = 0.45 + 0.5 = 0.95; plain: p -= 0.095; Nesterov: p -= 0.1 * (0.5 + 0.855).
            XCTAssertEqual(store.values[0], nesterov ? 0.7695 : 0.855, accuracy: 1e-6)
            XCTAssertEqual(sgd.momentumBuffer[0], 0.95, accuracy: 1e-6)
        }
    }

    func testWeightDecayOnMatricesOnlyVersusAll() {
        for scope in WeightDecayScope.allCases {
            let store = makeOptimizerTestStore()
            let before = store.values.array
            let sgd = SGD(parameters: store, weightDecay: 0.5, weightDecayScope: scope)
            sgd.step(learningRate: 0.1) // zero gradients: only decay moves parameters
            let flags = optimizerTestDecayFlags(store)
            for i in 0..<store.count {
                let decays = scope == .all || flags[i]
                XCTAssertEqual(store.values[i], decays ? before[i] * 0.95 : before[i], accuracy: 1e-7,
                               "\(scope) element \(i)")
            }
        }
        XCTAssertEqual(optimizerTestDecayFlags(makeOptimizerTestStore()).filter { !$0 }.count, 2)
    }

    func testStateBufferNames() {
        let store = makeOptimizerTestStore()
        XCTAssertTrue(SGD(parameters: store).stateBuffers.isEmpty)
        let sgd = SGD(parameters: store, shard: 2..<7, momentum: 0.9)
        XCTAssertEqual(sgd.stateBuffers.map(\.name), ["momentum"])
        XCTAssertEqual(sgd.stateBuffers[0].tensor.count, 5)
    }
}
