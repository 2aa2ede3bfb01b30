/* Unit tests for server/dict.c: correctness against a reference model,
 * incremental rehashing, SCAN guarantees across resizes, safe iteration with
 * deletes, random access fairness, and memory ownership (run under ASan too). */
#include <criterion/criterion.h>

#include "dict.h"
#include "kl_alloc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Exposed by dict.c for this test only. */
uint64_t dict__siphash_keyed(const void *data, size_t len, uint64_t k0, uint64_t k1);

/* Deterministic test RNG (xorshift64*), independent of the dict's. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A key universe: key i is a binary string (may contain NULs) that encodes i,
 * so keys are distinct; key 0 is the empty key. */
typedef struct tkey {
    char buf[24];
    size_t len;
} tkey_t;

static void make_key(tkey_t *k, uint32_t i) {
    if (i == 0) {
        k->len = 0;
        return;
    }
    /* 4 bytes of i (often containing NULs), then 0..15 bytes of filler that
     * depend on i, some of them NUL. */
    memcpy(k->buf, &i, 4);
    size_t extra = (i * 7u) % 16u;
    for (size_t j = 0; j < extra; j++)
        k->buf[4 + j] = (char)((i >> (j % 4)) * (j + 1) % 3 == 0 ? 0 : 'a' + j);
    k->len = 4 + extra;
}

/* Counting value destructor. */
static int frees;
static void count_free(void *p) {
    frees++;
    kl_free(p);
}
static const dict_type_t counted_type = {.val_free = count_free};
static const dict_type_t plain_type = {.val_free = NULL};

static void add_int(dict_t *d, uint32_t i) {
    tkey_t k;
    make_key(&k, i);
    int existed = -1;
    dict_entry_t *e = dict_add_or_find(d, k.buf, k.len, &existed);
    cr_assert_eq(existed, 0, "key %u existed", i);
    dict_entry_set_u64(e, i);
}

static bool del_int(dict_t *d, uint32_t i) {
    tkey_t k;
    make_key(&k, i);
    return dict_delete(d, k.buf, k.len) == 1;
}

static dict_entry_t *find_int(dict_t *d, uint32_t i) {
    tkey_t k;
    make_key(&k, i);
    return dict_find(d, k.buf, k.len);
}

/* Decodes the universe index stored as the value. */
static uint32_t entry_id(const dict_entry_t *e) {
    return (uint32_t)dict_entry_get_u64(e);
}

Test(dict, siphash13_reference_values) {
    /* Cross-checked with CPython 3.11 (siphash13, PYTHONHASHSEED=0, zero key):
     * hash(b'a'), hash(b'hello world, this is keyloom'). */
    cr_assert_eq(dict__siphash_keyed("a", 1, 0, 0), 0x407448d2b89b1813ULL);
    const char *s = "hello world, this is keyloom";
    cr_assert_eq(dict__siphash_keyed(s, strlen(s), 0, 0), 0x410284104b79e6f9ULL);
    /* The process hash is keyed: stable within the process, key-sensitive. */
    cr_assert_eq(dict_hash("abc", 3), dict_hash("abc", 3));
    cr_assert_neq(dict_hash("abc", 3), dict_hash("abd", 3));
    cr_assert_neq(dict_hash("a\0b", 3), dict_hash("a\0c", 3));
    cr_assert_neq(dict_hash("a", 1), dict__siphash_keyed("a", 1, 0, 0));
}

Test(dict, basic_binary_and_empty_keys) {
    dict_t *d = dict_create(&plain_type);
    cr_assert_eq(dict_size(d), 0);
    cr_assert_null(dict_find(d, "x", 1));
    cr_assert_null(dict_random_entry(d));
    cr_assert_eq(dict_delete(d, "x", 1), 0);

    int existed;
    dict_entry_t *e = dict_add_or_find(d, "", 0, &existed);
    cr_assert_eq(existed, 0);
    cr_assert_null(dict_entry_val(e), "new entries have a NULL value");
    cr_assert_eq(dict_entry_klen(e), 0);
    cr_assert_eq(dict_entry_key(e)[0], '\0');
    dict_entry_set_s64(e, -42);

    e = dict_add_or_find(d, "a\0b", 3, &existed);
    cr_assert_eq(existed, 0);
    dict_entry_set_double(e, 2.5);
    e = dict_add_or_find(d, "a\0c", 3, &existed);
    cr_assert_eq(existed, 0);
    dict_entry_set_u64(e, UINT64_MAX);
    e = dict_add_or_find(d, "a", 1, NULL);
    cr_assert_eq(dict_size(d), 4);

    cr_assert_eq(dict_entry_get_s64(dict_find(d, "", 0)), -42);
    cr_assert_eq(dict_entry_get_double(dict_find(d, "a\0b", 3)), 2.5);
    cr_assert_eq(dict_entry_get_u64(dict_find(d, "a\0c", 3)), UINT64_MAX);
    e = dict_find(d, "a\0b", 3);
    cr_assert_eq(memcmp(dict_entry_key(e), "a\0b\0", 4), 0, "key bytes and trailing NUL");
    cr_assert_null(dict_find(d, "a\0", 2));
    cr_assert_null(dict_find(d, "a\0bx", 4));

    e = dict_add_or_find(d, "a\0b", 3, &existed);
    cr_assert_eq(existed, 1);
    cr_assert_eq(dict_entry_get_double(e), 2.5);

    cr_assert_eq(dict_delete(d, "", 0), 1);
    cr_assert_eq(dict_delete(d, "", 0), 0);
    cr_assert_null(dict_find(d, "", 0));
    cr_assert_eq(dict_size(d), 3);
    cr_assert_gt(dict_mem_usage(d), 0);

    dict_empty(d);
    cr_assert_eq(dict_size(d), 0);
    cr_assert_eq(dict_buckets(d), 0);
    cr_assert_null(dict_find(d, "a", 1));
    dict_add_or_find(d, "again", 5, NULL);
    cr_assert_eq(dict_size(d), 1);
    dict_release(d);
}

/* Random operations on a universe of keys, checked against a presence array.
 * Also drives rehashing from the "cron" (dict_rehash_for_us, dict_try_shrink)
 * in between, so operations regularly hit a dict with two tables. */
Test(dict, random_ops_against_reference, .timeout = 120) {
    enum { UNIVERSE = 100000, OPS = 1000000, PHASE = 250000 };
    dict_t *d = dict_create(&plain_type);
    bool *present = kl_calloc(UNIVERSE, sizeof(bool));
    size_t count = 0, ops_while_rehashing = 0, shrinks = 0;
    for (int op = 0; op < OPS; op++) {
        /* Phases: mostly inserting, then mostly deleting, so the table both
         * grows and shrinks. */
        int phase = (op / PHASE) % 2;
        /* Phase 0 settles near 84% of the universe present, phase 1 decays
         * towards 2% (below the 10% shrink threshold). */
        uint32_t i = (uint32_t)(rnd() % UNIVERSE);
        unsigned r = (unsigned)(rnd() % 100);
        if (dict_is_rehashing(d)) ops_while_rehashing++;
        tkey_t k;
        make_key(&k, i);
        if (r < (phase == 0 ? 80u : 2u)) {
            int existed;
            dict_entry_t *e = dict_add_or_find(d, k.buf, k.len, &existed);
            cr_assert_eq(existed, present[i]);
            if (!existed) {
                dict_entry_set_u64(e, i);
                present[i] = true;
                count++;
            }
            cr_assert_eq(entry_id(e), i);
        } else if (r < (phase == 0 ? 95u : 97u)) {
            int ok = dict_delete(d, k.buf, k.len);
            cr_assert_eq(ok, present[i]);
            if (ok) {
                present[i] = false;
                count--;
            }
        } else {
            dict_entry_t *e = dict_find(d, k.buf, k.len);
            cr_assert_eq(e != NULL, present[i]);
            if (e) {
                cr_assert_eq(entry_id(e), i);
                cr_assert_eq(dict_entry_klen(e), k.len);
                cr_assert_eq(memcmp(dict_entry_key(e), k.buf, k.len), 0);
            }
        }
        cr_assert_eq(dict_size(d), count);
        if (op % 5000 == 0) shrinks += (size_t)dict_try_shrink(d);
        if (op % 777 == 0) dict_rehash_for_us(d, 5);
    }
    cr_assert_gt(ops_while_rehashing, 1000, "operations should overlap rehashing");
    cr_assert_gt(shrinks, 0, "the delete phases should allow a shrink");
    /* Full check: every present key is found, and iteration yields each exactly once. */
    for (uint32_t i = 0; i < UNIVERSE; i++) {
        dict_entry_t *e = find_int(d, i);
        cr_assert_eq(e != NULL, present[i], "key %u", i);
    }
    uint8_t *seen = kl_calloc(UNIVERSE, 1);
    dict_iter_t it;
    dict_iter_init(&it, d, 0);
    size_t n = 0;
    for (dict_entry_t *e; (e = dict_iter_next(&it));) {
        uint32_t id = entry_id(e);
        cr_assert(present[id]);
        cr_assert_eq(seen[id], 0, "entry %u returned twice", id);
        seen[id] = 1;
        n++;
    }
    dict_iter_done(&it);
    cr_assert_eq(n, count);
    kl_free(seen);
    kl_free(present);
    dict_release(d);
}

/* Every key must stay reachable at every step of a grow and of a shrink. */
Test(dict, lookups_during_rehash) {
    dict_t *d = dict_create(&plain_type);
    const uint32_t N = 4096;
    for (uint32_t i = 1; i <= N; i++)
        add_int(d, i);
    /* Finish any resize in progress, then trigger a grow with one more add. */
    while (dict_rehash_for_us(d, 1000)) {}
    cr_assert_eq(dict_buckets(d), N);
    add_int(d, N + 1);
    cr_assert(dict_is_rehashing(d));
    int steps = 0;
    while (dict_is_rehashing(d)) {
        /* Each find moves one bucket; check a spread of keys every time. */
        for (uint32_t i = 1; i <= N + 1; i += 97)
            cr_assert_not_null(find_int(d, i), "key %u", i);
        steps++;
    }
    cr_assert_gt(steps, 10);
    cr_assert_eq(dict_buckets(d), 2 * N);
    for (uint32_t i = 1; i <= N + 1; i++)
        cr_assert_not_null(find_int(d, i));

    /* Shrink: delete most keys, then ask. */
    for (uint32_t i = 1; i <= N + 1; i++) {
        if (i % 20) cr_assert(del_int(d, i));
    }
    while (dict_rehash_for_us(d, 1000)) {}
    size_t left = dict_size(d);
    cr_assert_eq(dict_try_shrink(d), 1);
    cr_assert(dict_is_rehashing(d));
    while (dict_is_rehashing(d)) {
        for (uint32_t i = 20; i <= N; i += 20)
            cr_assert_not_null(find_int(d, i));
        cr_assert_null(find_int(d, 21));
    }
    cr_assert_eq(dict_size(d), left);
    cr_assert_leq(dict_buckets(d), 2 * left);
    cr_assert_geq(dict_buckets(d), left);
    cr_assert_eq(dict_try_shrink(d), 0, "already small");
    dict_release(d);
}

/* ---- SCAN ---- */

typedef struct scan_state {
    uint32_t *seen; /* per key id: times returned */
    size_t calls;
} scan_state_t;

static void scan_count_cb(void *priv, dict_entry_t *e) {
    scan_state_t *s = priv;
    s->seen[entry_id(e)]++;
}

/* Runs a full scan; between scan calls `mutate` changes the dict using keys
 * above `stable_n` only. Checks that keys [1, stable_n] were all returned. */
typedef struct scan_stats {
    size_t calls, min_buckets, max_buckets, rehashing_calls;
} scan_stats_t;

static scan_stats_t scan_with_mutation(dict_t *d, uint32_t stable_n, uint32_t universe,
                                       void (*mutate)(dict_t *, uint32_t, uint32_t, size_t)) {
    scan_state_t s = {.seen = kl_calloc(universe + 1, sizeof(uint32_t))};
    uint64_t cursor = 0;
    scan_stats_t st = {.min_buckets = dict_buckets(d), .max_buckets = dict_buckets(d)};
    do {
        st.rehashing_calls += (size_t)dict_is_rehashing(d);
        cursor = dict_scan(d, cursor, scan_count_cb, &s);
        st.calls++;
        mutate(d, stable_n, universe, st.calls);
        /* Only count settled table sizes: during a resize both tables count. */
        if (!dict_is_rehashing(d)) {
            if (dict_buckets(d) > st.max_buckets) st.max_buckets = dict_buckets(d);
            if (dict_buckets(d) < st.min_buckets) st.min_buckets = dict_buckets(d);
        }
        cr_assert_lt(st.calls, 50u * 1000 * 1000, "scan does not terminate");
    } while (cursor != 0);
    for (uint32_t i = 1; i <= stable_n; i++)
        cr_assert_gt(s.seen[i], 0, "stable key %u missed", i);
    kl_free(s.seen);
    return st;
}

/* Grows the table between scan calls: adds transient keys in bursts. */
static uint32_t next_transient;
static void mutate_grow(dict_t *d, uint32_t stable_n, uint32_t universe, size_t call) {
    for (int j = 0; j < 8 && next_transient <= universe; j++)
        add_int(d, next_transient++);
}

/* Shrinks between calls: deletes transient keys and asks for shrinks. */
static void mutate_shrink(dict_t *d, uint32_t stable_n, uint32_t universe, size_t call) {
    for (int j = 0; j < 64; j++) {
        uint32_t i = stable_n + 1 + (uint32_t)(rnd() % (universe - stable_n));
        del_int(d, i);
    }
    dict_try_shrink(d);
}

/* Alternates grow and shrink bursts and partial cron rehashing. */
static void mutate_mixed(dict_t *d, uint32_t stable_n, uint32_t universe, size_t call) {
    uint32_t span = universe - stable_n;
    if ((call / 16) % 2 == 0) {
        for (int j = 0; j < 50; j++) {
            uint32_t i = stable_n + 1 + (uint32_t)(rnd() % span);
            tkey_t k;
            make_key(&k, i);
            dict_entry_set_u64(dict_add_or_find(d, k.buf, k.len, NULL), i);
        }
    } else {
        for (int j = 0; j < 100; j++)
            del_int(d, stable_n + 1 + (uint32_t)(rnd() % span));
        dict_try_shrink(d);
    }
    if (call % 3 == 0) dict_rehash_for_us(d, 2);
}

Test(dict, scan_stable_table) {
    dict_t *d = dict_create(&plain_type);
    for (uint32_t i = 1; i <= 5000; i++)
        add_int(d, i);
    while (dict_rehash_for_us(d, 1000)) {}
    scan_state_t s = {.seen = kl_calloc(5001, sizeof(uint32_t))};
    uint64_t cursor = 0;
    size_t calls = 0;
    do {
        cursor = dict_scan(d, cursor, scan_count_cb, &s);
        calls++;
    } while (cursor != 0);
    /* Without resizes each entry is returned exactly once and each call
     * covers one bucket. */
    for (uint32_t i = 1; i <= 5000; i++)
        cr_assert_eq(s.seen[i], 1, "key %u", i);
    cr_assert_eq(calls, dict_buckets(d));
    kl_free(s.seen);
    dict_release(d);
    d = dict_create(&plain_type);
    cr_assert_eq(dict_scan(d, 0, scan_count_cb, &s), 0, "empty dict: scan ends at once");
    dict_release(d);
}

Test(dict, scan_across_grow) {
    dict_t *d = dict_create(&plain_type);
    const uint32_t stable = 300, universe = 200000;
    for (uint32_t i = 1; i <= stable; i++)
        add_int(d, i);
    next_transient = stable + 1;
    size_t b0 = dict_buckets(d);
    scan_stats_t st = scan_with_mutation(d, stable, universe, mutate_grow);
    cr_assert_geq(st.max_buckets, 8 * b0, "the table must have grown during the scan");
    cr_assert_gt(st.rehashing_calls, 0);
    dict_release(d);
}

Test(dict, scan_across_shrink) {
    dict_t *d = dict_create(&plain_type);
    const uint32_t stable = 300, universe = 100000;
    for (uint32_t i = 1; i <= universe; i++)
        add_int(d, i);
    while (dict_rehash_for_us(d, 1000)) {}
    size_t b0 = dict_buckets(d);
    scan_stats_t st = scan_with_mutation(d, stable, universe, mutate_shrink);
    cr_assert_leq(st.min_buckets, b0 / 8, "the table must have shrunk during the scan");
    cr_assert_gt(st.rehashing_calls, 0);
    dict_release(d);
}

Test(dict, scan_across_mixed_resizes, .timeout = 120) {
    for (int round = 0; round < 8; round++) {
        dict_t *d = dict_create(&plain_type);
        const uint32_t stable = 100 + (uint32_t)(rnd() % 2000), universe = stable + 20000;
        for (uint32_t i = 1; i <= stable; i++)
            add_int(d, i);
        scan_stats_t st = scan_with_mutation(d, stable, universe, mutate_mixed);
        cr_assert_gt(st.rehashing_calls, 0);
        cr_assert_gt(st.max_buckets, st.min_buckets);
        dict_release(d);
    }
}

/* A scan callback that deletes entries, like active expiry: the current one
 * and, sometimes, another stable key that may be the next in its chain. */
typedef struct expire_state {
    dict_t *d;
    uint8_t *deleted;
    uint32_t *seen;
} expire_state_t;

static void scan_expire_cb(void *priv, dict_entry_t *e) {
    expire_state_t *s = priv;
    uint32_t id = entry_id(e);
    cr_assert_eq(s->deleted[id], 0, "a deleted entry was returned");
    s->seen[id]++;
    if (id % 3 == 0) {
        s->deleted[id] = 1;
        cr_assert(del_int(s->d, id));
    } else if (id % 3 == 1 && !s->deleted[id + 1]) {
        /* Delete a neighbour id: may be this entry's chain successor. */
        s->deleted[id + 1] = 1;
        cr_assert(del_int(s->d, id + 1));
    }
}

Test(dict, scan_callback_deletes) {
    dict_t *d = dict_create(&plain_type);
    /* 2^15 + 1 inserts: the last one starts the 32K -> 64K resize. */
    const uint32_t N = 32768;
    for (uint32_t i = 1; i <= N + 1; i++)
        add_int(d, i);
    cr_assert(dict_is_rehashing(d), "scan while a resize is in progress");
    expire_state_t s = {.d = d, .deleted = kl_calloc(N + 2, 1), .seen = kl_calloc(N + 2, 4)};
    uint64_t cursor = 0;
    do {
        cursor = dict_scan(d, cursor, scan_expire_cb, &s);
    } while (cursor != 0);
    size_t left = 0;
    for (uint32_t i = 1; i <= N + 1; i++) {
        cr_assert_eq(find_int(d, i) != NULL, !s.deleted[i]);
        left += !s.deleted[i];
    }
    cr_assert_eq(dict_size(d), left);
    kl_free(s.deleted);
    kl_free(s.seen);
    dict_release(d);
}

/* ---- iteration ---- */

Test(dict, safe_iteration_with_deletes_and_adds) {
    dict_t *d = dict_create(&counted_type);
    const uint32_t N = 20000;
    for (uint32_t i = 1; i <= N; i++) {
        tkey_t k;
        make_key(&k, i);
        dict_entry_t *e = dict_add_or_find(d, k.buf, k.len, NULL);
        uint32_t *v = kl_malloc(sizeof(*v));
        *v = i;
        dict_entry_set_val(e, v);
    }
    /* 20000 inserts leave the 16K -> 32K resize unfinished. */
    cr_assert(dict_is_rehashing(d));
    uint8_t *seen = kl_calloc(3 * N + 1, 1);
    uint8_t *deleted = kl_calloc(3 * N + 1, 1);
    frees = 0;
    dict_iter_t it;
    dict_iter_init(&it, d, 1);
    uint32_t next_new = N + 1;
    size_t returned = 0;
    for (dict_entry_t *e; (e = dict_iter_next(&it));) {
        uint32_t id = *(uint32_t *)dict_entry_val(e);
        cr_assert_eq(deleted[id], 0, "deleted entry %u returned", id);
        cr_assert_eq(seen[id], 0, "entry %u returned twice", id);
        seen[id] = 1;
        returned++;
        /* The rehash must stay paused (not finish) while a safe iterator is live. */
        cr_assert(dict_is_rehashing(d));
        tkey_t k;
        make_key(&k, id);
        if (id % 2 == 0) {
            cr_assert_eq(dict_delete(d, k.buf, k.len), 1); /* the current entry */
            deleted[id] = 1;
        }
        uint32_t other = 1 + (uint32_t)(rnd() % N);
        if (!deleted[other] && other != id && rnd() % 4 == 0) {
            tkey_t ko;
            make_key(&ko, other);
            cr_assert_eq(dict_delete(d, ko.buf, ko.len), 1); /* any other entry */
            deleted[other] = 1;
        }
        if (rnd() % 8 == 0 && next_new <= 3 * N) {
            tkey_t kn;
            make_key(&kn, next_new);
            uint32_t *v = kl_malloc(sizeof(*v));
            *v = next_new++;
            dict_entry_set_val(dict_add_or_find(d, kn.buf, kn.len, NULL), v);
        }
        /* Lookups are allowed too. */
        cr_assert_null(dict_find(d, "missing", 7));
    }
    dict_iter_done(&it);
    /* Every original entry not deleted before its turn was returned. */
    size_t deleted_count = 0, new_returned = 0;
    for (uint32_t i = 1; i < next_new; i++) {
        if (i <= N && !seen[i]) cr_assert(deleted[i], "entry %u never returned", i);
        if (i > N) new_returned += seen[i];
        deleted_count += deleted[i];
        cr_assert_eq(find_int(d, i) != NULL, !deleted[i]);
    }
    cr_log_info("safe iteration: %zu returned, %zu deleted, %u added (%zu of them returned)",
                returned, deleted_count, next_new - N - 1, new_returned);
    cr_assert_eq((size_t)frees, deleted_count, "dict_delete calls val_free");
    cr_assert_eq(dict_size(d), next_new - 1 - deleted_count);
    /* Rehashing resumes after the iterator is done. */
    while (dict_rehash_for_us(d, 1000)) {}
    cr_assert(!dict_is_rehashing(d));
    size_t total = dict_size(d);
    frees = 0;
    dict_release(d);
    cr_assert_eq((size_t)frees, total, "dict_release frees every value");
    kl_free(seen);
    kl_free(deleted);
}

Test(dict, unsafe_iteration_and_empty_dict_iteration) {
    dict_t *d = dict_create(&plain_type);
    dict_iter_t it;
    dict_iter_init(&it, d, 0);
    cr_assert_null(dict_iter_next(&it));
    cr_assert_null(dict_iter_next(&it));
    dict_iter_done(&it);
    dict_iter_init(&it, d, 1);
    cr_assert_null(dict_iter_next(&it));
    dict_iter_done(&it);

    const uint32_t N = 10000;
    for (uint32_t i = 1; i <= N + 1; i++)
        add_int(d, i);
    cr_assert(dict_is_rehashing(d));
    uint8_t *seen = kl_calloc(N + 2, 1);
    dict_iter_init(&it, d, 0);
    size_t n = 0;
    for (dict_entry_t *e; (e = dict_iter_next(&it));) {
        cr_assert_eq(seen[entry_id(e)]++, 0);
        n++;
    }
    dict_iter_done(&it);
    cr_assert_eq(n, N + 1);
    kl_free(seen);
    dict_release(d);
}

/* ---- random access ---- */

/* Chain lengths via SCAN: on a table that is not resizing, one scan call
 * returns exactly one bucket. */
static uint32_t chain_batch[256];
static size_t chain_batch_n;
static void chain_cb(void *priv, dict_entry_t *e) {
    if (chain_batch_n < 256) chain_batch[chain_batch_n] = entry_id(e);
    chain_batch_n++;
}

/* dict_random_entry promises exact uniformity for entries in chains of at most
 * 4 and weight 4/len for longer chains; check the observed counts against that
 * model with a chi-square test, at load factor ~1 (the worst case). */
Test(dict, random_entry_dense_is_fair) {
    dict_t *d = dict_create(&plain_type);
    const uint32_t N = 1000;
    const int DRAWS = 1000000;
    for (uint32_t i = 1; i <= N; i++)
        add_int(d, i);
    while (dict_rehash_for_us(d, 1000)) {}
    cr_assert_eq(dict_buckets(d), 1024);
    double *weight = kl_calloc(N + 1, sizeof(double));
    double wsum = 0;
    size_t max_chain = 0;
    uint64_t cursor = 0;
    do {
        chain_batch_n = 0;
        cursor = dict_scan(d, cursor, chain_cb, NULL);
        if (chain_batch_n > max_chain) max_chain = chain_batch_n;
        for (size_t k = 0; k < chain_batch_n; k++) {
            weight[chain_batch[k]] = chain_batch_n <= 4 ? 1.0 : 4.0 / (double)chain_batch_n;
            wsum += weight[chain_batch[k]];
        }
    } while (cursor != 0);
    uint32_t *hits = kl_calloc(N + 1, sizeof(uint32_t));
    for (int j = 0; j < DRAWS; j++)
        hits[entry_id(dict_random_entry(d))]++;
    /* 999 degrees of freedom: mean 999, sd ~44.7. */
    double chi2 = 0, uniform_chi2 = 0;
    uint32_t lo = UINT32_MAX;
    for (uint32_t i = 1; i <= N; i++) {
        double expect = DRAWS * weight[i] / wsum;
        double diff = (double)hits[i] - expect;
        chi2 += diff * diff / expect;
        diff = (double)hits[i] - (double)DRAWS / N;
        uniform_chi2 += diff * diff / ((double)DRAWS / N);
        if (hits[i] < lo) lo = hits[i];
    }
    cr_log_info("random_entry: chi2 %.1f vs model, %.1f vs uniform, longest chain %zu, min hits %u",
                chi2, uniform_chi2, max_chain, lo);
    cr_assert_lt(chi2, 1300.0, "chi2 %.1f", chi2);
    cr_assert_gt(lo, 500u, "no entry may be starved");
    kl_free(weight);
    kl_free(hits);
    dict_release(d);
}

Test(dict, random_and_sample_on_sparse_table) {
    dict_t *d = dict_create(&plain_type);
    const uint32_t N = 1 << 20;
    for (uint32_t i = 1; i <= N; i++)
        add_int(d, i);
    while (dict_rehash_for_us(d, 1000)) {}
    /* Keep 10 keys in a table of 1M buckets (no shrink). */
    for (uint32_t i = 1; i <= N; i++) {
        if (i % (N / 10)) del_int(d, i);
    }
    cr_assert_eq(dict_size(d), 10);
    cr_assert_geq(dict_buckets(d), N);
    /* On a table this sparse the probes give up and the fallback walk is biased
     * by the gaps between entries, so only check that it terminates and returns
     * a good spread of keys. */
    uint32_t hits[11] = {0};
    for (int j = 0; j < 2000; j++) {
        dict_entry_t *e = dict_random_entry(d);
        cr_assert_not_null(e);
        hits[entry_id(e) / (N / 10)]++;
    }
    int distinct = 0;
    for (int j = 1; j <= 10; j++)
        distinct += hits[j] > 0;
    cr_assert_geq(distinct, 6, "only %d of 10 keys picked", distinct);
    /* Sample: bounded work, never duplicates, may return fewer than asked. */
    dict_entry_t *out[16];
    size_t total = 0;
    for (int j = 0; j < 20000; j++) {
        size_t n = dict_sample(d, out, 16);
        cr_assert_leq(n, 10);
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++)
                cr_assert_neq(out[a], out[b]);
        total += n;
    }
    cr_assert_gt(total, 0);
    /* Down to one key: random_entry must still find it quickly. */
    for (uint32_t j = 1; j < 10; j++)
        del_int(d, j * (N / 10));
    cr_assert_eq(dict_size(d), 1);
    for (int j = 0; j < 100; j++)
        cr_assert_eq(entry_id(dict_random_entry(d)), 10 * (N / 10));
    cr_assert_eq(dict_sample(d, out, 16) <= 1, 1);
    dict_release(d);
}

Test(dict, sample_dense_and_rehashing) {
    dict_t *d = dict_create(&plain_type);
    const uint32_t N = 50000;
    for (uint32_t i = 1; i <= N; i++)
        add_int(d, i);
    uint32_t *hits = kl_calloc(N + 1, sizeof(uint32_t));
    dict_entry_t *out[64];
    size_t rehashing_calls = 0, total = 0;
    for (int j = 0; j < 20000; j++) {
        if (j == 10000) {
            /* Insert until a resize starts; sampling then runs on two tables. */
            for (uint32_t i = N + 1; !dict_is_rehashing(d); i++)
                add_int(d, i);
        }
        rehashing_calls += (size_t)dict_is_rehashing(d);
        size_t n = dict_sample(d, out, 20);
        cr_assert_eq(
            n, 20,
            "dense table: the full count (got %zu at %d, rehashing %d, size %zu buckets %zu)", n, j,
            dict_is_rehashing(d), dict_size(d), dict_buckets(d));
        for (size_t a = 0; a < n; a++) {
            for (size_t b = a + 1; b < n; b++)
                cr_assert_neq(out[a], out[b], "duplicate sample");
            uint32_t id = entry_id(out[a]);
            if (id <= N) hits[id]++;
        }
        total += n;
    }
    cr_assert_gt(rehashing_calls, 0);
    cr_assert_eq(total, 20000 * 20);
    size_t never = 0;
    for (uint32_t i = 1; i <= N; i++)
        never += hits[i] == 0;
    /* 400k samples over 50k keys: essentially every key is reached. */
    cr_assert_lt(never, N / 100, "%zu keys never sampled", never);
    cr_assert_eq(dict_sample(d, out, 0), 0);
    kl_free(hits);
    dict_release(d);
}

/* ---- ownership ---- */

Test(dict, release_and_unlink_ownership) {
    dict_t *d = dict_create(&counted_type);
    frees = 0;
    for (uint32_t i = 1; i <= 1000; i++) {
        tkey_t k;
        make_key(&k, i);
        dict_entry_t *e = dict_add_or_find(d, k.buf, k.len, NULL);
        dict_entry_set_val(e, kl_malloc(32));
    }
    dict_add_or_find(d, "null-value", 10, NULL); /* NULL ptr: val_free not called */
    tkey_t k;
    make_key(&k, 5);
    dict_entry_t *e = dict_unlink(d, k.buf, k.len);
    cr_assert_not_null(e);
    cr_assert_null(dict_find(d, k.buf, k.len));
    cr_assert_eq(dict_entry_klen(e), k.len);
    void *v = dict_entry_val(e);
    dict_entry_free(d, e, 0);
    cr_assert_eq(frees, 0, "free_val=0 keeps the value");
    kl_free(v);
    make_key(&k, 6);
    dict_entry_free(d, dict_unlink(d, k.buf, k.len), 1);
    cr_assert_eq(frees, 1);
    cr_assert_null(dict_unlink(d, k.buf, k.len));
    cr_assert_eq(dict_delete(d, "null-value", 10), 1);
    cr_assert_eq(frees, 1);
    size_t mem = dict_mem_usage(d);
    cr_assert_gt(mem, 998 * 24);
    dict_empty(d);
    cr_assert_eq(frees, 999);
    cr_assert_lt(dict_mem_usage(d), mem / 10);
    dict_release(d);
    dict_release(NULL);
}

/* ---- keys-only dicts (sets): entries without a value word ---- */

static const dict_type_t keys_type = {.val_free = NULL, .keys_only = 1};

/* Decodes the universe index from a make_key() key (keys-only entries have
 * no value to carry it). */
static uint32_t key_id(const dict_entry_t *e) {
    uint32_t i = 0;
    if (dict_entry_klen(e) >= 4) memcpy(&i, dict_entry_key(e), 4);
    return i;
}

static void add_key(dict_t *d, uint32_t i) {
    tkey_t k;
    make_key(&k, i);
    int existed = -1;
    dict_entry_t *e = dict_add_or_find(d, k.buf, k.len, &existed);
    cr_assert_eq(existed, 0, "key %u existed", i);
    cr_assert_eq(key_id(e), i);
}

static void keys_scan_cb(void *priv, dict_entry_t *e) {
    uint32_t *seen = priv;
    seen[key_id(e)]++;
}

Test(dict, keys_only_insert_find_delete_iterate_scan) {
    enum { N = 20000 };
    dict_t *d = dict_create(&keys_type);
    int existed;
    dict_entry_t *e = dict_add_or_find(d, "", 0, &existed);
    cr_assert_eq(existed, 0);
    cr_assert_eq(dict_entry_klen(e), 0);
    cr_assert_eq(dict_entry_key(e)[0], '\0');
    cr_assert_eq(dict_add_or_find(d, "", 0, &existed), e);
    cr_assert_eq(existed, 1);
    cr_assert_eq(dict_delete(d, "", 0), 1);
    cr_assert_eq(dict_size(d), 0);

    /* Inserts through many grows; lookups hit both tables while rehashing. */
    bool saw_rehash = false;
    for (uint32_t i = 1; i <= N; i++) {
        add_key(d, i);
        saw_rehash |= dict_is_rehashing(d) != 0;
        if (i % 97 == 0) {
            e = find_int(d, i / 2 + 1);
            cr_assert_not_null(e);
            cr_assert_eq(key_id(e), i / 2 + 1);
        }
    }
    cr_assert(saw_rehash);
    cr_assert_eq(dict_size(d), N);
    for (uint32_t i = 1; i <= N; i++) {
        e = find_int(d, i);
        cr_assert_not_null(e, "key %u", i);
        tkey_t k;
        make_key(&k, i);
        cr_assert_eq(dict_entry_klen(e), k.len);
        cr_assert_eq(memcmp(dict_entry_key(e), k.buf, k.len), 0);
        cr_assert_eq(dict_entry_key(e)[k.len], '\0');
    }
    cr_assert_null(find_int(d, N + 1));

    /* Safe iteration with deletes of every third key. */
    uint8_t *seen = kl_calloc(N + 1, 1);
    dict_iter_t it;
    dict_iter_init(&it, d, 1);
    while ((e = dict_iter_next(&it)) != NULL) {
        uint32_t id = key_id(e);
        cr_assert(id >= 1 && id <= N);
        cr_assert_eq(seen[id], 0, "key %u returned twice", id);
        seen[id] = 1;
        if (id % 3 == 0) cr_assert(del_int(d, id));
    }
    dict_iter_done(&it);
    for (uint32_t i = 1; i <= N; i++)
        cr_assert_eq(seen[i], 1, "key %u not iterated", i);
    cr_assert_eq(dict_size(d), N - N / 3);

    /* Shrink and scan across the resize: every remaining key is returned. */
    for (uint32_t i = 1; i <= N; i++)
        if (i % 3 != 0 && i > 600) cr_assert(del_int(d, i));
    cr_assert_eq(dict_try_shrink(d), 1);
    uint32_t *scanned = kl_calloc(N + 1, sizeof(uint32_t));
    uint64_t cursor = 0;
    size_t calls = 0;
    do {
        cursor = dict_scan(d, cursor, keys_scan_cb, scanned);
        cr_assert_lt(++calls, 10u * 1000 * 1000);
    } while (cursor != 0);
    for (uint32_t i = 1; i <= 600; i++)
        if (i % 3 != 0) cr_assert_gt(scanned[i], 0, "key %u missed by scan", i);
    while (dict_rehash_for_us(d, 1000))
        ;
    cr_assert_eq(dict_size(d), 400);
    kl_free(scanned);
    kl_free(seen);
    dict_release(d);
}

Test(dict, keys_only_random_sample_unlink_and_mem) {
    enum { N = 4000 };
    dict_t *ko = dict_create(&keys_type);
    dict_t *kv = dict_create(&plain_type);
    for (uint32_t i = 1; i <= N; i++) {
        add_key(ko, i);
        add_int(kv, i);
    }
    while (dict_rehash_for_us(ko, 1000))
        ;
    while (dict_rehash_for_us(kv, 1000))
        ;
    cr_assert_eq(dict_buckets(ko), dict_buckets(kv));

    uint8_t *hit = kl_calloc(N + 1, 1);
    for (int r = 0; r < 20000; r++) {
        dict_entry_t *e = dict_random_entry(ko);
        cr_assert_not_null(e);
        uint32_t id = key_id(e);
        cr_assert(id >= 1 && id <= N);
        hit[id] = 1;
    }
    size_t hits = 0;
    for (uint32_t i = 1; i <= N; i++)
        hits += hit[i];
    cr_assert_gt(hits, N * 9 / 10, "random entries cover the dict (%zu)", hits);

    dict_entry_t *out[64];
    size_t got = dict_sample(ko, out, 64);
    cr_assert_eq(got, 64);
    for (size_t a = 0; a < got; a++) {
        cr_assert_not_null(find_int(ko, key_id(out[a])));
        for (size_t b = a + 1; b < got; b++)
            cr_assert_neq(out[a], out[b]);
    }

    /* Memory: the same keys cost 8 requested bytes less per entry; with the
     * test keys (4..19 bytes) keys-only entries are 16..32 bytes and valued
     * ones 32..48, never more than the old layout's 21 + klen. */
    size_t mko = dict_mem_usage(ko), mkv = dict_mem_usage(kv);
    cr_assert_lt(mko, mkv);
    size_t expect_ko = 0, expect_kv = 0;
    for (uint32_t i = 1; i <= N; i++) {
        tkey_t k;
        make_key(&k, i);
        size_t rko = 12 + k.len + 1, rkv = ((12 + k.len + 1 + 7) & ~(size_t)7) + 8;
        expect_ko += rko <= 16 ? 16 : (rko + 15) & ~(size_t)15;
        expect_kv += (rkv + 15) & ~(size_t)15;
        cr_assert_leq((rkv + 15) & ~(size_t)15, (20 + k.len + 1 + 15) & ~(size_t)15);
        dict_entry_t *e = find_int(ko, i);
        cr_assert_geq(kl_alloc_size(e), rko);
        e = find_int(kv, i);
        cr_assert_geq(kl_alloc_size(e), rkv);
    }
    cr_assert_eq(mkv - mko, expect_kv - expect_ko);

    /* Unlink hands the entry over; freeing it (free_val either way) is fine. */
    tkey_t k;
    make_key(&k, 77);
    dict_entry_t *e = dict_unlink(ko, k.buf, k.len);
    cr_assert_not_null(e);
    cr_assert_eq(key_id(e), 77);
    cr_assert_null(find_int(ko, 77));
    dict_entry_free(ko, e, 1);
    make_key(&k, 78);
    dict_entry_free(ko, dict_unlink(ko, k.buf, k.len), 0);
    cr_assert_eq(dict_size(ko), N - 2);
    cr_assert_lt(dict_mem_usage(ko), mko);
    dict_empty(ko);
    cr_assert_eq(dict_size(ko), 0);
    add_key(ko, 5);
    cr_assert_not_null(find_int(ko, 5));
    kl_free(hit);
    dict_release(ko);
    dict_release(kv);
}

/* Valued entries: the value sits after the key's NUL at an 8-byte aligned
 * offset and never overlaps the key, for every key length around the
 * alignment boundaries. */
Test(dict, valued_layout_all_key_lengths) {
    dict_t *d = dict_create(&plain_type);
    char key[80];
    for (size_t len = 0; len < sizeof(key); len++) {
        for (size_t j = 0; j < len; j++)
            key[j] = (char)('a' + (len + j) % 26);
        dict_entry_t *e = dict_add_or_find(d, key, len, NULL);
        cr_assert_eq(dict_entry_get_u64(e), 0);
        cr_assert_eq((uintptr_t)dict__entry_vp(e) % 8, 0);
        cr_assert_geq((uintptr_t)dict__entry_vp(e), (uintptr_t)dict_entry_key(e) + len + 1);
        dict_entry_set_u64(e, ~(uint64_t)len);
    }
    for (size_t len = 0; len < sizeof(key); len++) {
        for (size_t j = 0; j < len; j++)
            key[j] = (char)('a' + (len + j) % 26);
        dict_entry_t *e = dict_find(d, key, len);
        cr_assert_not_null(e);
        cr_assert_eq(dict_entry_get_u64(e), ~(uint64_t)len);
        cr_assert_eq(dict_entry_key(e)[len], '\0');
        cr_assert_eq(memcmp(dict_entry_key(e), key, len), 0);
    }
    dict_release(d);
}

#if DICT_CHECK_KEYS_ONLY
#include <signal.h>
Test(dict, keys_only_value_access_asserts, .signal = SIGABRT) {
    dict_t *d = dict_create(&keys_type);
    dict_entry_t *e = dict_add_or_find(d, "m", 1, NULL);
    (void)dict_entry_get_u64(e);
}
#endif
