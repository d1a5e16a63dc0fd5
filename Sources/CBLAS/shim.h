// OpenBLAS through its CBLAS interface, plus the OpenBLAS extensions the
// tensor layer needs to pin threads and report which kernel was chosen.
#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H

#include <stddef.h>
#include <cblas.h>

// Enum values are imported as Swift structs; these give plain constants
// with one prefix so call sites read the same everywhere.
static inline enum CBLAS_ORDER cblas_shim_row_major(void) { return CblasRowMajor; }
static inline enum CBLAS_TRANSPOSE cblas_shim_no_trans(void) { return CblasNoTrans; }
static inline enum CBLAS_TRANSPOSE cblas_shim_trans(void) { return CblasTrans; }

// LAPACK from the same library: OpenBLAS exports the Fortran symbols
// (`sgesdd_`) but Debian ships no lapacke.h, so the prototype is declared
// here. Fortran passes every argument by reference and appends a hidden
// length for each CHARACTER argument (size_t since gfortran 8).
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda,
             float *s, float *u, const int *ldu, float *vt, const int *ldvt,
             float *work, const int *lwork, int *iwork, int *info, size_t jobz_length);

// The singular value decomposition A = U diag(S) VT of a column-major m x n
// matrix by divide and conquer, thin factors (JOBZ = 'S'). Pass lwork = -1
// to receive the optimal workspace size in work[0]. Returns LAPACK's INFO.
static inline int lapack_shim_sgesdd_thin(int m, int n, float *a, int lda, float *s,
                                          float *u, int ldu, float *vt, int ldvt,
                                          float *work, int lwork, int *iwork) {
    int info = 0;
    sgesdd_("S", &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, &info, 1);
    return info;
}

#endif
