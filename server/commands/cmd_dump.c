/* DUMP and RESTORE with Redis 7.0's payload format (persist/rdb.h: the RDB
 * serialization of the value, the RDB version and a CRC64), replies and
 * error texts, so payloads move between keyloom and redis-server both ways.
 *
 * Thread: executor (every function here). */
#include "cmd.h"
#include "commands.h"
#include "config.h"
#include "db.h"
#include "evict.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "notify.h"
#include "object.h"
#include "propagate.h"
#include "rdb.h"
#include "reply.h"
#include "server.h"

#include <string.h>

static void cmd_dump(client_t *c) {
    kobj_t *o = db_lookup_read(c->db, c->argv[1].ptr, c->argv[1].len);
    if (!o) {
        reply_null(c);
        return;
    }
    rdb_buf_t w = {0};
    rdb_dump_payload(&w, o, g_cfg.rdbcompression != 0);
    reply_bulk(c, (const char *)w.b, w.len);
    rdb_buf_free(&w);
}

static bool parse_ll(client_t *c, const resp_arg_t *a, long long *v) {
    if (kl_str_to_ll(a->ptr, a->len, v) != 0) {
        reply_not_integer(c);
        return false;
    }
    return true;
}

/* Deep checks for this RESTORE? sanitize-dump-payload yes, or clients for
 * a client that is not our master. */
static bool restore_deep(const client_t *c) {
    if (g_cfg.sanitize_dump_payload == KL_CFG_YES) return true;
    if (g_cfg.sanitize_dump_payload == 2 /* clients */) return !(c->flags & CF_MASTER);
    return false;
}

static void cmd_restore(client_t *c) {
    bool replace = false, absttl = false;
    long long ttl, lru_idle = -1, lfu_freq = -1;
    for (uint32_t j = 4; j < c->argc; j++) {
        uint32_t additional = c->argc - j - 1;
        if (arg_is(&c->argv[j], "replace")) {
            replace = true;
        } else if (arg_is(&c->argv[j], "absttl")) {
            absttl = true;
        } else if (arg_is(&c->argv[j], "idletime") && additional >= 1 && lfu_freq == -1) {
            if (!parse_ll(c, &c->argv[j + 1], &lru_idle)) return;
            if (lru_idle < 0) {
                reply_error(c, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            j++;
        } else if (arg_is(&c->argv[j], "freq") && additional >= 1 && lru_idle == -1) {
            if (!parse_ll(c, &c->argv[j + 1], &lfu_freq)) return;
            if (lfu_freq < 0 || lfu_freq > 255) {
                reply_error(c, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            j++;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    const resp_arg_t *key = &c->argv[1];
    if (!replace && db_lookup_write(c->db, key->ptr, key->len)) {
        reply_error(c, "BUSYKEY Target key name already exists.");
        return;
    }
    if (!parse_ll(c, &c->argv[2], &ttl)) return;
    if (ttl < 0) {
        reply_error(c, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    const unsigned char *p = (const unsigned char *)c->argv[3].ptr;
    size_t len = c->argv[3].len;
    if (rdb_payload_verify(p, len, false) != 0) {
        reply_error(c, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    bool deep = restore_deep(c);
    if (deep) g_srv.stat.dump_payload_sanitizations++;
    rdb_err_t err;
    kobj_t *obj = rdb_payload_load(p, len, deep ? RDB_LOAD_DEEP : 0, &err);
    if (!obj) {
        reply_error(c, "ERR Bad data format");
        return;
    }
    bool deleted = replace && db_delete(c->db, key->ptr, key->len);
    if (ttl && !absttl) ttl += g_kv.mstime;
    if (ttl && ttl <= g_kv.mstime && !g_kv.replica) {
        /* Already expired: nothing is created (Redis's checkAlreadyExpired). */
        if (deleted) {
            prop_arg_t v[2] = {PROP_STR("DEL"), prop_arg(key)};
            prop_rewrite(v, 2);
            notify_keyspace_event(KL_NOTIFY_GENERIC, "del", key->ptr, key->len, c->db->id);
            prop_changes(1);
        }
        obj_free(obj);
        reply_ok(c);
        return;
    }
    db_add(c->db, key->ptr, key->len, obj);
    if (ttl) {
        db_set_expire(c->db, key->ptr, key->len, ttl);
        if (!absttl && prop_wanted()) {
            /* Propagated with the absolute time and ABSTTL appended. */
            prop_arg_t *v = kl_malloc(sizeof(*v) * (c->argc + 1));
            char ms[KL_LLSTR_SIZE];
            for (uint32_t i = 0; i < c->argc; i++)
                v[i] = prop_arg(&c->argv[i]);
            v[2] = (prop_arg_t){ms, (size_t)kl_ll_to_str(ms, sizeof(ms), ttl)};
            v[c->argc] = PROP_STR("ABSTTL");
            prop_rewrite(v, c->argc + 1);
            kl_free(v);
        }
    }
    evict_obj_loaded(obj, lfu_freq, lru_idle);
    db_key_modified(c->db, key->ptr, key->len);
    notify_keyspace_event(KL_NOTIFY_GENERIC, "restore", key->ptr, key->len, c->db->id);
    reply_ok(c);
    prop_changes(1);
}

kl_command_t cmds_dump[] = {
    {
        .name = "dump",
        .proc = cmd_dump,
        .arity = 2,
        .flags = CMD_READONLY,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "2.6.0",
        .summary = "Return a serialized version of the value stored at the specified key.",
        .complexity = "O(1) to access the key and additional O(N*M) to serialize it, where N is "
                      "the number of Redis objects composing the value and M their average size. "
                      "For small string values the time complexity is thus O(1)+O(1*M) where M "
                      "is small, so simply O(1).",
        .acl_cats = "@keyspace @read @slow",
    },
    {
        .name = "restore",
        .proc = cmd_restore,
        .arity = -4,
        .flags = CMD_WRITE | CMD_DENYOOM,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "generic",
        .since = "2.6.0",
        .summary = "Create a key using the provided serialized value, previously obtained using "
                   "DUMP.",
        .complexity = "O(1) to create the new key and additional O(N*M) to reconstruct the "
                      "serialized value, where N is the number of Redis objects composing the "
                      "value and M their average size. For small string values the time "
                      "complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However "
                      "for sorted set values the complexity is O(N*M*log(N)) because inserting "
                      "values into sorted sets is O(log(N)).",
        .acl_cats = "@keyspace @write @slow @dangerous",
    },
    {0},
};
