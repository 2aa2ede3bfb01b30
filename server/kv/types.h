/* The payloads of the aggregate types, shared by the commands that work on
 * them (commands/t_*.c) and by persistence (persist/, which builds values
 * while it loads an RDB file or a RESTORE payload):
 *
 *  - list: a quicklist (quicklist.h);
 *  - hash: a listpack of field, value, ... or a dict whose entries hold the
 *    field as key and the value in their 64-bit value word (hval_*, below);
 *  - set: an intset or a keys-only dict of members;
 *  - sorted set: a listpack of member, score, ... or a zsl_set_t
 *    (zskiplist.h).
 *
 * object.c frees, copies and measures values through kv_type_free / _dup /
 * _mem. Pure code over ds/. Thread: executor (and the fork child, which only
 * reads). */
#ifndef KL_TYPES_H
#define KL_TYPES_H

#include "dict.h"

#include <stddef.h>
#include <stdint.h>

/* The dict type of hashtable hashes (values are hval words) and of
 * hashtable sets (keys only). */
extern const dict_type_t kv_hash_dict_type;
extern const dict_type_t kv_set_dict_type;

/* A hashtable hash value is one 64-bit word stored in the dict entry:
 *  - low bit 1: the value itself, inline. Bits 1..3 of the low byte hold the
 *    length (0..7), bytes 1..7 of the word the value bytes (byte i at bits
 *    8i..8i+7). Counters, flags and short strings never allocate.
 *  - low bit 0: a pointer (allocator alignment keeps the bit clear) to a
 *    length-prefixed block: one byte of length below 255, else 255 and a
 *    64-bit length; then the bytes (no NUL, nothing else).
 * The dict frees a non-NULL value word through its val_free, which ignores
 * inline words. */
#define HVAL_INLINE_MAX 7

/* A value word holding a copy of p[0..len). */
uint64_t hval_make(const char *p, size_t len);
/* The value's bytes: inline values are decoded into buf (>= 8 bytes). */
const char *hval_get(uint64_t w, char *buf, size_t *len);
/* Free a value word given as the dict value pointer (inline words own
 * nothing). */
void hval_free(void *ptr);
/* A deep copy of a value word. */
uint64_t hval_dup(uint64_t w);
/* Bytes allocated for the word (0 when inline). */
size_t hval_mem(uint64_t w);

/* How Redis 7.0 stores a sorted-set score in a listpack: as an integer when
 * the double is integral and within +/-LLONG_MAX/2 (its double2ll, so -0
 * becomes 0 and 1e17 is stored as 100000000000000000), else as d2string's
 * text. Writes into buf (KL_DSTR_SIZE bytes) and returns the length. */
int kv_zset_score_str(char *buf, size_t cap, double score);

/* Free, deep-copy and measure (bytes owned, not counting the kobj_t) the
 * payload p of a value of the given type (OBJ_*) and encoding (ENC_*). */
void kv_type_free(int type, int enc, void *p);
void *kv_type_dup(int type, int enc, const void *p);
size_t kv_type_mem(int type, int enc, const void *p);

#endif
