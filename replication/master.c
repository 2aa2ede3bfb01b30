/* The master side of replication (master.h): Redis 7.0's SYNC/PSYNC,
 * REPLCONF, WAIT, ROLE, full and partial resynchronisation, the replicas'
 * acknowledgements, min-replicas-to-write and the replication cron.
 *
 * A replica is a client that asked for SYNC or PSYNC. From then on its I/O
 * thread writes, in order: "+FULLRESYNC <replid> <offset>" (or "+CONTINUE
 * <replid>" for a partial resync), the RDB payload, then the shared
 * replication buffer from the replica's offset on (ioloop/iol_repl.h). The
 * executor decides and never writes a transfer itself:
 *
 *  - disk target (repl-diskless-sync no, or a replica without "capa eof"):
 *    a BGSAVE (admin/persistence.c) writes dbfilename; when it ends, each
 *    waiting replica's I/O thread gets the open file and sends "$<size>"
 *    and the file. Replicas that ask while that BGSAVE runs share it when
 *    another replica already waits on it (their stream then starts at the
 *    same offset, as Redis's copyReplicaOutputBuffer does);
 *  - diskless: after repl-diskless-sync-delay seconds (or
 *    repl-diskless-sync-max-replicas replicas), one forked child writes
 *    "$EOF:<40 random chars>\r\n", the RDB and the mark into one pipe per
 *    replica (persist/snapshot.c's snap_bgsave_fds); each replica's I/O
 *    thread reads its pipe and writes (TLS included).
 *
 * In both cases the replica's stream position is taken at the moment of
 * the fork (its FULLRESYNC offset + 1), so the blocks written meanwhile stay
 * alive for it, shared with the backlog and the other replicas.
 *
 * Thread: executor. */
#include "master.h"

#include "admin.h"
#include "blocking.h"
#include "client.h"
#include "cmd.h"
#include "config.h"
#include "exec.h"
#include "iol.h"
#include "iol_repl.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kv.h"
#include "persistence.h"
#include "propagate.h"
#include "repl_internal.h"
#include "replica.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum peer_state {
    PS_NONE = 0,          /* only REPLCONF so far */
    PS_WAIT_BGSAVE_START, /* needs a snapshot that has not started */
    PS_WAIT_BGSAVE_END,   /* its snapshot runs */
    PS_SEND_BULK,         /* its I/O thread sends the RDB file */
    PS_ONLINE,            /* streaming */
};

enum { CAPA_EOF = 1u << 0, CAPA_PSYNC2 = 1u << 1 };

typedef struct repl_peer {
    client_t *c;
    int state;
    int listening_port;
    char announced_ip[64]; /* REPLCONF ip-address, "" when not given */
    unsigned capa;
    bool pre_psync;     /* SYNC, not PSYNC: no +FULLRESYNC, no ACKs expected */
    bool rdb_only;      /* REPLCONF rdb-only 1: the RDB and nothing more */
    bool diskless;      /* its full sync is the diskless child's */
    bool stream_on_ack; /* diskless: its stream starts with its first ACK */
    bool payload_out;   /* diskless: its I/O thread wrote the whole pipe */
    bool child_reaped;  /* diskless: the child ended well */
    bool acked_early;   /* diskless: an ACK came before it was online */
    long long psync_initial_offset;
    long long ack_off;
    int64_t ack_time;  /* unix seconds of its last REPLCONF ACK */
    int64_t asked_ms;  /* when it asked for a sync (the diskless delay) */
    uint64_t seen_out; /* its bytes written, as the cron last saw them */
    int64_t moved_ms;  /* when they last grew (a stuck transfer times out) */
    bool listed;       /* in the peers list (a replica, in any state) */
    struct repl_peer *prev, *next;
} repl_peer_t;

static repl_peer_t *peers;
static size_t npeers;
static int good_replicas;
static uint64_t cron_ticks;
static bool getack_wanted;
static iol_before_sleep_t *before_sleep;

/* Clients parked in WAIT. */
typedef struct waiter {
    client_t *c;
    long long offset;
    long numreplicas;
} waiter_t;
static waiter_t *waiters;
static size_t nwaiters, waiters_cap;

static int64_t unix_now(void) {
    return (int64_t)time(NULL);
}

static int64_t ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The address a replica listens on: its announced ip, or its peer's. */
static void peer_ip(const repl_peer_t *p, char *ip, size_t cap) {
    if (p->announced_ip[0]) {
        snprintf(ip, cap, "%s", p->announced_ip);
        return;
    }
    const char *peer = iol_client_peer(p->c->io);
    const char *colon = strrchr(peer, ':');
    snprintf(ip, cap, "%.*s", (int)(colon ? colon - peer : (long)strlen(peer)), peer);
}

/* "ip:port" of the replica as Redis names it in logs (ip:listening-port). */
static const char *peer_name(const repl_peer_t *p, char *buf, size_t cap) {
    char ip[64];
    peer_ip(p, ip, sizeof(ip));
    snprintf(buf, cap, "%s:%d", ip, p->listening_port);
    return buf;
}

static repl_peer_t *peer_of(client_t *c) {
    if (!c->peer) {
        c->peer = kl_calloc(1, sizeof(repl_peer_t));
        c->peer->c = c;
    }
    return c->peer;
}

static bool is_replica(const client_t *c) {
    return c->peer && c->peer->state != PS_NONE;
}

static void peer_list(repl_peer_t *p) {
    p->listed = true;
    p->prev = NULL;
    p->next = peers;
    if (peers) peers->prev = p;
    peers = p;
    npeers++;
    g_repl.backlog_unused_since_ms = 0;
}

static void peer_unlist(repl_peer_t *p) {
    if (!p->listed) return;
    if (p->prev)
        p->prev->next = p->next;
    else
        peers = p->next;
    if (p->next) p->next->prev = p->prev;
    p->prev = p->next = NULL;
    p->listed = false;
    npeers--;
    if (npeers == 0) g_repl.backlog_unused_since_ms = ms_now();
}

/* ---------------------------------------------------------------- counts */

static void refresh_good_replicas(void) {
    int good = 0;
    int64_t now = unix_now();
    for (repl_peer_t *p = peers; p; p = p->next)
        if (p->state == PS_ONLINE && now - p->ack_time <= g_cfg.min_replicas_max_lag) good++;
    good_replicas = good;
}

int master_good_replicas(void) {
    return good_replicas;
}

size_t master_replica_count(void) {
    return npeers;
}

bool master_writes_denied(void) {
    return !repl_is_replica() && g_cfg.min_replicas_max_lag && g_cfg.min_replicas_to_write &&
           good_replicas < g_cfg.min_replicas_to_write;
}

static const char *write_check(client_t *c) {
    (void)c;
    return master_writes_denied() ? "NOREPLICAS Not enough good replicas to write." : NULL;
}

static int count_acks(long long offset) {
    int n = 0;
    for (repl_peer_t *p = peers; p; p = p->next)
        if (p->state == PS_ONLINE && p->ack_off >= offset) n++;
    return n;
}

/* ---------------------------------------------------------------- closing */

static void kill_peer(repl_peer_t *p, const char *why) {
    char name[128];
    if (why) kl_warning("%s %s", why, peer_name(p, name, sizeof(name)));
    exec_client_kill(p->c, false);
}

void master_disconnect_replicas(void) {
    for (repl_peer_t *p = peers; p; p = p->next)
        exec_client_kill(p->c, false);
}

static void waiter_remove(client_t *c);

void master_client_closed(client_t *c) {
    waiter_remove(c);
    repl_peer_t *p = c->peer;
    if (!p) return;
    if (p->listed) {
        char name[128];
        if (p->state == PS_ONLINE)
            kl_warning("Connection with replica %s lost.", peer_name(p, name, sizeof(name)));
        peer_unlist(p);
        refresh_good_replicas();
    }
    kl_free(p);
    c->peer = NULL;
}

/* ---------------------------------------------------------------- REPLCONF */

static bool parse_ll(const resp_arg_t *a, long long *v) {
    return kl_str_to_ll(a->ptr, a->len, v) == 0;
}

static void cmd_replconf(client_t *c) {
    if (c->argc % 2 == 0) {
        reply_syntax_error(c);
        return;
    }
    for (uint32_t j = 1; j < c->argc; j += 2) {
        const char *opt = c->argv[j].ptr;
        const resp_arg_t *val = &c->argv[j + 1];
        if (!strcasecmp(opt, "listening-port")) {
            long long port;
            if (!parse_ll(val, &port) || port < LONG_MIN || port > LONG_MAX) {
                reply_not_integer(c);
                return;
            }
            peer_of(c)->listening_port = (int)port;
        } else if (!strcasecmp(opt, "ip-address")) {
            if (val->len >= 256) {
                reply_errorf(c,
                             "ERR REPLCONF ip-address provided by replica instance is too long: "
                             "%zu bytes",
                             val->len);
                return;
            }
            repl_peer_t *p = peer_of(c);
            snprintf(p->announced_ip, sizeof(p->announced_ip), "%s", val->ptr);
        } else if (!strcasecmp(opt, "capa")) {
            if (!strcasecmp(val->ptr, "eof"))
                peer_of(c)->capa |= CAPA_EOF;
            else if (!strcasecmp(val->ptr, "psync2"))
                peer_of(c)->capa |= CAPA_PSYNC2;
            /* Unknown capabilities are ignored, as Redis does. */
        } else if (!strcasecmp(opt, "ack")) {
            /* No reply, ever (Redis: an internal command). */
            if (!is_replica(c)) return;
            long long off;
            if (!parse_ll(val, &off)) return;
            repl_peer_t *p = c->peer;
            if (off > p->ack_off) p->ack_off = off;
            if (c->argc > j + 3 && !strcasecmp(c->argv[j + 2].ptr, "fack")) {
                long long fack;
                if (!parse_ll(&c->argv[j + 3], &fack)) return;
            }
            p->ack_time = unix_now();
            if (p->stream_on_ack && p->state == PS_ONLINE) {
                p->stream_on_ack = false;
                iol_client_repl_stream(c->io);
            } else if (p->state == PS_WAIT_BGSAVE_END && p->diskless) {
                /* It loaded before we reaped the child: start at once then. */
                p->acked_early = true;
            }
            master__acks_changed();
            if (g_failover_state == FAILOVER_WAIT_FOR_SYNC) failover__cron();
            return;
        } else if (!strcasecmp(opt, "getack")) {
            if (repl_is_replica() && replica_master_client()) replica_send_ack();
            return;
        } else if (!strcasecmp(opt, "rdb-only")) {
            long long v;
            if (!parse_ll(val, &v)) {
                reply_not_integer(c);
                return;
            }
            if (v < 0 || v > 1) {
                reply_error(c, "ERR value is out of range, value must between 0 and 1");
                return;
            }
            peer_of(c)->rdb_only = v == 1;
        } else {
            reply_errorf(c, "ERR Unrecognized REPLCONF option: %s", opt);
            return;
        }
    }
    reply_ok(c);
}

/* ---------------------------------------------------------------- full sync */

/* Its full sync starts from `offset`: +FULLRESYNC (PSYNC), and its stream
 * held from offset + 1 on. payload_fd < 0 with later: the disk BGSAVE's
 * file comes when it ends. Returns 0, or -1 after killing the replica. */
static void setup_full_resync(repl_peer_t *p, long long offset, int payload_fd, bool later) {
    p->psync_initial_offset = offset;
    p->state = PS_WAIT_BGSAVE_END;
    p->diskless = !later;
    /* The stream the replica gets after the RDB selects its db first. */
    repl_stream_reset_db();
    char hdr[128];
    int n = 0;
    if (!p->pre_psync)
        n = snprintf(hdr, sizeof(hdr), "+FULLRESYNC %s %lld\r\n", g_repl.replid, offset);
    iol_repl_start_t st = {
        .header = hdr,
        .header_len = (size_t)n,
        .payload_fd = payload_fd,
        .payload_len = -1,
        .payload_later = later,
        .close_after_payload = p->rdb_only,
        /* Redis 7.0 streams to a diskless replica after its first ACK. */
        .stream_after_go = !later,
        .from = (uint64_t)offset + 1,
    };
    iol_client_repl_start(p->c->io, repl__rbuf, &st);
}

static void fail_waiting(const char *why) {
    repl_peer_t *next;
    for (repl_peer_t *p = peers; p; p = next) {
        next = p->next;
        if (p->state != PS_WAIT_BGSAVE_START) continue;
        p->state = PS_NONE;
        peer_unlist(p);
        p->c->flags &= ~CF_REPLICA;
        iol_reply_t r;
        iol_reply_init(&r);
        char line[128];
        int n = snprintf(line, sizeof(line), "-%s\r\n", why);
        iol_reply_append(&r, line, (size_t)n);
        iol_client_push_now(p->c->io, &r);
        exec_client_kill(p->c, true);
    }
}

/* The diskless child for every replica waiting to start (Redis's
 * rdbSaveToSlavesSockets). */
static int start_diskless(void) {
    int n = 0;
    for (repl_peer_t *p = peers; p; p = p->next)
        if (p->state == PS_WAIT_BGSAVE_START) n++;
    if (n == 0) return 0;
    if (n > 64) n = 64;
    int *rfds = kl_malloc((size_t)n * sizeof(int));
    int *wfds = kl_malloc((size_t)n * sizeof(int));
    repl_peer_t **who = kl_malloc((size_t)n * sizeof(*who));
    int k = 0;
    for (repl_peer_t *p = peers; p && k < n; p = p->next) {
        if (p->state != PS_WAIT_BGSAVE_START) continue;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            kl_warning("Can't create the pipe of a diskless sync: %s", strerror(errno));
            break;
        }
        /* Bigger pipes: fewer wake-ups of the I/O thread per MB. */
        fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
        rfds[k] = fds[0];
        wfds[k] = fds[1];
        who[k++] = p;
    }
    int rc = -1;
    if (k > 0) {
        char mark[41];
        repl__random_hex(mark, 40);
        char prefix[64];
        int plen = snprintf(prefix, sizeof(prefix), "$EOF:%s\r\n", mark);
        snap_opts_t o;
        persistence_fill_snap_opts(&o);
        char err[256];
        long long offset = g_repl.master_repl_offset;
        rc =
            snap_bgsave_fds(&o, wfds, k, rfds, k, prefix, (size_t)plen, mark, 40, err, sizeof(err));
        for (int i = 0; i < k; i++)
            close(wfds[i]);
        if (rc == 0) {
            kl_notice("Starting BGSAVE for SYNC with target: replicas sockets");
            for (int i = 0; i < k; i++)
                setup_full_resync(who[i], offset, rfds[i], false);
        } else {
            for (int i = 0; i < k; i++)
                close(rfds[i]);
        }
    }
    kl_free(rfds);
    kl_free(wfds);
    kl_free(who);
    return rc;
}

/* Start the snapshot replicas in WAIT_BGSAVE_START need (Redis's
 * startBgsaveForReplication). */
static void start_bgsave_for_replication(unsigned mincapa) {
    bool socket_target = g_cfg.repl_diskless_sync && (mincapa & CAPA_EOF);
    int rc;
    if (socket_target) {
        rc = start_diskless();
    } else {
        kl_notice("Starting BGSAVE for SYNC with target: disk");
        char err[256];
        rc = persistence_bgsave_for_replication(err, sizeof(err));
        if (rc == 0) {
            long long offset = g_repl.master_repl_offset;
            for (repl_peer_t *p = peers; p; p = p->next)
                if (p->state == PS_WAIT_BGSAVE_START) setup_full_resync(p, offset, -1, true);
        }
    }
    if (rc != 0) {
        kl_warning("BGSAVE for replication failed");
        fail_waiting("ERR BGSAVE failed, replication can't continue");
    }
}

static void put_online(repl_peer_t *p);

/* A BGSAVE (disk) or the diskless child ended. */
static void child_done(bool ok, bool to_fds) {
    repl_peer_t *next;
    if (to_fds) {
        for (repl_peer_t *p = peers; p; p = next) {
            next = p->next;
            if (p->state != PS_WAIT_BGSAVE_END || !p->diskless) continue;
            if (!ok) {
                kill_peer(p, "Diskless rdb transfer failed, closing replica");
                continue;
            }
            /* Online once its I/O thread also wrote the whole pipe (in
             * Redis the replica turns online when the child is reaped). */
            p->child_reaped = true;
            if (p->payload_out) put_online(p);
        }
        return;
    }
    for (repl_peer_t *p = peers; p; p = next) {
        next = p->next;
        if (p->state != PS_WAIT_BGSAVE_END || p->diskless) continue;
        if (!ok) {
            kill_peer(p, "SYNC failed. BGSAVE child returned an error");
            continue;
        }
        int fd = open(g_cfg.dbfilename, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            kl_warning("SYNC failed. Can't open/stat DB after BGSAVE: %s", strerror(errno));
            if (fd >= 0) close(fd);
            kill_peer(p, "Closing replica");
            continue;
        }
        char hdr[64];
        int n = snprintf(hdr, sizeof(hdr), "$%lld\r\n", (long long)st.st_size);
        p->state = PS_SEND_BULK;
        iol_client_repl_payload(p->c->io, hdr, (size_t)n, fd, (int64_t)st.st_size);
    }
}

/* The replica's I/O thread sent the whole payload (or failed). */
static void payload_sent(client_t *c, int status) {
    repl_peer_t *p = c->peer;
    if (!p || !p->listed) return;
    char name[128];
    if (status != 0) {
        kl_warning("Sending the RDB to replica %s failed: %s", peer_name(p, name, sizeof(name)),
                   strerror(-status));
        return; /* the connection is closing */
    }
    if (p->rdb_only) {
        kl_notice("Synchronization with replica %s succeeded (rdb-only)",
                  peer_name(p, name, sizeof(name)));
        return;
    }
    if (p->diskless) {
        p->payload_out = true;
        if (!p->child_reaped) return; /* child_done puts it online */
    }
    put_online(p);
}

static void put_online(repl_peer_t *p) {
    char name[128];
    p->state = PS_ONLINE;
    p->ack_time = unix_now();
    if (p->diskless && p->acked_early) {
        iol_client_repl_stream(p->c->io);
        kl_notice("Streamed RDB transfer with replica %s succeeded (socket)",
                  peer_name(p, name, sizeof(name)));
    } else if (p->diskless) {
        p->stream_on_ack = true;
        kl_notice("Streamed RDB transfer with replica %s succeeded (socket). Waiting for REPLCONF "
                  "ACK from replica to enable streaming",
                  peer_name(p, name, sizeof(name)));
    } else
        kl_notice("Synchronization with replica %s succeeded", peer_name(p, name, sizeof(name)));
    refresh_good_replicas();
}

/* Start the pending snapshot when no child runs (Redis's
 * replicationStartPendingFork / shouldStartChildProcess). */
static void start_pending_fork(void) {
    if (snap_child_running() || g_snap.other_child_pid != -1) return;
    int waiting = 0;
    unsigned mincapa = ~0u;
    int64_t max_idle = 0, now = ms_now();
    for (repl_peer_t *p = peers; p; p = p->next) {
        if (p->state != PS_WAIT_BGSAVE_START) continue;
        waiting++;
        mincapa &= p->capa;
        if (now - p->asked_ms > max_idle) max_idle = now - p->asked_ms;
    }
    if (!waiting) return;
    if (!g_cfg.repl_diskless_sync ||
        (g_cfg.repl_diskless_sync_max_replicas > 0 &&
         waiting >= g_cfg.repl_diskless_sync_max_replicas) ||
        max_idle >= (int64_t)g_cfg.repl_diskless_sync_delay * 1000)
        start_bgsave_for_replication(mincapa);
}

/* ---------------------------------------------------------------- partial sync */

static bool try_partial(client_t *c, repl_peer_t *p, const char *replid, long long offset) {
    char name[128];
    if (strcasecmp(replid, g_repl.replid) != 0 &&
        (strcasecmp(replid, g_repl.replid2) != 0 || offset > g_repl.second_replid_offset)) {
        if (replid[0] != '?') {
            if (strcasecmp(replid, g_repl.replid) && strcasecmp(replid, g_repl.replid2))
                kl_notice("Partial resynchronization not accepted: Replication ID mismatch "
                          "(Replica asked for '%s', my replication IDs are '%s' and '%s')",
                          replid, g_repl.replid, g_repl.replid2);
            else
                kl_notice("Partial resynchronization not accepted: Requested offset for second "
                          "ID was %lld, but I can reply up to %lld",
                          offset, g_repl.second_replid_offset);
        } else {
            kl_notice("Full resync requested by replica %s", peer_name(p, name, sizeof(name)));
        }
        return false;
    }
    long long first = repl_backlog_first_offset();
    if (!repl__rbuf || offset < first || offset > first + repl_backlog_histlen()) {
        kl_notice("Unable to partial resync with replica %s for lack of backlog (Replica request "
                  "was: %lld).",
                  peer_name(p, name, sizeof(name)), offset);
        if (offset > g_repl.master_repl_offset)
            kl_warning("Warning: replica %s tried to PSYNC with an offset that is greater than "
                       "the master replication offset.",
                       peer_name(p, name, sizeof(name)));
        return false;
    }
    p->state = PS_ONLINE;
    p->ack_time = unix_now();
    peer_list(p);
    c->flags |= CF_REPLICA | CF_REPLY_OFF;
    char hdr[96];
    int n = (p->capa & CAPA_PSYNC2) ? snprintf(hdr, sizeof(hdr), "+CONTINUE %s\r\n", g_repl.replid)
                                    : snprintf(hdr, sizeof(hdr), "+CONTINUE\r\n");
    iol_repl_start_t st = {
        .header = hdr,
        .header_len = (size_t)n,
        .payload_fd = -1,
        .from = (uint64_t)offset,
    };
    iol_client_repl_start(c->io, repl__rbuf, &st);
    kl_notice("Partial resynchronization request from %s accepted. Sending %lld bytes of backlog "
              "starting from offset %lld.",
              peer_name(p, name, sizeof(name)), g_repl.master_repl_offset + 1 - offset, offset);
    refresh_good_replicas();
    return true;
}

/* ---------------------------------------------------------------- FAILOVER's */

static repl_peer_t *find_peer(const char *host, int port) {
    for (repl_peer_t *p = peers; p; p = p->next) {
        char ip[64];
        peer_ip(p, ip, sizeof(ip));
        if (p->listening_port == port && !strcasecmp(ip, host)) return p;
    }
    return NULL;
}

int master__replica_state(const char *host, int port) {
    repl_peer_t *p = find_peer(host, port);
    if (!p) return -1;
    return p->state == PS_ONLINE ? 1 : 0;
}

bool master__synced_replica(const char *host, int port, char *out, size_t cap, int *out_port) {
    for (repl_peer_t *p = peers; p; p = p->next) {
        if (p->state != PS_ONLINE || p->ack_off != g_repl.master_repl_offset) continue;
        char ip[64];
        peer_ip(p, ip, sizeof(ip));
        if (host && (p->listening_port != port || strcasecmp(ip, host))) continue;
        snprintf(out, cap, "%s", ip);
        *out_port = p->listening_port;
        return true;
    }
    return false;
}

void master__request_acks(void) {
    getack_wanted = true;
}

/* ---------------------------------------------------------------- SYNC / PSYNC */

static void cmd_sync(client_t *c) {
    bool psync = !strcasecmp(c->argv[0].ptr, "psync");
    if (is_replica(c)) return; /* already a replica: ignored */
    if (psync && c->argc > 3 && !strcasecmp(c->argv[3].ptr, "failover")) {
        /* Our master hands over to us (its FAILOVER): become a master and
         * take it as a replica. */
        if (strcasecmp(c->argv[1].ptr, g_repl.replid) != 0) {
            reply_error(c, "ERR PSYNC FAILOVER replid must match my replid.");
            return;
        }
        replica_unset_master();
        kl_notice("Failover request received for replid %s, accepting", g_repl.replid2);
    }
    if (g_failover_state != FAILOVER_NONE) {
        reply_error(c, "NOMASTERLINK Can't SYNC while failing over");
        return;
    }
    if (repl_is_replica() && !replica_link_up()) {
        reply_error(c, "NOMASTERLINK Can't SYNC while not connected with my master");
        return;
    }
    if (c->reply->bytes > 0) {
        reply_error(c, "ERR SYNC and PSYNC are invalid with pending output");
        return;
    }
    long long offset = -1;
    if (psync && !parse_ll(&c->argv[2], &offset)) {
        reply_not_integer(c);
        return;
    }
    repl_peer_t *p = peer_of(c);
    char name[128];
    kl_notice("Replica %s asks for synchronization", peer_name(p, name, sizeof(name)));
    if (psync) {
        if (try_partial(c, p, c->argv[1].ptr, offset)) {
            g_srv.stat.sync_partial_ok++;
            return;
        }
        if (c->argv[1].ptr[0] != '?') g_srv.stat.sync_partial_err++;
    } else {
        p->pre_psync = true;
    }
    g_srv.stat.sync_full++;
    p->state = PS_WAIT_BGSAVE_START;
    p->asked_ms = ms_now();
    c->flags |= CF_REPLICA | CF_REPLY_OFF;
    peer_list(p);
    if (npeers == 1 && !repl__rbuf) {
        /* A backlog from scratch: a new history (Redis 7.0). */
        repl_change_replid();
        repl_clear_replid2();
        repl_backlog_create();
        kl_notice("Replication backlog created, my new replication IDs are '%s' and '%s'",
                  g_repl.replid, g_repl.replid2);
    }
    if (snap_child_running() && !g_snap.child_to_fds) {
        /* A BGSAVE to disk runs: share it if another replica waits on it. */
        repl_peer_t *o = NULL;
        for (repl_peer_t *q = peers; q; q = q->next)
            if (q != p && q->state == PS_WAIT_BGSAVE_END && !q->diskless && !q->rdb_only) o = q;
        if (o && (p->capa & o->capa) == o->capa) {
            setup_full_resync(p, o->psync_initial_offset, -1, true);
            kl_notice("Waiting for end of BGSAVE for SYNC");
        } else {
            kl_notice("Can't attach the replica to the current BGSAVE. Waiting for next BGSAVE "
                      "for SYNC");
        }
    } else if (snap_child_running()) {
        kl_notice("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC");
    } else if (g_cfg.repl_diskless_sync && (p->capa & CAPA_EOF) && g_cfg.repl_diskless_sync_delay) {
        kl_notice("Delay next BGSAVE for diskless SYNC");
    } else if (g_snap.other_child_pid == -1) {
        start_bgsave_for_replication(p->capa);
    } else {
        kl_notice("No BGSAVE in progress, but another BG operation is active. BGSAVE for "
                  "replication delayed");
    }
}

/* ---------------------------------------------------------------- WAIT */

static void waiter_remove(client_t *c) {
    for (size_t i = 0; i < nwaiters; i++) {
        if (waiters[i].c == c) {
            waiters[i] = waiters[--nwaiters];
            return;
        }
    }
}

static void wait_timeout(client_t *c) {
    for (size_t i = 0; i < nwaiters; i++) {
        if (waiters[i].c == c) {
            reply_int(c, count_acks(waiters[i].offset));
            waiters[i] = waiters[--nwaiters];
            return;
        }
    }
    reply_int(c, 0);
}

/* An ACK came in: answer the WAITs it satisfies (Redis's
 * processClientsWaitingReplicas). */
void master__acks_changed(void) {
    refresh_good_replicas();
    size_t i = 0;
    while (i < nwaiters) {
        waiter_t *w = &waiters[i];
        int acks = count_acks(w->offset);
        if (acks >= w->numreplicas) {
            client_t *c = w->c;
            waiters[i] = waiters[--nwaiters];
            reply_int(c, acks);
            block_custom_finish(c);
            continue;
        }
        i++;
    }
    if (block_work_pending()) block_handle_pending();
}

static void cmd_wait(client_t *c) {
    if (repl_is_replica()) {
        reply_error(c, "ERR WAIT cannot be used with replica instances. Please also note that "
                       "since Redis 4.0 if a replica is configured to be writable (which is not "
                       "the default) writes to replicas are just local and are not propagated.");
        return;
    }
    long long num, timeout;
    if (!parse_ll(&c->argv[1], &num) || num < LONG_MIN || num > LONG_MAX) {
        reply_not_integer(c);
        return;
    }
    if (!parse_ll(&c->argv[2], &timeout)) {
        reply_error(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    long long offset = c->woff;
    int acks = count_acks(offset);
    if (acks >= num || (c->flags & (CF_MULTI | CF_DENY_BLOCKING))) {
        reply_int(c, acks);
        return;
    }
    if (nwaiters == waiters_cap) {
        waiters_cap = waiters_cap ? waiters_cap * 2 : 8;
        waiters = kl_realloc(waiters, waiters_cap * sizeof(*waiters));
    }
    waiters[nwaiters++] = (waiter_t){c, offset, (long)num};
    block_custom(c, timeout ? ms_now() + timeout : 0, wait_timeout);
    getack_wanted = true; /* REPLCONF GETACK * before the loop sleeps */
}

/* Before the main loop sleeps: one REPLCONF GETACK for all the WAITs of the
 * turn (Redis's beforeSleep). */
static void on_before_sleep(void *arg) {
    (void)arg;
    if (!getack_wanted) return;
    getack_wanted = false;
    if (!repl__rbuf || repl_is_replica()) return;
    static const char getack[] = "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
    repl_backlog_feed(getack, sizeof(getack) - 1);
}

/* ---------------------------------------------------------------- ROLE */

static void cmd_role(client_t *c) {
    if (repl_is_replica()) {
        reply_array(c, 5);
        reply_bulk(c, "slave", 5);
        reply_bulk_cstr(c, replica_master_host());
        reply_int(c, replica_master_port());
        reply_bulk_cstr(c, replica_role_state());
        reply_int(c, replica_role_offset());
        return;
    }
    reply_array(c, 3);
    reply_bulk(c, "master", 6);
    reply_int(c, g_repl.master_repl_offset);
    reply_deferred_t d = reply_defer(c);
    long n = 0;
    for (repl_peer_t *p = peers; p; p = p->next) {
        if (p->state != PS_ONLINE) continue;
        char ip[64];
        peer_ip(p, ip, sizeof(ip));
        reply_array(c, 3);
        reply_bulk_cstr(c, ip);
        reply_bulk_ll(c, p->listening_port);
        reply_bulk_ll(c, p->ack_off);
        n++;
    }
    reply_set_array_len(c, d, n);
}

/* ---------------------------------------------------------------- INFO */

static const char *state_name(int s) {
    switch (s) {
    case PS_WAIT_BGSAVE_START:
    case PS_WAIT_BGSAVE_END:
        return "wait_bgsave";
    case PS_SEND_BULK:
        return "send_bulk";
    case PS_ONLINE:
        return "online";
    default:
        return "";
    }
}

void master_info_fields(kl_buf_t *out) {
    kl_buf_appendf(out, "connected_slaves:%zu\r\n", npeers);
    if (g_cfg.min_replicas_to_write && g_cfg.min_replicas_max_lag)
        kl_buf_appendf(out, "min_slaves_good_slaves:%d\r\n", good_replicas);
    /* Oldest first, as Redis lists them. */
    repl_peer_t *last = peers;
    while (last && last->next)
        last = last->next;
    int id = 0;
    int64_t now = unix_now();
    for (repl_peer_t *p = last; p; p = p->prev) {
        const char *state = state_name(p->state);
        if (!state[0]) continue;
        char ip[64];
        peer_ip(p, ip, sizeof(ip));
        long long lag = p->state == PS_ONLINE ? now - p->ack_time : 0;
        kl_buf_appendf(out, "slave%d:ip=%s,port=%d,state=%s,offset=%lld,lag=%lld\r\n", id++, ip,
                       p->listening_port, state, p->ack_off, lag);
    }
}

/* ---------------------------------------------------------------- cron */

void master_cron(void) {
    cron_ticks++;
    start_pending_fork();
    if (cron_ticks % 10 != 0) return; /* the rest once a second, as Redis */
    int64_t secs = (int64_t)(cron_ticks / 10);
    /* PING the replicas so they can time out a silent master. */
    if (!repl_is_replica() && npeers && repl__rbuf &&
        secs % (g_cfg.repl_ping_replica_period > 0 ? g_cfg.repl_ping_replica_period : 10) == 0) {
        static const char ping[] = "*1\r\n$4\r\nPING\r\n";
        repl_backlog_feed(ping, sizeof(ping) - 1);
    }
    int64_t now = unix_now();
    repl_peer_t *next;
    for (repl_peer_t *p = peers; p; p = next) {
        next = p->next;
        if (p->state == PS_WAIT_BGSAVE_START || (p->state == PS_WAIT_BGSAVE_END && !p->diskless))
            iol_client_repl_keepalive(p->c->io);
        if (p->state == PS_ONLINE && !p->pre_psync && now - p->ack_time > g_cfg.repl_timeout) {
            kill_peer(p, "Disconnecting timedout replica (streaming sync):");
            continue;
        }
        /* A replica that stops reading during a transfer would hold the
         * diskless child (and so every other replica) forever. */
        if (p->state == PS_WAIT_BGSAVE_END || p->state == PS_SEND_BULK) {
            uint64_t out = iol_client_net_out(p->c->io);
            int64_t t = ms_now();
            if (out != p->seen_out || !p->moved_ms) {
                p->seen_out = out;
                p->moved_ms = t;
            } else if ((p->diskless || p->state == PS_SEND_BULK) &&
                       t - p->moved_ms > (int64_t)g_cfg.repl_timeout * 1000) {
                kill_peer(p, "Disconnecting timedout replica (full sync):");
            }
        }
    }
    /* Free the backlog of a master left without replicas for a while. */
    if (npeers == 0 && repl__rbuf && !repl_is_replica() && g_cfg.repl_backlog_ttl &&
        g_repl.backlog_unused_since_ms &&
        ms_now() - g_repl.backlog_unused_since_ms > g_cfg.repl_backlog_ttl * 1000) {
        repl_change_replid();
        repl_clear_replid2();
        repl_backlog_free();
        kl_notice("Replication backlog freed after %lld seconds without connected replicas.",
                  g_cfg.repl_backlog_ttl);
    }
    refresh_good_replicas();
}

/* ---------------------------------------------------------------- shutdown */

/* Does a replica miss part of our stream (Redis's isReadyToShutdown)? */
static bool replicas_lagging(void) {
    if (repl_is_replica()) return false;
    for (repl_peer_t *p = peers; p; p = p->next)
        if (p->ack_off != g_repl.master_repl_offset) return true;
    return false;
}

static void log_lagging(void) {
    int64_t now = unix_now();
    for (repl_peer_t *p = peers; p; p = p->next) {
        if (p->ack_off == g_repl.master_repl_offset) continue;
        char name[128];
        kl_warning("Lagging replica %s reported offset %lld behind master, lag=%lld, state=%s.",
                   peer_name(p, name, sizeof(name)), g_repl.master_repl_offset - p->ack_off,
                   (long long)(now - p->ack_time), state_name(p->state));
    }
}

/* ---------------------------------------------------------------- table */

static kl_command_t cmds_master[] = {
    {
        .name = "sync",
        .proc = cmd_sync,
        .arity = 1,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING | CMD_NO_MULTI,
        .group = "server",
        .since = "1.0.0",
        .summary = "An internal command used in replication.",
        .complexity = "",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "psync",
        .proc = cmd_sync,
        .arity = -3,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING | CMD_NO_MULTI,
        .group = "server",
        .since = "2.8.0",
        .summary = "An internal command used in replication.",
        .complexity = "",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "replconf",
        .proc = cmd_replconf,
        .arity = -1,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_ALLOW_BUSY,
        .group = "server",
        .since = "3.0.0",
        .summary = "An internal command for configuring the replication stream.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "wait",
        .proc = cmd_wait,
        .arity = 3,
        .flags = CMD_NOSCRIPT,
        .group = "generic",
        .since = "3.0.0",
        .summary = "Blocks until the asynchronous replication of all preceding write commands "
                   "sent by the connection is completed.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "role",
        .proc = cmd_role,
        .arity = 1,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST,
        .group = "server",
        .since = "2.8.12",
        .summary = "Returns the replication role.",
        .complexity = "O(1)",
        .acl_cats = "@admin @fast @dangerous",
    },
    {0},
};

void master_init(void) {
    cmd_table_register(cmds_master);
    exec_set_write_check(write_check);
    exec_set_woff_source(&g_repl.master_repl_offset);
    exec_set_closed_hook(master_client_closed);
    exec_set_repl_payload_hook(payload_sent);
    persistence_repl_hooks_t h = {.child_done = child_done}; /* save_info: replica.c's */
    persistence_set_repl_hooks(&h);
    admin_shutdown_hooks_t sh = {.lagging = replicas_lagging,
                                 .request_acks = master__request_acks,
                                 .log_lagging = log_lagging};
    admin_set_shutdown_hooks(&sh);
    before_sleep = iol_before_sleep_new(on_before_sleep, NULL);
}

void master_shutdown(void) {
    if (before_sleep) iol_before_sleep_free(before_sleep);
    before_sleep = NULL;
    kl_free(waiters);
    waiters = NULL;
    nwaiters = waiters_cap = 0;
}
