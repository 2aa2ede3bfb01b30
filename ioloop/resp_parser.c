/* Incremental RESP request parser; the contract is in resp_parser.h.
 *
 * Two paths share one set of rules.
 *
 * The fast path takes the common case: the parser holds no partial command and
 * the whole next command lies in the caller's buffer. It walks the command once,
 * noting where each argument lies in the input, then copies the arguments into
 * the batch's arena, so a pipeline of small commands costs no allocation per
 * argument. It gives up without side effects on anything unusual: an
 * incomplete command, any error, a negative count, an over-long number.
 *
 * The slow path is a resumable state machine. It keeps the partial command in
 * the parser (header line bytes, finished arguments, the bulk being read) and
 * it alone decides every multibulk error: when the fast path gives up, the
 * slow path starts over at the same command. That way the error texts, and
 * the point where they are raised, cannot differ between the two paths, and a
 * request parses the same however it is split into reads.
 *
 * Where Redis's behaviour depends on how the bytes happened to arrive (it
 * checks the 64 KB line limits only when a read ends without a line
 * terminator), we apply the limit to the byte stream itself: a terminator must
 * appear within the first RESP_INLINE_MAX_SIZE + 1 bytes of a line. This is
 * what Redis does when the bytes trickle in, and it makes the outcome
 * independent of read sizes.
 *
 * Memory. Argument bytes live in chunks (struct resp_chunk). A batch fills
 * fixed-size arena chunks; an argument over RESP_BIG_ARG gets a chunk of its
 * own, allocated once at its declared size. A partial command keeps its
 * arguments in the parser's own chunks, and when it completes those chunks are
 * moved (not copied) into the batch. */
#include "resp_parser.h"

#include "kl_alloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define RESP_CHUNK_SIZE (16 * 1024) /* batch arena chunk; one is kept across resets */
#define RESP_BIG_ARG (4 * 1024)     /* arguments above this get a chunk of their own */
#define RESP_PCHUNK_MIN 1024        /* first chunk for a partial command's small args */
#define RESP_KEEP_SLOTS 256         /* reset keeps arg/command arrays up to this size */
/* A header line's terminator ('\r') must lie within its first RESP_LINE_WINDOW
 * bytes; an inline line's '\n' one byte later, so that 64 KB of content
 * followed by "\r\n" is accepted, as redis-server does when the content and
 * the line end arrive in separate reads. */
#define RESP_LINE_WINDOW (RESP_INLINE_MAX_SIZE + 1)
#define RESP_INLINE_WINDOW (RESP_INLINE_MAX_SIZE + 2)
/* Fewest bytes one bulk can take on the wire: "$0\r\n" plus the two trailing bytes. */
#define RESP_MIN_BULK_WIRE 6
/* Redis's limits for clients that have not authenticated yet. */
#define RESP_UNAUTH_MAX_MULTIBULK 10
#define RESP_UNAUTH_MAX_BULK 16384
/* A batch never grows past this many arguments, so that one more command
 * (at most a full multibulk or one inline line's worth) still fits in uint32_t. */
#define RESP_NARGS_GUARD (UINT32_MAX - RESP_MAX_MULTIBULK_LEN - RESP_INLINE_MAX_SIZE)

#define RESP_ERR_PFX "ERR Protocol error: "
static const char resp__e_mbulk[] = RESP_ERR_PFX "invalid multibulk length";
static const char resp__e_bulk[] = RESP_ERR_PFX "invalid bulk length";
static const char resp__e_mbulk_big[] = RESP_ERR_PFX "too big mbulk count string";
static const char resp__e_bulk_big[] = RESP_ERR_PFX "too big bulk count string";
static const char resp__e_inline_big[] = RESP_ERR_PFX "too big inline request";
static const char resp__e_quotes[] = RESP_ERR_PFX "unbalanced quotes in request";
static const char resp__e_unauth_mbulk[] = RESP_ERR_PFX "unauthenticated multibulk length";
static const char resp__e_unauth_bulk[] = RESP_ERR_PFX "unauthenticated bulk length";
/* Redis sends no reply here (it logs and closes the client); the text is for the log. */
static const char resp__e_query_limit[] = "client reached max query buffer length";

struct resp_chunk {
    struct resp_chunk *next;
    size_t cap;  /* bytes in data[] */
    size_t used; /* bytes handed out */
    char data[];
};

enum resp__state {
    RESP__IDLE = 0,  /* between commands */
    RESP__MB_HDR,    /* reading the "*<n>" line */
    RESP__BULK_HDR,  /* reading a "$<len>" line */
    RESP__BULK_DATA, /* reading a bulk and the two bytes after it */
    RESP__INLINE,    /* reading an inline line */
    RESP__ERROR,     /* failed; must not be fed again */
};

enum { RESP__KIND_NONE = 0, RESP__KIND_MULTIBULK = 1, RESP__KIND_INLINE = 2 };

#define RESP__LINE_TOO_LONG (-100) /* internal: mapped to the state's error text */

/* Effective limits for one resp_parse() call. */
typedef struct resp__lim {
    uint64_t max_bulk;    /* invalid bulk length above this */
    uint64_t max_query;   /* partial state cap */
    uint32_t max_cmds;    /* batch is full at this many commands */
    size_t max_bytes;     /* ... or at this many argument bytes */
    uint64_t fast_max_mb; /* the fast path leaves larger counts to the slow path */
    uint64_t fast_max_bulk;
} resp__lim_t;

/* Bytes that end an unquoted inline token, and bytes skipped between tokens
 * (C's isspace). They differ on '\v' and '\f', as in Redis's sdssplitargs. */
static const unsigned char resp__blank[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};
static const unsigned char resp__tok_stop[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1, ['\''] = 1,
};

/* ---------------------------------------------------------------- chunks */

static struct resp_chunk *resp__chunk_new(size_t cap) {
    struct resp_chunk *c = kl_malloc(sizeof(*c) + cap);
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

/* Links c second in the list so the head stays the chunk being filled. */
static void resp__chunk_link_second(struct resp_chunk **head, struct resp_chunk *c) {
    if (*head) {
        c->next = (*head)->next;
        (*head)->next = c;
    } else {
        c->next = NULL;
        *head = c;
    }
}

static void resp__chunks_free(struct resp_chunk *c) {
    while (c) {
        struct resp_chunk *next = c->next;
        kl_free(c);
        c = next;
    }
}

/* ----------------------------------------------------------------- batch */

void resp_batch_init(resp_batch_t *b) {
    memset(b, 0, sizeof(*b));
}

void resp_batch_reset(resp_batch_t *b) {
    struct resp_chunk *keep = NULL, *c = b->chunks;

    /* Keep one standard arena chunk: a busy client reuses it for every batch
     * without touching the allocator; big and odd-sized chunks go back. */
    while (c) {
        struct resp_chunk *next = c->next;
        if (!keep && c->cap == RESP_CHUNK_SIZE) {
            keep = c;
            keep->used = 0;
            keep->next = NULL;
        } else {
            kl_free(c);
        }
        c = next;
    }
    b->chunks = keep;
    if (b->args_cap > RESP_KEEP_SLOTS) {
        kl_free(b->args);
        b->args = NULL;
        b->args_cap = 0;
    }
    if (b->cmds_cap > RESP_KEEP_SLOTS) {
        kl_free(b->cmd_off);
        b->cmd_off = NULL;
        b->cmds_cap = 0;
    }
    b->nargs = 0;
    b->ncmds = 0;
    b->bytes = 0;
}

void resp_batch_free(resp_batch_t *b) {
    resp__chunks_free(b->chunks);
    kl_free(b->args);
    kl_free(b->cmd_off);
    resp_batch_init(b);
}

size_t resp_batch_mem(const resp_batch_t *b) {
    size_t mem = (size_t)b->args_cap * sizeof(*b->args) + (size_t)b->cmds_cap * sizeof(*b->cmd_off);
    for (const struct resp_chunk *c = b->chunks; c; c = c->next)
        mem += sizeof(*c) + c->cap;
    return mem;
}

void resp_batch_truncate(resp_batch_t *b, uint32_t n) {
    if (n >= b->ncmds) return;
    uint32_t keep_args = n ? b->cmd_off[n] : 0;
    for (uint32_t i = keep_args; i < b->nargs; i++)
        b->bytes -= b->args[i].len;
    b->nargs = keep_args;
    b->ncmds = n;
}

uint32_t resp_batch_find_http(const resp_batch_t *b, uint32_t from) {
    for (uint32_t i = from; i < b->ncmds; i++) {
        const resp_arg_t *name = &b->args[b->cmd_off[i]];
        /* The first byte rules out almost every real command cheaply. */
        unsigned char c0 = (unsigned char)name->ptr[0] | 0x20;
        if (c0 != 'p' && c0 != 'h') continue;
        if (strcasecmp(name->ptr, "post") == 0 || strcasecmp(name->ptr, "host:") == 0) return i;
    }
    return UINT32_MAX;
}

static void resp__args_reserve(resp_batch_t *b, uint64_t need) {
    uint64_t cap;

    if (need <= b->args_cap) return;
    cap = b->args_cap ? (uint64_t)b->args_cap * 2 : 16;
    while (cap < need)
        cap *= 2;
    if (cap > UINT32_MAX) cap = UINT32_MAX; /* need itself fits: see RESP_NARGS_GUARD */
    b->args = kl_realloc(b->args, (size_t)cap * sizeof(*b->args));
    b->args_cap = (uint32_t)cap;
}

/* Closes a command made of the arguments appended since the previous one. */
static void resp__cmd_push(resp_batch_t *b) {
    if ((uint64_t)b->ncmds + 2 > b->cmds_cap) {
        uint64_t cap = b->cmds_cap ? (uint64_t)b->cmds_cap * 2 : 16;
        if (cap > UINT32_MAX) cap = UINT32_MAX;
        b->cmd_off = kl_realloc(b->cmd_off, (size_t)cap * sizeof(*b->cmd_off));
        b->cmds_cap = (uint32_t)cap;
    }
    if (b->ncmds == 0) b->cmd_off[0] = 0;
    b->cmd_off[b->ncmds + 1] = b->nargs;
    b->ncmds++;
}

/* n bytes of arena space, committed. */
static char *resp__batch_alloc(resp_batch_t *b, size_t n) {
    struct resp_chunk *c = b->chunks;

    if (c && c->cap - c->used >= n) {
        char *r = c->data + c->used;
        c->used += n;
        return r;
    }
    if (n > RESP_BIG_ARG) {
        c = resp__chunk_new(n);
        resp__chunk_link_second(&b->chunks, c);
    } else {
        c = resp__chunk_new(RESP_CHUNK_SIZE);
        c->next = b->chunks;
        b->chunks = c;
    }
    c->used = n;
    return c->data;
}

static inline int resp__batch_full(const resp_batch_t *b, const resp__lim_t *L) {
    return b->ncmds >= L->max_cmds || b->bytes >= L->max_bytes || b->nargs > RESP_NARGS_GUARD;
}

/* ---------------------------------------------------------------- numbers */

/* Redis's string2ll(): optional '-', then "0" or a digit 1-9 followed by
 * digits; no '+', no blanks, no leading zeros, at most 20 characters, must fit
 * in int64_t. Returns 1 and sets *out, or 0. */
static int resp__parse_ll(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    uint64_t v;

    if (n == 0 || n > 20) return 0;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 1;
    }
    if (s[0] == '-') {
        neg = 1;
        if (++i == n) return 0;
    }
    if (s[i] < '1' || s[i] > '9') return 0;
    v = (uint64_t)(s[i++] - '0');
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return 0;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v;
    }
    return 1;
}

/* Fast-path number: "0" or [1-9][0-9]{0,17} directly followed by '\r' (so the
 * line is exactly a valid non-negative number). Returns the '\r' or NULL when
 * anything else is there, including end of input; the slow path then decides. */
static inline const char *resp__fast_uint(const char *s, const char *end, uint64_t *out) {
    const char *q = s;
    unsigned d;
    uint64_t v;

    if (q >= end) return NULL;
    d = (unsigned)(unsigned char)*q - '0';
    if (d > 9) return NULL;
    v = d;
    q++;
    if (d != 0) {
        while (q < end && (d = (unsigned)(unsigned char)*q - '0') <= 9) {
            if (q - s >= 18) return NULL;
            v = v * 10 + d;
            q++;
        }
    }
    if (q >= end || *q != '\r') return NULL;
    *out = v;
    return q;
}

/* ----------------------------------------------------------------- parser */

void resp_parser_init(resp_parser_t *p) {
    memset(p, 0, sizeof(*p));
    p->state = RESP__IDLE;
    p->bulk_len = -1;
}

/* Drops the partial command (and any error); keeps auth_required. */
static void resp__parser_clear(resp_parser_t *p) {
    int auth_required = p->auth_required;

    resp__chunks_free(p->chunks);
    kl_free(p->line);
    kl_free(p->pargs);
    resp_parser_init(p);
    p->auth_required = auth_required;
}

void resp_parser_free(resp_parser_t *p) {
    resp__parser_clear(p);
}

int resp_parser_idle(const resp_parser_t *p) {
    return p->state == RESP__IDLE;
}

size_t resp_parser_pending(const resp_parser_t *p) {
    return p->partial_bytes;
}

void resp_parser_usage(const resp_parser_t *p, size_t *args, size_t *pending, size_t *room) {
    size_t in_bulk = 0, bulk_room = 0;
    if (p->bulk_len >= 0) {
        size_t blen = (size_t)p->bulk_len;
        in_bulk = p->bulk_have;
        bulk_room = p->bulk_have < blen ? blen - p->bulk_have : 0;
    }
    *args = p->pargs_bytes;
    *pending = p->line_len + in_bulk;
    *room = (p->line_cap - p->line_len) + bulk_room;
}

const char *resp_parser_error(const resp_parser_t *p) {
    return p->error ? p->error : "";
}

static int resp__proto(resp_parser_t *p, const char *msg) {
    p->error = msg;
    return RESP_ERR_PROTOCOL;
}

static int resp__expected_dollar(resp_parser_t *p, char c) {
    /* Like Redis's addReplyErrorFormat, keep the reply on one line; a NUL
     * could not travel in a C string, so it is shown as a blank too. */
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
    snprintf(p->errbuf, sizeof(p->errbuf), RESP_ERR_PFX "expected '$', got '%c'", c);
    p->error = p->errbuf;
    return RESP_ERR_PROTOCOL;
}

/* Accounts n more bytes held for the partial command against max_query_len. */
static int resp__account(resp_parser_t *p, const resp__lim_t *L, uint64_t n) {
    if (n > L->max_query || p->partial_bytes > L->max_query - n) {
        p->error = resp__e_query_limit;
        return RESP_ERR_QUERY_LIMIT;
    }
    p->partial_bytes += (size_t)n;
    return 0;
}

static int resp__line_append(resp_parser_t *p, const resp__lim_t *L, const char *s, size_t n) {
    int err;

    if (n == 0) return 0;
    err = resp__account(p, L, n);
    if (err) return err;
    if (p->line_len + n > p->line_cap) {
        size_t cap = p->line_cap ? p->line_cap * 2 : 128;
        while (cap < p->line_len + n)
            cap *= 2;
        p->line = kl_realloc(p->line, cap);
        p->line_cap = cap;
    }
    memcpy(p->line + p->line_len, s, n);
    p->line_len += n;
    return 0;
}

/* The line just returned by resp__get_line() has been used. The buffer itself
 * is kept until the command ends. */
static void resp__line_done(resp_parser_t *p) {
    p->partial_bytes -= p->line_len;
    p->line_len = 0;
}

/* Collects one line from buf[*pos..len) plus what an earlier call kept.
 * term '\r': a header line; like Redis, the byte after '\r' is skipped unseen
 * (it should be '\n'). term '\n': an inline line. On 1, *line and *n give the line
 * without its terminator, either in place in buf or in p->line. Returns 1,
 * 0 (all input kept, need more), RESP__LINE_TOO_LONG or RESP_ERR_QUERY_LIMIT. */
static int resp__get_line(resp_parser_t *p, const resp__lim_t *L, const char *buf, size_t len,
                          size_t *pos, char term, const char **line, size_t *n) {
    const char *s = buf + *pos, *t;
    size_t avail = len - *pos, look, k;
    int err;

    if (term == '\r' && p->line_len && p->line[p->line_len - 1] == '\r') {
        /* The '\r' came with an earlier read; only the byte after it was missing. */
        *pos += 1;
        *line = p->line;
        *n = p->line_len - 1;
        return 1;
    }
    size_t window = term == '\n' ? RESP_INLINE_WINDOW : RESP_LINE_WINDOW;
    look = window - p->line_len;
    if (look > avail) look = avail;
    t = memchr(s, term, look);
    if (!t) {
        if (p->line_len + avail >= window) return RESP__LINE_TOO_LONG;
        if (term == '\n' && p->line_len + avail >= RESP_LINE_WINDOW) {
            /* 64 KB of content may be followed only by the line's "\r\n". */
            size_t at = RESP_INLINE_MAX_SIZE;
            char ch = at < p->line_len ? p->line[at] : s[at - p->line_len];
            if (ch != '\r') return RESP__LINE_TOO_LONG;
        }
        err = resp__line_append(p, L, s, avail);
        if (err) return err;
        *pos = len;
        return 0;
    }
    k = (size_t)(t - s);
    if (term == '\r' && k + 1 >= avail) {
        err = resp__line_append(p, L, s, k + 1);
        if (err) return err;
        *pos = len;
        return 0;
    }
    if (p->line_len == 0) {
        *line = s;
        *n = k;
    } else {
        err = resp__line_append(p, L, s, k);
        if (err) return err;
        *line = p->line;
        *n = p->line_len;
    }
    *pos += k + (term == '\r' ? 2 : 1);
    return 1;
}

/* Storage for a bulk of n bytes (NUL included) of the partial command. */
static char *resp__bulk_alloc(resp_parser_t *p, size_t n) {
    struct resp_chunk *c = p->chunks;
    size_t cap;

    if (n > RESP_BIG_ARG) {
        /* Its final buffer, allocated once; it moves to the batch as is. */
        c = resp__chunk_new(n);
        c->used = n;
        resp__chunk_link_second(&p->chunks, c);
        return c->data;
    }
    if (c && c->cap - c->used >= n) {
        char *r = c->data + c->used;
        c->used += n;
        return r;
    }
    cap = c ? c->cap * 2 : RESP_PCHUNK_MIN;
    if (cap > RESP_CHUNK_SIZE) cap = RESP_CHUNK_SIZE;
    if (cap < n) cap = n;
    c = resp__chunk_new(cap);
    c->used = n;
    c->next = p->chunks;
    p->chunks = c;
    return c->data;
}

static void resp__parg_push(resp_parser_t *p, char *ptr, size_t len) {
    if (p->npargs == p->pargs_cap) {
        /* Grow as arguments arrive, never beyond what the header announced:
         * "*1048576" alone must not cost 16 MB. */
        uint64_t cap = p->pargs_cap ? (uint64_t)p->pargs_cap * 2 : 8;
        uint64_t most = (uint64_t)p->npargs + (uint64_t)p->mb_left;
        if (cap > most) cap = most;
        p->pargs = kl_realloc(p->pargs, (size_t)cap * sizeof(*p->pargs));
        p->pargs_cap = (uint32_t)cap;
    }
    p->pargs[p->npargs].ptr = ptr;
    p->pargs[p->npargs].len = len;
    p->npargs++;
    p->pargs_bytes += len;
}

/* The partial multibulk is complete: move it into the batch. */
static void resp__commit_partial(resp_parser_t *p, resp_batch_t *out) {
    size_t bytes = 0;

    resp__args_reserve(out, (uint64_t)out->nargs + p->npargs);
    memcpy(out->args + out->nargs, p->pargs, (size_t)p->npargs * sizeof(*p->pargs));
    for (uint32_t i = 0; i < p->npargs; i++)
        bytes += p->pargs[i].len;
    out->nargs += p->npargs;
    resp__cmd_push(out);
    out->bytes += bytes;
    if (p->chunks) {
        /* Splice the parser's chunks in behind the batch's arena head. */
        struct resp_chunk *tail = p->chunks;
        while (tail->next)
            tail = tail->next;
        if (out->chunks) {
            tail->next = out->chunks->next;
            out->chunks->next = p->chunks;
        } else {
            out->chunks = p->chunks;
        }
        p->chunks = NULL;
    }
    resp__parser_clear(p);
}

/* --------------------------------------------------------------- inline */

static inline int resp__hex(unsigned c) {
    if (c - '0' <= 9) return (int)(c - '0');
    c |= 0x20;
    if (c - 'a' <= 5) return (int)(c - 'a' + 10);
    return -1;
}

/* Splits s[0..n) (no NUL inside) into arguments like Redis's sdssplitargs(),
 * writing their bytes, each NUL-terminated, at dst (which must have n + 1
 * bytes: output never exceeds input plus one) and appending them to out's
 * argument array past nargs without committing them. Returns argc, or -1 for
 * unbalanced quotes. */
static int64_t resp__split(const char *s, size_t n, char *dst, resp_batch_t *out, size_t *written,
                           size_t *bytes) {
#define RESP__AT(j) ((j) < n ? (unsigned)(unsigned char)s[j] : 0u)
    size_t i = 0, total = 0;
    char *d = dst;
    uint32_t argc = 0;

    for (;;) {
        char *tok;
        int inq = 0, insq = 0, done = 0;

        while (i < n && resp__blank[(unsigned char)s[i]])
            i++;
        if (i >= n) break;
        tok = d;
        while (!done) {
            unsigned c;
            if (!inq && !insq) {
                /* Plain bytes up to the next blank or quote, in one go. */
                size_t j = i;
                while (j < n && !resp__tok_stop[(unsigned char)s[j]])
                    j++;
                memcpy(d, s + i, j - i);
                d += j - i;
                i = j;
            }
            c = RESP__AT(i);
            if (inq) {
                if (c == '\\' && RESP__AT(i + 1) == 'x' && resp__hex(RESP__AT(i + 2)) >= 0 &&
                    resp__hex(RESP__AT(i + 3)) >= 0) {
                    *d++ = (char)(resp__hex(RESP__AT(i + 2)) * 16 + resp__hex(RESP__AT(i + 3)));
                    i += 3;
                } else if (c == '\\' && RESP__AT(i + 1)) {
                    i++;
                    switch (s[i]) {
                    case 'n':
                        *d++ = '\n';
                        break;
                    case 'r':
                        *d++ = '\r';
                        break;
                    case 't':
                        *d++ = '\t';
                        break;
                    case 'b':
                        *d++ = '\b';
                        break;
                    case 'a':
                        *d++ = '\a';
                        break;
                    default:
                        *d++ = s[i];
                        break;
                    }
                } else if (c == '"') {
                    /* A closing quote must be followed by a blank or the end. */
                    if (RESP__AT(i + 1) && !resp__blank[RESP__AT(i + 1)]) return -1;
                    done = 1;
                } else if (c == 0) {
                    return -1;
                } else {
                    *d++ = (char)c;
                }
            } else if (insq) {
                if (c == '\\' && RESP__AT(i + 1) == '\'') {
                    i++;
                    *d++ = '\'';
                } else if (c == '\'') {
                    if (RESP__AT(i + 1) && !resp__blank[RESP__AT(i + 1)]) return -1;
                    done = 1;
                } else if (c == 0) {
                    return -1;
                } else {
                    *d++ = (char)c;
                }
            } else {
                switch (c) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case 0:
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    break;
                case '\'':
                    insq = 1;
                    break;
                default:
                    *d++ = (char)c;
                    break;
                }
            }
            if (RESP__AT(i)) i++;
        }
        *d++ = '\0';
        resp__args_reserve(out, (uint64_t)out->nargs + argc + 1);
        out->args[out->nargs + argc].ptr = tok;
        out->args[out->nargs + argc].len = (size_t)(d - tok - 1);
        total += (size_t)(d - tok - 1);
        argc++;
    }
    *written = (size_t)(d - dst);
    *bytes = total;
    return argc;
#undef RESP__AT
}

/* One inline line (terminator and one preceding '\r' already removed) becomes
 * a command in out, or nothing when it has no arguments. */
static int resp__inline_cmd(resp_parser_t *p, const char *s, size_t n, resp_batch_t *out) {
    const char *z = memchr(s, '\0', n);
    struct resp_chunk *own = NULL, *h;
    size_t i = 0, need, written, bytes;
    char *dst;
    int64_t argc;

    /* sdssplitargs() works on a C string: a NUL ends the line. */
    if (z) n = (size_t)(z - s);
    while (i < n && resp__blank[(unsigned char)s[i]])
        i++;
    if (i == n) return 0;
    s += i;
    n -= i;
    need = n + 1;
    if (need > RESP_BIG_ARG) {
        own = resp__chunk_new(need);
        dst = own->data;
    } else {
        h = out->chunks;
        if (!h || h->cap - h->used < need) {
            h = resp__chunk_new(RESP_CHUNK_SIZE);
            h->next = out->chunks;
            out->chunks = h;
        }
        dst = h->data + h->used;
    }
    argc = resp__split(s, n, dst, out, &written, &bytes);
    if (argc < 0) {
        kl_free(own);
        return resp__proto(p, resp__e_quotes);
    }
    if (own) {
        own->used = written;
        resp__chunk_link_second(&out->chunks, own);
    } else {
        out->chunks->used += written;
    }
    out->nargs += (uint32_t)argc;
    resp__cmd_push(out);
    out->bytes += bytes;
    return 0;
}

/* ------------------------------------------------------------ fast paths */

/* buf[0] == '*'. Returns the bytes of one complete command (or empty
 * multibulk) appended to out, or 0 to leave it to the slow path. */
static size_t resp__fast_multibulk(const resp__lim_t *L, const char *buf, size_t len,
                                   resp_batch_t *out) {
    const char *end = buf + len, *q;
    uint64_t n, blen;
    resp_arg_t *a;
    size_t total = 0;

    q = resp__fast_uint(buf + 1, end, &n);
    if (!q || end - q < 2) return 0;
    q += 2;
    if (n == 0) return (size_t)(q - buf);
    if (n > L->fast_max_mb || n * RESP_MIN_BULK_WIRE > (uint64_t)(end - q)) return 0;
    resp__args_reserve(out, (uint64_t)out->nargs + n);
    a = out->args + out->nargs;
    for (uint64_t i = 0; i < n; i++) {
        const char *cr;
        if (q >= end || *q != '$') return 0;
        cr = resp__fast_uint(q + 1, end, &blen);
        if (!cr || end - cr < 2 || blen > L->fast_max_bulk) return 0;
        q = cr + 2;
        if ((uint64_t)(end - q) < blen + 2) return 0;
        a[i].ptr = (char *)(uintptr_t)q; /* input position until copied below */
        a[i].len = (size_t)blen;
        total += (size_t)blen;
        q += blen + 2;
    }
    for (uint64_t i = 0; i < n; i++) {
        char *d = resp__batch_alloc(out, a[i].len + 1);
        memcpy(d, a[i].ptr, a[i].len);
        d[a[i].len] = '\0';
        a[i].ptr = d;
    }
    out->nargs += (uint32_t)n;
    resp__cmd_push(out);
    out->bytes += total;
    return (size_t)(q - buf);
}

/* buf[0] != '*'. On 0 sets *taken to the bytes of one complete inline line
 * handled (0: leave it to the slow path); or returns a protocol error. */
static int resp__fast_inline(resp_parser_t *p, const char *buf, size_t len, resp_batch_t *out,
                             size_t *taken) {
    const char *nl = memchr(buf, '\n', len < RESP_INLINE_WINDOW ? len : RESP_INLINE_WINDOW);
    size_t n;
    int err;

    *taken = 0;
    if (!nl) return 0;
    n = (size_t)(nl - buf);
    err = resp__inline_cmd(p, buf, n && buf[n - 1] == '\r' ? n - 1 : n, out);
    if (err) return err;
    *taken = n + 1;
    return 0;
}

/* ------------------------------------------------------------- slow path */

/* Advances the partial command with buf[*pos..len). Returns 1 when a command
 * ended (appended to out, or empty), 0 when the input ran out, <0 on error. */
static int resp__slow(resp_parser_t *p, const resp__lim_t *L, const char *buf, size_t len,
                      size_t *pos, resp_batch_t *out) {
    const char *line;
    size_t n;
    int64_t v;
    int r;

    while (*pos < len) {
        switch (p->state) {
        case RESP__IDLE:
            if (buf[*pos] == '*') {
                p->state = RESP__MB_HDR;
                p->kind = RESP__KIND_MULTIBULK;
            } else {
                p->state = RESP__INLINE;
                p->kind = RESP__KIND_INLINE;
            }
            break;

        case RESP__MB_HDR:
            r = resp__get_line(p, L, buf, len, pos, '\r', &line, &n);
            if (r == 0) return 0;
            if (r < 0) return r == RESP__LINE_TOO_LONG ? resp__proto(p, resp__e_mbulk_big) : r;
            /* line[0] is the '*'. */
            if (!resp__parse_ll(line + 1, n - 1, &v) || v > RESP_MAX_MULTIBULK_LEN)
                return resp__proto(p, resp__e_mbulk);
            if (p->auth_required && v > RESP_UNAUTH_MAX_MULTIBULK)
                return resp__proto(p, resp__e_unauth_mbulk);
            resp__line_done(p);
            if (v <= 0) {
                resp__parser_clear(p);
                return 1;
            }
            p->mb_left = v;
            p->state = RESP__BULK_HDR;
            break;

        case RESP__BULK_HDR:
            r = resp__get_line(p, L, buf, len, pos, '\r', &line, &n);
            if (r == 0) return 0;
            if (r < 0) return r == RESP__LINE_TOO_LONG ? resp__proto(p, resp__e_bulk_big) : r;
            /* An empty line means the '\r' itself stood where '$' belongs. */
            if (n == 0 || line[0] != '$') return resp__expected_dollar(p, n ? line[0] : '\r');
            if (!resp__parse_ll(line + 1, n - 1, &v) || v < 0 || (uint64_t)v > L->max_bulk)
                return resp__proto(p, resp__e_bulk);
            if (p->auth_required && v > RESP_UNAUTH_MAX_BULK)
                return resp__proto(p, resp__e_unauth_bulk);
            resp__line_done(p);
            /* Checked before allocating: the declared size counts at once. */
            r = resp__account(p, L, (uint64_t)v + 1 + sizeof(resp_arg_t));
            if (r) return r;
            p->bulk_buf = resp__bulk_alloc(p, (size_t)v + 1);
            p->bulk_len = v;
            p->bulk_have = 0;
            p->state = RESP__BULK_DATA;
            break;

        case RESP__BULK_DATA: {
            size_t blen = (size_t)p->bulk_len, avail = len - *pos, k;
            if (p->bulk_have < blen) {
                k = blen - p->bulk_have;
                if (k > avail) k = avail;
                memcpy(p->bulk_buf + p->bulk_have, buf + *pos, k);
                p->bulk_have += k;
                *pos += k;
                avail -= k;
            }
            /* Like Redis, the two bytes after the bulk are skipped unseen. */
            k = blen + 2 - p->bulk_have;
            if (k > avail) k = avail;
            p->bulk_have += k;
            *pos += k;
            if (p->bulk_have < blen + 2) return 0;
            p->bulk_buf[blen] = '\0';
            resp__parg_push(p, p->bulk_buf, blen);
            p->bulk_buf = NULL;
            p->bulk_len = -1;
            p->bulk_have = 0;
            if (--p->mb_left == 0) {
                resp__commit_partial(p, out);
                return 1;
            }
            p->state = RESP__BULK_HDR;
            break;
        }

        case RESP__INLINE:
            r = resp__get_line(p, L, buf, len, pos, '\n', &line, &n);
            if (r == 0) return 0;
            if (r < 0) return r == RESP__LINE_TOO_LONG ? resp__proto(p, resp__e_inline_big) : r;
            if (n && line[n - 1] == '\r') n--;
            r = resp__inline_cmd(p, line, n, out);
            if (r) return r;
            resp__parser_clear(p);
            return 1;

        default:
            return p->err ? p->err : RESP_ERR_PROTOCOL;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ entry */

static void resp__lim_init(resp__lim_t *L, const resp_limits_t *lim, int auth_required) {
    L->max_bulk = lim ? (lim->max_bulk_len ? lim->max_bulk_len : UINT64_MAX) : 512ull << 20;
    L->max_query = lim ? (lim->max_query_len ? lim->max_query_len : UINT64_MAX) : 1ull << 30;
    L->max_cmds = lim && lim->batch_max_cmds ? lim->batch_max_cmds : UINT32_MAX;
    if (L->max_cmds > UINT32_MAX - 2) L->max_cmds = UINT32_MAX - 2;
    L->max_bytes = lim && lim->batch_max_bytes ? lim->batch_max_bytes : SIZE_MAX;
    L->fast_max_mb = auth_required ? RESP_UNAUTH_MAX_MULTIBULK : RESP_MAX_MULTIBULK_LEN;
    L->fast_max_bulk = L->max_bulk;
    if (auth_required && L->fast_max_bulk > RESP_UNAUTH_MAX_BULK)
        L->fast_max_bulk = RESP_UNAUTH_MAX_BULK;
}

int resp_parse(resp_parser_t *p, const resp_limits_t *lim, const char *buf, size_t len,
               size_t *consumed, resp_batch_t *out) {
    resp__lim_t L;
    size_t pos = 0, k;
    int r;

    if (p->state == RESP__ERROR) {
        *consumed = 0;
        return p->err;
    }
    resp__lim_init(&L, lim, p->auth_required);
    while (pos < len) {
        if (p->state == RESP__IDLE) {
            /* Batch limits apply between commands only; a command is never split. */
            if (resp__batch_full(out, &L)) break;
            if (buf[pos] == '*') {
                k = resp__fast_multibulk(&L, buf + pos, len - pos, out);
            } else {
                r = resp__fast_inline(p, buf + pos, len - pos, out, &k);
                if (r) goto fail;
            }
            if (k) {
                pos += k;
                continue;
            }
        }
        r = resp__slow(p, &L, buf, len, &pos, out);
        if (r < 0) goto fail;
    }
    *consumed = pos;
    return RESP_OK;

fail:
    p->state = RESP__ERROR;
    p->err = r;
    *consumed = pos;
    return r;
}
