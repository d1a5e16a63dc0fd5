// OpenBLAS through its CBLAS interface, plus the OpenBLAS extensions the
// tensor layer needs to pin threads and report which kernel was chosen.
#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H

#include <cblas.h>

// Enum values are imported as Swift structs; these give plain constants
// with one prefix so call sites read the same everywhere.
static inline enum CBLAS_ORDER cblas_shim_row_major(void) { return CblasRowMajor; }
static inline enum CBLAS_TRANSPOSE cblas_shim_no_trans(void) { return CblasNoTrans; }
static inline enum CBLAS_TRANSPOSE cblas_shim_trans(void) { return CblasTrans; }

#endif
