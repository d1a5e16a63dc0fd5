import TensorCore
import XCTest

final class ReductionTests: XCTestCase {
    func testSumMeanNormMaxMatchReference() {
        for n in [0, 1, 7, 8, 9, 100, 4099] {
            var x = randomValues(n, seed: UInt64(n) + 20, scale: 3)
            let sum = x.map(Double.init).reduce(0, +)
            let norm = x.map { Double($0) * Double($0) }.reduce(0, +)
            let largest = x.max()
            x.withPointer { p in
                XCTAssertEqual(Kernels.sum(p, count: n), sum, accuracy: 1e-9 * max(1, abs(sum)) + 1e-9)
                XCTAssertEqual(Kernels.mean(p, count: n), n == 0 ? 0 : sum / Double(n), accuracy: 1e-9)
                XCTAssertEqual(Kernels.squaredNorm(p, count: n), norm, accuracy: 1e-9 * max(1, norm))
                if n > 0 { XCTAssertEqual(Kernels.max(p, count: n), largest!) }
            }
        }
    }

    func testSumIsAccurateWhereFloatAccumulationIsNot() {
        // 1 + a million tiny values: a sequential Float sum loses every one.
        let n = 1_000_001
        let t = Tensor(repeating: 1e-8, shape: [n])
        t[0] = 1
        XCTAssertEqual(Kernels.sum(t.pointer, count: n), 1.01, accuracy: 1e-9)
        XCTAssertEqual(Double(t.sum()), 1.01, accuracy: 1e-6)
    }

    func testMaxWithNegativeValuesAndOneElement() {
        let t = Tensor(shape: [4], values: [-5, -2, -7, -2.5])
        XCTAssertEqual(t.max(), -2)
        XCTAssertEqual(Tensor(shape: [1], values: [-3]).max(), -3)
        XCTAssertEqual(Tensor(shape: [1], values: [-3]).mean(), -3)
        XCTAssertEqual(Tensor(zeros: [0]).mean(), 0)
        XCTAssertEqual(Tensor(zeros: [0]).sum(), 0)
    }

    func testArgmax() {
        let t = Tensor(shape: [4, 3], values: [
            1, 3, 2,
            5, 5, 1,      // tie: the first wins
            -1, -2, -0.5,
            0, 0, 9,
        ])
        XCTAssertEqual((0..<4).map { Kernels.argmax(t.pointer + $0 * 3, count: 3) }, [1, 0, 2, 2])
        XCTAssertEqual(Kernels.argmax(Tensor(shape: [1], values: [4]).pointer, count: 1), 0)

        let rows = 50, columns = 13
        let x = Tensor(shape: [rows, columns], values: randomValues(rows * columns, seed: 21))
        let expected = (0..<rows).map { r in
            (0..<columns).max { x[r * columns + $0] < x[r * columns + $1] }!
        }
        XCTAssertEqual((0..<rows).map { Kernels.argmax(x.pointer + $0 * columns, count: columns) }, expected)
    }

    func testMaxMatchesAScalarScanAtEveryLength() {
        for n in 1...40 {
            let x = Tensor(shape: [n], values: randomValues(n, seed: UInt64(40 + n)))
            XCTAssertEqual(Kernels.max(x.pointer, count: n), (0..<n).map { x[$0] }.max()!, "n=\(n)")
        }
    }

    func testFiniteCheck() {
        for n in [0, 1, 15, 16, 17, 100] {
            let t = Tensor(shape: [n], values: randomValues(n, seed: 30, scale: 1e30))
            XCTAssertTrue(t.isFinite, "n=\(n)")
            for bad in [Float.nan, .infinity, -.infinity] where n > 0 {
                for position in Set([0, n / 2, n - 1]) {
                    let c = t.clone()
                    c[position] = bad
                    XCTAssertFalse(c.isFinite, "n=\(n) \(bad) at \(position)")
                }
            }
        }
        XCTAssertTrue(Tensor(shape: [2], values: [.greatestFiniteMagnitude, -.greatestFiniteMagnitude]).isFinite)
    }
}
