// Which library multiplies a given shape. OpenBLAS is the default; oneDNN's
// sgemm is faster on products with an untransposed A that are narrow inside
// (the attention products over a head, projections from a model's width) or
// tall (thousands of token rows), and slower on the transposed-A weight
// gradients and on short, deep products like an MLP's at batch 128, measured
// per shape on this kind of host (docs/benchmarks.md).
//
// The choice depends on the shape alone, never on a timing: the two
// libraries round differently, and a run, its resume and every replica must
// take the same path to stay bitwise identical.

import CBLAS
import CDNNL

#if canImport(Glibc)
import Glibc
#endif

/// The library behind ``sgemm(m:n:k:alpha:a:lda:transposeA:b:ldb:transposeB:beta:c:ldc:)``.
public enum MatmulBackend: String, Sendable, CaseIterable {
    case openBLAS = "openblas"
    case oneDNN = "onednn"

    /// Set to `openblas` to use OpenBLAS for every shape, e.g. to compare
    /// against the previous build in one binary.
    public static let variable = "DDP_MATMUL"

    /// Whether oneDNN may be chosen at all: false when ``variable`` says `openblas`.
    public static let allowsOneDNN: Bool = {
        guard let text = getenv(variable) else { return true }
        return String(cString: text).lowercased() != MatmulBackend.openBLAS.rawValue
    }()

    /// The widest inner dimension oneDNN takes at any height.
    public static let oneDNNMaximumInner = 384
    /// The height from which oneDNN takes any inner dimension.
    public static let oneDNNMinimumRows = 1024

    /// The backend for `op(A)[m x k] * op(B)[k x n]`.
    public static func choose(m: Int, n: Int, k: Int, transposeA: Bool) -> MatmulBackend {
        allowsOneDNN && !transposeA && (k <= oneDNNMaximumInner || m >= oneDNNMinimumRows) ? .oneDNN : .openBLAS
    }
}

/// Runs one product on `backend`; oneDNN falls back to OpenBLAS if it refuses,
/// and for `k == 0`, where it leaves `C` unscaled instead of `beta * C`.
func multiply(
    on backend: MatmulBackend, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if backend == .oneDNN, k > 0,
       cdnnl_shim_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                        openblas_get_num_threads()) != 0 {
        return
    }
    cblas_sgemm(
        cblas_shim_row_major(),
        transposeA ? cblas_shim_trans() : cblas_shim_no_trans(),
        transposeB ? cblas_shim_trans() : cblas_shim_no_trans(),
        Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(lda), b, Int32(ldb),
        beta, c, Int32(ldc))
}
