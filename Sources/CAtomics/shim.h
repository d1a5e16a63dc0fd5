// Ranks on one node signal each other through 64-bit counters that live in a
// shared-memory segment. The standard library's `Atomic` must own its storage,
// so it cannot be placed on memory another process mapped; these wrappers of
// the compiler's builtins give Swift acquire/release access to such words.
#ifndef CATOMICS_SHIM_H
#define CATOMICS_SHIM_H

#include <stdint.h>

// A load after which every write the storing process made before its
// matching release-store is visible.
static inline uint64_t catomic_load_acquire(const uint64_t *word) {
    return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}

// A store that publishes every write made before it to an acquiring load.
static inline void catomic_store_release(uint64_t *word, uint64_t value) {
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
}

#endif
