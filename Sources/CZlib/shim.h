// zlib, for reading gzip'd data files (Fashion-MNIST, scikit-learn's digits)
// straight from disk without unpacking them first.
#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H

#include <zlib.h>

// inflateInit2 is a macro that passes the library version and the size of
// z_stream to inflateInit2_, so Swift cannot call it. Window bits 15 + 32
// accept both gzip and zlib headers, detected automatically.
static inline int czlib_inflate_init_auto(z_streamp stream) {
    return inflateInit2(stream, 15 + 32);
}

#endif
