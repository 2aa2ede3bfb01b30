/* ioloop's internal interface: what its files (iothread.c, listener.c,
 * conn_socket.c) call in each other, and what its tests reach for. Only
 * ioloop/ and tests/unit/ioloop include this header; their meson targets
 * define KL_IOLOOP_INTERNAL, and anyone else gets a compile error. Every
 * prototype lives here once, so the compiler checks each definition and each
 * call against the same declaration. */
#ifndef IOL_INTERNAL_H
#define IOL_INTERNAL_H

#ifndef KL_IOLOOP_INTERNAL
#error "iol_internal.h is ioloop's own: include iol.h / conn.h instead"
#ifdef KL_DEBUG_ASSERTS
/* Debug builds only (see iothread.c): abort unless the calling thread owns
 * c (its I/O thread; the main thread with io-threads 1), or is the executor.
 * fn names the entry point in the message. Thread: any. */
void iol__check_owner(const iol_client_t *c, const char *fn);
void iol__check_executor(const char *fn);
#endif

#endif

#include "conn.h"
#include "iol.h"

#include <uv.h>

/* listener.c -> iothread.c: a socket the listener accepted (non-blocking,
 * options set). Registers the client with the server (accept hook) and
 * hands it to an I/O thread, or closes fd when the server refuses it.
 * Thread: executor (main). */
void iol__accepted(int fd, int kind, const char *peer, const char *local, int port);

/* iothread.c -> listener.c: the loop that listeners watch (the main loop).
 * Thread: main, from iol_init, before any listener exists. */
void iol__listener_set_loop(uv_loop_t *loop);

/* conn_socket.c: a plain TCP or Unix connection over an accepted socket;
 * conn_create_socket's worker for those kinds. Returns 0 or a UV error (fd
 * closed, nothing left on the loop). Thread: loop's. */
int conn__socket_open(uv_loop_t *loop, int fd, int kind, conn_t **out);

#ifdef KL_DEBUG_ASSERTS
/* Debug builds only (see iothread.c): abort unless the calling thread owns
 * c (its I/O thread; the main thread with io-threads 1), or is the executor.
 * fn names the entry point in the message. Thread: any. */
void iol__check_owner(const iol_client_t *c, const char *fn);
void iol__check_executor(const char *fn);
#endif

#endif
