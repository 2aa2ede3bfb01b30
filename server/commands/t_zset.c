/* The sorted-set type and its commands (ZADD ... ZSCAN, BZPOPMIN/BZPOPMAX/
 * BZMPOP) with Redis 7.0's replies, errors, encodings and keyspace events.
 *
 * Encodings, as in Redis 7.0:
 *   - ENC_LISTPACK: member,score,member,score,... in one listpack, sorted by
 *     (score, member). Scores are stored as Redis 7.0 stores them (integral
 *     values up to 2^62 as integers, so -0 becomes 0; the rest as %.17g text),
 *     so they read back exactly and ZSCAN shows the same bytes Redis shows.
 *   - ENC_SKIPLIST: zskiplist.h (skiplist + member dict).
 * A sorted set starts as a listpack unless zset-max-listpack-entries is 0 or
 * its first member is longer than zset-max-listpack-value, and converts to a
 * skiplist when an insert would exceed either limit. It never converts back,
 * except that the results built by ZRANGESTORE and Z*STORE are listpacks when
 * they fit, as in 7.0.
 *
 * Scores are doubles; replies go through reply_double (RESP2 %.17g bulk
 * strings, RESP3 doubles), so a skiplist keeps and shows "-0" while a listpack
 * has already turned it into "0", exactly like Redis.
 *
 * Thread: executor (every function here). */
#include "blocking.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dict.h"
#include "intset.h"
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
#include "zskiplist.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ZADD's input flags and zset_add's outcome flags (Redis's ZADD_IN_* and
 * ZADD_OUT_*). */
enum {
    ZIN_INCR = 1 << 0,
    ZIN_NX = 1 << 1,
    ZIN_XX = 1 << 2,
    ZIN_GT = 1 << 3,
    ZIN_LT = 1 << 4,
};
enum {
    ZOUT_NOP = 1 << 0,
    ZOUT_ADDED = 1 << 1,
    ZOUT_UPDATED = 1 << 2,
};

enum { ZMIN = 0, ZMAX = 1 };

static const char *const ERR_NAN = "ERR resulting score is not a number (NaN)";
static const char *const ERR_MINMAX_FLOAT = "ERR min or max is not a float";
static const char *const ERR_MINMAX_LEX = "ERR min or max not valid string range item";

/* ---------------------------------------------------------------- listpack helpers */

/* Room for a listpack member rendered from an integer entry. */
#define ZLP_BUF 32

static double zlp_score(const unsigned char *sp) {
    lp_entry_t e;
    lp_get(sp, &e);
    if (!e.sval) return (double)e.lval;
    char buf[128];
    size_t n = e.slen < sizeof(buf) - 1 ? e.slen : sizeof(buf) - 1;
    memcpy(buf, e.sval, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

static inline const char *zlp_member(const unsigned char *p, unsigned char *buf, size_t *len) {
    return (const char *)lp_get_bytes(p, buf, len);
}

static int zlp_cmp(const unsigned char *p, const char *m, size_t len) {
    unsigned char buf[ZLP_BUF];
    size_t plen;
    const char *pm = zlp_member(p, buf, &plen);
    return zsl_member_cmp(pm, plen, m, len);
}

static inline unsigned long zlp_len(unsigned char *lp) {
    return lp_length(lp) / 2;
}

/* The member's entry (score right after it), or NULL. */
static unsigned char *zlp_find(unsigned char *lp, const char *m, size_t len, double *score) {
    unsigned char *p = lp_first(lp);
    if (!p) return NULL;
    p = lp_find(lp, p, (const unsigned char *)m, len, 1);
    if (p && score) *score = zlp_score(lp_next(lp, p));
    return p;
}

/* Insert (m, score) at its place; m must not be in the listpack. */
static unsigned char *zlp_insert(unsigned char *lp, const char *m, size_t len, double score) {
    char sbuf[KL_DSTR_SIZE];
    int slen = kv_zset_score_str(sbuf, sizeof(sbuf), score);
    unsigned char *p = lp_first(lp);
    while (p) {
        unsigned char *sp = lp_next(lp, p);
        double s = zlp_score(sp);
        if (s > score || (s == score && zlp_cmp(p, m, len) > 0)) {
            unsigned char *np;
            lp = lp_insert(lp, (const unsigned char *)m, len, p, LP_BEFORE, &np);
            return lp_insert(lp, (const unsigned char *)sbuf, (size_t)slen, np, LP_AFTER, NULL);
        }
        p = lp_next(lp, sp);
    }
    lp = lp_append(lp, (const unsigned char *)m, len);
    return lp_append(lp, (const unsigned char *)sbuf, (size_t)slen);
}

/* Delete the pair whose member is at *p; *p becomes the next member. */
static unsigned char *zlp_delete(unsigned char *lp, unsigned char **p) {
    return lp_delete_range_at(lp, p, 2);
}

static bool zlp_in_range(unsigned char *lp, const zsl_range_t *r) {
    if (zsl_range_empty(r)) return false;
    unsigned char *p = lp_last(lp);
    if (!p || !zsl_value_gte_min(zlp_score(p), r)) return false;
    p = lp_seek(lp, 1);
    return zsl_value_lte_max(zlp_score(p), r);
}

/* Redis's zzlFirstInRange: the first pair whose score is >= min, if it is
 * also <= max. */
static unsigned char *zlp_first_in_range(unsigned char *lp, const zsl_range_t *r) {
    if (!zlp_in_range(lp, r)) return NULL;
    for (unsigned char *p = lp_first(lp); p;) {
        unsigned char *sp = lp_next(lp, p);
        double s = zlp_score(sp);
        if (zsl_value_gte_min(s, r)) return zsl_value_lte_max(s, r) ? p : NULL;
        p = lp_next(lp, sp);
    }
    return NULL;
}

static unsigned char *zlp_last_in_range(unsigned char *lp, const zsl_range_t *r) {
    if (!zlp_in_range(lp, r)) return NULL;
    for (unsigned char *sp = lp_last(lp); sp;) {
        unsigned char *p = lp_prev(lp, sp);
        double s = zlp_score(sp);
        if (zsl_value_lte_max(s, r)) return zsl_value_gte_min(s, r) ? p : NULL;
        sp = lp_prev(lp, p);
    }
    return NULL;
}

static bool zlp_lex_gte(const unsigned char *p, const zsl_lex_t *r) {
    unsigned char buf[ZLP_BUF];
    size_t len;
    const char *m = zlp_member(p, buf, &len);
    return zsl_lex_gte_min(m, len, r);
}

static bool zlp_lex_lte(const unsigned char *p, const zsl_lex_t *r) {
    unsigned char buf[ZLP_BUF];
    size_t len;
    const char *m = zlp_member(p, buf, &len);
    return zsl_lex_lte_max(m, len, r);
}

static bool zlp_in_lex(unsigned char *lp, const zsl_lex_t *r) {
    if (zsl_lex_empty(r)) return false;
    unsigned char *p = lp_seek(lp, -2);
    if (!p || !zlp_lex_gte(p, r)) return false;
    return zlp_lex_lte(lp_first(lp), r);
}

static unsigned char *zlp_first_in_lex(unsigned char *lp, const zsl_lex_t *r) {
    if (!zlp_in_lex(lp, r)) return NULL;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p)))
        if (zlp_lex_gte(p, r)) return zlp_lex_lte(p, r) ? p : NULL;
    return NULL;
}

static unsigned char *zlp_last_in_lex(unsigned char *lp, const zsl_lex_t *r) {
    if (!zlp_in_lex(lp, r)) return NULL;
    for (unsigned char *p = lp_seek(lp, -2); p;) {
        if (zlp_lex_lte(p, r)) return zlp_lex_gte(p, r) ? p : NULL;
        unsigned char *sp = lp_prev(lp, p);
        p = sp ? lp_prev(lp, sp) : NULL;
    }
    return NULL;
}

/* Previous pair's member (NULL at the head). */
static inline unsigned char *zlp_prev_pair(unsigned char *lp, unsigned char *p) {
    unsigned char *sp = lp_prev(lp, p);
    return sp ? lp_prev(lp, sp) : NULL;
}

static inline unsigned char *zlp_next_pair(unsigned char *lp, unsigned char *p) {
    return lp_next(lp, lp_next(lp, p));
}

static kobj_t *zset_new_listpack(void) {
    return obj_new(OBJ_ZSET, ENC_LISTPACK, lp_new(0));
}

static kobj_t *zset_new_skiplist(void) {
    return obj_new(OBJ_ZSET, ENC_SKIPLIST, zsl_set_new());
}

static unsigned long zset_length(const kobj_t *o) {
    if (o->enc == ENC_LISTPACK) return zlp_len(o->v.p);
    return zsl_set_len(o->v.p);
}

static void zset_to_skiplist(kobj_t *o) {
    if (o->enc == ENC_SKIPLIST) return;
    unsigned char *lp = o->v.p;
    zsl_set_t *zs = zsl_set_new();
    unsigned char buf[ZLP_BUF];
    for (unsigned char *p = lp_first(lp); p;) {
        unsigned char *sp = lp_next(lp, p);
        size_t len;
        const char *m = zlp_member(p, buf, &len);
        zsl_set_insert(zs, m, len, zlp_score(sp));
        p = lp_next(lp, sp);
    }
    lp_free(lp);
    o->enc = ENC_SKIPLIST;
    o->v.p = zs;
}

/* A new sorted set sized for its first member (Redis 7.0's ZADD). */
static kobj_t *zset_create_for(size_t first_len) {
    if (g_cfg.zset_max_listpack_entries == 0 || (size_t)g_cfg.zset_max_listpack_value < first_len)
        return zset_new_skiplist();
    return zset_new_listpack();
}

static bool zset_score(kobj_t *o, const char *m, size_t len, double *score) {
    if (o->enc == ENC_LISTPACK) return zlp_find(o->v.p, m, len, score) != NULL;
    zsl_node_t *n = zsl_set_find(o->v.p, m, len);
    if (!n) return false;
    *score = n->score;
    return true;
}

/* Redis's zsetAdd: add or update one member under the ZIN_* flags. Returns
 * false when INCR produced NaN (nothing changed), true otherwise with
 * *out the ZOUT_* flags and *newscore the member's score (when it exists). */
static bool zset_add(kobj_t *o, double score, const char *m, size_t len, int in, int *out,
                     double *newscore) {
    bool incr = in & ZIN_INCR, nx = in & ZIN_NX, xx = in & ZIN_XX;
    bool gt = in & ZIN_GT, lt = in & ZIN_LT;
    *out = 0;
    if (o->enc == ENC_LISTPACK) {
        double cur;
        unsigned char *lp = o->v.p;
        unsigned char *p = zlp_find(lp, m, len, &cur);
        if (p) {
            if (nx) {
                *out |= ZOUT_NOP;
                return true;
            }
            if (incr) {
                score += cur;
                if (isnan(score)) return false;
            }
            if (newscore) *newscore = score;
            if ((lt && score >= cur) || (gt && score <= cur)) {
                *out |= ZOUT_NOP;
                return true;
            }
            if (score != cur) {
                lp = zlp_delete(lp, &p);
                o->v.p = zlp_insert(lp, m, len, score);
                *out |= ZOUT_UPDATED;
            }
            return true;
        }
        if (xx) {
            *out |= ZOUT_NOP;
            return true;
        }
        if (zlp_len(lp) + 1 > (unsigned long)g_cfg.zset_max_listpack_entries ||
            len > (size_t)g_cfg.zset_max_listpack_value || !lp_safe_to_add(lp, len)) {
            zset_to_skiplist(o);
        } else {
            o->v.p = zlp_insert(lp, m, len, score);
            if (newscore) *newscore = score;
            *out |= ZOUT_ADDED;
            return true;
        }
    }
    zsl_set_t *zs = o->v.p;
    zsl_node_t *n;
    if (xx) {
        n = zsl_set_find(zs, m, len);
        if (!n) {
            *out |= ZOUT_NOP;
            return true;
        }
    } else {
        bool added;
        n = zsl_set_find_or_insert(zs, m, len, score, &added);
        if (added) {
            if (newscore) *newscore = score;
            *out |= ZOUT_ADDED;
            return true;
        }
    }
    /* The member exists. */
    if (nx) {
        *out |= ZOUT_NOP;
        return true;
    }
    double cur = n->score;
    if (incr) {
        score += cur;
        if (isnan(score)) return false;
    }
    if (newscore) *newscore = score;
    if ((lt && score >= cur) || (gt && score <= cur)) {
        *out |= ZOUT_NOP;
        return true;
    }
    if (score != cur) {
        zsl_set_update(zs, n, score);
        *out |= ZOUT_UPDATED;
    }
    return true;
}

/* Remove a member; true if it was there. */
static bool zset_del(kobj_t *o, const char *m, size_t len) {
    if (o->enc == ENC_LISTPACK) {
        unsigned char *p = zlp_find(o->v.p, m, len, NULL);
        if (!p) return false;
        o->v.p = zlp_delete(o->v.p, &p);
        return true;
    }
    return zsl_set_delete(o->v.p, m, len);
}

/* After removals from a skiplist: let the member dict shrink (Redis's
 * htNeedsResize/dictResize). */
static void zset_after_removals(kobj_t *o) {
    if (o->enc == ENC_SKIPLIST) dict_try_shrink(((zsl_set_t *)o->v.p)->dict);
}

/* 0-based rank (reversed when rev), or -1 if the member is absent. */
static long zset_rank(kobj_t *o, const char *m, size_t len, bool rev) {
    unsigned long n = zset_length(o);
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        unsigned long rank = 0;
        for (unsigned char *p = lp_first(lp); p; p = zlp_next_pair(lp, p), rank++)
            if (lp_eq(p, (const unsigned char *)m, len)) return (long)(rev ? n - rank - 1 : rank);
        return -1;
    }
    zsl_set_t *zs = o->v.p;
    zsl_node_t *node = zsl_set_find(zs, m, len);
    if (!node) return -1;
    unsigned long r = zsl_rank(&zs->zsl, node->score, m, len);
    return (long)(rev ? n - r : r - 1);
}

/* ---------------------------------------------------------------- small helpers */

static void reply_member(client_t *c, const char *m, size_t len) {
    reply_bulk(c, m, len);
}

/* A member and, with scores, its score: RESP3 nests each pair. */
static void reply_pair(client_t *c, const char *m, size_t len, double score, bool withscores) {
    if (withscores && c->resp >= 3) reply_array(c, 2);
    reply_member(c, m, len);
    if (withscores) reply_double(c, score);
}

static kobj_t *lookup_zset_read(client_t *c, const resp_arg_t *key, bool *wrongtype) {
    return cmd_lookup_typed(c, key, OBJ_ZSET, false, wrongtype);
}

static kobj_t *lookup_zset_write(client_t *c, const resp_arg_t *key, bool *wrongtype) {
    return cmd_lookup_typed(c, key, OBJ_ZSET, true, wrongtype);
}

static void notify_zset(client_t *c, const char *event, const resp_arg_t *key) {
    notify_keyspace_event(KL_NOTIFY_ZSET, event, key->ptr, key->len, c->db->id);
}

static void notify_del(client_t *c, const resp_arg_t *key) {
    notify_keyspace_event(KL_NOTIFY_GENERIC, "del", key->ptr, key->len, c->db->id);
}

/* Redis's getLongFromObjectOrReply. */
static int arg_long(client_t *c, const resp_arg_t *a, long *out) {
    long long v;
    if (arg_ll(c, a, &v) != 0) return -1;
    *out = (long)v;
    return 0;
}

/* Redis's getPositiveLongFromObjectOrReply with Redis's default message. */
static int arg_positive_long(client_t *c, const resp_arg_t *a, long *out, const char *msg) {
    long long v;
    if (arg_ll_range(c, a, 0, LONG_MAX, &v,
                     msg ? msg : "ERR value is out of range, must be positive") != 0)
        return -1;
    *out = (long)v;
    return 0;
}

/* ---------------------------------------------------------------- ZADD / ZINCRBY */

static void zadd_generic(client_t *c, int flags) {
    const resp_arg_t *key = &c->argv[1];
    bool ch = false;
    uint32_t scoreidx = 2;
    for (; scoreidx < c->argc; scoreidx++) {
        const resp_arg_t *a = &c->argv[scoreidx];
        if (arg_is(a, "nx"))
            flags |= ZIN_NX;
        else if (arg_is(a, "xx"))
            flags |= ZIN_XX;
        else if (arg_is(a, "ch"))
            ch = true;
        else if (arg_is(a, "incr"))
            flags |= ZIN_INCR;
        else if (arg_is(a, "gt"))
            flags |= ZIN_GT;
        else if (arg_is(a, "lt"))
            flags |= ZIN_LT;
        else
            break;
    }
    bool incr = flags & ZIN_INCR, nx = flags & ZIN_NX, xx = flags & ZIN_XX;
    bool gt = flags & ZIN_GT, lt = flags & ZIN_LT;
    uint32_t elements = c->argc - scoreidx;
    if (elements % 2 || elements == 0) {
        reply_syntax_error(c);
        return;
    }
    elements /= 2;
    if (nx && xx) {
        reply_error(c, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        reply_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        reply_error(c, "ERR INCR option supports a single increment-element pair");
        return;
    }

    double one_score;
    double *scores = elements == 1 ? &one_score : kl_malloc(elements * sizeof(double));
    for (uint32_t j = 0; j < elements; j++) {
        if (arg_double(c, &c->argv[scoreidx + j * 2], &scores[j]) != 0) goto cleanup;
    }

    bool wrongtype;
    kobj_t *o = lookup_zset_write(c, key, &wrongtype);
    if (wrongtype) goto cleanup;
    long added = 0, updated = 0, processed = 0;
    double score = 0;
    if (!o) {
        if (xx) goto reply;
        o = zset_create_for(c->argv[scoreidx + 1].len);
        db_add(c->db, key->ptr, key->len, o);
    }
    for (uint32_t j = 0; j < elements; j++) {
        const resp_arg_t *m = &c->argv[scoreidx + j * 2 + 1];
        int out;
        double newscore;
        score = scores[j];
        if (!zset_add(o, score, m->ptr, m->len, flags, &out, &newscore)) {
            reply_error(c, ERR_NAN);
            goto done;
        }
        if (out & ZOUT_ADDED) added++;
        if (out & ZOUT_UPDATED) updated++;
        if (!(out & ZOUT_NOP)) processed++;
        score = newscore;
    }
reply:
    if (incr) {
        if (processed)
            reply_double(c, score);
        else
            reply_null(c);
    } else {
        reply_int(c, ch ? added + updated : added);
    }
done:
    if (added || updated) {
        db_key_modified(c->db, key->ptr, key->len);
        notify_zset(c, incr ? "zincr" : "zadd", key);
        prop_changes((uint64_t)(added + updated));
    }
cleanup:
    if (scores != &one_score) kl_free(scores);
}

static void zset_zadd_cmd(client_t *c) {
    zadd_generic(c, 0);
}

static void zset_zincrby_cmd(client_t *c) {
    zadd_generic(c, ZIN_INCR);
}

/* ---------------------------------------------------------------- ZREM, ZCARD, ZSCORE, ZRANK */

static void zset_zrem_cmd(client_t *c) {
    const resp_arg_t *key = &c->argv[1];
    bool wrongtype;
    kobj_t *o = lookup_zset_write(c, key, &wrongtype);
    if (wrongtype) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long deleted = 0;
    bool keyremoved = false;
    for (uint32_t j = 2; j < c->argc; j++) {
        if (zset_del(o, c->argv[j].ptr, c->argv[j].len)) deleted++;
        if (zset_length(o) == 0) {
            db_delete(c->db, key->ptr, key->len);
            keyremoved = true;
            break;
        }
    }
    if (deleted) {
        if (!keyremoved) zset_after_removals(o);
        notify_zset(c, "zrem", key);
        if (keyremoved) notify_del(c, key);
        db_key_modified(c->db, key->ptr, key->len);
        prop_changes((uint64_t)deleted);
    }
    reply_int(c, deleted);
}

static void zset_zcard_cmd(client_t *c) {
    bool wrongtype;
    kobj_t *o = lookup_zset_read(c, &c->argv[1], &wrongtype);
    if (wrongtype) return;
    reply_int(c, o ? (long long)zset_length(o) : 0);
}

static void zset_zscore_cmd(client_t *c) {
    bool wrongtype;
    kobj_t *o = lookup_zset_read(c, &c->argv[1], &wrongtype);
    if (wrongtype) return;
    double score;
    if (!o || !zset_score(o, c->argv[2].ptr, c->argv[2].len, &score))
        reply_null(c);
    else
        reply_double(c, score);
}

static void zset_zmscore_cmd(client_t *c) {
    bool wrongtype;
    kobj_t *o = lookup_zset_read(c, &c->argv[1], &wrongtype);
    if (wrongtype) return;
    reply_array(c, (long)c->argc - 2);
    for (uint32_t j = 2; j < c->argc; j++) {
        double score;
        if (!o || !zset_score(o, c->argv[j].ptr, c->argv[j].len, &score))
            reply_null(c);
        else
            reply_double(c, score);
    }
}

static void zrank_generic(client_t *c, bool rev) {
    bool wrongtype;
    kobj_t *o = lookup_zset_read(c, &c->argv[1], &wrongtype);
    if (wrongtype) return;
    long r = o ? zset_rank(o, c->argv[2].ptr, c->argv[2].len, rev) : -1;
    if (r < 0)
        reply_null(c);
    else
        reply_int(c, r);
}

static void zset_zrank_cmd(client_t *c) {
    zrank_generic(c, false);
}

static void zset_zrevrank_cmd(client_t *c) {
    zrank_generic(c, true);
}

/* ---------------------------------------------------------------- ZCOUNT, ZLEXCOUNT */

static void zset_zcount_cmd(client_t *c) {
    zsl_range_t r;
    if (zsl_parse_range(c->argv[2].ptr, c->argv[3].ptr, &r) != 0) {
        reply_error(c, ERR_MINMAX_FLOAT);
        return;
    }
    bool wrongtype;
    kobj_t *o = lookup_zset_read(c, &c->argv[1], &wrongtype);
    if (wrongtype) return;
    unsigned long count = 0;
    if (o && o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        for (unsigned char *p = zlp_first_in_range(lp, &r); p; p = zlp_next_pair(lp, p)) {
            if (!zsl_value_lte_max(zlp_score(lp_next(lp, p)), &r)) break;
            count++;
        }
    } else if (o) {
        zsl_t *zsl = &((zsl_set_t *)o->v.p)->zsl;
        zsl_node_t *f = zsl_first_in_range(zsl, &r);
        if (f) {
            size_t len;
            const char *m = zsl_node_member(f, &len);
            unsigned long rf = zsl_rank(zsl, f->score, m, len);
            zsl_node_t *l = zsl_last_in_range(zsl, &r);
            m = zsl_node_member(l, &len);
            count = zsl_rank(zsl, l->score, m, len) - rf + 1;
        }
    }
    reply_int(c, (long long)count);
}

static void zset_zlexcount_cmd(client_t *c) {
    zsl_lex_t r;
    if (zsl_parse_lex(c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len, &r) != 0) {
        reply_error(c, ERR_MINMAX_LEX);
        return;
    }
    bool wrongtype;
    kobj_t *o = lookup_zset_read(c, &c->argv[1], &wrongtype);
    if (wrongtype) return;
    unsigned long count = 0;
    if (o && o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        for (unsigned char *p = zlp_first_in_lex(lp, &r); p; p = zlp_next_pair(lp, p)) {
            if (!zlp_lex_lte(p, &r)) break;
            count++;
        }
    } else if (o) {
        zsl_t *zsl = &((zsl_set_t *)o->v.p)->zsl;
        zsl_node_t *f = zsl_first_in_lex(zsl, &r);
        if (f) {
            size_t len;
            const char *m = zsl_node_member(f, &len);
            unsigned long rf = zsl_rank(zsl, f->score, m, len);
            count = zsl->length - (rf - 1);
            zsl_node_t *l = zsl_last_in_lex(zsl, &r);
            if (l) {
                m = zsl_node_member(l, &len);
                count -= zsl->length - zsl_rank(zsl, l->score, m, len);
            }
        }
    }
    reply_int(c, (long long)count);
}

/* ---------------------------------------------------------------- range output */

/* Where a range goes: the client (with or without scores) or a new sorted
 * set for ZRANGESTORE (Redis's zrange_result_handler). */
typedef struct zout {
    client_t *c;
    bool store, withscores;
    kobj_t *dst;
    reply_deferred_t d;
    bool deferred;
    long count;
} zout_t;

static void zout_begin(zout_t *h, long length) {
    h->count = 0;
    if (h->store) {
        h->dst =
            length > g_cfg.zset_max_listpack_entries ? zset_new_skiplist() : zset_new_listpack();
        return;
    }
    bool flat_scores = h->withscores && h->c->resp < 3;
    if (length >= 0) {
        reply_array(h->c, flat_scores ? length * 2 : length);
    } else {
        h->d = reply_defer(h->c);
        h->deferred = true;
    }
}

static void zout_emit(zout_t *h, const char *m, size_t len, double score) {
    h->count++;
    if (h->store) {
        int out;
        zset_add(h->dst, score, m, len, 0, &out, NULL);
        return;
    }
    reply_pair(h->c, m, len, score, h->withscores);
}

static void zout_emit_lp(zout_t *h, unsigned char *lp, unsigned char *p) {
    unsigned char buf[ZLP_BUF];
    size_t len;
    const char *m = zlp_member(p, buf, &len);
    double score = (h->withscores || h->store) ? zlp_score(lp_next(lp, p)) : 0;
    zout_emit(h, m, len, score);
}

static void zout_emit_node(zout_t *h, const zsl_node_t *n) {
    size_t len;
    const char *m = zsl_node_member(n, &len);
    zout_emit(h, m, len, n->score);
}

/* Finish: set the deferred length, or store the result at dstkey. */
static void zout_end(zout_t *h, const resp_arg_t *dstkey) {
    client_t *c = h->c;
    if (!h->store) {
        if (h->deferred)
            reply_set_array_len(c, h->d, h->withscores && c->resp < 3 ? h->count * 2 : h->count);
        return;
    }
    if (h->count) {
        db_set(c->db, dstkey->ptr, dstkey->len, h->dst, false);
        reply_int(c, h->count);
        notify_zset(c, "zrangestore", dstkey);
        prop_changes(1);
    } else {
        obj_free(h->dst);
        reply_int(c, 0);
        if (db_delete(c->db, dstkey->ptr, dstkey->len)) {
            notify_del(c, dstkey);
            prop_changes(1);
        }
    }
    h->dst = NULL;
}

static void range_by_rank(zout_t *h, kobj_t *o, long start, long end, bool rev) {
    long llen = (long)zset_length(o);
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        zout_begin(h, 0);
        return;
    }
    if (end >= llen) end = llen - 1;
    long rangelen = end - start + 1;
    zout_begin(h, rangelen);
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        unsigned char *p = rev ? lp_seek(lp, -2 - 2 * start) : lp_seek(lp, 2 * start);
        while (rangelen-- && p) {
            zout_emit_lp(h, lp, p);
            p = rev ? zlp_prev_pair(lp, p) : zlp_next_pair(lp, p);
        }
        return;
    }
    zsl_t *zsl = &((zsl_set_t *)o->v.p)->zsl;
    zsl_node_t *n = rev ? zsl_by_rank(zsl, (unsigned long)(llen - start))
                        : zsl_by_rank(zsl, (unsigned long)start + 1);
    while (rangelen-- && n) {
        zout_emit_node(h, n);
        n = rev ? zsl_prev(n) : zsl_next(n);
    }
}

/* Skip offset nodes from n in O(log n) through ranks (the result is the node
 * a linear walk would reach; NULL past either end). */
static zsl_node_t *zsl_skip(zsl_t *zsl, zsl_node_t *n, long offset, bool rev) {
    if (!n || offset <= 0) return n;
    size_t len;
    const char *m = zsl_node_member(n, &len);
    unsigned long r = zsl_rank(zsl, n->score, m, len);
    if (rev) return (unsigned long)offset >= r ? NULL : zsl_by_rank(zsl, r - (unsigned long)offset);
    if ((unsigned long)offset > zsl->length - r) return NULL;
    return zsl_by_rank(zsl, r + (unsigned long)offset);
}

static void range_by_score(zout_t *h, kobj_t *o, const zsl_range_t *r, long offset, long limit,
                           bool rev) {
    /* A negative offset makes Redis walk off the end: nothing is returned. */
    if (offset < 0 || (offset > 0 && (unsigned long)offset >= zset_length(o))) {
        zout_begin(h, 0);
        return;
    }
    zout_begin(h, -1);
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        unsigned char *p = rev ? zlp_last_in_range(lp, r) : zlp_first_in_range(lp, r);
        while (p && offset--)
            p = rev ? zlp_prev_pair(lp, p) : zlp_next_pair(lp, p);
        while (p && limit--) {
            double s = zlp_score(lp_next(lp, p));
            if (rev ? !zsl_value_gte_min(s, r) : !zsl_value_lte_max(s, r)) break;
            unsigned char buf[ZLP_BUF];
            size_t len;
            const char *m = zlp_member(p, buf, &len);
            zout_emit(h, m, len, s);
            p = rev ? zlp_prev_pair(lp, p) : zlp_next_pair(lp, p);
        }
        return;
    }
    zsl_t *zsl = &((zsl_set_t *)o->v.p)->zsl;
    zsl_node_t *n = rev ? zsl_last_in_range(zsl, r) : zsl_first_in_range(zsl, r);
    n = zsl_skip(zsl, n, offset, rev);
    while (n && limit--) {
        if (rev ? !zsl_value_gte_min(n->score, r) : !zsl_value_lte_max(n->score, r)) break;
        zout_emit_node(h, n);
        n = rev ? zsl_prev(n) : zsl_next(n);
    }
}

static void range_by_lex(zout_t *h, kobj_t *o, const zsl_lex_t *r, long offset, long limit,
                         bool rev) {
    if (offset < 0 || (offset > 0 && (unsigned long)offset >= zset_length(o))) {
        zout_begin(h, 0);
        return;
    }
    zout_begin(h, -1);
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        unsigned char *p = rev ? zlp_last_in_lex(lp, r) : zlp_first_in_lex(lp, r);
        while (p && offset--)
            p = rev ? zlp_prev_pair(lp, p) : zlp_next_pair(lp, p);
        while (p && limit--) {
            if (rev ? !zlp_lex_gte(p, r) : !zlp_lex_lte(p, r)) break;
            zout_emit_lp(h, lp, p);
            p = rev ? zlp_prev_pair(lp, p) : zlp_next_pair(lp, p);
        }
        return;
    }
    zsl_t *zsl = &((zsl_set_t *)o->v.p)->zsl;
    zsl_node_t *n = rev ? zsl_last_in_lex(zsl, r) : zsl_first_in_lex(zsl, r);
    n = zsl_skip(zsl, n, offset, rev);
    while (n && limit--) {
        size_t len;
        const char *m = zsl_node_member(n, &len);
        if (rev ? !zsl_lex_gte_min(m, len, r) : !zsl_lex_lte_max(m, len, r)) break;
        zout_emit_node(h, n);
        n = rev ? zsl_prev(n) : zsl_next(n);
    }
}

/* ---------------------------------------------------------------- ZRANGE family */

enum { ZR_AUTO = 0, ZR_RANK, ZR_SCORE, ZR_LEX };
enum { ZD_AUTO = 0, ZD_FORWARD, ZD_REVERSE };

/* Redis's zrangeGenericCommand: key at argv[first], then min, max and the
 * options. With store, dstkey is the destination (ZRANGESTORE). */
static void zrange_generic(client_t *c, uint32_t first, const resp_arg_t *dstkey, int type,
                           int dir) {
    const resp_arg_t *key = &c->argv[first];
    uint32_t minidx = first + 1, maxidx = first + 2;
    bool store = dstkey != NULL, withscores = false;
    long offset = 0, limit = -1, start = 0, end = 0;
    for (uint32_t j = first + 3; j < c->argc; j++) {
        uint32_t left = c->argc - j - 1;
        const resp_arg_t *a = &c->argv[j];
        if (!store && arg_is(a, "withscores")) {
            withscores = true;
        } else if (arg_is(a, "limit") && left >= 2) {
            if (arg_long(c, &c->argv[j + 1], &offset) != 0 ||
                arg_long(c, &c->argv[j + 2], &limit) != 0)
                return;
            j += 2;
        } else if (dir == ZD_AUTO && arg_is(a, "rev")) {
            dir = ZD_REVERSE;
        } else if (type == ZR_AUTO && arg_is(a, "bylex")) {
            type = ZR_LEX;
        } else if (type == ZR_AUTO && arg_is(a, "byscore")) {
            type = ZR_SCORE;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (dir == ZD_AUTO) dir = ZD_FORWARD;
    if (type == ZR_AUTO) type = ZR_RANK;
    if (limit != -1 && type == ZR_RANK) {
        reply_error(c, "ERR syntax error, LIMIT is only supported in combination with either "
                       "BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == ZR_LEX) {
        reply_error(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    /* Every negative LIMIT count means "no limit"; the walks count it down
     * with limit--, which must not start at LONG_MIN. */
    if (limit < 0) limit = -1;
    bool rev = dir == ZD_REVERSE;
    if (rev && type != ZR_RANK) {
        uint32_t t = minidx;
        minidx = maxidx;
        maxidx = t;
    }
    zsl_range_t range;
    zsl_lex_t lex;
    if (type == ZR_RANK) {
        if (arg_long(c, &c->argv[minidx], &start) != 0 || arg_long(c, &c->argv[maxidx], &end) != 0)
            return;
    } else if (type == ZR_SCORE) {
        if (zsl_parse_range(c->argv[minidx].ptr, c->argv[maxidx].ptr, &range) != 0) {
            reply_error(c, ERR_MINMAX_FLOAT);
            return;
        }
    } else {
        if (zsl_parse_lex(c->argv[minidx].ptr, c->argv[minidx].len, c->argv[maxidx].ptr,
                          c->argv[maxidx].len, &lex) != 0) {
            reply_error(c, ERR_MINMAX_LEX);
            return;
        }
    }

    zout_t h = {.c = c, .store = store, .withscores = withscores || store};
    kobj_t *o = db_lookup_read(c->db, key->ptr, key->len);
    if (!o) {
        if (store) {
            zout_begin(&h, -1);
            zout_end(&h, dstkey);
        } else {
            reply_array(c, 0);
        }
        return;
    }
    if (o->type != OBJ_ZSET) {
        reply_wrongtype(c);
        return;
    }
    if (type == ZR_RANK)
        range_by_rank(&h, o, start, end, rev);
    else if (type == ZR_SCORE)
        range_by_score(&h, o, &range, offset, limit, rev);
    else
        range_by_lex(&h, o, &lex, offset, limit, rev);
    zout_end(&h, dstkey);
}

static void zset_zrange_cmd(client_t *c) {
    zrange_generic(c, 1, NULL, ZR_AUTO, ZD_AUTO);
}

static void zset_zrangestore_cmd(client_t *c) {
    zrange_generic(c, 2, &c->argv[1], ZR_AUTO, ZD_AUTO);
}

static void zset_zrevrange_cmd(client_t *c) {
    zrange_generic(c, 1, NULL, ZR_RANK, ZD_REVERSE);
}

static void zset_zrangebyscore_cmd(client_t *c) {
    zrange_generic(c, 1, NULL, ZR_SCORE, ZD_FORWARD);
}

static void zset_zrevrangebyscore_cmd(client_t *c) {
    zrange_generic(c, 1, NULL, ZR_SCORE, ZD_REVERSE);
}

static void zset_zrangebylex_cmd(client_t *c) {
    zrange_generic(c, 1, NULL, ZR_LEX, ZD_FORWARD);
}

static void zset_zrevrangebylex_cmd(client_t *c) {
    zrange_generic(c, 1, NULL, ZR_LEX, ZD_REVERSE);
}

/* ---------------------------------------------------------------- ZREMRANGEBY* */

enum { ZRM_RANK, ZRM_SCORE, ZRM_LEX };

static void zremrange_generic(client_t *c, int type) {
    const resp_arg_t *key = &c->argv[1];
    long start = 0, end = 0;
    zsl_range_t range;
    zsl_lex_t lex;
    if (type == ZRM_RANK) {
        if (arg_long(c, &c->argv[2], &start) != 0 || arg_long(c, &c->argv[3], &end) != 0) return;
    } else if (type == ZRM_SCORE) {
        if (zsl_parse_range(c->argv[2].ptr, c->argv[3].ptr, &range) != 0) {
            reply_error(c, ERR_MINMAX_FLOAT);
            return;
        }
    } else {
        if (zsl_parse_lex(c->argv[2].ptr, c->argv[2].len, c->argv[3].ptr, c->argv[3].len, &lex) !=
            0) {
            reply_error(c, ERR_MINMAX_LEX);
            return;
        }
    }
    bool wrongtype;
    kobj_t *o = lookup_zset_write(c, key, &wrongtype);
    if (wrongtype) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (type == ZRM_RANK) {
        long llen = (long)zset_length(o);
        if (start < 0) start = llen + start;
        if (end < 0) end = llen + end;
        if (start < 0) start = 0;
        if (start > end || start >= llen) {
            reply_int(c, 0);
            return;
        }
        if (end >= llen) end = llen - 1;
    }
    unsigned long deleted = 0;
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p, *p;
        if (type == ZRM_RANK) {
            deleted = (unsigned long)(end - start + 1);
            lp = lp_delete_range(lp, 2 * start, 2 * deleted);
        } else if (type == ZRM_SCORE) {
            p = zlp_first_in_range(lp, &range);
            while (p && zsl_value_lte_max(zlp_score(lp_next(lp, p)), &range)) {
                lp = zlp_delete(lp, &p);
                deleted++;
            }
        } else {
            p = zlp_first_in_lex(lp, &lex);
            while (p && zlp_lex_lte(p, &lex)) {
                lp = zlp_delete(lp, &p);
                deleted++;
            }
        }
        o->v.p = lp;
    } else {
        zsl_set_t *zs = o->v.p;
        if (type == ZRM_RANK)
            deleted =
                zsl_set_delete_range_by_rank(zs, (unsigned long)start + 1, (unsigned long)end + 1);
        else if (type == ZRM_SCORE)
            deleted = zsl_set_delete_range_by_score(zs, &range);
        else
            deleted = zsl_set_delete_range_by_lex(zs, &lex);
    }
    bool keyremoved = false;
    if (zset_length(o) == 0) {
        db_delete(c->db, key->ptr, key->len);
        keyremoved = true;
    } else if (deleted) {
        zset_after_removals(o);
    }
    if (deleted) {
        static const char *const events[] = {"zremrangebyrank", "zremrangebyscore",
                                             "zremrangebylex"};
        db_key_modified(c->db, key->ptr, key->len);
        notify_zset(c, events[type], key);
        if (keyremoved) notify_del(c, key);
    }
    prop_changes(deleted);
    reply_int(c, (long long)deleted);
}

static void zset_zremrangebyrank_cmd(client_t *c) {
    zremrange_generic(c, ZRM_RANK);
}

static void zset_zremrangebyscore_cmd(client_t *c) {
    zremrange_generic(c, ZRM_SCORE);
}

static void zset_zremrangebylex_cmd(client_t *c) {
    zremrange_generic(c, ZRM_LEX);
}

/* ---------------------------------------------------------------- pops */

/* Redis's genericZpopCommand: pop up to count (-1: one, plain reply) members
 * from the first existing key of keys[0..nkeys). emitkey puts the key first
 * (BZPOP*, Z/BZMPOP); nested makes each pair an array (RESP3 ZPOP* with a
 * count, Z/BZMPOP); nil_when_empty replies a null array instead of an empty
 * one when no key exists. */
static void zpop_generic(client_t *c, const resp_arg_t *keys, int nkeys, int where, bool emitkey,
                         long count, bool nested, bool nil_when_empty) {
    kobj_t *o = NULL;
    const resp_arg_t *key = NULL;
    for (int i = 0; i < nkeys; i++) {
        key = &keys[i];
        o = db_lookup_write(c->db, key->ptr, key->len);
        if (!o) continue;
        if (o->type != OBJ_ZSET) {
            reply_wrongtype(c);
            return;
        }
        break;
    }
    if (!o) {
        if (nil_when_empty)
            reply_null_array(c);
        else
            reply_array(c, 0);
        return;
    }
    if (count == 0) {
        reply_array(c, 0);
        return;
    }
    bool with_count = count != -1;
    if (count == -1) count = 1;
    long llen = (long)zset_length(o);
    long rangelen = count > llen ? llen : count;
    if (!nested && !emitkey) {
        reply_array(c, rangelen * 2);
    } else if (nested && !emitkey) {
        reply_array(c, rangelen);
    } else if (!nested && emitkey) {
        reply_array(c, rangelen * 2 + 1);
        reply_bulk(c, key->ptr, key->len);
    } else {
        reply_array(c, 2);
        reply_bulk(c, key->ptr, key->len);
        reply_array(c, rangelen);
    }
    for (long i = 0; i < rangelen; i++) {
        if (nested) reply_array(c, 2);
        if (o->enc == ENC_LISTPACK) {
            unsigned char *lp = o->v.p;
            unsigned char *p = where == ZMIN ? lp_first(lp) : lp_seek(lp, -2);
            unsigned char buf[ZLP_BUF];
            size_t len;
            const char *m = zlp_member(p, buf, &len);
            reply_member(c, m, len);
            reply_double(c, zlp_score(lp_next(lp, p)));
            o->v.p = zlp_delete(lp, &p);
        } else {
            zsl_set_t *zs = o->v.p;
            zsl_node_t *n = where == ZMIN ? zsl_first(&zs->zsl) : zsl_last(&zs->zsl);
            size_t len;
            const char *m = zsl_node_member(n, &len);
            reply_member(c, m, len);
            reply_double(c, n->score);
            zsl_set_delete_node(zs, n);
        }
    }
    prop_changes((uint64_t)rangelen);
    /* ZPOPMIN/ZPOPMAX go as received; the others (BZPOP*, served at once or
     * later, ZMPOP, BZMPOP) as ZPOPMIN/ZPOPMAX key, with the number popped
     * when they had a count (Redis 7.0). */
    if (emitkey && prop_wanted()) {
        char cnt[KL_LLSTR_SIZE];
        prop_arg_t v[3] = {where == ZMIN ? PROP_STR("ZPOPMIN") : PROP_STR("ZPOPMAX"),
                           prop_arg(key)};
        uint32_t n = 2;
        if (with_count)
            v[n++] = (prop_arg_t){cnt, (size_t)kl_ll_to_str(cnt, sizeof(cnt), rangelen)};
        prop_rewrite(v, n);
    }
    notify_zset(c, where == ZMIN ? "zpopmin" : "zpopmax", key);
    if (zset_length(o) == 0) {
        db_delete(c->db, key->ptr, key->len);
        notify_del(c, key);
    } else {
        zset_after_removals(o);
        db_key_modified(c->db, key->ptr, key->len);
    }
}

static void zpop_minmax(client_t *c, int where) {
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    long count = -1;
    if (c->argc == 3 && arg_positive_long(c, &c->argv[2], &count, NULL) != 0) return;
    bool nested = c->resp >= 3 && count != -1;
    zpop_generic(c, &c->argv[1], 1, where, false, count, nested, false);
}

static void zset_zpopmin_cmd(client_t *c) {
    zpop_minmax(c, ZMIN);
}

static void zset_zpopmax_cmd(client_t *c) {
    zpop_minmax(c, ZMAX);
}

/* BZPOPMIN/BZPOPMAX and BZMPOP once the arguments are parsed: pop from the
 * first non-empty key or block on all of them. */
static void bzpop_generic(client_t *c, const resp_arg_t *keys, int nkeys, int where, long count,
                          bool mpop, int64_t timeout) {
    for (int j = 0; j < nkeys; j++) {
        kobj_t *o = db_lookup_write(c->db, keys[j].ptr, keys[j].len);
        if (!o) continue;
        if (o->type != OBJ_ZSET) {
            reply_wrongtype(c);
            return;
        }
        if (zset_length(o) != 0) {
            zpop_generic(c, &keys[j], 1, where, true, count, mpop, mpop);
            return;
        }
    }
    block_for_keys(c, keys, nkeys, timeout);
}

static void bzpop_minmax(client_t *c, int where) {
    int64_t timeout;
    if (block_parse_timeout(c, &c->argv[c->argc - 1], &timeout) != 0) return;
    bzpop_generic(c, &c->argv[1], (int)c->argc - 2, where, -1, false, timeout);
}

static void zset_bzpopmin_cmd(client_t *c) {
    bzpop_minmax(c, ZMIN);
}

static void zset_bzpopmax_cmd(client_t *c) {
    bzpop_minmax(c, ZMAX);
}

/* ZMPOP numkeys key... MIN|MAX [COUNT n] / BZMPOP timeout numkeys ... */
static void zmpop_generic(client_t *c, uint32_t numkeys_idx, bool block) {
    int64_t timeout = 0;
    if (block && block_parse_timeout(c, &c->argv[1], &timeout) != 0) return;
    long long numkeys;
    if (arg_ll_range(c, &c->argv[numkeys_idx], 1, LONG_MAX, &numkeys,
                     "ERR numkeys should be greater than 0") != 0)
        return;
    /* Compare in 64 bits: numkeys may be far larger than argc. */
    if (numkeys >= (long long)c->argc - (long long)numkeys_idx - 1) {
        reply_syntax_error(c);
        return;
    }
    uint32_t where_idx = numkeys_idx + (uint32_t)numkeys + 1;
    int where;
    if (arg_is(&c->argv[where_idx], "min")) {
        where = ZMIN;
    } else if (arg_is(&c->argv[where_idx], "max")) {
        where = ZMAX;
    } else {
        reply_syntax_error(c);
        return;
    }
    long long count = -1;
    for (uint32_t j = where_idx + 1; j < c->argc; j++) {
        bool moreargs = j + 1 < c->argc;
        if (count == -1 && arg_is(&c->argv[j], "count") && moreargs) {
            j++;
            if (arg_ll_range(c, &c->argv[j], 1, LONG_MAX, &count,
                             "ERR count should be greater than 0") != 0)
                return;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (count == -1) count = 1;
    const resp_arg_t *keys = &c->argv[numkeys_idx + 1];
    if (block)
        bzpop_generic(c, keys, (int)numkeys, where, (long)count, true, timeout);
    else
        zpop_generic(c, keys, (int)numkeys, where, true, (long)count, true, true);
}

static void zset_zmpop_cmd(client_t *c) {
    zmpop_generic(c, 1, false);
}

static void zset_bzmpop_cmd(client_t *c) {
    zmpop_generic(c, 2, true);
}

/* ---------------------------------------------------------------- ZRANDMEMBER */

/* Pointers to every pair of a listpack (member entries), for random access. */
static unsigned char **zlp_index(unsigned char *lp, unsigned long n) {
    unsigned char **v = kl_malloc((n ? n : 1) * sizeof(*v));
    unsigned long i = 0;
    for (unsigned char *p = lp_first(lp); p && i < n; p = zlp_next_pair(lp, p))
        v[i++] = p;
    return v;
}

static uint64_t rand_below(uint64_t n) {
    return kl_rand64() % n;
}

static void zrandmember_with_count(client_t *c, long l, bool withscores) {
    bool wrongtype;
    kobj_t *o = lookup_zset_read(c, &c->argv[1], &wrongtype);
    if (wrongtype) return;
    if (!o) {
        reply_array(c, 0);
        return;
    }
    unsigned long size = zset_length(o), count;
    bool uniq = true;
    if (l >= 0) {
        count = (unsigned long)l;
    } else {
        count = (unsigned long)-l;
        uniq = false;
    }
    if (count == 0) {
        reply_array(c, 0);
        return;
    }
    bool flat = withscores && c->resp < 3;
    unsigned char buf[ZLP_BUF];
    size_t len;
    const char *m;

    /* Case 1: repeats allowed (or a single member): independent draws. */
    if (!uniq || count == 1) {
        reply_array(c, (long)(flat ? count * 2 : count));
        if (o->enc == ENC_LISTPACK) {
            unsigned char *lp = o->v.p;
            unsigned char **idx = zlp_index(lp, size);
            while (count--) {
                if ((count & 1023) == 0 && reply_too_big(c)) break;
                unsigned char *p = idx[rand_below(size)];
                m = zlp_member(p, buf, &len);
                reply_pair(c, m, len, withscores ? zlp_score(lp_next(lp, p)) : 0, withscores);
            }
            kl_free(idx);
        } else {
            zsl_set_t *zs = o->v.p;
            while (count--) {
                if ((count & 1023) == 0 && reply_too_big(c)) return;
                dict_entry_t *de = dict_random_entry(zs->dict);
                zsl_node_t *n = dict_entry_val(de);
                reply_pair(c, dict_entry_key(de), dict_entry_klen(de), n->score, withscores);
            }
        }
        return;
    }

    /* Case 2: at least the whole set: all of it, from the highest score
     * down (Redis walks its sorted-set iterator from the tail). */
    if (count >= size) {
        reply_array(c, (long)(flat ? size * 2 : size));
        if (o->enc == ENC_LISTPACK) {
            unsigned char *lp = o->v.p;
            for (unsigned char *p = lp_seek(lp, -2); p; p = zlp_prev_pair(lp, p)) {
                m = zlp_member(p, buf, &len);
                reply_pair(c, m, len, zlp_score(lp_next(lp, p)), withscores);
            }
        } else {
            zsl_set_t *zs = o->v.p;
            for (zsl_node_t *n = zsl_last(&zs->zsl); n; n = zsl_prev(n)) {
                m = zsl_node_member(n, &len);
                reply_pair(c, m, len, n->score, withscores);
            }
        }
        return;
    }

    reply_array(c, (long)(flat ? count * 2 : count));
    /* Case 3, listpack: selection sampling keeps the listpack's order. */
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        unsigned long need = count, left = size;
        for (unsigned char *p = lp_first(lp); p && need; p = zlp_next_pair(lp, p), left--) {
            if (rand_below(left) >= need) continue;
            m = zlp_member(p, buf, &len);
            reply_pair(c, m, len, zlp_score(lp_next(lp, p)), withscores);
            need--;
        }
        return;
    }
    zsl_set_t *zs = o->v.p;
    if (count * 3 > size) {
        /* Case 3, skiplist, close to the size: a partial shuffle of all. */
        zsl_node_t **v = kl_malloc(size * sizeof(*v));
        unsigned long i = 0;
        for (zsl_node_t *n = zsl_first(&zs->zsl); n; n = zsl_next(n))
            v[i++] = n;
        for (i = 0; i < count; i++) {
            unsigned long j = i + (unsigned long)rand_below(size - i);
            zsl_node_t *t = v[i];
            v[i] = v[j];
            v[j] = t;
            m = zsl_node_member(v[i], &len);
            reply_pair(c, m, len, v[i]->score, withscores);
        }
        kl_free(v);
        return;
    }
    /* Case 4: draw until count distinct members were seen. */
    static const dict_type_t seen_type = {NULL};
    dict_t *seen = dict_create(&seen_type);
    while (dict_size(seen) < count) {
        dict_entry_t *de = dict_random_entry(zs->dict);
        int existed;
        dict_add_or_find(seen, dict_entry_key(de), dict_entry_klen(de), &existed);
        if (existed) continue;
        zsl_node_t *n = dict_entry_val(de);
        reply_pair(c, dict_entry_key(de), dict_entry_klen(de), n->score, withscores);
    }
    dict_release(seen);
}

static void zset_zrandmember_cmd(client_t *c) {
    if (c->argc >= 3) {
        long long l;
        if (arg_ll(c, &c->argv[2], &l) != 0) return;
        if (l < -LONG_MAX) {
            reply_errorf(c, "ERR value is out of range, value must between %ld and %ld", -LONG_MAX,
                         LONG_MAX);
            return;
        }
        bool withscores = false;
        if (c->argc > 4 || (c->argc == 4 && !arg_is(&c->argv[3], "withscores"))) {
            reply_syntax_error(c);
            return;
        } else if (c->argc == 4) {
            withscores = true;
            if (l < -LONG_MAX / 2 || l > LONG_MAX / 2) {
                reply_error(c, "ERR value is out of range");
                return;
            }
        }
        zrandmember_with_count(c, (long)l, withscores);
        return;
    }
    bool wrongtype;
    kobj_t *o = lookup_zset_read(c, &c->argv[1], &wrongtype);
    if (wrongtype) return;
    if (!o) {
        reply_null(c);
        return;
    }
    if (o->enc == ENC_LISTPACK) {
        unsigned char *lp = o->v.p;
        unsigned char *p = lp_seek(lp, (long)(2 * rand_below(zset_length(o))));
        unsigned char buf[ZLP_BUF];
        size_t len;
        const char *m = zlp_member(p, buf, &len);
        reply_member(c, m, len);
    } else {
        dict_entry_t *de = dict_random_entry(((zsl_set_t *)o->v.p)->dict);
        reply_member(c, dict_entry_key(de), dict_entry_klen(de));
    }
}

/* ---------------------------------------------------------------- ZSCAN */

typedef struct zscan_acc {
    kl_buf_t buf;
    struct {
        size_t moff, mlen, soff, slen;
    } * e;
    size_t n, cap;
} zscan_acc_t;

static void zscan_add(zscan_acc_t *a, const char *m, size_t mlen, const char *s, size_t slen) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->e = kl_realloc(a->e, a->cap * sizeof(*a->e));
    }
    a->e[a->n].moff = a->buf.len;
    a->e[a->n].mlen = mlen;
    kl_buf_append(&a->buf, m, mlen);
    a->e[a->n].soff = a->buf.len;
    a->e[a->n].slen = slen;
    kl_buf_append(&a->buf, s, slen);
    a->n++;
}

static void zscan_collect(void *priv, dict_entry_t *de) {
    zsl_node_t *n = dict_entry_val(de);
    char sbuf[64];
    /* Redis renders skiplist scores with %.17Lg of the double, which prints
     * the same digits as %.17g (and keeps "-0"). */
    int slen = snprintf(sbuf, sizeof(sbuf), "%.17g", n->score);
    zscan_add(priv, dict_entry_key(de), dict_entry_klen(de), sbuf, (size_t)slen);
}

static void zset_zscan_cmd(client_t *c) {
    uint64_t cursor;
    if (cmd_parse_scan_cursor(c, &c->argv[2], &cursor) != 0) return;
    bool wrongtype;
    kobj_t *o = lookup_zset_read(c, &c->argv[1], &wrongtype);
    if (wrongtype) return;
    if (!o) {
        reply_array(c, 2);
        reply_bulk(c, "0", 1);
        reply_array(c, 0);
        return;
    }
    scan_opts_t so;
    if (cmd_parse_scan_opts(c, 3, false, &so) != 0) return;
    long long count = so.count;
    const char *pat = so.pat;
    size_t plen = so.plen;
    bool use_pattern = so.use_pattern;
    zscan_acc_t acc = {0};
    if (o->enc == ENC_LISTPACK) {
        /* Small sets come back whole, cursor 0, with the stored bytes. */
        unsigned char *lp = o->v.p;
        for (unsigned char *p = lp_first(lp); p; p = zlp_next_pair(lp, p)) {
            unsigned char mb[ZLP_BUF], sb[ZLP_BUF];
            size_t mlen, slen;
            const char *m = zlp_member(p, mb, &mlen);
            const char *s = (const char *)lp_get_bytes(lp_next(lp, p), sb, &slen);
            zscan_add(&acc, m, mlen, s, slen);
        }
        cursor = 0;
    } else {
        dict_t *d = ((zsl_set_t *)o->v.p)->dict;
        /* COUNT can be as large as LLONG_MAX: saturate rather than overflow. */
        long long maxiterations = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
        do {
            cursor = dict_scan(d, cursor, zscan_collect, &acc);
        } while (cursor && maxiterations-- && (long long)acc.n < count);
    }
    size_t kept = 0;
    for (size_t i = 0; i < acc.n; i++) {
        if (use_pattern && !kl_glob_match(pat, plen, acc.buf.p + acc.e[i].moff, acc.e[i].mlen, 0))
            continue;
        acc.e[kept++] = acc.e[i];
    }
    char cbuf[KL_LLSTR_SIZE];
    int clen = kl_ull_to_str(cbuf, sizeof(cbuf), cursor);
    reply_array(c, 2);
    reply_bulk(c, cbuf, (size_t)clen);
    reply_array(c, (long)kept * 2);
    for (size_t i = 0; i < kept; i++) {
        reply_bulk(c, acc.buf.p + acc.e[i].moff, acc.e[i].mlen);
        reply_bulk(c, acc.buf.p + acc.e[i].soff, acc.e[i].slen);
    }
    kl_buf_free(&acc.buf);
    kl_free(acc.e);
}

/* ---------------------------------------------------------------- ZUNION / ZINTER / ZDIFF */

enum { SETOP_UNION, SETOP_INTER, SETOP_DIFF };
enum { AGGR_SUM, AGGR_MIN, AGGR_MAX };

/* One input: a sorted set, a set (every member scores 1) or nothing. */
typedef struct zsrc {
    kobj_t *o;
    double weight;
    unsigned long len;
    uint32_t pos; /* argument order, to keep the sort stable */
} zsrc_t;

/* Iteration over an input in its natural order. */
typedef struct zsrc_iter {
    const zsrc_t *s;
    unsigned char *p; /* listpack zset */
    zsl_node_t *n;    /* skiplist zset */
    uint32_t ipos;    /* intset */
    dict_iter_t di;   /* hashtable set */
    bool di_live;
    unsigned char buf[ZLP_BUF];
} zsrc_iter_t;

static void zsrc_iter_init(zsrc_iter_t *it, const zsrc_t *s) {
    memset(it, 0, sizeof(*it));
    it->s = s;
    if (!s->o) return;
    if (s->o->type == OBJ_ZSET) {
        if (s->o->enc == ENC_LISTPACK)
            it->p = lp_first(s->o->v.p);
        else
            it->n = zsl_first(&((zsl_set_t *)s->o->v.p)->zsl);
    } else if (s->o->enc == ENC_HASHTABLE) {
        /* Safe: other inputs may be the same dict and are looked up meanwhile. */
        dict_iter_init(&it->di, s->o->v.p, 1);
        it->di_live = true;
    }
}

static bool zsrc_next(zsrc_iter_t *it, const char **m, size_t *len, double *score) {
    const kobj_t *o = it->s->o;
    if (!o) return false;
    if (o->type == OBJ_ZSET) {
        if (o->enc == ENC_LISTPACK) {
            if (!it->p) return false;
            unsigned char *lp = o->v.p;
            *m = zlp_member(it->p, it->buf, len);
            unsigned char *sp = lp_next(lp, it->p);
            *score = zlp_score(sp);
            it->p = lp_next(lp, sp);
            return true;
        }
        if (!it->n) return false;
        *m = zsl_node_member(it->n, len);
        *score = it->n->score;
        it->n = zsl_next(it->n);
        return true;
    }
    *score = 1.0;
    if (o->enc == ENC_INTSET) {
        const intset_t *is = o->v.p;
        if (it->ipos >= intset_len(is)) return false;
        int n = kl_ll_to_str((char *)it->buf, sizeof(it->buf), intset_get(is, it->ipos++));
        *m = (const char *)it->buf;
        *len = (size_t)n;
        return true;
    }
    dict_entry_t *de = dict_iter_next(&it->di);
    if (!de) return false;
    *m = dict_entry_key(de);
    *len = dict_entry_klen(de);
    return true;
}

static void zsrc_iter_done(zsrc_iter_t *it) {
    if (it->di_live) dict_iter_done(&it->di);
    it->di_live = false;
}

/* Is m in input s? (with its score; sets score 1). */
static bool zsrc_find(const zsrc_t *s, const char *m, size_t len, double *score) {
    kobj_t *o = s->o;
    if (!o) return false;
    if (o->type == OBJ_ZSET) return zset_score(o, m, len, score);
    *score = 1.0;
    if (o->enc == ENC_INTSET) {
        long long v;
        return kl_str_to_ll(m, len, &v) == 0 && intset_find(o->v.p, v);
    }
    return dict_find(o->v.p, m, len) != NULL;
}

static unsigned long zsrc_length(const kobj_t *o) {
    if (!o) return 0;
    if (o->type == OBJ_ZSET) return zset_length(o);
    if (o->enc == ENC_INTSET) return intset_len(o->v.p);
    return dict_size(o->v.p);
}

static int zsrc_cmp_card(const void *a, const void *b) {
    const zsrc_t *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->pos < y->pos ? -1 : (x->pos > y->pos ? 1 : 0);
}

static void aggregate(double *target, double val, int aggr) {
    if (aggr == AGGR_SUM) {
        *target = *target + val;
        /* inf + -inf: Redis stores 0 rather than NaN. */
        if (isnan(*target)) *target = 0.0;
    } else if (aggr == AGGR_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

/* Result members (dict keys) with their scores (dict double values). */
static const dict_type_t acc_type = {NULL};

static int cmp_result(const void *a, const void *b) {
    const dict_entry_t *x = *(dict_entry_t *const *)a, *y = *(dict_entry_t *const *)b;
    double sx = dict_entry_get_double(x), sy = dict_entry_get_double(y);
    if (sx != sy) return sx < sy ? -1 : 1;
    return zsl_member_cmp(dict_entry_key(x), dict_entry_klen(x), dict_entry_key(y),
                          dict_entry_klen(y));
}

/* Redis's zunionInterDiffGenericCommand. dstkey NULL: reply (ZUNION, ZINTER,
 * ZDIFF, ZINTERCARD when cardinality_only); otherwise store. */
static void zsetop_generic(client_t *c, const resp_arg_t *dstkey, uint32_t numkeys_idx, int op,
                           bool cardinality_only) {
    long long setnum;
    if (arg_ll(c, &c->argv[numkeys_idx], &setnum) != 0) return;
    if (setnum < 1) {
        reply_errorf(c, "ERR at least 1 input key is needed for '%s' command", c->cmd->name);
        return;
    }
    if (setnum > (long long)c->argc - (long long)numkeys_idx - 1) {
        reply_syntax_error(c);
        return;
    }
    zsrc_t *src = kl_calloc((size_t)setnum, sizeof(*src));
    uint32_t j = numkeys_idx + 1;
    for (long long i = 0; i < setnum; i++, j++) {
        const resp_arg_t *k = &c->argv[j];
        kobj_t *o =
            dstkey ? db_lookup_write(c->db, k->ptr, k->len) : db_lookup_read(c->db, k->ptr, k->len);
        if (o && o->type != OBJ_ZSET && o->type != OBJ_SET) {
            kl_free(src);
            reply_wrongtype(c);
            return;
        }
        src[i].o = o;
        src[i].weight = 1.0;
        src[i].len = zsrc_length(o);
        src[i].pos = (uint32_t)i;
    }
    int aggr = AGGR_SUM;
    bool withscores = false;
    long long limit = 0;
    while (j < c->argc) {
        uint32_t remaining = c->argc - j;
        const resp_arg_t *a = &c->argv[j];
        if (op != SETOP_DIFF && !cardinality_only && remaining >= setnum + 1 &&
            arg_is(a, "weights")) {
            j++;
            for (long long i = 0; i < setnum; i++, j++) {
                if (kl_str_to_d(c->argv[j].ptr, c->argv[j].len, &src[i].weight) != 0) {
                    kl_free(src);
                    reply_error(c, "ERR weight value is not a float");
                    return;
                }
            }
        } else if (op != SETOP_DIFF && !cardinality_only && remaining >= 2 &&
                   arg_is(a, "aggregate")) {
            const resp_arg_t *v = &c->argv[j + 1];
            if (arg_is(v, "sum")) {
                aggr = AGGR_SUM;
            } else if (arg_is(v, "min")) {
                aggr = AGGR_MIN;
            } else if (arg_is(v, "max")) {
                aggr = AGGR_MAX;
            } else {
                kl_free(src);
                reply_syntax_error(c);
                return;
            }
            j += 2;
        } else if (!dstkey && !cardinality_only && arg_is(a, "withscores")) {
            withscores = true;
            j++;
        } else if (cardinality_only && remaining >= 2 && arg_is(a, "limit")) {
            if (arg_ll_range(c, &c->argv[j + 1], 0, LONG_MAX, &limit,
                             "ERR LIMIT can't be negative") != 0) {
                kl_free(src);
                return;
            }
            j += 2;
        } else {
            kl_free(src);
            reply_syntax_error(c);
            return;
        }
    }
    /* Smallest first (stable, like glibc's qsort for Redis): cheaper for
     * INTER, and it fixes the order in which scores are summed. */
    if (op != SETOP_DIFF) qsort(src, (size_t)setnum, sizeof(*src), zsrc_cmp_card);

    dict_t *acc = dict_create(&acc_type);
    size_t maxlen = 0;
    long long card = 0;
    zsrc_iter_t it;
    const char *m;
    size_t len;
    double score, value;
    if (op == SETOP_INTER) {
        if (src[0].len > 0) {
            zsrc_iter_init(&it, &src[0]);
            while (zsrc_next(&it, &m, &len, &score)) {
                double s = src[0].weight * score;
                if (isnan(s)) s = 0;
                long long k;
                for (k = 1; k < setnum; k++) {
                    if (src[k].o == src[0].o) {
                        value = score * src[k].weight;
                        aggregate(&s, value, aggr);
                    } else if (zsrc_find(&src[k], m, len, &value)) {
                        value *= src[k].weight;
                        aggregate(&s, value, aggr);
                    } else {
                        break;
                    }
                }
                if (k != setnum) continue;
                if (cardinality_only) {
                    card++;
                    if (limit && card >= limit) break;
                    continue;
                }
                dict_entry_t *de = dict_add_or_find(acc, m, len, NULL);
                dict_entry_set_double(de, s);
                if (len > maxlen) maxlen = len;
            }
            zsrc_iter_done(&it);
        }
    } else if (op == SETOP_UNION) {
        for (long long i = 0; i < setnum; i++) {
            if (src[i].len == 0) continue;
            zsrc_iter_init(&it, &src[i]);
            while (zsrc_next(&it, &m, &len, &score)) {
                double s = src[i].weight * score;
                if (isnan(s)) s = 0;
                int existed;
                dict_entry_t *de = dict_add_or_find(acc, m, len, &existed);
                if (!existed) {
                    dict_entry_set_double(de, s);
                    if (len > maxlen) maxlen = len;
                } else {
                    double t = dict_entry_get_double(de);
                    aggregate(&t, s, aggr);
                    dict_entry_set_double(de, t);
                }
            }
            zsrc_iter_done(&it);
        }
    } else {
        if (src[0].len > 0) {
            zsrc_iter_init(&it, &src[0]);
            while (zsrc_next(&it, &m, &len, &score)) {
                bool found = false;
                for (long long k = 1; k < setnum && !found; k++) {
                    if (src[k].len == 0) continue;
                    found = src[k].o == src[0].o || zsrc_find(&src[k], m, len, &value);
                }
                if (found) continue;
                dict_entry_t *de = dict_add_or_find(acc, m, len, NULL);
                dict_entry_set_double(de, score);
                if (len > maxlen) maxlen = len;
            }
            zsrc_iter_done(&it);
        }
    }
    kl_free(src);

    if (cardinality_only) {
        dict_release(acc);
        reply_int(c, card);
        return;
    }

    /* The result in (score, member) order. */
    size_t n = dict_size(acc);
    dict_entry_t **v = kl_malloc((n ? n : 1) * sizeof(*v));
    size_t i = 0;
    dict_iter_t di;
    dict_iter_init(&di, acc, 0);
    dict_entry_t *de;
    while ((de = dict_iter_next(&di)) != NULL)
        v[i++] = de;
    dict_iter_done(&di);
    qsort(v, n, sizeof(*v), cmp_result);

    if (dstkey) {
        static const char *const events[] = {"zunionstore", "zinterstore", "zdiffstore"};
        if (n) {
            kobj_t *dst;
            if (n <= (size_t)g_cfg.zset_max_listpack_entries &&
                maxlen <= (size_t)g_cfg.zset_max_listpack_value) {
                /* Already sorted: append in order. */
                unsigned char *lp = lp_new(0);
                for (i = 0; i < n; i++) {
                    char sbuf[KL_DSTR_SIZE];
                    int slen = kv_zset_score_str(sbuf, sizeof(sbuf), dict_entry_get_double(v[i]));
                    lp = lp_append(lp, (const unsigned char *)dict_entry_key(v[i]),
                                   dict_entry_klen(v[i]));
                    lp = lp_append(lp, (const unsigned char *)sbuf, (size_t)slen);
                }
                dst = obj_new(OBJ_ZSET, ENC_LISTPACK, lp);
            } else {
                zsl_set_t *zs = zsl_set_new();
                for (i = n; i-- > 0;)
                    zsl_set_insert(zs, dict_entry_key(v[i]), dict_entry_klen(v[i]),
                                   dict_entry_get_double(v[i]));
                dst = obj_new(OBJ_ZSET, ENC_SKIPLIST, zs);
            }
            db_set(c->db, dstkey->ptr, dstkey->len, dst, false);
            reply_int(c, (long long)n);
            notify_zset(c, events[op], dstkey);
            prop_changes(1);
        } else {
            reply_int(c, 0);
            if (db_delete(c->db, dstkey->ptr, dstkey->len)) {
                notify_del(c, dstkey);
                prop_changes(1);
            }
        }
    } else {
        reply_array(c, (long)(withscores && c->resp < 3 ? n * 2 : n));
        for (i = 0; i < n; i++)
            reply_pair(c, dict_entry_key(v[i]), dict_entry_klen(v[i]), dict_entry_get_double(v[i]),
                       withscores);
    }
    kl_free(v);
    dict_release(acc);
}

static void zset_zunionstore_cmd(client_t *c) {
    zsetop_generic(c, &c->argv[1], 2, SETOP_UNION, false);
}

static void zset_zinterstore_cmd(client_t *c) {
    zsetop_generic(c, &c->argv[1], 2, SETOP_INTER, false);
}

static void zset_zdiffstore_cmd(client_t *c) {
    zsetop_generic(c, &c->argv[1], 2, SETOP_DIFF, false);
}

static void zset_zunion_cmd(client_t *c) {
    zsetop_generic(c, NULL, 1, SETOP_UNION, false);
}

static void zset_zinter_cmd(client_t *c) {
    zsetop_generic(c, NULL, 1, SETOP_INTER, false);
}

static void zset_zdiff_cmd(client_t *c) {
    zsetop_generic(c, NULL, 1, SETOP_DIFF, false);
}

static void zset_zintercard_cmd(client_t *c) {
    zsetop_generic(c, NULL, 1, SETOP_INTER, true);
}

/* ---------------------------------------------------------------- table */

#define CX_RANGE                                                                                   \
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "       \
    "elements returned."
#define CX_RANGE_LIMIT                                                                             \
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "       \
    "elements being returned. If M is constant (e.g. always asking for the first 10 elements "     \
    "with LIMIT), you can consider it O(log(N))."
#define CX_REMRANGE                                                                                \
    "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "       \
    "elements removed by the operation."
#define CX_UNION                                                                                   \
    "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being "    \
    "the number of elements in the resulting sorted set."
#define CX_UNIONSTORE                                                                              \
    "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being "    \
    "the number of elements in the resulting sorted set."
#define CX_INTER                                                                                   \
    "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the "       \
    "number of input sorted sets and M being the number of elements in the resulting sorted set."
#define CX_DIFF                                                                                    \
    "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N "    \
    "is the size of the first set, and K is the size of the result set."
#define CX_MPOP                                                                                    \
    "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements "   \
    "in the sorted set, and M being the number of elements popped."
#define CX_POP                                                                                     \
    "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number "   \
    "of elements popped."

kl_command_t cmds_zset[] = {
    {
        .name = "zadd",
        .proc = zset_zadd_cmd,
        .arity = -4,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "1.2.0",
        .summary =
            "Add one or more members to a sorted set, or update its score if it already exists",
        .complexity =
            "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        .acl_cats = "@write @sortedset @fast",
    },
    {
        .name = "zrem",
        .proc = zset_zrem_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "1.2.0",
        .summary = "Remove one or more members from a sorted set",
        .complexity =
            "O(M*log(N)) with N being the number of elements in the sorted set and M the number "
            "of elements to be removed.",
        .acl_cats = "@write @sortedset @fast",
    },
    {
        .name = "zcard",
        .proc = zset_zcard_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "1.2.0",
        .summary = "Get the number of members in a sorted set",
        .complexity = "O(1)",
        .acl_cats = "@read @sortedset @fast",
    },
    {
        .name = "zcount",
        .proc = zset_zcount_cmd,
        .arity = 4,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.0.0",
        .summary = "Count the members in a sorted set with scores within the given values",
        .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
        .acl_cats = "@read @sortedset @fast",
    },
    {
        .name = "zscore",
        .proc = zset_zscore_cmd,
        .arity = 3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "1.2.0",
        .summary = "Get the score associated with the given member in a sorted set",
        .complexity = "O(1)",
        .acl_cats = "@read @sortedset @fast",
    },
    {
        .name = "zmscore",
        .proc = zset_zmscore_cmd,
        .arity = -3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "6.2.0",
        .summary = "Get the score associated with the given members in a sorted set",
        .complexity = "O(N) where N is the number of members being requested.",
        .acl_cats = "@read @sortedset @fast",
    },
    {
        .name = "zincrby",
        .proc = zset_zincrby_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "1.2.0",
        .summary = "Increment the score of a member in a sorted set",
        .complexity = "O(log(N)) where N is the number of elements in the sorted set.",
        .acl_cats = "@write @sortedset @fast",
    },
    {
        .name = "zrank",
        .proc = zset_zrank_cmd,
        .arity = 3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.0.0",
        .summary = "Determine the index of a member in a sorted set",
        .complexity = "O(log(N))",
        .acl_cats = "@read @sortedset @fast",
    },
    {
        .name = "zrevrank",
        .proc = zset_zrevrank_cmd,
        .arity = 3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.0.0",
        .summary =
            "Determine the index of a member in a sorted set, with scores ordered from high to "
            "low",
        .complexity = "O(log(N))",
        .acl_cats = "@read @sortedset @fast",
    },
    {
        .name = "zrange",
        .proc = zset_zrange_cmd,
        .arity = -4,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "1.2.0",
        .summary = "Return a range of members in a sorted set",
        .complexity = CX_RANGE,
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zrangestore",
        .proc = zset_zrangestore_cmd,
        .arity = -5,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "sorted-set",
        .since = "6.2.0",
        .summary = "Store a range of members from sorted set into another key",
        .complexity =
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number "
            "of elements stored into the destination key.",
        .acl_cats = "@write @sortedset @slow",
    },
    {
        .name = "zrevrange",
        .proc = zset_zrevrange_cmd,
        .arity = -4,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "1.2.0",
        .summary =
            "Return a range of members in a sorted set, by index, with scores ordered from high "
            "to low",
        .complexity = CX_RANGE,
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zrangebyscore",
        .proc = zset_zrangebyscore_cmd,
        .arity = -4,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "1.0.5",
        .summary = "Return a range of members in a sorted set, by score",
        .complexity = CX_RANGE_LIMIT,
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zrevrangebyscore",
        .proc = zset_zrevrangebyscore_cmd,
        .arity = -4,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.2.0",
        .summary =
            "Return a range of members in a sorted set, by score, with scores ordered from high "
            "to low",
        .complexity = CX_RANGE_LIMIT,
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zrangebylex",
        .proc = zset_zrangebylex_cmd,
        .arity = -4,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.8.9",
        .summary = "Return a range of members in a sorted set, by lexicographical range",
        .complexity = CX_RANGE_LIMIT,
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zrevrangebylex",
        .proc = zset_zrevrangebylex_cmd,
        .arity = -4,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.8.9",
        .summary =
            "Return a range of members in a sorted set, by lexicographical range, ordered from "
            "higher to lower strings.",
        .complexity = CX_RANGE_LIMIT,
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zlexcount",
        .proc = zset_zlexcount_cmd,
        .arity = 4,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.8.9",
        .summary =
            "Count the number of members in a sorted set between a given lexicographical range",
        .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
        .acl_cats = "@read @sortedset @fast",
    },
    {
        .name = "zpopmin",
        .proc = zset_zpopmin_cmd,
        .arity = -2,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "5.0.0",
        .summary = "Remove and return members with the lowest scores in a sorted set",
        .complexity = CX_POP,
        .acl_cats = "@write @sortedset @fast",
    },
    {
        .name = "zpopmax",
        .proc = zset_zpopmax_cmd,
        .arity = -2,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "5.0.0",
        .summary = "Remove and return members with the highest scores in a sorted set",
        .complexity = CX_POP,
        .acl_cats = "@write @sortedset @fast",
    },
    {
        .name = "zmpop",
        .proc = zset_zmpop_cmd,
        .arity = -4,
        .flags = CMD_WRITE,
        .keys = {.numkeys_at = 1},
        .group = "sorted-set",
        .since = "7.0.0",
        .summary = "Remove and return members with scores in a sorted set",
        .complexity = CX_MPOP,
        .acl_cats = "@write @sortedset @slow",
    },
    {
        .name = "zrandmember",
        .proc = zset_zrandmember_cmd,
        .arity = -2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "6.2.0",
        .summary = "Get one or multiple random elements from a sorted set",
        .complexity = "O(N) where N is the number of elements returned",
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zremrangebyrank",
        .proc = zset_zremrangebyrank_cmd,
        .arity = 4,
        .flags = CMD_WRITE,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.0.0",
        .summary = "Remove all members in a sorted set within the given indexes",
        .complexity = CX_REMRANGE,
        .acl_cats = "@write @sortedset @slow",
    },
    {
        .name = "zremrangebyscore",
        .proc = zset_zremrangebyscore_cmd,
        .arity = 4,
        .flags = CMD_WRITE,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "1.2.0",
        .summary = "Remove all members in a sorted set within the given scores",
        .complexity = CX_REMRANGE,
        .acl_cats = "@write @sortedset @slow",
    },
    {
        .name = "zremrangebylex",
        .proc = zset_zremrangebylex_cmd,
        .arity = 4,
        .flags = CMD_WRITE,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.8.9",
        .summary = "Remove all members in a sorted set between the given lexicographical range",
        .complexity = CX_REMRANGE,
        .acl_cats = "@write @sortedset @slow",
    },
    {
        .name = "zunion",
        .proc = zset_zunion_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.numkeys_at = 1},
        .group = "sorted-set",
        .since = "6.2.0",
        .summary = "Add multiple sorted sets",
        .complexity = CX_UNION,
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zinter",
        .proc = zset_zinter_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.numkeys_at = 1},
        .group = "sorted-set",
        .since = "6.2.0",
        .summary = "Intersect multiple sorted sets",
        .complexity = CX_INTER,
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zdiff",
        .proc = zset_zdiff_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.numkeys_at = 1},
        .group = "sorted-set",
        .since = "6.2.0",
        .summary = "Subtract multiple sorted sets",
        .complexity = CX_DIFF,
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zunionstore",
        .proc = zset_zunionstore_cmd,
        .arity = -4,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1, .numkeys_at = 2, .dest = 1},
        .group = "sorted-set",
        .since = "2.0.0",
        .summary = "Add multiple sorted sets and store the resulting sorted set in a new key",
        .complexity = CX_UNIONSTORE,
        .acl_cats = "@write @sortedset @slow",
    },
    {
        .name = "zinterstore",
        .proc = zset_zinterstore_cmd,
        .arity = -4,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1, .numkeys_at = 2, .dest = 1},
        .group = "sorted-set",
        .since = "2.0.0",
        .summary = "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        .complexity = CX_INTER,
        .acl_cats = "@write @sortedset @slow",
    },
    {
        .name = "zdiffstore",
        .proc = zset_zdiffstore_cmd,
        .arity = -4,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1, .numkeys_at = 2, .dest = 1},
        .group = "sorted-set",
        .since = "6.2.0",
        .summary = "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        .complexity = CX_DIFF,
        .acl_cats = "@write @sortedset @slow",
    },
    {
        .name = "zintercard",
        .proc = zset_zintercard_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.numkeys_at = 1},
        .group = "sorted-set",
        .since = "7.0.0",
        .summary = "Intersect multiple sorted sets and return the cardinality of the result",
        .complexity =
            "O(N*K) worst case with N being the smallest input sorted set, K being the number of "
            "input sorted sets.",
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "zscan",
        .proc = zset_zscan_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "sorted-set",
        .since = "2.8.0",
        .summary = "Incrementally iterate sorted sets elements and associated scores",
        .complexity =
            "O(1) for every call. O(N) for a complete iteration, including enough command calls "
            "for the cursor to return back to 0. N is the number of elements inside the "
            "collection..",
        .acl_cats = "@read @sortedset @slow",
    },
    {
        .name = "bzpopmin",
        .proc = zset_bzpopmin_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING | CMD_FAST,
        .xflags = CMDX_BLOCK_ZSET,
        .keys = {.first = 1, .last = -2, .step = 1},
        .group = "sorted-set",
        .since = "5.0.0",
        .summary =
            "Remove and return the member with the lowest score from one or more sorted sets, or "
            "block until one is available",
        .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
        .acl_cats = "@write @sortedset @fast @blocking",
    },
    {
        .name = "bzpopmax",
        .proc = zset_bzpopmax_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING | CMD_FAST,
        .xflags = CMDX_BLOCK_ZSET,
        .keys = {.first = 1, .last = -2, .step = 1},
        .group = "sorted-set",
        .since = "5.0.0",
        .summary =
            "Remove and return the member with the highest score from one or more sorted sets, or "
            "block until one is available",
        .complexity = "O(log(N)) with N being the number of elements in the sorted set.",
        .acl_cats = "@write @sortedset @fast @blocking",
    },
    {
        .name = "bzmpop",
        .proc = zset_bzmpop_cmd,
        .arity = -5,
        .flags = CMD_WRITE | CMD_BLOCKING,
        .xflags = CMDX_BLOCK_ZSET,
        .keys = {.numkeys_at = 2},
        .group = "sorted-set",
        .since = "7.0.0",
        .summary = "Remove and return members with scores in a sorted set or block until one is "
                   "available",
        .complexity = CX_MPOP,
        .acl_cats = "@write @sortedset @slow @blocking",
    },
    {0},
};
