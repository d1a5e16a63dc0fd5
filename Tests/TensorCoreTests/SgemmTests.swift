import TensorCore
import XCTest

final class SgemmTests: XCTestCase {
    /// `alpha * op(A) op(B) + beta * C` in Double, with a bound on the
    /// rounding error a correct Float sgemm can make.
    func reference(
        m: Int, n: Int, k: Int, alpha: Float, beta: Float,
        a: [Float], lda: Int, transposeA: Bool,
        b: [Float], ldb: Int, transposeB: Bool,
        c: [Float], ldc: Int
    ) -> (values: [Double], bounds: [Double]) {
        var values = c.map(Double.init)
        var bounds = [Double](repeating: 0, count: c.count)
        for i in 0..<m {
            for j in 0..<n {
                var dot = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let x = Double(transposeA ? a[p * lda + i] : a[i * lda + p])
                    let y = Double(transposeB ? b[j * ldb + p] : b[p * ldb + j])
                    dot += x * y
                    magnitude += abs(x * y)
                }
                let old = Double(c[i * ldc + j])
                values[i * ldc + j] = Double(alpha) * dot + Double(beta) * old
                bounds[i * ldc + j] = 1e-5 * (abs(Double(alpha)) * magnitude + abs(Double(beta) * old)) + 1e-6
            }
        }
        return (values, bounds)
    }

    /// The shape rule is a pure function of the shape: oneDNN only for
    /// untransposed A that is narrow inside or tall.
    func testBackendDependsOnTheShapeAlone() {
        XCTAssertEqual(MatmulBackend.choose(m: 4096, n: 384, k: 128, transposeA: false), .oneDNN)
        XCTAssertEqual(MatmulBackend.choose(m: 32, n: 32, k: 32, transposeA: false), .oneDNN)
        XCTAssertEqual(MatmulBackend.choose(m: 384, n: 128, k: 4096, transposeA: true), .openBLAS)
        XCTAssertEqual(MatmulBackend.choose(m: 256, n: 1024, k: 784, transposeA: false), .openBLAS)
        XCTAssertEqual(MatmulBackend.choose(m: 4096, n: 128, k: 512, transposeA: false), .oneDNN)
        XCTAssertEqual(MatmulBackend.choose(m: 32, n: 32, k: 32, transposeA: true), .openBLAS)
    }

    func testAllTransposeCombinationsWithLeadingDimensionsAndAccumulation() {
        let shapes = [(1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 1, 5), (1, 40, 3), (0, 3, 4), (3, 0, 4), (3, 4, 0), (70, 65, 130)]
        var seed: UInt64 = 100
        for (m, n, k) in shapes {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    for (alpha, beta, padding) in [(Float(1), Float(0), 0), (1.5, 0.5, 3), (-0.25, 1, 1)] {
                        seed += 1
                        let aRows = transposeA ? k : m, aColumns = transposeA ? m : k
                        let bRows = transposeB ? n : k, bColumns = transposeB ? k : n
                        let lda = max(1, aColumns + padding), ldb = max(1, bColumns + padding), ldc = max(1, n + padding)
                        // NaN in A and B padding shows up if sgemm reads outside
                        // the matrices; a sentinel in C padding if it writes there.
                        var a = [Float](repeating: .nan, count: aRows * lda)
                        var b = [Float](repeating: .nan, count: bRows * ldb)
                        var c = [Float](repeating: 12345, count: m * ldc)
                        let av = randomValues(aRows * aColumns, seed: seed)
                        let bv = randomValues(bRows * bColumns, seed: seed + 1000)
                        let cv = randomValues(m * n, seed: seed + 2000)
                        for r in 0..<aRows { for q in 0..<aColumns { a[r * lda + q] = av[r * aColumns + q] } }
                        for r in 0..<bRows { for q in 0..<bColumns { b[r * ldb + q] = bv[r * bColumns + q] } }
                        for r in 0..<m { for q in 0..<n { c[r * ldc + q] = cv[r * n + q] } }
                        let (expected, bounds) = reference(
                            m: m, n: n, k: k, alpha: alpha, beta: beta,
                            a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
                            c: c, ldc: ldc)

                        // Both libraries must meet the bound; the shape rule picks one per call.
                        let initialC = c
                        for backend in MatmulBackend.allCases {
                            c = initialC
                            a.withPointer { pa in b.withPointer { pb in c.withPointer { pc in
                                sgemm(m: m, n: n, k: k, alpha: alpha,
                                      a: pa, lda: lda, transposeA: transposeA,
                                      b: pb, ldb: ldb, transposeB: transposeB,
                                      beta: beta, c: pc, ldc: ldc, backend: backend)
                            } } }

                            let label = "\(backend) m=\(m) n=\(n) k=\(k) tA=\(transposeA) tB=\(transposeB) alpha=\(alpha) beta=\(beta) pad=\(padding)"
                            var failures = 0
                            for i in 0..<m {
                                for j in 0..<ldc {
                                    let index = i * ldc + j
                                    if j >= n {
                                        if c[index] != 12345 { failures += 1 }
                                    } else if !(abs(Double(c[index]) - expected[index]) <= bounds[index]) {
                                        failures += 1
                                    }
                                }
                            }
                            XCTAssertEqual(failures, 0, label)
                        }
                    }
                }
            }
        }
    }

    func testDefaultLeadingDimensionsWithEmptyInnerDimension() {
        // k = 0 leaves C = beta * C; the packed defaults must stay valid for BLAS.
        let c = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = Tensor(zeros: transposeA ? [0, 2] : [2, 0])
            let b = Tensor(zeros: transposeB ? [3, 0] : [0, 3])
            let out = c.clone()
            matmul(a, transposeA: transposeA, b, transposeB: transposeB, into: out, beta: 2)
            XCTAssertEqual(out.array, [2, 4, 6, 8, 10, 12], "tA=\(transposeA) tB=\(transposeB)")
        }
    }

    func testMatmulTensorsAllTransposes() {
        let m = 13, n = 11, k = 19
        let a = Tensor(shape: [m, k], values: randomValues(m * k, seed: 200))
        let b = Tensor(shape: [k, n], values: randomValues(k * n, seed: 201))
        var expected = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k {
            expected[i * n + j] += Double(a[i * k + p]) * Double(b[p * n + j])
        } } }
        func transposed(_ x: Tensor) -> Tensor {
            let (rows, columns) = (x.shape[0], x.shape[1])
            return Tensor(shape: [columns, rows], values: (0..<rows * columns).map { x[($0 % rows) * columns + $0 / rows] })
        }
        let aT = transposed(a), bT = transposed(b)
        assertClose(matmul(a, b).array, expected, relative: 1e-4, absolute: 1e-5)
        assertClose(matmul(aT, transposeA: true, b).array, expected, relative: 1e-4, absolute: 1e-5)
        assertClose(matmul(a, bT, transposeB: true).array, expected, relative: 1e-4, absolute: 1e-5)
        assertClose(matmul(aT, transposeA: true, bT, transposeB: true).array, expected, relative: 1e-4, absolute: 1e-5)

        let c = Tensor(repeating: 1, shape: [m, n])
        matmul(a, b, into: c, alpha: 2, beta: -1)
        assertClose(c.array, expected.map { 2 * $0 - 1 }, relative: 1e-4, absolute: 1e-4)
    }
}
