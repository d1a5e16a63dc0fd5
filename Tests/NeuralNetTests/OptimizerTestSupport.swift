import Foundation
import NeuralNet
import TensorCore

/// A tiny store whose layout alternates decaying and non-decaying runs:
/// `head.weight` [2, 3] (decays), `head.bias` [2] (no decay), `embed.weight` [2, 2] (decays).
func makeOptimizerTestStore() -> ParameterStore {
    let store = ParameterStore([
        (name: "head.weight", shape: [2, 3], decays: true),
        (name: "head.bias", shape: [2], decays: false),
        (name: "embed.weight", shape: [2, 2], decays: true),
    ])
    for i in 0..<store.count {
        store.values[i] = Float(0.3 * cos(Double(i) * 1.3) + 0.05)
    }
    return store
}

/// Deterministic, varied gradients for step `step`; both signs and a zero.
func optimizerTestGradients(count: Int, step: Int) -> [Float] {
    (0..<count).map { i in
        i == 3 ? 0 : Float(0.8 * sin(Double(i) * 0.7 + Double(step) * 1.9) + 0.1 * Double(step))
    }
}

func setOptimizerTestGradients(_ store: ParameterStore, _ gradients: [Float]) {
    for (i, g) in gradients.enumerated() { store.gradients[i] = g }
}

/// Per-element decay flags of the test store.
func optimizerTestDecayFlags(_ store: ParameterStore) -> [Bool] {
    var flags = [Bool](repeating: false, count: store.count)
    for p in store.parameters { for i in p.range { flags[i] = p.decays } }
    return flags
}

/// Takes three steps of `optimizer` on the gradients of
/// ``optimizerTestGradients(count:step:)`` and returns those gradients.
func takeThreeOptimizerTestSteps(_ optimizer: Optimizer, on store: ParameterStore, learningRate: Float) -> [[Float]] {
    let grads = (0..<3).map { optimizerTestGradients(count: store.count, step: $0) }
    for g in grads {
        setOptimizerTestGradients(store, g)
        optimizer.step(learningRate: learningRate)
    }
    return grads
}

/// Which entries `scope` decays.
func optimizerTestDecayFlags(_ store: ParameterStore, scope: WeightDecayScope) -> [Bool] {
    scope == .all ? [Bool](repeating: true, count: store.count) : optimizerTestDecayFlags(store)
}
