/* The RDB value codec: exact bytes at every encoding boundary, round trips,
 * and errors (never a read past the range) on truncated or garbage input. */
#include "kl_alloc.h"
#include "lzf.h"
#include "rdb_codec.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void assert_bytes(const rdb_buf_t *w, const unsigned char *want, size_t n) {
    cr_assert_eq(w->len, n, "len %zu, want %zu", w->len, n);
    cr_assert_eq(memcmp(w->b, want, n), 0);
}

/* Every proper prefix of what w holds must fail to decode with TRUNC, via a
 * heap copy of exactly that size (so ASan sees any read past the end). */
typedef int (*decode_fn)(rdb_reader_t *r);

static void assert_prefixes_truncated(const rdb_buf_t *w, decode_fn fn) {
    for (size_t cut = 0; cut < w->len; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, w->b, cut);
        rdb_reader_t r;
        rdb_reader_init(&r, copy, cut);
        int rc = fn(&r);
        cr_assert_eq(rc, RDB_ERR_TRUNC, "cut %zu of %zu: rc %d", cut, w->len, rc);
        free(copy);
    }
}

static int decode_len(rdb_reader_t *r) {
    uint64_t l;
    bool e;
    return rdb_get_len(r, &l, &e);
}

static int decode_string(rdb_reader_t *r) {
    unsigned char *s;
    size_t n;
    int rc = rdb_get_string(r, &s, &n);
    if (rc == RDB_OK) kl_free(s);
    return rc;
}

static int decode_dbin(rdb_reader_t *r) {
    double d;
    return rdb_get_double_bin(r, &d);
}

static int decode_dstr(rdb_reader_t *r) {
    double d;
    return rdb_get_double_str(r, &d);
}

static int decode_ms(rdb_reader_t *r) {
    int64_t v;
    return rdb_get_ms(r, &v);
}

/* ---- lengths ------------------------------------------------------------------ */

static void check_len(uint64_t len, const unsigned char *want, size_t wn) {
    rdb_buf_t w = {0};
    rdb_put_len(&w, len);
    assert_bytes(&w, want, wn);
    rdb_reader_t r;
    rdb_reader_init(&r, w.b, w.len);
    uint64_t got;
    bool enc = true;
    cr_assert_eq(rdb_get_len(&r, &got, &enc), RDB_OK);
    cr_assert_eq(got, len);
    cr_assert_not(enc);
    cr_assert_eq(rdb_remaining(&r), 0);
    assert_prefixes_truncated(&w, decode_len);
    rdb_buf_free(&w);
}

Test(rdb_len, boundaries) {
    check_len(0, (const unsigned char[]){0x00}, 1);
    check_len(63, (const unsigned char[]){0x3f}, 1);
    check_len(64, (const unsigned char[]){0x40, 0x40}, 2);
    check_len(300, (const unsigned char[]){0x41, 0x2c}, 2);
    check_len(16383, (const unsigned char[]){0x7f, 0xff}, 2);
    check_len(16384, (const unsigned char[]){0x80, 0x00, 0x00, 0x40, 0x00}, 5);
    check_len(UINT32_MAX, (const unsigned char[]){0x80, 0xff, 0xff, 0xff, 0xff}, 5);
    check_len((uint64_t)UINT32_MAX + 1, (const unsigned char[]){0x81, 0, 0, 0, 1, 0, 0, 0, 0}, 9);
    check_len(UINT64_MAX,
              (const unsigned char[]){0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9);
}

Test(rdb_len, encoded_flag_and_garbage) {
    rdb_reader_t r;
    uint64_t l;
    bool enc;
    const unsigned char e[] = {0xc3};
    rdb_reader_init(&r, e, 1);
    cr_assert_eq(rdb_get_len(&r, &l, &enc), RDB_OK);
    cr_assert(enc);
    cr_assert_eq(l, RDB_ENC_LZF);
    rdb_reader_init(&r, e, 1);
    cr_assert_eq(rdb_get_len(&r, &l, NULL), RDB_ERR_CORRUPT,
                 "an encoded value where a length must be");
    /* 0x82..0xbf: the 32/64-bit prefix family with no defined meaning. */
    for (unsigned b = 0x82; b < 0xc0; b++) {
        unsigned char g[9] = {(unsigned char)b};
        rdb_reader_init(&r, g, sizeof g);
        cr_assert_eq(rdb_get_len(&r, &l, &enc), RDB_ERR_CORRUPT, "byte %#x", b);
    }
}

/* ---- strings ------------------------------------------------------------------ */

static void roundtrip_string(const char *s, size_t n, bool compress, const unsigned char *want,
                             size_t wn) {
    rdb_buf_t w = {0};
    rdb_put_string(&w, s, n, compress);
    if (want) assert_bytes(&w, want, wn);
    rdb_reader_t r;
    rdb_reader_init(&r, w.b, w.len);
    unsigned char *got;
    size_t gn;
    cr_assert_eq(rdb_get_string(&r, &got, &gn), RDB_OK);
    cr_assert_eq(gn, n);
    cr_assert_eq(memcmp(got, s, n), 0);
    cr_assert_eq(got[gn], '\0');
    cr_assert_eq(rdb_remaining(&r), 0);
    kl_free(got);
    assert_prefixes_truncated(&w, decode_string);
    rdb_buf_free(&w);
}

#define RT(str, ...)                                                                               \
    roundtrip_string(str, strlen(str), true, (const unsigned char[]){__VA_ARGS__},                 \
                     sizeof((const unsigned char[]){__VA_ARGS__}))

Test(rdb_string, integer_encodings) {
    RT("0", 0xc0, 0x00);
    RT("-1", 0xc0, 0xff);
    RT("127", 0xc0, 0x7f);
    RT("-128", 0xc0, 0x80);
    RT("128", 0xc1, 0x80, 0x00);
    RT("-129", 0xc1, 0x7f, 0xff);
    RT("32767", 0xc1, 0xff, 0x7f);
    RT("-32768", 0xc1, 0x00, 0x80);
    RT("32768", 0xc2, 0x00, 0x80, 0x00, 0x00);
    RT("-32769", 0xc2, 0xff, 0x7f, 0xff, 0xff);
    RT("2147483647", 0xc2, 0xff, 0xff, 0xff, 0x7f);
    RT("-2147483648", 0xc2, 0x00, 0x00, 0x00, 0x80);
    /* Out of int32 range: raw text. */
    RT("2147483648", 0x0a, '2', '1', '4', '7', '4', '8', '3', '6', '4', '8');
    RT("-2147483649", 0x0b, '-', '2', '1', '4', '7', '4', '8', '3', '6', '4', '9');
}

Test(rdb_string, not_integers) {
    /* Texts that are not the canonical form of their value stay raw. */
    RT("0123", 0x04, '0', '1', '2', '3');
    RT(" 1", 0x02, ' ', '1');
    RT("1 ", 0x02, '1', ' ');
    RT("+1", 0x02, '+', '1');
    RT("-0", 0x02, '-', '0');
    RT("00", 0x02, '0', '0');
    RT("1.5", 0x03, '1', '.', '5');
    RT("-", 0x01, '-');
    RT("", 0x00);
    RT("12345678901", 0x0b, '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '1');
}

Test(rdb_string, raw_length_boundaries) {
    size_t sizes[] = {63, 64, 16383, 16384, 70000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        char *s = malloc(n);
        for (size_t j = 0; j < n; j++)
            s[j] = (char)('a' + (j * 7919 + j / 3) % 26); /* poorly compressible */
        rdb_buf_t w = {0};
        rdb_put_string(&w, s, n, false);
        size_t hdr = n < 64 ? 1 : n < 16384 ? 2 : 5;
        cr_assert_eq(w.len, hdr + n, "n=%zu", n);
        cr_assert_eq(memcmp(w.b + hdr, s, n), 0);
        rdb_buf_free(&w);
        roundtrip_string(s, n, false, NULL, 0);
        free(s);
    }
}

Test(rdb_string, lzf_only_when_it_pays) {
    /* 20 bytes, compressible: never compressed (Redis: only len > 20). */
    char s20[21];
    memset(s20, 'a', 20);
    s20[20] = 0;
    rdb_buf_t w = {0};
    rdb_put_string(&w, s20, 20, true);
    cr_assert_eq(w.b[0], 20);
    cr_assert_eq(w.len, 21);
    rdb_buf_free(&w);

    /* 21 bytes compressible: LZF, with the header clen then rawlen. */
    char s21[22];
    memset(s21, 'a', 21);
    s21[21] = 0;
    rdb_put_string(&w, s21, 21, true);
    cr_assert_eq(w.b[0], 0xc3);
    size_t clen = w.b[1];
    cr_assert_eq(w.b[2], 21);
    cr_assert_eq(w.len, 3 + clen);
    cr_assert_leq(clen, 21 - 4);
    unsigned char out[21];
    cr_assert_eq(kl_lzf_decompress(w.b + 3, clen, out, sizeof out), 21);
    cr_assert_eq(memcmp(out, s21, 21), 0);
    rdb_buf_free(&w);
    roundtrip_string(s21, 21, true, NULL, 0);

    /* Compression off: raw. */
    rdb_put_string(&w, s21, 21, false);
    cr_assert_eq(w.b[0], 21);
    rdb_buf_free(&w);

    /* Incompressible 100 bytes: raw even with compression on. */
    char rnd[100];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof rnd; i++) {
        x = x * 1103515245u + 12345u;
        rnd[i] = (char)(x >> 16);
    }
    rdb_put_string(&w, rnd, sizeof rnd, true);
    cr_assert_eq(w.b[0], 0x40, "%#x", w.b[0]); /* raw, 14-bit length 100 */
    cr_assert_eq(w.b[1], 100);
    cr_assert_eq(w.len, 102);
    cr_assert_eq(memcmp(w.b + 2, rnd, sizeof rnd), 0);
    rdb_buf_free(&w);

    /* Long compressible strings at the length boundaries round-trip. */
    size_t sizes[] = {64, 16384, 200000};
    for (size_t i = 0; i < 3; i++) {
        char *s = malloc(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            s[j] = "hello world "[j % 12];
        rdb_put_string(&w, s, sizes[i], true);
        cr_assert_eq(w.b[0], 0xc3);
        cr_assert_lt(w.len, sizes[i] < 1000 ? sizes[i] : sizes[i] / 4);
        rdb_buf_free(&w);
        roundtrip_string(s, sizes[i], true, NULL, 0);
        free(s);
    }
}

Test(rdb_string, put_ll) {
    rdb_buf_t w = {0};
    rdb_put_ll(&w, -5);
    assert_bytes(&w, (const unsigned char[]){0xc0, 0xfb}, 2);
    rdb_buf_free(&w);
    rdb_put_ll(&w, 4294967296LL);
    assert_bytes(
        &w, (const unsigned char[]){0x0a, '4', '2', '9', '4', '9', '6', '7', '2', '9', '6'}, 11);
    rdb_buf_free(&w);
}

static int decode_bytes(const unsigned char *in, size_t n) {
    unsigned char *copy = malloc(n ? n : 1);
    memcpy(copy, in, n);
    rdb_reader_t r;
    rdb_reader_init(&r, copy, n);
    int rc = decode_string(&r);
    free(copy);
    return rc;
}

Test(rdb_string, garbage) {
    /* Unknown special encodings. */
    for (unsigned e = 4; e < 64; e++)
        cr_assert_eq(
            decode_bytes((const unsigned char[]){(unsigned char)(0xc0 | e), 0, 0, 0, 0, 0}, 6),
            RDB_ERR_CORRUPT, "enc %u", e);
    /* A raw length far beyond the range: truncated, nothing allocated. */
    cr_assert_eq(
        decode_bytes((const unsigned char[]){0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                     9),
        RDB_ERR_TRUNC);
    /* LZF claiming a huge raw length from 2 bytes: refused before allocating. */
    cr_assert_eq(decode_bytes((const unsigned char[]){0xc3, 0x02, 0x81, 0x7f, 0xff, 0xff, 0xff,
                                                      0xff, 0xff, 0xff, 0xff, 0x00, 0x61},
                              13),
                 RDB_ERR_CORRUPT);
    /* LZF with a zero compressed length. */
    cr_assert_eq(decode_bytes((const unsigned char[]){0xc3, 0x00, 0x05}, 3), RDB_ERR_CORRUPT);
    /* LZF whose back reference points before the output. */
    cr_assert_eq(decode_bytes((const unsigned char[]){0xc3, 0x03, 0x05, 0x20, 0x00, 0x00}, 6),
                 RDB_ERR_CORRUPT);
    /* LZF that decompresses to fewer bytes than declared. */
    cr_assert_eq(decode_bytes((const unsigned char[]){0xc3, 0x02, 0x05, 0x00, 'a'}, 5),
                 RDB_ERR_CORRUPT);
    /* LZF that decompresses to more bytes than declared. */
    cr_assert_eq(decode_bytes((const unsigned char[]){0xc3, 0x03, 0x01, 0x01, 'a', 'b'}, 6),
                 RDB_ERR_CORRUPT);
    /* Valid LZF literal run. */
    cr_assert_eq(decode_bytes((const unsigned char[]){0xc3, 0x03, 0x02, 0x01, 'a', 'b'}, 6),
                 RDB_OK);
}

/* Random bytes into every decoder: each returns a code, none reads out of range. */
Test(rdb_fuzz, random_inputs_never_overrun) {
    unsigned x = 99;
    unsigned char buf[64];
    decode_fn fns[] = {decode_len, decode_string, decode_dbin, decode_dstr, decode_ms};
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(iter % 40);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (unsigned char)(x >> 16);
        }
        if (n && iter % 3 == 0) buf[0] = (unsigned char)(0xc0 | (buf[0] & 3)); /* encoded forms */
        for (size_t f = 0; f < sizeof fns / sizeof *fns; f++) {
            unsigned char *copy = malloc(n ? n : 1);
            memcpy(copy, buf, n);
            rdb_reader_t r;
            rdb_reader_init(&r, copy, n);
            int rc = fns[f](&r);
            cr_assert(rc == RDB_OK || rc == RDB_ERR_TRUNC || rc == RDB_ERR_CORRUPT);
            cr_assert_leq(r.pos, n);
            free(copy);
        }
    }
}

/* ---- doubles and times ---------------------------------------------------------- */

Test(rdb_double, binary) {
    double vals[] = {0.0, -0.0, 1.5, -3.25, 1e308, 5e-324, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        rdb_buf_t w = {0};
        rdb_put_double_bin(&w, vals[i]);
        cr_assert_eq(w.len, 8);
        rdb_reader_t r;
        rdb_reader_init(&r, w.b, w.len);
        double d;
        cr_assert_eq(rdb_get_double_bin(&r, &d), RDB_OK);
        cr_assert_eq(memcmp(&d, &vals[i], 8), 0);
        assert_prefixes_truncated(&w, decode_dbin);
        rdb_buf_free(&w);
    }
    rdb_buf_t w = {0};
    rdb_put_double_bin(&w, 1.5); /* 0x3ff8000000000000, little-endian */
    assert_bytes(&w, (const unsigned char[]){0, 0, 0, 0, 0, 0, 0xf8, 0x3f}, 8);
    rdb_buf_free(&w);
}

static void check_dstr(double v, const char *text) {
    rdb_buf_t w = {0};
    rdb_put_double_str(&w, v);
    size_t tl = strlen(text);
    cr_assert_eq(w.len, 1 + tl, "%s", text);
    cr_assert_eq(w.b[0], tl);
    cr_assert_eq(memcmp(w.b + 1, text, tl), 0, "%s", text);
    rdb_reader_t r;
    rdb_reader_init(&r, w.b, w.len);
    double d;
    cr_assert_eq(rdb_get_double_str(&r, &d), RDB_OK);
    cr_assert_eq(d, v);
    assert_prefixes_truncated(&w, decode_dstr);
    rdb_buf_free(&w);
}

Test(rdb_double, text_form) {
    check_dstr(0, "0");
    check_dstr(-17, "-17");
    check_dstr(1.5, "1.5");
    check_dstr(0.1, "0.10000000000000001");
    check_dstr(4503599627370495.0, "4503599627370495");
    check_dstr(4503599627370496.0, "4503599627370496");
    check_dstr(1e20, "1e+20");
    const double specials[] = {NAN, INFINITY, -INFINITY};
    const unsigned char bytes[] = {253, 254, 255};
    for (int i = 0; i < 3; i++) {
        rdb_buf_t w = {0};
        rdb_put_double_str(&w, specials[i]);
        assert_bytes(&w, &bytes[i], 1);
        rdb_reader_t r;
        rdb_reader_init(&r, w.b, w.len);
        double d;
        cr_assert_eq(rdb_get_double_str(&r, &d), RDB_OK);
        if (i == 0)
            cr_assert(isnan(d));
        else
            cr_assert_eq(d, specials[i]);
        rdb_buf_free(&w);
    }
    rdb_reader_t r;
    double d;
    rdb_reader_init(&r, (const unsigned char[]){3, 'x', 'y', 'z'}, 4);
    cr_assert_eq(rdb_get_double_str(&r, &d), RDB_ERR_CORRUPT);
    rdb_reader_init(&r, (const unsigned char[]){0}, 1);
    cr_assert_eq(rdb_get_double_str(&r, &d), RDB_ERR_CORRUPT);
}

Test(rdb_time, ms_and_seconds) {
    rdb_buf_t w = {0};
    rdb_put_ms(&w, 1700000000123LL);
    assert_bytes(&w, (const unsigned char[]){0x7b, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00}, 8);
    rdb_reader_t r;
    rdb_reader_init(&r, w.b, w.len);
    int64_t ms;
    cr_assert_eq(rdb_get_ms(&r, &ms), RDB_OK);
    cr_assert_eq(ms, 1700000000123LL);
    assert_prefixes_truncated(&w, decode_ms);
    rdb_buf_free(&w);
    rdb_put_ms(&w, -1);
    rdb_reader_init(&r, w.b, w.len);
    cr_assert_eq(rdb_get_ms(&r, &ms), RDB_OK);
    cr_assert_eq(ms, -1);
    rdb_buf_free(&w);
    int32_t s;
    rdb_reader_init(&r, (const unsigned char[]){0x00, 0xf1, 0x53, 0x65}, 4);
    cr_assert_eq(rdb_get_seconds(&r, &s), RDB_OK);
    cr_assert_eq(s, 0x6553f100);
    rdb_reader_init(&r, (const unsigned char[]){0x00, 0xf1, 0x53}, 3);
    cr_assert_eq(rdb_get_seconds(&r, &s), RDB_ERR_TRUNC);
}

Test(rdb_const, redis_7_0_values) {
    cr_assert_eq(RDB_VERSION, 10);
    cr_assert_eq(RDB_TYPE_ZSET_2, 5);
    cr_assert_eq(RDB_TYPE_SET_INTSET, 11);
    cr_assert_eq(RDB_TYPE_LIST_QUICKLIST_2, 18);
    cr_assert_eq(RDB_TYPE_STREAM_LISTPACKS_2, 19);
    cr_assert_eq(RDB_OPCODE_FUNCTION2, 245);
    cr_assert_eq(RDB_OPCODE_AUX, 250);
    cr_assert_eq(RDB_OPCODE_RESIZEDB, 251);
    cr_assert_eq(RDB_OPCODE_EXPIRETIME_MS, 252);
    cr_assert_eq(RDB_OPCODE_SELECTDB, 254);
    cr_assert_eq(RDB_OPCODE_EOF, 255);
}

/* ---- liblzf's match choice ------------------------------------------------------- */

/* Round trips through the decompressor for inputs of every shape, each into an
 * output buffer of exactly cap bytes (ASan sees any write past it), for every
 * cap from 0 to a fitting one: below the needed room the answer is 0. */
Test(lzf_liblzf, roundtrip_every_cap) {
    unsigned x = 7;
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 1 + (size_t)(iter * 37 % 700);
        unsigned char *in = malloc(n);
        int shape = iter % 4;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            in[i] = shape == 0   ? (unsigned char)(x >> 16)
                    : shape == 1 ? (unsigned char)('a' + (x >> 16) % 3)
                    : shape == 2 ? (unsigned char)"hello world "[i % 12]
                                 : (unsigned char)(i < n / 2 ? 'z' : (x >> 16));
        }
        size_t fit = 0;
        for (size_t cap = 0; cap <= n + n / 16 + 8; cap++) {
            unsigned char *out = malloc(cap ? cap : 1);
            size_t c = kl_lzf_compress_liblzf(in, n, out, cap);
            if (c) {
                cr_assert_leq(c, cap);
                unsigned char *back = malloc(n);
                cr_assert_eq(kl_lzf_decompress(out, c, back, n), n, "iter %d cap %zu", iter, cap);
                cr_assert_eq(memcmp(back, in, n), 0);
                free(back);
                if (!fit) fit = cap;
            } else {
                cr_assert_eq(fit, 0, "iter %d: fits in %zu but not in %zu", iter, fit, cap);
            }
            free(out);
            if (fit && cap > fit + 4) break;
        }
        cr_assert_neq(fit, 0, "iter %d n %zu never fits", iter, n);
        free(in);
    }
}
