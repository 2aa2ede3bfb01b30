/* Unit tests for server/ds/zipmap.c: hand-encoded zipmaps with 1- and 5-byte
 * lengths, free bytes, a zmlen of 254 (count it), empty strings, then every
 * rejection: empty zipmap, odd entries, wrong count, bytes after the end,
 * overruns, duplicate fields, truncation at every offset and single-byte
 * mutations (blobs in exact-size allocations for the ASan build). */
#include <criterion/criterion.h>

#include "listpack.h"
#include "zipmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    unsigned char *b;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 16;
        b->b = realloc(b->b, b->cap);
        cr_assert_not_null(b->b);
    }
    if (n) memcpy(b->b + b->len, p, n);
    b->len += n;
}
#define PUT(b, ...)                                                                                \
    put((b), (const unsigned char[]){__VA_ARGS__}, sizeof((const unsigned char[]){__VA_ARGS__}))

static unsigned char *exact(const unsigned char *p, size_t n) {
    unsigned char *c = malloc(n ? n : 1);
    cr_assert_not_null(c);
    if (n) memcpy(c, p, n);
    return c;
}

/* <len>: one byte below 254, else 254 + u32 little-endian (or forced). */
static void put_len(buf_t *b, uint32_t len, bool big) {
    if (len < 254 && !big)
        PUT(b, (unsigned char)len);
    else
        PUT(b, 254, (unsigned char)len, (unsigned char)(len >> 8), (unsigned char)(len >> 16),
            (unsigned char)(len >> 24));
}

static void put_pair(buf_t *b, const char *f, size_t flen, const char *v, size_t vlen,
                     unsigned char free_bytes, bool big) {
    put_len(b, (uint32_t)flen, big);
    put(b, f, flen);
    put_len(b, (uint32_t)vlen, big);
    PUT(b, free_bytes);
    put(b, v, vlen);
    for (unsigned i = 0; i < free_bytes; i++)
        PUT(b, 0xAA); /* garbage in the free space */
}

static unsigned char *finish(buf_t *b, size_t *size) {
    PUT(b, 0xFF);
    *size = b->len;
    unsigned char *zm = exact(b->b, b->len);
    free(b->b);
    b->b = NULL;
    return zm;
}

/* The small hand vector: {"a": "1", "name": "redis", "": "x"} with free
 * bytes after "redis" (what updating a value to a shorter one leaves). */
static unsigned char *small(size_t *size) {
    static const unsigned char z[] = {
        3,                                                                   /* zmlen */
        1,    'a', 1,   0,   '1',                                            /* "a" -> "1" */
        4,    'n', 'a', 'm', 'e', 5, 2, 'r', 'e', 'd', 'i', 's', 0xAA, 0xBB, /* 2 free */
        0,    1,   0,   'x',                                                 /* "" -> "x" */
        0xFF,
    };
    *size = sizeof(z);
    return exact(z, sizeof(z));
}

static void expect_str(unsigned char *lp, long i, const char *want) {
    lp_entry_t e;
    unsigned char *p = lp_seek(lp, i);
    cr_assert_not_null(p, "entry %ld", i);
    lp_get(p, &e);
    cr_assert_not_null(e.sval, "entry %ld is an integer", i);
    cr_assert_eq(e.slen, strlen(want), "entry %ld", i);
    cr_assert(memcmp(e.sval, want, e.slen) == 0, "entry %ld", i);
}

static void expect_int(unsigned char *lp, long i, long long want) {
    lp_entry_t e;
    lp_get(lp_seek(lp, i), &e);
    cr_assert_null(e.sval, "entry %ld is a string", i);
    cr_assert_eq(e.lval, want, "entry %ld", i);
}

Test(zipmap, small_hand_vector) {
    size_t size;
    unsigned char *zm = small(&size);
    unsigned long n = 0;
    cr_assert_eq(zipmap_validate(zm, size, &n), 0);
    cr_assert_eq(n, 3);
    unsigned char *lp = zipmap_to_listpack(zm, size);
    cr_assert_not_null(lp);
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    cr_assert_eq(lp_length(lp), 6);
    expect_str(lp, 0, "a");
    expect_int(lp, 1, 1); /* "1" is a canonical integer: stored as one */
    expect_str(lp, 2, "name");
    expect_str(lp, 3, "redis");
    expect_str(lp, 4, "");
    expect_str(lp, 5, "x");
    lp_free(lp);
    free(zm);
}

/* 5-byte lengths (a 300-byte field and value, and small values written in
 * the long form), zmlen 254 meaning "count them", and more than 254 pairs. */
Test(zipmap, long_lengths_and_biglen_count) {
    static char big[300];
    memset(big, 'q', sizeof(big));
    buf_t b = {0};
    PUT(&b, 254);
    put_pair(&b, big, 300, big, 300, 0, false);
    put_pair(&b, "k", 1, "val", 3, 4, true);
    char f[16];
    for (int i = 0; i < 300; i++) {
        int l = snprintf(f, sizeof(f), "f%d", i);
        put_pair(&b, f, (size_t)l, "v", 1, (unsigned char)(i % 3), false);
    }
    size_t size;
    unsigned char *zm = finish(&b, &size);
    cr_assert_eq(zm[1], 254);
    cr_assert_eq(zm[2], 44); /* 300 = 0x012C, little-endian */
    cr_assert_eq(zm[3], 1);
    unsigned long n = 0;
    cr_assert_eq(zipmap_validate(zm, size, &n), 0);
    cr_assert_eq(n, 302);
    unsigned char *lp = zipmap_to_listpack(zm, size);
    cr_assert_not_null(lp);
    cr_assert_eq(lp_length(lp), 604);
    lp_entry_t e;
    lp_get(lp_seek(lp, 0), &e);
    cr_assert_eq(e.slen, 300);
    lp_get(lp_seek(lp, 1), &e);
    cr_assert_eq(e.slen, 300);
    expect_str(lp, 2, "k");
    expect_str(lp, 3, "val");
    expect_str(lp, 602, "f299");
    expect_str(lp, 603, "v");
    lp_free(lp);
    /* zmlen 255 is a hint too. */
    zm[0] = 255;
    cr_assert_eq(zipmap_validate(zm, size, &n), 0);
    /* A small zmlen must be right. */
    zm[0] = 46; /* 302 % 256 */
    cr_assert_eq(zipmap_validate(zm, size, &n), -EINVAL);
    free(zm);
}

Test(zipmap, rejects) {
    size_t size;
    unsigned char *zm;
    /* Empty (Redis refuses it), too short, missing terminator. */
    unsigned char empty[] = {0, 0xFF};
    zm = exact(empty, 2);
    cr_assert_eq(zipmap_validate(zm, 2, NULL), -EINVAL);
    cr_assert_null(zipmap_to_listpack(zm, 2));
    free(zm);
    zm = exact(empty, 1);
    cr_assert_eq(zipmap_validate(zm, 1, NULL), -EINVAL);
    free(zm);
    cr_assert_eq(zipmap_validate(NULL, 2, NULL), -EINVAL);
    /* A field without its value (odd entry count). */
    unsigned char odd[] = {1, 1, 'a', 0xFF};
    zm = exact(odd, sizeof(odd));
    cr_assert_eq(zipmap_validate(zm, sizeof(odd), NULL), -EINVAL);
    free(zm);
    /* A value length with no free byte. */
    unsigned char nofree[] = {1, 1, 'a', 1, 0xFF};
    zm = exact(nofree, sizeof(nofree));
    cr_assert_eq(zipmap_validate(zm, sizeof(nofree), NULL), -EINVAL);
    free(zm);
    /* 0xFF as a value length. */
    unsigned char ffval[] = {1, 1, 'a', 0xFF, 0, 0xFF};
    zm = exact(ffval, sizeof(ffval));
    cr_assert_eq(zipmap_validate(zm, sizeof(ffval), NULL), -EINVAL);
    free(zm);
    /* Bytes after the terminator, and a terminator that is not the end. */
    unsigned char after[] = {1, 1, 'a', 1, 0, 'b', 0xFF, 0xFF};
    zm = exact(after, sizeof(after));
    cr_assert_eq(zipmap_validate(zm, sizeof(after), NULL), -EINVAL);
    cr_assert_eq(zipmap_validate(zm, sizeof(after) - 1, NULL), 0);
    free(zm);
    /* Wrong count. */
    zm = small(&size);
    zm[0] = 2;
    cr_assert_eq(zipmap_validate(zm, size, NULL), -EINVAL);
    zm[0] = 4;
    cr_assert_eq(zipmap_validate(zm, size, NULL), -EINVAL);
    zm[0] = 3;
    /* Free bytes that overrun, lengths that overrun. */
    zm[12] = 3; /* "redis" free 2 -> 3: swallows the next pair's start */
    cr_assert_eq(zipmap_validate(zm, size, NULL), -EINVAL);
    zm[12] = 200;
    cr_assert_eq(zipmap_validate(zm, size, NULL), -EINVAL);
    zm[12] = 2;
    zm[6] = 253; /* field length */
    cr_assert_eq(zipmap_validate(zm, size, NULL), -EINVAL);
    zm[6] = 4;
    cr_assert_eq(zipmap_validate(zm, size, NULL), 0);
    free(zm);
    /* A 5-byte length of 4 GB - 1. */
    unsigned char huge[] = {1, 254, 0xFF, 0xFF, 0xFF, 0xFF, 'a', 1, 0, 'b', 0xFF};
    zm = exact(huge, sizeof(huge));
    cr_assert_eq(zipmap_validate(zm, sizeof(huge), NULL), -EINVAL);
    free(zm);
}

Test(zipmap, duplicate_fields_refused) {
    buf_t b = {0};
    size_t size;
    PUT(&b, 3);
    put_pair(&b, "f1", 2, "a", 1, 0, false);
    put_pair(&b, "f2", 2, "b", 1, 0, false);
    put_pair(&b, "f1", 2, "c", 1, 1, true); /* same bytes, longer length form */
    unsigned char *zm = finish(&b, &size);
    cr_assert_eq(zipmap_validate(zm, size, NULL), 0); /* structurally fine */
    cr_assert_null(zipmap_to_listpack(zm, size));
    free(zm);
    /* A field equal to another pair's value is no duplicate; "1" vs "01"
     * differ as bytes. */
    b = (buf_t){0};
    PUT(&b, 3);
    put_pair(&b, "1", 1, "01", 2, 0, false);
    put_pair(&b, "01", 2, "1", 1, 0, false);
    put_pair(&b, "", 0, "", 0, 0, false);
    zm = finish(&b, &size);
    unsigned char *lp = zipmap_to_listpack(zm, size);
    cr_assert_not_null(lp);
    cr_assert_eq(lp_length(lp), 6);
    expect_int(lp, 0, 1);
    expect_str(lp, 1, "01");
    expect_str(lp, 2, "01");
    expect_str(lp, 4, "");
    lp_free(lp);
    free(zm);
    /* Many distinct fields, then one duplicate far apart. */
    b = (buf_t){0};
    PUT(&b, 254);
    char f[16];
    for (int i = 0; i < 2000; i++) {
        int l = snprintf(f, sizeof(f), "k:%d", i);
        put_pair(&b, f, (size_t)l, "v", 1, 0, false);
    }
    size_t distinct_len = b.len;
    put_pair(&b, "k:7", 3, "v", 1, 0, false);
    zm = finish(&b, &size);
    cr_assert_null(zipmap_to_listpack(zm, size));
    /* Without the duplicate it converts. */
    zm[distinct_len] = 0xFF;
    lp = zipmap_to_listpack(zm, distinct_len + 1);
    cr_assert_not_null(lp);
    cr_assert_eq(lp_length(lp), 4000);
    lp_free(lp);
    free(zm);
}

Test(zipmap, truncation_at_every_offset) {
    size_t size;
    unsigned char *zm = small(&size);
    for (size_t k = 0; k < size; k++) {
        unsigned char *t = exact(zm, k);
        cr_assert_eq(zipmap_validate(t, k, NULL), -EINVAL, "bare %zu", k);
        cr_assert_null(zipmap_to_listpack(t, k));
        if (k >= 2) {
            /* Re-terminated, with an unknown count: only a cut right after a
             * whole pair gives a (shorter) valid zipmap. */
            t[k - 1] = 0xFF;
            t[0] = 254;
            int rc = zipmap_validate(t, k, NULL);
            bool boundary = k - 1 == 6 || k - 1 == 20;
            cr_assert_eq(rc == 0, boundary, "cut %zu: rc %d", k, rc);
        }
        free(t);
    }
    free(zm);
}

Test(zipmap, single_byte_mutations) {
    size_t size;
    unsigned char *zm = small(&size);
    for (size_t off = 0; off < size; off++) {
        for (unsigned v = 0; v < 256; v++) {
            unsigned char *t = exact(zm, size);
            t[off] = (unsigned char)v;
            unsigned long n;
            int rc = zipmap_validate(t, size, &n);
            unsigned char *lp = zipmap_to_listpack(t, size);
            if (rc == 0 && lp) cr_assert_eq(lp_length(lp), 2 * n);
            if (rc) cr_assert_null(lp);
            lp_free(lp);
            free(t);
        }
    }
    free(zm);
}
