/* The string commands: GET, SET and its variants, the counters, APPEND,
 * GETRANGE/SETRANGE and LCS, with Redis 7.0's replies and error texts.
 *
 * Encodings follow Redis exactly: values written by SET-like commands go
 * through obj_string_try_encode (int / embstr / raw), APPEND and SETRANGE
 * leave a raw string behind, the integer counters leave an int and
 * INCRBYFLOAT leaves the formatted number as a string.
 *
 * GET, SET and INCR are the hot path: they allocate nothing but the value
 * itself and never format through printf.
 *
 * Thread: executor (every function here). */
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "notify.h"
#include "object.h"
#include "propagate.h"
#include "reply.h"
#include "server.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* Options of SET (and GETEX, which shares the expire part of the parser). */
enum {
    SETOPT_NX = 1u << 0,
    SETOPT_XX = 1u << 1,
    SETOPT_GET = 1u << 2,
    SETOPT_KEEPTTL = 1u << 3,
    SETOPT_PERSIST = 1u << 4,
    SETOPT_EX = 1u << 5,
    SETOPT_PX = 1u << 6,
    SETOPT_EXAT = 1u << 7,
    SETOPT_PXAT = 1u << 8,
};
#define SETOPT_ANY_EXPIRE (SETOPT_EX | SETOPT_PX | SETOPT_EXAT | SETOPT_PXAT)

static inline kdb_t *cdb(client_t *c) {
    return c->db;
}

static void reply_invalid_expire(client_t *c, const char *cmdname) {
    reply_errorf(c, "ERR invalid expire time in '%s' command", cmdname);
}

/* Redis's checkStringLength: the result of APPEND/SETRANGE must fit in
 * proto-max-bulk-len. Returns 0 if it does, -1 after replying otherwise. */
static int check_string_length(client_t *c, unsigned long long size, unsigned long long append) {
    unsigned long long total = size + append;
    if (total > (unsigned long long)g_cfg.proto_max_bulk_len || total < size || total < append) {
        reply_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return -1;
    }
    return 0;
}

/* Parse SET's options (is_set) or GETEX's (!is_set) from argv[first] on, with
 * the same acceptance rules as Redis's parseExtendedStringArgumentsOrReply:
 * conflicting options are a syntax error, and a repeated expire option of the
 * same kind simply overrides the previous one. */
static int parse_string_opts(client_t *c, uint32_t first, int is_set, uint32_t *flags,
                             const resp_arg_t **expire) {
    for (uint32_t j = first; j < c->argc; j++) {
        const resp_arg_t *a = &c->argv[j];
        const resp_arg_t *next = (j + 1 < c->argc) ? &c->argv[j + 1] : NULL;
        uint32_t f = *flags;
        if (is_set && arg_is(a, "nx") && !(f & SETOPT_XX)) {
            *flags |= SETOPT_NX;
        } else if (is_set && arg_is(a, "xx") && !(f & SETOPT_NX)) {
            *flags |= SETOPT_XX;
        } else if (is_set && arg_is(a, "get")) {
            *flags |= SETOPT_GET;
        } else if (is_set && arg_is(a, "keepttl") && !(f & (SETOPT_PERSIST | SETOPT_ANY_EXPIRE))) {
            *flags |= SETOPT_KEEPTTL;
        } else if (!is_set && arg_is(a, "persist") && !(f & (SETOPT_KEEPTTL | SETOPT_ANY_EXPIRE))) {
            *flags |= SETOPT_PERSIST;
        } else if (arg_is(a, "ex") && next &&
                   !(f &
                     (SETOPT_KEEPTTL | SETOPT_PERSIST | SETOPT_EXAT | SETOPT_PX | SETOPT_PXAT))) {
            *flags |= SETOPT_EX;
            *expire = next;
            j++;
        } else if (arg_is(a, "px") && next &&
                   !(f &
                     (SETOPT_KEEPTTL | SETOPT_PERSIST | SETOPT_EX | SETOPT_EXAT | SETOPT_PXAT))) {
            *flags |= SETOPT_PX;
            *expire = next;
            j++;
        } else if (arg_is(a, "exat") && next &&
                   !(f & (SETOPT_KEEPTTL | SETOPT_PERSIST | SETOPT_EX | SETOPT_PX | SETOPT_PXAT))) {
            *flags |= SETOPT_EXAT;
            *expire = next;
            j++;
        } else if (arg_is(a, "pxat") && next &&
                   !(f & (SETOPT_KEEPTTL | SETOPT_PERSIST | SETOPT_EX | SETOPT_EXAT | SETOPT_PX))) {
            *flags |= SETOPT_PXAT;
            *expire = next;
            j++;
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    return 0;
}

/* Turn an EX/PX/EXAT/PXAT argument into an absolute unix time in ms, as
 * Redis's getExpireMillisecondsOrReply: the number must be positive, must not
 * overflow when converted to ms, and relative times are added to the
 * command's time. Returns 0, or -1 after replying. */
static int expire_to_abs_ms(client_t *c, const resp_arg_t *arg, uint32_t flags, const char *cmdname,
                            long long *out) {
    long long v;
    if (arg_ll(c, arg, &v) != 0) return -1;
    int seconds = (flags & (SETOPT_EX | SETOPT_EXAT)) != 0;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
        reply_invalid_expire(c, cmdname);
        return -1;
    }
    if (seconds) v *= 1000;
    if (flags & (SETOPT_EX | SETOPT_PX)) {
        /* Redis adds in signed arithmetic and rejects the wrapped, negative
         * result; detect the overflow instead of relying on wrapping. */
        if (__builtin_add_overflow(v, (long long)g_kv.mstime, &v)) v = -1;
    }
    if (v <= 0) {
        reply_invalid_expire(c, cmdname);
        return -1;
    }
    *out = v;
    return 0;
}

/* Redis's getGenericCommand: reply with the value (or null). Returns -1 if
 * the key holds another type (after replying WRONGTYPE), 0 otherwise. */
static int get_generic(client_t *c) {
    kobj_t *o = db_lookup_read(cdb(c), c->argv[1].ptr, c->argv[1].len);
    if (!o) {
        reply_null(c);
        return 0;
    }
    if (o->type != OBJ_STRING) {
        reply_wrongtype(c);
        return -1;
    }
    reply_bulk_obj(c, o);
    return 0;
}

/* How SET and friends reach an AOF or a replica (Redis 7.0.15's
 * setGenericCommand): any expire becomes an absolute "SET key value PXAT ms"
 * (SETEX and PSETEX too, dropping every other option); without one, SET
 * drops its GET options and keeps the rest as received. when < 0: no
 * expire. */
static void propagate_set(client_t *c, uint32_t flags, const resp_arg_t *key, const resp_arg_t *val,
                          long long when) {
    if (when >= 0) {
        char ms[KL_LLSTR_SIZE];
        int n = kl_ll_to_str(ms, sizeof(ms), when);
        prop_arg_t v[5] = {
            PROP_STR("SET"), prop_arg(key), prop_arg(val), PROP_STR("PXAT"), {ms, (size_t)n}};
        prop_rewrite(v, 5);
        return;
    }
    if (!(flags & SETOPT_GET)) return;
    /* GET may be repeated: drop every one of them (never key or value). */
    prop_arg_t *v = kl_malloc(c->argc * sizeof(*v));
    uint32_t n = 0;
    for (uint32_t j = 0; j < c->argc; j++)
        if (j < 3 || !arg_is(&c->argv[j], "get")) v[n++] = prop_arg(&c->argv[j]);
    prop_rewrite(v, n);
    kl_free(v);
}

/* The body shared by SET, SETNX, SETEX and PSETEX (Redis's setGenericCommand).
 * int_replies selects SETNX's :1/:0 instead of +OK and null. */
static void set_generic(client_t *c, uint32_t flags, const resp_arg_t *key, const resp_arg_t *val,
                        const resp_arg_t *expire, const char *cmdname, int int_replies) {
    kdb_t *db = cdb(c);
    long long when = 0;
    if (expire && expire_to_abs_ms(c, expire, flags, cmdname, &when) != 0) return;
    if ((flags & SETOPT_GET) && get_generic(c) != 0) return;

    if (flags & (SETOPT_NX | SETOPT_XX | SETOPT_KEEPTTL)) {
        bool found = db_lookup_write(db, key->ptr, key->len) != NULL;
        if (((flags & SETOPT_NX) && found) || ((flags & SETOPT_XX) && !found)) {
            if (!(flags & SETOPT_GET)) {
                if (int_replies)
                    reply_int(c, 0);
                else
                    reply_null(c);
            }
            return;
        }
    } else {
        /* Without conditions the old value is simply replaced; an expired
         * old key still counts as expired, as Redis's lookup would do. */
        db_expire_if_needed(db, key->ptr, key->len);
    }

    db_set(db, key->ptr, key->len, obj_string_try_encode(val->ptr, val->len),
           (flags & SETOPT_KEEPTTL) != 0);
    prop_changes(1);
    notify_keyspace_event(KL_NOTIFY_STRING, "set", key->ptr, key->len, db->id);
    if (expire) {
        db_set_expire(db, key->ptr, key->len, when);
        notify_keyspace_event(KL_NOTIFY_GENERIC, "expire", key->ptr, key->len, db->id);
    }
    if (prop_wanted()) propagate_set(c, flags, key, val, expire ? when : -1);
    if (!(flags & SETOPT_GET)) {
        if (int_replies)
            reply_int(c, 1);
        else
            reply_ok(c);
    }
}

/* ---------------------------------------------------------------- GET / SET */

static void string_get_cmd(client_t *c) {
    kobj_t *o = db_lookup_read(cdb(c), c->argv[1].ptr, c->argv[1].len);
    if (!o) {
        reply_null(c);
        return;
    }
    if (o->type != OBJ_STRING) {
        reply_wrongtype(c);
        return;
    }
    reply_bulk_obj(c, o);
}

static void string_set_cmd(client_t *c) {
    if (c->argc == 3) {
        /* The common case, kept short: no option parsing at all. */
        kdb_t *db = cdb(c);
        const resp_arg_t *k = &c->argv[1], *v = &c->argv[2];
        db_expire_if_needed(db, k->ptr, k->len);
        db_set(db, k->ptr, k->len, obj_string_try_encode(v->ptr, v->len), false);
        prop_changes(1);
        notify_keyspace_event(KL_NOTIFY_STRING, "set", k->ptr, k->len, db->id);
        reply_ok(c);
        return;
    }
    uint32_t flags = 0;
    const resp_arg_t *expire = NULL;
    if (parse_string_opts(c, 3, 1, &flags, &expire) != 0) return;
    set_generic(c, flags, &c->argv[1], &c->argv[2], expire, "set", 0);
}

static void string_setnx_cmd(client_t *c) {
    set_generic(c, SETOPT_NX, &c->argv[1], &c->argv[2], NULL, "setnx", 1);
}

static void string_setex_cmd(client_t *c) {
    set_generic(c, SETOPT_EX, &c->argv[1], &c->argv[3], &c->argv[2], "setex", 0);
}

static void string_psetex_cmd(client_t *c) {
    set_generic(c, SETOPT_PX, &c->argv[1], &c->argv[3], &c->argv[2], "psetex", 0);
}

static void string_getset_cmd(client_t *c) {
    if (get_generic(c) != 0) return;
    const resp_arg_t *k = &c->argv[1], *v = &c->argv[2];
    db_set(cdb(c), k->ptr, k->len, obj_string_try_encode(v->ptr, v->len), false);
    prop_changes(1);
    notify_keyspace_event(KL_NOTIFY_STRING, "set", k->ptr, k->len, c->db_id);
    /* Propagated as SET key value. */
    prop_subst_t set = {0, PROP_STR("SET")};
    if (prop_wanted()) prop_rewrite_args(c->argv, c->argc, &set, 1);
}

/* Propagate the running command as DEL or UNLINK of key. */
static void propagate_as_del(const resp_arg_t *key, bool unlink) {
    prop_arg_t v[2] = {unlink ? PROP_STR("UNLINK") : PROP_STR("DEL"), prop_arg(key)};
    prop_rewrite(v, 2);
}

static void string_getdel_cmd(client_t *c) {
    if (get_generic(c) != 0) return;
    bool lazy = g_cfg.lazyfree_lazy_user_del != 0;
    if (db_delete_lazy(cdb(c), c->argv[1].ptr, c->argv[1].len, lazy)) {
        prop_changes(1);
        propagate_as_del(&c->argv[1], lazy);
        notify_keyspace_event(KL_NOTIFY_GENERIC, "del", c->argv[1].ptr, c->argv[1].len, c->db_id);
    }
}

static void string_getex_cmd(client_t *c) {
    kdb_t *db = cdb(c);
    uint32_t flags = 0;
    const resp_arg_t *expire = NULL;
    const resp_arg_t *k = &c->argv[1];
    if (parse_string_opts(c, 2, 0, &flags, &expire) != 0) return;

    kobj_t *o = db_lookup_read(db, k->ptr, k->len);
    if (!o) {
        reply_null(c);
        return;
    }
    if (o->type != OBJ_STRING) {
        reply_wrongtype(c);
        return;
    }
    long long when = 0;
    if (expire && expire_to_abs_ms(c, expire, flags, "getex", &when) != 0) return;
    reply_bulk_obj(c, o);

    /* GETEX itself never reaches an AOF or a replica: it goes as DEL or
     * UNLINK, PEXPIREAT with an absolute time, or PERSIST. */
    if ((flags & (SETOPT_EXAT | SETOPT_PXAT)) && when <= g_kv.mstime && !g_kv.replica) {
        /* An absolute time already in the past deletes the key at once. */
        bool lazy = g_cfg.lazyfree_lazy_expire != 0;
        db_delete_lazy(db, k->ptr, k->len, lazy);
        prop_changes(1);
        propagate_as_del(k, lazy);
        notify_keyspace_event(KL_NOTIFY_GENERIC, "del", k->ptr, k->len, db->id);
    } else if (expire) {
        db_set_expire(db, k->ptr, k->len, when);
        prop_changes(1);
        if (prop_wanted()) {
            char ms[KL_LLSTR_SIZE];
            int n = kl_ll_to_str(ms, sizeof(ms), when);
            prop_arg_t v[3] = {PROP_STR("PEXPIREAT"), prop_arg(k), {ms, (size_t)n}};
            prop_rewrite(v, 3);
        }
        notify_keyspace_event(KL_NOTIFY_GENERIC, "expire", k->ptr, k->len, db->id);
    } else if (flags & SETOPT_PERSIST) {
        if (db_remove_expire(db, k->ptr, k->len)) {
            prop_changes(1);
            prop_arg_t v[2] = {PROP_STR("PERSIST"), prop_arg(k)};
            prop_rewrite(v, 2);
            notify_keyspace_event(KL_NOTIFY_GENERIC, "persist", k->ptr, k->len, db->id);
        }
    }
}

/* ---------------------------------------------------------------- multi-key */

static void string_mget_cmd(client_t *c) {
    kdb_t *db = cdb(c);
    reply_array(c, (long)c->argc - 1);
    for (uint32_t j = 1; j < c->argc; j++) {
        kobj_t *o = db_lookup_read(db, c->argv[j].ptr, c->argv[j].len);
        if (!o || o->type != OBJ_STRING)
            reply_null(c);
        else
            reply_bulk_obj(c, o);
    }
}

static void mset_generic(client_t *c, int nx) {
    kdb_t *db = cdb(c);
    if ((c->argc % 2) == 0) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", nx ? "msetnx" : "mset");
        return;
    }
    if (nx) {
        for (uint32_t j = 1; j < c->argc; j += 2) {
            if (db_lookup_write(db, c->argv[j].ptr, c->argv[j].len)) {
                reply_int(c, 0);
                return;
            }
        }
    }
    for (uint32_t j = 1; j < c->argc; j += 2) {
        const resp_arg_t *k = &c->argv[j], *v = &c->argv[j + 1];
        if (!nx) db_expire_if_needed(db, k->ptr, k->len);
        db_set(db, k->ptr, k->len, obj_string_try_encode(v->ptr, v->len), false);
        notify_keyspace_event(KL_NOTIFY_STRING, "set", k->ptr, k->len, db->id);
    }
    prop_changes((c->argc - 1) / 2);
    if (nx)
        reply_int(c, 1);
    else
        reply_ok(c);
}

static void string_mset_cmd(client_t *c) {
    mset_generic(c, 0);
}

static void string_msetnx_cmd(client_t *c) {
    mset_generic(c, 1);
}

/* ---------------------------------------------------------------- APPEND, STRLEN */

static void string_append_cmd(client_t *c) {
    kdb_t *db = cdb(c);
    const resp_arg_t *k = &c->argv[1], *v = &c->argv[2];
    size_t totlen;
    kobj_t *o = db_lookup_write(db, k->ptr, k->len);
    if (!o) {
        /* A new key is stored like SET stores it. */
        o = obj_string_try_encode(v->ptr, v->len);
        db_add(db, k->ptr, k->len, o);
        totlen = v->len;
    } else {
        if (o->type != OBJ_STRING) {
            reply_wrongtype(c);
            return;
        }
        if (check_string_length(c, obj_string_len(o), v->len) != 0) return;
        kobj_t *w = obj_string_unshare(o);
        if (w != o) db_replace_value(db, k->ptr, k->len, w);
        obj_string_append(w, v->ptr, v->len);
        totlen = w->v.s.len;
    }
    prop_changes(1);
    db_key_modified(db, k->ptr, k->len); /* the value may have changed in place */
    notify_keyspace_event(KL_NOTIFY_STRING, "append", k->ptr, k->len, db->id);
    reply_int(c, (long long)totlen);
}

static void string_strlen_cmd(client_t *c) {
    kobj_t *o = db_lookup_read(cdb(c), c->argv[1].ptr, c->argv[1].len);
    if (!o) {
        reply_int(c, 0);
        return;
    }
    if (o->type != OBJ_STRING) {
        reply_wrongtype(c);
        return;
    }
    reply_int(c, (long long)obj_string_len(o));
}

/* ---------------------------------------------------------------- counters */

static void incr_generic(client_t *c, long long incr) {
    kdb_t *db = cdb(c);
    const resp_arg_t *k = &c->argv[1];
    long long value = 0;
    kobj_t *o = db_lookup_write(db, k->ptr, k->len);
    if (o) {
        if (o->type != OBJ_STRING) {
            reply_wrongtype(c);
            return;
        }
        if (obj_get_ll(o, &value) != 0) {
            reply_not_integer(c);
            return;
        }
    }
    if ((incr < 0 && value < 0 && incr < (LLONG_MIN - value)) ||
        (incr > 0 && value > 0 && incr > (LLONG_MAX - value))) {
        reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    if (o && o->enc == ENC_INT) {
        /* Values are never shared between keys, so the counter is updated
         * in place: no allocation on the hot path. */
        o->v.i = value;
    } else if (o) {
        db_replace_value(db, k->ptr, k->len, obj_string_from_ll(value));
    } else {
        db_add(db, k->ptr, k->len, obj_string_from_ll(value));
    }
    prop_changes(1);
    db_key_modified(db, k->ptr, k->len); /* the value may have changed in place */
    notify_keyspace_event(KL_NOTIFY_STRING, "incrby", k->ptr, k->len, db->id);
    reply_int(c, value);
}

static void string_incr_cmd(client_t *c) {
    incr_generic(c, 1);
}

static void string_decr_cmd(client_t *c) {
    incr_generic(c, -1);
}

static void string_incrby_cmd(client_t *c) {
    long long incr;
    if (arg_ll(c, &c->argv[2], &incr) != 0) return;
    incr_generic(c, incr);
}

static void string_decrby_cmd(client_t *c) {
    long long incr;
    if (arg_ll(c, &c->argv[2], &incr) != 0) return;
    /* Negating LLONG_MIN is impossible (Redis 7.0's own check). */
    if (incr == LLONG_MIN) {
        reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -incr);
}

static void string_incrbyfloat_cmd(client_t *c) {
    kdb_t *db = cdb(c);
    const resp_arg_t *k = &c->argv[1];
    long double value = 0, incr;
    kobj_t *o = db_lookup_write(db, k->ptr, k->len);
    if (o) {
        if (o->type != OBJ_STRING) {
            reply_wrongtype(c);
            return;
        }
        if (obj_get_ld(o, &value) != 0) {
            reply_error(c, "ERR value is not a valid float");
            return;
        }
    }
    if (arg_ld(c, &c->argv[2], &incr) != 0) return;
    value += incr;
    if (isnan(value) || isinf(value)) {
        reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    kobj_t *n = obj_string_from_ld(value);
    if (o)
        db_replace_value(db, k->ptr, k->len, n);
    else
        db_add(db, k->ptr, k->len, n);
    prop_changes(1);
    notify_keyspace_event(KL_NOTIFY_STRING, "incrbyfloat", k->ptr, k->len, db->id);
    reply_bulk_obj(c, n);
    /* Propagated as SET with the formatted result, so that float rounding
     * on the other side cannot differ. */
    if (prop_wanted()) {
        char buf[32];
        size_t len;
        const char *p = obj_string_bytes(n, buf, &len);
        prop_arg_t v[4] = {PROP_STR("SET"), prop_arg(k), {p, len}, PROP_STR("KEEPTTL")};
        prop_rewrite(v, 4);
    }
}

/* ---------------------------------------------------------------- ranges */

static void string_getrange_cmd(client_t *c) {
    long long start, end;
    if (arg_ll(c, &c->argv[2], &start) != 0) return;
    if (arg_ll(c, &c->argv[3], &end) != 0) return;
    kobj_t *o = db_lookup_read(cdb(c), c->argv[1].ptr, c->argv[1].len);
    if (!o) {
        reply_bulk(c, "", 0);
        return;
    }
    if (o->type != OBJ_STRING) {
        reply_wrongtype(c);
        return;
    }
    char buf[32];
    size_t len;
    const char *s = obj_string_bytes(o, buf, &len);
    long long slen = (long long)len;

    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c, "", 0);
        return;
    }
    if (start < 0) start = slen + start;
    if (end < 0) end = slen + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= slen) end = slen - 1;
    if (start > end || slen == 0) {
        reply_bulk(c, "", 0);
        return;
    }
    reply_bulk(c, s + start, (size_t)(end - start + 1));
}

static void string_setrange_cmd(client_t *c) {
    kdb_t *db = cdb(c);
    const resp_arg_t *k = &c->argv[1], *v = &c->argv[3];
    long long offset;
    if (arg_ll(c, &c->argv[2], &offset) != 0) return;
    if (offset < 0) {
        reply_error(c, "ERR offset is out of range");
        return;
    }
    kobj_t *o = db_lookup_write(db, k->ptr, k->len);
    if (!o) {
        /* Setting nothing on a missing key creates nothing. */
        if (v->len == 0) {
            reply_int(c, 0);
            return;
        }
        if (check_string_length(c, (unsigned long long)offset, v->len) != 0) return;
        o = obj_string_new_raw("", 0);
        db_add(db, k->ptr, k->len, o);
    } else {
        if (o->type != OBJ_STRING) {
            reply_wrongtype(c);
            return;
        }
        if (v->len == 0) {
            reply_int(c, (long long)obj_string_len(o));
            return;
        }
        if (check_string_length(c, (unsigned long long)offset, v->len) != 0) return;
        kobj_t *w = obj_string_unshare(o);
        if (w != o) db_replace_value(db, k->ptr, k->len, w);
        o = w;
    }
    obj_string_grow_zero(o, (size_t)offset + v->len);
    memcpy(o->v.s.ptr + offset, v->ptr, v->len);
    prop_changes(1);
    db_key_modified(db, k->ptr, k->len); /* the value may have changed in place */
    notify_keyspace_event(KL_NOTIFY_STRING, "setrange", k->ptr, k->len, db->id);
    reply_int(c, (long long)o->v.s.len);
}

/* ---------------------------------------------------------------- LCS */

/* LCS by the classic dynamic programming table, with the same backtracking
 * as Redis so that IDX reports identical ranges. */
static void string_lcs_cmd(client_t *c) {
    kdb_t *db = cdb(c);
    kobj_t *oa = db_lookup_read(db, c->argv[1].ptr, c->argv[1].len);
    kobj_t *ob = db_lookup_read(db, c->argv[2].ptr, c->argv[2].len);
    if ((oa && oa->type != OBJ_STRING) || (ob && ob->type != OBJ_STRING)) {
        reply_error(c, "ERR The specified keys must contain string values");
        return;
    }
    char abuf[32], bbuf[32];
    size_t alen_sz = 0, blen_sz = 0;
    const char *a = oa ? obj_string_bytes(oa, abuf, &alen_sz) : "";
    const char *b = ob ? obj_string_bytes(ob, bbuf, &blen_sz) : "";

    int getlen = 0, getidx = 0, withmatchlen = 0;
    long long minmatchlen = 0;
    for (uint32_t j = 3; j < c->argc; j++) {
        const resp_arg_t *opt = &c->argv[j];
        int moreargs = (int)(c->argc - 1 - j);
        if (arg_is(opt, "idx")) {
            getidx = 1;
        } else if (arg_is(opt, "len")) {
            getlen = 1;
        } else if (arg_is(opt, "withmatchlen")) {
            withmatchlen = 1;
        } else if (arg_is(opt, "minmatchlen") && moreargs) {
            if (arg_ll(c, &c->argv[j + 1], &minmatchlen) != 0) return;
            if (minmatchlen < 0) minmatchlen = 0;
            j++;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (getidx && getlen) {
        reply_error(c, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    if (alen_sz >= UINT32_MAX - 1 || blen_sz >= UINT32_MAX - 1) {
        reply_error(c, "ERR String too long for LCS");
        return;
    }
    uint32_t alen = (uint32_t)alen_sz, blen = (uint32_t)blen_sz;

    /* The table may be huge for long strings: try the allocation (plain
     * malloc, which may fail, rather than kl_malloc, which aborts) and
     * report failure like Redis does. */
    unsigned long long cells = (unsigned long long)(alen + 1ull) * (blen + 1ull);
    unsigned long long bytes = cells * sizeof(uint32_t);
    uint32_t *dp = NULL;
    if (bytes < SIZE_MAX && bytes / cells == sizeof(uint32_t)) {
        /* Redis 7.0.15 refuses a table larger than proto-max-bulk-len
         * before even trying to allocate it. */
        if (bytes > (unsigned long long)g_cfg.proto_max_bulk_len) {
            reply_error(c, "ERR Insufficient memory, transient memory for LCS exceeds "
                           "proto-max-bulk-len");
            return;
        }
        dp = malloc((size_t)bytes);
    }
    if (!dp) {
        reply_error(c, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
#define LCS(A, B) dp[(B) + ((size_t)(A) * (blen + 1))]
    for (uint32_t i = 0; i <= alen; i++) {
        for (uint32_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0) {
                LCS(i, j) = 0;
            } else if (a[i - 1] == b[j - 1]) {
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            } else {
                uint32_t l1 = LCS(i - 1, j), l2 = LCS(i, j - 1);
                LCS(i, j) = l1 > l2 ? l1 : l2;
            }
        }
    }

    uint32_t idx = LCS(alen, blen);
    char *result = NULL;
    int computelcs = getidx || !getlen;
    if (computelcs) result = malloc(idx ? idx : 1);
    if (computelcs && !result) {
        free(dp);
        reply_error(c, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }

    reply_deferred_t arr = {0};
    long arraylen = 0;
    if (getidx) {
        reply_map(c, 2);
        reply_bulk(c, "matches", 7);
        arr = reply_defer(c);
    }

    /* alen in arange_start means "no range in progress". */
    uint32_t arange_start = alen, arange_end = 0, brange_start = 0, brange_end = 0;
    uint32_t i = alen, j = blen;
    while (computelcs && i > 0 && j > 0) {
        int emit_range = 0;
        if (a[i - 1] == b[j - 1]) {
            result[idx - 1] = a[i - 1];
            if (arange_start == alen) {
                arange_start = i - 1;
                arange_end = i - 1;
                brange_start = j - 1;
                brange_end = j - 1;
            } else if (arange_start == i && brange_start == j) {
                /* Contiguous with the current range: extend it backwards. */
                arange_start--;
                brange_start--;
            } else {
                emit_range = 1;
            }
            if (arange_start == 0 || brange_start == 0) emit_range = 1;
            idx--;
            i--;
            j--;
        } else {
            uint32_t l1 = LCS(i - 1, j), l2 = LCS(i, j - 1);
            if (l1 > l2)
                i--;
            else
                j--;
            if (arange_start != alen) emit_range = 1;
        }
        uint32_t match_len = arange_end - arange_start + 1;
        if (emit_range) {
            if (getidx && (minmatchlen == 0 || match_len >= minmatchlen)) {
                reply_array(c, 2 + withmatchlen);
                reply_array(c, 2);
                reply_int(c, arange_start);
                reply_int(c, arange_end);
                reply_array(c, 2);
                reply_int(c, brange_start);
                reply_int(c, brange_end);
                if (withmatchlen) reply_int(c, match_len);
                arraylen++;
            }
            arange_start = alen;
        }
    }

    if (getidx) {
        reply_bulk(c, "len", 3);
        reply_int(c, LCS(alen, blen));
        reply_set_array_len(c, arr, arraylen);
    } else if (getlen) {
        reply_int(c, LCS(alen, blen));
    } else {
        reply_bulk(c, result, LCS(alen, blen));
    }
#undef LCS
    free(result);
    free(dp);
}

/* ---------------------------------------------------------------- table */

/* Designated initializers leave the statistics fields zero. */
kl_command_t cmds_string[] = {
    {
        .name = "get",
        .proc = string_get_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "1.0.0",
        .summary = "Get the value of a key",
        .complexity = "O(1)",
        .acl_cats = "@read @string @fast",
    },
    {
        .name = "set",
        .proc = string_set_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "1.0.0",
        .summary = "Set the string value of a key",
        .complexity = "O(1)",
        .acl_cats = "@write @string @slow",
    },
    {
        .name = "setnx",
        .proc = string_setnx_cmd,
        .arity = 3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "1.0.0",
        .summary = "Set the value of a key, only if the key does not exist",
        .complexity = "O(1)",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "setex",
        .proc = string_setex_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "2.0.0",
        .summary = "Set the value and expiration of a key",
        .complexity = "O(1)",
        .acl_cats = "@write @string @slow",
    },
    {
        .name = "psetex",
        .proc = string_psetex_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "2.6.0",
        .summary = "Set the value and expiration in milliseconds of a key",
        .complexity = "O(1)",
        .acl_cats = "@write @string @slow",
    },
    {
        .name = "getset",
        .proc = string_getset_cmd,
        .arity = 3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "1.0.0",
        .summary = "Set the string value of a key and return its old value",
        .complexity = "O(1)",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "getdel",
        .proc = string_getdel_cmd,
        .arity = 2,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "6.2.0",
        .summary = "Get the value of a key and delete the key",
        .complexity = "O(1)",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "getex",
        .proc = string_getex_cmd,
        .arity = -2,
        .flags = CMD_WRITE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "6.2.0",
        .summary = "Get the value of a key and optionally set its expiration",
        .complexity = "O(1)",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "mget",
        .proc = string_mget_cmd,
        .arity = -2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "string",
        .since = "1.0.0",
        .summary = "Get the values of all the given keys",
        .complexity = "O(N) where N is the number of keys to retrieve.",
        .acl_cats = "@read @string @fast",
    },
    {
        .name = "mset",
        .proc = string_mset_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = -1, .step = 2},
        .group = "string",
        .since = "1.0.1",
        .summary = "Set multiple keys to multiple values",
        .complexity = "O(N) where N is the number of keys to set.",
        .acl_cats = "@write @string @slow",
    },
    {
        .name = "msetnx",
        .proc = string_msetnx_cmd,
        .arity = -3,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = -1, .step = 2},
        .group = "string",
        .since = "1.0.1",
        .summary = "Set multiple keys to multiple values, only if none of the keys exist",
        .complexity = "O(N) where N is the number of keys to set.",
        .acl_cats = "@write @string @slow",
    },
    {
        .name = "append",
        .proc = string_append_cmd,
        .arity = 3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "2.0.0",
        .summary = "Append a value to a key",
        .complexity = "O(1). The amortized time complexity is O(1) assuming the appended value is "
                      "small and the "
                      "already present value is of any size, since the dynamic string library used "
                      "by Redis will "
                      "double the free space available on every reallocation.",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "strlen",
        .proc = string_strlen_cmd,
        .arity = 2,
        .flags = CMD_READONLY | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "2.2.0",
        .summary = "Get the length of the value stored in a key",
        .complexity = "O(1)",
        .acl_cats = "@read @string @fast",
    },
    {
        .name = "incr",
        .proc = string_incr_cmd,
        .arity = 2,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "1.0.0",
        .summary = "Increment the integer value of a key by one",
        .complexity = "O(1)",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "incrby",
        .proc = string_incrby_cmd,
        .arity = 3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "1.0.0",
        .summary = "Increment the integer value of a key by the given amount",
        .complexity = "O(1)",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "incrbyfloat",
        .proc = string_incrbyfloat_cmd,
        .arity = 3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "2.6.0",
        .summary = "Increment the float value of a key by the given amount",
        .complexity = "O(1)",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "decr",
        .proc = string_decr_cmd,
        .arity = 2,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "1.0.0",
        .summary = "Decrement the integer value of a key by one",
        .complexity = "O(1)",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "decrby",
        .proc = string_decrby_cmd,
        .arity = 3,
        .flags = CMD_WRITE | CMD_DENYOOM | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "1.0.0",
        .summary = "Decrement the integer value of a key by the given number",
        .complexity = "O(1)",
        .acl_cats = "@write @string @fast",
    },
    {
        .name = "getrange",
        .proc = string_getrange_cmd,
        .arity = 4,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "2.4.0",
        .summary = "Get a substring of the string stored at a key",
        .complexity =
            "O(N) where N is the length of the returned string. The complexity is ultimately "
            "determined by the returned length, but because creating a substring from an existing "
            "string is very cheap, it can be considered O(1) for small strings.",
        .acl_cats = "@read @string @slow",
    },
    {
        .name = "setrange",
        .proc = string_setrange_cmd,
        .arity = 4,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "string",
        .since = "2.2.0",
        .summary = "Overwrite part of a string at key starting at the specified offset",
        .complexity = "O(1), not counting the time taken to copy the new string in place. Usually, "
                      "this string "
                      "is very small so the amortized complexity is O(1). Otherwise, complexity is "
                      "O(M) with M "
                      "being the length of the value argument.",
        .acl_cats = "@write @string @slow",
    },
    {
        .name = "lcs",
        .proc = string_lcs_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 2, .step = 1},
        .group = "string",
        .since = "7.0.0",
        .summary = "Find longest common substring",
        .complexity = "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        .acl_cats = "@read @string @slow",
    },
    {0},
};
