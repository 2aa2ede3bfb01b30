/* The TLS connection type at the level of ioloop's connections (conn.h):
 * outgoing handshakes over a connected socket and what a finished handshake
 * tells. For ioloop-side code and tests; the executor uses tls.h.
 *
 * Thread: the connection's loop. */
#ifndef KL_TLS_CONN_H
#define KL_TLS_CONN_H

#include "conn.h"
#include "tls.h"

#include <stdbool.h>
#include <stddef.h>

/* Outgoing TLS connection over an already connected, non-blocking socket fd
 * on loop: verifies the peer against the CA and sends sni (may be NULL).
 * ready is called when the handshake completes or fails. Returns 0, or a UV
 * error after which fd is closed and nothing of the connection stays on the
 * loop once its close callbacks ran. Thread: loop's. */
int tls_conn_connect(uv_loop_t *loop, int fd, const char *sni, conn_ready_fn ready, conn_t **out);
/* After a handshake: the peer certificate's subject ("" if none), whether
 * the session was resumed, the protocol version name. */
const char *tls_conn_version(const conn_t *c);
bool tls_conn_resumed(const conn_t *c);
int tls_conn_peer_subject(const conn_t *c, char *buf, size_t len);
/* The server name the client sent (SNI), or "" if none. */
const char *tls_conn_server_name(const conn_t *c);

#endif
