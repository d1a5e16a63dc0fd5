import Foundation
import TensorCore
import XCTest

final class SoftmaxTests: XCTestCase {
    let shapes = [(0, 0), (0, 4), (3, 0), (1, 1), (4, 1), (5, 10), (7, 33)]

    func referenceSoftmax(_ x: [Float], rows: Int, columns: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * columns)
        if columns == 0 { return out }
        for r in 0..<rows {
            let row = (0..<columns).map { Double(x[r * columns + $0]) }
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let total = e.reduce(0, +)
            for c in 0..<columns { out[r * columns + c] = e[c] / total }
        }
        return out
    }

    func testSoftmaxAndLogSoftmaxMatchReference() {
        for (rows, columns) in shapes {
            var x = randomValues(rows * columns, seed: 40, scale: 4)
            var y = [Float](repeating: .nan, count: rows * columns)
            let expected = referenceSoftmax(x, rows: rows, columns: columns)
            x.withPointer { px in y.withPointer { Kernels.softmaxRows(px, into: $0, rows: rows, columns: columns) } }
            assertClose(y, expected, relative: 1e-5, absolute: 1e-7, "softmax \(rows)x\(columns)")
            x.withPointer { px in y.withPointer { Kernels.logSoftmaxRows(px, into: $0, rows: rows, columns: columns) } }
            assertClose(y, expected.map { Foundation.log($0) }, relative: 1e-5, absolute: 1e-5, "logSoftmax \(rows)x\(columns)")
        }
    }

    func testExtremeLogitsStayFinite() {
        let x = Tensor(shape: [3, 3], values: [1000, 0, -1000, -1e30, -1e30, -1e30, 88, 89, -.infinity])
        let y = Tensor(zeros: [3, 3])
        x.softmax(into: y)
        XCTAssertTrue(y.isFinite)
        XCTAssertEqual(y[0], 1, accuracy: 1e-6)
        XCTAssertEqual(y[2], 0)
        for i in 3..<6 { XCTAssertEqual(y[i], 1.0 / 3, accuracy: 1e-6) }
        XCTAssertEqual(y[8], 0)
        x.logSoftmax(into: y)
        XCTAssertEqual(y[0], 0, accuracy: 1e-6)
        XCTAssertEqual(y[1], -1000, accuracy: 1e-3)
        XCTAssertEqual(y[2], -2000, accuracy: 1e-3)
        XCTAssertEqual(y[7], -Float(Foundation.log(1 + Foundation.exp(-1.0))), accuracy: 1e-6)
        XCTAssertEqual(y[8], -.infinity)
    }

    func testInPlace() {
        let x = Tensor(shape: [2, 4], values: randomValues(8, seed: 41))
        let y = Tensor(zeros: [2, 4])
        x.softmax(into: y)
        x.softmax(into: x)
        XCTAssertEqual(x.array, y.array)
    }

    func testBackwardMatchesJacobian() {
        for (rows, columns) in shapes {
            var x = randomValues(rows * columns, seed: 42, scale: 2)
            var dy = randomValues(rows * columns, seed: 43)
            let p = referenceSoftmax(x, rows: rows, columns: columns)
            // dx_i = sum_j dy_j * dy_j/dx_i, with the full Jacobian written out.
            var softmaxGrad = [Double](repeating: 0, count: rows * columns)
            var logSoftmaxGrad = [Double](repeating: 0, count: rows * columns)
            for r in 0..<rows {
                for i in 0..<columns {
                    var s = 0.0, l = 0.0
                    for j in 0..<columns {
                        let delta = i == j ? 1.0 : 0.0
                        let g = Double(dy[r * columns + j])
                        s += g * p[r * columns + j] * (delta - p[r * columns + i])
                        l += g * (delta - p[r * columns + i])
                    }
                    softmaxGrad[r * columns + i] = s
                    logSoftmaxGrad[r * columns + i] = l
                }
            }
            var y = [Float](repeating: 0, count: rows * columns)
            var dx = [Float](repeating: .nan, count: rows * columns)
            x.withPointer { px in y.withPointer { Kernels.softmaxRows(px, into: $0, rows: rows, columns: columns) } }
            y.withPointer { py in dy.withPointer { pdy in dx.withPointer {
                Kernels.softmaxBackwardRows(output: py, outputGradient: pdy, into: $0, rows: rows, columns: columns)
            } } }
            assertClose(dx, softmaxGrad, relative: 1e-4, absolute: 1e-6, "softmax backward \(rows)x\(columns)")

            x.withPointer { px in y.withPointer { Kernels.logSoftmaxRows(px, into: $0, rows: rows, columns: columns) } }
            y.withPointer { py in dy.withPointer { pdy in dx.withPointer {
                Kernels.logSoftmaxBackwardRows(output: py, outputGradient: pdy, into: $0, rows: rows, columns: columns)
            } } }
            assertClose(dx, logSoftmaxGrad, relative: 1e-4, absolute: 1e-5, "logSoftmax backward \(rows)x\(columns)")
        }
    }
}
