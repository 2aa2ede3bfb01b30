/* Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
 * BZPOPMAX, BZMPOP): a client whose command finds nothing to pop waits on its
 * keys without holding up the executor or its I/O thread.
 *
 * Model: the command is simply run again. A command that finds every key
 * empty calls block_for_keys() and returns without replying; the executor
 * then parks the client's batch (its I/O thread keeps it but reads nothing
 * more for it). When a write makes one of the keys "ready" (a list or sorted
 * set is created under that name: db_add/db_set call block_key_ready), the
 * executor re-runs the waiting clients' commands after the current command,
 * oldest first per key (FIFO). A re-run that again finds nothing calls
 * block_for_keys() again and keeps its place in line. On timeout the client
 * gets Redis's timeout reply (a null array) and its batch continues.
 *
 * Inside MULTI/EXEC (and wherever blocking is not allowed) block_for_keys()
 * replies the timeout reply at once, as Redis does.
 *
 * Only clients whose command wants the type now stored under the key are
 * re-run (a BLPOP is not woken by a sorted set, as in Redis); the wanted type
 * comes from the command's group ("list" or "sorted-set").
 *
 * Timeouts: absolute unix ms kept in a min-heap, served by one libuv timer on
 * the executor loop armed for the earliest deadline (ms precision).
 *
 * Thread: executor. */
#ifndef KL_BLOCKING_H
#define KL_BLOCKING_H

#include "client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kdb;

/* Parse a blocking timeout argument in seconds (fractional allowed) into an
 * absolute unix time in ms (0 = wait forever). Replies Redis's error ("ERR
 * timeout is not a float or out of range", "ERR timeout is negative") and
 * returns -1 on failure. Like Redis 7.0 the milliseconds are rounded up (0.0001
 * waits 1 ms) and a deadline beyond the clock's range waits forever. */
int block_parse_timeout(client_t *c, const resp_arg_t *a, int64_t *abs_ms);

/* Block c on keys[0..nkeys) of c->db until one is ready or abs_ms passes. The
 * command must not have replied anything. If c may not block (inside EXEC),
 * this replies the timeout reply instead (a null bulk for BLMOVE and
 * BRPOPLPUSH, a null array for the others, as Redis 7.0). Duplicate keys are
 * waited on once. */
void block_for_keys(client_t *c, const resp_arg_t *keys, int nkeys, int64_t abs_ms);

/* True while c's blocked command is re-run because one of its keys became
 * ready: the command is then served "later", which Redis propagates and
 * counts differently from a command served at once (BLPOP served later is
 * LPOP with no dirty; BLMOVE spells its directions "left"/"right"). */
bool block_rerunning(const client_t *c);

/* A wait on something other than keys (WAIT for replica acknowledgements):
 * parks c's batch as block_for_keys does (the command must not have
 * replied). At the deadline (abs_ms, 0: none) or on CLIENT UNBLOCK,
 * on_timeout(c) writes the reply. Where c may not block, on_timeout is not
 * called: the caller checks CF_DENY_BLOCKING first. block_custom_finish:
 * the caller replied, resume c (block_handle_pending runs the batch on);
 * false if c was not waiting so. Thread: executor. */
void block_custom(client_t *c, int64_t abs_ms, void (*on_timeout)(client_t *c));
bool block_custom_finish(client_t *c);

/* Called by the keyspace when a key is created or replaced with a list or
 * sorted set value; cheap when nobody waits. */
void block_key_ready(struct kdb *db, const char *key, size_t klen);

/* Executor side ------------------------------------------------------- */

/* Keys made ready plus clients whose blocked command has its reply and whose
 * batch has not resumed yet. */
extern size_t block__pending;
static inline bool block_work_pending(void) {
    return block__pending != 0;
}

/* Serve the ready keys (re-running the waiting clients' commands) and resume
 * the batches of the clients that got their reply (served, timed out, CLIENT
 * UNBLOCK). The executor calls it after every command, while
 * block_work_pending(); re-entrant (a resumed batch calls it again), with the
 * nesting bounded: deeper work is left to the outer call. */
void block_handle_pending(void);

/* SWAPDB: keys of db that clients wait on and that now hold a value are ready. */
void block_scan_db(struct kdb *db);

/* CLIENT UNBLOCK: end c's wait with the timeout reply, or with "-UNBLOCKED
 * client unblocked via CLIENT UNBLOCK" when error. Its batch resumes after
 * the current command. Returns false if c is not blocked on keys. */
bool block_unblock_client(client_t *c, bool error);

/* c is going away (disconnect, kill, shutdown): forget its wait, no reply. */
void block_client_gone(client_t *c);

/* INFO: clients waiting on keys, and those of them with a deadline. */
size_t block_blocked_clients(void);
size_t block_timeout_clients(void);

/* Shutdown: free the tables (every client is gone). */
void block_free_all(void);

#endif
