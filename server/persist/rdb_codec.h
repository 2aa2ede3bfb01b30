/* The RDB value codec, format version 10 (Redis 7.0): the constants of
 * Redis's rdb.h, an append-only output buffer, and a bounds-checked reader
 * over a byte range. Pure code: no I/O, no keyspace; the RDB writer and
 * loader are built on it.
 *
 * Every multi-byte integer of the format is little-endian except the 14-, 32-
 * and 64-bit length forms, which are big-endian, as Redis writes them. */
#ifndef KL_RDB_CODEC_H
#define KL_RDB_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RDB_VERSION 10

/* Length encoding: the two top bits of the first byte. */
#define RDB_6BITLEN 0
#define RDB_14BITLEN 1
#define RDB_32BITLEN 0x80
#define RDB_64BITLEN 0x81
#define RDB_ENCVAL 3

/* Special encodings of a string (the low 6 bits after RDB_ENCVAL). */
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3

/* Value types. */
#define RDB_TYPE_STRING 0
#define RDB_TYPE_LIST 1
#define RDB_TYPE_SET 2
#define RDB_TYPE_ZSET 3
#define RDB_TYPE_HASH 4
#define RDB_TYPE_ZSET_2 5 /* scores as binary doubles */
#define RDB_TYPE_MODULE 6
#define RDB_TYPE_MODULE_2 7
#define RDB_TYPE_HASH_ZIPMAP 9
#define RDB_TYPE_LIST_ZIPLIST 10
#define RDB_TYPE_SET_INTSET 11
#define RDB_TYPE_ZSET_ZIPLIST 12
#define RDB_TYPE_HASH_ZIPLIST 13
#define RDB_TYPE_LIST_QUICKLIST 14
#define RDB_TYPE_STREAM_LISTPACKS 15
#define RDB_TYPE_HASH_LISTPACK 16
#define RDB_TYPE_ZSET_LISTPACK 17
#define RDB_TYPE_LIST_QUICKLIST_2 18
#define RDB_TYPE_STREAM_LISTPACKS_2 19

/* Opcodes (bytes where a value type could be). */
#define RDB_OPCODE_FUNCTION2 245
#define RDB_OPCODE_FUNCTION_PRE_GA 246
#define RDB_OPCODE_MODULE_AUX 247
#define RDB_OPCODE_IDLE 248
#define RDB_OPCODE_FREQ 249
#define RDB_OPCODE_AUX 250
#define RDB_OPCODE_RESIZEDB 251
#define RDB_OPCODE_EXPIRETIME_MS 252
#define RDB_OPCODE_EXPIRETIME 253
#define RDB_OPCODE_SELECTDB 254
#define RDB_OPCODE_EOF 255

/* Module value opcodes. */
#define RDB_MODULE_OPCODE_EOF 0
#define RDB_MODULE_OPCODE_SINT 1
#define RDB_MODULE_OPCODE_UINT 2
#define RDB_MODULE_OPCODE_FLOAT 3
#define RDB_MODULE_OPCODE_DOUBLE 4
#define RDB_MODULE_OPCODE_STRING 5

/* Quicklist 2 node containers. */
#define RDB_QUICKLIST_NODE_PLAIN 1
#define RDB_QUICKLIST_NODE_PACKED 2

/* Strings longer than this are LZF-compressed when compression is on and it
 * saves at least 4 bytes (Redis's rdbSaveRawString). */
#define RDB_LZF_MIN_LEN 20

/* Decoder results. */
enum {
    RDB_OK = 0,
    RDB_ERR_TRUNC = -1,   /* the range ends inside the item */
    RDB_ERR_CORRUPT = -2, /* bytes that no writer produces */
};

/* ---- writing ---------------------------------------------------------------- */

/* An append-only byte buffer. Zero-initialised is empty. Appends abort on
 * out-of-memory as every keyloom allocation does. */
typedef struct rdb_buf {
    unsigned char *b;
    size_t len, cap;
} rdb_buf_t;

/* Release the buffer and leave it empty. Thread: the owner's. */
void rdb_buf_free(rdb_buf_t *w);
/* Append n raw bytes. Thread: the owner's. */
void rdb_put_raw(rdb_buf_t *w, const void *p, size_t n);
/* Append one byte (a type or an opcode). Thread: the owner's. */
void rdb_put_u8(rdb_buf_t *w, uint8_t v);
/* Append a length in the shortest of the 6/14/32/64-bit forms. Thread: the owner's. */
void rdb_put_len(rdb_buf_t *w, uint64_t len);
/* Append a string as Redis's rdbSaveRawString does: integer-encoded when it
 * is the canonical text of an integer in int32 range (at most 11 bytes),
 * else LZF-compressed when compress is set, it is longer than 20 bytes and
 * that saves at least 4 bytes, else raw. Thread: the owner's. */
void rdb_put_string(rdb_buf_t *w, const void *s, size_t n, bool compress);
/* Append an integer the way Redis saves an integer-encoded string object:
 * INT8/16/32 when it fits, else its decimal text raw. Thread: the owner's. */
void rdb_put_ll(rdb_buf_t *w, long long v);
/* Append a double as 8 bytes little-endian (RDB_TYPE_ZSET_2 scores). Thread: the owner's. */
void rdb_put_double_bin(rdb_buf_t *w, double v);
/* Append a double in the old text form: a length byte and "%.17g" text (an
 * integral value in (-(2^52-1), 2^52) as an integer), 253 NaN, 254 +inf,
 * 255 -inf. Thread: the owner's. */
void rdb_put_double_str(rdb_buf_t *w, double v);
/* Append a millisecond time (EXPIRETIME_MS): 8 bytes little-endian. Thread: the owner's. */
void rdb_put_ms(rdb_buf_t *w, int64_t ms);

/* ---- reading ---------------------------------------------------------------- */

/* A reader over p[0..len): never reads outside it. After an error the
 * position is unspecified.
 *
 * A read that fails for lack of bytes (RDB_ERR_TRUNC) sets short_read and
 * records in need the position it would have had to reach: a streaming
 * loader tells "not arrived yet" from corrupt bytes with the flag, and knows
 * how many bytes to wait for (need is a lower bound: the same prefix parses
 * the same way). rdb_reader_init clears both. */
typedef struct rdb_reader {
    const unsigned char *p;
    size_t len, pos;
    bool short_read; /* some read ran past len */
    size_t need;     /* the largest end position such a read asked for (saturating) */
} rdb_reader_t;

/* A reader over p[0..len). Thread: any. */
void rdb_reader_init(rdb_reader_t *r, const void *p, size_t len);
/* Bytes left. Thread: the reader's owner. */
size_t rdb_remaining(const rdb_reader_t *r);
/* Point *out at the next n bytes (inside the range) and consume them. Thread: the owner's. */
int rdb_get_raw(rdb_reader_t *r, size_t n, const unsigned char **out);
/* Read one byte. Thread: the owner's. */
int rdb_get_u8(rdb_reader_t *r, uint8_t *v);
/* Read a length. With RDB_ENCVAL in the top bits, *encoded is set and *len is
 * the encoding (the low 6 bits); encoded may be NULL, and then an encoded
 * value is RDB_ERR_CORRUPT. Thread: the owner's. */
int rdb_get_len(rdb_reader_t *r, uint64_t *len, bool *encoded);
/* Read a string in any of its encodings into a new kl_malloc'd buffer
 * (*out, *n; NUL-terminated for convenience, the NUL not counted); the
 * caller kl_free()s it. Integer encodings give their decimal text, LZF the
 * decompressed bytes. Thread: the owner's. */
int rdb_get_string(rdb_reader_t *r, unsigned char **out, size_t *n);
/* Read a binary double. Thread: the owner's. */
int rdb_get_double_bin(rdb_reader_t *r, double *v);
/* Read a double in the old text form. Thread: the owner's. */
int rdb_get_double_str(rdb_reader_t *r, double *v);
/* Read a millisecond time. Thread: the owner's. */
int rdb_get_ms(rdb_reader_t *r, int64_t *ms);
/* Read a time in seconds (the old EXPIRETIME opcode): 4 bytes little-endian. Thread: the owner's.
 */
int rdb_get_seconds(rdb_reader_t *r, int32_t *s);

#endif
