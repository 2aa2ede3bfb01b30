/* LZF in the format of liblzf (the one Redis uses in RDB files and quicklist
 * nodes): literal runs of 1..32 bytes and back references of 3..264 bytes up
 * to 8 KB back. Written from the format's description. */
#ifndef KL_LZF_H
#define KL_LZF_H

#include <stddef.h>

/* LZF-compress in[0..n) into out[0..cap). Returns the compressed length, or 0
 * when it does not fit in cap. Thread: any (the hash table is on the stack). */
size_t kl_lzf_compress(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

/* Decompress in[0..n) into out[0..cap). Returns the length written, or 0 for
 * input that is corrupt or does not fit; never reads or writes out of bounds,
 * whatever the input. Thread: any. */
size_t kl_lzf_decompress(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

/* LZF-compress in[0..n) into out[0..cap) choosing exactly the matches
 * liblzf 3.6 (as built by Redis) chooses, so that the bytes equal those of
 * Redis's lzf_compress: RDB strings are then byte-identical to Redis's. Same
 * return convention as kl_lzf_compress, and liblzf's room checks, so that
 * "does not fit" is decided as Redis decides it. Thread: any. */
size_t kl_lzf_compress_liblzf(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

#endif
