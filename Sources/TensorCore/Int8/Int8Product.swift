// The integer product under int8 inference: uint8 activations times int8
// weights, summed exactly in int32, on oneDNN (VNNI's vpdpbusd where the CPU
// has it). The weights keep PyTorch's [outputs, inputs] layout, so one output
// channel's codes are contiguous, as for sgemm.

import CBLAS
import CDNNL

/// What the integer product can take on this CPU.
public enum Int8Product {
    /// The largest activation code: 255 where the CPU has VNNI, whose
    /// `u8 · s8` products sum exactly in int32; 127 elsewhere, where oneDNN
    /// adds pairs of them in saturating int16 (`vpmaddubsw`) and two 8-bit
    /// products (up to 2 · 255 · 127) could overflow, while two 7-bit ones
    /// (2 · 127 · 127 = 32258) cannot.
    public static let activationLevels: Int32 = hasVNNI ? 255 : 127

    /// What ``signedInt8Product(m:n:k:a:lda:b:ldb:c:ldc:)``'s activation
    /// operand subtracts from a code to make it signed: 128 with VNNI, 64
    /// without, which keeps every code within ±64 so that no pair of products
    /// saturates however oneDNN shifts the operands.
    public static let signedOffset: Int32 = hasVNNI ? 128 : 64

    /// Whether the CPU has AVX-512 VNNI or AVX-VNNI.
    public static let hasVNNI: Bool = {
        let flags = OpenBLASKernel.cpuFlags()
        return flags.contains("avx512_vnni") || flags.contains("avx_vnni")
    }()
}

/// `c[m x n] = a[m x k] · b[n x k]ᵀ` in exact integer arithmetic: `a` uint8
/// codes with entries up to ``Int8Product/activationLevels``, `b` int8
/// codes, both row-major.
///
/// - Parameters:
///   - m, n, k: The product's sizes.
///   - a: `m` rows of `k` codes, `lda` apart.
///   - b: `n` rows of `k` codes, `ldb` apart (one per output channel).
///   - c: `m` rows of `n` sums, `ldc` apart, overwritten.
public func int8Product(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<UInt8>, lda: Int? = nil,
    b: UnsafePointer<Int8>, ldb: Int? = nil,
    c: UnsafeMutablePointer<Int32>, ldc: Int? = nil
) {
    integerProduct(m: m, n: n, k: k, a: a, lda: lda ?? k, b: b, ldb: ldb ?? k, c: c, ldc: ldc ?? n,
                   oneDNN: cdnnl_shim_gemm_u8s8s32)
}

/// `c[m x n] = a[m x k] · b[n x k]ᵀ` in exact integer arithmetic on int8
/// codes: the form a convolution uses, with its weights as `a`, so that the
/// sums come out one output channel per row. `b`'s codes lie within
/// `±Int8Product.signedOffset`.
///
/// - Parameters:
///   - m, n, k: The product's sizes.
///   - a: `m` rows of `k` codes, `lda` apart.
///   - b: `n` rows of `k` codes, `ldb` apart.
///   - c: `m` rows of `n` sums, `ldc` apart, overwritten.
public func signedInt8Product(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Int8>, lda: Int? = nil,
    b: UnsafePointer<Int8>, ldb: Int? = nil,
    c: UnsafeMutablePointer<Int32>, ldc: Int? = nil
) {
    integerProduct(m: m, n: n, k: k, a: a, lda: lda ?? k, b: b, ldb: ldb ?? k, c: c, ldc: ldc ?? n,
                   oneDNN: cdnnl_shim_gemm_s8s8s32)
}

/// Either product on oneDNN, or with the same sums plainly if oneDNN
/// refuses (or `k == 0`, which it does not take).
private func integerProduct<Code: FixedWidthInteger>(
    m: Int, n: Int, k: Int, a: UnsafePointer<Code>, lda: Int, b: UnsafePointer<Int8>, ldb: Int,
    c: UnsafeMutablePointer<Int32>, ldc: Int,
    oneDNN: (Int, Int, Int, UnsafePointer<Code>, Int, UnsafePointer<Int8>, Int, UnsafeMutablePointer<Int32>, Int, Int32) -> Int32
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "int8 product: negative dimension m=\(m) n=\(n) k=\(k)")
    if m == 0 || n == 0 { return }
    if k > 0, oneDNN(m, n, k, a, lda, b, ldb, c, ldc, openblas_get_num_threads()) != 0 { return }
    for r in 0..<m {
        for j in 0..<n {
            var sum: Int32 = 0
            for i in 0..<k { sum &+= Int32(a[r * lda + i]) &* Int32(b[j * ldb + i]) }
            c[r * ldc + j] = sum
        }
    }
}
