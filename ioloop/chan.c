#include "chan.h"

#include "kl_alloc.h"

struct iol_ovf {
    iol_ovf_t *next;
    iol_msg_t msg;
};

int iol_chan_init(iol_chan_t *ch, uint32_t capacity, iol_wake_t *wake, uv_async_t *async,
                  uv_async_t *producer_async) {
    ch->ovf_head = ch->ovf_tail = NULL;
    ch->ovf_count = 0;
    ch->need_signal = false;
    ch->wake = wake;
    ch->async = async;
    iol_wake_init(&ch->room);
    ch->producer_async = producer_async;
    return iol_ring_init(&ch->ring, capacity);
}

void iol_chan_destroy(iol_chan_t *ch) {
    while (ch->ovf_head) {
        iol_ovf_t *o = ch->ovf_head;
        ch->ovf_head = o->next;
        kl_free(o);
    }
    ch->ovf_tail = NULL;
    iol_ring_destroy(&ch->ring);
}

static void ovf_drain(iol_chan_t *ch) {
    while (ch->ovf_head) {
        if (!iol_ring_spsc_push(&ch->ring, &ch->ovf_head->msg)) return;
        iol_ovf_t *o = ch->ovf_head;
        ch->ovf_head = o->next;
        if (!ch->ovf_head) ch->ovf_tail = NULL;
        ch->ovf_count--;
        ch->need_signal = true;
        kl_free(o);
    }
}

void iol_chan_send(iol_chan_t *ch, void *ptr, uint64_t arg) {
    iol_msg_t m = {ptr, arg};
    if (ch->ovf_head) ovf_drain(ch);
    if (!ch->ovf_head && iol_ring_spsc_push(&ch->ring, &m)) {
        ch->need_signal = true;
        return;
    }
    /* The ring is full: the consumer is behind. Keep the message here and
     * let the producer's next flush retry; never spin. */
    iol_ovf_t *o = kl_malloc(sizeof(*o));
    o->next = NULL;
    o->msg = m;
    if (ch->ovf_tail)
        ch->ovf_tail->next = o;
    else
        ch->ovf_head = o;
    ch->ovf_tail = o;
    ch->ovf_count++;
}

bool iol_chan_flush(iol_chan_t *ch) {
    if (ch->ovf_head) {
        ovf_drain(ch);
        if (ch->ovf_head) {
            /* The ring is full: announce that we wait for room (the waiter
             * here is the producer, so it plays the "consumer" role of the
             * wake protocol), then look again: either this re-check sees the
             * room a concurrent pop made, or that pop sees the flag and wakes
             * our loop (iol_chan_recv). */
            iol_wake_consumer_will_sleep(&ch->room);
            ovf_drain(ch);
            if (!ch->ovf_head) iol_wake_consumer_awake(&ch->room);
        }
    }
    if (ch->need_signal) {
        ch->need_signal = false;
        if (iol_wake_producer_should_signal(ch->wake)) uv_async_send(ch->async);
    }
    return ch->ovf_head != NULL;
}

uint32_t iol_chan_recv(iol_chan_t *ch, iol_msg_t *out, uint32_t max) {
    uint32_t n = iol_ring_spsc_pop_n(&ch->ring, out, max);
    /* We made room (the pop's release store of head): a producer waiting for
     * it is woken. The fence inside pairs with the one after the producer's
     * announcement (see iol_chan_flush and ring.h). */
    if (n && iol_wake_producer_should_signal(&ch->room)) uv_async_send(ch->producer_async);
    return n;
}
