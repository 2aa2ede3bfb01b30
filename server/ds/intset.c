/* intset: sorted array of integers with an adaptive element width (see
 * intset.h). Written from the published description of Redis's intset. The
 * layout is Redis's (u32 width, u32 count, elements) in host order, which on
 * a little-endian host is byte for byte the blob RDB files hold; the blob
 * functions at the end convert where the host is big-endian. */
#include "intset.h"

#include "kl_alloc.h"
#include "kl_util.h"

#include <assert.h>
#include <string.h>

struct intset {
    uint32_t width; /* bytes per element: 2, 4 or 8 */
    uint32_t len;   /* number of elements */
    /* len * width bytes, 8-byte aligned (the header is 8 bytes and the
     * allocator aligns to 16), so typed access is aligned. */
    unsigned char data[];
};
/* intset_from_blob relies on the header being exactly Redis's 8 bytes. */
_Static_assert(sizeof(struct intset) == 8, "intset header must match Redis's blob");

/* Narrowest width that holds v. */
static uint32_t width_for(int64_t v) {
    if (v >= INT16_MIN && v <= INT16_MAX) return INTSET_W16;
    if (v >= INT32_MIN && v <= INT32_MAX) return INTSET_W32;
    return INTSET_W64;
}

static inline int64_t get_w(const intset_t *is, uint32_t pos, uint32_t width) {
    switch (width) {
    case INTSET_W16:
        return ((const int16_t *)is->data)[pos];
    case INTSET_W32:
        return ((const int32_t *)is->data)[pos];
    default:
        return ((const int64_t *)is->data)[pos];
    }
}

static inline void set_w(intset_t *is, uint32_t pos, int64_t v, uint32_t width) {
    switch (width) {
    case INTSET_W16:
        ((int16_t *)is->data)[pos] = (int16_t)v;
        break;
    case INTSET_W32:
        ((int32_t *)is->data)[pos] = (int32_t)v;
        break;
    default:
        ((int64_t *)is->data)[pos] = v;
        break;
    }
}

static intset_t *resize(intset_t *is, uint32_t len) {
    return kl_realloc(is, sizeof(*is) + (size_t)len * is->width);
}

/* Binary search: returns 1 and *pos = index of v when found, else 0 and *pos =
 * the index where v would be inserted. */
static int search(const intset_t *is, int64_t v, uint32_t *pos) {
    uint32_t w = is->width;
    if (is->len == 0) {
        *pos = 0;
        return 0;
    }
    /* Appending and prepending are common (sequential ids): check the ends. */
    if (v > get_w(is, is->len - 1, w)) {
        *pos = is->len;
        return 0;
    }
    if (v < get_w(is, 0, w)) {
        *pos = 0;
        return 0;
    }
    uint32_t lo = 0, hi = is->len; /* search [lo, hi) */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t cur = get_w(is, mid, w);
        if (cur == v) {
            *pos = mid;
            return 1;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

/* Widen every element to fit v (which fits neither end's width) and insert v
 * at the front (v < all) or back (v > all). */
static intset_t *upgrade_and_add(intset_t *is, int64_t v) {
    uint32_t oldw = is->width, len = is->len;
    int prepend = v < 0; /* a value too wide for the set is below or above all */
    is->width = width_for(v);
    is = resize(is, len + 1);
    /* Back to front so no element is overwritten before it is read. */
    for (uint32_t i = len; i-- > 0;)
        set_w(is, i + (uint32_t)prepend, get_w(is, i, oldw), is->width);
    set_w(is, prepend ? 0 : len, v, is->width);
    is->len = len + 1;
    return is;
}

intset_t *intset_new(void) {
    intset_t *is = kl_malloc(sizeof(*is));
    is->width = INTSET_W16;
    is->len = 0;
    return is;
}

void intset_free(intset_t *is) {
    kl_free(is);
}

intset_t *intset_dup(const intset_t *is) {
    return kl_memdup(is, intset_blob_len(is));
}

intset_t *intset_add(intset_t *is, int64_t v, int *added) {
    if (added) *added = 0;
    if (width_for(v) > is->width) {
        if (added) *added = 1;
        return upgrade_and_add(is, v);
    }
    uint32_t pos;
    if (search(is, v, &pos)) return is;
    is = resize(is, is->len + 1);
    if (pos < is->len)
        memmove(is->data + (size_t)(pos + 1) * is->width, is->data + (size_t)pos * is->width,
                (size_t)(is->len - pos) * is->width);
    set_w(is, pos, v, is->width);
    is->len++;
    if (added) *added = 1;
    return is;
}

intset_t *intset_remove_at(intset_t *is, uint32_t pos) {
    uint32_t w = is->width;
    if (pos + 1 < is->len)
        memmove(is->data + (size_t)pos * w, is->data + (size_t)(pos + 1) * w,
                (size_t)(is->len - pos - 1) * w);
    is->len--;
    return resize(is, is->len);
}

intset_t *intset_remove(intset_t *is, int64_t v, int *removed) {
    uint32_t pos;
    if (removed) *removed = 0;
    if (width_for(v) > is->width || !search(is, v, &pos)) return is;
    if (removed) *removed = 1;
    return intset_remove_at(is, pos);
}

int intset_find(const intset_t *is, int64_t v) {
    uint32_t pos;
    return width_for(v) <= is->width && search(is, v, &pos);
}

uint32_t intset_len(const intset_t *is) {
    return is->len;
}

int intset_width(const intset_t *is) {
    return (int)is->width;
}

int64_t intset_get(const intset_t *is, uint32_t pos) {
    return get_w(is, pos, is->width);
}

int intset_get_checked(const intset_t *is, uint32_t pos, int64_t *out) {
    if (pos >= is->len) return 0;
    *out = get_w(is, pos, is->width);
    return 1;
}

uint32_t intset_random_pos(const intset_t *is) {
    return (uint32_t)(kl_rand64() % is->len);
}

int64_t intset_random(const intset_t *is) {
    return get_w(is, intset_random_pos(is), is->width);
}

size_t intset_blob_len(const intset_t *is) {
    return sizeof(*is) + (size_t)is->len * is->width;
}

size_t intset_alloc_size(const intset_t *is) {
    return kl_alloc_size((void *)is);
}

int intset_validate(const intset_t *is) {
    uint32_t w = is->width;
    if (w != INTSET_W16 && w != INTSET_W32 && w != INTSET_W64) return 0;
    for (uint32_t i = 0; i < is->len; i++) {
        int64_t v = get_w(is, i, w);
        if (width_for(v) > w) return 0;
        if (i && get_w(is, i - 1, w) >= v) return 0;
    }
    return 1;
}

/* Little-endian field readers for blobs (alignment-free). */
static inline uint64_t blob_le(const unsigned char *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Element pos of a blob of width w, sign-extended. */
static inline int64_t blob_get(const unsigned char *data, uint32_t pos, uint32_t w) {
    uint64_t u = blob_le(data + (size_t)pos * w, w);
    if (w < 8) {
        uint64_t sign = 1ull << (8 * w - 1);
        u = (u ^ sign) - sign;
    }
    return (int64_t)u;
}

/* Redis's intsetValidateIntegrity on a serialised blob; see intset.h. */
int intset_validate_blob(const void *p, size_t size, int deep) {
    const unsigned char *b = p;
    if (!b || size < sizeof(intset_t)) return 0;
    uint32_t w = (uint32_t)blob_le(b, 4), n = (uint32_t)blob_le(b + 4, 4);
    if (w != INTSET_W16 && w != INTSET_W32 && w != INTSET_W64) return 0;
    if ((uint64_t)sizeof(intset_t) + (uint64_t)n * w != size) return 0;
    if (!deep) return 1;
    if (n == 0) return 0;
    const unsigned char *data = b + sizeof(intset_t);
    int64_t prev = blob_get(data, 0, w);
    for (uint32_t i = 1; i < n; i++) {
        int64_t cur = blob_get(data, i, w);
        if (cur <= prev) return 0;
        prev = cur;
    }
    return 1;
}

/* Copy a validated blob into a new intset the caller owns. */
intset_t *intset_from_blob(const void *p, size_t size) {
    assert(intset_validate_blob(p, size, 0));
    intset_t *is = kl_malloc(size);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The struct is the blob: two u32 then the elements, all little-endian. */
    memcpy(is, p, size);
#else
    const unsigned char *b = p;
    is->width = (uint32_t)blob_le(b, 4);
    is->len = (uint32_t)blob_le(b + 4, 4);
    for (uint32_t i = 0; i < is->len; i++)
        set_w(is, i, blob_get(b + sizeof(*is), i, is->width), is->width);
#endif
    return is;
}
