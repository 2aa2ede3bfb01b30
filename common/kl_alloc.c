#include "kl_alloc.h"

#include <jemalloc/jemalloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

/* Under AddressSanitizer or ThreadSanitizer malloc is the sanitizer's, not
 * jemalloc's: jemalloc's statistics stay near zero, so the allocated byte
 * count comes from the sanitizer's allocator instead (sanitized builds only,
 * so that maxmemory and INFO used_memory still mean something in tests). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KL_SANITIZER_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KL_SANITIZER_MALLOC 1
#endif
#endif
#ifdef KL_SANITIZER_MALLOC
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which gcc does
 * not always install): bytes currently allocated by the program. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

static void kl__oom(size_t n) {
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "keyloom: out of memory allocating %zu bytes\n", n);
    if (len > 0) {
        ssize_t w = write(STDERR_FILENO, msg, (size_t)len);
        (void)w;
    }
    abort();
}

/* ---- the forked child's allocator ----------------------------------------------
 *
 * A BGSAVE / rewrite child is a copy of a process in which other threads (I/O
 * threads, the lazy-free and AOF writer threads) may have held the
 * allocator's locks at the moment of fork(): jemalloc's fork handlers cope,
 * other allocators (the sanitizers') do not. So a child never calls malloc:
 * after kl_alloc_fork_child() every kl_* allocation comes from a private
 * region reserved with mmap, in power-of-two classes with a free list each
 * (at most 2x waste; freed blocks are reused, so a save's transient buffers
 * do not add up). Blocks of the parent's allocator that the child frees are
 * left alone (the child exits soon). Nothing here takes a lock: the child
 * has one thread. */
#define CHILD_REGION (1ull << 40) /* reserved address space (MAP_NORESERVE) */
#define CHILD_MIN_CLASS 4         /* 16 bytes */
#define CHILD_CLASSES 48

typedef struct child_hdr {
    uint64_t cls;  /* size class: block of 1 << cls bytes, header included */
    uint64_t size; /* bytes asked for */
} child_hdr_t;

static bool child_mode;
static unsigned char *child_base, *child_top, *child_end;
static void *child_free_list[CHILD_CLASSES];

static inline bool child_owns(const void *p) {
    return (const unsigned char *)p >= child_base && (const unsigned char *)p < child_end;
}

static void *child_alloc(size_t n) {
    size_t need = n + sizeof(child_hdr_t);
    unsigned cls = CHILD_MIN_CLASS;
    while (((size_t)1 << cls) < need)
        cls++;
    if (cls >= CHILD_CLASSES) kl__oom(n);
    child_hdr_t *h;
    if (child_free_list[cls]) {
        h = child_free_list[cls];
        child_free_list[cls] = *(void **)(h + 1);
    } else {
        size_t sz = (size_t)1 << cls;
        if ((size_t)(child_end - child_top) < sz) kl__oom(n);
        h = (child_hdr_t *)child_top;
        child_top += sz;
    }
    h->cls = cls;
    h->size = n;
    return h + 1;
}

static void child_free(void *p) {
    if (!p || !child_owns(p)) return; /* the parent's block: not ours to reuse */
    child_hdr_t *h = (child_hdr_t *)p - 1;
    *(void **)p = child_free_list[h->cls];
    child_free_list[h->cls] = h;
}

static void *child_realloc(void *p, size_t n) {
    void *q = child_alloc(n);
    if (p) {
        size_t old = child_owns(p) ? ((child_hdr_t *)p - 1)->size : malloc_usable_size(p);
        memcpy(q, p, old < n ? old : n);
        child_free(p);
    }
    return q;
}

int kl_alloc_fork_child(void) {
    /* As much address space as the process may take (only what is touched
     * costs memory): 1 TB, or less where the layout is tighter (the
     * sanitizers reserve most of it for their shadow memory). */
    for (size_t size = CHILD_REGION; size >= ((size_t)1 << 28); size >>= 1) {
        void *r = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (r == MAP_FAILED) continue;
        child_base = child_top = r;
        child_end = child_base + size;
        child_mode = true;
        return 0;
    }
    return -1;
}

/* ---- the wrappers ------------------------------------------------------------------ */

void *kl_malloc(size_t n) {
    if (__builtin_expect(child_mode, 0)) return child_alloc(n ? n : 1);
    void *p = malloc(n ? n : 1);
    if (!p) kl__oom(n);
    return p;
}

void *kl_calloc(size_t n, size_t size) {
    if (__builtin_expect(child_mode, 0)) {
        size_t t = (n ? n : 1) * (size ? size : 1);
        void *p = child_alloc(t);
        memset(p, 0, t);
        return p;
    }
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) kl__oom(n * size);
    return p;
}

void *kl_realloc(void *p, size_t n) {
    if (__builtin_expect(child_mode, 0)) return child_realloc(p, n ? n : 1);
    void *q = realloc(p, n ? n : 1);
    if (!q) kl__oom(n);
    return q;
}

void kl_free(void *p) {
    if (__builtin_expect(child_mode, 0)) {
        child_free(p);
        return;
    }
    free(p);
}

char *kl_strdup(const char *s) {
    return kl_strndup(s, strlen(s));
}

char *kl_strndup(const char *s, size_t n) {
    char *p = kl_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *kl_memdup(const void *p, size_t n) {
    void *q = kl_malloc(n);
    if (n) memcpy(q, p, n);
    return q;
}

size_t kl_alloc_size(void *p) {
    if (p && child_mode && child_owns(p)) return ((child_hdr_t *)p - 1)->size;
    return p ? malloc_usable_size(p) : 0;
}

static size_t kl__stat(const char *name) {
    size_t v = 0, sz = sizeof(v);
    if (mallctl(name, &v, &sz, NULL, 0) != 0) return 0;
    return v;
}

/* jemalloc's stats.allocated after refreshing its statistics "epoch" (which
 * merges every arena's counters under their locks: about 5 us with 8 arenas). */
static size_t kl__allocated_now(void) {
#ifdef KL_SANITIZER_MALLOC
    return __sanitizer_get_current_allocated_bytes();
#else
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    return kl__stat("stats.allocated");
#endif
}

void kl_mem_stats(kl_mem_stats_t *out) {
    out->allocated = kl__allocated_now(); /* refreshes the epoch for the reads below */
    out->active = kl__stat("stats.active");
    out->resident = kl__stat("stats.resident");
    out->mapped = kl__stat("stats.mapped");
    out->retained = kl__stat("stats.retained");
}

/* kl_used_memory() is read before every command while maxmemory is set, so it
 * must cost nanoseconds, not the microseconds of an epoch refresh. Each calling
 * thread keeps a snapshot of stats.allocated, refreshed at most once per tick
 * of CLOCK_MONOTONIC_COARSE (1 to 4 ms; reading that clock costs a few ns), and
 * between refreshes adds its own net allocations since the snapshot, read from
 * jemalloc's per-thread counters (thread.allocatedp / thread.deallocatedp:
 * pointers to this thread's cumulative byte counts, so a read is two loads).
 * The executor's own allocations and frees (keys, values, replies it builds,
 * evictions) therefore show at once; other threads' (the I/O threads' buffers,
 * which count as in Redis's used_memory) within one tick. */
typedef struct kl_used_snap {
    int state; /* 0: not set up, 1: per-thread counters, -1: none */
    const uint64_t *allocp, *deallocp;
    int64_t tick;      /* coarse clock of the last refresh, in ms */
    size_t base;       /* stats.allocated at the last refresh */
    uint64_t base_net; /* this thread's allocated - deallocated then */
} kl_used_snap_t;

static _Thread_local kl_used_snap_t used_snap;

size_t kl_used_memory(void) {
    kl_used_snap_t *s = &used_snap;
    if (s->state == 0) {
        s->state = -1;
#ifndef KL_SANITIZER_MALLOC
        size_t sz = sizeof(s->allocp);
        if (mallctl("thread.allocatedp", &s->allocp, &sz, NULL, 0) == 0 &&
            mallctl("thread.deallocatedp", &s->deallocp, &sz, NULL, 0) == 0)
            s->state = 1;
#endif
        s->tick = -1;
    }
    /* Without per-thread counters (sanitizer builds, a jemalloc without
     * statistics) only a fresh reading sees the executor's frees at once,
     * which the eviction loop needs: read it every time. */
    if (s->state < 0) return kl__allocated_now();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    int64_t tick = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    uint64_t net = *s->allocp - *s->deallocp;
    if (tick != s->tick) {
        s->tick = tick;
        s->base = kl__allocated_now();
        s->base_net = net;
        return s->base;
    }
    int64_t delta = (int64_t)(net - s->base_net);
    if (delta < 0 && (size_t)-delta > s->base) return 0;
    return (size_t)((int64_t)s->base + delta);
}

const char *kl_allocator_name(void) {
    static char name[32];
    if (!name[0]) {
        const char *v = NULL;
        size_t sz = sizeof(v);
        if (mallctl("version", &v, &sz, NULL, 0) == 0 && v) {
            /* "5.3.0-0-g54eaed1d..." -> "jemalloc-5.3.0" */
            snprintf(name, sizeof(name), "jemalloc-%.*s", (int)strcspn(v, "-"), v);
        } else {
            snprintf(name, sizeof(name), "jemalloc");
        }
    }
    return name;
}

int kl_alloc_set_background_thread(int enable) {
    bool val = enable != 0;
    return mallctl("background_thread", NULL, NULL, &val, sizeof(val)) == 0 ? 0 : -1;
}
