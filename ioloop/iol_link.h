/* Outbound links: connections keyloom opens itself (a replica to its master,
 * a cluster node to its peers), living on an I/O thread like clients, with a
 * framing the executor chooses and may change (ioloop/framing.h).
 *
 * The executor calls iol_connect(). The chosen I/O thread (with io-threads 1,
 * the main loop) resolves the name with uv_getaddrinfo on its own loop,
 * connects, runs the TLS client handshake when asked, then reads: the link's
 * framer cuts the stream into units that reach the executor's unit hook
 * through the same channels that carry client batches. The executor writes
 * with iol_link_write(), switches framing with iol_link_set_framing(), and
 * closes with iol_link_close(). Every outcome ends in exactly one call of the
 * closed hook, with 0 or a negative error and a reason for humans.
 *
 * Ownership (THREADING.md, "Outbound links"): the link belongs to its I/O
 * thread. The executor holds an iol_link_t pointer as a handle for the calls
 * below, valid from iol_connect() until its closed hook returns; it never
 * reads the link's fields. A unit is the executor's during the unit hook only.
 *
 * ioloop knows nothing of TLS: the caller passes a security provider (a
 * connect function and its context) that tls/ supplies with
 * tls_link_security(); ioloop only calls it with the connected socket. */
#ifndef IOL_LINK_H
#define IOL_LINK_H

#include "framing.h"
#include "replybuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct iol_link iol_link_t;

/* Executor hooks. They run on the executor thread, never inside an
 * iol_link_* call, and never after the closed hook. */
typedef struct iol_link_hooks {
    /* Connected (and the TLS handshake done): the link is reading. Optional. */
    void (*connected)(iol_link_t *l, void *ud);
    /* One unit. u is valid during the call only (copy what you keep). When
     * u->stopped the link reads nothing more until iol_link_resume() or
     * iol_link_set_framing(), which may be called from inside the hook. */
    void (*unit)(iol_link_t *l, void *ud, const iol_unit_t *u);
    /* The link is gone. status 0: closed by iol_link_close(); otherwise a
     * negative UV error code: UV_EAI_* (resolution), UV_ECONNREFUSED,
     * UV_ETIMEDOUT (connect_timeout_ms passed), UV_EPROTO (TLS handshake or
     * verification failed, or the framer refused the input), UV_EOF (the peer
     * closed), UV_ECANCELED (shutdown), or another socket error. reason is a
     * sentence for logs, valid during the call. The handle is invalid after
     * the hook returns. */
    void (*closed)(iol_link_t *l, void *ud, int status, const char *reason);
} iol_link_hooks_t;

/* Secures a connected socket: wraps fd (a connected, non-blocking TCP
 * socket) in a connection of the provider's type on loop, sets its data to
 * data, starts the client handshake (verifying the peer; sending sni when not
 * NULL; checking the certificate against verify_name when not NULL) and
 * reports with ready. On error it returns a negative UV code and closes fd.
 * Thread: the loop's. */
/* (Spelt with the struct tags of uv_loop_t, conn_t and conn_ready_fn so that
 * this header, which the executor's side includes, does not pull in libuv.) */
struct uv_loop_s;
struct conn;
typedef int (*iol_secure_connect_fn)(void *ctx, struct uv_loop_s *loop, int fd, const char *sni,
                                     const char *verify_name, void *data,
                                     void (*ready)(struct conn *c, int status), struct conn **out);

typedef struct iol_link_security {
    iol_secure_connect_fn connect;
    /* Drops the link's reference to ctx; called once, on any thread, when
     * the link is freed (or when iol_connect() fails). May be NULL. */
    void (*release)(void *ctx);
    void *ctx;
} iol_link_security_t;

typedef struct iol_link_opts {
    const char *host; /* name or address; resolved on the I/O thread */
    int port;
    /* NULL: plain TCP. Otherwise the link owns one reference to sec->ctx
     * from iol_connect() on, whether it succeeds or not. */
    const iol_link_security_t *sec;
    const char *sni;         /* TLS server name to send (a DNS name; an address
                                literal is not sent, as RFC 6066 says), or NULL */
    const char *verify_name; /* DNS name or IP the certificate must match, or NULL:
                                chain only (what Redis does for replication) */
    /* Resolution + connect + handshake must finish within this (0: no limit
     * of ours; the TLS handshake has its own). */
    uint64_t connect_timeout_ms;
    /* -1: round robin over the I/O threads; i >= 0: I/O thread i modulo their
     * number. With io-threads 1 the main loop is the only choice. */
    int thread;
    /* How the first bytes are cut (must pass iol_framing_check). */
    iol_framing_t framing;
    /* Stop reading while this many bytes of units wait for the executor
     * (0: 4 MB). */
    size_t max_inflight;
    const iol_link_hooks_t *hooks; /* copied */
    void *ud;                      /* passed to the hooks */
} iol_link_opts_t;

/* Start a link. Returns 0 with *out set (the outcome comes through the
 * hooks, never from inside this call), or UV_EINVAL with *err set to a static
 * reason when the options are unusable (nothing is started, no hook runs).
 * Thread: executor, after iol_init(). */
int iol_connect(const iol_link_opts_t *o, iol_link_t **out, const char **err);

/* Queue n bytes (copied) for writing; bytes written before the link is
 * connected go out once it is. Ignored after iol_link_close(). Thread:
 * executor. */
void iol_link_write(iol_link_t *l, const void *p, size_t n);
/* Same, moving the blocks of r (left empty). Thread: executor. */
void iol_link_write_reply(iol_link_t *l, iol_reply_t *r);
/* Use framing f from the next unit boundary on, and continue if the link
 * stopped. Exact when the link is stopped (a unit with stopped set, or before
 * the first byte): the next byte read is cut with f. While the link streams,
 * the switch happens at whatever boundary the I/O thread reaches first.
 * Returns UV_EINVAL (and changes nothing) when f fails iol_framing_check.
 * Thread: executor. */
int iol_link_set_framing(iol_link_t *l, const iol_framing_t *f);
/* iol_link_set_framing() for a payload framing (RAW_LEN or RAW_EOF) whose
 * chunks the link's I/O thread writes to fd itself (a replica's RDB transfer
 * to its temporary file: no file write on the executor); the last chunk is
 * followed by an fsync of fd. The executor then gets progress units
 * (sunk set, len bytes written, sink_err, last). The caller keeps owning fd:
 * it may close it after the unit with last set or after the closed hook, not
 * before. Returns UV_EINVAL when f is not a payload framing or fails
 * iol_framing_check. Thread: executor. */
int iol_link_set_framing_sink(iol_link_t *l, const iol_framing_t *f, int fd);
/* Continue after a stopped unit with the same framing. Thread: executor. */
void iol_link_resume(iol_link_t *l);
/* Close: after writing what is queued when after_write (before the
 * connection is up, too: the bytes go out once it is), else at once. The
 * closed hook follows (status 0 unless an error came first); the connected
 * hook and units still on their way are dropped. Thread: executor. */
void iol_link_close(iol_link_t *l, bool after_write);

/* "ip:port" of the peer: valid from the connected hook on. Thread: executor. */
const char *iol_link_peer(const iol_link_t *l);
/* Bytes queued for writing and not yet written (a relaxed gauge). Thread: any. */
size_t iol_link_out_pending(const iol_link_t *l);
/* The I/O thread that owns the link: 0 is the main loop (io-threads 1),
 * 1..n the I/O threads. Thread: any. */
int iol_link_thread(const iol_link_t *l);

#endif
