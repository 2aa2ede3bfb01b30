/* intset: a sorted array of distinct 64-bit integers in one allocation, the
 * compact encoding of small all-integer sets.
 *
 * Every element is stored with the same width, the narrowest of 16, 32 or 64
 * bits that holds all of them: 8 bytes of header (width, count) followed by
 * count * width bytes, so 512 small integers take 1 KB. Adding a value that
 * does not fit the current width upgrades the whole array in place (one
 * realloc and a back-to-front widening pass); an intset never narrows again.
 * Lookups are binary searches; insertions and removals move the tail with
 * memmove and resize the allocation to the exact new size, as Redis does, so
 * memory stays minimal (jemalloc makes most of those reallocs free).
 *
 * Functions that modify an intset may move it and return the new pointer;
 * the old one must not be used afterwards.
 *
 * Pure module: no I/O, no globals (the random helper uses kl_rand64's
 * per-thread state). Thread: any (an intset is owned by one thread, normally
 * the executor). */
#ifndef KL_INTSET_H
#define KL_INTSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct intset intset_t;

/* Widths in bytes (what intset_width() returns). */
enum { INTSET_W16 = 2, INTSET_W32 = 4, INTSET_W64 = 8 };

/* A new empty intset (16-bit width). The caller owns it: intset_free. */
intset_t *intset_new(void);
void intset_free(intset_t *is);
/* A deep copy (same width and elements), owned by the caller. */
intset_t *intset_dup(const intset_t *is);

/* Insert v. *added (when not NULL) is 1 if v was new, 0 if already present.
 * Returns the (possibly moved) intset. O(log n) search plus O(n) move. */
intset_t *intset_add(intset_t *is, int64_t v, int *added);
/* Remove v. *removed (when not NULL) is 1 if v was there, 0 otherwise.
 * Returns the (possibly moved) intset. */
intset_t *intset_remove(intset_t *is, int64_t v, int *removed);
/* Remove the element at position pos (< intset_len). Returns the intset. */
intset_t *intset_remove_at(intset_t *is, uint32_t pos);

/* 1 if v is an element, 0 otherwise. O(log n). */
int intset_find(const intset_t *is, int64_t v);
/* Number of elements. */
uint32_t intset_len(const intset_t *is);
/* Element width in bytes: INTSET_W16, INTSET_W32 or INTSET_W64. */
int intset_width(const intset_t *is);
/* The element at pos (0 = smallest). pos must be < intset_len. */
int64_t intset_get(const intset_t *is, uint32_t pos);
/* The element at pos into *out: returns 1, or 0 when pos is out of range. */
int intset_get_checked(const intset_t *is, uint32_t pos, int64_t *out);
/* Position of a uniformly random element (the intset must not be empty). */
uint32_t intset_random_pos(const intset_t *is);
/* A uniformly random element (the intset must not be empty). */
int64_t intset_random(const intset_t *is);

/* Bytes of the header and elements (what the allocation must hold). */
size_t intset_blob_len(const intset_t *is);
/* Bytes the allocator really holds for it (kl_alloc_size). */
size_t intset_alloc_size(const intset_t *is);
/* Check that p[0..size) is an intset blob as Redis serialises one (what an
 * RDB file's RDB_TYPE_SET_INTSET string holds): encoding u32 LE in {2, 4, 8},
 * length u32 LE, then length * encoding bytes of little-endian elements, with
 * size exactly 8 + length * encoding. deep also demands length > 0 and the
 * elements strictly ascending (Redis's intsetValidateIntegrity). Never reads
 * outside the blob. Returns 1 when valid, 0 otherwise. Thread: any. */
int intset_validate_blob(const void *p, size_t size, int deep);
/* A new intset holding a copy of the blob p[0..size), which the caller has
 * checked with intset_validate_blob. keyloom's intset keeps Redis's layout
 * (width, count, elements) in host order, so on a little-endian host this is
 * one memcpy; a big-endian host swaps each field. The caller owns the result
 * (intset_free). Thread: any. */
intset_t *intset_from_blob(const void *p, size_t size);
/* Self-check for tests: sorted strictly ascending, narrowest width not
 * exceeded by any element. Returns 1 when consistent. */
int intset_validate(const intset_t *is);

#endif
