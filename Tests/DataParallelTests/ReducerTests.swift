import DataParallel
import MPI
import NeuralNet
import XCTest

/// In-process checks of the pieces that need no second rank.
final class ReducerTests: XCTestCase {
    func testBFloat16RoundsToNearestEven() {
        XCTAssertEqual(bfloat16Bits(1), 0x3F80)
        XCTAssertEqual(floatFromBFloat16(0x3F80), 1)
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even 1.
        XCTAssertEqual(bfloat16Bits(1 + 0x1p-8), 0x3F80)
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to even.
        XCTAssertEqual(bfloat16Bits(1 + 3 * 0x1p-8), 0x3F82)
        // Just above halfway rounds up.
        XCTAssertEqual(bfloat16Bits(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(bfloat16Bits(-2.5), 0xC020)
        XCTAssertEqual(bfloat16Bits(.infinity), 0x7F80)
        XCTAssertEqual(bfloat16Bits(.greatestFiniteMagnitude), 0x7F80, "overflow rounds to infinity")
        XCTAssertTrue(floatFromBFloat16(bfloat16Bits(.nan)).isNaN)
        XCTAssertTrue(floatFromBFloat16(bfloat16Bits(Float(bitPattern: 0x7FFF_FFFF))).isNaN)
        var worst: Float = 0
        for i in 1..<10_000 {
            let x = Float(i) * 0.0137 - 50
            worst = max(worst, abs(floatFromBFloat16(bfloat16Bits(x)) - x) / abs(x))
        }
        XCTAssertLessThanOrEqual(worst, 0x1p-8)
    }

    func testShardsCoverTheBufferInOrder() {
        for (count, ranks) in [(10, 3), (1000, 4), (5, 8), (0, 2), (4096, 1)] {
            let shards = ParameterShards(count: count, ranks: ranks)
            XCTAssertEqual(shards.ranges.count, ranks)
            XCTAssertEqual(shards.ranges.first?.lowerBound, 0)
            XCTAssertEqual(shards.ranges.last?.upperBound, count)
            for r in 1..<ranks { XCTAssertEqual(shards.ranges[r].lowerBound, shards.ranges[r - 1].upperBound) }
            XCTAssertEqual(shards.counts.reduce(0, +), count)
        }
        let shards = ParameterShards(count: 100, ranks: 2)
        XCTAssertEqual(shards.ranges, [0..<64, 64..<100])
        XCTAssertEqual(shards.owners(of: 60..<70).map(\.rank), [0, 1])
        XCTAssertEqual(shards.owners(of: 60..<70).map(\.range), [60..<64, 64..<70])
    }

    /// On one rank the reducer only averages over micro-batches.
    func testLocalReducerAveragesMicroBatches() throws {
        let store = ParameterStore([("w", [10], true)])
        for i in 0..<10 { store.gradients.pointer[i] = Float(i) }
        let reducer = try GradientReducer(communicator: MPI.world, parameters: store, bucketBytes: 8,
                                          precision: .bfloat16, shards: ParameterShards(count: 10, ranks: 1))
        XCTAssertEqual(reducer.buckets.count, 5)
        reducer.begin(microBatches: 4)
        reducer.gradientsReady(0..<3)
        reducer.gradientsReady(3..<10)
        try reducer.finish()
        XCTAssertEqual((0..<10).map { store.gradients.pointer[$0] }, (0..<10).map { Float($0) / 4 })
    }
}
