import TensorCore
import XCTest

final class Int8KernelTests: XCTestCase {
    /// oneDNN's integer product equals plain int32 sums, including codes at
    /// the largest activation level (where saturating int16 pairs would fail)
    /// and sizes that are not multiples of any vector width.
    func testInt8ProductIsExact() {
        var generator = RandomGenerator(seed: 21, stream: 1)
        let levels = Int(Int8Product.activationLevels)
        for (m, n, k) in [(1, 1, 1), (1, 1024, 784), (3, 17, 29), (33, 10, 256), (256, 65, 128), (5, 7, 1536)] {
            // Half the activations at the top level, half anywhere; weights at the extremes often.
            let a = (0..<(m * k)).map { i in UInt8(i % 2 == 0 ? levels : Int(generator.next() % UInt64(levels + 1))) }
            let b = (0..<(n * k)).map { i in Int8(i % 3 == 0 ? 127 : Int(generator.next() % 255) - 127) }
            var c = [Int32](repeating: -1, count: m * n)
            int8Product(m: m, n: n, k: k, a: a, b: b, c: &c)
            assertPlainSums(c, a, b, m, n, k)
        }
    }

    /// Each row's grid spans its own range with 0 on it; every value is
    /// within half a step; an all-zero row stays zero.
    func testRowQuantizationBoundsTheErrorByHalfAStep() {
        var generator = RandomGenerator(seed: 5, stream: 2)
        let (rows, columns) = (6, 37)
        var x = (0..<(rows * columns)).map { _ in 3 * generator.nextNormal() }
        for j in 0..<columns {
            x[2 * columns + j] = 0                               // all zero
            x[3 * columns + j] = abs(x[3 * columns + j])         // non-negative, like ReLU outputs
            x[4 * columns + j] = -abs(x[4 * columns + j]) - 1    // all negative
            x[5 * columns + j] *= 1e-4                           // tiny
        }
        for levels: Int32 in [127, 255] {
            var codes = [UInt8](repeating: 0, count: rows * columns)
            var scales = [Float](repeating: -1, count: rows), zeros = [Int32](repeating: -1, count: rows)
            Kernels.quantizeRows(x, rows: rows, columns: columns, levels: levels,
                                 codes: &codes, scales: &scales, zeroPoints: &zeros)
            XCTAssertEqual(scales[2], 0)
            XCTAssertEqual(Array(codes[(2 * columns)..<(3 * columns)]), [UInt8](repeating: 0, count: columns))
            XCTAssertEqual(zeros[3], 0, "a non-negative row needs no zero point")
            XCTAssertEqual(zeros[4], levels, "an all-negative row has 0 at its top code")
            for r in 0..<rows {
                let row = x[(r * columns)..<((r + 1) * columns)]
                let range = max(0, row.max()!) - min(0, row.min()!)
                XCTAssertEqual(scales[r], range / Float(levels), accuracy: range * 1e-6)
                for j in 0..<columns {
                    let code = codes[r * columns + j]
                    XCTAssertLessThanOrEqual(Int32(code), levels)
                    let restored = scales[r] * Float(Int32(code) - zeros[r])
                    XCTAssertLessThanOrEqual(abs(restored - x[r * columns + j]), scales[r] * 0.5001 + 1e-12,
                                             "levels \(levels) row \(r) column \(j)")
                }
            }
        }
    }

    /// The int8 layer against the same product in Float32 from the
    /// restored codes: the only difference left is the activations' rounding,
    /// bounded per output by `Σ|w| · scale / 2`.
    func testInt8LinearMatchesTheRestoredProduct() {
        var generator = RandomGenerator(seed: 9, stream: 3)
        let (outputs, inputs) = (29, 70)
        let codes = (0..<(outputs * inputs)).map { _ in Int8(Int(generator.next() % 255) - 127) }
        let scales = (0..<outputs).map { _ in 0.001 + abs(generator.nextNormal()) * 0.002 }
        let sums = (0..<outputs).map { j in codes[(j * inputs)..<((j + 1) * inputs)].reduce(Int32(0)) { $0 + Int32($1) } }
        let bias = (0..<outputs).map { _ in generator.nextNormal() }
        let scratch = Int8Scratch()
        for batch in [1, 4, 33] {
            let x = (0..<(batch * inputs)).map { _ in generator.nextNormal() }
            var y = [Float](repeating: .nan, count: batch * outputs)
            codes.withUnsafeBufferPointer { c in
                scales.withUnsafeBufferPointer { s in
                    sums.withUnsafeBufferPointer { q in
                        let view = Int8WeightView(codes: c.baseAddress!, scales: s.baseAddress!, codeSums: q.baseAddress!,
                                                  outputs: outputs, inputs: inputs)
                        Kernels.int8LinearForward(out: &y, input: x, weight: view, bias: bias, rows: batch, scratch: scratch)
                    }
                }
            }
            for r in 0..<batch {
                let row = x[(r * inputs)..<((r + 1) * inputs)]
                let step = (max(0, row.max()!) - min(0, row.min()!)) / Float(Int8Product.activationLevels)
                for j in 0..<outputs {
                    var exact = Double(bias[j]), bound = 0.0
                    for i in 0..<inputs {
                        let w = Double(scales[j]) * Double(codes[j * inputs + i])
                        exact += w * Double(x[r * inputs + i])
                        bound += abs(w) * Double(step) / 2
                    }
                    XCTAssertEqual(Double(y[r * outputs + j]), exact, accuracy: bound * 1.001 + 1e-5,
                                   "batch \(batch) row \(r) output \(j)")
                }
            }
        }
    }
}

extension Int8KernelTests {
    /// The signed product (a convolution's weights first) is exact for codes
    /// within ±signedOffset.
    func testSignedInt8ProductIsExact() {
        var generator = RandomGenerator(seed: 23, stream: 4)
        let offset = Int(Int8Product.signedOffset)
        for (m, n, k) in [(1, 1, 1), (16, 1000, 25), (32, 130, 400), (5, 7, 9)] {
            let a = (0..<(m * k)).map { i in Int8(i % 3 == 0 ? -127 : Int(generator.next() % 255) - 127) }
            let b = (0..<(n * k)).map { i in Int8(i % 2 == 0 ? -offset : Int(generator.next() % UInt64(2 * offset)) - offset) }
            var c = [Int32](repeating: -1, count: m * n)
            signedInt8Product(m: m, n: n, k: k, a: a, b: b, c: &c)
            assertPlainSums(c, a, b, m, n, k)
        }
    }
}

/// `c` equals `a · bᵀ` summed in plain integers.
private func assertPlainSums<A: BinaryInteger, B: BinaryInteger>(_ c: [Int32], _ a: [A], _ b: [B], _ m: Int, _ n: Int, _ k: Int,
                                                               file: StaticString = #filePath, line: UInt = #line) {
    for r in 0..<m {
        for j in 0..<n {
            var expected: Int32 = 0
            for i in 0..<k { expected += Int32(a[r * k + i]) * Int32(b[j * k + i]) }
            XCTAssertEqual(c[r * n + j], expected, "\(m)x\(n)x\(k) element \(r),\(j)", file: file, line: line)
        }
    }
}
