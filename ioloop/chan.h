/* A one-way channel between two threads: an SPSC ring plus a producer-side
 * overflow queue, so that a full ring never makes the producer spin or drop
 * a message. Order is preserved: while anything waits in the overflow queue,
 * new messages queue behind it.
 *
 * The consumer's wake-up (iol_wake_t + uv_async_t) is shared by every channel
 * that feeds the same loop.
 *
 * Overflow goes back into the ring when the consumer makes room, and the
 * consumer says so: a producer left with overflow after a flush announces it
 * waits for room (`room`, the same Dekker-style flag as the consumer's
 * wake-up, with the roles reversed) and re-checks; a consumer that popped
 * messages checks the flag and, if set, wakes the producer's loop
 * (producer_async), whose next flush moves the overflow in. No timer, no
 * polling, and no lost wake-up (see ring.h for the argument). */
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
    /* Producer's wake-up for room in the ring: "sleeping" means the producer
     * holds overflow and waits for the consumer to pop. */
    iol_wake_t room;
    uv_async_t *producer_async;
} iol_chan_t;

/* Thread: any, before the channel is shared. wake/async: the consumer's
 * wake-up; producer_async: the producer loop's, used when overflow waits. */
int iol_chan_init(iol_chan_t *ch, uint32_t capacity, iol_wake_t *wake, uv_async_t *async,
                  uv_async_t *producer_async);
/* Thread: any, once neither side uses the channel. Frees the overflow. */
void iol_chan_destroy(iol_chan_t *ch);
/* Thread: producer. */
void iol_chan_send(iol_chan_t *ch, void *ptr, uint64_t arg);
/* Thread: producer. Move overflow into the ring and wake the consumer if it
 * sleeps and anything was pushed. Returns true while overflow remains, in
 * which case the consumer wakes the producer's loop once it made room. */
bool iol_chan_flush(iol_chan_t *ch);
/* Thread: consumer. Pops up to max messages; if the producer waits for room
 * (it holds overflow), wakes it. */
uint32_t iol_chan_recv(iol_chan_t *ch, iol_msg_t *out, uint32_t max);

#endif
