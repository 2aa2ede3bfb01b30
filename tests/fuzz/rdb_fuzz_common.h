/* Shared by the RDB fuzz targets (fuzz_rdb_load.c, fuzz_restore.c): keyspace
 * set-up, and a complete walk of a loaded value that checks it is whole.
 *
 * The walk reads every byte of every element (so a value pointing outside
 * its memory trips ASan), checks the counts each container keeps against
 * the elements it really holds, and, for values loaded with RDB_LOAD_DEEP
 * (Redis's sanitize-dump-payload yes), the invariants commands rely on:
 * sorted unique intsets, unique hash fields / zset members, valid skiplists.
 * Then the value is serialized again with rdb_save_object, loaded back with
 * the same flags (a value keyloom accepted once must load again), and the
 * two are compared by an order-independent digest.
 *
 * Every failed check aborts, which libFuzzer reports as a crash. */
#ifndef KL_RDB_FUZZ_COMMON_H
#define KL_RDB_FUZZ_COMMON_H

#include "config.h"
#include "db.h"
#include "dict.h"
#include "intset.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kv.h"
#include "listpack.h"
#include "object.h"
#include "quicklist.h"
#include "rdb.h"
#include "types.h"
#include "zskiplist.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FCHECK(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The keyspace the loader fills: defaults, 16 databases. Called once. */
static void rdb_fuzz_init(void) {
    static int done;
    if (done) return;
    done = 1;
    kl_log_set_file("/dev/null");
    config_init_defaults();
    kv_update_time();
    db_init(g_cfg.databases);
}

/* The encoding limits a load converts by (hash-max-listpack-*, ...), from
 * 6 bytes of knobs: the defaults when k is NULL. A value reloaded under
 * other limits may change encoding, so fz_check_value keeps them. */
static void rdb_fuzz_limits(const unsigned char *k) {
    if (!k) {
        g_cfg.hash_max_listpack_entries = 512;
        g_cfg.hash_max_listpack_value = 64;
        g_cfg.zset_max_listpack_entries = 128;
        g_cfg.zset_max_listpack_value = 64;
        g_cfg.set_max_intset_entries = 512;
        g_cfg.list_max_listpack_size = -2;
        g_cfg.list_compress_depth = 0;
        return;
    }
    g_cfg.hash_max_listpack_entries = k[0] & 0x1f;
    g_cfg.zset_max_listpack_entries = k[1] & 0x1f;
    g_cfg.set_max_intset_entries = k[2] & 0x1f;
    g_cfg.hash_max_listpack_value = k[3] & 0x3f;
    g_cfg.zset_max_listpack_value = k[3] >> 2;
    /* -5..-1 (bytes) or 1..16 (entries) */
    g_cfg.list_max_listpack_size = k[4] & 0x10 ? -1 - (k[4] & 3) : 1 + (k[4] & 0xf);
    g_cfg.list_compress_depth = k[5] & 3;
}

/* Where reads that must not be optimised away go. */
static volatile uint64_t fz_sink;

/* FNV-1a over bytes, mixed into h. */
static uint64_t fz_hash(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    if (h == 0) h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    /* One more round so that "ab"+"c" and "a"+"bc" differ. */
    h ^= n;
    h *= 1099511628211ULL;
    return h;
}

/* A score as the digest sees it: the double a listpack entry parses to. */
static double fz_lp_score(const unsigned char *p) {
    lp_entry_t e;
    lp_get(p, &e);
    if (!e.sval) return (double)e.lval;
    char buf[128];
    size_t n = e.slen < sizeof(buf) - 1 ? e.slen : sizeof(buf) - 1;
    memcpy(buf, e.sval, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

static uint64_t fz_pair_hash(const void *a, size_t an, const void *b, size_t bn) {
    return fz_hash(fz_hash(0, a, an), b, bn);
}

static uint64_t fz_score_hash(const void *m, size_t mn, double score) {
    if (score == 0) score = 0; /* -0 and 0 are one score */
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.17g", score);
    return fz_pair_hash(m, mn, buf, (size_t)n);
}

/* Walk a listpack of `stride` entries per element: every byte read. Returns
 * the number of entries; *digest gets the xor of the per-element hashes
 * (order matters only for lists, stride 1, where the digest chains). */
static unsigned long fz_walk_lp(unsigned char *lp, int stride, bool zset, bool deep,
                                uint64_t *digest) {
    FCHECK(lp_validate(lp, lp_bytes(lp)) == 0);
    unsigned long n = 0;
    unsigned char b1[32], b2[32];
    dict_t *seen = NULL;
    static const dict_type_t keys_only = {.val_free = NULL, .keys_only = 1};
    if (deep && stride == 2) seen = dict_create(&keys_only);
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        size_t l1;
        const unsigned char *s1 = lp_get_bytes(p, b1, &l1);
        uint64_t h = fz_hash(0, s1, l1);
        n++;
        if (stride == 2) {
            unsigned char *q = lp_next(lp, p);
            FCHECK(q != NULL); /* pairs are whole */
            size_t l2;
            const unsigned char *s2 = lp_get_bytes(q, b2, &l2);
            n++;
            if (seen) {
                int existed;
                dict_add_or_find(seen, (const char *)s1, l1, &existed);
                FCHECK(!existed);
            }
            if (zset) {
                double sc = fz_lp_score(q);
                if (deep) FCHECK(!isnan(sc));
                h = fz_score_hash(s1, l1, sc);
            } else {
                h = fz_pair_hash(s1, l1, s2, l2);
            }
            *digest ^= h;
            p = q;
        } else {
            *digest = fz_hash(*digest, s1, l1);
        }
    }
    if (seen) dict_release(seen);
    FCHECK(n == lp_length(lp));
    return n;
}

/* An order-independent digest of a value, after a walk that reads it all. */
static uint64_t fz_walk(kobj_t *o, bool deep) {
    uint64_t d = 0;
    switch (o->type) {
    case OBJ_STRING: {
        char buf[32];
        size_t len;
        const char *s = obj_string_bytes(o, buf, &len);
        FCHECK(len == obj_string_len(o));
        d = fz_hash(0, s, len);
        break;
    }
    case OBJ_LIST: {
        FCHECK(o->enc == ENC_QUICKLIST);
        quicklist_t *ql = o->v.p;
        unsigned long total = 0, nodes = 0;
        for (const ql_node_t *n = ql_first_node(ql); n; n = ql_node_next(n)) {
            size_t len;
            bool plain;
            const unsigned char *p = ql_node_view(n, &len, &plain);
            nodes++;
            if (plain) {
                total++;
                fz_sink ^= fz_hash(0, p, len); /* read it all */
            } else {
                unsigned char *copy = kl_malloc(len);
                memcpy(copy, p, len); /* the view is a scratch buffer */
                FCHECK(lp_validate(copy, len) == 0);
                unsigned long c = lp_length(copy);
                FCHECK(c > 0);
                total += c;
                kl_free(copy);
            }
        }
        FCHECK(nodes == ql_node_count(ql));
        FCHECK(total == ql_count(ql));
        FCHECK(total > 0);
        ql_iter_t it;
        ql_entry_t e;
        unsigned long seen = 0;
        ql_iter_init(&it, ql, QL_FORWARD, 0);
        while (ql_iter_next(&it, &e)) {
            unsigned char buf[32];
            size_t len;
            const unsigned char *s = ql_entry_bytes(&e, buf, &len);
            d = fz_hash(d, s, len);
            seen++;
        }
        ql_iter_done(&it);
        FCHECK(seen == total);
        break;
    }
    case OBJ_SET:
        if (o->enc == ENC_INTSET) {
            intset_t *is = o->v.p;
            FCHECK(intset_len(is) > 0);
            if (deep) FCHECK(intset_validate(is) == 1);
            for (uint32_t i = 0; i < intset_len(is); i++) {
                char buf[32];
                int n = snprintf(buf, sizeof(buf), "%lld", (long long)intset_get(is, i));
                d ^= fz_hash(0, buf, (size_t)n);
            }
        } else {
            FCHECK(o->enc == ENC_HASHTABLE);
            dict_t *dt = o->v.p;
            size_t n = 0;
            dict_iter_t it;
            dict_iter_init(&it, dt, 0);
            dict_entry_t *e;
            while ((e = dict_iter_next(&it)) != NULL) {
                d ^= fz_hash(0, dict_entry_key(e), dict_entry_klen(e));
                n++;
            }
            dict_iter_done(&it);
            FCHECK(n == dict_size(dt) && n > 0);
        }
        break;
    case OBJ_ZSET:
        if (o->enc == ENC_LISTPACK) {
            FCHECK(fz_walk_lp(o->v.p, 2, true, deep, &d) > 0);
        } else {
            FCHECK(o->enc == ENC_SKIPLIST);
            zsl_set_t *zs = o->v.p;
            FCHECK(zsl_set_validate(zs) == 0);
            unsigned long n = 0;
            for (const zsl_node_t *nd = zsl_first(&zs->zsl); nd; nd = zsl_next(nd)) {
                size_t len;
                const char *m = zsl_node_member(nd, &len);
                FCHECK(!isnan(nd->score));
                d ^= fz_score_hash(m, len, nd->score);
                n++;
            }
            FCHECK(n == zsl_set_len(zs) && n > 0);
        }
        break;
    case OBJ_HASH:
        if (o->enc == ENC_LISTPACK) {
            FCHECK(fz_walk_lp(o->v.p, 2, false, deep, &d) > 0);
        } else {
            FCHECK(o->enc == ENC_HASHTABLE);
            dict_t *dt = o->v.p;
            size_t n = 0;
            dict_iter_t it;
            dict_iter_init(&it, dt, 0);
            dict_entry_t *e;
            while ((e = dict_iter_next(&it)) != NULL) {
                char buf[8];
                size_t vlen;
                const char *v = hval_get(dict_entry_get_u64(e), buf, &vlen);
                d ^= fz_pair_hash(dict_entry_key(e), dict_entry_klen(e), v, vlen);
                n++;
            }
            dict_iter_done(&it);
            FCHECK(n == dict_size(dt) && n > 0);
        }
        break;
    default:
        FCHECK(!"unknown value type");
    }
    return d;
}

/* Walk o, save it, load the saved bytes back with the same flags, and check
 * that the copy is the same value. Does not free o. */
__attribute__((unused)) static void fz_check_value(kobj_t *o, int flags) {
    bool deep = (flags & RDB_LOAD_DEEP) != 0;
    uint64_t d1 = fz_walk(o, deep);
    int type = rdb_object_type(o);
    FCHECK(type >= 0);
    rdb_buf_t w = {0};
    rdb_save_object(&w, o, true);
    FCHECK(rdb_serialized_length(o, true) == w.len);
    rdb_reader_t r;
    rdb_reader_init(&r, w.b, w.len);
    bool empty;
    rdb_err_t err = {{0}, 0};
    kobj_t *c = rdb_load_object(&r, type, flags, &empty, &err);
    if (!c) fprintf(stderr, "reload failed: %s at %zu\n", err.msg, err.offset);
    FCHECK(c != NULL);
    FCHECK(rdb_remaining(&r) == 0);
    FCHECK(c->type == o->type);
    FCHECK(fz_walk(c, deep) == d1);
    obj_free(c);
    rdb_buf_free(&w);
}

#endif
