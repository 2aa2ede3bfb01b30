/* I/O threads and the client hand-off. See iol.h and THREADING.md. */
#include "iol_internal.h"
#include "iol_repl_internal.h"

#include "chan.h"
#include "kl_alloc.h"
#include "kl_log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Messages from an I/O thread to the executor. */
enum { MSG_DISPATCH = 1, MSG_CLOSED, MSG_GONE, MSG_EOF, MSG_PUSHED, MSG_REPL_PAYLOAD };
/* Messages from the executor to an I/O thread. */
enum {
    MSG_ATTACH = 16,
    MSG_RETURN,
    MSG_KILL,
    MSG_KILL_AFTER,
    MSG_FREE,
    MSG_PUSH,
    MSG_LIMITS,
    MSG_STOP,
    MSG_REPL_START,     /* c->repl_next becomes c->repl (iol_client_repl_start) */
    MSG_REPL_FEED,      /* the buffer c reads grew */
    MSG_REPL_LATER,     /* c->repl_later is the payload of a payload_later start */
    MSG_REPL_KEEPALIVE, /* a newline to a replica waiting for its payload */
    MSG_REPL_GO,        /* a held stream may flow (stream_after_go) */
};

/* io_flags, owned by the I/O thread. */
enum {
    IOF_READING = 1u << 0,
    IOF_IN_FLIGHT = 1u << 1, /* exec_batch is with the executor */
    IOF_CLOSING = 1u << 2,   /* closing; no more input is processed */
    IOF_CLOSE_AFTER_WRITE = 1u << 3,
    IOF_READY = 1u << 4,         /* handshake done */
    IOF_PROTO_ERR = 1u << 5,     /* input ended with a protocol error */
    IOF_CONN_CLOSED = 1u << 6,   /* conn is gone, I/O memory freed */
    IOF_DEAD = 1u << 7,          /* CLOSED sent; only FREE may follow */
    IOF_BATCH_PENDING = 1u << 8, /* exec_batch is partly run: dispatch it again first */
    IOF_PUBSUB_CLASS = 1u << 9,  /* output limits of the pubsub class apply */
    IOF_PUSH_PENDING = 1u << 10, /* pushed output waits in out for the batched flush */
    IOF_EOF = 1u << 11,          /* the peer sends no more input: finish its work, then close */
    IOF_PUSH_ACK = 1u << 12,     /* took push_xfer: answer PUSHED after the batched flush */
    IOF_PUSH_OVER = 1u << 13,    /* single thread: pushes passed the hard limit, close at flush */
    IOF_HTTP = 1u << 14,         /* input had a "POST" or "Host:" command (with IOF_PROTO_ERR) */
    IOF_REPL_YIELD = 1u << 15,   /* a replica waiting in ryield for its next turn */
};

#define RING_CAPACITY 4096
#define EXEC_RING_BUDGET 64 /* messages taken from one I/O thread's ring per turn */
#define BATCH_MAX_CMDS 1024
#define BATCH_MAX_BYTES (256 * 1024)

struct iol_thread {
    int index;
    uv_loop_t *loop;
    uv_loop_t own_loop;
    uv_thread_t thread;
    _Atomic long tid;
    /* This thread's wake-up: fed by from_exec. */
    iol_wake_t wake;
    uv_async_t async;
    uv_prepare_t prepare;
    uv_check_t check;
    iol_chan_t to_exec;    /* producer: this thread; consumer: executor */
    iol_chan_t from_exec;  /* producer: executor; consumer: this thread */
    uv_timer_t idle_timer; /* gives idle clients' buffers back (1 Hz) */
    iol_limits_t limits;   /* this thread's copy */
    resp_limits_t rlimits;
    iol_client_t *clients;
    /* Clients with pushed output (pub/sub, MONITOR) not yet written: flushed
     * once per drain of from_exec (threaded) or per loop turn (single
     * thread), so a burst of messages to one subscriber becomes one write. */
    iol_client_t **pend;
    uint32_t npend, pend_cap;
    uv_prepare_t push_prepare; /* single-thread mode only: runs the flush */
    /* Replicas that wrote their budget in one go and yielded (io_repl_pump):
     * resumed from repl_idle, which keeps the loop polling without blocking
     * while any waits, so other clients get their turn in between. */
    iol_client_t **ryield;
    uint32_t nryield, ryield_cap;
    uv_idle_t repl_idle;
    bool stopping;
    /* Statistics: written by this thread (or the executor for accepts),
     * read by INFO; relaxed, they publish nothing. */
    _Atomic uint64_t st_clients, st_reads, st_writes, st_commands, st_in, st_out, st_accepts;
    _Atomic uint64_t st_handshakes, st_handshake_failures, st_obuf_kills, st_qbuf_kills;
    _Atomic uint64_t st_repl_out; /* replicas' payload and stream bytes */
};

static struct {
    uv_loop_t *main_loop;
    int nthreads;
    iol_thread_t *threads; /* [0] = main thread (single-thread mode clients) */
    iol_hooks_t hooks;
    iol_limits_t limits;
    /* Executor's wake-up, fed by every to_exec channel. */
    iol_wake_t exec_wake;
    uv_async_t exec_async;
    uv_prepare_t exec_prepare;
    uv_check_t exec_check;
    uv_idle_t exec_idle; /* active while a ring has messages left after a turn */
    int exec_rr;         /* ring the next turn starts with (0-based thread index) */
    /* Clients with pushed output gathered this turn (or waiting for their
     * previous hand-off to come back): handed over before the loop sleeps. */
    iol_client_t **push_list;
    uint32_t npush, push_cap;
    bool started;
} S;

/* A replica's output state (see "replica output" below). */
#define REPL_CHUNK (64 * 1024)
#define REPL_MAX_IOV 64
#define REPL_MAX_WRITE (1024 * 1024)
/* Bytes a replica may write per turn of its thread's loop before it lets
 * the other connections of the thread go (a local replica's socket takes
 * bytes as fast as we give them: without this a 1 GB transfer would hold
 * the thread for its whole length). */
#define REPL_PUMP_BUDGET (256 * 1024)

enum { RW_NONE = 0, RW_PAYLOAD, RW_STREAM };

typedef struct iol_repl_io {
    iol_client_t *c;
    /* Stream cursor: a reference on blk, the byte pos in it, its offset. */
    iol_rblk_t *blk;
    uint32_t pos;
    uint64_t off;
    /* Payload. */
    int pfd;       /* -1 once finished */
    int64_t pleft; /* bytes left of a file; -1: a pipe, read until EOF */
    char *pbuf;    /* the chunk being written */
    size_t plen, ppos;
    bool payload_reported;
    bool payload_wait; /* payload_later: nothing is sent until it comes */
    bool close_after;  /* close once the payload is out (rdb-only) */
    bool stream_hold;  /* the stream waits for MSG_REPL_GO */
    bool polling;      /* poll started on pfd (a pipe with nothing to read) */
    /* Watches pfd while a pipe has nothing to read. Its own allocation: it
     * is closed (and epoll forgets pfd) before pfd is, and freed by its
     * close callback, whenever that runs. */
    uv_poll_t *poll;
    /* The write in flight. */
    uint8_t wkind;
    char *hdr; /* header, until queued */
    size_t hdr_len;
} iol_repl_io_t;

/* ---------------------------------------------------------------- owner checks
 *
 * Which iol thread the calling thread is: an I/O thread sets its own in
 * io_thread_main, the main thread sets threads[0] (the owner of every client
 * with io-threads 1) and marks itself the executor in iol_init. Debug builds
 * (KL_DEBUG_ASSERTS: buildtype debug / debugoptimized; NDEBUG is never set
 * here, so plain assert() would cost release builds too) check every I/O-side
 * entry point against c->thread and every executor entry point against the
 * executor flag; release builds compile the checks out. */
static _Thread_local iol_thread_t *cur_thread;
static _Thread_local bool cur_is_executor;

#ifdef KL_DEBUG_ASSERTS
void iol__check_owner(const iol_client_t *c, const char *fn) {
    if (c->thread == cur_thread) return;
    fprintf(stderr, "ioloop: %s on client id=%llu from a thread that does not own it\n", fn,
            (unsigned long long)c->id);
    abort();
}

void iol__check_executor(const char *fn) {
    if (cur_is_executor) return;
    fprintf(stderr, "ioloop: %s called off the executor thread\n", fn);
    abort();
}
#define IOL_ASSERT_OWNER(c) iol__check_owner((c), __func__)
#define IOL_ASSERT_EXECUTOR() iol__check_executor(__func__)
#define IOL_ASSERT_THREAD(t)                                                                       \
    do {                                                                                           \
        if ((t) != cur_thread) {                                                                   \
            fprintf(stderr, "ioloop: %s run off its I/O thread\n", __func__);                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#else
#define IOL_ASSERT_OWNER(c) ((void)0)
#define IOL_ASSERT_EXECUTOR() ((void)0)
#define IOL_ASSERT_THREAD(t) ((void)0)
#endif

static void io_close(iol_client_t *c);
static void io_unpend(iol_client_t *c);
static void io_repl_start(iol_client_t *c);
static void io_repl_feed(iol_client_t *c);
static void io_repl_later(iol_client_t *c);
static void io_repl_keepalive(iol_client_t *c);
static void io_repl_go(iol_client_t *c);
static void exec_repl_forget(iol_client_t *c);
static void exec_repl_after_return(iol_client_t *c);
static void exec_repl_notify(void);
static void exec_on_idle(uv_idle_t *h);

static void exec_push_unlist(iol_client_t *c);
static void exec_push_forget(iol_client_t *c);
static void io_pend(iol_client_t *c);

/* The output-limit class the server chose, as far as the executor's own
 * checks (iol_client_push_reserve) are concerned. Thread: executor. */
static void exec_note_class(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    if (c->hand_flags & IOL_HAND_PUBSUB) c->exec_pubsub = true;
    if (c->hand_flags & IOL_HAND_NORMAL) c->exec_pubsub = false;
}

/* Pushes gathered for c go before whatever c->reply holds: they were made
 * earlier (while c was not held, or while its batch was parked). Thread:
 * executor, holding c. */
static void exec_fold_pushes(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    if (!c->push_fill.head) return;
    iol_reply_move(&c->push_fill, &c->reply);
    iol_reply_move(&c->reply, &c->push_fill);
    exec_push_unlist(c);
}

/* Run a batch on the executor. Returns false when the server parked it. */
static bool exec_run(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    c->hand_flags = 0;
    c->exec_held = true;
    exec_fold_pushes(c);
    bool done = S.hooks.dispatch(c);
    exec_note_class(c);
    if (done) c->exec_held = false;
    return done;
}
static void io_flush(iol_client_t *c);
static void io_resume(iol_client_t *c);
static void io_repl_pump(iol_client_t *c);
static void io_repl_written(iol_client_t *c, size_t n);
static void io_repl_free(struct iol_repl_io *r);
static void io_update_reading(iol_client_t *c);
static void io_eof_notify(iol_client_t *c);
static void io_eof_check(iol_client_t *c);

/* The peer of c sent EOF while the executor holds c's batch: if the batch is
 * parked (blocking command, CLIENT PAUSE) stop waiting, as Redis frees a
 * blocked client that reaches EOF. The replies already produced (the earlier
 * commands' replies went out with iol_client_push_now) are written before the
 * connection closes. A batch that is merely running is left alone: it comes
 * back and everything after it runs too. Thread: executor. */
static void exec_peer_eof(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    if (!c->exec_held) return;
    c->hand_flags |= IOL_HAND_CLOSE_AFTER_REPLY;
    S.hooks.gone(c);
}

static inline bool threaded(void) {
    return S.nthreads > 0;
}

bool iol_threaded(void) {
    return threaded();
}

int iol_nthreads(void) {
    return S.nthreads;
}

static int64_t now_ms(uv_loop_t *loop) {
    (void)loop;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rlimits_from(resp_limits_t *r, const iol_limits_t *l) {
    r->max_bulk_len = l->proto_max_bulk_len;
    r->max_query_len = l->client_query_buffer_limit;
    r->batch_max_cmds = BATCH_MAX_CMDS;
    r->batch_max_bytes = BATCH_MAX_BYTES;
}

/* ---------------------------------------------------------------- output */

static size_t io_out_pending(const iol_client_t *c) {
    return c->out.bytes + (c->conn ? conn_pending_out(c->conn) : 0);
}

/* Publish what the connection waits for (CLIENT LIST events). Thread: owner. */
static void io_publish_events(iol_client_t *c) {
    uint8_t ev = 0;
    if (!(c->io_flags & IOF_CLOSING)) {
        if (c->io_flags & IOF_READING) ev |= IOL_EV_READ;
        if (c->writing) ev |= IOL_EV_WRITE;
    }
    atomic_store_explicit(&c->events, ev, memory_order_relaxed);
}

/* Publish the reply buffer's size and its peak (CLIENT LIST rbs, rbp). The
 * peak restarts from the current size every 5 s (io_on_idle_timer), as
 * Redis's does. Thread: owner. */
static void io_publish_rbuf(iol_client_t *c) {
    size_t size = c->out.blocks;
    if (size > c->rbuf_peak_io) {
        c->rbuf_peak_io = size;
        atomic_store_explicit(&c->rbuf_peak, size, memory_order_relaxed);
    }
    atomic_store_explicit(&c->rbuf_size, size, memory_order_relaxed);
}

/* Publish the query buffer figures (CLIENT LIST qbuf, qbuf-free, argv-mem).
 * Thread: owner. */
static void io_publish_qbuf(iol_client_t *c) {
    size_t args, pending, room;
    resp_parser_usage(&c->parser, &args, &pending, &room);
    atomic_store_explicit(&c->qbuf_bytes, pending + c->stash_len, memory_order_relaxed);
    atomic_store_explicit(&c->qbuf_free, room, memory_order_relaxed);
    atomic_store_explicit(&c->argv_bytes, args, memory_order_relaxed);
}

static void io_after_write(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    atomic_store_explicit(&c->obuf_bytes, io_out_pending(c), memory_order_relaxed);
    io_publish_rbuf(c);
    io_publish_events(c);
    if ((c->io_flags & IOF_CLOSE_AFTER_WRITE) && !c->writing && c->out.bytes == 0) {
        io_close(c);
    }
}

static void io_on_write(conn_t *conn, int status, void *ctx) {
    iol_client_t *c = ctx;
    IOL_ASSERT_OWNER(c);
    size_t n = c->writing;
    c->writing = 0;
    if (status < 0) {
        io_close(c);
        return;
    }
    atomic_fetch_add_explicit(&c->net_out, n, memory_order_relaxed);
    bool repl = c->repl && c->repl->wkind;
    atomic_fetch_add_explicit(repl ? &c->thread->st_repl_out : &c->thread->st_out, n,
                              memory_order_relaxed);
    if (repl)
        io_repl_written(c, n);
    else
        iol_reply_consume(&c->out, n);
    if (c->io_flags & IOF_CLOSING) return;
    io_flush(c);
    io_after_write(c);
    /* Output drained below the high-water mark: take the client's input again. */
    if (!(c->io_flags & IOF_CLOSING)) io_resume(c);
}

/* Write as much of c->out as the connection takes. Thread: owner. */
static void io_flush(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    while (!c->writing && c->out.bytes > 0 && !(c->io_flags & (IOF_CLOSING | IOF_CONN_CLOSED))) {
        uv_buf_t iov[64];
        unsigned n = 0;
        size_t total = 0;
        for (iol_rblock_t *b = c->out.head; b && n < 64; b = b->next) {
            if (!b->used) continue;
            iov[n].base = b->data;
            iov[n].len = b->used;
            total += b->used;
            n++;
        }
        if (n == 0) {
            iol_reply_consume(&c->out, 0);
            break;
        }
        atomic_fetch_add_explicit(&c->thread->st_writes, 1, memory_order_relaxed);
        c->writing = total;
        int rc = conn_writev(c->conn, iov, n, io_on_write, c);
        if (rc < 0) {
            c->writing = 0;
            io_close(c);
            return;
        }
        if (rc == 0) break; /* completes in io_on_write */
        c->writing = 0;
        atomic_fetch_add_explicit(&c->net_out, total, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->thread->st_out, total, memory_order_relaxed);
        iol_reply_consume(&c->out, total);
    }
    /* A replica's payload and stream follow its replies. */
    if (c->repl && !c->writing && c->out.bytes == 0) io_repl_pump(c);
    io_after_write(c);
}

/* ---------------------------------------------------------------- input */

static void io_stash(iol_client_t *c, const char *p, size_t n) {
    IOL_ASSERT_OWNER(c);
    char *s = kl_malloc(c->stash_len + n);
    if (c->stash_len) memcpy(s, c->stash, c->stash_len);
    memcpy(s + c->stash_len, p, n);
    kl_free(c->stash);
    c->stash = s;
    c->stash_len += n;
    io_publish_qbuf(c);
}

/* client-output-buffer-limit: close a client whose pending output passed the
 * hard limit, or stayed over the soft limit for longer than allowed.
 * Returns true if it closed the client. Thread: owner. */
static bool io_check_output_limits(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    const iol_obuf_limit_t *l = c->repl                            ? &c->thread->limits.obuf_replica
                                : (c->io_flags & IOF_PUBSUB_CLASS) ? &c->thread->limits.obuf_pubsub
                                                                   : &c->thread->limits.obuf_normal;
    if (!l->hard && !l->soft) return false;
    size_t used = io_out_pending(c);
    if (c->repl) used += (size_t)atomic_load_explicit(&c->repl_pending, memory_order_relaxed);
    bool over = l->hard && used >= l->hard;
    if (!over && l->soft && used >= l->soft) {
        int64_t now = now_ms(c->thread->loop);
        if (!c->obuf_soft_since) c->obuf_soft_since = now;
        over = now - c->obuf_soft_since > l->soft_ms;
    } else if (!over) {
        c->obuf_soft_since = 0;
    }
    if (!over) return false;
    kl_warning("Client id=%llu addr=%s closed for overcoming of output buffer limits.",
               (unsigned long long)c->id, c->peer);
    atomic_fetch_add_explicit(&c->thread->st_obuf_kills, 1, memory_order_relaxed);
    io_close(c);
    return true;
}

/* Bring the executor's results back into the I/O side. Thread: owner. */
static void io_collect(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    /* After an HTTP header nothing more is said to the client: Redis closes
     * it before writing the replies of the commands that came with it. */
    if (c->io_flags & IOF_HTTP)
        iol_reply_free(&c->reply);
    else
        iol_reply_move(&c->out, &c->reply);
    io_publish_rbuf(c); /* before the write, so the peak sees it */
    uint32_t hf = c->hand_flags;
    c->hand_flags = 0;
    if (hf & IOL_HAND_MORE) {
        c->io_flags |= IOF_BATCH_PENDING;
    } else {
        resp_batch_reset(c->exec_batch);
        c->exec_done = 0;
    }
    if (hf & IOL_HAND_PUBSUB) c->io_flags |= IOF_PUBSUB_CLASS;
    if (hf & IOL_HAND_NORMAL) c->io_flags &= ~IOF_PUBSUB_CLASS;
    if (hf & IOL_HAND_AUTHENTICATED) c->parser.auth_required = 0;
    if (hf & IOL_HAND_UNAUTHENTICATED) c->parser.auth_required = 1;
    if (hf & IOL_HAND_CLOSE_NOW) {
        io_close(c);
        return;
    }
    if (hf & IOL_HAND_CLOSE_AFTER_REPLY) c->io_flags |= IOF_CLOSE_AFTER_WRITE;
    io_flush(c);
    if (!(c->io_flags & IOF_CLOSING)) io_check_output_limits(c);
}

/* Hand the filled batch to the executor. Returns true when c->filling is
 * free to take more commands. Thread: owner. */
static bool io_dispatch(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & (IOF_IN_FLIGHT | IOF_CLOSING | IOF_CLOSE_AFTER_WRITE)) return false;
    bool again = (c->io_flags & IOF_BATCH_PENDING) != 0;
    if (!again && c->filling->ncmds == 0) return true;
    if (io_out_pending(c) > c->thread->limits.out_high_water) return false;
    if (again) {
        /* The older, partly run batch goes first; the filling one waits. */
        c->io_flags &= ~IOF_BATCH_PENDING;
    } else {
        resp_batch_t *b = c->filling;
        c->filling = (b == &c->batches[0]) ? &c->batches[1] : &c->batches[0];
        c->exec_batch = b;
        c->exec_done = 0;
        atomic_fetch_add_explicit(&c->thread->st_commands, b->ncmds, memory_order_relaxed);
    }
    if (!threaded()) {
        for (;;) {
            if (!exec_run(c)) {
                c->io_flags |= IOF_IN_FLIGHT; /* parked: iol_client_release ends it */
                if (c->io_flags & IOF_EOF) io_eof_notify(c);
                return !(c->io_flags & (IOF_CLOSING | IOF_CLOSE_AFTER_WRITE));
            }
            io_collect(c);
            exec_repl_after_return(c);
            /* A batch cut short for output back-pressure goes on at once if
             * the socket took the output; otherwise the write completion
             * (io_on_write -> io_resume) resumes it. */
            if (!(c->io_flags & IOF_BATCH_PENDING) ||
                (c->io_flags & (IOF_CLOSING | IOF_CLOSE_AFTER_WRITE)) ||
                io_out_pending(c) > c->thread->limits.out_high_water || c->writing)
                break;
            c->io_flags &= ~IOF_BATCH_PENDING;
        }
        return !again && !(c->io_flags & (IOF_CLOSING | IOF_CLOSE_AFTER_WRITE));
    }
    c->io_flags |= IOF_IN_FLIGHT;
    iol_chan_send(&c->thread->to_exec, c, MSG_DISPATCH);
    /* After EOF every batch is followed by MSG_EOF: should it park, the
     * executor must not wait for a client that will never read its answer. */
    if (c->io_flags & IOF_EOF) io_eof_notify(c);
    return !again;
}

/* When the HTTP guard last logged its warning (unix seconds), shared by every
 * I/O thread; relaxed: it only rate-limits a log line and publishes nothing. */
static _Atomic int64_t http_warned_s;

/* The client sent "POST" or "Host:" as a command: an HTTP request reaching
 * the RESP port, the way cross protocol scripting attacks talk to Redis.
 * Like Redis, close the connection without a reply and log a warning at most
 * once a minute (so the attack cannot flood the log). Thread: owner. */
static void io_http_abort(iol_client_t *c) {
    int64_t now = (int64_t)time(NULL);
    int64_t last = atomic_load_explicit(&http_warned_s, memory_order_relaxed);
    if (llabs(now - last) > 60 &&
        atomic_compare_exchange_strong_explicit(&http_warned_s, &last, now, memory_order_relaxed,
                                                memory_order_relaxed))
        kl_warning("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or "
                   "Host: commands to Redis. This is likely due to an attacker attempting to use "
                   "Cross Protocol Scripting to compromise your Redis instance. Connection "
                   "aborted.");
    io_close(c);
}

static void io_proto_error_reply(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & IOF_HTTP) {
        io_http_abort(c);
        return;
    }
    const char *err = resp_parser_error(&c->parser);
    kl_verbose("Protocol error (%s) from client: id=%llu addr=%s", err, (unsigned long long)c->id,
               c->peer);
    iol_reply_append(&c->out, "-", 1);
    iol_reply_append(&c->out, err, strlen(err));
    iol_reply_append(&c->out, "\r\n", 2);
    c->io_flags |= IOF_CLOSE_AFTER_WRITE;
    io_flush(c);
}

/* Parse len bytes of input, handing batches over as they fill. Thread: owner. */
static void io_feed(iol_client_t *c, const char *data, size_t len) {
    IOL_ASSERT_OWNER(c);
    size_t off = 0;
    while (off < len && !(c->io_flags & (IOF_CLOSING | IOF_CLOSE_AFTER_WRITE | IOF_PROTO_ERR))) {
        size_t used = 0;
        uint32_t before = c->filling->ncmds;
        int rc =
            resp_parse(&c->parser, &c->thread->rlimits, data + off, len - off, &used, c->filling);
        off += used;
        uint32_t http = resp_batch_find_http(c->filling, before);
        if (http != UINT32_MAX) {
            /* The commands before it run; it and everything after are dropped,
             * and the connection closes once those ran (io_proto_error_reply). */
            resp_batch_truncate(c->filling, http);
            c->io_flags |= IOF_PROTO_ERR | IOF_HTTP;
            break;
        }
        if (rc == RESP_ERR_QUERY_LIMIT) {
            atomic_fetch_add_explicit(&c->thread->st_qbuf_kills, 1, memory_order_relaxed);
            kl_warning("Closing client that reached max query buffer length: id=%llu addr=%s "
                       "(qbuf initial bytes: %zu)",
                       (unsigned long long)c->id, c->peer, resp_parser_pending(&c->parser));
            io_close(c);
            return;
        }
        if (rc != RESP_OK) {
            c->io_flags |= IOF_PROTO_ERR;
            break;
        }
        if (off < len && !io_dispatch(c)) break;
    }
    if (c->io_flags & IOF_CLOSING) return;
    if (off < len && !(c->io_flags & (IOF_PROTO_ERR | IOF_CLOSE_AFTER_WRITE)))
        io_stash(c, data + off, len - off);
    io_dispatch(c);
    if ((c->io_flags & IOF_PROTO_ERR) &&
        !(c->io_flags & (IOF_IN_FLIGHT | IOF_CLOSING | IOF_BATCH_PENDING)) &&
        c->filling->ncmds == 0)
        io_proto_error_reply(c);
    io_publish_qbuf(c);
}

/* Continue with input held back (stash, parsed commands, a protocol error
 * waiting for earlier replies). Thread: owner. */
static void io_resume(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & (IOF_CLOSING | IOF_IN_FLIGHT)) return;
    if (c->stash) {
        char *s = c->stash;
        size_t n = c->stash_len;
        c->stash = NULL;
        c->stash_len = 0;
        io_feed(c, s, n);
        kl_free(s);
    } else {
        io_dispatch(c);
        if (!(c->io_flags & (IOF_IN_FLIGHT | IOF_BATCH_PENDING))) io_dispatch(c);
        if ((c->io_flags & IOF_PROTO_ERR) &&
            !(c->io_flags & (IOF_IN_FLIGHT | IOF_CLOSING | IOF_BATCH_PENDING)) &&
            c->filling->ncmds == 0 && !(c->io_flags & IOF_CLOSE_AFTER_WRITE))
            io_proto_error_reply(c);
    }
    io_update_reading(c);
    io_eof_check(c);
}

/* Tell whoever runs c's in-flight batch that the peer sent EOF (see
 * exec_peer_eof). Thread: owner. */
static void io_eof_notify(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (threaded())
        iol_chan_send(&c->thread->to_exec, c, MSG_EOF);
    else
        exec_peer_eof(c);
}

/* After EOF: once every byte the peer sent was parsed and every batch ran
 * and came back, write the remaining replies and close (IOF_CLOSE_AFTER_WRITE
 * closes when the output queue is empty). Thread: owner. */
static void io_eof_check(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if ((c->io_flags & (IOF_EOF | IOF_CLOSING | IOF_CLOSE_AFTER_WRITE)) != IOF_EOF) return;
    if (c->stash || (c->io_flags & (IOF_IN_FLIGHT | IOF_BATCH_PENDING)) || c->filling->ncmds)
        return;
    /* A command cut short by EOF is dropped, as Redis drops it. */
    if (c->io_flags & IOF_PROTO_ERR) {
        io_proto_error_reply(c); /* the error goes out, then the close */
        return;
    }
    c->io_flags |= IOF_CLOSE_AFTER_WRITE;
    io_flush(c);
}

/* The peer sent EOF (TCP FIN, or TLS close_notify): it sends no more input
 * but may still read. Unlike an error, this loses nothing: the stash and the
 * filling batch are still parsed and run, every reply is written, and only
 * then is the connection closed. Reading stops; a peer that vanished for good
 * is noticed when a write fails. Thread: owner. */
static void io_on_eof(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & (IOF_EOF | IOF_CLOSING)) return;
    kl_verbose("Client closed connection id=%llu addr=%s", (unsigned long long)c->id, c->peer);
    c->io_flags |= IOF_EOF;
    if (c->io_flags & IOF_READING) {
        conn_read_stop(c->conn);
        c->io_flags &= ~IOF_READING;
    }
    if (c->io_flags & IOF_IN_FLIGHT) {
        io_eof_notify(c);
        if (c->io_flags & IOF_CLOSING) return;
    }
    io_resume(c);
}

static void io_on_read(conn_t *conn, ssize_t nread, const char *buf) {
    iol_client_t *c = conn->data;
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & IOF_CLOSING) return;
    if (nread == UV_EOF) {
        io_on_eof(c);
        return;
    }
    if (nread < 0) {
        kl_verbose("Reading from client: %s", uv_strerror((int)nread));
        io_close(c);
        return;
    }
    iol_thread_t *t = c->thread;
    atomic_fetch_add_explicit(&t->st_reads, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->st_in, (uint64_t)nread, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->net_in, (uint64_t)nread, memory_order_relaxed);
    atomic_store_explicit(&c->last_io_ms, now_ms(t->loop), memory_order_relaxed);
    if (c->stash) {
        /* Reading was already being stopped; keep the order of the bytes. */
        io_stash(c, buf, (size_t)nread);
    } else {
        io_feed(c, buf, (size_t)nread);
    }
    io_update_reading(c);
}

static void io_update_reading(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & (IOF_CLOSING | IOF_CONN_CLOSED) || !(c->io_flags & IOF_READY)) return;
    bool want = !c->stash && !(c->io_flags & (IOF_PROTO_ERR | IOF_CLOSE_AFTER_WRITE | IOF_EOF)) &&
                io_out_pending(c) <= c->thread->limits.out_high_water;
    /* While a batch is in flight keep reading only into the second batch;
     * io_feed stashes (and we stop) once that one is full. */
    if (want && !(c->io_flags & IOF_READING)) {
        int err = conn_read_start(c->conn, io_on_read);
        if (err) {
            /* A client we can no longer read from would wait forever. */
            kl_warning("Cannot read from client id=%llu addr=%s: %s", (unsigned long long)c->id,
                       c->peer, uv_strerror(err));
            io_close(c);
            return;
        }
        c->io_flags |= IOF_READING;
    } else if (!want && (c->io_flags & IOF_READING)) {
        conn_read_stop(c->conn);
        c->io_flags &= ~IOF_READING;
    }
    io_publish_events(c);
}

/* ---------------------------------------------------------------- replica output
 *
 * A replica (iol_repl.h) writes, in this order: its replies (c->out), the
 * payload read from payload_fd (a disk sync's RDB file, or the pipe of a
 * diskless sync's child), then the shared buffer from its cursor on. All of
 * it happens here, on the owning thread; the executor only announces that
 * the buffer grew (MSG_REPL_FEED, at most one in flight per replica). */

static void repl_poll_closed(uv_handle_t *h) {
    kl_free(h);
}

/* Stop watching the payload's descriptor, before it is closed: a handle
 * left behind would later drop from epoll whatever socket reuses the
 * number (it once took a replica link's socket with it). */
static void repl_poll_release(iol_repl_io_t *r) {
    if (!r->poll) return;
    uv_close((uv_handle_t *)r->poll, repl_poll_closed);
    r->poll = NULL;
    r->polling = false;
}

/* Release a replica's I/O side: its block reference, its payload source.
 * Thread: owner (or the executor for one never handed over, when the I/O
 * layer is gone or the client died first). */
static void io_repl_free(iol_repl_io_t *r) {
    if (!r) return;
    if (r->blk) iol__rblk_unref(r->blk);
    r->blk = NULL;
    kl_free(r->pbuf);
    r->pbuf = NULL;
    kl_free(r->hdr);
    r->hdr = NULL;
    repl_poll_release(r);
    if (r->pfd >= 0) close(r->pfd);
    r->pfd = -1;
    kl_free(r);
}

/* The payload is out (status 0) or failed: tell the executor. Thread: owner. */
static void io_repl_report(iol_client_t *c, int status) {
    iol_repl_io_t *r = c->repl;
    if (r->payload_reported) return;
    r->payload_reported = true;
    c->repl_status = status;
    if (!S.hooks.repl_payload) return;
    if (threaded())
        iol_chan_send(&c->thread->to_exec, c, MSG_REPL_PAYLOAD);
    else
        S.hooks.repl_payload(c, status);
}

static void io_repl_fail(iol_client_t *c, int status, const char *why) {
    kl_warning("Replica %s: %s, closing the connection", c->peer, why);
    io_repl_report(c, status);
    io_close(c);
}

static void repl_on_poll(uv_poll_t *h, int status, int events) {
    iol_repl_io_t *r = h->data;
    iol_client_t *c = r->c;
    IOL_ASSERT_OWNER(c);
    (void)events;
    uv_poll_stop(h);
    r->polling = false;
    if (status < 0) {
        io_repl_fail(c, status, "cannot wait for the RDB pipe");
        return;
    }
    io_flush(c);
}

/* The stream's pending bytes for the output limit and CLIENT LIST. */
static void io_repl_publish(iol_client_t *c) {
    iol_repl_io_t *r = c->repl;
    uint64_t end = atomic_load_explicit(&c->repl_end, memory_order_relaxed);
    atomic_store_explicit(&c->repl_pending, end > r->off ? end - r->off : 0, memory_order_relaxed);
    atomic_store_explicit(&c->repl_sent, r->off, memory_order_relaxed);
}

/* Move the cursor n bytes on (they were written), passing the reference
 * from block to block. Thread: owner. */
static void io_repl_advance(iol_repl_io_t *r, size_t n) {
    while (n) {
        uint32_t left = r->blk->size - r->pos;
        size_t k = n < left ? n : left;
        r->pos += (uint32_t)k;
        r->off += k;
        n -= k;
        if (r->pos == r->blk->size) {
            iol_rblk_t *next = atomic_load_explicit(&r->blk->next, memory_order_acquire);
            if (!next) break; /* n is 0 here: we never write past `used` */
            iol__rblk_ref(next);
            iol__rblk_unref(r->blk);
            r->blk = next;
            r->pos = 0;
        }
    }
}

static void io_repl_written(iol_client_t *c, size_t n) {
    iol_repl_io_t *r = c->repl;
    if (r->wkind == RW_PAYLOAD) {
        r->ppos += n;
    } else {
        io_repl_advance(r, n);
        io_repl_publish(c);
    }
    r->wkind = RW_NONE;
}

/* Hand one write to the connection. Returns 1 when it completed at once,
 * 0 when it goes on in the background, -1 after closing c. */
static int io_repl_write(iol_client_t *c, uv_buf_t *iov, unsigned n, size_t total, int kind) {
    iol_repl_io_t *r = c->repl;
    atomic_fetch_add_explicit(&c->thread->st_writes, 1, memory_order_relaxed);
    c->writing = total;
    r->wkind = (uint8_t)kind;
    int rc = conn_writev(c->conn, iov, n, io_on_write, c);
    if (rc < 0) {
        c->writing = 0;
        r->wkind = RW_NONE;
        io_close(c);
        return -1;
    }
    if (rc == 0) return 0;
    c->writing = 0;
    atomic_fetch_add_explicit(&c->net_out, total, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->thread->st_repl_out, total, memory_order_relaxed);
    io_repl_written(c, total);
    return 1;
}

/* The next payload chunk into pbuf. Returns 1 with bytes, 0 at the end of
 * the payload, 2 when a pipe has nothing yet (poll started), -1 after
 * failing c. */
static int io_repl_read(iol_client_t *c) {
    iol_repl_io_t *r = c->repl;
    if (r->pleft == 0) return 0;
    if (!r->pbuf) r->pbuf = kl_malloc(REPL_CHUNK);
    size_t want = REPL_CHUNK;
    if (r->pleft > 0 && (uint64_t)r->pleft < want) want = (size_t)r->pleft;
    ssize_t got;
    do {
        got = read(r->pfd, r->pbuf, want);
    } while (got < 0 && errno == EINTR);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!r->poll) {
            r->poll = kl_malloc(sizeof(*r->poll));
            int err = uv_poll_init(c->thread->loop, r->poll, r->pfd);
            if (err) {
                kl_free(r->poll);
                r->poll = NULL;
                io_repl_fail(c, err, "cannot watch the RDB pipe");
                return -1;
            }
            r->poll->data = r;
        }
        int err = uv_poll_start(r->poll, UV_READABLE, repl_on_poll);
        if (err) {
            io_repl_fail(c, err, "cannot watch the RDB pipe");
            return -1;
        }
        r->polling = true;
        return 2;
    }
    if (got < 0) {
        io_repl_fail(c, -errno, "error reading the RDB to send");
        return -1;
    }
    if (got == 0) {
        if (r->pleft > 0) {
            io_repl_fail(c, UV_EOF, "the RDB file ended early");
            return -1;
        }
        r->pleft = 0; /* the pipe's EOF: the child wrote everything */
        return 0;
    }
    if (r->pleft > 0) r->pleft -= got;
    r->plen = (size_t)got;
    r->ppos = 0;
    return 1;
}

static void io_on_repl_idle(uv_idle_t *h) {
    iol_thread_t *t = h->data;
    uint32_t n = t->nryield;
    iol_client_t **list = t->ryield;
    t->ryield = NULL;
    t->nryield = t->ryield_cap = 0;
    for (uint32_t i = 0; i < n; i++) {
        iol_client_t *c = list[i];
        if (!c) continue;
        c->io_flags &= ~IOF_REPL_YIELD;
        if (!(c->io_flags & (IOF_CLOSING | IOF_CONN_CLOSED))) io_flush(c);
    }
    kl_free(list);
    if (t->nryield == 0) uv_idle_stop(h);
}

/* c wrote its budget: continue at the next turn of the loop. Thread: owner. */
static void io_repl_yield(iol_client_t *c) {
    if (c->io_flags & IOF_REPL_YIELD) return;
    iol_thread_t *t = c->thread;
    if (t->nryield == t->ryield_cap) {
        t->ryield_cap = t->ryield_cap ? t->ryield_cap * 2 : 8;
        t->ryield = kl_realloc(t->ryield, t->ryield_cap * sizeof(*t->ryield));
    }
    t->ryield[t->nryield++] = c;
    c->io_flags |= IOF_REPL_YIELD;
    if (!uv_is_active((uv_handle_t *)&t->repl_idle)) uv_idle_start(&t->repl_idle, io_on_repl_idle);
}

/* A closing client leaves the yield list. Thread: owner. */
static void io_repl_unyield(iol_client_t *c) {
    if (!(c->io_flags & IOF_REPL_YIELD)) return;
    iol_thread_t *t = c->thread;
    for (uint32_t i = 0; i < t->nryield; i++)
        if (t->ryield[i] == c) t->ryield[i] = NULL;
    c->io_flags &= ~IOF_REPL_YIELD;
}

/* Write what a replica has to write next: payload, then stream, until the
 * connection is busy, there is nothing more, or it wrote its budget for
 * this turn. Thread: owner. */
static void io_repl_pump(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    iol_repl_io_t *r = c->repl;
    uint64_t start_out = atomic_load_explicit(&c->net_out, memory_order_relaxed);
    while (!c->writing && c->out.bytes == 0 && !(c->io_flags & (IOF_CLOSING | IOF_CONN_CLOSED)) &&
           (c->io_flags & IOF_READY)) {
        if (r->payload_wait) {
            io_repl_publish(c);
            return;
        }
        if (atomic_load_explicit(&c->net_out, memory_order_relaxed) - start_out >=
            REPL_PUMP_BUDGET) {
            io_repl_publish(c);
            io_repl_yield(c);
            return;
        }
        if (r->pfd >= 0) {
            if (r->polling) return;
            if (r->ppos == r->plen) {
                int rc = io_repl_read(c);
                if (rc < 0 || rc == 2) return;
                if (rc == 0) {
                    repl_poll_release(r);
                    close(r->pfd);
                    r->pfd = -1;
                    kl_free(r->pbuf);
                    r->pbuf = NULL;
                    r->plen = r->ppos = 0;
                    io_repl_report(c, 0);
                    if (r->close_after) {
                        c->io_flags |= IOF_CLOSE_AFTER_WRITE;
                        io_close(c); /* nothing is queued: the payload is written */
                        return;
                    }
                    continue;
                }
            }
            uv_buf_t iov = uv_buf_init(r->pbuf + r->ppos, (unsigned)(r->plen - r->ppos));
            if (io_repl_write(c, &iov, 1, iov.len, RW_PAYLOAD) <= 0) return;
            continue;
        }
        if (!r->payload_reported) io_repl_report(c, 0);
        if (r->stream_hold) {
            io_repl_publish(c);
            return;
        }
        /* The stream: every byte published from the cursor on. */
        uv_buf_t iov[REPL_MAX_IOV];
        unsigned n = 0;
        size_t total = 0;
        iol_rblk_t *b = r->blk;
        uint32_t pos = r->pos;
        while (b && n < REPL_MAX_IOV && total < REPL_MAX_WRITE) {
            /* acquire: pairs with the executor's release of used. */
            uint32_t used = atomic_load_explicit(&b->used, memory_order_acquire);
            if (used > pos) {
                iov[n++] = uv_buf_init(b->data + pos, used - pos);
                total += used - pos;
            }
            if (used < b->size) break;
            b = atomic_load_explicit(&b->next, memory_order_acquire);
            pos = 0;
        }
        if (total == 0) {
            /* Caught up; the cursor may sit at the end of a full block. */
            if (r->pos == r->blk->size) io_repl_advance(r, 0);
            io_repl_publish(c);
            return;
        }
        if (io_repl_write(c, iov, n, total, RW_STREAM) <= 0) return;
    }
}

/* MSG_REPL_START: c becomes a replica. Thread: owner. */
static void io_repl_start(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    iol_repl_io_t *r = c->repl_next;
    c->repl_next = NULL;
    if (c->io_flags & (IOF_CLOSING | IOF_DEAD | IOF_CONN_CLOSED) || c->repl) {
        io_repl_free(r);
        return;
    }
    r->c = c;
    c->repl = r;
    if (r->hdr) {
        iol_reply_append(&c->out, r->hdr, r->hdr_len);
        kl_free(r->hdr);
        r->hdr = NULL;
    }
    io_repl_publish(c);
    io_flush(c);
    if (!(c->io_flags & IOF_CLOSING)) io_check_output_limits(c);
}

/* MSG_REPL_LATER: the payload of a payload_later start. Thread: owner. */
static void io_repl_later(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    iol_repl_io_t *p = c->repl_later;
    c->repl_later = NULL;
    iol_repl_io_t *r = c->repl;
    if (!r || !r->payload_wait || (c->io_flags & (IOF_CLOSING | IOF_DEAD | IOF_CONN_CLOSED))) {
        io_repl_free(p);
        return;
    }
    r->payload_wait = false;
    r->pfd = p->pfd;
    r->pleft = p->pleft;
    p->pfd = -1;
    if (p->hdr) iol_reply_append(&c->out, p->hdr, p->hdr_len);
    io_repl_free(p);
    io_flush(c);
}

/* MSG_REPL_KEEPALIVE: while a replica waits for its payload (before the
 * start, or with payload_later), a newline keeps its link from timing out,
 * as Redis sends one each second. Thread: owner. */
static void io_repl_keepalive(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & (IOF_CLOSING | IOF_DEAD | IOF_CONN_CLOSED)) return;
    if (c->repl && !c->repl->payload_wait) return;
    iol_reply_append(&c->out, "\n", 1);
    io_flush(c);
}

/* MSG_REPL_GO: the held stream flows. Thread: owner. */
static void io_repl_go(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (!c->repl || (c->io_flags & (IOF_CLOSING | IOF_DEAD | IOF_CONN_CLOSED))) return;
    c->repl->stream_hold = false;
    io_flush(c);
    if (!(c->io_flags & IOF_CLOSING)) io_check_output_limits(c);
}

/* MSG_REPL_FEED: the buffer grew. Thread: owner. */
static void io_repl_feed(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    /* seq_cst: clear before looking at the blocks, so a feed announced after
     * this point sends a new message (the executor's exchange sees false). */
    atomic_store_explicit(&c->repl_feed_flag, false, memory_order_seq_cst);
    if (!c->repl || (c->io_flags & (IOF_CLOSING | IOF_DEAD | IOF_CONN_CLOSED))) return;
    io_repl_publish(c);
    io_flush(c);
    if (!(c->io_flags & IOF_CLOSING)) io_check_output_limits(c);
}

/* Executor side. */

static iol_rbuf_t **repl_bufs; /* buffers with readers, for the per-turn notify */
static size_t nrepl_bufs;

static void exec_repl_forget(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    iol_rbuf_t *rb = c->repl_rbuf;
    if (c->repl_next) { /* never handed over (the client died first) */
        io_repl_free(c->repl_next);
        c->repl_next = NULL;
    }
    if (c->repl_later) {
        io_repl_free(c->repl_later);
        c->repl_later = NULL;
    }
    if (!rb) return;
    c->repl_rbuf = NULL;
    for (size_t i = 0; i < rb->nreaders; i++) {
        if (rb->readers[i] == c) {
            rb->readers[i] = rb->readers[--rb->nreaders];
            break;
        }
    }
}

void iol__rbuf_detach_all(iol_rbuf_t *rb) {
    IOL_ASSERT_EXECUTOR();
    for (size_t i = 0; i < rb->nreaders; i++)
        rb->readers[i]->repl_rbuf = NULL;
    kl_free(rb->readers);
    rb->readers = NULL;
    rb->nreaders = rb->readers_cap = 0;
    for (size_t i = 0; i < nrepl_bufs; i++) {
        if (repl_bufs[i] == rb) {
            repl_bufs[i] = repl_bufs[--nrepl_bufs];
            break;
        }
    }
    rb->listed = false;
    if (nrepl_bufs == 0) {
        kl_free(repl_bufs);
        repl_bufs = NULL;
    }
}

static void exec_repl_send_start(iol_client_t *c) {
    if (!threaded()) {
        io_repl_start(c);
        return;
    }
    iol_chan_send(&c->thread->from_exec, c, MSG_REPL_START);
}

static void exec_repl_after_return(iol_client_t *c) {
    if (!c->repl_defer) return;
    c->repl_defer = false;
    exec_repl_send_start(c);
}

/* Announce new bytes to every replica that has not seen them (once per
 * loop turn). Thread: executor. */
static void exec_repl_notify(void) {
    for (size_t i = 0; i < nrepl_bufs; i++) {
        iol_rbuf_t *rb = repl_bufs[i];
        for (size_t k = 0; k < rb->nreaders; k++) {
            iol_client_t *c = rb->readers[k];
            if (c->repl_notified == rb->end || c->repl_defer || c->repl_next) continue;
            c->repl_notified = rb->end;
            atomic_store_explicit(&c->repl_end, rb->end, memory_order_relaxed);
            if (!threaded()) {
                io_repl_feed(c);
                continue;
            }
            /* seq_cst exchange: pairs with the owner's clear in io_repl_feed. */
            if (atomic_exchange_explicit(&c->repl_feed_flag, true, memory_order_seq_cst)) continue;
            iol_chan_send(&c->thread->from_exec, c, MSG_REPL_FEED);
        }
    }
}

void iol_client_repl_start(iol_client_t *c, iol_rbuf_t *rb, const iol_repl_start_t *st) {
    IOL_ASSERT_EXECUTOR();
    iol_repl_io_t *r = kl_calloc(1, sizeof(*r));
    r->pfd = st->payload_fd;
    r->pleft = st->payload_len;
    r->payload_wait = st->payload_later;
    r->close_after = st->close_after_payload;
    r->stream_hold = st->stream_after_go;
    if (r->pfd >= 0 && st->payload_len < 0) {
        int fl = fcntl(r->pfd, F_GETFL);
        if (fl >= 0) fcntl(r->pfd, F_SETFL, fl | O_NONBLOCK);
    }
    if (r->pfd < 0 && !r->payload_wait) r->payload_reported = true; /* nothing to report */
    if (st->header_len) {
        r->hdr = kl_malloc(st->header_len);
        memcpy(r->hdr, st->header, st->header_len);
        r->hdr_len = st->header_len;
    }
    /* The cursor: a reference on the block holding `from`. */
    uint64_t from = st->from < rb->start ? rb->start : st->from;
    iol_rblk_t *b = rb->head;
    for (;;) {
        iol_rblk_t *next = atomic_load_explicit(&b->next, memory_order_relaxed);
        if (!next || next->offset > from) break;
        b = next;
    }
    iol__rblk_ref(b);
    r->blk = b;
    r->pos = (uint32_t)(from - b->offset);
    r->off = from;
    /* Reader list, for the notifications. */
    if (!c->repl_rbuf) {
        if (rb->nreaders == rb->readers_cap) {
            rb->readers_cap = rb->readers_cap ? rb->readers_cap * 2 : 4;
            rb->readers = kl_realloc(rb->readers, rb->readers_cap * sizeof(*rb->readers));
        }
        rb->readers[rb->nreaders++] = c;
        c->repl_rbuf = rb;
        if (!rb->listed) {
            repl_bufs = kl_realloc(repl_bufs, (nrepl_bufs + 1) * sizeof(*repl_bufs));
            repl_bufs[nrepl_bufs++] = rb;
            rb->listed = true;
        }
    }
    c->repl_notified = rb->end;
    atomic_store_explicit(&c->repl_end, rb->end, memory_order_relaxed);
    io_repl_free(c->repl_next); /* a second start before the first went out */
    c->repl_next = r;
    if (c->exec_held) {
        c->repl_defer = true; /* after the replies of the batch (MSG_RETURN) */
        return;
    }
    exec_repl_send_start(c);
}

void iol_client_repl_payload(iol_client_t *c, const char *header, size_t header_len, int fd,
                             int64_t len) {
    IOL_ASSERT_EXECUTOR();
    iol_repl_io_t *p = kl_calloc(1, sizeof(*p));
    p->pfd = fd;
    p->pleft = len;
    if (header_len) {
        p->hdr = kl_malloc(header_len);
        memcpy(p->hdr, header, header_len);
        p->hdr_len = header_len;
    }
    io_repl_free(c->repl_later);
    c->repl_later = p;
    if (!threaded()) {
        if (c->repl_next || c->repl_defer) return; /* not started yet: never in practice */
        io_repl_later(c);
        return;
    }
    iol_chan_send(&c->thread->from_exec, c, MSG_REPL_LATER);
}

void iol_client_repl_stream(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    if (!threaded()) {
        if (c->repl_next || c->repl_defer) return; /* not started: cannot be held yet */
        io_repl_go(c);
        return;
    }
    iol_chan_send(&c->thread->from_exec, c, MSG_REPL_GO);
}

void iol_client_repl_keepalive(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    if (c->repl_defer || c->repl_next) return; /* its start is on its way */
    if (!threaded()) {
        io_repl_keepalive(c);
        return;
    }
    iol_chan_send(&c->thread->from_exec, c, MSG_REPL_KEEPALIVE);
}

uint64_t iol_client_repl_pending(const iol_client_t *c) {
    return atomic_load_explicit(&c->repl_pending, memory_order_relaxed);
}

uint64_t iol_client_repl_sent(const iol_client_t *c) {
    return atomic_load_explicit(&c->repl_sent, memory_order_relaxed);
}

/* ---------------------------------------------------------------- lifecycle */

static void list_remove(iol_client_t *c) {
    iol_thread_t *t = c->thread;
    if (c->prev)
        c->prev->next = c->next;
    else if (t->clients == c)
        t->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void io_free_parts(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    resp_parser_free(&c->parser);
    resp_batch_free(&c->batches[0]);
    resp_batch_free(&c->batches[1]);
    iol_reply_free(&c->out);
    iol_reply_free(&c->reply);
    kl_free(c->stash);
    c->stash = NULL;
    c->stash_len = 0;
    if (c->repl) {
        io_repl_free(c->repl);
        c->repl = NULL;
    }
    c->io_flags |= IOF_CONN_CLOSED;
}

/* The connection is closed and the executor does not hold the batch:
 * release the I/O side and tell the executor. */
static void io_finish_close(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    iol_thread_t *t = c->thread;
    io_free_parts(c);
    if (t->stopping) return; /* stays listed: iol_shutdown takes it from here */
    list_remove(c);
    atomic_fetch_sub_explicit(&t->st_clients, 1, memory_order_relaxed);
    if (!threaded()) {
        exec_repl_forget(c);
        S.hooks.closed(c);
        S.hooks.free(c);
        return;
    }
    c->io_flags |= IOF_DEAD;
    iol_chan_send(&t->to_exec, c, MSG_CLOSED);
}

static void io_on_conn_closed(conn_t *conn) {
    iol_client_t *c = conn->data;
    IOL_ASSERT_OWNER(c);
    c->conn = NULL;
    if (c->io_flags & IOF_IN_FLIGHT) return; /* finished when the batch returns */
    io_finish_close(c);
}

static void io_close(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & IOF_CLOSING) return;
    io_unpend(c);
    io_repl_unyield(c);
    c->io_flags |= IOF_CLOSING;
    c->io_flags &= ~IOF_READING;
    io_publish_events(c);
    if (c->io_flags & IOF_IN_FLIGHT) {
        /* The executor may have parked the batch: tell it the peer is gone so
         * it hands the batch back instead of waiting forever. */
        if (threaded())
            iol_chan_send(&c->thread->to_exec, c, MSG_GONE);
        else if (c->exec_held)
            S.hooks.gone(c);
    }
    if (c->conn) {
        conn_close(c->conn, io_on_conn_closed);
    } else if (!(c->io_flags & IOF_IN_FLIGHT)) {
        io_finish_close(c);
    }
}

static void io_on_ready(conn_t *conn, int status) {
    iol_client_t *c = conn->data;
    IOL_ASSERT_OWNER(c);
    if (conn->kind == CONN_KIND_TLS)
        atomic_fetch_add_explicit(status < 0 ? &c->thread->st_handshake_failures
                                             : &c->thread->st_handshakes,
                                  1, memory_order_relaxed);
    if (status < 0) {
        io_close(c);
        return;
    }
    c->io_flags |= IOF_READY;
    io_update_reading(c);
    io_flush(c);
}

/* Attach a freshly accepted client to this thread's loop. Thread: owner. */
static void io_attach(iol_thread_t *t, iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    c->prev = NULL;
    c->next = t->clients;
    if (t->clients) t->clients->prev = c;
    t->clients = c;
    int err = conn_create_socket(t->loop, c->fd, c->kind, &c->conn);
    if (err) {
        kl_warning("Error registering fd event for the new client: %s", uv_strerror(err));
        c->conn = NULL;
        c->io_flags |= IOF_CLOSING;
        io_finish_close(c);
        return;
    }
    c->conn->data = c;
    if (conn_accept(c->conn, io_on_ready) != 0) io_close(c);
}

/* ---------------------------------------------------------------- I/O thread side */

static void io_on_return(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    c->io_flags &= ~IOF_IN_FLIGHT;
    if (c->io_flags & IOF_CLOSING) {
        resp_batch_reset(c->exec_batch);
        iol_reply_free(&c->reply);
        if (!c->conn) io_finish_close(c);
        return;
    }
    io_collect(c);
    io_resume(c);
}

/* Remember c for the batched flush of pushed output. Thread: owner. */
static void io_pend(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & IOF_PUSH_PENDING) return;
    iol_thread_t *t = c->thread;
    if (t->npend == t->pend_cap) {
        t->pend_cap = t->pend_cap ? t->pend_cap * 2 : 64;
        t->pend = kl_realloc(t->pend, t->pend_cap * sizeof(*t->pend));
    }
    t->pend[t->npend++] = c;
    c->io_flags |= IOF_PUSH_PENDING;
}

/* Queue pushed output behind whatever c->out already holds (so it keeps its
 * place relative to the client's own replies) and remember the client for the
 * batched flush. Thread: owner. */
static void io_push(iol_client_t *c, iol_reply_t *r) {
    IOL_ASSERT_OWNER(c);
    if (c->io_flags & (IOF_CLOSING | IOF_DEAD | IOF_CONN_CLOSED)) {
        iol_reply_free(r);
        return;
    }
    iol_reply_move(&c->out, r);
    io_pend(c);
}

/* Write out every client with pushed output, then apply the output limits
 * (a subscriber that does not read is closed here). Thread: owner. */
static void io_flush_pushed(iol_thread_t *t) {
    IOL_ASSERT_THREAD(t);
    /* io_close may run inside (limits, write errors) and unlinks the closed
     * client from pend: walk from the end so removals never skip a client. */
    while (t->npend) {
        iol_client_t *c = t->pend[--t->npend];
        c->io_flags &= ~IOF_PUSH_PENDING;
        if (c->io_flags & (IOF_CLOSING | IOF_CONN_CLOSED)) continue;
        if (c->io_flags & IOF_PUSH_OVER) {
            io_close(c); /* single thread: the executor found it over its limit */
            continue;
        }
        io_flush(c);
        if (!(c->io_flags & IOF_CLOSING)) io_check_output_limits(c);
        if ((c->io_flags & (IOF_PUSH_ACK | IOF_CLOSING)) == IOF_PUSH_ACK) {
            /* After the write, so that obuf_bytes already counts what is
             * left of these bytes when the executor stops counting them. A
             * closing client gets no answer: the executor forgets its pushes
             * at CLOSED. */
            iol_chan_send(&t->to_exec, c, MSG_PUSHED);
        }
        c->io_flags &= ~IOF_PUSH_ACK;
    }
}

/* A client being closed leaves the pending-flush list (it may be freed before
 * the next flush). Thread: owner. */
static void io_unpend(iol_client_t *c) {
    IOL_ASSERT_OWNER(c);
    if (!(c->io_flags & IOF_PUSH_PENDING)) return;
    iol_thread_t *t = c->thread;
    for (uint32_t i = 0; i < t->npend; i++) {
        if (t->pend[i] == c) {
            t->pend[i] = t->pend[--t->npend];
            break;
        }
    }
    c->io_flags &= ~(IOF_PUSH_PENDING | IOF_PUSH_ACK);
}

static void io_on_push_prepare(uv_prepare_t *h) {
    iol_thread_t *t = h->data;
    exec_repl_notify(); /* single thread: the executor's before-sleep too */
    if (t->npend) io_flush_pushed(t);
}

static void io_stop_all(iol_thread_t *t);

static void io_drain(iol_thread_t *t) {
    IOL_ASSERT_THREAD(t);
    iol_msg_t m[64];
    uint32_t n;
    while ((n = iol_chan_recv(&t->from_exec, m, 64)) > 0) {
        for (uint32_t i = 0; i < n; i++) {
            iol_client_t *c = m[i].ptr;
            switch ((int)m[i].arg) {
            case MSG_ATTACH:
                io_attach(t, c);
                break;
            case MSG_RETURN:
                io_on_return(c);
                break;
            case MSG_KILL:
                if (!(c->io_flags & IOF_DEAD)) io_close(c);
                break;
            case MSG_KILL_AFTER:
                if (!(c->io_flags & (IOF_DEAD | IOF_CLOSING))) {
                    c->io_flags |= IOF_CLOSE_AFTER_WRITE;
                    io_flush(c);
                }
                break;
            case MSG_FREE:
                /* Closed clients left pend in io_close; nothing pending can
                 * point at c. */
                S.hooks.free(c);
                break;
            case MSG_PUSH:
                /* The executor handed push_xfer over: take it (a closing or
                 * dead client drops it) and answer after the flush. */
                if (!(c->io_flags & (IOF_CLOSING | IOF_DEAD | IOF_CONN_CLOSED))) {
                    c->io_flags |= IOF_PUSH_ACK;
                    io_push(c, &c->push_xfer);
                } else {
                    iol_reply_free(&c->push_xfer);
                }
                break;
            case MSG_LIMITS: {
                iol_limits_t *l = m[i].ptr;
                t->limits = *l;
                rlimits_from(&t->rlimits, l);
                kl_free(l);
                break;
            }
            case MSG_STOP:
                io_flush_pushed(t);
                io_stop_all(t);
                break;
            case MSG_REPL_START:
                io_repl_start(c);
                break;
            case MSG_REPL_FEED:
                io_repl_feed(c);
                break;
            case MSG_REPL_LATER:
                io_repl_later(c);
                break;
            case MSG_REPL_KEEPALIVE:
                io_repl_keepalive(c);
                break;
            case MSG_REPL_GO:
                io_repl_go(c);
                break;
            default:
                if (m[i].arg >= IOL__MSG_LINK_FIRST) iol__link_io_msg(t, m[i].ptr, m[i].arg);
                break;
            }
        }
    }
    if (t->npend) io_flush_pushed(t);
}

static void io_on_async(uv_async_t *h) {
    io_drain(h->data);
}

static void io_on_prepare(uv_prepare_t *h) {
    iol_thread_t *t = h->data;
    for (;;) {
        /* Overflow left in to_exec is moved in when the executor, having
         * made room, wakes this loop (iol_chan_recv). */
        iol_chan_flush(&t->to_exec);
        iol_wake_consumer_will_sleep(&t->wake);
        if (iol_ring_spsc_empty(&t->from_exec.ring)) break;
        iol_wake_consumer_awake(&t->wake);
        io_drain(t);
    }
}

static void io_on_check(uv_check_t *h) {
    iol_thread_t *t = h->data;
    iol_wake_consumer_awake(&t->wake);
}

/* Clients idle for a while give their parse buffers back, so that thousands
 * of idle connections cost little memory. Thread: owner. */
static void io_on_idle_timer(uv_timer_t *h) {
    iol_thread_t *t = h->data;
    int64_t now = now_ms(t->loop);
    for (iol_client_t *c = t->clients; c; c = c->next) {
        if (now - c->rbuf_peak_since >= 5000) {
            /* A new 5 s window for the reply buffer's peak (CLIENT LIST rbp). */
            c->rbuf_peak_since = now;
            c->rbuf_peak_io = c->out.blocks;
            atomic_store_explicit(&c->rbuf_peak, c->rbuf_peak_io, memory_order_relaxed);
        }
        if (c->io_flags & (IOF_IN_FLIGHT | IOF_CLOSING | IOF_BATCH_PENDING)) continue;
        int64_t last = atomic_load_explicit(&c->last_io_ms, memory_order_relaxed);
        if (now - last < 2000) continue;
        if (c->filling->ncmds == 0) resp_batch_free(c->filling);
        resp_batch_free(c->exec_batch);
    }
}

static void io_close_handle_cb(uv_handle_t *h) {
    (void)h;
}

/* Shutdown: write what each client can take without blocking, then close.
 * The clients stay listed for iol_shutdown to release. Thread: owner. */
static void io_close_clients_for_stop(iol_thread_t *t) {
    t->stopping = true;
    for (iol_client_t *c = t->clients; c; c = c->next) {
        if (c->conn && !(c->io_flags & IOF_CLOSING)) io_flush(c);
        c->io_flags |= IOF_CLOSING;
        if (c->conn) conn_close(c->conn, NULL);
    }
}

static void io_stop_all(iol_thread_t *t) {
    io_close_clients_for_stop(t);
    iol__links_stop(t);
    uv_close((uv_handle_t *)&t->async, io_close_handle_cb);
    uv_close((uv_handle_t *)&t->prepare, io_close_handle_cb);
    uv_close((uv_handle_t *)&t->check, io_close_handle_cb);
    uv_close((uv_handle_t *)&t->idle_timer, io_close_handle_cb);
    uv_close((uv_handle_t *)&t->repl_idle, io_close_handle_cb);
    kl_free(t->ryield);
    t->ryield = NULL;
    t->nryield = t->ryield_cap = 0;
}

static void io_thread_main(void *arg) {
    iol_thread_t *t = arg;
    cur_thread = t;
    atomic_store_explicit(&t->tid, (long)syscall(SYS_gettid), memory_order_relaxed);
    char name[16];
    snprintf(name, sizeof(name), "io_thd_%d", t->index);
    pthread_setname_np(pthread_self(), name);
    uv_run(t->loop, UV_RUN_DEFAULT);
    conn__thread_free_read_buf();
}

/* ---------------------------------------------------------------- executor side */

/* One message from I/O thread t. Thread: executor. */
static void exec_handle(iol_thread_t *t, const iol_msg_t *m) {
    IOL_ASSERT_EXECUTOR();
    iol_client_t *c = m->ptr;
    switch ((int)m->arg) {
    case MSG_DISPATCH:
        if (exec_run(c)) {
            iol_chan_send(&t->from_exec, c, MSG_RETURN);
            exec_repl_after_return(c);
        }
        break;
    case MSG_GONE:
        if (c->exec_held) S.hooks.gone(c);
        break;
    case MSG_EOF:
        exec_peer_eof(c);
        break;
    case MSG_CLOSED:
        exec_push_forget(c);
        exec_repl_forget(c);
        S.hooks.closed(c);
        iol_chan_send(&t->from_exec, c, MSG_FREE);
        break;
    case MSG_REPL_PAYLOAD:
        if (S.hooks.repl_payload) S.hooks.repl_payload(c, c->repl_status);
        break;
    case MSG_PUSHED:
        /* push_xfer is ours again; the gathered rest goes out at the next
         * flush (c stayed on the push list while it waited). */
        c->push_busy = false;
        c->push_sent = 0;
        break;
    default:
        if (m->arg >= IOL__MSG_LINK_FIRST) iol__link_exec_msg(m->ptr, m->arg);
        break;
    }
}

static bool exec_inbound_empty(void) {
    for (int i = 1; i <= S.nthreads; i++)
        if (!iol_ring_spsc_empty(&S.threads[i].to_exec.ring)) return false;
    return true;
}

/* One fair turn over the I/O threads' rings: each ring is visited once,
 * round-robin from a start that rotates every turn, and gives at most
 * EXEC_RING_BUDGET messages (each at most one batch to run), so a thread
 * whose clients flood the executor cannot starve the others, nor the
 * executor's own loop (timers, accepts, signals). Whatever is left keeps
 * exec_idle active: the loop then polls without blocking and runs the next
 * turn at once, with no wake-up needed from the producers.
 * Thread: executor. */
static void exec_turn(void) {
    IOL_ASSERT_EXECUTOR();
    int n = S.nthreads;
    int start = S.exec_rr;
    S.exec_rr = start + 1 == n ? 0 : start + 1;
    for (int k = 0; k < n; k++) {
        iol_thread_t *t = &S.threads[1 + (start + k) % n];
        iol_msg_t m[EXEC_RING_BUDGET];
        uint32_t got = iol_chan_recv(&t->to_exec, m, EXEC_RING_BUDGET);
        for (uint32_t i = 0; i < got; i++)
            exec_handle(t, &m[i]);
    }
    if (!exec_inbound_empty()) {
        if (!uv_is_active((uv_handle_t *)&S.exec_idle)) uv_idle_start(&S.exec_idle, exec_on_idle);
    } else if (uv_is_active((uv_handle_t *)&S.exec_idle)) {
        uv_idle_stop(&S.exec_idle);
    }
}

static void exec_on_idle(uv_idle_t *h) {
    (void)h;
    exec_turn();
}

/* Hand the pushes gathered this turn to the I/O threads: one MSG_PUSH per
 * client, carrying its whole push_fill in push_xfer (no allocation). A client
 * whose previous hand-off has not come back (MSG_PUSHED) keeps gathering and
 * stays listed. Thread: executor. */
static void exec_push_flush(void) {
    IOL_ASSERT_EXECUTOR();
    uint32_t i = 0;
    while (i < S.npush) {
        iol_client_t *c = S.push_list[i];
        if (c->push_busy) {
            i++;
            continue;
        }
        exec_push_unlist(c); /* moves the last entry to i */
        if (c->push_fill.head) {
            iol_reply_move(&c->push_xfer, &c->push_fill);
            c->push_sent = c->push_xfer.bytes;
            c->push_busy = true;
            iol_chan_send(&c->thread->from_exec, c, MSG_PUSH);
        }
        if (c->push_close_after) {
            c->push_close_after = false;
            iol_chan_send(&c->thread->from_exec, c, MSG_KILL_AFTER);
        }
    }
}

static void exec_flush_all(void) {
    exec_push_flush();
    exec_repl_notify();
    /* A channel left with overflow is flushed again when its I/O thread has
     * made room and wakes this loop (iol_chan_recv), not on a timer. */
    for (int i = 1; i <= S.nthreads; i++)
        iol_chan_flush(&S.threads[i].from_exec);
}

static void exec_on_async(uv_async_t *h) {
    (void)h;
    exec_turn();
}

/* Before the main loop may block: send what the turns produced, then either
 * sleep (announced, see ring.h) or, when a ring has messages, keep the loop
 * from blocking so that the next turn takes them (exec_idle). */
static void exec_on_prepare(uv_prepare_t *h) {
    (void)h;
    exec_flush_all();
    if (uv_is_active((uv_handle_t *)&S.exec_idle)) return; /* polls without blocking */
    iol_wake_consumer_will_sleep(&S.exec_wake);
    if (!exec_inbound_empty()) {
        iol_wake_consumer_awake(&S.exec_wake);
        uv_idle_start(&S.exec_idle, exec_on_idle);
    }
}

static void exec_on_check(uv_check_t *h) {
    iol_wake_consumer_awake(&S.exec_wake);
}

/* ---------------------------------------------------------------- public */

/* Close h if an init call registered it with its loop (a failed init leaves
 * the zeroed handle unregistered: loop stays NULL). */
static void close_if_inited(uv_handle_t *h) {
    if (h->loop && !uv_is_closing(h)) uv_close(h, NULL);
}

/* Undo a thread_init that failed half-way: close every handle it made and,
 * for a loop of its own, run the close callbacks and close the loop. Thread:
 * main, before iol_start. */
static void thread_undo(iol_thread_t *t) {
    close_if_inited((uv_handle_t *)&t->idle_timer);
    close_if_inited((uv_handle_t *)&t->push_prepare);
    close_if_inited((uv_handle_t *)&t->repl_idle);
    close_if_inited((uv_handle_t *)&t->async);
    close_if_inited((uv_handle_t *)&t->prepare);
    close_if_inited((uv_handle_t *)&t->check);
    if (t->loop == &t->own_loop) {
        uv_run(t->loop, UV_RUN_DEFAULT);
        uv_loop_close(t->loop);
    }
    t->loop = NULL;
}

static int thread_init(iol_thread_t *t, int index, uv_loop_t *loop) {
    memset(t, 0, sizeof(*t));
    t->index = index;
    t->limits = S.limits;
    rlimits_from(&t->rlimits, &S.limits);
    int err;
    if (!loop) {
        err = uv_loop_init(&t->own_loop);
        if (err) return err;
        loop = &t->own_loop;
    }
    t->loop = loop;
    if ((err = uv_timer_init(loop, &t->idle_timer))) goto fail;
    t->idle_timer.data = t;
    if ((err = uv_idle_init(loop, &t->repl_idle))) goto fail;
    t->repl_idle.data = t;
    if ((err = uv_timer_start(&t->idle_timer, io_on_idle_timer, 1000, 1000))) goto fail;
    uv_unref((uv_handle_t *)&t->idle_timer);
    if (index == 0) {
        if (S.nthreads == 0) {
            if ((err = uv_prepare_init(loop, &t->push_prepare))) goto fail;
            t->push_prepare.data = t;
            if ((err = uv_prepare_start(&t->push_prepare, io_on_push_prepare))) goto fail;
        }
        return 0;
    }
    if ((err = uv_async_init(loop, &t->async, io_on_async))) goto fail;
    t->async.data = t;
    if ((err = uv_prepare_init(loop, &t->prepare))) goto fail;
    t->prepare.data = t;
    if ((err = uv_prepare_start(&t->prepare, io_on_prepare))) goto fail;
    if ((err = uv_check_init(loop, &t->check))) goto fail;
    t->check.data = t;
    if ((err = uv_check_start(&t->check, io_on_check))) goto fail;
    if ((err = iol_chan_init(&t->from_exec, RING_CAPACITY, &t->wake, &t->async, &S.exec_async)))
        goto fail;
    if ((err = iol_chan_init(&t->to_exec, RING_CAPACITY, &S.exec_wake, &S.exec_async, &t->async))) {
        iol_chan_destroy(&t->from_exec);
        goto fail;
    }
    return 0;
fail:
    thread_undo(t);
    return err;
}

int iol_init(int nthreads, const iol_hooks_t *hooks, const iol_limits_t *limits) {
    return iol__init_loop(uv_default_loop(), nthreads, hooks, limits);
}

uv_loop_t *iol__main_loop(void) {
    return S.main_loop ? S.main_loop : uv_default_loop();
}

int iol__init_loop(uv_loop_t *main_loop, int nthreads, const iol_hooks_t *hooks,
                   const iol_limits_t *limits) {
    memset(&S, 0, sizeof(S));
    S.main_loop = main_loop;
    iol__listener_set_loop(main_loop, iol__accepted);
    S.nthreads = nthreads;
    S.hooks = *hooks;
    S.limits = *limits;
    S.threads = kl_calloc((size_t)nthreads + 1, sizeof(iol_thread_t));
    int err = 0, inited = 0;
    cur_thread = &S.threads[0];
    cur_is_executor = true;
    if (nthreads > 0) {
        if ((err = uv_async_init(main_loop, &S.exec_async, exec_on_async))) goto fail;
        if ((err = uv_prepare_init(main_loop, &S.exec_prepare))) goto fail;
        if ((err = uv_prepare_start(&S.exec_prepare, exec_on_prepare))) goto fail;
        if ((err = uv_check_init(main_loop, &S.exec_check))) goto fail;
        if ((err = uv_check_start(&S.exec_check, exec_on_check))) goto fail;
        if ((err = uv_idle_init(main_loop, &S.exec_idle))) goto fail;
    }
    if ((err = thread_init(&S.threads[0], 0, main_loop))) goto fail;
    inited = 1;
    atomic_store(&S.threads[0].tid, (long)syscall(SYS_gettid));
    for (int i = 1; i <= nthreads; i++) {
        if ((err = thread_init(&S.threads[i], i, NULL))) goto fail;
        inited++;
    }
    return 0;
fail:
    /* Leave nothing half made: threads that were set up are taken down again,
     * the failed one undid itself, and the executor's handles are closed (the
     * main loop runs their close callbacks; S.threads stays allocated until
     * then, reachable from S). */
    kl_warning("Initialising the I/O threads: %s", uv_strerror(err));
    for (int i = 0; i < inited; i++) {
        iol_thread_t *t = &S.threads[i];
        if (i > 0) {
            iol_chan_destroy(&t->from_exec);
            iol_chan_destroy(&t->to_exec);
        }
        thread_undo(t);
    }
    close_if_inited((uv_handle_t *)&S.exec_async);
    close_if_inited((uv_handle_t *)&S.exec_prepare);
    close_if_inited((uv_handle_t *)&S.exec_check);
    close_if_inited((uv_handle_t *)&S.exec_idle);
    return err;
}

int iol_start(void) {
    for (int i = 1; i <= S.nthreads; i++) {
        int err = uv_thread_create(&S.threads[i].thread, io_thread_main, &S.threads[i]);
        if (err) return err;
    }
    S.started = true;
    return 0;
}

void iol_set_limits(const iol_limits_t *limits) {
    IOL_ASSERT_EXECUTOR();
    S.limits = *limits;
    rlimits_from(&S.threads[0].rlimits, limits);
    S.threads[0].limits = *limits;
    for (int i = 1; i <= S.nthreads; i++) {
        iol_limits_t *l = kl_malloc(sizeof(*l));
        *l = *limits;
        iol_chan_send(&S.threads[i].from_exec, l, MSG_LIMITS);
    }
}

/* Pick the I/O thread with the fewest clients. Thread: executor. */
static iol_thread_t *pick_thread(void) {
    if (!threaded()) return &S.threads[0];
    iol_thread_t *best = &S.threads[1];
    uint64_t best_n = atomic_load_explicit(&best->st_clients, memory_order_relaxed);
    for (int i = 2; i <= S.nthreads; i++) {
        uint64_t n = atomic_load_explicit(&S.threads[i].st_clients, memory_order_relaxed);
        if (n < best_n) {
            best = &S.threads[i];
            best_n = n;
        }
    }
    return best;
}

void iol__accepted(int fd, int kind, const char *peer, const char *local, int port) {
    IOL_ASSERT_EXECUTOR();
    const char *reject = NULL;
    iol_client_t *c = S.hooks.accept(fd, kind, peer, local, port, &reject);
    if (!c) {
        if (reject && kind != CONN_KIND_TLS) {
            ssize_t w = write(fd, reject, strlen(reject));
            (void)w;
        }
        close(fd);
        return;
    }
    iol_thread_t *t = pick_thread();
    c->thread = t;
    c->fd = fd;
    c->kind = (uint8_t)kind;
    c->listener_port = port;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    snprintf(c->local, sizeof(c->local), "%s", local);
    resp_parser_init(&c->parser);
    c->parser.auth_required = c->unauth_limits;
    resp_batch_init(&c->batches[0]);
    resp_batch_init(&c->batches[1]);
    c->filling = &c->batches[0];
    c->exec_batch = &c->batches[1];
    iol_reply_init(&c->out);
    iol_reply_init(&c->reply);
    int64_t now = now_ms(S.main_loop);
    c->ctime_ms = now;
    atomic_store_explicit(&c->last_io_ms, now, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->st_clients, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->st_accepts, 1, memory_order_relaxed);
    if (!threaded()) {
        io_attach(t, c);
        return;
    }
    /* The channel's release store publishes every field set above. */
    iol_chan_send(&t->from_exec, c, MSG_ATTACH);
}

void iol_client_kill(iol_client_t *c, bool after_reply) {
    if (!c->thread) { /* detached (iol.h): its maker sees the flags */
        c->hand_flags |= after_reply ? IOL_HAND_CLOSE_AFTER_REPLY : IOL_HAND_CLOSE_NOW;
        return;
    }
    IOL_ASSERT_EXECUTOR();
    if (iol_client_held(c)) {
        c->hand_flags |= after_reply ? IOL_HAND_CLOSE_AFTER_REPLY : IOL_HAND_CLOSE_NOW;
        c->push_dead = true; /* nothing more is gathered for it */
        return;
    }
    if (!threaded()) {
        if (after_reply) {
            if (!(c->io_flags & IOF_CLOSING)) {
                c->io_flags |= IOF_CLOSE_AFTER_WRITE;
                io_flush(c);
            }
        } else {
            io_close(c);
        }
        return;
    }
    c->push_dead = true;
    if (after_reply && c->push_fill.head) {
        /* Gathered pushes are "queued" output: they go first, then the
         * close (exec_push_flush). */
        c->push_close_after = true;
        return;
    }
    exec_push_forget(c);
    iol_chan_send(&c->thread->from_exec, c, after_reply ? MSG_KILL_AFTER : MSG_KILL);
}

bool iol_client_held(const iol_client_t *c) {
    if (c->thread) IOL_ASSERT_EXECUTOR(); /* a detached client is its maker's */
    return c->exec_held;
}

void iol_client_release(iol_client_t *c) {
    if (!c->thread) { /* detached (iol.h): the batch's owner takes it back */
        c->exec_held = false;
        return;
    }
    IOL_ASSERT_EXECUTOR();
    if (!c->exec_held) return;
    exec_note_class(c);
    exec_fold_pushes(c); /* what was pushed while parked precedes the rest */
    c->exec_held = false;
    if (!threaded()) {
        io_on_return(c);
        exec_repl_after_return(c);
        return;
    }
    iol_chan_send(&c->thread->from_exec, c, MSG_RETURN);
    exec_repl_after_return(c);
}

void iol_client_push(iol_client_t *c, iol_reply_t *r) {
    if (!c->thread || iol_client_held(c)) { /* held, or detached (iol.h) */
        iol_reply_move(&c->reply, r);
        return;
    }
    iol_client_push_now(c, r);
}

/* Put c on the executor's push list (flushed in exec_push_flush). */
static void exec_push_list(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    if (c->push_idx) return;
    if (S.npush == S.push_cap) {
        S.push_cap = S.push_cap ? S.push_cap * 2 : 64;
        S.push_list = kl_realloc(S.push_list, S.push_cap * sizeof(*S.push_list));
    }
    S.push_list[S.npush++] = c;
    c->push_idx = S.npush;
}

static void exec_push_unlist(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    if (!c->push_idx) return;
    uint32_t i = c->push_idx - 1;
    iol_client_t *last = S.push_list[--S.npush];
    S.push_list[i] = last;
    last->push_idx = i + 1;
    c->push_idx = 0;
}

/* Drop what was gathered for c and take it off the push list (c is going
 * away). push_xfer is left alone: while push_busy it belongs to the I/O
 * thread, which drops it for a dead client. Thread: executor. */
static void exec_push_forget(iol_client_t *c) {
    IOL_ASSERT_EXECUTOR();
    iol_reply_free(&c->push_fill);
    exec_push_unlist(c);
    c->push_close_after = false;
}

/* Bytes of output queued for c that the executor can see: gathered, in
 * flight to its I/O thread, and waiting there (obuf_bytes, as of the I/O
 * thread's last write; the bytes of a hand-off count twice between that
 * write and MSG_PUSHED, which errs towards closing early, never late).
 * Thread: executor. */
static size_t exec_push_queued(const iol_client_t *c) {
    if (!threaded()) return io_out_pending(c);
    return c->push_fill.bytes + (c->push_busy ? c->push_sent : 0) +
           atomic_load_explicit(&c->obuf_bytes, memory_order_relaxed);
}

/* May n more bytes be pushed to c? No once c is being closed, or when they
 * would take its queued output to the hard limit of its class: then c is
 * killed here, at the producer, as Redis does (its checkClientOutputBuffer-
 * Limits), instead of queueing more. Thread: executor. */
static bool exec_push_admit(iol_client_t *c, size_t n) {
    IOL_ASSERT_EXECUTOR();
    if (c->push_dead) return false;
    if (!threaded() && (c->io_flags & (IOF_CLOSING | IOF_DEAD | IOF_CONN_CLOSED))) return false;
    const iol_obuf_limit_t *l = c->exec_pubsub ? &S.limits.obuf_pubsub : &S.limits.obuf_normal;
    if (!l->hard || exec_push_queued(c) + n < l->hard) return true;
    c->push_dead = true;
    kl_warning("Client id=%llu addr=%s closed for overcoming of output buffer limits.",
               (unsigned long long)c->id, c->peer);
    atomic_fetch_add_explicit(&c->thread->st_obuf_kills, 1, memory_order_relaxed);
    if (!threaded()) {
        /* Closed at the batched flush, not under the caller's feet (a
         * publish walks the subscriber lists). */
        c->io_flags |= IOF_PUSH_OVER;
        io_pend(c);
        return false;
    }
    exec_push_forget(c);
    /* MSG_KILL even for a parked client: its thread closes it and says GONE,
     * which releases the parked batch, as when the peer disconnects. */
    iol_chan_send(&c->thread->from_exec, c, MSG_KILL);
    return false;
}

void iol_client_push_now(iol_client_t *c, iol_reply_t *r) {
    if (!c->thread) { /* detached (iol.h): the bytes join its reply chain */
        iol_reply_move(&c->reply, r);
        return;
    }
    IOL_ASSERT_EXECUTOR();
    if (!exec_push_admit(c, r->bytes)) {
        iol_reply_free(r);
        return;
    }
    if (!threaded()) {
        io_push(c, r);
        return;
    }
    iol_reply_move(&c->push_fill, r);
    exec_push_list(c);
}

char *iol_client_push_reserve(iol_client_t *c, size_t n) {
    if (!c->thread) return iol_reply_reserve(&c->reply, n); /* detached (iol.h) */
    IOL_ASSERT_EXECUTOR();
    if (!exec_push_admit(c, n)) return NULL;
    return iol_reply_reserve(threaded() ? &c->push_fill : &c->out, n);
}

void iol_client_push_commit(iol_client_t *c, size_t n) {
    if (!c->thread) { /* detached (iol.h) */
        iol_reply_commit(&c->reply, n);
        return;
    }
    IOL_ASSERT_EXECUTOR();
    if (!threaded()) {
        iol_reply_commit(&c->out, n);
        io_pend(c);
        return;
    }
    iol_reply_commit(&c->push_fill, n);
    exec_push_list(c);
}

/* Per-thread baselines for CONFIG RESETSTAT (executor-only memory). */
static iol_thread_stats_t *stats_base;

static void thread_stats_raw(int index, iol_thread_stats_t *out);

void iol_thread_stats(int index, iol_thread_stats_t *out) {
    thread_stats_raw(index, out);
    if (!stats_base) return;
    const iol_thread_stats_t *b = &stats_base[index];
    out->reads -= b->reads;
    out->writes -= b->writes;
    out->commands -= b->commands;
    out->bytes_in -= b->bytes_in;
    out->bytes_out -= b->bytes_out;
    out->accepts -= b->accepts;
    out->handshakes -= b->handshakes;
    out->handshake_failures -= b->handshake_failures;
    out->obuf_disconnects -= b->obuf_disconnects;
    out->qbuf_disconnects -= b->qbuf_disconnects;
    out->repl_bytes_out -= b->repl_bytes_out;
}

void iol_thread_stats_reset(void) {
    if (!stats_base) stats_base = kl_calloc((size_t)S.nthreads + 1, sizeof(*stats_base));
    for (int i = 0; i <= S.nthreads; i++)
        thread_stats_raw(i, &stats_base[i]);
}

static void thread_stats_raw(int index, iol_thread_stats_t *out) {
    iol_thread_t *t = &S.threads[index];
    out->clients = atomic_load_explicit(&t->st_clients, memory_order_relaxed);
    out->reads = atomic_load_explicit(&t->st_reads, memory_order_relaxed);
    out->writes = atomic_load_explicit(&t->st_writes, memory_order_relaxed);
    out->commands = atomic_load_explicit(&t->st_commands, memory_order_relaxed);
    out->bytes_in = atomic_load_explicit(&t->st_in, memory_order_relaxed);
    out->bytes_out = atomic_load_explicit(&t->st_out, memory_order_relaxed);
    out->accepts = atomic_load_explicit(&t->st_accepts, memory_order_relaxed);
    out->handshakes = atomic_load_explicit(&t->st_handshakes, memory_order_relaxed);
    out->handshake_failures = atomic_load_explicit(&t->st_handshake_failures, memory_order_relaxed);
    out->obuf_disconnects = atomic_load_explicit(&t->st_obuf_kills, memory_order_relaxed);
    out->qbuf_disconnects = atomic_load_explicit(&t->st_qbuf_kills, memory_order_relaxed);
    out->repl_bytes_out = atomic_load_explicit(&t->st_repl_out, memory_order_relaxed);
}

/* Accessors for link.c (iol_internal.h). */
iol_thread_t *iol__thread(int index) {
    return &S.threads[index];
}

int iol__thread_index(const iol_thread_t *t) {
    return t->index;
}

uv_loop_t *iol__thread_loop(iol_thread_t *t) {
    return t->loop;
}

void iol__send_to_exec(iol_thread_t *t, void *ptr, uint64_t kind) {
    iol_chan_send(&t->to_exec, ptr, kind);
}

void iol__send_to_thread(iol_thread_t *t, void *ptr, uint64_t kind) {
    iol_chan_send(&t->from_exec, ptr, kind);
}

long iol_thread_tid(int index) {
    return atomic_load_explicit(&S.threads[index].tid, memory_order_relaxed);
}

static void walk_close_cb(uv_handle_t *h, void *arg) {
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void iol_shutdown(void) {
    iol__links_shutdown_begin();
    if (threaded()) {
        exec_push_flush(); /* gathered pushes go out with the rest */
        for (int i = 1; i <= S.nthreads; i++) {
            iol_chan_send(&S.threads[i].from_exec, NULL, MSG_STOP);
            while (iol_chan_flush(&S.threads[i].from_exec))
                usleep(1000);
            uv_async_send(&S.threads[i].async);
        }
        for (int i = 1; i <= S.nthreads; i++) {
            if (S.started) uv_thread_join(&S.threads[i].thread);
        }
        /* The I/O threads are gone: the main thread owns everything now.
         * Settle what is still queued. Executor->thread messages first: a
         * PUSH for a client precedes the CLOSED that the thread may have
         * sent meanwhile, whose handling below frees the client. */
        for (int i = 1; i <= S.nthreads; i++) {
            iol_thread_t *t = &S.threads[i];
            cur_thread = t; /* we are its I/O thread now, for the owner checks */
            iol_msg_t m;
            while (iol_chan_recv(&t->from_exec, &m, 1)) {
                iol_client_t *c = m.ptr;
                if (m.arg == MSG_PUSH) {
                    iol_reply_free(&c->push_xfer);
                } else if (m.arg == MSG_LIMITS) {
                    kl_free(m.ptr);
                } else if (m.arg == MSG_FREE) {
                    S.hooks.free(c);
                } else if (m.arg == MSG_ATTACH) {
                    /* Never reached its thread: not on its client list. */
                    close(c->fd);
                    exec_push_forget(c);
                    S.hooks.closed(c);
                    S.hooks.free(c);
                } else if (m.arg >= IOL__MSG_LINK_FIRST) {
                    iol__link_settle_msg(m.ptr, m.arg);
                }
            }
            while (iol_chan_recv(&t->to_exec, &m, 1)) {
                iol_client_t *c = m.ptr;
                if (m.arg == MSG_CLOSED) {
                    exec_push_forget(c);
                    iol_reply_free(&c->push_xfer);
                    S.hooks.closed(c);
                    S.hooks.free(c);
                } else if (m.arg >= IOL__MSG_LINK_FIRST) {
                    iol__link_settle_msg(m.ptr, m.arg);
                }
            }
            while (t->clients) {
                iol_client_t *c = t->clients;
                t->clients = c->next;
                if (!(c->io_flags & IOF_CONN_CLOSED)) io_free_parts(c);
                exec_push_forget(c);
                iol_reply_free(&c->push_xfer);
                S.hooks.closed(c);
                S.hooks.free(c);
            }
            uv_walk(t->loop, walk_close_cb, NULL);
            uv_run(t->loop, UV_RUN_DEFAULT);
            uv_loop_close(t->loop);
            iol_chan_destroy(&t->to_exec);
            iol_chan_destroy(&t->from_exec);
        }
        cur_thread = &S.threads[0];
        uv_close((uv_handle_t *)&S.exec_async, NULL);
        uv_close((uv_handle_t *)&S.exec_prepare, NULL);
        uv_close((uv_handle_t *)&S.exec_check, NULL);
        uv_close((uv_handle_t *)&S.exec_idle, NULL);
        uv_close((uv_handle_t *)&S.threads[0].idle_timer, NULL);
        uv_close((uv_handle_t *)&S.threads[0].repl_idle, NULL);
    } else {
        iol_thread_t *t = &S.threads[0];
        uv_close((uv_handle_t *)&t->idle_timer, NULL);
        uv_close((uv_handle_t *)&t->push_prepare, NULL);
        uv_close((uv_handle_t *)&t->repl_idle, NULL);
        kl_free(t->ryield);
        t->ryield = NULL;
        t->nryield = t->ryield_cap = 0;
        io_flush_pushed(t);
        io_close_clients_for_stop(t);
        iol__links_stop(t);
        uv_run(S.main_loop, UV_RUN_NOWAIT);
        while (t->clients) {
            iol_client_t *c = t->clients;
            t->clients = c->next;
            if (!(c->io_flags & IOF_CONN_CLOSED)) io_free_parts(c);
            S.hooks.closed(c);
            S.hooks.free(c);
        }
    }
    iol__links_shutdown();
    conn__thread_free_read_buf();
    for (int i = 0; i <= S.nthreads; i++)
        kl_free(S.threads[i].pend);
    kl_free(stats_base);
    stats_base = NULL;
    kl_free(S.push_list);
    S.push_list = NULL;
    S.npush = S.push_cap = 0;
    kl_free(S.threads);
    S.threads = NULL;
}
