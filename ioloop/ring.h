/* Bounded lock-free single-producer / single-consumer ring of 16-byte
 * messages, and a wake-up flag that lets a producer skip the wake-up system
 * call while the consumer is awake.
 *
 * One ring per direction per I/O thread: the I/O thread produces into its
 * "to executor" ring and consumes its "from executor" ring; the executor does
 * the opposite. Exactly one thread may push and exactly one thread may pop a
 * given ring (the `spsc` in the names); which thread is the producer and which
 * the consumer is fixed for the ring's life.
 *
 * Design (in the manner of Concurrency Kit's ck_ring and Rigtorp's SPSC queue):
 * - Capacity is a power of two; head and tail are free-running 32-bit counters
 *   (slot = index & mask, fill = tail - head modulo 2^32), so every slot is
 *   usable and no slot is wasted to tell full from empty.
 * - The producer's fields and the consumer's fields live in separate 128-byte
 *   blocks (two cache lines, because x86's adjacent-line prefetcher pairs lines),
 *   and the read-only fields are duplicated into both blocks so each side
 *   touches one line of metadata per operation.
 * - Each side keeps a cached copy of the other side's index and reads the
 *   shared one only when the cache says full (producer) or empty (consumer), so
 *   in steady state the index lines are not bounced on every message.
 * - A full ring makes push return false (or push_n push fewer): the caller
 *   applies back-pressure (stops reading from the socket); nothing spins here.
 *
 * The buffer is allocated with kl_malloc and aligned to 64 bytes by hand.
 * Header-only: everything is static inline. */
#ifndef IOL_RING_H
#define IOL_RING_H

#include "kl_alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IOL_RING_LINE 128     /* separation between producer and consumer fields */
#define IOL_RING_BUF_ALIGN 64 /* alignment of the message buffer */
#define IOL_RING_MAX_CAPACITY (1u << 31)

typedef struct iol_msg {
    void *ptr;
    uint64_t arg;
} iol_msg_t;

/* Fields are private to this header (tests may inspect them). */
typedef struct iol_ring {
    /* Cold, read-only after init; also keeps the producer block at least one
     * IOL_RING_LINE away from whatever precedes an embedded ring. */
    union {
        struct {
            void *raw;         /* kl_malloc'd block holding buf */
            uint32_t capacity; /* mask + 1 */
        } cold;
        char cold_pad_[IOL_RING_LINE];
    };
    /* Written by the producer only. */
    union {
        struct {
            _Atomic uint32_t tail; /* next slot to fill; published with release */
            uint32_t head_cache;   /* producer's last view of head (plain: producer-private) */
            uint32_t mask;
            iol_msg_t *buf;
        } p;
        char p_pad_[IOL_RING_LINE];
    };
    /* Written by the consumer only. */
    union {
        struct {
            _Atomic uint32_t head; /* next slot to read; published with release */
            uint32_t tail_cache;   /* consumer's last view of tail (plain: consumer-private) */
            uint32_t mask;
            iol_msg_t *buf;
        } c;
        char c_pad_[IOL_RING_LINE];
    };
} iol_ring_t;

/* Initialises r with capacity_pow2 slots (a power of two, 1 .. 2^31).
 * Returns 0, or -EINVAL for a bad capacity. Must happen before the ring is
 * shared with the other thread (publish r through something that orders it,
 * such as pthread_create or a mutex). Thread: any, before sharing. */
static inline int iol_ring_init(iol_ring_t *r, uint32_t capacity_pow2) {
    if (capacity_pow2 == 0 || capacity_pow2 > IOL_RING_MAX_CAPACITY ||
        (capacity_pow2 & (capacity_pow2 - 1)) != 0)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    size_t bytes = (size_t)capacity_pow2 * sizeof(iol_msg_t);
    void *raw = kl_malloc(bytes + IOL_RING_BUF_ALIGN - 1);
    iol_msg_t *buf = (iol_msg_t *)(((uintptr_t)raw + IOL_RING_BUF_ALIGN - 1) &
                                   ~(uintptr_t)(IOL_RING_BUF_ALIGN - 1));
    r->cold.raw = raw;
    r->cold.capacity = capacity_pow2;
    r->p.mask = r->c.mask = capacity_pow2 - 1;
    r->p.buf = r->c.buf = buf;
    r->p.head_cache = 0;
    r->c.tail_cache = 0;
    /* Plain initialisation: nothing is shared yet. */
    atomic_init(&r->p.tail, 0);
    atomic_init(&r->c.head, 0);
    return 0;
}

/* Frees the buffer. Messages still in the ring are dropped (the caller drains
 * it first if they own memory). Thread: any, once neither side uses the ring. */
static inline void iol_ring_destroy(iol_ring_t *r) {
    kl_free(r->cold.raw);
    r->cold.raw = NULL;
    r->p.buf = r->c.buf = NULL;
}

/* Capacity in messages. Thread: any. */
static inline uint32_t iol_ring_capacity(const iol_ring_t *r) {
    return r->cold.capacity;
}

/* Free slots from the producer's point of view, refreshing its cached head
 * when the cache shows fewer than `want` free slots. */
static inline uint32_t iol__ring_free(iol_ring_t *r, uint32_t t, uint32_t want) {
    uint32_t cap = r->p.mask + 1;
    uint32_t free_slots = cap - (t - r->p.head_cache);
    if (free_slots < want) {
        /* Acquire pairs with the consumer's release store of head: the
         * consumer's reads of the slots it has released happen before our
         * writes that reuse them (no overwrite of a message being read). */
        r->p.head_cache = atomic_load_explicit(&r->c.head, memory_order_acquire);
        free_slots = cap - (t - r->p.head_cache);
    }
    return free_slots;
}

/* Appends one message. Returns false if the ring is full (nothing written).
 * Thread: the ring's producer only. */
static inline bool iol_ring_spsc_push(iol_ring_t *r, const iol_msg_t *m) {
    /* Relaxed: tail is written only by this thread, so we read our own value. */
    uint32_t t = atomic_load_explicit(&r->p.tail, memory_order_relaxed);
    if (iol__ring_free(r, t, 1) == 0) return false;
    r->p.buf[t & r->p.mask] = *m;
    /* Release publishes the slot contents written above to the consumer,
     * whose acquire load of tail makes them visible before it reads the slot. */
    atomic_store_explicit(&r->p.tail, t + 1, memory_order_release);
    return true;
}

/* Appends as many of m[0..n) as fit, in order, and publishes them with a
 * single release store. Returns how many were pushed (0 when full).
 * Thread: the ring's producer only. */
static inline uint32_t iol_ring_spsc_push_n(iol_ring_t *r, const iol_msg_t *m, uint32_t n) {
    /* Relaxed: our own index (see iol_ring_spsc_push). */
    uint32_t t = atomic_load_explicit(&r->p.tail, memory_order_relaxed);
    uint32_t free_slots = iol__ring_free(r, t, n);
    if (n > free_slots) n = free_slots;
    if (n == 0) return 0;
    uint32_t cap = r->p.mask + 1;
    uint32_t at = t & r->p.mask;
    uint32_t first = cap - at < n ? cap - at : n; /* up to the end of the buffer */
    memcpy(&r->p.buf[at], m, (size_t)first * sizeof(*m));
    if (n > first) memcpy(&r->p.buf[0], m + first, (size_t)(n - first) * sizeof(*m));
    /* Release publishes all n slots at once (see iol_ring_spsc_push). */
    atomic_store_explicit(&r->p.tail, t + n, memory_order_release);
    return n;
}

/* Messages available from the consumer's point of view, refreshing its
 * cached tail when the cache shows fewer than `want`. */
static inline uint32_t iol__ring_avail(iol_ring_t *r, uint32_t h, uint32_t want) {
    uint32_t avail = r->c.tail_cache - h;
    if (avail < want) {
        /* Acquire pairs with the producer's release store of tail: the slot
         * contents it wrote before publishing are visible to our reads. */
        r->c.tail_cache = atomic_load_explicit(&r->p.tail, memory_order_acquire);
        avail = r->c.tail_cache - h;
    }
    return avail;
}

/* Removes the oldest message into *m. Returns false if the ring is empty.
 * Thread: the ring's consumer only. */
static inline bool iol_ring_spsc_pop(iol_ring_t *r, iol_msg_t *m) {
    /* Relaxed: head is written only by this thread. */
    uint32_t h = atomic_load_explicit(&r->c.head, memory_order_relaxed);
    if (iol__ring_avail(r, h, 1) == 0) return false;
    *m = r->c.buf[h & r->c.mask];
    /* Release hands the slot back: our read of it happens before the
     * producer (acquiring head) overwrites it. */
    atomic_store_explicit(&r->c.head, h + 1, memory_order_release);
    return true;
}

/* Removes up to max messages into out[0..), oldest first, releasing all their
 * slots with a single release store. Returns how many (0 when empty).
 * Thread: the ring's consumer only. */
static inline uint32_t iol_ring_spsc_pop_n(iol_ring_t *r, iol_msg_t *out, uint32_t max) {
    /* Relaxed: our own index (see iol_ring_spsc_pop). */
    uint32_t h = atomic_load_explicit(&r->c.head, memory_order_relaxed);
    uint32_t n = iol__ring_avail(r, h, max);
    if (n > max) n = max;
    if (n == 0) return 0;
    uint32_t cap = r->c.mask + 1;
    uint32_t at = h & r->c.mask;
    uint32_t first = cap - at < n ? cap - at : n;
    memcpy(out, &r->c.buf[at], (size_t)first * sizeof(*out));
    if (n > first) memcpy(out + first, &r->c.buf[0], (size_t)(n - first) * sizeof(*out));
    /* Release hands all n slots back at once (see iol_ring_spsc_pop). */
    atomic_store_explicit(&r->c.head, h + n, memory_order_release);
    return n;
}

/* True if the ring holds no message. Exact for the consumer (nothing can be
 * removed behind its back); a hint for any other thread. Always reads the
 * shared tail, never the consumer's cache, which is what the wake-up protocol
 * needs for its re-check after iol_wake_consumer_will_sleep().
 * Thread: any. */
static inline bool iol_ring_spsc_empty(const iol_ring_t *r) {
    /* Acquire on both: pairs with the other side's release stores, so a
     * "not empty" answer to the consumer means the message is readable. */
    uint32_t h = atomic_load_explicit(&r->c.head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&r->p.tail, memory_order_acquire);
    return h == t;
}

/* Number of messages in the ring: exact for the consumer or the producer
 * (a lower/upper bound respectively while the other side runs), a hint for
 * anyone else; never above the capacity. Thread: any. */
static inline uint32_t iol_ring_size_hint(const iol_ring_t *r) {
    /* Head first, then tail: tail only grows past the head we read, so the
     * difference cannot go negative; clamp the other way (head may have
     * moved on while we read tail). Acquire: see iol_ring_spsc_empty. */
    uint32_t h = atomic_load_explicit(&r->c.head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&r->p.tail, memory_order_acquire);
    uint32_t n = t - h;
    return n > r->cold.capacity ? r->cold.capacity : n;
}

/* ---------------------------------------------------------------------------
 * Wake-up flag.
 *
 * A consumer that blocks in poll (uv_run) must be woken when a producer pushes,
 * but the wake-up (uv_async_send: a write to an eventfd) is a system call that
 * is wasted while the consumer is awake and will drain the ring anyway. The flag
 * says "the consumer may be about to block". Protocol:
 *
 *   consumer (before it may block):          producer (after each push/batch):
 *     iol_wake_consumer_will_sleep(w);          push(ring, msg);
 *     if (!all rings empty) {                   if (iol_wake_producer_should_signal(w))
 *         iol_wake_consumer_awake(w);               uv_async_send(&async);
 *         drain; loop again;
 *     }
 *     block in poll until the async fires;
 *     iol_wake_consumer_awake(w); drain;
 *
 * Why no wake-up is lost (a Dekker-style argument). Let S be the consumer's
 * store sleeping=1, F1 the seq_cst fence after it and L1 its re-check load of
 * a ring's tail; let P be the producer's release store of tail, F2 the seq_cst
 * fence after it and L2 its load of sleeping. All seq_cst fences are totally
 * ordered. If F1 comes before F2 in that order, C11 guarantees L2 sees S (or a
 * later store to sleeping): the producer sees 1 and signals. If F2 comes before
 * F1, L1 sees P: the consumer finds the message and does not block. Either way
 * the message is noticed; the case where both loads miss both stores (which
 * plain or acquire/release accesses allow, since a store may sit in a store
 * buffer while a later load runs) is exactly what the two fences rule out.
 * The consumer's re-check must read the shared index (iol_ring_spsc_empty does),
 * and the wake-up must be "sticky" (an eventfd/async that stays pending when
 * sent before the consumer blocks), which uv_async_send is.
 *
 * iol_wake_consumer_awake() needs no fence: a producer that still sees 1 just
 * sends one unnecessary wake-up, and one that sees 0 pushed a message that the
 * consumer's next will_sleep/re-check is guaranteed to notice (argument above).
 *
 * Several producers may share one flag (all I/O threads feeding the executor).
 * The first producer to see 1 claims the wake-up by exchanging the flag to 0,
 * so the others skip their system call; the claim is sound because the claimer
 * signals, and any producer that read 0 from the claim is ordered before the
 * consumer's next will_sleep store, so that re-check sees its message. */

typedef struct iol_wake {
    _Atomic int sleeping;
} iol_wake_t;

/* ThreadSanitizer does not model standalone fences (GCC 12+ warns with
 * -Wtsan). Nothing TSan checks depends on them: the ring's slots are ordered by
 * the acquire/release index operations, and these fences only order accesses
 * to atomics, which are never data races. The fences still execute. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__) && __GNUC__ >= 12
#define IOL__TSAN_FENCE_PUSH                                                                       \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wtsan\"")
#define IOL__TSAN_FENCE_POP _Pragma("GCC diagnostic pop")
#else
#define IOL__TSAN_FENCE_PUSH
#define IOL__TSAN_FENCE_POP
#endif

/* Thread: any, before sharing. */
static inline void iol_wake_init(iol_wake_t *w) {
    atomic_init(&w->sleeping, 0);
}

/* Consumer, right before it may block: announce it, then re-check every ring
 * it consumes (iol_ring_spsc_empty) and, if any has a message, call
 * iol_wake_consumer_awake() and drain instead of blocking.
 * Thread: the consumer only. */
static inline void iol_wake_consumer_will_sleep(iol_wake_t *w) {
    /* Relaxed store: its ordering before the re-check loads comes from the
     * fence below, not from the store itself. */
    atomic_store_explicit(&w->sleeping, 1, memory_order_relaxed);
    /* Seq_cst fence: orders the store above before the caller's re-check of
     * the rings against producers' fences (see the argument above); without
     * it the store could still be buffered while the re-check reads a stale
     * tail, and both sides would miss each other. */
    IOL__TSAN_FENCE_PUSH
    atomic_thread_fence(memory_order_seq_cst);
    IOL__TSAN_FENCE_POP
}

/* Consumer, after waking (or after deciding not to block). Thread: consumer. */
static inline void iol_wake_consumer_awake(iol_wake_t *w) {
    /* Relaxed: clearing the flag only saves producers a system call; no data
     * is published through it (see the argument above). */
    atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
}

/* Producer, after pushing one message or a batch: returns true if the caller
 * must send the wake-up (uv_async_send). Cheap when the consumer is awake (a
 * fence and a load of a line that is not being written).
 * Thread: a producer of one of the consumer's rings. */
static inline bool iol_wake_producer_should_signal(iol_wake_t *w) {
    /* Seq_cst fence: orders our release store of tail before the load of the
     * flag against the consumer's fence in will_sleep (see the argument
     * above): either we see sleeping == 1 or the consumer sees our message. */
    IOL__TSAN_FENCE_PUSH
    atomic_thread_fence(memory_order_seq_cst);
    IOL__TSAN_FENCE_POP
    /* Relaxed load: the fence supplies the ordering; a plain read first keeps
     * the line shared while the consumer is awake. */
    if (atomic_load_explicit(&w->sleeping, memory_order_relaxed) == 0) return false;
    /* Relaxed exchange: claims the wake-up among several producers; only the
     * one that turns 1 into 0 signals. It publishes nothing. */
    return atomic_exchange_explicit(&w->sleeping, 0, memory_order_relaxed) != 0;
}

#endif
