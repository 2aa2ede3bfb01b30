/* Outbound links: see iol_link.h for the API and THREADING.md ("Outbound
 * links") for the protocol. One link = one connection made by us, owned by
 * one I/O thread, cut into units by a framer (framing.h).
 *
 * Life on the I/O thread: RESOLVING (uv_getaddrinfo on the thread's loop) ->
 * CONNECTING (non-blocking connect, one address after the other, a uv_poll
 * for writability) -> HANDSHAKE (TLS only, through the security provider) ->
 * OPEN -> CLOSING (handles closing) -> DONE (I/O parts freed, CLOSED sent).
 * The executor answers CLOSED with FREE, after which the struct is freed; any
 * message the executor sent before FREE still finds it alive (one FIFO).
 *
 * With io-threads 1 the main loop is the I/O thread: executor -> link calls
 * act at once (they never run a hook), and link -> executor messages go
 * through a local queue drained by an idle handle, so hooks never run inside
 * the link's own callbacks and the order of events is the same as with I/O
 * threads. */
#include "iol_link.h"

#include "iol_internal.h"
#include "kl_alloc.h"
#include "ring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { LS_NEW = 0, LS_RESOLVING, LS_CONNECTING, LS_HANDSHAKE, LS_OPEN, LS_CLOSING, LS_DONE };

/* Executor -> I/O thread. */
enum {
    LM_CONNECT = IOL__MSG_LINK_FIRST,
    LM_WRITE,   /* link_write_t */
    LM_FRAMING, /* link_framing_t */
    LM_RESUME,
    LM_KICK, /* units were consumed: read again if stalled */
    LM_CLOSE,
    LM_CLOSE_AFTER,
    LM_FREE,
};
/* I/O thread -> executor. */
enum {
    LM_CONNECTED = IOL__MSG_LINK_FIRST + 32,
    LM_UNIT, /* iol_unit_t, its link in u->link */
    LM_CLOSED,
};

#define DEFAULT_MAX_INFLIGHT (4u << 20)

struct iol_link {
    /* Set by iol_connect() on the executor before the hand-off (the
     * channel's release store publishes them), read-only afterwards. */
    iol_thread_t *thread;
    int tindex;
    char *host, *sni, *verify_name;
    int port;
    iol_link_security_t sec;
    bool secure;
    uint64_t timeout_ms;
    uint64_t max_inflight;
    iol_link_hooks_t hooks;
    void *ud;

    /* Written by the I/O thread before it sends CONNECTED (peer) or CLOSED
     * (status, reason); read by the executor after receiving them. */
    char peer[64];
    int status;
    char reason[256];

    /* Owned by the I/O thread. */
    uint8_t state;
    bool stopped; /* a stopping unit went out: wait for resume / framing */
    bool stalled; /* max_inflight bytes of units wait for the executor */
    bool reading; /* conn_read_start is in force */
    bool close_after_write;
    bool has_next; /* next framing, applied at the next unit boundary */
    bool gai_active;
    bool poll_open, timer_open;
    bool listed;
    int pending; /* requests and handles whose callbacks are still to come */
    int poll_err;
    int last_err;
    int fd; /* connected socket not yet wrapped in conn, or -1 */
    uv_getaddrinfo_t gai;
    struct addrinfo *ai, *ai_next;
    uv_poll_t poll;
    uv_timer_t timer;
    conn_t *conn;
    iol_framer_t fr;
    iol_framing_t next;
    int next_sink; /* sink fd that comes with next, or -1 */
    int sink_fd;   /* payload chunks go to this fd (iol_link_set_framing_sink), or -1 */
    int sink_err;  /* errno of the first failed sink write */
    char *in;      /* input received but not framed yet (the link stopped or stalled) */
    size_t in_off, in_len, in_cap;
    iol_reply_t out;
    size_t writing; /* bytes of out in an unfinished write */
    uint64_t consumed;
    iol_link_t *prev, *nxt; /* the thread's list */

    /* Shared: inflight counts bytes of units sent to the executor and not
     * yet consumed (added by the I/O thread, subtracted by the executor);
     * stall_flag is the I/O thread's "I stopped for credit" sign. Both are
     * sequentially consistent: the pair of store-then-load on each side
     * makes a lost resume impossible (see link_deliver). out_bytes is a
     * relaxed gauge that publishes nothing. */
    _Atomic uint64_t inflight;
    _Atomic int stall_flag;
    _Atomic size_t out_bytes;

    /* Executor-only. */
    bool exec_closing; /* iol_link_close() was called: drop later units */
    bool exec_closed;  /* the closed hook ran */
    bool orphan;       /* shutdown: freed by the last outstanding callback */
};

typedef struct link_write {
    iol_link_t *l;
    iol_reply_t r;
} link_write_t;

typedef struct link_framing {
    iol_link_t *l;
    iol_framing_t f;
    int sink; /* -1: none */
} link_framing_t;

/* Per-thread link lists (index = thread index). Allocated by the executor
 * on the first iol_connect(), before any message that could make a thread
 * look at it; each entry is then touched by its thread only. */
typedef struct link_thread {
    iol_link_t *head;
    bool stopping;
} link_thread_t;

static struct {
    link_thread_t *threads;
    int nthreads; /* iol_nthreads() when threads was allocated */
    unsigned rr;  /* round-robin cursor (executor) */
    bool shutting_down;
    /* io-threads 1: link -> executor queue, drained by idle. */
    iol_msg_t *q;
    size_t qhead, qtail, qcap;
    uv_idle_t *idle;
} L;

static void link_fail(iol_link_t *l, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void link_process(iol_link_t *l, const char *buf, size_t n);
static void link_flush(iol_link_t *l);
static void link_maybe_finish(iol_link_t *l);
static void io_msg(iol_link_t *l, uint64_t kind, void *ptr);
static void exec_msg(void *ptr, uint64_t kind);
static void link_free(iol_link_t *l);
static void link_on_read(conn_t *c, ssize_t nread, const char *buf);
static void link_connected_fd(iol_link_t *l);
static void link_try_next(iol_link_t *l);

static inline bool single(void) {
    return iol_nthreads() == 0;
}

/* ------------------------------------------------- link -> executor */

static void fifo_on_idle(uv_idle_t *h) {
    /* Hooks may queue more (a resume frames buffered input): keep going
     * until the queue is empty; the credit bounds how much that can be. */
    while (L.qhead < L.qtail) {
        iol_msg_t m = L.q[L.qhead++];
        exec_msg(m.ptr, m.arg);
    }
    L.qhead = L.qtail = 0;
    uv_idle_stop(h);
}

/* Thread: the link's I/O thread. */
static void to_exec(iol_link_t *l, void *ptr, uint64_t kind) {
    if (!single()) {
        iol__send_to_exec(l->thread, ptr, kind);
        return;
    }
    if (L.qtail == L.qcap) {
        if (L.qhead) {
            memmove(L.q, L.q + L.qhead, (L.qtail - L.qhead) * sizeof(*L.q));
            L.qtail -= L.qhead;
            L.qhead = 0;
        }
        if (L.qtail == L.qcap) {
            L.qcap = L.qcap ? L.qcap * 2 : 64;
            L.q = kl_realloc(L.q, L.qcap * sizeof(*L.q));
        }
    }
    L.q[L.qtail++] = (iol_msg_t){ptr, kind};
    if (!L.idle) {
        L.idle = kl_malloc(sizeof(*L.idle));
        uv_idle_init(iol__thread_loop(l->thread), L.idle);
    }
    uv_idle_start(L.idle, fifo_on_idle);
}

/* ------------------------------------------------- executor -> link */

/* Thread: executor. */
static void to_io(iol_link_t *l, uint64_t kind, void *ptr) {
    if (single()) {
        io_msg(l, kind, ptr);
        return;
    }
    iol__send_to_thread(l->thread, ptr ? ptr : l, kind);
}

/* ---------------------------------------------------------- I/O side */

static link_thread_t *lthread(iol_link_t *l) {
    return &L.threads[l->tindex];
}

static void list_add(iol_link_t *l) {
    link_thread_t *lt = lthread(l);
    l->prev = NULL;
    l->nxt = lt->head;
    if (lt->head) lt->head->prev = l;
    lt->head = l;
    l->listed = true;
}

static void list_remove(iol_link_t *l) {
    if (!l->listed) return;
    link_thread_t *lt = lthread(l);
    if (l->prev)
        l->prev->nxt = l->nxt;
    else
        lt->head = l->nxt;
    if (l->nxt) l->nxt->prev = l->prev;
    l->prev = l->nxt = NULL;
    l->listed = false;
}

static void update_reading(iol_link_t *l) {
    bool want = l->state == LS_OPEN && !l->stopped && !l->stalled && !l->close_after_write;
    if (want == l->reading || !l->conn) return;
    if (want) {
        if (conn_read_start(l->conn, link_on_read) == 0) l->reading = true;
    } else {
        conn_read_stop(l->conn);
        l->reading = false;
    }
}

static void on_handle_closed(uv_handle_t *h) {
    iol_link_t *l = h->data;
    l->pending--;
    link_maybe_finish(l);
}

static void on_poll_closed(uv_handle_t *h) {
    iol_link_t *l = h->data;
    l->pending--;
    if (l->state == LS_CLOSING) {
        if (l->fd >= 0) close(l->fd);
        l->fd = -1;
        link_maybe_finish(l);
        return;
    }
    link_connected_fd(l);
}

static void on_conn_closed(conn_t *c) {
    iol_link_t *l = c->data;
    l->conn = NULL;
    l->pending--;
    link_maybe_finish(l);
}

/* Enter CLOSING with status and reason (the first failure wins): close
 * every handle; link_maybe_finish completes once the last callback ran. */
static void link_fail(iol_link_t *l, int status, const char *fmt, ...) {
    if (l->state >= LS_CLOSING) return;
    l->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->reason, sizeof(l->reason), fmt, ap);
    va_end(ap);
    l->state = LS_CLOSING;
    l->reading = false;
    if (l->timer_open) {
        uv_timer_stop(&l->timer);
        uv_close((uv_handle_t *)&l->timer, on_handle_closed);
        l->timer_open = false;
        l->pending++;
    }
    /* A running resolution cannot be cancelled; its callback still comes. */
    if (l->gai_active) uv_cancel((uv_req_t *)&l->gai);
    if (l->poll_open) {
        uv_close((uv_handle_t *)&l->poll, on_poll_closed); /* closes fd */
        l->poll_open = false;
        l->pending++;
    }
    if (l->conn && !l->conn->closing) {
        conn_close(l->conn, on_conn_closed);
        l->pending++;
    }
    link_maybe_finish(l);
}

/* Everything closed: free the I/O parts and report. Thread: owner. */
static void link_maybe_finish(iol_link_t *l) {
    if (l->state != LS_CLOSING || l->pending > 0) return;
    l->state = LS_DONE;
    iol_framer_free(&l->fr);
    kl_free(l->in);
    l->in = NULL;
    l->in_off = l->in_len = l->in_cap = 0;
    iol_reply_free(&l->out);
    atomic_store_explicit(&l->out_bytes, 0, memory_order_relaxed);
    if (l->ai) uv_freeaddrinfo(l->ai);
    l->ai = l->ai_next = NULL;
    if (l->orphan) {
        /* Shutdown already ran the closed hook. */
        list_remove(l);
        link_free(l);
        return;
    }
    /* While the thread stops, the link stays listed: iol__links_shutdown
     * runs its closed hook once the thread is gone. */
    if (lthread(l)->stopping) return;
    list_remove(l);
    to_exec(l, l, LM_CLOSED);
}

static void on_timeout(uv_timer_t *h) {
    iol_link_t *l = h->data;
    const char *phase = l->state == LS_RESOLVING    ? "resolving the name"
                        : l->state == LS_CONNECTING ? "connecting"
                                                    : "in the TLS handshake";
    link_fail(l, UV_ETIMEDOUT, "connecting to %s:%d timed out after %llu ms (%s)", l->host, l->port,
              (unsigned long long)l->timeout_ms, phase);
}

static void on_ready(conn_t *c, int status) {
    iol_link_t *l = c->data;
    if (!l->conn) l->conn = c; /* reported from inside the provider's connect */
    if (l->state != LS_HANDSHAKE) return;
    if (status < 0) {
        const char *why = conn_last_error(c);
        link_fail(l, UV_EPROTO, "TLS handshake with %s:%d failed: %s", l->host, l->port,
                  why ? why : uv_strerror(status));
        return;
    }
    l->state = LS_OPEN;
    if (l->timer_open) uv_timer_stop(&l->timer);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
            port = ntohs(s6->sin6_port);
        } else if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
            port = ntohs(s4->sin_port);
        }
    }
    snprintf(l->peer, sizeof(l->peer), "%s:%d", ip, port);
    to_exec(l, l, LM_CONNECTED);
    link_flush(l);
    if (l->state != LS_OPEN) return;
    update_reading(l);
    link_process(l, NULL, 0); /* a framing that needs no input (RAW_LEN 0) */
}

/* The connect attempt ended (its poll handle is closed): wrap the socket
 * in a connection, or try the next address. */
static void link_connected_fd(iol_link_t *l) {
    if (l->poll_err) {
        l->last_err = l->poll_err;
        close(l->fd);
        l->fd = -1;
        link_try_next(l);
        return;
    }
    int fd = l->fd;
    l->fd = -1;
    uv_loop_t *loop = iol__thread_loop(l->thread);
    l->state = LS_HANDSHAKE;
    int err;
    if (l->secure) {
        conn_t *c = NULL;
        err = l->sec.connect(l->sec.ctx, loop, fd, l->sni, l->verify_name, l, on_ready, &c);
        if (err == 0 && !l->conn) l->conn = c;
        if (err) {
            link_fail(l, err, "TLS connection to %s:%d could not start: %s", l->host, l->port,
                      uv_strerror(err));
        }
        return;
    }
    err = conn_create_socket(loop, fd, CONN_KIND_TCP, &l->conn);
    if (err) {
        l->conn = NULL;
        link_fail(l, err, "connecting to %s:%d failed: %s", l->host, l->port, uv_strerror(err));
        return;
    }
    l->conn->data = l;
    on_ready(l->conn, 0);
}

static void on_writable(uv_poll_t *h, int status, int events) {
    iol_link_t *l = h->data;
    /* libuv reports a socket error (POLLERR) as UV_EBADF: the socket's own
     * error says what happened (ECONNREFUSED, ...). */
    int so = 0;
    socklen_t sl = sizeof(so);
    if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0) so = errno;
    int err = so ? -so : status;
    l->poll_err = err;
    /* The fd moves into a connection (or is closed) once the poll handle
     * is closed: a socket is never watched by two handles. */
    uv_close((uv_handle_t *)&l->poll, on_poll_closed);
    l->poll_open = false;
    l->pending++;
}

/* Connect to the next resolved address. Thread: owner. */
static void link_try_next(iol_link_t *l) {
    while (l->ai_next) {
        struct addrinfo *a = l->ai_next;
        l->ai_next = a->ai_next;
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            l->last_err = -errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            l->last_err = -errno;
            close(fd);
            continue;
        }
        l->fd = fd;
        l->state = LS_CONNECTING;
        uv_poll_init_socket(iol__thread_loop(l->thread), &l->poll, fd);
        l->poll.data = l;
        l->poll_open = true;
        uv_poll_start(&l->poll, UV_WRITABLE, on_writable);
        return;
    }
    int err = l->last_err ? l->last_err : UV_EADDRNOTAVAIL;
    link_fail(l, err, "connecting to %s:%d failed: %s", l->host, l->port, uv_strerror(err));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    iol_link_t *l = req->data;
    l->gai_active = false;
    l->pending--;
    if (l->state != LS_RESOLVING) {
        if (res) uv_freeaddrinfo(res);
        link_maybe_finish(l);
        return;
    }
    if (status < 0) {
        link_fail(l, status, "cannot resolve '%s': %s", l->host, uv_strerror(status));
        return;
    }
    l->ai = l->ai_next = res;
    link_try_next(l);
}

/* LM_CONNECT: the link arrives on its thread. */
static void link_start(iol_link_t *l) {
    list_add(l);
    uv_loop_t *loop = iol__thread_loop(l->thread);
    l->state = LS_RESOLVING;
    if (lthread(l)->stopping) {
        link_fail(l, UV_ECANCELED, "shutting down");
        return;
    }
    if (l->timeout_ms) {
        /* The loop's clock may be stale (the executor ran for a while before
         * this call, with io-threads 1): the timeout counts from now. */
        uv_update_time(loop);
        uv_timer_init(loop, &l->timer);
        l->timer.data = l;
        l->timer_open = true;
        uv_timer_start(&l->timer, on_timeout, l->timeout_ms, 0);
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof(port), "%d", l->port);
    l->gai.data = l;
    int err = uv_getaddrinfo(loop, &l->gai, on_resolved, l->host, port, &hints);
    if (err) {
        link_fail(l, err, "cannot resolve '%s': %s", l->host, uv_strerror(err));
        return;
    }
    l->gai_active = true;
    l->pending++;
}

/* ---------------------------------------------------------- framing */

/* Hand a unit to the executor and take its credit; stall when too many
 * bytes wait there. Thread: owner. */
static void link_deliver(iol_link_t *l, iol_unit_t *u) {
    u->link = l;
    uint64_t cost = u->wire_len;
    uint64_t now = atomic_fetch_add_explicit(&l->inflight, cost, memory_order_relaxed) + cost;
    to_exec(l, u, LM_UNIT);
    if (now < l->max_inflight) return;
    /* Dekker-style pairing with exec_credit(): we store the flag, then read
     * the counter; the executor subtracts, then reads the flag. At least one
     * side sees the other's write, so either we see the credit and go on, or
     * the executor sees the flag and sends KICK (the exchange makes sure only
     * one side acts). */
    atomic_store_explicit(&l->stall_flag, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&l->inflight, memory_order_seq_cst) < l->max_inflight &&
        atomic_exchange_explicit(&l->stall_flag, 0, memory_order_seq_cst))
        return;
    l->stalled = true;
}

/* Switch to the framing (and sink) the executor asked for. Thread: owner. */
static void link_apply_next(iol_link_t *l) {
    iol_framer_free(&l->fr);
    iol_framer_init(&l->fr, &l->next);
    l->has_next = false;
    l->sink_fd = l->next_sink;
    l->sink_err = 0;
}

/* A payload chunk for the sink: write it to the sink's fd (and fsync after
 * the last one); the unit then only reports progress. The write blocks this
 * I/O thread for the time a local file write takes, never the executor.
 * Thread: owner. */
static void link_sink_chunk(iol_link_t *l, iol_unit_t *u) {
    u->sunk = true;
    const char *p = u->data;
    size_t left = u->len;
    while (left && !l->sink_err) {
        ssize_t w = write(l->sink_fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            l->sink_err = errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (u->last && !l->sink_err && fsync(l->sink_fd) != 0) l->sink_err = errno;
    u->sink_err = l->sink_err;
    if (u->last) l->sink_fd = -1; /* the executor may close it once it sees this unit */
}

/* Cut p[0..n) into units until it runs out, the link stops or stalls, or
 * the framer fails. Returns the bytes taken. Thread: owner. */
static size_t link_frame(iol_link_t *l, const char *p, size_t n) {
    size_t off = 0;
    bool first = true;
    while (l->state == LS_OPEN && !l->stopped && !l->stalled) {
        if (l->has_next && iol_framer_at_boundary(&l->fr)) link_apply_next(l);
        if (off == n && !first && !iol_framer_failed(&l->fr)) break;
        first = false;
        size_t used = 0;
        iol_unit_t *u = NULL;
        int rc = iol_framer_feed(&l->fr, p + off, n - off, &used, &u);
        off += used;
        l->consumed += used;
        if (rc == IOL_FRAMER_ERROR) {
            link_fail(l, UV_EPROTO, "protocol error from %s:%d: %s", l->host, l->port,
                      iol_framer_error(&l->fr));
            break;
        }
        if (rc == IOL_FRAMER_MORE) break;
        /* Bytes taken after the unit (a command partly received) are not
         * part of it. */
        u->offset = l->consumed - l->fr.since_unit - u->wire_len;
        if (u->kind == IOL_UNIT_PAYLOAD && l->sink_fd >= 0) link_sink_chunk(l, u);
        if ((l->fr.f.flags & IOL_FRAMING_STOP) || u->last) {
            u->stopped = true;
            l->stopped = true;
        }
        link_deliver(l, u);
    }
    return off;
}

static void in_append(iol_link_t *l, const char *p, size_t n) {
    if (l->in_off && l->in_off == l->in_len) l->in_off = l->in_len = 0;
    if (l->in_len + n > l->in_cap) {
        if (l->in_off) {
            memmove(l->in, l->in + l->in_off, l->in_len - l->in_off);
            l->in_len -= l->in_off;
            l->in_off = 0;
        }
        if (l->in_len + n > l->in_cap) {
            size_t cap = l->in_cap ? l->in_cap : 4096;
            while (cap < l->in_len + n)
                cap *= 2;
            l->in = kl_realloc(l->in, cap);
            l->in_cap = cap;
        }
    }
    memcpy(l->in + l->in_len, p, n);
    l->in_len += n;
}

/* New input (or none: a resume). Bytes held from before go first. */
static void link_process(iol_link_t *l, const char *buf, size_t n) {
    if (l->state != LS_OPEN) return;
    if (l->in_len > l->in_off || l->stopped || l->stalled) {
        if (n) in_append(l, buf, n);
        if (!l->stopped && !l->stalled) {
            size_t used = link_frame(l, l->in + l->in_off, l->in_len - l->in_off);
            l->in_off += used;
            if (l->in_off == l->in_len) {
                l->in_off = l->in_len = 0;
                if (l->in_cap > 256 * 1024) {
                    kl_free(l->in);
                    l->in = NULL;
                    l->in_cap = 0;
                }
            }
        }
    } else {
        size_t used = link_frame(l, n ? buf : "", n);
        if (used < n && l->state == LS_OPEN) in_append(l, buf + used, n - used);
    }
    update_reading(l);
}

static void link_on_read(conn_t *c, ssize_t nread, const char *buf) {
    iol_link_t *l = c->data;
    if (l->state != LS_OPEN) return;
    if (nread < 0) {
        if (nread == UV_EOF) {
            link_fail(l, UV_EOF, "connection closed by %s:%d", l->host, l->port);
        } else {
            const char *why = conn_last_error(c);
            link_fail(l, (int)nread, "reading from %s:%d failed: %s", l->host, l->port,
                      why ? why : uv_strerror((int)nread));
        }
        return;
    }
    link_process(l, buf, (size_t)nread);
}

/* ---------------------------------------------------------- output */

static void on_write(conn_t *c, int status, void *ctx) {
    iol_link_t *l = ctx;
    size_t n = l->writing;
    l->writing = 0;
    if (l->state != LS_OPEN) return;
    if (status < 0) {
        link_fail(l, status, "writing to %s:%d failed: %s", l->host, l->port, uv_strerror(status));
        return;
    }
    iol_reply_consume(&l->out, n);
    link_flush(l);
}

/* Write as much of out as the connection takes. Thread: owner. */
static void link_flush(iol_link_t *l) {
    while (l->state == LS_OPEN && !l->writing && l->out.bytes > 0) {
        uv_buf_t iov[64];
        unsigned n = 0;
        size_t total = 0;
        for (iol_rblock_t *b = l->out.head; b && n < 64; b = b->next) {
            if (!b->used) continue;
            iov[n++] = uv_buf_init(b->data, b->used);
            total += b->used;
        }
        if (n == 0) {
            iol_reply_consume(&l->out, 0);
            break;
        }
        l->writing = total;
        int rc = conn_writev(l->conn, iov, n, on_write, l);
        if (rc < 0) {
            l->writing = 0;
            link_fail(l, rc, "writing to %s:%d failed: %s", l->host, l->port, uv_strerror(rc));
            return;
        }
        if (rc == 0) break; /* on_write continues */
        l->writing = 0;
        iol_reply_consume(&l->out, total);
    }
    if (l->state != LS_OPEN) return;
    atomic_store_explicit(&l->out_bytes, l->out.bytes + conn_pending_out(l->conn),
                          memory_order_relaxed);
    if (l->close_after_write && !l->writing && l->out.bytes == 0) link_fail(l, 0, "closed");
}

/* ---------------------------------------------------------- messages */

/* An executor -> link message, on the link's thread. ptr is the carrier for
 * WRITE and FRAMING, else the link. */
static void io_msg(iol_link_t *l, uint64_t kind, void *ptr) {
    switch (kind) {
    case LM_CONNECT:
        link_start(l);
        break;
    case LM_WRITE: {
        link_write_t *w = ptr;
        if (l->state < LS_CLOSING && !l->close_after_write) {
            iol_reply_move(&l->out, &w->r);
            if (l->state == LS_OPEN) link_flush(l);
        }
        iol_reply_free(&w->r);
        kl_free(w);
        break;
    }
    case LM_FRAMING: {
        link_framing_t *fm = ptr;
        if (l->state < LS_CLOSING) {
            l->next = fm->f;
            l->next_sink = fm->sink;
            l->has_next = true;
            l->stopped = false;
            if (l->state == LS_OPEN) {
                link_process(l, NULL, 0);
            } else if (iol_framer_at_boundary(&l->fr)) {
                link_apply_next(l);
            }
        }
        kl_free(fm);
        break;
    }
    case LM_RESUME:
        if (l->state < LS_CLOSING && l->stopped) {
            l->stopped = false;
            link_process(l, NULL, 0);
        }
        break;
    case LM_KICK:
        if (l->state < LS_CLOSING && l->stalled) {
            l->stalled = false;
            link_process(l, NULL, 0);
        }
        break;
    case LM_CLOSE:
        link_fail(l, 0, "closed");
        break;
    case LM_CLOSE_AFTER:
        /* Before the connection is up, the queued bytes go out (and the link
         * closes) once it is: on_ready flushes. */
        if (l->state >= LS_CLOSING) break;
        l->close_after_write = true;
        if (l->state == LS_OPEN) {
            update_reading(l);
            link_flush(l);
        }
        break;
    case LM_FREE:
        link_free(l);
        break;
    }
}

void iol__link_io_msg(iol_thread_t *t, void *ptr, uint64_t kind) {
    (void)t;
    iol_link_t *l = ptr;
    if (kind == LM_WRITE) l = ((link_write_t *)ptr)->l;
    if (kind == LM_FRAMING) l = ((link_framing_t *)ptr)->l;
    io_msg(l, kind, ptr);
}

static void link_free(iol_link_t *l) {
    if (l->sec.release) l->sec.release(l->sec.ctx);
    kl_free(l->host);
    kl_free(l->sni);
    kl_free(l->verify_name);
    kl_free(l);
}

/* ---------------------------------------------------------- executor side */

/* Give back the credit of a consumed unit; wake the link if it stalled
 * and half of its budget is free again. Thread: executor. */
static void exec_credit(iol_link_t *l, uint64_t cost) {
    uint64_t left = atomic_fetch_sub_explicit(&l->inflight, cost, memory_order_seq_cst) - cost;
    if (left >= l->max_inflight / 2) return;
    if (atomic_load_explicit(&l->stall_flag, memory_order_seq_cst) &&
        atomic_exchange_explicit(&l->stall_flag, 0, memory_order_seq_cst))
        to_io(l, LM_KICK, NULL);
}

/* Run the closed hook once, then let the I/O side free the link. */
static void exec_closed(iol_link_t *l) {
    if (!l->exec_closed) {
        l->exec_closed = true;
        l->hooks.closed(l, l->ud, l->status, l->reason[0] ? l->reason : "closed");
    }
    if (L.shutting_down) {
        /* The I/O threads are gone (or, with io-threads 1, it is us). */
        if (l->state == LS_DONE || l->state == LS_NEW)
            link_free(l);
        else
            l->orphan = true;
        return;
    }
    if (single())
        link_free(l);
    else
        iol__send_to_thread(l->thread, l, LM_FREE);
}

static void exec_msg(void *ptr, uint64_t kind) {
    switch (kind) {
    case LM_CONNECTED: {
        iol_link_t *l = ptr;
        if (!l->exec_closing && l->hooks.connected) l->hooks.connected(l, l->ud);
        break;
    }
    case LM_UNIT: {
        iol_unit_t *u = ptr;
        iol_link_t *l = u->link;
        if (!l->exec_closing) l->hooks.unit(l, l->ud, u);
        exec_credit(l, u->wire_len);
        iol_unit_free(u);
        break;
    }
    case LM_CLOSED:
        exec_closed(ptr);
        break;
    }
}

void iol__link_exec_msg(void *ptr, uint64_t kind) {
    exec_msg(ptr, kind);
}

static char *dup_or_null(const char *s) {
    return s && s[0] ? kl_strdup(s) : NULL;
}

int iol_connect(const iol_link_opts_t *o, iol_link_t **out, const char **err) {
    const char *why = NULL;
    *out = NULL;
    if (L.shutting_down)
        why = "shutting down";
    else if (!o->host || !o->host[0])
        why = "no host";
    else if (o->port <= 0 || o->port > 65535)
        why = "port out of range";
    else if (!o->hooks || !o->hooks->unit || !o->hooks->closed)
        why = "the unit and closed hooks are required";
    else if (o->sec && !o->sec->connect)
        why = "the security provider has no connect function";
    else if (iol_framing_check(&o->framing, &why) != 0) {}
    if (why) {
        if (err) *err = why;
        if (o->sec && o->sec->release) o->sec->release(o->sec->ctx);
        return L.shutting_down ? UV_ECANCELED : UV_EINVAL;
    }
    int n = iol_nthreads();
    if (!L.threads) {
        L.threads = kl_calloc((size_t)n + 1, sizeof(*L.threads));
        L.nthreads = n;
    }
    iol_link_t *l = kl_calloc(1, sizeof(*l));
    l->tindex = n == 0 ? 0 : 1 + (o->thread >= 0 ? o->thread % n : (int)(L.rr++ % (unsigned)n));
    l->thread = iol__thread(l->tindex);
    l->host = kl_strdup(o->host);
    l->port = o->port;
    l->sni = dup_or_null(o->sni);
    l->verify_name = dup_or_null(o->verify_name);
    if (o->sec) {
        l->sec = *o->sec;
        l->secure = true;
    }
    l->timeout_ms = o->connect_timeout_ms;
    l->max_inflight = o->max_inflight ? o->max_inflight : DEFAULT_MAX_INFLIGHT;
    l->hooks = *o->hooks;
    l->ud = o->ud;
    l->fd = -1;
    l->sink_fd = l->next_sink = -1;
    iol_reply_init(&l->out);
    iol_framer_init(&l->fr, &o->framing);
    *out = l;
    /* The channel's release store publishes every field set above. */
    to_io(l, LM_CONNECT, NULL);
    return 0;
}

void iol_link_write(iol_link_t *l, const void *p, size_t n) {
    if (l->exec_closing || L.shutting_down || n == 0) return;
    iol_reply_t r;
    iol_reply_init(&r);
    iol_reply_append(&r, p, n);
    iol_link_write_reply(l, &r);
}

void iol_link_write_reply(iol_link_t *l, iol_reply_t *r) {
    if (l->exec_closing || L.shutting_down) {
        iol_reply_free(r);
        return;
    }
    link_write_t *w = kl_malloc(sizeof(*w));
    w->l = l;
    iol_reply_init(&w->r);
    iol_reply_move(&w->r, r);
    to_io(l, LM_WRITE, w);
}

int iol_link_set_framing(iol_link_t *l, const iol_framing_t *f) {
    const char *why;
    if (iol_framing_check(f, &why) != 0) return UV_EINVAL;
    if (l->exec_closing || L.shutting_down) return 0;
    link_framing_t *fm = kl_malloc(sizeof(*fm));
    fm->l = l;
    fm->f = *f;
    fm->sink = -1;
    to_io(l, LM_FRAMING, fm);
    return 0;
}

int iol_link_set_framing_sink(iol_link_t *l, const iol_framing_t *f, int fd) {
    const char *why;
    if (iol_framing_check(f, &why) != 0 || fd < 0 ||
        (f->kind != IOL_FRAMING_RAW_LEN && f->kind != IOL_FRAMING_RAW_EOF))
        return UV_EINVAL;
    if (l->exec_closing || L.shutting_down) return 0;
    link_framing_t *fm = kl_malloc(sizeof(*fm));
    fm->l = l;
    fm->f = *f;
    fm->sink = fd;
    to_io(l, LM_FRAMING, fm);
    return 0;
}

void iol_link_resume(iol_link_t *l) {
    if (l->exec_closing || L.shutting_down) return;
    to_io(l, LM_RESUME, NULL);
}

void iol_link_close(iol_link_t *l, bool after_write) {
    if (l->exec_closing || l->exec_closed || L.shutting_down) return;
    l->exec_closing = true;
    to_io(l, after_write ? LM_CLOSE_AFTER : LM_CLOSE, NULL);
}

const char *iol_link_peer(const iol_link_t *l) {
    return l->peer;
}

size_t iol_link_out_pending(const iol_link_t *l) {
    return atomic_load_explicit(&l->out_bytes, memory_order_relaxed);
}

int iol_link_thread(const iol_link_t *l) {
    return l->tindex;
}

/* ---------------------------------------------------------- shutdown */

void iol__links_shutdown_begin(void) {
    L.shutting_down = true;
}

void iol__links_stop(iol_thread_t *t) {
    if (!L.threads) return;
    link_thread_t *lt = &L.threads[iol__thread_index(t)];
    lt->stopping = true;
    for (iol_link_t *l = lt->head; l; l = l->nxt)
        link_fail(l, UV_ECANCELED, "shutting down");
}

void iol__link_settle_msg(void *ptr, uint64_t kind) {
    switch (kind) {
    case LM_UNIT:
        iol_unit_free(ptr);
        break;
    case LM_WRITE: {
        link_write_t *w = ptr;
        iol_reply_free(&w->r);
        kl_free(w);
        break;
    }
    case LM_FRAMING:
        kl_free(ptr);
        break;
    case LM_CONNECT: {
        /* Never reached its thread. */
        iol_link_t *l = ptr;
        l->status = UV_ECANCELED;
        snprintf(l->reason, sizeof(l->reason), "shutting down");
        iol_framer_free(&l->fr);
        exec_closed(l);
        break;
    }
    case LM_CLOSED:
        exec_closed(ptr);
        break;
    case LM_FREE:
        link_free(ptr);
        break;
    default:
        break;
    }
}

static void idle_closed(uv_handle_t *h) {
    kl_free(h);
}

void iol__links_shutdown(void) {
    L.shutting_down = true;
    while (L.qhead < L.qtail) {
        iol_msg_t m = L.q[L.qhead++];
        iol__link_settle_msg(m.ptr, m.arg);
    }
    kl_free(L.q);
    L.q = NULL;
    L.qhead = L.qtail = L.qcap = 0;
    if (L.idle) {
        uv_close((uv_handle_t *)L.idle, idle_closed);
        L.idle = NULL;
    }
    if (L.threads) {
        for (int i = 0; i <= L.nthreads; i++) {
            while (L.threads[i].head) {
                iol_link_t *l = L.threads[i].head;
                list_remove(l);
                exec_closed(l);
            }
        }
        kl_free(L.threads);
    }
    memset(&L, 0, sizeof(L));
}
