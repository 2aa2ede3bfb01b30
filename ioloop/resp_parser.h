/* Incremental RESP request parser (multibulk and inline), pure and allocation-
 * contained: it never touches sockets or threads.
 *
 * The caller reads into any buffer it likes and feeds bytes with resp_parse().
 * Every complete command is appended to a resp_batch_t, which owns copies of
 * the argument bytes (each NUL-terminated), so the caller's read buffer can be
 * reused at once. A command that is only partly received stays inside the
 * parser (header lines, finished arguments, a partly received bulk), so an
 * idle connection with no partial command holds no parser memory at all.
 *
 * A batch, once filled, may be handed to another thread together with the
 * client (see ioloop/THREADING.md); the parser itself stays with the owning
 * I/O thread.
 *
 * Thread: whichever thread owns the parser/batch; no shared state. */
#ifndef RESP_PARSER_H
#define RESP_PARSER_H

#include <stddef.h>
#include <stdint.h>

/* Redis's fixed protocol limits. */
#define RESP_INLINE_MAX_SIZE (64 * 1024)  /* longest inline line / header line */
#define RESP_MAX_MULTIBULK_LEN 2147483647 /* Redis 7.0: a "*" count above INT_MAX is invalid */

typedef struct resp_arg {
    char *ptr;  /* NUL-terminated copy of the argument; owned by the batch */
    size_t len; /* length without the NUL */
} resp_arg_t;

struct resp_chunk;

/* A run of complete commands. */
typedef struct resp_batch {
    resp_arg_t *args; /* all arguments of all commands, back to back */
    uint32_t nargs, args_cap;
    uint32_t *cmd_off;         /* command i has args[cmd_off[i] .. cmd_off[i+1]) */
    uint32_t ncmds, cmds_cap;  /* cmd_off has ncmds+1 valid entries when ncmds > 0 */
    struct resp_chunk *chunks; /* arena for argument bytes */
    size_t bytes;              /* argument bytes held (for limits and accounting) */
} resp_batch_t;

void resp_batch_init(resp_batch_t *b);
/* Drop all commands; keeps a small amount of memory for reuse, frees the rest. */
void resp_batch_reset(resp_batch_t *b);
void resp_batch_free(resp_batch_t *b);
static inline uint32_t resp_batch_argc(const resp_batch_t *b, uint32_t i) {
    return b->cmd_off[i + 1] - b->cmd_off[i];
}
static inline resp_arg_t *resp_batch_argv(const resp_batch_t *b, uint32_t i) {
    return b->args + b->cmd_off[i];
}
/* Bytes of memory the batch holds (arena + arrays). */
size_t resp_batch_mem(const resp_batch_t *b);
/* Keep the first n commands of b and drop the rest (their bytes stay in the
 * arena until the next reset). Thread: the batch's owner. */
void resp_batch_truncate(resp_batch_t *b, uint32_t n);
/* Index of the first command from `from` on whose name is "POST" or "Host:"
 * (any case, compared as C strings like Redis's strcasecmp), or UINT32_MAX.
 * Those names are HTTP, not RESP: Redis closes the connection when it sees
 * one (its guard against cross protocol scripting). Thread: the batch's owner. */
uint32_t resp_batch_find_http(const resp_batch_t *b, uint32_t from);

/* A zero field means "no limit". resp_parse() also accepts lim == NULL: Redis's
 * defaults (512 MB bulks, 1 GB query buffer) and unbounded batches. */
typedef struct resp_limits {
    size_t max_bulk_len;     /* proto-max-bulk-len (default 512 MB) */
    size_t max_query_len;    /* client-query-buffer-limit (default 1 GB): partial state cap */
    uint32_t batch_max_cmds; /* stop filling a batch after this many commands */
    size_t batch_max_bytes;  /* ... or after this many argument bytes */
} resp_limits_t;

enum resp_status {
    RESP_OK = 0,               /* consumed what it could; see *consumed */
    RESP_ERR_PROTOCOL = -1,    /* protocol error: resp_parser_error() has Redis's text */
    RESP_ERR_QUERY_LIMIT = -2, /* partial state would exceed max_query_len */
};

typedef struct resp_parser {
    /* Internal state; treat as opaque. */
    int state;
    int kind;         /* 0 none, 1 multibulk, 2 inline */
    int64_t mb_left;  /* arguments still expected in the current multibulk */
    int64_t bulk_len; /* length of the bulk being read, -1 if none */
    size_t bulk_have; /* bytes of it received */
    char *bulk_buf;   /* destination for the bulk being read */
    char *line;       /* partial header / inline line */
    size_t line_len, line_cap;
    resp_arg_t *pargs; /* finished arguments of the partial command */
    uint32_t npargs, pargs_cap;
    size_t pargs_bytes;   /* their total length */
    size_t partial_bytes; /* memory held for the partial command */
    const char *error; /* static error text, set on RESP_ERR_PROTOCOL (a log line on QUERY_LIMIT) */
    char errbuf[64];
    struct resp_chunk *chunks; /* storage of the partial command's arguments */
    int err;                   /* status returned again if fed after an error */
    /* Public, set by the owner: while nonzero (client must still AUTH) Redis's
     * tighter limits apply: more than 10 arguments or a bulk over 16384 bytes
     * is a protocol error ("unauthenticated multibulk/bulk length"). */
    int auth_required;
} resp_parser_t;

void resp_parser_init(resp_parser_t *p);
/* Releases any partial command and returns the parser to its initial state
 * (auth_required is kept), so it may be fed again. */
void resp_parser_free(resp_parser_t *p);
/* No command is partly received (the next byte starts a new command). */
int resp_parser_idle(const resp_parser_t *p);
/* Bytes held for a partially received command (query buffer accounting). */
size_t resp_parser_pending(const resp_parser_t *p);
/* What the partly received command holds (CLIENT LIST): *args the bytes of
 * its finished arguments (Redis's argv-mem), *pending the bytes received that
 * are not an argument yet (qbuf: a partial line or bulk), *room the bytes
 * already allocated for the rest of them (qbuf-free). All 0 between commands.
 * Thread: the parser's owner. */
void resp_parser_usage(const resp_parser_t *p, size_t *args, size_t *pending, size_t *room);
/* Redis's error text without the leading "-" and trailing CRLF, e.g.
 * "ERR Protocol error: invalid multibulk length". Valid after RESP_ERR_PROTOCOL. */
const char *resp_parser_error(const resp_parser_t *p);

/* Parse up to len bytes of buf, appending complete commands to out. Stops early
 * (RESP_OK with *consumed < len) when out reaches batch_max_cmds or
 * batch_max_bytes; the caller feeds the rest later. Empty inline lines and
 * "*0"/"*-1" multibulks produce no command, as in Redis. After an error the
 * parser must not be fed again (the connection is closed, as Redis does after
 * replying with the error). */
int resp_parse(resp_parser_t *p, const resp_limits_t *lim, const char *buf, size_t len,
               size_t *consumed, resp_batch_t *out);

#endif
