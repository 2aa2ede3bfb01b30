/* Request templates; see template.h. */
#include "template.h"

#include <errno.h>

#include "kl_alloc.h"
#include "kl_util.h"

enum { PH_NONE, PH_RAND, PH_DATA };

/* Placeholder starting at s (n bytes left): its kind and length. */
static int placeholder(const char *s, size_t n, size_t *plen) {
    static const struct {
        const char *text;
        size_t len;
        int kind;
    } ph[] = {
        {"__rand_int__", 12, PH_RAND},
        {"__rand__", 8, PH_RAND},
        {"__data__", 8, PH_DATA},
    };
    for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++) {
        if (n >= ph[i].len && memcmp(s, ph[i].text, ph[i].len) == 0) {
            *plen = ph[i].len;
            return ph[i].kind;
        }
    }
    return PH_NONE;
}

/* Length of one argument after substitution, and its number of key fields. */
static size_t expanded_len(const char *a, size_t n, size_t data_size, uint32_t *nkeys) {
    size_t out = 0, i = 0, pl;
    while (i < n) {
        int k = a[i] == '_' ? placeholder(a + i, n - i, &pl) : PH_NONE;
        if (k == PH_RAND) {
            out += TPL_KEY_DIGITS;
            (*nkeys)++;
            i += pl;
        } else if (k == PH_DATA) {
            out += data_size;
            i += pl;
        } else {
            out++;
            i++;
        }
    }
    return out;
}

int tpl_build(tpl_t *t, int argc, char *const *argv, const size_t *lens, size_t data_size) {
    memset(t, 0, sizeof(*t));
    if (argc < 1) return -EINVAL;
    size_t total = 0;
    uint32_t nkeys = 0;
    char num[KL_LLSTR_SIZE];
    total += 1 + (size_t)kl_ll_to_str(num, sizeof(num), argc) + 2;
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        size_t e = expanded_len(argv[i], n, data_size, &nkeys);
        total += 1 + (size_t)kl_ull_to_str(num, sizeof(num), e) + 2 + e + 2;
        if (total > UINT32_MAX) return -EINVAL;
    }
    t->buf = kl_malloc(total + 1);
    t->key_off = kl_malloc((nkeys ? nkeys : 1) * sizeof(*t->key_off));
    char *w = t->buf;
    int nl = kl_ll_to_str(num, sizeof(num), argc);
    *w++ = '*';
    memcpy(w, num, (size_t)nl);
    w += nl;
    *w++ = '\r';
    *w++ = '\n';
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        size_t n = lens ? lens[i] : strlen(a), pl, j = 0;
        uint32_t dummy = 0;
        size_t e = expanded_len(a, n, data_size, &dummy);
        nl = kl_ull_to_str(num, sizeof(num), e);
        *w++ = '$';
        memcpy(w, num, (size_t)nl);
        w += nl;
        *w++ = '\r';
        *w++ = '\n';
        while (j < n) {
            int k = a[j] == '_' ? placeholder(a + j, n - j, &pl) : PH_NONE;
            if (k == PH_RAND) {
                t->key_off[t->nkeys++] = (uint32_t)(w - t->buf);
                memset(w, '0', TPL_KEY_DIGITS);
                w += TPL_KEY_DIGITS;
                j += pl;
            } else if (k == PH_DATA) {
                memset(w, 'x', data_size);
                w += data_size;
                j += pl;
            } else {
                *w++ = a[j++];
            }
        }
        *w++ = '\r';
        *w++ = '\n';
    }
    *w = '\0';
    t->len = (size_t)(w - t->buf);
    return 0;
}

void tpl_free(tpl_t *t) {
    kl_free(t->buf);
    kl_free(t->key_off);
    memset(t, 0, sizeof(*t));
}
