import TensorCore
import XCTest

final class ElementwiseTests: XCTestCase {
    let counts = [0, 1, 7, 8, 33, 1000]

    func testBinaryOperationsMatchReference() {
        for n in counts {
            var a = randomValues(n, seed: 1), b = randomValues(n, seed: 2)
            var out = [Float](repeating: .nan, count: n)
            let cases: [(String, (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void, (Double, Double) -> Double)] = [
                ("add", { Kernels.add($0, $1, into: $2, count: $3) }, { $0 + $1 }),
                ("subtract", { Kernels.subtract($0, $1, into: $2, count: $3) }, { $0 - $1 }),
                ("multiply", { Kernels.multiply($0, $1, into: $2, count: $3) }, { $0 * $1 }),
            ]
            for (name, kernel, reference) in cases {
                a.withPointer { pa in b.withPointer { pb in out.withPointer { po in kernel(pa, pb, po, n) } } }
                let expected = zip(a, b).map { reference(Double($0), Double($1)) }
                assertClose(out, expected, "\(name) n=\(n)")
            }
        }
    }

    func testScaleAxpyFill() {
        for n in counts {
            var x = randomValues(n, seed: 3)
            var y = randomValues(n, seed: 4)
            let y0 = y
            y.withPointer { py in x.withPointer { px in Kernels.axpy(alpha: -0.75, x: px, y: py, count: n) } }
            assertClose(y, zip(x, y0).map { Double($1) - 0.75 * Double($0) }, "axpy n=\(n)")

            var scaled = [Float](repeating: .nan, count: n)
            x.withPointer { px in scaled.withPointer { Kernels.scale(px, by: 2.5, into: $0, count: n) } }
            assertClose(scaled, x.map { 2.5 * Double($0) }, "scale n=\(n)")

            x.withPointer { Kernels.fill($0, count: n, value: 3) }
            XCTAssertEqual(x, [Float](repeating: 3, count: n))
        }
    }

    func testInPlaceAliasing() {
        var x = randomValues(100, seed: 5)
        let original = x
        x.withPointer { p in Kernels.add(p, p, into: p, count: 100) }
        assertClose(x, original.map { 2 * Double($0) })
    }

    func testTensorConveniences() {
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], values: [6, 5, 4, 3, 2, 1])
        let out = Tensor(zeros: [6])
        Tensor.add(a, b, into: out)
        XCTAssertEqual(out.array, [7, 7, 7, 7, 7, 7])
        Tensor.subtract(a, b, into: out)
        XCTAssertEqual(out.array, [-5, -3, -1, 1, 3, 5])
        Tensor.multiply(a, b, into: out)
        XCTAssertEqual(out.array, [6, 10, 12, 12, 10, 6])
        a.add(b)
        XCTAssertEqual(a.array, [7, 7, 7, 7, 7, 7])
        a.scale(by: 0.5)
        XCTAssertEqual(a.array, [3.5, 3.5, 3.5, 3.5, 3.5, 3.5])
        a.axpy(2, b)
        XCTAssertEqual(a.array, [15.5, 13.5, 11.5, 9.5, 7.5, 5.5])
    }
}
