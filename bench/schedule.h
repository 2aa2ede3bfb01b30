/* Open-loop request schedule and the in-flight timestamp queue.
 *
 * Open loop (--rate R): the whole run follows one global schedule, request g
 * (g = 0, 1, 2, ...) being intended for t0 + floor(g * 1e9 / R) ns. With C
 * connections, connection j owns the requests g = k*C + j, so the union of
 * all connections is exactly the global schedule and no two connections
 * send in lock step. Times are computed from the index with integer
 * arithmetic, never accumulated, so they do not drift.
 *
 * A request is released (sched_take) only once its intended time has come;
 * if the connection cannot send it yet (its pipeline is full because the
 * server stalls) it stays due, and when it is finally sent it still carries
 * its intended time. Latency is measured from that time, so a stall shows up
 * in every request that should have been sent during it (no coordinated
 * omission).
 *
 * tsq_t is the FIFO of in-flight requests of one connection: the timestamp
 * latency is measured from (intended time in open loop, send time in closed
 * loop) and a small tag (which template the request came from).
 *
 * Thread: the connection's owner; no shared state. */
#ifndef BENCH_SCHEDULE_H
#define BENCH_SCHEDULE_H

#include <stdint.h>

typedef struct sched {
    uint64_t t0_ns;  /* intended time of global request 0 */
    uint64_t rate;   /* requests per second, all connections together (> 0) */
    uint32_t stride; /* connections sharing the schedule */
    uint32_t phase;  /* this connection's index, < stride */
    uint64_t next;   /* this connection's next request not yet released */
} sched_t;

void sched_init(sched_t *s, uint64_t t0_ns, uint64_t rate, uint32_t nconns, uint32_t idx);

/* Intended time (ns) of this connection's k-th request. */
static inline uint64_t sched_time_of(const sched_t *s, uint64_t k) {
    unsigned __int128 g = (unsigned __int128)k * s->stride + s->phase;
    return s->t0_ns + (uint64_t)(g * 1000000000u / s->rate);
}

/* Intended time of the next request not yet released. */
static inline uint64_t sched_next_time(const sched_t *s) {
    return sched_time_of(s, s->next);
}

/* Release the next request if it is due at now_ns: store its intended time
 * in *intended and return 1; return 0 if it is not due yet. */
static inline int sched_take(sched_t *s, uint64_t now_ns, uint64_t *intended) {
    uint64_t t = sched_time_of(s, s->next);
    if (t > now_ns) return 0;
    *intended = t;
    s->next++;
    return 1;
}

/* Latency in whole microseconds (rounded to nearest) of a reply at reply_ns
 * to a request stamped at ts_ns; 0 if the reply is not later. */
static inline uint64_t sched_latency_us(uint64_t reply_ns, uint64_t ts_ns) {
    return reply_ns > ts_ns ? (reply_ns - ts_ns + 500) / 1000 : 0;
}

typedef struct tsq {
    uint64_t *ts;
    uint8_t *tag;
    uint32_t mask;
    uint32_t head, tail; /* free-running; len = tail - head */
} tsq_t;

/* Room for at least min_cap entries (rounded up to a power of two). */
void tsq_init(tsq_t *q, uint32_t min_cap);
void tsq_free(tsq_t *q);

static inline uint32_t tsq_len(const tsq_t *q) {
    return q->tail - q->head;
}
static inline uint32_t tsq_cap(const tsq_t *q) {
    return q->mask + 1;
}
/* Append; returns 0, or -1 when full. */
static inline int tsq_push(tsq_t *q, uint64_t ts, uint8_t tag) {
    if (q->tail - q->head > q->mask) return -1;
    q->ts[q->tail & q->mask] = ts;
    q->tag[q->tail & q->mask] = tag;
    q->tail++;
    return 0;
}
/* Remove the oldest; returns 0, or -1 when empty. */
static inline int tsq_pop(tsq_t *q, uint64_t *ts, uint8_t *tag) {
    if (q->tail == q->head) return -1;
    *ts = q->ts[q->head & q->mask];
    *tag = q->tag[q->head & q->mask];
    q->head++;
    return 0;
}
/* The i-th oldest entry's timestamp (i < len). */
static inline uint64_t tsq_peek(const tsq_t *q, uint32_t i) {
    return q->ts[(q->head + i) & q->mask];
}
static inline void tsq_clear(tsq_t *q) {
    q->head = q->tail = 0;
}

#endif
