/* Unit tests for ioloop/framing.c: every framing kind fed its input whole,
 * byte by byte and in every chunk size, so a unit split across reads at any
 * byte (a header, a CRLF, an EOF mark, a frame length) comes out the same;
 * that a framer never takes a byte past the unit it returns; the wire-length
 * accounting; and the errors (bad RESP, oversize units, bad frames). */
#include <criterion/criterion.h>

#include "framing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fed {
    iol_unit_t **u;
    int n, cap;
    size_t consumed; /* bytes the framer took */
    bool error;
    char why[160];
    bool ended; /* a payload's last chunk came: feeding stopped there */
} fed_t;

static void fed_free(fed_t *r) {
    for (int i = 0; i < r->n; i++)
        iol_unit_free(r->u[i]);
    free(r->u);
    r->u = NULL;
    r->n = r->cap = 0;
}

/* Feed in[0..len) in chunks of `chunk` bytes, as the link does: after a unit,
 * feed the rest of the chunk again; stop at a payload's last chunk (the link
 * stops there until told what comes next). */
static void feed(const iol_framing_t *f, const char *in, size_t len, size_t chunk, fed_t *r) {
    memset(r, 0, sizeof(*r));
    const char *why = NULL;
    cr_assert_eq(iol_framing_check(f, &why), 0, "framing rejected: %s", why);
    iol_framer_t fr;
    iol_framer_init(&fr, f);
    size_t off = 0;
    bool first = true;
    while ((off < len || first) && !r->ended && !r->error) {
        size_t n = len - off < chunk ? len - off : chunk;
        const char *p = in + off;
        first = false;
        for (;;) {
            size_t used = 0;
            iol_unit_t *u = NULL;
            int rc = iol_framer_feed(&fr, p, n, &used, &u);
            cr_assert_leq(used, n);
            p += used;
            n -= used;
            off += used;
            r->consumed += used;
            if (rc == IOL_FRAMER_ERROR) {
                r->error = true;
                snprintf(r->why, sizeof(r->why), "%s", iol_framer_error(&fr));
                cr_assert_null(u);
                break;
            }
            if (rc == IOL_FRAMER_MORE) {
                cr_assert_eq(n, 0, "MORE with %zu bytes left", n);
                cr_assert_null(u);
                break;
            }
            cr_assert_not_null(u);
            if (r->n == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 16;
                r->u = realloc(r->u, (size_t)r->cap * sizeof(*r->u));
            }
            r->u[r->n++] = u;
            /* Commands are handed over when the input runs out, maybe with
             * the next command partly received; the other kinds end a unit
             * exactly at its last byte. */
            cr_assert(iol_framer_at_boundary(&fr) || u->kind == IOL_UNIT_COMMANDS ||
                          (u->kind == IOL_UNIT_PAYLOAD && !u->last),
                      "not at a boundary right after a unit");
            if (u->last) {
                r->ended = true;
                break;
            }
            if (n == 0 && !iol_framer_failed(&fr)) break;
        }
    }
    iol_framer_free(&fr);
}

/* The same units for every chunk size from 1 to len: check() is run on each
 * result. */
static void feed_all_splits(const iol_framing_t *f, const char *in, size_t len,
                            void (*check)(fed_t *r, size_t chunk)) {
    for (size_t chunk = 1; chunk <= len + 1; chunk++) {
        fed_t *r = malloc(sizeof(*r));
        feed(f, in, len, chunk, r);
        check(r, chunk);
        fed_free(r);
        free(r);
    }
}

static uint64_t wire_sum(const fed_t *r) {
    uint64_t s = 0;
    for (int i = 0; i < r->n; i++)
        s += r->u[i]->wire_len;
    return s;
}

/* ---------------------------------------------------------- RESP replies */

static const char replies_in[] = "+OK\r\n"
                                 "-ERR unknown command 'FOO'\r\n"
                                 ":-42\r\n"
                                 "$5\r\nhel\0o\r\n"
                                 "$-1\r\n"
                                 "*-1\r\n"
                                 "$0\r\n\r\n"
                                 "*3\r\n*2\r\n:1\r\n$4\r\na\r\nb\r\n*0\r\n+x\r\n"
                                 "%2\r\n+a\r\n:1\r\n$1\r\nb\r\n_\r\n"
                                 "~2\r\n#t\r\n#f\r\n"
                                 ",3.25\r\n"
                                 ",-inf\r\n"
                                 "(123456789012345678901234567890\r\n"
                                 "=8\r\ntxt:abcd\r\n"
                                 "!9\r\nERR oops!\r\n"
                                 ">2\r\n$7\r\nmessage\r\n*1\r\n:7\r\n"
                                 "|1\r\n+ttl\r\n:3\r\n+WITHATTR\r\n"
                                 "*1\r\n|1\r\n+k\r\n+v\r\n:9\r\n";
#define NREPLIES 18

static void check_replies(fed_t *r, size_t chunk) {
    cr_assert_not(r->error, "chunk %zu: %s", chunk, r->why);
    cr_assert_eq(r->n, NREPLIES, "chunk %zu: %d replies", chunk, r->n);
    cr_assert_eq(r->consumed, sizeof(replies_in) - 1);
    cr_assert_eq(wire_sum(r), sizeof(replies_in) - 1);
    for (int i = 0; i < r->n; i++)
        cr_assert_eq(r->u[i]->kind, IOL_UNIT_REPLY);
    const iol_resp_value_t *v;
    v = r->u[0]->reply;
    cr_assert_eq(v->type, IOL_RESP_STATUS);
    cr_assert_str_eq(v->str, "OK");
    cr_assert_eq(r->u[0]->wire_len, 5);
    v = r->u[1]->reply;
    cr_assert_eq(v->type, IOL_RESP_ERROR);
    cr_assert_str_eq(v->str, "ERR unknown command 'FOO'");
    v = r->u[2]->reply;
    cr_assert_eq(v->type, IOL_RESP_INTEGER);
    cr_assert_eq(v->integer, -42);
    v = r->u[3]->reply;
    cr_assert_eq(v->type, IOL_RESP_BULK);
    cr_assert_eq(v->len, 5);
    cr_assert_eq(memcmp(v->str, "hel\0o", 6), 0);
    cr_assert_eq(r->u[4]->reply->type, IOL_RESP_NULL);
    cr_assert_eq(r->u[5]->reply->type, IOL_RESP_NULL);
    v = r->u[6]->reply;
    cr_assert_eq(v->type, IOL_RESP_BULK);
    cr_assert_eq(v->len, 0);
    cr_assert_str_eq(v->str, "");
    v = r->u[7]->reply;
    cr_assert_eq(v->type, IOL_RESP_ARRAY);
    cr_assert_eq(v->n, 3);
    cr_assert_eq(v->elems[0].type, IOL_RESP_ARRAY);
    cr_assert_eq(v->elems[0].n, 2);
    cr_assert_eq(v->elems[0].elems[0].integer, 1);
    cr_assert_eq(v->elems[0].elems[1].len, 4);
    cr_assert_eq(memcmp(v->elems[0].elems[1].str, "a\r\nb", 4), 0);
    cr_assert_eq(v->elems[1].type, IOL_RESP_ARRAY);
    cr_assert_eq(v->elems[1].n, 0);
    cr_assert_str_eq(v->elems[2].str, "x");
    v = r->u[8]->reply;
    cr_assert_eq(v->type, IOL_RESP_MAP);
    cr_assert_eq(v->n, 4);
    cr_assert_str_eq(v->elems[0].str, "a");
    cr_assert_eq(v->elems[1].integer, 1);
    cr_assert_str_eq(v->elems[2].str, "b");
    cr_assert_eq(v->elems[3].type, IOL_RESP_NULL);
    v = r->u[9]->reply;
    cr_assert_eq(v->type, IOL_RESP_SET);
    cr_assert_eq(v->elems[0].type, IOL_RESP_BOOL);
    cr_assert_eq(v->elems[0].integer, 1);
    cr_assert_eq(v->elems[1].integer, 0);
    v = r->u[10]->reply;
    cr_assert_eq(v->type, IOL_RESP_DOUBLE);
    cr_assert_float_eq(v->dbl, 3.25, 1e-12);
    cr_assert_str_eq(v->str, "3.25");
    cr_assert(r->u[11]->reply->dbl < -1e308);
    v = r->u[12]->reply;
    cr_assert_eq(v->type, IOL_RESP_BIGNUM);
    cr_assert_str_eq(v->str, "123456789012345678901234567890");
    v = r->u[13]->reply;
    cr_assert_eq(v->type, IOL_RESP_VERBATIM);
    cr_assert_str_eq(v->str, "txt:abcd");
    v = r->u[14]->reply;
    cr_assert_eq(v->type, IOL_RESP_BLOB_ERROR);
    cr_assert_str_eq(v->str, "ERR oops!");
    v = r->u[15]->reply;
    cr_assert_eq(v->type, IOL_RESP_PUSH);
    cr_assert_str_eq(v->elems[0].str, "message");
    cr_assert_eq(v->elems[1].elems[0].integer, 7);
    v = r->u[16]->reply;
    cr_assert_eq(v->type, IOL_RESP_STATUS);
    cr_assert_str_eq(v->str, "WITHATTR");
    cr_assert_not_null(v->attr);
    cr_assert_eq(v->attr->type, IOL_RESP_ATTRIBUTE);
    cr_assert_eq(v->attr->n, 2);
    cr_assert_str_eq(v->attr->elems[0].str, "ttl");
    cr_assert_eq(v->attr->elems[1].integer, 3);
    v = r->u[17]->reply;
    cr_assert_eq(v->type, IOL_RESP_ARRAY);
    cr_assert_eq(v->n, 1);
    cr_assert_eq(v->elems[0].integer, 9);
    cr_assert_not_null(v->elems[0].attr);
    cr_assert_str_eq(v->elems[0].attr->elems[1].str, "v");
}

Test(framing, replies_every_split) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0);
    feed_all_splits(&f, replies_in, sizeof(replies_in) - 1, check_replies);
}

/* A reply never takes a byte of what follows it: the rest is another
 * framing's business (+FULLRESYNC, then the payload). */
Test(framing, reply_stops_at_its_end) {
    static const char in[] = "+FULLRESYNC 0123 77\r\n$3\r\nabc";
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0);
    iol_framer_t fr;
    iol_framer_init(&fr, &f);
    size_t used = 0;
    iol_unit_t *u = NULL;
    cr_assert_eq(iol_framer_feed(&fr, in, sizeof(in) - 1, &used, &u), IOL_FRAMER_UNIT);
    cr_assert_eq(used, strlen("+FULLRESYNC 0123 77\r\n"));
    cr_assert_str_eq(u->reply->str, "FULLRESYNC 0123 77");
    iol_unit_free(u);
    /* The incomplete bulk after it waits inside the framer. */
    cr_assert_eq(iol_framer_feed(&fr, in + used, sizeof(in) - 1 - used, &used, &u),
                 IOL_FRAMER_MORE);
    cr_assert_not(iol_framer_at_boundary(&fr));
    iol_framer_free(&fr);
}

static void bad_reply(const char *in, size_t len, uint64_t max, const char *needle) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0);
    f.max_unit = max;
    for (size_t chunk = 1; chunk <= len; chunk++) {
        fed_t *r = malloc(sizeof(*r));
        feed(&f, in, len, chunk, r);
        cr_assert(r->error, "no error for %s (chunk %zu)", in, chunk);
        cr_assert(strstr(r->why, needle), "error '%s' lacks '%s'", r->why, needle);
        fed_free(r);
        free(r);
    }
}
#define BAD(s, max, needle) bad_reply(s, sizeof(s) - 1, max, needle)

Test(framing, replies_bad) {
    BAD("?what\r\n", 0, "unexpected reply type byte '?'");
    BAD("$abc\r\n", 0, "invalid bulk length");
    BAD("$-2\r\n", 0, "invalid bulk length");
    BAD("$3\r\nabcX\r\n", 0, "bulk not ended by CRLF");
    BAD(":12a\r\n", 0, "invalid integer");
    BAD(":99999999999999999999\r\n", 0, "invalid integer");
    BAD("#x\r\n", 0, "invalid boolean");
    BAD(",1.5x\r\n", 0, "invalid double");
    BAD("(12a\r\n", 0, "invalid big number");
    BAD("_x\r\n", 0, "invalid null");
    BAD("=3\r\ntxt\r\n", 0, "invalid verbatim");
    BAD("%-1\r\n", 0, "invalid aggregate length");
    BAD("+OK\rX\r\n", 0, "not ended by CRLF");
    /* Too large: the declared size is refused before the bytes arrive. */
    BAD("$100\r\n", 64, "reply larger than 64 bytes");
    BAD("*1000\r\n", 64, "reply larger than 64 bytes");
    BAD("+0123456789012345678901234567890123456789", 16, "reply larger than 16 bytes");
    /* The CR is there but not the LF: the line is too long all the same,
     * whether it came in one read or many (found by fuzz_framing). */
    BAD("+0123456789012345678901234567890123456789\r", 32, "reply larger than 32 bytes");
}

Test(framing, replies_too_deep) {
    char in[4 * (IOL_RESP_MAX_DEPTH + 2) + 8];
    size_t n = 0;
    for (int i = 0; i < IOL_RESP_MAX_DEPTH + 1; i++)
        n += (size_t)sprintf(in + n, "*1\r\n");
    n += (size_t)sprintf(in + n, ":1\r\n");
    bad_reply(in, n, 0, "nested deeper than");
    /* One level less is fine. */
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0);
    fed_t *r = malloc(sizeof(*r));
    feed(&f, in + 4, n - 4, 7, r);
    cr_assert_not(r->error, "%s", r->why);
    cr_assert_eq(r->n, 1);
    const iol_resp_value_t *v = r->u[0]->reply;
    for (int i = 0; i < IOL_RESP_MAX_DEPTH; i++) {
        cr_assert_eq(v->type, IOL_RESP_ARRAY);
        v = &v->elems[0];
    }
    cr_assert_eq(v->integer, 1);
    fed_free(r);
    free(r);
}

/* A large array arriving in small pieces: the scan resumes, never restarts
 * (this would take minutes if every read rescanned the reply). */
Test(framing, replies_large_array_small_reads) {
    size_t n = 200000, cap = n * 12 + 32, len = 0;
    char *in = malloc(cap);
    len += (size_t)sprintf(in, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(in + len, ":%zu\r\n", i);
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0);
    fed_t *r = malloc(sizeof(*r));
    feed(&f, in, len, 7, r);
    cr_assert_not(r->error, "%s", r->why);
    cr_assert_eq(r->n, 1);
    cr_assert_eq(r->u[0]->reply->n, n);
    cr_assert_eq(r->u[0]->reply->elems[n - 1].integer, (int64_t)n - 1);
    fed_free(r);
    free(r);
    free(in);
}

/* ---------------------------------------------------------------- LINE */

static const char lines_in[] = "$12345\r\n\n\r\nplain\n$EOF:abc\r\n";

static void check_lines(fed_t *r, size_t chunk) {
    cr_assert_not(r->error, "%s", r->why);
    cr_assert_eq(r->n, 5, "chunk %zu", chunk);
    const char *want[] = {"$12345", "", "", "plain", "$EOF:abc"};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(r->u[i]->kind, IOL_UNIT_LINE);
        cr_assert_str_eq(r->u[i]->data, want[i]);
        cr_assert_eq(r->u[i]->len, strlen(want[i]));
    }
    cr_assert_eq(wire_sum(r), sizeof(lines_in) - 1);
}

Test(framing, lines_every_split) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_LINE, 0);
    feed_all_splits(&f, lines_in, sizeof(lines_in) - 1, check_lines);
}

Test(framing, line_too_long) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_LINE, 0);
    f.max_unit = 8;
    fed_t *r = malloc(sizeof(*r));
    feed(&f, "12345678\r\n", 10, 3, r); /* exactly max: fine */
    cr_assert_not(r->error, "%s", r->why);
    cr_assert_str_eq(r->u[0]->data, "12345678");
    fed_free(r);
    for (size_t chunk = 1; chunk <= 11; chunk++) {
        feed(&f, "123456789\r\n", 11, chunk, r);
        cr_assert(r->error);
        cr_assert(strstr(r->why, "line longer than 8 bytes"), "%s", r->why);
        fed_free(r);
    }
    free(r);
}

/* ------------------------------------------------------------- RAW_LEN */

static char *pattern(size_t n) {
    char *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(i * 7 + (i >> 9));
    return p;
}

static void check_payload(fed_t *r, const char *want, size_t n, size_t wire) {
    cr_assert_not(r->error, "%s", r->why);
    cr_assert(r->ended, "no last chunk");
    size_t have = 0;
    for (int i = 0; i < r->n; i++) {
        cr_assert_eq(r->u[i]->kind, IOL_UNIT_PAYLOAD);
        cr_assert_eq(r->u[i]->last, i == r->n - 1);
        cr_assert_leq(have + r->u[i]->len, n);
        cr_assert_eq(memcmp(r->u[i]->data, want + have, r->u[i]->len), 0, "payload differs");
        have += r->u[i]->len;
    }
    cr_assert_eq(have, n);
    cr_assert_eq(wire_sum(r), wire);
    cr_assert_eq(r->consumed, wire);
}

Test(framing, raw_len) {
    size_t n = 100000;
    char *p = pattern(n + 10);
    memcpy(p + n, "*1\r\n$4\r\nPI", 10); /* what follows is not taken */
    iol_framing_t f = iol_framing_raw_len(n);
    size_t chunks[] = {1, 2, 3, 1000, 4096, 65536, n, n + 10};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        fed_t *r = malloc(sizeof(*r));
        feed(&f, p, n + 10, chunks[i], r);
        check_payload(r, p, n, n);
        fed_free(r);
        free(r);
    }
    free(p);
}

Test(framing, raw_len_zero) {
    iol_framing_t f = iol_framing_raw_len(0);
    fed_t *r = malloc(sizeof(*r));
    feed(&f, "abc", 3, 3, r);
    cr_assert_eq(r->n, 1);
    cr_assert(r->u[0]->last);
    cr_assert_eq(r->u[0]->len, 0);
    cr_assert_eq(r->consumed, 0);
    fed_free(r);
    free(r);
}

/* ------------------------------------------------------------- RAW_EOF */

static const char MARK[] = "0123456789abcdef0123456789abcdef01234567"; /* 40, as Redis */

static void eof_case(const char *payload, size_t n) {
    size_t m = sizeof(MARK) - 1;
    size_t len = n + m + 6;
    char *in = malloc(len);
    memcpy(in, payload, n);
    memcpy(in + n, MARK, m);
    memcpy(in + n + m, "+AFTER", 6);
    iol_framing_t f = iol_framing_raw_eof(MARK, m);
    for (size_t chunk = 1; chunk <= len; chunk += (chunk < 100 ? 1 : 97)) {
        fed_t *r = malloc(sizeof(*r));
        feed(&f, in, len, chunk, r);
        check_payload(r, payload, n, n + m);
        fed_free(r);
        free(r);
    }
    free(in);
}

Test(framing, raw_eof_mark_split_everywhere) {
    char *p = pattern(3000);
    eof_case(p, 3000);
    eof_case("", 0); /* the mark at once: an empty payload */
    eof_case("x", 1);
    /* Prefixes of the mark inside the payload, one right before the mark. */
    static const char tricky[] = "0123456789abcdef0123456789abcdef0123456" /* 39 of 40 */
                                 "00123456789abcdef0123456789abcdef0123456";
    eof_case(tricky, sizeof(tricky) - 1);
    free(p);
}

Test(framing, raw_eof_one_byte_mark) {
    iol_framing_t f = iol_framing_raw_eof("#", 1);
    fed_t *r = malloc(sizeof(*r));
    feed(&f, "abc#def", 7, 2, r);
    check_payload(r, "abc", 3, 4);
    fed_free(r);
    free(r);
}

/* -------------------------------------------------------------- BINARY */

static size_t bus_frame(char *out, uint32_t total, uint8_t seed) {
    memcpy(out, "RCmb", 4);
    out[4] = (char)(total >> 24);
    out[5] = (char)(total >> 16);
    out[6] = (char)(total >> 8);
    out[7] = (char)total;
    for (uint32_t i = 8; i < total; i++)
        out[i] = (char)(seed + i);
    return total;
}

static const uint32_t bus_sizes[] = {8, 9, 100, 2256, 70000};
static char bus_in[8 + 9 + 100 + 2256 + 70000];

static void check_bus(fed_t *r, size_t chunk) {
    cr_assert_not(r->error, "%s", r->why);
    cr_assert_eq(r->n, 5);
    size_t off = 0;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(r->u[i]->kind, IOL_UNIT_FRAME);
        cr_assert_eq(r->u[i]->len, bus_sizes[i]);
        cr_assert_eq(r->u[i]->wire_len, bus_sizes[i]);
        cr_assert_eq(memcmp(r->u[i]->data, bus_in + off, bus_sizes[i]), 0);
        off += bus_sizes[i];
    }
}

Test(framing, binary_frames) {
    size_t len = 0;
    for (int i = 0; i < 5; i++)
        len += bus_frame(bus_in + len, bus_sizes[i], (uint8_t)i);
    iol_framing_t f = iol_framing_cluster_bus(1 << 20);
    size_t chunks[] = {1, 2, 3, 5, 7, 8, 9, 13, 100, 4096, 65536, len};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        fed_t *r = malloc(sizeof(*r));
        feed(&f, bus_in, len, chunks[i], r);
        check_bus(r, chunks[i]);
        fed_free(r);
        free(r);
    }
}

Test(framing, binary_errors) {
    char buf[64];
    iol_framing_t f = iol_framing_cluster_bus(1000);
    fed_t *r = malloc(sizeof(*r));
    bus_frame(buf, 16, 0);
    buf[4] = 0x10; /* 268 MB */
    for (size_t chunk = 1; chunk <= 9; chunk++) {
        feed(&f, buf, 16, chunk, r);
        cr_assert(r->error);
        cr_assert(strstr(r->why, "frame too large (268435472 bytes, max 1000)"), "%s", r->why);
        cr_assert_eq(r->n, 0);
        fed_free(r);
    }
    bus_frame(buf, 7, 0);
    feed(&f, buf, 8, 8, r);
    cr_assert(r->error);
    cr_assert(strstr(r->why, "below the minimum 8"), "%s", r->why);
    fed_free(r);
    bus_frame(buf, 16, 0);
    buf[2] = 'X';
    feed(&f, buf, 16, 3, r);
    cr_assert(r->error);
    cr_assert(strstr(r->why, "bad frame signature"), "%s", r->why);
    fed_free(r);
    free(r);
}

/* A 2-byte length that counts only the body, no signature. */
Test(framing, binary_body_length) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_BINARY, 0);
    f.len_size = 2;
    f.len_excludes_header = true;
    static const char in[] = "\x00\x03"
                             "abc"
                             "\x00\x00"
                             "\x00\x01"
                             "z";
    fed_t *r = malloc(sizeof(*r));
    feed(&f, in, sizeof(in) - 1, 1, r);
    cr_assert_not(r->error, "%s", r->why);
    cr_assert_eq(r->n, 3);
    cr_assert_eq(r->u[0]->len, 5);
    cr_assert_eq(memcmp(r->u[0]->data + 2, "abc", 3), 0);
    cr_assert_eq(r->u[1]->len, 2);
    cr_assert_eq(r->u[2]->len, 3);
    fed_free(r);
    free(r);
}

/* ------------------------------------------------------- RESP requests */

static const char req_in[] = "*1\r\n$4\r\nPING\r\n"
                             "\r\n"
                             "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nxy\r\n"
                             "*0\r\n"
                             "*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n";

static void check_req(fed_t *r, size_t chunk) {
    cr_assert_not(r->error, "%s", r->why);
    uint32_t cmds = 0;
    const char *names[] = {"PING", "SET", "SELECT"};
    const uint32_t wire[] = {14, 2 + 31, 4 + 23};
    for (int i = 0; i < r->n; i++) {
        iol_unit_t *u = r->u[i];
        cr_assert_eq(u->kind, IOL_UNIT_COMMANDS);
        uint64_t sum = 0;
        for (uint32_t c = 0; c < u->batch.ncmds; c++, cmds++) {
            cr_assert_lt(cmds, 3);
            cr_assert_str_eq(resp_batch_argv(&u->batch, c)[0].ptr, names[cmds]);
            cr_assert_eq(u->cmd_wire[c], wire[cmds], "chunk %zu cmd %u wire %u", chunk, cmds,
                         u->cmd_wire[c]);
            sum += u->cmd_wire[c];
        }
        cr_assert_eq(u->wire_len, sum);
    }
    cr_assert_eq(cmds, 3, "chunk %zu: %u commands", chunk, cmds);
    cr_assert_eq(wire_sum(r), sizeof(req_in) - 1);
    /* Each unit carries its commands' raw bytes (a replica passes them on):
     * together they are the input, byte for byte, whatever the splits. */
    char raw[sizeof(req_in)];
    size_t have = 0;
    for (int i = 0; i < r->n; i++) {
        cr_assert_eq(r->u[i]->len, r->u[i]->wire_len, "chunk %zu", chunk);
        cr_assert_leq(have + r->u[i]->len, sizeof(req_in) - 1);
        memcpy(raw + have, r->u[i]->data, r->u[i]->len);
        have += r->u[i]->len;
    }
    cr_assert_eq(have, sizeof(req_in) - 1, "chunk %zu", chunk);
    cr_assert_eq(memcmp(raw, req_in, have), 0, "chunk %zu", chunk);
    cr_assert_str_eq(
        resp_batch_argv(&r->u[r->n - 1]->batch, r->u[r->n - 1]->batch.ncmds - 1)[1].ptr, "1");
}

Test(framing, requests_every_split) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RESP_REQUESTS, 0);
    feed_all_splits(&f, req_in, sizeof(req_in) - 1, check_req);
}

Test(framing, requests_bad) {
    iol_framing_t f = iol_framing_make(IOL_FRAMING_RESP_REQUESTS, 0);
    fed_t *r = malloc(sizeof(*r));
    feed(&f, "*1\r\n$4\r\nPING\r\n*x\r\n", 18, 18, r);
    cr_assert(r->error);
    cr_assert(strstr(r->why, "invalid multibulk length"), "%s", r->why);
    /* The command before the bad one is not lost. */
    cr_assert_eq(r->n, 1);
    cr_assert_eq(r->u[0]->batch.ncmds, 1);
    cr_assert_str_eq(resp_batch_argv(&r->u[0]->batch, 0)[0].ptr, "PING");
    fed_free(r);
    f.max_unit = 10;
    feed(&f, "*1\r\n$11\r\n", 9, 9, r);
    cr_assert(r->error);
    cr_assert(strstr(r->why, "invalid bulk length"), "%s", r->why);
    fed_free(r);
    free(r);
}

Test(framing, check_rejects) {
    const char *why = NULL;
    iol_framing_t f = iol_framing_raw_eof("", 0);
    cr_assert_eq(iol_framing_check(&f, &why), -1);
    f = iol_framing_cluster_bus(0);
    f.len_size = 3;
    cr_assert_eq(iol_framing_check(&f, &why), -1);
    f = iol_framing_make(9, 0);
    cr_assert_eq(iol_framing_check(&f, &why), -1);
    f = iol_framing_make(IOL_FRAMING_LINE, 0x80);
    cr_assert_eq(iol_framing_check(&f, &why), -1);
    cr_assert_not_null(why);
}
