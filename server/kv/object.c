#include "object.h"

#include "config.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "types.h"

#include <stdio.h>
#include <string.h>

/* Aggregates use only the payload pointer of the value union, so their
 * objects are allocated without the rest: 16 bytes (jemalloc's 16-byte class)
 * instead of 24 (which would round up to 32). Nothing may touch v.s or v.i of
 * a non-string object. */
#define OBJ_AGGREGATE_SIZE (offsetof(kobj_t, v) + sizeof(void *))

static kobj_t *obj_alloc(int type, int enc) {
    kobj_t *o = kl_malloc(type == OBJ_STRING ? sizeof(*o) : OBJ_AGGREGATE_SIZE);
    o->type = (uint8_t)type;
    o->enc = (uint8_t)enc;
    o->flags = 0;
    o->lru = 0;
    return o;
}

kobj_t *obj_string_new_raw(const char *p, size_t len) {
    kobj_t *o = obj_alloc(OBJ_STRING, ENC_RAW);
    o->v.s.ptr = kl_malloc(len + 1);
    if (len) memcpy(o->v.s.ptr, p, len);
    o->v.s.ptr[len] = '\0';
    o->v.s.len = len;
    return o;
}

kobj_t *obj_string_adopt(char *p, size_t len) {
    long long v;
    if (len <= 20 && kl_str_to_ll(p, len, &v) == 0) {
        kl_free(p);
        return obj_string_from_ll(v);
    }
    if (len <= OBJ_EMBSTR_MAX) {
        kobj_t *o = obj_string_new(p, len);
        kl_free(p);
        return o;
    }
    kobj_t *o = obj_alloc(OBJ_STRING, ENC_RAW);
    o->v.s.ptr = p;
    o->v.s.len = len;
    return o;
}

static kobj_t *obj_string_new_embstr(const char *p, size_t len) {
    kobj_t *o = kl_malloc(sizeof(*o) + len + 1);
    o->type = OBJ_STRING;
    o->enc = ENC_EMBSTR;
    o->flags = 0;
    o->lru = 0;
    o->v.s.ptr = (char *)(o + 1);
    if (len) memcpy(o->v.s.ptr, p, len);
    o->v.s.ptr[len] = '\0';
    o->v.s.len = len;
    return o;
}

kobj_t *obj_string_new(const char *p, size_t len) {
    if (len <= OBJ_EMBSTR_MAX) return obj_string_new_embstr(p, len);
    return obj_string_new_raw(p, len);
}

kobj_t *obj_string_from_ll(long long v) {
    kobj_t *o = obj_alloc(OBJ_STRING, ENC_INT);
    o->v.i = v;
    /* Redis stops sharing its small integers while an LRU/LFU maxmemory
     * policy is in force (each value needs its own access data), so OBJECT
     * REFCOUNT then reports 1 for values created meanwhile. */
    if (g_cfg.maxmemory && g_cfg.maxmemory_policy != KL_MAXMEMORY_NOEVICTION &&
        g_cfg.maxmemory_policy != KL_MAXMEMORY_VOLATILE_RANDOM &&
        g_cfg.maxmemory_policy != KL_MAXMEMORY_ALLKEYS_RANDOM &&
        g_cfg.maxmemory_policy != KL_MAXMEMORY_VOLATILE_TTL)
        o->flags |= OBJ_FLAG_NOT_SHARED;
    return o;
}

kobj_t *obj_string_try_encode(const char *p, size_t len) {
    long long v;
    if (len <= 20 && kl_str_to_ll(p, len, &v) == 0) return obj_string_from_ll(v);
    return obj_string_new(p, len);
}

kobj_t *obj_string_from_ld(long double v) {
    char buf[5 * 1024];
    int n = kl_ld_to_str(buf, sizeof(buf), v, 1);
    return obj_string_new(buf, (size_t)n);
}

const char *obj_string_bytes(const kobj_t *o, char *buf, size_t *len) {
    if (o->enc == ENC_INT) {
        *len = (size_t)kl_ll_to_str(buf, 32, o->v.i);
        return buf;
    }
    *len = o->v.s.len;
    return o->v.s.ptr;
}

size_t obj_string_len(const kobj_t *o) {
    if (o->enc == ENC_INT) {
        char buf[32];
        return (size_t)kl_ll_to_str(buf, sizeof(buf), o->v.i);
    }
    return o->v.s.len;
}

int obj_get_ll(const kobj_t *o, long long *out) {
    if (o->enc == ENC_INT) {
        *out = o->v.i;
        return 0;
    }
    return kl_str_to_ll(o->v.s.ptr, o->v.s.len, out) == 0 ? 0 : -1;
}

int obj_get_ld(const kobj_t *o, long double *out) {
    if (o->enc == ENC_INT) {
        *out = (long double)o->v.i;
        return 0;
    }
    return kl_str_to_ld(o->v.s.ptr, o->v.s.len, out) == 0 ? 0 : -1;
}

kobj_t *obj_string_unshare(kobj_t *o) {
    if (o->enc == ENC_RAW) return o;
    char buf[32];
    size_t len;
    const char *p = obj_string_bytes(o, buf, &len);
    kobj_t *n = obj_string_new_raw(p, len);
    n->lru = o->lru;
    return n;
}

static void raw_reserve(kobj_t *o, size_t need) {
    size_t have = kl_alloc_size(o->v.s.ptr);
    if (have >= need + 1) return;
    size_t cap = need + 1;
    /* Grow geometrically up to 1 MB steps, like a string builder. */
    if (cap < 1024 * 1024)
        cap *= 2;
    else
        cap += 1024 * 1024;
    o->v.s.ptr = kl_realloc(o->v.s.ptr, cap);
}

void obj_string_grow_zero(kobj_t *o, size_t newlen) {
    if (newlen <= o->v.s.len) return;
    raw_reserve(o, newlen);
    memset(o->v.s.ptr + o->v.s.len, 0, newlen - o->v.s.len + 1);
    o->v.s.len = newlen;
}

void obj_string_append(kobj_t *o, const char *p, size_t len) {
    raw_reserve(o, o->v.s.len + len);
    memcpy(o->v.s.ptr + o->v.s.len, p, len);
    o->v.s.len += len;
    o->v.s.ptr[o->v.s.len] = '\0';
}

kobj_t *obj_dup(const kobj_t *o) {
    kobj_t *n;
    if (o->type == OBJ_STRING) {
        if (o->enc == ENC_INT) {
            n = obj_string_from_ll(o->v.i);
            n->flags |= OBJ_FLAG_NOT_SHARED;
        } else if (o->enc == ENC_EMBSTR)
            n = obj_string_new_embstr(o->v.s.ptr, o->v.s.len);
        else
            n = obj_string_new_raw(o->v.s.ptr, o->v.s.len);
    } else {
        n = obj_alloc(o->type, o->enc);
        n->v.p = kv_type_dup(o->type, o->enc, o->v.p);
    }
    n->lru = o->lru;
    return n;
}

void obj_free(kobj_t *o) {
    if (!o) return;
    if (o->type == OBJ_STRING) {
        if (o->enc == ENC_RAW) kl_free(o->v.s.ptr);
    } else {
        kv_type_free(o->type, o->enc, o->v.p);
    }
    kl_free(o);
}

kobj_t *obj_new(int type, int enc, void *p) {
    kobj_t *o = obj_alloc(type, enc);
    o->v.p = p;
    return o;
}

void obj_free_void(void *o) {
    obj_free(o);
}

const char *obj_type_name(int type) {
    switch (type) {
    case OBJ_STRING:
        return "string";
    case OBJ_LIST:
        return "list";
    case OBJ_SET:
        return "set";
    case OBJ_ZSET:
        return "zset";
    case OBJ_HASH:
        return "hash";
    }
    return "unknown";
}

const char *obj_encoding_name(int enc) {
    switch (enc) {
    case ENC_RAW:
        return "raw";
    case ENC_INT:
        return "int";
    case ENC_HASHTABLE:
        return "hashtable";
    case ENC_INTSET:
        return "intset";
    case ENC_SKIPLIST:
        return "skiplist";
    case ENC_EMBSTR:
        return "embstr";
    case ENC_QUICKLIST:
        return "quicklist";
    case ENC_LISTPACK:
        return "listpack";
    }
    return "unknown";
}

long long obj_refcount(const kobj_t *o) {
    /* Redis shares the integers 0..9999 (when no LRU/LFU maxmemory policy is
     * in force) and reports INT_MAX for them; keyloom stores them unshared
     * but reports the same number so clients see identical output. */
    if (o->type == OBJ_STRING && o->enc == ENC_INT && o->v.i >= 0 && o->v.i < OBJ_SHARED_INTEGERS &&
        !(o->flags & OBJ_FLAG_NOT_SHARED))
        return 2147483647LL;
    return 1;
}

size_t obj_mem_usage(const kobj_t *o) {
    size_t n = kl_alloc_size((void *)o);
    if (o->type == OBJ_STRING) {
        if (o->enc == ENC_RAW) n += kl_alloc_size(o->v.s.ptr);
    } else {
        n += kv_type_mem(o->type, o->enc, o->v.p);
    }
    return n;
}
