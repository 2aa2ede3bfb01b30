/* RDB values, DUMP payloads and files (rdb.h). Written from the RDB format
 * as Redis 7.0 writes and reads it (rdbSaveObject, rdbLoadObject, rdbSaveRio,
 * rdbLoadRio, createDumpPayload, verifyDumpPayload). */
#include "rdb.h"

#include "config.h"
#include "crc64.h"
#include "db.h"
#include "dict.h"
#include "evict.h"
#include "intset.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "kv.h"
#include "listpack.h"
#include "object.h"
#include "quicklist.h"
#include "types.h"
#include "ziplist.h"
#include "zipmap.h"
#include "zskiplist.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Redis's version in the "redis-ver" AUX field: the one keyloom answers as. */
#define RDB_REDIS_VER "7.0.15"
/* rdb-save-incremental-fsync: fsync every this many bytes written (Redis's
 * REDIS_AUTOSYNC_BYTES). */
#define RDB_AUTOSYNC_BYTES (4u * 1024 * 1024)
/* The save buffer is written out when it holds this much. */
#define RDB_FLUSH_BYTES (64u * 1024)

static void set_err(rdb_err_t *err, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(rdb_err_t *err, size_t offset, const char *fmt, ...) {
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->offset = offset;
}

/* ================================================================ saving values */

int rdb_object_type(const kobj_t *o) {
    switch (o->type) {
    case OBJ_STRING:
        return RDB_TYPE_STRING;
    case OBJ_LIST:
        return RDB_TYPE_LIST_QUICKLIST_2;
    case OBJ_SET:
        return o->enc == ENC_INTSET ? RDB_TYPE_SET_INTSET : RDB_TYPE_SET;
    case OBJ_ZSET:
        return o->enc == ENC_LISTPACK ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2;
    case OBJ_HASH:
        return o->enc == ENC_LISTPACK ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH;
    default:
        return -1;
    }
}

static void save_list(rdb_buf_t *w, const kobj_t *o, bool compress) {
    const quicklist_t *ql = o->v.p;
    rdb_put_len(w, ql_node_count(ql));
    for (const ql_node_t *n = ql_first_node(ql); n; n = ql_node_next(n)) {
        size_t len;
        bool plain;
        const unsigned char *p = ql_node_view(n, &len, &plain);
        rdb_put_len(w, plain ? RDB_QUICKLIST_NODE_PLAIN : RDB_QUICKLIST_NODE_PACKED);
        /* Redis writes a node it keeps compressed as that LZF blob, the
         * others through rdbSaveRawString (which compresses them when that
         * pays): both load the same. */
        rdb_put_string(w, p, len, compress);
    }
}

static void save_set(rdb_buf_t *w, const kobj_t *o, bool compress) {
    if (o->enc == ENC_INTSET) {
        const intset_t *is = o->v.p;
        rdb_put_string(w, is, intset_blob_len(is), compress);
        return;
    }
    dict_t *d = o->v.p;
    rdb_put_len(w, dict_size(d));
    dict_iter_t it;
    dict_iter_init(&it, d, 0);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL)
        rdb_put_string(w, dict_entry_key(e), dict_entry_klen(e), compress);
    dict_iter_done(&it);
}

static void save_zset(rdb_buf_t *w, const kobj_t *o, bool compress) {
    if (o->enc == ENC_LISTPACK) {
        rdb_put_string(w, o->v.p, lp_bytes(o->v.p), compress);
        return;
    }
    const zsl_set_t *zs = o->v.p;
    rdb_put_len(w, zsl_set_len(zs));
    /* From the tail, as Redis: loading inserts at the head, cheaply. */
    for (const zsl_node_t *n = zsl_last(&zs->zsl); n; n = zsl_prev(n)) {
        size_t len;
        const char *m = zsl_node_member(n, &len);
        rdb_put_string(w, m, len, compress);
        rdb_put_double_bin(w, n->score);
    }
}

static void save_hash(rdb_buf_t *w, const kobj_t *o, bool compress) {
    if (o->enc == ENC_LISTPACK) {
        rdb_put_string(w, o->v.p, lp_bytes(o->v.p), compress);
        return;
    }
    dict_t *d = o->v.p;
    rdb_put_len(w, dict_size(d));
    dict_iter_t it;
    dict_iter_init(&it, d, 0);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        char buf[8];
        size_t vlen;
        const char *v = hval_get(dict_entry_get_u64(e), buf, &vlen);
        rdb_put_string(w, dict_entry_key(e), dict_entry_klen(e), compress);
        rdb_put_string(w, v, vlen, compress);
    }
    dict_iter_done(&it);
}

void rdb_save_object(rdb_buf_t *w, const kobj_t *o, bool compress) {
    switch (o->type) {
    case OBJ_STRING:
        if (o->enc == ENC_INT)
            rdb_put_ll(w, o->v.i);
        else
            rdb_put_string(w, o->v.s.ptr, o->v.s.len, compress);
        break;
    case OBJ_LIST:
        save_list(w, o, compress);
        break;
    case OBJ_SET:
        save_set(w, o, compress);
        break;
    case OBJ_ZSET:
        save_zset(w, o, compress);
        break;
    case OBJ_HASH:
        save_hash(w, o, compress);
        break;
    default:
        break;
    }
}

size_t rdb_serialized_length(const kobj_t *o, bool compress) {
    rdb_buf_t w = {0};
    rdb_save_object(&w, o, compress);
    size_t n = w.len;
    rdb_buf_free(&w);
    return n;
}

/* ================================================================ loading values */

bool rdb_is_loadable_type(int t) {
    return (t >= RDB_TYPE_STRING && t <= RDB_TYPE_ZSET_2) ||
           (t >= RDB_TYPE_HASH_ZIPMAP && t <= RDB_TYPE_LIST_QUICKLIST) ||
           (t >= RDB_TYPE_HASH_LISTPACK && t <= RDB_TYPE_LIST_QUICKLIST_2);
}

/* A loading error from the codec (truncated or impossible bytes). */
static kobj_t *codec_err(rdb_reader_t *r, int rc, rdb_err_t *err) {
    set_err(err, r->pos, "%s",
            rc == RDB_ERR_TRUNC ? "Unexpected EOF reading RDB file"
                                : "Corrupt length or string encoding");
    return NULL;
}

/* A temporary set of strings for duplicate checks. */
static const dict_type_t dup_type = {.val_free = NULL, .keys_only = 1};

/* Is a listpack of field/value (or member/score) pairs well formed: even
 * count and, when deep, no repeated field? */
static bool lp_pairs_ok(unsigned char *lp, bool deep) {
    unsigned long n = lp_length(lp);
    if (n & 1) return false;
    if (!deep) return true;
    dict_t *seen = dict_create(&dup_type);
    bool ok = true;
    unsigned char buf[32];
    for (unsigned char *p = lp_first(lp); p && ok; p = lp_next(lp, lp_next(lp, p))) {
        size_t len;
        const unsigned char *s = lp_get_bytes(p, buf, &len);
        int existed;
        dict_add_or_find(seen, (const char *)s, len, &existed);
        if (existed) ok = false;
    }
    dict_release(seen);
    return ok;
}

/* Read a blob (listpack, intset, ziplist, zipmap) into a buffer of its own. */
static int read_blob(rdb_reader_t *r, unsigned char **out, size_t *n) {
    return rdb_get_string(r, out, n);
}

/* ---- conversions to the encodings Redis would choose ---- */

static kobj_t *hash_lp_to_ht(kobj_t *o, rdb_err_t *err, size_t off) {
    unsigned char *lp = o->v.p;
    dict_t *d = dict_create(&kv_hash_dict_type);
    unsigned char fb[32], vb[32];
    for (unsigned char *p = lp_first(lp); p;) {
        unsigned char *vp = lp_next(lp, p);
        size_t flen, vlen;
        const unsigned char *f = lp_get_bytes(p, fb, &flen);
        const unsigned char *v = lp_get_bytes(vp, vb, &vlen);
        int existed;
        dict_entry_t *e = dict_add_or_find(d, (const char *)f, flen, &existed);
        if (existed) {
            dict_release(d);
            obj_free(o);
            set_err(err, off, "Duplicate hash fields detected");
            return NULL;
        }
        dict_entry_set_u64(e, hval_make((const char *)v, vlen));
        p = lp_next(lp, vp);
    }
    lp_free(lp);
    o->v.p = d;
    o->enc = ENC_HASHTABLE;
    return o;
}

static double lp_score(const unsigned char *sp) {
    lp_entry_t e;
    lp_get(sp, &e);
    if (!e.sval) return (double)e.lval;
    char buf[128];
    size_t n = e.slen < sizeof(buf) - 1 ? e.slen : sizeof(buf) - 1;
    memcpy(buf, e.sval, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

static kobj_t *zset_lp_to_skiplist(kobj_t *o, rdb_err_t *err, size_t off) {
    unsigned char *lp = o->v.p;
    zsl_set_t *zs = zsl_set_new();
    unsigned char mb[32];
    for (unsigned char *p = lp_first(lp); p;) {
        unsigned char *sp = lp_next(lp, p);
        size_t mlen;
        const unsigned char *m = lp_get_bytes(p, mb, &mlen);
        double score = lp_score(sp);
        bool added;
        if (isnan(score))
            added = false;
        else
            zsl_set_find_or_insert(zs, (const char *)m, mlen, score, &added);
        if (!added) {
            zsl_set_free(zs);
            obj_free(o);
            set_err(err, off,
                    isnan(score) ? "Zset with NAN score detected"
                                 : "Duplicate zset fields detected");
            return NULL;
        }
        p = lp_next(lp, sp);
    }
    lp_free(lp);
    o->v.p = zs;
    o->enc = ENC_SKIPLIST;
    return o;
}

static void set_intset_to_ht(kobj_t *o) {
    intset_t *is = o->v.p;
    dict_t *d = dict_create(&kv_set_dict_type);
    for (uint32_t i = 0; i < intset_len(is); i++) {
        char buf[32];
        int n = kl_ll_to_str(buf, sizeof(buf), intset_get(is, i));
        dict_add_or_find(d, buf, (size_t)n, NULL);
    }
    intset_free(is);
    o->v.p = d;
    o->enc = ENC_HASHTABLE;
}

/* ---- the types ---- */

static kobj_t *load_string(rdb_reader_t *r, rdb_err_t *err) {
    unsigned char *s;
    size_t n;
    int rc = rdb_get_string(r, &s, &n);
    if (rc) return codec_err(r, rc, err);
    return obj_string_adopt((char *)s, n);
}

/* RDB_TYPE_LIST: the elements one by one (RDB < 7). */
static kobj_t *load_list_linked(rdb_reader_t *r, bool *empty, rdb_err_t *err) {
    uint64_t len;
    int rc = rdb_get_len(r, &len, NULL);
    if (rc) return codec_err(r, rc, err);
    if (len == 0) {
        *empty = true;
        return NULL;
    }
    quicklist_t *ql = ql_new(g_cfg.list_max_listpack_size, g_cfg.list_compress_depth);
    while (len--) {
        unsigned char *s;
        size_t n;
        if ((rc = rdb_get_string(r, &s, &n)) != 0) {
            ql_free(ql);
            return codec_err(r, rc, err);
        }
        ql_push(ql, QL_TAIL, s, n);
        kl_free(s);
    }
    return obj_new(OBJ_LIST, ENC_QUICKLIST, ql);
}

/* A listpack's elements appended to ql one by one (a node too big for one
 * quicklist node). */
static void ql_push_all(quicklist_t *ql, unsigned char *lp) {
    unsigned char buf[32];
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        size_t len;
        const unsigned char *s = lp_get_bytes(p, buf, &len);
        ql_push(ql, QL_TAIL, s, len);
    }
}

/* RDB_TYPE_LIST_QUICKLIST (ziplist nodes) and _2 (listpack or plain nodes). */
static kobj_t *load_quicklist(rdb_reader_t *r, int type, bool *empty, rdb_err_t *err) {
    uint64_t nodes;
    int rc = rdb_get_len(r, &nodes, NULL);
    if (rc) return codec_err(r, rc, err);
    quicklist_t *ql = ql_new(g_cfg.list_max_listpack_size, g_cfg.list_compress_depth);
    while (nodes--) {
        uint64_t container = RDB_QUICKLIST_NODE_PACKED;
        size_t off = r->pos;
        if (type == RDB_TYPE_LIST_QUICKLIST_2) {
            if ((rc = rdb_get_len(r, &container, NULL)) != 0) goto codec;
            if (container != RDB_QUICKLIST_NODE_PACKED && container != RDB_QUICKLIST_NODE_PLAIN) {
                set_err(err, off, "Quicklist integrity check failed.");
                goto fail;
            }
        }
        unsigned char *blob;
        size_t n;
        if ((rc = read_blob(r, &blob, &n)) != 0) goto codec;
        if (container == RDB_QUICKLIST_NODE_PLAIN) {
            ql_append_plain(ql, blob, n);
            kl_free(blob);
            continue;
        }
        unsigned char *lp;
        if (type == RDB_TYPE_LIST_QUICKLIST) {
            lp = zl_to_listpack(blob, n);
            kl_free(blob);
            if (!lp) {
                set_err(err, off, "Ziplist integrity check failed.");
                goto fail;
            }
        } else {
            lp = blob;
            if (lp_validate(lp, n) != 0) {
                kl_free(lp);
                set_err(err, off, "Listpack integrity check failed.");
                goto fail;
            }
        }
        if (lp_length(lp) == 0) { /* Redis skips empty nodes silently */
            lp_free(lp);
            continue;
        }
        if (!ql_append_listpack(ql, lp)) {
            ql_push_all(ql, lp);
            lp_free(lp);
        }
    }
    if (ql_count(ql) == 0) {
        ql_free(ql);
        *empty = true;
        return NULL;
    }
    return obj_new(OBJ_LIST, ENC_QUICKLIST, ql);
codec:
    codec_err(r, rc, err);
fail:
    ql_free(ql);
    return NULL;
}

/* RDB_TYPE_SET: members one by one; an intset while they are integers and
 * the set is small enough, as Redis. */
static kobj_t *load_set(rdb_reader_t *r, bool *empty, rdb_err_t *err) {
    uint64_t len;
    int rc = rdb_get_len(r, &len, NULL);
    if (rc) return codec_err(r, rc, err);
    if (len == 0) {
        *empty = true;
        return NULL;
    }
    long long max = g_cfg.set_max_intset_entries;
    if (max > (1LL << 30)) max = 1LL << 30;
    kobj_t *o = (long long)len <= max
                    ? obj_new(OBJ_SET, ENC_INTSET, intset_new())
                    : obj_new(OBJ_SET, ENC_HASHTABLE, dict_create(&kv_set_dict_type));
    while (len--) {
        size_t off = r->pos;
        unsigned char *s;
        size_t n;
        if ((rc = rdb_get_string(r, &s, &n)) != 0) {
            obj_free(o);
            return codec_err(r, rc, err);
        }
        long long v;
        int dup = 0;
        if (o->enc == ENC_INTSET) {
            if (kl_str_to_ll((const char *)s, n, &v) == 0) {
                int added;
                o->v.p = intset_add(o->v.p, v, &added);
                dup = !added;
            } else {
                set_intset_to_ht(o);
            }
        }
        if (o->enc == ENC_HASHTABLE) {
            int existed;
            dict_add_or_find(o->v.p, (const char *)s, n, &existed);
            dup = existed;
        }
        kl_free(s);
        if (dup) {
            obj_free(o);
            set_err(err, off, "Duplicate set members detected");
            return NULL;
        }
    }
    return o;
}

/* RDB_TYPE_ZSET (text scores) and _2 (binary scores): a skiplist, then a
 * listpack when it is small enough (zsetConvertToListpackIfNeeded). */
static kobj_t *load_zset(rdb_reader_t *r, int type, bool *empty, rdb_err_t *err) {
    uint64_t len;
    int rc = rdb_get_len(r, &len, NULL);
    if (rc) return codec_err(r, rc, err);
    if (len == 0) {
        *empty = true;
        return NULL;
    }
    zsl_set_t *zs = zsl_set_new();
    size_t maxlen = 0, total = 0;
    while (len--) {
        size_t off = r->pos;
        unsigned char *m;
        size_t n;
        double score;
        if ((rc = rdb_get_string(r, &m, &n)) != 0) goto codec;
        rc =
            type == RDB_TYPE_ZSET_2 ? rdb_get_double_bin(r, &score) : rdb_get_double_str(r, &score);
        if (rc) {
            kl_free(m);
            goto codec;
        }
        if (isnan(score)) {
            kl_free(m);
            set_err(err, off, "Zset with NAN score detected");
            goto fail;
        }
        bool added;
        zsl_set_find_or_insert(zs, (const char *)m, n, score, &added);
        kl_free(m);
        if (!added) {
            set_err(err, off, "Duplicate zset fields detected");
            goto fail;
        }
        if (n > maxlen) maxlen = n;
        total += n;
    }
    if ((long long)zsl_set_len(zs) <= g_cfg.zset_max_listpack_entries &&
        (long long)maxlen <= g_cfg.zset_max_listpack_value && lp_safe_to_add(NULL, total)) {
        unsigned char *lp = lp_new(0);
        for (const zsl_node_t *nd = zsl_first(&zs->zsl); nd; nd = zsl_next(nd)) {
            size_t mlen;
            const char *m = zsl_node_member(nd, &mlen);
            char sbuf[KL_DSTR_SIZE];
            int slen = kv_zset_score_str(sbuf, sizeof(sbuf), nd->score);
            lp = lp_append(lp, (const unsigned char *)m, mlen);
            lp = lp_append(lp, (const unsigned char *)sbuf, (size_t)slen);
        }
        zsl_set_free(zs);
        return obj_new(OBJ_ZSET, ENC_LISTPACK, lp);
    }
    return obj_new(OBJ_ZSET, ENC_SKIPLIST, zs);
codec:
    codec_err(r, rc, err);
fail:
    zsl_set_free(zs);
    return NULL;
}

/* RDB_TYPE_HASH: pairs one by one; a listpack unless there are too many or
 * one is too long (then a hashtable), as Redis. */
static kobj_t *load_hash(rdb_reader_t *r, bool *empty, rdb_err_t *err) {
    uint64_t len;
    int rc = rdb_get_len(r, &len, NULL);
    if (rc) return codec_err(r, rc, err);
    if (len == 0) {
        *empty = true;
        return NULL;
    }
    kobj_t *o;
    dict_t *seen = NULL; /* fields of the listpack, for the duplicate check */
    if ((long long)len > g_cfg.hash_max_listpack_entries) {
        o = obj_new(OBJ_HASH, ENC_HASHTABLE, dict_create(&kv_hash_dict_type));
    } else {
        o = obj_new(OBJ_HASH, ENC_LISTPACK, lp_new(0));
        seen = dict_create(&dup_type);
    }
    while (len--) {
        size_t off = r->pos;
        unsigned char *f, *v;
        size_t fl, vl;
        if ((rc = rdb_get_string(r, &f, &fl)) != 0) goto codec;
        if ((rc = rdb_get_string(r, &v, &vl)) != 0) {
            kl_free(f);
            goto codec;
        }
        int existed = 0;
        if (o->enc == ENC_LISTPACK) {
            dict_add_or_find(seen, (const char *)f, fl, &existed);
            if (!existed && ((long long)fl > g_cfg.hash_max_listpack_value ||
                             (long long)vl > g_cfg.hash_max_listpack_value ||
                             !lp_safe_to_add(o->v.p, fl + vl))) {
                dict_release(seen);
                seen = NULL;
                if (!hash_lp_to_ht(o, err, off)) {
                    kl_free(f);
                    kl_free(v);
                    return NULL;
                }
            }
        }
        if (!existed && o->enc == ENC_LISTPACK) {
            o->v.p = lp_append(o->v.p, f, fl);
            o->v.p = lp_append(o->v.p, v, vl);
        } else if (!existed) {
            dict_entry_t *e = dict_add_or_find(o->v.p, (const char *)f, fl, &existed);
            if (!existed) dict_entry_set_u64(e, hval_make((const char *)v, vl));
        }
        kl_free(f);
        kl_free(v);
        if (existed) {
            set_err(err, off, "Duplicate hash fields detected");
            goto fail;
        }
    }
    if (seen) dict_release(seen);
    return o;
codec:
    codec_err(r, rc, err);
fail:
    if (seen) dict_release(seen);
    obj_free(o);
    return NULL;
}

/* The blob encodings: zipmap, ziplists, intset, listpacks. */
static kobj_t *load_blob_type(rdb_reader_t *r, int type, int flags, bool *empty, rdb_err_t *err) {
    size_t off = r->pos;
    unsigned char *blob;
    size_t n;
    int rc = read_blob(r, &blob, &n);
    if (rc) return codec_err(r, rc, err);
    bool deep = (flags & RDB_LOAD_DEEP) != 0;
    unsigned char *lp = NULL;
    kobj_t *o;

    switch (type) {
    case RDB_TYPE_SET_INTSET: {
        /* An empty intset is refused by the deep check only, as Redis. */
        if (!intset_validate_blob(blob, n, deep)) {
            kl_free(blob);
            set_err(err, off, "Intset integrity check failed.");
            return NULL;
        }
        intset_t *is = intset_from_blob(blob, n);
        kl_free(blob);
        if (intset_len(is) == 0) {
            intset_free(is);
            *empty = true;
            return NULL;
        }
        o = obj_new(OBJ_SET, ENC_INTSET, is);
        if ((long long)intset_len(is) > g_cfg.set_max_intset_entries) set_intset_to_ht(o);
        return o;
    }
    case RDB_TYPE_HASH_ZIPMAP:
        lp = zipmap_to_listpack(blob, n);
        kl_free(blob);
        if (!lp) {
            set_err(err, off, "Zipmap integrity check failed.");
            return NULL;
        }
        break;
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
        lp = zl_to_listpack(blob, n);
        kl_free(blob);
        if (!lp) {
            set_err(err, off, "Ziplist integrity check failed.");
            return NULL;
        }
        break;
    default: /* the listpacks */
        lp = blob;
        if (lp_validate(lp, n) != 0) {
            kl_free(lp);
            set_err(err, off, "Listpack integrity check failed.");
            return NULL;
        }
        break;
    }

    if (lp_length(lp) == 0) {
        lp_free(lp);
        *empty = true;
        return NULL;
    }
    switch (type) {
    case RDB_TYPE_LIST_ZIPLIST: {
        quicklist_t *ql = ql_new(g_cfg.list_max_listpack_size, g_cfg.list_compress_depth);
        if (!ql_append_listpack(ql, lp)) {
            ql_push_all(ql, lp);
            lp_free(lp);
        }
        return obj_new(OBJ_LIST, ENC_QUICKLIST, ql);
    }
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
        /* Redis converts a ziplist with the duplicate check, always
         * (ziplistPairsConvertAndValidateIntegrity). */
        if (!lp_pairs_ok(lp, deep || type == RDB_TYPE_ZSET_ZIPLIST)) {
            lp_free(lp);
            set_err(err, off, "%s integrity check failed.",
                    type == RDB_TYPE_ZSET_ZIPLIST ? "Zset ziplist" : "Zset listpack");
            return NULL;
        }
        o = obj_new(OBJ_ZSET, ENC_LISTPACK, lp);
        if ((long long)(lp_length(lp) / 2) > g_cfg.zset_max_listpack_entries)
            return zset_lp_to_skiplist(o, err, off);
        return o;
    default: /* zipmap, hash ziplist, hash listpack */
        if (!lp_pairs_ok(lp,
                         deep || type == RDB_TYPE_HASH_ZIPMAP || type == RDB_TYPE_HASH_ZIPLIST)) {
            lp_free(lp);
            set_err(err, off, "%s integrity check failed.",
                    type == RDB_TYPE_HASH_ZIPMAP    ? "Zipmap"
                    : type == RDB_TYPE_HASH_ZIPLIST ? "Hash ziplist"
                                                    : "Hash listpack");
            return NULL;
        }
        o = obj_new(OBJ_HASH, ENC_LISTPACK, lp);
        if ((long long)(lp_length(lp) / 2) > g_cfg.hash_max_listpack_entries)
            return hash_lp_to_ht(o, err, off);
        if (type == RDB_TYPE_HASH_ZIPMAP) {
            /* Redis converts a zipmap with a too long field or value too. */
            unsigned char buf[32];
            for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
                size_t len;
                lp_get_bytes(p, buf, &len);
                if ((long long)len > g_cfg.hash_max_listpack_value)
                    return hash_lp_to_ht(o, err, off);
            }
        }
        return o;
    }
}

kobj_t *rdb_load_object(rdb_reader_t *r, int type, int flags, bool *empty, rdb_err_t *err) {
    *empty = false;
    switch (type) {
    case RDB_TYPE_STRING:
        return load_string(r, err);
    case RDB_TYPE_LIST:
        return load_list_linked(r, empty, err);
    case RDB_TYPE_SET:
        return load_set(r, empty, err);
    case RDB_TYPE_ZSET:
    case RDB_TYPE_ZSET_2:
        return load_zset(r, type, empty, err);
    case RDB_TYPE_HASH:
        return load_hash(r, empty, err);
    case RDB_TYPE_LIST_QUICKLIST:
    case RDB_TYPE_LIST_QUICKLIST_2:
        return load_quicklist(r, type, empty, err);
    case RDB_TYPE_HASH_ZIPMAP:
    case RDB_TYPE_LIST_ZIPLIST:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_ZSET_ZIPLIST:
    case RDB_TYPE_HASH_ZIPLIST:
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_HASH_LISTPACK:
        return load_blob_type(r, type, flags, empty, err);
    case RDB_TYPE_STREAM_LISTPACKS:
    case RDB_TYPE_STREAM_LISTPACKS_2:
        set_err(err, r->pos, "keyloom cannot load streams yet (RDB type %d)", type);
        return NULL;
    case RDB_TYPE_MODULE:
    case RDB_TYPE_MODULE_2:
        set_err(err, r->pos, "keyloom cannot load module values (RDB type %d)", type);
        return NULL;
    default:
        set_err(err, r->pos, "Unknown RDB encoding type %d", type);
        return NULL;
    }
}

/* ================================================================ DUMP / RESTORE */

void rdb_dump_payload(rdb_buf_t *w, const kobj_t *o, bool compress) {
    size_t start = w->len;
    rdb_put_u8(w, (uint8_t)rdb_object_type(o));
    rdb_save_object(w, o, compress);
    unsigned char ver[2] = {RDB_VERSION & 0xff, (RDB_VERSION >> 8) & 0xff};
    rdb_put_raw(w, ver, 2);
    uint64_t crc = crc64(0, w->b + start, w->len - start);
    unsigned char c[8];
    for (int i = 0; i < 8; i++)
        c[i] = (unsigned char)(crc >> (8 * i));
    rdb_put_raw(w, c, 8);
}

int rdb_payload_verify(const unsigned char *p, size_t len, bool skip_crc) {
    if (len < 10) return -1;
    const unsigned char *footer = p + len - 10;
    int ver = footer[0] | (footer[1] << 8);
    if (ver > RDB_VERSION) return -1;
    if (skip_crc) return 0;
    uint64_t crc = crc64(0, p, len - 8), got = 0;
    for (int i = 0; i < 8; i++)
        got |= (uint64_t)footer[2 + i] << (8 * i);
    return crc == got ? 0 : -1;
}

kobj_t *rdb_payload_load(const unsigned char *p, size_t len, int flags, rdb_err_t *err) {
    rdb_reader_t r;
    rdb_reader_init(&r, p, len - 10);
    uint8_t type;
    if (rdb_get_u8(&r, &type) != 0 || !rdb_is_loadable_type(type)) {
        set_err(err, 0, "Bad data format");
        return NULL;
    }
    bool empty;
    kobj_t *o = rdb_load_object(&r, type, flags, &empty, err);
    if (!o && empty) set_err(err, r.pos, "Empty keys skipped");
    return o;
}

/* ================================================================ saving a file */

#define RDB_SINK_MAX_FDS 64

typedef struct sink {
    int fd;
    /* Several targets (a diskless sync's pipes): fds[i] < 0 once it failed;
     * the save fails only when every one did. */
    int fds[RDB_SINK_MAX_FDS];
    int nfds, nlive;
    rdb_buf_t w;
    uint64_t crc;
    uint64_t written, synced;
    bool checksum, autosync;
    int err; /* -errno once a write failed */
} sink_t;

/* Write all of p to fd (blocking: a file, or a pipe in the child).
 * 0 or -errno. */
static int write_all(int fd, const unsigned char *p, size_t left) {
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

static void sink_flush(sink_t *s) {
    if (s->err || s->w.len == 0) return;
    if (s->checksum) s->crc = crc64(s->crc, s->w.b, s->w.len);
    if (s->nfds == 0) {
        int e = write_all(s->fd, s->w.b, s->w.len);
        if (e) {
            s->err = e;
            return;
        }
    } else {
        int last = 0;
        for (int i = 0; i < s->nfds; i++) {
            if (s->fds[i] < 0) continue;
            int e = write_all(s->fds[i], s->w.b, s->w.len);
            if (e) {
                /* That replica is gone (EPIPE): the others go on. */
                s->fds[i] = -1;
                s->nlive--;
                last = e;
            }
        }
        if (s->nlive == 0) {
            s->err = last ? last : -EPIPE;
            return;
        }
    }
    s->written += s->w.len;
    s->w.len = 0;
    if (s->autosync && s->written - s->synced >= RDB_AUTOSYNC_BYTES) {
        /* Spread the disk writes: the final fsync then has little to do. */
        fdatasync(s->fd);
        s->synced = s->written;
    }
}

static void put_aux(rdb_buf_t *w, const char *key, const char *val) {
    rdb_put_u8(w, RDB_OPCODE_AUX);
    rdb_put_string(w, key, strlen(key), false);
    rdb_put_string(w, val, strlen(val), false);
}

static void put_aux_ll(rdb_buf_t *w, const char *key, long long v) {
    char buf[32];
    kl_ll_to_str(buf, sizeof(buf), v);
    put_aux(w, key, buf);
}

static void key_delay(int delay) {
    if (delay > 0) {
        usleep((useconds_t)delay);
    } else if (delay < 0) {
        struct timespec ts = {0, -(long)delay};
        nanosleep(&ts, NULL);
    }
}

int rdb_save_fd(int fd, const rdb_save_opts_t *o, uint64_t *keys, rdb_err_t *err) {
    return rdb_save_fds(&fd, 1, o, keys, err);
}

int rdb_save_fds(const int *fds, int nfds, const rdb_save_opts_t *o, uint64_t *keys,
                 rdb_err_t *err) {
    sink_t s = {.fd = fds[0], .checksum = o->checksum, .autosync = o->incremental_fsync};
    if (nfds > 1) {
        if (nfds > RDB_SINK_MAX_FDS) nfds = RDB_SINK_MAX_FDS;
        memcpy(s.fds, fds, (size_t)nfds * sizeof(int));
        s.nfds = s.nlive = nfds;
        s.autosync = false;
    }
    uint64_t nkeys = 0;
    char magic[16];
    snprintf(magic, sizeof(magic), "REDIS%04d", RDB_VERSION);
    rdb_put_raw(&s.w, magic, 9);
    put_aux(&s.w, "redis-ver", RDB_REDIS_VER);
    put_aux_ll(&s.w, "redis-bits", 64);
    put_aux_ll(&s.w, "ctime", (long long)time(NULL));
    put_aux_ll(&s.w, "used-mem", o->used_mem);
    if (o->with_repl) {
        put_aux_ll(&s.w, "repl-stream-db", o->repl_stream_db);
        put_aux(&s.w, "repl-id", o->repl_id ? o->repl_id : "");
        put_aux_ll(&s.w, "repl-offset", o->repl_offset);
    }
    put_aux_ll(&s.w, "aof-base", o->aof_base ? 1 : 0);

    for (int i = 0; i < db_count() && !s.err; i++) {
        kdb_t *db = db_get(i);
        if (db_size(db) == 0) continue;
        rdb_put_u8(&s.w, RDB_OPCODE_SELECTDB);
        rdb_put_len(&s.w, (uint64_t)i);
        rdb_put_u8(&s.w, RDB_OPCODE_RESIZEDB);
        rdb_put_len(&s.w, db_size(db));
        rdb_put_len(&s.w, db_expires_size(db));
        dict_iter_t it;
        dict_iter_init(&it, db->keys, 0);
        dict_entry_t *e;
        bool lfu = evict_policy_is_lfu(g_cfg.maxmemory_policy);
        bool lru = !lfu && (g_cfg.maxmemory_policy == KL_MAXMEMORY_ALLKEYS_LRU ||
                            g_cfg.maxmemory_policy == KL_MAXMEMORY_VOLATILE_LRU);
        while ((e = dict_iter_next(&it)) != NULL) {
            const char *key = dict_entry_key(e);
            size_t klen = dict_entry_klen(e);
            const kobj_t *val = dict_entry_val(e);
            int64_t when = db_get_expire(db, key, klen);
            if (when != -1) {
                rdb_put_u8(&s.w, RDB_OPCODE_EXPIRETIME_MS);
                rdb_put_ms(&s.w, when);
            }
            if (lru) {
                rdb_put_u8(&s.w, RDB_OPCODE_IDLE);
                rdb_put_len(&s.w, (uint64_t)db_idle_seconds(val));
            } else if (lfu) {
                rdb_put_u8(&s.w, RDB_OPCODE_FREQ);
                rdb_put_u8(&s.w, (uint8_t)evict_obj_freq(val));
            }
            rdb_put_u8(&s.w, (uint8_t)rdb_object_type(val));
            rdb_put_string(&s.w, key, klen, o->compress);
            rdb_save_object(&s.w, val, o->compress);
            nkeys++;
            if (s.w.len >= RDB_FLUSH_BYTES) sink_flush(&s);
            if (s.err) break;
            if (o->key_save_delay) key_delay(o->key_save_delay);
            if (o->progress && (nkeys & 1023) == 0) o->progress(o->progress_arg, nkeys);
        }
        dict_iter_done(&it);
    }
    rdb_put_u8(&s.w, RDB_OPCODE_EOF);
    sink_flush(&s);
    if (!s.err) {
        uint64_t crc = o->checksum ? s.crc : 0;
        unsigned char c[8];
        for (int i = 0; i < 8; i++)
            c[i] = (unsigned char)(crc >> (8 * i));
        bool was = s.checksum;
        s.checksum = false;
        rdb_put_raw(&s.w, c, 8);
        sink_flush(&s);
        s.checksum = was;
    }
    rdb_buf_free(&s.w);
    if (keys) *keys = nkeys;
    if (s.err) {
        set_err(err, s.written, "Write error saving DB on disk: %s", strerror(-s.err));
        return s.err;
    }
    return 0;
}

/* ================================================================ loading a file */

struct rdb_loader {
    const unsigned char *base;
    size_t len;
    bool mapped;
    rdb_reader_t r;
    int flags;
    int state; /* 0: header, 1: body, 2: done */
    kdb_t *db;
    int64_t expire;
    long long lru_idle, lfu_freq;
    uint64_t crc;
    size_t crc_pos;
    rdb_load_info_t info;
    kdb_set_t *target; /* where keys go; NULL: the live databases */
    /* A stream loader (rdb_loader_open_stream) parses from its own buffer:
     * base = sbuf, the unconsumed tail is sbuf[r.pos..slen), crc_pos ==
     * r.pos between feeds (the consumed part is folded into crc). */
    bool stream;
    bool failed; /* a feed returned -1: later feeds do too */
    unsigned char *sbuf;
    size_t scap, slen;
    size_t off0; /* stream bytes dropped before sbuf[0] */
    size_t fed;  /* stream bytes fed in all */
    size_t need; /* parse again only once the tail holds this many bytes */
};

/* A stream loader's buffer is shrunk back when it is more than 4 times the
 * tail it holds and larger than this. */
#define RDB_STREAM_KEEP (128u * 1024)

static rdb_loader_t *loader_new(const void *p, size_t len, int flags, bool mapped) {
    rdb_loader_t *l = kl_calloc(1, sizeof(*l));
    l->base = p;
    l->len = len;
    l->mapped = mapped;
    l->flags = flags;
    l->expire = -1;
    l->lru_idle = l->lfu_freq = -1;
    l->info.repl_stream_db = -1;
    rdb_reader_init(&l->r, p, len);
    return l;
}

rdb_loader_t *rdb_loader_open_mem(const void *p, size_t len, int flags) {
    return loader_new(p, len, flags, false);
}

rdb_loader_t *rdb_loader_open_stream(int flags) {
    rdb_loader_t *l = loader_new(NULL, 0, flags, false);
    l->stream = true;
    return l;
}

rdb_loader_t *rdb_loader_open_file(const char *path, int flags, rdb_err_t *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        set_err(err, 0, "%s", strerror(e));
        errno = e;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        set_err(err, 0, "%s", strerror(e));
        errno = e;
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    void *p = NULL;
    if (len > 0) {
        p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            set_err(err, 0, "%s", strerror(e));
            errno = e;
            return NULL;
        }
        madvise(p, len, MADV_SEQUENTIAL);
    }
    close(fd);
    return loader_new(p, len, flags, len > 0);
}

void rdb_loader_close(rdb_loader_t *l) {
    if (!l) return;
    if (l->mapped) munmap((void *)l->base, l->len);
    kl_free(l->sbuf);
    kl_free(l);
}

size_t rdb_loader_pos(const rdb_loader_t *l) {
    return l->off0 + l->r.pos;
}

size_t rdb_loader_size(const rdb_loader_t *l) {
    return l->stream ? l->fed : l->len;
}

const rdb_load_info_t *rdb_loader_info(const rdb_loader_t *l) {
    return &l->info;
}

/* The database id keys go to: the target set's, else the live one. */
static kdb_t *loader_db(const rdb_loader_t *l, int id) {
    return l->target ? kdb_set_db(l->target, id) : db_get(id);
}

static int loader_db_count(const rdb_loader_t *l) {
    return l->target ? kdb_set_count(l->target) : db_count();
}

void rdb_loader_set_target(rdb_loader_t *l, kdb_set_t *set) {
    l->target = set;
    if (l->db) l->db = loader_db(l, l->db->id);
}

static int load_header(rdb_loader_t *l, rdb_err_t *err) {
    const unsigned char *p;
    if (rdb_get_raw(&l->r, 9, &p) != 0) {
        set_err(err, 0, "Short read loading the RDB header");
        return -1;
    }
    if (memcmp(p, "REDIS", 5) != 0) {
        set_err(err, 0, "Wrong signature trying to load DB from file");
        return -1;
    }
    int ver = 0;
    for (int i = 5; i < 9; i++) {
        if (p[i] < '0' || p[i] > '9') {
            set_err(err, 5, "Can't handle RDB format version %.4s", (const char *)p + 5);
            return -1;
        }
        ver = ver * 10 + (p[i] - '0');
    }
    if (ver < 1 || ver > RDB_VERSION) {
        set_err(err, 5, "Can't handle RDB format version %d", ver);
        return -1;
    }
    l->info.version = ver;
    l->db = loader_db(l, 0);
    l->state = 1;
    return 0;
}
static void load_aux(rdb_loader_t *l, const char *k, size_t kn, const char *v, size_t vn) {
    rdb_load_info_t *in = &l->info;
    long long ll = 0;
    bool isnum = kl_str_to_ll(v, vn, &ll) == 0;
    if (kn == 9 && !memcmp(k, "redis-ver", 9)) {
        snprintf(in->redis_ver, sizeof(in->redis_ver), "%.*s", (int)vn, v);
    } else if (kn == 5 && !memcmp(k, "ctime", 5) && isnum) {
        in->ctime = ll;
    } else if (kn == 8 && !memcmp(k, "used-mem", 8) && isnum) {
        in->used_mem = ll;
    } else if (kn == 14 && !memcmp(k, "repl-stream-db", 14) && isnum) {
        in->repl_stream_db = (int)ll;
    } else if (kn == 7 && !memcmp(k, "repl-id", 7) && vn == 40) {
        memcpy(in->repl_id, v, 40);
        in->repl_id[40] = '\0';
    } else if (kn == 11 && !memcmp(k, "repl-offset", 11) && isnum) {
        in->repl_offset = ll;
    } else if ((kn == 8 && !memcmp(k, "aof-base", 8)) ||
               (kn == 12 && !memcmp(k, "aof-preamble", 12))) {
        in->aof_base = isnum && ll != 0;
    }
    /* Anything else ("lua" scripts of Redis < 7, "redis-bits") is ignored,
     * as Redis ignores AUX fields it does not know. */
}

/* The checksum at the end: l->r is right after the EOF opcode. */
static int load_trailer(rdb_loader_t *l, rdb_err_t *err) {
    size_t end = l->r.pos;
    if (l->info.version >= 5) {
        const unsigned char *p;
        if (rdb_get_raw(&l->r, 8, &p) != 0) {
            set_err(err, end, "Unexpected EOF reading the RDB checksum");
            return -1;
        }
        uint64_t got = 0;
        for (int i = 0; i < 8; i++)
            got |= (uint64_t)p[i] << (8 * i);
        if (got != 0 && !(l->flags & RDB_LOAD_NO_CHECKSUM)) {
            uint64_t crc = crc64(l->crc, l->base + l->crc_pos, end - l->crc_pos);
            if (crc != got) {
                set_err(err, end, "Wrong RDB checksum expected: (%llx) got (%llx)",
                        (unsigned long long)got, (unsigned long long)crc);
                return -1;
            }
        }
    }
    l->state = 2;
    return 0;
}

/* One opcode or key. 1: more, 0: EOF reached and checked, -1: error. */
static int load_one(rdb_loader_t *l, rdb_err_t *err) {
    rdb_reader_t *r = &l->r;
    size_t start = r->pos;
    uint8_t t;
    uint64_t a, b;
    int rc;
    if (rdb_get_u8(r, &t) != 0) {
        set_err(err, start, "Unexpected EOF reading RDB file (no EOF opcode)");
        return -1;
    }
    switch (t) {
    case RDB_OPCODE_EXPIRETIME: {
        int32_t s;
        if ((rc = rdb_get_seconds(r, &s)) != 0) goto codec;
        l->expire = (int64_t)s * 1000;
        return 1;
    }
    case RDB_OPCODE_EXPIRETIME_MS: {
        int64_t ms;
        if ((rc = rdb_get_ms(r, &ms)) != 0) goto codec;
        l->expire = ms;
        return 1;
    }
    case RDB_OPCODE_FREQ: {
        uint8_t f;
        if ((rc = rdb_get_u8(r, &f)) != 0) goto codec;
        l->lfu_freq = f;
        return 1;
    }
    case RDB_OPCODE_IDLE:
        if ((rc = rdb_get_len(r, &a, NULL)) != 0) goto codec;
        l->lru_idle = (long long)(a > (uint64_t)LLONG_MAX ? LLONG_MAX : a);
        return 1;
    case RDB_OPCODE_EOF:
        return load_trailer(l, err) == 0 ? 0 : -1;
    case RDB_OPCODE_SELECTDB:
        if ((rc = rdb_get_len(r, &a, NULL)) != 0) goto codec;
        if (a >= (uint64_t)loader_db_count(l)) {
            set_err(err, start,
                    "FATAL: Data file was created with a Redis server configured to handle "
                    "more than %d databases. Exiting",
                    loader_db_count(l));
            return -1;
        }
        l->db = loader_db(l, (int)a);
        return 1;
    case RDB_OPCODE_RESIZEDB:
        if ((rc = rdb_get_len(r, &a, NULL)) != 0 || (rc = rdb_get_len(r, &b, NULL)) != 0)
            goto codec;
        return 1;
    case RDB_OPCODE_AUX: {
        unsigned char *k, *v;
        size_t kn, vn;
        if ((rc = rdb_get_string(r, &k, &kn)) != 0) goto codec;
        if ((rc = rdb_get_string(r, &v, &vn)) != 0) {
            kl_free(k);
            goto codec;
        }
        load_aux(l, (const char *)k, kn, (const char *)v, vn);
        kl_free(k);
        kl_free(v);
        return 1;
    }
    case RDB_OPCODE_MODULE_AUX:
        set_err(err, start, "keyloom cannot load module data (RDB opcode MODULE_AUX, %d)", t);
        return -1;
    case RDB_OPCODE_FUNCTION_PRE_GA:
    case RDB_OPCODE_FUNCTION2:
        set_err(err, start, "keyloom cannot load functions yet (RDB opcode FUNCTION%s, %d)",
                t == RDB_OPCODE_FUNCTION2 ? "2" : "_PRE_GA", t);
        return -1;
    default:
        break;
    }

    /* A key and its value. */
    unsigned char *key;
    size_t klen;
    if ((rc = rdb_get_string(r, &key, &klen)) != 0) goto codec;
    bool empty;
    kobj_t *val = rdb_load_object(r, t, l->flags & RDB_LOAD_DEEP, &empty, err);
    int64_t expire = l->expire;
    long long lru_idle = l->lru_idle, lfu_freq = l->lfu_freq;
    l->expire = -1;
    l->lru_idle = l->lfu_freq = -1;
    if (!val) {
        kl_free(key);
        if (empty) {
            l->info.empty_keys_skipped++;
            return 1;
        }
        if (err && err->offset < start) err->offset = start;
        return -1;
    }
    if ((l->flags & RDB_LOAD_SKIP_EXPIRED) && expire != -1 && expire < g_kv.mstime) {
        obj_free(val);
        kl_free(key);
        l->info.keys_expired++;
        return 1;
    }
    if ((l->flags & RDB_LOAD_ALLOW_DUP) && db_exists(l->db, (const char *)key, klen))
        db_delete(l->db, (const char *)key, klen);
    if (!db_add_loaded(l->db, (const char *)key, klen, val)) {
        set_err(err, start, "RDB has duplicated key '%.*s' in DB %d", (int)(klen > 64 ? 64 : klen),
                key, l->db->id);
        obj_free(val);
        kl_free(key);
        return -1;
    }
    if (expire != -1) db_set_expire_loaded(l->db, (const char *)key, klen, expire);
    evict_obj_loaded(val, lfu_freq, lru_idle);
    kl_free(key);
    l->info.keys_loaded++;
    if (g_cfg.key_load_delay) key_delay(g_cfg.key_load_delay);
    return 1;
codec:
    set_err(err, start, "%s",
            rc == RDB_ERR_TRUNC ? "Unexpected EOF reading RDB file" : "Corrupt RDB data");
    return -1;
}

int rdb_loader_step(rdb_loader_t *l, size_t budget, rdb_err_t *err) {
    if (l->stream) {
        set_err(err, 0, "rdb_loader_step on a stream loader (use rdb_loader_feed)");
        return -1;
    }
    if (l->state == 2) return 0;
    if (l->state == 0 && load_header(l, err) != 0) return -1;
    size_t until = l->r.pos + budget;
    int rc = 1;
    while (rc == 1 && l->r.pos < until)
        rc = load_one(l, err);
    if (rc == 1 && !(l->flags & RDB_LOAD_NO_CHECKSUM) && l->info.version >= 5) {
        /* Fold what this step read into the running checksum. */
        l->crc = crc64(l->crc, l->base + l->crc_pos, l->r.pos - l->crc_pos);
        l->crc_pos = l->r.pos;
    }
    return rc;
}

/* ---- streaming ---- */

/* Drop the consumed prefix of the stream buffer (already folded into the
 * checksum: crc_pos == r.pos). Costs the tail's size. */
static void stream_compact(rdb_loader_t *l) {
    size_t head = l->r.pos, tail = l->slen - head;
    if (head == 0) return;
    if (tail) memmove(l->sbuf, l->sbuf + head, tail);
    l->off0 += head;
    l->slen = tail;
    l->r.pos = 0;
    l->crc_pos = 0;
}

/* Append n bytes to the stream buffer. The consumed prefix is dropped only
 * when it is at least as large as the tail (so each byte is moved at most
 * about once more than it is consumed), else the buffer doubles: appending
 * stays linear in the input even while one value arrives in many pieces. */
static void stream_append(rdb_loader_t *l, const unsigned char *p, size_t n) {
    if (n > l->scap - l->slen && l->r.pos >= l->slen - l->r.pos) stream_compact(l);
    if (n > l->scap - l->slen) {
        size_t cap = l->scap ? l->scap : RDB_STREAM_KEEP / 2;
        while (cap - l->slen < n)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        l->sbuf = kl_realloc(l->sbuf, cap);
        l->scap = cap;
    }
    if (n) memcpy(l->sbuf + l->slen, p, n);
    l->slen += n;
    l->fed += n;
}

/* After a feed: give memory back when the buffer is much larger than what
 * it still has to hold (a big value went through). */
static void stream_trim(rdb_loader_t *l) {
    size_t tail = l->slen - l->r.pos;
    if (l->scap <= RDB_STREAM_KEEP || tail > l->scap / 4) return;
    stream_compact(l);
    size_t cap = tail * 2 > RDB_STREAM_KEEP ? tail * 2 : RDB_STREAM_KEEP;
    l->sbuf = kl_realloc(l->sbuf, cap);
    l->scap = cap;
}

/* Fail a stream loader for good, turning err's offset into a stream offset. */
static int stream_fail(rdb_loader_t *l, rdb_err_t *err, bool relative) {
    if (err && relative) err->offset += l->off0;
    l->failed = true;
    return -1;
}

int rdb_loader_feed(rdb_loader_t *l, const void *p, size_t n, bool last, rdb_err_t *err) {
    if (!l->stream) {
        set_err(err, 0, "rdb_loader_feed on a file or memory loader");
        return -1;
    }
    if (l->failed) {
        set_err(err, rdb_loader_pos(l), "The RDB load failed already");
        return -1;
    }
    if (l->state == 2) {
        if (n == 0) return 0;
        set_err(err, rdb_loader_pos(l), "Unexpected data after the end of the RDB");
        return stream_fail(l, err, false);
    }
    stream_append(l, p, n);
    l->base = l->sbuf;
    l->r.p = l->sbuf;
    l->r.len = l->slen;
    if (!last && l->slen - l->r.pos < l->need) return 1; /* not worth a retry yet */
    l->need = 0;
    int rc;
    for (;;) {
        /* What a retry has to restore: the reader's position and the
         * opcodes that apply to the next key. Nothing else changes before
         * an entry is complete (the key goes in last, the info counters
         * after it, a partial value is freed by the value loaders). */
        size_t start = l->r.pos;
        int64_t expire = l->expire;
        long long idle = l->lru_idle, freq = l->lfu_freq;
        l->r.short_read = false;
        l->r.need = 0;
        if (l->state == 0)
            rc = load_header(l, err) == 0 ? 1 : -1;
        else
            rc = load_one(l, err);
        if (rc == 1) continue;
        if (rc == 0) break;
        if (!l->r.short_read) return stream_fail(l, err, true);
        /* The entry at start is not all here yet. */
        l->r.pos = start;
        l->expire = expire;
        l->lru_idle = idle;
        l->lfu_freq = freq;
        if (last) {
            set_err(err, l->off0 + start,
                    "Unexpected EOF reading RDB file: truncated at byte %zu (an entry starts at "
                    "byte %zu)",
                    l->fed, l->off0 + start);
            return stream_fail(l, err, false);
        }
        /* Retry once the tail doubled and holds what the failed read asked
         * for: every failed attempt costs at most the tail it looked at, so
         * the attempts on one entry cost less than twice its size. */
        size_t tail = l->slen - start;
        size_t want = l->r.need > start ? l->r.need - start : 0;
        l->need = tail > SIZE_MAX / 2 ? SIZE_MAX : tail * 2;
        if (want > l->need) l->need = want;
        rc = 1;
        break;
    }
    if (rc == 1 && !(l->flags & RDB_LOAD_NO_CHECKSUM) && l->info.version >= 5) {
        l->crc = crc64(l->crc, l->sbuf + l->crc_pos, l->r.pos - l->crc_pos);
        l->crc_pos = l->r.pos;
    }
    if (rc == 0) l->state = 2;
    if (rc == 1) stream_trim(l);
    return rc;
}

const void *rdb_loader_rest(const rdb_loader_t *l, size_t *n) {
    if (!l->stream || l->state != 2) {
        *n = 0;
        return NULL;
    }
    *n = l->slen - l->r.pos;
    return l->sbuf + l->r.pos;
}
