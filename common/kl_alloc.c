#include "kl_alloc.h"

#include <jemalloc/jemalloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void kl__oom(size_t n) {
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "keyloom: out of memory allocating %zu bytes\n", n);
    if (len > 0) {
        ssize_t w = write(STDERR_FILENO, msg, (size_t)len);
        (void)w;
    }
    abort();
}

void *kl_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) kl__oom(n);
    return p;
}

void *kl_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) kl__oom(n * size);
    return p;
}

void *kl_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) kl__oom(n);
    return q;
}

void kl_free(void *p) {
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
    return p ? malloc_usable_size(p) : 0;
}

static size_t kl__stat(const char *name) {
    size_t v = 0, sz = sizeof(v);
    if (mallctl(name, &v, &sz, NULL, 0) != 0) return 0;
    return v;
}

void kl_mem_stats(kl_mem_stats_t *out) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    out->allocated = kl__stat("stats.allocated");
    out->active = kl__stat("stats.active");
    out->resident = kl__stat("stats.resident");
    out->mapped = kl__stat("stats.mapped");
    out->retained = kl__stat("stats.retained");
}

size_t kl_used_memory(void) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    return kl__stat("stats.allocated");
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
