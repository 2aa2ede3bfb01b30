/* Executor: client registry, the per-batch command loop, command dispatch
 * with Redis's checks (unknown command, arity, authentication, no-multi, OOM,
 * subscribed mode, pause), MULTI queuing, stats, slowlog/latency sampling and
 * MONITOR feeding.
 *
 * A batch stops early in three cases: output back-pressure (handed back with
 * IOL_HAND_MORE), CLIENT PAUSE (parked in parked[] until exec_unpause) and a
 * blocking command that found nothing (parked by blocking.c until the key is
 * served, the timeout fires or CLIENT UNBLOCK; exec_client_resume then runs
 * the rest). c->commands_done remembers where a parked batch stopped. */
#include "exec.h"

#include "blocking.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "evict.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "multi.h"
#include "propagate.h"
#include "pubsub.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
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
        if (c->id == id) return c;
    return NULL;
}

const char *client_type_name(const client_t *c) {
    if (c->flags & CF_MASTER) return "master";
    if ((c->flags & CF_REPLICA) && !(c->flags & CF_MONITOR)) return "replica";
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
        kind != CONN_KIND_UNIX && strncmp(peer, "127.", 4) != 0 &&
        strncmp(peer, "[::1]:", 6) != 0) {
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
    iol_client_t *io = iol_client_new(sizeof(client_t));
    client_t *c = client_of(io);
    c->io = io;
    c->reply = iol_client_reply(io);
    c->id = g_srv.next_client_id++;
    iol_client_set_id(io, c->id);
    c->db_id = 0;
    c->db = db_get(0);
    c->resp = 2;
    c->authenticated = !(g_cfg.requirepass && g_cfg.requirepass[0]);
    iol_client_set_unauth_limits(c->io, !c->authenticated);
    c->next = registry;
    if (registry) registry->prev = c;
    registry = c;
    nclients++;
    g_srv.stat.numconnections++;
    return c->io;
}

/* ---------------------------------------------------------------- internal clients */

static int exec_batch(client_t *c);

/* exec_internal_run_each's callback, for the client it runs. */
static client_t *internal_each_client;
static void (*internal_each)(void *arg, client_t *c, uint32_t i);
static void *internal_each_arg;

client_t *exec_internal_client_new(uint32_t flags) {
    iol_client_t *io = iol_client_new(sizeof(client_t));
    client_t *c = client_of(io);
    c->io = io;
    c->reply = iol_client_reply(io);
    c->id = UINT64_MAX; /* never in CLIENT LIST: not in the registry */
    c->db_id = 0;
    c->db = db_get(0);
    c->resp = 2;
    c->authenticated = true;
    c->flags = flags | CF_DENY_BLOCKING;
    return c;
}

int exec_internal_run(client_t *c, resp_batch_t *b) {
    iol_client_detached_hand(c->io, b);
    /* CF_DENY_BLOCKING: nothing parks. A batch cut after 1 MB of replies
     * (output back-pressure) goes on at once: nobody reads an internal
     * client's replies, so they are dropped, and every command runs. */
    for (;;) {
        exec_batch(c);
        if (!(iol_client_hand_flags(c->io) & IOL_HAND_MORE)) break;
        iol_client_hand_clear(c->io, IOL_HAND_MORE);
        iol_reply_free(c->reply);
        iol_reply_init(c->reply);
    }
    iol_client_release(c->io);
    iol_reply_free(c->reply);
    iol_reply_init(c->reply);
    return 0;
}

static bool (*master_killer)(void);

void exec_set_master_killer(bool (*kill)(void)) {
    master_killer = kill;
}

bool exec_kill_master(void) {
    return master_killer && master_killer();
}

int exec_internal_run_each(client_t *c, resp_batch_t *b,
                           void (*after)(void *arg, client_t *c, uint32_t i), void *arg) {
    client_t *saved_c = internal_each_client;
    void (*saved_fn)(void *, client_t *, uint32_t) = internal_each;
    void *saved_arg = internal_each_arg;
    internal_each_client = c;
    internal_each = after;
    internal_each_arg = arg;
    int rc = exec_internal_run(c, b);
    internal_each_client = saved_c;
    internal_each = saved_fn;
    internal_each_arg = saved_arg;
    return rc;
}

void exec_internal_client_free(client_t *c) {
    multi_client_reset(c);
    iol_reply_free(c->reply);
    kl_free(c->name);
    iol_client_delete(c->io);
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

static void parked_add(client_t *c) {
    if (nparked == parked_cap) {
        parked_cap = parked_cap ? parked_cap * 2 : 16;
        parked = kl_realloc(parked, parked_cap * sizeof(*parked));
    }
    parked[nparked++] = c;
    c->flags |= CF_PAUSED;
}

static void parked_remove(client_t *c) {
    if (!(c->flags & CF_PAUSED)) return;
    c->flags &= ~CF_PAUSED;
    for (size_t i = 0; i < nparked; i++) {
        if (parked[i] == c) {
            memmove(&parked[i], &parked[i + 1], (nparked - i - 1) * sizeof(*parked));
            nparked--;
            return;
        }
    }
}

static void gate_remove(client_t *c);

static void (*closed_hook)(client_t *c);

void exec_set_closed_hook(void (*fn)(client_t *c)) {
    closed_hook = fn;
}

static void hook_closed(iol_client_t *io) {
    client_t *c = client_of(io);
    if (closed_hook) closed_hook(c);
    gate_remove(c);
    if (c->flags & CF_MONITOR) exec_monitor_remove(c);
    pubsub_client_closed(c);
    parked_remove(c);
    block_client_gone(c);
    multi_client_reset(c);
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
    iol_client_delete(io);
}

/* ---------------------------------------------------------------- command loop */

static void reply_unknown_command(client_t *c) {
    char args[160];
    size_t off = 0;
    args[0] = '\0';
    for (uint32_t i = 1; i < c->argc && off < 128; i++) {
        int n =
            snprintf(args + off, sizeof(args) - off, "'%.*s' ", (int)(128 - off), c->argv[i].ptr);
        if (n < 0) break;
        off += (size_t)n;
        if (off >= sizeof(args)) off = sizeof(args) - 1;
    }
    reply_errorf(c, "ERR unknown command '%.128s', with args beginning with: %s", c->argv[0].ptr,
                 args);
}

static bool is_write_for_pause(client_t *c, const kl_command_t *cmd) {
    uint32_t f = cmd->flags;
    /* EXEC waits when its transaction writes. */
    if ((c->flags & CF_MULTI) && multi_is_exec(cmd)) f |= multi_queued_flags(c);
    return (f & (CMD_WRITE | CMD_MAY_REPLICATE)) != 0;
}

/* A write for Redis's MISCONF check: a write command, or an EXEC whose
 * queue writes. */
static bool is_write_cmd(client_t *c, const kl_command_t *cmd) {
    uint32_t f = cmd->flags;
    if ((c->flags & CF_MULTI) && multi_is_exec(cmd)) f |= multi_queued_flags(c);
    return (f & CMD_WRITE) != 0;
}

/* Replication's check of writes (min-replicas-to-write), registered from
 * above (exec_set_write_check). */
static const char *(*write_check)(client_t *c);

void exec_set_write_check(const char *(*check)(client_t *c)) {
    write_check = check;
}

/* Refused while the link to the master is down and
 * replica-serve-stale-data is no: a command without the stale flag, or an
 * EXEC of a queue with one (Redis's is_denystale_command). */
static bool is_deny_stale(client_t *c, const kl_command_t *cmd) {
    if (!(cmd->flags & CMD_STALE)) return true;
    return (c->flags & CF_MULTI) && multi_is_exec(cmd) && multi_queued_denies_stale(c);
}

/* What became of one command of a batch. */
enum run_result {
    RUN_DONE = 0,    /* replied (run, queued or rejected) */
    RUN_PAUSED = 1,  /* must wait for CLIENT PAUSE to end: nothing was run */
    RUN_BLOCKED = 2, /* a blocking command waits on keys (blocking.c owns it now) */
};

/* The checks Redis's processCommand makes before running or queuing a
 * command. Returns the command, or NULL after replying the rejection. */
static kl_command_t *exec_check(client_t *c) {
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
                return NULL;
            }
            cmd = sub;
        }
    }
    if (!cmd) {
        g_srv.stat.rejected_calls++;
        reply_unknown_command(c);
        return NULL;
    }
    if ((cmd->arity > 0 && (int)c->argc != cmd->arity) || (int)c->argc < -cmd->arity) {
        cmd->rejected_calls++;
        g_srv.stat.rejected_calls++;
        char why[96];
        snprintf(why, sizeof(why), "wrong number of arguments for '%s' command", cmd->name);
        if ((c->flags & CF_MULTI) && multi_is_exec(cmd))
            multi_exec_rejected(c, why); /* -EXECABORT ... because of: ... */
        else
            reply_errorf(c, "ERR %s", why);
        return NULL;
    }
    /* The AOF loader replays what was already accepted once: no policy
     * check applies (Redis calls the commands directly). */
    if (c->flags & CF_AOF_LOADER) return cmd;
    /* So does our master's stream: what it ran, we run (Redis's
     * mustObeyClient skips auth, OOM and READONLY for it). */
    if (c->flags & CF_MASTER) return cmd;
    if (!c->authenticated && !(top->flags & CMD_NO_AUTH)) {
        cmd->rejected_calls++;
        g_srv.stat.rejected_calls++;
        reply_error(c, "NOAUTH Authentication required.");
        return NULL;
    }
    if ((c->flags & CF_MULTI) && (cmd->flags & CMD_NO_MULTI)) {
        cmd->rejected_calls++;
        g_srv.stat.rejected_calls++;
        reply_error(c, "ERR Command not allowed inside a transaction");
        return NULL;
    }
    if (exec_oom_rejected(c, cmd)) return NULL; /* maxmemory: evict, or -OOM */
    if (snap_writes_denied() && (is_write_cmd(c, cmd) || (cmd->xflags & CMDX_DENY_ON_DISK_ERROR))) {
        cmd->rejected_calls++;
        g_srv.stat.rejected_calls++;
        reply_error(c, "MISCONF Redis is configured to save RDB snapshots, but it's currently "
                       "unable to persist to disk. Commands that may modify the data set are "
                       "disabled, because this instance is configured to report errors during "
                       "writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). "
                       "Please check the Redis logs for details about the RDB error.");
        return NULL;
    }
    if (write_check && !(c->flags & CF_MASTER) && is_write_cmd(c, cmd)) {
        const char *err = write_check(c);
        if (err) {
            cmd->rejected_calls++;
            g_srv.stat.rejected_calls++;
            reply_error(c, err);
            return NULL;
        }
    }
    if (g_srv.replica && g_cfg.replica_read_only && is_write_cmd(c, cmd)) {
        cmd->rejected_calls++;
        g_srv.stat.rejected_calls++;
        reply_error(c, "READONLY You can't write against a read only replica.");
        return NULL;
    }
    if (!pubsub_cmd_allowed(c, cmd)) return NULL; /* RESP2 subscribed mode */
    if (g_srv.replica && !g_srv.master_link_up && !g_cfg.replica_serve_stale_data &&
        is_deny_stale(c, cmd)) {
        cmd->rejected_calls++;
        g_srv.stat.rejected_calls++;
        reply_error(c, "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set "
                       "to 'no'.");
        return NULL;
    }
    if (g_srv.loading && !(cmd->flags & CMD_LOADING)) {
        cmd->rejected_calls++;
        g_srv.stat.rejected_calls++;
        reply_error(c, "LOADING Redis is loading the dataset in memory");
        return NULL;
    }
    return cmd;
}

static int exec_one(client_t *c) {
    kl_command_t *cmd = exec_check(c);
    if (!cmd) {
        multi_flag_error(c); /* a rejected command aborts the transaction */
        return RUN_DONE;
    }
    /* The master's stream is applied even under CLIENT PAUSE: an internal
     * client cannot park, and the stream must not be lost. */
    if (g_srv.paused && !(c->flags & (CF_MONITOR | CF_MASTER))) {
        if (g_srv.pause_all || is_write_for_pause(c, cmd)) return RUN_PAUSED;
    }
    if ((c->flags & CF_MULTI) && !multi_runs_immediately(cmd)) {
        c->cmd = c->lastcmd = cmd;
        multi_queue(c, cmd);
        return RUN_DONE;
    }
    c->cmd = cmd;
    cmd_call(c);
    c->lastcmd = cmd;
    return (c->flags & CF_BLOCKED) ? RUN_BLOCKED : RUN_DONE;
}

/* Deliver out-of-band bytes (pub/sub messages, MONITOR lines) to c: into its
 * hand-off chain while the executor runs its batch, straight to its I/O thread
 * otherwise, including while its batch is parked (blocked or paused): the
 * parked batch's earlier replies went out already (flush_parked_replies), so
 * order is kept and a blocked RESP3 subscriber gets messages at once, as in
 * Redis. */
void exec_client_push(client_t *c, iol_reply_t *r) {
    if (c->flags & (CF_BLOCKED | CF_PAUSED))
        iol_client_push_now(c->io, r);
    else
        iol_client_push(c->io, r);
}

/* exec_client_push for n bytes at p, copied straight into what goes to c's
 * I/O thread (no allocation per push); dropped when c is being closed or is
 * over its output-buffer hard limit (iol_client_push_reserve kills it). */
void exec_client_push_bytes(client_t *c, const char *p, size_t n) {
    if (iol_client_held(c->io) && !(c->flags & (CF_BLOCKED | CF_PAUSED))) {
        iol_reply_append(c->reply, p, n);
        return;
    }
    char *dst = iol_client_push_reserve(c->io, n);
    if (!dst) return;
    memcpy(dst, p, n);
    iol_client_push_commit(c->io, n);
}

/* CLIENT REPLY SKIP mutes exactly the command after it. */
static void after_command_flags(client_t *c) {
    if (c->flags & CF_REPLY_SKIP) c->flags &= ~CF_REPLY_SKIP;
    if (c->flags & CF_REPLY_SKIP_NEXT) {
        c->flags |= CF_REPLY_SKIP;
        c->flags &= ~CF_REPLY_SKIP_NEXT;
    }
}

/* A batch parks (pause, blocking command) with replies of its earlier commands
 * waiting in the hand-off chain: deliver them now, as Redis would, instead of
 * when the whole batch is done. From here on, until the batch resumes, pushes
 * (pub/sub, MONITOR) to this client go straight out too (exec_client_push). */
static void flush_parked_replies(client_t *c) {
    if (c->reply->bytes == 0 || (c->flags & CF_REPLY_OFF)) return;
    if (iol_client_hand_flags(c->io) & (IOL_HAND_CLOSE_NOW | IOL_HAND_CLOSE_AFTER_REPLY)) return;
    iol_reply_t r;
    iol_reply_init(&r);
    iol_reply_move(&r, c->reply);
    iol_client_push_now(c->io, &r);
}

/* Run commands of the batch from c->commands_done on. Returns RUN_DONE when
 * the batch may go back to the I/O thread (finished, or cut for output
 * back-pressure), else why it stopped (c->commands_done is the command that
 * waits). */
#define EXEC_REPLY_YIELD (1024 * 1024)

static void resume_parked(void);
static bool resume_pending;

static int exec_batch(client_t *c) {
    resp_batch_t *b = iol_client_batch(c->io);
    uint32_t done = iol_client_exec_done(c->io);
    if (c->commands_done < done) c->commands_done = done;
    for (uint32_t i = (uint32_t)c->commands_done; i < b->ncmds; i++) {
        if (c->flags & (CF_CLOSE_ASAP | CF_CLOSE_AFTER_REPLY)) break;
        if (iol_client_hand_flags(c->io) & (IOL_HAND_CLOSE_NOW | IOL_HAND_CLOSE_AFTER_REPLY)) break;
        /* SHUTDOWN saved the final snapshot: nothing may change after it
         * (Redis exits inside the command). */
        if (g_srv.shutdown_saved) break;
        if (c->reply->bytes > EXEC_REPLY_YIELD && !(c->flags & CF_REPLY_OFF)) {
            /* Let the I/O thread write (and the client read) before running
             * more: a client that pipelines big replies without reading them
             * must not grow the server's memory without bound. */
            iol_client_exec_done_set(c->io, i);
            iol_client_hand(c->io, IOL_HAND_MORE);
            c->commands_done = 0;
            c->argc = 0;
            c->argv = NULL;
            return RUN_DONE;
        }
        c->argc = resp_batch_argc(b, i);
        c->argv = resp_batch_argv(b, i);
        int r = exec_one(c);
        if (r != RUN_DONE) {
            c->commands_done = i;
            flush_parked_replies(c);
            return r;
        }
        after_command_flags(c);
        if (c == internal_each_client) internal_each(internal_each_arg, c, i);
        /* Clients waiting on keys this command filled are served now, before
         * the next command (Redis's handleClientsBlockedOnKeys). */
        if (block_work_pending()) block_handle_pending();
        if (resume_pending) {
            resume_pending = false;
            resume_parked();
        }
    }
    c->commands_done = 0;
    iol_client_exec_done_set(c->io, 0);
    c->argc = 0;
    c->argv = NULL;
    return RUN_DONE;
}

/* Run the rest of a held client's batch and hand it back, or leave it parked
 * (pause) or blocked. */
static bool gate_hold(client_t *c);

static void exec_continue(client_t *c) {
    int r = exec_batch(c);
    if (r == RUN_DONE && !gate_hold(c))
        iol_client_release(c->io);
    else if (r == RUN_PAUSED)
        parked_add(c);
}

/* ---------------------------------------------------------------- reply gate */

static uint64_t (*reply_gate)(void);
static client_t *gate_head, *gate_tail; /* FIFO: tickets never decrease */

void exec_set_reply_gate(uint64_t (*gate)(void)) {
    reply_gate = gate;
}

static bool gate_hold(client_t *c) {
    if (!reply_gate || (c->flags & CF_CLOSE_ASAP)) return false;
    uint64_t t = reply_gate();
    if (!t) return false;
    c->gate_ticket = t;
    c->gate_next = NULL;
    c->gated = true;
    if (gate_tail)
        gate_tail->gate_next = c;
    else
        gate_head = c;
    gate_tail = c;
    return true;
}

static void gate_remove(client_t *c) {
    if (!c->gated) return;
    client_t **pp = &gate_head, *prev = NULL;
    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->gate_next;
    }
    if (*pp) *pp = c->gate_next;
    if (gate_tail == c) gate_tail = prev;
    c->gated = false;
}

void exec_gate_release(uint64_t done) {
    while (gate_head && gate_head->gate_ticket <= done) {
        client_t *c = gate_head;
        gate_head = c->gate_next;
        if (!gate_head) gate_tail = NULL;
        c->gated = false;
        iol_client_release(c->io);
    }
}

void exec_gate_release_all(void) {
    exec_gate_release(UINT64_MAX);
}

static bool hook_dispatch(iol_client_t *io) {
    client_t *c = client_of(io);
    if (c->flags & CF_CLOSE_ASAP) return true;
    int r = exec_batch(c);
    if (r == RUN_DONE) return !gate_hold(c);
    if (r == RUN_PAUSED) parked_add(c);
    return false;
}

static void hook_gone(iol_client_t *io) {
    client_t *c = client_of(io);
    gate_remove(c);
    parked_remove(c);
    block_client_gone(c);
    c->commands_done = 0;
    c->flags |= CF_CLOSE_ASAP;
    iol_client_release(io);
}

static void (*repl_payload_hook)(client_t *c, int status);

void exec_set_repl_payload_hook(void (*fn)(client_t *c, int status)) {
    repl_payload_hook = fn;
}

static void hook_repl_payload(iol_client_t *io, int status) {
    if (repl_payload_hook) repl_payload_hook(client_of(io), status);
}

static const iol_hooks_t hooks = {
    .accept = hook_accept,
    .dispatch = hook_dispatch,
    .gone = hook_gone,
    .closed = hook_closed,
    .free = hook_free,
    .repl_payload = hook_repl_payload,
};

const iol_hooks_t *exec_hooks(void) {
    return &hooks;
}

/* ---------------------------------------------------------------- call */

static void feed_monitors(client_t *c) {
    if (!nmonitors) return;
    kl_buf_t b = {0};
    long long us = g_kv.ustime;
    kl_buf_appendf(&b, "+%lld.%06lld ", us / 1000000, us % 1000000);
    if (iol_client_kind(c->io) == CONN_KIND_UNIX)
        kl_buf_appendf(&b, "[%d unix:%s] ", c->db_id, g_cfg.unixsocket);
    else
        kl_buf_appendf(&b, "[%d %s] ", c->db_id, iol_client_peer(c->io));
    /* Credentials never reach MONITOR: AUTH's arguments and HELLO's AUTH
     * user and password are redacted, as Redis does. */
    bool is_auth = (c->cmd->xflags & CMDX_REDACT_ARGS) != 0;
    bool is_hello = (c->cmd->xflags & CMDX_REDACT_HELLO) != 0;
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
    for (size_t i = 0; i < nmonitors; i++)
        exec_client_push_bytes(monitors[i], b.p, b.len);
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

/* Error replies counted when the last command call began or ended: a
 * command failed if errors were replied after that point, so EXEC does not
 * count the errors of the commands it ran (Redis's incrCommandStatsOnError). */
static unsigned long long err_mark;

enum { CALL_FIRST = 0, CALL_RERUN = 1 };

static const long long *woff_source;

void exec_set_woff_source(const long long *offset) {
    woff_source = offset;
}

static void call_command(client_t *c, int mode) {
    kl_command_t *cmd = (kl_command_t *)c->cmd;
    long long start = kl_ustime();
    g_kv.ustime = start;
    g_kv.mstime = start / 1000;
    g_kv.cmd_seq++; /* LFU: one access per key per command */
    err_mark = reply_total_errors();
    /* The write path (propagate.h): while a stream consumer listens, the
     * frame collects how the command is propagated (the changes it reports
     * decide whether it is); its end queues it and, for the outermost call,
     * delivers the unit. Without a consumer only the dirty counter moves. */
    prop_frame_t pf;
    bool framed = prop_call_begin(&pf, (cmd->xflags & CMDX_TOUCHES_ARBITRARY_KEYS) != 0);
    cmd->proc(c);
    long long dur = kl_ustime() - start;
    prop_call_end(framed, &pf, c->db->id, c->argv, c->argc);
    /* The stream's offset after the client's last top-level command
     * (Redis's c->woff, what WAIT waits for). */
    if (woff_source && prop__depth == 0) c->woff = *woff_source;
    bool failed = reply_total_errors() > err_mark;
    err_mark = reply_total_errors();
    bool blocked = (c->flags & CF_BLOCKED) != 0;
    if (mode == CALL_FIRST) {
        /* A command that blocks counts as called now and is accounted for
         * the rest (duration, failure, slowlog) when it completes. */
        cmd->calls++;
        g_srv.stat.numcommands++;
    } else if (blocked) {
        return; /* re-run that found nothing again: still the same call */
    }
    cmd->usec += (uint64_t)dur;
    if (blocked) {
        if (!(cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN))) feed_monitors(c);
        return;
    }
    if (failed) {
        cmd->failed_calls++;
        g_srv.stat.failed_calls++;
    }
    latency_hist_record(cmd, dur);
    if (!(cmd->flags & CMD_SKIP_SLOWLOG)) slowlog_maybe_add(c, dur);
    latency_maybe_add(cmd, dur);
    /* A re-run after blocking was already shown to MONITOR. */
    if (mode == CALL_FIRST && !(cmd->flags & (CMD_SKIP_MONITOR | CMD_ADMIN))) feed_monitors(c);
}

void cmd_call(client_t *c) {
    call_command(c, CALL_FIRST);
}

/* ---------------------------------------------------------------- blocked clients */

void exec_blocked_rerun(client_t *c) {
    resp_batch_t *b = iol_client_batch(c->io);
    uint32_t i = (uint32_t)c->commands_done;
    c->argc = resp_batch_argc(b, i);
    c->argv = resp_batch_argv(b, i);
    call_command(c, CALL_RERUN);
}

void exec_blocked_done(client_t *c, bool failed) {
    kl_command_t *cmd = (kl_command_t *)c->cmd;
    if (!cmd) return;
    if (failed) {
        cmd->failed_calls++;
        g_srv.stat.failed_calls++;
    }
    latency_hist_record(cmd, 0);
    if (!(cmd->flags & CMD_SKIP_SLOWLOG)) slowlog_maybe_add(c, 0);
}

void exec_client_resume(client_t *c) {
    after_command_flags(c);
    c->commands_done++;
    exec_continue(c);
}

/* ---------------------------------------------------------------- kill / pause */

void exec_client_kill(client_t *c, bool after_reply) {
    if (!after_reply)
        c->flags |= CF_CLOSE_ASAP;
    else
        c->flags |= CF_CLOSE_AFTER_REPLY;
    bool waiting = (c->flags & (CF_PAUSED | CF_BLOCKED)) != 0;
    iol_client_kill(c->io, after_reply);
    if (waiting) {
        /* A parked batch would otherwise wait for the pause or its keys. */
        parked_remove(c);
        block_client_gone(c);
        c->commands_done = 0;
        iol_client_release(c->io);
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

/* resume_pending: CLIENT UNPAUSE ran inside a command, the parked batches
 * resume after it (exec_batch). */

/* Resume the parked batches in arrival order; a resumed client may park
 * again only if a new pause started meanwhile (a resumed batch may pause
 * again), in which case the rest stays parked behind it. */
static void resume_parked(void) {
    while (nparked && !g_srv.paused) {
        client_t *c = parked[0];
        memmove(&parked[0], &parked[1], (nparked - 1) * sizeof(*parked));
        nparked--;
        c->flags &= ~CF_PAUSED;
        exec_continue(c);
    }
}

void exec_unpause(void) {
    g_srv.paused = false;
    g_srv.pause_end_ms = 0;
    /* From inside a command (CLIENT UNPAUSE) the other clients' commands
     * must not run nested in it: each is a unit of its own for the write
     * path, as in Redis, which resumes them after the current command. */
    if (prop_in_call()) {
        resume_pending = true;
        return;
    }
    resume_parked();
}

bool exec_paused_clients(void) {
    return nparked > 0;
}

size_t exec_parked_count(void) {
    return nparked;
}

void exec_clients_cron(void) {
    int64_t now = g_kv.mstime;
    if (g_srv.paused && now >= g_srv.pause_end_ms) exec_unpause();
    if (g_cfg.timeout > 0) {
        int64_t limit = (int64_t)g_cfg.timeout * 1000;
        for (client_t *c = registry; c; c = c->next) {
            if (c->flags & (CF_MONITOR | CF_PUBSUB | CF_CLOSE_ASAP)) continue;
            /* Waiting on a pause or on keys (BLPOP ...) is not idling. */
            if (c->flags & (CF_BLOCKED | CF_PAUSED)) continue;
            if (iol_client_held(c->io)) continue;
            int64_t last = iol_client_last_io_ms(c->io);
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
    block_free_all();
    multi_free_all();
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
