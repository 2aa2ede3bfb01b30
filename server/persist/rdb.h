/* RDB values and files in Redis 7.0's format (RDB version 10), on top of the
 * codec of rdb_codec.h:
 *
 *  - values: rdb_save_object() writes a value as Redis 7.0's rdbSaveObject
 *    does (the encodings map one to one: listpacks and intsets as blobs,
 *    quicklists node by node, hashtables and skiplists element by element);
 *    rdb_load_object() reads every value type Redis 7.0 reads, from RDB 1 on
 *    (zipmap, ziplist and linked-list encodings converted on load), and
 *    chooses the encodings Redis would (hash-max-listpack-*, ...);
 *  - DUMP/RESTORE payloads (rdb_dump_payload, rdb_payload_verify,
 *    rdb_payload_load): a value, the RDB version (2 bytes) and a CRC64;
 *  - files: rdb_save_fd() writes the whole keyspace; rdb_loader_* load a
 *    file or a memory range step by step, so the executor can keep
 *    answering -LOADING between steps.
 *
 * Corrupt input never crashes and never leaves a half-built value: every
 * read is bounds-checked (rdb_reader_t), every listpack/intset/ziplist blob
 * is validated before use, and errors carry a reason and the offset.
 *
 * Thread: the executor, or a forked child that only saves (see rdb_save_fd). */
#ifndef KL_RDB_H
#define KL_RDB_H

#include "rdb_codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kobj;
struct kdb_set;

/* An error: what went wrong, and where (bytes from the start of the input). */
typedef struct rdb_err {
    char msg[256];
    size_t offset;
} rdb_err_t;

/* ---- values ----------------------------------------------------------------- */

/* The RDB type byte for a value (RDB_TYPE_*). */
int rdb_object_type(const struct kobj *o);
/* Append o's serialization (without the type byte). compress: LZF for
 * strings longer than 20 bytes (rdbcompression). */
void rdb_save_object(rdb_buf_t *w, const struct kobj *o, bool compress);
/* Bytes rdb_save_object writes for o (DEBUG OBJECT serializedlength). */
size_t rdb_serialized_length(const struct kobj *o, bool compress);

/* Load flags. */
enum {
    RDB_LOAD_DEEP = 1 << 0, /* sanitize: duplicates in listpacks/ziplists/sets, sorted intsets */
};

/* Is t a value type keyloom loads? (Streams and module types are not.) */
bool rdb_is_loadable_type(int t);
/* Load a value of RDB type `type` at r. Returns the new value, or NULL: with
 * *empty set for a container with no elements (Redis skips such keys), else
 * with err filled. */
struct kobj *rdb_load_object(rdb_reader_t *r, int type, int flags, bool *empty, rdb_err_t *err);

/* ---- DUMP / RESTORE ------------------------------------------------------------ */

/* Append a DUMP payload for o: type, value, RDB_VERSION (2 bytes LE), CRC64
 * of all that (8 bytes LE). */
void rdb_dump_payload(rdb_buf_t *w, const struct kobj *o, bool compress);
/* Check a payload's footer: version not newer than ours and, unless
 * skip_crc, the checksum. 0 or -1. */
int rdb_payload_verify(const unsigned char *p, size_t len, bool skip_crc);
/* The value of a verified payload, or NULL (bad data, or empty). */
struct kobj *rdb_payload_load(const unsigned char *p, size_t len, int flags, rdb_err_t *err);

/* ---- saving a file ------------------------------------------------------------- */

typedef struct rdb_save_opts {
    bool compress;          /* rdbcompression */
    bool checksum;          /* rdbchecksum: CRC64 trailer, else 0 */
    bool aof_base;          /* the "aof-base" AUX field */
    bool with_repl;         /* write repl-stream-db / repl-id / repl-offset */
    int repl_stream_db;     /* */
    const char *repl_id;    /* 40 hex digits */
    long long repl_offset;  /* */
    long long used_mem;     /* the "used-mem" AUX field */
    int key_save_delay;     /* rdb-key-save-delay: us slept after each key (< 0: ns) */
    bool incremental_fsync; /* rdb-save-incremental-fsync: fsync every 4 MB */
    /* Progress: called every 1024 keys (NULL: not called). */
    void (*progress)(void *arg, uint64_t keys);
    void *progress_arg;
} rdb_save_opts_t;

/* Write the whole keyspace as an RDB file to fd (positioned at the start of
 * a new file). Does not fsync at the end or close fd. Returns 0, or -errno
 * with err filled. *keys gets the number of keys written.
 *
 * Fork rules: this is what a BGSAVE child runs. It reads the keyspace
 * (kv/, ds/) and writes to fd; it allocates only through kl_malloc
 * (jemalloc's fork handlers make that safe in the child); it takes no lock,
 * touches no I/O thread, connection, TLS or lazy-free state, and does not
 * log. Thread: executor, or the forked child. */
int rdb_save_fd(int fd, const rdb_save_opts_t *o, uint64_t *keys, rdb_err_t *err);
/* The same to nfds descriptors at once (a diskless sync's pipes, one per
 * replica, at most 64): a target whose write fails is dropped and the save
 * goes on for the others; it fails when none is left. */
int rdb_save_fds(const int *fds, int nfds, const rdb_save_opts_t *o, uint64_t *keys,
                 rdb_err_t *err);

/* ---- loading ------------------------------------------------------------------- */

typedef struct rdb_loader rdb_loader_t;

/* What a load found besides the keys. */
typedef struct rdb_load_info {
    int version;
    uint64_t keys_loaded, keys_expired, empty_keys_skipped;
    char redis_ver[32];
    long long ctime, used_mem;
    int repl_stream_db; /* -1 unless the file has one */
    char repl_id[41];   /* "" unless the file has one */
    long long repl_offset;
    bool aof_base;
} rdb_load_info_t;

/* Loader flags (besides RDB_LOAD_DEEP). */
enum {
    RDB_LOAD_SKIP_EXPIRED = 1 << 8,  /* a master does not load keys already expired */
    RDB_LOAD_NO_CHECKSUM = 1 << 9,   /* rdbchecksum no: do not verify the trailer */
    RDB_LOAD_AOF_PREAMBLE = 1 << 10, /* an AOF base: stop at EOF, the rest is AOF */
    RDB_LOAD_ALLOW_DUP = 1 << 11,    /* a key already there is replaced (DEBUG RELOAD MERGE) */
};

/* A loader over the file at path, mapped read-only; NULL with err (and
 * errno set; ENOENT for a missing file). */
rdb_loader_t *rdb_loader_open_file(const char *path, int flags, rdb_err_t *err);
/* A loader over p[0..len) (not copied; it must outlive the loader). */
rdb_loader_t *rdb_loader_open_mem(const void *p, size_t len, int flags);
/* Load keys into the databases until at least `budget` more bytes were
 * consumed or the end. Returns 1 while there is more, 0 when the whole file
 * is loaded (and checked), -1 on an error (err filled; the keys loaded so far
 * stay: the caller decides). Thread: executor. */
int rdb_loader_step(rdb_loader_t *l, size_t budget, rdb_err_t *err);
/* A loader fed from a stream (a replica loading its master's RDB straight
 * from the socket, repl-diskless-load): nothing to open, the bytes come
 * through rdb_loader_feed. Same flags as the file loader. */
rdb_loader_t *rdb_loader_open_stream(int flags);
/* Feed the next n bytes of the RDB (any split: 1 byte, half a value, 64 KB;
 * p is copied as needed, the caller keeps it). Every complete entry is
 * loaded; an incomplete one at the end waits, its bytes kept, for the next
 * feed. last: no more bytes will come. Returns 1 (wants more), 0 (the whole
 * RDB loaded and its checksum verified; bytes that followed its end in this
 * feed are not loaded, see rdb_loader_rest; feeding more bytes after that is
 * an error), -1 (err says what and at which stream offset: corrupt data, or
 * "Unexpected EOF ... truncated" when last came before the end; the keys
 * loaded so far stay, as with the file loader, and every later feed fails).
 * A failed attempt on an incomplete entry frees what it built; it is tried
 * again only once its bytes have doubled (or reach the size a length it read
 * asked for), so the work is linear in the input, and memory holds the
 * unconsumed tail only. One call loads at most the old tail plus p.
 * Thread: executor. */
int rdb_loader_feed(rdb_loader_t *l, const void *p, size_t n, bool last, rdb_err_t *err);
/* After rdb_loader_feed returned 0: the bytes of that feed past the RDB's
 * end (such as a replication EOF mark), *n of them; valid until the next
 * call on l. NULL and 0 otherwise. Thread: executor. */
const void *rdb_loader_rest(const rdb_loader_t *l, size_t *n);
/* Load into the databases of set (kv/db.h kdb_set_t; NULL: the live ones)
 * instead of the live databases, for repl-diskless-load swapdb. Call it
 * before the first step or feed; set must outlive the loading. Thread: executor. */
void rdb_loader_set_target(rdb_loader_t *l, struct kdb_set *set);
/* Bytes consumed so far and the input's size (INFO loading progress; a
 * stream loader's size is the bytes fed so far). */
size_t rdb_loader_pos(const rdb_loader_t *l);
size_t rdb_loader_size(const rdb_loader_t *l);
/* Where the RDB part ended (the AOF tail of a preamble file starts there). */
const rdb_load_info_t *rdb_loader_info(const rdb_loader_t *l);
void rdb_loader_close(rdb_loader_t *l);

#endif
