/* The server's view of a client: executor state, in the same allocation as
 * the client's I/O part (iol_client_t, opaque here: ioloop/iol.h's accessors
 * say what the executor may read or hand over, ioloop/THREADING.md when).
 *
 * Every field of client_t belongs to the executor thread for the client's
 * whole life; no I/O thread reads or writes it. */
#ifndef KL_CLIENT_H
#define KL_CLIENT_H

#include "iol.h"

#include <stdbool.h>
#include <stdint.h>

struct kdb;
struct kl_command;
struct multi_state;
struct watch_state;
struct block_state;

enum client_flag {
    CF_MONITOR = 1u << 0,
    CF_CLOSE_ASAP = 1u << 1, /* killed: run nothing more */
    CF_REPLY_OFF = 1u << 2,
    CF_REPLY_SKIP_NEXT = 1u << 3,
    CF_REPLY_SKIP = 1u << 4, /* skip replies of the current command */
    CF_NO_EVICT = 1u << 5,
    CF_PUBSUB = 1u << 6,
    CF_MULTI = 1u << 7,
    CF_CLOSE_AFTER_REPLY = 1u << 8,
    CF_NO_TOUCH = 1u << 9,
    /* Transactions and blocking (multi.c, blocking.c). */
    CF_DIRTY_CAS = 1u << 16,     /* a WATCHed key changed: the next EXEC fails */
    CF_DIRTY_EXEC = 1u << 17,    /* a command was rejected while queuing: EXECABORT */
    CF_BLOCKED = 1u << 18,       /* waiting on keys (BLPOP ...): its batch is parked */
    CF_DENY_BLOCKING = 1u << 19, /* running EXEC: blocking commands reply at once */
    CF_PAUSED = 1u << 20,        /* its batch waits for CLIENT PAUSE to end */
    /* Replication and AOF clients: an error replied to one of them is
     * "unexpected" (INFO unexpected_error_replies, reply.c). keyloom has no
     * replication or AOF loading yet, so no client carries these today. */
    CF_MASTER = 1u << 21,     /* our link to the master */
    CF_REPLICA = 1u << 22,    /* a replica's link to us */
    CF_AOF_LOADER = 1u << 23, /* the client that replays the AOF */
};

typedef struct client {
    iol_client_t *io;   /* the I/O part (iol_client_udata(io) == this client) */
    uint64_t id;        /* CLIENT ID, also iol_client_id(io) */
    iol_reply_t *reply; /* iol_client_reply(io): where replies are appended */
    int db_id;
    struct kdb *db;
    int resp; /* 2 or 3 */
    bool authenticated;
    uint32_t flags; /* enum client_flag */
    char *name;     /* CLIENT SETNAME, NULL if unset */
    char *lib_name, *lib_ver;
    uint32_t argc; /* the command being run */
    resp_arg_t *argv;
    const struct kl_command *cmd, *lastcmd;
    int64_t cmd_start_us;
    struct client *prev, *next; /* registry of all clients */
    uint64_t commands_done;
    struct multi_state *mstate; /* commands queued since MULTI (multi.c), NULL if none */
    struct watch_state *wstate; /* WATCHed keys (multi.c), NULL if none */
    struct block_state *bstate; /* keys and deadline while CF_BLOCKED (blocking.c) */
    /* Held after its batch until the AOF is durable up to gate_ticket
     * (appendfsync always; exec_set_reply_gate). */
    struct client *gate_next;
    uint64_t gate_ticket;
    bool gated;
    /* Replication's state for a replica attached to us (replication/
     * master.c), NULL for other clients. */
    struct repl_peer *peer;
    /* The replication offset after its last top-level command (WAIT). */
    long long woff;
} client_t;

static inline client_t *client_of(iol_client_t *io) {
    return (client_t *)iol_client_udata(io);
}

/* Registry (Thread: executor). */
client_t *clients_first(void);
size_t clients_count(void);
client_t *client_by_id(uint64_t id);
/* The query-buffer side of c (CLIENT LIST qbuf, qbuf-free, argv-mem): what
 * its I/O thread publishes, except argv-mem while the executor holds a
 * command of c, which it measures itself (client.c). */
typedef struct client_qbuf {
    size_t qbuf, room, argv;
} client_qbuf_t;
client_qbuf_t client_qbuf(const client_t *c);
/* Bytes c holds (struct, query buffer, arguments, output, MULTI queue), as
 * CLIENT LIST tot-mem reports it. Thread: executor. */
size_t client_memory(const client_t *c);
/* Output waiting for c (CLIENT LIST omem): queued replies, and for a
 * replica the stream it has yet to write. Thread: executor. */
size_t client_obuf(const client_t *c);
const char *client_type_name(const client_t *c);

#endif
