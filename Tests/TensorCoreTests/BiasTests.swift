import TensorCore
import XCTest

final class BiasTests: XCTestCase {
    let shapes = [(0, 0), (0, 5), (5, 0), (1, 1), (3, 7), (64, 17)]

    func testAddRowVectorMatchesReference() {
        for (rows, columns) in shapes {
            var x = randomValues(rows * columns, seed: 10)
            var bias = randomValues(columns, seed: 11)
            let x0 = x
            x.withPointer { px in bias.withPointer { Kernels.addRowVector($0, to: px, rows: rows, columns: columns) } }
            let expected = (0..<(rows * columns)).map { Double(x0[$0]) + Double(bias[$0 % columns]) }
            assertClose(x, expected, "\(rows)x\(columns)")
        }
    }

    func testColumnSumsAccumulate() {
        for (rows, columns) in shapes {
            var dy = randomValues(rows * columns, seed: 12)
            var grad = randomValues(columns, seed: 13)
            let grad0 = grad
            grad.withPointer { pg in dy.withPointer { Kernels.accumulateColumnSums(of: $0, rows: rows, columns: columns, into: pg) } }
            var expected = grad0.map(Double.init)
            for r in 0..<rows { for c in 0..<columns { expected[c] += Double(dy[r * columns + c]) } }
            assertClose(grad, expected, relative: 1e-5, absolute: 1e-5, "\(rows)x\(columns)")
        }
    }

    func testTensorConveniences() {
        let x = Tensor(shape: [2, 2, 3], values: [Float](repeating: 1, count: 12))
        let bias = Tensor(shape: [3], values: [1, 2, 3])
        x.addRowVector(bias)
        XCTAssertEqual(x.array, [2, 3, 4, 2, 3, 4, 2, 3, 4, 2, 3, 4])
        let grad = Tensor(shape: [3], values: [10, 0, 0])
        x.accumulateColumnSums(into: grad)
        XCTAssertEqual(grad.array, [18, 12, 16])
    }
}
