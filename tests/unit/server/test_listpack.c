/* Unit tests for server/listpack.c: every encoding width boundary, inserts,
 * replaces and deletes at every position, seeks with negative indexes,
 * lp_find with skip, walking backwards, the saturated entry count, lp_validate
 * against corruption, and randomized operations checked against a simple
 * model (fixed seeds, bounded loops). */
#include <criterion/criterion.h>

#include "kl_alloc.h"
#include "kl_util.h"
#include "listpack.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Render the entry at p as bytes into a fresh buffer for comparisons. */
static size_t entry_text(unsigned char *p, unsigned char *out, size_t cap) {
    unsigned char buf[KL_LLSTR_SIZE];
    size_t len;
    const unsigned char *s = lp_get_bytes(p, buf, &len);
    cr_assert(len <= cap);
    memcpy(out, s, len);
    return len;
}

static void assert_valid(unsigned char *lp) {
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0, "listpack does not validate");
}

/* ---- encodings -------------------------------------------------------------- */

static void check_int_roundtrip(long long v, size_t expect_entry_bytes) {
    unsigned char *lp = lp_new(0);
    lp = lp_append_int(lp, v);
    assert_valid(lp);
    cr_assert_eq(lp_length(lp), 1);
    cr_assert_eq(lp_bytes(lp), 7 + expect_entry_bytes, "v=%lld bytes=%zu", v, lp_bytes(lp));
    lp_entry_t e;
    lp_get(lp_first(lp), &e);
    cr_assert_null(e.sval);
    cr_assert_eq(e.lval, v);
    /* The same value given as text is stored as the same integer. */
    char txt[KL_LLSTR_SIZE];
    int n = kl_ll_to_str(txt, sizeof txt, v);
    unsigned char *lp2 = lp_new(0);
    lp2 = lp_append(lp2, (unsigned char *)txt, (size_t)n);
    cr_assert_eq(lp_bytes(lp2), lp_bytes(lp));
    cr_assert_eq(memcmp(lp, lp2, lp_bytes(lp)), 0);
    cr_assert(lp_eq(lp_first(lp), (unsigned char *)txt, (size_t)n));
    unsigned char buf[KL_LLSTR_SIZE];
    size_t len;
    const unsigned char *s = lp_get_bytes(lp_first(lp), buf, &len);
    cr_assert_eq(len, (size_t)n);
    cr_assert_eq(memcmp(s, txt, len), 0);
    /* Seen from the back too. */
    cr_assert_eq(lp_last(lp), lp_first(lp));
    lp_free(lp);
    lp_free(lp2);
}

Test(listpack, integer_width_boundaries) {
    /* entry bytes = encoding + payload + 1 back-length byte */
    check_int_roundtrip(0, 2);
    check_int_roundtrip(127, 2);
    check_int_roundtrip(128, 3);
    check_int_roundtrip(-1, 3);
    check_int_roundtrip(4095, 3);
    check_int_roundtrip(-4096, 3);
    check_int_roundtrip(4096, 4);
    check_int_roundtrip(-4097, 4);
    check_int_roundtrip(32767, 4);
    check_int_roundtrip(-32768, 4);
    check_int_roundtrip(32768, 5);
    check_int_roundtrip(-32769, 5);
    check_int_roundtrip(8388607, 5);
    check_int_roundtrip(-8388608, 5);
    check_int_roundtrip(8388608, 6);
    check_int_roundtrip(-8388609, 6);
    check_int_roundtrip(INT32_MAX, 6);
    check_int_roundtrip(INT32_MIN, 6);
    check_int_roundtrip((long long)INT32_MAX + 1, 10);
    check_int_roundtrip((long long)INT32_MIN - 1, 10);
    check_int_roundtrip(LLONG_MAX, 10);
    check_int_roundtrip(LLONG_MIN, 10);
}

static void check_str_roundtrip(size_t len, size_t expect_entry_bytes) {
    unsigned char *s = kl_malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        s[i] = (unsigned char)('a' + i % 26);
    unsigned char *lp = lp_new(0);
    lp = lp_append(lp, s, len);
    lp = lp_append(lp, s, len);
    assert_valid(lp);
    cr_assert_eq(lp_bytes(lp), 7 + 2 * expect_entry_bytes, "len=%zu bytes=%zu", len, lp_bytes(lp));
    lp_entry_t e;
    unsigned char *p = lp_last(lp);
    lp_get(p, &e);
    cr_assert_not_null(e.sval);
    cr_assert_eq(e.slen, len);
    cr_assert_eq(memcmp(e.sval, s, len), 0);
    cr_assert(lp_eq(p, s, len));
    cr_assert_eq(lp_prev(lp, p), lp_first(lp));
    cr_assert_null(lp_prev(lp, lp_first(lp)));
    cr_assert_null(lp_next(lp, p));
    kl_free(s);
    lp_free(lp);
}

Test(listpack, string_width_boundaries) {
    /* encoding + payload, then the back-length with Redis's thresholds
     * (1 byte < 128, 2 < 16383, 3 < 2^21 - 1; tests/unit/ds/
     * test_listpack_format.c checks the bytes) */
    check_str_roundtrip(0, 2);
    check_str_roundtrip(1, 3);
    check_str_roundtrip(63, 1 + 63 + 1);
    check_str_roundtrip(64, 2 + 64 + 1);
    check_str_roundtrip(125, 2 + 125 + 1); /* enc+payload 127: 1-byte backlen */
    check_str_roundtrip(126, 2 + 126 + 2); /* 128: 2-byte backlen */
    check_str_roundtrip(4095, 2 + 4095 + 2);
    check_str_roundtrip(4096, 5 + 4096 + 2);
    check_str_roundtrip(16377, 5 + 16377 + 2); /* 16382 */
    check_str_roundtrip(16378, 5 + 16378 + 3); /* 16383: 3 bytes, as Redis */
    check_str_roundtrip(16379, 5 + 16379 + 3); /* 16384 */
    check_str_roundtrip(300000, 5 + 300000 + 3);
    check_str_roundtrip((1u << 21) - 7, 5 + ((1u << 21) - 7) + 3); /* 2^21 - 2 */
    check_str_roundtrip((1u << 21) - 6, 5 + ((1u << 21) - 6) + 4); /* 2^21 - 1 */
    check_str_roundtrip((1u << 21) - 5, 5 + ((1u << 21) - 5) + 4);
}

Test(listpack, non_canonical_numbers_stay_strings) {
    const char *cases[] = {
        "-0", "007", "+1",   " 1", "1 ", "1.0", "9223372036854775808", "-9223372036854775809",
        "",   "-",   "0x10", "1e3"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char *lp = lp_new(0);
        size_t len = strlen(cases[i]);
        lp = lp_append(lp, (const unsigned char *)cases[i], len);
        lp_entry_t e;
        lp_get(lp_first(lp), &e);
        cr_assert_not_null(e.sval, "%s became an integer", cases[i]);
        cr_assert_eq(e.slen, len);
        cr_assert(lp_eq(lp_first(lp), (const unsigned char *)cases[i], len));
        assert_valid(lp);
        lp_free(lp);
    }
    /* An integer entry never equals a non-canonical spelling. */
    unsigned char *lp = lp_append_int(lp_new(0), 7);
    cr_assert_not(lp_eq(lp_first(lp), (const unsigned char *)"07", 2));
    cr_assert_not(lp_eq(lp_first(lp), (const unsigned char *)"7 ", 2));
    cr_assert(lp_eq(lp_first(lp), (const unsigned char *)"7", 1));
    lp_free(lp);
}

Test(listpack, binary_strings) {
    unsigned char s[5] = {0, 0xFF, 0x80, 0, 'x'};
    unsigned char *lp = lp_new(64);
    lp = lp_append(lp, s, 5);
    lp = lp_prepend(lp, s, 0);
    cr_assert_eq(lp_length(lp), 2);
    cr_assert(lp_eq(lp_first(lp), s, 0));
    cr_assert(lp_eq(lp_last(lp), s, 5));
    cr_assert_not(lp_eq(lp_last(lp), s, 4));
    lp_entry_t e;
    lp_get(lp_first(lp), &e);
    cr_assert_not_null(e.sval, "empty string must have a non-NULL sval");
    cr_assert_eq(e.slen, 0);
    assert_valid(lp);
    unsigned char *d = lp_dup(lp);
    cr_assert_eq(memcmp(d, lp, lp_bytes(lp)), 0);
    cr_assert_geq(lp_alloc_size(d), lp_bytes(d));
    lp_free(d);
    lp_free(lp);
}

Test(listpack, empty) {
    unsigned char *lp = lp_new(0);
    cr_assert_eq(lp_bytes(lp), 7);
    cr_assert_eq(lp_length(lp), 0);
    cr_assert_null(lp_first(lp));
    cr_assert_null(lp_last(lp));
    cr_assert_null(lp_seek(lp, 0));
    cr_assert_null(lp_seek(lp, -1));
    cr_assert_null(lp_find(lp, lp_first(lp), (const unsigned char *)"a", 1, 0));
    lp = lp_delete_range(lp, 0, 10);
    lp = lp_delete_range(lp, -1, 10);
    cr_assert_eq(lp_length(lp), 0);
    assert_valid(lp);
    lp_free(lp);
}

/* ---- positions -------------------------------------------------------------- */

/* A listpack holding "0".."n-1" mixed with strings: even i -> integer i,
 * odd i -> string "s<i>". */
static void model_text(long i, char *out, size_t *len) {
    if (i % 2 == 0)
        *len = (size_t)snprintf(out, 32, "%ld", i * 1000);
    else
        *len = (size_t)snprintf(out, 32, "s%ld", i);
}

static unsigned char *build(long n) {
    unsigned char *lp = lp_new(0);
    char t[32];
    size_t l;
    for (long i = 0; i < n; i++) {
        model_text(i, t, &l);
        lp = lp_append(lp, (unsigned char *)t, l);
    }
    return lp;
}

static void assert_entry_is(unsigned char *p, const char *txt) {
    unsigned char out[64];
    cr_assert_not_null(p);
    size_t l = entry_text(p, out, sizeof out);
    cr_assert_eq(l, strlen(txt), "want %s got %.*s", txt, (int)l, out);
    cr_assert_eq(memcmp(out, txt, l), 0, "want %s got %.*s", txt, (int)l, out);
}

Test(listpack, seek_positive_negative) {
    for (long n = 0; n <= 9; n++) {
        unsigned char *lp = build(n);
        char t[32];
        size_t l;
        for (long i = -n - 2; i <= n + 1; i++) {
            unsigned char *p = lp_seek(lp, i);
            long idx = i < 0 ? n + i : i;
            if (idx < 0 || idx >= n) {
                cr_assert_null(p, "n=%ld i=%ld", n, i);
                continue;
            }
            model_text(idx, t, &l);
            t[l] = 0;
            assert_entry_is(p, t);
        }
        cr_assert_null(lp_seek(lp, LONG_MIN));
        cr_assert_null(lp_seek(lp, LONG_MAX));
        lp_free(lp);
    }
}

Test(listpack, walk_both_directions) {
    long n = 50;
    unsigned char *lp = build(n);
    char t[32];
    size_t l;
    long i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        model_text(i, t, &l);
        t[l] = 0;
        assert_entry_is(p, t);
    }
    cr_assert_eq(i, n);
    i = n - 1;
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p), i--) {
        model_text(i, t, &l);
        t[l] = 0;
        assert_entry_is(p, t);
    }
    cr_assert_eq(i, -1);
    lp_free(lp);
}

Test(listpack, insert_every_position) {
    const long n = 6;
    for (int where = LP_BEFORE; where <= LP_REPLACE; where++) {
        for (long pos = 0; pos < n; pos++) {
            unsigned char *lp = build(n);
            unsigned char *p = lp_seek(lp, pos), *np = NULL;
            lp = lp_insert(lp, (const unsigned char *)"new", 3, p, where, &np);
            assert_valid(lp);
            long at = where == LP_AFTER ? pos + 1 : pos;
            cr_assert_eq(np, lp_seek(lp, at));
            assert_entry_is(np, "new");
            cr_assert_eq(lp_length(lp), (unsigned long)(where == LP_REPLACE ? n : n + 1));
            /* Everything else is in order. */
            long j = 0;
            char t[32];
            size_t l;
            for (unsigned char *q = lp_first(lp); q; q = lp_next(lp, q)) {
                if (q == np) continue;
                if (where == LP_REPLACE && j == pos) j++;
                model_text(j++, t, &l);
                t[l] = 0;
                assert_entry_is(q, t);
            }
            /* And an integer flavour on the same spot. */
            p = lp_seek(lp, at);
            lp = lp_insert_int(lp, -123456, p, where, &np);
            assert_valid(lp);
            assert_entry_is(np, "-123456");
            lp_free(lp);
        }
    }
}

Test(listpack, replace_grow_and_shrink) {
    unsigned char *lp = build(5);
    unsigned char *p = lp_seek(lp, 2);
    char big[5000];
    memset(big, 'z', sizeof big);
    lp = lp_replace(lp, &p, (unsigned char *)big, sizeof big);
    assert_valid(lp);
    cr_assert_eq(p, lp_seek(lp, 2));
    cr_assert(lp_eq(p, (unsigned char *)big, sizeof big));
    lp = lp_replace_int(lp, &p, 1);
    assert_valid(lp);
    assert_entry_is(p, "1");
    assert_entry_is(lp_seek(lp, 3), "s3");
    assert_entry_is(lp_seek(lp, 1), "s1");
    cr_assert_eq(lp_length(lp), 5);
    /* Replacing with a value taken from the listpack itself. */
    lp_entry_t e;
    p = lp_seek(lp, 0);
    unsigned char *src = lp_seek(lp, 3);
    lp_get(src, &e);
    lp = lp_replace(lp, &p, e.sval, e.slen);
    assert_valid(lp);
    assert_entry_is(lp_seek(lp, 0), "s3");
    lp_free(lp);
}

Test(listpack, delete_every_position) {
    const long n = 7;
    for (long pos = 0; pos < n; pos++) {
        unsigned char *lp = build(n);
        unsigned char *p = lp_seek(lp, pos);
        lp = lp_delete(lp, &p);
        assert_valid(lp);
        cr_assert_eq(lp_length(lp), (unsigned long)n - 1);
        if (pos == n - 1) {
            cr_assert_null(p);
        } else {
            cr_assert_eq(p, lp_seek(lp, pos));
        }
        char t[32];
        size_t l;
        long j = 0;
        for (unsigned char *q = lp_first(lp); q; q = lp_next(lp, q)) {
            if (j == pos) j++;
            model_text(j++, t, &l);
            t[l] = 0;
            assert_entry_is(q, t);
        }
        lp_free(lp);
    }
}

Test(listpack, delete_ranges) {
    const long n = 8;
    for (long idx = -n - 1; idx <= n; idx++) {
        for (unsigned long num = 0; num <= (unsigned long)n + 2; num++) {
            unsigned char *lp = build(n);
            lp = lp_delete_range(lp, idx, num);
            assert_valid(lp);
            long start = idx < 0 ? n + idx : idx;
            long removed = 0;
            if (start >= 0 && start < n) removed = (long)num < n - start ? (long)num : n - start;
            cr_assert_eq(lp_length(lp), (unsigned long)(n - removed), "idx=%ld num=%lu", idx, num);
            char t[32];
            size_t l;
            long j = 0;
            for (unsigned char *q = lp_first(lp); q; q = lp_next(lp, q)) {
                if (j == start) j += removed;
                model_text(j++, t, &l);
                t[l] = 0;
                assert_entry_is(q, t);
            }
            lp_free(lp);
        }
    }
    /* lp_delete_range_at hands back the following entry. */
    unsigned char *lp = build(n);
    unsigned char *p = lp_seek(lp, 2);
    lp = lp_delete_range_at(lp, &p, 3);
    assert_entry_is(p, "s5");
    p = lp_seek(lp, 3);
    lp = lp_delete_range_at(lp, &p, 100);
    cr_assert_null(p);
    cr_assert_eq(lp_length(lp), 3);
    assert_valid(lp);
    lp_free(lp);
}

Test(listpack, find_with_skip) {
    /* field/value pairs: f0 v0 f1 v1 ... where some values equal field names */
    unsigned char *lp = lp_new(0);
    for (int i = 0; i < 20; i++) {
        char f[16], v[16];
        int fl = snprintf(f, sizeof f, "f%d", i);
        int vl = i % 3 == 0 ? snprintf(v, sizeof v, "f%d", i + 1) : snprintf(v, sizeof v, "%d", i);
        lp = lp_append(lp, (unsigned char *)f, (size_t)fl);
        lp = lp_append(lp, (unsigned char *)v, (size_t)vl);
    }
    /* With skip=1 only fields match: "f1" is v0 (index 1) and field 1 (index 2). */
    unsigned char *p = lp_find(lp, lp_first(lp), (unsigned char *)"f1", 2, 1);
    cr_assert_eq(p, lp_seek(lp, 2));
    p = lp_find(lp, lp_first(lp), (unsigned char *)"f1", 2, 0);
    cr_assert_eq(p, lp_seek(lp, 1));
    /* Integers found by their text, only as canonical text. */
    p = lp_find(lp, lp_seek(lp, 1), (unsigned char *)"5", 1, 1);
    cr_assert_eq(p, lp_seek(lp, 11));
    cr_assert_null(lp_find(lp, lp_first(lp), (unsigned char *)"5", 1, 1));
    cr_assert_null(lp_find(lp, lp_first(lp), (unsigned char *)"05", 2, 0));
    cr_assert_null(lp_find(lp, lp_first(lp), (unsigned char *)"nope", 4, 0));
    cr_assert_null(lp_find(lp, NULL, (unsigned char *)"f1", 2, 0));
    /* From a later position. */
    p = lp_find(lp, lp_seek(lp, 4), (unsigned char *)"f19", 3, 1);
    cr_assert_eq(p, lp_seek(lp, 38));
    /* A large skip walks off the end safely. */
    cr_assert_null(lp_find(lp, lp_first(lp), (unsigned char *)"zz", 2, 1000));
    p = lp_find(lp, lp_first(lp), (unsigned char *)"f0", 2, 1000);
    cr_assert_eq(p, lp_first(lp));
    lp_free(lp);
}

Test(listpack, saturated_count) {
    unsigned char *lp = lp_new(0);
    const unsigned long n = 70000;
    for (unsigned long i = 0; i < n; i++)
        lp = lp_append_int(lp, (long long)i);
    cr_assert_eq(lp_length(lp), n);
    assert_valid(lp);
    assert_entry_is(lp_seek(lp, -1), "69999");
    assert_entry_is(lp_seek(lp, 65535), "65535");
    /* Delete back under the limit: the count is recomputed and cached. */
    lp = lp_delete_range(lp, 0, 10000);
    cr_assert_eq(lp_length(lp), n - 10000);
    assert_valid(lp);
    cr_assert_eq(lp[4] | lp[5] << 8, (int)(n - 10000));
    lp = lp_append_int(lp, 1);
    cr_assert_eq(lp_length(lp), n - 10000 + 1);
    assert_entry_is(lp_seek(lp, 0), "10000");
    lp_free(lp);
}

Test(listpack, concat) {
    for (long na = 0; na <= 5; na++) {
        for (long nb = 0; nb <= 5; nb++) {
            unsigned char *a = build(na), *b = lp_new(0);
            char t[32];
            size_t l;
            for (long i = na; i < na + nb; i++) {
                model_text(i, t, &l);
                b = lp_append(b, (unsigned char *)t, l);
            }
            a = lp_concat(a, b);
            assert_valid(a);
            assert_valid(b);
            cr_assert_eq(lp_length(a), (unsigned long)(na + nb));
            cr_assert_eq(lp_length(b), (unsigned long)nb);
            long i = 0;
            for (unsigned char *p = lp_first(a); p; p = lp_next(a, p), i++) {
                model_text(i, t, &l);
                t[l] = 0;
                assert_entry_is(p, t);
            }
            lp_free(a);
            lp_free(b);
        }
    }
    /* Counts that add up past the header's limit become "unknown". */
    unsigned char *a = lp_new(0), *b = lp_new(0);
    for (int i = 0; i < 40000; i++) {
        a = lp_append_int(a, i);
        b = lp_append_int(b, -i);
    }
    a = lp_concat(a, b);
    assert_valid(a);
    cr_assert_eq(lp_length(a), 80000);
    assert_entry_is(lp_seek(a, -1), "-39999");
    lp_free(a);
    lp_free(b);
}

Test(listpack, safe_to_add) {
    unsigned char *lp = lp_new(0);
    cr_assert(lp_safe_to_add(lp, 100));
    cr_assert(lp_safe_to_add(NULL, 100));
    cr_assert_not(lp_safe_to_add(lp, (size_t)1 << 30));
    cr_assert(lp_safe_to_add(lp, ((size_t)1 << 30) - 7));
    cr_assert_not(lp_safe_to_add(lp, SIZE_MAX));
    lp_free(lp);
}

/* ---- validation -------------------------------------------------------------- */

Test(listpack, validate_rejects_corruption) {
    unsigned char *lp = build(12);
    char big[300];
    memset(big, 'q', sizeof big);
    lp = lp_append(lp, (unsigned char *)big, sizeof big);
    lp = lp_append_int(lp, LLONG_MIN);
    size_t n = lp_bytes(lp);
    assert_valid(lp);
    cr_assert_neq(lp_validate(lp, n - 1), 0);
    cr_assert_neq(lp_validate(lp, n + 1), 0);
    cr_assert_neq(lp_validate(NULL, 7), 0);
    cr_assert_neq(lp_validate(lp, 3), 0);
    /* Flipping any single byte (other than inside string payloads, which are
     * opaque) must be caught or still be structurally sound; never crash. */
    unsigned char *copy = kl_malloc(n);
    int rejected = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, lp, n);
            copy[i] ^= (unsigned char)(1u << bit);
            if (lp_validate(copy, n) != 0) {
                rejected++;
                continue;
            }
            /* Accepted: it must walk cleanly both ways. */
            unsigned long cnt = 0;
            for (unsigned char *p = lp_first(copy); p; p = lp_next(copy, p))
                cnt++;
            unsigned long back = 0;
            for (unsigned char *p = lp_last(copy); p; p = lp_prev(copy, p))
                back++;
            cr_assert_eq(cnt, back);
            cr_assert_eq(cnt, lp_length(copy));
        }
    }
    cr_assert_gt(rejected, 0);
    /* Truncated buffers with a consistent header. */
    for (size_t cut = 7; cut < n; cut++) {
        memcpy(copy, lp, cut);
        copy[0] = (unsigned char)cut;
        copy[1] = (unsigned char)(cut >> 8);
        copy[2] = copy[3] = 0;
        copy[cut - 1] = 0xFF;
        (void)lp_validate(copy, cut); /* must not crash or read out of bounds */
    }
    /* Random garbage. */
    rng_state = 77;
    for (int it = 0; it < 2000; it++) {
        size_t len = 7 + rnd() % 64;
        for (size_t i = 0; i < len; i++)
            copy[i] = (unsigned char)rnd();
        copy[0] = (unsigned char)len;
        copy[1] = copy[2] = copy[3] = 0;
        copy[len - 1] = 0xFF;
        (void)lp_validate(copy, len);
    }
    kl_free(copy);
    lp_free(lp);
}

/* ---- randomized against a model ------------------------------------------------ */

typedef struct mstr {
    unsigned char *p;
    size_t len;
} mstr_t;

static void rand_value(mstr_t *m) {
    uint64_t k = rnd() % 10;
    unsigned char buf[8192];
    size_t len;
    if (k < 4) {
        long long v;
        switch (rnd() % 5) {
        case 0:
            v = (long long)(rnd() % 256) - 128;
            break;
        case 1:
            v = (long long)(rnd() % 20000) - 10000;
            break;
        case 2:
            v = (long long)(rnd() % 20000000) - 10000000;
            break;
        case 3:
            v = (long long)rnd();
            break;
        default:
            v = (rnd() & 1) ? LLONG_MAX : LLONG_MIN;
            break;
        }
        len = (size_t)kl_ll_to_str((char *)buf, sizeof buf, v);
    } else {
        uint64_t r = rnd() % 100;
        len = r < 70 ? rnd() % 70 : r < 97 ? rnd() % 300 : rnd() % 8192;
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)(rnd() % 4 == 0 ? rnd() : 'a' + rnd() % 3);
    }
    m->p = kl_memdup(buf, len ? len : 1);
    m->len = len;
}

static void check_model(unsigned char *lp, mstr_t *m, long n) {
    cr_assert_eq(lp_length(lp), (unsigned long)n);
    assert_valid(lp);
    long i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++)
        cr_assert(lp_eq(p, m[i].p, m[i].len), "mismatch at %ld", i);
    cr_assert_eq(i, n);
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p)) {
        i--;
        cr_assert(lp_eq(p, m[i].p, m[i].len), "backwards mismatch at %ld", i);
    }
    cr_assert_eq(i, 0);
}

Test(listpack, random_vs_model, .timeout = 120) {
    const long cap = 600;
    mstr_t *m = kl_calloc((size_t)cap + 1, sizeof *m);
    for (uint64_t seed = 1; seed <= 6; seed++) {
        rng_state = seed * 0x9E3779B97F4A7C15ULL;
        unsigned char *lp = lp_new(0);
        long n = 0;
        for (int op = 0; op < 4000; op++) {
            uint64_t k = rnd() % 100;
            if (k < 35 && n < cap) { /* insert anywhere */
                mstr_t v;
                rand_value(&v);
                long pos = (long)(rnd() % (uint64_t)(n + 1));
                if (n == 0) {
                    lp = (rnd() & 1) ? lp_append(lp, v.p, v.len) : lp_prepend(lp, v.p, v.len);
                } else if (pos == n) {
                    unsigned char *np;
                    lp = lp_insert(lp, v.p, v.len, lp_seek(lp, -1), LP_AFTER, &np);
                    cr_assert(lp_eq(np, v.p, v.len));
                } else {
                    unsigned char *np;
                    lp = lp_insert(lp, v.p, v.len, lp_seek(lp, pos - n), LP_BEFORE, &np);
                    cr_assert_eq(np, lp_seek(lp, pos));
                }
                memmove(m + pos + 1, m + pos, (size_t)(n - pos) * sizeof *m);
                m[pos] = v;
                n++;
            } else if (k < 50 && n > 0) { /* replace */
                mstr_t v;
                rand_value(&v);
                long pos = (long)(rnd() % (uint64_t)n);
                unsigned char *p = lp_seek(lp, pos);
                lp = lp_replace(lp, &p, v.p, v.len);
                cr_assert(lp_eq(p, v.p, v.len));
                kl_free(m[pos].p);
                m[pos] = v;
            } else if (k < 70 && n > 0) { /* delete one */
                long pos = (long)(rnd() % (uint64_t)n);
                unsigned char *p = lp_seek(lp, pos);
                lp = lp_delete(lp, &p);
                kl_free(m[pos].p);
                memmove(m + pos, m + pos + 1, (size_t)(n - pos - 1) * sizeof *m);
                n--;
                if (pos < n)
                    cr_assert(lp_eq(p, m[pos].p, m[pos].len));
                else
                    cr_assert_null(p);
            } else if (k < 75 && n > 0) { /* delete a range */
                long pos = (long)(rnd() % (uint64_t)n);
                unsigned long num = rnd() % 10;
                lp = lp_delete_range(lp, pos, num);
                long del = (long)num < n - pos ? (long)num : n - pos;
                for (long i = 0; i < del; i++)
                    kl_free(m[pos + i].p);
                memmove(m + pos, m + pos + del, (size_t)(n - pos - del) * sizeof *m);
                n -= del;
            } else if (k < 90 && n > 0) { /* find */
                long pos = (long)(rnd() % (uint64_t)n);
                unsigned char *p = lp_find(lp, lp_first(lp), m[pos].p, m[pos].len, 0);
                long first = 0;
                while (
                    !(m[first].len == m[pos].len && memcmp(m[first].p, m[pos].p, m[pos].len) == 0))
                    first++;
                cr_assert_eq(p, lp_seek(lp, first));
            } else if (n > 0) { /* seek */
                long pos = (long)(rnd() % (uint64_t)n);
                unsigned char *p = lp_seek(lp, (rnd() & 1) ? pos : pos - n);
                cr_assert(lp_eq(p, m[pos].p, m[pos].len));
            }
            if (op % 200 == 0) check_model(lp, m, n);
        }
        check_model(lp, m, n);
        for (long i = 0; i < n; i++)
            kl_free(m[i].p);
        lp_free(lp);
    }
    kl_free(m);
}
