/* maxmemory and key eviction, and the access data kept in every value's lru
 * field (Redis 7.0 semantics).
 *
 * kobj_t.lru means, depending on maxmemory-policy at the moment it is read or
 * written:
 *   - an LFU policy (allkeys-lfu, volatile-lfu): 16 bits of access time in
 *     minutes (unix time / 60, mod 65536) above an 8-bit logarithmic access
 *     counter. New values start at EVICT_LFU_INIT_VAL so they are not evicted
 *     before they had a chance to be read; the counter grows with probability
 *     1 / ((counter - 5) * lfu-log-factor + 1) per access and loses one per
 *     lfu-decay-time minutes without access.
 *   - any other policy: the 24-bit LRU clock (seconds, g_kv.lruclock) of the
 *     last access.
 * Changing the policy at run time does not rewrite existing values: the field
 * is simply read the new way, as Redis does, so OBJECT FREQ / IDLETIME and the
 * eviction order take a while to become meaningful again.
 *
 * Eviction: while used memory (kl_used_memory) is above maxmemory,
 * evict_perform() deletes keys chosen by the policy with Redis's sampled
 * approximation (maxmemory-samples keys per database feed a pool of the 16
 * best candidates), for at most the time maxmemory-eviction-tenacity allows.
 * The executor calls it before commands (exec/oom.c): when the time runs out
 * its timer keeps evicting between client batches; if nothing can be evicted,
 * commands flagged CMD_DENYOOM (and any command queued inside MULTI) get
 * "-OOM command not allowed when used memory > 'maxmemory'.". Each evicted key
 * is reported through the evicted hook (kv.h) before it is deleted.
 *
 * Thread: executor, except the pure LFU helpers (any thread). */
#ifndef KL_EVICT_H
#define KL_EVICT_H

#include "config.h"
#include "object.h"

#include <stdbool.h>
#include <stdint.h>

#define EVICT_LFU_INIT_VAL 5 /* counter of a value that was just stored */
#define EVICT_POOL_SIZE 16   /* candidates kept between eviction rounds */

/* ---------------------------------------------------------------- LFU math */

/* The 16-bit LFU time (minutes) for a unix time in ms. */
static inline unsigned evict_lfu_minutes(int64_t unix_ms) {
    return (unsigned)((unix_ms / 1000 / 60) & 65535);
}

/* Minutes from the 16-bit time ldt to now, assuming at most one wrap. Like
 * Redis, a wrapped interval counts 65535 - ldt + now (one minute short). */
static inline unsigned long evict_lfu_elapsed(unsigned ldt, unsigned now) {
    if (now >= ldt) return now - ldt;
    return 65535UL - ldt + now;
}

/* The counter stored in lru after decay: one less per decay_time minutes
 * since the stored access time (no decay when decay_time is 0). */
static inline unsigned evict_lfu_decayed(uint32_t lru, unsigned now_min, int decay_time) {
    unsigned counter = lru & 255;
    if (decay_time <= 0) return counter;
    unsigned long periods = evict_lfu_elapsed((lru >> 8) & 65535, now_min) / (unsigned)decay_time;
    if (periods >= counter) return 0;
    return counter - (unsigned)periods;
}

/* One logarithmic increment: r is a uniform random number in [0, 1]. The
 * counter saturates at 255. */
static inline unsigned evict_lfu_incr(unsigned counter, int log_factor, double r) {
    if (counter >= 255) return 255;
    double base = (double)counter - EVICT_LFU_INIT_VAL;
    if (base < 0) base = 0;
    double p = 1.0 / (base * (double)log_factor + 1.0);
    return r < p ? counter + 1 : counter;
}

/* The lru field for a counter last touched at minute now_min. */
static inline uint32_t evict_lfu_pack(unsigned now_min, unsigned counter) {
    return ((uint32_t)(now_min & 65535) << 8) | (counter & 255);
}

static inline bool evict_policy_is_lfu(int policy) {
    return policy == KL_MAXMEMORY_ALLKEYS_LFU || policy == KL_MAXMEMORY_VOLATILE_LFU;
}

/* ---------------------------------------------------------------- values */

/* A value is being stored under a key: set its lru field. old is the value it
 * replaces (NULL for a new key; it is about to be freed). LRU: now. LFU: an
 * overwrite counts one access to the old value (unless the command already
 * looked it up) and keeps its counter (Redis's lookupKeyWrite + dbOverwrite);
 * a value that already carries data (moved by RENAME/MOVE) keeps it; a fresh
 * one (lru == 0) starts at EVICT_LFU_INIT_VAL. Thread: executor. */
void evict_obj_stored(kobj_t *val, kobj_t *old);

/* A key was accessed by a command (not NOTOUCH): LRU time = now, or the LFU
 * counter is decayed, then incremented with the logarithmic probability.
 * Thread: executor. */
void evict_obj_touch(kobj_t *o);

/* A value loaded from an RDB file or a RESTORE payload (Redis's
 * objectSetLRUOrLFU): under an LFU policy a known counter (lfu_freq >= 0) is
 * kept with the current time; under the others a known idle time
 * (lru_idle_s >= 0, seconds) sets the LRU clock that far back. Anything
 * else starts as a new value does. Thread: executor. */
void evict_obj_loaded(kobj_t *o, long long lfu_freq, long long lru_idle_s);

/* OBJECT FREQ: the decayed LFU counter (without updating it). Thread: executor. */
long long evict_obj_freq(const kobj_t *o);

/* ---------------------------------------------------------------- eviction */

enum evict_result {
    EVICT_OK = 0,      /* under maxmemory (or no maxmemory) */
    EVICT_RUNNING = 1, /* still above: the time limit ran out, call again later */
    EVICT_FAIL = 2,    /* above maxmemory and nothing (more) can be evicted */
};

/* Evict keys until used memory is back under maxmemory or the tenacity time
 * limit runs out. Cheap when maxmemory is 0 or memory is under the limit (a
 * couple of loads and a coarse clock read). The caller decides whether keys
 * may change now (not while clients are paused). Thread: executor. */
int evict_perform(void);

/* Bytes of used memory not counted for maxmemory (replication and AOF
 * buffers in Redis): always 0 in keyloom, reported by INFO memory. */
static inline unsigned long long evict_mem_not_counted(void) {
    return 0;
}

#endif
