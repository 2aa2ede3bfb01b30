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
/* Out-of-band delivery (pub/sub, MONITOR) that keeps reply order. */
void exec_client_push(client_t *c, iol_reply_t *r);
/* The same for n bytes at p (copied, no allocation per push). */
void exec_client_push_bytes(client_t *c, const char *p, size_t n);
/* MONITOR */
void exec_monitor_add(client_t *c);
void exec_monitor_remove(client_t *c);
/* Timers the cron calls. */
void exec_clients_cron(void);
/* Number of clients waiting because of CLIENT PAUSE. */
size_t exec_parked_count(void);
/* Blocking commands (called by blocking.c). Re-run c's blocked command (the
 * one its parked batch stopped at) through the call path: it either replies
 * or calls block_for_keys() again. */
void exec_blocked_rerun(client_t *c);
/* c's blocked command ended without a re-run (timeout, CLIENT UNBLOCK) after
 * its reply was written: account for it (failed: the reply was an error). */
void exec_blocked_done(client_t *c, bool failed);
/* c's blocked command has its reply: run the rest of its batch, then hand it
 * back to its I/O thread (or park it again). */
void exec_client_resume(client_t *c);
void exec_free_all(void);

#endif
