/* Server commands: DBSIZE FLUSHDB FLUSHALL SWAPDB TIME SHUTDOWN MONITOR DEBUG
 * COMMAND SLOWLOG LATENCY INFO CONFIG. */
#include "cmd.h"

#include "admin.h"
#include "blocking.h"
#include "config.h"
#include "db.h"
#include "debug_digest.h"
#include "exec.h"
#include "info.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "lazyfree.h"
#include "multi.h"
#include "aof_policy.h"
#include "persistence.h"
#include "rdb.h"
#include "quicklist.h"
#include "propagate.h"
#include "reply.h"
#include "server.h"
#include "slowlog.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void cmd_dbsize(client_t *c) {
    reply_int(c, (long long)db_size(c->db));
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: ASYNC hands the old dicts to the lazy-free
 * thread, SYNC frees them here, no argument follows lazyfree-lazy-user-flush.
 * Returns 0 with *lazy set, or -1 after replying with the syntax error. */
static int flush_mode(client_t *c, bool *lazy) {
    if (c->argc == 1) {
        *lazy = g_cfg.lazyfree_lazy_user_flush != 0;
        return 0;
    }
    if (c->argc == 2 && arg_is(&c->argv[1], "async")) {
        *lazy = true;
        return 0;
    }
    if (c->argc == 2 && arg_is(&c->argv[1], "sync")) {
        *lazy = false;
        return 0;
    }
    reply_syntax_error(c);
    return -1;
}

static void cmd_flushdb(client_t *c) {
    bool lazy;
    if (flush_mode(c, &lazy) != 0) return;
    multi_touch_db(c->db, NULL); /* before: WATCHed keys that exist now break */
    prop_changes((uint64_t)db_flush_lazy(c->db, lazy));
    /* Propagated even when the db was already empty, as Redis does. */
    prop_force(PROP_ALL);
    reply_ok(c);
}

static void cmd_flushall(client_t *c) {
    bool lazy;
    if (flush_mode(c, &lazy) != 0) return;
    for (int i = 0; i < db_count(); i++)
        multi_touch_db(db_get(i), NULL);
    prop_changes((uint64_t)db_flush_all_lazy(lazy));
    /* Propagated even when every db was already empty, as Redis does. */
    prop_force(PROP_ALL);
    persistence_after_flushall(); /* a running BGSAVE is stale; save the empty set */
    reply_ok(c);
}

static void cmd_swapdb(client_t *c) {
    long long a, b;
    if (kl_str_to_ll(c->argv[1].ptr, c->argv[1].len, &a) || a < INT32_MIN || a > INT32_MAX) {
        reply_error(c, "ERR invalid first DB index");
        return;
    }
    if (kl_str_to_ll(c->argv[2].ptr, c->argv[2].len, &b) || b < INT32_MIN || b > INT32_MAX) {
        reply_error(c, "ERR invalid second DB index");
        return;
    }
    if (a < 0 || a >= db_count() || b < 0 || b >= db_count()) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    if (a != b) {
        multi_touch_db(db_get((int)a), db_get((int)b));
        multi_touch_db(db_get((int)b), db_get((int)a));
        db_swap((int)a, (int)b);
        /* Clients stay in their db: keys they wait on may exist there now. */
        block_scan_db(db_get((int)a));
        block_scan_db(db_get((int)b));
    }
    prop_changes(1);
    reply_ok(c);
}

static void cmd_time(client_t *c) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    reply_array(c, 2);
    reply_bulk_ll(c, (long long)ts.tv_sec);
    reply_bulk_ll(c, (long long)(ts.tv_nsec / 1000));
}

/* ---------------------------------------------------------------- SHUTDOWN */

static admin_shutdown_hooks_t sd_hooks;

/* A shutdown waiting for lagging replicas. */
static struct {
    bool active;
    bool from_signal;
    int flags;
    int64_t deadline_ms;
    client_t **clients; /* SHUTDOWN callers, parked */
    size_t n, cap;
} sd;

void admin_set_shutdown_hooks(const admin_shutdown_hooks_t *h) {
    sd_hooks = *h;
}

static int64_t sd_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool sd_should_wait(bool now) {
    return !now && g_cfg.shutdown_timeout > 0 && sd_hooks.lagging && sd_hooks.lagging();
}

static void sd_start(int flags, bool from_signal) {
    if (!sd.active) {
        sd.active = true;
        sd.flags = flags;
        sd.deadline_ms = sd_now_ms() + (int64_t)g_cfg.shutdown_timeout * 1000;
        exec_pause_until(INT64_MAX, false);
        if (sd_hooks.request_acks) sd_hooks.request_acks();
        kl_notice("Waiting for replicas before shutting down.");
    }
    sd.from_signal |= from_signal;
}

/* Answer the parked SHUTDOWN callers with err (NULL: close them, the
 * server stops). */
static void sd_release(const char *err) {
    for (size_t i = 0; i < sd.n; i++) {
        client_t *c = sd.clients[i];
        if (err) {
            reply_error(c, err);
            block_custom_finish(c);
        } else {
            exec_client_kill(c, true);
        }
    }
    sd.n = 0;
    if (block_work_pending()) block_handle_pending();
}

static void sd_end(void) {
    sd.active = false;
    sd.from_signal = false;
    exec_unpause();
}

static void sd_finish(void) {
    if (sd_hooks.lagging && sd_hooks.lagging() && sd_hooks.log_lagging) sd_hooks.log_lagging();
    if (persistence_prepare_shutdown(sd.flags) != 0) {
        sd_release("ERR Errors trying to SHUTDOWN. Check logs.");
        if (sd.from_signal)
            kl_warning("SIGTERM received but errors trying to shut down the server, check the "
                       "logs for more information");
        sd_end();
        return;
    }
    g_srv.shutdown_asap = 1;
    g_srv.shutdown_saved = true; /* main.c must not save again */
    sd_release(NULL);
    sd_end();
    iol_loop_stop();
}

void admin_shutdown_cron(void) {
    if (!sd.active) return;
    if ((sd_hooks.lagging && sd_hooks.lagging()) && sd_now_ms() < sd.deadline_ms) return;
    sd_finish();
}

bool admin_shutdown_wait_signal(int flags) {
    if (sd.active) return true;
    if (!sd_should_wait(false)) return false;
    sd_start(flags, true);
    return true;
}

/* The SHUTDOWN caller was unblocked (CLIENT UNBLOCK): it stays waiting in
 * Redis; here it gets the error and the shutdown goes on without it. */
static void sd_client_unblocked(client_t *c) {
    for (size_t i = 0; i < sd.n; i++) {
        if (sd.clients[i] == c) {
            sd.clients[i] = sd.clients[--sd.n];
            break;
        }
    }
    reply_error(c, "ERR Errors trying to SHUTDOWN. Check logs.");
}

static void cmd_shutdown(client_t *c) {
    bool abort_req = false, save = false, nosave = false, force = false, now = false;
    for (uint32_t i = 1; i < c->argc; i++) {
        if (arg_is(&c->argv[i], "nosave")) {
            nosave = true;
        } else if (arg_is(&c->argv[i], "now")) {
            now = true;
        } else if (arg_is(&c->argv[i], "force")) {
            force = true;
        } else if (arg_is(&c->argv[i], "save")) {
            save = true;
        } else if (arg_is(&c->argv[i], "abort")) {
            abort_req = true;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if ((save && nosave) || (abort_req && (save || nosave))) {
        reply_syntax_error(c);
        return;
    }
    if (abort_req) {
        if (c->argc != 2) {
            reply_syntax_error(c);
            return;
        }
        if (!sd.active) {
            reply_error(c, "ERR No shutdown in progress.");
            return;
        }
        kl_warning("Shutdown manually aborted.");
        sd_release("ERR Errors trying to SHUTDOWN. Check logs.");
        sd_end();
        reply_ok(c);
        return;
    }
    if (!now && (c->flags & CF_DENY_BLOCKING) && sd_should_wait(false)) {
        reply_error(c, "ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client");
        return;
    }
    kl_warning("User requested shutdown...");
    int flags = (save ? KL_SHUTDOWN_SAVE : 0) | (nosave ? KL_SHUTDOWN_NOSAVE : 0) |
                (force ? KL_SHUTDOWN_FORCE : 0);
    if (sd.active || sd_should_wait(now)) {
        /* Park the caller until the replicas caught up (admin_shutdown_cron). */
        sd_start(flags, false);
        if (sd.n == sd.cap) {
            sd.cap = sd.cap ? sd.cap * 2 : 4;
            sd.clients = kl_realloc(sd.clients, sd.cap * sizeof(*sd.clients));
        }
        sd.clients[sd.n++] = c;
        block_custom(c, 0, sd_client_unblocked);
        return;
    }
    if (persistence_prepare_shutdown(flags) != 0) {
        reply_error(c, "ERR Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    g_srv.shutdown_asap = 1;
    g_srv.shutdown_saved = true; /* main.c must not save again */
    /* No reply: the connection closes with the server, as in Redis. */
    exec_client_kill(c, true);
    iol_loop_stop();
}

static void cmd_monitor(client_t *c) {
    if (c->flags & CF_DENY_BLOCKING) {
        /* Inside EXEC: such a client expects one reply per command. */
        reply_error(c, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (c->flags & CF_MONITOR) return;
    exec_monitor_add(c);
    reply_ok(c);
}

/* ---------------------------------------------------------------- DEBUG */

static bool debug_allowed(client_t *c) {
    int mode = g_cfg.enable_debug_command;
    if (mode == KL_CFG_YES) return true;
    if (mode == KL_CFG_LOCAL &&
        (iol_client_kind(c->io) == CONN_KIND_UNIX || !strncmp(iol_client_peer(c->io), "127.", 4) ||
         !strncmp(iol_client_peer(c->io), "[::1]", 5)))
        return true;
    reply_error(c, "ERR DEBUG command not allowed. If the enable-debug-command option is set to "
                   "\"local\", you can run it from a local connection, otherwise you need to set "
                   "this option in the configuration file, and then restart the server.");
    return false;
}

/* DEBUG POPULATE count [prefix] [size]: keys "<prefix>:<n>" (prefix "key")
 * holding "value:<n>", or size bytes starting with it and zero-padded;
 * existing keys are left alone; nothing is propagated (Redis 7.0). */
static void debug_populate(client_t *c) {
    long long keys, valsize = 0;
    if (kl_str_to_ll(c->argv[2].ptr, c->argv[2].len, &keys) != 0 || keys < 0) {
        reply_error(c, "ERR value is out of range, must be positive");
        return;
    }
    if (c->argc == 5 &&
        (kl_str_to_ll(c->argv[4].ptr, c->argv[4].len, &valsize) != 0 || valsize < 0)) {
        reply_error(c, "ERR value is out of range, must be positive");
        return;
    }
    const char *prefix = c->argc == 3 ? "key" : c->argv[3].ptr;
    char kbuf[160], vbuf[64];
    char *big = valsize > 0 ? kl_calloc(1, (size_t)valsize) : NULL;
    for (long long j = 0; j < keys; j++) {
        int kl = snprintf(kbuf, sizeof(kbuf), "%.100s:%lld", prefix, j);
        if (db_lookup_write(c->db, kbuf, (size_t)kl)) continue;
        int vl = snprintf(vbuf, sizeof(vbuf), "value:%lld", j);
        kobj_t *val;
        if (valsize == 0) {
            val = obj_string_new(vbuf, (size_t)vl);
        } else {
            memset(big, 0, (size_t)valsize);
            memcpy(big, vbuf, (size_t)vl < (size_t)valsize ? (size_t)vl : (size_t)valsize);
            val = obj_string_new(big, (size_t)valsize);
        }
        db_add(c->db, kbuf, (size_t)kl, val);
        db_key_modified(c->db, kbuf, (size_t)kl);
    }
    kl_free(big);
    reply_ok(c);
}

static void cmd_debug(client_t *c) {
    if (!debug_allowed(c)) return;
    const resp_arg_t *sub = &c->argv[1];
    if (c->argc == 2 && arg_is(sub, "help")) {
        static const char *help[] = {
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "LOADAOF",
            "    Flush the AOF buffers on disk and reload the AOF in memory.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cache master will not be updated.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
            "    * MERGE: conflicting keys will be loaded from RDB.",
            "    * NOFLUSH: the existing database will not be removed before load, but",
            "      conflicting keys will generate an exception and kill the server.",
            "    * NOSAVE: the database will be loaded from an existing RDB file.",
            "    Examples:",
            "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
            "      the database.",
            "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
            "      existing RDB file.",
            "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
            "      file to the database.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            NULL};
        reply_help(c, help);
    } else if (c->argc == 2 && arg_is(sub, "digest")) {
        debug_reply_digest(c);
    } else if (arg_is(sub, "digest-value")) {
        debug_reply_digest_value(c);
    } else if (c->argc == 3 && arg_is(sub, "sleep")) {
        double secs = strtod(c->argv[2].ptr, NULL);
        if (secs > 0) {
            struct timespec ts;
            ts.tv_sec = (time_t)secs;
            ts.tv_nsec = (long)((secs - floor(secs)) * 1e9);
            nanosleep(&ts, NULL);
        }
        reply_ok(c);
    } else if (arg_is(sub, "populate") && c->argc >= 3 && c->argc <= 5) {
        debug_populate(c);
    } else if (arg_is(sub, "reload")) {
        bool save = true, flush = true, merge = false;
        for (uint32_t j = 2; j < c->argc; j++) {
            if (arg_is(&c->argv[j], "merge")) {
                merge = true;
            } else if (arg_is(&c->argv[j], "noflush")) {
                flush = false;
            } else if (arg_is(&c->argv[j], "nosave")) {
                save = false;
            } else {
                reply_error(c, "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE "
                               "options.");
                return;
            }
        }
        const char *msg;
        if (persistence_debug_reload(save, flush, merge, &msg) != 0)
            reply_error(c, msg);
        else
            reply_ok(c);
    } else if (c->argc == 2 && arg_is(sub, "loadaof")) {
        aof_debug_loadaof();
        reply_ok(c);
    } else if (c->argc == 3 && arg_is(sub, "set-active-expire")) {
        g_kv.active_expire_enabled = atoi(c->argv[2].ptr);
        reply_ok(c);
    } else if (c->argc == 3 && arg_is(sub, "object")) {
        db_expire_if_needed(c->db, c->argv[2].ptr, c->argv[2].len);
        kobj_t *o = db_peek(c->db, c->argv[2].ptr, c->argv[2].len);
        if (!o) {
            reply_error(c, "ERR no such key");
            return;
        }
        char buf[384];
        snprintf(buf, sizeof(buf),
                 "Value at:%p refcount:%lld encoding:%s serializedlength:%zu lru:%u "
                 "lru_seconds_idle:%lld",
                 (void *)o, obj_refcount(o), obj_encoding_name(o->enc),
                 rdb_serialized_length(o, g_cfg.rdbcompression != 0), o->lru, db_idle_seconds(o));
        if (o->type == OBJ_LIST) {
            /* Redis's quicklist fields (ql_compressed: whether compression is on). */
            const quicklist_t *ql = o->v.p;
            size_t used = strlen(buf);
            unsigned long nodes = ql_node_count(ql);
            snprintf(buf + used, sizeof(buf) - used,
                     " ql_nodes:%lu ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d "
                     "ql_uncompressed_size:%zu",
                     nodes, nodes ? (double)ql_count(ql) / (double)nodes : 0.0, ql_fill(ql),
                     ql_compress_depth(ql) != 0, ql_payload_bytes(ql));
        }
        reply_simple(c, buf);
    } else {
        reply_errorf(c,
                     "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                     "DEBUG HELP.",
                     c->argv[1].ptr);
    }
}

/* ---------------------------------------------------------------- COMMAND */

static void reply_flags(client_t *c, uint32_t f) {
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {CMD_WRITE, "write"},
        {CMD_READONLY, "readonly"},
        {CMD_DENYOOM, "denyoom"},
        {CMD_ADMIN, "admin"},
        {CMD_PUBSUB, "pubsub"},
        {CMD_NOSCRIPT, "noscript"},
        {CMD_BLOCKING, "blocking"},
        {CMD_LOADING, "loading"},
        {CMD_STALE, "stale"},
        {CMD_SKIP_MONITOR, "skip_monitor"},
        {CMD_SKIP_SLOWLOG, "skip_slowlog"},
        {CMD_FAST, "fast"},
        {CMD_NO_AUTH, "no_auth"},
        {CMD_MAY_REPLICATE, "may_replicate"},
        {CMD_NO_ASYNC_LOADING, "no_async_loading"},
        {CMD_NO_MULTI, "no_multi"},
        {CMD_ALLOW_BUSY, "allow_busy"},
        {CMD_NO_MANDATORY_KEYS, "no_mandatory_keys"},
        {CMD_MOVABLE_KEYS, "movablekeys"},
    };
    long n = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (f & names[i].bit) n++;
    reply_set(c, n);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (f & names[i].bit) reply_simple(c, names[i].name);
}

static void reply_words(client_t *c, const char *s) {
    long n = 0;
    for (const char *p = s; p && *p;) {
        while (*p == ' ')
            p++;
        if (!*p) break;
        n++;
        while (*p && *p != ' ')
            p++;
    }
    reply_set(c, n);
    for (const char *p = s; p && *p;) {
        while (*p == ' ')
            p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        char w[64];
        size_t l = (size_t)(e - p) < sizeof(w) - 1 ? (size_t)(e - p) : sizeof(w) - 1;
        memcpy(w, p, l);
        w[l] = '\0';
        reply_simple(c, w);
        p = e;
    }
}

static void reply_command_info(client_t *c, const kl_command_t *cmd) {
    if (!cmd) {
        reply_null(c);
        return;
    }
    reply_array(c, 10);
    reply_bulk_cstr(c, cmd->name);
    reply_int(c, cmd->arity);
    reply_flags(c, cmd->flags);
    reply_int(c, cmd->keys.first);
    reply_int(c, cmd->keys.last);
    reply_int(c, cmd->keys.step);
    reply_words(c, cmd->acl_cats);
    reply_set(c, 0);   /* tips */
    reply_array(c, 0); /* key specs */
    long nsub = 0;
    for (const kl_command_t *s = cmd->subcommands; s && s->name; s++)
        nsub++;
    reply_array(c, nsub);
    for (const kl_command_t *s = cmd->subcommands; s && s->name; s++)
        reply_command_info(c, s);
}

static void reply_command_docs(client_t *c, const kl_command_t *cmd) {
    long nsub = 0;
    for (const kl_command_t *s = cmd->subcommands; s && s->name; s++)
        nsub++;
    reply_map(c, nsub ? 5 : 4);
    reply_bulk_cstr(c, "summary");
    reply_bulk_cstr(c, cmd->summary ? cmd->summary : "");
    reply_bulk_cstr(c, "since");
    reply_bulk_cstr(c, cmd->since ? cmd->since : "1.0.0");
    reply_bulk_cstr(c, "group");
    reply_bulk_cstr(c, cmd->group ? cmd->group : "generic");
    reply_bulk_cstr(c, "complexity");
    reply_bulk_cstr(c, cmd->complexity ? cmd->complexity : "O(1)");
    if (nsub) {
        reply_bulk_cstr(c, "subcommands");
        reply_map(c, nsub);
        for (const kl_command_t *s = cmd->subcommands; s && s->name; s++) {
            reply_bulk_cstr(c, s->name);
            reply_command_docs(c, s);
        }
    }
}

static void cmd_command(client_t *c) {
    if (c->argc == 1) {
        reply_array(c, (long)cmd_count());
        for (size_t i = 0; i < cmd_count(); i++)
            reply_command_info(c, cmd_at(i));
        return;
    }
    const resp_arg_t *sub = &c->argv[1];
    if (c->argc == 2 && arg_is(sub, "help")) {
        static const char *help[] = {
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            NULL};
        reply_help(c, help);
    } else if (c->argc == 2 && arg_is(sub, "count")) {
        reply_int(c, (long long)cmd_count());
    } else if (arg_is(sub, "list")) {
        /* COMMAND LIST [FILTERBY MODULE name | ACLCAT cat | PATTERN pat] */
        int ftype = 0; /* 0 none, 1 module, 2 aclcat, 3 pattern */
        const resp_arg_t *fval = NULL;
        if (c->argc == 5 && arg_is(&c->argv[2], "filterby")) {
            if (arg_is(&c->argv[3], "module"))
                ftype = 1;
            else if (arg_is(&c->argv[3], "aclcat"))
                ftype = 2;
            else if (arg_is(&c->argv[3], "pattern"))
                ftype = 3;
            fval = &c->argv[4];
        }
        if ((c->argc != 2 && c->argc != 5) || (c->argc == 5 && ftype == 0)) {
            reply_syntax_error(c);
            return;
        }
        reply_deferred_t d = reply_defer(c);
        long n = 0;
        for (size_t i = 0; i < cmd_count(); i++) {
            const kl_command_t *top = cmd_at(i);
            for (int k = -1;; k++) {
                const kl_command_t *x = k < 0 ? top : &top->subcommands[k];
                if (k >= 0 && (!top->subcommands || !x->name)) break;
                bool ok = true;
                if (ftype == 1) ok = false; /* keyloom has no modules */
                if (ftype == 2) {
                    char cat[80];
                    snprintf(cat, sizeof(cat), "@%s", fval->ptr);
                    const char *cats = x->acl_cats ? x->acl_cats : "";
                    const char *hit = strstr(cats, cat);
                    size_t cl = strlen(cat);
                    ok = hit && (hit[cl] == ' ' || hit[cl] == '\0');
                }
                if (ftype == 3)
                    ok = kl_glob_match(fval->ptr, fval->len, x->name, strlen(x->name), 1);
                if (ok) {
                    reply_bulk_cstr(c, x->name);
                    n++;
                }
                if (!top->subcommands) break;
            }
        }
        reply_set_array_len(c, d, n);
    } else if (arg_is(sub, "getkeys")) {
        if (c->argc < 3) {
            reply_error(c, "ERR wrong number of arguments for 'command|getkeys' command");
            return;
        }
        kl_command_t *cmd = cmd_lookup(c->argv[2].ptr, c->argv[2].len);
        if (!cmd) {
            reply_error(c, "ERR Invalid command specified");
            return;
        }
        int argc = (int)c->argc - 2;
        if (cmd->subcommands && argc >= 2) {
            kl_command_t *sc = cmd_lookup_sub(cmd, c->argv[3].ptr, c->argv[3].len);
            if (!sc) {
                reply_error(c, "ERR Invalid command specified");
                return;
            }
            cmd = sc;
        }
        if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
            reply_error(c, "ERR Invalid number of arguments specified for command");
            return;
        }
        if (cmd->keys.first <= 0 && !(cmd->flags & CMD_MOVABLE_KEYS)) {
            reply_error(c, "ERR The command has no key arguments");
            return;
        }
        int n = cmd_get_keys(cmd, c->argv + 2, argc, NULL, 0);
        if (n <= 0) {
            reply_error(c, "ERR Invalid arguments specified for command");
            return;
        }
        int *keys = kl_malloc((size_t)n * sizeof(int));
        cmd_get_keys(cmd, c->argv + 2, argc, keys, n);
        reply_array(c, n);
        for (int i = 0; i < n; i++)
            reply_bulk(c, c->argv[2 + keys[i]].ptr, c->argv[2 + keys[i]].len);
        kl_free(keys);
    } else if (arg_is(sub, "info")) {
        if (c->argc == 2) {
            reply_array(c, (long)cmd_count());
            for (size_t i = 0; i < cmd_count(); i++)
                reply_command_info(c, cmd_at(i));
            return;
        }
        reply_array(c, c->argc - 2);
        for (uint32_t i = 2; i < c->argc; i++) {
            const kl_command_t *cmd = NULL;
            const char *bar = memchr(c->argv[i].ptr, '|', c->argv[i].len);
            if (bar) {
                kl_command_t *p = cmd_lookup(c->argv[i].ptr, (size_t)(bar - c->argv[i].ptr));
                if (p)
                    cmd = cmd_lookup_sub(p, bar + 1,
                                         c->argv[i].len - (size_t)(bar - c->argv[i].ptr) - 1);
            } else {
                cmd = cmd_lookup(c->argv[i].ptr, c->argv[i].len);
            }
            reply_command_info(c, cmd);
        }
    } else if (arg_is(sub, "docs")) {
        if (c->argc == 2) {
            reply_map(c, (long)cmd_count());
            for (size_t i = 0; i < cmd_count(); i++) {
                reply_bulk_cstr(c, cmd_at(i)->name);
                reply_command_docs(c, cmd_at(i));
            }
            return;
        }
        reply_deferred_t d = reply_defer(c);
        long n = 0;
        for (uint32_t i = 2; i < c->argc; i++) {
            kl_command_t *cmd = cmd_lookup(c->argv[i].ptr, c->argv[i].len);
            if (!cmd) continue;
            reply_bulk_cstr(c, cmd->name);
            reply_command_docs(c, cmd);
            n++;
        }
        reply_set_map_len(c, d, n);
    } else {
        reply_subcommand_error(c);
    }
}

/* ---------------------------------------------------------------- INFO */

static void cmd_info(client_t *c) {
    kl_buf_t b = {0};
    info_generate(&b, (int)c->argc - 1, c->argv + 1);
    reply_verbatim(c, b.p ? b.p : "", b.len, "txt");
    kl_buf_free(&b);
}

/* ---------------------------------------------------------------- CONFIG */

static void config_emit(void *ctx, const char *name, const char *value, size_t vlen) {
    client_t *c = ctx;
    reply_bulk_cstr(c, name);
    reply_bulk(c, value, vlen);
}

typedef struct emit_count {
    long n;
} emit_count_t;

static void config_count(void *ctx, const char *name, const char *value, size_t vlen) {
    ((emit_count_t *)ctx)->n++;
}

static void cmd_config(client_t *c) {
    const resp_arg_t *sub = &c->argv[1];
    if (c->argc == 2 && arg_is(sub, "help")) {
        static const char *help[] = {
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            NULL};
        reply_help(c, help);
    } else if (arg_is(sub, "get")) {
        const char *pats[64];
        int np = 0;
        for (uint32_t i = 2; i < c->argc && np < 64; i++)
            pats[np++] = c->argv[i].ptr;
        emit_count_t cnt = {0};
        config_get(pats, np, config_count, &cnt);
        reply_map(c, cnt.n);
        config_get(pats, np, config_emit, c);
    } else if (arg_is(sub, "set")) {
        if ((c->argc - 2) % 2 != 0) {
            reply_syntax_error(c);
            return;
        }
        const char **args = kl_malloc(sizeof(char *) * (c->argc - 2));
        for (uint32_t i = 2; i < c->argc; i++)
            args[i - 2] = c->argv[i].ptr;
        char *err = NULL;
        int rc = config_set((int)c->argc - 2, args, &err);
        kl_free(args);
        if (rc != 0) {
            reply_error(c, err ? err : "ERR CONFIG SET failed");
            kl_free(err);
            return;
        }
        reply_ok(c);
    } else if (c->argc == 2 && arg_is(sub, "resetstat")) {
        memset(&g_srv.stat, 0, sizeof(g_srv.stat));
        kv_stats_reset();
        g_srv.stat.reset_time_ms = g_kv.mstime;
        cmd_stats_reset();
        iol_thread_stats_reset();
        reply_errorstats_reset();
        lazyfree_reset_stats();
        reply_ok(c);
    } else if (c->argc == 2 && arg_is(sub, "rewrite")) {
        char *err = NULL;
        if (config_rewrite(&err) != 0) {
            reply_error(c, err ? err : "ERR Rewriting config file failed");
            kl_free(err);
            return;
        }
        kl_notice("CONFIG REWRITE executed with success.");
        reply_ok(c);
    } else {
        reply_subcommand_error(c);
    }
}

static kl_command_t config_subs[] = {
    {
        .name = "config|get",
        .proc = cmd_config,
        .arity = -3,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.0.0",
        .summary = "Returns the effective values of configuration parameters.",
        .complexity = "O(N) when N is the number of configuration parameters provided",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "config|set",
        .proc = cmd_config,
        .arity = -4,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.0.0",
        .summary = "Sets configuration parameters in-flight.",
        .complexity = "O(N) when N is the number of configuration parameters provided",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "config|resetstat",
        .proc = cmd_config,
        .arity = 2,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.0.0",
        .summary = "Resets the server's statistics.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "config|rewrite",
        .proc = cmd_config,
        .arity = 2,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.8.0",
        .summary = "Persists the effective configuration to file.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "config|help",
        .proc = cmd_config,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "5.0.0",
        .summary = "Returns helpful text about the different subcommands.",
        .complexity = "O(1)",
        .acl_cats = "@slow",
    },
    {0},
};

static kl_command_t command_subs[] = {
    {
        .name = "command|count",
        .proc = cmd_command,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.8.13",
        .summary = "Returns a count of commands.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "command|docs",
        .proc = cmd_command,
        .arity = -2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "7.0.0",
        .summary = "Returns documentary information about one, multiple or all commands.",
        .complexity = "O(N) where N is the number of commands to look up",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "command|info",
        .proc = cmd_command,
        .arity = -2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.8.13",
        .summary = "Returns information about one, multiple or all commands.",
        .complexity = "O(N) where N is the number of commands to look up",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "command|getkeys",
        .proc = cmd_command,
        .arity = -4,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.8.13",
        .summary = "Extracts the key names from an arbitrary command.",
        .complexity = "O(N) where N is the number of arguments to the command",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "command|list",
        .proc = cmd_command,
        .arity = -2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "7.0.0",
        .summary = "Returns a list of command names.",
        .complexity = "O(N) where N is the total number of Redis commands",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "command|help",
        .proc = cmd_command,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "5.0.0",
        .summary = "Returns helpful text about the different subcommands.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {0},
};

static kl_command_t slowlog_subs[] = {
    {
        .name = "slowlog|get",
        .proc = cmd_slowlog,
        .arity = -2,
        .flags = CMD_ADMIN | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.2.12",
        .summary = "Returns the slow log's entries.",
        .complexity = "O(N) where N is the number of entries returned",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "slowlog|len",
        .proc = cmd_slowlog,
        .arity = 2,
        .flags = CMD_ADMIN | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.2.12",
        .summary = "Returns the number of entries in the slow log.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "slowlog|reset",
        .proc = cmd_slowlog,
        .arity = 2,
        .flags = CMD_ADMIN | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.2.12",
        .summary = "Clears all entries from the slow log.",
        .complexity = "O(N) where N is the number of entries in the slowlog",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "slowlog|help",
        .proc = cmd_slowlog,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "6.2.0",
        .summary = "Show helpful text about the different subcommands",
        .complexity = "O(1)",
        .acl_cats = "@slow",
    },
    {0},
};

static kl_command_t latency_subs[] = {
    {
        .name = "latency|latest",
        .proc = cmd_latency,
        .arity = 2,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.8.13",
        .summary = "Returns the latest latency samples for all events.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "latency|history",
        .proc = cmd_latency,
        .arity = 3,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.8.13",
        .summary = "Returns timestamp-latency samples for an event.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "latency|reset",
        .proc = cmd_latency,
        .arity = -2,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.8.13",
        .summary = "Resets the latency data for one or more events.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "latency|help",
        .proc = cmd_latency,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "2.8.13",
        .summary = "Returns helpful text about the different subcommands.",
        .complexity = "O(1)",
        .acl_cats = "@slow",
    },
    {0},
};

kl_command_t cmds_server[] = {
    {
        .name = "dbsize",
        .proc = cmd_dbsize,
        .arity = 1,
        .flags = CMD_READONLY | CMD_FAST,
        .group = "server",
        .since = "1.0.0",
        .summary = "Returns the number of keys in the database.",
        .complexity = "O(1)",
        .acl_cats = "@keyspace @read @fast",
    },
    {
        .name = "flushdb",
        .proc = cmd_flushdb,
        .arity = -1,
        .flags = CMD_WRITE,
        .group = "server",
        .since = "1.0.0",
        .summary = "Remove all keys from the current database.",
        .complexity = "O(N) where N is the number of keys in the selected database",
        .acl_cats = "@keyspace @write @slow @dangerous",
    },
    {
        .name = "flushall",
        .proc = cmd_flushall,
        .arity = -1,
        .flags = CMD_WRITE,
        .group = "server",
        .since = "1.0.0",
        .summary = "Removes all keys from all databases.",
        .complexity = "O(N) where N is the total number of keys in all databases",
        .acl_cats = "@keyspace @write @slow @dangerous",
    },
    {
        .name = "swapdb",
        .proc = cmd_swapdb,
        .arity = 3,
        .flags = CMD_WRITE | CMD_FAST,
        .group = "server",
        .since = "4.0.0",
        .summary = "Swaps two Redis databases.",
        .complexity = "O(N) where N is the count of clients watching or blocking on keys from both "
                      "databases.",
        .acl_cats = "@keyspace @write @fast @dangerous",
    },
    {
        .name = "time",
        .proc = cmd_time,
        .arity = 1,
        .flags = CMD_LOADING | CMD_STALE | CMD_FAST,
        .group = "server",
        .since = "2.6.0",
        .summary = "Returns the server time.",
        .complexity = "O(1)",
        .acl_cats = "@fast",
    },
    {
        .name = "shutdown",
        .proc = cmd_shutdown,
        .arity = -1,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI | CMD_SENTINEL |
                 CMD_ALLOW_BUSY,
        .group = "server",
        .since = "1.0.0",
        .summary = "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        .complexity =
            "O(N) when saving, where N is the total number of keys in all databases when saving "
            "data, otherwise O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "monitor",
        .proc = cmd_monitor,
        .arity = 1,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "1.0.0",
        .summary = "Listens for all requests received by the server in real-time.",
        .complexity = "",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "debug",
        .proc = cmd_debug,
        .arity = -2,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_PROTECTED,
        .group = "server",
        .since = "1.0.0",
        .summary = "A container for debugging commands.",
        .complexity = "Depends on subcommand.",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "info",
        .proc = cmd_info,
        .arity = -1,
        .flags = CMD_LOADING | CMD_STALE | CMD_SENTINEL,
        .group = "server",
        .since = "1.0.0",
        .summary = "Returns information and statistics about the server.",
        .complexity = "O(1)",
        .acl_cats = "@slow @dangerous",
    },
    {
        .name = "config",
        .proc = cmd_config,
        .arity = -2,
        .flags = 0,
        .group = "server",
        .since = "2.0.0",
        .summary = "A container for server configuration commands.",
        .complexity = "Depends on subcommand.",
        .acl_cats = "@slow",
        .subcommands = config_subs,
    },
    {
        .name = "command",
        .proc = cmd_command,
        .arity = -1,
        .flags = CMD_LOADING | CMD_STALE | CMD_SENTINEL,
        .group = "server",
        .since = "2.8.13",
        .summary = "Returns detailed information about all commands.",
        .complexity = "O(N) where N is the total number of Redis commands",
        .acl_cats = "@slow @connection",
        .subcommands = command_subs,
    },
    {
        .name = "slowlog",
        .proc = cmd_slowlog,
        .arity = -2,
        .flags = 0,
        .group = "server",
        .since = "2.2.12",
        .summary = "A container for slow log commands.",
        .complexity = "Depends on subcommand.",
        .acl_cats = "@slow",
        .subcommands = slowlog_subs,
    },
    {
        .name = "latency",
        .proc = cmd_latency,
        .arity = -2,
        .flags = 0,
        .group = "server",
        .since = "2.8.13",
        .summary = "A container for latency diagnostics commands.",
        .complexity = "Depends on subcommand.",
        .acl_cats = "@slow",
        .subcommands = latency_subs,
    },
    {0},
};
