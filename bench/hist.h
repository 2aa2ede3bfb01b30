/* Latency histogram for keyloom-bench: log-linear buckets in the manner of
 * HdrHistogram, with exact 1 us resolution below 2048 us and a relative
 * error of at most 1/1024 (about 0.1%) above that, up to 2^36 us (19 hours).
 * Memory is fixed (HIST_NBUCKETS counters, about 216 KB) whatever is
 * recorded, and two histograms merge by adding their counters, so each thread
 * records into its own and the totals are merged at the end.
 *
 * Values are plain uint64_t in whatever unit the caller picks (keyloom-bench
 * records microseconds). Values at or above HIST_MAX_VALUE land in the last
 * bucket and are counted in `overflow`; min, max, the count and the exact sum
 * (hence the mean) are kept outside the buckets and never lose precision.
 *
 * Thread: the histogram's owner; no shared state, no locking. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 10
#define HIST_SUB (1u << HIST_SUB_BITS) /* sub-buckets per power of two */
#define HIST_MAX_BITS 36               /* values below 2^36 are bucketed */
#define HIST_MAX_VALUE ((uint64_t)1 << HIST_MAX_BITS)
#define HIST_NBUCKETS ((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

typedef struct hist {
    uint64_t total;    /* values recorded */
    uint64_t sum;      /* exact sum of the recorded values */
    uint64_t min, max; /* exact; min is UINT64_MAX while empty */
    uint64_t overflow; /* values >= HIST_MAX_VALUE (clamped into the last bucket) */
    uint64_t counts[HIST_NBUCKETS];
} hist_t;

/* Allocate an empty histogram (kl_calloc: never NULL). Free with hist_free. */
hist_t *hist_new(void);
void hist_free(hist_t *h);
void hist_reset(hist_t *h);

/* Bucket index of a value, and the lowest and highest value that share a
 * bucket. Exposed for tests and for hist_record's inline fast path. */
static inline uint32_t hist_index(uint64_t v) {
    if (v >= HIST_MAX_VALUE) v = HIST_MAX_VALUE - 1;
    if (v < 2 * HIST_SUB) return (uint32_t)v;
    uint32_t e = (uint32_t)(63 - __builtin_clzll(v)) - HIST_SUB_BITS; /* >= 1 */
    return e * HIST_SUB + (uint32_t)(v >> e);
}
uint64_t hist_bucket_low(uint32_t idx);
uint64_t hist_bucket_high(uint32_t idx);

/* Record one value (n times). */
static inline void hist_record_n(hist_t *h, uint64_t v, uint64_t n) {
    h->counts[hist_index(v)] += n;
    h->total += n;
    h->sum += v * n;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
    if (v >= HIST_MAX_VALUE) h->overflow += n;
}
static inline void hist_record(hist_t *h, uint64_t v) {
    hist_record_n(h, v, 1);
}

/* Add src's counts into dst. */
void hist_merge(hist_t *dst, const hist_t *src);

/* The value at percentile p (0 < p <= 100): the smallest bucket value v such
 * that at least ceil(p% of total) recorded values are <= v, reported as the
 * highest value of its bucket (HdrHistogram's convention) clamped to the
 * exact [min, max]. p >= 100 gives max; an empty histogram gives 0. */
uint64_t hist_percentile(const hist_t *h, double p);
/* Exact mean (sum / total), 0 when empty. */
double hist_mean(const hist_t *h);

#endif
