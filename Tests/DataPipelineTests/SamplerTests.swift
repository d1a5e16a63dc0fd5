import DataPipeline
import XCTest

final class SamplerTests: XCTestCase {
    func samplers(count: Int, ranks: Int, seed: UInt64 = 7, shuffle: Bool = true, dropLast: Bool) -> [DistributedSampler] {
        (0..<ranks).map {
            DistributedSampler(count: count, ranks: ranks, rank: $0, seed: seed, shuffle: shuffle, dropLast: dropLast)
        }
    }

    func testShardsAreDisjointAndCoverWhenDivisible() {
        let shards = samplers(count: 12, ranks: 3, dropLast: false).map { $0.indices(epoch: 0) }
        XCTAssertEqual(shards.map(\.count), [4, 4, 4])
        XCTAssertEqual(shards.flatMap { $0 }.sorted(), Array(0..<12))
    }

    func testDropLastGivesEqualDisjointShards() {
        let shards = samplers(count: 11, ranks: 3, dropLast: true).map { $0.indices(epoch: 2) }
        XCTAssertEqual(shards.map(\.count), [3, 3, 3])
        let all = shards.flatMap { $0 }
        XCTAssertEqual(Set(all).count, 9, "shards overlap")
        // The dropped samples are the permutation's tail.
        let permutation = samplers(count: 11, ranks: 3, dropLast: true)[0].permutation(epoch: 2)
        XCTAssertEqual(Set(all), Set(permutation.prefix(9)))
    }

    func testPaddingRepeatsFromTheStartAndCoversEverything() {
        let all = samplers(count: 10, ranks: 4, dropLast: false)
        let shards = all.map { $0.indices(epoch: 1) }
        XCTAssertEqual(shards.map(\.count), [3, 3, 3, 3])
        let union = shards.flatMap { $0 }
        XCTAssertEqual(Set(union), Set(0..<10))
        let permutation = all[0].permutation(epoch: 1)
        // Positions 10 and 11 wrap to permutation positions 0 and 1 (ranks 2 and 3, third sample).
        XCTAssertEqual(shards[2][2], permutation[0])
        XCTAssertEqual(shards[3][2], permutation[1])
    }

    func testFewerSamplesThanRanksStillPads() {
        let shards = samplers(count: 2, ranks: 5, dropLast: false).map { $0.indices(epoch: 0) }
        XCTAssertEqual(shards.map(\.count), [1, 1, 1, 1, 1])
        XCTAssertEqual(Set(shards.flatMap { $0 }), [0, 1])
    }

    func testPermutationIsIdenticalOnAllRanksAndDiffersPerEpoch() {
        let all = samplers(count: 100, ranks: 4, dropLast: false)
        let epoch0 = all[0].permutation(epoch: 0)
        for sampler in all.dropFirst() {
            XCTAssertEqual(sampler.permutation(epoch: 0), epoch0)
        }
        XCTAssertEqual(epoch0.sorted(), Array(0..<100))
        XCTAssertNotEqual(epoch0, Array(0..<100), "not shuffled")
        XCTAssertNotEqual(all[0].permutation(epoch: 1), epoch0)
        // A fresh sampler with the same seed reproduces it; another seed does not.
        XCTAssertEqual(DistributedSampler(count: 100, ranks: 1, rank: 0, seed: 7).permutation(epoch: 0), epoch0)
        XCTAssertNotEqual(DistributedSampler(count: 100, ranks: 1, rank: 0, seed: 8).permutation(epoch: 0), epoch0)
    }

    func testNoShuffleKeepsOrder() {
        let sampler = DistributedSampler(count: 7, ranks: 2, rank: 1, seed: 1, shuffle: false, dropLast: false)
        XCTAssertEqual(sampler.indices(epoch: 3), [1, 3, 5, 0])
    }

    func testEqualStepCountsOnAllRanks() {
        for count in [1, 9, 10, 64, 101] {
            for dropLast in [false, true] {
                let counts = samplers(count: count, ranks: 3, dropLast: dropLast).map { $0.batchCount(batchSize: 4) }
                XCTAssertEqual(Set(counts).count, 1, "count \(count) dropLast \(dropLast): \(counts)")
            }
        }
        let sampler = DistributedSampler(count: 101, ranks: 3, rank: 0, seed: 0, dropLast: false)
        XCTAssertEqual(sampler.samplesPerRank, 34)
        XCTAssertEqual(sampler.batchCount(batchSize: 4), 9)
        XCTAssertEqual(sampler.batchLength(8, batchSize: 4), 2)
        let dropping = DistributedSampler(count: 101, ranks: 3, rank: 0, seed: 0, dropLast: true)
        XCTAssertEqual(dropping.samplesPerRank, 33)
        XCTAssertEqual(dropping.batchCount(batchSize: 4), 8)
    }

    func testRanksWithSmallBatchesSeeWhatOneRankSeesWithTheWholeBatch() {
        let count = 96, ranks = 4, globalBatch = 12
        let single = DistributedSampler(count: count, ranks: 1, rank: 0, seed: 42)
        let many = samplers(count: count, ranks: ranks, seed: 42, dropLast: false)
        for epoch in 0..<2 {
            let steps = single.batchCount(batchSize: globalBatch)
            XCTAssertEqual(many[0].batchCount(batchSize: globalBatch / ranks), steps)
            for step in 0..<steps {
                let whole = single.batchIndices(step, epoch: epoch, batchSize: globalBatch)
                let parts = many.flatMap { $0.batchIndices(step, epoch: epoch, batchSize: globalBatch / ranks) }
                XCTAssertEqual(parts.sorted(), whole.sorted(), "epoch \(epoch) step \(step)")
            }
        }
    }

    func testBatchesMatchTheDocumentedPositions() {
        let ranks = 3, b = 2
        let sampler = DistributedSampler(count: 30, ranks: ranks, rank: 2, seed: 5)
        let permutation = sampler.permutation(epoch: 4)
        for j in 0..<sampler.batchCount(batchSize: b) {
            let expected = (0..<b).map { permutation[j * ranks * b + 2 + ranks * $0] }
            XCTAssertEqual(sampler.batchIndices(j, epoch: 4, batchSize: b), expected)
        }
    }

    func testRealCountExcludesPadding() {
        // 10 samples on 4 ranks pad to 12: positions 10 and 11 are repeats.
        let all = samplers(count: 10, ranks: 4, dropLast: false)
        XCTAssertEqual(all.map { $0.realCount(batch: 0, batchSize: 2) }, [2, 2, 2, 2])
        XCTAssertEqual(all.map { $0.realCount(batch: 1, batchSize: 2) }, [1, 1, 0, 0])
        XCTAssertEqual(all.map { $0.realCount(batch: 0, batchSize: 3) }.reduce(0, +), 10)
    }

    func testPositionRoundTripsThroughCodable() throws {
        let position = SamplerPosition(epoch: 3, batch: 17)
        let data = try JSONEncoder().encode(position)
        XCTAssertEqual(try JSONDecoder().decode(SamplerPosition.self, from: data), position)
    }
}
