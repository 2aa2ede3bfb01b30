/* Allocation wrappers. The process allocator is jemalloc (linked in place of
 * malloc), so these are thin: they abort on out-of-memory so callers never
 * have to handle NULL, and they give one place to read allocator statistics. */
#ifndef KL_ALLOC_H
#define KL_ALLOC_H

#include <stddef.h>

/* Thread: any. Never return NULL (abort with a log line on OOM). */
void *kl_malloc(size_t n);
void *kl_calloc(size_t n, size_t size);
void *kl_realloc(void *p, size_t n);
void kl_free(void *p);
char *kl_strdup(const char *s);
char *kl_strndup(const char *s, size_t n);
void *kl_memdup(const void *p, size_t n);
/* In a forked child (BGSAVE, AOF rewrite), right after fork(): from now on
 * every kl_* allocation comes from a private region of the child and never
 * calls malloc, whose locks another thread of the parent may have held at
 * the fork (kl_alloc.c). 0 or -1 (mmap failed: the child should exit).
 * Thread: the child's only thread. */
int kl_alloc_fork_child(void);
/* Usable size of an allocation (jemalloc's malloc_usable_size). */
size_t kl_alloc_size(void *p);

/* Allocator statistics, refreshed on each call (jemalloc "epoch").
 * Thread: any, but it takes jemalloc's stats lock: never call per request. */
typedef struct kl_mem_stats {
    size_t allocated; /* bytes handed out to the program: INFO used_memory */
    size_t active;
    size_t resident;
    size_t mapped;
    size_t retained;
} kl_mem_stats_t;
void kl_mem_stats(kl_mem_stats_t *out);
/* Allocated bytes for the maxmemory checks, cheap enough to read before every
 * command: a stats.allocated snapshot refreshed at most once per coarse clock
 * tick (1-4 ms) plus the calling thread's own net allocations since then (see
 * kl_alloc.c). Thread: any (each thread keeps its own snapshot). */
size_t kl_used_memory(void);
const char *kl_allocator_name(void);
/* jemalloc's background thread returns freed memory to the OS on its decay
 * schedule (Redis's jemalloc-bg-thread). Returns 0 or -1. Thread: main. */
int kl_alloc_set_background_thread(int enable);

#endif
