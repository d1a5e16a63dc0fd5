@testable import Checkpoint
import XCTest

/// The sparse layout's mask and nonzeros: a round trip, the bit order the
/// docs give to other readers, and parts that disagree refused.
final class SparseTensorLayoutTests: XCTestCase {
    func testSplitAndJoinRoundTripWithTheDocumentedBitOrder() {
        let values: [Float] = [0, 1.5, 0, 0, -2, 0, 0, 0, 3, 0]
        let (mask, nonzeros) = SparseTensorLayout.split(values)
        // Elements 1 and 4 in byte 0 (bits 1 and 4), element 8 in byte 1 (bit 0).
        XCTAssertEqual(mask, [0b0001_0010, 0b0000_0001])
        XCTAssertEqual(nonzeros, [1.5, -2, 3])
        XCTAssertEqual(SparseTensorLayout.join(mask: mask, nonzeros: nonzeros, count: values.count), values)
        let int8: [Int8] = (0..<37).map { $0 % 3 == 0 ? Int8($0 - 18) : 0 }
        let parts = SparseTensorLayout.split(int8)
        XCTAssertEqual(SparseTensorLayout.join(mask: parts.mask, nonzeros: parts.nonzeros, count: 37), int8)
    }

    func testDisagreeingPartsAreRefused() {
        let (mask, nonzeros) = SparseTensorLayout.split([Float](arrayLiteral: 1, 0, 2, 0, 0, 0, 0, 0, 0))
        XCTAssertNil(SparseTensorLayout.join(mask: mask, nonzeros: Array(nonzeros.dropLast()), count: 9))
        XCTAssertNil(SparseTensorLayout.join(mask: mask, nonzeros: nonzeros + [5], count: 9))
        XCTAssertNil(SparseTensorLayout.join(mask: mask, nonzeros: nonzeros, count: 17))
    }

    func testSparseIsChosenOnlyWhereItIsSmaller() {
        // Float32: one bit per element pays off beyond a thirty-second of zeros.
        XCTAssertFalse(SparseTensorLayout.saves(count: 800, nonzeros: 780, elementSize: 4))
        XCTAssertTrue(SparseTensorLayout.saves(count: 800, nonzeros: 770, elementSize: 4))
        // Int8: only beyond an eighth of zeros too, a byte each.
        XCTAssertFalse(SparseTensorLayout.saves(count: 800, nonzeros: 700, elementSize: 1))
        XCTAssertTrue(SparseTensorLayout.saves(count: 800, nonzeros: 690, elementSize: 1))
    }
}
