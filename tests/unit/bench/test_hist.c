/* Tests for bench/hist.c: percentiles of known distributions, exact merge,
 * bucket layout, bounds and overflow. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "hist.h"
#include "kl_util.h"

/* Relative precision promised above the exact range. */
static void assert_close(uint64_t got, uint64_t want) {
    uint64_t diff = got > want ? got - want : want - got;
    cr_assert(diff * HIST_SUB <= want, "got %llu, want %llu (within 1/%u)", (unsigned long long)got,
              (unsigned long long)want, HIST_SUB);
}

Test(hist, empty) {
    hist_t *h = hist_new();
    cr_assert_eq(hist_percentile(h, 50), 0);
    cr_assert_eq(hist_percentile(h, 100), 0);
    cr_assert_eq(hist_mean(h), 0.0);
    cr_assert_eq(h->total, 0);
    hist_free(h);
}

Test(hist, constant) {
    hist_t *h = hist_new();
    for (int i = 0; i < 1000; i++)
        hist_record(h, 4321);
    double ps[] = {0.001, 1, 50, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        cr_assert_eq(hist_percentile(h, ps[i]), 4321, "p%g", ps[i]);
    cr_assert_eq(hist_mean(h), 4321.0);
    cr_assert_eq(h->min, 4321);
    cr_assert_eq(h->max, 4321);
    hist_free(h);
}

/* 1..1000 lies in the exact range: percentiles are exact ranks. */
Test(hist, uniform_exact_range) {
    hist_t *h = hist_new();
    for (uint64_t v = 1; v <= 1000; v++)
        hist_record(h, v);
    cr_assert_eq(hist_percentile(h, 50), 500);
    cr_assert_eq(hist_percentile(h, 90), 900);
    cr_assert_eq(hist_percentile(h, 99), 990);
    cr_assert_eq(hist_percentile(h, 99.9), 999);
    cr_assert_eq(hist_percentile(h, 99.99), 1000);
    cr_assert_eq(hist_percentile(h, 100), 1000);
    cr_assert_eq(hist_percentile(h, 0.1), 1);
    cr_assert_eq(hist_mean(h), 500.5);
    hist_free(h);
}

/* Values 1..10^6 (spread over many powers of two), in shuffled order. */
Test(hist, uniform_wide) {
    hist_t *h = hist_new();
    const uint64_t n = 1000000;
    for (uint64_t i = 0; i < n; i++)
        hist_record(h, (i * 7919) % n + 1); /* a permutation */
    cr_assert_eq(h->total, n);
    cr_assert_eq(h->min, 1);
    cr_assert_eq(h->max, n);
    cr_assert_eq(hist_mean(h), (double)(n + 1) / 2);
    assert_close(hist_percentile(h, 50), 500000);
    assert_close(hist_percentile(h, 90), 900000);
    assert_close(hist_percentile(h, 99), 990000);
    assert_close(hist_percentile(h, 99.9), 999000);
    assert_close(hist_percentile(h, 99.99), 999900);
    cr_assert_eq(hist_percentile(h, 100), n);
    /* Never below the true value: the bucket's highest value is reported. */
    cr_assert_geq(hist_percentile(h, 50), 500000);
    hist_free(h);
}

Test(hist, bimodal) {
    hist_t *h = hist_new();
    for (int i = 0; i < 900; i++)
        hist_record(h, 100);
    for (int i = 0; i < 100; i++)
        hist_record(h, 250000);
    cr_assert_eq(hist_percentile(h, 50), 100);
    cr_assert_eq(hist_percentile(h, 90), 100);
    cr_assert_eq(hist_percentile(h, 90.1), 250000); /* clamped to the exact max */
    cr_assert_eq(hist_percentile(h, 99), 250000);
    cr_assert_eq(hist_percentile(h, 99.99), 250000);
    cr_assert_eq(hist_mean(h), (900.0 * 100 + 100.0 * 250000) / 1000);
    hist_free(h);
}

/* Values from two sources merged equal the histogram of all values. */
Test(hist, merge_equals_union) {
    hist_t *a = hist_new(), *b = hist_new(), *all = hist_new();
    for (int i = 0; i < 200000; i++) {
        uint64_t v = kl_rand64() % 5000000;
        if (i % 3 == 0) v = kl_rand64() % 100; /* some in the exact range */
        hist_record(i & 1 ? a : b, v);
        hist_record(all, v);
    }
    hist_record(a, HIST_MAX_VALUE + 5); /* overflow survives a merge */
    hist_record(all, HIST_MAX_VALUE + 5);
    hist_merge(a, b);
    cr_assert_eq(a->total, all->total);
    cr_assert_eq(a->sum, all->sum);
    cr_assert_eq(a->min, all->min);
    cr_assert_eq(a->max, all->max);
    cr_assert_eq(a->overflow, 1);
    cr_assert_eq(memcmp(a->counts, all->counts, sizeof(a->counts)), 0);
    double ps[] = {50, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
        cr_assert_eq(hist_percentile(a, ps[i]), hist_percentile(all, ps[i]));
    /* Merging an empty histogram changes nothing; into an empty one copies. */
    hist_t *e = hist_new();
    hist_merge(a, e);
    cr_assert_eq(a->min, all->min);
    hist_merge(e, all);
    cr_assert_eq(memcmp(e, all, sizeof(*e)), 0);
    hist_free(a);
    hist_free(b);
    hist_free(all);
    hist_free(e);
}

/* Buckets tile [0, HIST_MAX_VALUE) without gaps, each within the precision. */
Test(hist, bucket_layout) {
    cr_assert_eq(hist_bucket_low(0), 0);
    for (uint32_t i = 0; i < HIST_NBUCKETS; i++) {
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        cr_assert_leq(lo, hi);
        cr_assert_eq(hist_index(lo), i);
        cr_assert_eq(hist_index(hi), i);
        if (i + 1 < HIST_NBUCKETS) cr_assert_eq(hi + 1, hist_bucket_low(i + 1), "gap after %u", i);
        if (lo < 2 * HIST_SUB)
            cr_assert_eq(lo, hi, "1 us resolution below %u", 2 * HIST_SUB);
        else
            cr_assert_leq((hi - lo + 1) * HIST_SUB, lo);
    }
    cr_assert_eq(hist_bucket_high(HIST_NBUCKETS - 1), HIST_MAX_VALUE - 1);
}

Test(hist, bounds_and_overflow) {
    hist_t *h = hist_new();
    hist_record(h, 0);
    hist_record(h, 1);
    hist_record(h, 10000000);           /* 10 s in us */
    hist_record(h, HIST_MAX_VALUE - 1); /* largest bucketed value */
    cr_assert_eq(h->overflow, 0);
    hist_record(h, UINT64_MAX / 4); /* way out of range */
    cr_assert_eq(h->overflow, 1);
    cr_assert_eq(h->total, 5);
    cr_assert_eq(h->min, 0);
    cr_assert_eq(h->max, UINT64_MAX / 4);
    cr_assert_eq(hist_percentile(h, 20), 0);
    cr_assert_eq(hist_percentile(h, 40), 1);
    assert_close(hist_percentile(h, 60), 10000000);
    cr_assert_eq(hist_percentile(h, 80), HIST_MAX_VALUE - 1);
    cr_assert_eq(hist_percentile(h, 100), UINT64_MAX / 4);
    cr_assert_eq(h->counts[HIST_NBUCKETS - 1], 2);
    hist_reset(h);
    cr_assert_eq(h->total, 0);
    cr_assert_eq(h->min, UINT64_MAX);
    hist_record_n(h, 7, 10);
    cr_assert_eq(h->total, 10);
    cr_assert_eq(h->sum, 70);
    hist_free(h);
}
