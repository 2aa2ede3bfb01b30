/* Hash table with incremental rehashing; see dict.h for the contract.
 *
 * Layout: table[0] is the live table; during a resize table[1] is the new one
 * and buckets [0, rehash_idx) of table[0] have already been moved. Inserts go
 * to table[1] while a resize is in progress, so table[0] only drains.
 *
 * Pausing: safe iterators and dict_scan() increment `paused`; while it is
 * non-zero no bucket is moved (a resize may still start, which only allocates
 * table[1]), so entries stay in the bucket where an iterator expects them. They
 * also put themselves on the `iters` list: a delete that removes the entry an
 * iterator saved as its "next" advances that iterator, which is what makes
 * deleting any entry during a safe iteration or a scan callback safe. */
#include "dict.h"

#include "kl_alloc.h"
#include "kl_util.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifndef NDEBUG
#define DICT_DEBUG 1
#else
#define DICT_DEBUG 0
#endif

#define DICT_MIN_SIZE 4u        /* smallest table (buckets) */
#define DICT_SHRINK_FILL_PCT 10 /* dict_try_shrink: shrink below this fill */
#define DICT_EMPTY_VISITS 10    /* rehash: empty buckets skipped per bucket step */
#define DICT_FAIR_CHAIN 4u      /* dict_random_entry: chains up to this are exactly fair */
#define DICT_RANDOM_PROBES 256  /* dict_random_entry: random probes before falling back */
#define DICT_SAMPLE_MAX_RUNS 8  /* dict_sample: random jumps (runs) remembered */

struct dict {
    const dict_type_t *type;
    dict_entry_t **table[2];
    size_t size[2];    /* buckets; 0 = no table */
    size_t used[2];    /* entries */
    size_t rehash_idx; /* valid when rehashing */
    bool rehashing;
    unsigned paused;    /* safe iterators + scans in progress */
    dict_iter_t *iters; /* live safe iterators and scans (for delete fix-ups) */
    size_t entry_bytes; /* sum of entry allocation sizes (size-class rounded) */
    bool keys_only;     /* type->keys_only: entries have no value word */
};

#define ENTRY_HDR offsetof(dict_entry_t, key)

/* ---------------------------------------------------------------------------
 * SipHash-1-3 (Aumasson and Bernstein), written from the paper's description:
 * 1 compression round per 8-byte word, 3 finalization rounds, 64-bit output.
 * Redis uses the same variant for the same reason: keys come from clients. */

static uint64_t dict__seed[2];
static pthread_once_t dict__seed_once = PTHREAD_ONCE_INIT;

/* Test hook (not in dict.h): the keyed hash with an explicit key, so the unit
 * test can check SipHash against known values. */
uint64_t dict__siphash_keyed(const void *data, size_t len, uint64_t k0, uint64_t k1);
uint64_t dict__siphash_keyed(const void *data, size_t len, uint64_t k0, uint64_t k1) {
    return kl_siphash13(data, len, k0, k1);
}

static void dict__seed_init(void) {
    unsigned char buf[16];
    size_t got = 0;
    while (got < sizeof(buf)) {
        ssize_t n = getrandom(buf + got, sizeof(buf) - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno != EINTR) {
            break;
        }
    }
    if (got < sizeof(buf)) {
        /* No getrandom (very old kernel or seccomp): mix what varies per
         * process. Weaker against flooding, but never fails. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid();
        uint64_t b = (uint64_t)(uintptr_t)&got ^ (uint64_t)(uintptr_t)buf;
        a = kl_siphash13(&b, sizeof(b), a, 0x9e3779b97f4a7c15ULL);
        b = kl_siphash13(&a, sizeof(a), b, 0xc2b2ae3d27d4eb4fULL);
        memcpy(buf, &a, 8);
        memcpy(buf + 8, &b, 8);
    }
    memcpy(&dict__seed[0], buf, 8);
    memcpy(&dict__seed[1], buf + 8, 8);
}

uint64_t dict_hash(const char *key, size_t klen) {
    /* pthread_once's fast path is one acquire load: after the first call the
     * seed is read-only and published to every thread by the once barrier. */
    pthread_once(&dict__seed_once, dict__seed_init);
    return kl_siphash13(key, klen, dict__seed[0], dict__seed[1]);
}

/* ---------------------------------------------------------------------------
 * Small helpers. */

/* Per-thread random numbers (splitmix64): only for picking buckets, so
 * statistical quality matters more than unpredictability. The state is seeded
 * through SipHash (a PRF) so that the generator, whose output function is
 * invertible, can never reveal the hash key. */
static __thread uint64_t dict__rng_state;

static uint64_t dict__rand(void) {
    if (dict__rng_state == 0) {
        uintptr_t where = (uintptr_t)&dict__rng_state; /* differs per thread */
        dict__rng_state = dict_hash((const char *)&where, sizeof(where)) | 1;
    }
    uint64_t z = (dict__rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) without a division (Lemire's multiply-shift; the bias is
 * at most n / 2^64). */
static inline size_t dict__rand_below(size_t n) {
    return (size_t)(((unsigned __int128)dict__rand() * n) >> 64);
}

static size_t next_pow2(size_t n) {
    if (n <= DICT_MIN_SIZE) return DICT_MIN_SIZE;
    return (size_t)1 << (64 - __builtin_clzll((unsigned long long)(n - 1)));
}

/* jemalloc's small size classes (16-byte quantum, four classes per doubling)
 * so that dict_mem_usage() reports what an entry really costs. */
static size_t alloc_class(size_t n) {
    if (n <= 8) return 8;
    if (n <= 128) return (n + 15) & ~(size_t)15;
    size_t lg = 63 - (size_t)__builtin_clzll((unsigned long long)(n - 1)); /* 2^lg < n */
    size_t step = (size_t)1 << (lg - 2);
    return (n + step - 1) & ~(step - 1);
}

/* Bytes requested for an entry with a klen-byte key: the header, the key and
 * its NUL, then for valued dicts the value at the next 8-byte boundary. */
static inline size_t entry_size(const dict_t *d, size_t klen) {
    return d->keys_only ? ENTRY_HDR + klen + 1 : DICT__VAL_OFF(klen) + sizeof(dict_val_t);
}

static inline size_t entry_alloc_size(const dict_t *d, size_t klen) {
    return alloc_class(entry_size(d, klen));
}

static inline bool key_eq(const dict_entry_t *e, const char *key, size_t klen) {
    return dict_entry_klen(e) == klen && memcmp(e->key, key, klen) == 0;
}

static void entry_destroy(dict_t *d, dict_entry_t *e, int free_val) {
    if (free_val && !d->keys_only && d->type && d->type->val_free) {
        void *p = dict_entry_val(e);
        if (p) d->type->val_free(p);
    }
    kl_free(e);
}

/* ---------------------------------------------------------------------------
 * Resizing. */

/* Moves up to n buckets from table[0] to table[1], skipping at most
 * n * DICT_EMPTY_VISITS empty buckets so one call has a bounded cost. Ends the
 * resize when table[0] is empty. Returns true if a resize is still going on. */
static bool rehash_steps(dict_t *d, size_t n) {
    if (!d->rehashing) return false;
    size_t empty_visits = n * DICT_EMPTY_VISITS;
    size_t mask1 = d->size[1] - 1;
    while (n-- && d->used[0] != 0) {
        assert(d->rehash_idx < d->size[0]);
        while (d->table[0][d->rehash_idx] == NULL) {
            d->rehash_idx++;
            if (--empty_visits == 0) return true;
        }
        dict_entry_t *e = d->table[0][d->rehash_idx];
        while (e) {
            dict_entry_t *next = e->next;
            size_t b = (size_t)dict_hash(e->key, dict_entry_klen(e)) & mask1;
            e->next = d->table[1][b];
            d->table[1][b] = e;
            d->used[0]--;
            d->used[1]++;
            e = next;
        }
        d->table[0][d->rehash_idx] = NULL;
        d->rehash_idx++;
    }
    if (d->used[0] == 0) {
        kl_free(d->table[0]);
        d->table[0] = d->table[1];
        d->size[0] = d->size[1];
        d->used[0] = d->used[1];
        d->table[1] = NULL;
        d->size[1] = 0;
        d->used[1] = 0;
        d->rehashing = false;
        d->rehash_idx = 0;
        return false;
    }
    return true;
}

static inline void rehash_step(dict_t *d) {
    if (d->rehashing && d->paused == 0) rehash_steps(d, 1);
}

/* Starts a resize to `size` buckets (a power of two), or installs the first
 * table. Caller checks that no resize is in progress. */
static void resize_start(dict_t *d, size_t size) {
    assert(!d->rehashing);
    assert((size & (size - 1)) == 0 && size >= DICT_MIN_SIZE);
    dict_entry_t **t = kl_calloc(size, sizeof(*t));
    if (d->table[0] == NULL) {
        d->table[0] = t;
        d->size[0] = size;
        d->used[0] = 0;
        return;
    }
    d->table[1] = t;
    d->size[1] = size;
    d->used[1] = 0;
    d->rehash_idx = 0;
    d->rehashing = true;
}

static void grow_if_needed(dict_t *d) {
    if (d->size[0] == 0) {
        resize_start(d, DICT_MIN_SIZE);
    } else if (!d->rehashing && d->used[0] >= d->size[0]) {
        resize_start(d, next_pow2(d->used[0] + 1));
    }
}

/* ---------------------------------------------------------------------------
 * Lifecycle. */

dict_t *dict_create(const dict_type_t *type) {
    dict_t *d = kl_calloc(1, sizeof(*d));
    d->type = type;
    d->keys_only = type && type->keys_only;
    assert(!(d->keys_only && type->val_free) && "keys_only dict type with a val_free");
    return d;
}

static void free_all(dict_t *d) {
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < d->size[t] && d->used[t] > 0; i++) {
            dict_entry_t *e = d->table[t][i];
            while (e) {
                dict_entry_t *next = e->next;
                entry_destroy(d, e, 1);
                d->used[t]--;
                e = next;
            }
        }
        kl_free(d->table[t]);
        d->table[t] = NULL;
        d->size[t] = 0;
        d->used[t] = 0;
    }
    d->rehashing = false;
    d->rehash_idx = 0;
    d->entry_bytes = 0;
}

void dict_release(dict_t *d) {
    if (!d) return;
    assert(d->paused == 0 && d->iters == NULL && "dict_release with a live iterator or scan");
    free_all(d);
    kl_free(d);
}

void dict_empty(dict_t *d) {
    assert(d->paused == 0 && d->iters == NULL && "dict_empty with a live iterator or scan");
    free_all(d);
}

size_t dict_size(const dict_t *d) {
    return d->used[0] + d->used[1];
}

size_t dict_buckets(const dict_t *d) {
    return d->size[0] + d->size[1];
}

int dict_is_rehashing(const dict_t *d) {
    return d->rehashing;
}

/* ---------------------------------------------------------------------------
 * Lookup, insert, delete. */

/* Finds key in both tables given its hash; *prevp gets the predecessor in the
 * chain (NULL for the head) and *slotp the bucket. */
static dict_entry_t *lookup(dict_t *d, uint64_t h, const char *key, size_t klen,
                            dict_entry_t ***slotp, dict_entry_t **prevp) {
    for (int t = 0; t <= (int)d->rehashing; t++) {
        size_t b = (size_t)h & (d->size[t] - 1);
        /* Buckets below rehash_idx in table[0] have been moved: skip them. */
        if (t == 0 && d->rehashing && b < d->rehash_idx) continue;
        dict_entry_t *prev = NULL;
        for (dict_entry_t *e = d->table[t][b]; e; prev = e, e = e->next) {
            if (key_eq(e, key, klen)) {
                if (slotp) *slotp = &d->table[t][b];
                if (prevp) *prevp = prev;
                return e;
            }
        }
    }
    return NULL;
}

dict_entry_t *dict_find(dict_t *d, const char *key, size_t klen) {
    if (dict_size(d) == 0) return NULL;
    rehash_step(d);
    return lookup(d, dict_hash(key, klen), key, klen, NULL, NULL);
}

dict_entry_t *dict_add_or_find(dict_t *d, const char *key, size_t klen, int *existed) {
    assert(klen <= (size_t)(UINT32_MAX & ~DICT__KEYS_ONLY_BIT));
    rehash_step(d);
    uint64_t h = dict_hash(key, klen);
    if (dict_size(d) > 0) {
        dict_entry_t *e = lookup(d, h, key, klen, NULL, NULL);
        if (e) {
            if (existed) *existed = 1;
            return e;
        }
    }
    grow_if_needed(d);
    int t = d->rehashing ? 1 : 0;
    size_t b = (size_t)h & (d->size[t] - 1);
    dict_entry_t *e = kl_malloc(entry_size(d, klen));
    e->klen_bits = (uint32_t)klen;
    if (klen) memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    if (d->keys_only)
        e->klen_bits |= DICT__KEYS_ONLY_BIT;
    else
        dict__entry_vp(e)->u64 = 0;
    /* Insert at the head: recently added keys are often looked up soon. */
    e->next = d->table[t][b];
    d->table[t][b] = e;
    d->used[t]++;
    d->entry_bytes += entry_alloc_size(d, klen);
    if (existed) *existed = 0;
    return e;
}

dict_entry_t *dict_unlink(dict_t *d, const char *key, size_t klen) {
    if (dict_size(d) == 0) return NULL;
    rehash_step(d);
    dict_entry_t **slot, *prev;
    dict_entry_t *e = lookup(d, dict_hash(key, klen), key, klen, &slot, &prev);
    if (!e) return NULL;
    if (prev)
        prev->next = e->next;
    else
        *slot = e->next;
    int t = (slot >= d->table[0] && slot < d->table[0] + d->size[0]) ? 0 : 1;
    d->used[t]--;
    d->entry_bytes -= entry_alloc_size(d, dict_entry_klen(e));
    /* A live safe iterator or scan that saved e as its next entry continues
     * with e's successor instead of a freed entry. */
    for (dict_iter_t *it = d->iters; it; it = it->link) {
        if (it->next_entry == e) it->next_entry = e->next;
    }
    e->next = NULL;
    return e;
}

void dict_entry_free(dict_t *d, dict_entry_t *e, int free_val) {
    if (e) entry_destroy(d, e, free_val);
}

int dict_delete(dict_t *d, const char *key, size_t klen) {
    dict_entry_t *e = dict_unlink(d, key, klen);
    if (!e) return 0;
    entry_destroy(d, e, 1);
    return 1;
}

/* ---------------------------------------------------------------------------
 * Random access. */

/* The index space used by the random functions: table[0]'s unmoved buckets
 * [rehash_idx, size0) then all of table[1]. */
static inline size_t slot_count(const dict_t *d) {
    return d->rehashing ? d->size[0] - d->rehash_idx + d->size[1] : d->size[0];
}

static inline dict_entry_t *slot_head(const dict_t *d, size_t s) {
    if (!d->rehashing) return d->table[0][s];
    size_t live0 = d->size[0] - d->rehash_idx;
    return s < live0 ? d->table[0][d->rehash_idx + s] : d->table[1][s - live0];
}

static dict_entry_t *chain_nth(dict_entry_t *e, size_t n) {
    while (n--)
        e = e->next;
    return e;
}

static size_t chain_len(const dict_entry_t *e) {
    size_t n = 0;
    for (; e; e = e->next)
        n++;
    return n;
}

dict_entry_t *dict_random_entry(dict_t *d) {
    if (dict_size(d) == 0) return NULL;
    rehash_step(d);
    size_t slots = slot_count(d);
    dict_entry_t *fallback = NULL;
    size_t fallback_len = 0;
    /* Rejection sampling: draw a bucket uniformly, then a position in
     * [0, max(len, FAIR_CHAIN)); accept if it lands on an entry. Each entry in a
     * chain of at most FAIR_CHAIN entries is then picked with probability
     * 1 / (slots * FAIR_CHAIN) per probe: uniform. */
    for (int probe = 0; probe < DICT_RANDOM_PROBES; probe++) {
        dict_entry_t *head = slot_head(d, dict__rand_below(slots));
        if (!head) continue;
        size_t len = chain_len(head);
        size_t pos = dict__rand_below(len > DICT_FAIR_CHAIN ? len : DICT_FAIR_CHAIN);
        if (pos < len) return chain_nth(head, pos);
        if (!fallback) {
            fallback = head;
            fallback_len = len;
        }
    }
    if (!fallback) {
        /* Very sparse table: walk from a random slot to the next non-empty one.
         * Terminates because the dict is not empty. */
        size_t s = dict__rand_below(slots);
        while ((fallback = slot_head(d, s)) == NULL)
            s = (s + 1 == slots) ? 0 : s + 1;
        fallback_len = chain_len(fallback);
    }
    return chain_nth(fallback, dict__rand_below(fallback_len));
}

/* dict_sample walks positions p in [0, N), N = the smaller table's size while
 * resizing (else the only table's). Position p covers every entry whose hash
 * has low bits p: bucket p of the small table and buckets p, p + N, p + 2N...
 * of the large one (skipping moved buckets of table[0]), like a SCAN step.
 * Positions therefore have the same expected density even early in a resize,
 * when most of the new table is still empty. Runs of visited positions are
 * remembered so that a random jump never revisits one, which keeps the result
 * duplicate-free. */
typedef struct sample_run {
    size_t start, len;
} sample_run_t;

static bool run_contains(const sample_run_t *runs, int nruns, size_t mask, size_t i) {
    for (int k = 0; k < nruns; k++) {
        if (((i - runs[k].start) & mask) < runs[k].len) return true;
    }
    return false;
}

static size_t sample_bucket(const dict_t *d, int t, size_t b, dict_entry_t **out, size_t found,
                            size_t count) {
    if (t == 0 && d->rehashing && b < d->rehash_idx) return found; /* moved */
    for (dict_entry_t *e = d->table[t][b]; e && found < count; e = e->next)
        out[found++] = e;
    return found;
}

size_t dict_sample(dict_t *d, dict_entry_t **out, size_t count) {
    size_t total = dict_size(d);
    if (count > total) count = total;
    if (count == 0) return 0;
    if (d->paused == 0) {
        for (size_t j = 0; j < count && d->rehashing; j++)
            rehash_steps(d, 1);
    }
    int small = 0, large = 1;
    if (d->rehashing && d->size[1] < d->size[0]) {
        small = 1;
        large = 0;
    }
    size_t n = d->size[small];
    size_t mask = n - 1;
    size_t maxsteps = count * 10;
    sample_run_t runs[DICT_SAMPLE_MAX_RUNS];
    int nruns = 1;
    size_t i = dict__rand_below(n);
    runs[0].start = i;
    runs[0].len = 0;
    size_t found = 0, visited = 0, empty_run = 0;
    while (found < count && visited < n && maxsteps-- > 0) {
        size_t before = found;
        found = sample_bucket(d, small, i, out, found, count);
        if (d->rehashing) {
            for (size_t b = i; b < d->size[large] && found < count; b += n)
                found = sample_bucket(d, large, b, out, found, count);
        }
        runs[nruns - 1].len++;
        visited++;
        empty_run = found > before ? 0 : empty_run + 1;
        size_t next = (i + 1) & mask;
        bool blocked = nruns > 1 && run_contains(runs, nruns - 1, mask, next);
        /* Like Redis: a long empty stretch suggests a sparse region, so jump
         * elsewhere; also jump when the walk runs into an earlier run. */
        if ((blocked || (empty_run >= 5 && empty_run > count)) && nruns < DICT_SAMPLE_MAX_RUNS) {
            size_t j = dict__rand_below(n);
            if (!run_contains(runs, nruns, mask, j)) {
                runs[nruns].start = j;
                runs[nruns].len = 0;
                nruns++;
                empty_run = 0;
                i = j;
                continue;
            }
        }
        if (blocked) break;
        i = next;
    }
    return found;
}

/* ---------------------------------------------------------------------------
 * SCAN. */

static inline uint64_t rev64(uint64_t v) {
    v = __builtin_bswap64(v);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((v & 0x0f0f0f0f0f0f0f0fULL) << 4);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    return v;
}

/* Increments the masked bits of v starting from the most significant one
 * (reverse binary counting). Bits above the mask are set first so the carry
 * runs through them and the result has them cleared. */
static inline uint64_t rev_inc(uint64_t v, uint64_t mask) {
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

static void scan_bucket(dict_iter_t *guard, dict_entry_t *e,
                        void (*fn)(void *priv, dict_entry_t *e), void *priv) {
    while (e) {
        /* Save the successor in the guard: if fn deletes it, dict_unlink
         * advances guard->next_entry. */
        guard->next_entry = e->next;
        fn(priv, e);
        e = guard->next_entry;
    }
}

uint64_t dict_scan(dict_t *d, uint64_t cursor, void (*fn)(void *priv, dict_entry_t *e),
                   void *priv) {
    if (dict_size(d) == 0) return 0;
    /* Pause rehashing so no bucket moves under fn, and register a guard so
     * deletes from fn are safe. */
    dict_iter_t guard = {.d = d, .link = d->iters};
    d->iters = &guard;
    d->paused++;
    uint64_t v = cursor;
    if (!d->rehashing) {
        uint64_t m0 = d->size[0] - 1;
        scan_bucket(&guard, d->table[0][v & m0], fn, priv);
        v = rev_inc(v, m0);
    } else {
        /* Visit the small table's bucket, then every bucket of the large table
         * that it expands to (same low bits). Table[0]'s already moved buckets
         * are empty, so no special case is needed for them. */
        int small = d->size[0] <= d->size[1] ? 0 : 1;
        int large = 1 - small;
        uint64_t m0 = d->size[small] - 1, m1 = d->size[large] - 1;
        scan_bucket(&guard, d->table[small][v & m0], fn, priv);
        do {
            scan_bucket(&guard, d->table[large][v & m1], fn, priv);
            v = rev_inc(v, m1);
        } while (v & (m0 ^ m1));
    }
    d->paused--;
    dict_iter_t **pp = &d->iters;
    while (*pp != &guard)
        pp = &(*pp)->link;
    *pp = guard.link;
    return v;
}

/* ---------------------------------------------------------------------------
 * Iterators. */

/* A cheap summary of the dict's shape: the table pointers, sizes and used
 * counters. Inserts, deletes, rehash steps and resizes change it, except an
 * insert and a delete that cancel out within the same table (like Redis's
 * check, it catches most misuse, not all). */
static uint64_t fingerprint(const dict_t *d) {
    uint64_t parts[6] = {(uint64_t)(uintptr_t)d->table[0], d->size[0], d->used[0],
                         (uint64_t)(uintptr_t)d->table[1], d->size[1], d->used[1]};
    uint64_t h = 0;
    for (int i = 0; i < 6; i++) {
        h += parts[i];
        h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 32;
    }
    return h;
}

void dict_iter_init(dict_iter_t *it, dict_t *d, int safe) {
    memset(it, 0, sizeof(*it));
    it->d = d;
    it->safe = safe != 0;
    if (it->safe) {
        d->paused++;
        it->link = d->iters;
        d->iters = it;
    } else if (DICT_DEBUG) {
        it->fingerprint = fingerprint(d);
    }
}

dict_entry_t *dict_iter_next(dict_iter_t *it) {
    dict_t *d = it->d;
    assert(!it->safe || d->paused > 0);
    if (!it->started) {
        it->started = 1;
        it->table = 0;
        it->index = 0;
        it->next_entry = d->size[0] ? d->table[0][0] : NULL;
    } else if (it->entry == NULL) {
        return NULL; /* already at the end */
    }
    for (;;) {
        if (it->next_entry) {
            it->entry = it->next_entry;
            it->next_entry = it->entry->next;
            return it->entry;
        }
        /* Current bucket exhausted: move to the next non-empty one. */
        it->index++;
        if (it->index >= d->size[it->table]) {
            if (it->table == 0 && d->rehashing) {
                it->table = 1;
                it->index = 0;
            } else {
                it->entry = NULL;
                return NULL;
            }
        }
        if (d->size[it->table]) it->next_entry = d->table[it->table][it->index];
    }
}

void dict_iter_done(dict_iter_t *it) {
    dict_t *d = it->d;
    if (!d) return;
    if (it->safe) {
        assert(d->paused > 0);
        d->paused--;
        dict_iter_t **pp = &d->iters;
        while (*pp && *pp != it)
            pp = &(*pp)->link;
        assert(*pp == it && "safe iterator not registered (done twice?)");
        if (*pp) *pp = it->link;
    } else if (DICT_DEBUG) {
        assert(it->fingerprint == fingerprint(d) && "dict modified during an unsafe iteration");
    }
    it->d = NULL;
}

/* ---------------------------------------------------------------------------
 * Maintenance. */

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int dict_rehash_for_us(dict_t *d, long long us) {
    if (!d->rehashing || d->paused) return 0;
    long long deadline = now_us() + us;
    while (rehash_steps(d, 100)) {
        if (now_us() >= deadline) return 1;
    }
    return 0;
}

int dict_try_shrink(dict_t *d) {
    if (d->rehashing || d->size[0] <= DICT_MIN_SIZE) return 0;
    size_t used = d->used[0];
    if (used * 100 / d->size[0] >= DICT_SHRINK_FILL_PCT) return 0;
    size_t target = next_pow2(used);
    if (target >= d->size[0]) return 0;
    resize_start(d, target);
    return 1;
}

size_t dict_mem_usage(const dict_t *d) {
    return alloc_class(sizeof(*d)) + (d->size[0] + d->size[1]) * sizeof(dict_entry_t *) +
           d->entry_bytes;
}
