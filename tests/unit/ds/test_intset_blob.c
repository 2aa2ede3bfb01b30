/* Unit tests for intset_validate_blob / intset_from_blob (server/ds/intset.c):
 * hand-encoded blobs of each width as Redis serialises them, the header and
 * size checks, the deep checks (empty, order, duplicates), truncation at
 * every length, and that an intset built by keyloom is byte for byte the
 * blob Redis would write (blobs in exact-size allocations for ASan). */
#include <criterion/criterion.h>

#include "intset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *exact(const unsigned char *p, size_t n) {
    unsigned char *c = malloc(n ? n : 1);
    cr_assert_not_null(c);
    if (n) memcpy(c, p, n);
    return c;
}

/* {-2, 5, 300} in 16 bits. */
static const unsigned char w16[] = {2, 0, 0, 0, 3, 0, 0, 0, 0xFE, 0xFF, 5, 0, 0x2C, 0x01};
/* {-70000, 70000} in 32 bits. */
static const unsigned char w32[] = {4,    0,    0,    0,    2,    0,    0,    0,
                                    0x90, 0xEE, 0xFE, 0xFF, 0x70, 0x11, 0x01, 0};
/* {INT64_MIN, 1, 2^40} in 64 bits. */
static const unsigned char w64[] = {8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
                                    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};

static void check_blob(const unsigned char *blob, size_t size, int width, const int64_t *want,
                       uint32_t n) {
    unsigned char *b = exact(blob, size);
    cr_assert_eq(intset_validate_blob(b, size, 0), 1);
    cr_assert_eq(intset_validate_blob(b, size, 1), 1);
    intset_t *is = intset_from_blob(b, size);
    free(b);
    cr_assert(intset_validate(is));
    cr_assert_eq(intset_width(is), width);
    cr_assert_eq(intset_len(is), n);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(intset_get(is, i), want[i], "pos %u", i);
    cr_assert_eq(intset_blob_len(is), size);
    /* The intset works as any other: add a value and find it. */
    is = intset_add(is, 42, NULL);
    cr_assert(intset_find(is, 42));
    intset_free(is);
}

Test(intset_blob, each_width) {
    int64_t a[] = {-2, 5, 300};
    check_blob(w16, sizeof(w16), INTSET_W16, a, 3);
    int64_t b[] = {-70000, 70000};
    check_blob(w32, sizeof(w32), INTSET_W32, b, 2);
    int64_t c[] = {INT64_MIN, 1, 1LL << 40};
    check_blob(w64, sizeof(w64), INTSET_W64, c, 3);
}

/* What keyloom holds is what Redis writes: build {-2, 5, 300} and compare
 * the allocation's bytes with the hand-encoded blob. */
Test(intset_blob, native_layout_is_redis_blob) {
    intset_t *is = intset_new();
    is = intset_add(is, 300, NULL);
    is = intset_add(is, -2, NULL);
    is = intset_add(is, 5, NULL);
    cr_assert_eq(intset_blob_len(is), sizeof(w16));
    cr_assert(memcmp(is, w16, sizeof(w16)) == 0);
    intset_free(is);
}

Test(intset_blob, header_and_size) {
    unsigned char b[sizeof(w16) + 2];
    memcpy(b, w16, sizeof(w16));
    cr_assert_eq(intset_validate_blob(NULL, 8, 0), 0);
    cr_assert_eq(intset_validate_blob(b, sizeof(w16) + 2, 0), 0); /* extra bytes */
    unsigned encs[] = {0, 1, 3, 5, 16, 0x200};
    for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
        b[0] = (unsigned char)encs[i];
        b[1] = (unsigned char)(encs[i] >> 8);
        cr_assert_eq(intset_validate_blob(b, sizeof(w16), 0), 0, "encoding %u", encs[i]);
    }
    memcpy(b, w16, sizeof(w16));
    b[4] = 4; /* length 4 claims 8 + 8 bytes */
    cr_assert_eq(intset_validate_blob(b, sizeof(w16), 0), 0);
    b[4] = 3;
    b[7] = 0x80; /* length 2^31 + 3: 8 + 2^32 + 6 must not wrap */
    cr_assert_eq(intset_validate_blob(b, sizeof(w16), 0), 0);
    b[7] = 0;
    /* Header-only, empty: valid shallow, invalid deep (Redis's rule). */
    unsigned char e[8] = {2, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(intset_validate_blob(e, 8, 0), 1);
    cr_assert_eq(intset_validate_blob(e, 8, 1), 0);
}

Test(intset_blob, deep_order) {
    unsigned char b[sizeof(w16)];
    memcpy(b, w16, sizeof(w16));
    b[10] = 0xFE; /* {-2, -2, 300}: duplicate */
    b[11] = 0xFF;
    cr_assert_eq(intset_validate_blob(b, sizeof(b), 0), 1);
    cr_assert_eq(intset_validate_blob(b, sizeof(b), 1), 0);
    b[10] = 0xFD; /* {-2, -3, 300}: descending */
    cr_assert_eq(intset_validate_blob(b, sizeof(b), 1), 0);
    memcpy(b, w16, sizeof(w16));
    b[13] = 0x80; /* last becomes negative: {-2, 5, -32468} */
    cr_assert_eq(intset_validate_blob(b, sizeof(b), 1), 0);
    unsigned char c[sizeof(w64)];
    memcpy(c, w64, sizeof(w64));
    c[15] = 0x7F; /* INT64_MIN -> a huge positive first element */
    cr_assert_eq(intset_validate_blob(c, sizeof(c), 1), 0);
}

Test(intset_blob, truncation_at_every_length) {
    const unsigned char *blobs[] = {w16, w32, w64};
    size_t sizes[] = {sizeof(w16), sizeof(w32), sizeof(w64)};
    for (int j = 0; j < 3; j++) {
        for (size_t k = 0; k < sizes[j]; k++) {
            unsigned char *t = exact(blobs[j], k);
            cr_assert_eq(intset_validate_blob(t, k, 0), 0, "blob %d len %zu", j, k);
            cr_assert_eq(intset_validate_blob(t, k, 1), 0, "blob %d len %zu", j, k);
            free(t);
        }
    }
}
