// Measures single-precision GEMM throughput of the OpenBLAS kernel in use,
// on square shapes and on the shapes of an MNIST-sized MLP, plus one
// numerical check against a Double reference. Its main use is to show
// whether the kernel relaunch (OpenBLASKernel) gave us the fast kernel, and
// that the fast kernel computes the same thing.

import TensorCore

/// Throughput and correctness of `sgemm` with the current OpenBLAS kernel.
struct GemmBenchmarkReport: Codable, Sendable {
    /// One timed shape.
    struct Shape: Codable, Sendable {
        /// Rows of A and C (the batch, for an MLP layer).
        var m: Int
        /// Columns of B and C (output features).
        var n: Int
        /// Columns of A, rows of B (input features).
        var k: Int
        /// Timed repetitions after the warm-up.
        var repetitions: Int
        /// Median seconds of one multiply.
        var medianSeconds: Double
        /// `2 * m * n * k / medianSeconds / 1e9`.
        var gflops: Double
    }

    /// The numerical check.
    struct Correctness: Codable, Sendable {
        var m: Int
        var n: Int
        var k: Int
        /// `max over (i, j) of |C[i, j] - R[i, j]| / sum over p of |A[i, p] * B[p, j]|`,
        /// where `R` is computed in Double: the error relative to the scale
        /// of the dot product, which stays meaningful where `R` is near 0.
        var maxRelativeError: Double
    }

    /// `OpenBLAS.coreName` at the time of the run.
    var coreName: String
    /// `OpenBLAS.threadCount` at the time of the run.
    var threadCount: Int
    /// `OpenBLASKernel.summary()`.
    var kernel: String
    /// How to read m, n, k.
    var convention: String
    /// Timings, in the order requested.
    var shapes: [Shape]
    /// The numerical check.
    var correctness: Correctness
}

/// Runs ``GemmBenchmarkReport`` measurements.
struct GemmBenchmark {
    /// The default shapes: squares, then the two hidden layers of a
    /// 784-1024-1024 MLP at batch 256.
    static let defaultShapes: [(m: Int, n: Int, k: Int)] = [
        (256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
        (m: 256, n: 1024, k: 784), (m: 256, n: 1024, k: 1024),
    ]

    /// Roughly how long to spend timing one shape; with the slow fallback
    /// kernel the whole default run stays under about 15 seconds.
    static let secondsPerShape = 1.2

    /// Times `C[m x n] = A[m x k] * B[k x n]` for each shape (row-major, no
    /// transposes, alpha 1, beta 0) and checks a 192x160x128 product.
    ///
    /// - Parameter shapes: The shapes to time; ``defaultShapes`` when nil.
    /// - Returns: Throughputs as medians of at least 3 timed repetitions
    ///   after one warm-up each.
    static func run(shapes: [(m: Int, n: Int, k: Int)]? = nil) -> GemmBenchmarkReport {
        var rng = RandomGenerator(seed: 2024)
        let timed = (shapes ?? defaultShapes).map { shape in
            time(m: shape.m, n: shape.n, k: shape.k, rng: &rng)
        }
        return GemmBenchmarkReport(
            coreName: OpenBLAS.coreName,
            threadCount: OpenBLAS.threadCount,
            kernel: OpenBLASKernel.summary(),
            convention: "C[m x n] = A[m x k] * B[k x n], row-major, no transposes; "
                + "for MLP shapes m = batch, k = input features, n = output features; "
                + "gflops = 2*m*n*k / median seconds / 1e9",
            shapes: timed,
            correctness: check(m: 192, n: 128, k: 160, rng: &rng))
    }

    private static func time(m: Int, n: Int, k: Int, rng: inout RandomGenerator) -> GemmBenchmarkReport.Shape {
        precondition(m > 0 && n > 0 && k > 0, "GemmBenchmark: empty shape \(m)x\(n)x\(k)")
        let a = randomTensor([m, k], &rng), b = randomTensor([k, n], &rng), c = Tensor(zeros: [m, n])
        var watch = Stopwatch()
        // The warm-up pages in the operands and OpenBLAS's buffers, and sizes
        // the number of repetitions.
        matmul(a, b, into: c)
        let first = watch.lap()
        let repetitions = Swift.min(25, Swift.max(3, Int(secondsPerShape / Swift.max(first, 1e-6))))
        var seconds: [Double] = []
        seconds.reserveCapacity(repetitions)
        for _ in 0..<repetitions {
            watch.reset()
            matmul(a, b, into: c)
            seconds.append(watch.lap())
        }
        seconds.sort()
        let median = repetitions % 2 == 1
            ? seconds[repetitions / 2]
            : (seconds[repetitions / 2 - 1] + seconds[repetitions / 2]) / 2
        let flops = 2 * Double(m) * Double(n) * Double(k)
        return .init(m: m, n: n, k: k, repetitions: repetitions, medianSeconds: median, gflops: flops / median / 1e9)
    }

    private static func check(m: Int, n: Int, k: Int, rng: inout RandomGenerator) -> GemmBenchmarkReport.Correctness {
        let a = randomTensor([m, k], &rng), b = randomTensor([k, n], &rng), c = Tensor(zeros: [m, n])
        matmul(a, b, into: c)
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var dot = 0.0, scale = 0.0
                for p in 0..<k {
                    let product = Double(a[i * k + p]) * Double(b[p * n + j])
                    dot += product
                    scale += Swift.abs(product)
                }
                worst = Swift.max(worst, Swift.abs(Double(c[i * n + j]) - dot) / Swift.max(scale, .leastNormalMagnitude))
            }
        }
        return .init(m: m, n: n, k: k, maxRelativeError: worst)
    }

    private static func randomTensor(_ shape: [Int], _ rng: inout RandomGenerator) -> Tensor {
        let t = Tensor(zeros: shape)
        for i in 0..<t.count { t.pointer[i] = 2 * rng.nextUniform() - 1 }
        return t
    }
}
