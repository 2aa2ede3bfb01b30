/* Unit tests for server/intset.c: adds and removes at every position, width
 * upgrades (16 -> 32 -> 64 bits, by prepending and appending), the exact
 * INT16/INT32/INT64 boundaries, memory size, random picks, and a long random
 * workload checked against a sorted-array model (also run under ASan). */
#include <criterion/criterion.h>

#include "intset.h"
#include "kl_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Deterministic test RNG (xorshift64*). */
static uint64_t rng_state = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static void check_contents(const intset_t *is, const int64_t *want, uint32_t n) {
    cr_assert(intset_validate(is));
    cr_assert_eq(intset_len(is), n);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(intset_get(is, i), want[i], "pos %u", i);
    int64_t v;
    cr_assert_not(intset_get_checked(is, n, &v));
}

Test(intset, empty) {
    intset_t *is = intset_new();
    cr_assert_eq(intset_len(is), 0);
    cr_assert_eq(intset_width(is), INTSET_W16);
    cr_assert_not(intset_find(is, 0));
    cr_assert_eq(intset_blob_len(is), 8);
    int removed = 7;
    is = intset_remove(is, 5, &removed);
    cr_assert_eq(removed, 0);
    cr_assert(intset_validate(is));
    intset_free(is);
}

Test(intset, add_sorted_and_duplicates) {
    intset_t *is = intset_new();
    int64_t in[] = {5, 1, 9, 3, 7, 1, 5, 0, -2, 9};
    int expect_added[] = {1, 1, 1, 1, 1, 0, 0, 1, 1, 0};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        int added = -1;
        is = intset_add(is, in[i], &added);
        cr_assert_eq(added, expect_added[i], "add %lld", (long long)in[i]);
    }
    int64_t want[] = {-2, 0, 1, 3, 5, 7, 9};
    check_contents(is, want, 7);
    cr_assert_eq(intset_width(is), INTSET_W16);
    cr_assert_eq(intset_blob_len(is), 8 + 7 * 2);
    for (int64_t v = -3; v <= 10; v++) {
        int in_set = v == -2 || v == 0 || v == 1 || v == 3 || v == 5 || v == 7 || v == 9;
        cr_assert_eq(intset_find(is, v), in_set, "find %lld", (long long)v);
    }
    /* NULL out-parameters are allowed. */
    is = intset_add(is, 11, NULL);
    is = intset_remove(is, 11, NULL);
    check_contents(is, want, 7);
    intset_free(is);
}

Test(intset, remove_first_middle_last) {
    intset_t *is = intset_new();
    for (int64_t v = 1; v <= 6; v++)
        is = intset_add(is, v * 10, NULL);
    int removed;
    is = intset_remove(is, 10, &removed); /* first */
    cr_assert_eq(removed, 1);
    is = intset_remove(is, 60, &removed); /* last */
    cr_assert_eq(removed, 1);
    is = intset_remove(is, 30, &removed); /* middle */
    cr_assert_eq(removed, 1);
    is = intset_remove(is, 30, &removed); /* again */
    cr_assert_eq(removed, 0);
    is = intset_remove(is, 1LL << 40, &removed); /* wider than the set */
    cr_assert_eq(removed, 0);
    int64_t want[] = {20, 40, 50};
    check_contents(is, want, 3);
    is = intset_remove_at(is, 1);
    int64_t want2[] = {20, 50};
    check_contents(is, want2, 2);
    is = intset_remove_at(is, 1);
    is = intset_remove_at(is, 0);
    check_contents(is, NULL, 0);
    cr_assert_eq(intset_blob_len(is), 8);
    intset_free(is);
}

Test(intset, upgrade_append_and_prepend) {
    intset_t *is = intset_new();
    is = intset_add(is, 1, NULL);
    is = intset_add(is, -1, NULL);
    cr_assert_eq(intset_width(is), INTSET_W16);
    /* Append a 32-bit value. */
    int added;
    is = intset_add(is, 65536, &added);
    cr_assert_eq(added, 1);
    cr_assert_eq(intset_width(is), INTSET_W32);
    int64_t w1[] = {-1, 1, 65536};
    check_contents(is, w1, 3);
    /* Prepend a 64-bit value. */
    is = intset_add(is, -5000000000LL, &added);
    cr_assert_eq(added, 1);
    cr_assert_eq(intset_width(is), INTSET_W64);
    int64_t w2[] = {-5000000000LL, -1, 1, 65536};
    check_contents(is, w2, 4);
    cr_assert_eq(intset_blob_len(is), 8 + 4 * 8);
    /* Removing the wide values never narrows the set again. */
    is = intset_remove(is, -5000000000LL, NULL);
    is = intset_remove(is, 65536, NULL);
    cr_assert_eq(intset_width(is), INTSET_W64);
    int64_t w3[] = {-1, 1};
    check_contents(is, w3, 2);
    intset_free(is);

    /* 16 -> 64 directly, prepending. */
    is = intset_new();
    for (int64_t v = 0; v < 100; v++)
        is = intset_add(is, v, NULL);
    is = intset_add(is, INT64_MIN, NULL);
    cr_assert_eq(intset_width(is), INTSET_W64);
    cr_assert_eq(intset_get(is, 0), INT64_MIN);
    for (uint32_t i = 1; i <= 100; i++)
        cr_assert_eq(intset_get(is, i), (int64_t)i - 1);
    cr_assert(intset_validate(is));
    intset_free(is);

    /* 16 -> 32, prepending. */
    is = intset_new();
    for (int64_t v = 0; v < 50; v++)
        is = intset_add(is, v, NULL);
    is = intset_add(is, INT16_MIN - 1, NULL);
    cr_assert_eq(intset_width(is), INTSET_W32);
    cr_assert_eq(intset_get(is, 0), INT16_MIN - 1);
    cr_assert_eq(intset_get(is, 50), 49);
    cr_assert(intset_validate(is));
    intset_free(is);
}

/* Each boundary value: the widths they need, and that they round-trip. */
Test(intset, boundaries) {
    struct {
        int64_t v;
        int width;
    } cases[] = {
        {0, INTSET_W16},
        {INT16_MAX, INTSET_W16},
        {INT16_MIN, INTSET_W16},
        {(int64_t)INT16_MAX + 1, INTSET_W32},
        {(int64_t)INT16_MIN - 1, INTSET_W32},
        {INT32_MAX, INTSET_W32},
        {INT32_MIN, INTSET_W32},
        {(int64_t)INT32_MAX + 1, INTSET_W64},
        {(int64_t)INT32_MIN - 1, INTSET_W64},
        {INT64_MAX, INTSET_W64},
        {INT64_MIN, INTSET_W64},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        intset_t *is = intset_new();
        is = intset_add(is, cases[i].v, NULL);
        cr_assert_eq(intset_width(is), cases[i].width, "value %lld", (long long)cases[i].v);
        cr_assert(intset_find(is, cases[i].v));
        cr_assert_eq(intset_get(is, 0), cases[i].v);
        /* Neighbours that need a wider type are not "found" by truncation. */
        if (cases[i].v == INT16_MAX) cr_assert_not(intset_find(is, (int64_t)INT16_MAX + 65536));
        intset_free(is);
    }
    /* All of them together, in shuffled order, end up sorted in 64 bits. */
    intset_t *is = intset_new();
    for (size_t k = 0; k < n; k++)
        is = intset_add(is, cases[(k * 7) % n].v, NULL);
    cr_assert_eq(intset_len(is), n);
    cr_assert_eq(intset_width(is), INTSET_W64);
    cr_assert(intset_validate(is));
    cr_assert_eq(intset_get(is, 0), INT64_MIN);
    cr_assert_eq(intset_get(is, (uint32_t)n - 1), INT64_MAX);
    for (size_t i = 0; i < n; i++)
        cr_assert(intset_find(is, cases[i].v));
    /* A 16-bit set must not match a value whose low 16 bits collide. */
    intset_t *small = intset_new();
    small = intset_add(small, 1, NULL);
    cr_assert_not(intset_find(small, 65537));
    cr_assert_not(intset_find(small, (1LL << 32) + 1));
    intset_free(small);
    intset_free(is);
}

Test(intset, dup_and_sizes) {
    intset_t *is = intset_new();
    for (int64_t v = 0; v < 512; v++)
        is = intset_add(is, v * 3, NULL);
    cr_assert_eq(intset_blob_len(is), 8 + 512 * 2);
    cr_assert_geq(intset_alloc_size(is), intset_blob_len(is));
    intset_t *copy = intset_dup(is);
    cr_assert_eq(intset_len(copy), 512);
    cr_assert_eq(intset_width(copy), INTSET_W16);
    cr_assert_eq(memcmp(copy, is, intset_blob_len(is)), 0);
    copy = intset_add(copy, 1, NULL);
    cr_assert_eq(intset_len(is), 512);
    cr_assert_eq(intset_len(copy), 513);
    intset_free(copy);
    intset_free(is);
}

Test(intset, random_picks_cover_all) {
    intset_t *is = intset_new();
    for (int64_t v = 0; v < 20; v++)
        is = intset_add(is, v * 1000, NULL);
    int hits[20] = {0};
    for (int i = 0; i < 4000; i++) {
        int64_t v = intset_random(is);
        cr_assert(intset_find(is, v));
        hits[v / 1000]++;
        uint32_t p = intset_random_pos(is);
        cr_assert_lt(p, 20);
    }
    /* Expected 200 each; far outside [100, 300] would mean a broken picker. */
    for (int i = 0; i < 20; i++)
        cr_assert(hits[i] > 100 && hits[i] < 300, "hits[%d]=%d", i, hits[i]);
    intset_t *one = intset_new();
    one = intset_add(one, -7, NULL);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(intset_random(one), -7);
    intset_free(one);
    intset_free(is);
}

/* The model: a sorted array of distinct values. */
static int model_find(const int64_t *m, uint32_t n, int64_t v, uint32_t *pos) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m[mid] == v) {
            *pos = mid;
            return 1;
        }
        if (m[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

static int64_t random_value(int phase) {
    uint64_t r = rnd();
    switch ((r >> 60) % 4) {
    case 0:
        return (int64_t)(r % 200) - 100; /* small, many collisions */
    case 1:
        return (int16_t)(r >> 8); /* anywhere in 16 bits */
    case 2:
        if (phase < 1) return (int64_t)(r % 50);
        return (int32_t)(r >> 8); /* 32 bits */
    default:
        if (phase < 2) return (int64_t)(r % 1000);
        return (int64_t)(rnd()); /* 64 bits */
    }
}

Test(intset, random_workload_vs_model, .timeout = 120) {
    enum { MAXN = 3000 };
    int64_t *model = malloc(MAXN * sizeof(*model));
    uint32_t n = 0;
    intset_t *is = intset_new();
    int width = INTSET_W16;
    for (int step = 0; step < 60000; step++) {
        int phase = step / 20000; /* 0: 16-bit, 1: up to 32-bit, 2: up to 64-bit values */
        int64_t v = random_value(phase);
        uint64_t op = rnd() % 10;
        uint32_t pos;
        int present = model_find(model, n, v, &pos);
        if (op < 6 && n < MAXN) {
            int added;
            is = intset_add(is, v, &added);
            cr_assert_eq(added, !present, "add %lld", (long long)v);
            if (!present) {
                memmove(model + pos + 1, model + pos, (n - pos) * sizeof(*model));
                model[pos] = v;
                n++;
            }
        } else if (op < 9) {
            int removed;
            is = intset_remove(is, v, &removed);
            cr_assert_eq(removed, present, "remove %lld", (long long)v);
            if (present) {
                memmove(model + pos, model + pos + 1, (n - pos - 1) * sizeof(*model));
                n--;
            }
        } else if (n > 0) {
            uint32_t p = (uint32_t)(rnd() % n);
            cr_assert_eq(intset_get(is, p), model[p]);
            is = intset_remove_at(is, p);
            memmove(model + p, model + p + 1, (n - p - 1) * sizeof(*model));
            n--;
        }
        cr_assert_eq(intset_find(is, v), model_find(model, n, v, &pos));
        cr_assert_eq(intset_len(is), n);
        /* The width only grows. */
        cr_assert_geq(intset_width(is), width);
        width = intset_width(is);
        if (step % 1000 == 0) {
            check_contents(is, model, n);
            cr_assert_eq(intset_blob_len(is), 8 + (size_t)n * (size_t)width);
        }
    }
    check_contents(is, model, n);
    cr_assert_eq(width, INTSET_W64);
    intset_free(is);
    free(model);
}
