/* The set type and its commands (SADD ... SSCAN) with Redis 7.0's replies,
 * errors, encodings and keyspace events.
 *
 * Encodings, as in Redis 7.0 (which has no listpack sets):
 *   - ENC_INTSET (intset.h) while every member is an integer that Redis's
 *     string2ll accepts (kl_str_to_ll) and there are at most
 *     set-max-intset-entries of them (capped at 2^30 like Redis);
 *   - ENC_HASHTABLE otherwise: a dict_t whose entries hold the member bytes
 *     and no value. A set never converts back to an intset by itself, except
 *     where Redis builds a fresh set (the *STORE commands, and SPOP with a
 *     count close to the set's size, which keeps a new set made of the members
 *     that stay), so OBJECT ENCODING agrees with Redis.
 *
 * Replies follow Redis's order wherever it is deterministic: an intset is
 * walked in ascending order, SINTER walks its smallest input (ties keep the
 * argument order, as glibc's stable qsort does for Redis), and SUNION/SDIFF
 * build their result in a temporary set with the same encoding rules, so
 * all-integer results come out sorted exactly as Redis sends them.
 *
 * Thread: executor (every function here). */
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dict.h"
#include "intset.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "notify.h"
#include "object.h"
#include "propagate.h"
#include "reply.h"
#include "server.h"
#include "types.h"
#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- set type */

/* Members are the dict keys; entries carry no value word (keys_only). */

/* Redis's SPOP strategy switch: with count pops from a set of size, when
 * (size - count) * SPOP_MOVE_MUL <= count it is cheaper to rebuild the set
 * from the members that stay. */
#define SPOP_MOVE_MUL 5
/* SRANDMEMBER: above count * SRANDMEMBER_SUB_MUL >= size, pick by shuffling
 * the whole set rather than by drawing with rejection. */
#define SRANDMEMBER_SUB_MUL 3

/* One member during an iteration: a string (p != NULL) or an intset integer
 * (p == NULL, ll). */
typedef struct set_elem {
    const char *p;
    size_t len;
    int64_t ll;
} set_elem_t;

/* Iterator over either encoding. The set must not be modified meanwhile
 * (hashtables use an unsafe dict iterator). */
typedef struct set_iter {
    const kobj_t *o;
    uint32_t pos;
    dict_iter_t di;
} set_iter_t;

static size_t intset_cap(void) {
    long long max = g_cfg.set_max_intset_entries;
    /* Redis limits intsets to 2^30 entries whatever the configuration says. */
    if (max >= (1LL << 30)) max = 1LL << 30;
    return (size_t)max;
}

static inline int is_intset(const kobj_t *o) {
    return o->enc == ENC_INTSET;
}

static kobj_t *set_new_intset(void) {
    return obj_new(OBJ_SET, ENC_INTSET, intset_new());
}

static kobj_t *set_new_ht(void) {
    return obj_new(OBJ_SET, ENC_HASHTABLE, dict_create(&kv_set_dict_type));
}

/* Redis's setTypeCreate: an intset when the first member is an integer. */
static kobj_t *set_create_for(const char *p, size_t len) {
    long long v;
    return kl_str_to_ll(p, len, &v) == 0 ? set_new_intset() : set_new_ht();
}

static size_t set_size(const kobj_t *o) {
    return is_intset(o) ? intset_len(o->v.p) : dict_size(o->v.p);
}

/* Rewrite an intset as a hashtable (members as decimal strings). */
static void set_convert_ht(kobj_t *o) {
    intset_t *is = o->v.p;
    dict_t *d = dict_create(&kv_set_dict_type);
    uint32_t n = intset_len(is);
    char buf[KL_LLSTR_SIZE];
    for (uint32_t i = 0; i < n; i++) {
        int len = kl_ll_to_str(buf, sizeof(buf), intset_get(is, i));
        dict_add_or_find(d, buf, (size_t)len, NULL);
    }
    intset_free(is);
    o->v.p = d;
    o->enc = ENC_HASHTABLE;
}

/* Add an integer member; returns 1 if it was new. */
static int set_add_ll(kobj_t *o, int64_t v) {
    if (is_intset(o)) {
        int added;
        o->v.p = intset_add(o->v.p, v, &added);
        if (added && intset_len(o->v.p) > intset_cap()) set_convert_ht(o);
        return added;
    }
    char buf[KL_LLSTR_SIZE];
    int len = kl_ll_to_str(buf, sizeof(buf), v);
    int existed;
    dict_add_or_find(o->v.p, buf, (size_t)len, &existed);
    return !existed;
}

/* Redis's setTypeAdd: returns 1 if the member was new. */
static int set_add(kobj_t *o, const char *p, size_t len) {
    if (is_intset(o)) {
        long long v;
        if (kl_str_to_ll(p, len, &v) == 0) return set_add_ll(o, v);
        /* A non-integer cannot be in an intset: convert, then it is new. */
        set_convert_ht(o);
        dict_add_or_find(o->v.p, p, len, NULL);
        return 1;
    }
    int existed;
    dict_add_or_find(o->v.p, p, len, &existed);
    return !existed;
}

static int set_add_elem(kobj_t *o, const set_elem_t *e) {
    return e->p ? set_add(o, e->p, e->len) : set_add_ll(o, e->ll);
}

/* Returns 1 if the member was there (and is now gone). */
static int set_remove(kobj_t *o, const char *p, size_t len) {
    if (is_intset(o)) {
        long long v;
        int removed = 0;
        if (kl_str_to_ll(p, len, &v) == 0) o->v.p = intset_remove(o->v.p, v, &removed);
        return removed;
    }
    return dict_delete(o->v.p, p, len);
}

static int set_remove_elem(kobj_t *o, const set_elem_t *e) {
    if (e->p) return set_remove(o, e->p, e->len);
    if (is_intset(o)) {
        int removed;
        o->v.p = intset_remove(o->v.p, e->ll, &removed);
        return removed;
    }
    char buf[KL_LLSTR_SIZE];
    int len = kl_ll_to_str(buf, sizeof(buf), e->ll);
    return dict_delete(o->v.p, buf, (size_t)len);
}

static int set_has(const kobj_t *o, const char *p, size_t len) {
    if (is_intset(o)) {
        long long v;
        return kl_str_to_ll(p, len, &v) == 0 && intset_find(o->v.p, v);
    }
    return dict_find(o->v.p, p, len) != NULL;
}

static int set_has_elem(const kobj_t *o, const set_elem_t *e) {
    if (e->p) return set_has(o, e->p, e->len);
    if (is_intset(o)) return intset_find(o->v.p, e->ll);
    char buf[KL_LLSTR_SIZE];
    int len = kl_ll_to_str(buf, sizeof(buf), e->ll);
    return dict_find(o->v.p, buf, (size_t)len) != NULL;
}

/* After removals: give memory back like Redis's htNeedsResize/dictResize. */
static void set_maybe_shrink(kobj_t *o) {
    if (!is_intset(o)) dict_try_shrink(o->v.p);
}

static void set_iter_init(set_iter_t *it, const kobj_t *o) {
    it->o = o;
    it->pos = 0;
    if (!is_intset(o)) dict_iter_init(&it->di, o->v.p, 0);
}

/* Returns 1 and fills *e, or 0 at the end. */
static int set_iter_next(set_iter_t *it, set_elem_t *e) {
    if (is_intset(it->o)) {
        if (!intset_get_checked(it->o->v.p, it->pos, &e->ll)) return 0;
        it->pos++;
        e->p = NULL;
        e->len = 0;
        return 1;
    }
    dict_entry_t *de = dict_iter_next(&it->di);
    if (!de) return 0;
    e->p = dict_entry_key(de);
    e->len = dict_entry_klen(de);
    return 1;
}

static void set_iter_done(set_iter_t *it) {
    if (!is_intset(it->o)) dict_iter_done(&it->di);
}

static void reply_elem(client_t *c, const set_elem_t *e) {
    if (e->p)
        reply_bulk(c, e->p, e->len);
    else
        reply_bulk_ll(c, e->ll);
}

/* Reply every member of o in its own order (no length header). */
static void reply_members(client_t *c, const kobj_t *o) {
    set_iter_t it;
    set_elem_t e;
    set_iter_init(&it, o);
    while (set_iter_next(&it, &e))
        reply_elem(c, &e);
    set_iter_done(&it);
}

/* ---------------------------------------------------------------- helpers */

/* Look key up for writing; NULL when missing. *bad is set (after replying
 * WRONGTYPE) when it holds another type. */
static kobj_t *lookup_write_set(client_t *c, const resp_arg_t *k, int *bad) {
    bool wrong;
    kobj_t *o = cmd_lookup_typed(c, k, OBJ_SET, true, &wrong);
    *bad = wrong;
    return o;
}

static kobj_t *lookup_read_set(client_t *c, const resp_arg_t *k, int *bad) {
    bool wrong;
    kobj_t *o = cmd_lookup_typed(c, k, OBJ_SET, false, &wrong);
    *bad = wrong;
    return o;
}

static void notify_set(client_t *c, const char *event, const resp_arg_t *k) {
    notify_keyspace_event(KL_NOTIFY_SET, event, k->ptr, k->len, c->db->id);
}

static void notify_del(client_t *c, const resp_arg_t *k) {
    notify_keyspace_event(KL_NOTIFY_GENERIC, "del", k->ptr, k->len, c->db->id);
}

/* The set at k became empty: drop the key as Redis does. */
static void delete_emptied(client_t *c, const resp_arg_t *k) {
    db_delete(c->db, k->ptr, k->len);
    notify_del(c, k);
}

/* ---------------------------------------------------------------- SADD SREM SCARD */

static void set_sadd_cmd(client_t *c) {
    const resp_arg_t *k = &c->argv[1];
    int bad;
    kobj_t *o = lookup_write_set(c, k, &bad);
    if (bad) return;
    if (!o) {
        o = set_create_for(c->argv[2].ptr, c->argv[2].len);
        db_add(c->db, k->ptr, k->len, o);
    }
    long long added = 0;
    for (uint32_t j = 2; j < c->argc; j++)
        added += set_add(o, c->argv[j].ptr, c->argv[j].len);
    if (added) {
        db_key_modified(c->db, k->ptr, k->len);
        notify_set(c, "sadd", k);
        prop_changes((uint64_t)added);
    }
    reply_int(c, added);
}

static void set_srem_cmd(client_t *c) {
    const resp_arg_t *k = &c->argv[1];
    int bad;
    kobj_t *o = lookup_write_set(c, k, &bad);
    if (bad) return;
    if (!o) {
        reply_int(c, 0);
        return;
    }
    long long deleted = 0;
    int emptied = 0;
    for (uint32_t j = 2; j < c->argc; j++) {
        if (!set_remove(o, c->argv[j].ptr, c->argv[j].len)) continue;
        deleted++;
        if (set_size(o) == 0) {
            emptied = 1;
            break;
        }
    }
    if (deleted) {
        if (emptied)
            db_delete(c->db, k->ptr, k->len);
        else
            set_maybe_shrink(o);
        db_key_modified(c->db, k->ptr, k->len);
        notify_set(c, "srem", k);
        if (emptied) notify_del(c, k);
        prop_changes((uint64_t)deleted);
    }
    reply_int(c, deleted);
}

static void set_scard_cmd(client_t *c) {
    int bad;
    kobj_t *o = lookup_read_set(c, &c->argv[1], &bad);
    if (bad) return;
    reply_int(c, o ? (long long)set_size(o) : 0);
}

/* ---------------------------------------------------------------- SISMEMBER SMISMEMBER */

static void set_sismember_cmd(client_t *c) {
    int bad;
    kobj_t *o = lookup_read_set(c, &c->argv[1], &bad);
    if (bad) return;
    reply_int(c, o && set_has(o, c->argv[2].ptr, c->argv[2].len));
}

static void set_smismember_cmd(client_t *c) {
    int bad;
    kobj_t *o = lookup_read_set(c, &c->argv[1], &bad);
    if (bad) return;
    reply_array(c, (long)c->argc - 2);
    for (uint32_t j = 2; j < c->argc; j++)
        reply_int(c, o && set_has(o, c->argv[j].ptr, c->argv[j].len));
}

/* ---------------------------------------------------------------- SMOVE */

static void set_smove_cmd(client_t *c) {
    const resp_arg_t *sk = &c->argv[1], *dk = &c->argv[2], *m = &c->argv[3];
    kdb_t *db = c->db;
    kobj_t *src = db_lookup_write(db, sk->ptr, sk->len);
    kobj_t *dst = db_lookup_write(db, dk->ptr, dk->len);
    /* A missing source wins over a destination of the wrong type. */
    if (!src) {
        reply_int(c, 0);
        return;
    }
    if (src->type != OBJ_SET || (dst && dst->type != OBJ_SET)) {
        reply_wrongtype(c);
        return;
    }
    if (src == dst) {
        reply_int(c, set_has(src, m->ptr, m->len));
        return;
    }
    if (!set_remove(src, m->ptr, m->len)) {
        reply_int(c, 0);
        return;
    }
    notify_set(c, "srem", sk);
    if (set_size(src) == 0)
        delete_emptied(c, sk);
    else
        set_maybe_shrink(src);
    if (!dst) {
        dst = set_create_for(m->ptr, m->len);
        db_add(db, dk->ptr, dk->len, dst);
    }
    db_key_modified(db, sk->ptr, sk->len);
    prop_changes(1);
    /* A second change when the member was new in the destination (Redis). */
    if (set_add(dst, m->ptr, m->len)) {
        db_key_modified(db, dk->ptr, dk->len);
        notify_set(c, "sadd", dk);
        prop_changes(1);
    }
    reply_int(c, 1);
}

/* ---------------------------------------------------------------- SPOP */

/* SPOP is random: what reaches an AOF or a replica is its effect, one
 * "SREM key member" per popped member (Redis 7.0; the batched SREM came in
 * 7.2). also: queue it as an extra command (SPOP with a count), else make it
 * the running command's propagated form. */
static void propagate_srem(client_t *c, const resp_arg_t *k, const set_elem_t *e, bool also) {
    if (!prop_wanted()) return;
    char buf[KL_LLSTR_SIZE];
    prop_arg_t v[3] = {PROP_STR("SREM"), prop_arg(k), {e->p, e->len}};
    if (!e->p) v[2] = (prop_arg_t){buf, (size_t)kl_ll_to_str(buf, sizeof(buf), e->ll)};
    if (also)
        prop_also(c->db->id, v, 3);
    else
        prop_rewrite(v, 3);
}

/* Remove a random member, replying it as a bulk string and propagating it
 * as an SREM (see propagate_srem). */
static void pop_one_reply(client_t *c, const resp_arg_t *k, kobj_t *o, bool also) {
    set_elem_t e = {NULL, 0, 0};
    if (is_intset(o)) {
        uint32_t pos = intset_random_pos(o->v.p);
        e.ll = intset_get(o->v.p, pos);
        reply_bulk_ll(c, e.ll);
        propagate_srem(c, k, &e, also);
        o->v.p = intset_remove_at(o->v.p, pos);
        return;
    }
    dict_entry_t *de = dict_random_entry(o->v.p);
    e.p = dict_entry_key(de);
    e.len = dict_entry_klen(de);
    reply_bulk(c, e.p, e.len);
    propagate_srem(c, k, &e, also);
    dict_delete(o->v.p, e.p, e.len);
}

static void spop_with_count(client_t *c) {
    const resp_arg_t *k = &c->argv[1];
    long long l;
    if (arg_ll_range(c, &c->argv[2], 0, LLONG_MAX, &l,
                     "ERR value is out of range, must be positive") != 0)
        return;
    int bad;
    kobj_t *o = lookup_write_set(c, k, &bad);
    if (bad) return;
    if (!o || l == 0) {
        reply_set(c, 0);
        return;
    }
    size_t count = (size_t)l, size = set_size(o);
    notify_set(c, "spop", k);
    prop_changes(count >= size ? size : count);

    /* Everything goes: reply the whole set and drop the key. Redis replies
     * through its SUNION code here, whose read lookup counts a keyspace hit:
     * count it too so INFO stats agree. */
    if (count >= size) {
        g_kv.stat.keyspace_hits++;
        reply_set(c, (long)size);
        reply_members(c, o);
        delete_emptied(c, k);
        /* Propagated as DEL (7.0.15 says DEL even with
         * lazyfree-lazy-server-del; UNLINK came in 7.2). */
        prop_arg_t v[2] = {PROP_STR("DEL"), prop_arg(k)};
        prop_rewrite(v, 2);
        return;
    }
    /* The members go as SREMs queued one by one; SPOP itself does not. */
    prop_prevent();

    size_t remaining = size - count;
    reply_set(c, (long)count);
    if (remaining * SPOP_MOVE_MUL > count) {
        /* Few pops: draw them one by one. */
        for (size_t i = 0; i < count; i++)
            pop_one_reply(c, k, o, true);
        set_maybe_shrink(o);
    } else {
        /* Most of the set goes: move the members that stay into a new set
         * (made as Redis makes it, so its encoding agrees) and reply what is
         * left in the old one, which the new set then replaces. */
        kobj_t *keep = NULL;
        for (size_t i = 0; i < remaining; i++) {
            if (is_intset(o)) {
                uint32_t pos = intset_random_pos(o->v.p);
                int64_t v = intset_get(o->v.p, pos);
                if (!keep) keep = set_new_intset();
                set_add_ll(keep, v);
                o->v.p = intset_remove_at(o->v.p, pos);
            } else {
                dict_entry_t *de = dict_random_entry(o->v.p);
                const char *p = dict_entry_key(de);
                size_t len = dict_entry_klen(de);
                if (!keep) keep = set_create_for(p, len);
                set_add(keep, p, len);
                dict_delete(o->v.p, p, len);
            }
        }
        reply_members(c, o);
        if (prop_wanted()) {
            set_iter_t it;
            set_elem_t e;
            set_iter_init(&it, o);
            while (set_iter_next(&it, &e))
                propagate_srem(c, k, &e, true);
            set_iter_done(&it);
        }
        db_replace_value(c->db, k->ptr, k->len, keep);
    }
    db_key_modified(c->db, k->ptr, k->len);
}

static void set_spop_cmd(client_t *c) {
    if (c->argc == 3) {
        spop_with_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    const resp_arg_t *k = &c->argv[1];
    int bad;
    kobj_t *o = lookup_write_set(c, k, &bad);
    if (bad) return;
    if (!o) {
        reply_null(c);
        return;
    }
    notify_set(c, "spop", k);
    pop_one_reply(c, k, o, false);
    prop_changes(1);
    if (set_size(o) == 0)
        delete_emptied(c, k);
    else
        set_maybe_shrink(o);
    db_key_modified(c->db, k->ptr, k->len);
}

/* ---------------------------------------------------------------- SRANDMEMBER */

/* A small open-addressing set of distinct non-zero 64-bit values (intset
 * positions + 1, or dict entry addresses) for drawing without repetition. */
typedef struct pick_set {
    uint64_t *slot;
    size_t mask;
} pick_set_t;

static void pick_set_init(pick_set_t *s, size_t n) {
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    s->slot = kl_calloc(cap, sizeof(*s->slot));
    s->mask = cap - 1;
}

/* Returns 1 if v was added, 0 if already there. v must not be 0. */
static int pick_set_add(pick_set_t *s, uint64_t v) {
    uint64_t h = v * 0x9E3779B97F4A7C15ULL;
    for (size_t i = (size_t)(h >> 20) & s->mask;; i = (i + 1) & s->mask) {
        if (s->slot[i] == v) return 0;
        if (s->slot[i] == 0) {
            s->slot[i] = v;
            return 1;
        }
    }
}

static void reply_entry(client_t *c, const dict_entry_t *de) {
    reply_bulk(c, dict_entry_key(de), dict_entry_klen(de));
}

static void srandmember_with_count(client_t *c) {
    long long l;
    if (kl_str_to_ll(c->argv[2].ptr, c->argv[2].len, &l) != 0) {
        reply_not_integer(c);
        return;
    }
    if (l < -LLONG_MAX) {
        reply_errorf(c, "ERR value is out of range, value must between %lld and %lld", -LLONG_MAX,
                     LLONG_MAX);
        return;
    }
    int uniq = l >= 0;
    unsigned long long count = uniq ? (unsigned long long)l : (unsigned long long)-l;
    int bad;
    kobj_t *o = lookup_read_set(c, &c->argv[1], &bad);
    if (bad) return;
    if (!o || count == 0) {
        reply_array(c, 0);
        return;
    }
    size_t size = set_size(o);

    /* Negative count (or one member): independent draws, repeats allowed. */
    if (!uniq || count == 1) {
        reply_array(c, (long)count);
        while (count--) {
            if ((count & 1023) == 0 && reply_too_big(c)) return;
            if (is_intset(o))
                reply_bulk_ll(c, intset_random(o->v.p));
            else
                reply_entry(c, dict_random_entry(o->v.p));
        }
        return;
    }

    /* Asking for at least the whole set: the whole set. */
    if (count >= size) {
        reply_array(c, (long)size);
        reply_members(c, o);
        return;
    }

    reply_array(c, (long)count);
    if (count * SRANDMEMBER_SUB_MUL > size) {
        /* Close to the whole set: a partial Fisher-Yates shuffle of all
         * members picks count distinct ones in O(size). */
        if (is_intset(o)) {
            uint32_t *pos = kl_malloc(size * sizeof(*pos));
            for (size_t i = 0; i < size; i++)
                pos[i] = (uint32_t)i;
            for (size_t i = 0; i < count; i++) {
                size_t j = i + (size_t)(kl_rand64() % (size - i));
                uint32_t t = pos[i];
                pos[i] = pos[j];
                pos[j] = t;
                reply_bulk_ll(c, intset_get(o->v.p, pos[i]));
            }
            kl_free(pos);
        } else {
            dict_entry_t **ents = kl_malloc(size * sizeof(*ents));
            dict_iter_t it;
            dict_entry_t *de;
            size_t n = 0;
            dict_iter_init(&it, o->v.p, 0);
            while ((de = dict_iter_next(&it)) != NULL && n < size)
                ents[n++] = de;
            dict_iter_done(&it);
            for (size_t i = 0; i < count && i < n; i++) {
                size_t j = i + (size_t)(kl_rand64() % (n - i));
                dict_entry_t *t = ents[i];
                ents[i] = ents[j];
                ents[j] = t;
                reply_entry(c, ents[i]);
            }
            kl_free(ents);
        }
        return;
    }

    /* A small part of the set: random draws, rejecting repeats; with
     * count * 3 <= size the expected number of draws stays below 1.25 * count. */
    pick_set_t seen;
    pick_set_init(&seen, (size_t)count);
    for (size_t got = 0; got < count;) {
        if (is_intset(o)) {
            uint32_t pos = intset_random_pos(o->v.p);
            if (!pick_set_add(&seen, (uint64_t)pos + 1)) continue;
            reply_bulk_ll(c, intset_get(o->v.p, pos));
        } else {
            dict_entry_t *de = dict_random_entry(o->v.p);
            if (!pick_set_add(&seen, (uint64_t)(uintptr_t)de)) continue;
            reply_entry(c, de);
        }
        got++;
    }
    kl_free(seen.slot);
}

static void set_srandmember_cmd(client_t *c) {
    if (c->argc == 3) {
        srandmember_with_count(c);
        return;
    }
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    int bad;
    kobj_t *o = lookup_read_set(c, &c->argv[1], &bad);
    if (bad) return;
    if (!o) {
        reply_null(c);
        return;
    }
    if (is_intset(o))
        reply_bulk_ll(c, intset_random(o->v.p));
    else
        reply_entry(c, dict_random_entry(o->v.p));
}

/* ---------------------------------------------------------------- SINTER family */

typedef struct set_ref {
    kobj_t *o;
    size_t size;
    uint32_t idx; /* argument order: ties keep it (stable sort) */
} set_ref_t;

static int cmp_by_card(const void *a, const void *b) {
    const set_ref_t *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_by_rev_card(const void *a, const void *b) {
    const set_ref_t *x = a, *y = b;
    size_t xs = x->o ? x->size : 0, ys = y->o ? y->size : 0;
    if (xs != ys) return xs > ys ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Look up the n source keys for reading (Redis counts hits and misses for
 * them, also in the *STORE variants). Missing keys are NULL entries and
 * counted in *missing. Returns NULL after replying WRONGTYPE. The array is
 * the caller's (kl_free). */
static set_ref_t *lookup_sources(client_t *c, const resp_arg_t *keys, uint32_t n, size_t *missing) {
    set_ref_t *sets = kl_malloc((size_t)n * sizeof(*sets));
    *missing = 0;
    for (uint32_t j = 0; j < n; j++) {
        kobj_t *o = db_lookup_read(c->db, keys[j].ptr, keys[j].len);
        if (o && o->type != OBJ_SET) {
            kl_free(sets);
            reply_wrongtype(c);
            return NULL;
        }
        sets[j].o = o;
        sets[j].size = o ? set_size(o) : 0;
        sets[j].idx = j;
        if (!o) (*missing)++;
    }
    return sets;
}

/* Store a computed result at dst (or delete dst when it is empty) and reply
 * its size, as Redis's *STORE commands do. Takes ownership of res. */
static void store_result(client_t *c, const resp_arg_t *dst, kobj_t *res, const char *event) {
    size_t n = set_size(res);
    if (n > 0) {
        db_set(c->db, dst->ptr, dst->len, res, false);
        reply_int(c, (long long)n);
        notify_set(c, event, dst);
        prop_changes(1);
        return;
    }
    obj_free(res);
    reply_int(c, 0);
    if (db_delete(c->db, dst->ptr, dst->len)) {
        notify_del(c, dst);
        prop_changes(1);
    }
}

/* SINTER, SMEMBERS, SINTERCARD (card_only, limit 0 = none) and SINTERSTORE
 * (dst != NULL): Redis's sinterGenericCommand. */
static void sinter_generic(client_t *c, const resp_arg_t *keys, uint32_t n, const resp_arg_t *dst,
                           int card_only, unsigned long long limit) {
    size_t missing;
    set_ref_t *sets = lookup_sources(c, keys, n, &missing);
    if (!sets) return;
    if (missing) {
        kl_free(sets);
        if (dst) {
            if (db_delete(c->db, dst->ptr, dst->len)) {
                notify_del(c, dst);
                prop_changes(1);
            }
            reply_int(c, 0);
        } else if (card_only) {
            reply_int(c, 0);
        } else {
            reply_set(c, 0);
        }
        return;
    }
    /* Smallest first: it bounds the work and its order is the reply's. */
    if (n > 1) qsort(sets, n, sizeof(*sets), cmp_by_card);

    kobj_t *first = sets[0].o;
    /* One set (SMEMBERS, or SINTER of one key): every member qualifies. */
    if (n == 1 && !dst && !card_only) {
        reply_set(c, (long)sets[0].size);
        reply_members(c, first);
        kl_free(sets);
        return;
    }

    kobj_t *res = dst ? set_new_intset() : NULL;
    reply_deferred_t d = {0};
    if (!dst && !card_only) d = reply_defer(c);
    unsigned long long card = 0;
    set_iter_t it;
    set_elem_t e;
    set_iter_init(&it, first);
    while (set_iter_next(&it, &e)) {
        uint32_t j;
        for (j = 1; j < n; j++) {
            if (sets[j].o == first) continue;
            if (!set_has_elem(sets[j].o, &e)) break;
        }
        if (j < n) continue;
        if (card_only) {
            card++;
            if (limit && card >= limit) break;
        } else if (!dst) {
            reply_elem(c, &e);
            card++;
        } else {
            set_add_elem(res, &e);
        }
    }
    set_iter_done(&it);
    kl_free(sets);

    if (card_only)
        reply_int(c, (long long)card);
    else if (dst)
        store_result(c, dst, res, "sinterstore");
    else
        reply_set_set_len(c, d, (long)card);
}

static void set_sinter_cmd(client_t *c) {
    sinter_generic(c, &c->argv[1], c->argc - 1, NULL, 0, 0);
}

static void set_smembers_cmd(client_t *c) {
    sinter_generic(c, &c->argv[1], 1, NULL, 0, 0);
}

static void set_sinterstore_cmd(client_t *c) {
    sinter_generic(c, &c->argv[2], c->argc - 2, &c->argv[1], 0, 0);
}

static void set_sintercard_cmd(client_t *c) {
    long long numkeys, limit = 0;
    if (arg_ll_range(c, &c->argv[1], 1, LLONG_MAX, &numkeys,
                     "ERR numkeys should be greater than 0") != 0)
        return;
    if (numkeys > (long long)c->argc - 2) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (uint32_t j = 2 + (uint32_t)numkeys; j < c->argc; j++) {
        int more = (int)(c->argc - 1 - j);
        if (arg_is(&c->argv[j], "limit") && more) {
            j++;
            if (arg_ll_range(c, &c->argv[j], 0, LLONG_MAX, &limit, "ERR LIMIT can't be negative") !=
                0)
                return;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    sinter_generic(c, &c->argv[2], (uint32_t)numkeys, NULL, 1, (unsigned long long)limit);
}

/* ---------------------------------------------------------------- SUNION / SDIFF */

enum { SET_OP_UNION, SET_OP_DIFF };

/* Redis's sunionDiffGenericCommand: the result is built in a temporary set
 * (intset first, converted by the usual rules) and then replied or stored. */
static void sunion_diff_generic(client_t *c, const resp_arg_t *keys, uint32_t n,
                                const resp_arg_t *dst, int op) {
    size_t missing;
    set_ref_t *sets = lookup_sources(c, keys, n, &missing);
    if (!sets) return;
    int sameset = 0;
    for (uint32_t j = 1; j < n; j++)
        if (sets[j].o && sets[j].o == sets[0].o) sameset = 1;

    /* SDIFF: algorithm 1 tests each member of the first set against the
     * others (N*M), algorithm 2 adds the first set and removes the others
     * (total size); pick the cheaper like Redis (same results either way, but
     * the temporary set's encoding, hence the reply order, follows the
     * algorithm). */
    int diff_algo = 1;
    if (op == SET_OP_DIFF && sets[0].o && !sameset) {
        long long one = 0, two = 0;
        for (uint32_t j = 0; j < n; j++) {
            if (!sets[j].o) continue;
            one += (long long)sets[0].size;
            two += (long long)sets[j].size;
        }
        one /= 2;
        diff_algo = one <= two ? 1 : 2;
        if (diff_algo == 1 && n > 1) qsort(sets + 1, n - 1, sizeof(*sets), cmp_by_rev_card);
    }

    kobj_t *res = set_new_intset();
    set_iter_t it;
    set_elem_t e;
    if (op == SET_OP_UNION) {
        for (uint32_t j = 0; j < n; j++) {
            if (!sets[j].o) continue;
            set_iter_init(&it, sets[j].o);
            while (set_iter_next(&it, &e))
                set_add_elem(res, &e);
            set_iter_done(&it);
        }
    } else if (sameset || !sets[0].o) {
        /* A set minus itself, or nothing minus anything: empty. */
    } else if (diff_algo == 1) {
        set_iter_init(&it, sets[0].o);
        while (set_iter_next(&it, &e)) {
            uint32_t j;
            for (j = 1; j < n; j++) {
                if (!sets[j].o) continue;
                if (sets[j].o == sets[0].o || set_has_elem(sets[j].o, &e)) break;
            }
            if (j == n) set_add_elem(res, &e);
        }
        set_iter_done(&it);
    } else {
        long long card = 0;
        for (uint32_t j = 0; j < n; j++) {
            if (!sets[j].o) continue;
            set_iter_init(&it, sets[j].o);
            while (set_iter_next(&it, &e)) {
                if (j == 0)
                    card += set_add_elem(res, &e);
                else
                    card -= set_remove_elem(res, &e);
            }
            set_iter_done(&it);
            if (card == 0) break;
        }
    }
    kl_free(sets);

    if (dst) {
        store_result(c, dst, res, op == SET_OP_UNION ? "sunionstore" : "sdiffstore");
        return;
    }
    reply_set(c, (long)set_size(res));
    reply_members(c, res);
    obj_free(res);
}

static void set_sunion_cmd(client_t *c) {
    sunion_diff_generic(c, &c->argv[1], c->argc - 1, NULL, SET_OP_UNION);
}

static void set_sunionstore_cmd(client_t *c) {
    sunion_diff_generic(c, &c->argv[2], c->argc - 2, &c->argv[1], SET_OP_UNION);
}

static void set_sdiff_cmd(client_t *c) {
    sunion_diff_generic(c, &c->argv[1], c->argc - 1, NULL, SET_OP_DIFF);
}

static void set_sdiffstore_cmd(client_t *c) {
    sunion_diff_generic(c, &c->argv[2], c->argc - 2, &c->argv[1], SET_OP_DIFF);
}

/* ---------------------------------------------------------------- SSCAN */

typedef struct scan_acc {
    const dict_entry_t **e;
    size_t n, cap;
} scan_acc_t;

static void scan_collect(void *priv, dict_entry_t *de) {
    scan_acc_t *s = priv;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->e = kl_realloc(s->e, s->cap * sizeof(*s->e));
    }
    s->e[s->n++] = de;
}

static void set_sscan_cmd(client_t *c) {
    uint64_t cursor;
    if (cmd_parse_scan_cursor(c, &c->argv[2], &cursor) != 0) return;
    int bad;
    kobj_t *o = lookup_read_set(c, &c->argv[1], &bad);
    if (bad) return;
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

    char cbuf[KL_LLSTR_SIZE];
    char nbuf[KL_LLSTR_SIZE];
    if (is_intset(o)) {
        /* Small encodings come back whole, with cursor 0, as in Redis. */
        intset_t *is = o->v.p;
        uint32_t len = intset_len(is);
        reply_array(c, 2);
        reply_bulk(c, "0", 1);
        if (!use_pattern) {
            reply_array(c, (long)len);
            for (uint32_t i = 0; i < len; i++)
                reply_bulk_ll(c, intset_get(is, i));
            return;
        }
        reply_deferred_t d = reply_defer(c);
        long n = 0;
        for (uint32_t i = 0; i < len; i++) {
            int nl = kl_ll_to_str(nbuf, sizeof(nbuf), intset_get(is, i));
            if (!kl_glob_match(pat, plen, nbuf, (size_t)nl, 0)) continue;
            reply_bulk(c, nbuf, (size_t)nl);
            n++;
        }
        reply_set_array_len(c, d, n);
        return;
    }

    scan_acc_t s = {0};
    /* COUNT can be as large as LLONG_MAX: saturate rather than overflow. */
    long long maxiter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    do {
        cursor = dict_scan(o->v.p, cursor, scan_collect, &s);
    } while (cursor && maxiter-- && (long long)s.n < count);
    size_t kept = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (use_pattern &&
            !kl_glob_match(pat, plen, dict_entry_key(s.e[i]), dict_entry_klen(s.e[i]), 0))
            continue;
        s.e[kept++] = s.e[i];
    }
    int clen = kl_ull_to_str(cbuf, sizeof(cbuf), cursor);
    reply_array(c, 2);
    reply_bulk(c, cbuf, (size_t)clen);
    reply_array(c, (long)kept);
    for (size_t i = 0; i < kept; i++)
        reply_entry(c, s.e[i]);
    kl_free(s.e);
}

/* ---------------------------------------------------------------- table */

#define CX_SINTER                                                                                  \
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of "     \
    "sets."
#define CX_TOTAL "O(N) where N is the total number of elements in all given sets."

kl_command_t cmds_set[] = {
    {
        .name = "sadd",
        .proc = set_sadd_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Add one or more members to a set",
        .complexity =
            "O(1) for each element added, so O(N) to add N elements when the command is called "
            "with multiple arguments.",
        .acl_cats = "@write @set @fast",
    },
    {
        .name = "srem",
        .proc = set_srem_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Remove one or more members from a set",
        .complexity = "O(N) where N is the number of members to be removed.",
        .acl_cats = "@write @set @fast",
    },
    {
        .name = "scard",
        .proc = set_scard_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Get the number of members in a set",
        .complexity = "O(1)",
        .acl_cats = "@read @set @fast",
    },
    {
        .name = "sismember",
        .proc = set_sismember_cmd,
        .arity = 3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Determine if a given value is a member of a set",
        .complexity = "O(1)",
        .acl_cats = "@read @set @fast",
    },
    {
        .name = "smismember",
        .proc = set_smismember_cmd,
        .arity = -3,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "set",
        .since = "6.2.0",
        .summary = "Returns the membership associated with the given elements for a set",
        .complexity = "O(N) where N is the number of elements being checked for membership",
        .acl_cats = "@read @set @fast",
    },
    {
        .name = "smembers",
        .proc = set_smembers_cmd,
        .arity = 2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Get all the members in a set",
        .complexity = "O(N) where N is the set cardinality.",
        .acl_cats = "@read @set @slow",
    },
    {
        .name = "spop",
        .proc = set_spop_cmd,
        .arity = -2,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Remove and return one or multiple random members from a set",
        .complexity =
            "Without the count argument O(1), otherwise O(N) where N is the value of the passed "
            "count.",
        .acl_cats = "@write @set @fast",
    },
    {
        .name = "srandmember",
        .proc = set_srandmember_cmd,
        .arity = -2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Get one or multiple random members from a set",
        .complexity =
            "Without the count argument O(1), otherwise O(N) where N is the absolute value of the "
            "passed count.",
        .acl_cats = "@read @set @slow",
    },
    {
        .name = "smove",
        .proc = set_smove_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Move a member from one set to another",
        .complexity = "O(1)",
        .acl_cats = "@write @set @fast",
    },
    {
        .name = "sinter",
        .proc = set_sinter_cmd,
        .arity = -2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Intersect multiple sets",
        .complexity = CX_SINTER,
        .acl_cats = "@read @set @slow",
    },
    {
        .name = "sintercard",
        .proc = set_sintercard_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.numkeys_at = 1},
        .group = "set",
        .since = "7.0.0",
        .summary = "Intersect multiple sets and return the cardinality of the result",
        .complexity = CX_SINTER,
        .acl_cats = "@read @set @slow",
    },
    {
        .name = "sinterstore",
        .proc = set_sinterstore_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Intersect multiple sets and store the resulting set in a key",
        .complexity = CX_SINTER,
        .acl_cats = "@write @set @slow",
    },
    {
        .name = "sunion",
        .proc = set_sunion_cmd,
        .arity = -2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Add multiple sets",
        .complexity = CX_TOTAL,
        .acl_cats = "@read @set @slow",
    },
    {
        .name = "sunionstore",
        .proc = set_sunionstore_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Add multiple sets and store the resulting set in a key",
        .complexity = CX_TOTAL,
        .acl_cats = "@write @set @slow",
    },
    {
        .name = "sdiff",
        .proc = set_sdiff_cmd,
        .arity = -2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Subtract multiple sets",
        .complexity = CX_TOTAL,
        .acl_cats = "@read @set @slow",
    },
    {
        .name = "sdiffstore",
        .proc = set_sdiffstore_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "set",
        .since = "1.0.0",
        .summary = "Subtract multiple sets and store the resulting set in a key",
        .complexity = CX_TOTAL,
        .acl_cats = "@write @set @slow",
    },
    {
        .name = "sscan",
        .proc = set_sscan_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "set",
        .since = "2.8.0",
        .summary = "Incrementally iterate Set elements",
        .complexity =
            "O(1) for every call. O(N) for a complete iteration, including enough command calls "
            "for the cursor to return back to 0. N is the number of elements inside the "
            "collection..",
        .acl_cats = "@read @set @slow",
    },
    {0},
};
