/* The hash type: HSET and friends with Redis 7.0's replies, errors and
 * encodings.
 *
 * Encodings (what OBJECT ENCODING reports):
 *  - "listpack": field, value, field, value... in one listpack (listpack.h),
 *    in insertion order, while the hash has at most hash-max-listpack-entries
 *    fields and no field or value longer than hash-max-listpack-value bytes.
 *  - "hashtable": a dict (dict.h) whose entries embed the field. The value
 *    lives in the entry's 64-bit value word (see "values" below), so a field
 *    costs one allocation, or two for values longer than 7 bytes; Redis needs
 *    three (dictEntry, field sds, value sds).
 * A hash converts from listpack to hashtable at the same moments Redis 7.0
 * converts (so OBJECT ENCODING agrees) and never converts back. Emptied hashes
 * delete their key.
 *
 * Thread: executor (every function here). */
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dict.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "listpack.h"
#include "notify.h"
#include "propagate.h"
#include "object.h"
#include "reply.h"
#include "server.h"
#include "types.h"
#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(void *) == 8, "hash values are tagged 64-bit pointers");

/* Field or value bytes handed out by the lookups and the iterator. p points
 * into the hash or into buf (integers of a listpack, inline values), so an
 * hstr_t must not be copied and is valid until the hash is modified. */
typedef struct hstr {
    const char *p;
    size_t len;
    char buf[24];
} hstr_t;

static void ht_value(const dict_entry_t *e, hstr_t *out) {
    out->p = hval_get(dict_entry_get_u64(e), out->buf, &out->len);
}

static void lp_value(const unsigned char *p, hstr_t *out) {
    out->p = (const char *)lp_get_bytes(p, (unsigned char *)out->buf, &out->len);
}

/* ---------------------------------------------------------------- the hash */

static inline unsigned char *hash_lp(const kobj_t *o) {
    return o->v.p;
}

static inline dict_t *hash_dict(const kobj_t *o) {
    return o->v.p;
}

/* A new, empty hash: a listpack, as Redis's createHashObject (the first write
 * converts it at once when hash-max-listpack-entries is 0). */
static kobj_t *hash_new(void) {
    return obj_new(OBJ_HASH, ENC_LISTPACK, lp_new(0));
}

static size_t hash_len(const kobj_t *o) {
    if (o->enc == ENC_LISTPACK) return lp_length(hash_lp(o)) / 2;
    return dict_size(hash_dict(o));
}

/* Position of field in a listpack hash, NULL if absent. */
static unsigned char *lp_find_field(unsigned char *lp, const char *f, size_t flen) {
    unsigned char *p = lp_first(lp);
    if (!p) return NULL;
    return lp_find(lp, p, (const unsigned char *)f, flen, 1);
}

/* Looks field up; true and its value in out when present. */
static bool hash_get(kobj_t *o, const char *f, size_t flen, hstr_t *out) {
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = hash_lp(o);
        unsigned char *fp = lp_find_field(lp, f, flen);
        if (!fp) return false;
        lp_value(lp_next(lp, fp), out);
        return true;
    }
    dict_entry_t *e = dict_find(hash_dict(o), f, flen);
    if (!e) return false;
    ht_value(e, out);
    return true;
}

static bool hash_exists(kobj_t *o, const char *f, size_t flen) {
    if (o->enc == ENC_LISTPACK) return lp_find_field(hash_lp(o), f, flen) != NULL;
    return dict_find(hash_dict(o), f, flen) != NULL;
}

/* Listpack to hashtable, keeping every field and value. */
static void hash_convert(kobj_t *o) {
    if (o->enc != ENC_LISTPACK) return;
    unsigned char *lp = hash_lp(o);
    dict_t *d = dict_create(&kv_hash_dict_type);
    unsigned char *fp = lp_first(lp);
    while (fp) {
        unsigned char *vp = lp_next(lp, fp);
        hstr_t f, v;
        lp_value(fp, &f);
        lp_value(vp, &v);
        dict_entry_t *e = dict_add_or_find(d, f.p, f.len, NULL);
        dict_entry_set_u64(e, hval_make(v.p, v.len));
        fp = lp_next(lp, vp);
    }
    lp_free(lp);
    o->v.p = d;
    o->enc = ENC_HASHTABLE;
}

/* Redis's hashTypeTryConversion: before a write of argv[start..end] (fields
 * and values), convert when one of them is too long for the listpack or the
 * listpack would grow past its safe size. */
static void hash_try_conversion(kobj_t *o, const client_t *c, uint32_t start, uint32_t end) {
    if (o->enc != ENC_LISTPACK) return;
    size_t sum = 0;
    for (uint32_t i = start; i <= end; i++) {
        size_t len = c->argv[i].len;
        if (len > (size_t)g_cfg.hash_max_listpack_value) {
            hash_convert(o);
            return;
        }
        sum += len;
    }
    if (!lp_safe_to_add(hash_lp(o), sum)) hash_convert(o);
}

/* Sets field to value, converting as Redis's hashTypeSet does (a field or
 * value too long for the listpack first, too many fields after). Returns 1
 * when the field existed (updated), 0 when it was added. */
static int hash_set(kobj_t *o, const char *f, size_t flen, const char *v, size_t vlen) {
    if (o->enc == ENC_LISTPACK && (flen > (size_t)g_cfg.hash_max_listpack_value ||
                                   vlen > (size_t)g_cfg.hash_max_listpack_value))
        hash_convert(o);
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = hash_lp(o);
        unsigned char *fp = lp_find_field(lp, f, flen);
        int update = fp != NULL;
        if (update) {
            unsigned char *vp = lp_next(lp, fp);
            lp = lp_replace(lp, &vp, (const unsigned char *)v, vlen);
        } else {
            lp = lp_append(lp, (const unsigned char *)f, flen);
            lp = lp_append(lp, (const unsigned char *)v, vlen);
        }
        o->v.p = lp;
        if (hash_len(o) > (size_t)g_cfg.hash_max_listpack_entries) hash_convert(o);
        return update;
    }
    int existed;
    dict_entry_t *e = dict_add_or_find(hash_dict(o), f, flen, &existed);
    if (existed) hval_free(dict_entry_val(e));
    dict_entry_set_u64(e, hval_make(v, vlen));
    return existed;
}

/* Deletes field; true if it was there. */
static bool hash_delete(kobj_t *o, const char *f, size_t flen) {
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = hash_lp(o);
        unsigned char *fp = lp_find_field(lp, f, flen);
        if (!fp) return false;
        o->v.p = lp_delete_range_at(lp, &fp, 2);
        return true;
    }
    return dict_delete(hash_dict(o), f, flen) == 1;
}

/* Read-only iteration over both encodings. The dict iterator is unsafe: no
 * call into the hash is allowed between hi_init and hi_done. */
typedef struct hash_iter {
    kobj_t *o;
    unsigned char *fp, *vp; /* listpack: current field and value */
    dict_iter_t di;
    dict_entry_t *de;
    bool started;
} hash_iter_t;

static void hi_init(hash_iter_t *it, kobj_t *o) {
    it->o = o;
    it->fp = it->vp = NULL;
    it->de = NULL;
    it->started = false;
    if (o->enc != ENC_LISTPACK) dict_iter_init(&it->di, hash_dict(o), 0);
}

static bool hi_next(hash_iter_t *it) {
    if (it->o->enc == ENC_LISTPACK) {
        unsigned char *lp = hash_lp(it->o);
        it->fp = it->started ? (it->vp ? lp_next(lp, it->vp) : NULL) : lp_first(lp);
        it->started = true;
        it->vp = it->fp ? lp_next(lp, it->fp) : NULL;
        return it->fp != NULL;
    }
    it->de = dict_iter_next(&it->di);
    return it->de != NULL;
}

static void hi_field(const hash_iter_t *it, hstr_t *out) {
    if (it->o->enc == ENC_LISTPACK) {
        lp_value(it->fp, out);
    } else {
        out->p = dict_entry_key(it->de);
        out->len = dict_entry_klen(it->de);
    }
}

static void hi_value(const hash_iter_t *it, hstr_t *out) {
    if (it->o->enc == ENC_LISTPACK)
        lp_value(it->vp, out);
    else
        ht_value(it->de, out);
}

static void hi_done(hash_iter_t *it) {
    if (it->o->enc != ENC_LISTPACK) dict_iter_done(&it->di);
}

/* ---------------------------------------------------------------- helpers */

/* The hash at key for reading: NULL (nothing replied) when missing, NULL
 * after replying WRONGTYPE (*wrong set) when it holds another type. */
static kobj_t *lookup_read(client_t *c, bool *wrong) {
    return cmd_lookup_typed(c, &c->argv[1], OBJ_HASH, false, wrong);
}

/* The hash at key for writing, or a new detached hash (*fresh) when the key
 * is missing; NULL after replying WRONGTYPE. A fresh hash is stored with
 * hash_store once something was written into it, else freed. */
static kobj_t *lookup_write_or_new(client_t *c, bool *fresh) {
    kobj_t *o = db_lookup_write(c->db, c->argv[1].ptr, c->argv[1].len);
    *fresh = false;
    if (!o) {
        *fresh = true;
        return hash_new();
    }
    if (o->type != OBJ_HASH) {
        reply_wrongtype(c);
        return NULL;
    }
    return o;
}

/* After a write: add a fresh hash to the keyspace, or signal the in-place
 * change of an existing one (WATCH). Then the keyspace event. */
static void hash_store(client_t *c, kobj_t *o, bool fresh, const char *event) {
    const resp_arg_t *k = &c->argv[1];
    if (fresh)
        db_add(c->db, k->ptr, k->len, o);
    else
        db_key_modified(c->db, k->ptr, k->len);
    notify_keyspace_event(KL_NOTIFY_HASH, event, k->ptr, k->len, c->db->id);
}

static void reply_hstr(client_t *c, const hstr_t *s) {
    reply_bulk(c, s->p, s->len);
}

/* ---------------------------------------------------------------- HSET family */

/* HSET and HMSET: the same command, HMSET with Redis 2's +OK reply. */
static void hset_generic(client_t *c, bool ok_reply) {
    if ((c->argc % 2) == 1) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->name);
        return;
    }
    bool fresh;
    kobj_t *o = lookup_write_or_new(c, &fresh);
    if (!o) return;
    hash_try_conversion(o, c, 2, c->argc - 1);
    long long created = 0;
    for (uint32_t j = 2; j < c->argc; j += 2) {
        const resp_arg_t *f = &c->argv[j], *v = &c->argv[j + 1];
        if (!hash_set(o, f->ptr, f->len, v->ptr, v->len)) created++;
    }
    hash_store(c, o, fresh, "hset");
    prop_changes((c->argc - 2) / 2);
    if (ok_reply)
        reply_ok(c);
    else
        reply_int(c, created);
}

static void hash_hset_cmd(client_t *c) {
    hset_generic(c, false);
}

static void hash_hmset_cmd(client_t *c) {
    hset_generic(c, true);
}

static void hash_hsetnx_cmd(client_t *c) {
    bool fresh;
    kobj_t *o = lookup_write_or_new(c, &fresh);
    if (!o) return;
    const resp_arg_t *f = &c->argv[2], *v = &c->argv[3];
    if (!fresh && hash_exists(o, f->ptr, f->len)) {
        reply_int(c, 0);
        return;
    }
    hash_try_conversion(o, c, 2, 3);
    hash_set(o, f->ptr, f->len, v->ptr, v->len);
    hash_store(c, o, fresh, "hset");
    prop_changes(1);
    reply_int(c, 1);
}

static void hash_hincrby_cmd(client_t *c) {
    long long incr, value = 0;
    if (arg_ll(c, &c->argv[3], &incr) != 0) return;
    bool fresh;
    kobj_t *o = lookup_write_or_new(c, &fresh);
    if (!o) return;
    const resp_arg_t *f = &c->argv[2];
    hstr_t cur;
    if (!fresh && hash_get(o, f->ptr, f->len, &cur) && kl_str_to_ll(cur.p, cur.len, &value) != 0) {
        reply_error(c, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && value < 0 && incr < (LLONG_MIN - value)) ||
        (incr > 0 && value > 0 && incr > (LLONG_MAX - value))) {
        /* Unreachable for a fresh hash (value 0); kept for clarity. */
        if (fresh) obj_free(o);
        reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    char buf[KL_LLSTR_SIZE];
    int n = kl_ll_to_str(buf, sizeof(buf), value);
    hash_set(o, f->ptr, f->len, buf, (size_t)n);
    hash_store(c, o, fresh, "hincrby");
    prop_changes(1);
    reply_int(c, value);
}

static void hash_hincrbyfloat_cmd(client_t *c) {
    long double incr, value = 0;
    if (arg_ld(c, &c->argv[3], &incr) != 0) return;
    if (isnan(incr) || isinf(incr)) {
        reply_error(c, "ERR value is NaN or Infinity");
        return;
    }
    bool fresh;
    kobj_t *o = lookup_write_or_new(c, &fresh);
    if (!o) return;
    const resp_arg_t *f = &c->argv[2];
    hstr_t cur;
    if (!fresh && hash_get(o, f->ptr, f->len, &cur) && kl_str_to_ld(cur.p, cur.len, &value) != 0) {
        reply_error(c, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        if (fresh) obj_free(o);
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[KL_LDSTR_SIZE];
    int n = kl_ld_to_str(buf, sizeof(buf), value, KL_LD_HUMAN);
    hash_set(o, f->ptr, f->len, buf, (size_t)n);
    hash_store(c, o, fresh, "hincrbyfloat");
    prop_changes(1);
    reply_bulk(c, buf, (size_t)n);
    /* Propagated as HSET key field value with the formatted result, so that
     * float rounding on the other side cannot differ. */
    prop_subst_t subst[2] = {{0, PROP_STR("HSET")}, {3, {buf, (size_t)n}}};
    if (prop_wanted()) prop_rewrite_args(c->argv, c->argc, subst, 2);
}

/* ---------------------------------------------------------------- HDEL */

static void hash_hdel_cmd(client_t *c) {
    kdb_t *db = c->db;
    const resp_arg_t *k = &c->argv[1];
    kobj_t *o = db_lookup_write(db, k->ptr, k->len);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (o->type != OBJ_HASH) {
        reply_wrongtype(c);
        return;
    }
    long long deleted = 0;
    bool removed = false;
    for (uint32_t j = 2; j < c->argc; j++) {
        if (!hash_delete(o, c->argv[j].ptr, c->argv[j].len)) continue;
        deleted++;
        if (hash_len(o) == 0) {
            removed = true;
            break;
        }
    }
    if (deleted) {
        if (removed) {
            db_delete(db, k->ptr, k->len);
        } else {
            if (o->enc == ENC_HASHTABLE) dict_try_shrink(hash_dict(o));
            db_key_modified(db, k->ptr, k->len);
        }
        notify_keyspace_event(KL_NOTIFY_HASH, "hdel", k->ptr, k->len, db->id);
        if (removed) notify_keyspace_event(KL_NOTIFY_GENERIC, "del", k->ptr, k->len, db->id);
        prop_changes((uint64_t)deleted);
    }
    reply_int(c, deleted);
}

/* ---------------------------------------------------------------- reads */

static void hash_hget_cmd(client_t *c) {
    bool wrong;
    kobj_t *o = lookup_read(c, &wrong);
    if (wrong) return;
    hstr_t v;
    if (o && hash_get(o, c->argv[2].ptr, c->argv[2].len, &v))
        reply_hstr(c, &v);
    else
        reply_null(c);
}

static void hash_hmget_cmd(client_t *c) {
    bool wrong;
    kobj_t *o = lookup_read(c, &wrong);
    if (wrong) return;
    reply_array(c, (long)c->argc - 2);
    for (uint32_t j = 2; j < c->argc; j++) {
        hstr_t v;
        if (o && hash_get(o, c->argv[j].ptr, c->argv[j].len, &v))
            reply_hstr(c, &v);
        else
            reply_null(c);
    }
}

static void hash_hlen_cmd(client_t *c) {
    bool wrong;
    kobj_t *o = lookup_read(c, &wrong);
    if (wrong) return;
    reply_int(c, o ? (long long)hash_len(o) : 0);
}

static void hash_hstrlen_cmd(client_t *c) {
    bool wrong;
    kobj_t *o = lookup_read(c, &wrong);
    if (wrong) return;
    hstr_t v;
    if (o && hash_get(o, c->argv[2].ptr, c->argv[2].len, &v))
        reply_int(c, (long long)v.len);
    else
        reply_int(c, 0);
}

static void hash_hexists_cmd(client_t *c) {
    bool wrong;
    kobj_t *o = lookup_read(c, &wrong);
    if (wrong) return;
    reply_int(c, o && hash_exists(o, c->argv[2].ptr, c->argv[2].len) ? 1 : 0);
}

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

/* HKEYS, HVALS and HGETALL (a map in RESP3). */
static void getall_generic(client_t *c, int want) {
    bool wrong;
    kobj_t *o = lookup_read(c, &wrong);
    if (wrong) return;
    bool both = want == (WANT_FIELDS | WANT_VALUES);
    long n = o ? (long)hash_len(o) : 0;
    if (both)
        reply_map(c, n);
    else
        reply_array(c, n);
    if (!o) return;
    hash_iter_t it;
    hi_init(&it, o);
    while (hi_next(&it)) {
        hstr_t s;
        if (want & WANT_FIELDS) {
            hi_field(&it, &s);
            reply_hstr(c, &s);
        }
        if (want & WANT_VALUES) {
            hi_value(&it, &s);
            reply_hstr(c, &s);
        }
    }
    hi_done(&it);
}

static void hash_hkeys_cmd(client_t *c) {
    getall_generic(c, WANT_FIELDS);
}

static void hash_hvals_cmd(client_t *c) {
    getall_generic(c, WANT_VALUES);
}

static void hash_hgetall_cmd(client_t *c) {
    getall_generic(c, WANT_FIELDS | WANT_VALUES);
}

/* ---------------------------------------------------------------- HRANDFIELD */

/* A uniform random integer in [0, n), n > 0. */
static uint64_t rand_below(uint64_t n) {
    /* Lemire's multiply-shift with rejection: no modulo bias. */
    uint64_t x = kl_rand64();
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            x = kl_rand64();
            m = (__uint128_t)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* One field (and value) of a random pick. RESP3 nests each WITHVALUES pair
 * in its own array; RESP2 flattens them. */
static void reply_pair(client_t *c, const hstr_t *f, const hstr_t *v, bool withvalues) {
    if (withvalues && c->resp > 2) reply_array(c, 2);
    reply_hstr(c, f);
    if (withvalues) reply_hstr(c, v);
}

static void reply_entry(client_t *c, const dict_entry_t *e, bool withvalues) {
    hstr_t f, v;
    f.p = dict_entry_key(e);
    f.len = dict_entry_klen(e);
    if (withvalues) ht_value(e, &v);
    reply_pair(c, &f, &v, withvalues);
}

static void reply_lp_pair(client_t *c, unsigned char *lp, unsigned char *fp, bool withvalues) {
    hstr_t f, v;
    lp_value(fp, &f);
    if (withvalues) lp_value(lp_next(lp, fp), &v);
    reply_pair(c, &f, &v, withvalues);
}

/* Positions of every field of a listpack hash (n of them), for O(1) picks. */
static unsigned char **lp_field_positions(unsigned char *lp, size_t n) {
    unsigned char **pos = kl_malloc(n * sizeof(*pos));
    unsigned char *p = lp_first(lp);
    for (size_t i = 0; i < n && p; i++) {
        pos[i] = p;
        p = lp_next(lp, lp_next(lp, p));
    }
    return pos;
}

/* A small open-addressing set of entry pointers (HRANDFIELD's distinct
 * picks on a big hashtable): one allocation, no per-element malloc. */
typedef struct ptrset {
    const void **slot;
    size_t mask;
} ptrset_t;

static void ptrset_init(ptrset_t *s, size_t want) {
    size_t cap = 16;
    while (cap < want * 2)
        cap <<= 1;
    s->slot = kl_calloc(cap, sizeof(*s->slot));
    s->mask = cap - 1;
}

/* Adds p; false if it was already there. */
static bool ptrset_add(ptrset_t *s, const void *p) {
    size_t i = (size_t)(((uintptr_t)p >> 3) * 0x9E3779B97F4A7C15ull) & s->mask;
    while (s->slot[i]) {
        if (s->slot[i] == p) return false;
        i = (i + 1) & s->mask;
    }
    s->slot[i] = p;
    return true;
}

static void hrandfield_count(client_t *c, long long l, bool withvalues) {
    bool wrong;
    kobj_t *o = lookup_read(c, &wrong);
    if (wrong) return;
    if (!o) {
        reply_array(c, 0);
        return;
    }
    size_t size = hash_len(o);
    bool uniq = l >= 0;
    unsigned long long count = uniq ? (unsigned long long)l : (unsigned long long)(-l);
    if (count == 0) {
        reply_array(c, 0);
        return;
    }
    bool flat = withvalues && c->resp == 2;

    /* Repeats allowed (negative count), or a single pick. */
    if (!uniq || count == 1) {
        reply_array(c, (long)(flat ? count * 2 : count));
        if (o->enc == ENC_HASHTABLE) {
            dict_t *d = hash_dict(o);
            while (count-- && !((count & 1023) == 0 && reply_too_big(c)))
                reply_entry(c, dict_random_entry(d), withvalues);
        } else {
            unsigned char *lp = hash_lp(o);
            unsigned char **pos = lp_field_positions(lp, size);
            while (count-- && !((count & 1023) == 0 && reply_too_big(c)))
                reply_lp_pair(c, lp, pos[rand_below(size)], withvalues);
            kl_free(pos);
        }
        return;
    }

    size_t n = count < size ? (size_t)count : size;
    reply_array(c, (long)(flat ? n * 2 : n));

    /* The whole hash, in its own order. */
    if (count >= size) {
        hash_iter_t it;
        hi_init(&it, o);
        while (hi_next(&it)) {
            hstr_t f, v;
            hi_field(&it, &f);
            if (withvalues) hi_value(&it, &v);
            reply_pair(c, &f, &v, withvalues);
        }
        hi_done(&it);
        return;
    }

    if (o->enc == ENC_LISTPACK) {
        /* Selection sampling (Knuth's algorithm S): distinct fields in
         * listpack order, one pass. */
        unsigned char *lp = hash_lp(o);
        unsigned char *fp = lp_first(lp);
        size_t need = n;
        for (size_t i = 0; fp && need; i++) {
            if (rand_below(size - i) < need) {
                reply_lp_pair(c, lp, fp, withvalues);
                need--;
            }
            fp = lp_next(lp, lp_next(lp, fp));
        }
        return;
    }

    dict_t *d = hash_dict(o);
    if (n * 3 > size) {
        /* Many of the fields: a partial Fisher-Yates shuffle of all entries. */
        dict_entry_t **all = kl_malloc(size * sizeof(*all));
        size_t i = 0;
        dict_iter_t it;
        dict_iter_init(&it, d, 0);
        dict_entry_t *e;
        while ((e = dict_iter_next(&it)) != NULL && i < size)
            all[i++] = e;
        dict_iter_done(&it);
        for (size_t j = 0; j < n; j++) {
            size_t r = j + (size_t)rand_below(i - j);
            dict_entry_t *t = all[j];
            all[j] = all[r];
            all[r] = t;
            reply_entry(c, all[j], withvalues);
        }
        kl_free(all);
        return;
    }
    /* Few of the fields: random picks until n distinct ones. Rehashing moves
     * entries between tables without reallocating them, so entry pointers
     * identify fields. */
    ptrset_t seen;
    ptrset_init(&seen, n);
    size_t got = 0;
    while (got < n) {
        dict_entry_t *e = dict_random_entry(d);
        if (!ptrset_add(&seen, e)) continue;
        reply_entry(c, e, withvalues);
        got++;
    }
    kl_free(seen.slot);
}

static void hash_hrandfield_cmd(client_t *c) {
    if (c->argc >= 3) {
        long long l;
        if (arg_ll(c, &c->argv[2], &l) != 0) return;
        if (l < -LLONG_MAX) {
            reply_errorf(c, "ERR value is out of range, value must between %lld and %lld",
                         -LLONG_MAX, LLONG_MAX);
            return;
        }
        bool withvalues = false;
        if (c->argc > 4 || (c->argc == 4 && !arg_is(&c->argv[3], "withvalues"))) {
            reply_syntax_error(c);
            return;
        }
        if (c->argc == 4) {
            withvalues = true;
            /* The flat RESP2 reply holds 2 * count items. */
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                reply_error(c, "ERR value is out of range");
                return;
            }
        }
        hrandfield_count(c, l, withvalues);
        return;
    }
    bool wrong;
    kobj_t *o = lookup_read(c, &wrong);
    if (wrong) return;
    if (!o) {
        reply_null(c);
        return;
    }
    hstr_t f;
    if (o->enc == ENC_HASHTABLE) {
        dict_entry_t *e = dict_random_entry(hash_dict(o));
        f.p = dict_entry_key(e);
        f.len = dict_entry_klen(e);
    } else {
        unsigned char *lp = hash_lp(o);
        lp_value(lp_seek(lp, (long)(2 * rand_below(hash_len(o)))), &f);
    }
    reply_hstr(c, &f);
}

/* ---------------------------------------------------------------- HSCAN */

/* Fields and values collected by HSCAN steps: bytes back to back in buf,
 * with offsets, field i at 2i and its value at 2i + 1. */
typedef struct scan_items {
    kl_buf_t buf;
    struct {
        size_t off, len;
    } * it;
    size_t n, cap;
} scan_items_t;

static void scan_push(scan_items_t *s, const char *p, size_t len) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->it = kl_realloc(s->it, s->cap * sizeof(*s->it));
    }
    s->it[s->n].off = s->buf.len;
    s->it[s->n].len = len;
    kl_buf_append(&s->buf, p, len);
    s->n++;
}

static void scan_collect(void *priv, dict_entry_t *e) {
    scan_items_t *s = priv;
    hstr_t v;
    scan_push(s, dict_entry_key(e), dict_entry_klen(e));
    ht_value(e, &v);
    scan_push(s, v.p, v.len);
}

static void hash_hscan_cmd(client_t *c) {
    uint64_t cursor;
    if (cmd_parse_scan_cursor(c, &c->argv[2], &cursor) != 0) return;
    kobj_t *o = db_lookup_read(c->db, c->argv[1].ptr, c->argv[1].len);
    if (!o) {
        /* A missing key answers before the options are even looked at. */
        reply_array(c, 2);
        reply_bulk(c, "0", 1);
        reply_array(c, 0);
        return;
    }
    if (o->type != OBJ_HASH) {
        reply_wrongtype(c);
        return;
    }
    scan_opts_t so;
    if (cmd_parse_scan_opts(c, 3, false, &so) != 0) return;
    long long count = so.count;
    const char *pat = so.pat;
    size_t plen = so.plen;
    bool use_pattern = so.use_pattern;

    scan_items_t s = {0};
    if (o->enc == ENC_LISTPACK) {
        /* Small hashes are returned whole, with cursor 0. */
        hash_iter_t it;
        hi_init(&it, o);
        while (hi_next(&it)) {
            hstr_t f, v;
            hi_field(&it, &f);
            hi_value(&it, &v);
            scan_push(&s, f.p, f.len);
            scan_push(&s, v.p, v.len);
        }
        hi_done(&it);
        cursor = 0;
    } else {
        /* COUNT counts fields and values, as Redis's does. */
        long long maxiterations = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
        do {
            cursor = dict_scan(hash_dict(o), cursor, scan_collect, &s);
        } while (cursor && maxiterations-- && (long long)s.n < count);
    }

    size_t kept = 0;
    for (size_t i = 0; i + 1 < s.n; i += 2) {
        if (use_pattern && !kl_glob_match(pat, plen, s.buf.p + s.it[i].off, s.it[i].len, 0))
            continue;
        s.it[kept++] = s.it[i];
        s.it[kept++] = s.it[i + 1];
    }

    char cbuf[KL_LLSTR_SIZE];
    int clen = kl_ull_to_str(cbuf, sizeof(cbuf), cursor);
    reply_array(c, 2);
    reply_bulk(c, cbuf, (size_t)clen);
    reply_array(c, (long)kept);
    for (size_t i = 0; i < kept; i++)
        reply_bulk(c, s.buf.p + s.it[i].off, s.it[i].len);
    kl_buf_free(&s.buf);
    kl_free(s.it);
}

/* ---------------------------------------------------------------- table */

kl_command_t cmds_hash[] = {
    {
        .name = "hset",
        .proc = hash_hset_cmd,
        .arity = -4,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Set the string value of a hash field",
        .complexity =
            "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the "
            "command is called with multiple field/value pairs.",
        .acl_cats = "@write @hash @fast",
    },
    {
        .name = "hsetnx",
        .proc = hash_hsetnx_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Set the value of a hash field, only if the field does not exist",
        .complexity = "O(1)",
        .acl_cats = "@write @hash @fast",
    },
    {
        .name = "hget",
        .proc = hash_hget_cmd,
        .arity = 3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Get the value of a hash field",
        .complexity = "O(1)",
        .acl_cats = "@read @hash @fast",
    },
    {
        .name = "hmget",
        .proc = hash_hmget_cmd,
        .arity = -3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Get the values of all the given hash fields",
        .complexity = "O(N) where N is the number of fields being requested.",
        .acl_cats = "@read @hash @fast",
    },
    {
        .name = "hmset",
        .proc = hash_hmset_cmd,
        .arity = -4,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Set multiple hash fields to multiple values",
        .complexity = "O(N) where N is the number of fields being set.",
        .acl_cats = "@write @hash @fast",
    },
    {
        .name = "hdel",
        .proc = hash_hdel_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Delete one or more hash fields",
        .complexity = "O(N) where N is the number of fields to be removed.",
        .acl_cats = "@write @hash @fast",
    },
    {
        .name = "hlen",
        .proc = hash_hlen_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Get the number of fields in a hash",
        .complexity = "O(1)",
        .acl_cats = "@read @hash @fast",
    },
    {
        .name = "hstrlen",
        .proc = hash_hstrlen_cmd,
        .arity = 3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "3.2.0",
        .summary = "Get the length of the value of a hash field",
        .complexity = "O(1)",
        .acl_cats = "@read @hash @fast",
    },
    {
        .name = "hexists",
        .proc = hash_hexists_cmd,
        .arity = 3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Determine if a hash field exists",
        .complexity = "O(1)",
        .acl_cats = "@read @hash @fast",
    },
    {
        .name = "hkeys",
        .proc = hash_hkeys_cmd,
        .arity = 2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Get all the fields in a hash",
        .complexity = "O(N) where N is the size of the hash.",
        .acl_cats = "@read @hash @slow",
    },
    {
        .name = "hvals",
        .proc = hash_hvals_cmd,
        .arity = 2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Get all the values in a hash",
        .complexity = "O(N) where N is the size of the hash.",
        .acl_cats = "@read @hash @slow",
    },
    {
        .name = "hgetall",
        .proc = hash_hgetall_cmd,
        .arity = 2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Get all the fields and values in a hash",
        .complexity = "O(N) where N is the size of the hash.",
        .acl_cats = "@read @hash @slow",
    },
    {
        .name = "hincrby",
        .proc = hash_hincrby_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.0.0",
        .summary = "Increment the integer value of a hash field by the given number",
        .complexity = "O(1)",
        .acl_cats = "@write @hash @fast",
    },
    {
        .name = "hincrbyfloat",
        .proc = hash_hincrbyfloat_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.6.0",
        .summary = "Increment the float value of a hash field by the given amount",
        .complexity = "O(1)",
        .acl_cats = "@write @hash @fast",
    },
    {
        .name = "hrandfield",
        .proc = hash_hrandfield_cmd,
        .arity = -2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "6.2.0",
        .summary = "Get one or multiple random fields from a hash",
        .complexity = "O(N) where N is the number of fields returned",
        .acl_cats = "@read @hash @slow",
    },
    {
        .name = "hscan",
        .proc = hash_hscan_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "hash",
        .since = "2.8.0",
        .summary = "Incrementally iterate hash fields and associated values",
        .complexity =
            "O(1) for every call. O(N) for a complete iteration, including enough command calls "
            "for the cursor to return back to 0. N is the number of elements inside the "
            "collection..",
        .acl_cats = "@read @hash @slow",
    },
    {0},
};
