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

#include "conn_kind.h"
#include "replybuf.h"
#include "resp_parser.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Room for a client's "ip:port" or "path:0": Redis's NET_ADDR_STR_LEN, so a
 * long unix-socket path is cut where Redis cuts it. */
#define IOL_ADDR_LEN 78

typedef struct iol_thread iol_thread_t;
typedef struct iol_client iol_client_t;

/* iol_client_t.events: the connection waits to read / has a write waiting
 * for the socket (CLIENT LIST events=r/w/rw). */
enum { IOL_EV_READ = 1u << 0, IOL_EV_WRITE = 1u << 1 };

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

typedef struct iol_obuf_limit {
    uint64_t hard, soft; /* bytes, 0 = none */
    int64_t soft_ms;
} iol_obuf_limit_t;

typedef struct iol_limits {
    size_t proto_max_bulk_len;
    size_t client_query_buffer_limit;
    size_t out_high_water; /* stop running a client's commands while this much output waits */
    iol_obuf_limit_t obuf_normal;  /* client-output-buffer-limit normal */
    iol_obuf_limit_t obuf_pubsub;  /* ... pubsub (clients flagged IOL_HAND_PUBSUB) */
    iol_obuf_limit_t obuf_replica; /* ... replica (clients made replicas, iol_repl.h) */
} iol_limits_t;

/* What the server plugs in. All hooks run on the executor thread except free. */
typedef struct iol_hooks {
    /* A new connection. Return the client (made with iol_client_new, its id
     * and limits set), or NULL with *reject set to a RESP error line to send
     * before closing (e.g. max clients). */
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
     * are already freed) with iol_client_delete. Must not touch executor
     * state. */
    void (*free)(iol_client_t *c);
    /* A replica's payload (iol_repl.h) was sent (status 0) or failed
     * (negative UV error; the connection is being closed). Optional. */
    void (*repl_payload)(iol_client_t *c, int status);
} iol_hooks_t;

/* Thread: main, before iol_start. nthreads = io-threads - 1 (0: single thread). The
 * main thread's loop (the executor's) is libuv's default loop; see iol_loop_run(). */
int iol_init(int nthreads, const iol_hooks_t *hooks, const iol_limits_t *limits);
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
    uint64_t repl_bytes_out; /* replicas' payloads and streams (not in bytes_out) */
} iol_thread_stats_t;
void iol_thread_stats(int index, iol_thread_stats_t *out); /* index 0 = main */
/* CONFIG RESETSTAT: later iol_thread_stats() calls count from now on (the
 * I/O threads' counters are not touched; a baseline is remembered). The
 * gauge `clients` is not reset. Thread: executor (like iol_thread_stats when
 * it serves INFO). */
void iol_thread_stats_reset(void);
long iol_thread_tid(int index); /* kernel tid, for /proc CPU times */

/* ---------------------------------------------------------------- clients
 *
 * iol_client_t is opaque outside ioloop/: the executor reaches what it may
 * touch through these calls (ioloop/THREADING.md says when). The server's own
 * per-client state lives in the same allocation, after the I/O part
 * (iol_client_udata). */

/* Thread: executor (the accept hook). A new client with udata_size zeroed
 * bytes for the server; the hook returns it to ioloop, which fills in the
 * connection. */
iol_client_t *iol_client_new(size_t udata_size);
/* A client that ioloop never attached (no connection: the unit tests' fake
 * clients, later the AOF loader's) is detached: whoever made it fills its
 * batch and calls the dispatch hook itself; iol_client_release just ends the
 * executor's hold and pushes join its reply chain. */
/* Hand batch b to a detached client, as an I/O thread's dispatch would; its
 * maker then calls the dispatch hook. Thread: executor. */
void iol_client_detached_hand(iol_client_t *c, resp_batch_t *b);
/* Thread: the client's I/O thread (the free hook). Release what
 * iol_client_new allocated. */
void iol_client_delete(iol_client_t *c);
/* The server's part of c, and back. Thread: any holder of c. */
void *iol_client_udata(iol_client_t *c);
/* Bytes of the I/O part that precede the server's part (CLIENT LIST
 * tot-mem counts the whole allocation). Thread: any. */
size_t iol_client_io_size(void);

/* Set by the accept hook only (before ioloop publishes the client). */
void iol_client_set_id(iol_client_t *c, uint64_t id);
void iol_client_set_unauth_limits(iol_client_t *c, bool on);

/* Immutable once accepted: any thread. */
uint64_t iol_client_id(const iol_client_t *c);
const char *iol_client_peer(const iol_client_t *c);  /* "ip:port" / "path:0" */
const char *iol_client_local(const iol_client_t *c); /* the local address, same form */
int iol_client_kind(const iol_client_t *c);          /* enum conn_kind */
int iol_client_fd(const iol_client_t *c);
int64_t iol_client_ctime_ms(const iol_client_t *c);

/* Published by the I/O thread (relaxed loads: they publish nothing else).
 * Thread: any. */
int64_t iol_client_last_io_ms(const iol_client_t *c);
size_t iol_client_qbuf_bytes(const iol_client_t *c);
size_t iol_client_obuf_bytes(const iol_client_t *c);
size_t iol_client_qbuf_free(const iol_client_t *c);  /* CLIENT LIST qbuf-free */
size_t iol_client_argv_bytes(const iol_client_t *c); /* argv-mem of a partly received command */
size_t iol_client_rbuf_size(const iol_client_t *c);  /* rbs */
size_t iol_client_rbuf_peak(const iol_client_t *c);  /* rbp */
unsigned iol_client_events(const iol_client_t *c);   /* IOL_EV_READ | IOL_EV_WRITE */
uint64_t iol_client_net_in(const iol_client_t *c);
uint64_t iol_client_net_out(const iol_client_t *c);

/* The hand-off area. Thread: executor, while it holds c (in a dispatch hook
 * or with the batch parked); debug builds assert it.
 * - iol_client_batch: the batch handed over (commands to run).
 * - iol_client_reply: the chain replies are appended to; its address is
 *   stable for c's life, so the executor may keep it.
 * - iol_client_exec_done / _set: commands of the batch already run when a
 *   batch is handed back early (IOL_HAND_MORE).
 * - iol_client_hand / iol_client_hand_flags: set / read IOL_HAND_* flags for
 *   the I/O thread to act on when the batch comes back. */
resp_batch_t *iol_client_batch(iol_client_t *c);
iol_reply_t *iol_client_reply(iol_client_t *c);
uint32_t iol_client_exec_done(const iol_client_t *c);
void iol_client_exec_done_set(iol_client_t *c, uint32_t n);
void iol_client_hand(iol_client_t *c, uint32_t flags);
void iol_client_hand_clear(iol_client_t *c, uint32_t flags);
uint32_t iol_client_hand_flags(const iol_client_t *c);

/* ---------------------------------------------------------------- the main loop
 *
 * The executor runs on the main thread's loop. server/ never sees libuv: it
 * drives that loop, arms timers and watches signals through these calls.
 * Thread: main (the executor) for every function below. */

/* Run the main loop until iol_loop_stop() (or nothing is left to run). */
void iol_loop_run(void);
/* Make iol_loop_run() return after the current loop iteration. */
void iol_loop_stop(void);
/* Close every handle still open on the main loop and the loop itself (after
 * iol_shutdown, at exit). */
void iol_loop_close(void);
/* Refresh and return the main loop's notion of now, in ms (monotonic). */
uint64_t iol_loop_now_ms(void);

/* A timer on the main loop. cb runs on the main thread. */
typedef struct iol_timer iol_timer_t;
typedef void (*iol_timer_cb_t)(iol_timer_t *t, void *arg);
iol_timer_t *iol_timer_new(iol_timer_cb_t cb, void *arg);
/* (Re)arm: first run after timeout_ms, then every repeat_ms (0: once). */
void iol_timer_start(iol_timer_t *t, uint64_t timeout_ms, uint64_t repeat_ms);
/* Change the period of a repeating timer (takes effect at its next run). */
void iol_timer_set_repeat(iol_timer_t *t, uint64_t repeat_ms);
void iol_timer_stop(iol_timer_t *t);
bool iol_timer_active(const iol_timer_t *t);
/* Stop and release (the memory goes when libuv has closed the handle). */
void iol_timer_free(iol_timer_t *t);

/* Call cb(signum) on the main thread when signum arrives. Returns 0 or -errno. */
int iol_signal_watch(int signum, void (*cb)(int signum));

/* A wake-up of the main loop from another thread: cb(arg) runs on the main
 * thread after iol_async_send (sends coalesce: one run may answer several).
 * new/free: main thread; send: any thread. */
typedef struct iol_async iol_async_t;
iol_async_t *iol_async_new(void (*cb)(void *arg), void *arg);
void iol_async_send(iol_async_t *a);
void iol_async_free(iol_async_t *a);

/* Work the main loop does on every turn right before it waits for events
 * (Redis's beforeSleep): cb(arg) on the main thread. */
typedef struct iol_before_sleep iol_before_sleep_t;
iol_before_sleep_t *iol_before_sleep_new(void (*cb)(void *arg), void *arg);
void iol_before_sleep_free(iol_before_sleep_t *b);

#endif
