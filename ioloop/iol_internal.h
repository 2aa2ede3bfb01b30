/* ioloop's internals: the client structure, what its files (iothread.c,
 * listener.c, conn_socket.c, client.c, mainloop.c, link.c) call in each other,
 * and what its tests reach for. Only ioloop/ and the tests include this
 * header; their meson targets define KL_IOLOOP_INTERNAL, anyone else gets a
 * compile error (and the layering test refuses it outside ioloop/). Every
 * prototype lives here once, so the compiler checks each definition and each
 * call against the same declaration.
 *
 * Thread: see each field and ioloop/THREADING.md. */
#ifndef IOL_INTERNAL_H
#define IOL_INTERNAL_H

#ifndef KL_IOLOOP_INTERNAL
#error "iol_internal.h is ioloop's own: include iol.h / conn.h instead"
#endif

#include "conn.h"
#include "iol.h"

#include <assert.h>
#include <stdint.h>
#include <uv.h>

/* Ownership checks, in debug builds only (meson defines KL_DEBUG_ASSERTS for
 * buildtype debug and debugoptimized); the release build pays nothing.
 * iol__check_owner: abort unless the calling thread owns c (its I/O thread;
 * the main thread with io-threads 1). iol__check_executor: abort unless the
 * caller is the executor. fn names the entry point in the message.
 * IOL_ASSERT: a plain assertion under the same switch. Thread: any. */
#ifdef KL_DEBUG_ASSERTS
void iol__check_owner(const iol_client_t *c, const char *fn);
void iol__check_executor(const char *fn);
#define IOL_ASSERT(x) assert(x)
#else
#define IOL_ASSERT(x) ((void)0)
#endif

struct iol_client {
    /* Immutable once the client reaches its I/O thread. */
    uint64_t id;
    iol_thread_t *thread;
    int64_t ctime_ms;
    uint8_t kind;       /* enum conn_kind of the listener */
    bool unauth_limits; /* set by the accept hook: Redis's limits before AUTH */
    int listener_port;
    char peer[IOL_ADDR_LEN];  /* "ip:port" (IPv6 without brackets, as Redis) or "path:0" */
    char local[IOL_ADDR_LEN]; /* the same for our end; "path:0" for a unix socket too */
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
    int64_t obuf_soft_since; /* when output first went over the soft limit, 0 if under */
    size_t rbuf_peak_io;     /* largest reply buffer since rbuf_peak_since (CLIENT LIST rbp) */
    int64_t rbuf_peak_since;
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

    /* Replica output (iol_repl.h, iothread.c). repl: the I/O side, the
     * owner's from MSG_REPL_START on (repl_next carries it there; the
     * channel publishes it). repl_rbuf, repl_notified, repl_defer: the
     * executor's. repl_end: written by the executor before MSG_REPL_FEED,
     * read by the owner (relaxed: a limit, the blocks publish the bytes).
     * repl_feed_flag: set by the executor when it sends MSG_REPL_FEED,
     * cleared by the owner before it looks at the blocks (seq_cst on both
     * sides, as the wake-up flags: a feed is never lost). repl_pending,
     * repl_sent: the owner's gauges (relaxed). */
    struct iol_repl_io *repl, *repl_next, *repl_later;
    struct iol_rbuf *repl_rbuf;
    uint64_t repl_notified;
    bool repl_defer;
    _Atomic uint64_t repl_end;
    _Atomic bool repl_feed_flag;
    _Atomic uint64_t repl_pending, repl_sent;
    int repl_status; /* payload outcome, written by the owner before MSG_REPL_PAYLOAD */

    /* Written by the I/O thread, read by anyone (CLIENT LIST, MEMORY, timeouts):
     * relaxed atomics, each a number for display or a limit; they publish
     * nothing else. */
    _Atomic int64_t last_io_ms;
    _Atomic size_t qbuf_bytes; /* input received, not yet arguments (stash included): qbuf */
    _Atomic size_t qbuf_free;  /* room allocated for the rest of that input: qbuf-free */
    _Atomic size_t argv_bytes; /* finished arguments of a partly received command */
    _Atomic size_t obuf_bytes; /* output not yet written (queued + inside the connection) */
    _Atomic size_t rbuf_size;  /* bytes allocated for queued replies: rbs */
    _Atomic size_t rbuf_peak;  /* largest rbuf_size over the last 5 s or so: rbp */
    _Atomic uint8_t events;    /* IOL_EV_READ | IOL_EV_WRITE: what the connection waits for */
    _Atomic uint64_t net_in, net_out;
};

/* iothread.c: a socket a listener accepted (non-blocking, options set).
 * Registers the client with the server (accept hook) and hands it to an I/O
 * thread, or closes fd when the server refuses it. Thread: executor (main). */
void iol__accepted(int fd, int kind, const char *peer, const char *local, int port);

/* iothread.c -> listener.c: the loop that listeners watch (the main loop) and
 * what to do with an accepted socket (iol__accepted): the listener takes the
 * callback and calls nothing of iothread.c itself. Thread: main, from
 * iol_init, before any listener exists. */
typedef void (*iol__accept_fn)(int fd, int kind, const char *peer, const char *local, int port);
void iol__listener_set_loop(uv_loop_t *loop, iol__accept_fn accepted);

/* conn_socket.c: a plain TCP or Unix connection over an accepted socket;
 * conn_create_socket's worker for those kinds. Returns 0 or a UV error (fd
 * closed, nothing left on the loop). Thread: loop's. */
int conn__socket_open(uv_loop_t *loop, int fd, int kind, conn_t **out);

/* iol_init on a loop of the caller's instead of libuv's default loop (tests
 * that own their loop); iol__main_loop is the loop in use, which the main
 * loop calls of iol.h (mainloop.c) drive. Thread: main. */
int iol__init_loop(uv_loop_t *main_loop, int nthreads, const iol_hooks_t *hooks,
                   const iol_limits_t *limits);
uv_loop_t *iol__main_loop(void);

/* ---------------------------------------------------------------- links */

/* Channel message kinds from this value up belong to link.c, on both
 * channels of every I/O thread (iothread.c's own kinds are all below). */
#define IOL__MSG_LINK_FIRST 64

/* Thread 0 is the main loop; 1..iol_nthreads() the I/O threads.
 * Thread: any (the threads array is fixed between iol_init and iol_shutdown). */
iol_thread_t *iol__thread(int index);
int iol__thread_index(const iol_thread_t *t);
uv_loop_t *iol__thread_loop(iol_thread_t *t);
/* Thread: t (an I/O thread, io-threads > 1). Queue a message to the executor. */
void iol__send_to_exec(iol_thread_t *t, void *ptr, uint64_t kind);
/* Thread: executor (io-threads > 1). Queue a message to I/O thread t. */
void iol__send_to_thread(iol_thread_t *t, void *ptr, uint64_t kind);

/* link.c, called by iothread.c. */
/* Thread: executor. A link message (kind >= IOL__MSG_LINK_FIRST) from to_exec. */
void iol__link_exec_msg(void *ptr, uint64_t kind);
/* Thread: t. A link message from t's from_exec. */
void iol__link_io_msg(iol_thread_t *t, void *ptr, uint64_t kind);
/* Thread: main, first thing in iol_shutdown: new links are refused and link
 * calls become no-ops from here on. */
void iol__links_shutdown_begin(void);
/* Thread: t, when it stops (MSG_STOP, or single-thread shutdown): close every
 * link of t. Their closed hooks run later, in iol__links_shutdown. */
void iol__links_stop(iol_thread_t *t);
/* Thread: main, after the I/O threads were joined: settle a link message left
 * in a channel (free what it carries; a link that never started or whose
 * CLOSED was not seen gets its closed hook). */
void iol__link_settle_msg(void *ptr, uint64_t kind);
/* Thread: main, last: run the closed hook of every link still listed and
 * free them, close link.c's handles on the main loop. */
void iol__links_shutdown(void);

#endif
