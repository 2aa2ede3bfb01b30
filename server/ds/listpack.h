/* listpack: a packed sequence of string-or-integer entries in one allocation,
 * the compact encoding behind small hashes and sorted sets and the nodes of a
 * quicklist (lists).
 *
 * Layout (the same idea as Redis's listpack, written from its published
 * description): a 6-byte header (total bytes u32, entry count u16, where the
 * count saturates at 65535 and is then recounted on demand), the entries, and
 * a 0xFF terminator. Each entry is an encoding byte with its payload followed
 * by a back-length (1..5 bytes, 7 bits per byte) so the sequence can be walked
 * in both directions. A string that is a canonical decimal integer (what
 * kl_str_to_ll accepts and prints back identically, at most 20 bytes) is stored
 * as an integer in 1..9 bytes; everything else as a length-prefixed string.
 *
 * Positions are `unsigned char *` pointers into the listpack; any call that
 * modifies a listpack may move it (the new pointer is returned) and invalidates
 * every position except the ones an API call explicitly hands back.
 *
 * Pure module: no I/O, no globals. Thread: any (a listpack is owned by one
 * thread, normally the executor).
 * STATUS: implemented and unit-tested. */
#ifndef KL_LISTPACK_H
#define KL_LISTPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An entry's value: either a string (sval != NULL, slen bytes, not
 * NUL-terminated) or an integer (sval == NULL, lval). */
typedef struct lp_entry {
    const unsigned char *sval;
    uint32_t slen;
    long long lval;
} lp_entry_t;

enum lp_where { LP_BEFORE = 0, LP_AFTER = 1, LP_REPLACE = 2 };

/* A new empty listpack (caller owns it; free with lp_free). */
unsigned char *lp_new(size_t capacity_hint);
void lp_free(unsigned char *lp);
unsigned char *lp_dup(const unsigned char *lp);
/* Total bytes of the listpack (header, entries, terminator). */
size_t lp_bytes(const unsigned char *lp);
/* Number of entries (O(1) below 65535 entries). */
unsigned long lp_length(unsigned char *lp);
/* Bytes the allocator really holds for it (kl_alloc_size). */
size_t lp_alloc_size(const unsigned char *lp);

/* Walking. Each returns NULL past either end. lp_seek takes a 0-based index,
 * negative counting from the end (-1 = last). */
unsigned char *lp_first(unsigned char *lp);
unsigned char *lp_last(unsigned char *lp);
unsigned char *lp_next(unsigned char *lp, unsigned char *p);
unsigned char *lp_prev(unsigned char *lp, unsigned char *p);
unsigned char *lp_seek(unsigned char *lp, long index);

/* Decode the entry at p. */
void lp_get(const unsigned char *p, lp_entry_t *out);
/* The entry's bytes: strings point into the listpack, integers are rendered
 * into buf (>= 21 bytes). */
const unsigned char *lp_get_bytes(const unsigned char *p, unsigned char *buf, size_t *len);
/* True if the entry at p equals the given bytes (string or integer compare,
 * as if the integer were rendered in decimal). */
bool lp_eq(const unsigned char *p, const unsigned char *s, size_t len);

/* Insert s (len bytes) relative to p (LP_BEFORE / LP_AFTER) or replace the
 * entry at p (LP_REPLACE); p must be an entry (use lp_append / lp_prepend
 * for the ends of an empty listpack). Returns the (possibly moved) listpack;
 * when newp is not NULL it receives the position of the inserted/replaced
 * entry. */
unsigned char *lp_insert(unsigned char *lp, const unsigned char *s, size_t len, unsigned char *p,
                         int where, unsigned char **newp);
unsigned char *lp_insert_int(unsigned char *lp, long long v, unsigned char *p, int where,
                             unsigned char **newp);
unsigned char *lp_append(unsigned char *lp, const unsigned char *s, size_t len);
unsigned char *lp_append_int(unsigned char *lp, long long v);
unsigned char *lp_prepend(unsigned char *lp, const unsigned char *s, size_t len);
unsigned char *lp_replace(unsigned char *lp, unsigned char **p, const unsigned char *s, size_t len);
unsigned char *lp_replace_int(unsigned char *lp, unsigned char **p, long long v);
/* Delete the entry at *p; *p becomes the entry that followed it (NULL if it
 * was the last). */
unsigned char *lp_delete(unsigned char *lp, unsigned char **p);
/* Delete num entries starting at *p / at index (negative from the end); num
 * is clipped at the end, an index out of range deletes nothing. *p becomes
 * the entry after the deleted range (NULL if none). */
unsigned char *lp_delete_range_at(unsigned char *lp, unsigned char **p, unsigned long num);
unsigned char *lp_delete_range(unsigned char *lp, long index, unsigned long num);

/* Find the first entry equal to s from p on, comparing only every (skip+1)th
 * entry (skip = 1 walks the fields of a field/value listpack). NULL if none. */
unsigned char *lp_find(unsigned char *lp, unsigned char *p, const unsigned char *s, size_t len,
                       unsigned skip);

/* Append all of b's entries to a (b is left untouched; the caller still owns
 * and frees it). Returns the (possibly moved) a. One copy, no re-encoding:
 * the quicklist merges shrunken nodes with it. */
unsigned char *lp_concat(unsigned char *a, const unsigned char *b);

/* Would adding `add` more bytes keep the listpack under the safe size Redis
 * uses for a single listpack (1 GB)? */
bool lp_safe_to_add(const unsigned char *lp, size_t add);

/* Validate a listpack's structure (for tests and DEBUG): 0 or -EINVAL. */
int lp_validate(const unsigned char *lp, size_t size);

#endif
