/* maxmemory enforcement: the policies, the sampled eviction pool, and the
 * LRU/LFU access data of values (evict.h). The OOM check before commands and
 * the timer that keeps evicting between batches are the executor's
 * (exec/oom.c).
 *
 * Choosing a victim (LRU, LFU, volatile-ttl): every database whose candidate
 * dict (all keys, or only the keys with a TTL for volatile-*) is not empty
 * contributes maxmemory-samples random entries (dict_sample); each is scored
 * (idle seconds, 255 - decayed LFU counter, or how soon it expires) and kept in
 * a pool of the EVICT_POOL_SIZE best candidates seen so far, which survives
 * between rounds so that good candidates accumulate. The best one that still
 * exists is evicted. The random policies pick a random entry from the next
 * non-empty database in turn.
 *
 * Memory freed is measured per deletion from kl_used_memory(), which sees the
 * executor's own frees at once (see kl_alloc.c), until the excess measured at
 * the start is gone. With lazyfree-lazy-eviction big values are freed on the
 * lazy-free thread, so the loop also stops when a fresh reading every 16 keys
 * is under the limit.
 *
 * Thread: executor (every function here). */
#include "evict.h"

#include "db.h"
#include "dict.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "kv.h"

#include <math.h>
#include <string.h>

#define EVICT_KEY_CACHE 255 /* keys up to this length are kept without malloc */
#define EVICT_STACK_SAMPLES 64

/* ---------------------------------------------------------------- random */

/* xorshift64*: the LFU increment and nothing else needs randomness here. */
static uint64_t rng_state;

static double rng_unit(void) {
    if (!rng_state) rng_state = (uint64_t)kl_ustime() * 0x9E3779B97F4A7C15ULL | 1;
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t v = rng_state * 0x2545F4914F6CDD1DULL;
    return (double)(v >> 11) * (1.0 / 9007199254740992.0); /* 53 bits -> [0, 1) */
}

/* ---------------------------------------------------------------- values */

static inline bool policy_lfu(void) {
    return evict_policy_is_lfu(g_cfg.maxmemory_policy);
}

/* The value the current command last counted an LFU access for (see
 * evict_obj_stored). Only compared, never dereferenced. */
static const kobj_t *lfu_touched;
static uint64_t lfu_touched_cmd;

void evict_obj_touch(kobj_t *o) {
    if (!policy_lfu()) {
        o->lru = g_kv.lruclock;
        return;
    }
    unsigned now = evict_lfu_minutes(g_kv.mstime);
    unsigned counter = evict_lfu_decayed(o->lru, now, g_cfg.lfu_decay_time);
    counter = evict_lfu_incr(counter, g_cfg.lfu_log_factor, rng_unit());
    o->lru = evict_lfu_pack(now, counter);
    lfu_touched = o;
    lfu_touched_cmd = g_kv.cmd_seq;
}

void evict_obj_stored(kobj_t *val, kobj_t *old) {
    if (!policy_lfu()) {
        val->lru = g_kv.lruclock;
    } else if (old) {
        /* Redis looks the key up for writing before every overwrite (one
         * counted access), then keeps the old value's LFU data. Plain SET and
         * MSET here overwrite without that lookup: count the access unless
         * this command already did. */
        if (lfu_touched != old || lfu_touched_cmd != g_kv.cmd_seq) evict_obj_touch(old);
        val->lru = old->lru;
    } else if (val->lru == 0) {
        val->lru = evict_lfu_pack(evict_lfu_minutes(g_kv.mstime), EVICT_LFU_INIT_VAL);
    }
}

void evict_obj_loaded(kobj_t *o, long long lfu_freq, long long lru_idle_s) {
    if (policy_lfu()) {
        unsigned counter =
            lfu_freq >= 0 ? (unsigned)(lfu_freq > 255 ? 255 : lfu_freq) : EVICT_LFU_INIT_VAL;
        o->lru = evict_lfu_pack(evict_lfu_minutes(g_kv.mstime), counter);
        return;
    }
    if (lru_idle_s < 0) {
        o->lru = g_kv.lruclock;
        return;
    }
    long long at = (long long)g_kv.lruclock - lru_idle_s;
    if (at < 0) at += (1LL << 24) - 1; /* the 24-bit clock wrapped (db_idle_seconds) */
    if (at < 0) at = 0;                /* idle longer than the clock's range */
    o->lru = (uint32_t)at;
}

long long evict_obj_freq(const kobj_t *o) {
    return evict_lfu_decayed(o->lru, evict_lfu_minutes(g_kv.mstime), g_cfg.lfu_decay_time);
}

/* ---------------------------------------------------------------- the pool */

typedef struct evict_cand {
    uint64_t score; /* higher is a better victim */
    int dbid;
    uint32_t klen;
    char *key; /* cache, or a heap copy for longer keys */
    char cache[EVICT_KEY_CACHE + 1];
} evict_cand_t;

static evict_cand_t pool_store[EVICT_POOL_SIZE];
/* pool[0 .. pool_n) are the candidates by ascending score (the best last);
 * pool[pool_n ..) is free storage. Only pointers move. */
static evict_cand_t *pool[EVICT_POOL_SIZE];
static int pool_n = -1; /* -1: pool[] not set up yet */
static int pool_policy; /* the policy the pool's scores were computed for */

static void cand_set_key(evict_cand_t *c, const char *key, size_t klen) {
    if (c->key != c->cache) kl_free(c->key);
    c->key = klen <= EVICT_KEY_CACHE ? c->cache : kl_malloc(klen + 1);
    memcpy(c->key, key, klen);
    c->key[klen] = '\0';
    c->klen = (uint32_t)klen;
}

/* Frees a heap key once the candidate is used up (keeps the pool's footprint
 * at its fixed size). */
static void cand_release(evict_cand_t *c) {
    if (c->key != c->cache) {
        kl_free(c->key);
        c->key = c->cache;
    }
    c->klen = 0;
}

/* Sets the pool up on first use, and empties it when the policy changed:
 * scores of different policies (idle seconds, inverted LFU counters, expire
 * times) must not compete. */
static void pool_prepare(int policy) {
    if (pool_n < 0) {
        for (int i = 0; i < EVICT_POOL_SIZE; i++) {
            pool_store[i].key = pool_store[i].cache;
            pool[i] = &pool_store[i];
        }
        pool_n = 0;
    } else if (policy != pool_policy) {
        for (int i = 0; i < pool_n; i++)
            cand_release(pool[i]);
        pool_n = 0;
    }
    pool_policy = policy;
}

static void pool_insert(uint64_t score, int dbid, const char *key, size_t klen) {
    int k = 0;
    while (k < pool_n && pool[k]->score < score)
        k++;
    evict_cand_t *c;
    if (pool_n < EVICT_POOL_SIZE) {
        c = pool[pool_n];
        memmove(&pool[k + 1], &pool[k], (size_t)(pool_n - k) * sizeof(pool[0]));
        pool_n++;
    } else {
        if (k == 0) return; /* no better than anything kept */
        c = pool[0];        /* drop the worst */
        memmove(&pool[0], &pool[1], (size_t)(k - 1) * sizeof(pool[0]));
        k--;
    }
    pool[k] = c;
    c->score = score;
    c->dbid = dbid;
    cand_set_key(c, key, klen);
}

static inline bool policy_allkeys(int policy) {
    return policy == KL_MAXMEMORY_ALLKEYS_LRU || policy == KL_MAXMEMORY_ALLKEYS_LFU ||
           policy == KL_MAXMEMORY_ALLKEYS_RANDOM;
}

static inline dict_t *candidate_dict(kdb_t *db, int policy) {
    return policy_allkeys(policy) ? db->keys : db->expires;
}

/* Sample one database into the pool. */
static void pool_populate(kdb_t *db, int policy) {
    dict_entry_t *stack[EVICT_STACK_SAMPLES], **samples = stack;
    size_t want = g_cfg.maxmemory_samples > 0 ? (size_t)g_cfg.maxmemory_samples : 1;
    if (want > EVICT_STACK_SAMPLES) samples = kl_malloc(want * sizeof(*samples));
    dict_t *from = candidate_dict(db, policy);
    size_t n = dict_sample(from, samples, want);
    if (n == 0 && dict_size(from) != 0) {
        /* A very sparse table can defeat the bucket walk: take one entry
         * the slow but certain way so that eviction always progresses. */
        samples[0] = dict_random_entry(from);
        n = samples[0] ? 1 : 0;
    }
    unsigned now_min = evict_lfu_minutes(g_kv.mstime);
    for (size_t i = 0; i < n; i++) {
        dict_entry_t *e = samples[i];
        const char *key = dict_entry_key(e);
        size_t klen = dict_entry_klen(e);
        uint64_t score;
        if (policy == KL_MAXMEMORY_VOLATILE_TTL) {
            /* The sooner it expires, the better a victim. */
            score = UINT64_MAX - (uint64_t)dict_entry_get_s64(e);
        } else {
            const kobj_t *o = from == db->keys ? dict_entry_val(e) : db_peek(db, key, klen);
            if (!o) continue;
            if (policy == KL_MAXMEMORY_ALLKEYS_LFU || policy == KL_MAXMEMORY_VOLATILE_LFU)
                score = 255 - evict_lfu_decayed(o->lru, now_min, g_cfg.lfu_decay_time);
            else
                score = (uint64_t)db_idle_seconds(o);
        }
        pool_insert(score, db->id, key, klen);
    }
    if (samples != stack) kl_free(samples);
}

/* The best candidate that still exists, taken out of the pool; NULL when no
 * database has a key the policy may evict. The candidate's key stays valid
 * until the next pool change. */
static evict_cand_t *pool_pick(int policy) {
    for (;;) {
        size_t total = 0;
        for (int i = 0; i < db_count(); i++) {
            kdb_t *db = db_get(i);
            size_t n = dict_size(candidate_dict(db, policy));
            if (n) {
                pool_populate(db, policy);
                total += n;
            }
        }
        if (!total) return NULL;
        /* Best first; stale entries (deleted or expired since they were
         * sampled) are dropped on the way. Redis keeps a ghost's old score
         * too: a key accessed since it was sampled may still be chosen. */
        while (pool_n > 0) {
            evict_cand_t *c = pool[--pool_n];
            kdb_t *db = db_get(c->dbid);
            if (db && dict_find(candidate_dict(db, policy), c->key, c->klen)) return c;
            cand_release(c);
        }
    }
}

static evict_cand_t random_cand;
static int random_next_db;

static evict_cand_t *random_pick(int policy) {
    int ndb = db_count();
    for (int i = 0; i < ndb; i++) {
        random_next_db = (random_next_db + 1) % ndb;
        kdb_t *db = db_get(random_next_db);
        dict_entry_t *e = dict_random_entry(candidate_dict(db, policy));
        if (!e) continue;
        if (!random_cand.key) random_cand.key = random_cand.cache;
        cand_set_key(&random_cand, dict_entry_key(e), dict_entry_klen(e));
        random_cand.dbid = random_next_db;
        return &random_cand;
    }
    return NULL;
}

/* ---------------------------------------------------------------- eviction */

/* maxmemory-eviction-tenacity: 0..10 map linearly to 0..500 us per call,
 * above that the limit grows by 15% a step (about 2 minutes at 99), and 100
 * means no limit. */
static uint64_t time_limit_us(void) {
    int t = g_cfg.maxmemory_eviction_tenacity;
    if (t <= 10) return 50u * (uint64_t)(t < 0 ? 0 : t);
    if (t < 100) return (uint64_t)(500.0 * pow(1.15, t - 10.0));
    return UINT64_MAX;
}

int evict_perform(void) {
    if (!g_cfg.maxmemory) return EVICT_OK;
    if (g_kv.replica && g_cfg.replica_ignore_maxmemory) return EVICT_OK; /* the master's job */
    size_t used = kl_used_memory();
    if (used <= g_cfg.maxmemory) return EVICT_OK;
    int policy = g_cfg.maxmemory_policy;
    if (policy == KL_MAXMEMORY_NOEVICTION) return EVICT_FAIL;
    pool_prepare(policy);

    long long start = kl_ustime();
    uint64_t limit = time_limit_us();
    long long tofree = (long long)(used - g_cfg.maxmemory), freed = 0;
    unsigned long nkeys = 0;
    int result = EVICT_FAIL;
    bool random = policy == KL_MAXMEMORY_ALLKEYS_RANDOM || policy == KL_MAXMEMORY_VOLATILE_RANDOM;
    bool lazy = g_cfg.lazyfree_lazy_eviction != 0;
    while (freed < tofree) {
        evict_cand_t *c = random ? random_pick(policy) : pool_pick(policy);
        if (!c) goto out; /* nothing left that the policy may evict */
        kdb_t *db = db_get(c->dbid);
        long long before = (long long)kl_used_memory();
        /* The executor notifies "evicted" (and will propagate the delete). */
        kv__hooks.evicted(db, c->key, c->klen);
        db_delete_lazy(db, c->key, c->klen, lazy);
        freed += before - (long long)kl_used_memory();
        g_kv.stat.evictedkeys++;
        cand_release(c);
        nkeys++;
        /* A value freed on the lazy-free thread shows up in the per-deletion
         * delta only as its dict entry: every 16 keys, look at the real
         * allocated bytes (fresh, with the thread's frees so far) and stop
         * once under the limit, as Redis does. */
        if (lazy && nkeys % 16 == 0) {
            kl_mem_stats_t ms;
            kl_mem_stats(&ms);
            if (ms.allocated <= g_cfg.maxmemory) break;
        }
        if (nkeys % 16 == 0 && (uint64_t)(kl_ustime() - start) > limit) {
            /* Out of time: the executor goes on between batches, and this
             * command is not refused for it. */
            result = EVICT_RUNNING;
            goto out;
        }
    }
    result = EVICT_OK;
out:
    if (nkeys) kv__hooks.latency("eviction-cycle", (kl_ustime() - start) / 1000);
    return result;
}
