/* Executor: client registry, the per-batch command loop, command dispatch
 * with Redis's checks (unknown command, arity, authentication, pause), stats,
 * slowlog/latency sampling and MONITOR feeding. */
#include "exec.h"

#include "cmd.h"
#include "config.h"
#include "db.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "reply.h"
#include "server.h"
#include "slowlog.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static client_t *registry;
static size_t nclients;
static client_t **monitors;
static size_t nmonitors, monitors_cap;
/* Clients whose batch waits for CLIENT PAUSE to end (FIFO). */
static client_t **parked;
static size_t nparked, parked_cap;
/* Where each parked client stopped in its batch: kept in the client. */

client_t *clients_first(void) {
    return registry;
}

size_t clients_count(void) {
    return nclients;
}

client_t *client_by_id(uint64_t id) {
    for (client_t *c = registry; c; c = c->next)
        if (c->io.id == id) return c;
    return NULL;
}

const char *client_type_name(const client_t *c) {
    if (c->flags & CF_PUBSUB) return "pubsub";
    return "normal";
}

/* ---------------------------------------------------------------- hooks */

static iol_client_t *hook_accept(int fd, int kind, const char *peer, const char *local, int port,
                                 const char **reject) {
    if (nclients >= (size_t)g_cfg.maxclients) {
        *reject = "-ERR max number of clients reached\r\n";
        g_srv.stat.rejected_conn++;
        kl_verbose("Denied connection from %s: max number of clients reached", peer);
        return NULL;
    }
    if (g_cfg.protected_mode && !(g_cfg.requirepass && g_cfg.requirepass[0]) &&
        kind != CONN_KIND_UNIX && strncmp(peer, "127.", 4) != 0 && strncmp(peer, "[::1]:", 6) != 0) {
        *reject = "-DENIED Redis is running in protected mode because protected mode is enabled "
                  "and no password is set for the default user. In this mode connections are "
                  "only accepted from the loopback interface. If you want to connect from "
                  "external computers to Redis you may adopt one of the following solutions: "
                  "1) Just disable protected mode sending the command 'CONFIG SET protected-mode "
                  "no' from the loopback interface by connecting to Redis from the same host the "
                  "server is running, however MAKE SURE Redis is not publicly accessible from "
                  "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
                  "Alternatively you can just disable the protected mode by editing the Redis "
                  "configuration file, and setting the protected mode option to 'no', and then "
                  "restarting the server. 3) If you started the server manually just for "
                  "testing, restart it with the '--protected-mode no' option. 4) Set up an "
                  "authentication password for the default user. NOTE: You only need to do one "
                  "of the above things in order for the server to start accepting connections "
                  "from the outside.\r\n";
        g_srv.stat.rejected_conn++;
        return NULL;
    }
    client_t *c = kl_calloc(1, sizeof(*c));
    c->io.id = g_srv.next_client_id++;
    c->db_id = 0;
    c->db = db_get(0);
    c->resp = 2;
    c->authenticated = !(g_cfg.requirepass && g_cfg.requirepass[0]);
    c->io.unauth_limits = !c->authenticated;
    c->next = registry;
    if (registry) registry->prev = c;
    registry = c;
    nclients++;
    g_srv.stat.numconnections++;
    return &c->io;
}

void exec_monitor_remove(client_t *c) {
    for (size_t i = 0; i < nmonitors; i++) {
        if (monitors[i] == c) {
            memmove(&monitors[i], &monitors[i + 1], (nmonitors - i - 1) * sizeof(*monitors));
            nmonitors--;
            return;
        }
    }
}

static void parked_remove(client_t *c) {
    for (size_t i = 0; i < nparked; i++) {
        if (parked[i] == c) {
            memmove(&parked[i], &parked[i + 1], (nparked - i - 1) * sizeof(*parked));
            nparked--;
            return;
        }
    }
}

static void hook_closed(iol_client_t *io) {
    client_t *c = client_of(io);
    if (c->flags & CF_MONITOR) exec_monitor_remove(c);
    parked_remove(c);
    if (c->prev)
        c->prev->next = c->next;
    else if (registry == c)
        registry = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    nclients--;
    kl_free(c->name);
    kl_free(c->lib_name);
    kl_free(c->lib_ver);
    c->name = c->lib_name = c->lib_ver = NULL;
}

static void hook_free(iol_client_t *io) {
    kl_free(client_of(io));
}

/* ---------------------------------------------------------------- command loop */

static void reply_unknown_command(client_t *c) {
    char args[160];
    size_t off = 0;
    args[0] = '\0';
    for (uint32_t i = 1; i < c->argc && off < 128; i++) {
        int n = snprintf(args + off, sizeof(args) - off, "'%.*s' ", (int)(128 - off),
                         c->argv[i].ptr);
        if (n < 0) break;
        off += (size_t)n;
        if (off >= sizeof(args)) off = sizeof(args) - 1;
    }
    reply_errorf(c, "ERR unknown command '%.128s', with args beginning with: %s", c->argv[0].ptr,
                 args);
}

static bool is_write_for_pause(const kl_command_t *cmd) {
    return (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
}

/* Returns false when the client must wait (CLIENT PAUSE). */
static bool exec_one(client_t *c) {
    kl_command_t *cmd = cmd_lookup(c->argv[0].ptr, c->argv[0].len);
    kl_command_t *top = cmd;
    if (cmd && cmd->subcommands) {
        if (c->argc >= 2) {
            kl_command_t *sub = cmd_lookup_sub(cmd, c->argv[1].ptr, c->argv[1].len);
            if (!sub) {
                cmd->rejected_calls++;
                g_srv.stat.rejected_calls++;
                char name[64];
                size_t n = c->argv[0].len < 63 ? c->argv[0].len : 63;
                for (size_t i = 0; i < n; i++)
                    name[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
                name[n] = '\0';
                reply_errorf(c, "ERR unknown subcommand '%.128s'. Try %s HELP.", c->argv[1].ptr,
                             name);
                return true;
            }
            cmd = sub;
        }
    }
    if (!cmd) {
        g_srv.stat.rejected_calls++;
        reply_unknown_command(c);
        return true;
    }
    if ((cmd->arity > 0 && (int)c->argc != cmd->arity) ||
        (int)c->argc < -cmd->arity) {
        cmd->rejected_calls++;
        g_srv.stat.rejected_calls++;
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", cmd->name);
        return true;
    }
    if (!c->authenticated && !(top->flags & CMD_NO_AUTH)) {
        cmd->rejected_calls++;
        g_srv.stat.rejected_calls++;
        reply_error(c, "NOAUTH Authentication required.");
        return true;
    }
    if (g_srv.paused && !(c->flags & CF_MONITOR)) {
        if (g_srv.pause_all || is_write_for_pause(cmd)) return false;
    }
    c->cmd = cmd;
    cmd_call(c);
    c->lastcmd = cmd;
    return true;
}

/* Run commands of the batch from c->commands_done on. Returns false if it
 * had to stop and park. */
#define EXEC_REPLY_YIELD (1024 * 1024)

static bool exec_batch(client_t *c) {
    resp_batch_t *b = c->io.exec_batch;
    if (c->commands_done < c->io.exec_done) c->commands_done = c->io.exec_done;
    for (uint32_t i = (uint32_t)c->commands_done; i < b->ncmds; i++) {
        if (c->flags & (CF_CLOSE_ASAP | CF_CLOSE_AFTER_REPLY)) break;
        if (c->io.hand_flags & (IOL_HAND_CLOSE_NOW | IOL_HAND_CLOSE_AFTER_REPLY)) break;
        if (c->io.reply.bytes > EXEC_REPLY_YIELD && !(c->flags & CF_REPLY_OFF)) {
            /* Let the I/O thread write (and the client read) before running
             * more: a client that pipelines big replies without reading them
             * must not grow the server's memory without bound. */
            c->io.exec_done = i;
            c->io.hand_flags |= IOL_HAND_MORE;
            c->commands_done = 0;
            c->argc = 0;
            c->argv = NULL;
            return true;
        }
        c->argc = resp_batch_argc(b, i);
        c->argv = resp_batch_argv(b, i);
        if (!exec_one(c)) {
            c->commands_done = i;
            return false;
        }
        /* CLIENT REPLY SKIP mutes exactly the command after it. */
        if (c->flags & CF_REPLY_SKIP) c->flags &= ~CF_REPLY_SKIP;
        if (c->flags & CF_REPLY_SKIP_NEXT) {
            c->flags |= CF_REPLY_SKIP;
            c->flags &= ~CF_REPLY_SKIP_NEXT;
        }
    }
    c->commands_done = 0;
    c->io.exec_done = 0;
    c->argc = 0;
    c->argv = NULL;
    return true;
}

static bool hook_dispatch(iol_client_t *io) {
    client_t *c = client_of(io);
    if (c->flags & CF_CLOSE_ASAP) return true;
    if (nparked && !(c->flags & CF_MONITOR)) {
        /* Keep FIFO order behind clients already waiting on a pause. */
        for (size_t i = 0; i < nparked; i++)
            if (parked[i] == c) return false;
    }
    if (exec_batch(c)) return true;
    if (nparked == parked_cap) {
        parked_cap = parked_cap ? parked_cap * 2 : 16;
        parked = kl_realloc(parked, parked_cap * sizeof(*parked));
    }
    parked[nparked++] = c;
    return false;
}

static void hook_gone(iol_client_t *io) {
    client_t *c = client_of(io);
    parked_remove(c);
    c->commands_done = 0;
    c->flags |= CF_CLOSE_ASAP;
    iol_client_release(io);
}

static const iol_hooks_t hooks = {
    .accept = hook_accept,
    .dispatch = hook_dispatch,
    .gone = hook_gone,
    .closed = hook_closed,
    .free = hook_free,
};

const iol_hooks_t *exec_hooks(void) {
    return &hooks;
}

/* ---------------------------------------------------------------- call */

static void feed_monitors(client_t *c) {
    if (!nmonitors) return;
    kl_buf_t b = {0};
    long long us = g_srv.ustime;
    kl_buf_appendf(&b, "+%lld.%06lld ", us / 1000000, us % 1000000);
    if (c->io.kind == CONN_KIND_UNIX)
        kl_buf_appendf(&b, "[%d unix:%s] ", c->db_id, g_cfg.unixsocket);
    else
        kl_buf_appendf(&b, "[%d %s] ", c->db_id, c->io.peer);
    /* Credentials never reach MONITOR: AUTH's arguments and HELLO's AUTH
     * user and password are redacted, as Redis does. */
    bool is_auth = !strcmp(c->cmd->name, "auth");
    bool is_hello = !strcmp(c->cmd->name, "hello");
    uint32_t redact_until = 0;
    for (uint32_t i = 0; i < c->argc; i++) {
        if (i) kl_buf_append(&b, " ", 1);
        if (is_hello && i >= 2 && i + 2 < c->argc && !strcasecmp(c->argv[i].ptr, "auth") &&
            redact_until <= i) {
            kl_buf_append_repr(&b, c->argv[i].ptr, c->argv[i].len);
            redact_until = i + 3;
            continue;
        }
        if ((is_auth && i > 0) || i < redact_until)
            kl_buf_append_str(&b, "\"(redacted)\"");
        else
            kl_buf_append_repr(&b, c->argv[i].ptr, c->argv[i].len);
    }
    kl_buf_append(&b, "\r\n", 2);
    for (size_t i = 0; i < nmonitors; i++) {
        client_t *m = monitors[i];
        iol_reply_t r;
        iol_reply_init(&r);
        iol_reply_append(&r, b.p, b.len);
        iol_client_push(&m->io, &r);
    }
    kl_buf_free(&b);
}

void exec_monitor_add(client_t *c) {
    if (c->flags & CF_MONITOR) return;
    c->flags |= CF_MONITOR;
    if (nmonitors == monitors_cap) {
        monitors_cap = monitors_cap ? monitors_cap * 2 : 4;
        monitors = kl_realloc(monitors, monitors_cap * sizeof(*monitors));
    }
    monitors[nmonitors++] = c;
}

void cmd_call(client_t *c) {
    kl_command_t *cmd = (kl_command_t *)c->cmd;
    long long start = kl_ustime();
    g_srv.ustime = start;
    g_srv.mstime = start / 1000;
    unsigned long long errors_before = reply_total_errors();
    cmd->proc(c);
    long long dur = kl_ustime() - start;
    cmd->calls++;
    cmd->usec += (uint64_t)dur;
    if (reply_total_errors() != errors_before) {
        cmd->failed_calls++;
        g_srv.stat.failed_calls++;
    }
    g_srv.stat.numcommands++;
    latency_hist_record(cmd, dur);
    if (!(cmd->flags & CMD_SKIP_SLOWLOG)) slowlog_maybe_add(c, dur);
    latency_maybe_add(cmd, dur);
    if (!(cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN))) feed_monitors(c);
}

/* ---------------------------------------------------------------- kill / pause */

void exec_client_kill(client_t *c, bool after_reply) {
    if (!after_reply) c->flags |= CF_CLOSE_ASAP;
    else c->flags |= CF_CLOSE_AFTER_REPLY;
    bool was_parked = false;
    for (size_t i = 0; i < nparked; i++)
        if (parked[i] == c) was_parked = true;
    iol_client_kill(&c->io, after_reply);
    if (was_parked) {
        parked_remove(c);
        c->commands_done = 0;
        iol_client_release(&c->io);
    }
}

void exec_pause_until(int64_t end_ms, bool all) {
    /* A new pause never shortens an existing one nor weakens ALL to WRITE. */
    if (g_srv.paused) {
        if (end_ms > g_srv.pause_end_ms) g_srv.pause_end_ms = end_ms;
        if (all) g_srv.pause_all = 1;
        return;
    }
    g_srv.paused = true;
    g_srv.pause_end_ms = end_ms;
    g_srv.pause_all = all;
}

void exec_unpause(void) {
    g_srv.paused = false;
    g_srv.pause_end_ms = 0;
    /* Resume in arrival order; a resumed client may park again only if a new
     * pause started meanwhile, which cannot happen inside this loop. */
    while (nparked) {
        client_t *c = parked[0];
        memmove(&parked[0], &parked[1], (nparked - 1) * sizeof(*parked));
        nparked--;
        if (exec_batch(c)) {
            iol_client_release(&c->io);
        } else {
            /* Should not happen (not paused); keep it safe anyway. */
            parked[nparked++] = c;
            break;
        }
    }
}

bool exec_paused_clients(void) {
    return nparked > 0;
}

size_t exec_parked_count(void) {
    return nparked;
}

void exec_clients_cron(void) {
    int64_t now = g_srv.mstime;
    if (g_srv.paused && now >= g_srv.pause_end_ms) exec_unpause();
    if (g_cfg.timeout > 0) {
        int64_t limit = (int64_t)g_cfg.timeout * 1000;
        for (client_t *c = registry; c; c = c->next) {
            if (c->flags & (CF_MONITOR | CF_PUBSUB | CF_CLOSE_ASAP)) continue;
            if (c->io.exec_held) continue; /* waiting on a pause: not idle */
            int64_t last = atomic_load_explicit(&c->io.last_io_ms, memory_order_relaxed);
            if (now - last > limit) {
                kl_verbose("Closing idle client");
                exec_client_kill(c, false);
            }
        }
    }
}

void exec_free_all(void) {
    kl_free(monitors);
    monitors = NULL;
    nmonitors = monitors_cap = 0;
    kl_free(parked);
    parked = NULL;
    nparked = parked_cap = 0;
}

/* ---------------------------------------------------------------- arg helpers */

int arg_ll(client_t *c, const resp_arg_t *a, long long *out) {
    if (kl_str_to_ll(a->ptr, a->len, out)) {
        reply_not_integer(c);
        return -1;
    }
    return 0;
}

int arg_ll_range(client_t *c, const resp_arg_t *a, long long min, long long max, long long *out,
                 const char *msg) {
    long long v;
    if (kl_str_to_ll(a->ptr, a->len, &v) || v < min || v > max) {
        if (msg)
            reply_error(c, msg);
        else
            reply_not_integer(c);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_ld(client_t *c, const resp_arg_t *a, long double *out) {
    if (kl_str_to_ld(a->ptr, a->len, out)) {
        reply_error(c, "ERR value is not a valid float");
        return -1;
    }
    return 0;
}

int arg_double(client_t *c, const resp_arg_t *a, double *out) {
    if (kl_str_to_d(a->ptr, a->len, out)) {
        reply_error(c, "ERR value is not a valid float");
        return -1;
    }
    return 0;
}
