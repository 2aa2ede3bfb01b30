/* ziplist: validation, iteration and conversion to a listpack (see ziplist.h
 * for the layout). Everything here reads untrusted bytes from RDB files, so
 * every read is preceded by a check against the bytes left before the
 * terminator, computed with offsets (never pointers past the end). */
#include "ziplist.h"

#include <errno.h>
#include <stdint.h>

#define ZL_HDR 10
#define ZL_END 0xFF
#define ZL_BIGPREV 0xFE
#define ZL_COUNT_UNKNOWN 65535u

/* Integer encodings (the whole first byte). */
#define ZL_INT16 0xC0
#define ZL_INT32 0xD0
#define ZL_INT64 0xE0
#define ZL_INT24 0xF0
#define ZL_INT8 0xFE
#define ZL_IMM_MIN 0xF1
#define ZL_IMM_MAX 0xFD

static inline uint32_t rd_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint32_t rd_u32be(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* n little-endian bytes as a two's complement integer of n * 8 bits. */
static inline long long rd_int_le(const unsigned char *p, unsigned n) {
    uint64_t u = 0;
    for (unsigned i = 0; i < n; i++)
        u |= (uint64_t)p[i] << (8 * i);
    if (n < 8) {
        uint64_t sign = 1ull << (8 * n - 1);
        u = (u ^ sign) - sign; /* sign-extend; wraps modulo 2^64 */
    }
    return (long long)u;
}

/* One decoded entry header. */
typedef struct zl_ent {
    uint32_t prevlen;     /* what the entry says the previous one measures */
    unsigned prevlensize; /* 1 or 5 */
    unsigned char enc;    /* the first encoding byte */
    unsigned lensize;     /* bytes of the encoding field: 1, 2 or 5 */
    uint64_t len;         /* payload bytes */
} zl_ent_t;

/* Payload bytes of an integer encoding, or -1 when b is no valid one. */
static inline int int_payload(unsigned char b) {
    switch (b) {
    case ZL_INT16:
        return 2;
    case ZL_INT32:
        return 4;
    case ZL_INT64:
        return 8;
    case ZL_INT24:
        return 3;
    case ZL_INT8:
        return 1;
    default:
        return b >= ZL_IMM_MIN && b <= ZL_IMM_MAX ? 0 : -1;
    }
}

/* Decode the header of the entry at p, of which at most avail bytes (up to
 * the terminator) may be read; the whole entry must fit in avail. p[0] must
 * not be the terminator. Returns false when the entry is malformed. */
static bool ent_parse(const unsigned char *p, size_t avail, zl_ent_t *e) {
    if (avail < 2) return false; /* prevlen + at least one encoding byte */
    if (p[0] < ZL_BIGPREV) {
        e->prevlen = p[0];
        e->prevlensize = 1;
    } else if (p[0] == ZL_BIGPREV) {
        if (avail < 6) return false;
        e->prevlen = rd_u32le(p + 1);
        e->prevlensize = 5;
    } else {
        return false;
    }
    const unsigned char *q = p + e->prevlensize;
    size_t left = avail - e->prevlensize; /* >= 1 */
    unsigned char b = q[0];
    e->enc = b;
    switch (b >> 6) {
    case 0:
        e->lensize = 1;
        e->len = b & 0x3F;
        break;
    case 1:
        if (left < 2) return false;
        e->lensize = 2;
        e->len = ((uint64_t)(b & 0x3F) << 8) | q[1];
        break;
    case 2:
        if (left < 5) return false;
        e->lensize = 5;
        e->len = rd_u32be(q + 1);
        break;
    default: {
        int n = int_payload(b);
        if (n < 0) return false;
        e->lensize = 1;
        e->len = (uint64_t)n;
        break;
    }
    }
    return e->lensize + e->len <= left;
}

/* Total bytes of a parsed entry. */
static inline size_t ent_size(const zl_ent_t *e) {
    return e->prevlensize + e->lensize + (size_t)e->len;
}

/* The value of a parsed entry whose first byte is at p. */
static void ent_value(const unsigned char *p, const zl_ent_t *e, lp_entry_t *out) {
    const unsigned char *data = p + e->prevlensize + e->lensize;
    if (e->enc < 0xC0) {
        out->sval = data;
        out->slen = (uint32_t)e->len;
        out->lval = 0;
        return;
    }
    out->sval = NULL;
    out->slen = 0;
    if (e->enc >= ZL_IMM_MIN && e->enc <= ZL_IMM_MAX)
        out->lval = (long long)(e->enc & 0x0F) - 1;
    else
        out->lval = rd_int_le(data, (unsigned)e->len);
}

/* Walk and check the whole ziplist; see ziplist.h. */
int zl_validate(const unsigned char *zl, size_t size, unsigned long *count) {
    if (!zl || size < ZL_HDR + 1) return -EINVAL;
    if (rd_u32le(zl) != size) return -EINVAL;
    if (zl[size - 1] != ZL_END) return -EINVAL;
    uint32_t tail = rd_u32le(zl + 4);
    unsigned zllen = (unsigned)zl[8] | (unsigned)zl[9] << 8;
    size_t off = ZL_HDR, last = ZL_HDR, prev_size = 0, end = size - 1;
    unsigned long n = 0;
    /* Bounded: every entry is at least 2 bytes and off only grows. */
    while (zl[off] != ZL_END) {
        zl_ent_t e = {0};
        if (!ent_parse(zl + off, end - off, &e)) return -EINVAL;
        if (e.prevlen != prev_size) return -EINVAL;
        last = off;
        prev_size = ent_size(&e);
        off += prev_size; /* <= end: ent_parse checked the entry fits */
        n++;
    }
    if (off != end) return -EINVAL; /* a 0xFF before the real terminator */
    if (tail != last) return -EINVAL;
    if (zllen != ZL_COUNT_UNKNOWN && zllen != n) return -EINVAL;
    if (count) *count = n;
    return 0;
}

/* Position the cursor on the first entry. */
void zl_iter_init(zl_iter_t *it, const unsigned char *zl) {
    it->p = zl + ZL_HDR;
}

/* Decode and step over one entry of a validated ziplist. */
bool zl_iter_next(zl_iter_t *it, lp_entry_t *out) {
    zl_ent_t e = {0};
    if (it->p[0] == ZL_END) return false;
    /* Validated: the entry fits, so any bound that admits it will do. */
    (void)ent_parse(it->p, SIZE_MAX, &e);
    ent_value(it->p, &e, out);
    it->p += ent_size(&e);
    return true;
}

/* Validate, then copy every entry into a new listpack. */
unsigned char *zl_to_listpack(const unsigned char *zl, size_t size) {
    if (zl_validate(zl, size, NULL)) return NULL;
    unsigned char *lp = lp_new(0);
    zl_iter_t it;
    lp_entry_t v;
    zl_iter_init(&it, zl);
    while (zl_iter_next(&it, &v)) {
        /* An entry costs at most its payload plus 10 bytes of encoding and
         * back-length. */
        if (!lp_safe_to_add(lp, (size_t)v.slen + 10)) {
            lp_free(lp);
            return NULL;
        }
        if (v.sval)
            lp = lp_append(lp, v.sval, v.slen);
        else
            lp = lp_append_int(lp, v.lval);
    }
    return lp;
}
