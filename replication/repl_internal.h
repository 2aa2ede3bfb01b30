/* What the files of replication/ share among themselves. */
#ifndef KL_REPL_INTERNAL_H
#define KL_REPL_INTERNAL_H

#include "iol_repl.h"
#include "repl.h"

/* The shared buffer behind the backlog (backlog.c), NULL when none. */
extern iol_rbuf_t *repl__rbuf;
/* Register or drop the write path's PROP_REPL stream: wanted while a
 * backlog exists on a master (repl.c). */
void repl__stream_update(void);

/* n random hex digits into out (NUL-terminated): replication IDs, the
 * diskless EOF mark. */
void repl__random_hex(char *out, size_t n);
/* The database the write path's stream last selected, -1: none yet. */
int repl__stream_db(void);

/* A replica's ACK moved (master.c): recount, answer WAITs. */
void master__acks_changed(void);

/* FAILOVER (failover.c). */
void failover__init(void);
void failover__cron(void);
void failover__psync_result(bool accepted);
const char *failover_state_name(void);
/* For FAILOVER (master.c): an online replica (host/port of its listener, or
 * any when host is NULL) that acknowledged our whole stream; the state of
 * a replica (-1 none, 0 not online, 1 online); ask every replica for an ACK
 * before the loop sleeps. */
bool master__synced_replica(const char *host, int port, char *out, size_t cap, int *out_port);
int master__replica_state(const char *host, int port);
void master__request_acks(void);

/* INFO replication and the memory fields (repl_info.c). */
void repl__info_init(void);

#endif
