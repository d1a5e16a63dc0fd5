// oneDNN's row-major sgemm, for the matrix shapes where it beats OpenBLAS
// (see TensorCore's MatmulBackend), and its integer product, the core of
// int8 inference (TensorCore's int8Product).
#ifndef CDNNL_SHIM_H
#define CDNNL_SHIM_H

#include <oneapi/dnnl/dnnl.h>

// Debian's oneDNN runs on GNU OpenMP (libgomp). Its omp.h lives in GCC's own
// include directory, which Swift's clang does not search, so the two calls
// needed are declared here.
int omp_get_max_threads(void);
void omp_set_num_threads(int count);

// C = alpha op(A) op(B) + beta C, row-major, on `threads` threads. OpenMP
// keeps the thread count per calling thread and defaults to every core, so
// it is set on each thread that multiplies; one rank per core needs one.
// Returns 1 on success, 0 if oneDNN refused (the caller falls back).
static inline int cdnnl_shim_sgemm(int transpose_a, int transpose_b, long m, long n, long k, float alpha,
                                   const float *a, long lda, const float *b, long ldb,
                                   float beta, float *c, long ldc, int threads) {
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
    return dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                      beta, c, ldc) == dnnl_success;
}

// C[m x n] (int32) = A[m x k] (uint8) · B[n x k]ᵀ (int8), row-major, exact,
// with no zero points: the callers fold their own per-row zero points into
// the result, which oneDNN's single scalar offset could not express.
// Returns 1 on success, 0 if oneDNN refused.
static inline int cdnnl_shim_gemm_u8s8s32(long m, long n, long k, const uint8_t *a, long lda,
                                          const int8_t *b, long ldb, int32_t *c, long ldc, int threads) {
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
    const int32_t no_offset = 0;
    return dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, a, lda, 0, b, ldb, 0, 0.0f, c, ldc,
                             &no_offset) == dnnl_success;
}

// C[m x n] (int32) = A[m x k] (int8) · B[n x k]ᵀ (int8), row-major, exact, no
// zero points: with the weights as A, a convolution's result comes out
// channels-first. Returns 1 on success, 0 if oneDNN refused.
static inline int cdnnl_shim_gemm_s8s8s32(long m, long n, long k, const int8_t *a, long lda,
                                          const int8_t *b, long ldb, int32_t *c, long ldc, int threads) {
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
    const int32_t no_offset = 0;
    return dnnl_gemm_s8s8s32('N', 'T', 'F', m, n, k, 1.0f, a, lda, 0, b, ldb, 0, 0.0f, c, ldc,
                             &no_offset) == dnnl_success;
}

#endif
