/* Transactions: MULTI/EXEC/DISCARD and optimistic locking with WATCH
 * (Redis 7.0 semantics).
 *
 * MULTI: every command but EXEC, DISCARD, MULTI, WATCH, QUIT and RESET is
 * checked by the executor (unknown command, arity, authentication, no-multi,
 * OOM, ...) and then queued with a copy of its arguments (the batch they come
 * from goes back to the I/O thread); a command rejected while queuing flags
 * the transaction (EXEC answers -EXECABORT). EXEC runs the queued commands
 * through the normal call path with blocking denied.
 *
 * WATCH: a watched key that is modified (multi_touch_key, called by the
 * keyspace for every change, lazy or active expiry included), emptied by
 * FLUSHDB/FLUSHALL or swapped by SWAPDB (multi_touch_db), or that has
 * logically expired by the time of EXEC makes EXEC reply a null array. A key
 * that had already expired when it was watched does not count as changed
 * when it is merely deleted, as in Redis 7.0.
 *
 * Thread: executor. */
#ifndef KL_MULTI_H
#define KL_MULTI_H

#include "client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kdb;
struct kl_command;

/* A key was modified (Redis's signalModifiedKey): every client WATCHing it
 * has its next EXEC fail. Cheap when nothing is watched. */
void multi_touch_key(struct kdb *db, const char *key, size_t klen);

/* Like multi_touch_key() for a key that is about to be deleted (expiry with
 * a key pointer that the delete frees): call it before the delete. */
void multi_touch_deleted(struct kdb *db, const char *key, size_t klen);

/* The contents of db are about to be dropped (FLUSHDB/FLUSHALL: replaced_with
 * is NULL) or replaced by those of replaced_with (SWAPDB, called for both
 * directions before the swap). Breaks the WATCHes of the keys that exist on
 * either side. Cheap when nothing is watched in db. */
void multi_touch_db(struct kdb *db, struct kdb *replaced_with);

/* Executor hooks ------------------------------------------------------ */

/* True if cmd runs at once even inside MULTI (EXEC, DISCARD, MULTI, WATCH,
 * QUIT, RESET); every other command is queued. */
bool multi_runs_immediately(const struct kl_command *cmd);

/* True if cmd is EXEC. */
bool multi_is_exec(const struct kl_command *cmd);

/* Queue c's current command (c->argv is copied) and reply +QUEUED. */
void multi_queue(client_t *c, struct kl_command *cmd);

/* A command was rejected while c is inside MULTI: EXEC will abort. */
static inline void multi_flag_error(client_t *c) {
    if (c->flags & CF_MULTI) c->flags |= CF_DIRTY_EXEC;
}

/* EXEC itself was rejected (e.g. wrong arity) with the error text reason
 * (without "ERR "): the transaction is discarded with -EXECABORT. */
void multi_exec_rejected(client_t *c, const char *reason);

/* OR of the command flags queued since MULTI (0 outside MULTI): EXEC of a
 * transaction with writes waits during CLIENT PAUSE WRITE. */
uint32_t multi_queued_flags(const client_t *c);
/* Is a command without the stale flag queued? (EXEC is then refused with
 * -MASTERDOWN while a replica's link is down, replica-serve-stale-data no.) */
bool multi_queued_denies_stale(const client_t *c);

/* CLIENT LIST: queued commands (-1 outside MULTI) and their memory. */
long multi_queued_count(const client_t *c);
size_t multi_queued_mem(const client_t *c);

/* RESET, disconnect: leave MULTI without replying and forget watched keys. */
void multi_client_reset(client_t *c);

/* Shutdown: free the watch tables. */
void multi_free_all(void);

#endif
