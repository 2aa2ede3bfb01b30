/* SHA-1 (FIPS 180-4) with a streaming interface: DEBUG DIGEST's building
 * block and, later, the script cache's SHA1 names (EVALSHA, SCRIPT LOAD).
 * SHA-1 is not used here for security, only to reproduce Redis's values.
 *
 * Pure module, no globals. Thread: any (a context belongs to its caller). */
#ifndef KL_SHA1_H
#define KL_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define KL_SHA1_LEN 20

typedef struct kl_sha1 {
    uint32_t h[5];
    uint64_t total;        /* bytes hashed so far */
    unsigned char blk[64]; /* the partial block */
    size_t used;           /* bytes of blk filled */
} kl_sha1_t;

/* Starts a new hash in ctx. Thread: any. */
void kl_sha1_init(kl_sha1_t *ctx);
/* Hashes len more bytes of p (any length, any number of calls). Thread: any. */
void kl_sha1_update(kl_sha1_t *ctx, const void *p, size_t len);
/* Pads, writes the 20-byte digest to out and leaves ctx unusable until the
 * next kl_sha1_init. Thread: any. */
void kl_sha1_final(kl_sha1_t *ctx, unsigned char out[KL_SHA1_LEN]);
/* One-shot convenience: the digest of p[0..len). Thread: any. */
void kl_sha1(const void *p, size_t len, unsigned char out[KL_SHA1_LEN]);
/* The digest as 40 lower-case hex digits plus a NUL into out (41 bytes).
 * Thread: any. */
void kl_sha1_hex(const unsigned char digest[KL_SHA1_LEN], char out[2 * KL_SHA1_LEN + 1]);

#endif
