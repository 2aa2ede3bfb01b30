/* Lazy freeing: values and whole databases are freed on a background thread
 * (Redis's "bio" lazy-free thread), so that UNLINK of a ten-million element
 * set, FLUSHALL ASYNC, or the expiry / eviction / overwrite of a huge value
 * does not stall every client for as long as the free takes.
 *
 * Only values whose free would take more than LAZYFREE_THRESHOLD allocations
 * (lazyfree_effort) go to the thread; smaller ones are freed at once, which is
 * cheaper than the hand-off (Redis does the same with the same threshold).
 *
 * Whatever is handed over must be unreachable from the keyspace, WATCHes,
 * blocked clients and iterators: the thread owns it from the hand-off on.
 *
 * Thread: the executor calls everything here except lazyfree_pending(),
 * lazyfree_freed() (any thread). */
#ifndef KL_LAZYFREE_H
#define KL_LAZYFREE_H

#include "dict.h"
#include "object.h"

#include <stdbool.h>
#include <stddef.h>

/* Values with an effort above this are freed on the background thread. */
#define LAZYFREE_THRESHOLD 64

/* Starts the background thread. 0 or a negative errno. Thread: executor,
 * at start-up, before any lazyfree_* call that may hand something over. */
int lazyfree_start(void);

/* Lets the thread finish every job handed over so far, then joins it; later
 * hand-offs are freed synchronously. Thread: executor, at shutdown. */
void lazyfree_stop(void);

/* How many allocations freeing o would take, roughly (Redis's free effort):
 * the quicklist nodes of a list, the entries of a hash table, set or skiplist,
 * 1 for strings and packed encodings. Thread: executor. */
size_t lazyfree_effort(const kobj_t *o);

/* Frees o, which nothing references any more: on the background thread when
 * its effort is above LAZYFREE_THRESHOLD, else at once. Takes ownership of o.
 * Returns true when it was handed over. Thread: executor. */
bool lazyfree_obj(kobj_t *o);

/* Frees o synchronously (lazy false) or with lazyfree_obj (lazy true). */
static inline void lazyfree_obj_maybe(kobj_t *o, bool lazy) {
    if (lazy)
        lazyfree_obj(o);
    else
        obj_free(o);
}

/* Hands a database's old dicts over (FLUSHALL/FLUSHDB ASYNC): keys (whose
 * values the dict type frees) and expires, either may be NULL. nkeys is the
 * number of keys, counted in lazyfree_pending_objects / lazyfreed_objects.
 * Takes ownership of both dicts. Thread: executor. */
void lazyfree_dicts(dict_t *keys, dict_t *expires, size_t nkeys);

/* INFO memory lazyfree_pending_objects and lazyfreed_objects. Thread: any. */
size_t lazyfree_pending(void);
size_t lazyfree_freed(void);
/* CONFIG RESETSTAT: lazyfreed_objects back to 0. Thread: executor. */
void lazyfree_reset_stats(void);

#endif
