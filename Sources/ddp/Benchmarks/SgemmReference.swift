// What the machine's sgemm can do, as the denominator of a utilization.
//
// This host is shared: a reference timed while another job runs is low, and a
// utilization against it comes out above 1. So the reference is the best of
// many short products taken before, between and after the timed steps, on
// every rank at once: the best is what the core delivered when it was not
// disturbed, which is also the most a step's own products could reach. Each
// sample times both matmul libraries, so the reference is the faster one.

import TensorCore

/// Single-thread `size`³ sgemm timings collected around a benchmark.
struct SgemmReference {
    let size: Int
    private(set) var seconds: [Double] = []
    private let a: Tensor, b: Tensor, c: Tensor

    /// Operands for `size`³ products, warmed by one untimed product.
    init(size: Int = 1024) {
        self.size = size
        a = SgemmReference.filled([size, size])
        b = SgemmReference.filled([size, size])
        c = Tensor(zeros: [size, size])
        for backend in MatmulBackend.allCases { matmul(a, b, into: c, backend: backend) }
    }

    /// Times `count` products on each backend.
    mutating func sample(_ count: Int = 1) {
        for _ in 0..<count {
            for backend in MatmulBackend.allCases {
                let clock = Stopwatch()
                matmul(a, b, into: c, backend: backend)
                seconds.append(clock.elapsedSeconds)
            }
        }
    }

    /// GFLOP/s of the fastest product.
    var bestGFLOPs: Double { gflops(seconds.min() ?? .infinity) }
    /// GFLOP/s of the median product.
    var medianGFLOPs: Double { gflops(seconds.sorted()[seconds.count / 2]) }

    /// How the reference was taken, for the report.
    var method: String {
        "best of \(seconds.count) single-thread \(size)^3 sgemms (OpenBLAS and oneDNN alternately) taken before, "
            + "between and after the timed steps, on every rank at once; mean over ranks"
    }

    private func gflops(_ seconds: Double) -> Double { 2 * Double(size * size * size) / seconds / 1e9 }

    static func filled(_ shape: [Int]) -> Tensor {
        let t = Tensor(zeros: shape)
        var rng = RandomGenerator(seed: 7)
        for i in 0..<t.count { t.pointer[i] = rng.nextUniform() - 0.5 }
        return t
    }
}
