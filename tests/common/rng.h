/* The suites' random numbers: xorshift64 (Marsaglia), cheap and seedable, so a
 * thread's sequence is its own and a failure can be replayed from its seed.
 * The state must start nonzero (it then never becomes 0). */
#ifndef GORT_TEST_RNG_H
#define GORT_TEST_RNG_H

#include <stdint.h>

static inline uint64_t test_rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif
