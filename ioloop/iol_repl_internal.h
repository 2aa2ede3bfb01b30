/* The shared replication buffer's structures: ioloop's own (repl_out.c and
 * iothread.c) and its tests. See iol_repl.h for the contract. */
#ifndef IOL_REPL_INTERNAL_H
#define IOL_REPL_INTERNAL_H

#ifndef KL_IOLOOP_INTERNAL
#error "iol_repl_internal.h is ioloop's own: include iol_repl.h instead"
#endif

#include "iol_repl.h"

#include <stdatomic.h>

typedef struct iol_rblk iol_rblk_t;

/* The memory gauge of a buffer's blocks: outlives the buffer while blocks
 * do (each block and the buffer hold a reference). */
typedef struct iol_rgauge {
    _Atomic size_t bytes; /* relaxed: a figure for INFO */
    _Atomic uint32_t refs;
} iol_rgauge_t;
struct iol_rblk {
    /* Holders: the previous block (its `next`), the backlog (its first
     * block), each replica reading it. */
    _Atomic uint32_t refs;
    /* Bytes filled; release-stored by the executor after writing them. */
    _Atomic uint32_t used;
    /* The following block; release-stored once this one is full. */
    _Atomic(iol_rblk_t *) next;
    uint32_t size;
    uint64_t offset;   /* stream offset of data[0] */
    iol_rgauge_t *mem; /* the buffer's memory gauge */
    char data[];
};

struct iol_rbuf {
    iol_rblk_t *head; /* first block of the backlog window (holds a reference) */
    iol_rblk_t *tail; /* the block being filled */
    uint64_t start;   /* first offset in the window */
    uint64_t end;     /* offset of the next byte */
    size_t block_size;
    iol_rgauge_t *mem; /* bytes of blocks alive */
    /* Replicas reading this buffer (executor side): notified once per turn. */
    struct iol_client **readers;
    size_t nreaders, readers_cap;
    bool listed; /* in iothread.c's list of buffers to announce */
};

void iol__rblk_ref(iol_rblk_t *b);
void iol__rblk_unref(iol_rblk_t *b);
/* iothread.c: forget every reader (the buffer is going away; the readers
 * keep their blocks and stop at what they have). Thread: executor. */
void iol__rbuf_detach_all(iol_rbuf_t *rb);

#endif
