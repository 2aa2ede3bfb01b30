/* Tests for bench/schedule.c: exact intended send times of the open-loop
 * schedule, release only when due, the in-flight queue, and a simulated
 * server stall (deterministic virtual time, no clocks) whose latencies are
 * measured from the intended times. */
#include <criterion/criterion.h>

#include <string.h>

#include "kl_alloc.h"
#include "schedule.h"

#define MS 1000000ULL
#define US 1000ULL

/* The union of all connections' schedules is the global schedule
 * t0 + floor(g * 1e9 / rate), each request exactly once. */
Test(schedule, exact_intended_times) {
    const uint64_t t0 = 123456789, rate = 3; /* 333 333 333.33 ns apart */
    const uint32_t nconns = 4;
    for (uint32_t j = 0; j < nconns; j++) {
        sched_t s;
        sched_init(&s, t0, rate, nconns, j);
        for (uint64_t k = 0; k < 1000; k++) {
            uint64_t g = k * nconns + j;
            cr_assert_eq(sched_time_of(&s, k), t0 + g * 1000000000ULL / rate);
        }
    }
    /* Large indexes do not drift or overflow (__int128 arithmetic). */
    sched_t s;
    sched_init(&s, 0, 7, 1, 0);
    uint64_t k = 70000000000ULL; /* k * 1e9 overflows 64 bits; the result does not */
    cr_assert_eq(sched_time_of(&s, k), 10000000000ULL * 1000000000ULL);
    sched_init(&s, 5, 1000000, 1, 0);
    cr_assert_eq(sched_time_of(&s, 999999), 5 + 999999000ULL);
    cr_assert_eq(sched_time_of(&s, 1000000), 5 + 1000000000ULL);
}

Test(schedule, release_only_when_due) {
    sched_t s;
    sched_init(&s, 1000 * MS, 1000, 2, 1); /* this connection: 1001 ms, 1003 ms, ... */
    uint64_t t;
    cr_assert_eq(sched_next_time(&s), 1001 * MS);
    cr_assert_eq(sched_take(&s, 1001 * MS - 1, &t), 0);
    cr_assert_eq(sched_take(&s, 1001 * MS, &t), 1);
    cr_assert_eq(t, 1001 * MS);
    cr_assert_eq(sched_take(&s, 1002 * MS, &t), 0);
    /* Late: everything due is released, each with its own intended time. */
    int n = 0;
    while (sched_take(&s, 1010 * MS, &t)) {
        cr_assert_eq(t, (1003 + 2 * (uint64_t)n) * MS);
        n++;
    }
    cr_assert_eq(n, 4); /* 1003, 1005, 1007, 1009 */
}

Test(schedule, tsq_fifo) {
    tsq_t q;
    tsq_init(&q, 5);
    cr_assert_eq(tsq_cap(&q), 8);
    uint64_t ts;
    uint8_t tag;
    cr_assert_eq(tsq_pop(&q, &ts, &tag), -1);
    for (int round = 0; round < 100; round++) { /* wraps around many times */
        for (uint64_t i = 0; i < 8; i++)
            cr_assert_eq(tsq_push(&q, round * 100 + i, (uint8_t)i), 0);
        cr_assert_eq(tsq_push(&q, 0, 0), -1);
        cr_assert_eq(tsq_len(&q), 8);
        cr_assert_eq(tsq_peek(&q, 3), (uint64_t)round * 100 + 3);
        for (uint64_t i = 0; i < 8; i++) {
            cr_assert_eq(tsq_pop(&q, &ts, &tag), 0);
            cr_assert_eq(ts, round * 100 + i);
            cr_assert_eq(tag, i);
        }
        cr_assert_eq(tsq_len(&q), 0);
    }
    tsq_free(&q);
}

/* A virtual client drives one connection the way the engine does: at each
 * event it releases due requests while fewer than `depth` are in flight,
 * stamping them with their intended times. The virtual server answers each
 * request `service` after it arrives (one at a time), except that nothing is
 * answered during [stall_from, stall_to). */
typedef struct sim {
    uint64_t service, stall_from, stall_to;
    uint32_t depth;
    uint64_t lat_us[4096];
    uint64_t sent_at[4096];
    uint32_t n;
} sim_t;

static void simulate(sim_t *sm, sched_t *s, uint64_t until) {
    tsq_t q;
    tsq_init(&q, sm->depth);
    uint64_t now = s->t0_ns, server_free = 0;
    uint64_t reply_at[64];
    uint32_t rhead = 0, rtail = 0;
    while (now <= until && sm->n < 4096) {
        uint64_t ts = 0;
        uint8_t tag = 0;
        /* Replies due by now, in order. */
        while (rhead != rtail && reply_at[rhead % 64] <= now) {
            cr_assert_eq(tsq_pop(&q, &ts, &tag), 0);
            sm->lat_us[sm->n++] = sched_latency_us(reply_at[rhead % 64], ts);
            rhead++;
        }
        /* Release and "send" what is due. */
        while (tsq_len(&q) < sm->depth && sched_take(s, now, &ts)) {
            tsq_push(&q, ts, 0);
            uint64_t start = now > server_free ? now : server_free;
            if (start >= sm->stall_from && start < sm->stall_to) start = sm->stall_to;
            server_free = start + sm->service;
            reply_at[rtail++ % 64] = server_free;
            sm->sent_at[s->next - 1] = now;
        }
        /* Next event: a reply, or the next intended send time. */
        uint64_t next = sched_next_time(s);
        if (tsq_len(&q) >= sm->depth) next = UINT64_MAX;
        if (rhead != rtail && reply_at[rhead % 64] < next) next = reply_at[rhead % 64];
        now = next > now ? next : now + 1;
    }
    tsq_free(&q);
}

Test(schedule, stall_is_measured_from_intended_times) {
    static sim_t sm;
    memset(&sm, 0, sizeof(sm));
    sm.service = 100 * US;
    sm.stall_from = 50 * MS;
    sm.stall_to = 150 * MS;
    sm.depth = 1;
    sched_t s;
    sched_init(&s, 0, 1000, 1, 0); /* one request per ms */
    simulate(&sm, &s, 400 * MS);
    cr_assert_gt(sm.n, 300);
    /* Before the stall: just the service time. */
    for (uint32_t k = 0; k < 49; k++)
        cr_assert_eq(sm.lat_us[k], 100, "k=%u", k);
    /* Request 49 is sent at 49 ms and answered at 49.1 ms; request 50 (sent
     * at 50 ms) waits for the stall to end: 150.1 ms. Requests 51.. could
     * not even be sent (depth 1), yet each carries the stall from its
     * intended time: request k is answered at 150.1 + (k-50) * 0.1 ms. */
    cr_assert_eq(sm.lat_us[49], 100);
    cr_assert_eq(sm.lat_us[50], 100100);
    for (uint32_t k = 51; k < 160; k++) {
        uint64_t reply = 150 * MS + (k - 50 + 1) * sm.service;
        if (reply < k * MS + sm.service) break; /* caught up */
        cr_assert_eq(sm.lat_us[k], (reply - k * MS + 500) / 1000, "k=%u", k);
        cr_assert_gt(sm.sent_at[k], k * MS, "request %u was sent late", k);
    }
    cr_assert_eq(sm.lat_us[51], 99200);  /* 150.2 - 51 ms */
    cr_assert_eq(sm.lat_us[100], 55100); /* 155.1 - 100 ms */
    /* Long after the stall: back to the service time. */
    for (uint32_t k = 200; k < 300; k++)
        cr_assert_eq(sm.lat_us[k], 100, "k=%u", k);
}

/* The same stall measured closed-loop style (from the actual send time)
 * would hide it: only one request sees it. This is the omission the open
 * loop avoids. */
Test(schedule, send_time_would_hide_the_stall) {
    static sim_t sm;
    memset(&sm, 0, sizeof(sm));
    sm.service = 100 * US;
    sm.stall_from = 50 * MS;
    sm.stall_to = 150 * MS;
    sm.depth = 1;
    sched_t s;
    sched_init(&s, 0, 1000, 1, 0);
    simulate(&sm, &s, 400 * MS);
    uint32_t big_intended = 0, big_sent = 0;
    for (uint32_t k = 0; k < 300; k++) {
        if (sm.lat_us[k] >= 1000) big_intended++;
        uint64_t lat_from_send = sm.lat_us[k] * US - (sm.sent_at[k] - k * MS);
        if (lat_from_send >= 1000 * US) big_sent++;
    }
    cr_assert_eq(big_sent, 1);
    cr_assert_gt(big_intended, 100);
}
