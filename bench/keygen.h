/* Key index generators for keyloom-bench: uniform over [0, n) or Zipf with
 * exponent s (rank 0 hottest), sampled by rejection-inversion (Hoermann and
 * Derflinger, 1996): O(1) time and memory per sample whatever n is.
 *
 * Randomness comes from kl_rand64 (one xoshiro state per thread), so a
 * keygen_t may be shared read-only by threads once initialised.
 * Thread: any (after init). */
#ifndef BENCH_KEYGEN_H
#define BENCH_KEYGEN_H

#include <stdint.h>

#include "kl_util.h"

enum { KEYGEN_UNIFORM = 0, KEYGEN_ZIPF = 1 };

typedef struct keygen {
    uint64_t n; /* key-space size; 0 or 1 means every key is 0 */
    int dist;
    double s;           /* Zipf exponent */
    double hx1, hn, sq; /* Zipf sampler constants */
} keygen_t;

/* Returns 0, or -EINVAL for a bad distribution or exponent (s must be > 0). */
int keygen_init(keygen_t *kg, uint64_t n, int dist, double s);
uint64_t keygen__zipf(const keygen_t *kg);

/* Next key index in [0, n). */
static inline uint64_t keygen_next(const keygen_t *kg) {
    if (kg->n <= 1) return 0;
    if (kg->dist == KEYGEN_UNIFORM)
        return (uint64_t)(((unsigned __int128)kl_rand64() * kg->n) >> 64);
    return keygen__zipf(kg);
}

#endif
