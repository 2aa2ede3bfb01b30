/* The keyspace layer's shared state and the hooks the executor registers
 * (kv.h). Thread: executor. */
#include "kv.h"

#include "kl_util.h"

#include <string.h>

kv_state_t g_kv = {.active_expire_enabled = true};

static void nop_key(struct kdb *db, const char *key, size_t klen) {}
static void nop_stored(struct kdb *db, const char *key, size_t klen, const struct kobj *val,
                       bool added) {}
static void nop_latency(const char *event, long long ms) {}

kv_hooks_t kv__hooks = {
    .modified = nop_key,
    .stored = nop_stored,
    .expired = nop_key,
    .evicted = nop_key,
    .miss = nop_key,
    .latency = nop_latency,
};

/* Copy the executor's hooks; members left NULL keep the no-op defaults so
 * callers never test for NULL. Thread: main, at start-up. */
void kv_set_hooks(const kv_hooks_t *h) {
    if (h->modified) kv__hooks.modified = h->modified;
    if (h->stored) kv__hooks.stored = h->stored;
    if (h->expired) kv__hooks.expired = h->expired;
    if (h->evicted) kv__hooks.evicted = h->evicted;
    if (h->miss) kv__hooks.miss = h->miss;
    if (h->latency) kv__hooks.latency = h->latency;
}

/* Thread: executor (before each command and from the cron). */
void kv_update_time(void) {
    g_kv.ustime = kl_ustime();
    g_kv.mstime = g_kv.ustime / 1000;
    g_kv.lruclock = (uint32_t)((g_kv.mstime / 1000) & ((1u << 24) - 1));
}

/* Thread: executor (CONFIG RESETSTAT). */
void kv_stats_reset(void) {
    memset(&g_kv.stat, 0, sizeof(g_kv.stat));
}
