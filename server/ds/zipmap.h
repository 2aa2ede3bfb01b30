/* zipmap: read-only decoding of Redis's zipmap, the small-hash encoding of
 * Redis before 2.6 (RDB_TYPE_HASH_ZIPMAP). The RDB loader validates one and
 * converts it to a field/value listpack, as Redis 7.0 does.
 *
 * Layout (written from the format's published description):
 *   <zmlen> (<len> field <len> <free> value <free bytes>)... <0xFF>
 * zmlen is one byte: the pair count when below 254, otherwise only a hint
 * (the pairs must be counted). A <len> is one byte 0..253, or 254 followed by
 * a u32 in the writer's host order, read here as little-endian (the x86
 * hosts that wrote practically all of them; Redis itself just memcpy's it). <free> is one byte:
 * unused bytes that follow the value. 0xFF where a field's <len> would start ends the zipmap.
 *
 * Pure module: no I/O, no globals. Thread: any. */
#ifndef KL_ZIPMAP_H
#define KL_ZIPMAP_H

#include <stddef.h>

/* Check that zm[0..size) is a well-formed zipmap: 0 or -EINVAL. Never reads
 * outside [zm, zm + size). Invalid: a field without its value, a length or
 * payload past the end, bytes after the terminator, a zmlen below 254 that
 * differs from the pair count, and (as in Redis) an empty zipmap. *pairs
 * (when not NULL) receives the number of field/value pairs. Thread: any. */
int zipmap_validate(const unsigned char *zm, size_t size, unsigned long *pairs);

/* Validate zm[0..size) and build a new listpack holding field, value,
 * field, value... in the zipmap's order (strings that are canonical integers
 * are stored as integers, as lp_append does). Returns the listpack (caller
 * owns it: lp_free), or NULL when the zipmap is invalid, when a field occurs
 * twice (Redis refuses duplicate hash fields on load) or when the listpack
 * would pass the 1 GB single-listpack limit. Thread: any. */
unsigned char *zipmap_to_listpack(const unsigned char *zm, size_t size);

#endif
