// oneDNN's row-major sgemm, for the matrix shapes where it beats OpenBLAS
// (see TensorCore's MatmulBackend).
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

#endif
