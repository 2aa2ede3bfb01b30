/* listpack: see listpack.h for the layout and the position rules.
 *
 * Entry encodings (first byte of an entry; integers are two's complement,
 * multi-byte payloads little endian):
 *   0xxxxxxx                 7-bit unsigned integer (0..127), 1 byte
 *   10LLLLLL <L bytes>       string of 0..63 bytes
 *   110xxxxx xxxxxxxx        13-bit signed integer
 *   1110LLLL LLLLLLLL <L>    string of 64..4095 bytes
 *   11110000 <u32 len> <L>   longer string
 *   11110001 <2 bytes>       16-bit integer
 *   11110010 <3 bytes>       24-bit integer
 *   11110011 <4 bytes>       32-bit integer
 *   11110100 <8 bytes>       64-bit integer
 *   11111111                 end of the listpack (never an entry)
 * After the encoding and payload comes the back-length: the byte count of
 * encoding + payload in 1..5 bytes of 7 bits. Read right to left, the last
 * byte holds the lowest 7 bits and every byte but the leftmost has its high
 * bit set ("more to the left"), so lp_prev can decode it backwards.
 *
 * No entry's encoding depends on its neighbours, so inserts and deletes are
 * one memmove and never cascade. The listpack is reallocated to its exact
 * size on every change: jemalloc's size classes already amortise growth, and
 * an exact fit keeps memory per element at (or below) Redis's. */
#include "listpack.h"

#include "kl_alloc.h"
#include "kl_util.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#define LP_HDR 6
#define LP_EOF 0xFF
#define LP_COUNT_UNKNOWN 65535u
#define LP_SAFE_LIMIT (1ul << 30)
#define LP_MAX_TOTAL 0xFFFFFFFFul

/* ---- header --------------------------------------------------------------- */

static inline uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void wr_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static inline unsigned hdr_count(const unsigned char *lp) {
    return (unsigned)lp[4] | (unsigned)lp[5] << 8;
}
static inline void hdr_set_count(unsigned char *lp, unsigned v) {
    lp[4] = (unsigned char)v;
    lp[5] = (unsigned char)(v >> 8);
}
static inline void hdr_set_total(unsigned char *lp, size_t v) {
    wr_u32(lp, (uint32_t)v);
}

/* Adjust the stored count by delta, keeping "unknown" sticky. */
static inline void hdr_add_count(unsigned char *lp, long delta) {
    unsigned c = hdr_count(lp);
    if (c == LP_COUNT_UNKNOWN) return;
    long n = (long)c + delta;
    if (n >= (long)LP_COUNT_UNKNOWN) n = LP_COUNT_UNKNOWN;
    assert(n >= 0);
    hdr_set_count(lp, (unsigned)n);
}

/* ---- back-length ------------------------------------------------------------ */

/* Bytes of the back-length for an entry of l bytes. The thresholds are
 * Redis's, one below the powers of 128 (16383 = 2^14 - 1 already takes 3
 * bytes although 2 would hold it): Redis computes where an entry ends from
 * them, so any other choice makes listpacks that Redis refuses and misreads
 * Redis's own. */
static inline unsigned bl_size(uint64_t l) {
    if (l < 128) return 1;
    if (l < 16383) return 2;
    if (l < 2097151) return 3;
    if (l < 268435455) return 4;
    return 5;
}

static inline void bl_write(unsigned char *p, uint64_t l, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        unsigned char b = (unsigned char)((l >> (7 * i)) & 127);
        if (i < n - 1) b |= 128;
        p[n - 1 - i] = b;
    }
}

/* Decode the back-length whose last byte is at q (reading leftwards). */
static inline uint64_t bl_read(const unsigned char *q) {
    uint64_t v = 0;
    unsigned shift = 0;
    for (int i = 0; i < 5; i++) {
        v |= (uint64_t)(q[-i] & 127) << shift;
        if (!(q[-i] & 128)) break;
        shift += 7;
    }
    return v;
}

/* ---- entry decoding ----------------------------------------------------------- */

/* Bytes of encoding + payload of the entry at p (not the back-length). */
static inline uint64_t enc_len(const unsigned char *p) {
    unsigned char b = p[0];
    if (b < 0x80) return 1;
    if (b < 0xC0) return 1 + (uint64_t)(b & 0x3F);
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 2 + (((uint64_t)(b & 0x0F) << 8) | p[1]);
    switch (b) {
    case 0xF0:
        return 5 + (uint64_t)rd_u32(p + 1);
    case 0xF1:
        return 3;
    case 0xF2:
        return 4;
    case 0xF3:
        return 5;
    case 0xF4:
        return 9;
    default:
        return 0; /* EOF or invalid */
    }
}

static inline uint64_t entry_size(const unsigned char *p) {
    uint64_t l = enc_len(p);
    return l + bl_size(l);
}

static inline long long sign_extend(uint64_t u, unsigned bits) {
    uint64_t m = 1ull << (bits - 1);
    u &= (bits == 64) ? ~0ull : ((1ull << bits) - 1);
    return (long long)((u ^ m) - m);
}

static inline uint64_t rd_le(const unsigned char *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Decode: returns true for a string (sets *s, *slen), false for an integer. */
static inline bool entry_decode(const unsigned char *p, const unsigned char **s, uint32_t *slen,
                                long long *v) {
    unsigned char b = p[0];
    if (b < 0x80) {
        *v = b;
        return false;
    }
    if (b < 0xC0) {
        *s = p + 1;
        *slen = b & 0x3F;
        return true;
    }
    if (b < 0xE0) {
        *v = sign_extend(((uint64_t)(b & 0x1F) << 8) | p[1], 13);
        return false;
    }
    if (b < 0xF0) {
        *s = p + 2;
        *slen = ((uint32_t)(b & 0x0F) << 8) | p[1];
        return true;
    }
    switch (b) {
    case 0xF0:
        *s = p + 5;
        *slen = rd_u32(p + 1);
        return true;
    case 0xF1:
        *v = sign_extend(rd_le(p + 1, 2), 16);
        return false;
    case 0xF2:
        *v = sign_extend(rd_le(p + 1, 3), 24);
        return false;
    case 0xF3:
        *v = sign_extend(rd_le(p + 1, 4), 32);
        return false;
    default:
        *v = sign_extend(rd_le(p + 1, 8), 64);
        return false;
    }
}

/* ---- entry encoding ------------------------------------------------------------- */

/* A new entry: hdr holds the encoding byte(s) and, for integers, the payload;
 * str/slen the string payload (if any). */
typedef struct enc {
    unsigned char hdr[9];
    unsigned hdrlen;
    const unsigned char *str;
    uint32_t slen;
} enc_t;

static void enc_int(enc_t *e, long long v) {
    unsigned n;
    e->str = NULL;
    e->slen = 0;
    if (v >= 0 && v <= 127) {
        e->hdr[0] = (unsigned char)v;
        e->hdrlen = 1;
        return;
    }
    if (v >= -4096 && v <= 4095) {
        uint64_t u = (uint64_t)v & 0x1FFF;
        e->hdr[0] = (unsigned char)(0xC0 | (u >> 8));
        e->hdr[1] = (unsigned char)u;
        e->hdrlen = 2;
        return;
    }
    if (v >= -32768 && v <= 32767) {
        e->hdr[0] = 0xF1;
        n = 2;
    } else if (v >= -8388608 && v <= 8388607) {
        e->hdr[0] = 0xF2;
        n = 3;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        e->hdr[0] = 0xF3;
        n = 4;
    } else {
        e->hdr[0] = 0xF4;
        n = 8;
    }
    uint64_t u = (uint64_t)v;
    for (unsigned i = 0; i < n; i++)
        e->hdr[1 + i] = (unsigned char)(u >> (8 * i));
    e->hdrlen = 1 + n;
}

/* Strings that are canonical integers are stored as integers. */
static void enc_str(enc_t *e, const unsigned char *s, size_t len) {
    long long v;
    if (len > 0 && len <= 20 && kl_str_to_ll((const char *)s, len, &v) == 0) {
        enc_int(e, v);
        return;
    }
    assert(len <= UINT32_MAX);
    e->str = s;
    e->slen = (uint32_t)len;
    if (len < 64) {
        e->hdr[0] = (unsigned char)(0x80 | len);
        e->hdrlen = 1;
    } else if (len < 4096) {
        e->hdr[0] = (unsigned char)(0xE0 | (len >> 8));
        e->hdr[1] = (unsigned char)len;
        e->hdrlen = 2;
    } else {
        e->hdr[0] = 0xF0;
        wr_u32(e->hdr + 1, (uint32_t)len);
        e->hdrlen = 5;
    }
}

static inline uint64_t enc_total(const enc_t *e) {
    uint64_t l = e->hdrlen + (uint64_t)e->slen;
    return l + bl_size(l);
}

static void enc_write(unsigned char *dst, const enc_t *e) {
    uint64_t l = e->hdrlen + (uint64_t)e->slen;
    memcpy(dst, e->hdr, e->hdrlen);
    if (e->slen) memcpy(dst + e->hdrlen, e->str, e->slen);
    bl_write(dst + l, l, bl_size(l));
}

/* ---- core edit ------------------------------------------------------------------ */

/* Replace old_len bytes at offset off with the entry e (or with nothing when
 * e is NULL); count_delta adjusts the entry count. Returns the moved lp. */
static unsigned char *lp_splice(unsigned char *lp, size_t off, size_t old_len, const enc_t *e,
                                long count_delta) {
    size_t total = lp_bytes(lp);
    size_t new_len = e ? (size_t)enc_total(e) : 0;
    size_t newtotal = total - old_len + new_len;
    size_t tail = total - off - old_len;
    unsigned char *own = NULL;
    enc_t moved;
    if (newtotal > LP_MAX_TOTAL) {
        /* Callers guard with lp_safe_to_add; a 4 GB listpack is a bug. */
        assert(!"listpack over 4 GB");
        return lp;
    }
    if (e && e->slen && (uintptr_t)e->str >= (uintptr_t)lp &&
        (uintptr_t)e->str < (uintptr_t)lp + total) {
        /* The new value lives inside this listpack: copy it before moving. */
        moved = *e;
        moved.str = own = kl_memdup(e->str, e->slen);
        e = &moved;
    }
    if (new_len > old_len) {
        lp = kl_realloc(lp, newtotal);
        memmove(lp + off + new_len, lp + off + old_len, tail);
    } else if (new_len < old_len) {
        memmove(lp + off + new_len, lp + off + old_len, tail);
        lp = kl_realloc(lp, newtotal);
    }
    if (e) enc_write(lp + off, e);
    kl_free(own);
    hdr_set_total(lp, newtotal);
    hdr_add_count(lp, count_delta);
    return lp;
}

static unsigned char *lp_insert_enc(unsigned char *lp, const enc_t *e, unsigned char *p, int where,
                                    unsigned char **newp) {
    size_t off = (size_t)(p - lp), old_len = 0;
    long delta = 1;
    assert(p[0] != LP_EOF || where == LP_BEFORE);
    if (where == LP_AFTER) {
        off += (size_t)entry_size(p);
    } else if (where == LP_REPLACE) {
        old_len = (size_t)entry_size(p);
        delta = 0;
    }
    lp = lp_splice(lp, off, old_len, e, delta);
    if (newp) *newp = lp + off;
    return lp;
}

/* ---- public API -------------------------------------------------------------------- */

/* A new empty listpack with room for capacity_hint bytes. Caller owns it. */
unsigned char *lp_new(size_t capacity_hint) {
    size_t cap = capacity_hint < LP_HDR + 1 ? LP_HDR + 1 : capacity_hint;
    unsigned char *lp = kl_malloc(cap);
    hdr_set_total(lp, LP_HDR + 1);
    hdr_set_count(lp, 0);
    lp[LP_HDR] = LP_EOF;
    return lp;
}

/* Free a listpack (NULL is fine). */
void lp_free(unsigned char *lp) {
    kl_free(lp);
}

/* An exact copy (caller owns it). */
unsigned char *lp_dup(const unsigned char *lp) {
    return kl_memdup(lp, lp_bytes(lp));
}

/* Total bytes including header and terminator. */
size_t lp_bytes(const unsigned char *lp) {
    return rd_u32(lp);
}

/* Entry count; recounts (and caches when it fits) once the header saturates. */
unsigned long lp_length(unsigned char *lp) {
    unsigned c = hdr_count(lp);
    if (c != LP_COUNT_UNKNOWN) return c;
    unsigned long n = 0;
    for (unsigned char *p = lp + LP_HDR; *p != LP_EOF; p += entry_size(p))
        n++;
    if (n < LP_COUNT_UNKNOWN) hdr_set_count(lp, (unsigned)n);
    return n;
}

/* Allocator bytes held by the listpack. */
size_t lp_alloc_size(const unsigned char *lp) {
    return kl_alloc_size((void *)lp);
}

/* First entry or NULL when empty. */
unsigned char *lp_first(unsigned char *lp) {
    unsigned char *p = lp + LP_HDR;
    return *p == LP_EOF ? NULL : p;
}

/* Last entry or NULL when empty. */
unsigned char *lp_last(unsigned char *lp) {
    unsigned char *eof = lp + lp_bytes(lp) - 1;
    return lp_prev(lp, eof);
}

/* Entry after p, or NULL when p is the last one. */
unsigned char *lp_next(unsigned char *lp, unsigned char *p) {
    (void)lp;
    if (!p || *p == LP_EOF) return NULL;
    p += entry_size(p);
    return *p == LP_EOF ? NULL : p;
}

/* Entry before p (p may also be the terminator), or NULL when p is first. */
unsigned char *lp_prev(unsigned char *lp, unsigned char *p) {
    if (!p || p <= lp + LP_HDR) return NULL;
    uint64_t l = bl_read(p - 1);
    return p - bl_size(l) - l;
}

/* Entry at a 0-based index (negative from the end), NULL when out of range.
 * Walks from whichever end is nearer. */
unsigned char *lp_seek(unsigned char *lp, long index) {
    unsigned long n = lp_length(lp);
    if (index < 0) {
        if ((unsigned long)(-(index + 1)) >= n) return NULL;
        index = (long)n + index;
    }
    if ((unsigned long)index >= n) return NULL;
    unsigned char *p;
    if ((unsigned long)index <= n / 2) {
        p = lp + LP_HDR;
        for (long i = 0; i < index; i++)
            p += entry_size(p);
    } else {
        p = lp_last(lp);
        for (unsigned long i = n - 1; i > (unsigned long)index; i--)
            p = lp_prev(lp, p);
    }
    return p;
}

/* Decode the entry at p into out. */
void lp_get(const unsigned char *p, lp_entry_t *out) {
    const unsigned char *s = NULL;
    uint32_t slen = 0;
    long long v = 0;
    if (entry_decode(p, &s, &slen, &v)) {
        out->sval = s;
        out->slen = slen;
        out->lval = 0;
    } else {
        out->sval = NULL;
        out->slen = 0;
        out->lval = v;
    }
}

/* The entry's bytes; integers rendered into buf (>= 21 bytes). */
const unsigned char *lp_get_bytes(const unsigned char *p, unsigned char *buf, size_t *len) {
    const unsigned char *s;
    uint32_t slen;
    long long v;
    if (entry_decode(p, &s, &slen, &v)) {
        *len = slen;
        return s;
    }
    *len = (size_t)kl_ll_to_str((char *)buf, KL_LLSTR_SIZE, v);
    return buf;
}

/* The comparison target of lp_eq / lp_find, parsed once. */
typedef struct cmp_key {
    const unsigned char *s;
    size_t len;
    bool is_int;
    long long v;
} cmp_key_t;

static inline void cmp_key_init(cmp_key_t *k, const unsigned char *s, size_t len) {
    k->s = s;
    k->len = len;
    k->is_int = len > 0 && len <= 20 && kl_str_to_ll((const char *)s, len, &k->v) == 0;
}

static inline bool cmp_key_eq(const unsigned char *p, const cmp_key_t *k) {
    const unsigned char *s;
    uint32_t slen;
    long long v;
    if (entry_decode(p, &s, &slen, &v))
        return slen == k->len && (slen == 0 || memcmp(s, k->s, slen) == 0);
    return k->is_int && k->v == v;
}

/* Compare the entry at p with s (integers as their decimal text). */
bool lp_eq(const unsigned char *p, const unsigned char *s, size_t len) {
    cmp_key_t k;
    cmp_key_init(&k, s, len);
    return cmp_key_eq(p, &k);
}

/* Insert or replace relative to entry p; see listpack.h. */
unsigned char *lp_insert(unsigned char *lp, const unsigned char *s, size_t len, unsigned char *p,
                         int where, unsigned char **newp) {
    enc_t e;
    enc_str(&e, s, len);
    return lp_insert_enc(lp, &e, p, where, newp);
}

/* Integer flavour of lp_insert. */
unsigned char *lp_insert_int(unsigned char *lp, long long v, unsigned char *p, int where,
                             unsigned char **newp) {
    enc_t e;
    enc_int(&e, v);
    return lp_insert_enc(lp, &e, p, where, newp);
}

/* Add s at the tail. */
unsigned char *lp_append(unsigned char *lp, const unsigned char *s, size_t len) {
    enc_t e;
    enc_str(&e, s, len);
    return lp_splice(lp, lp_bytes(lp) - 1, 0, &e, 1);
}

/* Add an integer at the tail. */
unsigned char *lp_append_int(unsigned char *lp, long long v) {
    enc_t e;
    enc_int(&e, v);
    return lp_splice(lp, lp_bytes(lp) - 1, 0, &e, 1);
}

/* Add s at the head. */
unsigned char *lp_prepend(unsigned char *lp, const unsigned char *s, size_t len) {
    enc_t e;
    enc_str(&e, s, len);
    return lp_splice(lp, LP_HDR, 0, &e, 1);
}

/* Replace the entry at *p with s; *p is updated to the new entry. */
unsigned char *lp_replace(unsigned char *lp, unsigned char **p, const unsigned char *s,
                          size_t len) {
    return lp_insert(lp, s, len, *p, LP_REPLACE, p);
}

/* Replace the entry at *p with v; *p is updated to the new entry. */
unsigned char *lp_replace_int(unsigned char *lp, unsigned char **p, long long v) {
    return lp_insert_int(lp, v, *p, LP_REPLACE, p);
}

/* Delete the entry at *p; *p becomes its successor or NULL. */
unsigned char *lp_delete(unsigned char *lp, unsigned char **p) {
    return lp_delete_range_at(lp, p, 1);
}

/* Delete up to num entries from *p on; *p becomes the entry after the range
 * or NULL. */
unsigned char *lp_delete_range_at(unsigned char *lp, unsigned char **p, unsigned long num) {
    unsigned char *start = *p, *q = start;
    unsigned long n = 0;
    while (n < num && *q != LP_EOF) {
        q += entry_size(q);
        n++;
    }
    size_t off = (size_t)(start - lp);
    lp = lp_splice(lp, off, (size_t)(q - start), NULL, -(long)n);
    *p = lp[off] == LP_EOF ? NULL : lp + off;
    return lp;
}

/* Delete up to num entries from index on (negative from the end); an index
 * out of range deletes nothing. */
unsigned char *lp_delete_range(unsigned char *lp, long index, unsigned long num) {
    unsigned char *p = lp_seek(lp, index);
    if (!p || num == 0) return lp;
    unsigned long n = lp_length(lp);
    unsigned long idx = index < 0 ? (unsigned long)((long)n + index) : (unsigned long)index;
    if (num >= n - idx) {
        /* Deleting through the end: truncate without walking. */
        size_t off = (size_t)(p - lp);
        size_t total = lp_bytes(lp);
        lp = lp_splice(lp, off, total - 1 - off, NULL, -(long)(n - idx));
        return lp;
    }
    return lp_delete_range_at(lp, &p, num);
}

/* First entry equal to s from p on, testing every (skip+1)th entry. */
unsigned char *lp_find(unsigned char *lp, unsigned char *p, const unsigned char *s, size_t len,
                       unsigned skip) {
    (void)lp;
    cmp_key_t k;
    if (!p) return NULL;
    cmp_key_init(&k, s, len);
    while (*p != LP_EOF) {
        if (cmp_key_eq(p, &k)) return p;
        p += entry_size(p);
        for (unsigned i = 0; i < skip && *p != LP_EOF; i++)
            p += entry_size(p);
    }
    return NULL;
}

/* Append b's entries to a with one copy. */
unsigned char *lp_concat(unsigned char *a, const unsigned char *b) {
    size_t ab = lp_bytes(a), bb = lp_bytes(b);
    unsigned ca = hdr_count(a), cb = hdr_count(b);
    if (bb == LP_HDR + 1) return a;
    assert(ab + bb - (LP_HDR + 1) <= LP_MAX_TOTAL);
    a = kl_realloc(a, ab + bb - (LP_HDR + 1));
    /* a's terminator is overwritten by b's entries; b's terminator ends it. */
    memcpy(a + ab - 1, b + LP_HDR, bb - LP_HDR);
    hdr_set_total(a, ab + bb - (LP_HDR + 1));
    if (ca == LP_COUNT_UNKNOWN || cb == LP_COUNT_UNKNOWN || ca + cb >= LP_COUNT_UNKNOWN)
        hdr_set_count(a, LP_COUNT_UNKNOWN);
    else
        hdr_set_count(a, ca + cb);
    return a;
}

/* True while the listpack stays under Redis's 1 GB single-listpack limit. */
bool lp_safe_to_add(const unsigned char *lp, size_t add) {
    size_t cur = lp ? lp_bytes(lp) : 0;
    return add <= LP_SAFE_LIMIT && cur + add <= LP_SAFE_LIMIT;
}

/* Check everything a corrupt or hostile buffer could get wrong; never reads
 * outside [lp, lp + size). */
int lp_validate(const unsigned char *lp, size_t size) {
    if (!lp || size < LP_HDR + 1) return -EINVAL;
    if (rd_u32(lp) != size) return -EINVAL;
    if (lp[size - 1] != LP_EOF) return -EINVAL;
    const unsigned char *p = lp + LP_HDR, *end = lp + size - 1;
    unsigned long n = 0;
    while (p < end) {
        size_t avail = (size_t)(end - p);
        unsigned char b = p[0];
        uint64_t l;
        if (b > 0xF4) return -EINVAL; /* the terminator or an unused encoding */
        /* The encoding header itself must fit before reading lengths. */
        size_t need = b < 0xC0 ? 1 : b < 0xF0 ? 2 : b == 0xF0 ? 5 : 1;
        if (need > avail) return -EINVAL;
        l = enc_len(p);
        if (l == 0 || l > avail) return -EINVAL;
        unsigned bl = bl_size(l);
        if (l + bl > avail) return -EINVAL;
        const unsigned char *last = p + l + bl - 1;
        /* The back-length must use exactly bl bytes and decode to l. */
        for (unsigned i = 0; i < bl; i++) {
            bool more = (last[-(long)i] & 128) != 0;
            if (more != (i < bl - 1)) return -EINVAL;
        }
        if (bl_read(last) != l) return -EINVAL;
        p += l + bl;
        n++;
    }
    if (p != end) return -EINVAL;
    unsigned c = hdr_count(lp);
    if (c != LP_COUNT_UNKNOWN && c != n) return -EINVAL;
    return 0;
}
