/* The payloads of the aggregate types (types.h). Thread: executor. */
#include "types.h"

#include "intset.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "listpack.h"
#include "object.h"
#include "quicklist.h"
#include "zskiplist.h"

#include <limits.h>
#include <string.h>

/* ---------------------------------------------------------------- hash values */

uint64_t hval_make(const char *p, size_t len) {
    if (len <= HVAL_INLINE_MAX) {
        uint64_t w = ((uint64_t)len << 1) | 1u;
        for (size_t i = 0; i < len; i++)
            w |= (uint64_t)(unsigned char)p[i] << (8 * (i + 1));
        return w;
    }
    unsigned char *m;
    if (len < 255) {
        m = kl_malloc(1 + len);
        m[0] = (unsigned char)len;
        memcpy(m + 1, p, len);
    } else {
        uint64_t l = len;
        m = kl_malloc(9 + len);
        m[0] = 255;
        memcpy(m + 1, &l, sizeof(l));
        memcpy(m + 9, p, len);
    }
    return (uint64_t)(uintptr_t)m;
}

const char *hval_get(uint64_t w, char *buf, size_t *len) {
    if (w & 1u) {
        size_t n = (size_t)(w >> 1) & 7u;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(unsigned char)(w >> (8 * (i + 1)));
        *len = n;
        return buf;
    }
    const unsigned char *m = (const unsigned char *)(uintptr_t)w;
    if (m[0] < 255) {
        *len = m[0];
        return (const char *)m + 1;
    }
    uint64_t l;
    memcpy(&l, m + 1, sizeof(l));
    *len = (size_t)l;
    return (const char *)m + 9;
}

void hval_free(void *ptr) {
    if ((uintptr_t)ptr & 1u) return;
    kl_free(ptr);
}

uint64_t hval_dup(uint64_t w) {
    if (w & 1u) return w;
    char buf[8];
    size_t len;
    const char *p = hval_get(w, buf, &len);
    return hval_make(p, len);
}

size_t hval_mem(uint64_t w) {
    return (w & 1u) ? 0 : kl_alloc_size((void *)(uintptr_t)w);
}

const dict_type_t kv_hash_dict_type = {hval_free};
const dict_type_t kv_set_dict_type = {.val_free = NULL, .keys_only = 1};

/* ---------------------------------------------------------------- sorted-set scores */

int kv_zset_score_str(char *buf, size_t cap, double score) {
    if (!(score < (double)(-LLONG_MAX / 2) || score > (double)(LLONG_MAX / 2))) {
        long long ll = (long long)score;
        if ((double)ll == score) return kl_ll_to_str(buf, cap, ll);
    }
    return kl_d_to_str(buf, cap, score);
}

/* ---------------------------------------------------------------- payload hooks */

static void list_free(int enc, void *p) {
    (void)enc;
    ql_free(p);
}

static void *list_dup(int enc, const void *p) {
    (void)enc;
    return ql_dup(p);
}

static size_t list_mem(int enc, const void *p) {
    (void)enc;
    return ql_mem_usage(p);
}

static void hash_free_payload(int enc, void *p) {
    if (enc == ENC_LISTPACK)
        lp_free(p);
    else
        dict_release(p);
}

static void *hash_dup_payload(int enc, const void *p) {
    if (enc == ENC_LISTPACK) return lp_dup(p);
    dict_t *src = (dict_t *)p, *dst = dict_create(&kv_hash_dict_type);
    dict_iter_t it;
    dict_iter_init(&it, src, 0);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        dict_entry_t *n = dict_add_or_find(dst, dict_entry_key(e), dict_entry_klen(e), NULL);
        dict_entry_set_u64(n, hval_dup(dict_entry_get_u64(e)));
    }
    dict_iter_done(&it);
    return dst;
}

/* Bytes owned by the payload. For a hashtable the out-of-line values are
 * estimated from the first few entries (as MEMORY USAGE samples), so the cost
 * stays O(1) for huge hashes. */
#define HASH_MEM_SAMPLES 32
static size_t hash_mem_payload(int enc, const void *p) {
    if (enc == ENC_LISTPACK) return lp_alloc_size(p);
    dict_t *d = (dict_t *)p;
    size_t n = dict_mem_usage(d), size = dict_size(d), seen = 0, vbytes = 0;
    if (size == 0) return n;
    dict_iter_t it;
    dict_iter_init(&it, d, 0);
    dict_entry_t *e;
    while (seen < HASH_MEM_SAMPLES && (e = dict_iter_next(&it)) != NULL) {
        vbytes += hval_mem(dict_entry_get_u64(e));
        seen++;
    }
    dict_iter_done(&it);
    return n + (seen ? vbytes * size / seen : 0);
}

static void set_free_hook(int enc, void *p) {
    if (enc == ENC_INTSET)
        intset_free(p);
    else
        dict_release(p);
}

static void *set_dup_hook(int enc, const void *p) {
    if (enc == ENC_INTSET) return intset_dup(p);
    dict_t *src = (dict_t *)p, *d = dict_create(&kv_set_dict_type);
    dict_iter_t it;
    dict_entry_t *de;
    dict_iter_init(&it, src, 0);
    while ((de = dict_iter_next(&it)) != NULL)
        dict_add_or_find(d, dict_entry_key(de), dict_entry_klen(de), NULL);
    dict_iter_done(&it);
    return d;
}

static size_t set_mem_hook(int enc, const void *p) {
    if (enc == ENC_INTSET) return intset_alloc_size(p);
    return dict_mem_usage(p);
}

static void zset_free_payload(int enc, void *p) {
    if (enc == ENC_LISTPACK)
        lp_free(p);
    else
        zsl_set_free(p);
}

static void *zset_dup_payload(int enc, const void *p) {
    if (enc == ENC_LISTPACK) return lp_dup(p);
    return zsl_set_dup(p);
}

static size_t zset_mem_payload(int enc, const void *p) {
    if (enc == ENC_LISTPACK) return lp_alloc_size(p);
    return zsl_set_mem(p);
}

void kv_type_free(int type, int enc, void *p) {
    switch (type) {
    case OBJ_LIST:
        list_free(enc, p);
        break;
    case OBJ_HASH:
        hash_free_payload(enc, p);
        break;
    case OBJ_SET:
        set_free_hook(enc, p);
        break;
    case OBJ_ZSET:
        zset_free_payload(enc, p);
        break;
    default:
        break;
    }
}

void *kv_type_dup(int type, int enc, const void *p) {
    switch (type) {
    case OBJ_LIST:
        return list_dup(enc, p);
    case OBJ_HASH:
        return hash_dup_payload(enc, p);
    case OBJ_SET:
        return set_dup_hook(enc, p);
    case OBJ_ZSET:
        return zset_dup_payload(enc, p);
    default:
        return NULL;
    }
}

size_t kv_type_mem(int type, int enc, const void *p) {
    switch (type) {
    case OBJ_LIST:
        return list_mem(enc, p);
    case OBJ_HASH:
        return hash_mem_payload(enc, p);
    case OBJ_SET:
        return set_mem_hook(enc, p);
    case OBJ_ZSET:
        return zset_mem_payload(enc, p);
    default:
        return 0;
    }
}
