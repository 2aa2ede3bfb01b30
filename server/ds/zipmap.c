/* zipmap: validation and conversion to a listpack (see zipmap.h for the
 * layout). The bytes come from RDB files, so every length is checked against
 * the bytes left before it is used, with offsets rather than pointers. */
#include "zipmap.h"

#include "kl_alloc.h"
#include "listpack.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ZM_BIGLEN 254
#define ZM_END 255

/* A field or value: its bytes as an offset and length into the zipmap. */
typedef struct zm_str {
    size_t off;
    uint32_t len;
} zm_str_t;

/* Read a <len> at *off (which must be < end, the terminator's offset) and
 * step over it; a length byte of 255 is never valid here. */
static bool rd_len(const unsigned char *zm, size_t end, size_t *off, uint32_t *len) {
    unsigned char b = zm[*off];
    if (b < ZM_BIGLEN) {
        *len = b;
        *off += 1;
        return true;
    }
    if (b != ZM_BIGLEN || end - *off < 5) return false;
    const unsigned char *p = zm + *off + 1;
    *len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    *off += 5;
    return true;
}

/* Decode the pair starting at *off (< end, not the terminator): field and
 * value, then step over the free bytes. Everything must end at or before
 * end, the offset of the final byte. */
static bool rd_pair(const unsigned char *zm, size_t end, size_t *off, zm_str_t *field,
                    zm_str_t *value) {
    size_t o = *off;
    if (!rd_len(zm, end, &o, &field->len)) return false;
    if (field->len > end - o) return false;
    field->off = o;
    o += field->len;
    if (o >= end) return false; /* the value's <len> is missing */
    if (!rd_len(zm, end, &o, &value->len)) return false;
    if (o >= end) return false; /* the <free> byte is missing */
    unsigned free_bytes = zm[o++];
    if ((uint64_t)value->len + free_bytes > end - o) return false;
    value->off = o;
    *off = o + value->len + free_bytes;
    return true;
}

/* Walk the zipmap and count its pairs; see zipmap.h. */
int zipmap_validate(const unsigned char *zm, size_t size, unsigned long *pairs) {
    if (!zm || size < 2) return -EINVAL;
    size_t end = size - 1, off = 1;
    unsigned long n = 0;
    /* Bounded: every pair is at least 3 bytes and off only grows. */
    while (off < end && zm[off] != ZM_END) {
        zm_str_t f = {0}, v = {0};
        if (!rd_pair(zm, end, &off, &f, &v)) return -EINVAL;
        n++;
    }
    if (off != end || zm[end] != ZM_END) return -EINVAL;
    if (n == 0) return -EINVAL;
    if (zm[0] < ZM_BIGLEN && zm[0] != n) return -EINVAL;
    if (pairs) *pairs = n;
    return 0;
}

/* qsort order for the duplicate check: by length, then by bytes. C11 has no
 * qsort_r, so the zipmap's base pointer travels through a thread-local. */
static _Thread_local const unsigned char *g_cmp_base;

static int field_cmp(const void *a, const void *b) {
    const zm_str_t *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(g_cmp_base + x->off, g_cmp_base + y->off, x->len);
}

/* Whether two fields have the same bytes: sort (offset, length) pairs and
 * compare neighbours, O(n log n) even for a hostile zipmap. */
static bool has_dup_field(const unsigned char *zm, zm_str_t *fields, unsigned long n) {
    g_cmp_base = zm;
    qsort(fields, n, sizeof(*fields), field_cmp);
    for (unsigned long i = 1; i < n; i++)
        if (fields[i].len == fields[i - 1].len &&
            memcmp(zm + fields[i].off, zm + fields[i - 1].off, fields[i].len) == 0)
            return true;
    return false;
}

/* Validate, check the fields are distinct, then copy into a listpack. */
unsigned char *zipmap_to_listpack(const unsigned char *zm, size_t size) {
    unsigned long n;
    if (zipmap_validate(zm, size, &n)) return NULL;
    size_t end = size - 1, off = 1;
    zm_str_t *fields = kl_malloc(n * sizeof(*fields));
    unsigned char *lp = lp_new(0);
    for (unsigned long i = 0; i < n; i++) {
        zm_str_t f = {0}, v = {0};
        (void)rd_pair(zm, end, &off, &f, &v); /* validated above */
        fields[i] = f;
        /* Each string costs at most its bytes plus 10 of encoding and
         * back-length. */
        if (!lp_safe_to_add(lp, (size_t)f.len + v.len + 20)) goto fail;
        lp = lp_append(lp, zm + f.off, f.len);
        lp = lp_append(lp, zm + v.off, v.len);
    }
    if (has_dup_field(zm, fields, n)) goto fail;
    kl_free(fields);
    return lp;
fail:
    kl_free(fields);
    lp_free(lp);
    return NULL;
}
