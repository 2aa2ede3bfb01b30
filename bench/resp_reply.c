/* Incremental RESP2/RESP3 reply parser; see resp_reply.h. */
#include "resp_reply.h"

#include <string.h>

#include "kl_util.h"

enum {
    S_TYPE,    /* expecting a type byte */
    S_LINE,    /* reading a header or scalar line up to '\r' */
    S_LF,      /* expecting the '\n' that ends the line */
    S_BULK,    /* skipping bulk payload bytes */
    S_BULK_CR, /* expecting the '\r' after a payload */
    S_BULK_LF, /* expecting the '\n' after a payload */
    S_CHUNK,   /* expecting ';' (next chunk of a streamed string) */
};

/* Status of the internal steps: continue, reply complete, error. */
enum { ST_GO = 0, ST_DONE = 1, ST_FAIL = -1 };

void rr_init(rr_parser_t *p) {
    memset(p, 0, sizeof(*p));
    p->state = S_TYPE;
}

const char *rr_error(const rr_parser_t *p) {
    return p->errmsg ? p->errmsg : "no error";
}

static int fail(rr_parser_t *p, const char *msg) {
    p->errmsg = msg;
    return ST_FAIL;
}

/* Copy payload bytes into the reply's text when this is the first scalar of
 * the reply outside any attribute. */
static inline void capture(rr_parser_t *p, const char *s, size_t n) {
    rr_reply_t *r = &p->reply;
    size_t room = RR_TEXT_MAX - 1 - r->text_len;
    if (n > room) {
        n = room;
        r->text_trunc = 1;
    }
    memcpy(r->text + r->text_len, s, n);
    r->text_len += (uint32_t)n;
    r->text[r->text_len] = '\0';
}

static inline int capturing(const rr_parser_t *p) {
    return !p->captured && p->attr_depth == 0;
}

/* A value (scalar or aggregate) just ended. Walk up the stack: each parent
 * that thereby becomes complete is itself a finished value. Attributes never
 * count as an element of their parent, nor as a reply. */
static int value_done(rr_parser_t *p, int is_attr) {
    for (;;) {
        if (is_attr) {
            p->state = S_TYPE;
            return ST_GO;
        }
        if (p->depth == 0) {
            p->state = S_TYPE;
            p->in_reply = 0;
            return ST_DONE;
        }
        rr_frame_t *f = &p->stack[p->depth - 1];
        if (f->left < 0) {
            f->count++;
            p->state = S_TYPE;
            return ST_GO;
        }
        if (--f->left > 0) {
            p->state = S_TYPE;
            return ST_GO;
        }
        is_attr = f->attr;
        if (f->attr) p->attr_depth--;
        p->depth--;
    }
}

static int push_frame(rr_parser_t *p, int64_t left, int attr) {
    if (p->depth >= RR_MAX_DEPTH) return fail(p, "reply nested too deeply");
    rr_frame_t *f = &p->stack[p->depth++];
    f->left = left;
    f->count = 0;
    f->attr = (uint8_t)attr;
    if (attr) p->attr_depth++;
    p->state = S_TYPE;
    return ST_GO;
}

static int parse_len(rr_parser_t *p, int64_t *out) {
    long long v;
    if (p->line_trunc || kl_str_to_ll(p->line, p->line_len, &v)) return fail(p, "bad length");
    *out = v;
    return ST_GO;
}

/* A whole line (without CRLF) of type p->cur is in p->line. */
static int line_done(rr_parser_t *p) {
    char t = p->cur;
    rr_reply_t *r = &p->reply;
    int top = p->depth == 0 && t != '|' && t != ';' && t != '.';
    if (top) {
        r->type = t;
        r->is_error = t == '-' || t == '!';
        r->is_push = t == '>';
    }
    int64_t n = 0;
    switch (t) {
    case '+':
    case '-':
    case ',':
    case '(':
        if (capturing(p)) {
            capture(p, p->line, p->line_len);
            if (p->line_trunc) r->text_trunc = 1;
            p->captured = 1;
        }
        return value_done(p, 0);
    case ':': {
        long long v;
        if (p->line_trunc || kl_str_to_ll(p->line, p->line_len, &v)) return fail(p, "bad integer");
        if (top) r->integer = v;
        return value_done(p, 0);
    }
    case '#':
        if (p->line_len != 1 || (p->line[0] != 't' && p->line[0] != 'f'))
            return fail(p, "bad boolean");
        if (top) r->integer = p->line[0] == 't';
        return value_done(p, 0);
    case '_':
        if (p->line_len != 0) return fail(p, "bad null");
        if (top) {
            r->is_null = 1;
            r->integer = -1;
        }
        return value_done(p, 0);
    case '.': {
        if (p->line_len != 0) return fail(p, "bad end marker");
        if (p->depth == 0 || p->stack[p->depth - 1].left >= 0)
            return fail(p, "end marker outside a streamed aggregate");
        rr_frame_t *f = &p->stack[--p->depth];
        r->nodes--; /* the marker is not a value */
        if (p->depth == 0) r->integer = f->count;
        return value_done(p, 0);
    }
    case '$':
    case '!':
    case '=':
        if (t == '$' && p->line_len == 1 && p->line[0] == '?') {
            p->in_stream = 1;
            p->stream_len = 0;
            p->state = S_CHUNK;
            return ST_GO;
        }
        if (parse_len(p, &n)) return ST_FAIL;
        if (n == -1 && t == '$') {
            if (top) {
                r->is_null = 1;
                r->integer = -1;
            }
            return value_done(p, 0);
        }
        if (n < 0) return fail(p, "bad bulk length");
        if (top) r->integer = n;
        p->bulk_left = n;
        p->state = n ? S_BULK : S_BULK_CR;
        return ST_GO;
    case ';':
        if (parse_len(p, &n) || n < 0) return fail(p, "bad chunk length");
        if (n == 0) {
            p->in_stream = 0;
            if (capturing(p)) p->captured = 1;
            if (p->depth == 0) r->integer = p->stream_len;
            return value_done(p, 0);
        }
        p->stream_len += n;
        p->bulk_left = n;
        p->state = S_BULK;
        return ST_GO;
    case '*':
    case '%':
    case '~':
    case '>':
    case '|':
        if (t != '|' && p->line_len == 1 && p->line[0] == '?') return push_frame(p, -1, 0);
        if (parse_len(p, &n)) return ST_FAIL;
        if (n == -1 && t == '*') {
            if (top) {
                r->is_null = 1;
                r->integer = -1;
            }
            return value_done(p, 0);
        }
        if (n < 0 || n > INT64_MAX / 2) return fail(p, "bad aggregate length");
        if (top) r->integer = n;
        if (t == '|' && p->depth == 0) r->has_attr = 1;
        if (t == '%' || t == '|') n *= 2;
        if (n == 0) return value_done(p, t == '|');
        return push_frame(p, n, t == '|');
    }
    return fail(p, "unknown type");
}

int rr_parse(rr_parser_t *p, const char *buf, size_t len, size_t *used) {
    const char *s = buf, *end = buf + len;
    rr_reply_t *r = &p->reply;
    int st;
    while (s < end) {
        switch (p->state) {
        case S_TYPE: {
            char t = *s++;
            if (!p->in_reply) {
                p->in_reply = 1;
                p->captured = 0;
                r->type = 0;
                r->is_error = r->is_push = r->is_null = r->text_trunc = r->has_attr = 0;
                r->integer = 0;
                r->nodes = 0;
                r->bytes = 0;
                r->text_len = 0;
                r->text[0] = '\0';
            }
            r->bytes++;
            switch (t) {
            case '+':
            case '-':
            case ':':
            case '$':
            case '*':
            case '_':
            case ',':
            case '#':
            case '!':
            case '=':
            case '(':
            case '%':
            case '~':
            case '>':
            case '|':
            case '.':
                break;
            default:
                p->errmsg = "unknown reply type byte";
                *used = (size_t)(s - buf);
                return RR_ERR;
            }
            r->nodes++;
            p->cur = t;
            p->line_len = 0;
            p->line_trunc = 0;
            p->state = S_LINE;
            break;
        }
        case S_LINE: {
            const char *cr = memchr(s, '\r', (size_t)(end - s));
            const char *stop = cr ? cr : end;
            size_t n = (size_t)(stop - s), room = RR_TEXT_MAX - 1 - p->line_len;
            if (n > room) {
                p->line_trunc = 1;
                memcpy(p->line + p->line_len, s, room);
                p->line_len += (uint32_t)room;
            } else {
                memcpy(p->line + p->line_len, s, n);
                p->line_len += (uint32_t)n;
            }
            r->bytes += n;
            s = stop;
            if (cr) {
                s++;
                r->bytes++;
                p->state = S_LF;
            }
            break;
        }
        case S_LF:
            if (*s++ != '\n') {
                p->errmsg = "expected LF after CR";
                *used = (size_t)(s - buf);
                return RR_ERR;
            }
            r->bytes++;
            p->line[p->line_len] = '\0';
            st = line_done(p);
            if (st != ST_GO) {
                *used = (size_t)(s - buf);
                return st == ST_DONE ? RR_REPLY : RR_ERR;
            }
            break;
        case S_BULK: {
            size_t n = (size_t)(end - s);
            if ((uint64_t)p->bulk_left < n) n = (size_t)p->bulk_left;
            if (capturing(p)) capture(p, s, n);
            s += n;
            r->bytes += n;
            p->bulk_left -= (int64_t)n;
            if (p->bulk_left == 0) p->state = S_BULK_CR;
            break;
        }
        case S_BULK_CR:
            if (*s++ != '\r') {
                p->errmsg = "expected CR after bulk payload";
                *used = (size_t)(s - buf);
                return RR_ERR;
            }
            r->bytes++;
            p->state = S_BULK_LF;
            break;
        case S_BULK_LF:
            if (*s++ != '\n') {
                p->errmsg = "expected LF after bulk payload";
                *used = (size_t)(s - buf);
                return RR_ERR;
            }
            r->bytes++;
            if (p->in_stream) {
                p->state = S_CHUNK;
                break;
            }
            if (capturing(p)) p->captured = 1;
            st = value_done(p, 0);
            if (st == ST_DONE) {
                *used = (size_t)(s - buf);
                return RR_REPLY;
            }
            break;
        case S_CHUNK:
            if (*s++ != ';') {
                p->errmsg = "expected ';' in a streamed string";
                *used = (size_t)(s - buf);
                return RR_ERR;
            }
            r->bytes++;
            p->cur = ';';
            p->line_len = 0;
            p->line_trunc = 0;
            p->state = S_LINE;
            break;
        }
    }
    *used = len;
    return RR_MORE;
}
