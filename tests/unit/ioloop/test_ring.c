/* Stress tests for ioloop/ring.h (suite 'stress'; also run under
 * ThreadSanitizer): two-thread FIFO/no-loss/no-duplication checks with single
 * and batched operations, full-ring behaviour, capacity and index-wrap edge
 * cases, and the wake-up flag protocol with a consumer that really blocks. */
#ifndef RING_TEST_STANDALONE
#include <criterion/criterion.h>
#else
/* Criterion cannot start under ThreadSanitizer (its inheritable arena wants a
 * fixed address range that TSan reserves; Snaipe/Criterion#274), so for the
 * TSan run this file also builds as a plain program:
 *   cc -fsanitize=thread -DRING_TEST_STANDALONE ... test_ring.c kl_alloc.c
 * The stand-ins below cover exactly the Criterion macros used here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *label;
    void (*fn)(void);
} ring_tests[32];
static int ring_ntests;

#define Test(suite, tname, ...)                                                                    \
    static void suite##_##tname(void);                                                             \
    __attribute__((constructor)) static void suite##_##tname##_register(void) {                    \
        ring_tests[ring_ntests].label = #suite "::" #tname;                                        \
        ring_tests[ring_ntests++].fn = suite##_##tname;                                            \
    }                                                                                              \
    static void suite##_##tname(void)

__attribute__((format(printf, 5, 6))) static void
ring_check(int ok, const char *expr, const char *file, int line, const char *fmt, ...) {
    if (ok) return;
    fprintf(stderr, "%s:%d: assertion failed: %s. ", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

__attribute__((format(printf, 1, 2))) static void ring_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("[info] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

#define cr_assert(cond, ...) ring_check(!!(cond), #cond, __FILE__, __LINE__, " " __VA_ARGS__)
#define cr_assert_not(cond, ...) cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_log_info(...) ring_log(__VA_ARGS__)

/* Runs every test, or those whose name contains argv[1]. */
int main(int argc, char **argv) {
    for (int i = 0; i < ring_ntests; i++) {
        if (argc > 1 && !strstr(ring_tests[i].label, argv[1])) continue;
        fprintf(stderr, "[RUN ] %s\n", ring_tests[i].label);
        ring_tests[i].fn();
        fprintf(stderr, "[PASS] %s\n", ring_tests[i].label);
    }
    return 0;
}
#endif

#include "ring.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

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

/* Work is scaled down under TSan (several times slower per operation). */
#define SCALE(n) (UNDER_TSAN ? (n) / 5 : (n))

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Test-side waiting (the ring itself never waits): spin briefly, then yield so
 * that two busy threads make progress on a 2-core machine. */
static inline void backoff(unsigned *spins) {
    if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        *spins = 0;
        sched_yield();
    }
}

/* Message i carries seq i in arg and a checksum of it in ptr, so a torn or
 * stale slot is detected, not only a wrong order. */
static inline iol_msg_t make_msg(uint64_t seq) {
    iol_msg_t m = {.ptr = (void *)(uintptr_t)(seq * 0x9e3779b97f4a7c15ull ^ 0x5555), .arg = seq};
    return m;
}
static inline bool msg_ok(const iol_msg_t *m, uint64_t expect) {
    return m->arg == expect &&
           m->ptr == (void *)(uintptr_t)(expect * 0x9e3779b97f4a7c15ull ^ 0x5555);
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- single-threaded edge cases ---- */

Test(ring, capacity_validation) {
    iol_ring_t r;
    cr_assert_eq(iol_ring_init(&r, 0), -EINVAL);
    cr_assert_eq(iol_ring_init(&r, 3), -EINVAL);
    cr_assert_eq(iol_ring_init(&r, 1000), -EINVAL);
    cr_assert_eq(iol_ring_init(&r, 0x80000001u), -EINVAL);
    cr_assert_eq(iol_ring_init(&r, 1u << 16), 0);
    cr_assert_eq(iol_ring_capacity(&r), 1u << 16);
    cr_assert_eq((uintptr_t)r.p.buf % IOL_RING_BUF_ALIGN, 0, "buffer aligned");
    /* Producer and consumer fields are at least one block apart. */
    cr_assert_geq((char *)&r.c.head - (char *)&r.p.tail, IOL_RING_LINE);
    cr_assert_geq((char *)&r.p.tail - (char *)&r, IOL_RING_LINE);
    iol_ring_destroy(&r);
}

Test(ring, capacity_one) {
    iol_ring_t r;
    cr_assert_eq(iol_ring_init(&r, 1), 0);
    iol_msg_t m = make_msg(7), out;
    cr_assert(iol_ring_spsc_empty(&r));
    cr_assert_not(iol_ring_spsc_pop(&r, &out));
    cr_assert(iol_ring_spsc_push(&r, &m));
    iol_msg_t m2 = make_msg(8);
    cr_assert_not(iol_ring_spsc_push(&r, &m2), "full ring refuses");
    cr_assert_eq(iol_ring_spsc_push_n(&r, &m2, 1), 0);
    cr_assert_eq(iol_ring_size_hint(&r), 1);
    cr_assert(iol_ring_spsc_pop(&r, &out));
    cr_assert(msg_ok(&out, 7), "not overwritten");
    cr_assert_not(iol_ring_spsc_pop(&r, &out));
    cr_assert_eq(iol_ring_spsc_pop_n(&r, &out, 4), 0);
    for (uint64_t i = 0; i < 1000; i++) {
        m = make_msg(i);
        cr_assert(iol_ring_spsc_push(&r, &m));
        cr_assert(iol_ring_spsc_pop(&r, &out));
        cr_assert(msg_ok(&out, i));
    }
    iol_ring_destroy(&r);
}

Test(ring, full_ring_never_overwrites_and_batches_clip) {
    enum { CAP = 64 };
    iol_ring_t r;
    cr_assert_eq(iol_ring_init(&r, CAP), 0);
    iol_msg_t batch[3 * CAP], out[3 * CAP];
    for (uint64_t i = 0; i < 3 * CAP; i++)
        batch[i] = make_msg(i);
    /* push_n of more than fits pushes exactly the free space. */
    cr_assert_eq(iol_ring_spsc_push_n(&r, batch, 10), 10);
    cr_assert_eq(iol_ring_spsc_push_n(&r, batch + 10, 3 * CAP), CAP - 10);
    cr_assert_eq(iol_ring_size_hint(&r), CAP);
    for (int k = 0; k < 5; k++) {
        iol_msg_t extra = make_msg(999);
        cr_assert_not(iol_ring_spsc_push(&r, &extra));
        cr_assert_eq(iol_ring_spsc_push_n(&r, &extra, 1), 0);
    }
    /* Pop a few, push a few (wrapping in the buffer), check exact FIFO. */
    cr_assert_eq(iol_ring_spsc_pop_n(&r, out, 5), 5);
    for (uint64_t i = 0; i < 5; i++)
        cr_assert(msg_ok(&out[i], i));
    cr_assert_eq(iol_ring_spsc_push_n(&r, batch + CAP, 8), 5, "only the 5 freed slots");
    cr_assert_eq(iol_ring_spsc_pop_n(&r, out, 3 * CAP), CAP);
    for (uint64_t i = 0; i < CAP; i++)
        cr_assert(msg_ok(&out[i], i + 5), "slot %lu", (unsigned long)i);
    cr_assert(iol_ring_spsc_empty(&r));
    cr_assert_eq(iol_ring_spsc_pop_n(&r, out, 0), 0);
    cr_assert_eq(iol_ring_spsc_push_n(&r, batch, 0), 0);
    iol_ring_destroy(&r);
}

/* The 32-bit indices are free-running: start them just below 2^32 (white-box)
 * and run through the wrap with single and batched operations. */
Test(ring, index_wraparound) {
    enum { CAP = 8 };
    iol_ring_t r;
    cr_assert_eq(iol_ring_init(&r, CAP), 0);
    uint32_t start = UINT32_MAX - 20;
    atomic_store(&r.p.tail, start);
    atomic_store(&r.c.head, start);
    r.p.head_cache = start;
    r.c.tail_cache = start;
    uint64_t next_in = 0, next_out = 0;
    iol_msg_t buf[CAP + 3], out[CAP + 3];
    uint64_t s = 12345;
    for (int round = 0; round < 200; round++) {
        uint32_t want = (uint32_t)(xorshift(&s) % (CAP + 3));
        for (uint32_t i = 0; i < want; i++)
            buf[i] = make_msg(next_in + i);
        uint32_t room = CAP - iol_ring_size_hint(&r);
        uint32_t pushed = iol_ring_spsc_push_n(&r, buf, want);
        cr_assert_eq(pushed, want < room ? want : room);
        next_in += pushed;
        cr_assert_leq(iol_ring_size_hint(&r), CAP);
        uint32_t got = iol_ring_spsc_pop_n(&r, out, (uint32_t)(xorshift(&s) % (CAP + 3)));
        for (uint32_t i = 0; i < got; i++)
            cr_assert(msg_ok(&out[i], next_out++));
    }
    while (iol_ring_spsc_pop(&r, out))
        cr_assert(msg_ok(out, next_out++));
    cr_assert_eq(next_in, next_out);
    cr_assert_lt(atomic_load(&r.p.tail), start, "the indices wrapped");
    iol_ring_destroy(&r);
}

/* ---- two-thread stress ---- */

typedef struct stress {
    iol_ring_t ring;
    uint64_t count;
    int batched; /* 0: single push/pop; 1: random batches; 2: mixed */
    uint64_t seed;
    /* Results, read after join. */
    uint64_t errors, first_bad, received, full_hits, empty_hits;
} stress_t;

static void *stress_producer(void *arg) {
    stress_t *st = arg;
    uint64_t s = st->seed | 1, seq = 0;
    unsigned spins = 0;
    iol_msg_t batch[64];
    while (seq < st->count) {
        bool use_batch = st->batched == 1 || (st->batched == 2 && (xorshift(&s) & 1));
        if (!use_batch) {
            iol_msg_t m = make_msg(seq);
            if (iol_ring_spsc_push(&st->ring, &m)) {
                seq++;
                spins = 0;
            } else {
                st->full_hits++;
                backoff(&spins);
            }
        } else {
            uint32_t n = 1 + (uint32_t)(xorshift(&s) % 64);
            if (n > st->count - seq) n = (uint32_t)(st->count - seq);
            for (uint32_t i = 0; i < n; i++)
                batch[i] = make_msg(seq + i);
            uint32_t k = iol_ring_spsc_push_n(&st->ring, batch, n);
            seq += k;
            if (k < n) {
                st->full_hits++;
                backoff(&spins);
            } else {
                spins = 0;
            }
        }
    }
    return NULL;
}

static void *stress_consumer(void *arg) {
    stress_t *st = arg;
    uint64_t s = (st->seed * 31) | 1, expect = 0;
    unsigned spins = 0;
    iol_msg_t out[64];
    while (expect < st->count) {
        bool use_batch = st->batched == 1 || (st->batched == 2 && (xorshift(&s) & 1));
        uint32_t got;
        if (!use_batch) {
            got = iol_ring_spsc_pop(&st->ring, out) ? 1 : 0;
        } else {
            got = iol_ring_spsc_pop_n(&st->ring, out, 1 + (uint32_t)(xorshift(&s) % 64));
        }
        if (got == 0) {
            st->empty_hits++;
            backoff(&spins);
            continue;
        }
        spins = 0;
        for (uint32_t i = 0; i < got; i++, expect++) {
            if (!msg_ok(&out[i], expect)) {
                if (st->errors++ == 0) st->first_bad = expect;
                expect = out[i].arg; /* resynchronise to count further errors */
            }
        }
    }
    st->received = expect;
    return NULL;
}

/* Joins with a deadline so a hang fails the test instead of wedging it. */
static void join_or_fail(pthread_t t, int seconds, const char *what) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    int err = pthread_timedjoin_np(t, NULL, &ts);
    cr_assert_eq(err, 0, "%s did not finish within %d s (hang)", what, seconds);
}

static void run_stress(uint32_t cap, uint64_t count, int batched, uint64_t seed) {
    stress_t *st = kl_calloc(1, sizeof(*st));
    cr_assert_eq(iol_ring_init(&st->ring, cap), 0);
    st->count = count;
    st->batched = batched;
    st->seed = seed;
    uint64_t t0 = now_ns();
    pthread_t pt, ct;
    pthread_create(&ct, NULL, stress_consumer, st);
    pthread_create(&pt, NULL, stress_producer, st);
    join_or_fail(pt, 120, "producer");
    join_or_fail(ct, 120, "consumer");
    double secs = (double)(now_ns() - t0) / 1e9;
    cr_log_info("cap %u mode %d: %.1f M msgs in %.2f s (%.1f M/s), full %lu, empty %lu", cap,
                batched, (double)count / 1e6, secs, (double)count / 1e6 / secs,
                (unsigned long)st->full_hits, (unsigned long)st->empty_hits);
    cr_assert_eq(st->errors, 0, "%lu order/content errors, first at seq %lu",
                 (unsigned long)st->errors, (unsigned long)st->first_bad);
    cr_assert_eq(st->received, count);
    cr_assert(iol_ring_spsc_empty(&st->ring), "nothing left over (no duplication)");
    iol_ring_destroy(&st->ring);
    kl_free(st);
}

Test(ring, two_threads_single_ops) {
    run_stress(1024, SCALE(10000000ull), 0, 1);
    /* A tiny ring makes full/empty the common case. */
    run_stress(4, SCALE(200000ull), 0, 2);
}

Test(ring, two_threads_batched_ops) {
    run_stress(1024, SCALE(20000000ull), 1, 3);
    run_stress(64, SCALE(2000000ull), 1, 4);
}

Test(ring, two_threads_mixed_ops) {
    run_stress(256, SCALE(5000000ull), 2, 5);
    run_stress(1, SCALE(50000ull), 2, 6);
}

/* ---- wake-up flag protocol ----
 *
 * The consumer blocks in poll() on an eventfd (sticky, like uv_async) and
 * follows the protocol in ring.h. Producers push bursts and signal only when
 * iol_wake_producer_should_signal() says so, then wait until the consumer has
 * consumed the whole burst, so every burst races with the consumer going to
 * sleep. If a wake-up were lost the consumer would sleep with messages pending
 * and the producer's wait would time out: the producer then counts a lost
 * wake-up and rescues the consumer with an extra signal so the test ends. */

#define WAKE_MAX_PRODUCERS 2

typedef struct wake_test wake_test_t;

typedef struct wake_prod {
    wake_test_t *wt;
    iol_ring_t ring;
    _Atomic uint64_t consumed; /* published by the consumer after checking */
    uint64_t bursts, seed;
    uint64_t signals, lost;  /* producer-private until join */
    uint64_t expect, errors; /* consumer-private until join */
} wake_prod_t;

struct wake_test {
    iol_wake_t wake;
    int efd;
    int nprod;
    bool broken; /* consumer skips the re-check (negative control) */
    uint64_t rescue_ms;
    _Atomic int producers_done;
    _Atomic uint64_t checked; /* pushes whose signal decision is complete */
    wake_prod_t prod[WAKE_MAX_PRODUCERS];
    uint64_t max_lost; /* producers stop after this many lost wake-ups */
    uint64_t sleeps, spurious, recheck_saves, iterations; /* consumer-private until join */
};

static void efd_signal(int efd) {
    uint64_t one = 1;
    ssize_t w = write(efd, &one, sizeof(one));
    (void)w;
}

static void *wake_producer(void *arg) {
    wake_prod_t *p = arg;
    wake_test_t *wt = p->wt;
    uint64_t s = p->seed | 1, seq = 0;
    iol_msg_t batch[16];
    for (uint64_t b = 0; b < p->bursts && p->lost < wt->max_lost; b++) {
        uint32_t n = 1 + (uint32_t)(xorshift(&s) % 16);
        for (uint32_t i = 0; i < n; i++)
            batch[i] = make_msg(seq + i);
        uint32_t done = 0;
        unsigned spins = 0;
        while (done < n) {
            /* Mix single and batched pushes; signal after each. */
            uint32_t k = (xorshift(&s) & 1) ? iol_ring_spsc_push_n(&p->ring, batch + done, n - done)
                                            : (iol_ring_spsc_push(&p->ring, batch + done) ? 1 : 0);
            done += k;
            if (k && iol_wake_producer_should_signal(&wt->wake)) {
                efd_signal(wt->efd);
                p->signals++;
            }
            /* Release: test-progress counter telling the consumer that a push
             * and its signal decision are complete (used to force races). */
            if (k) atomic_fetch_add_explicit(&wt->checked, 1, memory_order_release);
            if (!k) backoff(&spins);
        }
        seq += n;
        /* Wait for the consumer to take the whole burst; acquire pairs with its
         * release store of consumed (only a test-progress counter). */
        uint64_t deadline = now_ns() + wt->rescue_ms * 1000000ull;
        bool rescued = false;
        while (atomic_load_explicit(&p->consumed, memory_order_acquire) < seq) {
            if (!rescued && now_ns() > deadline) {
                p->lost++;
                rescued = true;
                efd_signal(wt->efd);
            }
            backoff(&spins);
        }
        /* Sometimes give the consumer time to really block before the next burst. */
        if ((xorshift(&s) & 7) == 0) {
            uint64_t until = now_ns() + xorshift(&s) % 20000;
            while (now_ns() < until) {}
        }
    }
    atomic_fetch_add_explicit(&wt->producers_done, 1, memory_order_release);
    efd_signal(wt->efd); /* let the consumer see the end */
    return NULL;
}

static bool wake_drain(wake_test_t *wt) {
    bool any = false;
    iol_msg_t out[32];
    for (int i = 0; i < wt->nprod; i++) {
        wake_prod_t *p = &wt->prod[i];
        uint32_t got;
        while ((got = iol_ring_spsc_pop_n(&p->ring, out, 32)) > 0) {
            any = true;
            for (uint32_t j = 0; j < got; j++, p->expect++) {
                if (!msg_ok(&out[j], p->expect)) {
                    p->errors++;
                    p->expect = out[j].arg;
                }
            }
            /* Release: only a progress counter for the producer's wait. */
            atomic_store_explicit(&p->consumed, p->expect, memory_order_release);
        }
    }
    return any;
}

static bool wake_rings_empty(wake_test_t *wt) {
    for (int i = 0; i < wt->nprod; i++) {
        if (!iol_ring_spsc_empty(&wt->prod[i].ring)) return false;
    }
    return true;
}

static void *wake_consumer(void *arg) {
    wake_test_t *wt = arg;
    for (;;) {
        /* Acquire: only a test-progress counter (see wake_producer). */
        uint64_t checked0 = atomic_load_explicit(&wt->checked, memory_order_acquire);
        wake_drain(wt);
        if (atomic_load_explicit(&wt->producers_done, memory_order_acquire) == wt->nprod) {
            wake_drain(wt);
            break;
        }
        /* Force the dangerous interleaving: after the drain found nothing and
         * before announcing the sleep, wait (bounded) until a producer has
         * pushed and already decided, seeing sleeping == 0, not to signal.
         * Always in the broken control, every 8th time in the real protocol,
         * whose re-check must then catch the message. Natural races happen
         * too; forcing makes the coverage independent of machine load. */
        if (wt->broken || (++wt->iterations & 7) == 0) {
            uint64_t until = now_ns() + 20000000ull;
            while (atomic_load_explicit(&wt->checked, memory_order_acquire) == checked0 &&
                   now_ns() < until) {
                sched_yield();
            }
        }
        iol_wake_consumer_will_sleep(&wt->wake);
        if (!wt->broken && !wake_rings_empty(wt)) {
            /* The re-check found a message pushed by a producer that may have
             * seen sleeping == 0: drain instead of blocking. */
            iol_wake_consumer_awake(&wt->wake);
            wt->recheck_saves++;
            continue;
        }
        struct pollfd pfd = {.fd = wt->efd, .events = POLLIN};
        int rc = poll(&pfd, 1, 30000);
        if (rc == 1) {
            uint64_t v;
            ssize_t r = read(wt->efd, &v, sizeof(v));
            (void)r;
        }
        iol_wake_consumer_awake(&wt->wake);
        wt->sleeps++;
        if (!wake_drain(wt)) wt->spurious++;
    }
    return NULL;
}

static wake_test_t *run_wake(int nprod, uint64_t bursts, bool broken, uint64_t rescue_ms,
                             uint64_t max_lost) {
    wake_test_t *wt = kl_calloc(1, sizeof(*wt));
    iol_wake_init(&wt->wake);
    wt->efd = eventfd(0, EFD_CLOEXEC);
    cr_assert_geq(wt->efd, 0);
    wt->nprod = nprod;
    wt->broken = broken;
    wt->rescue_ms = rescue_ms;
    wt->max_lost = max_lost;
    for (int i = 0; i < nprod; i++) {
        cr_assert_eq(iol_ring_init(&wt->prod[i].ring, 64), 0);
        wt->prod[i].wt = wt;
        wt->prod[i].bursts = bursts;
        wt->prod[i].seed = 1000 + (uint64_t)i;
    }
    pthread_t ct, pt[WAKE_MAX_PRODUCERS];
    uint64_t t0 = now_ns();
    pthread_create(&ct, NULL, wake_consumer, wt);
    for (int i = 0; i < nprod; i++)
        pthread_create(&pt[i], NULL, wake_producer, &wt->prod[i]);
    for (int i = 0; i < nprod; i++)
        join_or_fail(pt[i], 200, "wake producer");
    join_or_fail(ct, 60, "wake consumer");
    uint64_t signals = 0, lost = 0, msgs = 0;
    for (int i = 0; i < nprod; i++) {
        signals += wt->prod[i].signals;
        lost += wt->prod[i].lost;
        msgs += wt->prod[i].expect;
        cr_assert_eq(wt->prod[i].errors, 0, "producer %d: order/content errors", i);
        cr_assert_eq(atomic_load(&wt->prod[i].consumed), wt->prod[i].expect);
        cr_assert(iol_ring_spsc_empty(&wt->prod[i].ring));
    }
    cr_log_info("wake %s: %d producer(s), %lu bursts each, %lu msgs, %lu signals, %lu consumer "
                "sleeps (%lu spurious), %lu re-check saves, %lu lost wake-ups, %.2f s",
                broken ? "(broken control)" : "", nprod, (unsigned long)bursts, (unsigned long)msgs,
                (unsigned long)signals, (unsigned long)wt->sleeps, (unsigned long)wt->spurious,
                (unsigned long)wt->recheck_saves, (unsigned long)lost,
                (double)(now_ns() - t0) / 1e9);
    return wt;
}

static void free_wake(wake_test_t *wt) {
    for (int i = 0; i < wt->nprod; i++)
        iol_ring_destroy(&wt->prod[i].ring);
    close(wt->efd);
    kl_free(wt);
}

Test(ring, wake_flag_no_lost_wakeup) {
    uint64_t bursts = SCALE(60000ull);
    wake_test_t *wt = run_wake(1, bursts, false, 2000, 1);
    uint64_t lost = wt->prod[0].lost;
    cr_assert_eq(lost, 0, "%lu lost wake-ups", (unsigned long)lost);
    cr_assert_gt(wt->sleeps, bursts / 100, "the consumer must really block (%lu sleeps)",
                 (unsigned long)wt->sleeps);
    cr_assert_lt(wt->prod[0].signals, bursts * 16, "signals are skipped while awake");
    cr_assert_gt(wt->recheck_saves, 0, "the re-check after will_sleep should have mattered");
    free_wake(wt);
}

Test(ring, wake_flag_two_producers_share_flag) {
    uint64_t bursts = SCALE(30000ull);
    wake_test_t *wt = run_wake(2, bursts, false, 2000, 1);
    cr_assert_eq(wt->prod[0].lost + wt->prod[1].lost, 0, "lost wake-ups");
    cr_assert_gt(wt->sleeps, bursts / 100);
    free_wake(wt);
}

/* Negative control: the same harness with the consumer's re-check removed must
 * detect lost wake-ups, which shows the test above can fail. */
Test(ring, wake_detector_catches_broken_protocol) {
    wake_test_t *wt = run_wake(1, SCALE(20000ull), true, 5, 10);
    cr_assert_gt(wt->prod[0].lost, 0, "the broken protocol should lose wake-ups");
    free_wake(wt);
}
