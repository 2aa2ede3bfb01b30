/* Stress test for ioloop/chan.c: a channel between two threads that each run
 * a libuv loop, with a ring far smaller than what the producer sends, so the
 * producer keeps overflowing. The overflow must go into the ring when the
 * consumer makes room and wakes the producer (no timer anywhere here): a lost
 * wake-up leaves both loops asleep and the test times out. Every message
 * arrives once, in order.
 *
 * A plain program (no Criterion) so that the ThreadSanitizer build runs it too
 * (see test_ring.c). */
#include "chan.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "test_chan.c:%d: check failed: %s. ", __LINE__, #cond);                \
            fprintf(stderr, " " __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t total; /* messages to send */
static iol_chan_t ch;

/* Producer thread. */
static uv_loop_t ploop;
static uv_async_t pasync; /* the consumer wakes us through it when it made room */
static uv_idle_t pidle;   /* sends bursts while there is something to send */
static uv_prepare_t pprep;
static uint64_t sent;
static uint64_t overflow_waits; /* flushes that ended with overflow left */

/* Consumer thread. */
static uv_loop_t cloop;
static iol_wake_t cwake;
static uv_async_t casync;
static uv_prepare_t cprep;
static uv_check_t ccheck;
static uint64_t received;
/* Set by the consumer when it saw everything (read by the producer loop to
 * know it may stop): release/acquire, publishes nothing else. */
static _Atomic int consumer_done;

static void p_on_async(uv_async_t *h) {
    (void)h; /* waking the loop is all: prepare flushes the overflow */
}

static void p_on_idle(uv_idle_t *h);

static void p_close_all(void) {
    uv_close((uv_handle_t *)&pasync, NULL);
    uv_close((uv_handle_t *)&pidle, NULL);
    uv_close((uv_handle_t *)&pprep, NULL);
}

static void p_on_prepare(uv_prepare_t *h) {
    (void)h;
    if (iol_chan_flush(&ch)) overflow_waits++;
    if (sent < total && ch.ovf_count <= 1000 && !uv_is_active((uv_handle_t *)&pidle))
        uv_idle_start(&pidle, p_on_idle);
    /* Once everything is sent the loop may block with overflow left: only
     * the consumer's signal (pasync) brings it back to flush again. */
    if (sent == total && uv_is_active((uv_handle_t *)&pidle)) uv_idle_stop(&pidle);
    if (sent == total && !ch.ovf_head && atomic_load_explicit(&consumer_done, memory_order_acquire))
        p_close_all();
}

static void p_on_idle(uv_idle_t *h) {
    (void)h;
    /* A burst far bigger than the ring: most of it overflows. While much
     * waits, stop sending (the loop may block) until the consumer's signal
     * and the next flush let it drain: this is where a lost wake-up would
     * hang the test. */
    if (ch.ovf_count > 1000) {
        uv_idle_stop(&pidle);
        return;
    }
    for (int i = 0; i < 200 && sent < total; i++, sent++)
        iol_chan_send(&ch, (void *)(uintptr_t)(sent * 7 + 1), sent);
}

static void producer_main(void *arg) {
    (void)arg;
    uv_run(&ploop, UV_RUN_DEFAULT);
}

static void c_drain(void) {
    iol_msg_t m[16];
    uint32_t n;
    while ((n = iol_chan_recv(&ch, m, 16)) > 0) {
        for (uint32_t i = 0; i < n; i++) {
            CHECK(m[i].arg == received, "got %llu, want %llu", (unsigned long long)m[i].arg,
                  (unsigned long long)received);
            CHECK((uintptr_t)m[i].ptr == received * 7 + 1);
            received++;
        }
        /* A slow consumer now and then, so the producer really waits. */
        if (received % 4096 < 16) usleep(200);
    }
    if (received == total && !atomic_load_explicit(&consumer_done, memory_order_relaxed)) {
        atomic_store_explicit(&consumer_done, 1, memory_order_release);
        uv_async_send(&pasync); /* let the producer notice and stop */
        uv_close((uv_handle_t *)&casync, NULL);
        uv_close((uv_handle_t *)&cprep, NULL);
        uv_close((uv_handle_t *)&ccheck, NULL);
    }
}

static void c_on_async(uv_async_t *h) {
    (void)h;
    c_drain();
}

/* The consumer's side of the wake protocol (ring.h): announce sleep, re-check,
 * and only block once a re-check found the ring empty. */
static void c_on_prepare(uv_prepare_t *h) {
    (void)h;
    for (;;) {
        iol_wake_consumer_will_sleep(&cwake);
        if (iol_ring_spsc_empty(&ch.ring)) break;
        iol_wake_consumer_awake(&cwake);
        c_drain();
        if (atomic_load_explicit(&consumer_done, memory_order_relaxed)) break;
    }
}

static void c_on_check(uv_check_t *h) {
    (void)h;
    iol_wake_consumer_awake(&cwake);
}

static void run(uint32_t capacity, uint64_t n) {
    total = n;
    sent = received = overflow_waits = 0;
    atomic_store_explicit(&consumer_done, 0, memory_order_relaxed);
    CHECK(uv_loop_init(&ploop) == 0);
    CHECK(uv_loop_init(&cloop) == 0);
    CHECK(uv_async_init(&ploop, &pasync, p_on_async) == 0);
    CHECK(uv_idle_init(&ploop, &pidle) == 0);
    CHECK(uv_idle_start(&pidle, p_on_idle) == 0);
    CHECK(uv_prepare_init(&ploop, &pprep) == 0);
    CHECK(uv_prepare_start(&pprep, p_on_prepare) == 0);
    iol_wake_init(&cwake);
    CHECK(uv_async_init(&cloop, &casync, c_on_async) == 0);
    CHECK(uv_prepare_init(&cloop, &cprep) == 0);
    CHECK(uv_prepare_start(&cprep, c_on_prepare) == 0);
    CHECK(uv_check_init(&cloop, &ccheck) == 0);
    CHECK(uv_check_start(&ccheck, c_on_check) == 0);
    CHECK(iol_chan_init(&ch, capacity, &cwake, &casync, &pasync) == 0);
    uv_thread_t pt;
    CHECK(uv_thread_create(&pt, producer_main, NULL) == 0);
    /* The consumer runs here; the whole exchange is bounded by the alarm. */
    alarm(UNDER_TSAN ? 240 : 60);
    uv_run(&cloop, UV_RUN_DEFAULT);
    CHECK(uv_thread_join(&pt) == 0);
    alarm(0);
    CHECK(received == total);
    CHECK(ch.ovf_head == NULL && ch.ovf_count == 0);
    fprintf(stderr, "[info] capacity %u: %llu messages, %llu flushes left overflow waiting\n",
            capacity, (unsigned long long)total, (unsigned long long)overflow_waits);
    CHECK(overflow_waits > 0, "the ring never overflowed: the test proves nothing");
    iol_chan_destroy(&ch);
    CHECK(uv_loop_close(&ploop) == 0);
    CHECK(uv_loop_close(&cloop) == 0);
}

int main(void) {
    uint64_t n = UNDER_TSAN ? 20000 : 100000;
    fprintf(stderr, "[RUN ] overflow_drains_on_consumer_signal\n");
    run(8, n);
    run(64, n);
    fprintf(stderr, "[PASS] overflow_drains_on_consumer_signal\n");
    return 0;
}
