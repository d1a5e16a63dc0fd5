import DataPipeline
import TensorCore
import XCTest

final class LoaderTests: XCTestCase {
    /// Sample i has input [i, -i] and target i, so batches reveal their indices.
    func indexed(_ count: Int) -> TabularDataset {
        TabularDataset(features: (0..<count).flatMap { [Float($0), -Float($0)] }, featureCount: 2,
                       labels: Array(0..<count), classCount: count)
    }

    func testBatchesHoldTheSamplersIndicesAndReuseStorage() {
        let data = indexed(10)
        let sampler = DistributedSampler(count: 10, ranks: 2, rank: 1, seed: 3, dropLast: false)
        let loader = BatchLoader(dataset: data, sampler: sampler, batchSize: 2)
        XCTAssertEqual(loader.batchesPerEpoch, 3)
        var seen: [Int] = []
        var storage: ObjectIdentifier?
        var counts: [Int] = []
        while let batch = loader.next() {
            XCTAssertEqual(batch.inputs.shape, [batch.count, 2])
            XCTAssertEqual(batch.targets.shape, [batch.count])
            let expected = sampler.batchIndices(batch.position.batch, epoch: 0, batchSize: 2)
            XCTAssertEqual(batch.targets.array.map { Int($0) }, expected)
            XCTAssertEqual((0..<batch.count).map { Int(batch.inputs[2 * $0]) }, expected)
            if let storage { XCTAssertEqual(ObjectIdentifier(batch.inputs.storage), storage) }
            storage = ObjectIdentifier(batch.inputs.storage)
            seen += expected
            counts.append(batch.count)
        }
        XCTAssertEqual(counts, [2, 2, 1], "the short last batch is kept without dropLast")
        XCTAssertEqual(seen, sampler.indices(epoch: 0))
        XCTAssertEqual(loader.position, SamplerPosition(epoch: 1, batch: 0))
        XCTAssertEqual(loader.next()?.position, SamplerPosition(epoch: 1, batch: 0))
    }

    func testDropLastDropsThePartialBatch() {
        let sampler = DistributedSampler(count: 11, ranks: 2, rank: 0, seed: 3, dropLast: true)
        let loader = BatchLoader(dataset: indexed(11), sampler: sampler, batchSize: 2)
        var counts: [Int] = []
        while let batch = loader.next() { counts.append(batch.count) }
        XCTAssertEqual(counts, [2, 2])
    }

    func testRestoredPositionContinuesExactly() {
        let data = SyntheticClassification(count: 40, inputShape: [3], classCount: 4, seed: 2)
        func loader() -> BatchLoader {
            BatchLoader(dataset: data, sampler: DistributedSampler(count: 40, ranks: 2, rank: 0, seed: 11), batchSize: 4)
        }
        let reference = loader()
        var expected: [[Float]] = []
        for _ in 0..<2 { while let batch = reference.next() { expected.append(batch.inputs.array) } }

        let first = loader()
        var got: [[Float]] = []
        for _ in 0..<3 { got.append(first.next()!.inputs.array) }
        let saved = try! JSONDecoder().decode(SamplerPosition.self, from: JSONEncoder().encode(first.position))
        let resumed = loader()
        resumed.restore(saved)
        for _ in 0..<2 { while let batch = resumed.next() { got.append(batch.inputs.array) } }
        XCTAssertEqual(got, expected)
    }

    func testPrefetchYieldsTheSameBatches() {
        let data = SyntheticClassification(count: 37, inputShape: [5], classCount: 3, seed: 8).preprocessed([.oneHot])
        func loader(prefetch: Bool) -> BatchLoader {
            BatchLoader(dataset: data, sampler: DistributedSampler(count: 37, ranks: 3, rank: 1, seed: 6),
                        batchSize: 4, prefetch: prefetch)
        }
        func drain(_ loader: BatchLoader, epochs: Int) -> [[Float]] {
            var out: [[Float]] = []
            for _ in 0..<epochs {
                while let batch = loader.next() { out.append(batch.inputs.array + batch.targets.array) }
            }
            return out
        }
        let expected = drain(loader(prefetch: false), epochs: 3)
        let prefetching = loader(prefetch: true)
        XCTAssertEqual(drain(prefetching, epochs: 3), expected)

        // Restoring while a prefetch is in flight discards it.
        let resumed = loader(prefetch: true)
        _ = resumed.next()
        resumed.restore(SamplerPosition(epoch: 1, batch: 2))
        let firstEpochLength = expected.count / 3
        XCTAssertEqual(resumed.next().map { $0.inputs.array + $0.targets.array }, expected[firstEpochLength + 2])
        // A batch stays intact while the next one is being prefetched.
        let held = resumed.next()!
        let copy = held.inputs.array
        _ = resumed.load(SamplerPosition(epoch: 0, batch: 0))
        XCTAssertEqual(held.inputs.array, copy)
    }

    func testPaddedBatchesReportRealCount() {
        let data = indexed(5)
        let loaders = (0..<2).map {
            BatchLoader(dataset: data, sampler: DistributedSampler(count: 5, ranks: 2, rank: $0, seed: 0, shuffle: false),
                        batchSize: 3)
        }
        let batches = loaders.map { $0.next()! }
        XCTAssertEqual(batches.map(\.count), [3, 3])
        XCTAssertEqual(batches.map(\.realCount), [3, 2])
        XCTAssertEqual(batches[1].targets.array, [1, 3, 0])
    }

    func testSyntheticDataAreDeterministicAndLearnable() {
        let a = SyntheticClassification(count: 30, inputShape: [8], classCount: 3, noise: 0.1, seed: 4)
        let b = SyntheticClassification(count: 30, inputShape: [8], classCount: 3, noise: 0.1, seed: 4)
        XCTAssertEqual(a.sample(17).input, b.sample(17).input)
        XCTAssertEqual(a.sample(17).target, [2])
        // With small noise, samples of a class are closer to each other than to other classes.
        func distance(_ i: Int, _ j: Int) -> Float {
            zip(a.sample(i).input, a.sample(j).input).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        }
        XCTAssertLessThan(distance(0, 3), distance(0, 1))

        let tokens = SyntheticTokens.markovStream(tokenCount: 1000, vocabularySize: 16, branching: 2, seed: 5)
        XCTAssertEqual(tokens, SyntheticTokens.markovStream(tokenCount: 1000, vocabularySize: 16, branching: 2, seed: 5))
        XCTAssertTrue(tokens.allSatisfy { $0 >= 0 && $0 < 16 })
        var successors: [Int32: Set<Int32>] = [:]
        for (x, y) in zip(tokens, tokens.dropFirst()) { successors[x, default: []].insert(y) }
        XCTAssertTrue(successors.values.allSatisfy { $0.count <= 2 })
        let windows = SyntheticTokens.dataset(tokenCount: 1000, vocabularySize: 16, contextLength: 10,
                                              branching: 2, seed: 5)
        XCTAssertEqual(windows.count, 99)
        XCTAssertEqual(windows.sample(1).input.first, Float(tokens[10]))
    }
}
