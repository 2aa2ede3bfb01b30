/* Reply buffers: a chain of blocks that the executor appends RESP to and the
 * owning I/O thread writes with one writev. The chain is handed between the
 * two threads with the client (see THREADING.md); it is never shared.
 *
 * Thread: whichever thread currently holds the chain. */
#ifndef REPLYBUF_H
#define REPLYBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct iol_rblock {
    struct iol_rblock *next;
    uint32_t size; /* capacity of data[] */
    uint32_t used;
    char data[];
} iol_rblock_t;

typedef struct iol_reply {
    iol_rblock_t *head, *tail;
    size_t bytes;  /* payload bytes in the chain */
    size_t blocks; /* allocated bytes (for output-buffer accounting) */
} iol_reply_t;

#define IOL_RBLOCK_MIN 1024
#define IOL_RBLOCK_MAX (16 * 1024)

static inline void iol_reply_init(iol_reply_t *r) {
    r->head = r->tail = NULL;
    r->bytes = r->blocks = 0;
}

/* Append n bytes (copied). */
void iol_reply_append(iol_reply_t *r, const void *p, size_t n);
/* Contiguous space for at most n bytes at the tail; write into it then commit
 * the bytes actually used (<= n). */
char *iol_reply_reserve(iol_reply_t *r, size_t n);
static inline void iol_reply_commit(iol_reply_t *r, size_t used) {
    r->tail->used += (uint32_t)used;
    r->bytes += used;
}
/* A placeholder whose content is known only later (aggregate lengths). The
 * returned block takes at most 32 bytes via iol_reply_fill_deferred(). */
iol_rblock_t *iol_reply_defer(iol_reply_t *r);
void iol_reply_fill_deferred(iol_reply_t *r, iol_rblock_t *b, const void *p, size_t n);
/* Move every block of src to the end of dst; src becomes empty. */
void iol_reply_move(iol_reply_t *dst, iol_reply_t *src);
/* Free all blocks. */
void iol_reply_free(iol_reply_t *r);
/* Drop the first n payload bytes (written out), freeing finished blocks. */
void iol_reply_consume(iol_reply_t *r, size_t n);

#endif
