/* The connection abstraction: one table of functions per connection type
 * (tcp, unix, tls), so that clients, replication and cluster links never know
 * which one they talk over.
 *
 * Contract, for every type:
 * - A connection lives on one libuv loop (its owning thread) for its whole
 *   life. Every function here is `Thread: owning loop`.
 * - Data arrives through the read handler as plaintext; the buffer passed to
 *   the handler is only valid during the call (it is a per-thread buffer).
 * - conn_writev() writes all of the buffers. It returns 1 when everything was
 *   handed over synchronously (the caller may reuse the buffers at once), 0
 *   when the write goes on in the background (the caller keeps the buffers
 *   alive until the write callback runs and issues no other write before it),
 *   or a negative UV error code.
 * - conn_close() is idempotent; the close callback runs on a later loop
 *   iteration, after which the conn_t is freed by the type.
 * - A type may need a handshake (TLS); reads are delivered only after it, and
 *   the accept handler reports its outcome. */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

typedef struct conn conn_t;

#include "conn_kind.h"

/* nread > 0: data; nread < 0: UV error or UV_EOF. Never called with 0. */
typedef void (*conn_read_fn)(conn_t *c, ssize_t nread, const char *buf);
typedef void (*conn_write_fn)(conn_t *c, int status, void *ctx);
typedef void (*conn_close_fn)(conn_t *c);
/* status 0: the connection is ready for data (handshake done); < 0: failed,
 * the connection must be closed. */
typedef void (*conn_ready_fn)(conn_t *c, int status);

typedef struct conn_ops {
    const char *name;
    /* Begin the connection's own set-up (TLS handshake) and report with ready. */
    int (*accept)(conn_t *c, conn_ready_fn ready);
    int (*read_start)(conn_t *c, conn_read_fn fn);
    int (*read_stop)(conn_t *c);
    int (*writev)(conn_t *c, const uv_buf_t *bufs, unsigned n, conn_write_fn fn, void *ctx);
    void (*close)(conn_t *c, conn_close_fn fn);
    /* Bytes the type itself holds for writing (e.g. TLS records not yet sent). */
    size_t (*pending_out)(const conn_t *c);
    /* Human-readable reason for the last failure, or NULL. */
    const char *(*last_error)(const conn_t *c);
} conn_ops_t;

/* The common header every type embeds first. Fields are owned by the loop. */
struct conn {
    const conn_ops_t *ops;
    uv_loop_t *loop;
    void *data;   /* the owner's pointer (the client) */
    uint8_t kind; /* enum conn_kind */
    uint8_t closing;
    int fd;
};

/* Wrap an accepted, non-blocking socket in a connection of the given kind on
 * loop. Returns 0 or a negative UV error; on error the fd is closed and a
 * handle that was already registered with the loop is closed through it
 * (uv_close, freed in its close callback), so nothing is left behind once the
 * loop ran its close callbacks. Thread: the loop's thread. */
int conn_create_socket(uv_loop_t *loop, int fd, int kind, conn_t **out);

static inline int conn_accept(conn_t *c, conn_ready_fn ready) {
    return c->ops->accept(c, ready);
}
static inline int conn_read_start(conn_t *c, conn_read_fn fn) {
    return c->ops->read_start(c, fn);
}
static inline int conn_read_stop(conn_t *c) {
    return c->ops->read_stop(c);
}
static inline int conn_writev(conn_t *c, const uv_buf_t *b, unsigned n, conn_write_fn fn,
                              void *ctx) {
    return c->ops->writev(c, b, n, fn, ctx);
}
static inline void conn_close(conn_t *c, conn_close_fn fn) {
    c->ops->close(c, fn);
}
static inline size_t conn_pending_out(const conn_t *c) {
    return c->ops->pending_out ? c->ops->pending_out(c) : 0;
}
static inline const char *conn_last_error(const conn_t *c) {
    return c->ops->last_error ? c->ops->last_error(c) : NULL;
}

/* Per-thread read buffer used by every connection type of that thread.
 * Thread: owning loop. */
#define CONN_READ_BUF_SIZE (64 * 1024)
char *conn__thread_read_buf(void);
/* Thread: the thread whose buffer it is, when it stops doing I/O. */
void conn__thread_free_read_buf(void);

/* A connection factory for types registered from outside ioloop (tls/). */
typedef int (*conn_factory_fn)(uv_loop_t *loop, int fd, conn_t **out);
void conn_register_type(int kind, conn_factory_fn factory);

#endif
