/* I/O threads, listeners and the client hand-off between I/O threads and the
 * executor. ioloop/THREADING.md is the authoritative description of who may
 * touch what; the short version:
 *
 * - Every client is pinned to one I/O thread for life (with io-threads 1 that
 *   is the main thread, which is also the executor, and there is no hand-off).
 * - The I/O thread reads, parses into a batch, and hands the batch to the
 *   executor (DISPATCH). While the batch is "in flight" the executor owns the
 *   hand-off area (exec_batch, reply, hand_flags); the I/O thread owns
 *   everything else and keeps reading into its second batch.
 * - The executor runs the commands, appends replies and hands the area back
 *   (RETURN). The I/O thread writes the replies.
 * - Closing: the I/O side closes and tells the executor (CLOSED); the
 *   executor unregisters the client and answers FREE, after which the I/O
 *   thread frees the memory. Any message the executor sent before FREE still
 *   finds the struct alive. */
#ifndef IOL_H
#define IOL_H

#include "conn.h"
#include "replybuf.h"
#include "resp_parser.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct iol_thread iol_thread_t;
typedef struct iol_client iol_client_t;

/* Hand-off flags, set by the executor while it holds the client. */
enum {
    IOL_HAND_CLOSE_AFTER_REPLY = 1u << 0, /* write what is queued, then close */
    IOL_HAND_CLOSE_NOW = 1u << 1,         /* close without writing */
    IOL_HAND_AUTHENTICATED = 1u << 2,     /* lift the parser's unauthenticated limits */
    IOL_HAND_UNAUTHENTICATED = 1u << 3,   /* apply them again (RESET) */
    IOL_HAND_PUBSUB = 1u << 5,            /* the client is now in the pubsub output-limit class */
    IOL_HAND_NORMAL = 1u << 6,            /* ... back in the normal class */
    IOL_HAND_MORE = 1u << 4, /* stopped at exec_done for output back-pressure: dispatch the
                                same batch again once the output drained */
};

struct iol_client {
    /* Immutable once the client reaches its I/O thread. */
    uint64_t id;
    iol_thread_t *thread;
    int64_t ctime_ms;
    uint8_t kind;       /* enum conn_kind of the listener */
    bool unauth_limits; /* set by the accept hook: Redis's limits before AUTH */
    int listener_port;
    char peer[64]; /* "ip:port" (IPv6 without brackets, as Redis) or "path:0"? see addr helpers */
    char local[64];
    int fd;

    /* Owned by the I/O thread. */
    conn_t *conn;
    resp_parser_t parser;
    resp_batch_t batches[2];
    resp_batch_t *filling;
    iol_reply_t out; /* replies waiting to be written */
    size_t writing;  /* bytes of out handed to an unfinished write */
    char *stash;     /* unparsed input kept while the batch is full */
    size_t stash_len;
    uint32_t io_flags;
    int64_t obuf_soft_since;   /* when output first went over the soft limit, 0 if under */
    iol_client_t *prev, *next; /* the thread's client list */

    /* Hand-off area: owned by the holder of the batch (I/O thread or executor). */
    resp_batch_t *exec_batch;
    uint32_t exec_done; /* commands of exec_batch already run (IOL_HAND_MORE) */
    iol_reply_t reply;
    uint32_t hand_flags;
    /* Executor-only: the executor runs or parks this client's batch. */
    bool exec_held;
    /* Executor-only: pushed output (pub/sub messages, MONITOR lines, replies
     * of a parked batch) for a client the executor does not hold, gathered
     * during a turn and handed over once per turn (see THREADING.md). */
    bool exec_pubsub;      /* pubsub output-limit class (from the hand flags) */
    bool push_busy;        /* push_xfer is with the I/O thread until PUSHED */
    bool push_dead;        /* killed (over its limit or on request): drop pushes */
    bool push_close_after; /* send KILL_AFTER right after the pending pushes */
    uint32_t push_idx;     /* 1 + position in the executor's push list, 0: not listed */
    size_t push_sent;      /* bytes of the hand-off in flight (while push_busy) */
    iol_reply_t push_fill; /* gathered, not handed over yet */
    /* Pushed output handed over: owned by the executor while !push_busy,
     * else by the I/O thread (MSG_PUSH hands it over, MSG_PUSHED back). */
    iol_reply_t push_xfer;

    /* Written by the I/O thread, read by anyone (CLIENT LIST, timeouts):
     * relaxed atomics, they publish nothing else. */
    _Atomic int64_t last_io_ms;
    _Atomic size_t qbuf_bytes;
    _Atomic size_t obuf_bytes;
    _Atomic uint64_t net_in, net_out;
};

typedef struct iol_obuf_limit {
    uint64_t hard, soft; /* bytes, 0 = none */
    int64_t soft_ms;
} iol_obuf_limit_t;

typedef struct iol_limits {
    size_t proto_max_bulk_len;
    size_t client_query_buffer_limit;
    size_t out_high_water; /* stop running a client's commands while this much output waits */
    iol_obuf_limit_t obuf_normal; /* client-output-buffer-limit normal */
    iol_obuf_limit_t obuf_pubsub; /* ... pubsub (clients flagged IOL_HAND_PUBSUB) */
} iol_limits_t;

/* What the server plugs in. All hooks run on the executor thread except free. */
typedef struct iol_hooks {
    /* A new connection. Return the client (allocated by the server with
     * iol_client_t embedded), or NULL with *reject set to a RESP error line to
     * send before closing (e.g. max clients). */
    iol_client_t *(*accept)(int fd, int kind, const char *peer, const char *local,
                            int listener_port, const char **reject);
    /* Run the commands of c->exec_batch, appending replies to c->reply.
     * Return true when done with the batch; false parks it with the executor
     * (CLIENT PAUSE, blocking commands) until iol_client_release(). */
    bool (*dispatch)(iol_client_t *c);
    /* The peer of a client whose batch is parked went away: the server should
     * stop waiting and call iol_client_release() (the replies are dropped). */
    void (*gone)(iol_client_t *c);
    /* The I/O side of c is gone: unregister it. No hook sees c again but free. */
    void (*closed)(iol_client_t *c);
    /* Thread: the client's I/O thread. Release the memory of c (its I/O parts
     * are already freed). Must not touch executor state. */
    void (*free)(iol_client_t *c);
} iol_hooks_t;

/* Thread: main, before iol_start. nthreads = io-threads - 1 (0: single thread). */
int iol_init(uv_loop_t *main_loop, int nthreads, const iol_hooks_t *hooks,
             const iol_limits_t *limits);
int iol_start(void);
/* Thread: main. Stop accepting, close every client (flushing what can be
 * written without blocking), stop and join the I/O threads, free everything. */
void iol_shutdown(void);
/* Thread: executor. New limits reach the I/O threads through their next messages. */
void iol_set_limits(const iol_limits_t *limits);
int iol_nthreads(void);
bool iol_threaded(void);

/* Listeners (Thread: main). kind is CONN_KIND_TCP/UNIX/TLS. Returns 0 or -errno;
 * err gets a human-readable reason. */
typedef struct iol_listener iol_listener_t;
int iol_listen_tcp(const char *addr, int port, int backlog, int kind, iol_listener_t **out,
                   char *err, size_t errlen);
int iol_listen_unix(const char *path, unsigned perm, int backlog, iol_listener_t **out, char *err,
                    size_t errlen);
void iol_listener_close(iol_listener_t *l);
int iol_listener_port(const iol_listener_t *l);
void iol_listener_pause(bool paused); /* stop/resume accepting on every listener */
void iol_set_tcp_keepalive(int seconds);

/* Thread: executor. Ask the client's I/O thread to close it (after writing
 * what is queued when after_reply). Safe until the executor's closed hook ran. */
void iol_client_kill(iol_client_t *c, bool after_reply);
/* Thread: executor. Deliver bytes to a client that the executor does not
 * hold right now (pub/sub, MONITOR); into c->reply when it does. The chain is
 * moved (or freed, when the push is dropped: see iol_client_push_reserve). */
void iol_client_push(iol_client_t *c, iol_reply_t *r);
/* Thread: executor. Deliver bytes to c's I/O thread even while the executor
 * holds c: only for a parked batch whose earlier replies already went out this
 * way (nothing waits in c->reply), so the bytes keep their order. The chain
 * is moved, or freed when the push is dropped. */
void iol_client_push_now(iol_client_t *c, iol_reply_t *r);
/* Thread: executor. Room for n bytes of pushed output at the end of what
 * goes to c's I/O thread (as iol_client_push_now, without an allocation per
 * message: pushes are gathered per turn). Write them, then call
 * iol_client_push_commit(c, n). Returns NULL when the push is dropped: c is
 * being closed, or n more bytes would take the output queued for c (gathered,
 * in flight to its thread, and waiting there to be written) to its
 * client-output-buffer-limit hard limit (pubsub class for subscribers, else
 * normal), in which case c is killed now, as Redis does, instead of queueing
 * more. */
char *iol_client_push_reserve(iol_client_t *c, size_t n);
void iol_client_push_commit(iol_client_t *c, size_t n);
/* Thread: executor. Is the executor holding c's batch (running or parked)? */
bool iol_client_held(const iol_client_t *c);
/* Thread: executor. Hand a parked batch back to the client's I/O thread. */
void iol_client_release(iol_client_t *c);

/* Per-thread statistics (INFO threads), counted since start or the last
 * iol_thread_stats_reset(). Thread: executor (relaxed reads of the counters). */
typedef struct iol_thread_stats {
    uint64_t clients, reads, writes, commands, bytes_in, bytes_out, accepts;
    uint64_t handshakes, handshake_failures;
    uint64_t obuf_disconnects, qbuf_disconnects;
} iol_thread_stats_t;
void iol_thread_stats(int index, iol_thread_stats_t *out); /* index 0 = main */
/* CONFIG RESETSTAT: later iol_thread_stats() calls count from now on (the
 * I/O threads' counters are not touched; a baseline is remembered). The
 * gauge `clients` is not reset. Thread: executor (like iol_thread_stats when
 * it serves INFO). */
void iol_thread_stats_reset(void);
long iol_thread_tid(int index); /* kernel tid, for /proc CPU times */

#endif
