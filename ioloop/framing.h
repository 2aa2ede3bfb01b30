/* Framing: how the byte stream of an outbound link (ioloop/iol_link.h) is cut
 * into units for the executor. Pure code: no sockets, no threads, no libuv, so
 * unit tests and fuzzers feed it bytes directly.
 *
 * A framing is a small value (iol_framing_t) naming one of these kinds:
 *
 * | kind          | unit                                   | used by                         |
 * |---------------|----------------------------------------|---------------------------------|
 * | RESP_REQUESTS | a batch of RESP commands (resp_batch_t) | the master's replication stream |
 * | RESP_REPLIES  | one reply value, aggregates nested     | PING/AUTH/REPLCONF/PSYNC answers |
 * | LINE          | one line, CRLF or LF stripped          | the "$<len>" / "$EOF:" header    |
 * | RAW_LEN       | chunks of a payload of known length    | an RDB transfer ($<len>)        |
 * | RAW_EOF       | chunks of a payload ending at a mark   | a diskless RDB transfer ($EOF:) |
 * | BINARY        | one length-prefixed frame, header incl. | the cluster bus ("RCmb")        |
 *
 * A framer (iol_framer_t) is the state machine of one framing on one
 * connection; iol_framer_feed() takes bytes and returns at most one unit per
 * call, so the caller can act on a unit (stop, switch framing) before the next
 * byte is looked at. Each kind is a table of functions (the "framing vtable")
 * behind iol_framer_feed(). Client connections do not come through here: they
 * call the RESP request parser directly (ioloop/iothread.c), so their hot path
 * pays nothing for the other kinds.
 *
 * Thread: whichever thread owns the framer (a link's I/O thread); a unit, once
 * returned, belongs to the caller and may be handed to another thread. */
#ifndef IOL_FRAMING_H
#define IOL_FRAMING_H

#include "resp_parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum iol_framing_kind {
    IOL_FRAMING_RESP_REQUESTS = 0,
    IOL_FRAMING_RESP_REPLIES = 1,
    IOL_FRAMING_LINE = 2,
    IOL_FRAMING_RAW_LEN = 3,
    IOL_FRAMING_RAW_EOF = 4,
    IOL_FRAMING_BINARY = 5,
};

/* iol_framing_t.flags */
enum {
    /* Stop after every unit: the link reads no further byte with this framing
     * until the executor calls iol_link_resume() or iol_link_set_framing().
     * This is how the executor switches framing at an exact byte (after
     * +FULLRESYNC, after the "$<len>" line). RAW_LEN and RAW_EOF always stop
     * after their last chunk. */
    IOL_FRAMING_STOP = 1u << 0,
};

#define IOL_EOF_MARK_MAX 64
#define IOL_FRAME_SIG_MAX 8
/* Defaults for max_unit = 0. */
#define IOL_FRAMING_DEFAULT_MAX (512ull << 20) /* frames; the bulks of requests */
#define IOL_FRAMING_DEFAULT_REPLY_MAX (64ull << 20)
#define IOL_FRAMING_DEFAULT_LINE_MAX (64u << 10)
/* Deepest nesting of aggregates accepted in one reply. */
#define IOL_RESP_MAX_DEPTH 128

typedef struct iol_framing {
    uint8_t kind;  /* enum iol_framing_kind */
    uint8_t flags; /* IOL_FRAMING_STOP */
    /* Largest unit accepted, in bytes (0: the defaults above). RESP_REQUESTS:
     * the largest bulk argument (proto-max-bulk-len; a command may take twice
     * that); RESP_REPLIES: the whole reply on the wire; LINE: the line;
     * BINARY: the whole frame. Unused by RAW_LEN and RAW_EOF, whose chunks
     * are at most one read. */
    uint64_t max_unit;
    /* RAW_LEN: the payload's length. */
    uint64_t raw_len;
    /* RAW_EOF: the mark that ends the payload (not part of it). */
    uint8_t mark_len;
    char mark[IOL_EOF_MARK_MAX];
    /* BINARY: sig_len bytes of signature at offset 0 (0: none), then a
     * big-endian unsigned length of len_size bytes (1, 2, 4 or 8) at len_off.
     * The header is max(sig_len, len_off + len_size) bytes. The length counts
     * the whole frame, header included, unless len_excludes_header. Frames
     * shorter than min_frame (at least the header) are errors. */
    uint8_t sig_len;
    char sig[IOL_FRAME_SIG_MAX];
    uint8_t len_off, len_size;
    bool len_excludes_header;
    uint32_t min_frame;
} iol_framing_t;

/* Constructors for the common cases. Thread: any. */
static inline iol_framing_t iol_framing_make(int kind, unsigned flags) {
    iol_framing_t f;
    memset(&f, 0, sizeof(f));
    f.kind = (uint8_t)kind;
    f.flags = (uint8_t)flags;
    return f;
}
static inline iol_framing_t iol_framing_raw_len(uint64_t len) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RAW_LEN, 0);
    f.raw_len = len;
    return f;
}
/* n must be 1..IOL_EOF_MARK_MAX (checked by iol_framing_check). */
static inline iol_framing_t iol_framing_raw_eof(const char *mark, size_t n) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RAW_EOF, 0);
    f.mark_len = (uint8_t)(n > IOL_EOF_MARK_MAX ? 0 : n);
    if (f.mark_len) memcpy(f.mark, mark, n);
    return f;
}
/* The cluster bus: "RCmb", then the 32-bit big-endian total length. */
static inline iol_framing_t iol_framing_cluster_bus(uint64_t max_frame) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_BINARY, 0);
    memcpy(f.sig, "RCmb", 4);
    f.sig_len = 4;
    f.len_off = 4;
    f.len_size = 4;
    f.min_frame = 8;
    f.max_unit = max_frame;
    return f;
}

/* 0 if f is usable, else -1 with *why set to a static reason. Thread: any. */
int iol_framing_check(const iol_framing_t *f, const char **why);

/* ---------------------------------------------------------------- units */

enum iol_unit_kind {
    IOL_UNIT_COMMANDS = 0, /* RESP_REQUESTS */
    IOL_UNIT_REPLY = 1,    /* RESP_REPLIES */
    IOL_UNIT_LINE = 2,     /* LINE */
    IOL_UNIT_PAYLOAD = 3,  /* RAW_LEN, RAW_EOF */
    IOL_UNIT_FRAME = 4,    /* BINARY */
};

/* RESP value types are their type bytes. A RESP2 null bulk ("$-1") and null
 * array ("*-1") are both IOL_RESP_NULL, as RESP3's "_". */
enum {
    IOL_RESP_STATUS = '+',
    IOL_RESP_ERROR = '-',
    IOL_RESP_INTEGER = ':',
    IOL_RESP_BULK = '$',
    IOL_RESP_ARRAY = '*',
    IOL_RESP_NULL = '_',
    IOL_RESP_BOOL = '#',
    IOL_RESP_DOUBLE = ',',
    IOL_RESP_BIGNUM = '(',
    IOL_RESP_BLOB_ERROR = '!',
    IOL_RESP_VERBATIM = '=',
    IOL_RESP_MAP = '%',
    IOL_RESP_SET = '~',
    IOL_RESP_PUSH = '>',
    IOL_RESP_ATTRIBUTE = '|',
};

typedef struct iol_resp_value iol_resp_value_t;
struct iol_resp_value {
    uint8_t type;    /* IOL_RESP_* */
    int64_t integer; /* INTEGER; BOOL: 1 or 0 */
    double dbl;      /* DOUBLE */
    /* STATUS, ERROR, BULK, BLOB_ERROR, VERBATIM ("txt:..." as sent), BIGNUM
     * and DOUBLE (their text): NUL-terminated, len without the NUL. */
    const char *str;
    size_t len;
    /* ARRAY, SET, PUSH: n elements; MAP and ATTRIBUTE: n = 2 x pairs,
     * keys and values alternating. */
    size_t n;
    iol_resp_value_t *elems;
    /* The RESP3 attribute map ("|") sent just before this value, or NULL. */
    iol_resp_value_t *attr;
};

typedef struct iol_unit {
    uint8_t kind;      /* enum iol_unit_kind */
    bool last;         /* PAYLOAD: the payload ends with this chunk */
    bool stopped;      /* set by the link: it stopped after this unit and waits */
    uint64_t offset;   /* set by the link: stream offset of the unit's first byte */
    uint64_t wire_len; /* stream bytes the unit covers (RAW_EOF: the mark counts
                          in the last chunk; COMMANDS: blank lines and empty
                          multibulks count with the next command) */
    /* LINE (NUL-terminated), PAYLOAD, FRAME (header included); COMMANDS:
     * the raw bytes of its commands as received (wire_len bytes, the sum of
     * cmd_wire), which a replica passes on to its own replicas. */
    char *data;
    size_t len;
    /* PAYLOAD on a link with a sink (iol_link_set_framing_sink): the I/O
     * thread wrote the chunk's len bytes to the sink itself (data is not to
     * be used); sink_err is 0 or the errno of a failed write or fsync (the
     * sink then takes nothing more). */
    bool sunk;
    int sink_err;
    /* REPLY: the value, inside the unit's own allocation. */
    iol_resp_value_t *reply;
    /* COMMANDS: the commands, and the wire bytes of each. */
    resp_batch_t batch;
    uint32_t *cmd_wire;
    uint32_t cmd_wire_cap;
    /* The link that produced it (ioloop/link.c). */
    void *link;
} iol_unit_t;

/* Free a unit and everything it holds. Thread: any (the holder). */
void iol_unit_free(iol_unit_t *u);

/* ---------------------------------------------------------------- framer */

struct iol_framer_ops;

typedef struct iol_framer {
    const struct iol_framer_ops *ops;
    iol_framing_t f;
    uint64_t max; /* effective max_unit */
    /* A unit received in part (replies, lines, frame headers). */
    char *acc;
    size_t acc_len, acc_cap;
    /* RESP_REPLIES: resumable scan of the reply in acc. */
    size_t scan_pos;      /* offset of the next value header */
    size_t line_seen;     /* bytes after scan_pos known to hold no CR */
    uint32_t depth;       /* levels open in stack (stack[0]: the reply itself) */
    int64_t *stack;       /* values still expected per level; < 0 marks an attribute level */
    uint64_t nodes, strb; /* values seen and string bytes, for the one allocation */
    /* RAW_LEN */
    uint64_t raw_left;
    /* RAW_EOF: bytes that may be the start of the mark */
    char carry[IOL_EOF_MARK_MAX];
    size_t carry_len;
    uint64_t eof_seen; /* nonzero once a payload started */
    /* BINARY: the frame being filled, once its header was read */
    iol_unit_t *frame;
    size_t frame_have;
    /* RESP_REQUESTS */
    resp_parser_t parser;
    resp_limits_t rlim;
    iol_unit_t *cmds;
    uint64_t cmd_pending_wire; /* consumed towards the next command */
    uint64_t since_unit;       /* bytes consumed since the last unit */
    char error[160];
} iol_framer_t;

enum { IOL_FRAMER_MORE = 0, IOL_FRAMER_UNIT = 1, IOL_FRAMER_ERROR = -1 };

/* Start a framer for f (which must pass iol_framing_check). */
void iol_framer_init(iol_framer_t *fr, const iol_framing_t *f);
/* Release everything, including a partly received unit. */
void iol_framer_free(iol_framer_t *fr);
/* Feed len bytes (len may be 0). Sets *consumed to the bytes taken. Returns
 * IOL_FRAMER_UNIT with *out set (feed the rest again), IOL_FRAMER_MORE when
 * every byte was taken and no unit is complete, or IOL_FRAMER_ERROR with
 * iol_framer_error() saying why (the framer must not be fed again). */
int iol_framer_feed(iol_framer_t *fr, const char *buf, size_t len, size_t *consumed,
                    iol_unit_t **out);
/* No unit is partly received: a new framing may take over without losing or
 * misreading a byte. */
bool iol_framer_at_boundary(const iol_framer_t *fr);
static inline const char *iol_framer_error(const iol_framer_t *fr) {
    return fr->error;
}
/* The framer failed: the next feed, even of 0 bytes, returns
 * IOL_FRAMER_ERROR. A unit may come before the error (the commands before a
 * bad one), so callers check this after a unit even when no byte is left. */
static inline bool iol_framer_failed(const iol_framer_t *fr) {
    return fr->error[0] != '\0';
}

#endif
