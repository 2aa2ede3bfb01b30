/* The keyspace layer's contract with the layer above it (the executor).
 *
 * kv/ (values, databases, expiry, eviction, lazy free) never calls up: what
 * the executor must learn about keys - a key was modified, a value was stored,
 * a key expired, was evicted or missed - it reports through the hooks that the
 * executor registers once at start-up (kv_set_hooks). The executor turns them
 * into WATCH invalidation, unblocking of blocked clients, keyspace
 * notifications and, later, propagation to the AOF and replicas.
 *
 * The executor also owns time: it sets the cached clock before each command
 * (kv_set_time), and expiry, LRU and LFU read it from here.
 *
 * Thread: executor. */
#ifndef KL_KV_H
#define KL_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kdb;
struct kobj;

typedef struct kv_hooks {
    /* Redis's signalModifiedKey: the value or TTL of key changed, or key was
     * deleted by a command (WATCH). */
    void (*modified)(struct kdb *db, const char *key, size_t klen);
    /* A value was stored under key, replacing the old one or as a new key
     * (added): clients blocked on the key may go on, "new" event. */
    void (*stored)(struct kdb *db, const char *key, size_t klen, const struct kobj *val,
                   bool added);
    /* key's TTL passed and it is about to be deleted (lazily on access or by
     * active expiry); key is still readable. */
    void (*expired)(struct kdb *db, const char *key, size_t klen);
    /* key was chosen by the eviction policy and is about to be deleted. */
    void (*evicted)(struct kdb *db, const char *key, size_t klen);
    /* A read lookup found no key ("keymiss" event). */
    void (*miss)(struct kdb *db, const char *key, size_t klen);
    /* A latency event worth sampling (LATENCY): name and milliseconds. */
    void (*latency)(const char *event, long long ms);
} kv_hooks_t;

/* Keyspace statistics (INFO stats), reset by CONFIG RESETSTAT through
 * kv_stats_reset(). */
typedef struct kv_stats {
    uint64_t expiredkeys, evictedkeys, keyspace_hits, keyspace_misses;
    uint64_t expired_time_cap_reached_count;
    double expired_stale_perc;
} kv_stats_t;

/* The state kv/ shares with the executor: the cached clock it reads and the
 * counters it keeps. */
typedef struct kv_state {
    int64_t mstime;    /* unix ms, cached at the start of every command */
    int64_t ustime;    /* unix us, same moment */
    uint32_t lruclock; /* seconds, 24 bits, refreshed with the clock */
    uint64_t cmd_seq;  /* bumped by the executor per command (LFU: one access per command) */
    bool active_expire_enabled;
    /* Set by replication (through the executor's layers, never read up):
     * replica: we replicate a master, so expiry is the master's business
     * (Redis's expireIfNeeded on a replica): no active expiry, a logically
     * expired key is hidden from reads but kept until the master's DEL, and
     * eviction stops with replica-ignore-maxmemory. master_running: the
     * master's stream is being applied now, and sees such keys as they are. */
    bool replica;
    bool master_running;
    kv_stats_t stat;
} kv_state_t;

extern kv_state_t g_kv;

/* Register the executor's hooks (copied; unset members do nothing).
 * Thread: main, before any key exists. */
void kv_set_hooks(const kv_hooks_t *hooks);
/* The registered hooks (every member set). */
extern kv_hooks_t kv__hooks;

/* Refresh the cached clock from the system clock. Thread: executor. */
void kv_update_time(void);
/* CONFIG RESETSTAT. */
void kv_stats_reset(void);

#endif
