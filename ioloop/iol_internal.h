/* ioloop's internals: the client structure and what the files of ioloop/
 * share. Only ioloop/ and its tests include this header (the layering test
 * refuses it anywhere else).
 *
 * Thread: see each field and ioloop/THREADING.md. */
#ifndef IOL_INTERNAL_H
#define IOL_INTERNAL_H

#include "conn.h"
#include "iol.h"

#include <assert.h>

/* Ownership assertions: on in debug builds (meson defines KL_DEBUG_ASSERTS
 * for buildtype debug and debugoptimized), compiled out otherwise so the
 * release build pays nothing. */
#ifdef KL_DEBUG_ASSERTS
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
    char peer[64]; /* "ip:port" (IPv6 without brackets, as Redis) or "path:0"? see addr helpers */
    char local[64];
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
    int64_t obuf_soft_since;   /* when output first went over the soft limit, 0 if under */
    iol_client_t *prev, *next; /* the thread's client list */

    /* Hand-off area: owned by the holder of the batch (I/O thread or executor). */
    resp_batch_t *exec_batch;
    uint32_t exec_done; /* commands of exec_batch already run (IOL_HAND_MORE) */
    iol_reply_t reply;
    uint32_t hand_flags;
    /* Executor-only: the executor runs or parks this client's batch. */
    bool exec_held;

    /* Written by the I/O thread, read by anyone (CLIENT LIST, timeouts):
     * relaxed atomics, they publish nothing else. */
    _Atomic int64_t last_io_ms;
    _Atomic size_t qbuf_bytes;
    _Atomic size_t obuf_bytes;
    _Atomic uint64_t net_in, net_out;
};

#endif
