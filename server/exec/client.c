/* What the executor measures of a client for CLIENT LIST and MEMORY STATS:
 * its query-buffer side and the bytes it holds.
 *
 * Thread: executor (every function here). */
#include "client.h"

#include "iol_repl.h"
#include "multi.h"

/* The query-buffer side of a client (CLIENT LIST qbuf, qbuf-free, argv-mem):
 * the figures its I/O thread publishes, except argv-mem while the executor
 * holds a command of c (running or parked), whose arguments it then measures
 * itself, as Redis counts the argv of the command being run or blocked. */
client_qbuf_t client_qbuf(const client_t *c) {
    client_qbuf_t q;
    q.qbuf = iol_client_qbuf_bytes(c->io);
    q.room = iol_client_qbuf_free(c->io);
    q.argv = iol_client_argv_bytes(c->io);
    if (iol_client_held(c->io) && c->argc) {
        q.argv = 0;
        for (uint32_t i = 0; i < c->argc; i++)
            q.argv += c->argv[i].len;
    }
    return q;
}

/* Bytes c holds: the struct, its query buffer, the arguments being received
 * or run, its pending output and its queued MULTI commands (CLIENT LIST
 * tot-mem, MEMORY STATS clients.normal). Thread: executor. */
size_t client_obuf(const client_t *c) {
    size_t obuf = iol_client_obuf_bytes(c->io);
    /* A replica's share of the replication buffer it has yet to write. */
    if (c->flags & CF_REPLICA) obuf += (size_t)iol_client_repl_pending(c->io);
    return obuf;
}

size_t client_memory(const client_t *c) {
    client_qbuf_t q = client_qbuf(c);
    size_t obuf = client_obuf(c);
    return iol_client_io_size() + sizeof(*c) + q.qbuf + q.room + q.argv + obuf +
           multi_queued_mem(c);
}
