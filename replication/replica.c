/* The replica side of Redis 7.0 replication (replica.h).
 *
 * # What it does
 *
 * `REPLICAOF host port` (or the `replicaof` directive) makes us a replica:
 * once a second (Redis's replicationCron) the cron connects an outbound link
 * (ioloop/iol_link.h) to the master, over TLS with `tls-replication yes`.
 * Everything that touches the socket (resolution, connect, TLS handshake,
 * reads, writes, the RDB file's writes) runs on the link's I/O thread; this
 * file is the executor's state machine, driven by the link's units:
 *
 * | phase       | we sent                         | framing             | unit expected |
 * |-------------|---------------------------------|---------------------|---------------|
 * | PING        | PING                            | RESP_REPLIES, STOP  | +PONG, -NOAUTH, -ERR
 * operation not permitted | | AUTH        | AUTH [masteruser] masterauth    | RESP_REPLIES, STOP  |
 * +OK or an error (fatal) | | PORT/IP/CAPA| REPLCONF listening-port / ip-address / capa eof capa
 * psync2 | RESP_REPLIES, STOP | errors are logged, not fatal | | PSYNC       | PSYNC <replid>
 * <offset+1> or PSYNC ? -1 | LINE, STOP  | +FULLRESYNC id off, +CONTINUE [id], -NOMASTERLINK,
 * -LOADING | | BULK        |                                 | LINE, STOP          | "$<len>" or
 * "$EOF:<40 bytes>" (empty lines: keep-alives) | | PAYLOAD     |                                 |
 * RAW_LEN / RAW_EOF with a sink | progress units: the I/O thread writes the file | | LOADING     |
 * | (stopped)           | none: the file loads in steps on the executor | | STREAM      | REPLCONF
 * ACK <offset> each second | RESP_REQUESTS     | batches of the master's commands |
 *
 * Every STOP framing makes the switch to the next framing exact: the link
 * cuts no byte after a unit until we say how.
 *
 * # Full synchronisation
 *
 * With `repl-diskless-load disabled` (the default; and every mode in builds
 * without the push-fed RDB loader) the payload goes to `temp-<unixtime>.<pid>.rdb`
 * in `dir`, written by the link's I/O thread (iol_link_set_framing_sink),
 * fsync'd there after the last chunk; the executor only counts progress.
 * Then, as Redis's readSyncBulkPayload: any BGSAVE child is killed, the temp
 * file is renamed over `dbfilename`, our own replicas are dropped (they must
 * resync with the new history), the old data is flushed
 * (`replica-lazy-flush`), and the file is loaded in steps by
 * admin/persistence.c exactly like the start-up load: clients get -LOADING
 * meanwhile and INFO shows the loading fields, so a half-loaded dataset is
 * never served. A load that fails leaves the keyspace empty (Redis flushes
 * it too), and the link is dropped and retried.
 *
 * With `on-empty-db` (and an empty keyspace) or `swapdb`, the chunks feed
 * the push-fed loader straight from the link (replica_diskless.c, built when
 * persist/rdb.h has rdb_loader_open_stream): on-empty-db loads into the live
 * databases with -LOADING; swapdb loads into a temporary database set while
 * the old data is served (same history, Redis 7.0's async loading) or into
 * the live databases with the old data kept aside (another history), and a
 * failure leaves the old data in place.
 *
 * # The stream
 *
 * Each batch of the master's commands runs through an internal client
 * flagged CF_MASTER (no auth, OOM, READONLY or pause check; replies
 * dropped). After every command that is not inside MULTI (Redis 7.0's
 * commandProcessed) its exact wire bytes, kept by the framer, go to
 * repl_backlog_feed: master_repl_offset is the offset we applied, and our
 * own replicas receive the top master's bytes unchanged. `REPLCONF ACK
 * <offset>` goes out every second and for REPLCONF GETACK
 * (replica_send_ack). With no byte from the master for `repl-timeout`
 * seconds, in any phase, the link is dropped; the cron reconnects at most
 * once a second.
 *
 * # Identity (PSYNC2)
 *
 * g_repl.replid / master_repl_offset are our master's history and how far
 * we applied it. "Cached master" (Redis's cached_master) is the flag that
 * says they are worth a PSYNC: after a lost link, after a start-up load of
 * an RDB with repl-id / repl-offset AUX fields while `replicaof` is set, or
 * when a master becomes a replica (replicationCacheMasterUsingMyself).
 * +CONTINUE with a new ID shifts our history (replid2 = old). REPLICAOF NO
 * ONE shifts the ID too, so our replicas can continue with us.
 *
 * # Replica semantics elsewhere (flags, never calls up)
 *
 * g_srv.replica / g_srv.master_link_up drive -READONLY (replica-read-only)
 * and -MASTERDOWN (replica-serve-stale-data no) in exec/'s pre-command
 * checks; g_kv.replica / g_kv.master_running give kv/ Redis's expireIfNeeded
 * on replicas (no active expiry, logically expired keys hidden from reads
 * but deleted only by the master's DEL) and replica-ignore-maxmemory.
 * Persistence asks us for the replication AUX fields of a save and tells us
 * what the start-up load found (persistence_set_repl_hooks).
 *
 * Thread: executor (every function here). */
#include "replica.h"

#include "aof_policy.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "exec.h"
#include "iol_link.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "kv.h"
#include "master.h"
#include "multi.h"
#include "persistence.h"
#include "repl_internal.h"
#include "replica_internal.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Where the handshake is (see the table above). */
enum phase {
    PH_NONE = 0,
    PH_CONNECTING, /* the link is being made */
    PH_PING,
    PH_AUTH,
    PH_PORT,
    PH_IP,
    PH_CAPA,
    PH_PSYNC,
    PH_BULK,
    PH_PAYLOAD,
    PH_LOADING,
    PH_STREAM,
};

/* One connection attempt: the link's user data. It outlives our interest
 * in the link (an aborted transfer) until the closed hook, because the
 * link's I/O thread may write to fd until then. */
typedef struct rlink {
    iol_link_t *l;
    int fd;            /* the temp file being received, or -1 */
    char tmpfile[256]; /* its name ("" when none or already renamed) */
    bool dead;         /* the closed hook ran */
    bool loading;      /* persistence_load_file holds it until load_done */
} rlink_t;

static struct {
    char *host; /* NULL: not a replica */
    int port;
    enum phase ph;
    rlink_t *cur; /* the current attempt, NULL when none */
    client_t *master;
    int master_db; /* the db a cached master / restart continues in */
    bool cached;   /* g_repl.replid / offset are worth a PSYNC */
    long long read_off;
    int64_t last_io_ms; /* last byte from the master (handshake, transfer, stream) */
    int64_t down_since_ms;
    int64_t last_cron_s;
    /* PSYNC */
    char psync_id[REPL_ID_LEN + 1];
    long long psync_off;
    /* transfer */
    bool eof_mode;
    long long xfer_size, xfer_read;
    /* bytes of a MULTI not yet applied (fed at its EXEC) */
    kl_buf_t pend;
    size_t unit_pos;
    bool shut;                       /* replica_shutdown ran: closed hooks free what loads held */
    bool running;                    /* the master's commands are running (on_commands) */
    replica_dl_t *dl;                /* a diskless load in progress, or NULL */
    bool drop_after;                 /* CLIENT KILL TYPE master came from inside them */
    void (*failover)(bool accepted); /* PSYNC ... FAILOVER wanted (replica_set_failover_psync) */
} R = {.master_db = 0, .read_off = 1};

static int64_t now_ms(void) {
    return kl_mstime();
}

static void set_flags(void) {
    bool rep = R.host != NULL;
    g_srv.replica = rep;
    g_kv.replica = rep;
    g_srv.master_link_up = rep && R.ph == PH_STREAM;
    kl_log_set_role(rep ? 'S' : 'M');
}

/* ---------------------------------------------------------------- link control */

static void link_drop(void) {
    rlink_t *rl = R.cur;
    R.cur = NULL;
    if (R.dl) {
        replica__dl_abort(R.dl);
        R.dl = NULL;
    }
    if (!rl) return;
    if (!rl->dead) iol_link_close(rl->l, false);
    /* rl itself is freed by the closed hook, or by load_done while a load
     * holds it; when both are over, here. */
    if (rl->dead && !rl->loading) {
        if (rl->fd >= 0) close(rl->fd);
        if (rl->tmpfile[0]) unlink(rl->tmpfile);
        kl_free(rl);
    }
}

/* The master client stops: its state goes into the "cached master" (our
 * replid/offset stay valid for a PSYNC, its db is remembered). */
static void master_client_free(bool cache) {
    if (!R.master) return;
    R.master_db = R.master->db_id;
    exec_internal_client_free(R.master);
    R.master = NULL;
    R.pend.len = 0;
    if (cache) {
        kl_notice("Caching the disconnected master state.");
        R.cached = true;
    }
}

/* Back to "connect": the cron tries again within a second. */
static void retry_later(void) {
    bool was_up = R.ph == PH_STREAM;
    link_drop();
    if (was_up) {
        kl_notice("Connection with master lost.");
        master_client_free(true);
        R.down_since_ms = now_ms();
    }
    R.ph = PH_NONE;
    set_flags();
}

static void handshake_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void handshake_error(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kl_warning("%s", msg);
    retry_later();
}

static void send_cmd(int argc, const char **argv) {
    kl_buf_t b = {0};
    kl_buf_appendf(&b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        kl_buf_appendf(&b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    iol_link_write(R.cur->l, b.p, b.len);
    kl_buf_free(&b);
}

static int announce_port(void) {
    if (g_cfg.replica_announce_port) return g_cfg.replica_announce_port;
    if (g_cfg.tls_replication && g_srv.tls_port) return g_srv.tls_port;
    return g_srv.tcp_port;
}

/* ---------------------------------------------------------------- handshake */

static void send_psync(void) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_LINE, IOL_FRAMING_STOP);
    iol_link_set_framing(R.cur->l, &f);
    char off[32];
    if (R.cached) {
        snprintf(R.psync_id, sizeof(R.psync_id), "%s", g_repl.replid);
        R.psync_off = g_repl.master_repl_offset + 1;
        snprintf(off, sizeof(off), "%lld", R.psync_off);
        kl_notice("Trying a partial resynchronization (request %s:%s).", R.psync_id, off);
        const char *argv[] = {"PSYNC", R.psync_id, off, "FAILOVER"};
        send_cmd(R.failover ? 4 : 3, argv);
    } else {
        kl_notice("Partial resynchronization not possible (no cached master)");
        const char *argv[] = {"PSYNC", "?", "-1", "FAILOVER"};
        send_cmd(R.failover ? 4 : 3, argv);
    }
    R.ph = PH_PSYNC;
}

/* Send what comes after a successful PING (pipelined, as Redis 7.0) and
 * expect the first of its replies. */
static void send_after_ping(void) {
    if (g_cfg.masterauth && g_cfg.masterauth[0]) {
        if (g_cfg.masteruser && g_cfg.masteruser[0]) {
            const char *argv[] = {"AUTH", g_cfg.masteruser, g_cfg.masterauth};
            send_cmd(3, argv);
        } else {
            const char *argv[] = {"AUTH", g_cfg.masterauth};
            send_cmd(2, argv);
        }
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", announce_port());
    const char *p[] = {"REPLCONF", "listening-port", port};
    send_cmd(3, p);
    if (g_cfg.replica_announce_ip && g_cfg.replica_announce_ip[0]) {
        const char *ip[] = {"REPLCONF", "ip-address", g_cfg.replica_announce_ip};
        send_cmd(3, ip);
    }
    const char *capa[] = {"REPLCONF", "capa", "eof", "capa", "psync2"};
    send_cmd(5, capa);
    R.ph = (g_cfg.masterauth && g_cfg.masterauth[0]) ? PH_AUTH : PH_PORT;
}

/* A short, printable rendering of a reply for logs. */
static const char *reply_text(const iol_resp_value_t *v, char *buf, size_t n) {
    if (v->str)
        snprintf(buf, n, "%c%.*s", v->type, (int)(v->len < 200 ? v->len : 200), v->str);
    else
        snprintf(buf, n, "%c(%s)", v->type, v->type == IOL_RESP_INTEGER ? "integer" : "value");
    return buf;
}

static bool is_error(const iol_resp_value_t *v) {
    return v->type == IOL_RESP_ERROR || v->type == IOL_RESP_BLOB_ERROR;
}

static void on_reply(const iol_unit_t *u) {
    const iol_resp_value_t *v = u->reply;
    char txt[256];
    reply_text(v, txt, sizeof(txt));
    switch (R.ph) {
    case PH_PING:
        /* -NOAUTH / -NOPERM / -ERR operation not permitted mean the master
         * is alive and wants AUTH: go on (Redis does the same). */
        if (is_error(v) &&
            !(v->str && (!strncmp(v->str, "NOAUTH", 6) || !strncmp(v->str, "NOPERM", 6) ||
                         !strncmp(v->str, "ERR operation not permitted", 27)))) {
            handshake_error("Error reply to PING from master: '%s'", txt);
            return;
        }
        kl_notice("Master replied to PING, replication can continue...");
        send_after_ping();
        break;
    case PH_AUTH:
        if (is_error(v)) {
            handshake_error("Unable to AUTH to MASTER: %s", txt);
            return;
        }
        R.ph = PH_PORT;
        break;
    case PH_PORT:
        if (is_error(v))
            kl_notice("(Non critical) Master does not understand REPLCONF listening-port: %s", txt);
        R.ph = (g_cfg.replica_announce_ip && g_cfg.replica_announce_ip[0]) ? PH_IP : PH_CAPA;
        break;
    case PH_IP:
        if (is_error(v))
            kl_notice("(Non critical) Master does not understand REPLCONF ip-address: %s", txt);
        R.ph = PH_CAPA;
        break;
    case PH_CAPA:
        if (is_error(v))
            kl_notice("(Non critical) Master does not understand REPLCONF capa: %s", txt);
        send_psync();
        return; /* set_framing resumes the link */
    default:
        handshake_error("Unexpected reply from MASTER during the handshake: %s", txt);
        return;
    }
    if (R.cur) iol_link_resume(R.cur->l);
}

/* ---------------------------------------------------------------- the stream */

static void stream_start(void) {
    R.master = exec_internal_client_new(CF_MASTER);
    R.master->db_id = R.master_db;
    R.master->db = db_get(R.master_db);
    R.cached = false;
    R.pend.len = 0;
    R.ph = PH_STREAM;
    R.last_io_ms = now_ms();
    R.down_since_ms = 0;
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RESP_REQUESTS, 0);
    f.max_unit = (uint64_t)g_cfg.proto_max_bulk_len;
    iol_link_set_framing(R.cur->l, &f);
    set_flags();
}

/* After command i of the unit: its bytes count (and go to our backlog)
 * unless a MULTI is open (then at its EXEC, all at once). */
static void stream_after(void *arg, client_t *c, uint32_t i) {
    const iol_unit_t *u = arg;
    const char *p = u->data + R.unit_pos;
    size_t n = u->cmd_wire[i];
    R.unit_pos += n;
    if ((c->flags & CF_MULTI) || R.pend.len) {
        kl_buf_append(&R.pend, p, n);
        if (c->flags & CF_MULTI) return;
        repl_backlog_feed(R.pend.p, R.pend.len);
        R.pend.len = 0;
        return;
    }
    repl_backlog_feed(p, n);
}

static void on_commands(const iol_unit_t *u) {
    if (!R.master) return;
    R.read_off += (long long)u->wire_len;
    R.unit_pos = 0;
    resp_batch_t *b = (resp_batch_t *)&u->batch;
    g_kv.master_running = true;
    R.running = true;
    exec_internal_run_each(R.master, b, stream_after, (void *)u);
    R.running = false;
    g_kv.master_running = false;
    if (R.drop_after) { /* the client could not be freed under its own feet */
        R.drop_after = false;
        retry_later();
    }
}

void replica_send_ack(void) {
    if (!R.cur || R.ph != PH_STREAM) return;
    char off[32];
    snprintf(off, sizeof(off), "%lld", g_repl.master_repl_offset);
    const char *argv[] = {"REPLCONF", "ACK", off};
    send_cmd(3, argv);
}

/* ---------------------------------------------------------------- full sync */

static void load_done(void *arg, int rc, const rdb_load_info_t *info, const char *err);
static void sync_loaded(const rdb_load_info_t *info, rlink_t *rl);

/* repl-diskless-load on-empty-db (with an empty keyspace) or swapdb: load
 * straight from the socket (replica_diskless.c, built when the push-fed
 * loader of persist/rdb.h is there; without it this returns false and the
 * transfer goes to disk, which is always correct, only slower). */
static bool diskless_load_begin(const iol_framing_t *f) {
    aof_stop_for_sync();
    master_disconnect_replicas(); /* the new history: our replicas resync with it */
    R.dl = replica__dl_begin(g_cfg.repl_diskless_load == 2, strcmp(g_repl.replid, R.psync_id) == 0);
    R.ph = PH_PAYLOAD;
    if (iol_link_set_framing(R.cur->l, f) != 0) {
        handshake_error("MASTER <-> REPLICA sync: cannot receive the payload");
        return true;
    }
    return true;
}

static bool diskless_load_wanted(void) {
    if (g_cfg.repl_diskless_load == 2) return true; /* swapdb */
    if (g_cfg.repl_diskless_load == 1) {            /* on-empty-db */
        for (int i = 0; i < db_count(); i++)
            if (db_size(db_get(i))) return false;
        return true;
    }
    return false;
}

static void on_bulk_header(const char *line) {
    if (line[0] == '-') {
        handshake_error("MASTER aborted replication with an error: %s", line + 1);
        return;
    }
    if (line[0] != '$') {
        handshake_error(
            "Bad protocol from MASTER, the first byte is not '$' (we received '%.200s'), "
            "are you sure the host and port are right?",
            line);
        return;
    }
    iol_framing_t f;
    bool diskless = diskless_load_wanted();
    const char *to = diskless ? "to parser" : "to disk";
    if (!strncmp(line + 1, "EOF:", 4) && strlen(line + 5) >= 40) {
        R.eof_mode = true;
        R.xfer_size = 0;
        f = iol_framing_raw_eof(line + 5, 40);
        kl_notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF %s", to);
    } else {
        long long len;
        if (kl_str_to_ll(line + 1, strlen(line + 1), &len) != 0 || len <= 0) {
            handshake_error("Bad protocol from MASTER, invalid bulk length '%.200s'", line);
            return;
        }
        R.eof_mode = false;
        R.xfer_size = len;
        f = iol_framing_raw_len((uint64_t)len);
        kl_notice("MASTER <-> REPLICA sync: receiving %lld bytes from master %s", len, to);
    }
    R.xfer_read = 0;
    if (g_srv.loading) {
        /* An earlier master's RDB is still loading (REPLICAOF changed
         * meanwhile): one load at a time. */
        handshake_error("MASTER <-> REPLICA sync: a load is still in progress, retrying later");
        return;
    }
    if (diskless && diskless_load_begin(&f)) return;
    rlink_t *rl = R.cur;
    int fd = -1;
    for (int tries = 0; tries < 5 && fd < 0; tries++) {
        snprintf(rl->tmpfile, sizeof(rl->tmpfile), "temp-%d.%ld.rdb", (int)time(NULL),
                 (long)getpid());
        fd = open(rl->tmpfile, O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) break;
        if (fd < 0) usleep(1000); /* a name from the same second: bounded retries */
    }
    if (fd < 0) {
        rl->tmpfile[0] = '\0';
        handshake_error("Opening the temp file needed for MASTER <-> REPLICA synchronization: %s",
                        strerror(errno));
        return;
    }
    rl->fd = fd;
    R.ph = PH_PAYLOAD;
    if (iol_link_set_framing_sink(rl->l, &f, fd) != 0)
        handshake_error("MASTER <-> REPLICA sync: cannot receive the payload");
}

/* The whole payload is in the temp file: swap it in and load it. */
static void payload_complete(void) {
    rlink_t *rl = R.cur;
    close(rl->fd);
    rl->fd = -1;
    if (g_srv.loading) { /* see on_bulk_header: never flush under a running load */
        handshake_error("MASTER <-> REPLICA sync: a load is still in progress, retrying later");
        return;
    }
    if (snap_child_running()) snap_kill_child(); /* no copy-on-write storm during the load */
    if (rename(rl->tmpfile, g_cfg.dbfilename) != 0) {
        handshake_error("Failed trying to rename the temp DB into %s in MASTER <-> REPLICA "
                        "synchronization: %s",
                        g_cfg.dbfilename, strerror(errno));
        return;
    }
    rl->tmpfile[0] = '\0';
    aof_stop_for_sync(); /* restarted from a rewrite of the loaded data */
    /* The new history: our replicas must resync with it. */
    master_disconnect_replicas();
    kl_notice("MASTER <-> REPLICA sync: Flushing old data");
    for (int i = 0; i < db_count(); i++)
        multi_touch_db(db_get(i), NULL);
    db_flush_all_lazy(g_cfg.replica_lazy_flush != 0);
    kl_notice("MASTER <-> REPLICA sync: Loading DB in memory");
    R.ph = PH_LOADING;
    char err[320];
    rl->loading = true;
    if (persistence_load_file(g_cfg.dbfilename, true, load_done, rl, err, sizeof(err)) != 0) {
        rl->loading = false;
        kl_warning("Failed trying to load the MASTER synchronization DB from disk: %s", err);
        retry_later();
    }
}

/* rdb-del-sync-files: a replica with no persistence does not keep the
 * master's RDB (Redis's allPersistenceDisabled check). */
static void maybe_del_sync_file(void) {
    if (!g_cfg.rdb_del_sync_files || g_cfg.nsave > 0 || g_cfg.appendonly) return;
    kl_notice("Removing the RDB file obtained from the master. This replica has persistence "
              "disabled");
    unlink(g_cfg.dbfilename);
}

static void load_done(void *arg, int rc, const rdb_load_info_t *info, const char *err) {
    if (R.shut) return; /* rl was freed by replica_shutdown's close */
    rlink_t *rl = arg;
    rl->loading = false;
    maybe_del_sync_file();
    if (rl != R.cur) {
        /* REPLICAOF changed while loading: what we loaded is not wanted
         * as a history any more; keep the data (Redis would have too). */
        if (rl->dead) kl_free(rl);
        return;
    }
    if (rc != 0) {
        kl_warning("Failed trying to load the MASTER synchronization DB from disk, check server "
                   "logs. (%s)",
                   err ? err : "");
        for (int i = 0; i < db_count(); i++)
            multi_touch_db(db_get(i), NULL);
        db_flush_all_lazy(g_cfg.replica_lazy_flush != 0);
        retry_later(); /* the AOF restarts after a successful sync or a promotion */
        return;
    }
    sync_loaded(info, rl);
}

/* The master's RDB is loaded (from the file or the socket): adopt its
 * history and start streaming, or, when the link dropped meanwhile, wait
 * for the cron to PSYNC from here. */
static void sync_loaded(const rdb_load_info_t *info, rlink_t *rl) {
    R.master_db = info->repl_stream_db >= 0 ? info->repl_stream_db : 0;
    if (R.master_db >= db_count()) R.master_db = 0;
    repl_set_identity(R.psync_id, R.psync_off);
    repl_clear_replid2();
    R.read_off = R.psync_off;
    g_srv.dirty++; /* Redis's emptyData + load leave the dataset "changed" */
    if (rl->dead) {
        /* The link dropped while we loaded: the data is the master's at
         * psync_off, so a PSYNC can continue from it. */
        R.cur = NULL;
        kl_free(rl);
        R.cached = true;
        R.ph = PH_NONE;
        R.down_since_ms = now_ms();
        kl_notice("MASTER <-> REPLICA sync: Finished with success");
        aof_restart_after_sync();
        set_flags();
        return;
    }
    stream_start();
    kl_notice("MASTER <-> REPLICA sync: Finished with success");
    aof_restart_after_sync();
    if (R.eof_mode) replica_send_ack(); /* put us online at once (Redis does with EOF) */
}

static void on_payload(const iol_unit_t *u) {
    if (R.dl) {
        R.xfer_read += (long long)u->len;
        rdb_load_info_t info;
        char err[320];
        int rc = replica__dl_feed(R.dl, u->data, u->len, u->last, &info, err, sizeof(err));
        if (rc == 1) return;
        R.dl = NULL; /* freed by replica__dl_feed */
        if (rc < 0) {
            retry_later();
            return;
        }
        sync_loaded(&info, R.cur);
        return;
    }
    if (u->sink_err) {
        handshake_error("Write error saving the bulk data from MASTER to disk: %s",
                        strerror(u->sink_err));
        return;
    }
    R.xfer_read += (long long)u->len;
    if (u->last) payload_complete();
}

/* ---------------------------------------------------------------- PSYNC reply */

/* The target of a FAILOVER answered our PSYNC. */
static void failover_answered(bool accepted) {
    void (*cb)(bool) = R.failover;
    R.failover = NULL;
    if (cb) cb(accepted);
}

void replica_set_failover_psync(void (*result)(bool accepted)) {
    R.failover = result;
}

void replica_clear_failover_psync(void) {
    R.failover = NULL;
}

static void on_psync_reply(const char *line) {
    bool accepted = !strncmp(line, "+FULLRESYNC", 11) || !strncmp(line, "+CONTINUE", 9);
    rlink_t *rl = R.cur;
    failover_answered(accepted);
    if (R.cur != rl) return; /* the callback changed the master */
    if (!strncmp(line, "+FULLRESYNC", 11)) {
        const char *p = line + 11;
        while (*p == ' ')
            p++;
        const char *sp = strchr(p, ' ');
        long long off;
        if (!sp || sp - p != REPL_ID_LEN || kl_str_to_ll(sp + 1, strlen(sp + 1), &off) != 0) {
            kl_warning("Master replied with wrong +FULLRESYNC syntax.");
            memset(R.psync_id, 0, sizeof(R.psync_id));
            handshake_error("MASTER <-> REPLICA sync: bad +FULLRESYNC reply");
            return;
        }
        memcpy(R.psync_id, p, REPL_ID_LEN);
        R.psync_id[REPL_ID_LEN] = '\0';
        R.psync_off = off;
        kl_notice("Full resync from master: %s:%lld", R.psync_id, off);
        if (R.cached) kl_notice("Discarding previously cached master state.");
        R.cached = false;
        R.ph = PH_BULK;
        R.xfer_size = -1;
        R.xfer_read = 0;
        iol_link_resume(R.cur->l);
        return;
    }
    if (!strncmp(line, "+CONTINUE", 9)) {
        const char *p = line + 9;
        while (*p == ' ')
            p++;
        kl_notice("Successful partial resynchronization with master.");
        if (strlen(p) >= REPL_ID_LEN && strncmp(p, g_repl.replid, REPL_ID_LEN) != 0) {
            /* The master's history changed (a failover): ours continues as
             * replid2 up to here, and our replicas must learn it. */
            memcpy(g_repl.replid2, g_repl.replid, REPL_ID_LEN + 1);
            g_repl.second_replid_offset = g_repl.master_repl_offset + 1;
            memcpy(g_repl.replid, p, REPL_ID_LEN);
            g_repl.replid[REPL_ID_LEN] = '\0';
            kl_notice("Master replication ID changed to %s", g_repl.replid);
            master_disconnect_replicas();
        }
        if (!g_repl.backlog_on) repl_backlog_create();
        R.read_off = g_repl.master_repl_offset;
        kl_notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        stream_start();
        return;
    }
    if (!strncmp(line, "-NOMASTERLINK", 13) || !strncmp(line, "-LOADING", 8)) {
        kl_notice("Master is currently unable to PSYNC but should be in the future: %s", line);
        retry_later();
        return;
    }
    if (line[0] == '-')
        handshake_error("Unexpected reply to PSYNC from master: %s", line);
    else
        handshake_error("Unexpected reply to PSYNC from master: %.200s", line);
}

/* ---------------------------------------------------------------- link hooks */

static void hook_connected(iol_link_t *l, void *ud) {
    rlink_t *rl = ud;
    if (rl != R.cur) return;
    (void)l;
    kl_notice("Non blocking connect for SYNC fired the event.");
    R.last_io_ms = now_ms();
    const char *argv[] = {"PING"};
    send_cmd(1, argv);
    R.ph = PH_PING;
}

static void hook_unit(iol_link_t *l, void *ud, const iol_unit_t *u) {
    rlink_t *rl = ud;
    (void)l;
    if (rl != R.cur) return;
    R.last_io_ms = now_ms();
    switch (u->kind) {
    case IOL_UNIT_REPLY:
        on_reply(u);
        return;
    case IOL_UNIT_LINE:
        if (u->len == 0) { /* a keep-alive newline */
            iol_link_resume(l);
            return;
        }
        if (R.ph == PH_PSYNC)
            on_psync_reply(u->data);
        else if (R.ph == PH_BULK)
            on_bulk_header(u->data);
        else
            handshake_error("Unexpected line from MASTER: %.200s", u->data);
        return;
    case IOL_UNIT_PAYLOAD:
        if (R.ph == PH_PAYLOAD) on_payload(u);
        return;
    case IOL_UNIT_COMMANDS:
        if (R.ph == PH_STREAM) on_commands(u);
        return;
    default:
        handshake_error("Unexpected data from MASTER");
    }
}

static void hook_closed(iol_link_t *l, void *ud, int status, const char *reason) {
    rlink_t *rl = ud;
    (void)l;
    if (rl != R.cur) {
        /* An attempt we gave up: its file is ours to remove now that the
         * I/O thread cannot write it any more. */
        rl->dead = true;
        if (rl->loading && !R.shut) return; /* load_done frees it (never after shutdown) */
        if (rl->fd >= 0) close(rl->fd);
        if (rl->tmpfile[0]) unlink(rl->tmpfile);
        kl_free(rl);
        return;
    }
    rl->dead = true;
    if (R.ph == PH_LOADING) return; /* load_done sees it */
    if (R.ph == PH_CONNECTING)
        kl_warning("Error condition on socket for SYNC: %s", reason);
    else if (R.ph == PH_STREAM)
        kl_verbose("Link with MASTER closed: %s", reason); /* retry_later says it is lost */
    else if (R.ph == PH_PAYLOAD)
        kl_warning("I/O error trying to sync with MASTER: %s", reason);
    else if (status != 0)
        kl_warning("Error condition on socket for SYNC: %s", reason);
    retry_later(); /* frees rl: rl->dead is set */
}

static const iol_link_hooks_t link_hooks = {hook_connected, hook_unit, hook_closed};

static void connect_master(void) {
    kl_notice("Connecting to MASTER %s:%d", R.host, R.port);
    rlink_t *rl = kl_calloc(1, sizeof(*rl));
    rl->fd = -1;
    iol_link_security_t sec;
    iol_link_opts_t o;
    memset(&o, 0, sizeof(o));
    o.host = R.host;
    o.port = R.port;
    if (g_cfg.tls_replication) {
        tls_link_security(NULL, &sec);
        o.sec = &sec;
    }
    o.connect_timeout_ms = (uint64_t)g_cfg.repl_timeout * 1000;
    o.thread = -1;
    o.framing = iol_framing_make(IOL_FRAMING_RESP_REPLIES, IOL_FRAMING_STOP);
    o.hooks = &link_hooks;
    o.ud = rl;
    const char *why = NULL;
    int rc = iol_connect(&o, &rl->l, &why);
    if (rc != 0) {
        kl_warning("Unable to connect to MASTER: %s", why ? why : "error");
        kl_free(rl);
        return;
    }
    R.cur = rl;
    R.ph = PH_CONNECTING;
    R.last_io_ms = now_ms();
    kl_notice("MASTER <-> REPLICA sync started");
}

/* ---------------------------------------------------------------- API */

int replica_set_master(const char *host, int port, char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    bool was_master = R.host == NULL;
    if (R.master) master_client_free(true);
    link_drop();
    kl_free(R.host);
    R.host = kl_strdup(host);
    R.port = port;
    if (was_master) {
        /* Our own history is worth a PSYNC with the new master
         * (replicationCacheMasterUsingMyself). */
        kl_notice("Before turning into a replica, using my own master parameters to synthesize a "
                  "cached master: I may be able to synchronize with the new master with just a "
                  "partial transfer.");
        R.cached = true;
        R.master_db = repl__stream_db() >= 0 ? repl__stream_db() : 0;
        R.read_off = g_repl.master_repl_offset;
        R.down_since_ms = 0;
        set_flags();
        repl_role_changed();
    }
    R.ph = PH_NONE;
    set_flags();
    connect_master();
    return 0;
}

void replica_unset_master(void) {
    if (!R.host) return;
    if (R.ph == PH_STREAM) kl_notice("Connection with master lost.");
    master_client_free(false);
    link_drop();
    kl_free(R.host);
    R.host = NULL;
    R.port = 0;
    R.cached = false;
    R.ph = PH_NONE;
    R.down_since_ms = 0;
    repl_shift_replid();
    master_disconnect_replicas();
    set_flags();
    repl_role_changed();      /* our writes feed the backlog again, starting with a SELECT */
    aof_restart_after_sync(); /* if a failed sync left it off */
    g_repl.backlog_unused_since_ms = now_ms();
}

bool repl_is_replica(void) {
    return R.host != NULL;
}

bool replica_link_up(void) {
    return R.host && R.ph == PH_STREAM;
}

enum replica_link_state replica_state(void) {
    if (!R.host) return REPLICA_NONE;
    switch (R.ph) {
    case PH_NONE:
        return REPLICA_CONNECT;
    case PH_PAYLOAD:
    case PH_LOADING:
    case PH_BULK:
        return REPLICA_SYNC;
    case PH_STREAM:
        return REPLICA_CONNECTED;
    default:
        return REPLICA_CONNECTING;
    }
}

const char *replica_master_host(void) {
    return R.host;
}

int replica_master_port(void) {
    return R.port;
}

struct client *replica_master_client(void) {
    return R.master;
}

const char *replica_role_state(void) {
    if (!R.host) return "none";
    switch (R.ph) {
    case PH_NONE:
        return "connect";
    case PH_CONNECTING:
        return "connecting";
    case PH_BULK:
    case PH_PAYLOAD:
    case PH_LOADING:
        return "sync";
    case PH_STREAM:
        return "connected";
    default:
        return "handshake";
    }
}

long long replica_role_offset(void) {
    return R.master ? g_repl.master_repl_offset : -1;
}

void replica_info_fields(kl_buf_t *out) {
    if (!R.host) return;
    int64_t now = now_ms();
    long long off = 1, read_off = 1;
    if (R.master || R.cached) {
        off = g_repl.master_repl_offset;
        read_off = R.master ? R.read_off : g_repl.master_repl_offset;
    }
    bool transfer = R.ph == PH_BULK || R.ph == PH_PAYLOAD;
    kl_buf_appendf(out,
                   "master_host:%s\r\n"
                   "master_port:%d\r\n"
                   "master_link_status:%s\r\n"
                   "master_last_io_seconds_ago:%d\r\n"
                   "master_sync_in_progress:%d\r\n"
                   "slave_read_repl_offset:%lld\r\n"
                   "slave_repl_offset:%lld\r\n",
                   R.host, R.port, R.ph == PH_STREAM ? "up" : "down",
                   R.master ? (int)((now - R.last_io_ms) / 1000) : -1, transfer ? 1 : 0, read_off,
                   off);
    if (transfer) {
        long long size = R.xfer_size; /* -1 until the "$" line, 0 with an EOF mark (Redis) */
        kl_buf_appendf(out,
                       "master_sync_total_bytes:%lld\r\n"
                       "master_sync_read_bytes:%lld\r\n"
                       "master_sync_left_bytes:%lld\r\n"
                       "master_sync_perc:%.2f\r\n"
                       "master_sync_last_io_seconds_ago:%d\r\n",
                       size, R.xfer_read, size - R.xfer_read,
                       size ? (double)R.xfer_read / (double)size * 100 : 0.0,
                       (int)((now - R.last_io_ms) / 1000));
    }
    if (R.ph != PH_STREAM)
        kl_buf_appendf(out, "master_link_down_since_seconds:%lld\r\n",
                       R.down_since_ms ? (long long)((now - R.down_since_ms) / 1000) : -1LL);
    kl_buf_appendf(out,
                   "slave_priority:%d\r\n"
                   "slave_read_only:%d\r\n"
                   "replica_announced:%d\r\n",
                   g_cfg.replica_priority, g_cfg.replica_read_only ? 1 : 0,
                   g_cfg.replica_announced ? 1 : 0);
}

/* ---------------------------------------------------------------- persistence hooks */

/* Redis's rdbPopulateSaveInfo: a master with a backlog saves its stream's
 * db, a replica its master's (or its cached master's) db. */
static void save_info(snap_opts_t *o) {
    if (!R.host && g_repl.backlog_on) {
        int db = repl__stream_db();
        o->repl_stream_db = db < 0 ? 0 : db;
    } else if (R.master) {
        o->repl_stream_db = R.master->db_id;
    } else if (R.host && R.cached) {
        o->repl_stream_db = R.master_db;
    } else {
        return;
    }
    o->with_repl = true;
    o->repl_id = g_repl.replid;
    o->repl_offset = g_repl.master_repl_offset;
}

/* The start-up load found repl-id / repl-offset: a replica continues from
 * them (a PSYNC after a restart), a master keeps them as replid2 so its old
 * replicas can continue (Redis 7.0's loadDataFromDisk). */
static void loaded(const rdb_load_info_t *in) {
    if (!in->repl_id[0] || in->repl_offset < 0 || in->repl_stream_db < 0) return;
    if (R.host) {
        repl_set_identity(in->repl_id, in->repl_offset);
        R.cached = true;
        R.master_db = in->repl_stream_db < db_count() ? in->repl_stream_db : 0;
        R.read_off = in->repl_offset;
        return;
    }
    memcpy(g_repl.replid2, in->repl_id, REPL_ID_LEN);
    g_repl.replid2[REPL_ID_LEN] = '\0';
    g_repl.second_replid_offset = in->repl_offset + 1;
    g_repl.master_repl_offset += in->repl_offset;
    repl_backlog_free();
    repl_backlog_create();
    g_repl.backlog_unused_since_ms = now_ms();
}

static const char *config_source(int *port) {
    *port = R.port;
    return R.host;
}

/* ---------------------------------------------------------------- life */

/* CLIENT KILL TYPE master: drop the link; the master is cached for a
 * PSYNC, as when Redis frees its master client. */
static bool kill_master(void) {
    if (!R.host || R.ph != PH_STREAM) return false;
    if (R.running) {
        R.drop_after = true;
        return true;
    }
    retry_later();
    return true;
}

void replica_init(void) {
    static const persistence_repl_hooks_t ph = {save_info, loaded};
    exec_set_master_killer(kill_master);
    persistence_set_repl_hooks(&ph);
    config_set_replicaof_source(config_source);
    if (g_cfg.replicaof_host[0]) {
        R.host = kl_strdup(g_cfg.replicaof_host);
        R.port = g_cfg.replicaof_port;
        R.ph = PH_NONE;
        set_flags();
        repl_role_changed();
    }
    set_flags();
}

void replica_cron(void) {
    if (!R.host) return;
    int64_t now = now_ms();
    if (now / 1000 == R.last_cron_s) return; /* Redis's replicationCron: once a second */
    R.last_cron_s = now / 1000;
    int64_t idle = (now - R.last_io_ms) / 1000;
    switch (R.ph) {
    case PH_NONE:
        if (!g_srv.loading) connect_master();
        break;
    case PH_CONNECTING:
    case PH_PING:
    case PH_AUTH:
    case PH_PORT:
    case PH_IP:
    case PH_CAPA:
    case PH_PSYNC:
        if (idle > g_cfg.repl_timeout) {
            kl_warning("Timeout connecting to the MASTER...");
            retry_later();
        }
        break;
    case PH_BULK:
    case PH_PAYLOAD:
        if (idle > g_cfg.repl_timeout) {
            kl_warning("Timeout receiving bulk data from MASTER... If the problem persists try to "
                       "set the 'repl-timeout' parameter in redis.conf to a larger value.");
            retry_later();
        }
        break;
    case PH_STREAM:
        if (idle > g_cfg.repl_timeout) {
            kl_warning("MASTER timeout: no data nor PING received...");
            retry_later();
            break;
        }
        replica_send_ack();
        break;
    default:
        break;
    }
}

void replica_shutdown(void) {
    R.shut = true;
    if (R.cur && R.cur->loading) R.cur->loading = false; /* load_done will not run */
    master_client_free(false);
    link_drop();
    kl_free(R.host);
    R.host = NULL;
    kl_buf_free(&R.pend);
}

/* ---------------------------------------------------------------- REPLICAOF */

static void cmd_replicaof(client_t *c) {
    const char *host = c->argv[1].ptr;
    const char *port_s = c->argv[2].ptr;
    if (c->flags & CF_REPLICA) {
        reply_error(c, "ERR Command is not valid when client is a replica.");
        return;
    }
    if (c->flags & CF_MASTER) {
        /* A master never propagates REPLICAOF; one that does must not free
         * the client running it. */
        reply_error(c, "ERR REPLICAOF is not allowed from the master's stream.");
        return;
    }
    if (!strcasecmp(host, "no") && !strcasecmp(port_s, "one")) {
        if (R.host) {
            replica_unset_master();
            kl_notice("MASTER MODE enabled (user request from 'id=%llu addr=%s')",
                      (unsigned long long)c->id, c->io ? iol_client_peer(c->io) : "");
        }
        reply_ok(c);
        return;
    }
    long long port;
    if (kl_str_to_ll(port_s, c->argv[2].len, &port) != 0 || port < 0 || port > 65535) {
        reply_error(c, "ERR Invalid master port");
        return;
    }
    if (R.host && !strcasecmp(R.host, host) && R.port == port) {
        kl_notice("REPLICAOF would result into synchronization with the master we are already "
                  "connected with. No operation performed.");
        reply_simple(c, "OK Already connected to specified master");
        return;
    }
    char err[128] = "";
    if (replica_set_master(host, (int)port, err, sizeof(err)) != 0) {
        reply_error(c, err);
        return;
    }
    kl_notice("REPLICAOF %s:%d enabled (user request from 'id=%llu addr=%s')", host, (int)port,
              (unsigned long long)c->id, c->io ? iol_client_peer(c->io) : "");
    reply_ok(c);
}

kl_command_t cmds_replica[] = {
    {
        .name = "replicaof",
        .proc = cmd_replicaof,
        .arity = 3,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE | CMD_NO_ASYNC_LOADING,
        .group = "server",
        .since = "5.0.0",
        .summary = "Make the server a replica of another instance, or promote it as master.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "slaveof",
        .proc = cmd_replicaof,
        .arity = 3,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE | CMD_NO_ASYNC_LOADING,
        .group = "server",
        .since = "1.0.0",
        .summary = "Make the server a replica of another instance, or promote it as master.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {0},
};
