/* The master side: replicas attached to us (SYNC/PSYNC), full
 * resynchronisation (a BGSAVE to disk then the file, or diskless through
 * pipes a forked child writes), partial resynchronisation from the
 * backlog, the replicas' acknowledgements (REPLCONF ACK), WAIT,
 * min-replicas-to-write, the PINGs of repl-ping-replica-period and
 * repl-timeout.
 *
 * The executor never writes a transfer: the RDB file or the child's pipe is
 * read by the I/O thread that owns each replica's connection, which then
 * follows the shared backlog (ioloop/iol_repl.h). Thread: executor. */
#ifndef KL_MASTER_H
#define KL_MASTER_H

#include "kl_util.h"

#include <stdbool.h>
#include <stddef.h>

struct client;

/* Close every replica connection (a replica that got a full sync of a new
 * history makes its own replicas resync; REPLICAOF to a new master). */
void master_disconnect_replicas(void);
/* Replicas attached (in any state) and those online whose last ACK is
 * younger than min-replicas-max-lag. */
size_t master_replica_count(void);
int master_good_replicas(void);
/* connected_slaves, min_slaves_good_slaves and the slaveN lines of INFO
 * replication. */
void master_info_fields(kl_buf_t *out);
/* Writes are refused for min-replicas-to-write (Redis's
 * NOREPLICAS check). */
bool master_writes_denied(void);
/* A replica client was freed (the executor's closed hook). */
void master_client_closed(struct client *c);

void master_init(void);
void master_cron(void);
void master_shutdown(void);

#endif
