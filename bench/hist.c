/* Log-linear latency histogram; see hist.h. */
#include "hist.h"

#include <math.h>
#include <string.h>

#include "kl_alloc.h"

hist_t *hist_new(void) {
    hist_t *h = kl_calloc(1, sizeof(*h));
    h->min = UINT64_MAX;
    return h;
}

void hist_free(hist_t *h) {
    kl_free(h);
}

void hist_reset(hist_t *h) {
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

/* Buckets 0 .. 2*HIST_SUB-1 hold one value each. Above that, bucket
 * e*HIST_SUB + m (m in [HIST_SUB, 2*HIST_SUB)) holds [m << e, (m+1) << e). */
uint64_t hist_bucket_low(uint32_t idx) {
    if (idx < 2 * HIST_SUB) return idx;
    uint32_t e = idx / HIST_SUB - 1;
    uint64_t m = idx - e * HIST_SUB;
    return m << e;
}

uint64_t hist_bucket_high(uint32_t idx) {
    if (idx < 2 * HIST_SUB) return idx;
    uint32_t e = idx / HIST_SUB - 1;
    return hist_bucket_low(idx) + ((uint64_t)1 << e) - 1;
}

void hist_merge(hist_t *dst, const hist_t *src) {
    if (!src->total) return;
    for (size_t i = 0; i < HIST_NBUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    dst->overflow += src->overflow;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

uint64_t hist_percentile(const hist_t *h, double p) {
    if (!h->total) return 0;
    if (p >= 100.0) return h->max;
    if (p <= 0.0) return h->min;
    /* Rank of the wanted value, 1-based. The tiny shave keeps p = 99.9 of
     * 1000 values at rank 999 although 99.9 / 100 * 1000 is 999.0000000001
     * in binary floating point. */
    double want = p / 100.0 * (double)h->total * (1.0 - 1e-12);
    uint64_t rank = (uint64_t)ceil(want);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_high(i);
            if (v > h->max) v = h->max;
            if (v < h->min) v = h->min;
            return v;
        }
    }
    return h->max;
}

double hist_mean(const hist_t *h) {
    return h->total ? (double)h->sum / (double)h->total : 0.0;
}
