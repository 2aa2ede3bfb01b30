/* Unit tests for server/ds/ziplist.c: hand-encoded ziplists covering every
 * string and integer encoding, 1- and 5-byte prevlens, a saturated zllen, the
 * empty ziplist, corruptions of each header field and entry, truncation at
 * every byte offset, and single-byte mutations everywhere (each blob lives in
 * an allocation of exactly its size, so the ASan build catches any read past
 * it). */
#include <criterion/criterion.h>

#include "kl_alloc.h"
#include "listpack.h"
#include "ziplist.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a byte buffer -------------------------------------------------------- */

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
    memcpy(b->b + b->len, p, n);
    b->len += n;
}
#define PUT(b, ...)                                                                                \
    put((b), (const unsigned char[]){__VA_ARGS__}, sizeof((const unsigned char[]){__VA_ARGS__}))

static void put_le32(buf_t *b, uint32_t v) {
    PUT(b, (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
        (unsigned char)(v >> 24));
}

/* An exact-size heap copy, so ASan flags a read of even one byte past it. */
static unsigned char *exact(const unsigned char *p, size_t n) {
    unsigned char *c = malloc(n ? n : 1);
    cr_assert_not_null(c);
    if (n) memcpy(c, p, n);
    return c;
}

static void wr_le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* ---- a ziplist writer following the format description ------------------- */

/* Entries are written as Redis writes them: prevlen in 1 byte when < 254
 * (unless force5), the narrowest encoding. offs records entry offsets. */
typedef struct zlw {
    buf_t b;
    size_t prev; /* size of the last entry */
    size_t last; /* offset of the last entry */
    unsigned long n;
    size_t *offs;
    size_t offs_cap;
} zlw_t;

static void zlw_init(zlw_t *w) {
    memset(w, 0, sizeof(*w));
    unsigned char hdr[10] = {0};
    put(&w->b, hdr, 10);
    w->last = 10;
}

static void zlw_prevlen(zlw_t *w, bool force5) {
    if (w->n == w->offs_cap) {
        w->offs_cap = w->offs_cap * 2 + 16;
        w->offs = realloc(w->offs, w->offs_cap * sizeof(size_t));
    }
    w->offs[w->n] = w->b.len;
    w->last = w->b.len;
    if (w->prev < 254 && !force5) {
        PUT(&w->b, (unsigned char)w->prev);
    } else {
        PUT(&w->b, 0xFE);
        put_le32(&w->b, (uint32_t)w->prev);
    }
}

static void zlw_str(zlw_t *w, const void *s, size_t len, bool force5) {
    size_t start = w->b.len;
    zlw_prevlen(w, force5);
    if (len < 64) {
        PUT(&w->b, (unsigned char)len);
    } else if (len < 16384) {
        PUT(&w->b, (unsigned char)(0x40 | (len >> 8)), (unsigned char)len);
    } else {
        PUT(&w->b, 0x80, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
            (unsigned char)(len >> 8), (unsigned char)len);
    }
    put(&w->b, s, len);
    w->prev = w->b.len - start;
    w->n++;
}

static void zlw_int(zlw_t *w, long long v) {
    size_t start = w->b.len;
    unsigned n;
    zlw_prevlen(w, false);
    if (v >= 0 && v <= 12) {
        PUT(&w->b, (unsigned char)(0xF1 + v));
        n = 0;
    } else if (v >= INT8_MIN && v <= INT8_MAX) {
        PUT(&w->b, 0xFE);
        n = 1;
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
        PUT(&w->b, 0xC0);
        n = 2;
    } else if (v >= -8388608 && v <= 8388607) {
        PUT(&w->b, 0xF0);
        n = 3;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        PUT(&w->b, 0xD0);
        n = 4;
    } else {
        PUT(&w->b, 0xE0);
        n = 8;
    }
    for (unsigned i = 0; i < n; i++)
        PUT(&w->b, (unsigned char)((uint64_t)v >> (8 * i)));
    w->prev = w->b.len - start;
    w->n++;
}

/* Terminate and fill the header; zllen saturates at 65535 as Redis's does. */
static unsigned char *zlw_finish(zlw_t *w, size_t *size) {
    PUT(&w->b, 0xFF);
    wr_le32(w->b.b, (uint32_t)w->b.len);
    wr_le32(w->b.b + 4, (uint32_t)w->last);
    unsigned c = w->n < 65535 ? (unsigned)w->n : 65535;
    w->b.b[8] = (unsigned char)c;
    w->b.b[9] = (unsigned char)(c >> 8);
    *size = w->b.len;
    unsigned char *zl = exact(w->b.b, w->b.len);
    free(w->b.b);
    w->b.b = NULL;
    return zl;
}

/* ---- the hand-encoded vector with every encoding --------------------------- */

static const unsigned char str70[70] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-=+_*&^%";

/* Byte by byte, as Redis would write each entry (the 32-bit string form is
 * used for a short string: never chosen by Redis for 5 bytes but legal). */
static unsigned char *every_encoding(size_t *size, size_t *offs) {
    buf_t b = {0};
    size_t i = 0;
    PUT(&b, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0); /* zlbytes, zltail patched below; zllen 10 */
    offs[i++] = b.len;
    PUT(&b, 0x00, 0x02, 'a', 'b'); /* 6-bit string "ab" (4 bytes) */
    offs[i++] = b.len;
    PUT(&b, 0x04, 0xFE, 0xFB); /* int8 -5 (3 bytes) */
    offs[i++] = b.len;
    PUT(&b, 0x03, 0xC0, 0x34, 0x12); /* int16 0x1234 (4) */
    offs[i++] = b.len;
    PUT(&b, 0x04, 0xF0, 0xFE, 0xFF, 0xFF); /* int24 -2 (5) */
    offs[i++] = b.len;
    PUT(&b, 0x05, 0xD0, 0x78, 0x56, 0x34, 0x12); /* int32 0x12345678 (6) */
    offs[i++] = b.len;
    PUT(&b, 0x06, 0xE0, 0xF8, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE); /* int64 (10) */
    offs[i++] = b.len;
    PUT(&b, 0x0A, 0xF1); /* immediate 0 (2) */
    offs[i++] = b.len;
    PUT(&b, 0x02, 0xFD); /* immediate 12 (2) */
    offs[i++] = b.len;
    PUT(&b, 0x02, 0x40, 0x46); /* 14-bit string, 70 bytes (73) */
    put(&b, str70, 70);
    offs[i++] = b.len;
    PUT(&b, 0x49, 0x80, 0x00, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'); /* 32-bit (11) */
    PUT(&b, 0xFF);
    wr_le32(b.b, (uint32_t)b.len);
    wr_le32(b.b + 4, (uint32_t)offs[9]);
    *size = b.len;
    unsigned char *zl = exact(b.b, b.len);
    free(b.b);
    return zl;
}

static void check_every_encoding_values(const lp_entry_t *e) {
    cr_assert_not_null(e[0].sval);
    cr_assert_eq(e[0].slen, 2);
    cr_assert(memcmp(e[0].sval, "ab", 2) == 0);
    cr_assert_null(e[1].sval);
    cr_assert_eq(e[1].lval, -5);
    cr_assert_eq(e[2].lval, 0x1234);
    cr_assert_eq(e[3].lval, -2);
    cr_assert_eq(e[4].lval, 0x12345678);
    cr_assert_eq(e[5].lval, -0x0102030405060708LL);
    cr_assert_eq(e[6].lval, 0);
    cr_assert_eq(e[7].lval, 12);
    for (int i = 1; i < 8; i++)
        cr_assert_null(e[i].sval, "entry %d", i);
    cr_assert_eq(e[8].slen, 70);
    cr_assert(memcmp(e[8].sval, str70, 70) == 0);
    cr_assert_eq(e[9].slen, 5);
    cr_assert(memcmp(e[9].sval, "hello", 5) == 0);
}

Test(ziplist, every_encoding_validates_and_iterates) {
    size_t size, offs[10];
    unsigned char *zl = every_encoding(&size, offs);
    unsigned long n = 0;
    cr_assert_eq(size, 10 + 4 + 3 + 4 + 5 + 6 + 10 + 2 + 2 + 73 + 11 + 1);
    cr_assert_eq(zl_validate(zl, size, &n), 0);
    cr_assert_eq(n, 10);
    zl_iter_t it;
    lp_entry_t e[11];
    int i = 0;
    zl_iter_init(&it, zl);
    while (i < 11 && zl_iter_next(&it, &e[i]))
        i++;
    cr_assert_eq(i, 10);
    check_every_encoding_values(e);
    free(zl);
}

Test(ziplist, every_encoding_converts_to_listpack) {
    size_t size, offs[10];
    unsigned char *zl = every_encoding(&size, offs);
    unsigned char *lp = zl_to_listpack(zl, size);
    cr_assert_not_null(lp);
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    cr_assert_eq(lp_length(lp), 10);
    lp_entry_t e[10];
    int i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p))
        lp_get(p, &e[i++]);
    check_every_encoding_values(e);
    /* The same listpack as appending the values directly. */
    unsigned char *want = lp_new(0);
    want = lp_append(want, (const unsigned char *)"ab", 2);
    long long ints[] = {-5, 0x1234, -2, 0x12345678, -0x0102030405060708LL, 0, 12};
    for (int k = 0; k < 7; k++)
        want = lp_append_int(want, ints[k]);
    want = lp_append(want, str70, 70);
    want = lp_append(want, (const unsigned char *)"hello", 5);
    cr_assert_eq(lp_bytes(lp), lp_bytes(want));
    cr_assert(memcmp(lp, want, lp_bytes(lp)) == 0);
    lp_free(want);
    lp_free(lp);
    free(zl);
}

Test(ziplist, integer_extremes_round_trip) {
    long long vals[] = {0,
                        12,
                        13,
                        -1,
                        INT8_MIN,
                        INT8_MAX,
                        INT8_MAX + 1,
                        INT16_MIN,
                        INT16_MAX,
                        INT16_MAX + 1,
                        -8388608,
                        8388607,
                        8388608,
                        INT32_MIN,
                        INT32_MAX,
                        (long long)INT32_MAX + 1,
                        INT64_MIN,
                        INT64_MAX};
    size_t nv = sizeof(vals) / sizeof(vals[0]), size;
    zlw_t w;
    zlw_init(&w);
    for (size_t i = 0; i < nv; i++)
        zlw_int(&w, vals[i]);
    unsigned char *zl = zlw_finish(&w, &size);
    unsigned long n;
    cr_assert_eq(zl_validate(zl, size, &n), 0);
    cr_assert_eq(n, nv);
    zl_iter_t it;
    lp_entry_t e;
    zl_iter_init(&it, zl);
    for (size_t i = 0; i < nv; i++) {
        cr_assert(zl_iter_next(&it, &e));
        cr_assert_null(e.sval);
        cr_assert_eq(e.lval, vals[i], "value %zu: %lld", i, e.lval);
    }
    cr_assert_not(zl_iter_next(&it, &e));
    unsigned char *lp = zl_to_listpack(zl, size);
    cr_assert_not_null(lp);
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        lp_get(p, &e);
        cr_assert_null(e.sval);
        cr_assert_eq(e.lval, vals[i]);
    }
    cr_assert_eq(i, nv);
    lp_free(lp);
    free(w.offs);
    free(zl);
}

/* A string entry of 300 bytes makes the next prevlen take 5 bytes; a 32-bit
 * string (>= 16384 bytes) and a 5-byte prevlen holding a small value (Redis
 * keeps those after a cascade shrink) are accepted too. */
Test(ziplist, five_byte_prevlen_and_long_strings) {
    static unsigned char big[20000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)('a' + i % 26);
    zlw_t w;
    size_t size;
    zlw_init(&w);
    zlw_str(&w, big, 300, false);   /* 1 + 2 + 300 = 303 bytes */
    zlw_str(&w, "x", 1, false);     /* prevlen 0xFE 2F 01 00 00 */
    zlw_str(&w, "y", 1, true);      /* prevlen forced to 5 bytes: 0xFE 07 00 00 00 */
    zlw_str(&w, big, 20000, false); /* 32-bit length */
    zlw_int(&w, 7);                 /* after a 20006-byte entry */
    unsigned char *zl = zlw_finish(&w, &size);
    cr_assert_eq(zl[w.offs[1]], 0xFE);
    cr_assert_eq(zl[w.offs[1] + 1], 0x2F);
    cr_assert_eq(zl[w.offs[1] + 2], 0x01);
    cr_assert_eq(zl[w.offs[2]], 0xFE);
    cr_assert_eq(zl[w.offs[2] + 1], 7);
    cr_assert_eq(zl[w.offs[3] + 1], 0x80);
    unsigned long n;
    cr_assert_eq(zl_validate(zl, size, &n), 0);
    cr_assert_eq(n, 5);
    zl_iter_t it;
    lp_entry_t e;
    zl_iter_init(&it, zl);
    cr_assert(zl_iter_next(&it, &e));
    cr_assert_eq(e.slen, 300);
    cr_assert(memcmp(e.sval, big, 300) == 0);
    cr_assert(zl_iter_next(&it, &e));
    cr_assert_eq(e.slen, 1);
    cr_assert_eq(e.sval[0], 'x');
    cr_assert(zl_iter_next(&it, &e));
    cr_assert_eq(e.sval[0], 'y');
    cr_assert(zl_iter_next(&it, &e));
    cr_assert_eq(e.slen, 20000);
    cr_assert(memcmp(e.sval, big, 20000) == 0);
    cr_assert(zl_iter_next(&it, &e));
    cr_assert_eq(e.lval, 7);
    cr_assert_not(zl_iter_next(&it, &e));
    unsigned char *lp = zl_to_listpack(zl, size);
    cr_assert_not_null(lp);
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    cr_assert_eq(lp_length(lp), 5);
    lp_get(lp_seek(lp, 3), &e);
    cr_assert_eq(e.slen, 20000);
    lp_free(lp);
    /* A prevlen that disagrees (0x2E instead of 0x2F) is refused. */
    zl[w.offs[1] + 1] = 0x2E;
    cr_assert_eq(zl_validate(zl, size, NULL), -EINVAL);
    free(w.offs);
    free(zl);
}

/* More than 65534 entries: Redis stores zllen 65535 and the count comes from
 * the walk. A 65535 header over fewer entries is accepted as Redis does. */
Test(ziplist, saturated_zllen) {
    zlw_t w;
    size_t size;
    zlw_init(&w);
    for (int i = 0; i < 70000; i++)
        zlw_int(&w, i % 13);
    unsigned char *zl = zlw_finish(&w, &size);
    cr_assert_eq(zl[8], 0xFF);
    cr_assert_eq(zl[9], 0xFF);
    unsigned long n = 0;
    cr_assert_eq(zl_validate(zl, size, &n), 0);
    cr_assert_eq(n, 70000);
    unsigned char *lp = zl_to_listpack(zl, size);
    cr_assert_not_null(lp);
    cr_assert_eq(lp_length(lp), 70000);
    lp_entry_t e;
    lp_get(lp_seek(lp, 69999), &e);
    cr_assert_eq(e.lval, 69999 % 13);
    lp_free(lp);
    free(w.offs);
    free(zl);

    zlw_init(&w);
    zlw_int(&w, 1);
    zlw_int(&w, 2);
    zlw_int(&w, 3);
    zl = zlw_finish(&w, &size);
    zl[8] = 0xFF;
    zl[9] = 0xFF;
    cr_assert_eq(zl_validate(zl, size, &n), 0);
    cr_assert_eq(n, 3);
    zl[8] = 2; /* 2 != 3 */
    zl[9] = 0;
    cr_assert_eq(zl_validate(zl, size, &n), -EINVAL);
    zl[8] = 4;
    cr_assert_eq(zl_validate(zl, size, &n), -EINVAL);
    free(w.offs);
    free(zl);
}

Test(ziplist, empty) {
    unsigned char z[11] = {11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xFF};
    unsigned char *zl = exact(z, 11);
    unsigned long n = 99;
    cr_assert_eq(zl_validate(zl, 11, &n), 0);
    cr_assert_eq(n, 0);
    zl_iter_t it;
    lp_entry_t e;
    zl_iter_init(&it, zl);
    cr_assert_not(zl_iter_next(&it, &e));
    unsigned char *lp = zl_to_listpack(zl, 11);
    cr_assert_not_null(lp);
    cr_assert_eq(lp_length(lp), 0);
    lp_free(lp);
    zl[4] = 11; /* zltail must be the header end */
    cr_assert_eq(zl_validate(zl, 11, NULL), -EINVAL);
    zl[4] = 10;
    zl[8] = 1; /* zllen 1 over no entries */
    cr_assert_eq(zl_validate(zl, 11, NULL), -EINVAL);
    zl[8] = 0xFF; /* 65535: count unknown, fine */
    zl[9] = 0xFF;
    cr_assert_eq(zl_validate(zl, 11, NULL), 0);
    free(zl);
    cr_assert_eq(zl_validate(z, 10, NULL), -EINVAL);
    cr_assert_eq(zl_validate(NULL, 11, NULL), -EINVAL);
}

/* One corruption of a copy of the every-encoding vector. */
static int corrupt_at(size_t off, unsigned char val) {
    size_t size, offs[10];
    unsigned char *zl = every_encoding(&size, offs);
    zl[off] = val;
    int rc = zl_validate(zl, size, NULL);
    unsigned char *lp = zl_to_listpack(zl, size);
    cr_assert_eq(rc == 0, lp != NULL);
    lp_free(lp);
    free(zl);
    return rc;
}

Test(ziplist, corrupt_header_and_entries) {
    size_t size, offs[10];
    unsigned char *zl = every_encoding(&size, offs);
    free(zl);
    cr_assert_eq(corrupt_at(0, (unsigned char)(size + 1)), -EINVAL); /* zlbytes */
    cr_assert_eq(corrupt_at(4, (unsigned char)offs[8]), -EINVAL);    /* zltail at 9th */
    cr_assert_eq(corrupt_at(4, 0), -EINVAL);                         /* zltail in header */
    cr_assert_eq(corrupt_at(5, 1), -EINVAL);                         /* zltail past end */
    cr_assert_eq(corrupt_at(8, 9), -EINVAL);                         /* zllen */
    cr_assert_eq(corrupt_at(size - 1, 0), -EINVAL);                  /* no terminator */
    cr_assert_eq(corrupt_at(offs[0], 1), -EINVAL);                   /* first prevlen != 0 */
    cr_assert_eq(corrupt_at(offs[3], 5), -EINVAL);                   /* prevlen 5 != 4 */
    cr_assert_eq(corrupt_at(offs[5], 0xFF), -EINVAL);                /* 0xFF mid-way */
    /* Invalid integer encodings. */
    unsigned char bad[] = {0xC1, 0xCF, 0xD1, 0xE5, 0xEF, 0xF0 - 1, 0xFF};
    for (size_t i = 0; i < sizeof(bad); i++)
        cr_assert_eq(corrupt_at(offs[1] + 1, bad[i]), -EINVAL, "encoding %#x", bad[i]);
    /* String lengths that overrun (or underrun) the entry. */
    cr_assert_eq(corrupt_at(offs[0] + 1, 0x3F), -EINVAL);
    cr_assert_eq(corrupt_at(offs[8] + 1, 0x7F), -EINVAL);
    cr_assert_eq(corrupt_at(offs[8] + 2, 0x45), -EINVAL);
    cr_assert_eq(corrupt_at(offs[9] + 2, 0xFF), -EINVAL);
    /* The last entry's 32-bit length one and two bytes too long: it would
     * swallow the terminator, then reach past the blob. */
    cr_assert_eq(corrupt_at(offs[9] + 5, 0x06), -EINVAL);
    cr_assert_eq(corrupt_at(offs[9] + 5, 0x07), -EINVAL);
    /* The low six bits of a 32-bit string's first byte are ignored. */
    cr_assert_eq(corrupt_at(offs[9] + 1, 0x81), 0);
}

/* Truncated to every length: the bare prefix (zlbytes now disagrees) and the
 * prefix repaired into a plausible ziplist (zlbytes = length, last byte
 * 0xFF): invalid, except that with zllen 65535 and zltail at the last whole
 * entry a cut right after an entry is a real, shorter ziplist. */
Test(ziplist, truncation_at_every_offset) {
    size_t size, offs[10];
    unsigned char *zl = every_encoding(&size, offs);
    for (size_t k = 0; k < size; k++) {
        unsigned char *t = exact(zl, k);
        cr_assert_eq(zl_validate(t, k, NULL), -EINVAL, "bare %zu", k);
        cr_assert_null(zl_to_listpack(t, k));
        if (k >= 11) {
            wr_le32(t, (uint32_t)k);
            t[k - 1] = 0xFF;
            cr_assert_eq(zl_validate(t, k, NULL), -EINVAL, "repaired %zu", k);
            /* Where does the cut fall? */
            size_t cut = k - 1, last = 10;
            bool boundary = cut == 10;
            unsigned long whole = 0;
            for (int i = 0; i < 10; i++) {
                size_t endi = i < 9 ? offs[i + 1] : size - 1;
                if (endi <= cut) {
                    last = offs[i];
                    whole++;
                }
                if (endi == cut) boundary = true;
            }
            wr_le32(t + 4, (uint32_t)last);
            t[8] = t[9] = 0xFF;
            unsigned long n = 0;
            int rc = zl_validate(t, k, &n);
            cr_assert_eq(rc == 0, boundary, "cut %zu: rc %d", k, rc);
            if (boundary) cr_assert_eq(n, whole);
        }
        free(t);
    }
    free(zl);
}

/* Every byte set to a few values: whatever validates must iterate within the
 * blob (ASan watches) and convert. */
Test(ziplist, single_byte_mutations) {
    size_t size, offs[10];
    unsigned char *zl = every_encoding(&size, offs);
    const unsigned char vals[] = {0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC0,
                                  0xD0, 0xE0, 0xF0, 0xF1, 0xFD, 0xFE, 0xFF};
    unsigned valid = 0;
    for (size_t off = 0; off < size; off++) {
        for (size_t v = 0; v < sizeof(vals); v++) {
            unsigned char *t = exact(zl, size);
            t[off] = vals[v];
            unsigned long n;
            if (zl_validate(t, size, &n) == 0) {
                valid++;
                zl_iter_t it;
                lp_entry_t e;
                unsigned long seen = 0;
                zl_iter_init(&it, t);
                while (zl_iter_next(&it, &e)) {
                    if (e.sval) cr_assert(e.sval >= t && e.sval + e.slen <= t + size);
                    seen++;
                }
                cr_assert_eq(seen, n);
                unsigned char *lp = zl_to_listpack(t, size);
                cr_assert_not_null(lp);
                cr_assert_eq(lp_length(lp), n);
                lp_free(lp);
            } else {
                cr_assert_null(zl_to_listpack(t, size));
            }
            free(t);
        }
    }
    /* Payload bytes of strings and integers may change freely. */
    cr_assert_gt(valid, 100);
    free(zl);
}

/* A string that reads as a canonical integer becomes an integer in the
 * listpack (what Redis's lpAppend does during the same conversion); one that
 * does not ("007", "-0", 21 digits) stays a string. */
Test(ziplist, numeric_strings_convert_like_lp_append) {
    zlw_t w;
    size_t size;
    zlw_init(&w);
    zlw_str(&w, "123", 3, false);
    zlw_str(&w, "007", 3, false);
    zlw_str(&w, "-0", 2, false);
    zlw_str(&w, "123456789012345678901", 21, false);
    unsigned char *zl = zlw_finish(&w, &size);
    unsigned char *lp = zl_to_listpack(zl, size);
    cr_assert_not_null(lp);
    lp_entry_t e;
    lp_get(lp_seek(lp, 0), &e);
    cr_assert_null(e.sval);
    cr_assert_eq(e.lval, 123);
    lp_get(lp_seek(lp, 1), &e);
    cr_assert_not_null(e.sval);
    cr_assert_eq(e.slen, 3);
    lp_get(lp_seek(lp, 2), &e);
    cr_assert_not_null(e.sval);
    lp_get(lp_seek(lp, 3), &e);
    cr_assert_not_null(e.sval);
    cr_assert_eq(e.slen, 21);
    lp_free(lp);
    free(w.offs);
    free(zl);
}
