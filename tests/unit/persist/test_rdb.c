/* persist/rdb.c: values of every type and encoding through rdb_save_object /
 * rdb_load_object and DUMP payloads (contents compared element by element,
 * encodings as Redis 7.0 chooses them on load), whole files through
 * rdb_save_fd and the stepped loader (expiry, SKIP_EXPIRED, IDLE/FREQ, several
 * dbs, AUX fields, checksums), and corrupt input (every truncation, lying
 * listpacks, duplicates, NaN, empty containers, unsupported types and
 * opcodes, versions, magic): always a clean error with a reason and offset.
 *
 * Each test runs in its own process (Criterion's default) from defaults. */
#include <criterion/criterion.h>

#include "config.h"
#include "crc64.h"
#include "db.h"
#include "dict.h"
#include "evict.h"
#include "intset.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "kv.h"
#include "listpack.h"
#include "object.h"
#include "quicklist.h"
#include "rdb.h"
#include "types.h"
#include "zskiplist.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void setup(void) {
    kl_log_set_file("/dev/null");
    config_init_defaults();
    kv_update_time();
    db_init(g_cfg.databases);
}

static void teardown(void) {
    db_free_all();
    config_free();
}

TestSuite(rdb, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- building values */

static kobj_t *mk_str(const char *s) {
    return obj_string_try_encode(s, strlen(s));
}

static kobj_t *mk_list(int n, const char *fmt) {
    quicklist_t *ql = ql_new(g_cfg.list_max_listpack_size, g_cfg.list_compress_depth);
    for (int i = 0; i < n; i++) {
        char buf[256];
        int len = snprintf(buf, sizeof(buf), fmt, i);
        ql_push(ql, QL_TAIL, (const unsigned char *)buf, (size_t)len);
    }
    return obj_new(OBJ_LIST, ENC_QUICKLIST, ql);
}

static kobj_t *mk_intset(const long long *v, int n) {
    intset_t *is = intset_new();
    for (int i = 0; i < n; i++)
        is = intset_add(is, v[i], NULL);
    return obj_new(OBJ_SET, ENC_INTSET, is);
}

static kobj_t *mk_set_ht(int n, const char *fmt) {
    dict_t *d = dict_create(&kv_set_dict_type);
    for (int i = 0; i < n; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof(buf), fmt, i);
        dict_add_or_find(d, buf, (size_t)len, NULL);
    }
    return obj_new(OBJ_SET, ENC_HASHTABLE, d);
}

static double score_of(int i) {
    return i % 3 == 0 ? i * 1.5 : -i / 7.0;
}

static kobj_t *mk_zset(int n, bool listpack) {
    zsl_set_t *zs = zsl_set_new();
    for (int i = 0; i < n; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof(buf), "member:%d", i);
        zsl_set_insert(zs, buf, (size_t)len, score_of(i));
    }
    if (!listpack) return obj_new(OBJ_ZSET, ENC_SKIPLIST, zs);
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

static kobj_t *mk_hash(int n, bool listpack, int vwidth) {
    if (listpack) {
        unsigned char *lp = lp_new(0);
        for (int i = 0; i < n; i++) {
            char f[32], v[256];
            int fl = snprintf(f, sizeof(f), "field:%d", i);
            int vl = snprintf(v, sizeof(v), "%0*d", vwidth, i);
            lp = lp_append(lp, (const unsigned char *)f, (size_t)fl);
            lp = lp_append(lp, (const unsigned char *)v, (size_t)vl);
        }
        return obj_new(OBJ_HASH, ENC_LISTPACK, lp);
    }
    dict_t *d = dict_create(&kv_hash_dict_type);
    for (int i = 0; i < n; i++) {
        char f[32], v[256];
        int fl = snprintf(f, sizeof(f), "field:%d", i);
        int vl = snprintf(v, sizeof(v), "%0*d", vwidth, i);
        dict_entry_t *e = dict_add_or_find(d, f, (size_t)fl, NULL);
        dict_entry_set_u64(e, hval_make(v, (size_t)vl));
    }
    return obj_new(OBJ_HASH, ENC_HASHTABLE, d);
}

/* ---------------------------------------------------------------- describing values */

/* A growable array of strings: a value's elements. */
typedef struct strs {
    char **v;
    size_t n, cap;
} strs_t;

static void strs_add(strs_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void strs_add(strs_t *s, const char *fmt, ...) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
    }
    va_list ap;
    va_start(ap, fmt);
    cr_assert(vasprintf(&s->v[s->n++], fmt, ap) >= 0);
    va_end(ap);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static double lp_entry_double(const unsigned char *p) {
    lp_entry_t e;
    lp_get(p, &e);
    if (!e.sval) return (double)e.lval;
    char buf[128];
    snprintf(buf, sizeof(buf), "%.*s", (int)e.slen, e.sval);
    return strtod(buf, NULL);
}

/* The value as one string: its type, then its elements (in order for lists
 * and strings, sorted otherwise), scores as %.17g. Binary-safe enough for
 * these tests (no NUL in test data). */
static char *describe(const kobj_t *o) {
    strs_t s = {0};
    bool ordered = false;
    unsigned char b1[32], b2[32];
    switch (o->type) {
    case OBJ_STRING: {
        char buf[32];
        size_t len;
        const char *p = obj_string_bytes(o, buf, &len);
        strs_add(&s, "%.*s", (int)len, p);
        ordered = true;
        break;
    }
    case OBJ_LIST: {
        ql_iter_t it;
        ql_entry_t e;
        ql_iter_init(&it, o->v.p, QL_FORWARD, 0);
        while (ql_iter_next(&it, &e)) {
            size_t len;
            const unsigned char *p = ql_entry_bytes(&e, b1, &len);
            strs_add(&s, "%.*s", (int)len, p);
        }
        ql_iter_done(&it);
        ordered = true;
        break;
    }
    case OBJ_SET:
        if (o->enc == ENC_INTSET) {
            for (uint32_t i = 0; i < intset_len(o->v.p); i++)
                strs_add(&s, "%lld", (long long)intset_get(o->v.p, i));
        } else {
            dict_iter_t it;
            dict_iter_init(&it, o->v.p, 0);
            dict_entry_t *e;
            while ((e = dict_iter_next(&it)) != NULL)
                strs_add(&s, "%.*s", (int)dict_entry_klen(e), dict_entry_key(e));
            dict_iter_done(&it);
        }
        break;
    case OBJ_ZSET:
        if (o->enc == ENC_LISTPACK) {
            unsigned char *lp = o->v.p;
            for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
                size_t len;
                const unsigned char *m = lp_get_bytes(p, b1, &len);
                strs_add(&s, "%.*s=%.17g", (int)len, m, lp_entry_double(lp_next(lp, p)));
            }
        } else {
            const zsl_set_t *zs = o->v.p;
            for (const zsl_node_t *n = zsl_first(&zs->zsl); n; n = zsl_next(n)) {
                size_t len;
                const char *m = zsl_node_member(n, &len);
                strs_add(&s, "%.*s=%.17g", (int)len, m, n->score);
            }
        }
        break;
    case OBJ_HASH:
        if (o->enc == ENC_LISTPACK) {
            unsigned char *lp = o->v.p;
            for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
                size_t fl, vl;
                const unsigned char *f = lp_get_bytes(p, b1, &fl);
                const unsigned char *v = lp_get_bytes(lp_next(lp, p), b2, &vl);
                strs_add(&s, "%.*s=%.*s", (int)fl, f, (int)vl, v);
            }
        } else {
            dict_iter_t it;
            dict_iter_init(&it, o->v.p, 0);
            dict_entry_t *e;
            while ((e = dict_iter_next(&it)) != NULL) {
                char buf[8];
                size_t vl;
                const char *v = hval_get(dict_entry_get_u64(e), buf, &vl);
                strs_add(&s, "%.*s=%.*s", (int)dict_entry_klen(e), dict_entry_key(e), (int)vl, v);
            }
            dict_iter_done(&it);
        }
        break;
    }
    if (!ordered && s.n) qsort(s.v, s.n, sizeof(*s.v), cmp_str);
    size_t total = 16;
    for (size_t i = 0; i < s.n; i++)
        total += strlen(s.v[i]) + 1;
    char *out = malloc(total);
    int off = snprintf(out, total, "%s:", obj_type_name(o->type));
    for (size_t i = 0; i < s.n; i++) {
        off += snprintf(out + off, total - (size_t)off, "%s\n", s.v[i]);
        free(s.v[i]);
    }
    free(s.v);
    return out;
}

static void assert_same_value(const kobj_t *a, const kobj_t *b) {
    cr_assert_eq(a->type, b->type);
    char *da = describe(a), *db = describe(b);
    cr_assert_str_eq(da, db);
    free(da);
    free(db);
}

/* ---------------------------------------------------------------- round trips */

/* Save o, load it back (with flags), check every byte was consumed. */
static kobj_t *reload(const kobj_t *o, int flags) {
    rdb_buf_t w = {0};
    rdb_save_object(&w, o, true);
    cr_assert_eq(rdb_serialized_length(o, true), w.len);
    rdb_reader_t r;
    rdb_reader_init(&r, w.b, w.len);
    bool empty;
    rdb_err_t err = {{0}, 0};
    kobj_t *c = rdb_load_object(&r, rdb_object_type(o), flags, &empty, &err);
    cr_assert_not_null(c, "load failed: %s at %zu", err.msg, err.offset);
    cr_assert_eq(rdb_remaining(&r), 0);
    rdb_buf_free(&w);
    return c;
}

static kobj_t *through_dump(const kobj_t *o, int flags) {
    rdb_buf_t w = {0};
    rdb_dump_payload(&w, o, true);
    cr_assert_eq(rdb_payload_verify(w.b, w.len, false), 0);
    rdb_err_t err = {{0}, 0};
    kobj_t *c = rdb_payload_load(w.b, w.len, flags, &err);
    cr_assert_not_null(c, "payload load failed: %s", err.msg);
    /* One flipped bit anywhere fails the CRC. */
    for (size_t i = 0; i < w.len; i++) {
        w.b[i] ^= 0x10;
        cr_assert_neq(rdb_payload_verify(w.b, w.len, false), 0, "flip at %zu", i);
        w.b[i] ^= 0x10;
    }
    rdb_buf_free(&w);
    return c;
}

/* o survives both ways, with and without deep checks, keeping its encoding. */
static void check_round_trip(kobj_t *o, int want_enc) {
    cr_assert_eq(o->enc, want_enc, "built with encoding %d, want %d", o->enc, want_enc);
    for (int deep = 0; deep < 2; deep++) {
        int flags = deep ? RDB_LOAD_DEEP : 0;
        kobj_t *a = reload(o, flags);
        cr_assert_eq(a->enc, want_enc, "reloaded as %s", obj_encoding_name(a->enc));
        assert_same_value(o, a);
        obj_free(a);
        kobj_t *b = through_dump(o, flags);
        cr_assert_eq(b->enc, want_enc);
        assert_same_value(o, b);
        obj_free(b);
    }
    obj_free(o);
}

Test(rdb, strings_round_trip) {
    check_round_trip(mk_str("12345"), ENC_INT);
    check_round_trip(mk_str("-2147483648"), ENC_INT);
    check_round_trip(mk_str("9223372036854775807"), ENC_INT);
    check_round_trip(mk_str("hello"), ENC_EMBSTR);
    check_round_trip(mk_str(""), ENC_EMBSTR);
    char big[1000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    check_round_trip(mk_str(big), ENC_RAW); /* LZF on save */
    check_round_trip(obj_string_new("\x01\x02\xff binary", 10), ENC_EMBSTR);
}

Test(rdb, lists_round_trip) {
    check_round_trip(mk_list(7, "e%d"), ENC_QUICKLIST);
    check_round_trip(mk_list(5000, "element-%d-with-some-padding"), ENC_QUICKLIST); /* many nodes */
    check_round_trip(mk_list(300, "%d"), ENC_QUICKLIST);                            /* integers */
    kobj_t *l = mk_list(3000, "%d-compressible-compressible-compressible");
    ql_free(l->v.p);
    g_cfg.list_compress_depth = 1;
    l->v.p = ql_new(g_cfg.list_max_listpack_size, 1);
    for (int i = 0; i < 3000; i++)
        ql_push(l->v.p, QL_TAIL, (const unsigned char *)"compressible-compressible-compressible",
                38);
    cr_assert_gt(ql_compressed_nodes(l->v.p), 0);
    check_round_trip(l, ENC_QUICKLIST);
}

Test(rdb, sets_round_trip) {
    long long s16[] = {1, -2, 300, 32767};
    long long s32[] = {1, 70000, -70000};
    long long s64[] = {1, 1LL << 40, -(1LL << 40), LLONG_MAX, LLONG_MIN};
    check_round_trip(mk_intset(s16, 4), ENC_INTSET);
    check_round_trip(mk_intset(s32, 3), ENC_INTSET);
    check_round_trip(mk_intset(s64, 5), ENC_INTSET);
    check_round_trip(mk_set_ht(10, "m%d"), ENC_HASHTABLE);
    check_round_trip(mk_set_ht(1000, "member-%d"), ENC_HASHTABLE);
}

Test(rdb, zsets_round_trip) {
    check_round_trip(mk_zset(10, true), ENC_LISTPACK);
    check_round_trip(mk_zset(500, false), ENC_SKIPLIST);
    /* Special scores survive both encodings. */
    zsl_set_t *zs = zsl_set_new();
    zsl_set_insert(zs, "inf", 3, INFINITY);
    zsl_set_insert(zs, "ninf", 4, -INFINITY);
    zsl_set_insert(zs, "tiny", 4, 5e-324);
    zsl_set_insert(zs, "third", 5, 1.0 / 3);
    for (int i = 0; i < 200; i++) {
        char m[16];
        zsl_set_insert(zs, m, (size_t)snprintf(m, sizeof(m), "x%d", i), i);
    }
    check_round_trip(obj_new(OBJ_ZSET, ENC_SKIPLIST, zs), ENC_SKIPLIST);
}

Test(rdb, hashes_round_trip) {
    check_round_trip(mk_hash(10, true, 3), ENC_LISTPACK);
    check_round_trip(mk_hash(1000, false, 3), ENC_HASHTABLE);
    check_round_trip(mk_hash(10, false, 100), ENC_HASHTABLE); /* long values */
    check_round_trip(mk_hash(600, false, 1), ENC_HASHTABLE);  /* inline hval words */
}

/* ---------------------------------------------------------------- conversions on load */

/* o saved, then loaded under the current config: the encoding it gets. */
static int reload_enc(kobj_t *o, int flags) {
    kobj_t *c = reload(o, flags);
    assert_same_value(o, c);
    int enc = c->enc;
    obj_free(c);
    return enc;
}

Test(rdb, hash_listpack_with_too_many_entries_becomes_hashtable) {
    kobj_t *o = mk_hash(20, true, 2);
    cr_assert_eq(reload_enc(o, 0), ENC_LISTPACK);
    g_cfg.hash_max_listpack_entries = 10;
    cr_assert_eq(reload_enc(o, 0), ENC_HASHTABLE);
    cr_assert_eq(reload_enc(o, RDB_LOAD_DEEP), ENC_HASHTABLE);
    obj_free(o);
    /* A hashtable small enough (RDB_TYPE_HASH) loads as a listpack... */
    g_cfg.hash_max_listpack_entries = 128;
    o = mk_hash(20, false, 2);
    cr_assert_eq(reload_enc(o, 0), ENC_LISTPACK);
    /* ...unless a value is longer than hash-max-listpack-value. */
    g_cfg.hash_max_listpack_value = 1;
    cr_assert_eq(reload_enc(o, 0), ENC_HASHTABLE);
    obj_free(o);
}

Test(rdb, zset2_small_enough_becomes_listpack) {
    kobj_t *o = mk_zset(20, false);
    cr_assert_eq(rdb_object_type(o), RDB_TYPE_ZSET_2);
    cr_assert_eq(reload_enc(o, 0), ENC_LISTPACK);
    g_cfg.zset_max_listpack_entries = 19;
    cr_assert_eq(reload_enc(o, 0), ENC_SKIPLIST);
    g_cfg.zset_max_listpack_entries = 128;
    g_cfg.zset_max_listpack_value = 4; /* "member:N" is longer */
    cr_assert_eq(reload_enc(o, 0), ENC_SKIPLIST);
    obj_free(o);
    /* A listpack zset over the limit becomes a skiplist. */
    g_cfg.zset_max_listpack_value = 64;
    o = mk_zset(20, true);
    g_cfg.zset_max_listpack_entries = 5;
    cr_assert_eq(reload_enc(o, RDB_LOAD_DEEP), ENC_SKIPLIST);
    obj_free(o);
}

Test(rdb, set_encodings_on_load) {
    /* RDB_TYPE_SET of integers: an intset; with a non-integer: a hashtable. */
    kobj_t *o = mk_set_ht(50, "%d");
    cr_assert_eq(reload_enc(o, 0), ENC_INTSET);
    g_cfg.set_max_intset_entries = 49;
    cr_assert_eq(reload_enc(o, 0), ENC_HASHTABLE);
    obj_free(o);
    g_cfg.set_max_intset_entries = 512;
    o = mk_set_ht(50, "%d");
    dict_add_or_find(o->v.p, "x", 1, NULL);
    cr_assert_eq(reload_enc(o, 0), ENC_HASHTABLE);
    obj_free(o);
    /* An intset blob over set-max-intset-entries converts. */
    long long v[20];
    for (int i = 0; i < 20; i++)
        v[i] = i * 1000;
    o = mk_intset(v, 20);
    g_cfg.set_max_intset_entries = 10;
    cr_assert_eq(reload_enc(o, RDB_LOAD_DEEP), ENC_HASHTABLE);
    obj_free(o);
}

/* ---------------------------------------------------------------- corrupt values */

/* Load bytes as a value of the given type: NULL expected; the error must
 * contain want (and *empty must be as given). */
static void expect_load_error(const void *p, size_t n, int type, int flags, const char *want) {
    rdb_reader_t r;
    unsigned char *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    rdb_reader_init(&r, copy, n);
    bool empty = true;
    rdb_err_t err = {{0}, 0};
    kobj_t *o = rdb_load_object(&r, type, flags, &empty, &err);
    cr_assert_null(o, "type %d loaded; wanted \"%s\"", type, want);
    cr_assert_not(empty);
    cr_assert(strstr(err.msg, want) != NULL, "error \"%s\", want \"%s\"", err.msg, want);
    cr_assert_leq(err.offset, n);
    free(copy);
}

/* rdb_buf_t helpers for hand-made values. */
static void put_str(rdb_buf_t *w, const char *s) {
    rdb_put_string(w, s, strlen(s), false);
}

Test(rdb, duplicates_are_refused) {
    rdb_buf_t w = {0};
    /* RDB_TYPE_HASH with a field twice: refused even without deep checks. */
    rdb_put_len(&w, 3);
    put_str(&w, "a");
    put_str(&w, "1");
    put_str(&w, "b");
    put_str(&w, "2");
    put_str(&w, "a");
    put_str(&w, "3");
    expect_load_error(w.b, w.len, RDB_TYPE_HASH, 0, "Duplicate hash fields detected");
    g_cfg.hash_max_listpack_entries = 1; /* the hashtable path too */
    expect_load_error(w.b, w.len, RDB_TYPE_HASH, 0, "Duplicate hash fields detected");
    rdb_buf_free(&w);

    rdb_put_len(&w, 3);
    put_str(&w, "x");
    put_str(&w, "y");
    put_str(&w, "x");
    expect_load_error(w.b, w.len, RDB_TYPE_SET, 0, "Duplicate set members detected");
    rdb_buf_free(&w);
    rdb_put_len(&w, 2);
    put_str(&w, "7");
    put_str(&w, "7"); /* the intset path */
    expect_load_error(w.b, w.len, RDB_TYPE_SET, 0, "Duplicate set members detected");
    rdb_buf_free(&w);

    rdb_put_len(&w, 2);
    put_str(&w, "m");
    rdb_put_double_bin(&w, 1);
    put_str(&w, "m");
    rdb_put_double_bin(&w, 2);
    expect_load_error(w.b, w.len, RDB_TYPE_ZSET_2, 0, "Duplicate zset fields detected");
    rdb_buf_free(&w);

    /* Listpack blobs: duplicates are found by the deep check. */
    unsigned char *lp = lp_new(0);
    const char *items[] = {"f", "1", "g", "2", "f", "3"};
    for (int i = 0; i < 6; i++)
        lp = lp_append(lp, (const unsigned char *)items[i], 1);
    rdb_put_string(&w, lp, lp_bytes(lp), false);
    expect_load_error(w.b, w.len, RDB_TYPE_HASH_LISTPACK, RDB_LOAD_DEEP,
                      "Hash listpack integrity check failed");
    expect_load_error(w.b, w.len, RDB_TYPE_ZSET_LISTPACK, RDB_LOAD_DEEP,
                      "Zset listpack integrity check failed");
    /* Converted to a hashtable on load, even a shallow load finds them. */
    g_cfg.hash_max_listpack_entries = 2;
    expect_load_error(w.b, w.len, RDB_TYPE_HASH_LISTPACK, 0, "Duplicate hash fields detected");
    g_cfg.zset_max_listpack_entries = 2;
    expect_load_error(w.b, w.len, RDB_TYPE_ZSET_LISTPACK, 0, "Duplicate zset fields detected");
    rdb_buf_free(&w);
    lp_free(lp);

    /* An intset blob out of order: deep only. */
    unsigned char blob[8 + 6] = {2, 0, 0, 0, 3, 0, 0, 0, 5, 0, 3, 0, 9, 0};
    rdb_put_string(&w, blob, sizeof(blob), false);
    expect_load_error(w.b, w.len, RDB_TYPE_SET_INTSET, RDB_LOAD_DEEP,
                      "Intset integrity check failed");
    rdb_buf_free(&w);
}

/* A ziplist of one-byte strings (the RDB 2.6-6.x encoding), by hand. */
static void put_ziplist(rdb_buf_t *w, const char *items) {
    size_t n = strlen(items);
    unsigned char zl[256];
    size_t total = 10 + 3 * n + 1, tail = n ? 10 + 3 * (n - 1) : 10;
    for (int i = 0; i < 4; i++) {
        zl[i] = (unsigned char)(total >> (8 * i));
        zl[4 + i] = (unsigned char)(tail >> (8 * i));
    }
    zl[8] = (unsigned char)n;
    zl[9] = 0;
    for (size_t i = 0; i < n; i++) {
        zl[10 + 3 * i] = i ? 3 : 0; /* prevlen */
        zl[11 + 3 * i] = 1;         /* a 1-byte string */
        zl[12 + 3 * i] = (unsigned char)items[i];
    }
    zl[total - 1] = 0xff;
    rdb_put_string(w, zl, total, false);
}

/* Redis converts hash and zset ziplists with a full check, duplicates
 * included, whatever sanitize-dump-payload says (its
 * ziplistPairsConvertAndValidateIntegrity): a file of Redis < 7 with a
 * repeated field is refused, never loaded as a hash with the field twice. */
Test(rdb, ziplist_pairs_duplicates_are_refused_without_deep) {
    rdb_buf_t w = {0};
    put_ziplist(&w, "a1b2a3");
    expect_load_error(w.b, w.len, RDB_TYPE_HASH_ZIPLIST, 0, "Hash ziplist integrity check failed.");
    expect_load_error(w.b, w.len, RDB_TYPE_ZSET_ZIPLIST, 0, "Zset ziplist integrity check failed.");
    expect_load_error(w.b, w.len, RDB_TYPE_HASH_ZIPLIST, RDB_LOAD_DEEP,
                      "Hash ziplist integrity check failed.");
    rdb_buf_free(&w);
    /* Without the repeat both load; a list ziplist may repeat elements. */
    put_ziplist(&w, "a1b2c3");
    int types[] = {RDB_TYPE_HASH_ZIPLIST, RDB_TYPE_ZSET_ZIPLIST};
    for (int i = 0; i < 2; i++) {
        rdb_reader_t r;
        rdb_reader_init(&r, w.b, w.len);
        bool empty;
        rdb_err_t err = {{0}, 0};
        kobj_t *o = rdb_load_object(&r, types[i], 0, &empty, &err);
        cr_assert_not_null(o, "%s", err.msg);
        char *d = describe(o);
        cr_assert_str_eq(d, i == 0 ? "hash:a=1\nb=2\nc=3\n" : "zset:a=1\nb=2\nc=3\n");
        free(d);
        obj_free(o);
    }
    rdb_buf_free(&w);
    put_ziplist(&w, "aab");
    rdb_reader_t r;
    rdb_reader_init(&r, w.b, w.len);
    bool empty;
    rdb_err_t err = {{0}, 0};
    kobj_t *o = rdb_load_object(&r, RDB_TYPE_LIST_ZIPLIST, 0, &empty, &err);
    cr_assert_not_null(o, "%s", err.msg);
    obj_free(o);
    rdb_buf_free(&w);
}

Test(rdb, nan_scores_are_refused) {
    rdb_buf_t w = {0};
    rdb_put_len(&w, 1);
    put_str(&w, "m");
    rdb_put_double_bin(&w, NAN);
    expect_load_error(w.b, w.len, RDB_TYPE_ZSET_2, 0, "Zset with NAN score detected");
    rdb_buf_free(&w);
    rdb_put_len(&w, 1);
    put_str(&w, "m");
    rdb_put_u8(&w, 253); /* the text form's NaN */
    expect_load_error(w.b, w.len, RDB_TYPE_ZSET, 0, "Zset with NAN score detected");
    rdb_buf_free(&w);
}

Test(rdb, listpacks_that_lie_are_refused) {
    kobj_t *o = mk_hash(4, true, 2);
    unsigned char *lp = o->v.p;
    size_t n = lp_bytes(lp);
    unsigned char *bad = malloc(n + 16);
    rdb_buf_t w = {0};
    /* total bytes in the header: one more, one less, past the blob */
    for (int delta = -1; delta <= 1; delta += 2) {
        memcpy(bad, lp, n);
        uint32_t tot = (uint32_t)n + (uint32_t)delta;
        memcpy(bad, &tot, 4);
        rdb_put_string(&w, bad, n, false);
        expect_load_error(w.b, w.len, RDB_TYPE_HASH_LISTPACK, 0, "istpack integrity check failed");
        rdb_buf_free(&w);
    }
    /* element count: one more, one less (the deep check counts) */
    for (int delta = -1; delta <= 1; delta += 2) {
        memcpy(bad, lp, n);
        uint16_t cnt = (uint16_t)(lp_length(lp) + (unsigned long)delta);
        memcpy(bad + 4, &cnt, 2);
        rdb_put_string(&w, bad, n, false);
        expect_load_error(w.b, w.len, RDB_TYPE_HASH_LISTPACK, RDB_LOAD_DEEP,
                          "istpack integrity check failed");
        rdb_buf_free(&w);
    }
    /* An entry's length pointing past the end: the first entry's string
     * header claims 60 bytes. */
    memcpy(bad, lp, n);
    bad[6] = 0x80 | 60;
    rdb_put_string(&w, bad, n, false);
    expect_load_error(w.b, w.len, RDB_TYPE_HASH_LISTPACK, 0, "istpack integrity check failed");
    rdb_buf_free(&w);
    /* No terminator. */
    memcpy(bad, lp, n);
    bad[n - 1] = 0x01;
    rdb_put_string(&w, bad, n, false);
    expect_load_error(w.b, w.len, RDB_TYPE_HASH_LISTPACK, 0, "istpack integrity check failed");
    rdb_buf_free(&w);
    /* An odd number of entries in a hash. */
    unsigned char *odd = lp_append(lp_new(0), (const unsigned char *)"lonely", 6);
    rdb_put_string(&w, odd, lp_bytes(odd), false);
    expect_load_error(w.b, w.len, RDB_TYPE_HASH_LISTPACK, 0,
                      "Hash listpack integrity check failed");
    rdb_buf_free(&w);
    lp_free(odd);
    free(bad);
    obj_free(o);
}

Test(rdb, empty_containers_are_skipped) {
    rdb_buf_t w = {0};
    rdb_put_len(&w, 0);
    int types[] = {RDB_TYPE_LIST, RDB_TYPE_SET, RDB_TYPE_ZSET_2, RDB_TYPE_HASH,
                   RDB_TYPE_LIST_QUICKLIST_2};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        rdb_reader_t r;
        rdb_reader_init(&r, w.b, w.len);
        bool empty = false;
        rdb_err_t err = {{0}, 0};
        cr_assert_null(rdb_load_object(&r, types[i], 0, &empty, &err));
        cr_assert(empty, "type %d", types[i]);
    }
    rdb_buf_free(&w);
    /* An empty listpack: skipped too. */
    unsigned char *lp = lp_new(0);
    rdb_put_string(&w, lp, lp_bytes(lp), false);
    rdb_reader_t r;
    rdb_reader_init(&r, w.b, w.len);
    bool empty = false;
    rdb_err_t err = {{0}, 0};
    cr_assert_null(rdb_load_object(&r, RDB_TYPE_HASH_LISTPACK, RDB_LOAD_DEEP, &empty, &err));
    cr_assert(empty);
    lp_free(lp);
    rdb_buf_free(&w);
}

Test(rdb, unsupported_types) {
    unsigned char z[4] = {0};
    expect_load_error(z, sizeof(z), 100, 0, "Unknown RDB encoding type 100");
    expect_load_error(z, sizeof(z), RDB_TYPE_MODULE_2, 0, "module");
    expect_load_error(z, sizeof(z), RDB_TYPE_STREAM_LISTPACKS, 0, "stream");
    expect_load_error(z, sizeof(z), RDB_TYPE_STREAM_LISTPACKS_2, 0, "stream");
    /* In a payload: "Bad data format" (RESTORE's error). */
    unsigned char pl[11] = {RDB_TYPE_STREAM_LISTPACKS_2, 10, 0};
    rdb_err_t err = {{0}, 0};
    cr_assert_null(rdb_payload_load(pl, sizeof(pl), 0, &err));
    cr_assert_str_eq(err.msg, "Bad data format");
    /* A payload of a newer RDB version is refused by the footer check. */
    rdb_buf_t w = {0};
    kobj_t *o = mk_str("v");
    rdb_dump_payload(&w, o, false);
    w.b[w.len - 10] = 11;
    cr_assert_neq(rdb_payload_verify(w.b, w.len, true), 0);
    cr_assert_neq(rdb_payload_verify(w.b, 9, true), 0);
    rdb_buf_free(&w);
    obj_free(o);
}

/* ---------------------------------------------------------------- files */

static char tmp_path[64];

static int save_tmp(const rdb_save_opts_t *opts, uint64_t *keys) {
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/kl-test-rdb-XXXXXX");
    int fd = mkstemp(tmp_path);
    cr_assert_geq(fd, 0);
    rdb_err_t err = {{0}, 0};
    int rc = rdb_save_fd(fd, opts, keys, &err);
    cr_assert_eq(rc, 0, "save: %s", err.msg);
    close(fd);
    return rc;
}

static unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Load p[0..n) into the (flushed) keyspace in small steps. Returns the
 * loader's last result; the info is copied to *info. */
static int load_mem(const unsigned char *p, size_t n, int flags, rdb_load_info_t *info,
                    rdb_err_t *err) {
    db_flush_all();
    rdb_loader_t *l = rdb_loader_open_mem(p, n, flags);
    int rc, steps = 0;
    while ((rc = rdb_loader_step(l, 100, err)) == 1)
        cr_assert_lt(++steps, 1000000);
    if (info) *info = *rdb_loader_info(l);
    rdb_loader_close(l);
    return rc;
}

static void add_key(int dbi, const char *key, kobj_t *v, int64_t expire) {
    kdb_t *db = db_get(dbi);
    db_add(db, key, strlen(key), v);
    if (expire != -1) db_set_expire(db, key, strlen(key), expire);
}

/* A copy of every key of every db, described, for comparisons. */
static char *describe_keyspace(void) {
    strs_t s = {0};
    for (int i = 0; i < db_count(); i++) {
        kdb_t *db = db_get(i);
        dict_iter_t it;
        dict_iter_init(&it, db->keys, 0);
        dict_entry_t *e;
        while ((e = dict_iter_next(&it)) != NULL) {
            char *d = describe(dict_entry_val(e));
            const kobj_t *v = dict_entry_val(e);
            strs_add(&s, "%d/%.*s enc=%d ttl=%lld %s", i, (int)dict_entry_klen(e),
                     dict_entry_key(e), v->enc,
                     (long long)db_get_expire(db, dict_entry_key(e), dict_entry_klen(e)), d);
            free(d);
        }
        dict_iter_done(&it);
    }
    if (s.n) qsort(s.v, s.n, sizeof(*s.v), cmp_str);
    size_t total = 1;
    for (size_t i = 0; i < s.n; i++)
        total += strlen(s.v[i]) + 1;
    char *out = malloc(total);
    out[0] = '\0';
    for (size_t i = 0; i < s.n; i++) {
        strcat(out, s.v[i]);
        strcat(out, "\n");
        free(s.v[i]);
    }
    free(s.v);
    return out;
}

static void fill_keyspace(void) {
    long long iv[] = {3, 1, 2};
    add_key(0, "str", mk_str("value"), -1);
    add_key(0, "int", mk_str("42"), g_kv.mstime + 100000);
    add_key(0, "list", mk_list(1000, "e%d"), -1);
    add_key(0, "intset", mk_intset(iv, 3), -1);
    add_key(0, "zset", mk_zset(5, true), g_kv.mstime + 5000);
    add_key(3, "zsetbig", mk_zset(300, false), -1);
    add_key(3, "hash", mk_hash(5, true, 1), -1);
    add_key(15, "hashbig", mk_hash(600, false, 5), -1);
    add_key(15, "set", mk_set_ht(20, "s%d"), -1);
}

Test(rdb, file_round_trip) {
    fill_keyspace();
    char *before = describe_keyspace();
    rdb_save_opts_t opts = {.compress = true, .checksum = true, .used_mem = 12345};
    uint64_t keys;
    save_tmp(&opts, &keys);
    cr_assert_eq(keys, 9);
    size_t n;
    unsigned char *p = read_file(tmp_path, &n);
    cr_assert_eq(memcmp(p, "REDIS0010", 9), 0);
    cr_assert_eq(p[n - 9], RDB_OPCODE_EOF);
    /* The trailer is the CRC64 of everything before it. */
    uint64_t crc = 0;
    for (int i = 0; i < 8; i++)
        crc |= (uint64_t)p[n - 8 + i] << (8 * i);
    cr_assert_eq(crc, crc64(0, p, n - 8));

    /* From the file, stepped. */
    db_flush_all();
    rdb_err_t err = {{0}, 0};
    rdb_loader_t *l = rdb_loader_open_file(tmp_path, 0, &err);
    cr_assert_not_null(l);
    int rc, steps = 0;
    while ((rc = rdb_loader_step(l, 64, &err)) == 1) {
        cr_assert_leq(rdb_loader_pos(l), rdb_loader_size(l));
        steps++;
    }
    cr_assert_eq(rc, 0, "%s at %zu", err.msg, err.offset);
    cr_assert_gt(steps, 3);
    const rdb_load_info_t *in = rdb_loader_info(l);
    cr_assert_eq(in->version, 10);
    cr_assert_str_eq(in->redis_ver, "7.0.15");
    cr_assert_eq(in->keys_loaded, 9);
    cr_assert_eq(in->used_mem, 12345);
    cr_assert_lt(llabs(in->ctime - (long long)time(NULL)), 100);
    cr_assert_not(in->aof_base);
    cr_assert_eq(in->repl_stream_db, -1);
    cr_assert_str_eq(in->repl_id, "");
    rdb_loader_close(l);
    char *after = describe_keyspace();
    cr_assert_str_eq(before, after);
    cr_assert_eq(db_size(db_get(3)), 2);
    cr_assert_eq(db_expires_size(db_get(0)), 2);

    /* Again from memory, with the deep checks. */
    rdb_load_info_t info;
    cr_assert_eq(load_mem(p, n, RDB_LOAD_DEEP, &info, &err), 0, "%s", err.msg);
    char *again = describe_keyspace();
    cr_assert_str_eq(before, again);
    free(before);
    free(after);
    free(again);
    free(p);
    unlink(tmp_path);
}

Test(rdb, aux_fields) {
    add_key(0, "k", mk_str("v"), -1);
    const char *id = "0123456789abcdef0123456789abcdef01234567";
    rdb_save_opts_t opts = {.checksum = true,
                            .aof_base = true,
                            .with_repl = true,
                            .repl_stream_db = 4,
                            .repl_id = id,
                            .repl_offset = 987654321,
                            .used_mem = 77};
    save_tmp(&opts, NULL);
    size_t n;
    unsigned char *p = read_file(tmp_path, &n);
    rdb_load_info_t info;
    rdb_err_t err = {{0}, 0};
    cr_assert_eq(load_mem(p, n, 0, &info, &err), 0);
    cr_assert(info.aof_base);
    cr_assert_eq(info.repl_stream_db, 4);
    cr_assert_str_eq(info.repl_id, id);
    cr_assert_eq(info.repl_offset, 987654321);
    cr_assert_eq(info.used_mem, 77);
    free(p);
    unlink(tmp_path);
}

Test(rdb, expired_keys) {
    add_key(0, "past", mk_str("v"), g_kv.mstime - 1000);
    add_key(0, "future", mk_str("v"), g_kv.mstime + 100000);
    add_key(0, "none", mk_str("v"), -1);
    rdb_save_opts_t opts = {.checksum = true};
    save_tmp(&opts, NULL);
    size_t n;
    unsigned char *p = read_file(tmp_path, &n);
    rdb_load_info_t info;
    rdb_err_t err = {{0}, 0};
    /* A replica (no flag) loads them all, TTLs kept. */
    cr_assert_eq(load_mem(p, n, 0, &info, &err), 0);
    cr_assert_eq(info.keys_loaded, 3);
    cr_assert_eq(db_get_expire(db_get(0), "past", 4), g_kv.mstime - 1000);
    /* A master skips the expired one. */
    cr_assert_eq(load_mem(p, n, RDB_LOAD_SKIP_EXPIRED, &info, &err), 0);
    cr_assert_eq(info.keys_loaded, 2);
    cr_assert_eq(info.keys_expired, 1);
    cr_assert_not(db_exists(db_get(0), "past", 4));
    cr_assert_eq(db_get_expire(db_get(0), "future", 6), g_kv.mstime + 100000);
    cr_assert_eq(db_get_expire(db_get(0), "none", 4), -1);
    free(p);
    unlink(tmp_path);
}

/* The byte offset of the first occurrence of needle in p, or -1. */
static long find_bytes(const unsigned char *p, size_t n, const void *needle, size_t nn) {
    for (size_t i = 0; i + nn <= n; i++)
        if (memcmp(p + i, needle, nn) == 0) return (long)i;
    return -1;
}

Test(rdb, idle_under_lru) {
    g_cfg.maxmemory_policy = KL_MAXMEMORY_ALLKEYS_LRU;
    kobj_t *v = mk_str("v");
    add_key(0, "k", v, -1);
    evict_obj_loaded(v, -1, 1000); /* idle for 1000 s */
    cr_assert_geq(db_idle_seconds(v), 1000);
    rdb_save_opts_t opts = {.checksum = true};
    save_tmp(&opts, NULL);
    size_t n;
    unsigned char *p = read_file(tmp_path, &n);
    /* IDLE opcode, then the key. */
    const unsigned char want[] = {RDB_OPCODE_IDLE, 0x43, 0xe8, RDB_TYPE_STRING, 1, 'k'};
    cr_assert_geq(find_bytes(p, n, want, sizeof(want)), 0);
    rdb_err_t err = {{0}, 0};
    cr_assert_eq(load_mem(p, n, 0, NULL, &err), 0);
    kobj_t *c = db_peek(db_get(0), "k", 1);
    cr_assert_not_null(c);
    long long idle = db_idle_seconds(c);
    cr_assert(idle >= 1000 && idle <= 1010, "idle %lld", idle);
    free(p);
    unlink(tmp_path);
}

Test(rdb, freq_under_lfu) {
    g_cfg.maxmemory_policy = KL_MAXMEMORY_ALLKEYS_LFU;
    kobj_t *v = mk_str("v");
    add_key(0, "k", v, -1);
    evict_obj_loaded(v, 77, -1);
    cr_assert_eq(evict_obj_freq(v), 77);
    rdb_save_opts_t opts = {.checksum = true};
    save_tmp(&opts, NULL);
    size_t n;
    unsigned char *p = read_file(tmp_path, &n);
    const unsigned char want[] = {RDB_OPCODE_FREQ, 77, RDB_TYPE_STRING, 1, 'k'};
    cr_assert_geq(find_bytes(p, n, want, sizeof(want)), 0);
    rdb_err_t err = {{0}, 0};
    cr_assert_eq(load_mem(p, n, 0, NULL, &err), 0);
    cr_assert_eq(evict_obj_freq(db_peek(db_get(0), "k", 1)), 77);
    free(p);
    unlink(tmp_path);
}

Test(rdb, checksums) {
    fill_keyspace();
    rdb_save_opts_t opts = {.checksum = true};
    save_tmp(&opts, NULL);
    size_t n;
    unsigned char *p = read_file(tmp_path, &n);
    rdb_err_t err = {{0}, 0};
    /* A wrong trailer is refused, at the EOF opcode's end. */
    p[n - 1] ^= 1;
    cr_assert_eq(load_mem(p, n, 0, NULL, &err), -1);
    cr_assert(strstr(err.msg, "Wrong RDB checksum") != NULL, "%s", err.msg);
    cr_assert_eq(err.offset, n - 8);
    /* ...unless checksums are off (rdbchecksum no). */
    cr_assert_eq(load_mem(p, n, RDB_LOAD_NO_CHECKSUM, NULL, &err), 0);
    /* A flipped byte inside a value that still decodes: the checksum catches it. */
    p[n - 1] ^= 1;
    long at = find_bytes(p, n, "value", 5);
    cr_assert_gt(at, 0);
    p[at] = 'V';
    cr_assert_eq(load_mem(p, n, 0, NULL, &err), -1);
    cr_assert(strstr(err.msg, "Wrong RDB checksum") != NULL, "%s", err.msg);
    free(p);
    unlink(tmp_path);
    /* A file saved without checksums has a zero trailer: never checked. */
    opts.checksum = false;
    save_tmp(&opts, NULL);
    p = read_file(tmp_path, &n);
    for (size_t i = n - 8; i < n; i++)
        cr_assert_eq(p[i], 0);
    cr_assert_eq(load_mem(p, n, 0, NULL, &err), 0, "%s", err.msg);
    free(p);
    unlink(tmp_path);
}

Test(rdb, every_truncation_fails_cleanly) {
    long long iv[] = {1, 2};
    add_key(0, "s", mk_str("value"), g_kv.mstime + 100000);
    add_key(0, "l", mk_list(3, "%d"), -1);
    add_key(1, "z", mk_zset(3, false), -1);
    add_key(1, "h", mk_hash(3, true, 1), -1);
    add_key(2, "i", mk_intset(iv, 2), -1);
    rdb_save_opts_t opts = {.checksum = true};
    save_tmp(&opts, NULL);
    size_t n;
    unsigned char *p = read_file(tmp_path, &n);
    for (size_t cut = 0; cut < n; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, p, cut);
        rdb_err_t err = {{0}, 0};
        cr_assert_eq(load_mem(copy, cut, 0, NULL, &err), -1, "cut %zu of %zu loaded", cut, n);
        cr_assert_neq(err.msg[0], '\0');
        cr_assert_leq(err.offset, cut, "cut %zu: offset %zu", cut, err.offset);
        free(copy);
    }
    rdb_err_t err = {{0}, 0};
    cr_assert_eq(load_mem(p, n, 0, NULL, &err), 0);
    free(p);
    unlink(tmp_path);
}

/* A file: header, then body bytes, then EOF and a zero checksum. */
static int load_body(const char *magic, const void *body, size_t n, rdb_load_info_t *info,
                     rdb_err_t *err) {
    rdb_buf_t w = {0};
    rdb_put_raw(&w, magic, 9);
    rdb_put_raw(&w, body, n);
    rdb_put_u8(&w, RDB_OPCODE_EOF);
    rdb_put_raw(&w, "\0\0\0\0\0\0\0\0", 8);
    int rc = load_mem(w.b, w.len, 0, info, err);
    rdb_buf_free(&w);
    return rc;
}

Test(rdb, file_errors) {
    rdb_err_t err = {{0}, 0};
    rdb_load_info_t info;
    cr_assert_eq(load_body("REDIS0010", "", 0, &info, &err), 0);
    cr_assert_eq(load_body("REDIX0010", "", 0, NULL, &err), -1);
    cr_assert(strstr(err.msg, "Wrong signature") != NULL, "%s", err.msg);
    cr_assert_eq(load_body("REDIS0011", "", 0, NULL, &err), -1);
    cr_assert_str_eq(err.msg, "Can't handle RDB format version 11");
    cr_assert_eq(load_body("REDIS0000", "", 0, NULL, &err), -1);
    cr_assert_eq(load_body("REDIS00a1", "", 0, NULL, &err), -1);
    /* FUNCTION2, MODULE_AUX, a module value, a stream, an unknown type. */
    unsigned char fn[] = {RDB_OPCODE_FUNCTION2, 1, 'x'};
    cr_assert_eq(load_body("REDIS0010", fn, sizeof(fn), NULL, &err), -1);
    cr_assert(strstr(err.msg, "FUNCTION2") != NULL, "%s", err.msg);
    cr_assert_eq(err.offset, 9);
    unsigned char maux[] = {RDB_OPCODE_MODULE_AUX, 0};
    cr_assert_eq(load_body("REDIS0010", maux, sizeof(maux), NULL, &err), -1);
    unsigned char mod[] = {RDB_TYPE_MODULE_2, 1, 'k', 0, 0};
    cr_assert_eq(load_body("REDIS0010", mod, sizeof(mod), NULL, &err), -1);
    cr_assert(strstr(err.msg, "module") != NULL, "%s", err.msg);
    unsigned char st[] = {RDB_TYPE_STREAM_LISTPACKS, 1, 'k', 0, 0};
    cr_assert_eq(load_body("REDIS0010", st, sizeof(st), NULL, &err), -1);
    cr_assert(strstr(err.msg, "stream") != NULL, "%s", err.msg);
    unsigned char unk[] = {100, 1, 'k', 0};
    cr_assert_eq(load_body("REDIS0010", unk, sizeof(unk), NULL, &err), -1);
    cr_assert(strstr(err.msg, "Unknown RDB encoding type 100") != NULL, "%s", err.msg);
    /* SELECTDB past the configured databases. */
    unsigned char sel[] = {RDB_OPCODE_SELECTDB, 16};
    cr_assert_eq(load_body("REDIS0010", sel, sizeof(sel), NULL, &err), -1);
    /* A key twice in one db. */
    unsigned char dup[] = {0, 1, 'k', 1, 'a', 0, 1, 'k', 1, 'b'};
    cr_assert_eq(load_body("REDIS0010", dup, sizeof(dup), NULL, &err), -1);
    cr_assert(strstr(err.msg, "duplicated key 'k'") != NULL, "%s", err.msg);
    /* Several dbs, RESIZEDB, an empty container (skipped, counted). */
    unsigned char body[] = {RDB_OPCODE_SELECTDB,
                            2,
                            RDB_OPCODE_RESIZEDB,
                            2,
                            0,
                            0,
                            1,
                            'a',
                            1,
                            'x',
                            RDB_TYPE_SET,
                            1,
                            'e',
                            0,
                            RDB_OPCODE_SELECTDB,
                            7,
                            0,
                            1,
                            'b',
                            1,
                            'y'};
    cr_assert_eq(load_body("REDIS0010", body, sizeof(body), &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.keys_loaded, 2);
    cr_assert_eq(info.empty_keys_skipped, 1);
    cr_assert(db_exists(db_get(2), "a", 1));
    cr_assert_not(db_exists(db_get(2), "e", 1));
    cr_assert(db_exists(db_get(7), "b", 1));
    /* Old versions: no checksum trailer before RDB 5; second expiries. */
    unsigned char old[] = {'R',  'E',  'D',  'I',  'S', '0', '0', '0', '4', RDB_OPCODE_EXPIRETIME,
                           0x50, 0xe1, 0xf5, 0x7d, 0,   1,   'k', 1,   'v', RDB_OPCODE_EOF};
    cr_assert_eq(load_mem(old, sizeof(old), 0, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(info.version, 4);
    cr_assert_eq(db_get_expire(db_get(0), "k", 1), 2113266000LL * 1000);
}
