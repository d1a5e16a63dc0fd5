import TensorCore
import XCTest

final class TransposeTests: XCTestCase {
    func testTransposeMatchesReference() {
        for (rows, columns) in [(0, 0), (0, 3), (3, 0), (1, 1), (1, 9), (9, 1), (31, 33), (70, 45)] {
            var x = randomValues(rows * columns, seed: 50)
            var out = [Float](repeating: .nan, count: rows * columns)
            x.withPointer { px in out.withPointer { Kernels.transpose(px, rows: rows, columns: columns, into: $0) } }
            var expected = [Double](repeating: 0, count: rows * columns)
            for r in 0..<rows { for c in 0..<columns { expected[c * rows + r] = Double(x[r * columns + c]) } }
            assertClose(out, expected, relative: 0, absolute: 0, "\(rows)x\(columns)")
        }
    }

    func testTensorTransposed() {
        let t = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let u = t.transposed()
        XCTAssertEqual(u.shape, [3, 2])
        XCTAssertEqual(u.array, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(u.transposed().array, t.array)
    }
}
