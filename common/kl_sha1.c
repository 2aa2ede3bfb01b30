/* SHA-1 as FIPS 180-4 section 6.1 describes it: 512-bit blocks, an 80-word
 * message schedule kept in a 16-word ring, four rounds of 20 steps. */
#include "kl_sha1.h"

#include <string.h>

static inline uint32_t rol32(uint32_t x, unsigned n) {
    return (x << n) | (x >> (32 - n));
}

static inline uint32_t load_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void sha1_block(uint32_t h[5], const unsigned char *blk) {
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = load_be32(blk + 4 * i);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t wt;
        if (t < 16) {
            wt = w[t];
        } else {
            /* W[t] = ROTL1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]), in place. */
            wt = rol32(w[(t + 13) & 15] ^ w[(t + 8) & 15] ^ w[(t + 2) & 15] ^ w[t & 15], 1);
            w[t & 15] = wt;
        }
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999u;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1u;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6u;
        }
        uint32_t tmp = rol32(a, 5) + f + e + k + wt;
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void kl_sha1_init(kl_sha1_t *ctx) {
    ctx->h[0] = 0x67452301u;
    ctx->h[1] = 0xEFCDAB89u;
    ctx->h[2] = 0x98BADCFEu;
    ctx->h[3] = 0x10325476u;
    ctx->h[4] = 0xC3D2E1F0u;
    ctx->total = 0;
    ctx->used = 0;
}

void kl_sha1_update(kl_sha1_t *ctx, const void *p, size_t len) {
    const unsigned char *s = p;
    ctx->total += len;
    if (ctx->used) {
        size_t take = 64 - ctx->used;
        if (take > len) take = len;
        memcpy(ctx->blk + ctx->used, s, take);
        ctx->used += take;
        s += take;
        len -= take;
        if (ctx->used < 64) return;
        sha1_block(ctx->h, ctx->blk);
        ctx->used = 0;
    }
    while (len >= 64) {
        sha1_block(ctx->h, s);
        s += 64;
        len -= 64;
    }
    if (len) {
        memcpy(ctx->blk, s, len);
        ctx->used = len;
    }
}

void kl_sha1_final(kl_sha1_t *ctx, unsigned char out[KL_SHA1_LEN]) {
    uint64_t bits = ctx->total * 8;
    /* 0x80, zeros up to 56 mod 64, then the message length in bits (big endian). */
    ctx->blk[ctx->used++] = 0x80;
    if (ctx->used > 56) {
        memset(ctx->blk + ctx->used, 0, 64 - ctx->used);
        sha1_block(ctx->h, ctx->blk);
        ctx->used = 0;
    }
    memset(ctx->blk + ctx->used, 0, 56 - ctx->used);
    for (int i = 0; i < 8; i++)
        ctx->blk[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_block(ctx->h, ctx->blk);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(ctx->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(ctx->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(ctx->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)ctx->h[i];
    }
    memset(ctx, 0, sizeof(*ctx));
}

void kl_sha1(const void *p, size_t len, unsigned char out[KL_SHA1_LEN]) {
    kl_sha1_t ctx;
    kl_sha1_init(&ctx);
    kl_sha1_update(&ctx, p, len);
    kl_sha1_final(&ctx, out);
}

void kl_sha1_hex(const unsigned char digest[KL_SHA1_LEN], char out[2 * KL_SHA1_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < KL_SHA1_LEN; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * KL_SHA1_LEN] = '\0';
}
