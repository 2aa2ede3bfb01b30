/* Redis 7.0's DEBUG DIGEST, reproduced from its description in debug.c:
 *
 *  - xor(d, bytes): d ^= SHA1(bytes). Xor is commutative, so unordered
 *    collections (set members, hash pairs, the keys of a database) can be
 *    folded in any order.
 *  - mix(d, bytes): xor(d, bytes), then d = SHA1(d). Order matters, which
 *    is what lists and (key, type, content) sequences need.
 *
 * A value's digest starts from zeros, mixes the big-endian type number, then
 * its content: a string's bytes (integers as decimal text); list elements in
 * order; set members xored; for every hash pair and sorted-set member a
 * separate digest (zeros, mix field or member, mix value or score) xored in.
 * Scores are printed with "%.17g": a listpack score is first read back as
 * the double Redis's zzlGetScore returns (an integer entry converts, so a -0
 * stored there as 0 prints "0"), a skiplist score as stored (-0 prints "-0").
 * A key with a TTL xors in "!!expire!!" (the time itself is not included).
 * The dataset digest, per non-empty database, mixes the big-endian database
 * number into the result, then xors in each key's digest (zeros, mix the key
 * name, then the value digest rules above on the same digest). */
#include "debug_digest.h"

#include "db.h"
#include "dict.h"
#include "intset.h"
#include "kl_sha1.h"
#include "kl_util.h"
#include "listpack.h"
#include "object.h"
#include "quicklist.h"
#include "reply.h"
#include "types.h"
#include "zskiplist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void dg_xor(unsigned char *d, const void *p, size_t len) {
    unsigned char h[KL_SHA1_LEN];
    kl_sha1(p, len, h);
    for (int i = 0; i < KL_SHA1_LEN; i++)
        d[i] ^= h[i];
}

static void dg_mix(unsigned char *d, const void *p, size_t len) {
    dg_xor(d, p, len);
    kl_sha1(d, KL_SHA1_LEN, d);
}

/* A listpack entry's bytes (integers as decimal text in buf, >= 21 bytes). */
static const unsigned char *lp_text(const unsigned char *p, unsigned char *buf, size_t *len) {
    return lp_get_bytes(p, buf, len);
}

/* A listpack score as Redis's zzlGetScore reads it. */
static double lp_score(const unsigned char *p) {
    lp_entry_t e;
    lp_get(p, &e);
    if (!e.sval) return (double)e.lval;
    char buf[128];
    size_t n = e.slen < sizeof(buf) - 1 ? e.slen : sizeof(buf) - 1;
    memcpy(buf, e.sval, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

/* One (member, score) or (field, value) pair folded into d. */
static void dg_pair(unsigned char *d, const void *a, size_t alen, const void *b, size_t blen) {
    unsigned char ele[DEBUG_DIGEST_LEN];
    memset(ele, 0, sizeof(ele));
    dg_mix(ele, a, alen);
    dg_mix(ele, b, blen);
    dg_xor(d, ele, sizeof(ele));
}

static void dg_member_score(unsigned char *d, const void *m, size_t mlen, double score) {
    char sbuf[128];
    int n = snprintf(sbuf, sizeof(sbuf), "%.17g", score);
    dg_pair(d, m, mlen, sbuf, (size_t)n);
}

static void dg_list(unsigned char *d, quicklist_t *ql) {
    ql_iter_t it;
    ql_entry_t e;
    unsigned char buf[32];
    ql_iter_init(&it, ql, QL_FORWARD, 0);
    while (ql_iter_next(&it, &e)) {
        size_t len;
        const unsigned char *p = ql_entry_bytes(&e, buf, &len);
        dg_mix(d, p, len);
    }
    ql_iter_done(&it);
}

static void dg_set(unsigned char *d, const kobj_t *o) {
    if (o->enc == ENC_INTSET) {
        const intset_t *is = o->v.p;
        char buf[32];
        for (uint32_t i = 0, n = intset_len(is); i < n; i++) {
            int len = kl_ll_to_str(buf, sizeof(buf), (long long)intset_get(is, i));
            dg_xor(d, buf, (size_t)len);
        }
        return;
    }
    dict_iter_t it;
    dict_entry_t *e;
    dict_iter_init(&it, o->v.p, 1);
    while ((e = dict_iter_next(&it)) != NULL)
        dg_xor(d, dict_entry_key(e), dict_entry_klen(e));
    dict_iter_done(&it);
}

static void dg_zset(unsigned char *d, const kobj_t *o) {
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        unsigned char buf[32];
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
            size_t mlen;
            const unsigned char *m = lp_text(p, buf, &mlen);
            dg_member_score(d, m, mlen, lp_score(lp_next(lp, p)));
        }
        return;
    }
    const zsl_set_t *zs = o->v.p;
    for (zsl_node_t *n = zsl_first(&zs->zsl); n; n = zsl_next(n)) {
        size_t mlen;
        const char *m = zsl_node_member(n, &mlen);
        dg_member_score(d, m, mlen, n->score);
    }
}

static void dg_hash(unsigned char *d, const kobj_t *o) {
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        unsigned char fbuf[32], vbuf[32];
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
            size_t flen, vlen;
            const unsigned char *f = lp_text(p, fbuf, &flen);
            const unsigned char *v = lp_text(lp_next(lp, p), vbuf, &vlen);
            dg_pair(d, f, flen, v, vlen);
        }
        return;
    }
    dict_iter_t it;
    dict_entry_t *e;
    char vbuf[16];
    dict_iter_init(&it, o->v.p, 1);
    while ((e = dict_iter_next(&it)) != NULL) {
        size_t vlen;
        const char *v = hval_get(dict_entry_get_u64(e), vbuf, &vlen);
        dg_pair(d, dict_entry_key(e), dict_entry_klen(e), v, vlen);
    }
    dict_iter_done(&it);
}

/* Redis's xorObjectDigest: the type, the content and the TTL flag of the
 * value o stored at key, folded into d. */
static void dg_object(kdb_t *db, const char *key, size_t klen, const kobj_t *o, unsigned char *d) {
    uint32_t type_be = htonl((uint32_t)o->type);
    dg_mix(d, &type_be, sizeof(type_be));
    switch (o->type) {
    case OBJ_STRING: {
        char buf[32];
        size_t len;
        const char *p = obj_string_bytes(o, buf, &len);
        dg_mix(d, p, len);
        break;
    }
    case OBJ_LIST:
        dg_list(d, o->v.p);
        break;
    case OBJ_SET:
        dg_set(d, o);
        break;
    case OBJ_ZSET:
        dg_zset(d, o);
        break;
    case OBJ_HASH:
        dg_hash(d, o);
        break;
    default:
        break;
    }
    if (db_get_expire(db, key, klen) != -1) dg_xor(d, "!!expire!!", 10);
}

void debug_digest_dataset(unsigned char out[DEBUG_DIGEST_LEN]) {
    memset(out, 0, DEBUG_DIGEST_LEN);
    for (int id = 0; id < db_count(); id++) {
        kdb_t *db = db_get(id);
        if (db_size(db) == 0) continue;
        uint32_t id_be = htonl((uint32_t)id);
        dg_mix(out, &id_be, sizeof(id_be));
        dict_iter_t it;
        dict_entry_t *e;
        dict_iter_init(&it, db->keys, 1);
        while ((e = dict_iter_next(&it)) != NULL) {
            unsigned char d[DEBUG_DIGEST_LEN];
            memset(d, 0, sizeof(d));
            const char *key = dict_entry_key(e);
            size_t klen = dict_entry_klen(e);
            dg_mix(d, key, klen);
            dg_object(db, key, klen, dict_entry_val(e), d);
            dg_xor(out, d, sizeof(d));
        }
        dict_iter_done(&it);
    }
}

void debug_digest_value(kdb_t *db, const char *key, size_t klen,
                        unsigned char out[DEBUG_DIGEST_LEN]) {
    memset(out, 0, DEBUG_DIGEST_LEN);
    const kobj_t *o = db_peek(db, key, klen);
    if (o) dg_object(db, key, klen, o, out);
}

static void reply_digest_hex(client_t *c, const unsigned char d[DEBUG_DIGEST_LEN]) {
    char hex[2 * KL_SHA1_LEN + 1];
    kl_sha1_hex(d, hex);
    reply_simple(c, hex);
}

void debug_reply_digest(client_t *c) {
    unsigned char d[DEBUG_DIGEST_LEN];
    debug_digest_dataset(d);
    reply_digest_hex(c, d);
}

void debug_reply_digest_value(client_t *c) {
    reply_array(c, (long)c->argc - 2);
    for (uint32_t j = 2; j < c->argc; j++) {
        unsigned char d[DEBUG_DIGEST_LEN];
        debug_digest_value(c->db, c->argv[j].ptr, c->argv[j].len, d);
        reply_digest_hex(c, d);
    }
}
