/* Open-loop schedule and in-flight queue; see schedule.h. */
#include "schedule.h"

#include "kl_alloc.h"

void sched_init(sched_t *s, uint64_t t0_ns, uint64_t rate, uint32_t nconns, uint32_t idx) {
    s->t0_ns = t0_ns;
    s->rate = rate ? rate : 1;
    s->stride = nconns ? nconns : 1;
    s->phase = idx;
    s->next = 0;
}

void tsq_init(tsq_t *q, uint32_t min_cap) {
    uint32_t cap = 1;
    while (cap < min_cap)
        cap <<= 1;
    q->ts = kl_malloc(cap * sizeof(*q->ts));
    q->tag = kl_malloc(cap);
    q->mask = cap - 1;
    q->head = q->tail = 0;
}

void tsq_free(tsq_t *q) {
    kl_free(q->ts);
    kl_free(q->tag);
    q->ts = NULL;
    q->tag = NULL;
}
