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

    func testSoftmaxMatchesReference() {
        for (rows, columns) in shapes {
            var x = randomValues(rows * columns, seed: 40, scale: 4)
            var y = [Float](repeating: .nan, count: rows * columns)
            let expected = referenceSoftmax(x, rows: rows, columns: columns)
            x.withPointer { px in y.withPointer { Kernels.softmaxRows(px, into: $0, rows: rows, columns: columns) } }
            assertClose(y, expected, relative: 1e-5, absolute: 1e-7, "softmax \(rows)x\(columns)")
        }
    }

    func testNormalizerGivesTheLogSumExp() {
        let x = randomValues(37, seed: 44, scale: 6)
        var y = [Float](repeating: 0, count: 37)
        let normalizer = x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { Kernels.softmaxRow(px.baseAddress!, into: $0.baseAddress!, count: 37) }
        }
        let exact = Foundation.log(x.map { Foundation.exp(Double($0)) }.reduce(0, +))
        XCTAssertEqual(normalizer.maximum, x.max()!)
        XCTAssertEqual(Double(normalizer.maximum) + Foundation.log(Double(normalizer.total)), exact, accuracy: 1e-5)
    }

    func testExtremeLogitsStayFinite() {
        let x = Tensor(shape: [3, 3], values: [1000, 0, -1000, -1e30, -1e30, -1e30, 88, 89, -.infinity])
        let y = Tensor(zeros: [3, 3])
        x.softmax(into: y)
        XCTAssertTrue(y.isFinite)
        XCTAssertEqual(y[0], 1, accuracy: 1e-6)
        // fastExp flushes far below the maximum to about 2^-126, not to 0.
        XCTAssertLessThan(y[2], 1e-37)
        for i in 3..<6 { XCTAssertEqual(y[i], 1.0 / 3, accuracy: 1e-6) }
        XCTAssertEqual(y[7], Float(1 / (1 + Foundation.exp(-1.0))), accuracy: 1e-6)
        XCTAssertLessThan(y[8], 1e-37)
    }

    func testInPlace() {
        let x = Tensor(shape: [2, 4], values: randomValues(8, seed: 41))
        let y = Tensor(zeros: [2, 4])
        x.softmax(into: y)
        x.softmax(into: x)
        XCTAssertEqual(x.array, y.array)
    }
}
