/* ioloop/repl_out.c: the shared replication buffer. A plain program (no
 * Criterion) so that ThreadSanitizer builds run it too.
 *
 * 1. One thread: offsets, the backlog window after trims, peeks, the memory
 *    gauge, freeing with no reader.
 * 2. Readers on other threads: each holds a reference on its block and
 *    follows the chain with acquire loads as a replica's I/O thread does,
 *    checking every byte, while the writer appends in random sizes and trims
 *    the window to almost nothing (so blocks die behind the readers, on the
 *    readers' threads). The buffer is freed while readers still hold blocks;
 *    they finish what was published and drop the last references. */
#include "iol_repl_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static unsigned char byte_at(uint64_t off) {
    return (unsigned char)((off * 7u + (off >> 11)) & 0xff);
}

static void fill(unsigned char *p, uint64_t off, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = byte_at(off + i);
}

static void test_single_thread(void) {
    iol_rbuf_t *rb = iol_rbuf_new(101, 1024);
    CHECK(iol_rbuf_start(rb) == 101 && iol_rbuf_end(rb) == 101);
    size_t mem0 = iol_rbuf_mem(rb);
    CHECK(mem0 > 1024);
    unsigned char buf[5000];
    uint64_t off = 101;
    for (int i = 0; i < 50; i++) {
        size_t n = (size_t)(1 + (i * 397) % 5000);
        fill(buf, off, n);
        iol_rbuf_append(rb, buf, n);
        off += n;
        CHECK(iol_rbuf_end(rb) == off);
    }
    CHECK(iol_rbuf_start(rb) == 101);
    /* Every range of the window reads back. */
    unsigned char got[3000];
    for (uint64_t o = 101; o + 3000 <= off; o += 777) {
        CHECK(iol_rbuf_peek(rb, o, got, 3000));
        for (size_t i = 0; i < 3000; i++)
            CHECK(got[i] == byte_at(o + i));
    }
    CHECK(!iol_rbuf_peek(rb, 100, got, 10));
    CHECK(!iol_rbuf_peek(rb, off - 5, got, 10));
    size_t mem1 = iol_rbuf_mem(rb);
    /* Trim: at least `keep` bytes stay, whole blocks go. */
    iol_rbuf_trim(rb, 4000);
    uint64_t start = iol_rbuf_start(rb);
    CHECK(off - start >= 4000);
    CHECK(off - start < 4000 + 1024);
    CHECK(iol_rbuf_mem(rb) < mem1);
    CHECK(iol_rbuf_peek(rb, start, got, 100));
    for (size_t i = 0; i < 100; i++)
        CHECK(got[i] == byte_at(start + i));
    CHECK(!iol_rbuf_peek(rb, start - 1, got, 1));
    /* Trim to nothing keeps the tail block but empties the window. */
    iol_rbuf_trim(rb, 0);
    CHECK(iol_rbuf_start(rb) <= iol_rbuf_end(rb));
    iol_rbuf_free(rb);
}

/* ---- readers on threads ---- */

typedef struct reader {
    pthread_t th;
    iol_rblk_t *blk;
    uint32_t pos;
    uint64_t off;
    _Atomic uint64_t *published_end; /* the writer's end, when it stops */
    _Atomic int *stop;
    uint64_t read;
} reader_t;

static void *reader_main(void *arg) {
    reader_t *r = arg;
    for (;;) {
        uint32_t used = atomic_load_explicit(&r->blk->used, memory_order_acquire);
        if (used > r->pos) {
            for (uint32_t i = r->pos; i < used; i++)
                CHECK((unsigned char)r->blk->data[i] == byte_at(r->blk->offset + i));
            r->off += used - r->pos;
            r->read += used - r->pos;
            r->pos = used;
        }
        if (r->pos == r->blk->size) {
            iol_rblk_t *next = atomic_load_explicit(&r->blk->next, memory_order_acquire);
            if (next) {
                iol__rblk_ref(next);
                iol__rblk_unref(r->blk);
                r->blk = next;
                r->pos = 0;
                continue;
            }
        }
        if (atomic_load_explicit(r->stop, memory_order_acquire) &&
            r->off == atomic_load_explicit(r->published_end, memory_order_acquire))
            break;
        sched_yield();
    }
    iol__rblk_unref(r->blk);
    return NULL;
}

static void test_threads(void) {
    enum { NREADERS = 3 };
    iol_rbuf_t *rb = iol_rbuf_new(1, 4096);
    _Atomic uint64_t end;
    _Atomic int stop;
    atomic_init(&end, 0);
    atomic_init(&stop, 0);
    reader_t rd[NREADERS];
    unsigned char buf[20000];
    uint64_t off = 1;
    unsigned seed = 12345;
    for (int k = 0; k < NREADERS; k++) {
        /* Each starts where the stream is when it attaches, as a replica. */
        for (int i = 0; i < 10; i++) {
            size_t n = (size_t)(rand_r(&seed) % 9000) + 1;
            fill(buf, off, n);
            iol_rbuf_append(rb, buf, n);
            off += n;
        }
        memset(&rd[k], 0, sizeof(rd[k]));
        iol_rblk_t *b = rb->tail;
        iol__rblk_ref(b);
        rd[k].blk = b;
        rd[k].pos = (uint32_t)(off - b->offset);
        rd[k].off = off;
        rd[k].published_end = &end;
        rd[k].stop = &stop;
        CHECK(pthread_create(&rd[k].th, NULL, reader_main, &rd[k]) == 0);
    }
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof(buf)) + 1;
        fill(buf, off, n);
        iol_rbuf_append(rb, buf, n);
        off += n;
        iol_rbuf_trim(rb, (uint64_t)(rand_r(&seed) % 8192));
    }
    /* Free the buffer while the readers may still be behind. */
    atomic_store_explicit(&end, off, memory_order_release);
    iol_rbuf_free(rb);
    atomic_store_explicit(&stop, 1, memory_order_release);
    for (int k = 0; k < NREADERS; k++) {
        CHECK(pthread_join(rd[k].th, NULL) == 0);
        CHECK(rd[k].off == off);
    }
}

int main(void) {
    test_single_thread();
    test_threads();
    printf("repl buffer: ok\n");
    return 0;
}
