/* Incremental RESP2/RESP3 reply parser for keyloom-bench.
 *
 * The bench only needs to know where each reply ends, whether it is an error
 * and (for errors) its text, so the parser works in place over the caller's
 * buffer: it never allocates and never copies payloads except the first
 * RR_TEXT_MAX-1 bytes of the first scalar of each reply (the error text).
 * Replies may be split anywhere; all state lives in rr_parser_t.
 *
 * Types: + - : $ * (RESP2) and _ , # ! = ( % ~ > | (RESP3), null bulk and
 * null array ($-1, *-1), streamed strings ($? then ;<len> chunks, ;0 ends)
 * and streamed aggregates (*? %? ~? >? closed by '.'). An attribute (|) is
 * not a reply: it is folded into the value that follows it, at any depth. A
 * top-level push (>) is reported with is_push set; it answers no request.
 *
 * Thread: the owner of the parser; no shared state. */
#ifndef BENCH_RESP_REPLY_H
#define BENCH_RESP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define RR_TEXT_MAX 128 /* captured text, NUL included */
#define RR_MAX_DEPTH 64 /* deepest nesting accepted */

/* Summary of one complete top-level reply. */
typedef struct rr_reply {
    char type;              /* type byte of the reply (never '|') */
    uint8_t is_error;       /* '-' or '!' at top level */
    uint8_t is_push;        /* '>' at top level */
    uint8_t is_null;        /* '_', $-1 or *-1 at top level */
    uint8_t text_trunc;     /* the captured text was cut at RR_TEXT_MAX-1 bytes */
    uint8_t has_attr;       /* an attribute preceded the reply */
    int64_t integer;        /* ':' value, '#' 1/0, bulk length, element count
                             * (pairs for maps); -1 for the null forms */
    uint64_t nodes;         /* values in the reply tree, attributes included */
    uint64_t bytes;         /* raw bytes of the reply, attributes included */
    uint32_t text_len;      /* captured text length */
    char text[RR_TEXT_MAX]; /* first scalar payload outside attributes, NUL-terminated */
} rr_reply_t;

typedef struct rr_frame {
    int64_t left;  /* elements still expected; -1 for a streamed aggregate */
    int64_t count; /* elements seen (streamed aggregates) */
    uint8_t attr;  /* this aggregate is an attribute */
} rr_frame_t;

typedef struct rr_parser {
    /* Internal state; treat as opaque. */
    uint8_t state;
    char cur;          /* type byte of the value being read */
    uint8_t in_reply;  /* some bytes of the current reply were consumed */
    uint8_t in_stream; /* inside a streamed string */
    uint8_t captured;  /* reply.text was filled */
    uint8_t line_trunc;
    uint32_t depth, attr_depth;
    uint32_t line_len;
    int64_t bulk_left;
    int64_t stream_len;
    char line[RR_TEXT_MAX];
    const char *errmsg;
    rr_frame_t stack[RR_MAX_DEPTH];
    rr_reply_t reply; /* valid after rr_parse returns RR_REPLY */
} rr_parser_t;

enum {
    RR_MORE = 0,  /* all input consumed, reply incomplete (or none started) */
    RR_REPLY = 1, /* a reply is complete: see p->reply */
    RR_ERR = -1,  /* protocol error: rr_error(p); the parser must be reset */
};

void rr_init(rr_parser_t *p);
/* Parse from buf[0..len). Sets *used to the bytes consumed. Returns RR_REPLY
 * as soon as one reply completes (call again with the rest), RR_MORE when
 * everything was consumed without completing one, or RR_ERR. */
int rr_parse(rr_parser_t *p, const char *buf, size_t len, size_t *used);
/* Text of the last protocol error. */
const char *rr_error(const rr_parser_t *p);
/* Whether a reply has been partly consumed (bytes are pending). */
static inline int rr_busy(const rr_parser_t *p) {
    return p->in_reply;
}

#endif
