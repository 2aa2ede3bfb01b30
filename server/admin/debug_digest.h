/* DEBUG DIGEST and DEBUG DIGEST-VALUE: Redis 7.0's order-independent SHA-1
 * signature of the dataset and of single values, bit for bit, so that
 * keyloom's dataset can be compared with redis-server's (persistence and
 * replication tests).
 *
 * Thread: executor. */
#ifndef KL_DEBUG_DIGEST_H
#define KL_DEBUG_DIGEST_H

#include "cmd.h"
#include "db.h"

#define DEBUG_DIGEST_LEN 20

/* The digest of every key of every database into out (all zeros for an empty
 * dataset). Keys whose TTL passed but that are still stored count, as in
 * Redis. Thread: executor. */
void debug_digest_dataset(unsigned char out[DEBUG_DIGEST_LEN]);

/* The digest of the value stored at key in db (with its TTL flag, without the
 * key's name); all zeros when the key does not exist. Never expires the key.
 * Thread: executor. */
void debug_digest_value(kdb_t *db, const char *key, size_t klen,
                        unsigned char out[DEBUG_DIGEST_LEN]);

/* The replies of DEBUG DIGEST (argc 2) and DEBUG DIGEST-VALUE key... (argc
 * >= 2): 40 hex digits as a status reply, one per key in an array for
 * DIGEST-VALUE. Thread: executor. */
void debug_reply_digest(client_t *c);
void debug_reply_digest_value(client_t *c);

#endif
