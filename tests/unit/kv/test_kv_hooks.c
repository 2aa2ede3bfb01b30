/* kv/ reports to the layer above only through kv.h's hooks: every change to
 * a key, every expiry, eviction and miss arrives as exactly the hook calls the
 * executor relies on (WATCH, unblocking, notifications, later propagation).
 * These tests link kv/ alone, register recording hooks and drive the
 * keyspace API. */
#include <criterion/criterion.h>

#include "config.h"
#include "db.h"
#include "evict.h"
#include "kv.h"
#include "object.h"

#include <stdio.h>
#include <string.h>

#define MAX_EVENTS 1024

typedef struct event {
    char kind; /* m(odified) s(tored) a(dded) x (expired) v (evicted) ? (miss) */
    char key[32];
    int dbid;
} event_t;

static event_t events[MAX_EVENTS];
static int nevents;

static void rec(char kind, kdb_t *db, const char *key, size_t klen) {
    cr_assert_lt(nevents, MAX_EVENTS);
    event_t *e = &events[nevents++];
    e->kind = kind;
    cr_assert_lt(klen, sizeof(e->key));
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    e->dbid = db->id;
}
static void on_modified(kdb_t *db, const char *key, size_t klen) {
    rec('m', db, key, klen);
}
static void on_stored(kdb_t *db, const char *key, size_t klen, const kobj_t *val, bool added) {
    rec(added ? 'a' : 's', db, key, klen);
}
static void on_expired(kdb_t *db, const char *key, size_t klen) {
    /* Called before the delete: the key is still there and readable. */
    cr_assert_not_null(db_peek(db, key, klen));
    rec('x', db, key, klen);
}
static void on_evicted(kdb_t *db, const char *key, size_t klen) {
    cr_assert_not_null(db_peek(db, key, klen));
    rec('v', db, key, klen);
}
static void on_miss(kdb_t *db, const char *key, size_t klen) {
    rec('?', db, key, klen);
}

/* The events since the last call as "kind:key" words (cut at 1 KB: only the
 * short sequences are compared). */
static const char *take(void) {
    static char buf[1024];
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < nevents && off < sizeof(buf) - 1; i++) {
        int n = snprintf(buf + off, sizeof(buf) - off, "%s%c:%s", i ? " " : "", events[i].kind,
                         events[i].key);
        if (n < 0) break;
        off += (size_t)n;
    }
    nevents = 0;
    return buf;
}

static void setup(void) {
    config_init_defaults();
    static const kv_hooks_t h = {
        .modified = on_modified,
        .stored = on_stored,
        .expired = on_expired,
        .evicted = on_evicted,
        .miss = on_miss,
    };
    kv_set_hooks(&h);
    kv_update_time();
    db_init(2);
    nevents = 0;
}

static void teardown(void) {
    db_free_all();
    config_free();
}

TestSuite(kv_hooks, .init = setup, .fini = teardown);

static kobj_t *str(const char *s) {
    return obj_string_new(s, strlen(s));
}

Test(kv_hooks, add_set_replace_delete) {
    kdb_t *db = db_get(0);
    db_add(db, "a", 1, str("1"));
    cr_expect_str_eq(take(), "a:a");
    db_set(db, "a", 1, str("2"), false); /* overwrite: stored, not added */
    cr_expect_str_eq(take(), "s:a");
    db_set(db, "b", 1, str("3"), false);
    cr_expect_str_eq(take(), "a:b");
    db_replace_value(db, "b", 1, str("4"));
    cr_expect_str_eq(take(), "s:b");
    cr_expect(db_delete(db, "a", 1));
    cr_expect_str_eq(take(), "m:a");
    cr_expect_not(db_delete(db, "a", 1)); /* nothing to delete: no event */
    cr_expect_str_eq(take(), "");
    db_key_modified(db, "b", 1);
    cr_expect_str_eq(take(), "m:b");
}

Test(kv_hooks, ttl_changes_are_modifications) {
    kdb_t *db = db_get(1);
    db_add(db, "k", 1, str("v"));
    take();
    db_set_expire(db, "k", 1, g_kv.mstime + 100000);
    cr_expect_str_eq(take(), "m:k");
    cr_expect(db_remove_expire(db, "k", 1));
    cr_expect_str_eq(take(), "m:k");
    cr_expect_not(db_remove_expire(db, "k", 1));
    cr_expect_str_eq(take(), "");
    cr_expect_eq(events[0].dbid, 1);
}

Test(kv_hooks, lazy_expiry_and_misses) {
    kdb_t *db = db_get(0);
    db_add(db, "gone", 4, str("v"));
    db_set_expire(db, "gone", 4, g_kv.mstime - 1); /* already in the past */
    take();
    uint64_t before = g_kv.stat.expiredkeys;
    cr_expect_null(db_lookup_read(db, "gone", 4));
    /* Expired (before the delete), then the read missed. */
    cr_expect_str_eq(take(), "x:gone ?:gone");
    cr_expect_eq(g_kv.stat.expiredkeys, before + 1);
    cr_expect_null(db_peek(db, "gone", 4));
    cr_expect_null(db_lookup_write(db, "none", 4)); /* a write lookup is no miss */
    cr_expect_str_eq(take(), "");
}

Test(kv_hooks, active_expiry_reports_each_key) {
    kdb_t *db = db_get(0);
    char k[8];
    for (int i = 0; i < 10; i++) {
        snprintf(k, sizeof(k), "e%d", i);
        db_add(db, k, strlen(k), str("v"));
        db_set_expire(db, k, strlen(k), g_kv.mstime - 1);
    }
    db_add(db, "keep", 4, str("v"));
    take();
    g_kv.active_expire_enabled = true;
    db_active_expire_cycle(1000000);
    int expired = 0;
    for (int i = 0; i < nevents; i++) {
        cr_expect_eq(events[i].kind, 'x', "only expiry events, got %c for %s", events[i].kind,
                     events[i].key);
        expired++;
    }
    nevents = 0;
    cr_expect_eq(expired, 10);
    cr_expect_eq(db_size(db), 1);
}

Test(kv_hooks, eviction_reports_before_deleting) {
    kdb_t *db = db_get(0);
    char k[16];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        db_add(db, k, strlen(k), obj_string_new_raw("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 32));
    }
    take();
    g_cfg.maxmemory_policy = KL_MAXMEMORY_ALLKEYS_RANDOM;
    g_cfg.maxmemory = 1; /* far below what is used: evict everything evictable */
    int r = evict_perform();
    g_cfg.maxmemory = 0;
    cr_expect_neq(r, EVICT_OK);
    int evicted = 0, deleted = 0;
    for (int i = 0; i < nevents; i++) {
        if (events[i].kind == 'v') evicted++;
        if (events[i].kind == 'm') deleted++; /* the delete itself is a modification */
    }
    nevents = 0;
    cr_expect_gt(evicted, 0);
    cr_expect_eq(evicted, deleted);
    cr_expect_eq(db_size(db), (size_t)(200 - evicted));
}
