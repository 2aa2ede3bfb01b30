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
