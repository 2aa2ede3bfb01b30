/* Unit tests for common/kl_sha1.c: the FIPS 180 example vectors (one block,
 * two blocks, a million 'a'), the padding boundaries around 55/56/64 bytes,
 * and that any split of the input over kl_sha1_update gives the same digest. */
#include <criterion/criterion.h>

#include "kl_sha1.h"

#include <stdlib.h>
#include <string.h>

static const char *hex_of(const void *p, size_t len) {
    static char out[2 * KL_SHA1_LEN + 1];
    unsigned char d[KL_SHA1_LEN];
    kl_sha1(p, len, d);
    kl_sha1_hex(d, out);
    return out;
}

static const char *hex_of_str(const char *s) {
    return hex_of(s, strlen(s));
}

Test(sha1, fips_180_vectors) {
    cr_assert_str_eq(hex_of_str(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    cr_assert_str_eq(hex_of_str("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    cr_assert_str_eq(hex_of_str("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                     "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    cr_assert_str_eq(
        hex_of_str(
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
            "klmnopqrlmnopqrsmnopqrstnopqrstu"),
        "a49b2446a02c645bf419f995b67091253a04a259");
    cr_assert_str_eq(hex_of_str("The quick brown fox jumps over the lazy dog"),
                     "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
}

Test(sha1, million_a_streamed) {
    kl_sha1_t ctx;
    kl_sha1_init(&ctx);
    char chunk[1000];
    memset(chunk, 'a', sizeof(chunk));
    for (int i = 0; i < 1000; i++)
        kl_sha1_update(&ctx, chunk, sizeof(chunk));
    unsigned char d[KL_SHA1_LEN];
    char hex[2 * KL_SHA1_LEN + 1];
    kl_sha1_final(&ctx, d);
    kl_sha1_hex(d, hex);
    cr_assert_str_eq(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* Lengths where the padding needs one more block, or just fits. */
Test(sha1, padding_boundaries) {
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
        {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
    };
    char buf[128];
    memset(buf, 'a', sizeof(buf));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        cr_assert_str_eq(hex_of(buf, v[i].n), v[i].hex, "length %zu", v[i].n);
}

/* Every split point (and byte-at-a-time) gives the one-shot digest. */
Test(sha1, splits_agree) {
    unsigned char data[1280];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)i;
    cr_assert_str_eq(hex_of(data, sizeof(data)), "e37a04cb2353309f5cff4ee036cfb91a5e31cefd");
    unsigned char want[KL_SHA1_LEN], got[KL_SHA1_LEN];
    kl_sha1(data, 200, want);
    for (size_t cut = 0; cut <= 200; cut++) {
        kl_sha1_t ctx;
        kl_sha1_init(&ctx);
        kl_sha1_update(&ctx, data, cut);
        kl_sha1_update(&ctx, data + cut, 0);
        kl_sha1_update(&ctx, data + cut, 200 - cut);
        kl_sha1_final(&ctx, got);
        cr_assert(memcmp(want, got, KL_SHA1_LEN) == 0, "split at %zu", cut);
    }
    kl_sha1_t ctx;
    kl_sha1_init(&ctx);
    for (size_t i = 0; i < 200; i++)
        kl_sha1_update(&ctx, data + i, 1);
    kl_sha1_final(&ctx, got);
    cr_assert(memcmp(want, got, KL_SHA1_LEN) == 0);
}
