import NeuralNet
import TensorCore
import XCTest

/// ZeRO stage 1 relies on sharded optimizers reproducing one full optimizer
/// bit for bit; these tests check exactly that.
final class OptimizerShardingTests: XCTestCase {
    private func compareShardedToFull(
        split: Int, make: (ParameterStore, Range<Int>?) -> Optimizer,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let fullStore = makeOptimizerTestStore()
        let shardedStore = makeOptimizerTestStore()
        let n = fullStore.count
        let full = make(fullStore, nil)
        let shards = [make(shardedStore, 0..<split), make(shardedStore, split..<n)]
        for step in 0..<3 {
            let g = optimizerTestGradients(count: n, step: step)
            setOptimizerTestGradients(fullStore, g)
            setOptimizerTestGradients(shardedStore, g)
            full.step(learningRate: 0.05)
            for optimizer in shards { optimizer.step(learningRate: 0.05) }
        }
        XCTAssertEqual(fullStore.values.array, shardedStore.values.array, "values", file: file, line: line)
        XCTAssertNotEqual(fullStore.values.array, makeOptimizerTestStore().values.array, file: file, line: line)
        XCTAssertEqual(full.stateBuffers.map(\.name), shards[0].stateBuffers.map(\.name), file: file, line: line)
        for (index, (name, fullState)) in full.stateBuffers.enumerated() {
            let joined = shards[0].stateBuffers[index].tensor.array + shards[1].stateBuffers[index].tensor.array
            XCTAssertEqual(joined, fullState.array, "state \(name)", file: file, line: line)
            XCTAssertEqual(shards[0].stateBuffers[index].tensor.count, split, file: file, line: line)
        }
    }

    /// Split points inside a decaying matrix, at a parameter boundary, and
    /// inside the non-decaying bias.
    private let splits = [4, 6, 7]

    func testShardedSGDMatchesFull() {
        for split in splits {
            compareShardedToFull(split: split) {
                SGD(parameters: $0, shard: $1, momentum: 0.9, nesterov: true, weightDecay: 0.1)
            }
        }
    }

    func testShardedAdamMatchesFull() {
        for split in splits {
            compareShardedToFull(split: split) {
                Adam(parameters: $0, shard: $1, weightDecay: 0.1)
            }
        }
    }

    func testShardedAdamWMatchesFull() {
        for split in splits {
            compareShardedToFull(split: split) {
                AdamW(parameters: $0, shard: $1, weightDecay: 0.1)
            }
        }
    }

    func testShardLeavesOutsideUntouched() {
        let store = makeOptimizerTestStore()
        let before = store.values.array
        setOptimizerTestGradients(store, optimizerTestGradients(count: store.count, step: 1))
        let adamW = AdamW(parameters: store, shard: 3..<9, weightDecay: 0.1)
        adamW.step(learningRate: 0.1)
        for i in 0..<store.count where !(3..<9).contains(i) {
            XCTAssertEqual(store.values[i], before[i], "element \(i) outside the shard changed")
        }
        XCTAssertNotEqual(store.values[4], before[4])
    }

    /// Restoring state and step count into a fresh optimizer continues exactly
    /// as the original would, which is what a checkpoint resume needs.
    func testRestoredStateContinuesExactly() {
        let a = makeOptimizerTestStore()
        let original = AdamW(parameters: a, weightDecay: 0.1)
        setOptimizerTestGradients(a, optimizerTestGradients(count: a.count, step: 0))
        original.step(learningRate: 0.05)

        let b = makeOptimizerTestStore()
        b.values.copy(from: a.values)
        let restored = AdamW(parameters: b, weightDecay: 0.1)
        for (index, entry) in original.stateBuffers.enumerated() {
            restored.stateBuffers[index].tensor.copy(from: entry.tensor)
        }
        restored.stepCount = original.stepCount

        let g = optimizerTestGradients(count: a.count, step: 1)
        setOptimizerTestGradients(a, g)
        setOptimizerTestGradients(b, g)
        original.step(learningRate: 0.05)
        restored.step(learningRate: 0.05)
        XCTAssertEqual(a.values.array, b.values.array)
    }
}
