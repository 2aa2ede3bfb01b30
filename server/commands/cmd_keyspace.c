/* The generic keyspace commands: DEL, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY,
 * RENAME, MOVE, COPY, TOUCH, the EXPIRE/TTL family, PERSIST and OBJECT, with
 * Redis 7.0's replies and error texts.
 *
 * Everything here works on any value type through the kobj_t helpers
 * (obj_type_name, obj_encoding_name, obj_dup), so the data types that come
 * later need nothing from this file.
 *
 * Thread: executor (every function here). */
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "dict.h"
#include "evict.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "notify.h"
#include "object.h"
#include "propagate.h"
#include "reply.h"
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* Redis's lookupKeyReadWithFlags(LOOKUP_NOTOUCH): expire the key if its TTL
 * passed, count a keyspace hit or miss, but leave the LRU clock alone. */
static kobj_t *lookup_read_notouch_flags(kdb_t *db, const char *key, size_t klen, bool notify) {
    kobj_t *o = db_peek(db, key, klen);
    if (o && db_expire_if_needed(db, key, klen)) o = NULL;
    if (o) {
        g_kv.stat.keyspace_hits++;
    } else {
        g_kv.stat.keyspace_misses++;
        if (notify) notify_keyspace_event(KL_NOTIFY_KEY_MISS, "keymiss", key, klen, db->id);
    }
    return o;
}

static kobj_t *lookup_read_notouch(kdb_t *db, const char *key, size_t klen) {
    return lookup_read_notouch_flags(db, key, klen, true);
}

static bool key_is_expired(kdb_t *db, const char *key, size_t klen) {
    int64_t when = db_get_expire(db, key, klen);
    return when >= 0 && when <= g_kv.mstime;
}

static inline bool same_key(const resp_arg_t *a, const resp_arg_t *b) {
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* Redis's getIntFromObjectOrReply (a long range check with its own message). */
static int arg_int(client_t *c, const resp_arg_t *a, int *out) {
    long long v;
    if (arg_ll(c, a, &v) != 0) return -1;
    if (v < INT_MIN || v > INT_MAX) {
        reply_errorf(c, "ERR value is out of range, value must between %d and %d", INT_MIN,
                     INT_MAX);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* ---------------------------------------------------------------- DEL, EXISTS, TYPE, TOUCH */

static void del_generic(client_t *c, bool lazy) {
    kdb_t *db = c->db;
    long long deleted = 0;
    for (uint32_t j = 1; j < c->argc; j++) {
        const resp_arg_t *k = &c->argv[j];
        /* A key whose TTL passed is expired, not deleted by this command. */
        db_expire_if_needed(db, k->ptr, k->len);
        if (db_delete_lazy(db, k->ptr, k->len, lazy)) {
            prop_changes(1);
            deleted++;
            notify_keyspace_event(KL_NOTIFY_GENERIC, "del", k->ptr, k->len, db->id);
        }
    }
    reply_int(c, deleted);
}

/* DEL frees big values on the lazy-free thread only with
 * lazyfree-lazy-user-del yes; UNLINK always does (lazyfree.h). */
static void ks_del_cmd(client_t *c) {
    del_generic(c, g_cfg.lazyfree_lazy_user_del);
}

static void ks_unlink_cmd(client_t *c) {
    del_generic(c, true);
}

static void ks_exists_cmd(client_t *c) {
    long long count = 0;
    for (uint32_t j = 1; j < c->argc; j++)
        if (lookup_read_notouch(c->db, c->argv[j].ptr, c->argv[j].len)) count++;
    reply_int(c, count);
}

static void ks_type_cmd(client_t *c) {
    kobj_t *o = lookup_read_notouch(c->db, c->argv[1].ptr, c->argv[1].len);
    reply_simple(c, o ? obj_type_name(o->type) : "none");
}

static void ks_touch_cmd(client_t *c) {
    long long touched = 0;
    for (uint32_t j = 1; j < c->argc; j++)
        if (db_lookup_read(c->db, c->argv[j].ptr, c->argv[j].len)) touched++;
    reply_int(c, touched);
}

/* ---------------------------------------------------------------- KEYS, SCAN, RANDOMKEY */

static void ks_keys_cmd(client_t *c) {
    kdb_t *db = c->db;
    const char *pat = c->argv[1].ptr;
    size_t plen = c->argv[1].len;
    bool allkeys = plen == 1 && pat[0] == '*';
    bool volatile_keys = db_expires_size(db) != 0;
    long n = 0;
    reply_deferred_t d = reply_defer(c);
    dict_iter_t it;
    /* Unsafe iteration: only the expires dict is consulted inside the loop
     * and expired keys are skipped, not deleted (as Redis's KEYS does). */
    dict_iter_init(&it, db->keys, 0);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        const char *k = dict_entry_key(e);
        size_t kl = dict_entry_klen(e);
        if (!allkeys && !kl_glob_match(pat, plen, k, kl, 0)) continue;
        if (volatile_keys && key_is_expired(db, k, kl)) continue;
        reply_bulk(c, k, kl);
        n++;
    }
    dict_iter_done(&it);
    reply_set_array_len(c, d, n);
}

/* Keys collected by one SCAN call: their bytes back to back in buf, with
 * offsets and lengths, so that deleting expired keys while filtering can
 * never leave a dangling pointer behind. */
typedef struct scan_keys {
    kl_buf_t buf;
    struct {
        size_t off, len;
    } * k;
    size_t n, cap;
} scan_keys_t;

static void scan_collect(void *priv, dict_entry_t *e) {
    scan_keys_t *s = priv;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->k = kl_realloc(s->k, s->cap * sizeof(*s->k));
    }
    s->k[s->n].off = s->buf.len;
    s->k[s->n].len = dict_entry_klen(e);
    kl_buf_append(&s->buf, dict_entry_key(e), dict_entry_klen(e));
    s->n++;
}

static void ks_scan_cmd(client_t *c) {
    kdb_t *db = c->db;
    uint64_t cursor;
    if (cmd_parse_scan_cursor(c, &c->argv[1], &cursor) != 0) return;

    scan_opts_t so;
    if (cmd_parse_scan_opts(c, 2, true, &so) != 0) return;
    long long count = so.count;
    const char *pat = so.pat;
    size_t plen = so.plen;
    bool use_pattern = so.use_pattern;
    const char *typename = so.type;

    scan_keys_t s = {0};
    long long maxiterations = count * 10;
    do {
        cursor = dict_scan(db->keys, cursor, scan_collect, &s);
    } while (cursor && maxiterations-- && (long long)s.n < count);

    /* Filter in place: a kept key moves down to slot `kept`. */
    size_t kept = 0;
    for (size_t i = 0; i < s.n; i++) {
        const char *k = s.buf.p + s.k[i].off;
        size_t kl = s.k[i].len;
        if (use_pattern && !kl_glob_match(pat, plen, k, kl, 0)) continue;
        if (typename) {
            kobj_t *o = lookup_read_notouch(db, k, kl);
            if (strcasecmp(typename, o ? obj_type_name(o->type) : "none") != 0) continue;
        }
        if (db_expire_if_needed(db, k, kl)) continue;
        s.k[kept++] = s.k[i];
    }

    char cbuf[KL_LLSTR_SIZE];
    int clen = kl_ull_to_str(cbuf, sizeof(cbuf), cursor);
    reply_array(c, 2);
    reply_bulk(c, cbuf, (size_t)clen);
    reply_array(c, (long)kept);
    for (size_t i = 0; i < kept; i++)
        reply_bulk(c, s.buf.p + s.k[i].off, s.k[i].len);
    kl_buf_free(&s.buf);
    kl_free(s.k);
}

static void ks_randomkey_cmd(client_t *c) {
    const char *k;
    size_t kl;
    if (!db_random_key(c->db, &k, &kl)) {
        reply_null(c);
        return;
    }
    reply_bulk(c, k, kl);
}

/* ---------------------------------------------------------------- RENAME, MOVE, COPY */

static void rename_generic(client_t *c, int nx) {
    kdb_t *db = c->db;
    const resp_arg_t *src = &c->argv[1], *dst = &c->argv[2];
    if (!db_lookup_write(db, src->ptr, src->len)) {
        reply_error(c, "ERR no such key");
        return;
    }
    /* Renaming a key to itself does nothing, once the key is known to exist. */
    if (same_key(src, dst)) {
        if (nx)
            reply_int(c, 0);
        else
            reply_ok(c);
        return;
    }
    if (db_lookup_write(db, dst->ptr, dst->len)) {
        if (nx) {
            reply_int(c, 0);
            return;
        }
        db_delete(db, dst->ptr, dst->len);
    }
    int64_t expire;
    kobj_t *o = db_take(db, src->ptr, src->len, &expire);
    db_add(db, dst->ptr, dst->len, o);
    if (expire >= 0) db_set_expire(db, dst->ptr, dst->len, expire);
    prop_changes(1);
    notify_keyspace_event(KL_NOTIFY_GENERIC, "rename_from", src->ptr, src->len, db->id);
    notify_keyspace_event(KL_NOTIFY_GENERIC, "rename_to", dst->ptr, dst->len, db->id);
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

static void ks_rename_cmd(client_t *c) {
    rename_generic(c, 0);
}

static void ks_renamenx_cmd(client_t *c) {
    rename_generic(c, 1);
}

static void ks_move_cmd(client_t *c) {
    kdb_t *src = c->db;
    const resp_arg_t *k = &c->argv[1];
    if (g_cfg.cluster_enabled) {
        reply_error(c, "ERR MOVE is not allowed in cluster mode");
        return;
    }
    int dbid;
    if (arg_int(c, &c->argv[2], &dbid) != 0) return;
    kdb_t *dst = db_get(dbid);
    if (!dst) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    if (src == dst) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    if (!db_lookup_write(src, k->ptr, k->len)) {
        reply_int(c, 0);
        return;
    }
    if (db_lookup_write(dst, k->ptr, k->len)) {
        reply_int(c, 0);
        return;
    }
    int64_t expire;
    kobj_t *o = db_take(src, k->ptr, k->len, &expire);
    db_add(dst, k->ptr, k->len, o);
    if (expire >= 0) db_set_expire(dst, k->ptr, k->len, expire);
    prop_changes(1);
    notify_keyspace_event(KL_NOTIFY_GENERIC, "move_from", k->ptr, k->len, src->id);
    notify_keyspace_event(KL_NOTIFY_GENERIC, "move_to", k->ptr, k->len, dst->id);
    reply_int(c, 1);
}

static void ks_copy_cmd(client_t *c) {
    kdb_t *src = c->db, *dst = c->db;
    int srcid = c->db_id, dbid = c->db_id;
    int replace = 0;
    for (uint32_t j = 3; j < c->argc; j++) {
        uint32_t additional = c->argc - j - 1;
        if (arg_is(&c->argv[j], "replace")) {
            replace = 1;
        } else if (arg_is(&c->argv[j], "db") && additional >= 1) {
            if (arg_int(c, &c->argv[j + 1], &dbid) != 0) return;
            dst = db_get(dbid);
            if (!dst) {
                reply_error(c, "ERR DB index is out of range");
                return;
            }
            j++;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (g_cfg.cluster_enabled && (srcid != 0 || dbid != 0)) {
        reply_error(c, "ERR Copying to another database is not allowed in cluster mode");
        return;
    }
    const resp_arg_t *key = &c->argv[1], *newkey = &c->argv[2];
    if (src == dst && same_key(key, newkey)) {
        reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    kobj_t *o = db_lookup_read(src, key->ptr, key->len);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    int64_t expire = db_get_expire(src, key->ptr, key->len);
    if (db_lookup_write(dst, newkey->ptr, newkey->len) && !replace) {
        reply_int(c, 0);
        return;
    }
    /* The copy is a new value: it replaces an existing destination (and its
     * TTL) and starts with fresh LRU/LFU data (lru 0, see evict.h). */
    kobj_t *copy = obj_dup(o);
    copy->lru = 0;
    db_delete(dst, newkey->ptr, newkey->len);
    db_add(dst, newkey->ptr, newkey->len, copy);
    if (expire >= 0) db_set_expire(dst, newkey->ptr, newkey->len, expire);
    prop_changes(1);
    notify_keyspace_event(KL_NOTIFY_GENERIC, "copy_to", newkey->ptr, newkey->len, dst->id);
    reply_int(c, 1);
}

/* ---------------------------------------------------------------- EXPIRE family */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

static void expire_generic(client_t *c, long long basetime, int seconds) {
    kdb_t *db = c->db;
    const resp_arg_t *k = &c->argv[1];
    int flags = 0;
    for (uint32_t j = 3; j < c->argc; j++) {
        const resp_arg_t *a = &c->argv[j];
        if (arg_is(a, "nx"))
            flags |= EXP_NX;
        else if (arg_is(a, "xx"))
            flags |= EXP_XX;
        else if (arg_is(a, "gt"))
            flags |= EXP_GT;
        else if (arg_is(a, "lt"))
            flags |= EXP_LT;
        else {
            reply_errorf(c, "ERR Unsupported option %s", a->ptr);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }

    long long when;
    if (arg_ll(c, &c->argv[2], &when) != 0) return;
    /* Negative times are allowed (the key is deleted), but the conversion to
     * ms and the addition of the base time must not overflow. */
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->name);
            return;
        }
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime) {
        reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->name);
        return;
    }
    when += basetime;

    if (!db_lookup_write(db, k->ptr, k->len)) {
        reply_int(c, 0);
        return;
    }
    if (flags) {
        int64_t cur = db_get_expire(db, k->ptr, k->len);
        if ((flags & EXP_NX) && cur != -1) {
            reply_int(c, 0);
            return;
        }
        if ((flags & EXP_XX) && cur == -1) {
            reply_int(c, 0);
            return;
        }
        /* No TTL counts as an infinite one: GT always fails on it, LT
         * always succeeds. */
        if ((flags & EXP_GT) && (when <= cur || cur == -1)) {
            reply_int(c, 0);
            return;
        }
        if ((flags & EXP_LT) && cur != -1 && when >= cur) {
            reply_int(c, 0);
            return;
        }
    }
    /* Propagated with an absolute time (PEXPIREAT key ms, the NX/XX/GT/LT
     * options kept as received), or as DEL/UNLINK when that time passed. */
    bool deleted = when <= g_kv.mstime && !g_kv.replica; /* checkAlreadyExpired */
    if (deleted) {
        bool lazy = g_cfg.lazyfree_lazy_expire != 0;
        db_delete_lazy(db, k->ptr, k->len, lazy);
        notify_keyspace_event(KL_NOTIFY_GENERIC, "del", k->ptr, k->len, db->id);
        prop_arg_t v[2] = {lazy ? PROP_STR("UNLINK") : PROP_STR("DEL"), prop_arg(k)};
        prop_rewrite(v, 2);
    } else {
        db_set_expire(db, k->ptr, k->len, when);
        /* PEXPIREAT (no base time, ms) already is the absolute form. */
        if ((basetime != 0 || seconds) && prop_wanted()) {
            char ms[KL_LLSTR_SIZE];
            prop_subst_t subst[2] = {{0, PROP_STR("PEXPIREAT")},
                                     {2, {ms, (size_t)kl_ll_to_str(ms, sizeof(ms), when)}}};
            prop_rewrite_args(c->argv, c->argc, subst, 2);
        }
    }
    prop_changes(1);
    reply_int(c, 1);
    /* Redis replies before this event (a RESP3 client subscribed to its own
     * events sees the reply first). */
    if (!deleted) notify_keyspace_event(KL_NOTIFY_GENERIC, "expire", k->ptr, k->len, db->id);
}

static void ks_expire_cmd(client_t *c) {
    expire_generic(c, g_kv.mstime, 1);
}

static void ks_pexpire_cmd(client_t *c) {
    expire_generic(c, g_kv.mstime, 0);
}

static void ks_expireat_cmd(client_t *c) {
    expire_generic(c, 0, 1);
}

static void ks_pexpireat_cmd(client_t *c) {
    expire_generic(c, 0, 0);
}

static void ttl_generic(client_t *c, int output_ms, int output_abs) {
    kdb_t *db = c->db;
    const resp_arg_t *k = &c->argv[1];
    if (!lookup_read_notouch(db, k->ptr, k->len)) {
        reply_int(c, -2);
        return;
    }
    int64_t expire = db_get_expire(db, k->ptr, k->len);
    if (expire == -1) {
        reply_int(c, -1);
        return;
    }
    long long ttl = output_abs ? expire : expire - g_kv.mstime;
    if (ttl < 0) ttl = 0;
    /* Round to the nearest second as (ttl + 500) / 1000, written so that a
     * TTL near LLONG_MAX cannot overflow (ttl is never negative here). */
    reply_int(c, output_ms ? ttl : ttl / 1000 + (ttl % 1000 + 500) / 1000);
}

static void ks_ttl_cmd(client_t *c) {
    ttl_generic(c, 0, 0);
}

static void ks_pttl_cmd(client_t *c) {
    ttl_generic(c, 1, 0);
}

static void ks_expiretime_cmd(client_t *c) {
    ttl_generic(c, 0, 1);
}

static void ks_pexpiretime_cmd(client_t *c) {
    ttl_generic(c, 1, 1);
}

static void ks_persist_cmd(client_t *c) {
    const resp_arg_t *k = &c->argv[1];
    if (db_lookup_write(c->db, k->ptr, k->len) && db_remove_expire(c->db, k->ptr, k->len)) {
        prop_changes(1);
        notify_keyspace_event(KL_NOTIFY_GENERIC, "persist", k->ptr, k->len, c->db->id);
        reply_int(c, 1);
        return;
    }
    reply_int(c, 0);
}

/* ---------------------------------------------------------------- OBJECT */

/* OBJECT's lookup: expire the key if needed, count the hit or miss (Redis's
 * objectCommandLookup is a lookupKeyRead with NOTOUCH) and never update the
 * LRU/LFU data it is about to report. Replies null when the key is missing. */
static kobj_t *object_lookup_or_reply(client_t *c) {
    kobj_t *o = lookup_read_notouch_flags(c->db, c->argv[2].ptr, c->argv[2].len, false);
    if (!o) reply_null(c);
    return o;
}

static bool lfu_policy(void) {
    return g_cfg.maxmemory_policy == KL_MAXMEMORY_VOLATILE_LFU ||
           g_cfg.maxmemory_policy == KL_MAXMEMORY_ALLKEYS_LFU;
}

static void ks_object_encoding_cmd(client_t *c) {
    kobj_t *o = object_lookup_or_reply(c);
    if (!o) return;
    reply_bulk_cstr(c, obj_encoding_name(o->enc));
}

static void ks_object_refcount_cmd(client_t *c) {
    kobj_t *o = object_lookup_or_reply(c);
    if (!o) return;
    reply_int(c, obj_refcount(o));
}

static void ks_object_idletime_cmd(client_t *c) {
    kobj_t *o = object_lookup_or_reply(c);
    if (!o) return;
    if (lfu_policy()) {
        reply_error(c, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                       "note that when switching between policies at runtime LRU and LFU data "
                       "will take some time to adjust.");
        return;
    }
    reply_int(c, db_idle_seconds(o));
}

static void ks_object_freq_cmd(client_t *c) {
    kobj_t *o = object_lookup_or_reply(c);
    if (!o) return;
    if (!lfu_policy()) {
        reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not "
                       "tracked. Please note that when switching between policies at runtime "
                       "LRU and LFU data will take some time to adjust.");
        return;
    }
    reply_int(c, evict_obj_freq(o)); /* the decayed LFU counter (evict.h) */
}

static void ks_object_help_cmd(client_t *c) {
    static const char *help[] = {
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        NULL,
    };
    reply_help(c, help);
}

/* The container itself is only reached if the executor does not resolve the
 * subcommand; answer as Redis does for an unknown one. */
static void ks_object_cmd(client_t *c) {
    reply_subcommand_error(c);
}

/* ---------------------------------------------------------------- table */

/* Designated initializers leave the statistics fields zero. */
static kl_command_t object_subcommands[] = {
    {
        .name = "object|encoding",
        .proc = ks_object_encoding_cmd,
        .arity = 3,
        .flags = CMD_READONLY,
        .keys = {.first = 2, .last = 2, .step = 1},
        .group = "generic",
        .since = "2.2.3",
        .summary = "Inspect the internal encoding of a Redis object",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @slow",
    },
    {
        .name = "object|freq",
        .proc = ks_object_freq_cmd,
        .arity = 3,
        .flags = CMD_READONLY,
        .keys = {.first = 2, .last = 2, .step = 1},
        .group = "generic",
        .since = "4.0.0",
        .summary = "Get the logarithmic access frequency counter of a Redis object",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @slow",
    },
    {
        .name = "object|help",
        .proc = ks_object_help_cmd,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "generic",
        .since = "6.2.0",
        .summary = "Show helpful text about the different subcommands",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @slow",
    },
    {
        .name = "object|idletime",
        .proc = ks_object_idletime_cmd,
        .arity = 3,
        .flags = CMD_READONLY,
        .keys = {.first = 2, .last = 2, .step = 1},
        .group = "generic",
        .since = "2.2.3",
        .summary = "Get the time since a Redis object was last accessed",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @slow",
    },
    {
        .name = "object|refcount",
        .proc = ks_object_refcount_cmd,
        .arity = 3,
        .flags = CMD_READONLY,
        .keys = {.first = 2, .last = 2, .step = 1},
        .group = "generic",
        .since = "2.2.3",
        .summary = "Get the number of references to the value of the key",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @slow",
    },
    {0},
};

kl_command_t cmds_keyspace[] = {
    {
        .name = "del",
        .proc = ks_del_cmd,
        .arity = -2,
        .flags = CMD_WRITE,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "generic",
        .since = "1.0.0",
        .summary = "Delete a key",
        .complexity =
            "O(N) where N is the number of keys that will be removed. When a key to remove holds a "
            "value other than a string, the individual complexity for this key is O(M) where M is "
            "the "
            "number of elements in the list, set, sorted set or hash. Removing a single key that "
            "holds "
            "a string value is O(1).",
        .acl_cats = "@keyspace @write @slow",
    },
    {
        .name = "unlink",
        .proc = ks_unlink_cmd,
        .arity = -2,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "generic",
        .since = "4.0.0",
        .summary =
            "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "
            "blocking.",
        .complexity =
            "O(1) for each key removed regardless of its size. Then the command does O(N) work in "
            "a "
            "different thread in order to reclaim memory, where N is the number of allocations the "
            "deleted objects where composed of.",
        .acl_cats = "@keyspace @write @fast",
    },
    {
        .name = "exists",
        .proc = ks_exists_cmd,
        .arity = -2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "generic",
        .since = "1.0.0",
        .summary = "Determine if a key exists",
        .complexity = "O(N) where N is the number of keys to check.",
        .acl_cats = "@keyspace @read @fast",
    },
    {
        .name = "type",
        .proc = ks_type_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "1.0.0",
        .summary = "Determine the type stored at key",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @fast",
    },
    {
        .name = "keys",
        .proc = ks_keys_cmd,
        .arity = 2,
        .flags = CMD_READONLY,
        .group = "generic",
        .since = "1.0.0",
        .summary = "Find all keys matching the given pattern",
        .complexity = "O(N) with N being the number of keys in the database, under the assumption "
                      "that the key "
                      "names in the database and the given pattern have limited length.",
        .acl_cats = "@keyspace @read @slow @dangerous",
    },
    {
        .name = "scan",
        .proc = ks_scan_cmd,
        .arity = -2,
        .flags = CMD_READONLY,
        .xflags = CMDX_TOUCHES_ARBITRARY_KEYS,
        .group = "generic",
        .since = "2.8.0",
        .summary = "Incrementally iterate the keys space",
        .complexity =
            "O(1) for every call. O(N) for a complete iteration, including enough command calls "
            "for "
            "the cursor to return back to 0. N is the number of elements inside the collection.",
        .acl_cats = "@keyspace @read @slow",
    },
    {
        .name = "randomkey",
        .proc = ks_randomkey_cmd,
        .arity = 1,
        .flags = CMD_READONLY,
        .xflags = CMDX_TOUCHES_ARBITRARY_KEYS,
        .group = "generic",
        .since = "1.0.0",
        .summary = "Return a random key from the keyspace",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @slow",
    },
    {
        .name = "rename",
        .proc = ks_rename_cmd,
        .arity = 3,
        .flags = CMD_WRITE,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "generic",
        .since = "1.0.0",
        .summary = "Rename a key",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @write @slow",
    },
    {
        .name = "renamenx",
        .proc = ks_renamenx_cmd,
        .arity = 3,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "generic",
        .since = "1.0.0",
        .summary = "Rename a key, only if the new key does not exist",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @write @fast",
    },
    {
        .name = "move",
        .proc = ks_move_cmd,
        .arity = 3,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "1.0.0",
        .summary = "Move a key to another database",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @write @fast",
    },
    {
        .name = "copy",
        .proc = ks_copy_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "generic",
        .since = "6.2.0",
        .summary = "Copy a key",
        .complexity = "O(N) worst case for collections, where N is the number of nested items. "
                      "O(1) for string "
                      "values.",
        .acl_cats = "@keyspace @write @slow",
    },
    {
        .name = "touch",
        .proc = ks_touch_cmd,
        .arity = -2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "generic",
        .since = "3.2.1",
        .summary = "Alters the last access time of a key(s). Returns the number of existing keys "
                   "specified.",
        .complexity = "O(N) where N is the number of keys that will be touched.",
        .acl_cats = "@keyspace @read @fast",
    },
    {
        .name = "expire",
        .proc = ks_expire_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "1.0.0",
        .summary = "Set a key's time to live in seconds",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @write @fast",
    },
    {
        .name = "pexpire",
        .proc = ks_pexpire_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "2.6.0",
        .summary = "Set a key's time to live in milliseconds",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @write @fast",
    },
    {
        .name = "expireat",
        .proc = ks_expireat_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "1.2.0",
        .summary = "Set the expiration for a key as a UNIX timestamp",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @write @fast",
    },
    {
        .name = "pexpireat",
        .proc = ks_pexpireat_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "2.6.0",
        .summary = "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @write @fast",
    },
    {
        .name = "ttl",
        .proc = ks_ttl_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "1.0.0",
        .summary = "Get the time to live for a key in seconds",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @fast",
    },
    {
        .name = "pttl",
        .proc = ks_pttl_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "2.6.0",
        .summary = "Get the time to live for a key in milliseconds",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @fast",
    },
    {
        .name = "expiretime",
        .proc = ks_expiretime_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "7.0.0",
        .summary = "Get the expiration Unix timestamp for a key",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @fast",
    },
    {
        .name = "pexpiretime",
        .proc = ks_pexpiretime_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "7.0.0",
        .summary = "Get the expiration Unix timestamp for a key in milliseconds",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @fast",
    },
    {
        .name = "persist",
        .proc = ks_persist_cmd,
        .arity = 2,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "2.2.0",
        .summary = "Remove the expiration from a key",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @write @fast",
    },
    {
        .name = "object",
        .proc = ks_object_cmd,
        .arity = -2,
        .flags = 0,
        .group = "generic",
        .since = "2.2.3",
        .summary = "A container for object introspection commands",
        .complexity = "Depends on subcommand.",
        .acl_cats = "@slow",
        .subcommands = object_subcommands,
    },
    {0},
};
