/* The keyspace: numbered databases of key -> value (kobj_t), with an expires
 * table of key -> absolute unix time in ms for the keys that have a TTL.
 *
 * Expiry: lazily on access (every lookup checks the TTL against the time
 * cached at the start of the command) and actively from the cron, in small
 * time-budgeted steps so the executor never stalls.
 *
 * Thread: executor. */
#ifndef KL_DB_H
#define KL_DB_H

#include "dict.h"
#include "object.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kdb {
    dict_t *keys;    /* key -> kobj_t* */
    dict_t *expires; /* key -> s64 ms */
    int id;
    long long avg_ttl;
    uint64_t expire_cursor;
} kdb_t;

void db_init(int count);
void db_free_all(void);
int db_count(void);
kdb_t *db_get(int id);

/* Lookups expire the key first when its TTL passed. read: counts hits/misses
 * and refreshes the LRU clock (unless notouch). */
kobj_t *db_lookup_read(kdb_t *db, const char *key, size_t klen);
kobj_t *db_lookup_write(kdb_t *db, const char *key, size_t klen);
/* No expiry, no statistics, no LRU update (for OBJECT, TYPE-less peeks). */
kobj_t *db_peek(kdb_t *db, const char *key, size_t klen);
bool db_exists(kdb_t *db, const char *key, size_t klen);

/* Insert a key that does not exist. The db takes val. */
void db_add(kdb_t *db, const char *key, size_t klen, kobj_t *val);
/* Add a key while loading (an RDB file, a RESTORE payload): no hooks, no
 * LRU/LFU update (evict_obj_loaded sets them). Returns false, keeping
 * nothing, when the key exists. */
bool db_add_loaded(kdb_t *db, const char *key, size_t klen, kobj_t *val);
/* Set key to val, replacing any old value; the TTL is removed unless keepttl. */
void db_set(kdb_t *db, const char *key, size_t klen, kobj_t *val, bool keepttl);
/* Replace the value of an existing key in place, keeping its TTL. */
void db_replace_value(kdb_t *db, const char *key, size_t klen, kobj_t *val);
/* A command changed the value stored at key in place (a list push, a hash
 * field set, ...) or through the calls above: Redis's signalModifiedKey. Breaks
 * the WATCHes on the key. Commands that modify a value without replacing it
 * must call this; db_add/db_set/db_replace_value/db_delete/db_take call it
 * themselves. */
void db_key_modified(kdb_t *db, const char *key, size_t klen);

/* Delete; returns true if the key existed. The value is freed as
 * lazyfree-lazy-server-del says (Redis's dbDelete). */
bool db_delete(kdb_t *db, const char *key, size_t klen);
/* Delete, freeing a big value on the lazy-free thread when lazy (UNLINK,
 * DEL with lazyfree-lazy-user-del, lazy eviction; lazyfree.h). */
bool db_delete_lazy(kdb_t *db, const char *key, size_t klen, bool lazy);
/* Remove the key and return its value (caller owns it), keeping nothing. */
kobj_t *db_take(kdb_t *db, const char *key, size_t klen, int64_t *expire_out);

int64_t db_get_expire(kdb_t *db, const char *key, size_t klen); /* -1 if none */
void db_set_expire(kdb_t *db, const char *key, size_t klen, int64_t when_ms);
/* The same for a key just added with db_add_loaded: no hooks (the db may be
 * a temporary one that clients and WATCHes never see). */
void db_set_expire_loaded(kdb_t *db, const char *key, size_t klen, int64_t when_ms);
bool db_remove_expire(kdb_t *db, const char *key, size_t klen);
/* True if the key has a TTL in the past (it is then deleted). */
bool db_expire_if_needed(kdb_t *db, const char *key, size_t klen);

size_t db_size(const kdb_t *db);
size_t db_expires_size(const kdb_t *db);
/* Remove every key; returns how many were removed. */
long long db_flush(kdb_t *db);
long long db_flush_all(void);
/* Same, handing the old dicts to the lazy-free thread when lazy (FLUSHDB /
 * FLUSHALL ASYNC). */
long long db_flush_lazy(kdb_t *db, bool lazy);
long long db_flush_all_lazy(bool lazy);
/* Swap the contents of two databases. */
void db_swap(int a, int b);

/* ---- temporary database arrays (repl-diskless-load swapdb / on-empty-db) ----
 *
 * A kdb_set_t is an array of db_count() databases that clients never see:
 * a replica loads its master's RDB into one while the live databases keep
 * serving, then db_swap_set() exchanges the contents in O(databases). Every
 * live kdb_t keeps its address and id (clients hold pointers to them): only
 * the dicts and their bookkeeping move, as db_swap does. Two orders of use:
 *
 *  - load aside: s = kdb_set_new(); load into s (rdb_loader_set_target);
 *    on success db_swap_set(s) then kdb_set_free(s, lazy) frees the old
 *    live contents; on failure kdb_set_free(s, lazy) drops the partial load.
 *  - backup: s = db_move_aside() (the live dbs are now empty); load into
 *    the live dbs; on success kdb_set_free(s, lazy) drops the backup, on
 *    failure db_restore_aside(s, lazy) brings it back and frees the partial
 *    load.
 *
 * Nothing here touches WATCHes, blocked clients or keyspace hooks: the
 * caller (the replication layer) signals the change of every db's contents
 * as FLUSHALL / SWAPDB do. Active expiry, the cron and lookups only see the
 * live databases. Thread: executor. */
typedef struct kdb_set kdb_set_t;

/* A new set of db_count() empty databases with ids 0..count-1. Thread: executor. */
kdb_set_t *kdb_set_new(void);
/* How many databases s holds. Thread: executor. */
int kdb_set_count(const kdb_set_t *s);
/* Database id of s, or NULL when out of range. Thread: executor. */
kdb_t *kdb_set_db(kdb_set_t *s, int id);
/* Keys in all of s's databases. Thread: executor. */
size_t kdb_set_keys(const kdb_set_t *s);
/* Frees s and everything in it; its dicts go to the lazy-free thread when
 * lazy (as FLUSHALL ASYNC), else are freed now. NULL is a no-op. Thread: executor. */
void kdb_set_free(kdb_set_t *s, bool lazy);
/* Exchanges the contents of every live database with s's database of the
 * same id (O(databases); addresses and ids stay). Thread: executor. */
void db_swap_set(kdb_set_t *s);
/* Moves the whole live dataset into a new set and leaves the live databases
 * empty (the "backup" before loading into them). Thread: executor. */
kdb_set_t *db_move_aside(void);
/* Puts a backup from db_move_aside() back: the live contents (a failed
 * partial load) are swapped into s and freed with s (lazily when lazy).
 * Thread: executor. */
void db_restore_aside(kdb_set_t *s, bool lazy);
/* A random non-expired key, or false when the db is empty. */
bool db_random_key(kdb_t *db, const char **key, size_t *klen);

/* One budgeted step of active expiry over every database (Thread: executor,
 * from the cron). */
void db_active_expire_cycle(long long budget_us);
/* Cron housekeeping: rehash and shrink tables within a time budget. */
void db_cron(long long budget_us);

/* LRU clock helpers for OBJECT IDLETIME. */
void db_touch(kobj_t *o);
long long db_idle_seconds(const kobj_t *o);

#endif
