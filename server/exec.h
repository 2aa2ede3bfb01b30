/* The executor: the single thread that owns the keyspace and runs every
 * command, fed by the I/O threads (ioloop). This header is what main.c and
 * the client/server commands need from it.
 *
 * Thread: executor. */
#ifndef KL_EXEC_H
#define KL_EXEC_H

#include "client.h"

#include <stdbool.h>

/* The hooks ioloop calls (see iol.h). */
const iol_hooks_t *exec_hooks(void);
/* Close a client: after its pending replies (after_reply) or at once. */
void exec_client_kill(client_t *c, bool after_reply);
/* CLIENT PAUSE support: park/resume clients whose next command must wait. */
void exec_pause_until(int64_t end_ms, bool all);
void exec_unpause(void);
bool exec_paused_clients(void);
/* MONITOR */
void exec_monitor_add(client_t *c);
void exec_monitor_remove(client_t *c);
/* Timers the cron calls. */
void exec_clients_cron(void);
/* Number of clients waiting because of CLIENT PAUSE. */
size_t exec_parked_count(void);
void exec_free_all(void);

#endif
