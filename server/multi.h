/* Transactions: MULTI/EXEC/DISCARD and optimistic locking with WATCH.
 *
 * Thread: executor. */
#ifndef KL_MULTI_H
#define KL_MULTI_H

#include <stddef.h>

struct kdb;

/* A key was modified (Redis's signalModifiedKey): every client WATCHing it
 * has its next EXEC fail. Cheap when nothing is watched. */
void multi_touch_key(struct kdb *db, const char *key, size_t klen);

#endif
