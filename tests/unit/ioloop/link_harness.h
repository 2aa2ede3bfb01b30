/* Test harness for outbound links (ioloop/link.c), shared by
 * tests/unit/ioloop/test_link.c, tests/unit/tls/test_tls_link.c and the
 * stress test. Header-only (static functions): each test program includes it
 * once, after <criterion/criterion.h> or a stand-in for the cr_assert macros.
 *
 * - A scripted loopback server on its own thread and uv loop: it listens on
 *   127.0.0.1 (a free port), and runs a script on every connection it accepts
 *   (write bytes in chunks with pauses, expect bytes, wait for EOF, close),
 *   through ioloop's own connection types (plain TCP, or TLS through the
 *   factory tls_init() registers).
 * - The executor side: the test thread runs the main loop, with the ioloop
 *   machinery started by iol_init (io-threads 1: 0 I/O threads; or with I/O
 *   threads) and a recorder of link events (connected, units, closed). */
#ifndef LINK_HARNESS_H
#define LINK_HARNESS_H

/* Not every program uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include "iol_internal.h" /* iol__init_loop: the test owns its loop */
#include "iol_link.h"
#include "kl_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

static uint64_t h_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ server */

enum { S_WRITE = 1, S_EXPECT, S_SLEEP, S_WAIT_EOF, S_CLOSE };

typedef struct step {
    int kind;
    const char *data;
    size_t len;
    size_t chunk;      /* S_WRITE: bytes per write (0: all at once) */
    unsigned delay_ms; /* S_WRITE: pause after each chunk; S_SLEEP: the pause */
} step_t;

#define WRITE(s)                                                                                   \
    { S_WRITE, s, sizeof(s) - 1, 0, 0 }
#define WRITE_CHUNKED(s, chunk, delay)                                                             \
    { S_WRITE, s, sizeof(s) - 1, chunk, delay }
#define WRITE_BUF(p, n, chunk, delay)                                                              \
    { S_WRITE, p, n, chunk, delay }
#define EXPECT(s)                                                                                  \
    { S_EXPECT, s, sizeof(s) - 1, 0, 0 }
#define SLEEP(ms)                                                                                  \
    { S_SLEEP, NULL, 0, 0, ms }
#define WAIT_EOF()                                                                                 \
    { S_WAIT_EOF, NULL, 0, 0, 0 }
#define CLOSE()                                                                                    \
    { S_CLOSE, NULL, 0, 0, 0 }
#define END()                                                                                      \
    { 0, NULL, 0, 0, 0 }

typedef struct server server_t;

typedef struct sconn {
    server_t *s;
    conn_t *c;
    int step;
    size_t off;
    bool writing, eof, closed, ready, sleeping;
    char *rbuf;
    size_t rlen, rcap;
    uv_timer_t timer;
    struct sconn *next;
} sconn_t;

struct server {
    int kind; /* CONN_KIND_TCP or CONN_KIND_TLS */
    const step_t *script;
    int lfd, port;
    uv_loop_t loop;
    uv_poll_t lpoll;
    uv_async_t stop;
    uv_thread_t thread;
    sconn_t *conns;
    /* Read by the test thread: atomics (they publish only themselves;
     * err is written before failed is set with release). */
    _Atomic int accepted, finished, failed;
    char err[256];
    /* Optional, on the server thread when a connection is ready (TLS: after
     * the handshake); it may write note, which the test reads after
     * server_stop() (the join orders it). */
    void (*ready_hook)(server_t *s, conn_t *c);
    char note[128];
};

static void srv_fail(server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void srv_fail(server_t *s, const char *fmt, ...) {
    if (atomic_load_explicit(&s->failed, memory_order_relaxed)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    atomic_store_explicit(&s->failed, 1, memory_order_release);
}

static void sc_advance(sconn_t *sc);

static void sc_timer_cb(uv_timer_t *t) {
    sconn_t *sc = t->data;
    sc->sleeping = false;
    sc_advance(sc);
}

static void sc_closed(conn_t *c) {
    sconn_t *sc = c->data;
    sc->closed = true;
    sc->c = NULL;
}

static void sc_finish(sconn_t *sc) {
    if (sc->c && !sc->c->closing) conn_close(sc->c, sc_closed);
    atomic_fetch_add_explicit(&sc->s->finished, 1, memory_order_relaxed);
    sc->step = -1;
}

static void sc_wrote(conn_t *c, int status, void *ctx) {
    sconn_t *sc = ctx;
    sc->writing = false;
    if (status < 0) {
        if (sc->step >= 0) srv_fail(sc->s, "server write failed: %s", uv_strerror(status));
        return;
    }
    sc_advance(sc);
}

static void sc_advance(sconn_t *sc) {
    server_t *s = sc->s;
    while (sc->step >= 0 && !sc->writing && !sc->sleeping && sc->c) {
        const step_t *st = &s->script[sc->step];
        switch (st->kind) {
        case 0:
            sc_finish(sc);
            return;
        case S_WRITE: {
            if (sc->off >= st->len) {
                sc->step++;
                sc->off = 0;
                break;
            }
            size_t n = st->chunk && st->chunk < st->len - sc->off ? st->chunk : st->len - sc->off;
            uv_buf_t b = uv_buf_init((char *)st->data + sc->off, (unsigned)n);
            sc->off += n;
            int rc = conn_writev(sc->c, &b, 1, sc_wrote, sc);
            if (rc < 0) {
                srv_fail(s, "server write: %s", uv_strerror(rc));
                sc_finish(sc);
                return;
            }
            if (rc == 0) sc->writing = true;
            if (st->delay_ms && sc->off < st->len) {
                sc->sleeping = true;
                uv_timer_start(&sc->timer, sc_timer_cb, st->delay_ms, 0);
            }
            break;
        }
        case S_EXPECT:
            if (sc->rlen < st->len) {
                if (sc->eof) {
                    srv_fail(s, "server: EOF after %zu of %zu expected bytes", sc->rlen, st->len);
                    sc_finish(sc);
                }
                return;
            }
            if (memcmp(sc->rbuf, st->data, st->len) != 0) {
                srv_fail(s, "server expected '%.*s', got '%.*s'", (int)st->len, st->data,
                         (int)st->len, sc->rbuf);
                sc_finish(sc);
                return;
            }
            memmove(sc->rbuf, sc->rbuf + st->len, sc->rlen - st->len);
            sc->rlen -= st->len;
            sc->step++;
            break;
        case S_SLEEP:
            sc->step++;
            sc->sleeping = true;
            uv_timer_start(&sc->timer, sc_timer_cb, st->delay_ms, 0);
            return;
        case S_WAIT_EOF:
            if (!sc->eof) return;
            sc->step++;
            break;
        case S_CLOSE:
            sc_finish(sc);
            return;
        }
    }
}

static void sc_read(conn_t *c, ssize_t n, const char *buf) {
    sconn_t *sc = c->data;
    if (n < 0) {
        sc->eof = true;
    } else {
        if (sc->rlen + (size_t)n > sc->rcap) {
            sc->rcap = (sc->rlen + (size_t)n) * 2;
            sc->rbuf = realloc(sc->rbuf, sc->rcap);
        }
        memcpy(sc->rbuf + sc->rlen, buf, (size_t)n);
        sc->rlen += (size_t)n;
    }
    sc_advance(sc);
}

static void sc_ready(conn_t *c, int status) {
    sconn_t *sc = c->data;
    if (status < 0) {
        /* A refused handshake is what some tests want; the client reports it. */
        sc_finish(sc);
        return;
    }
    sc->ready = true;
    if (sc->s->ready_hook) sc->s->ready_hook(sc->s, c);
    conn_read_start(c, sc_read);
    sc_advance(sc);
}

static void srv_on_listen(uv_poll_t *h, int status, int events) {
    server_t *s = h->data;
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    atomic_fetch_add_explicit(&s->accepted, 1, memory_order_relaxed);
    sconn_t *sc = calloc(1, sizeof(*sc));
    sc->s = s;
    uv_timer_init(&s->loop, &sc->timer);
    sc->timer.data = sc;
    sc->next = s->conns;
    s->conns = sc;
    if (conn_create_socket(&s->loop, fd, s->kind, &sc->c) != 0) {
        srv_fail(s, "server: conn_create_socket failed");
        sc->c = NULL;
        sc->step = -1;
        return;
    }
    sc->c->data = sc;
    conn_accept(sc->c, sc_ready);
}

static void srv_free_timer(uv_handle_t *h) {
    sconn_t *sc = h->data;
    free(sc->rbuf);
    free(sc);
}

static void srv_on_stop(uv_async_t *h) {
    server_t *s = h->data;
    uv_close((uv_handle_t *)&s->lpoll, NULL);
    uv_close((uv_handle_t *)&s->stop, NULL);
    for (sconn_t *sc = s->conns; sc; sc = sc->next) {
        if (sc->c && !sc->c->closing) conn_close(sc->c, sc_closed);
        uv_timer_stop(&sc->timer);
        sc->step = -1;
    }
}

static void srv_thread(void *arg) {
    server_t *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
    /* Every connection is closed: free the per-connection timers. */
    while (s->conns) {
        sconn_t *sc = s->conns;
        s->conns = sc->next;
        uv_close((uv_handle_t *)&sc->timer, srv_free_timer);
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    conn__thread_free_read_buf();
}

/* A listening socket on 127.0.0.1 with a free port; backlog as given. */
static int h_listen(int backlog, int *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (backlog >= 0) cr_assert_eq(listen(fd, backlog), 0);
    socklen_t al = sizeof(a);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void server_start_hooked(server_t *s, int kind, const step_t *script,
                                void (*ready_hook)(server_t *s, conn_t *c)) {
    memset(s, 0, sizeof(*s));
    s->ready_hook = ready_hook;
    s->kind = kind;
    s->script = script;
    s->lfd = h_listen(64, &s->port);
    fcntl(s->lfd, F_SETFL, fcntl(s->lfd, F_GETFL) | O_NONBLOCK);
    cr_assert_eq(uv_loop_init(&s->loop), 0);
    uv_poll_init_socket(&s->loop, &s->lpoll, s->lfd);
    s->lpoll.data = s;
    uv_poll_start(&s->lpoll, UV_READABLE, srv_on_listen);
    uv_async_init(&s->loop, &s->stop, srv_on_stop);
    s->stop.data = s;
    cr_assert_eq(uv_thread_create(&s->thread, srv_thread, s), 0);
}

static void server_start(server_t *s, int kind, const step_t *script) {
    server_start_hooked(s, kind, script, NULL);
}

/* Stop the server thread, close its loop, and fail the test if the script
 * did not go as planned. */
static void server_stop(server_t *s) {
    uv_async_send(&s->stop);
    uv_thread_join(&s->thread);
    cr_assert_eq(uv_loop_close(&s->loop), 0, "server loop not empty");
    close(s->lfd);
    if (atomic_load_explicit(&s->failed, memory_order_acquire))
        cr_assert_fail("server: %s", s->err);
}

/* ---------------------------------------------------------- executor */

static uv_loop_t h_loop;
static uv_timer_t h_tick;

static void h_tick_cb(uv_timer_t *t) {
    (void)t;
}

/* Run the main loop (the executor) until cond holds or ms passed. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        uint64_t deadline_ = h_now_ms() + (ms);                                                    \
        while (!(cond) && h_now_ms() < deadline_)                                                  \
            uv_run(&h_loop, UV_RUN_ONCE);                                                          \
        cr_assert((cond), "timed out after %d ms waiting for: %s", (int)(ms), #cond);              \
    } while (0)

static iol_client_t *h_accept(int fd, int kind, const char *peer, const char *local, int port,
                              const char **reject) {
    return NULL;
}
static bool h_dispatch(iol_client_t *c) {
    return true;
}
static void h_gone(iol_client_t *c) {}
static void h_closed(iol_client_t *c) {}
static void h_free(iol_client_t *c) {}

static void harness_start(int nthreads) {
    kl_log_set_file("/dev/null");
    cr_assert_eq(uv_loop_init(&h_loop), 0);
    static const iol_hooks_t hooks = {h_accept, h_dispatch, h_gone, h_closed, h_free};
    iol_limits_t lim;
    memset(&lim, 0, sizeof(lim));
    lim.proto_max_bulk_len = 512u << 20;
    lim.client_query_buffer_limit = 1u << 30;
    lim.out_high_water = 4u << 20;
    cr_assert_eq(iol__init_loop(&h_loop, nthreads, &hooks, &lim), 0);
    cr_assert_eq(iol_start(), 0);
    uv_timer_init(&h_loop, &h_tick);
    uv_timer_start(&h_tick, h_tick_cb, 5, 5);
}

static void h_list_handle(uv_handle_t *h, void *arg) {
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, " %s%s", uv_handle_type_name(uv_handle_get_type(h)),
             uv_is_closing(h) ? "(closing)" : "");
}

/* Shut ioloop down and prove the main loop closes with nothing left on it. */
static void harness_stop(void) {
    iol_shutdown();
    uv_close((uv_handle_t *)&h_tick, NULL);
    for (int i = 0; i < 1000 && uv_loop_alive(&h_loop); i++)
        uv_run(&h_loop, UV_RUN_ONCE);
    char left[512] = "";
    uv_walk(&h_loop, h_list_handle, left);
    cr_assert_eq(uv_loop_close(&h_loop), 0, "main loop not empty:%s", left);
}

/* ---------------------------------------------------------- recorder */

typedef struct rec rec_t;
/* Called after a unit was recorded; may switch framing, write, close. */
typedef void (*rec_step_fn)(rec_t *r, iol_link_t *l, const iol_unit_t *u);

struct rec {
    bool connected, closed;
    int status;
    char reason[256];
    int connected_before_units; /* sanity: connected came first */
    /* Units, as text: one line each ("+OK", "L:$123", "P:100", "F:2256",
     * "C:SET k v"), and every payload byte in order. */
    char log[1 << 16];
    size_t log_len;
    int units;
    char *payload;
    size_t payload_len, payload_cap;
    int payload_chunks;
    char *frames; /* frame bytes, back to back */
    size_t frames_len, frames_cap;
    uint64_t next_offset; /* each unit's offset must follow the previous one */
    bool offsets_ok;
    rec_step_fn step;
    void *arg;
    int closed_calls;
};

static void rec_logf(rec_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec_logf(rec_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->log + r->log_len, sizeof(r->log) - r->log_len, fmt, ap);
    va_end(ap);
    if (n > 0) r->log_len += (size_t)n;
    if (r->log_len >= sizeof(r->log)) r->log_len = sizeof(r->log) - 1;
}

/* A RESP value as compact text: +OK -ERR :1 $bulk _ #t ,1.5 (big =txt:x !err
 * *[..] %{k:v} ~{..} >[..], an attribute as |{..} before its value. */
static void rec_value(rec_t *r, const iol_resp_value_t *v) {
    if (v->attr) rec_value(r, v->attr);
    switch (v->type) {
    case IOL_RESP_STATUS:
    case IOL_RESP_ERROR:
    case IOL_RESP_BULK:
    case IOL_RESP_BIGNUM:
    case IOL_RESP_VERBATIM:
    case IOL_RESP_BLOB_ERROR:
    case IOL_RESP_DOUBLE:
        rec_logf(r, "%c%.*s", v->type, (int)v->len, v->str);
        break;
    case IOL_RESP_INTEGER:
        rec_logf(r, ":%lld", (long long)v->integer);
        break;
    case IOL_RESP_NULL:
        rec_logf(r, "_");
        break;
    case IOL_RESP_BOOL:
        rec_logf(r, "#%c", v->integer ? 't' : 'f');
        break;
    default: {
        bool map = v->type == IOL_RESP_MAP || v->type == IOL_RESP_ATTRIBUTE;
        const char *open = map || v->type == IOL_RESP_SET ? "{" : "[";
        rec_logf(r, "%c%s", v->type == IOL_RESP_ATTRIBUTE ? '|' : v->type, open);
        for (size_t i = 0; i < v->n; i++) {
            if (i) rec_logf(r, map && i % 2 ? ":" : ",");
            rec_value(r, &v->elems[i]);
        }
        rec_logf(r, "%s", open[0] == '{' ? "}" : "]");
    }
    }
}

static void grow_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n) {
    if (*len + n > *cap) {
        *cap = (*len + n) * 2 + 1024;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

static void rec_on_connected(iol_link_t *l, void *ud) {
    rec_t *r = ud;
    cr_assert_not(r->connected, "connected twice");
    cr_assert_not(r->closed);
    r->connected = true;
    r->connected_before_units = r->units == 0;
    cr_assert(strncmp(iol_link_peer(l), "127.0.0.1:", 10) == 0, "peer %s", iol_link_peer(l));
}

static void rec_on_unit(iol_link_t *l, void *ud, const iol_unit_t *u) {
    rec_t *r = ud;
    cr_assert(r->connected, "a unit before connected");
    cr_assert_not(r->closed, "a unit after closed");
    if (u->offset != r->next_offset) {
        if (r->offsets_ok)
            fprintf(stderr, "unit %d (kind %d): offset %llu, expected %llu\n", r->units, u->kind,
                    (unsigned long long)u->offset, (unsigned long long)r->next_offset);
        r->offsets_ok = false;
    }
    r->next_offset = u->offset + u->wire_len;
    r->units++;
    switch (u->kind) {
    case IOL_UNIT_REPLY:
        rec_value(r, u->reply);
        rec_logf(r, "\n");
        break;
    case IOL_UNIT_LINE:
        rec_logf(r, "L:%s\n", u->data);
        break;
    case IOL_UNIT_PAYLOAD:
        grow_append(&r->payload, &r->payload_len, &r->payload_cap, u->data, u->len);
        r->payload_chunks++;
        if (u->last) rec_logf(r, "P:%zu\n", r->payload_len);
        break;
    case IOL_UNIT_FRAME:
        grow_append(&r->frames, &r->frames_len, &r->frames_cap, u->data, u->len);
        rec_logf(r, "F:%zu\n", u->len);
        break;
    case IOL_UNIT_COMMANDS:
        for (uint32_t i = 0; i < u->batch.ncmds; i++) {
            rec_logf(r, "C:");
            const resp_arg_t *a = resp_batch_argv(&u->batch, i);
            for (uint32_t k = 0; k < resp_batch_argc(&u->batch, i); k++)
                rec_logf(r, "%s%s", k ? " " : "", a[k].ptr);
            rec_logf(r, "\n");
        }
        break;
    }
    if (r->step) r->step(r, l, u);
}

static void rec_on_closed(iol_link_t *l, void *ud, int status, const char *reason) {
    rec_t *r = ud;
    r->closed_calls++;
    cr_assert_not(r->closed, "closed twice");
    r->closed = true;
    r->status = status;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

static const iol_link_hooks_t rec_hooks = {rec_on_connected, rec_on_unit, rec_on_closed};

static void rec_init(rec_t *r) {
    memset(r, 0, sizeof(*r));
    r->offsets_ok = true;
}

static void rec_free(rec_t *r) {
    free(r->payload);
    free(r->frames);
}

static iol_link_opts_t link_opts(int port, rec_t *r, iol_framing_t f) {
    iol_link_opts_t o;
    memset(&o, 0, sizeof(o));
    o.host = "127.0.0.1";
    o.port = port;
    o.thread = -1;
    o.framing = f;
    o.hooks = &rec_hooks;
    o.ud = r;
    o.connect_timeout_ms = 10000;
    return o;
}

static iol_link_t *link_start(const iol_link_opts_t *o) {
    iol_link_t *l = NULL;
    const char *err = NULL;
    int rc = iol_connect(o, &l, &err);
    cr_assert_eq(rc, 0, "iol_connect: %s", err ? err : "?");
    cr_assert_not_null(l);
    return l;
}

#endif
