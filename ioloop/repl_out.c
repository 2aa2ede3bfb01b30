/* The shared replication buffer (iol_repl.h): blocks, the backlog window.
 * Replica output (the I/O side) lives in iothread.c next to the client's
 * other output. */
#include "iol_repl_internal.h"

#include "kl_alloc.h"

#include <string.h>

#define RBUF_DEFAULT_BLOCK (16 * 1024)

static void gauge_unref(iol_rgauge_t *g) {
    /* acq_rel: the last holder frees it after everyone's updates. */
    if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1) kl_free(g);
}

static void gauge_sub(iol_rgauge_t *g, size_t n) {
    atomic_fetch_sub_explicit(&g->bytes, n, memory_order_relaxed);
    gauge_unref(g);
}

/* Thread: any (whoever drops the last reference). Frees b and, down the
 * chain, every block whose last reference was b's. */
void iol__rblk_unref(iol_rblk_t *b) {
    while (b) {
        /* acq_rel: the thread that frees sees every other holder's reads done. */
        if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
        iol_rblk_t *next = atomic_load_explicit(&b->next, memory_order_acquire);
        gauge_sub(b->mem, sizeof(*b) + b->size);
        kl_free(b);
        b = next;
    }
}

/* Thread: any holder of a reference on b or on a block before it. */
void iol__rblk_ref(iol_rblk_t *b) {
    /* relaxed: the caller already holds a path that keeps b alive. */
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

static iol_rblk_t *blk_new(iol_rbuf_t *rb, uint64_t offset) {
    iol_rblk_t *b = kl_malloc(sizeof(*b) + rb->block_size);
    atomic_init(&b->refs, 0);
    atomic_init(&b->used, 0);
    atomic_init(&b->next, NULL);
    b->size = (uint32_t)rb->block_size;
    b->offset = offset;
    b->mem = rb->mem;
    /* relaxed: the executor holds the gauge through the buffer here. */
    atomic_fetch_add_explicit(&rb->mem->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rb->mem->bytes, sizeof(*b) + b->size, memory_order_relaxed);
    return b;
}

iol_rbuf_t *iol_rbuf_new(uint64_t next_offset, size_t block_size) {
    iol_rbuf_t *rb = kl_calloc(1, sizeof(*rb));
    rb->block_size = block_size ? block_size : RBUF_DEFAULT_BLOCK;
    /* The memory gauge outlives the buffer while replicas hold blocks. */
    rb->mem = kl_malloc(sizeof(*rb->mem));
    atomic_init(&rb->mem->bytes, 0);
    atomic_init(&rb->mem->refs, 1);
    iol_rblk_t *b = blk_new(rb, next_offset);
    atomic_init(&b->refs, 1); /* the backlog's */
    rb->head = rb->tail = b;
    rb->start = rb->end = next_offset;
    return rb;
}

void iol_rbuf_free(iol_rbuf_t *rb) {
    if (!rb) return;
    if (rb->listed) iol__rbuf_detach_all(rb);
    iol_rblk_t *head = rb->head;
    rb->head = rb->tail = NULL;
    iol__rblk_unref(head);
    gauge_unref(rb->mem);
    kl_free(rb);
}

void iol_rbuf_append(iol_rbuf_t *rb, const void *p, size_t n) {
    const char *s = p;
    while (n) {
        iol_rblk_t *t = rb->tail;
        uint32_t used = atomic_load_explicit(&t->used, memory_order_relaxed);
        if (used == t->size) {
            iol_rblk_t *nb = blk_new(rb, t->offset + t->size);
            atomic_init(&nb->refs, 1); /* t's reference on its next */
            /* release: a reader that sees next sees the new block's fields. */
            atomic_store_explicit(&t->next, nb, memory_order_release);
            rb->tail = t = nb;
            used = 0;
        }
        size_t k = t->size - used;
        if (k > n) k = n;
        memcpy(t->data + used, s, k);
        /* release: the bytes below used are complete for any reader. */
        atomic_store_explicit(&t->used, used + (uint32_t)k, memory_order_release);
        s += k;
        n -= k;
        rb->end += k;
    }
}

uint64_t iol_rbuf_end(const iol_rbuf_t *rb) {
    return rb->end;
}

uint64_t iol_rbuf_start(const iol_rbuf_t *rb) {
    return rb->start;
}

void iol_rbuf_trim(iol_rbuf_t *rb, uint64_t keep) {
    /* Release whole blocks from the window's start while what is left still
     * holds at least `keep` bytes. The tail block always stays. */
    while (rb->head != rb->tail) {
        iol_rblk_t *h = rb->head;
        iol_rblk_t *next = atomic_load_explicit(&h->next, memory_order_relaxed);
        uint64_t after = rb->end - next->offset;
        if (after < keep) break;
        iol__rblk_ref(next); /* the backlog's reference moves to next */
        rb->head = next;
        rb->start = next->offset;
        iol__rblk_unref(h);
    }
    if (rb->head == rb->tail && keep == 0)
        rb->start = rb->end;
    else if (rb->start < rb->head->offset)
        rb->start = rb->head->offset;
}

size_t iol_rbuf_mem(const iol_rbuf_t *rb) {
    return atomic_load_explicit(&rb->mem->bytes, memory_order_relaxed);
}

bool iol_rbuf_peek(const iol_rbuf_t *rb, uint64_t from, void *out, size_t n) {
    if (from < rb->start || from + n > rb->end) return false;
    char *o = out;
    for (iol_rblk_t *b = rb->head; b && n;
         b = atomic_load_explicit(&b->next, memory_order_relaxed)) {
        uint32_t used = atomic_load_explicit(&b->used, memory_order_relaxed);
        if (from >= b->offset + used) continue;
        size_t off = (size_t)(from - b->offset);
        size_t k = used - off;
        if (k > n) k = n;
        memcpy(o, b->data + off, k);
        o += k;
        from += k;
        n -= k;
    }
    return n == 0;
}
