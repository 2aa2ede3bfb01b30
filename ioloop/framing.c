/* Framers: the per-kind state machines behind iol_framer_feed(). See
 * framing.h. Every framer returns at most one unit per call and never reads a
 * byte past the end of the unit it returns, so the caller can stop or switch
 * framing at that exact byte. */
#include "framing.h"

#include "kl_alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct iol_framer_ops {
    int (*feed)(iol_framer_t *fr, const char *buf, size_t len, size_t *consumed, iol_unit_t **out);
    bool (*at_boundary)(const iol_framer_t *fr);
} iol_framer_ops_t;

/* Commands per RESP_REQUESTS unit, and argument bytes: the clients' batch
 * sizes, so a unit is a comfortable amount of work for the executor. */
#define REQ_UNIT_MAX_CMDS 1024
#define REQ_UNIT_MAX_BYTES (256 * 1024)

static int fail(iol_framer_t *fr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(iol_framer_t *fr, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fr->error, sizeof(fr->error), fmt, ap);
    va_end(ap);
    return IOL_FRAMER_ERROR;
}

static void acc_append(iol_framer_t *fr, const char *p, size_t n) {
    if (n == 0) return;
    if (fr->acc_len + n > fr->acc_cap) {
        size_t cap = fr->acc_cap ? fr->acc_cap : 256;
        while (cap < fr->acc_len + n)
            cap *= 2;
        fr->acc = kl_realloc(fr->acc, cap);
        fr->acc_cap = cap;
    }
    memcpy(fr->acc + fr->acc_len, p, n);
    fr->acc_len += n;
}

/* Forget acc's content; give a big buffer back. */
static void acc_reset(iol_framer_t *fr) {
    fr->acc_len = 0;
    if (fr->acc_cap > 64 * 1024) {
        kl_free(fr->acc);
        fr->acc = NULL;
        fr->acc_cap = 0;
    }
}

/* A unit with n bytes of data space (plus a NUL) in the same allocation. */
static iol_unit_t *unit_new(int kind, size_t n) {
    iol_unit_t *u = kl_malloc(sizeof(*u) + n + 1);
    memset(u, 0, sizeof(*u));
    u->kind = (uint8_t)kind;
    u->data = (char *)(u + 1);
    u->len = n;
    u->data[n] = '\0';
    return u;
}

void iol_unit_free(iol_unit_t *u) {
    if (!u) return;
    if (u->kind == IOL_UNIT_COMMANDS) {
        resp_batch_free(&u->batch);
        kl_free(u->cmd_wire);
        kl_free(u->data);
    }
    kl_free(u);
}

/* Strict signed 64-bit decimal: optional '-', at least one digit, nothing
 * else. Returns 1 and sets *out, or 0. */
static int parse_i64(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (n && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n) return 0;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) return 0;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

/* ------------------------------------------------------ RESP_REQUESTS */

/* Move the raw bytes of u's commands (its first wire_len bytes of acc) into
 * u->data; the bytes of a command still being received stay in acc. */
static void req_take_raw(iol_framer_t *fr, iol_unit_t *u) {
    size_t n = (size_t)u->wire_len, rest = fr->acc_len - n;
    u->data = kl_malloc(n + 1);
    memcpy(u->data, fr->acc, n);
    u->data[n] = '\0';
    u->len = n;
    memmove(fr->acc, fr->acc + n, rest);
    fr->acc_len = rest;
    if (rest == 0) acc_reset(fr);
}

static int req_feed(iol_framer_t *fr, const char *buf, size_t len, size_t *consumed,
                    iol_unit_t **out) {
    if (!fr->cmds) {
        iol_unit_t *u = kl_calloc(1, sizeof(*u));
        u->kind = IOL_UNIT_COMMANDS;
        resp_batch_init(&u->batch);
        fr->cmds = u;
    }
    iol_unit_t *u = fr->cmds;
    size_t off = 0;
    bool full = false;
    while (off < len) {
        if (u->batch.ncmds >= REQ_UNIT_MAX_CMDS || u->batch.bytes >= REQ_UNIT_MAX_BYTES) {
            full = true;
            break;
        }
        /* One command per call, so each command's wire length is known (a
         * replica counts its offset command by command). */
        fr->rlim.batch_max_cmds = u->batch.ncmds + 1;
        uint32_t before = u->batch.ncmds;
        size_t used = 0;
        int rc = resp_parse(&fr->parser, &fr->rlim, buf + off, len - off, &used, &u->batch);
        acc_append(fr, buf + off, used); /* the raw bytes, for the unit's data */
        off += used;
        fr->cmd_pending_wire += used;
        if (rc != RESP_OK) {
            *consumed = off;
            if (rc == RESP_ERR_QUERY_LIMIT)
                fail(fr, "command larger than %llu bytes",
                     (unsigned long long)fr->rlim.max_query_len);
            else
                fail(fr, "%s", resp_parser_error(&fr->parser));
            /* The commands before the bad one still go out; the next call
             * reports the error. */
            if (u->batch.ncmds == 0) return IOL_FRAMER_ERROR;
            fr->cmds = NULL;
            req_take_raw(fr, u);
            *out = u;
            return IOL_FRAMER_UNIT;
        }
        if (u->batch.ncmds > before) {
            if (u->batch.ncmds > u->cmd_wire_cap) {
                u->cmd_wire_cap = u->cmd_wire_cap ? u->cmd_wire_cap * 2 : 16;
                u->cmd_wire = kl_realloc(u->cmd_wire, u->cmd_wire_cap * sizeof(*u->cmd_wire));
            }
            /* cmd_wire is uint32_t: a command's wire bytes are bounded by
             * max_query_len, checked in iol_framing_check to fit. */
            u->cmd_wire[u->batch.ncmds - 1] = (uint32_t)fr->cmd_pending_wire;
            u->wire_len += fr->cmd_pending_wire;
            fr->cmd_pending_wire = 0;
        } else if (used == 0) {
            full = true; /* the parser's own argument guard: emit what we have */
            break;
        }
    }
    *consumed = off;
    if (u->batch.ncmds && (full || off == len)) {
        fr->cmds = NULL;
        req_take_raw(fr, u);
        *out = u;
        return IOL_FRAMER_UNIT;
    }
    if (off < len) return fail(fr, "request parser made no progress");
    return IOL_FRAMER_MORE;
}

static bool req_at_boundary(const iol_framer_t *fr) {
    return resp_parser_idle(&fr->parser) && (!fr->cmds || fr->cmds->batch.ncmds == 0);
}

/* ------------------------------------------------------ RESP_REPLIES */

/* One level of the scan stack: values still expected, and whether the level
 * is an attribute map (whose end does not complete a value of its parent). */
#define LVL_ATTR ((int64_t)1 << 62)

static void scan_value_done(iol_framer_t *fr) {
    while (fr->depth > 0) {
        int64_t *top = &fr->stack[fr->depth - 1];
        bool attr = (*top & LVL_ATTR) != 0;
        int64_t left = (*top & ~LVL_ATTR) - 1;
        *top = left | (attr ? LVL_ATTR : 0);
        if (left > 0) return;
        fr->depth--;
        /* A finished attribute annotates the value that follows it, which
         * the parent still expects; a finished aggregate is one value of its
         * parent. */
        if (attr) return;
    }
}

static int scan_push(iol_framer_t *fr, int64_t count, bool attr) {
    /* stack[0] is the reply itself: IOL_RESP_MAX_DEPTH aggregates inside. */
    if (fr->depth > IOL_RESP_MAX_DEPTH)
        return fail(fr, "reply nested deeper than %d levels", IOL_RESP_MAX_DEPTH);
    fr->stack[fr->depth++] = count | (attr ? LVL_ATTR : 0);
    return 0;
}

/* Validate b[scan_pos..n) as the continuation of one reply. Returns 1 with
 * *end = the reply's length when it is complete, 0 when more bytes are
 * needed (the scan resumes where it stopped), or IOL_FRAMER_ERROR. */
static int scan_reply(iol_framer_t *fr, const char *b, size_t n, size_t *end) {
    while (fr->depth > 0) {
        size_t pos = fr->scan_pos;
        if (pos >= n) return 0;
        /* line_seen: bytes after pos already searched for the CR, so a long
         * line arriving in pieces is searched once. */
        size_t from = pos + fr->line_seen;
        const char *cr = from < n ? memchr(b + from, '\r', n - from) : NULL;
        /* Every byte up to the line's CRLF belongs to this reply: it is too
         * large as soon as they cannot fit, however the bytes arrive. */
        if (!cr) {
            if ((uint64_t)n + 2 > fr->max)
                return fail(fr, "reply larger than %llu bytes", (unsigned long long)fr->max);
            fr->line_seen = n - pos;
            return 0;
        }
        if ((uint64_t)(cr - b) + 2 > fr->max)
            return fail(fr, "reply larger than %llu bytes", (unsigned long long)fr->max);
        if ((size_t)(cr - b) + 1 >= n) {
            fr->line_seen = (size_t)(cr - b) - pos;
            return 0;
        }
        if (cr[1] != '\n') return fail(fr, "Protocol error: reply line not ended by CRLF");
        char t = b[pos];
        const char *s = b + pos + 1;
        size_t sl = (size_t)(cr - s);
        size_t next = (size_t)(cr - b) + 2;
        int64_t v = 0;
        switch (t) {
        case '+':
        case '-':
            fr->strb += sl + 1;
            fr->nodes++;
            scan_value_done(fr);
            break;
        case ':':
            if (!parse_i64(s, sl, &v)) return fail(fr, "Protocol error: invalid integer");
            fr->nodes++;
            scan_value_done(fr);
            break;
        case '_':
            if (sl) return fail(fr, "Protocol error: invalid null");
            fr->nodes++;
            scan_value_done(fr);
            break;
        case '#':
            if (sl != 1 || (s[0] != 't' && s[0] != 'f'))
                return fail(fr, "Protocol error: invalid boolean");
            fr->nodes++;
            scan_value_done(fr);
            break;
        case ',': {
            char tmp[128];
            if (sl == 0 || sl >= sizeof(tmp)) return fail(fr, "Protocol error: invalid double");
            memcpy(tmp, s, sl);
            tmp[sl] = '\0';
            char *e = NULL;
            (void)strtod(tmp, &e);
            if (e != tmp + sl) return fail(fr, "Protocol error: invalid double");
            fr->strb += sl + 1;
            fr->nodes++;
            scan_value_done(fr);
            break;
        }
        case '(': {
            size_t i = sl && s[0] == '-' ? 1 : 0;
            if (i == sl) return fail(fr, "Protocol error: invalid big number");
            for (; i < sl; i++)
                if (s[i] < '0' || s[i] > '9') return fail(fr, "Protocol error: invalid big number");
            fr->strb += sl + 1;
            fr->nodes++;
            scan_value_done(fr);
            break;
        }
        case '$':
        case '!':
        case '=':
            if (!parse_i64(s, sl, &v) || v < -1 || (v == -1 && t != '$'))
                return fail(fr, "Protocol error: invalid bulk length");
            if (v >= 0) {
                if ((uint64_t)v > fr->max || next + (uint64_t)v + 2 > fr->max)
                    return fail(fr, "reply larger than %llu bytes", (unsigned long long)fr->max);
                if (next + (size_t)v + 2 > n) return 0; /* resumes at this header */
                if (b[next + (size_t)v] != '\r' || b[next + (size_t)v + 1] != '\n')
                    return fail(fr, "Protocol error: bulk not ended by CRLF");
                if (t == '=' && (v < 4 || b[next + 3] != ':'))
                    return fail(fr, "Protocol error: invalid verbatim string");
                fr->strb += (uint64_t)v + 1;
                next += (size_t)v + 2;
            }
            fr->nodes++;
            scan_value_done(fr);
            break;
        case '*':
        case '~':
        case '>':
        case '%':
        case '|': {
            if (!parse_i64(s, sl, &v) || v < -1 || (v == -1 && t != '*'))
                return fail(fr, "Protocol error: invalid aggregate length");
            fr->nodes++;
            if (v == -1) {
                scan_value_done(fr);
                break;
            }
            uint64_t elems = (uint64_t)v * ((t == '%' || t == '|') ? 2 : 1);
            /* Every value takes at least 3 bytes: refuse counts that cannot
             * fit before allocating anything for them. */
            if ((uint64_t)v > fr->max / 3 || elems > (fr->max - next) / 3)
                return fail(fr, "reply larger than %llu bytes", (unsigned long long)fr->max);
            if (elems == 0) {
                if (t != '|') scan_value_done(fr);
                break;
            }
            if (scan_push(fr, (int64_t)elems, t == '|') < 0) return IOL_FRAMER_ERROR;
            break;
        }
        default: {
            /* Quote the line (printable bytes, at most 40) for the log, as
             * Redis quotes what its master answered. */
            char q[48];
            size_t qn = 0;
            q[qn++] = (unsigned char)t >= 32 && (unsigned char)t < 127 ? (char)t : '?';
            /* An empty line: t is the CR itself and s is past it. */
            size_t ql = (size_t)(cr - b) > pos ? sl : 0;
            for (size_t i = 0; i < ql && qn < 40; i++)
                q[qn++] = (unsigned char)s[i] >= 32 && (unsigned char)s[i] < 127 ? s[i] : '?';
            q[qn] = '\0';
            if (t == '\r') t = ' ';
            return fail(fr, "Protocol error: unexpected reply type byte '%c' in '%s'",
                        (unsigned char)t >= 32 && (unsigned char)t < 127 ? t : '?', q);
        }
        }
        if (next > fr->max)
            return fail(fr, "reply larger than %llu bytes", (unsigned long long)fr->max);
        fr->scan_pos = next;
        fr->line_seen = 0;
    }
    *end = fr->scan_pos;
    return 1;
}

typedef struct {
    iol_resp_value_t *pool;
    size_t used;
    char *sp;        /* string space */
    const char *end; /* end of the reply's bytes */
} build_t;

static const char *build_str(build_t *B, iol_resp_value_t *v, const char *p, size_t n) {
    if (n) memcpy(B->sp, p, n);
    B->sp[n] = '\0';
    v->str = B->sp;
    v->len = n;
    B->sp += n + 1;
    return p + n;
}

/* Build the value at p (already validated by scan_reply) into v. Returns the
 * position after it. Recursion is bounded by IOL_RESP_MAX_DEPTH. */
static const char *build_value(build_t *B, const char *p, iol_resp_value_t *v) {
    memset(v, 0, sizeof(*v));
    /* A header line always ends with CRLF (it may hold NUL bytes). */
    const char *cr = memchr(p, '\r', (size_t)(B->end - p));
    char t = *p;
    const char *s = p + 1;
    size_t sl = (size_t)(cr - s);
    const char *next = cr + 2;
    int64_t n = 0;
    v->type = (uint8_t)t;
    switch (t) {
    case '+':
    case '-':
    case '(':
        build_str(B, v, s, sl);
        return next;
    case ',':
        build_str(B, v, s, sl);
        v->dbl = strtod(v->str, NULL);
        return next;
    case ':':
        parse_i64(s, sl, &v->integer);
        return next;
    case '_':
        return next;
    case '#':
        v->integer = s[0] == 't';
        return next;
    case '$':
    case '!':
    case '=':
        parse_i64(s, sl, &n);
        if (n < 0) {
            v->type = IOL_RESP_NULL;
            return next;
        }
        build_str(B, v, next, (size_t)n);
        return next + n + 2;
    default: /* '*', '~', '>', '%', '|' */
        parse_i64(s, sl, &n);
        if (n < 0) {
            v->type = IOL_RESP_NULL;
            return next;
        }
        if (t == '%' || t == '|') n *= 2;
        v->n = (size_t)n;
        v->elems = B->pool + B->used;
        B->used += (size_t)n;
        for (int64_t i = 0; i < n; i++)
            next = build_value(B, next, &v->elems[i]);
        if (t == '|') {
            /* The attribute annotates the value that follows: that value
             * takes this slot and points at the attribute. */
            iol_resp_value_t *a = B->pool + B->used++;
            *a = *v;
            next = build_value(B, next, v);
            a->attr = v->attr;
            v->attr = a;
        }
        return next;
    }
}

/* The complete reply in b[0..len): one allocation holding the unit, the
 * value nodes and the strings. */
static iol_unit_t *reply_unit(iol_framer_t *fr, const char *b, size_t len) {
    size_t nodes = (size_t)fr->nodes, strb = (size_t)fr->strb;
    iol_unit_t *u = kl_malloc(sizeof(*u) + nodes * sizeof(iol_resp_value_t) + strb);
    memset(u, 0, sizeof(*u));
    u->kind = IOL_UNIT_REPLY;
    build_t B = {.pool = (iol_resp_value_t *)(u + 1), .used = 1, .end = b + len};
    B.sp = (char *)(B.pool + nodes);
    u->reply = B.pool;
    build_value(&B, b, u->reply);
    return u;
}

static void reply_restart(iol_framer_t *fr) {
    fr->scan_pos = 0;
    fr->line_seen = 0;
    fr->depth = 1;
    fr->stack[0] = 1;
    fr->nodes = fr->strb = 0;
}

static int rep_feed(iol_framer_t *fr, const char *buf, size_t len, size_t *consumed,
                    iol_unit_t **out) {
    size_t end = 0;
    int rc;
    if (fr->acc_len == 0) {
        /* The common case: the whole reply is in this read. */
        rc = scan_reply(fr, buf, len, &end);
        if (rc < 0) return rc;
        if (rc == 1) {
            *out = reply_unit(fr, buf, end);
            *consumed = end;
            reply_restart(fr);
            return IOL_FRAMER_UNIT;
        }
        acc_append(fr, buf, len);
        *consumed = len;
        return IOL_FRAMER_MORE;
    }
    size_t old = fr->acc_len;
    acc_append(fr, buf, len);
    rc = scan_reply(fr, fr->acc, fr->acc_len, &end);
    if (rc < 0) return rc;
    if (rc == 0) {
        *consumed = len;
        return IOL_FRAMER_MORE;
    }
    *out = reply_unit(fr, fr->acc, end);
    *consumed = end - old;
    acc_reset(fr);
    reply_restart(fr);
    return IOL_FRAMER_UNIT;
}

static bool rep_at_boundary(const iol_framer_t *fr) {
    return fr->acc_len == 0;
}

/* ------------------------------------------------------------- LINE */

static iol_unit_t *line_unit(const char *p, size_t n) {
    if (n && p[n - 1] == '\r') n--;
    iol_unit_t *u = unit_new(IOL_UNIT_LINE, n);
    memcpy(u->data, p, n);
    return u;
}

static int line_feed(iol_framer_t *fr, const char *buf, size_t len, size_t *consumed,
                     iol_unit_t **out) {
    const char *nl = memchr(buf, '\n', len);
    if (!nl) {
        /* One byte more than max may be the CR of the terminator. */
        if (fr->acc_len + len > fr->max + 1)
            return fail(fr, "line longer than %llu bytes", (unsigned long long)fr->max);
        acc_append(fr, buf, len);
        *consumed = len;
        return IOL_FRAMER_MORE;
    }
    size_t take = (size_t)(nl - buf), total = fr->acc_len + take;
    char before = take ? buf[take - 1] : (fr->acc_len ? fr->acc[fr->acc_len - 1] : 0);
    if (total - (before == '\r') > fr->max)
        return fail(fr, "line longer than %llu bytes", (unsigned long long)fr->max);
    if (fr->acc_len == 0) {
        *out = line_unit(buf, take);
    } else {
        acc_append(fr, buf, take);
        *out = line_unit(fr->acc, fr->acc_len);
        acc_reset(fr);
    }
    *consumed = take + 1;
    return IOL_FRAMER_UNIT;
}

static bool line_at_boundary(const iol_framer_t *fr) {
    return fr->acc_len == 0;
}

/* ----------------------------------------------------------- RAW_LEN */

static int rawlen_feed(iol_framer_t *fr, const char *buf, size_t len, size_t *consumed,
                       iol_unit_t **out) {
    size_t take = (uint64_t)len < fr->raw_left ? len : (size_t)fr->raw_left;
    *consumed = take;
    if (take == 0 && fr->raw_left > 0) return IOL_FRAMER_MORE;
    iol_unit_t *u = unit_new(IOL_UNIT_PAYLOAD, take);
    if (take) memcpy(u->data, buf, take);
    fr->raw_left -= take;
    if (fr->raw_left == 0) {
        u->last = true;
        fr->raw_left = fr->f.raw_len; /* a resume expects another payload */
    }
    *out = u;
    return IOL_FRAMER_UNIT;
}

static bool rawlen_at_boundary(const iol_framer_t *fr) {
    return fr->raw_left == fr->f.raw_len;
}

/* ----------------------------------------------------------- RAW_EOF */

/* A payload chunk made of the carried bytes and n bytes of p. */
static iol_unit_t *eof_chunk(iol_framer_t *fr, size_t carry, const char *p, size_t n) {
    iol_unit_t *u = unit_new(IOL_UNIT_PAYLOAD, carry + n);
    if (carry) memcpy(u->data, fr->carry, carry);
    if (n) memcpy(u->data + carry, p, n);
    fr->eof_seen = 0;
    return u;
}

static int raweof_feed(iol_framer_t *fr, const char *buf, size_t len, size_t *consumed,
                       iol_unit_t **out) {
    const size_t m = fr->f.mark_len, k = fr->carry_len;
    const char *mark = fr->f.mark;
    *consumed = 0;
    if (len == 0) return IOL_FRAMER_MORE;
    fr->eof_seen += len;
    /* A mark that starts in the carried bytes and ends in buf. */
    if (k) {
        char tmp[2 * IOL_EOF_MARK_MAX];
        size_t extra = len < m - 1 ? len : m - 1;
        memcpy(tmp, fr->carry, k);
        memcpy(tmp + k, buf, extra);
        for (size_t i = 0; i < k; i++) {
            if (i + m <= k + extra && memcmp(tmp + i, mark, m) == 0) {
                iol_unit_t *u = eof_chunk(fr, i, NULL, 0);
                u->last = true;
                *consumed = i + m - k;
                fr->carry_len = 0;
                *out = u;
                return IOL_FRAMER_UNIT;
            }
        }
    }
    const char *hit = memmem(buf, len, mark, m);
    if (hit) {
        iol_unit_t *u = eof_chunk(fr, k, buf, (size_t)(hit - buf));
        u->last = true;
        *consumed = (size_t)(hit - buf) + m;
        fr->carry_len = 0;
        *out = u;
        return IOL_FRAMER_UNIT;
    }
    /* No mark yet: everything but the last m-1 bytes is payload for sure. */
    size_t total = k + len, keep = total < m - 1 ? total : m - 1;
    size_t emit = total - keep;
    *consumed = len;
    iol_unit_t *u = NULL;
    if (emit) {
        size_t from_carry = emit < k ? emit : k;
        u = eof_chunk(fr, from_carry, buf, emit - from_carry);
        fr->eof_seen = 1; /* still inside the payload */
        /* Shift the carried bytes that were not emitted. */
        memmove(fr->carry, fr->carry + from_carry, k - from_carry);
        fr->carry_len = k - from_carry;
    }
    /* Then append the tail of buf that might start the mark. */
    size_t tail = keep - fr->carry_len;
    memcpy(fr->carry + fr->carry_len, buf + len - tail, tail);
    fr->carry_len += tail;
    if (!u) return IOL_FRAMER_MORE;
    *out = u;
    return IOL_FRAMER_UNIT;
}

static bool raweof_at_boundary(const iol_framer_t *fr) {
    return fr->carry_len == 0 && fr->eof_seen == 0;
}

/* ------------------------------------------------------------ BINARY */

static size_t bin_header(const iol_framing_t *f) {
    size_t h = (size_t)f->len_off + f->len_size;
    return f->sig_len > h ? f->sig_len : h;
}

static int bin_feed(iol_framer_t *fr, const char *buf, size_t len, size_t *consumed,
                    iol_unit_t **out) {
    const iol_framing_t *f = &fr->f;
    size_t off = 0;
    if (!fr->frame) {
        size_t h = bin_header(f);
        const char *hdr;
        if (fr->acc_len == 0 && len >= h) {
            hdr = buf;
            off = h;
        } else {
            size_t need = h - fr->acc_len, take = len < need ? len : need;
            acc_append(fr, buf, take);
            off = take;
            if (fr->acc_len < h) {
                *consumed = off;
                return IOL_FRAMER_MORE;
            }
            hdr = fr->acc;
        }
        if (f->sig_len && memcmp(hdr, f->sig, f->sig_len) != 0) {
            *consumed = off;
            return fail(fr, "bad frame signature");
        }
        uint64_t l = 0;
        for (unsigned i = 0; i < f->len_size; i++)
            l = (l << 8) | (unsigned char)hdr[f->len_off + i];
        uint64_t total = l;
        if (f->len_excludes_header) total = l > fr->max ? l : l + h;
        uint64_t min = f->min_frame > h ? f->min_frame : h;
        if (total < min) {
            *consumed = off;
            return fail(fr, "frame length %llu below the minimum %llu", (unsigned long long)total,
                        (unsigned long long)min);
        }
        if (total > fr->max) {
            *consumed = off;
            return fail(fr, "frame too large (%llu bytes, max %llu)", (unsigned long long)total,
                        (unsigned long long)fr->max);
        }
        fr->frame = unit_new(IOL_UNIT_FRAME, (size_t)total);
        memcpy(fr->frame->data, hdr, h);
        fr->frame_have = h;
        acc_reset(fr);
    }
    iol_unit_t *u = fr->frame;
    size_t want = u->len - fr->frame_have, take = len - off < want ? len - off : want;
    memcpy(u->data + fr->frame_have, buf + off, take);
    fr->frame_have += take;
    off += take;
    *consumed = off;
    if (fr->frame_have < u->len) return IOL_FRAMER_MORE;
    fr->frame = NULL;
    fr->frame_have = 0;
    *out = u;
    return IOL_FRAMER_UNIT;
}

static bool bin_at_boundary(const iol_framer_t *fr) {
    return !fr->frame && fr->acc_len == 0;
}

/* ------------------------------------------------------------ common */

static const iol_framer_ops_t framer_ops[] = {
    [IOL_FRAMING_RESP_REQUESTS] = {req_feed, req_at_boundary},
    [IOL_FRAMING_RESP_REPLIES] = {rep_feed, rep_at_boundary},
    [IOL_FRAMING_LINE] = {line_feed, line_at_boundary},
    [IOL_FRAMING_RAW_LEN] = {rawlen_feed, rawlen_at_boundary},
    [IOL_FRAMING_RAW_EOF] = {raweof_feed, raweof_at_boundary},
    [IOL_FRAMING_BINARY] = {bin_feed, bin_at_boundary},
};

int iol_framing_check(const iol_framing_t *f, const char **why) {
    *why = NULL;
    if (f->kind > IOL_FRAMING_BINARY) {
        *why = "unknown framing kind";
        return -1;
    }
    if (f->flags & ~IOL_FRAMING_STOP) {
        *why = "unknown framing flags";
        return -1;
    }
    if (f->kind == IOL_FRAMING_RESP_REQUESTS && f->max_unit > (UINT32_MAX >> 2)) {
        *why = "max_unit of RESP requests must stay below 1 GB";
        return -1;
    }
    if (f->kind == IOL_FRAMING_RAW_EOF && (f->mark_len == 0 || f->mark_len > IOL_EOF_MARK_MAX)) {
        *why = "the EOF mark must have 1 to 64 bytes";
        return -1;
    }
    if (f->kind == IOL_FRAMING_BINARY) {
        if (f->len_size != 1 && f->len_size != 2 && f->len_size != 4 && f->len_size != 8) {
            *why = "the frame length field must have 1, 2, 4 or 8 bytes";
            return -1;
        }
        if (f->sig_len > IOL_FRAME_SIG_MAX || f->len_off > 32) {
            *why = "frame header too long";
            return -1;
        }
        uint64_t max = f->max_unit ? f->max_unit : IOL_FRAMING_DEFAULT_MAX;
        if (f->min_frame > max || bin_header(f) > max) {
            *why = "the minimum frame is larger than the maximum";
            return -1;
        }
    }
    return 0;
}

void iol_framer_init(iol_framer_t *fr, const iol_framing_t *f) {
    memset(fr, 0, sizeof(*fr));
    fr->f = *f;
    fr->ops = &framer_ops[f->kind];
    fr->max = f->max_unit                           ? f->max_unit
              : f->kind == IOL_FRAMING_LINE         ? IOL_FRAMING_DEFAULT_LINE_MAX
              : f->kind == IOL_FRAMING_RESP_REPLIES ? IOL_FRAMING_DEFAULT_REPLY_MAX
                                                    : IOL_FRAMING_DEFAULT_MAX;
    switch (f->kind) {
    case IOL_FRAMING_RESP_REQUESTS:
        resp_parser_init(&fr->parser);
        fr->rlim.max_bulk_len = (size_t)fr->max;
        /* A command's partial state may hold a few maximal bulks, as a
         * client's query buffer (1 GB) would; cmd_wire stays in 32 bits. */
        fr->rlim.max_query_len =
            (size_t)(fr->max * 2 < (UINT32_MAX >> 1) ? fr->max * 2 : (UINT32_MAX >> 1));
        break;
    case IOL_FRAMING_RESP_REPLIES:
        fr->stack = kl_malloc((IOL_RESP_MAX_DEPTH + 1) * sizeof(*fr->stack));
        reply_restart(fr);
        break;
    case IOL_FRAMING_RAW_LEN:
        fr->raw_left = f->raw_len;
        break;
    default:
        break;
    }
}

void iol_framer_free(iol_framer_t *fr) {
    if (fr->f.kind == IOL_FRAMING_RESP_REQUESTS) resp_parser_free(&fr->parser);
    iol_unit_free(fr->cmds);
    iol_unit_free(fr->frame);
    kl_free(fr->acc);
    kl_free(fr->stack);
    fr->cmds = fr->frame = NULL;
    fr->acc = NULL;
    fr->stack = NULL;
    fr->acc_len = fr->acc_cap = 0;
}

int iol_framer_feed(iol_framer_t *fr, const char *buf, size_t len, size_t *consumed,
                    iol_unit_t **out) {
    *out = NULL;
    *consumed = 0;
    if (fr->error[0]) return IOL_FRAMER_ERROR;
    int rc = fr->ops->feed(fr, buf, len, consumed, out);
    /* Every byte taken counts towards the next unit's wire length; for
     * commands the bytes after the last command count with the next one. */
    fr->since_unit += *consumed;
    if (rc == IOL_FRAMER_UNIT) {
        iol_unit_t *u = *out;
        if (u->kind == IOL_UNIT_COMMANDS) {
            fr->since_unit -= u->wire_len;
        } else {
            u->wire_len = fr->since_unit;
            fr->since_unit = 0;
        }
    }
    return rc;
}

bool iol_framer_at_boundary(const iol_framer_t *fr) {
    return fr->ops->at_boundary(fr);
}
