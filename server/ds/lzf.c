/* LZF coder: see lzf.h. Moved out of quicklist.c so that RDB strings share it. */
#include "lzf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define LZF_HLOG 13
#define LZF_MAX_OFF 8192
#define LZF_MAX_REF 264 /* 2 + 7 + 255 */
#define LZF_MAX_LIT 32

static inline uint32_t lzf_hash(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return (v * 2654435761u) >> (32 - LZF_HLOG);
}

static bool lzf_literals(const unsigned char *p, size_t n, unsigned char *out, size_t cap,
                         size_t *op) {
    while (n) {
        size_t chunk = n < LZF_MAX_LIT ? n : LZF_MAX_LIT;
        if (*op + 1 + chunk > cap) return false;
        out[(*op)++] = (unsigned char)(chunk - 1);
        memcpy(out + *op, p, chunk);
        *op += chunk;
        p += chunk;
        n -= chunk;
    }
    return true;
}

/* See lzf.h. Thread: any (the hash table is on the stack). */
size_t kl_lzf_compress(const unsigned char *in, size_t n, unsigned char *out, size_t cap) {
    uint32_t htab[1u << LZF_HLOG]; /* position + 1 of the last 3-byte sequence seen */
    size_t ip = 0, op = 0, lit = 0;
    if (n > UINT32_MAX - 1) return 0;
    memset(htab, 0, sizeof htab);
    while (ip + 2 < n) {
        uint32_t h = lzf_hash(in + ip);
        size_t ref = htab[h];
        htab[h] = (uint32_t)(ip + 1);
        if (ref) {
            ref--;
            size_t off = ip - ref - 1;
            if (off < LZF_MAX_OFF && in[ref] == in[ip] && in[ref + 1] == in[ip + 1] &&
                in[ref + 2] == in[ip + 2]) {
                size_t maxlen = n - ip < LZF_MAX_REF ? n - ip : LZF_MAX_REF;
                size_t len = 3;
                while (len < maxlen && in[ref + len] == in[ip + len])
                    len++;
                if (!lzf_literals(in + lit, ip - lit, out, cap, &op)) return 0;
                size_t l = len - 2;
                if (op + 3 > cap) return 0;
                if (l < 7) {
                    out[op++] = (unsigned char)((l << 5) | (off >> 8));
                } else {
                    out[op++] = (unsigned char)((7u << 5) | (off >> 8));
                    out[op++] = (unsigned char)(l - 7);
                }
                out[op++] = (unsigned char)off;
                /* Index the positions inside the match too: better ratios on
                 * the repetitive listpacks lists are made of. */
                size_t end = ip + len;
                for (ip++; ip < end && ip + 2 < n; ip++)
                    htab[lzf_hash(in + ip)] = (uint32_t)(ip + 1);
                ip = end;
                lit = ip;
                continue;
            }
        }
        ip++;
    }
    if (!lzf_literals(in + lit, n - lit, out, cap, &op)) return 0;
    return op;
}

/* See lzf.h. Thread: any. */
size_t kl_lzf_decompress(const unsigned char *in, size_t n, unsigned char *out, size_t cap) {
    size_t ip = 0, op = 0;
    while (ip < n) {
        unsigned ctrl = in[ip++];
        if (ctrl < 32) {
            size_t len = (size_t)ctrl + 1;
            if (len > n - ip || len > cap - op) return 0;
            memcpy(out + op, in + ip, len);
            ip += len;
            op += len;
        } else {
            size_t len = ctrl >> 5;
            if (len == 7) {
                if (ip >= n) return 0;
                len += in[ip++];
            }
            if (ip >= n) return 0;
            size_t off = ((size_t)(ctrl & 31) << 8) | in[ip++];
            len += 2;
            if (off + 1 > op || len > cap - op) return 0;
            unsigned char *dst = out + op;
            const unsigned char *src = dst - off - 1;
            for (size_t i = 0; i < len; i++) /* overlapping runs copy forwards */
                dst[i] = src[i];
            op += len;
        }
    }
    return op;
}

/* ---- liblzf's own choice of matches ------------------------------------------- */

/* liblzf 3.6 as Redis builds it: a 2^16-slot table hashed from 3 bytes
 * (VERY_FAST), one candidate per slot, position 0 never used as a match
 * source, the two positions before the end of each match re-indexed, and the
 * same conservative room checks. Reimplemented from that description over
 * indices instead of pointers. */
#define LIBLZF_HLOG 16
#define LIBLZF_HSIZE (1u << LIBLZF_HLOG)

static inline unsigned liblzf_idx(unsigned h) {
    return ((h >> (3 * 8 - LIBLZF_HLOG)) - h * 5) & (LIBLZF_HSIZE - 1);
}

/* See lzf.h. Thread: any (the table is thread-local). */
size_t kl_lzf_compress_liblzf(const unsigned char *in, size_t n, unsigned char *out, size_t cap) {
    /* position | generation << 32. An entry of another call (an older
     * generation) reads as empty, exactly as a cleared table would, without
     * clearing 512 KB per string (the table is reset only when the 32-bit
     * generation wraps). */
    static _Thread_local uint64_t htab[LIBLZF_HSIZE];
    static _Thread_local uint32_t gen;
    if (n < 3 || cap == 0 || n > UINT32_MAX) {
        /* Nothing to match: a literal run (liblzf's output for 1..2 bytes). */
        if (n == 0 || cap == 0 || n >= 3) return 0;
        if (1 + 3 > cap) return 0; /* liblzf: op + 3 > out_end at the tail */
        out[0] = (unsigned char)(n - 1);
        memcpy(out + 1, in, n);
        return 1 + n;
    }
    if (++gen == 0) {
        memset(htab, 0, sizeof htab);
        gen = 1;
    }
    const uint64_t tag = (uint64_t)gen << 32;
    size_t ip = 0, op = 1; /* out[op - lit - 1] is the open run's header */
    size_t lit = 0;
    unsigned hval = (unsigned)in[0] << 8 | in[1];
    while (ip + 2 < n) {
        hval = (hval << 8) | in[ip + 2];
        unsigned slot = liblzf_idx(hval);
        uint64_t e = htab[slot];
        size_t ref = (e & ~(uint64_t)UINT32_MAX) == tag ? (size_t)(uint32_t)e : 0;
        htab[slot] = tag | (uint32_t)ip;
        size_t off = ip - ref - 1;
        if (ref > 0 && off < LZF_MAX_OFF && in[ref + 2] == in[ip + 2] && in[ref] == in[ip] &&
            in[ref + 1] == in[ip + 1]) {
            size_t len = 2;
            size_t maxlen = n - ip - len;
            if (maxlen > LZF_MAX_REF) maxlen = LZF_MAX_REF;
            if (op + 3 + 1 >= cap && op - (lit == 0) + 3 + 1 >= cap) return 0;
            out[op - lit - 1] = (unsigned char)(lit - 1); /* close the run */
            op -= (lit == 0);                             /* an empty run is dropped */
            bool more = true;
            if (maxlen > 16) { /* liblzf's unrolled first 16 steps skip the maxlen test */
                for (int i = 0; i < 16; i++) {
                    len++;
                    if (in[ref + len] != in[ip + len]) {
                        more = false;
                        break;
                    }
                }
            }
            if (more) {
                do
                    len++;
                while (len < maxlen && in[ref + len] == in[ip + len]);
            }
            len -= 2;
            ip++;
            if (len < 7) {
                out[op++] = (unsigned char)((off >> 8) + (len << 5));
            } else {
                out[op++] = (unsigned char)((off >> 8) + (7u << 5));
                out[op++] = (unsigned char)(len - 7);
            }
            out[op++] = (unsigned char)off;
            lit = 0;
            op++; /* open a run */
            ip += len + 1;
            if (ip + 2 >= n) break;
            ip -= 2;
            hval = (unsigned)in[ip] << 8 | in[ip + 1];
            hval = (hval << 8) | in[ip + 2];
            htab[liblzf_idx(hval)] = tag | (uint32_t)ip;
            ip++;
            hval = (hval << 8) | in[ip + 2];
            htab[liblzf_idx(hval)] = tag | (uint32_t)ip;
            ip++;
        } else {
            if (op >= cap) return 0;
            lit++;
            out[op++] = in[ip++];
            if (lit == LZF_MAX_LIT) {
                out[op - lit - 1] = (unsigned char)(lit - 1);
                lit = 0;
                op++;
            }
        }
    }
    if (op + 3 > cap) return 0;
    while (ip < n) {
        lit++;
        out[op++] = in[ip++];
        if (lit == LZF_MAX_LIT) {
            out[op - lit - 1] = (unsigned char)(lit - 1);
            lit = 0;
            op++;
        }
    }
    out[op - lit - 1] = (unsigned char)(lit - 1);
    op -= (lit == 0);
    return op;
}
