/* The executor's view of a client's I/O part (iol.h): allocation with the
 * server's state after it, and the accessors for what the executor may read
 * or hand over. Which thread may call what is in iol.h and THREADING.md; the
 * hand-off accessors assert in debug builds that the executor holds the
 * client. */
#include "iol_internal.h"

#include "kl_alloc.h"

/* The server's part starts at the next 16-byte boundary after the I/O part. */
#define UDATA_OFFSET ((sizeof(iol_client_t) + 15) & ~(size_t)15)

iol_client_t *iol_client_new(size_t udata_size) {
    return kl_calloc(1, UDATA_OFFSET + udata_size);
}

void iol_client_delete(iol_client_t *c) {
    kl_free(c);
}

size_t iol_client_io_size(void) {
    return UDATA_OFFSET;
}

void *iol_client_udata(iol_client_t *c) {
    return (char *)c + UDATA_OFFSET;
}

void iol_client_set_id(iol_client_t *c, uint64_t id) {
    c->id = id;
}

void iol_client_set_unauth_limits(iol_client_t *c, bool on) {
    c->unauth_limits = on;
}

uint64_t iol_client_id(const iol_client_t *c) {
    return c->id;
}

const char *iol_client_peer(const iol_client_t *c) {
    return c->peer;
}

const char *iol_client_local(const iol_client_t *c) {
    return c->local;
}

int iol_client_kind(const iol_client_t *c) {
    return c->kind;
}

int iol_client_fd(const iol_client_t *c) {
    return c->fd;
}

int64_t iol_client_ctime_ms(const iol_client_t *c) {
    return c->ctime_ms;
}

int64_t iol_client_last_io_ms(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->last_io_ms, memory_order_relaxed);
}

size_t iol_client_qbuf_bytes(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->qbuf_bytes, memory_order_relaxed);
}

size_t iol_client_obuf_bytes(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->obuf_bytes, memory_order_relaxed);
}

size_t iol_client_qbuf_free(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->qbuf_free, memory_order_relaxed);
}

size_t iol_client_argv_bytes(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->argv_bytes, memory_order_relaxed);
}

size_t iol_client_rbuf_size(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->rbuf_size, memory_order_relaxed);
}

size_t iol_client_rbuf_peak(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->rbuf_peak, memory_order_relaxed);
}

unsigned iol_client_events(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->events, memory_order_relaxed);
}

uint64_t iol_client_net_in(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->net_in, memory_order_relaxed);
}

uint64_t iol_client_net_out(const iol_client_t *c) {
    return atomic_load_explicit(&((iol_client_t *)c)->net_out, memory_order_relaxed);
}

void iol_client_detached_hand(iol_client_t *c, resp_batch_t *b) {
    IOL_ASSERT(!c->thread);
    c->exec_batch = b;
    c->exec_done = 0;
    c->exec_held = true;
}

resp_batch_t *iol_client_batch(iol_client_t *c) {
    IOL_ASSERT(c->exec_held);
    return c->exec_batch;
}

iol_reply_t *iol_client_reply(iol_client_t *c) {
    /* No assertion: the address is what the executor keeps; every use of the
     * chain itself happens while it holds c (reply.c). */
    return &c->reply;
}

uint32_t iol_client_exec_done(const iol_client_t *c) {
    IOL_ASSERT(c->exec_held);
    return c->exec_done;
}

void iol_client_exec_done_set(iol_client_t *c, uint32_t n) {
    IOL_ASSERT(c->exec_held);
    c->exec_done = n;
}

void iol_client_hand(iol_client_t *c, uint32_t flags) {
    IOL_ASSERT(c->exec_held);
    c->hand_flags |= flags;
}

void iol_client_hand_clear(iol_client_t *c, uint32_t flags) {
    IOL_ASSERT(c->exec_held);
    c->hand_flags &= ~flags;
}

uint32_t iol_client_hand_flags(const iol_client_t *c) {
    IOL_ASSERT(c->exec_held);
    return c->hand_flags;
}
