#include "replybuf.h"

#include "kl_alloc.h"

#include <string.h>

static iol_rblock_t *rblock_new(iol_reply_t *r, size_t need) {
    size_t size = IOL_RBLOCK_MIN;
    /* Grow block sizes with the chain so big replies use few iovecs. */
    if (r->bytes >= IOL_RBLOCK_MIN) size = IOL_RBLOCK_MAX;
    if (need > size) size = need;
    iol_rblock_t *b = kl_malloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = (uint32_t)size;
    b->used = 0;
    if (r->tail)
        r->tail->next = b;
    else
        r->head = b;
    r->tail = b;
    r->blocks += sizeof(*b) + size;
    return b;
}

void iol_reply_append(iol_reply_t *r, const void *p, size_t n) {
    const char *s = p;
    iol_rblock_t *b = r->tail;
    if (b && b->size - b->used >= n) {
        memcpy(b->data + b->used, s, n);
        b->used += (uint32_t)n;
        r->bytes += n;
        return;
    }
    if (b) {
        size_t room = b->size - b->used;
        memcpy(b->data + b->used, s, room);
        b->used += (uint32_t)room;
        r->bytes += room;
        s += room;
        n -= room;
    }
    b = rblock_new(r, n);
    memcpy(b->data, s, n);
    b->used = (uint32_t)n;
    r->bytes += n;
}

char *iol_reply_reserve(iol_reply_t *r, size_t n) {
    iol_rblock_t *b = r->tail;
    if (!b || b->size - b->used < n) b = rblock_new(r, n);
    return b->data + b->used;
}

iol_rblock_t *iol_reply_defer(iol_reply_t *r) {
    iol_rblock_t *b = kl_malloc(sizeof(*b) + 32);
    b->next = NULL;
    b->size = 32;
    b->used = 0;
    if (r->tail)
        r->tail->next = b;
    else
        r->head = b;
    r->tail = b;
    r->blocks += sizeof(*b) + 32;
    /* Force the next append into a fresh block after the placeholder. */
    rblock_new(r, 0);
    return b;
}

void iol_reply_fill_deferred(iol_reply_t *r, iol_rblock_t *b, const void *p, size_t n) {
    if (n > b->size) n = b->size;
    memcpy(b->data, p, n);
    b->used = (uint32_t)n;
    r->bytes += n;
}

void iol_reply_move(iol_reply_t *dst, iol_reply_t *src) {
    if (!src->head) return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->bytes += src->bytes;
    dst->blocks += src->blocks;
    iol_reply_init(src);
}

void iol_reply_free(iol_reply_t *r) {
    iol_rblock_t *b = r->head;
    while (b) {
        iol_rblock_t *next = b->next;
        kl_free(b);
        b = next;
    }
    iol_reply_init(r);
}

void iol_reply_consume(iol_reply_t *r, size_t n) {
    while (r->head && (n > 0 || r->head->used == 0)) {
        iol_rblock_t *b = r->head;
        if (n < b->used) {
            memmove(b->data, b->data + n, b->used - n);
            b->used -= (uint32_t)n;
            r->bytes -= n;
            return;
        }
        n -= b->used;
        r->bytes -= b->used;
        r->head = b->next;
        r->blocks -= sizeof(*b) + b->size;
        kl_free(b);
    }
    if (!r->head) r->tail = NULL;
}
