/* A one-way channel between two threads: an SPSC ring plus a producer-side
 * overflow queue, so that a full ring never makes the producer spin or drop
 * a message. Order is preserved: while anything waits in the overflow queue,
 * new messages queue behind it.
 *
 * The consumer's wake-up (iol_wake_t + uv_async_t) is shared by every channel
 * that feeds the same loop. */
#ifndef CHAN_H
#define CHAN_H

#include "ring.h"

#include <stdbool.h>
#include <uv.h>

typedef struct iol_ovf iol_ovf_t;

typedef struct iol_chan {
    iol_ring_t ring;
    /* Producer-owned. */
    iol_ovf_t *ovf_head, *ovf_tail;
    uint32_t ovf_count;
    bool need_signal; /* pushed since the last signal */
    /* Consumer's wake-up, set once at init. */
    iol_wake_t *wake;
    uv_async_t *async;
} iol_chan_t;

int iol_chan_init(iol_chan_t *ch, uint32_t capacity, iol_wake_t *wake, uv_async_t *async);
void iol_chan_destroy(iol_chan_t *ch);
/* Thread: producer. */
void iol_chan_send(iol_chan_t *ch, void *ptr, uint64_t arg);
/* Thread: producer. Move overflow into the ring and wake the consumer if it
 * sleeps and anything was pushed. Returns true while overflow remains. */
bool iol_chan_flush(iol_chan_t *ch);
/* Thread: consumer. */
static inline uint32_t iol_chan_recv(iol_chan_t *ch, iol_msg_t *out, uint32_t max) {
    return iol_ring_spsc_pop_n(&ch->ring, out, max);
}

#endif
