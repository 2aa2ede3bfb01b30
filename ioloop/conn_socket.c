/* TCP and Unix-socket connections: thin wrappers over uv_tcp_t / uv_pipe_t. */
#include "conn.h"
#include "iol_internal.h"

#include "kl_alloc.h"

#include <errno.h>
#include <unistd.h>

typedef struct conn_socket {
    conn_t base;
    union {
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    conn_read_fn on_read;
    conn_close_fn on_close;
    conn_write_fn on_write;
    void *write_ctx;
    uv_write_t wreq;
    int last_status;
} conn_socket_t;

static __thread char *thread_read_buf;

char *conn__thread_read_buf(void) {
    if (!thread_read_buf) thread_read_buf = kl_malloc(CONN_READ_BUF_SIZE);
    return thread_read_buf;
}

void conn__thread_free_read_buf(void) {
    kl_free(thread_read_buf);
    thread_read_buf = NULL;
}

static void sock_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    buf->base = conn__thread_read_buf();
    buf->len = CONN_READ_BUF_SIZE;
}

static void sock_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    conn_socket_t *c = s->data;
    if (nread == 0 || c->base.closing) return; /* EAGAIN */
    if (nread < 0) c->last_status = (int)nread;
    c->on_read(&c->base, nread, buf->base);
}

static int sock_accept(conn_t *base, conn_ready_fn ready) {
    ready(base, 0);
    return 0;
}

static int sock_read_start(conn_t *base, conn_read_fn fn) {
    conn_socket_t *c = (conn_socket_t *)base;
    c->on_read = fn;
    return uv_read_start(&c->h.stream, sock_alloc, sock_on_read);
}

static int sock_read_stop(conn_t *base) {
    conn_socket_t *c = (conn_socket_t *)base;
    return uv_read_stop(&c->h.stream);
}

static void sock_on_write(uv_write_t *req, int status) {
    conn_socket_t *c = req->data;
    if (status < 0) c->last_status = status;
    conn_write_fn fn = c->on_write;
    c->on_write = NULL;
    if (fn) fn(&c->base, status, c->write_ctx);
}

static int sock_writev(conn_t *base, const uv_buf_t *bufs, unsigned n, conn_write_fn fn,
                       void *ctx) {
    conn_socket_t *c = (conn_socket_t *)base;
    if (base->closing) return UV_ECANCELED;
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += bufs[i].len;
    int w = uv_try_write(&c->h.stream, bufs, n);
    if (w < 0 && w != UV_EAGAIN) {
        c->last_status = w;
        return w;
    }
    size_t done = w > 0 ? (size_t)w : 0;
    if (done == total) return 1;
    /* Skip what went out and queue the rest; libuv copies the uv_buf_t array. */
    unsigned i = 0;
    uv_buf_t rest[n];
    while (i < n && done >= bufs[i].len)
        done -= bufs[i++].len;
    unsigned m = 0;
    for (; i < n; i++) {
        rest[m] = bufs[i];
        if (done) {
            rest[m].base += done;
            rest[m].len -= done;
            done = 0;
        }
        m++;
    }
    c->on_write = fn;
    c->write_ctx = ctx;
    c->wreq.data = c;
    int err = uv_write(&c->wreq, &c->h.stream, rest, m, sock_on_write);
    if (err) {
        c->on_write = NULL;
        c->last_status = err;
        return err;
    }
    return 0;
}

static void sock_on_close(uv_handle_t *h) {
    conn_socket_t *c = h->data;
    if (c->on_close) c->on_close(&c->base);
    kl_free(c);
}

static void sock_close(conn_t *base, conn_close_fn fn) {
    conn_socket_t *c = (conn_socket_t *)base;
    if (base->closing) return;
    base->closing = 1;
    c->on_close = fn;
    uv_close((uv_handle_t *)&c->h.stream, sock_on_close);
}

static size_t sock_pending_out(const conn_t *base) {
    const conn_socket_t *c = (const conn_socket_t *)base;
    return c->h.stream.write_queue_size;
}

static const char *sock_last_error(const conn_t *base) {
    const conn_socket_t *c = (const conn_socket_t *)base;
    return c->last_status ? uv_strerror(c->last_status) : NULL;
}

/* TCP and Unix sockets behave the same at this level: one table serves both
 * (conn_t.kind tells them apart). */
static const conn_ops_t socket_ops = {
    .name = "socket",
    .accept = sock_accept,
    .read_start = sock_read_start,
    .read_stop = sock_read_stop,
    .writev = sock_writev,
    .close = sock_close,
    .pending_out = sock_pending_out,
    .last_error = sock_last_error,
};

/* Factories for types that live outside ioloop (tls/). Written once at
 * startup before any I/O thread starts; read-only afterwards. */
static conn_factory_fn factories[3];

void conn_register_type(int kind, conn_factory_fn factory) {
    factories[kind] = factory;
}

static void sock_failed_close_cb(uv_handle_t *h) {
    kl_free(h->data);
}

int conn__socket_open(uv_loop_t *loop, int fd, int kind, conn_t **out) {
    conn_socket_t *c = kl_calloc(1, sizeof(*c));
    int err =
        kind == CONN_KIND_UNIX ? uv_pipe_init(loop, &c->h.pipe, 0) : uv_tcp_init(loop, &c->h.tcp);
    if (err) {
        /* Never registered with the loop: plain free. */
        close(fd);
        kl_free(c);
        return err;
    }
    c->h.stream.data = c;
    err = kind == CONN_KIND_UNIX ? uv_pipe_open(&c->h.pipe, fd) : uv_tcp_open(&c->h.tcp, fd);
    if (err) {
        /* The handle is on the loop's handle list: it must be closed through
         * the loop, and freed only in the close callback. It did not take the
         * fd, so the fd is closed here (unless another handle of this loop
         * watches it: UV_EEXIST, a caller's bug that closing would spread). */
        if (err != UV_EEXIST) close(fd);
        uv_close((uv_handle_t *)&c->h.stream, sock_failed_close_cb);
        return err;
    }
    /* Best effort: the listener already set TCP_NODELAY on accepted sockets. */
    if (kind != CONN_KIND_UNIX) (void)uv_tcp_nodelay(&c->h.tcp, 1);
    c->base.ops = &socket_ops;
    c->base.loop = loop;
    c->base.kind = (uint8_t)kind;
    c->base.fd = fd;
    *out = &c->base;
    return 0;
}

int conn_create_socket(uv_loop_t *loop, int fd, int kind, conn_t **out) {
    if (kind != CONN_KIND_TCP && kind != CONN_KIND_UNIX) {
        if (kind < 0 || kind > CONN_KIND_TLS || !factories[kind]) {
            close(fd);
            return UV_EINVAL;
        }
        return factories[kind](loop, fd, out);
    }
    return conn__socket_open(loop, fd, kind, out);
}
