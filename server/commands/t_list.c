/* The list type: LPUSH and friends, the blocking pops and moves, with Redis
 * 7.0's replies, error texts and argument-checking order.
 *
 * Storage is a quicklist (quicklist.h), created with the list-max-listpack-size
 * and list-compress-depth in force at creation, as Redis does; OBJECT ENCODING
 * reports "quicklist" for every list, as Redis 7.0 does. An emptied list
 * deletes its key.
 *
 * Blocking commands follow blocking.h's re-run model: with data they serve at
 * once; with every key empty they call block_for_keys() and return without
 * replying, and are run again when a key becomes ready.
 *
 * Thread: executor (every function here). */
#include "blocking.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "notify.h"
#include "propagate.h"
#include "object.h"
#include "quicklist.h"
#include "reply.h"
#include "server.h"
#include "commands.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static kobj_t *list_new(void) {
    return obj_new(OBJ_LIST, ENC_QUICKLIST,
                   ql_new(g_cfg.list_max_listpack_size, g_cfg.list_compress_depth));
}

static inline quicklist_t *qlof(const kobj_t *o) {
    return (quicklist_t *)o->v.p;
}

static inline const unsigned char *ub(const resp_arg_t *a) {
    return (const unsigned char *)a->ptr;
}

static void reply_entry(client_t *c, const ql_entry_t *e) {
    if (e->s)
        reply_bulk(c, (const char *)e->s, e->len);
    else
        reply_bulk_ll(c, e->lval);
}

static void reply_arity(client_t *c) {
    reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

/* Redis's getPositiveLongFromObjectOrReply: 0..LONG_MAX; anything else
 * (including non-numbers) gets msg, by default Redis's "must be positive". */
static int arg_positive(client_t *c, const resp_arg_t *a, long long *out, const char *msg) {
    return arg_ll_range(c, a, 0, LLONG_MAX, out,
                        msg ? msg : "ERR value is out of range, must be positive");
}

/* LEFT / RIGHT (Redis's getListPositionFromObjectOrReply). */
static int arg_where(client_t *c, const resp_arg_t *a, int *where) {
    if (arg_is(a, "left")) {
        *where = QL_HEAD;
    } else if (arg_is(a, "right")) {
        *where = QL_TAIL;
    } else {
        reply_syntax_error(c);
        return -1;
    }
    return 0;
}

/* The value at key for reading or writing: NULL when missing; NULL after
 * replying WRONGTYPE (*wrong set) when it holds another type. */
static kobj_t *lookup(client_t *c, const resp_arg_t *k, bool write, bool *wrong) {
    return cmd_lookup_typed(c, k, OBJ_LIST, write, wrong);
}

/* After elements were popped from the `where` end: the pop event, the key's
 * deletion when the list emptied, WATCH, n changes (Redis's
 * listElementsRemoved). */
static void elements_removed(client_t *c, const resp_arg_t *k, int where, kobj_t *o, long n) {
    notify_keyspace_event(KL_NOTIFY_LIST, where == QL_HEAD ? "lpop" : "rpop", k->ptr, k->len,
                          c->db->id);
    if (ql_count(qlof(o)) == 0) {
        db_delete(c->db, k->ptr, k->len);
        notify_keyspace_event(KL_NOTIFY_GENERIC, "del", k->ptr, k->len, c->db->id);
    } else {
        db_key_modified(c->db, k->ptr, k->len);
    }
    prop_changes((uint64_t)n);
}

/* Propagate the running command as LPOP/RPOP key [count] (count < 0: none). */
static void propagate_pop(const resp_arg_t *k, int where, long count) {
    if (!prop_wanted()) return;
    char cnt[KL_LLSTR_SIZE];
    prop_arg_t v[3] = {where == QL_HEAD ? PROP_STR("LPOP") : PROP_STR("RPOP"), prop_arg(k)};
    uint32_t n = 2;
    if (count >= 0) v[n++] = (prop_arg_t){cnt, (size_t)kl_ll_to_str(cnt, sizeof(cnt), count)};
    prop_rewrite(v, n);
}

/* Reply the n elements at the `where` end in pop order (an array), then
 * delete them. n <= length. */
static void pop_range_reply(client_t *c, quicklist_t *ql, int where, long n) {
    ql_iter_t it;
    ql_entry_t e;
    reply_array(c, n);
    ql_iter_init(&it, ql, where == QL_HEAD ? QL_FORWARD : QL_BACKWARD, where == QL_HEAD ? 0 : -1);
    for (long i = 0; i < n && ql_iter_next(&it, &e); i++)
        reply_entry(c, &e);
    ql_iter_done(&it);
    ql_del_range(ql, where == QL_HEAD ? 0 : -n, (unsigned long)n);
}

/* Pop one element and reply it as a bulk string. */
static void pop_one_reply(client_t *c, quicklist_t *ql, int where) {
    ql_entry_t e;
    long idx = where == QL_HEAD ? 0 : -1;
    ql_index(ql, idx, &e);
    reply_entry(c, &e);
    ql_del_range(ql, idx, 1);
}

/* A popped value copied out of the list (it may be pushed back into the
 * same list). */
typedef struct popped {
    unsigned char small[64];
    unsigned char *p;
    size_t len;
} popped_t;

static void popped_take(popped_t *v, quicklist_t *ql, int where) {
    ql_entry_t e;
    unsigned char buf[KL_LLSTR_SIZE];
    long idx = where == QL_HEAD ? 0 : -1;
    ql_index(ql, idx, &e);
    const unsigned char *b = ql_entry_bytes(&e, buf, &v->len);
    v->p = v->len <= sizeof v->small ? v->small : kl_malloc(v->len);
    if (v->len) memcpy(v->p, b, v->len);
    ql_del_range(ql, idx, 1);
}

static void popped_release(popped_t *v) {
    if (v->p != v->small) kl_free(v->p);
}

/* ---------------------------------------------------------------- pushes */

static void push_generic(client_t *c, int where, bool xx) {
    const resp_arg_t *k = &c->argv[1];
    bool wrong;
    kobj_t *o = lookup(c, k, true, &wrong);
    if (wrong) return;
    bool fresh = o == NULL;
    if (fresh) {
        if (xx) {
            reply_int(c, 0);
            return;
        }
        o = list_new();
    }
    quicklist_t *ql = qlof(o);
    for (uint32_t j = 2; j < c->argc; j++)
        ql_push(ql, where, ub(&c->argv[j]), c->argv[j].len);
    prop_changes(c->argc - 2);
    if (fresh)
        db_add(c->db, k->ptr, k->len, o);
    else
        db_key_modified(c->db, k->ptr, k->len);
    reply_int(c, (long long)ql_count(ql));
    notify_keyspace_event(KL_NOTIFY_LIST, where == QL_HEAD ? "lpush" : "rpush", k->ptr, k->len,
                          c->db->id);
}

static void list_lpush_cmd(client_t *c) {
    push_generic(c, QL_HEAD, false);
}
static void list_rpush_cmd(client_t *c) {
    push_generic(c, QL_TAIL, false);
}
static void list_lpushx_cmd(client_t *c) {
    push_generic(c, QL_HEAD, true);
}
static void list_rpushx_cmd(client_t *c) {
    push_generic(c, QL_TAIL, true);
}

/* ---------------------------------------------------------------- pops */

static void pop_generic(client_t *c, int where) {
    const resp_arg_t *k = &c->argv[1];
    bool hascount = c->argc == 3;
    long long count = 0;
    bool wrong;
    if (c->argc > 3) {
        reply_arity(c);
        return;
    }
    if (hascount && arg_positive(c, &c->argv[2], &count, NULL)) return;
    kobj_t *o = lookup(c, k, true, &wrong);
    if (wrong) return;
    if (!o) {
        if (hascount)
            reply_null_array(c);
        else
            reply_null(c);
        return;
    }
    if (hascount && count == 0) {
        reply_array(c, 0);
        return;
    }
    quicklist_t *ql = qlof(o);
    long n = 1;
    if (!hascount) {
        pop_one_reply(c, ql, where);
    } else {
        n = count > (long long)ql_count(ql) ? (long)ql_count(ql) : (long)count;
        pop_range_reply(c, ql, where, n);
    }
    elements_removed(c, k, where, o, n);
}

static void list_lpop_cmd(client_t *c) {
    pop_generic(c, QL_HEAD);
}
static void list_rpop_cmd(client_t *c) {
    pop_generic(c, QL_TAIL);
}

/* ---------------------------------------------------------------- reads */

static void list_llen_cmd(client_t *c) {
    bool wrong;
    kobj_t *o = lookup(c, &c->argv[1], false, &wrong);
    if (wrong) return;
    reply_int(c, o ? (long long)ql_count(qlof(o)) : 0);
}

static void list_lrange_cmd(client_t *c) {
    long long start, end;
    bool wrong;
    if (arg_ll(c, &c->argv[2], &start) || arg_ll(c, &c->argv[3], &end)) return;
    kobj_t *o = lookup(c, &c->argv[1], false, &wrong);
    if (wrong) return;
    if (!o) {
        reply_array(c, 0);
        return;
    }
    quicklist_t *ql = qlof(o);
    long long llen = (long long)ql_count(ql);
    if (start < 0) start += llen;
    if (end < 0) end += llen;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        reply_array(c, 0);
        return;
    }
    if (end >= llen) end = llen - 1;
    long long n = end - start + 1;
    ql_iter_t it;
    ql_entry_t e;
    reply_array(c, (long)n);
    ql_iter_init(&it, ql, QL_FORWARD, (long)start);
    for (long long i = 0; i < n && ql_iter_next(&it, &e); i++)
        reply_entry(c, &e);
    ql_iter_done(&it);
}

static void list_lindex_cmd(client_t *c) {
    bool wrong;
    long long idx;
    kobj_t *o = lookup(c, &c->argv[1], false, &wrong);
    if (wrong) return;
    if (!o) {
        reply_null(c);
        return;
    }
    if (arg_ll(c, &c->argv[2], &idx)) return;
    ql_entry_t e;
    if (ql_index(qlof(o), (long)idx, &e))
        reply_entry(c, &e);
    else
        reply_null(c);
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
static void list_lpos_cmd(client_t *c) {
    long long rank = 1, count = -1, maxlen = 0;
    bool wrong;
    for (uint32_t j = 3; j < c->argc; j++) {
        const resp_arg_t *a = &c->argv[j];
        bool more = j + 1 < c->argc;
        if (arg_is(a, "rank") && more) {
            if (arg_ll(c, &c->argv[++j], &rank)) return;
            if (rank == 0) {
                reply_error(c, "ERR RANK can't be zero: use 1 to start from the first match, 2 "
                               "from the second ... or use negative to start from the end of "
                               "the list");
                return;
            }
        } else if (arg_is(a, "count") && more) {
            if (arg_positive(c, &c->argv[++j], &count, "ERR COUNT can't be negative")) return;
        } else if (arg_is(a, "maxlen") && more) {
            if (arg_positive(c, &c->argv[++j], &maxlen, "ERR MAXLEN can't be negative")) return;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    /* A negative rank scans from the tail. Redis negates it in a long, so
     * RANK LLONG_MIN stays negative there: every match qualifies and COUNT
     * never stops the scan. Reproduce that instead of overflowing. */
    int dir = QL_FORWARD;
    bool wrapped = false;
    if (rank < 0) {
        dir = QL_BACKWARD;
        if (rank == LLONG_MIN)
            wrapped = true;
        else
            rank = -rank;
    }
    kobj_t *o = lookup(c, &c->argv[1], false, &wrong);
    if (wrong) return;
    if (!o) {
        if (count != -1)
            reply_array(c, 0);
        else
            reply_null(c);
        return;
    }
    quicklist_t *ql = qlof(o);
    long long llen = (long long)ql_count(ql);
    reply_deferred_t d = {0};
    if (count != -1) d = reply_defer(c);
    ql_key_t key;
    ql_key_init(&key, ub(&c->argv[2]), c->argv[2].len);
    ql_iter_t it;
    ql_entry_t e;
    long long index = 0, matches = 0, found = -1, arraylen = 0;
    ql_iter_init(&it, ql, dir, dir == QL_FORWARD ? 0 : -1);
    while ((maxlen == 0 || index < maxlen) && ql_iter_next(&it, &e)) {
        if (ql_entry_eq(&e, &key)) {
            matches++;
            long long pos = dir == QL_FORWARD ? index : llen - index - 1;
            if (wrapped || matches >= rank) {
                if (count == -1) {
                    found = pos;
                    break;
                }
                arraylen++;
                reply_int(c, pos);
                if (!wrapped && count && matches - rank + 1 >= count) break;
            }
        }
        index++;
    }
    ql_iter_done(&it);
    if (count != -1)
        reply_set_array_len(c, d, (long)arraylen);
    else if (found != -1)
        reply_int(c, found);
    else
        reply_null(c);
}

/* ---------------------------------------------------------------- writes */

static void list_lset_cmd(client_t *c) {
    const resp_arg_t *k = &c->argv[1];
    bool wrong;
    long long idx;
    kobj_t *o = lookup(c, k, true, &wrong);
    if (wrong) return;
    if (!o) {
        reply_error(c, "ERR no such key");
        return;
    }
    if (arg_ll(c, &c->argv[2], &idx)) return;
    if (!ql_replace_at(qlof(o), (long)idx, ub(&c->argv[3]), c->argv[3].len)) {
        reply_error(c, "ERR index out of range");
        return;
    }
    reply_ok(c);
    db_key_modified(c->db, k->ptr, k->len);
    notify_keyspace_event(KL_NOTIFY_LIST, "lset", k->ptr, k->len, c->db->id);
    prop_changes(1);
}

/* LINSERT key BEFORE|AFTER pivot element */
static void list_linsert_cmd(client_t *c) {
    const resp_arg_t *k = &c->argv[1];
    bool after, wrong;
    if (arg_is(&c->argv[2], "after")) {
        after = true;
    } else if (arg_is(&c->argv[2], "before")) {
        after = false;
    } else {
        reply_syntax_error(c);
        return;
    }
    kobj_t *o = lookup(c, k, true, &wrong);
    if (wrong) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    quicklist_t *ql = qlof(o);
    ql_key_t pivot;
    ql_key_init(&pivot, ub(&c->argv[3]), c->argv[3].len);
    ql_iter_t it;
    ql_entry_t e;
    long at = -1;
    ql_iter_init(&it, ql, QL_FORWARD, 0);
    while (ql_iter_next(&it, &e)) {
        if (ql_entry_eq(&e, &pivot)) {
            at = ql_iter_index(&it);
            break;
        }
    }
    ql_iter_done(&it);
    if (at < 0) {
        reply_int(c, -1);
        return;
    }
    ql_insert_at(ql, at + (after ? 1 : 0), ub(&c->argv[4]), c->argv[4].len);
    db_key_modified(c->db, k->ptr, k->len);
    notify_keyspace_event(KL_NOTIFY_LIST, "linsert", k->ptr, k->len, c->db->id);
    prop_changes(1);
    reply_int(c, (long long)ql_count(ql));
}

/* LREM key count element */
static void list_lrem_cmd(client_t *c) {
    const resp_arg_t *k = &c->argv[1];
    long long count;
    bool wrong;
    if (arg_ll(c, &c->argv[2], &count)) return;
    kobj_t *o = lookup(c, k, true, &wrong);
    if (wrong) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    quicklist_t *ql = qlof(o);
    /* count < 0 removes from the tail; LLONG_MIN means "all", as the
     * negation overflows in Redis and no limit is ever reached. */
    int dir = count < 0 ? QL_BACKWARD : QL_FORWARD;
    unsigned long long limit = count == LLONG_MIN ? 0
                               : count < 0        ? (unsigned long long)-count
                                                  : (unsigned long long)count;
    ql_key_t key;
    ql_key_init(&key, ub(&c->argv[3]), c->argv[3].len);
    ql_iter_t it;
    ql_entry_t e;
    unsigned long long removed = 0;
    ql_iter_init(&it, ql, dir, dir == QL_FORWARD ? 0 : -1);
    while (ql_iter_next(&it, &e)) {
        if (ql_entry_eq(&e, &key)) {
            ql_iter_del(&it);
            removed++;
            if (limit && removed == limit) break;
        }
    }
    ql_iter_done(&it);
    if (removed) {
        db_key_modified(c->db, k->ptr, k->len);
        notify_keyspace_event(KL_NOTIFY_LIST, "lrem", k->ptr, k->len, c->db->id);
        prop_changes(removed);
    }
    if (ql_count(ql) == 0) {
        db_delete(c->db, k->ptr, k->len);
        notify_keyspace_event(KL_NOTIFY_GENERIC, "del", k->ptr, k->len, c->db->id);
    }
    reply_int(c, (long long)removed);
}

/* LTRIM key start stop */
static void list_ltrim_cmd(client_t *c) {
    const resp_arg_t *k = &c->argv[1];
    long long start, end;
    bool wrong;
    if (arg_ll(c, &c->argv[2], &start) || arg_ll(c, &c->argv[3], &end)) return;
    kobj_t *o = lookup(c, k, true, &wrong);
    if (wrong) return;
    if (!o) {
        reply_ok(c);
        return;
    }
    quicklist_t *ql = qlof(o);
    long long llen = (long long)ql_count(ql), ltrim, rtrim;
    if (start < 0) start += llen;
    if (end < 0) end += llen;
    if (start < 0) start = 0;
    if (start > end || start >= llen) {
        ltrim = llen;
        rtrim = 0;
    } else {
        if (end >= llen) end = llen - 1;
        ltrim = start;
        rtrim = llen - end - 1;
    }
    if (ltrim) ql_del_range(ql, 0, (unsigned long)ltrim);
    if (rtrim) ql_del_range(ql, -rtrim, (unsigned long)rtrim);
    notify_keyspace_event(KL_NOTIFY_LIST, "ltrim", k->ptr, k->len, c->db->id);
    if (ql_count(ql) == 0) {
        db_delete(c->db, k->ptr, k->len);
        notify_keyspace_event(KL_NOTIFY_GENERIC, "del", k->ptr, k->len, c->db->id);
    } else {
        db_key_modified(c->db, k->ptr, k->len);
    }
    prop_changes((uint64_t)(ltrim + rtrim));
    reply_ok(c);
}

/* ---------------------------------------------------------------- moves */

/* Which command runs lmove_generic: LMOVE and RPOPLPUSH propagate as
 * received, the blocking forms as their plain ones. */
enum { MOVE_PLAIN = 0, MOVE_BLMOVE = 1, MOVE_BRPOPLPUSH = 2 };

/* LMOVE's body (Redis's lmoveGenericCommand): argv[1] is the source,
 * argv[2] the destination. */
static void lmove_generic(client_t *c, int from, int to, int kind) {
    const resp_arg_t *sk = &c->argv[1], *dk = &c->argv[2];
    bool wrong;
    kobj_t *src = lookup(c, sk, true, &wrong);
    if (wrong) return;
    if (!src) {
        reply_null(c);
        return;
    }
    kobj_t *dst = lookup(c, dk, true, &wrong);
    if (wrong) return;
    popped_t v;
    popped_take(&v, qlof(src), from);
    bool fresh = dst == NULL;
    if (fresh) dst = list_new();
    ql_push(qlof(dst), to, v.p, v.len);
    if (fresh)
        db_add(c->db, dk->ptr, dk->len, dst);
    else
        db_key_modified(c->db, dk->ptr, dk->len);
    notify_keyspace_event(KL_NOTIFY_LIST, to == QL_HEAD ? "lpush" : "rpush", dk->ptr, dk->len,
                          c->db->id);
    reply_bulk(c, (const char *)v.p, v.len);
    popped_release(&v);
    /* src may be dst itself: it is deleted only when it ended up empty. */
    notify_keyspace_event(KL_NOTIFY_LIST, from == QL_HEAD ? "lpop" : "rpop", sk->ptr, sk->len,
                          c->db->id);
    if (ql_count(qlof(src)) == 0) {
        db_delete(c->db, sk->ptr, sk->len);
        notify_keyspace_event(KL_NOTIFY_GENERIC, "del", sk->ptr, sk->len, c->db->id);
    } else {
        db_key_modified(c->db, sk->ptr, sk->len);
    }
    if (kind == MOVE_PLAIN) {
        prop_changes(1);
        return;
    }
    /* BLMOVE -> LMOVE, BRPOPLPUSH -> RPOPLPUSH. Served at once they count
     * one change and BLMOVE keeps the directions as the client spelt them;
     * served later (a re-run) Redis counts nothing, propagates anyway and
     * spells them "left"/"right". */
    bool later = block_rerunning(c);
    if (later)
        prop_force(PROP_ALL);
    else
        prop_changes(1);
    if (!prop_wanted()) return;
    if (kind == MOVE_BRPOPLPUSH) {
        prop_arg_t pv[3] = {PROP_STR("RPOPLPUSH"), prop_arg(sk), prop_arg(dk)};
        prop_rewrite(pv, 3);
        return;
    }
    prop_arg_t pv[5] = {PROP_STR("LMOVE"), prop_arg(sk), prop_arg(dk), prop_arg(&c->argv[3]),
                        prop_arg(&c->argv[4])};
    if (later) {
        pv[3] = from == QL_HEAD ? PROP_STR("left") : PROP_STR("right");
        pv[4] = to == QL_HEAD ? PROP_STR("left") : PROP_STR("right");
    }
    prop_rewrite(pv, 5);
}

static void list_lmove_cmd(client_t *c) {
    int from, to;
    if (arg_where(c, &c->argv[3], &from) || arg_where(c, &c->argv[4], &to)) return;
    lmove_generic(c, from, to, MOVE_PLAIN);
}

static void list_rpoplpush_cmd(client_t *c) {
    lmove_generic(c, QL_TAIL, QL_HEAD, MOVE_PLAIN);
}

/* BLMOVE / BRPOPLPUSH once the timeout is parsed. */
static void blmove_generic(client_t *c, int from, int to, int64_t abs_ms, int kind) {
    bool wrong;
    kobj_t *src = lookup(c, &c->argv[1], true, &wrong);
    if (wrong) return;
    if (src) {
        lmove_generic(c, from, to, kind);
        return;
    }
    /* Inside EXEC block_for_keys answers with BLMOVE's null bulk string. */
    block_for_keys(c, &c->argv[1], 1, abs_ms);
}

static void list_blmove_cmd(client_t *c) {
    int from, to;
    int64_t abs_ms;
    if (arg_where(c, &c->argv[3], &from) || arg_where(c, &c->argv[4], &to)) return;
    if (block_parse_timeout(c, &c->argv[5], &abs_ms)) return;
    blmove_generic(c, from, to, abs_ms, MOVE_BLMOVE);
}

static void list_brpoplpush_cmd(client_t *c) {
    int64_t abs_ms;
    if (block_parse_timeout(c, &c->argv[3], &abs_ms)) return;
    blmove_generic(c, QL_TAIL, QL_HEAD, abs_ms, MOVE_BRPOPLPUSH);
}

/* ---------------------------------------------------------------- multi-key pops */

/* Pop from the first non-empty list among keys[0..n). count < 0: one element
 * replied as [key, value] (BLPOP); else up to count as [key, [values]]
 * (LMPOP). Returns 1 when served, 0 when every key is empty, -1 after a
 * WRONGTYPE reply. Propagated as LPOP/RPOP key (BLPOP) or LPOP/RPOP key n
 * with the number popped (LMPOP, BLMPOP); a BLPOP served later counts no
 * change (Redis 7.0), a BLMPOP its elements. */
static int mpop_serve(client_t *c, const resp_arg_t *keys, long n, int where, long long count) {
    for (long j = 0; j < n; j++) {
        const resp_arg_t *k = &keys[j];
        bool wrong;
        kobj_t *o = lookup(c, k, true, &wrong);
        if (wrong) return -1;
        if (!o) continue;
        quicklist_t *ql = qlof(o);
        long popped = 1;
        reply_array(c, 2);
        reply_bulk(c, k->ptr, k->len);
        if (count < 0) {
            pop_one_reply(c, ql, where);
        } else {
            popped = count > (long long)ql_count(ql) ? (long)ql_count(ql) : (long)count;
            pop_range_reply(c, ql, where, popped);
        }
        bool later = count < 0 && block_rerunning(c);
        elements_removed(c, k, where, o, later ? 0 : popped);
        if (later) prop_force(PROP_ALL);
        propagate_pop(k, where, count < 0 ? -1 : popped);
        return 1;
    }
    return 0;
}

static void bpop_generic(client_t *c, int where) {
    int64_t abs_ms;
    if (block_parse_timeout(c, &c->argv[c->argc - 1], &abs_ms)) return;
    int nkeys = (int)c->argc - 2;
    if (mpop_serve(c, &c->argv[1], nkeys, where, -1) != 0) return;
    block_for_keys(c, &c->argv[1], nkeys, abs_ms);
}

static void list_blpop_cmd(client_t *c) {
    bpop_generic(c, QL_HEAD);
}
static void list_brpop_cmd(client_t *c) {
    bpop_generic(c, QL_TAIL);
}

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count], and BLMPOP with the
 * timeout before numkeys (first = index of numkeys). Redis checks numkeys,
 * the direction and COUNT before the timeout. */
static void lmpop_generic(client_t *c, uint32_t first, bool blocking) {
    long long numkeys, count = -1;
    int where;
    if (arg_ll_range(c, &c->argv[first], 1, LLONG_MAX, &numkeys,
                     "ERR numkeys should be greater than 0"))
        return;
    if (numkeys >= (long long)c->argc - first - 1) { /* no room for LEFT|RIGHT */
        reply_syntax_error(c);
        return;
    }
    uint32_t where_idx = first + 1 + (uint32_t)numkeys;
    if (arg_where(c, &c->argv[where_idx], &where)) return;
    for (uint32_t j = where_idx + 1; j < c->argc; j++) {
        if (count == -1 && arg_is(&c->argv[j], "count") && j + 1 < c->argc) {
            j++;
            if (arg_ll_range(c, &c->argv[j], 1, LLONG_MAX, &count,
                             "ERR count should be greater than 0"))
                return;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (count == -1) count = 1;
    const resp_arg_t *keys = &c->argv[first + 1];
    if (!blocking) {
        if (mpop_serve(c, keys, (long)numkeys, where, count) == 0) reply_null_array(c);
        return;
    }
    int64_t abs_ms;
    if (block_parse_timeout(c, &c->argv[1], &abs_ms)) return;
    if (mpop_serve(c, keys, (long)numkeys, where, count) != 0) return;
    block_for_keys(c, keys, (int)numkeys, abs_ms);
}

static void list_lmpop_cmd(client_t *c) {
    lmpop_generic(c, 1, false);
}
static void list_blmpop_cmd(client_t *c) {
    lmpop_generic(c, 2, true);
}

/* ---------------------------------------------------------------- table */

#define CX_PUSH                                                                                    \
    "O(1) for each element added, so O(N) to add N elements when the command is called with "      \
    "multiple arguments."
#define CX_MPOP                                                                                    \
    "O(N+M) where N is the number of provided keys and M is the number of elements returned."
#define SUM_BMOVE                                                                                  \
    "Pop an element from a list, push it to another list and return it; or block until one is "    \
    "available"

kl_command_t cmds_list[] = {
    {
        .name = "lpush",
        .proc = list_lpush_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Prepend one or multiple elements to a list",
        .complexity = CX_PUSH,
        .acl_cats = "@write @list @fast",
    },
    {
        .name = "rpush",
        .proc = list_rpush_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Append one or multiple elements to a list",
        .complexity = CX_PUSH,
        .acl_cats = "@write @list @fast",
    },
    {
        .name = "lpushx",
        .proc = list_lpushx_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "2.2.0",
        .summary = "Prepend an element to a list, only if the list exists",
        .complexity = CX_PUSH,
        .acl_cats = "@write @list @fast",
    },
    {
        .name = "rpushx",
        .proc = list_rpushx_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "2.2.0",
        .summary = "Append an element to a list, only if the list exists",
        .complexity = CX_PUSH,
        .acl_cats = "@write @list @fast",
    },
    {
        .name = "lpop",
        .proc = list_lpop_cmd,
        .arity = -2,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Remove and get the first elements in a list",
        .complexity = "O(N) where N is the number of elements returned",
        .acl_cats = "@write @list @fast",
    },
    {
        .name = "rpop",
        .proc = list_rpop_cmd,
        .arity = -2,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Remove and get the last elements in a list",
        .complexity = "O(N) where N is the number of elements returned",
        .acl_cats = "@write @list @fast",
    },
    {
        .name = "llen",
        .proc = list_llen_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Get the length of a list",
        .complexity = "O(1)",
        .acl_cats = "@read @list @fast",
    },
    {
        .name = "lrange",
        .proc = list_lrange_cmd,
        .arity = 4,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Get a range of elements from a list",
        .complexity =
            "O(S+N) where S is the distance of start offset from HEAD for small lists, from "
            "nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the "
            "specified range.",
        .acl_cats = "@read @list @slow",
    },
    {
        .name = "lindex",
        .proc = list_lindex_cmd,
        .arity = 3,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Get an element from a list by its index",
        .complexity =
            "O(N) where N is the number of elements to traverse to get to the element at index. "
            "This makes asking for the first or the last element of the list O(1).",
        .acl_cats = "@read @list @slow",
    },
    {
        .name = "lset",
        .proc = list_lset_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Set the value of an element in a list by its index",
        .complexity =
            "O(N) where N is the length of the list. Setting either the first or the last "
            "element of the list is O(1).",
        .acl_cats = "@write @list @slow",
    },
    {
        .name = "linsert",
        .proc = list_linsert_cmd,
        .arity = 5,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "2.2.0",
        .summary = "Insert an element before or after another element in a list",
        .complexity =
            "O(N) where N is the number of elements to traverse before seeing the value pivot. "
            "This means that inserting somewhere on the left end on the list (head) can be "
            "considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        .acl_cats = "@write @list @slow",
    },
    {
        .name = "lrem",
        .proc = list_lrem_cmd,
        .arity = 4,
        .flags = CMD_WRITE,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Remove elements from a list",
        .complexity =
            "O(N+M) where N is the length of the list and M is the number of elements removed.",
        .acl_cats = "@write @list @slow",
    },
    {
        .name = "ltrim",
        .proc = list_ltrim_cmd,
        .arity = 4,
        .flags = CMD_WRITE,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "1.0.0",
        .summary = "Trim a list to the specified range",
        .complexity = "O(N) where N is the number of elements to be removed by the operation.",
        .acl_cats = "@write @list @slow",
    },
    {
        .name = "lpos",
        .proc = list_lpos_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "list",
        .since = "6.0.6",
        .summary = "Return the index of matching elements on a list",
        .complexity =
            "O(N) where N is the number of elements in the list, for the average case. When "
            "searching for elements near the head or the tail of the list, or when the MAXLEN "
            "option is provided, the command may run in constant time.",
        .acl_cats = "@read @list @slow",
    },
    {
        .name = "lmove",
        .proc = list_lmove_cmd,
        .arity = 5,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "list",
        .since = "6.2.0",
        .summary = "Pop an element from a list, push it to another list and return it",
        .complexity = "O(1)",
        .acl_cats = "@write @list @slow",
    },
    {
        .name = "rpoplpush",
        .proc = list_rpoplpush_cmd,
        .arity = 3,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "list",
        .since = "1.2.0",
        .summary = "Remove the last element in a list, prepend it to another list and return it",
        .complexity = "O(1)",
        .acl_cats = "@write @list @slow",
    },
    {
        .name = "lmpop",
        .proc = list_lmpop_cmd,
        .arity = -4,
        .flags = CMD_WRITE,
        .keys = {.numkeys_at = 1},
        .group = "list",
        .since = "7.0.0",
        .summary = "Pop elements from a list",
        .complexity = CX_MPOP,
        .acl_cats = "@write @list @slow",
    },
    {
        .name = "blpop",
        .proc = list_blpop_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING,
        .keys = {.first = 1, .last = -2, .step = 1},
        .group = "list",
        .since = "2.0.0",
        .summary = "Remove and get the first element in a list, or block until one is available",
        .complexity = "O(N) where N is the number of provided keys.",
        .acl_cats = "@write @list @slow @blocking",
    },
    {
        .name = "brpop",
        .proc = list_brpop_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING,
        .keys = {.first = 1, .last = -2, .step = 1},
        .group = "list",
        .since = "2.0.0",
        .summary = "Remove and get the last element in a list, or block until one is available",
        .complexity = "O(N) where N is the number of provided keys.",
        .acl_cats = "@write @list @slow @blocking",
    },
    {
        .name = "blmove",
        .proc = list_blmove_cmd,
        .arity = 6,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT | CMD_BLOCKING,
        .xflags = CMDX_BLOCK_NULL_BULK,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "list",
        .since = "6.2.0",
        .summary = SUM_BMOVE,
        .complexity = "O(1)",
        .acl_cats = "@write @list @slow @blocking",
    },
    {
        .name = "brpoplpush",
        .proc = list_brpoplpush_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT | CMD_BLOCKING,
        .xflags = CMDX_BLOCK_NULL_BULK,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "list",
        .since = "2.2.0",
        .summary = SUM_BMOVE,
        .complexity = "O(1)",
        .acl_cats = "@write @list @slow @blocking",
    },
    {
        .name = "blmpop",
        .proc = list_blmpop_cmd,
        .arity = -5,
        .flags = CMD_WRITE | CMD_BLOCKING,
        .keys = {.numkeys_at = 2},
        .group = "list",
        .since = "7.0.0",
        .summary = "Pop elements from a list, or block until one is available",
        .complexity = CX_MPOP,
        .acl_cats = "@write @list @slow @blocking",
    },
    {0},
};
