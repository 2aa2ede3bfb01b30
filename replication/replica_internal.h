/* What replica.c and replica_diskless.c share. Thread: executor. */
#ifndef KL_REPLICA_INTERNAL_H
#define KL_REPLICA_INTERNAL_H

#include "rdb.h"

#include <stdbool.h>
#include <stddef.h>

/* A diskless load in progress (repl-diskless-load on-empty-db / swapdb). */
typedef struct replica_dl replica_dl_t;

/* Start loading the master's RDB from the link's payload chunks: into the
 * live (empty) databases with -LOADING for clients; for swapdb of the same
 * history (same_history: our replid is the master's) into a temporary
 * database set while the old data is served; for swapdb of another history
 * into the live databases with -LOADING, the old data kept aside as a
 * backup. */
replica_dl_t *replica__dl_begin(bool swapdb, bool same_history);
/* The next chunk (last: the payload ends with it). Returns 1 for more, 0
 * when the whole RDB loaded (*info filled, swapdb's data swapped in, d
 * freed), -1 on a failure (err says why; the partial load is gone and the
 * old data is back for swapdb; d freed). */
int replica__dl_feed(replica_dl_t *d, const void *p, size_t n, bool last, rdb_load_info_t *info,
                     char *err, size_t errlen);
/* The transfer stopped before the end: drop the partial load (d freed). */
void replica__dl_abort(replica_dl_t *d);

#endif
