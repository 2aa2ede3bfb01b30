/* What the keyspace reports (kv.h's hooks), turned into the executor's
 * reactions: WATCH invalidation (multi.c), waking clients blocked on a key
 * (blocking.c), keyspace notifications (pubsub.c), propagation of the keys
 * the server deletes on its own (propagate.c) and latency samples.
 *
 * Thread: executor (every function here). */
#include "exec.h"

#include "blocking.h"
#include "db.h"
#include "kv.h"
#include "multi.h"
#include "notify.h"
#include "propagate.h"
#include "slowlog.h"

static void on_modified(kdb_t *db, const char *key, size_t klen) {
    multi_touch_key(db, key, klen);
}

static void on_stored(kdb_t *db, const char *key, size_t klen, const kobj_t *val, bool added) {
    multi_touch_key(db, key, klen);
    /* A list or sorted set appeared under key: clients blocked on it may go on. */
    if (val->type == OBJ_LIST || val->type == OBJ_ZSET) block_key_ready(db, key, klen);
    if (added) notify_keyspace_event(KL_NOTIFY_NEW, "new", key, klen, db->id);
}

static void on_expired(kdb_t *db, const char *key, size_t klen) {
    notify_keyspace_event(KL_NOTIFY_EXPIRED, "expired", key, klen, db->id);
    multi_touch_deleted(db, key, klen); /* an expiry breaks WATCH, as in Redis 7.0 */
    prop_key_expired(db, key, klen);    /* DEL / UNLINK to the AOF and replicas */
}

static void on_evicted(kdb_t *db, const char *key, size_t klen) {
    /* The delete that follows breaks WATCHes (modified hook). */
    notify_keyspace_event(KL_NOTIFY_EVICTED, "evicted", key, klen, db->id);
    prop_key_evicted(db, key, klen); /* DEL / UNLINK to the AOF and replicas */
}

static void on_miss(kdb_t *db, const char *key, size_t klen) {
    notify_keyspace_event(KL_NOTIFY_KEY_MISS, "keymiss", key, klen, db->id);
}

static void on_latency(const char *event, long long ms) {
    latency_add_sample(event, ms);
}

void exec_register_kv_hooks(void) {
    static const kv_hooks_t hooks = {
        .modified = on_modified,
        .stored = on_stored,
        .expired = on_expired,
        .evicted = on_evicted,
        .miss = on_miss,
        .latency = on_latency,
    };
    kv_set_hooks(&hooks);
}
