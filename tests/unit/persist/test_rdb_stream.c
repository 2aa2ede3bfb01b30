/* persist/rdb.c's push-fed loader (rdb_loader_open_stream / rdb_loader_feed)
 * and kv/db.c's temporary database arrays (kdb_set_t):
 *
 *  - RDBs written by rdb_save_fd and the fuzz seed corpus (keyloom's, Redis
 *    7.0's and the legacy RDB 4-9 files) fed in chunks of 1, 7, random and
 *    64 KB bytes load exactly what the one-go memory loader loads (keys,
 *    values, encodings, TTLs, AUX info, position);
 *  - a stream cut at every offset fails with "truncated" once last comes,
 *    holding only whole keys; corrupt bytes anywhere fail (or load) exactly
 *    as the memory loader does, never crash (run it under ASan);
 *  - a 50 MB value and a 1M-member set fed in 16 KB chunks load in time
 *    linear in their size (the times are printed, not asserted);
 *  - bytes after the RDB's end (rdb_loader_rest), feeding after the end or
 *    after a failure, wrong checksums;
 *  - loading into a kdb_set_t while the live dbs keep their keys, swapping
 *    it in (live kdb_t addresses unchanged), freeing the old contents on the
 *    lazy-free thread, and the backup order with a restore after a failure.
 *
 * Each test runs in its own process (Criterion's default) from defaults. */
#include <criterion/criterion.h>

#include "config.h"
#include "crc64.h"
#include "db.h"
#include "dict.h"
#include "intset.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "kv.h"
#include "lazyfree.h"
#include "listpack.h"
#include "object.h"
#include "quicklist.h"
#include "rdb.h"
#include "types.h"
#include "zskiplist.h"

#include <dirent.h>
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

TestSuite(rdb_stream, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- describing data */

/* A growable byte string. */
typedef struct sb {
    char *p;
    size_t n, cap;
} sb_t;

static void sb_put(sb_t *s, const void *p, size_t n) {
    if (s->n + n + 1 > s->cap) {
        s->cap = (s->n + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
    s->p[s->n] = '\0';
}

/* Bytes, with anything but printable ASCII escaped (binary values). */
static void sb_bytes(sb_t *s, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        if (c[i] >= 0x20 && c[i] < 0x7f && c[i] != '\\') {
            sb_put(s, &c[i], 1);
        } else {
            char e[8];
            snprintf(e, sizeof(e), "\\x%02x", c[i]);
            sb_put(s, e, 4);
        }
    }
}

static void sb_fmt(sb_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sb_t *s, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sb_put(s, buf, (size_t)n);
}

/* A list of strings, sorted for unordered containers. */
typedef struct strs {
    char **v;
    size_t n, cap;
} strs_t;

static void strs_take(strs_t *l, sb_t *s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = s->p ? s->p : strdup("");
    memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Joins (sorted when asked) and frees the list into s, each item followed
 * by sep. */
static void strs_join(strs_t *l, bool sort, const char *sep, sb_t *s) {
    if (sort && l->n) qsort(l->v, l->n, sizeof(*l->v), cmp_str);
    for (size_t i = 0; i < l->n; i++) {
        sb_put(s, l->v[i], strlen(l->v[i]));
        sb_put(s, sep, strlen(sep));
        free(l->v[i]);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void lp_elem(sb_t *s, const unsigned char *p) {
    unsigned char buf[32];
    size_t len;
    const unsigned char *b = lp_get_bytes(p, buf, &len);
    sb_bytes(s, b, len);
}

/* The value: type, encoding, then its elements (ordered for strings and
 * lists, sorted otherwise). */
static void describe_value(sb_t *out, const kobj_t *o) {
    strs_t l = {0};
    sb_t e = {0};
    bool sort = true;
    sb_fmt(out, "%s/%s:", obj_type_name(o->type), obj_encoding_name(o->enc));
    switch (o->type) {
    case OBJ_STRING: {
        char buf[32];
        size_t len;
        const char *p = obj_string_bytes(o, buf, &len);
        sb_bytes(&e, p, len);
        strs_take(&l, &e);
        sort = false;
        break;
    }
    case OBJ_LIST: {
        ql_iter_t it;
        ql_entry_t en;
        unsigned char b1[32];
        ql_iter_init(&it, o->v.p, QL_FORWARD, 0);
        while (ql_iter_next(&it, &en)) {
            size_t len;
            const unsigned char *p = ql_entry_bytes(&en, b1, &len);
            sb_bytes(&e, p, len);
            strs_take(&l, &e);
        }
        ql_iter_done(&it);
        sort = false;
        break;
    }
    case OBJ_SET:
        if (o->enc == ENC_INTSET) {
            for (uint32_t i = 0; i < intset_len(o->v.p); i++) {
                sb_fmt(&e, "%lld", (long long)intset_get(o->v.p, i));
                strs_take(&l, &e);
            }
        } else {
            dict_iter_t it;
            dict_iter_init(&it, o->v.p, 0);
            dict_entry_t *d;
            while ((d = dict_iter_next(&it)) != NULL) {
                sb_bytes(&e, dict_entry_key(d), dict_entry_klen(d));
                strs_take(&l, &e);
            }
            dict_iter_done(&it);
        }
        break;
    case OBJ_ZSET:
        if (o->enc == ENC_LISTPACK) {
            unsigned char *lp = o->v.p;
            for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
                lp_elem(&e, p);
                sb_put(&e, "=", 1);
                lp_elem(&e, lp_next(lp, p));
                strs_take(&l, &e);
            }
        } else {
            const zsl_set_t *zs = o->v.p;
            for (const zsl_node_t *n = zsl_first(&zs->zsl); n; n = zsl_next(n)) {
                size_t len;
                const char *m = zsl_node_member(n, &len);
                sb_bytes(&e, m, len);
                sb_fmt(&e, "=%.17g", n->score);
                strs_take(&l, &e);
            }
        }
        break;
    case OBJ_HASH:
        if (o->enc == ENC_LISTPACK) {
            unsigned char *lp = o->v.p;
            for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
                lp_elem(&e, p);
                sb_put(&e, "=", 1);
                lp_elem(&e, lp_next(lp, p));
                strs_take(&l, &e);
            }
        } else {
            dict_iter_t it;
            dict_iter_init(&it, o->v.p, 0);
            dict_entry_t *d;
            while ((d = dict_iter_next(&it)) != NULL) {
                char buf[8];
                size_t vl;
                const char *v = hval_get(dict_entry_get_u64(d), buf, &vl);
                sb_bytes(&e, dict_entry_key(d), dict_entry_klen(d));
                sb_put(&e, "=", 1);
                sb_bytes(&e, v, vl);
                strs_take(&l, &e);
            }
            dict_iter_done(&it);
        }
        break;
    default:
        break;
    }
    strs_join(&l, sort, ",", out);
}

/* Every key of the given databases (get(i) for i < count), described with
 * its TTL, sorted: a dataset that compares with strcmp. */
static char *describe_dbs(kdb_t *(*get)(void *, int), void *arg, int count) {
    strs_t l = {0};
    for (int i = 0; i < count; i++) {
        kdb_t *db = get(arg, i);
        dict_iter_t it;
        dict_iter_init(&it, db->keys, 0);
        dict_entry_t *d;
        while ((d = dict_iter_next(&it)) != NULL) {
            sb_t s = {0};
            sb_fmt(&s, "%d/", i);
            sb_bytes(&s, dict_entry_key(d), dict_entry_klen(d));
            sb_fmt(&s, " ttl=%lld ",
                   (long long)db_get_expire(db, dict_entry_key(d), dict_entry_klen(d)));
            describe_value(&s, dict_entry_val(d));
            strs_take(&l, &s);
        }
        dict_iter_done(&it);
    }
    sb_t out = {0};
    sb_put(&out, "", 0);
    strs_join(&l, true, "\n", &out);
    return out.p;
}

static kdb_t *live_db(void *arg, int i) {
    (void)arg;
    return db_get(i);
}

static kdb_t *set_db(void *arg, int i) {
    return kdb_set_db(arg, i);
}

static char *describe_live(void) {
    return describe_dbs(live_db, NULL, db_count());
}

static char *describe_set(kdb_set_t *s) {
    return describe_dbs(set_db, s, kdb_set_count(s));
}

/* ---------------------------------------------------------------- data and files */

static void add_key(int dbi, const char *key, kobj_t *v, int64_t expire) {
    kdb_t *db = db_get(dbi);
    db_add(db, key, strlen(key), v);
    if (expire != -1) db_set_expire(db, key, strlen(key), expire);
}

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

static kobj_t *mk_set(int n, const char *fmt) {
    dict_t *d = dict_create(&kv_set_dict_type);
    for (int i = 0; i < n; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof(buf), fmt, i);
        dict_add_or_find(d, buf, (size_t)len, NULL);
    }
    return obj_new(OBJ_SET, ENC_HASHTABLE, d);
}

static kobj_t *mk_intset(int n) {
    intset_t *is = intset_new();
    for (int i = 0; i < n; i++)
        is = intset_add(is, i * 7 - 3, NULL);
    return obj_new(OBJ_SET, ENC_INTSET, is);
}

static kobj_t *mk_zset(int n) {
    zsl_set_t *zs = zsl_set_new();
    for (int i = 0; i < n; i++) {
        char buf[64];
        int len = snprintf(buf, sizeof(buf), "member:%d", i);
        zsl_set_insert(zs, buf, (size_t)len, i % 3 ? i * 1.5 : -i / 7.0);
    }
    return obj_new(OBJ_ZSET, ENC_SKIPLIST, zs);
}

static kobj_t *mk_hash_lp(int n) {
    unsigned char *lp = lp_new(0);
    for (int i = 0; i < n; i++) {
        char f[32], v[32];
        int fl = snprintf(f, sizeof(f), "field:%d", i);
        int vl = snprintf(v, sizeof(v), "%d", i * 3);
        lp = lp_append(lp, (const unsigned char *)f, (size_t)fl);
        lp = lp_append(lp, (const unsigned char *)v, (size_t)vl);
    }
    return obj_new(OBJ_HASH, ENC_LISTPACK, lp);
}

static kobj_t *mk_hash_ht(int n) {
    dict_t *d = dict_create(&kv_hash_dict_type);
    for (int i = 0; i < n; i++) {
        char f[32], v[64];
        int fl = snprintf(f, sizeof(f), "f%d", i);
        int vl = snprintf(v, sizeof(v), "value-%d-%0*d", i, i % 50, 0);
        dict_entry_t *e = dict_add_or_find(d, f, (size_t)fl, NULL);
        dict_entry_set_u64(e, hval_make(v, (size_t)vl));
    }
    return obj_new(OBJ_HASH, ENC_HASHTABLE, d);
}

/* A keyspace with every type and encoding, TTLs, several dbs, strings that
 * compress, and enough keys that chunk boundaries fall everywhere. */
static void fill_keyspace(void) {
    add_key(0, "str", mk_str("value"), -1);
    add_key(0, "int", mk_str("-123456"), g_kv.mstime + 100000);
    char big[3000];
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('a' + (i / 7) % 26);
    big[sizeof(big) - 1] = '\0';
    add_key(0, "lzf", mk_str(big), -1);
    add_key(0, "list", mk_list(2000, "element-%d"), -1);
    add_key(0, "intset", mk_intset(100), g_kv.mstime + 5000);
    add_key(1, "zset", mk_zset(300), -1);
    add_key(1, "hash", mk_hash_lp(10), -1);
    add_key(2, "hashbig", mk_hash_ht(700), -1);
    add_key(2, "set", mk_set(200, "s%d"), -1);
    for (int i = 0; i < 500; i++) {
        char k[32], v[64];
        snprintf(k, sizeof(k), "k:%d", i);
        snprintf(v, sizeof(v), "v%0*d", i % 40, i);
        add_key(15, k, mk_str(v), i % 3 ? -1 : g_kv.mstime + 1000 * i + 1);
    }
}

static unsigned char *save_to_mem(bool compress, size_t *n) {
    char path[64];
    snprintf(path, sizeof(path), "/tmp/kl-test-rdbs-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    rdb_save_opts_t opts = {.compress = compress, .checksum = true, .used_mem = 4242};
    rdb_err_t err = {{0}, 0};
    cr_assert_eq(rdb_save_fd(fd, &opts, NULL, &err), 0, "save: %s", err.msg);
    off_t len = lseek(fd, 0, SEEK_END);
    unsigned char *p = malloc((size_t)len + 1);
    cr_assert_eq(pread(fd, p, (size_t)len, 0), len);
    close(fd);
    unlink(path);
    *n = (size_t)len;
    return p;
}

static unsigned char *read_path(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* ---------------------------------------------------------------- loading */

/* A result: the loader's code, error, info and position. */
typedef struct result {
    int rc;
    rdb_err_t err;
    rdb_load_info_t info;
    size_t pos;
} result_t;

/* p[0..n) in one go through the memory loader, into the live dbs. */
static result_t load_mem(const unsigned char *p, size_t n, int flags) {
    result_t r = {0};
    rdb_loader_t *l = rdb_loader_open_mem(p, n, flags);
    int steps = 0;
    while ((r.rc = rdb_loader_step(l, SIZE_MAX / 2, &r.err)) == 1)
        cr_assert_lt(++steps, 1000000);
    r.info = *rdb_loader_info(l);
    r.pos = rdb_loader_pos(l);
    rdb_loader_close(l);
    return r;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* chunk > 0: that size; 0: random sizes 1..300; -1: random sizes 1..65536. */
static size_t next_chunk(long chunk) {
    if (chunk > 0) return (size_t)chunk;
    if (chunk == 0) return 1 + rng() % 300;
    return 1 + rng() % 65536;
}

/* p[0..n) fed in chunks into l; last comes with the final chunk (or, when
 * last_apart, as an empty feed after it). Checks the codes on the way: 1
 * until the end, never a step that passes what was fed. */
static result_t feed_all(rdb_loader_t *l, const unsigned char *p, size_t n, long chunk,
                         bool last_apart) {
    result_t r = {0};
    size_t off = 0;
    r.rc = 1;
    while (r.rc == 1) {
        size_t c = next_chunk(chunk);
        if (c > n - off) c = n - off;
        bool last = !last_apart && off + c == n;
        if (off == n && last_apart) last = true;
        r.rc = rdb_loader_feed(l, p + off, c, last, &r.err);
        off += c;
        cr_assert_leq(rdb_loader_pos(l), off);
        cr_assert_eq(rdb_loader_size(l), off);
        if (r.rc == 1) cr_assert_not(last, "wants more after last");
    }
    r.info = *rdb_loader_info(l);
    r.pos = rdb_loader_pos(l);
    return r;
}

static result_t load_stream(const unsigned char *p, size_t n, int flags, long chunk,
                            bool last_apart) {
    rdb_loader_t *l = rdb_loader_open_stream(flags);
    result_t r = feed_all(l, p, n, chunk, last_apart);
    rdb_loader_close(l);
    return r;
}

static void assert_same_info(const rdb_load_info_t *a, const rdb_load_info_t *b) {
    cr_assert_eq(a->version, b->version);
    cr_assert_eq(a->keys_loaded, b->keys_loaded);
    cr_assert_eq(a->keys_expired, b->keys_expired);
    cr_assert_eq(a->empty_keys_skipped, b->empty_keys_skipped);
    cr_assert_str_eq(a->redis_ver, b->redis_ver);
    cr_assert_eq(a->ctime, b->ctime);
    cr_assert_eq(a->used_mem, b->used_mem);
    cr_assert_eq(a->repl_stream_db, b->repl_stream_db);
    cr_assert_str_eq(a->repl_id, b->repl_id);
    cr_assert_eq(a->repl_offset, b->repl_offset);
    cr_assert_eq(a->aof_base, b->aof_base);
}

/* The stream loader in every chunking agrees with the memory loader on p:
 * same result code, same dataset (also after a failure: the same whole keys
 * before it), same info. Returns the memory loader's result. */
static result_t check_agree(const unsigned char *p, size_t n, int flags, const long *chunks,
                            int nchunks, const char *what) {
    db_flush_all();
    result_t want = load_mem(p, n, flags);
    char *want_ds = describe_live();
    for (int c = 0; c < nchunks; c++) {
        for (int apart = 0; apart < 2; apart++) {
            db_flush_all();
            result_t got = load_stream(p, n, flags, chunks[c], apart);
            char *ds = describe_live();
            cr_assert_eq(got.rc, want.rc,
                         "%s, chunk %ld: stream %d (%s at %zu), mem %d (%s at %zu)", what,
                         chunks[c], got.rc, got.err.msg, got.err.offset, want.rc, want.err.msg,
                         want.err.offset);
            cr_assert_str_eq(ds, want_ds, "%s, chunk %ld: datasets differ", what, chunks[c]);
            assert_same_info(&got.info, &want.info);
            if (want.rc == 0) {
                cr_assert_eq(got.pos, want.pos, "%s: pos %zu vs %zu", what, got.pos, want.pos);
            } else {
                cr_assert_neq(got.err.msg[0], '\0');
                cr_assert_leq(got.err.offset, n);
            }
            free(ds);
        }
    }
    free(want_ds);
    return want;
}

static const long all_chunks[] = {1, 7, 0, -1, 65536};

/* ---------------------------------------------------------------- tests */

Test(rdb_stream, chunked_loads_equal_one_go) {
    fill_keyspace();
    char *before = describe_live();
    for (int compress = 0; compress < 2; compress++) {
        size_t n;
        unsigned char *p = save_to_mem(compress, &n);
        for (int deep = 0; deep < 2; deep++) {
            result_t r = check_agree(p, n, deep ? RDB_LOAD_DEEP : 0, all_chunks, 5, "saved");
            cr_assert_eq(r.rc, 0, "%s", r.err.msg);
            cr_assert_eq(r.info.keys_loaded, 509);
            cr_assert_eq(r.info.used_mem, 4242);
            cr_assert_eq(r.pos, n);
            char *after = describe_live();
            cr_assert_str_eq(before, after);
            free(after);
        }
        free(p);
    }
    free(before);
}

Test(rdb_stream, corpus_files_load_as_in_one_go) {
    DIR *d = opendir(RDB_CORPUS);
    cr_assert_not_null(d, "%s", RDB_CORPUS);
    struct dirent *de;
    int files = 0, loaded = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", RDB_CORPUS, de->d_name);
        size_t n;
        unsigned char *p = read_path(path, &n);
        result_t r = check_agree(p, n, 0, all_chunks, 5, de->d_name);
        check_agree(p, n, RDB_LOAD_DEEP | RDB_LOAD_SKIP_EXPIRED, all_chunks + 1, 2, de->d_name);
        files++;
        loaded += r.rc == 0;
        free(p);
    }
    closedir(d);
    cr_assert_geq(files, 11);
    /* The legacy and Redis-written seeds are valid files. */
    cr_assert_geq(loaded, 11);
}

Test(rdb_stream, every_truncation_says_truncated_and_keeps_whole_keys) {
    add_key(0, "s", mk_str("value"), g_kv.mstime + 100000);
    add_key(0, "l", mk_list(3, "%d"), -1);
    add_key(1, "z", mk_zset(3), -1);
    add_key(1, "h", mk_hash_lp(3), -1);
    add_key(2, "i", mk_intset(2), -1);
    add_key(2, "hh", mk_hash_ht(600), -1);
    size_t n;
    unsigned char *p = save_to_mem(true, &n);
    /* The keys as loaded (encodings chosen on load), one line each. */
    db_flush_all();
    result_t whole = load_stream(p, n, 0, 1, false);
    cr_assert_eq(whole.rc, 0, "%s", whole.err.msg);
    char *full = describe_live();
    int keys_in_full = 0;
    for (char *c = full; *c; c++)
        keys_in_full += *c == '\n';
    cr_assert_eq(keys_in_full, 6);
    for (size_t cut = 0; cut < n; cut++) {
        for (int mode = 0; mode < 3; mode++) {
            db_flush_all();
            unsigned char *copy = malloc(cut ? cut : 1);
            memcpy(copy, p, cut);
            long chunk = mode == 0 ? 1 : mode == 1 ? 7 : 65536;
            result_t r = load_stream(copy, cut, 0, chunk, mode == 1);
            cr_assert_eq(r.rc, -1, "cut %zu of %zu loaded", cut, n);
            cr_assert(strstr(r.err.msg, "truncated") != NULL, "cut %zu: %s", cut, r.err.msg);
            cr_assert_leq(r.err.offset, cut, "cut %zu: offset %zu", cut, r.err.offset);
            /* Whatever is in the dbs is a whole key of the original. */
            char *ds = describe_live();
            size_t keys = 0;
            for (char *line = strtok(ds, "\n"); line; line = strtok(NULL, "\n")) {
                cr_assert(strstr(full, line) != NULL, "cut %zu: partial key %s", cut, line);
                keys++;
            }
            size_t indb = 0;
            for (int i = 0; i < db_count(); i++)
                indb += db_size(db_get(i));
            cr_assert_eq(indb, r.info.keys_loaded);
            free(ds);
            free(copy);
        }
    }
    db_flush_all();
    result_t r = load_stream(p, n, 0, 1, false);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    free(full);
    free(p);
}

Test(rdb_stream, corrupt_bytes_fail_as_in_one_go) {
    /* Small limits: conversions on load with little data. */
    g_cfg.hash_max_listpack_entries = 8;
    g_cfg.zset_max_listpack_entries = 8;
    g_cfg.set_max_intset_entries = 8;
    add_key(0, "s", mk_str("value"), g_kv.mstime + 100000);
    add_key(0, "l", mk_list(40, "item%d"), -1);
    add_key(1, "z", mk_zset(5), -1);
    add_key(1, "zz", mk_zset(12), -1);
    add_key(1, "h", mk_hash_lp(4), -1);
    add_key(2, "i", mk_intset(5), -1);
    add_key(2, "set", mk_set(10, "m%d"), -1);
    add_key(3, "hh", mk_hash_ht(12), -1);
    size_t n;
    unsigned char *p = save_to_mem(true, &n);
    static const long chunks[] = {1, 0};
    int failed = 0;
    for (size_t at = 0; at < n; at++) {
        unsigned char keep = p[at];
        unsigned char vals[] = {(unsigned char)(keep ^ 0x01), (unsigned char)(keep ^ 0x80), 0xff,
                                0x00, (unsigned char)rng()};
        for (size_t v = 0; v < sizeof(vals); v++) {
            if (vals[v] == keep) continue;
            p[at] = vals[v];
            /* Without the checksum, so the bytes themselves are judged. */
            result_t r = check_agree(
                p, n, at % 2 ? RDB_LOAD_NO_CHECKSUM | RDB_LOAD_DEEP : RDB_LOAD_NO_CHECKSUM, chunks,
                at % 5 == 0 ? 2 : 1, "corrupt");
            failed += r.rc != 0;
        }
        p[at] = keep;
    }
    cr_assert_gt(failed, (int)n);
    free(p);
}

/* One big value fed in 16 KB chunks: time and bytes it takes. */
static double feed_seconds(const unsigned char *p, size_t n, size_t chunk, int *rc) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rdb_loader_t *l = rdb_loader_open_stream(0);
    rdb_err_t err = {{0}, 0};
    size_t off = 0;
    *rc = 1;
    while (*rc == 1) {
        size_t c = n - off < chunk ? n - off : chunk;
        *rc = rdb_loader_feed(l, p + off, c, off + c == n, &err);
        off += c;
        cr_assert(*rc != 1 || off < n);
    }
    cr_assert_eq(*rc, 0, "%s at %zu", err.msg, err.offset);
    rdb_loader_close(l);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static double mem_seconds(const unsigned char *p, size_t n) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    result_t r = load_mem(p, n, 0);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

Test(rdb_stream, big_values_in_small_chunks_load_in_linear_time, .timeout = 600) {
    /* A 50 MB string (not compressible: random bytes). */
    size_t big = 50u * 1024 * 1024;
    char *s = kl_malloc(big);
    for (size_t i = 0; i < big; i += 8) {
        uint64_t x = rng();
        memcpy(s + i, &x, big - i < 8 ? big - i : 8);
    }
    uint64_t crc = crc64(0, s, big);
    db_add(db_get(0), "big", 3, obj_string_adopt(s, big));
    add_key(0, "after", mk_str("x"), -1);
    size_t n;
    unsigned char *p = save_to_mem(false, &n);
    cr_assert_gt(n, big);
    db_flush_all();
    int rc;
    double one = mem_seconds(p, n);
    db_flush_all();
    double t16k = feed_seconds(p, n, 16384, &rc);
    kobj_t *o = db_peek(db_get(0), "big", 3);
    cr_assert_not_null(o);
    char buf[32];
    size_t len;
    const char *got = obj_string_bytes(o, buf, &len);
    cr_assert_eq(len, big);
    cr_assert_eq(crc64(0, got, len), crc);
    cr_assert(db_exists(db_get(0), "after", 5));
    db_flush_all();
    double t1k = feed_seconds(p, n, 1024, &rc);
    printf("50 MB string: one go %.3f s, 16 KB chunks %.3f s, 1 KB chunks %.3f s\n", one, t16k,
           t1k);
    free(p);

    /* A 1M-member set: a value of many small elements. */
    db_flush_all();
    add_key(0, "set", mk_set(1000000, "member:%d"), -1);
    p = save_to_mem(false, &n);
    db_flush_all();
    one = mem_seconds(p, n);
    db_flush_all();
    t16k = feed_seconds(p, n, 16384, &rc);
    cr_assert_eq(db_size(db_get(0)), 1);
    cr_assert_eq(dict_size(db_peek(db_get(0), "set", 3)->v.p), 1000000);
    printf("1M-member set (%zu bytes): one go %.3f s, 16 KB chunks %.3f s\n", n, one, t16k);
    fflush(stdout);
    free(p);
}

Test(rdb_stream, bytes_after_the_end_and_feeds_after_it) {
    add_key(0, "k", mk_str("v"), -1);
    size_t n;
    unsigned char *p = save_to_mem(false, &n);
    unsigned char *q = malloc(n + 40);
    memcpy(q, p, n);
    memset(q + n, 'M', 40); /* like the EOF mark of a diskless transfer */
    db_flush_all();
    rdb_loader_t *l = rdb_loader_open_stream(0);
    rdb_err_t err = {{0}, 0};
    size_t rn;
    cr_assert_null(rdb_loader_rest(l, &rn));
    cr_assert_eq(rn, 0);
    cr_assert_eq(rdb_loader_feed(l, q, n - 3, false, &err), 1);
    cr_assert_eq(rdb_loader_feed(l, q + n - 3, 13, false, &err), 0, "%s", err.msg);
    cr_assert_eq(rdb_loader_pos(l), n);
    const unsigned char *rest = rdb_loader_rest(l, &rn);
    cr_assert_eq(rn, 10);
    cr_assert_eq(memcmp(rest, q + n, 10), 0);
    cr_assert_eq(rdb_loader_feed(l, NULL, 0, true, &err), 0);
    cr_assert_eq(rdb_loader_feed(l, q + n + 10, 30, true, &err), -1);
    cr_assert(strstr(err.msg, "after the end") != NULL, "%s", err.msg);
    cr_assert_eq(rdb_loader_feed(l, NULL, 0, true, &err), -1);
    cr_assert(strstr(err.msg, "failed already") != NULL, "%s", err.msg);
    rdb_loader_close(l);
    cr_assert(db_exists(db_get(0), "k", 1));
    free(q);
    free(p);
}

Test(rdb_stream, errors) {
    rdb_err_t err = {{0}, 0};
    /* A wrong signature is corrupt as soon as its 9 bytes are there. */
    rdb_loader_t *l = rdb_loader_open_stream(0);
    cr_assert_eq(rdb_loader_feed(l, "REDIX0010", 9, false, &err), -1);
    cr_assert(strstr(err.msg, "Wrong signature") != NULL, "%s", err.msg);
    cr_assert_eq(err.offset, 0);
    cr_assert_eq(rdb_loader_step(l, 100, &err), -1);
    rdb_loader_close(l);
    /* In pieces: the retry waits for the tail to double, or for last. */
    l = rdb_loader_open_stream(0);
    cr_assert_eq(rdb_loader_feed(l, "REDIS", 5, false, &err), 1);
    cr_assert_eq(rdb_loader_feed(l, "0011", 4, true, &err), -1);
    cr_assert_str_eq(err.msg, "Can't handle RDB format version 11");
    rdb_loader_close(l);
    /* The file loader is not fed. */
    l = rdb_loader_open_mem("REDIS0010", 9, 0);
    cr_assert_eq(rdb_loader_feed(l, "x", 1, true, &err), -1);
    rdb_loader_close(l);
    /* Nothing at all, then last. */
    l = rdb_loader_open_stream(0);
    cr_assert_eq(rdb_loader_feed(l, NULL, 0, false, &err), 1);
    cr_assert_eq(rdb_loader_feed(l, NULL, 0, true, &err), -1);
    cr_assert(strstr(err.msg, "truncated") != NULL, "%s", err.msg);
    rdb_loader_close(l);

    /* Checksums: a wrong trailer fails at the EOF opcode's end, unless
     * checksums are off. An error's offset counts from the stream's start,
     * however much of it was dropped. */
    fill_keyspace();
    size_t n;
    unsigned char *p = save_to_mem(true, &n);
    p[n - 1] ^= 1;
    db_flush_all();
    result_t r = load_stream(p, n, 0, 0, false);
    cr_assert_eq(r.rc, -1);
    cr_assert(strstr(r.err.msg, "Wrong RDB checksum") != NULL, "%s", r.err.msg);
    cr_assert_eq(r.err.offset, n - 8);
    db_flush_all();
    r = load_stream(p, n, RDB_LOAD_NO_CHECKSUM, 0, false);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    /* A key twice: the error's offset is the second one's. */
    p[n - 1] ^= 1;
    unsigned char dup[] = {'R', 'E', 'D', 'I', 'S', '0',  '0', '1', '0', 0, 1, 'k', 1, 'a',
                           0,   1,   'k', 1,   'b', 0xff, 0,   0,   0,   0, 0, 0,   0, 0};
    db_flush_all();
    r = load_stream(dup, sizeof(dup), 0, 1, false);
    cr_assert_eq(r.rc, -1);
    cr_assert(strstr(r.err.msg, "duplicated key") != NULL, "%s", r.err.msg);
    cr_assert_eq(r.err.offset, 14);
    free(p);
}

/* ---------------------------------------------------------------- temporary db arrays */

/* Keyspace hook calls (kv.h): a load into a temporary set must make none,
 * since the executor's reactions (WATCH, notifications, propagation) are for
 * live databases. */
static int hook_calls;
static void count_key(kdb_t *db, const char *key, size_t klen) {
    (void)db, (void)key, (void)klen;
    hook_calls++;
}
static void count_stored(kdb_t *db, const char *key, size_t klen, const kobj_t *val, bool added) {
    (void)val, (void)added;
    count_key(db, key, klen);
}

Test(rdb_stream, loading_into_a_set_calls_no_keyspace_hook) {
    fill_keyspace();
    size_t n;
    unsigned char *p = save_to_mem(true, &n);
    db_flush_all();
    kv_hooks_t h = {.modified = count_key,
                    .stored = count_stored,
                    .expired = count_key,
                    .evicted = count_key,
                    .miss = count_key};
    kv_set_hooks(&h);
    hook_calls = 0;
    kdb_set_t *s = kdb_set_new();
    rdb_loader_t *l = rdb_loader_open_stream(0);
    rdb_loader_set_target(l, s);
    result_t r = feed_all(l, p, n, 0, false);
    rdb_loader_close(l);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    cr_assert_eq(kdb_set_keys(s), 509);
    cr_assert_eq(hook_calls, 0, "%d hook calls", hook_calls);
    kdb_set_free(s, false);
    free(p);
}

Test(rdb_stream, load_into_a_set_then_swap_it_in) {
    cr_assert_eq(lazyfree_start(), 0);
    fill_keyspace();
    size_t n;
    unsigned char *p = save_to_mem(true, &n);
    char *loaded_want = describe_live();
    /* The live dataset while the load runs: something else. */
    db_flush_all();
    add_key(0, "old", mk_str("1"), -1);
    add_key(5, "oldlist", mk_list(5000, "x%d"), -1);
    char *old_want = describe_live();
    kdb_t *addr[16];
    cr_assert_leq(db_count(), 16);
    for (int i = 0; i < db_count(); i++)
        addr[i] = db_get(i);

    kdb_set_t *s = kdb_set_new();
    cr_assert_eq(kdb_set_count(s), db_count());
    cr_assert_null(kdb_set_db(s, db_count()));
    cr_assert_eq(kdb_set_db(s, 3)->id, 3);
    rdb_loader_t *l = rdb_loader_open_stream(0);
    rdb_loader_set_target(l, s);
    result_t r = feed_all(l, p, n, 0, false);
    rdb_loader_close(l);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    /* The live dbs did not change; the set has the file. */
    char *live = describe_live();
    cr_assert_str_eq(live, old_want);
    free(live);
    char *in_set = describe_set(s);
    cr_assert_str_eq(in_set, loaded_want);
    free(in_set);
    cr_assert_eq(kdb_set_keys(s), 509);

    /* Swap: same addresses and ids, new contents; the set holds the old. */
    db_swap_set(s);
    for (int i = 0; i < db_count(); i++) {
        cr_assert_eq(db_get(i), addr[i]);
        cr_assert_eq(db_get(i)->id, i);
        cr_assert_eq(kdb_set_db(s, i)->id, i);
    }
    live = describe_live();
    cr_assert_str_eq(live, loaded_want);
    free(live);
    in_set = describe_set(s);
    cr_assert_str_eq(in_set, old_want);
    free(in_set);
    cr_assert_eq(kdb_set_keys(s), 2);
    /* TTL lookups work on the swapped-in data. */
    cr_assert_eq(db_get_expire(db_get(0), "int", 3), g_kv.mstime + 100000);

    /* The old contents go to the lazy-free thread. */
    size_t freed = lazyfree_freed();
    kdb_set_free(s, true);
    for (int i = 0; i < 2000 && lazyfree_freed() < freed + 2; i++)
        usleep(1000);
    cr_assert_geq(lazyfree_freed(), freed + 2);
    cr_assert_eq(lazyfree_pending(), 0);
    live = describe_live();
    cr_assert_str_eq(live, loaded_want);
    free(live);
    lazyfree_stop();
    free(old_want);
    free(loaded_want);
    free(p);
}

Test(rdb_stream, backup_then_restore_on_failure_or_discard_on_success) {
    fill_keyspace();
    size_t n;
    unsigned char *p = save_to_mem(true, &n);
    char *file_ds = describe_live();
    db_flush_all();
    add_key(0, "old", mk_str("1"), -1);
    add_key(3, "oldset", mk_set(100, "o%d"), g_kv.mstime + 99999);
    char *old_ds = describe_live();
    kdb_t *addr0 = db_get(0);

    /* A load that fails half-way (truncated): the backup comes back. */
    kdb_set_t *s = db_move_aside();
    cr_assert_eq(db_size(db_get(0)), 0);
    cr_assert_eq(db_size(db_get(3)), 0);
    cr_assert_eq(kdb_set_keys(s), 2);
    rdb_loader_t *l = rdb_loader_open_stream(0);
    result_t r = feed_all(l, p, n / 2, 7, false);
    rdb_loader_close(l);
    cr_assert_eq(r.rc, -1);
    cr_assert(strstr(r.err.msg, "truncated") != NULL, "%s", r.err.msg);
    cr_assert_gt(r.info.keys_loaded, 0);
    db_restore_aside(s, false);
    char *ds = describe_live();
    cr_assert_str_eq(ds, old_ds);
    free(ds);
    cr_assert_eq(db_get(0), addr0);

    /* A load that succeeds: the backup is dropped (lazily: no thread runs
     * here, so the hand-off frees at once). */
    s = db_move_aside();
    l = rdb_loader_open_stream(RDB_LOAD_DEEP);
    r = feed_all(l, p, n, -1, false);
    rdb_loader_close(l);
    cr_assert_eq(r.rc, 0, "%s", r.err.msg);
    kdb_set_free(s, true);
    ds = describe_live();
    cr_assert_str_eq(ds, file_ds);
    free(ds);

    /* Loading aside and failing: the partial load is dropped, live intact. */
    s = kdb_set_new();
    l = rdb_loader_open_stream(0);
    rdb_loader_set_target(l, s);
    r = feed_all(l, p, n - 20, 65536, false);
    rdb_loader_close(l);
    cr_assert_eq(r.rc, -1);
    cr_assert_gt(kdb_set_keys(s), 0);
    kdb_set_free(s, false);
    ds = describe_live();
    cr_assert_str_eq(ds, file_ds);
    free(ds);
    free(old_ds);
    free(file_ds);
    free(p);
}
