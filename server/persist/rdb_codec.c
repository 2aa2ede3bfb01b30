/* The RDB value codec: see rdb_codec.h. Written from the RDB format as Redis
 * 7.0 writes it (rdbSaveLen, rdbSaveRawString, rdbSaveDoubleValue ...). */
#include "rdb_codec.h"

#include "kl_alloc.h"
#include "kl_util.h"
#include "lzf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LZF expands at most 88 times (a 3-byte back reference gives 264 bytes): a
 * declared raw length above this is garbage, and is refused before any
 * allocation. */
#define LZF_MAX_EXPANSION 88

/* ---- writing ---------------------------------------------------------------- */

/* See rdb_codec.h. Thread: the owner's. */
void rdb_buf_free(rdb_buf_t *w) {
    kl_free(w->b);
    w->b = NULL;
    w->len = w->cap = 0;
}

static void buf_reserve(rdb_buf_t *w, size_t n) {
    if (w->cap - w->len >= n) return;
    size_t cap = w->cap ? w->cap : 64;
    while (cap - w->len < n)
        cap *= 2;
    w->b = kl_realloc(w->b, cap);
    w->cap = cap;
}

/* See rdb_codec.h. Thread: the owner's. */
void rdb_put_raw(rdb_buf_t *w, const void *p, size_t n) {
    if (n == 0) return;
    buf_reserve(w, n);
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

/* See rdb_codec.h. Thread: the owner's. */
void rdb_put_u8(rdb_buf_t *w, uint8_t v) {
    rdb_put_raw(w, &v, 1);
}

static void put_le(rdb_buf_t *w, uint64_t v, int bytes) {
    unsigned char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    rdb_put_raw(w, b, (size_t)bytes);
}

static void put_be(rdb_buf_t *w, uint64_t v, int bytes) {
    unsigned char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    rdb_put_raw(w, b, (size_t)bytes);
}

/* See rdb_codec.h. Thread: the owner's. */
void rdb_put_len(rdb_buf_t *w, uint64_t len) {
    if (len < (1 << 6)) {
        rdb_put_u8(w, (uint8_t)(len | (RDB_6BITLEN << 6)));
    } else if (len < (1 << 14)) {
        rdb_put_u8(w, (uint8_t)((len >> 8) | (RDB_14BITLEN << 6)));
        rdb_put_u8(w, (uint8_t)(len & 0xff));
    } else if (len <= UINT32_MAX) {
        rdb_put_u8(w, RDB_32BITLEN);
        put_be(w, len, 4);
    } else {
        rdb_put_u8(w, RDB_64BITLEN);
        put_be(w, len, 8);
    }
}

/* The INT8/16/32 form of v, in enc[0..return); 0 when v needs more than 32 bits. */
static size_t encode_int(long long v, unsigned char enc[5]) {
    if (v >= INT8_MIN && v <= INT8_MAX) {
        enc[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT8;
        enc[1] = (unsigned char)(v & 0xff);
        return 2;
    }
    if (v >= INT16_MIN && v <= INT16_MAX) {
        enc[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT16;
        enc[1] = (unsigned char)(v & 0xff);
        enc[2] = (unsigned char)((v >> 8) & 0xff);
        return 3;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        enc[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT32;
        for (int i = 0; i < 4; i++)
            enc[1 + i] = (unsigned char)((v >> (8 * i)) & 0xff);
        return 5;
    }
    return 0;
}

/* The integer form of s when s is the canonical decimal text of an integer
 * in int32 range (no sign '+', no leading zeros or spaces, not "-0"). */
static size_t try_int_encoding(const unsigned char *s, size_t n, unsigned char enc[5]) {
    long long v;
    char text[32];
    if (n == 0 || n > 11) return 0;
    if (kl_str_to_ll((const char *)s, n, &v) != 0) return 0;
    int tl = snprintf(text, sizeof text, "%lld", v);
    if (tl < 0 || (size_t)tl != n || memcmp(text, s, n) != 0) return 0;
    return encode_int(v, enc);
}

/* See rdb_codec.h. Thread: the owner's. */
void rdb_put_string(rdb_buf_t *w, const void *s, size_t n, bool compress) {
    unsigned char enc[5];
    size_t el = try_int_encoding(s, n, enc);
    if (el) {
        rdb_put_raw(w, enc, el);
        return;
    }
    if (compress && n > RDB_LZF_MIN_LEN) {
        /* At least 4 bytes saved, or not worth it (rdbSaveLzfStringObject). */
        size_t cap = n - 4;
        unsigned char *out = kl_malloc(cap);
        size_t clen = kl_lzf_compress_liblzf(s, n, out, cap);
        if (clen) {
            rdb_put_u8(w, (RDB_ENCVAL << 6) | RDB_ENC_LZF);
            rdb_put_len(w, clen);
            rdb_put_len(w, n);
            rdb_put_raw(w, out, clen);
            kl_free(out);
            return;
        }
        kl_free(out);
    }
    rdb_put_len(w, n);
    rdb_put_raw(w, s, n);
}

/* See rdb_codec.h. Thread: the owner's. */
void rdb_put_ll(rdb_buf_t *w, long long v) {
    unsigned char enc[5];
    size_t el = encode_int(v, enc);
    if (el) {
        rdb_put_raw(w, enc, el);
        return;
    }
    char text[32];
    int tl = snprintf(text, sizeof text, "%lld", v);
    rdb_put_len(w, (uint64_t)tl);
    rdb_put_raw(w, text, (size_t)tl);
}

/* See rdb_codec.h. Thread: the owner's. */
void rdb_put_double_bin(rdb_buf_t *w, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_le(w, bits, 8);
}

/* See rdb_codec.h. Thread: the owner's. */
void rdb_put_double_str(rdb_buf_t *w, double v) {
    char buf[128];
    int len;
    if (isnan(v)) {
        rdb_put_u8(w, 253);
        return;
    }
    if (isinf(v)) {
        rdb_put_u8(w, v < 0 ? 255 : 254);
        return;
    }
    if (v > -4503599627370495.0 && v < 4503599627370496.0 && v == (double)(long long)v)
        len = snprintf(buf, sizeof buf, "%lld", (long long)v);
    else
        len = snprintf(buf, sizeof buf, "%.17g", v);
    rdb_put_u8(w, (uint8_t)len);
    rdb_put_raw(w, buf, (size_t)len);
}

/* See rdb_codec.h. Thread: the owner's. */
void rdb_put_ms(rdb_buf_t *w, int64_t ms) {
    put_le(w, (uint64_t)ms, 8);
}

/* ---- reading ---------------------------------------------------------------- */

/* See rdb_codec.h. Thread: any. */
void rdb_reader_init(rdb_reader_t *r, const void *p, size_t len) {
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->short_read = false;
    r->need = 0;
}

/* A read of n bytes at the current position did not fit: remember it. */
static int ran_short(rdb_reader_t *r, uint64_t n) {
    uint64_t end = n > (uint64_t)(SIZE_MAX - r->pos) ? SIZE_MAX : r->pos + (size_t)n;
    r->short_read = true;
    if (end > r->need) r->need = (size_t)end;
    return RDB_ERR_TRUNC;
}

/* See rdb_codec.h. Thread: the owner's. */
size_t rdb_remaining(const rdb_reader_t *r) {
    return r->len - r->pos;
}

/* See rdb_codec.h. Thread: the owner's. */
int rdb_get_raw(rdb_reader_t *r, size_t n, const unsigned char **out) {
    if (n > rdb_remaining(r)) return ran_short(r, n);
    *out = r->p + r->pos;
    r->pos += n;
    return RDB_OK;
}

/* See rdb_codec.h. Thread: the owner's. */
int rdb_get_u8(rdb_reader_t *r, uint8_t *v) {
    const unsigned char *p;
    int rc = rdb_get_raw(r, 1, &p);
    if (rc == RDB_OK) *v = p[0];
    return rc;
}

static int get_le(rdb_reader_t *r, int bytes, uint64_t *v) {
    const unsigned char *p;
    int rc = rdb_get_raw(r, (size_t)bytes, &p);
    if (rc != RDB_OK) return rc;
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x |= (uint64_t)p[i] << (8 * i);
    *v = x;
    return RDB_OK;
}

static int get_be(rdb_reader_t *r, int bytes, uint64_t *v) {
    const unsigned char *p;
    int rc = rdb_get_raw(r, (size_t)bytes, &p);
    if (rc != RDB_OK) return rc;
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x = (x << 8) | p[i];
    *v = x;
    return RDB_OK;
}

/* See rdb_codec.h. Thread: the owner's. */
int rdb_get_len(rdb_reader_t *r, uint64_t *len, bool *encoded) {
    uint8_t b;
    int rc = rdb_get_u8(r, &b);
    if (rc != RDB_OK) return rc;
    if (encoded) *encoded = false;
    switch (b >> 6) {
    case RDB_6BITLEN:
        *len = b & 0x3f;
        return RDB_OK;
    case RDB_14BITLEN: {
        uint8_t lo;
        if ((rc = rdb_get_u8(r, &lo)) != RDB_OK) return rc;
        *len = ((uint64_t)(b & 0x3f) << 8) | lo;
        return RDB_OK;
    }
    case RDB_ENCVAL:
        if (!encoded) return RDB_ERR_CORRUPT;
        *encoded = true;
        *len = b & 0x3f;
        return RDB_OK;
    default:
        if (b == RDB_32BITLEN) return get_be(r, 4, len);
        if (b == RDB_64BITLEN) return get_be(r, 8, len);
        return RDB_ERR_CORRUPT;
    }
}

static unsigned char *text_of_ll(long long v, size_t *n) {
    char text[32];
    int tl = snprintf(text, sizeof text, "%lld", v);
    unsigned char *s = kl_malloc((size_t)tl + 1);
    memcpy(s, text, (size_t)tl + 1);
    *n = (size_t)tl;
    return s;
}

static int get_lzf(rdb_reader_t *r, unsigned char **out, size_t *n) {
    uint64_t clen, len;
    const unsigned char *c;
    int rc;
    if ((rc = rdb_get_len(r, &clen, NULL)) != RDB_OK) return rc;
    if ((rc = rdb_get_len(r, &len, NULL)) != RDB_OK) return rc;
    if (clen > rdb_remaining(r)) return ran_short(r, clen);
    if ((rc = rdb_get_raw(r, (size_t)clen, &c)) != RDB_OK) return rc;
    if (clen == 0 || len / LZF_MAX_EXPANSION > clen) return RDB_ERR_CORRUPT;
    unsigned char *s = kl_malloc((size_t)len + 1);
    if (len > 0 && kl_lzf_decompress(c, (size_t)clen, s, (size_t)len) != len) {
        kl_free(s);
        return RDB_ERR_CORRUPT;
    }
    s[len] = '\0';
    *out = s;
    *n = (size_t)len;
    return RDB_OK;
}

/* See rdb_codec.h. Thread: the owner's. */
int rdb_get_string(rdb_reader_t *r, unsigned char **out, size_t *n) {
    uint64_t len, v;
    bool encoded;
    int rc = rdb_get_len(r, &len, &encoded);
    if (rc != RDB_OK) return rc;
    if (encoded) {
        switch (len) {
        case RDB_ENC_INT8:
            if ((rc = get_le(r, 1, &v)) != RDB_OK) return rc;
            *out = text_of_ll((int8_t)v, n);
            return RDB_OK;
        case RDB_ENC_INT16:
            if ((rc = get_le(r, 2, &v)) != RDB_OK) return rc;
            *out = text_of_ll((int16_t)v, n);
            return RDB_OK;
        case RDB_ENC_INT32:
            if ((rc = get_le(r, 4, &v)) != RDB_OK) return rc;
            *out = text_of_ll((int32_t)v, n);
            return RDB_OK;
        case RDB_ENC_LZF:
            return get_lzf(r, out, n);
        default:
            return RDB_ERR_CORRUPT;
        }
    }
    const unsigned char *p;
    if (len > rdb_remaining(r)) return ran_short(r, len);
    if ((rc = rdb_get_raw(r, (size_t)len, &p)) != RDB_OK) return rc;
    unsigned char *s = kl_malloc((size_t)len + 1);
    if (len) memcpy(s, p, (size_t)len);
    s[len] = '\0';
    *out = s;
    *n = (size_t)len;
    return RDB_OK;
}

/* See rdb_codec.h. Thread: the owner's. */
int rdb_get_double_bin(rdb_reader_t *r, double *v) {
    uint64_t bits;
    int rc = get_le(r, 8, &bits);
    if (rc == RDB_OK) memcpy(v, &bits, sizeof *v);
    return rc;
}

/* See rdb_codec.h. Thread: the owner's. */
int rdb_get_double_str(rdb_reader_t *r, double *v) {
    uint8_t len;
    int rc = rdb_get_u8(r, &len);
    if (rc != RDB_OK) return rc;
    switch (len) {
    case 255:
        *v = -INFINITY;
        return RDB_OK;
    case 254:
        *v = INFINITY;
        return RDB_OK;
    case 253:
        *v = NAN;
        return RDB_OK;
    default:
        break;
    }
    const unsigned char *p;
    if ((rc = rdb_get_raw(r, len, &p)) != RDB_OK) return rc;
    char buf[256];
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (len == 0 || end == buf) return RDB_ERR_CORRUPT;
    *v = d;
    return RDB_OK;
}

/* See rdb_codec.h. Thread: the owner's. */
int rdb_get_ms(rdb_reader_t *r, int64_t *ms) {
    uint64_t v;
    int rc = get_le(r, 8, &v);
    if (rc == RDB_OK) *ms = (int64_t)v;
    return rc;
}

/* See rdb_codec.h. Thread: the owner's. */
int rdb_get_seconds(rdb_reader_t *r, int32_t *s) {
    uint64_t v;
    int rc = get_le(r, 4, &v);
    if (rc == RDB_OK) *s = (int32_t)(uint32_t)v;
    return rc;
}
