/* The replica side: our link to a master (REPLICAOF host port / the
 * replicaof directive), the handshake (PING, AUTH, REPLCONF, PSYNC), the
 * RDB transfer and its loading (repl-diskless-load), then the master's
 * stream applied through an internal client flagged CF_MASTER, whose bytes
 * go on into our backlog (repl_backlog_feed) for our own replicas.
 *
 * Everything that touches the socket runs on the link's I/O thread
 * (ioloop/iol_link.h); this module is the executor's state machine driven
 * by the link's units and hooks. Thread: executor (every function). */
#ifndef KL_REPLICA_H
#define KL_REPLICA_H

#include "cmd.h"
#include "kl_util.h"

#include <stdbool.h>
#include <stdint.h>

struct client;

/* Replica link states, as INFO/ROLE name them. */
enum replica_link_state {
    REPLICA_NONE = 0,   /* not a replica */
    REPLICA_CONNECT,    /* must connect (ROLE: "connect") */
    REPLICA_CONNECTING, /* link being set up / handshake ("connecting") */
    REPLICA_SYNC,       /* receiving the RDB ("sync") */
    REPLICA_CONNECTED,  /* streaming ("connected") */
};

/* REPLICAOF host port: become a replica of host:port (drops a link to an
 * earlier master; keeps the dataset until the sync replaces it). Returns 0,
 * or -1 with err set to the error reply text. */
int replica_set_master(const char *host, int port, char *err, size_t errlen);
/* REPLICAOF NO ONE: stop replicating and become a master (shifts the
 * replication ID so our replicas can continue). */
void replica_unset_master(void);

/* Is the link to our master up and streaming? */
bool replica_link_up(void);
enum replica_link_state replica_state(void);
const char *replica_master_host(void); /* NULL when not a replica */
int replica_master_port(void);
/* The client running our master's stream, NULL when none. */
struct client *replica_master_client(void);

/* FAILOVER (master.c, Redis 7.0's coordinated failover): after
 * replica_set_master(target), the PSYNC to the target carries FAILOVER so
 * it promotes itself. result(true) once it answers +CONTINUE or
 * +FULLRESYNC, result(false) when it answers anything else; a failed
 * connection retries with FAILOVER again until
 * replica_clear_failover_psync() (FAILOVER ABORT / its timeout). */
void replica_set_failover_psync(void (*result)(bool accepted));
void replica_clear_failover_psync(void);

/* REPLCONF GETACK received from our master: answer REPLCONF ACK <offset>. */
void replica_send_ack(void);

/* The replica's fields of INFO replication, from master_host up to
 * replica_announced (Redis 7.0's order), appended to out. */
void replica_info_fields(kl_buf_t *out);
/* ROLE's reply for a replica: host, port, state, offset (the reply
 * building is the caller's; these give the values). */
const char *replica_role_state(void);
/* ROLE's offset for a replica: the offset applied from our master, -1
 * while there is no master client (Redis's server.master->reploff). */
long long replica_role_offset(void);

/* REPLICAOF and SLAVEOF (registered by main.c). */
extern kl_command_t cmds_replica[];

void replica_init(void);
void replica_cron(
    void); /* every 100 ms (Redis runs replicationCron each second; we check timers) */
void replica_shutdown(void);

#endif
