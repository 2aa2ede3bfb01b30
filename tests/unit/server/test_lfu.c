/* Unit tests for the LFU counter math in server/evict.h: the 16-bit minute
 * clock and its wrap, decay by lfu-decay-time, the logarithmic increment and
 * its growth against the table in Redis's redis.conf (lfu-log-factor). */
#include <criterion/criterion.h>

#include "evict.h"

#include <stdint.h>

/* Deterministic uniform numbers in [0, 1) (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double rnd_unit(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

/* The counter after `hits` accesses of a new value (no time passing). */
static unsigned counter_after(long hits, int log_factor) {
    unsigned c = EVICT_LFU_INIT_VAL;
    for (long i = 0; i < hits; i++)
        c = evict_lfu_incr(c, log_factor, rnd_unit());
    return c;
}

Test(lfu, minutes_wrap_at_16_bits) {
    cr_assert_eq(evict_lfu_minutes(0), 0);
    cr_assert_eq(evict_lfu_minutes(59999), 0);
    cr_assert_eq(evict_lfu_minutes(60000), 1);
    cr_assert_eq(evict_lfu_minutes(65536LL * 60000), 0);
    cr_assert_eq(evict_lfu_minutes(65537LL * 60000 + 5), 1);
    /* Today's time fits and is stable within a minute. */
    int64_t t = 1763900000000LL;
    cr_assert_eq(evict_lfu_minutes(t), (unsigned)((t / 60000) % 65536));
}

Test(lfu, elapsed_handles_one_wrap_like_redis) {
    cr_assert_eq(evict_lfu_elapsed(10, 10), 0);
    cr_assert_eq(evict_lfu_elapsed(10, 25), 15);
    /* Wrapped: Redis counts 65535 - ldt + now. */
    cr_assert_eq(evict_lfu_elapsed(65530, 4), 9);
    cr_assert_eq(evict_lfu_elapsed(65535, 0), 0);
}

Test(lfu, pack_roundtrip) {
    uint32_t lru = evict_lfu_pack(12345, 200);
    cr_assert_eq(lru >> 8, 12345);
    cr_assert_eq(lru & 255, 200);
    cr_assert_eq(evict_lfu_pack(65536 + 7, 256 + 3), evict_lfu_pack(7, 3));
    cr_assert(lru < (1u << 24), "fits the 24 bits Redis keeps");
}

Test(lfu, decay_one_per_period) {
    uint32_t lru = evict_lfu_pack(100, 10);
    cr_assert_eq(evict_lfu_decayed(lru, 100, 1), 10);
    cr_assert_eq(evict_lfu_decayed(lru, 103, 1), 7);
    cr_assert_eq(evict_lfu_decayed(lru, 103, 2), 9); /* 3 / 2 = one period */
    cr_assert_eq(evict_lfu_decayed(lru, 110, 1), 0);
    cr_assert_eq(evict_lfu_decayed(lru, 500, 1), 0); /* never below 0 */
    cr_assert_eq(evict_lfu_decayed(lru, 500, 0), 10, "lfu-decay-time 0: no decay");
    /* Across the 16-bit wrap. */
    uint32_t w = evict_lfu_pack(65534, 20);
    cr_assert_eq(evict_lfu_decayed(w, 3, 1), 16);
}

Test(lfu, increment_probability) {
    cr_assert_eq(evict_lfu_incr(255, 10, 0.0), 255, "saturates");
    cr_assert_eq(evict_lfu_incr(254, 0, 0.999), 255);
    /* At or below the initial value the increment is certain. */
    cr_assert_eq(evict_lfu_incr(0, 10, 0.999), 1);
    cr_assert_eq(evict_lfu_incr(5, 10, 0.999), 6);
    /* counter 15, factor 10: p = 1 / (10 * 10 + 1). */
    cr_assert_eq(evict_lfu_incr(15, 10, 0.0098), 16);
    cr_assert_eq(evict_lfu_incr(15, 10, 0.0100), 15);
    /* lfu-log-factor 0: every access counts. */
    cr_assert_eq(evict_lfu_incr(100, 0, 0.999999), 101);
}

Test(lfu, growth_matches_redis_conf_table) {
    /* redis.conf: factor 0 saturates within 1000 hits; factor 10 gives about
     * 10 after 100 hits, 18 after 1000, 142 after 100K and 255 after 1M;
     * factor 100 about 49 after 100K. The walk is random: allow a margin. */
    cr_assert_eq(counter_after(100, 0), 105);
    cr_assert_eq(counter_after(1000, 0), 255);
    unsigned c;
    c = counter_after(100, 10);
    cr_assert(c >= 8 && c <= 13, "factor 10, 100 hits: %u", c);
    c = counter_after(1000, 10);
    cr_assert(c >= 15 && c <= 22, "factor 10, 1K hits: %u", c);
    /* One walk of 100K hits spreads by about +-5 (its variance is dominated
     * by the last, rarest steps): average 8 walks. The expected value is
     * about 146 (sum of 10k + 1 hits per step reaches 100K at k ~ 141). */
    unsigned sum = 0;
    for (int i = 0; i < 8; i++)
        sum += counter_after(100000, 10);
    cr_assert(sum / 8 >= 136 && sum / 8 <= 158, "factor 10, 100K hits: %u", sum / 8);
    c = counter_after(1000000, 10);
    cr_assert_eq(c, 255, "factor 10, 1M hits: %u", c);
    sum = 0;
    for (int i = 0; i < 8; i++)
        sum += counter_after(100000, 100);
    cr_assert(sum / 8 >= 44 && sum / 8 <= 54, "factor 100, 100K hits: %u", sum / 8);
}

Test(lfu, policy_flags) {
    cr_assert(evict_policy_is_lfu(KL_MAXMEMORY_ALLKEYS_LFU));
    cr_assert(evict_policy_is_lfu(KL_MAXMEMORY_VOLATILE_LFU));
    cr_assert_not(evict_policy_is_lfu(KL_MAXMEMORY_ALLKEYS_LRU));
    cr_assert_not(evict_policy_is_lfu(KL_MAXMEMORY_NOEVICTION));
}
