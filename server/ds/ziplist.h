/* ziplist: read-only decoding of Redis's ziplist, the compact encoding that
 * RDB files from Redis 2.6 to 6.2 hold for small lists, hashes and sorted
 * sets (RDB_TYPE_*_ZIPLIST and the nodes of RDB_TYPE_LIST_QUICKLIST). keyloom
 * never keeps ziplists: the RDB loader validates one, converts it to a
 * listpack and frees the blob, as Redis 7.0 does.
 *
 * Layout (written from the format's published description):
 *   <zlbytes u32 LE> <zltail u32 LE> <zllen u16 LE> <entry>... <0xFF>
 * zlbytes is the blob's size, zltail the offset of the last entry (10 when
 * empty), zllen the entry count, saturated at 65535 ("count it"). An entry is
 *   <prevlen> <encoding> <data>
 * prevlen is the previous entry's total size (0 for the first): one byte
 * 0..253, or 0xFE followed by a u32 LE (Redis may keep the 5-byte form even
 * for a small value). Encodings: 00pppppp (string up to 63 bytes),
 * 01pppppp qqqqqqqq (14-bit length, big-endian), 10______ + u32 big-endian
 * length (the low six bits are ignored, as Redis does), 0xC0 int16, 0xD0
 * int32, 0xE0 int64, 0xF0 int24, 0xFE int8 (integers little-endian two's
 * complement), 0xF1..0xFD the immediate values 0..12. 0xFF at an entry start
 * is the terminator.
 *
 * Pure module: no I/O, no globals. Thread: any. */
#ifndef KL_ZIPLIST_H
#define KL_ZIPLIST_H

#include "listpack.h"

#include <stdbool.h>
#include <stddef.h>

/* Check that zl[0..size) is a well-formed ziplist: 0 or -EINVAL. Never reads
 * outside [zl, zl + size). Checks the header (size >= 11, zlbytes == size,
 * zltail at the last entry or at offset 10 when empty, zllen equal to the
 * count unless 65535), every entry's header and payload inside the blob, each
 * prevlen equal to the previous entry's size, and that the final byte is the
 * only terminator. *count (when not NULL) receives the number of entries.
 * Thread: any. */
int zl_validate(const unsigned char *zl, size_t size, unsigned long *count);

/* A cursor over a ziplist that zl_validate accepted (it checks nothing). */
typedef struct zl_iter {
    const unsigned char *p; /* the next entry, or the terminator */
} zl_iter_t;

/* Start at the first entry of the validated ziplist zl. Thread: any. */
void zl_iter_init(zl_iter_t *it, const unsigned char *zl);
/* Decode the next entry into *out and advance: true, or false at the end.
 * Strings point into the ziplist (sval/slen); integers come as sval == NULL
 * and lval. Thread: any. */
bool zl_iter_next(zl_iter_t *it, lp_entry_t *out);

/* Validate zl[0..size) and build a new listpack with the same entries in the
 * same order (integers appended as integers, strings as lp_append does, so a
 * string that is a canonical integer becomes one, like Redis's conversion).
 * Returns the listpack (caller owns it: lp_free) or NULL when the ziplist is
 * invalid or the listpack would pass the 1 GB single-listpack limit. The
 * ziplist is not modified or freed. Thread: any. */
unsigned char *zl_to_listpack(const unsigned char *zl, size_t size);

#endif
