/* Values stored in the keyspace. A kobj_t is owned by exactly one keyspace
 * entry (values are never shared between keys; OBJECT REFCOUNT reports what
 * Redis reports for its shared small integers, see object_refcount()).
 *
 * Thread: executor only. */
#ifndef KL_OBJECT_H
#define KL_OBJECT_H

#include <stddef.h>
#include <stdint.h>

enum kobj_type { OBJ_STRING = 0, OBJ_LIST = 1, OBJ_SET = 2, OBJ_ZSET = 3, OBJ_HASH = 4 };

/* Encodings, with the names OBJECT ENCODING reports. */
enum kobj_enc {
    ENC_RAW = 0,
    ENC_INT = 1,
    ENC_HASHTABLE = 2,
    ENC_INTSET = 6,
    ENC_SKIPLIST = 7,
    ENC_EMBSTR = 8,
    ENC_QUICKLIST = 9,
    ENC_LISTPACK = 11,
};

#define OBJ_EMBSTR_MAX 44 /* longest string Redis stores as embstr */
#define OBJ_SHARED_INTEGERS 10000
/* flags */
#define OBJ_FLAG_NOT_SHARED 1 /* an integer Redis would not have shared (a copy) */

typedef struct kobj {
    uint8_t type;
    uint8_t enc;
    uint16_t flags;
    uint32_t lru; /* LRU clock (seconds, 24 bits) or LFU data (16 bits time, 8 bits counter) */
    union {
        int64_t i; /* ENC_INT */
        struct {
            char *ptr; /* NUL-terminated; EMBSTR points inside the object */
            size_t len;
        } s;
        void *p; /* other types */
    } v;
} kobj_t;

/* Strings. */
kobj_t *obj_string_new(const char *p, size_t len);     /* raw or embstr by length */
kobj_t *obj_string_new_raw(const char *p, size_t len); /* always raw (APPEND, SETRANGE) */
kobj_t *obj_string_from_ll(long long v);               /* int encoding */
/* SET-style: int if it parses as an integer (len <= 20), else embstr/raw. */
kobj_t *obj_string_try_encode(const char *p, size_t len);
kobj_t *obj_string_from_ld(long double v);
/* obj_string_try_encode taking p (kl_malloc'd, len bytes and a NUL) instead
 * of copying it: a raw string keeps the buffer (an RDB load of a big value
 * makes no second copy). */
kobj_t *obj_string_adopt(char *p, size_t len); /* INCRBYFLOAT result */
/* Bytes of a string value: ints are rendered into buf (>= 32 bytes). */
const char *obj_string_bytes(const kobj_t *o, char *buf, size_t *len);
size_t obj_string_len(const kobj_t *o);
/* Parse as integer; 0 ok, -1 not an integer. */
int obj_get_ll(const kobj_t *o, long long *out);
int obj_get_ld(const kobj_t *o, long double *out);
/* Make a string value writable in place (raw), returning it (may reallocate). */
kobj_t *obj_string_unshare(kobj_t *o);
/* Grow a raw string to at least newlen bytes (zero-filled), keeping content. */
void obj_string_grow_zero(kobj_t *o, size_t newlen);
/* Append bytes to a raw string. */
void obj_string_append(kobj_t *o, const char *p, size_t len);

kobj_t *obj_dup(const kobj_t *o);
void obj_free(kobj_t *o);
void obj_free_void(void *o);
const char *obj_type_name(int type);
const char *obj_encoding_name(int enc);
long long obj_refcount(const kobj_t *o);
size_t obj_mem_usage(const kobj_t *o);

/* A new value of a non-string type owning payload p (types.h describes
 * the payloads). Thread: executor. */
kobj_t *obj_new(int type, int enc, void *p);

#endif
