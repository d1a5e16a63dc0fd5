import CBLAS

/// Single-precision general matrix multiply on raw row-major buffers:
/// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` m x k and `op(B)` k x n,
/// on the library ``MatmulBackend`` chooses for the shape.
///
/// - Parameters:
///   - transposeA: Whether `a` holds A transposed (k x m, row-major).
///   - transposeB: Whether `b` holds B transposed (n x k, row-major).
///   - lda, ldb, ldc: Row strides; default to the packed widths.
///   - backend: The library; by default the one chosen for the shape.
public func sgemm(
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int? = nil, transposeA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int? = nil, transposeB: Bool = false,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int? = nil,
    backend: MatmulBackend? = nil
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension m=\(m) n=\(n) k=\(k)")
    if m == 0 || n == 0 { return }
    multiply(on: backend ?? MatmulBackend.choose(m: m, n: n, k: k, transposeA: transposeA),
             m: m, n: n, k: k, alpha: alpha,
             a: a, lda: lda ?? (transposeA ? m : k), transposeA: transposeA,
             b: b, ldb: ldb ?? (transposeB ? k : n), transposeB: transposeB,
             beta: beta, c: c, ldc: ldc ?? n)
}

/// `c = alpha * op(a) * op(b) + beta * c` on 2-D tensors.
///
/// - Parameters:
///   - a: m x k, or k x m when `transposeA`.
///   - b: k x n, or n x k when `transposeB`.
///   - c: m x n, written in place.
public func matmul(
    _ a: Tensor, transposeA: Bool = false,
    _ b: Tensor, transposeB: Bool = false,
    into c: Tensor, alpha: Float = 1, beta: Float = 0, backend: MatmulBackend? = nil
) {
    precondition(a.rank == 2 && b.rank == 2 && c.rank == 2,
                 "matmul: expected 2-D tensors, got \(a.shape), \(b.shape), \(c.shape)")
    let (m, k) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (kb, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    precondition(k == kb, "matmul: inner dimensions differ, \(a.shape)\(transposeA ? "ᵀ" : "") x \(b.shape)\(transposeB ? "ᵀ" : "")")
    precondition(c.shape == [m, n], "matmul: output \(c.shape), expected [\(m), \(n)]")
    sgemm(m: m, n: n, k: k, alpha: alpha,
          a: a.pointer, transposeA: transposeA,
          b: b.pointer, transposeB: transposeB,
          beta: beta, c: c.pointer, backend: backend)
}

/// `op(a) * op(b)` as a new tensor.
public func matmul(_ a: Tensor, transposeA: Bool = false, _ b: Tensor, transposeB: Bool = false) -> Tensor {
    let m = transposeA ? a.shape[1] : a.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    let c = Tensor(zeros: [m, n])
    matmul(a, transposeA: transposeA, b, transposeB: transposeB, into: c)
    return c
}
