/* Byte-level check that server/ds/listpack.c speaks Redis 7.0's listpack
 * format: listpacks hand-encoded byte by byte as Redis writes them (every
 * integer width at its limits, 6/12/32-bit strings, back-lengths of 1..4
 * bytes at the size thresholds Redis uses) must validate, decode forwards
 * and backwards to the right values, and be reproduced exactly by lp_append
 * / lp_append_int. Listpacks travel in RDB files and DUMP payloads, so a
 * single differing byte breaks interoperability. */
#include <criterion/criterion.h>

#include "listpack.h"

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

static void put_fill(buf_t *b, size_t n) {
    unsigned char *tmp = malloc(n);
    cr_assert_not_null(tmp);
    for (size_t i = 0; i < n; i++)
        tmp[i] = (unsigned char)('a' + i % 26);
    put(b, tmp, n);
    free(tmp);
}

/* What each hand-written entry should decode to. */
typedef struct want {
    bool is_str;
    long long v;
    size_t slen; /* strings are 'a' + i % 26 fill unless text is set */
    const char *text;
} want_t;

/* Header (6 bytes) + entries + 0xFF, in an exact-size allocation. */
static unsigned char *finish(buf_t *e, unsigned count) {
    size_t total = 6 + e->len + 1;
    unsigned char *lp = malloc(total);
    cr_assert_not_null(lp);
    lp[0] = (unsigned char)total;
    lp[1] = (unsigned char)(total >> 8);
    lp[2] = (unsigned char)(total >> 16);
    lp[3] = (unsigned char)(total >> 24);
    lp[4] = (unsigned char)count;
    lp[5] = (unsigned char)(count >> 8);
    memcpy(lp + 6, e->b, e->len);
    lp[total - 1] = 0xFF;
    free(e->b);
    *e = (buf_t){0};
    return lp;
}

static void check_entry(unsigned char *p, const want_t *w, int i) {
    lp_entry_t e;
    lp_get(p, &e);
    if (!w->is_str) {
        cr_assert_null(e.sval, "entry %d should be an integer", i);
        cr_assert_eq(e.lval, w->v, "entry %d: %lld != %lld", i, e.lval, w->v);
        return;
    }
    cr_assert_not_null(e.sval, "entry %d should be a string", i);
    if (w->text) {
        cr_assert_eq(e.slen, strlen(w->text), "entry %d", i);
        cr_assert(memcmp(e.sval, w->text, e.slen) == 0, "entry %d", i);
        return;
    }
    cr_assert_eq(e.slen, w->slen, "entry %d", i);
    for (size_t k = 0; k < w->slen; k++)
        if (e.sval[k] != (unsigned char)('a' + k % 26)) cr_assert_fail("entry %d byte %zu", i, k);
}

/* Validate, walk forwards and backwards, and rebuild with the append API. */
static void check_listpack(unsigned char *lp, const want_t *w, int n) {
    size_t total = lp_bytes(lp);
    cr_assert_eq(lp_validate(lp, total), 0, "lp_validate refuses Redis's bytes");
    cr_assert_eq(lp_length(lp), (unsigned long)n);
    int i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        cr_assert_lt(i, n);
        check_entry(p, &w[i], i);
    }
    cr_assert_eq(i, n);
    i = n - 1;
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p), i--) {
        cr_assert_geq(i, 0);
        check_entry(p, &w[i], i);
    }
    cr_assert_eq(i, -1);
    /* lp_append of the same values writes the same bytes. */
    unsigned char *mine = lp_new(0);
    for (i = 0; i < n; i++) {
        if (!w[i].is_str) {
            mine = lp_append_int(mine, w[i].v);
        } else if (w[i].text) {
            mine = lp_append(mine, (const unsigned char *)w[i].text, strlen(w[i].text));
        } else {
            unsigned char *s = malloc(w[i].slen ? w[i].slen : 1);
            for (size_t k = 0; k < w[i].slen; k++)
                s[k] = (unsigned char)('a' + k % 26);
            mine = lp_append(mine, s, w[i].slen);
            free(s);
        }
    }
    cr_assert_eq(lp_bytes(mine), total, "lp_append wrote %zu bytes, Redis %zu", lp_bytes(mine),
                 total);
    for (size_t k = 0; k < total; k++)
        if (mine[k] != lp[k])
            cr_assert_fail("byte %zu: lp_append wrote %#x, Redis %#x", k, mine[k], lp[k]);
    /* And integers given as their decimal text encode the same way. */
    unsigned char *text = lp_new(0);
    char num[32];
    for (i = 0; i < n; i++) {
        if (!w[i].is_str) {
            int l = snprintf(num, sizeof(num), "%lld", w[i].v);
            text = lp_append(text, (const unsigned char *)num, (size_t)l);
        } else {
            lp_entry_t e;
            lp_get(lp_seek(lp, i), &e);
            text = lp_append(text, e.sval, e.slen);
        }
    }
    cr_assert(memcmp(text, lp, total) == 0);
    lp_free(text);
    lp_free(mine);
}

/* Every integer encoding at both ends of its range, and short strings. */
Test(listpack_format, integers_and_short_strings) {
    buf_t e = {0};
    PUT(&e, 0x00, 0x01);                                                 /* 7-bit uint 0 */
    PUT(&e, 0x7F, 0x01);                                                 /* 7-bit uint 127 */
    PUT(&e, 0xC0, 0x80, 0x02);                                           /* 13-bit 128 */
    PUT(&e, 0xCF, 0xFF, 0x02);                                           /* 13-bit 4095 */
    PUT(&e, 0xDF, 0xFF, 0x02);                                           /* 13-bit -1 */
    PUT(&e, 0xD0, 0x00, 0x02);                                           /* 13-bit -4096 */
    PUT(&e, 0xF1, 0x00, 0x10, 0x03);                                     /* 16-bit 4096 */
    PUT(&e, 0xF1, 0xFF, 0xEF, 0x03);                                     /* 16-bit -4097 */
    PUT(&e, 0xF1, 0xFF, 0x7F, 0x03);                                     /* 16-bit 32767 */
    PUT(&e, 0xF1, 0x00, 0x80, 0x03);                                     /* 16-bit -32768 */
    PUT(&e, 0xF2, 0x00, 0x80, 0x00, 0x04);                               /* 24-bit 32768 */
    PUT(&e, 0xF2, 0xFF, 0xFF, 0x7F, 0x04);                               /* 24-bit 8388607 */
    PUT(&e, 0xF2, 0x00, 0x00, 0x80, 0x04);                               /* 24-bit -8388608 */
    PUT(&e, 0xF3, 0x00, 0x00, 0x80, 0x00, 0x05);                         /* 32-bit 8388608 */
    PUT(&e, 0xF3, 0xFF, 0xFF, 0xFF, 0x7F, 0x05);                         /* 32-bit INT32_MAX */
    PUT(&e, 0xF3, 0x00, 0x00, 0x00, 0x80, 0x05);                         /* 32-bit INT32_MIN */
    PUT(&e, 0xF4, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x09); /* 2^31 */
    PUT(&e, 0xF4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x09); /* INT64_MAX */
    PUT(&e, 0xF4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x09); /* INT64_MIN */
    PUT(&e, 0x80, 0x01);                                                 /* "" */
    PUT(&e, 0x82, 'h', 'i', 0x03);                                       /* "hi" */
    PUT(&e, 0x83, '0', '0', '7', 0x04); /* "007": not canonical, a string */
    PUT(&e, 0x82, '-', '0', 0x03);      /* "-0": a string */
    want_t w[] = {
        {false, 0, 0, NULL},
        {false, 127, 0, NULL},
        {false, 128, 0, NULL},
        {false, 4095, 0, NULL},
        {false, -1, 0, NULL},
        {false, -4096, 0, NULL},
        {false, 4096, 0, NULL},
        {false, -4097, 0, NULL},
        {false, 32767, 0, NULL},
        {false, -32768, 0, NULL},
        {false, 32768, 0, NULL},
        {false, 8388607, 0, NULL},
        {false, -8388608, 0, NULL},
        {false, 8388608, 0, NULL},
        {false, INT32_MAX, 0, NULL},
        {false, INT32_MIN, 0, NULL},
        {false, 2147483648LL, 0, NULL},
        {false, INT64_MAX, 0, NULL},
        {false, INT64_MIN, 0, NULL},
        {true, 0, 0, ""},
        {true, 0, 0, "hi"},
        {true, 0, 0, "007"},
        {true, 0, 0, "-0"},
    };
    int n = (int)(sizeof(w) / sizeof(w[0]));
    unsigned char *lp = finish(&e, (unsigned)n);
    check_listpack(lp, w, n);
    free(lp);
}

/* Strings across the 6/12/32-bit length encodings and back-lengths of 1, 2
 * and 3 bytes, each at Redis's thresholds: a back-length takes 1 byte up to
 * 127, 2 bytes below 16383, 3 below 2097151 (so 16383 itself needs 3).
 * redis-server 7.0.15 writes exactly these back-lengths for the 16377..16379
 * and 2097145/2097146-byte values (seen in DUMP payloads of one-field hashes). */
Test(listpack_format, strings_and_backlen_thresholds) {
    buf_t e = {0};
    /* 63 bytes: 6-bit; l = 64. */
    PUT(&e, 0xBF);
    put_fill(&e, 63);
    PUT(&e, 0x40);
    /* 64 bytes: 12-bit; l = 66. */
    PUT(&e, 0xE0, 0x40);
    put_fill(&e, 64);
    PUT(&e, 0x42);
    /* 125 bytes: l = 127, the last 1-byte back-length. */
    PUT(&e, 0xE0, 0x7D);
    put_fill(&e, 125);
    PUT(&e, 0x7F);
    /* 126 bytes: l = 128, the first 2-byte back-length: 0x01 0x80. */
    PUT(&e, 0xE0, 0x7E);
    put_fill(&e, 126);
    PUT(&e, 0x01, 0x80);
    /* 200 bytes: l = 202 = 1 * 128 + 74: 0x01 0xCA. */
    PUT(&e, 0xE0, 0xC8);
    put_fill(&e, 200);
    PUT(&e, 0x01, 0xCA);
    /* 4095 bytes: 12-bit max; l = 4097 = 32 * 128 + 1: 0x20 0x81. */
    PUT(&e, 0xEF, 0xFF);
    put_fill(&e, 4095);
    PUT(&e, 0x20, 0x81);
    /* 4096 bytes: 32-bit length (little-endian); l = 4101: 0x20 0x85. */
    PUT(&e, 0xF0, 0x00, 0x10, 0x00, 0x00);
    put_fill(&e, 4096);
    PUT(&e, 0x20, 0x85);
    /* 16377 bytes: l = 16382, the last 2-byte back-length: 0x7F 0xFE. */
    PUT(&e, 0xF0, 0xF9, 0x3F, 0x00, 0x00);
    put_fill(&e, 16377);
    PUT(&e, 0x7F, 0xFE);
    /* 16378 bytes: l = 16383, Redis's first 3-byte back-length:
     * 0x00 0xFF 0xFF. */
    PUT(&e, 0xF0, 0xFA, 0x3F, 0x00, 0x00);
    put_fill(&e, 16378);
    PUT(&e, 0x00, 0xFF, 0xFF);
    /* 16379 bytes: l = 16384 = 1 * 16384: 0x01 0x80 0x80. */
    PUT(&e, 0xF0, 0xFB, 0x3F, 0x00, 0x00);
    put_fill(&e, 16379);
    PUT(&e, 0x01, 0x80, 0x80);
    want_t w[] = {
        {true, 0, 63, NULL},    {true, 0, 64, NULL},    {true, 0, 125, NULL},
        {true, 0, 126, NULL},   {true, 0, 200, NULL},   {true, 0, 4095, NULL},
        {true, 0, 4096, NULL},  {true, 0, 16377, NULL}, {true, 0, 16378, NULL},
        {true, 0, 16379, NULL},
    };
    int n = (int)(sizeof(w) / sizeof(w[0]));
    unsigned char *lp = finish(&e, (unsigned)n);
    check_listpack(lp, w, n);
    free(lp);
}

/* The 3/4-byte boundary: l = 2097150 takes 3 bytes, l = 2097151 already 4
 * (0x00 0xFF 0xFF 0xFF). (The 4/5-byte one at 268435455 would need a 256 MB
 * string; it follows the same rule in the same function.) */
Test(listpack_format, backlen_four_bytes) {
    buf_t e = {0};
    size_t s1 = 2097150 - 5, s2 = 2097151 - 5;
    PUT(&e, 0xF0, (unsigned char)s1, (unsigned char)(s1 >> 8), (unsigned char)(s1 >> 16), 0x00);
    put_fill(&e, s1);
    PUT(&e, 0x7F, 0xFF, 0xFE);
    PUT(&e, 0xF0, (unsigned char)s2, (unsigned char)(s2 >> 8), (unsigned char)(s2 >> 16), 0x00);
    put_fill(&e, s2);
    PUT(&e, 0x00, 0xFF, 0xFF, 0xFF);
    want_t w[] = {{true, 0, 2097145, NULL}, {true, 0, 2097146, NULL}};
    unsigned char *lp = finish(&e, 2);
    check_listpack(lp, w, 2);
    free(lp);
}

/* A count of 65535 means "unknown" in Redis too: lp_length walks. */
Test(listpack_format, saturated_count) {
    buf_t e = {0};
    for (int i = 0; i < 70000; i++)
        PUT(&e, (unsigned char)(i % 128), 0x01);
    unsigned char *lp = finish(&e, 65535);
    cr_assert_eq(lp_validate(lp, lp_bytes(lp)), 0);
    cr_assert_eq(lp_length(lp), 70000);
    free(lp);
}

/* The listpack inside DUMP of a hash written by redis-server 7.0.15 (HSET h
 * 0 0 1 127 2 128 ... 18 -9223372036854775808, rdbcompression off): fields
 * "0".."18" and one value at each integer encoding's limits. lp_append of
 * the same strings must give the same bytes. */
Test(listpack_format, bytes_from_redis_7_0) {
    static const char hex[] =
        "8c00000026000001000101017f010201c080020301cfff020401dfff020501d000020601f10010030701f1"
        "ffef030801f1ff7f030901f10080030a01f2008000040b01f2ffff7f040c01f2000080040d01f300008000"
        "050e01f3ffffff7f050f01f300000080051001f40000008000000000091101f4ffffffffffffff7f091201"
        "f4000000000000008009ff";
    static const char *vals[] = {"0",
                                 "127",
                                 "128",
                                 "4095",
                                 "-1",
                                 "-4096",
                                 "4096",
                                 "-4097",
                                 "32767",
                                 "-32768",
                                 "32768",
                                 "8388607",
                                 "-8388608",
                                 "8388608",
                                 "2147483647",
                                 "-2147483648",
                                 "2147483648",
                                 "9223372036854775807",
                                 "-9223372036854775808"};
    size_t n = (sizeof(hex) - 1) / 2;
    unsigned char *redis = malloc(n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        cr_assert_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        redis[i] = (unsigned char)v;
    }
    cr_assert_eq(lp_validate(redis, n), 0);
    unsigned char *lp = lp_new(0);
    char f[8];
    for (int i = 0; i < 19; i++) {
        int l = snprintf(f, sizeof(f), "%d", i);
        lp = lp_append(lp, (const unsigned char *)f, (size_t)l);
        lp = lp_append(lp, (const unsigned char *)vals[i], strlen(vals[i]));
    }
    cr_assert_eq(lp_bytes(lp), n);
    cr_assert(memcmp(lp, redis, n) == 0);
    lp_free(lp);
    free(redis);
}
