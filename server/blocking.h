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
 * Thread: executor. */
#ifndef KL_BLOCKING_H
#define KL_BLOCKING_H

#include "client.h"

#include <stdbool.h>
#include <stdint.h>

struct kdb;

/* Parse a blocking timeout argument in seconds (fractional allowed) into an
 * absolute unix time in ms (0 = wait forever). Replies Redis's error ("ERR
 * timeout is not a float or out of range", "ERR timeout is negative", "ERR
 * timeout is out of range") and returns -1 on failure. */
int block_parse_timeout(client_t *c, const resp_arg_t *a, int64_t *abs_ms);

/* Block c on keys[0..nkeys) of c->db until one is ready or abs_ms passes. The
 * command must not have replied anything. If c may not block (inside EXEC),
 * this replies the timeout reply instead. */
void block_for_keys(client_t *c, const resp_arg_t *keys, int nkeys, int64_t abs_ms);

/* Called by the keyspace when a key is created or replaced with a list or
 * sorted set value; cheap when nobody waits. */
void block_key_ready(struct kdb *db, const char *key, size_t klen);

#endif
