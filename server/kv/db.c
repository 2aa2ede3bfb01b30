#include "db.h"

#include "config.h"
#include "evict.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "kv.h"
#include "lazyfree.h"

#include <string.h>

static const dict_type_t keys_type = {obj_free_void};
static const dict_type_t expires_type = {NULL};

static kdb_t *dbs;
static int ndbs;
void db_init(int count) {
    ndbs = count;
    dbs = kl_calloc((size_t)count, sizeof(kdb_t));
    for (int i = 0; i < count; i++) {
        dbs[i].keys = dict_create(&keys_type);
        dbs[i].expires = dict_create(&expires_type);
        dbs[i].id = i;
    }
}

void db_free_all(void) {
    for (int i = 0; i < ndbs; i++) {
        dict_release(dbs[i].keys);
        dict_release(dbs[i].expires);
    }
    kl_free(dbs);
    dbs = NULL;
    ndbs = 0;
}

int db_count(void) {
    return ndbs;
}

kdb_t *db_get(int id) {
    return (id >= 0 && id < ndbs) ? &dbs[id] : NULL;
}

#define LRU_CLOCK_MAX ((1u << 24) - 1)

void db_touch(kobj_t *o) {
    evict_obj_touch(o); /* LRU clock, or the LFU counter under an LFU policy */
}

long long db_idle_seconds(const kobj_t *o) {
    uint32_t now = g_kv.lruclock;
    if (now >= o->lru) return (long long)(now - o->lru);
    return (long long)(now + (LRU_CLOCK_MAX - o->lru));
}

int64_t db_get_expire(kdb_t *db, const char *key, size_t klen) {
    if (dict_size(db->expires) == 0) return -1;
    dict_entry_t *e = dict_find(db->expires, key, klen);
    return e ? dict_entry_get_s64(e) : -1;
}

void db_set_expire(kdb_t *db, const char *key, size_t klen, int64_t when_ms) {
    dict_entry_t *e = dict_add_or_find(db->expires, key, klen, NULL);
    dict_entry_set_s64(e, when_ms);
    kv__hooks.modified(db, key, klen); /* EXPIRE & co. break WATCH, as in Redis */
}

void db_set_expire_loaded(kdb_t *db, const char *key, size_t klen, int64_t when_ms) {
    dict_entry_t *e = dict_add_or_find(db->expires, key, klen, NULL);
    dict_entry_set_s64(e, when_ms);
}

bool db_remove_expire(kdb_t *db, const char *key, size_t klen) {
    if (dict_size(db->expires) == 0) return false;
    if (dict_delete(db->expires, key, klen) != 1) return false;
    kv__hooks.modified(db, key, klen); /* PERSIST breaks WATCH, as in Redis */
    return true;
}

/* Remove key from the keys dict and free its value, on the lazy-free thread
 * when lazy and the value is big (lazyfree.h). key is not used after the
 * entry is freed, so it may be the entry's own copy. */
static bool unlink_value(kdb_t *db, const char *key, size_t klen, bool lazy) {
    dict_entry_t *e = dict_unlink(db->keys, key, klen);
    if (!e) return false;
    kobj_t *o = dict_entry_val(e);
    dict_entry_free(db->keys, e, 0);
    lazyfree_obj_maybe(o, lazy);
    return true;
}

/* force: delete even on a replica (a write lookup on a writable replica,
 * Redis's EXPIRE_FORCE_DELETE_EXPIRED). */
static bool expire_if_needed(kdb_t *db, const char *key, size_t klen, bool force) {
    int64_t when = db_get_expire(db, key, klen);
    if (when < 0 || when > g_kv.mstime) return false;
    if (g_kv.replica) {
        if (g_kv.master_running) return false; /* the master's view */
        if (!force) return true;               /* hidden, deleted by the master's DEL */
    }
    /* Before the delete: key may be the entry's own copy (RANDOMKEY). The
     * executor notifies "expired" and breaks WATCHes on it, as Redis 7.0. */
    kv__hooks.expired(db, key, klen);
    dict_delete(db->expires, key, klen);
    unlink_value(db, key, klen, g_cfg.lazyfree_lazy_expire);
    g_kv.stat.expiredkeys++;
    return true;
}

bool db_expire_if_needed(kdb_t *db, const char *key, size_t klen) {
    return expire_if_needed(db, key, klen, false);
}

kobj_t *db_peek(kdb_t *db, const char *key, size_t klen) {
    dict_entry_t *e = dict_find(db->keys, key, klen);
    return e ? dict_entry_val(e) : NULL;
}

kobj_t *db_lookup_write(kdb_t *db, const char *key, size_t klen) {
    dict_entry_t *e = dict_find(db->keys, key, klen);
    if (!e) return NULL;
    if (expire_if_needed(db, key, klen, !g_cfg.replica_read_only)) return NULL;
    kobj_t *o = dict_entry_val(e);
    db_touch(o);
    return o;
}

kobj_t *db_lookup_read(kdb_t *db, const char *key, size_t klen) {
    dict_entry_t *e = dict_find(db->keys, key, klen);
    if (!e || db_expire_if_needed(db, key, klen)) {
        g_kv.stat.keyspace_misses++;
        kv__hooks.miss(db, key, klen);
        return NULL;
    }
    g_kv.stat.keyspace_hits++;
    kobj_t *o = dict_entry_val(e);
    db_touch(o);
    return o;
}

bool db_exists(kdb_t *db, const char *key, size_t klen) {
    dict_entry_t *e = dict_find(db->keys, key, klen);
    if (!e) return false;
    return !db_expire_if_needed(db, key, klen);
}

void db_key_modified(kdb_t *db, const char *key, size_t klen) {
    kv__hooks.modified(db, key, klen);
}

void db_add(kdb_t *db, const char *key, size_t klen, kobj_t *val) {
    int existed;
    dict_entry_t *e = dict_add_or_find(db->keys, key, klen, &existed);
    evict_obj_stored(val, existed ? dict_entry_val(e) : NULL);
    if (existed) lazyfree_obj_maybe(dict_entry_val(e), g_cfg.lazyfree_lazy_server_del);
    dict_entry_set_val(e, val);
    kv__hooks.stored(db, key, klen, val, !existed);
}

bool db_add_loaded(kdb_t *db, const char *key, size_t klen, kobj_t *val) {
    int existed;
    dict_entry_t *e = dict_add_or_find(db->keys, key, klen, &existed);
    if (existed) return false;
    dict_entry_set_val(e, val);
    return true;
}

void db_set(kdb_t *db, const char *key, size_t klen, kobj_t *val, bool keepttl) {
    int existed;
    dict_entry_t *e = dict_add_or_find(db->keys, key, klen, &existed);
    evict_obj_stored(val, existed ? dict_entry_val(e) : NULL);
    if (existed) {
        lazyfree_obj_maybe(dict_entry_val(e), g_cfg.lazyfree_lazy_server_del);
        if (!keepttl) db_remove_expire(db, key, klen);
    }
    dict_entry_set_val(e, val);
    kv__hooks.stored(db, key, klen, val, !existed);
}

void db_replace_value(kdb_t *db, const char *key, size_t klen, kobj_t *val) {
    dict_entry_t *e = dict_find(db->keys, key, klen);
    if (!e) {
        db_add(db, key, klen, val);
        return;
    }
    kobj_t *old = dict_entry_val(e);
    if (old != val) {
        val->lru = old->lru;
        lazyfree_obj_maybe(old, g_cfg.lazyfree_lazy_server_del);
        dict_entry_set_val(e, val);
    }
    kv__hooks.stored(db, key, klen, val, false);
}

bool db_delete(kdb_t *db, const char *key, size_t klen) {
    return db_delete_lazy(db, key, klen, g_cfg.lazyfree_lazy_server_del);
}

bool db_delete_lazy(kdb_t *db, const char *key, size_t klen, bool lazy) {
    if (!unlink_value(db, key, klen, lazy)) return false;
    db_remove_expire(db, key, klen);
    kv__hooks.modified(db, key, klen);
    return true;
}

kobj_t *db_take(kdb_t *db, const char *key, size_t klen, int64_t *expire_out) {
    dict_entry_t *e = dict_unlink(db->keys, key, klen);
    if (!e) return NULL;
    kobj_t *o = dict_entry_val(e);
    dict_entry_free(db->keys, e, 0);
    int64_t when = db_get_expire(db, key, klen);
    if (when >= 0) db_remove_expire(db, key, klen);
    if (expire_out) *expire_out = when;
    kv__hooks.modified(db, key, klen);
    return o;
}

size_t db_size(const kdb_t *db) {
    return dict_size(db->keys);
}

size_t db_expires_size(const kdb_t *db) {
    return dict_size(db->expires);
}

long long db_flush(kdb_t *db) {
    return db_flush_lazy(db, false);
}

long long db_flush_lazy(kdb_t *db, bool lazy) {
    long long n = (long long)dict_size(db->keys);
    if (lazy && n > 0) {
        /* Fresh empty dicts here, the old ones (no iterator can be live on
         * them between commands) to the lazy-free thread. */
        lazyfree_dicts(db->keys, db->expires, (size_t)n);
        db->keys = dict_create(&keys_type);
        db->expires = dict_create(&expires_type);
    } else {
        dict_empty(db->keys);
        dict_empty(db->expires);
    }
    db->avg_ttl = 0;
    db->expire_cursor = 0;
    return n;
}

long long db_flush_all(void) {
    return db_flush_all_lazy(false);
}

long long db_flush_all_lazy(bool lazy) {
    long long n = 0;
    for (int i = 0; i < ndbs; i++)
        n += db_flush_lazy(&dbs[i], lazy);
    return n;
}

/* Exchange what two databases hold; each keeps its address and id. */
static void swap_contents(kdb_t *a, kdb_t *b) {
    kdb_t tmp = *a;
    a->keys = b->keys;
    a->expires = b->expires;
    a->avg_ttl = b->avg_ttl;
    a->expire_cursor = b->expire_cursor;
    b->keys = tmp.keys;
    b->expires = tmp.expires;
    b->avg_ttl = tmp.avg_ttl;
    b->expire_cursor = tmp.expire_cursor;
}

void db_swap(int a, int b) {
    swap_contents(&dbs[a], &dbs[b]);
}

/* ---------------------------------------------------------------- temporary db arrays */

struct kdb_set {
    int count;
    kdb_t *dbs;
};

kdb_set_t *kdb_set_new(void) {
    kdb_set_t *s = kl_calloc(1, sizeof(*s));
    s->count = ndbs;
    s->dbs = kl_calloc(ndbs > 0 ? (size_t)ndbs : 1, sizeof(kdb_t));
    for (int i = 0; i < ndbs; i++) {
        s->dbs[i].keys = dict_create(&keys_type);
        s->dbs[i].expires = dict_create(&expires_type);
        s->dbs[i].id = i;
    }
    return s;
}

int kdb_set_count(const kdb_set_t *s) {
    return s->count;
}

kdb_t *kdb_set_db(kdb_set_t *s, int id) {
    return (id >= 0 && id < s->count) ? &s->dbs[id] : NULL;
}

size_t kdb_set_keys(const kdb_set_t *s) {
    size_t n = 0;
    for (int i = 0; i < s->count; i++)
        n += dict_size(s->dbs[i].keys);
    return n;
}

void kdb_set_free(kdb_set_t *s, bool lazy) {
    if (!s) return;
    for (int i = 0; i < s->count; i++) {
        size_t n = dict_size(s->dbs[i].keys);
        if (lazy && n > 0) {
            lazyfree_dicts(s->dbs[i].keys, s->dbs[i].expires, n);
        } else {
            dict_release(s->dbs[i].keys);
            dict_release(s->dbs[i].expires);
        }
    }
    kl_free(s->dbs);
    kl_free(s);
}

void db_swap_set(kdb_set_t *s) {
    /* databases cannot change at run time: a set made by kdb_set_new()
     * always matches the live array. */
    int n = s->count < ndbs ? s->count : ndbs;
    for (int i = 0; i < n; i++)
        swap_contents(&dbs[i], &s->dbs[i]);
}

kdb_set_t *db_move_aside(void) {
    kdb_set_t *s = kdb_set_new();
    db_swap_set(s);
    return s;
}

void db_restore_aside(kdb_set_t *s, bool lazy) {
    db_swap_set(s);
    kdb_set_free(s, lazy);
}

bool db_random_key(kdb_t *db, const char **key, size_t *klen) {
    /* Like Redis: retry a bounded number of times while the random pick is an
     * expired key, deleting it on the way. */
    for (int tries = 0; tries < 100; tries++) {
        dict_entry_t *e = dict_random_entry(db->keys);
        if (!e) return false;
        const char *k = dict_entry_key(e);
        size_t kl = dict_entry_klen(e);
        int64_t when = db_get_expire(db, k, kl);
        if (when >= 0 && when <= g_kv.mstime) {
            if (tries == 99 && dict_size(db->keys) == dict_size(db->expires)) {
                /* Everything is volatile and expired keys keep coming up:
                 * return this one rather than loop, as Redis does. */
                *key = k;
                *klen = kl;
                return true;
            }
            db_expire_if_needed(db, k, kl);
            continue;
        }
        *key = k;
        *klen = kl;
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------- active expiry */

typedef struct expire_scan {
    kdb_t *db;
    int64_t now;
    long sampled, expired;
    double ttl_sum; /* TTLs can be near INT64_MAX: sum in floating point */
    long ttl_samples;
    /* Keys to delete after the scan step (the scan callback must not free
     * the expires entry it is visiting on the keys dict side). */
    struct {
        char *k;
        size_t kl;
    } victims[64];
    int nvictims;
} expire_scan_t;

static void expire_scan_cb(void *priv, dict_entry_t *e) {
    expire_scan_t *s = priv;
    s->sampled++;
    int64_t when = dict_entry_get_s64(e);
    if (when <= s->now) {
        if (s->nvictims < 64) {
            s->victims[s->nvictims].kl = dict_entry_klen(e);
            s->victims[s->nvictims].k = kl_memdup(dict_entry_key(e), dict_entry_klen(e));
            s->nvictims++;
        }
    } else {
        s->ttl_sum += (double)(when - s->now);
        s->ttl_samples++;
    }
}

void db_active_expire_cycle(long long budget_us) {
    if (!g_kv.active_expire_enabled || g_kv.replica) return;
    long long start = kl_ustime();
    long total_sampled = 0, total_expired = 0;
    for (int i = 0; i < ndbs; i++) {
        kdb_t *db = &dbs[i];
        if (dict_size(db->expires) == 0) {
            db->avg_ttl = 0;
            continue;
        }
        for (;;) {
            expire_scan_t s;
            memset(&s, 0, sizeof(s));
            s.db = db;
            s.now = kl_mstime();
            /* Visit buckets until about 20 keys were looked at. */
            int buckets = 0;
            do {
                db->expire_cursor = dict_scan(db->expires, db->expire_cursor, expire_scan_cb, &s);
                buckets++;
            } while (db->expire_cursor != 0 && s.sampled < 20 && buckets < 400 && s.nvictims < 48);
            for (int v = 0; v < s.nvictims; v++) {
                if (dict_find(db->expires, s.victims[v].k, s.victims[v].kl)) {
                    /* The executor notifies "expired" and breaks WATCHes. */
                    kv__hooks.expired(db, s.victims[v].k, s.victims[v].kl);
                    dict_delete(db->expires, s.victims[v].k, s.victims[v].kl);
                    unlink_value(db, s.victims[v].k, s.victims[v].kl, g_cfg.lazyfree_lazy_expire);
                    g_kv.stat.expiredkeys++;
                    s.expired++;
                }
                kl_free(s.victims[v].k);
            }
            total_sampled += s.sampled;
            total_expired += s.expired;
            if (s.ttl_samples) {
                long long avg = (long long)(s.ttl_sum / (double)s.ttl_samples);
                db->avg_ttl = db->avg_ttl ? (db->avg_ttl / 50) * 49 + avg / 50 : avg;
            }
            if (kl_ustime() - start > budget_us) {
                g_kv.stat.expired_time_cap_reached_count++;
                goto done;
            }
            /* Keep going in this db while more than 10% of the sample expired. */
            if (s.sampled == 0 || s.expired * 10 <= s.sampled || db->expire_cursor == 0) break;
        }
        if (dict_size(db->expires) == 0) db->avg_ttl = 0;
    }
done:
    if (total_sampled) {
        double perc = (double)total_expired / (double)total_sampled;
        g_kv.stat.expired_stale_perc = perc * 0.05 + g_kv.stat.expired_stale_perc * 0.95;
    }
}

void db_cron(long long budget_us) {
    long long start = kl_ustime();
    for (int i = 0; i < ndbs; i++) {
        dict_try_shrink(dbs[i].keys);
        dict_try_shrink(dbs[i].expires);
    }
    for (int i = 0; i < ndbs; i++) {
        long long left = budget_us - (kl_ustime() - start);
        if (left <= 0) break;
        if (dict_is_rehashing(dbs[i].keys)) dict_rehash_for_us(dbs[i].keys, left / 2 + 1);
        if (dict_is_rehashing(dbs[i].expires)) dict_rehash_for_us(dbs[i].expires, left / 2 + 1);
    }
}
