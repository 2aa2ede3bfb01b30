/* The shared replication buffer and replica output (Redis 7.0's replication
 * buffer blocks, made for threads).
 *
 * The executor appends the replication stream once to an iol_rbuf_t, a chain
 * of fixed-size blocks. The backlog is a window over that chain (the last
 * repl-backlog-size bytes); every replica connection reads the same blocks
 * from its own I/O thread, from its own position, and writes them out (TLS
 * encryption included) with no copy per replica.
 *
 * Memory: blocks are reference counted. A block holds a reference on the
 * next one; the backlog holds one on its first block; a replica holds one on
 * the block it reads. So a block lives while the backlog or a replica may
 * still need it, and everything after it lives too; blocks die from the
 * oldest, on whichever thread drops the last reference. What a slow replica
 * keeps alive is what Redis 7.0 keeps for it, shared with the others.
 *
 * Publication: the executor fills a block's bytes, then stores its `used`
 * (release); a new block is linked with a release store of `next` once the
 * previous one is full. A reader loads them with acquire and never reads past
 * `used`. Bytes below `used` never change.
 *
 * Replica output (iol_client_repl_*): a client that became a replica gets,
 * after the replies already queued: optionally a payload read from a file
 * descriptor by its I/O thread (the RDB file of a disk sync, or the pipe a
 * forked child writes for a diskless one), then the stream from an offset
 * on. The executor announces new bytes once per loop turn (before it
 * sleeps) with one message per replica that has not seen them yet.
 *
 * Thread: executor unless said otherwise. */
#ifndef IOL_REPL_H
#define IOL_REPL_H

#include "iol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct iol_rbuf iol_rbuf_t;

/* A buffer whose next byte has stream offset `next_offset` (Redis numbers
 * the first byte of the stream 1). block_size 0: 16 KB. */
iol_rbuf_t *iol_rbuf_new(uint64_t next_offset, size_t block_size);
/* Drop the executor's hold (the backlog's reference). Replicas still
 * reading keep their blocks until they detach. */
void iol_rbuf_free(iol_rbuf_t *b);
/* Append n bytes to the stream. */
void iol_rbuf_append(iol_rbuf_t *b, const void *p, size_t n);
/* Offset of the next byte to be appended. */
uint64_t iol_rbuf_end(const iol_rbuf_t *b);
/* First offset the backlog window holds (== end when empty). */
uint64_t iol_rbuf_start(const iol_rbuf_t *b);
/* Keep at most `keep` bytes in the backlog window (whole blocks are
 * released from its start; at least the bytes asked for stay). */
void iol_rbuf_trim(iol_rbuf_t *b, uint64_t keep);
/* Bytes of blocks alive (the backlog's and what replicas still hold):
 * mem_total_replication_buffers. */
size_t iol_rbuf_mem(const iol_rbuf_t *b);
/* Copy the bytes [from, from + n) of the backlog window into out (tests,
 * and a replica that proxies); false when not all are in the window. */
bool iol_rbuf_peek(const iol_rbuf_t *b, uint64_t from, void *out, size_t n);

/* How a replica's output starts. */
typedef struct iol_repl_start {
    /* Sent first, after the replies already queued ("+FULLRESYNC <id>
     * <offset>\r\n", "+CONTINUE <id>\r\n"). Copied. */
    const char *header;
    size_t header_len;
    /* The payload: -1 for none; otherwise read from this descriptor by the
     * I/O thread, payload_len bytes (a regular file, read from its start),
     * or until EOF when payload_len < 0 (a pipe; made non-blocking). ioloop
     * owns and closes it from this call on. */
    int payload_fd;
    int64_t payload_len;
    /* The payload is not known yet (a disk sync whose BGSAVE runs): the
     * stream is held (its blocks kept from `from` on) until
     * iol_client_repl_payload() gives it. */
    bool payload_later;
    /* Close the connection once the payload is out (REPLCONF rdb-only). */
    bool close_after_payload;
    /* After the payload, hold the stream until iol_client_repl_stream()
     * (a diskless sync: Redis 7.0 starts it on the replica's first ACK). */
    bool stream_after_go;
    /* Then the stream from this offset (it must be inside the backlog
     * window, or its end). */
    uint64_t from;
} iol_repl_start_t;

/* Make c a replica reading b. c keeps working as a client (its commands
 * run, its replies go out before the header). When the payload has been
 * sent (or failed), the repl_payload hook of iol_hooks_t runs with the
 * status (0, or a negative UV error: the connection is then closed). A
 * start made while the executor holds c goes out after c's batch returns. */
void iol_client_repl_start(iol_client_t *c, iol_rbuf_t *b, const iol_repl_start_t *s);
/* The payload of a start made with payload_later: header ("$<len>\r\n"),
 * then len bytes of fd (owned by ioloop from this call on). */
void iol_client_repl_payload(iol_client_t *c, const char *header, size_t header_len, int fd,
                             int64_t len);
/* Let the stream of a start made with stream_after_go flow. */
void iol_client_repl_stream(iol_client_t *c);
/* A newline to c while it waits for its payload (not started, or started
 * with payload_later and no payload yet): Redis's keepalive of a replica
 * waiting for its BGSAVE. Ignored otherwise. */
void iol_client_repl_keepalive(iol_client_t *c);
/* Bytes of the stream c has yet to write (its share of the buffers, for
 * CLIENT LIST omem and the output limit on the executor's side). Thread:
 * any (relaxed). */
uint64_t iol_client_repl_pending(const iol_client_t *c);
/* The last stream offset c's I/O thread handed to the kernel (+ 1), 0
 * before it started. Thread: any (relaxed). */
uint64_t iol_client_repl_sent(const iol_client_t *c);

#endif
