/* Request templates for keyloom-bench.
 *
 * A command such as  SET key:__rand__ __data__  is encoded to RESP once, at
 * startup. __data__ becomes the value (data_size bytes of 'x'); every
 * __rand__ (or redis-benchmark's __rand_int__) becomes a fixed-width field of
 * TPL_KEY_DIGITS zero-padded decimal digits, so the encoded length never
 * changes and a request is produced by one memcpy plus a digit fill per
 * field: no formatting and no allocation per request. Each field draws its
 * own key index (MGET key:__rand__ key:__rand__ reads two random keys).
 *
 * Thread: any; a built template is read-only. */
#ifndef BENCH_TEMPLATE_H
#define BENCH_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "keygen.h"

#define TPL_KEY_DIGITS 12
#define TPL_KEY_LIMIT 1000000000000ULL /* 10^TPL_KEY_DIGITS */

typedef struct tpl {
    char *buf; /* RESP request, key fields all zeros (kl_malloc'd) */
    size_t len;
    uint32_t *key_off; /* offsets of the key fields in buf */
    uint32_t nkeys;
} tpl_t;

/* Encode argv[0..argc) (lengths in lens; lens may be NULL for C strings).
 * Returns 0, or -EINVAL when argc < 1 or the request would exceed 4 GB. */
int tpl_build(tpl_t *t, int argc, char *const *argv, const size_t *lens, size_t data_size);
void tpl_free(tpl_t *t);

/* Write key (mod 10^TPL_KEY_DIGITS) as TPL_KEY_DIGITS digits at dst. */
static inline void tpl_put_key(char *dst, uint64_t key) {
    for (int i = TPL_KEY_DIGITS - 1; i >= 0; i--) {
        dst[i] = (char)('0' + key % 10);
        key /= 10;
    }
}

/* Write one request at out (t->len bytes), drawing each key from kg.
 * Returns the bytes written. */
static inline size_t tpl_render(const tpl_t *t, char *out, const keygen_t *kg) {
    memcpy(out, t->buf, t->len);
    for (uint32_t i = 0; i < t->nkeys; i++)
        tpl_put_key(out + t->key_off[i], keygen_next(kg));
    return t->len;
}

#endif
