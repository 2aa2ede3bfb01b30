/* Hash table for the keyspace and for the hash, set and sorted-set types.
 *
 * Keys are binary strings copied into the entry itself: one allocation per
 * entry holds the chain pointer, the key length, the key bytes followed by a
 * NUL (so a key can be handed to C string functions when it has no embedded
 * NULs) and then, unless the dict's type is keys_only, the value at the next
 * 8-byte aligned offset. Values are a small union: a pointer owned by the
 * dict's type (freed through type->val_free), or an inline integer or double.
 * Keys-only dicts (sets) store no value at all, 8 bytes less per entry.
 *
 * Tables are powers of two. Growing and shrinking use two tables and move
 * buckets incrementally: every lookup, insert and delete moves one bucket
 * while a resize is in progress, and the server cron may spend a time budget
 * on it with dict_rehash_for_us(). The table grows when it holds as many
 * entries as buckets (load factor 1) and shrinks only when asked
 * (dict_try_shrink(), fill below 10%), as Redis's cron does.
 *
 * Hashing is SipHash-1-3 with a 128-bit key drawn from getrandom() once per
 * process, so clients cannot precompute colliding keys (hash flooding).
 *
 * Thread: a dict is not thread-safe. Whichever thread owns it (the executor
 * for the keyspace and for values; a background thread once a dict has been
 * handed over for lazy freeing) is the only one that may call into it. The
 * hash function itself is thread-agnostic. */
#ifndef KL_DICT_H
#define KL_DICT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dict dict_t;
typedef struct dict_entry dict_entry_t;

/* Per-dict behaviour. The type must outlive every dict that uses it
 * (normally a static const). */
typedef struct dict_type {
    /* Called with val.ptr when an entry is deleted or the dict is emptied or
     * released; NULL means values are not owned (or are inline numbers).
     * It is not called for a NULL ptr. */
    void (*val_free)(void *ptr);
    /* Non-zero: the dict is a set of keys. Its entries are allocated without
     * the value word, so the value accessors (dict_entry_val, _set_val,
     * _get_s64, ...) must never be used on them (debug builds assert);
     * val_free must be NULL. */
    int keys_only;
} dict_type_t;

typedef union dict_val {
    void *ptr;
    int64_t s64;
    uint64_t u64;
    double d;
} dict_val_t;

/* Checking builds (asserts on, no optimisation) mark keys-only entries with
 * bit 31 of the key length so that the value accessors can assert; such
 * builds limit keys to 2^31 - 1 bytes, others to 2^32 - 1 (Redis limits keys
 * to 512 MB by default). */
#if !defined(NDEBUG) && !defined(__OPTIMIZE__)
#define DICT_CHECK_KEYS_ONLY 1
#define DICT__KEYS_ONLY_BIT 0x80000000u
#else
#define DICT_CHECK_KEYS_ONLY 0
#define DICT__KEYS_ONLY_BIT 0u
#endif

/* The entry layout is public only so that the accessors below can be inline;
 * treat the fields as private and go through the accessors. On LP64: 8 bytes
 * of chain pointer, 4 of key length, klen bytes of key and a NUL, then (only
 * for dicts that are not keys_only) padding to an 8-byte boundary and the
 * 8-byte value. */
struct dict_entry {
    dict_entry_t *next; /* bucket chain */
    uint32_t klen_bits; /* key length (| DICT__KEYS_ONLY_BIT, see above) */
    char key[];         /* klen bytes + '\0' [+ pad + dict_val_t] */
};

/* Offset of the value in an entry whose key is klen bytes long. */
#define DICT__VAL_OFF(klen) ((offsetof(dict_entry_t, key) + (size_t)(klen) + 1 + 7) & ~(size_t)7)

/* Creates an empty dict; no table is allocated until the first insert.
 * The caller owns the dict and releases it with dict_release(). */
dict_t *dict_create(const dict_type_t *type);

/* Frees every entry (calling type->val_free on non-NULL pointer values), the
 * tables and the dict itself. No iterator or scan may be in progress. */
void dict_release(dict_t *d);

/* Removes and frees every entry like dict_release() but keeps the dict, which
 * returns to its freshly created state (no table). No iterator may be live. */
void dict_empty(dict_t *d);

/* Number of entries. */
size_t dict_size(const dict_t *d);

/* Number of buckets in both tables together (for INFO and DEBUG HTSTATS). */
size_t dict_buckets(const dict_t *d);

/* Returns 1 while an incremental resize is in progress (two tables live). */
int dict_is_rehashing(const dict_t *d);

/* Looks a key up; NULL when absent. The returned entry stays valid until it
 * is deleted or the dict is emptied or released. Moves one rehash bucket
 * when a resize is in progress and no safe iterator or scan pauses it. */
dict_entry_t *dict_find(dict_t *d, const char *key, size_t klen);

/* Returns the entry for key, inserting it first when absent. *existed (when
 * existed is not NULL) is set to 1 if the key was already there, 0 if this call
 * inserted it; a new entry's value is all zero bits (val.ptr == NULL, s64 == 0)
 * unless the dict is keys_only (no value). May start a resize (grow) and moves
 * one rehash bucket when not paused. klen must fit in 32 bits (31 in checking
 * builds; Redis limits keys to 512 MB by default). */
dict_entry_t *dict_add_or_find(dict_t *d, const char *key, size_t klen, int *existed);

/* Deletes key: unlinks the entry, calls type->val_free on a non-NULL pointer
 * value and frees the entry. Returns 1 if the key was deleted, 0 if missing.
 * Safe during a safe iteration and from inside a dict_scan() callback, for any
 * entry (the live iterators are fixed up). */
int dict_delete(dict_t *d, const char *key, size_t klen);

/* Removes key from the dict without freeing it and returns the entry (NULL if
 * missing). The caller now owns the entry: it may read the key and value and
 * must finally call dict_entry_free(). Used to delete a key and hand its value
 * to someone else (lazy freeing, RENAME, MOVE). */
dict_entry_t *dict_unlink(dict_t *d, const char *key, size_t klen);

/* Frees an entry returned by dict_unlink(); when free_val is non-zero and
 * the value pointer is not NULL, type->val_free (if any) is called on it. */
void dict_entry_free(dict_t *d, dict_entry_t *e, int free_val);

/* The entry's key: klen bytes followed by a NUL that is not part of the key. */
static inline const char *dict_entry_key(const dict_entry_t *e) {
    return e->key;
}
static inline size_t dict_entry_klen(const dict_entry_t *e) {
    return e->klen_bits & ~DICT__KEYS_ONLY_BIT;
}

/* Address of the value word: right after the key's NUL, 8-byte aligned.
 * Must not be used on entries of a keys_only dict (they have no value). */
static inline dict_val_t *dict__entry_vp(const dict_entry_t *e) {
#if DICT_CHECK_KEYS_ONLY
    assert(!(e->klen_bits & DICT__KEYS_ONLY_BIT) && "value accessor on a keys-only dict entry");
#endif
    return (dict_val_t *)((uintptr_t)e + DICT__VAL_OFF(dict_entry_klen(e)));
}

/* Value accessors (not for keys_only dicts). The union is not tagged: the
 * dict's user knows which member it stores. Setting a pointer does not free
 * the previous one. */
static inline void *dict_entry_val(const dict_entry_t *e) {
    return dict__entry_vp(e)->ptr;
}
static inline void dict_entry_set_val(dict_entry_t *e, void *ptr) {
    dict__entry_vp(e)->ptr = ptr;
}
static inline int64_t dict_entry_get_s64(const dict_entry_t *e) {
    return dict__entry_vp(e)->s64;
}
static inline void dict_entry_set_s64(dict_entry_t *e, int64_t v) {
    dict__entry_vp(e)->s64 = v;
}
static inline uint64_t dict_entry_get_u64(const dict_entry_t *e) {
    return dict__entry_vp(e)->u64;
}
static inline void dict_entry_set_u64(dict_entry_t *e, uint64_t v) {
    dict__entry_vp(e)->u64 = v;
}
static inline double dict_entry_get_double(const dict_entry_t *e) {
    return dict__entry_vp(e)->d;
}
static inline void dict_entry_set_double(dict_entry_t *e, double v) {
    dict__entry_vp(e)->d = v;
}

/* Returns a random entry, NULL when the dict is empty. Every entry is equally
 * likely as long as its bucket chain holds at most 4 entries (nearly always at
 * load factor <= 1): a random bucket is drawn and accepted with a probability
 * proportional to its chain length. The number of random probes is bounded; on
 * a very sparse table it falls back to walking from a random bucket to the next
 * non-empty one, which always terminates but is less fair. Moves one rehash
 * bucket when not paused. */
dict_entry_t *dict_random_entry(dict_t *d);

/* Stores up to count distinct entries into out, taken from runs of consecutive
 * buckets starting at random places (for eviction and expiry sampling, where
 * cheapness matters more than perfect fairness). Walks at most about 10 buckets
 * per wanted entry, so it may return fewer than count on a sparse table (below
 * the 10% fill that dict_try_shrink restores); it never returns the same entry
 * twice. Moves up to count rehash buckets when not paused. Returns the number
 * stored. */
size_t dict_sample(dict_t *d, dict_entry_t **out, size_t count);

/* One step of a SCAN: calls fn on every entry of the bucket(s) at cursor and
 * returns the next cursor, 0 when the scan is complete (start with 0).
 * The cursor is incremented in reversed bit order, so an entry that is in the
 * dict for the whole scan is returned at least once even if the table grows,
 * shrinks or is being rehashed between calls (entries may be returned more than
 * once). Rehashing is paused while fn runs, so fn may look keys up and may
 * delete any entry (including the one it is given); it should not insert. */
uint64_t dict_scan(dict_t *d, uint64_t cursor, void (*fn)(void *priv, dict_entry_t *e), void *priv);

/* Iterator state; the fields are private. Safe iterators register themselves
 * with the dict (link) so that deletes can advance a saved next pointer. */
typedef struct dict_iter {
    dict_t *d;
    dict_entry_t *entry;      /* entry returned last */
    dict_entry_t *next_entry; /* saved successor of entry in its chain */
    struct dict_iter *link;   /* next live safe iterator / scan of this dict */
    uint64_t fingerprint;     /* unsafe iterators: dict shape at start */
    size_t index;             /* bucket in the current table */
    int table;                /* 0 or 1 */
    int safe;
    int started;
} dict_iter_t;

/* Starts an iteration over d. A safe iterator (safe != 0) pauses rehashing
 * until dict_iter_done(), so every entry present for the whole iteration is
 * returned exactly once; meanwhile the caller may find, add and delete (via
 * dict_delete/dict_unlink, any entry); entries added during the iteration may
 * or may not be returned. An unsafe iterator allows no call into the dict at all
 * except dict_iter_next until dict_iter_done (not even dict_find, which moves
 * rehash buckets); debug builds check a fingerprint of the dict at the end. */
void dict_iter_init(dict_iter_t *it, dict_t *d, int safe);

/* Returns the next entry, or NULL at the end. */
dict_entry_t *dict_iter_next(dict_iter_t *it);

/* Ends the iteration (required, also after dict_iter_next returned NULL):
 * resumes rehashing for a safe iterator, checks the fingerprint for an unsafe
 * one. */
void dict_iter_done(dict_iter_t *it);

/* Moves rehash buckets for about us microseconds (checked every 100 buckets).
 * Returns 1 if a resize is still in progress afterwards, 0 if it is finished,
 * none was in progress, or rehashing is paused (nothing can be done now).
 * Meant for the server cron. */
int dict_rehash_for_us(dict_t *d, long long us);

/* Starts shrinking the table when fewer than 10% of the buckets are used and
 * the table is larger than the minimum (4 buckets), to the smallest power of two
 * that holds the entries at load factor <= 1. Does nothing during a resize.
 * Returns 1 if a resize started. */
int dict_try_shrink(dict_t *d);

/* Approximate bytes used by the dict: the dict header, both bucket arrays and
 * the entries (rounded to the allocator's size classes), but not what value
 * pointers point to. O(1). */
size_t dict_mem_usage(const dict_t *d);

/* The dict hash (SipHash-1-3 keyed with the per-process random seed).
 * Thread: any. */
uint64_t dict_hash(const char *key, size_t klen);

#endif
