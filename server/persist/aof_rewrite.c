/* The dataset as commands (an AOF base without RDB preamble,
 * aof-use-rdb-preamble no), as Redis 7.0's rewriteAppendOnlyFileRio writes
 * it: per database a SELECT, then per key one command (SET, or RPUSH /
 * SADD / ZADD / HMSET in batches of 64 elements) and a PEXPIREAT for keys
 * with a TTL. Runs in the rewrite child (the fork rules of snapshot.h). */
#include "aof_rewrite.h"

#include "db.h"
#include "dict.h"
#include "intset.h"
#include "kl_util.h"
#include "listpack.h"
#include "object.h"
#include "quicklist.h"
#include "rdb_codec.h"
#include "types.h"
#include "zskiplist.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ITEMS_PER_CMD 64
#define FLUSH_BYTES (64 * 1024)

typedef struct out {
    int fd;
    rdb_buf_t b;
    int err;
} out_t;

static void flush(out_t *o) {
    size_t off = 0;
    while (!o->err && off < o->b.len) {
        ssize_t n = write(o->fd, o->b.b + off, o->b.len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            o->err = -errno;
            break;
        }
        off += (size_t)n;
    }
    o->b.len = 0;
}

static void put_hdr(out_t *o, char c, size_t n) {
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%c%zu\r\n", c, n);
    rdb_put_raw(&o->b, buf, (size_t)len);
}

static void put_bulk(out_t *o, const void *p, size_t n) {
    put_hdr(o, '$', n);
    rdb_put_raw(&o->b, p, n);
    rdb_put_raw(&o->b, "\r\n", 2);
    if (o->b.len >= FLUSH_BYTES) flush(o);
}

static void put_bulk_ll(out_t *o, long long v) {
    char buf[32];
    int n = kl_ll_to_str(buf, sizeof(buf), v);
    put_bulk(o, buf, (size_t)n);
}

/* A command header for the next batch of a collection: *<2+items> NAME key. */
static void batch_start(out_t *o, const char *name, const char *key, size_t klen, size_t items,
                        size_t argc_per_item) {
    put_hdr(o, '*', 2 + items * argc_per_item);
    put_bulk(o, name, strlen(name));
    put_bulk(o, key, klen);
}

static size_t batch_len(size_t left) {
    return left > ITEMS_PER_CMD ? ITEMS_PER_CMD : left;
}

static void rewrite_list(out_t *o, const char *key, size_t klen, kobj_t *v) {
    quicklist_t *ql = v->v.p;
    size_t left = ql_count(ql), in_batch = 0;
    ql_iter_t it;
    ql_entry_t e;
    ql_iter_init(&it, ql, QL_FORWARD, 0);
    while (ql_iter_next(&it, &e)) {
        if (in_batch == 0) batch_start(o, "RPUSH", key, klen, batch_len(left), 1);
        if (e.s)
            put_bulk(o, e.s, e.len);
        else
            put_bulk_ll(o, e.lval);
        left--;
        if (++in_batch == ITEMS_PER_CMD) in_batch = 0;
    }
    ql_iter_done(&it);
}

static void rewrite_set(out_t *o, const char *key, size_t klen, kobj_t *v) {
    size_t in_batch = 0;
    if (v->enc == ENC_INTSET) {
        intset_t *is = v->v.p;
        size_t left = intset_len(is);
        for (uint32_t i = 0; i < intset_len(is); i++) {
            if (in_batch == 0) batch_start(o, "SADD", key, klen, batch_len(left), 1);
            put_bulk_ll(o, intset_get(is, i));
            left--;
            if (++in_batch == ITEMS_PER_CMD) in_batch = 0;
        }
        return;
    }
    dict_t *d = v->v.p;
    size_t left = dict_size(d);
    dict_iter_t it;
    dict_iter_init(&it, d, 0);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        if (in_batch == 0) batch_start(o, "SADD", key, klen, batch_len(left), 1);
        put_bulk(o, dict_entry_key(e), dict_entry_klen(e));
        left--;
        if (++in_batch == ITEMS_PER_CMD) in_batch = 0;
    }
    dict_iter_done(&it);
}

static void put_score(out_t *o, double d) {
    char buf[KL_DSTR_SIZE];
    int n = kl_d_to_str(buf, sizeof(buf), d);
    put_bulk(o, buf, (size_t)n);
}

static void rewrite_zset(out_t *o, const char *key, size_t klen, kobj_t *v) {
    size_t in_batch = 0;
    if (v->enc == ENC_LISTPACK) {
        unsigned char *lp = v->v.p;
        size_t left = lp_length(lp) / 2;
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
            unsigned char mb[32], sb[32];
            size_t ml, sl;
            const unsigned char *m = lp_get_bytes(p, mb, &ml);
            const unsigned char *s = lp_get_bytes(lp_next(lp, p), sb, &sl);
            if (in_batch == 0) batch_start(o, "ZADD", key, klen, batch_len(left), 2);
            put_bulk(o, s, sl); /* the listpack keeps Redis's score text */
            put_bulk(o, m, ml);
            left--;
            if (++in_batch == ITEMS_PER_CMD) in_batch = 0;
        }
        return;
    }
    zsl_set_t *zs = v->v.p;
    size_t left = zsl_set_len(zs);
    for (zsl_node_t *n = zsl_first(&zs->zsl); n; n = zsl_next(n)) {
        size_t ml;
        const char *m = zsl_node_member(n, &ml);
        if (in_batch == 0) batch_start(o, "ZADD", key, klen, batch_len(left), 2);
        put_score(o, n->score);
        put_bulk(o, m, ml);
        left--;
        if (++in_batch == ITEMS_PER_CMD) in_batch = 0;
    }
}

static void rewrite_hash(out_t *o, const char *key, size_t klen, kobj_t *v) {
    size_t in_batch = 0;
    if (v->enc == ENC_LISTPACK) {
        unsigned char *lp = v->v.p;
        size_t left = lp_length(lp) / 2;
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
            unsigned char fb[32], vb[32];
            size_t fl, vl;
            const unsigned char *f = lp_get_bytes(p, fb, &fl);
            const unsigned char *val = lp_get_bytes(lp_next(lp, p), vb, &vl);
            if (in_batch == 0) batch_start(o, "HMSET", key, klen, batch_len(left), 2);
            put_bulk(o, f, fl);
            put_bulk(o, val, vl);
            left--;
            if (++in_batch == ITEMS_PER_CMD) in_batch = 0;
        }
        return;
    }
    dict_t *d = v->v.p;
    size_t left = dict_size(d);
    dict_iter_t it;
    dict_iter_init(&it, d, 0);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        char buf[8];
        size_t vl;
        const char *val = hval_get(dict_entry_get_u64(e), buf, &vl);
        if (in_batch == 0) batch_start(o, "HMSET", key, klen, batch_len(left), 2);
        put_bulk(o, dict_entry_key(e), dict_entry_klen(e));
        put_bulk(o, val, vl);
        left--;
        if (++in_batch == ITEMS_PER_CMD) in_batch = 0;
    }
    dict_iter_done(&it);
}

int aof_rewrite_fd(int fd, uint64_t *keys) {
    out_t o = {.fd = fd};
    uint64_t n = 0;
    for (int i = 0; i < db_count() && !o.err; i++) {
        kdb_t *db = db_get(i);
        if (db_size(db) == 0) continue;
        put_hdr(&o, '*', 2);
        put_bulk(&o, "SELECT", 6);
        put_bulk_ll(&o, i);
        dict_iter_t it;
        dict_iter_init(&it, db->keys, 0);
        dict_entry_t *e;
        while ((e = dict_iter_next(&it)) != NULL && !o.err) {
            const char *key = dict_entry_key(e);
            size_t klen = dict_entry_klen(e);
            kobj_t *v = dict_entry_val(e);
            switch (v->type) {
            case OBJ_STRING: {
                char buf[32];
                size_t len;
                const char *s = obj_string_bytes(v, buf, &len);
                put_hdr(&o, '*', 3);
                put_bulk(&o, "SET", 3);
                put_bulk(&o, key, klen);
                put_bulk(&o, s, len);
                break;
            }
            case OBJ_LIST:
                rewrite_list(&o, key, klen, v);
                break;
            case OBJ_SET:
                rewrite_set(&o, key, klen, v);
                break;
            case OBJ_ZSET:
                rewrite_zset(&o, key, klen, v);
                break;
            case OBJ_HASH:
                rewrite_hash(&o, key, klen, v);
                break;
            default:
                break;
            }
            int64_t when = db_get_expire(db, key, klen);
            if (when != -1) {
                put_hdr(&o, '*', 3);
                put_bulk(&o, "PEXPIREAT", 9);
                put_bulk(&o, key, klen);
                put_bulk_ll(&o, when);
            }
            n++;
        }
        dict_iter_done(&it);
    }
    flush(&o);
    rdb_buf_free(&o.b);
    if (keys) *keys = n;
    return o.err;
}
