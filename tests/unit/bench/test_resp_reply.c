/* Tests for bench/resp_reply.c. Every reply of every RESP2/RESP3 type is fed
 * whole, split in two at every byte boundary, one byte at a time, and as one
 * long stream cut at every boundary; all must give the same summaries. Each
 * piece is copied into an exact-size allocation so that ASan catches reads
 * past a piece. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "kl_alloc.h"
#include "kl_util.h"
#include "resp_reply.h"

typedef struct rcase {
    const char *raw;
    char type;
    int err, push, null, attr;
    long long integer;
    unsigned long long nodes;
    const char *text;
} rcase_t;

static const rcase_t cases[] = {
    /* RESP2 */
    {"+OK\r\n", '+', 0, 0, 0, 0, 0, 1, "OK"},
    {"+\r\n", '+', 0, 0, 0, 0, 0, 1, ""},
    {"-ERR unknown command 'FOO'\r\n", '-', 1, 0, 0, 0, 0, 1, "ERR unknown command 'FOO'"},
    {":1000\r\n", ':', 0, 0, 0, 0, 1000, 1, ""},
    {":-42\r\n", ':', 0, 0, 0, 0, -42, 1, ""},
    {":9223372036854775807\r\n", ':', 0, 0, 0, 0, 9223372036854775807LL, 1, ""},
    {"$5\r\nhello\r\n", '$', 0, 0, 0, 0, 5, 1, "hello"},
    {"$0\r\n\r\n", '$', 0, 0, 0, 0, 0, 1, ""},
    {"$4\r\na\r\nb\r\n", '$', 0, 0, 0, 0, 4, 1, "a\r\nb"},
    {"$-1\r\n", '$', 0, 0, 1, 0, -1, 1, ""},
    {"*-1\r\n", '*', 0, 0, 1, 0, -1, 1, ""},
    {"*0\r\n", '*', 0, 0, 0, 0, 0, 1, ""},
    {"*3\r\n:1\r\n:2\r\n:3\r\n", '*', 0, 0, 0, 0, 3, 4, ""},
    {"*2\r\n*2\r\n+a\r\n-b\r\n$1\r\nc\r\n", '*', 0, 0, 0, 0, 2, 5, "a"},
    {"*3\r\n$3\r\nfoo\r\n$-1\r\n*0\r\n", '*', 0, 0, 0, 0, 3, 4, "foo"},
    /* RESP3 */
    {"_\r\n", '_', 0, 0, 1, 0, -1, 1, ""},
    {",3.14\r\n", ',', 0, 0, 0, 0, 0, 1, "3.14"},
    {",-inf\r\n", ',', 0, 0, 0, 0, 0, 1, "-inf"},
    {"#t\r\n", '#', 0, 0, 0, 0, 1, 1, ""},
    {"#f\r\n", '#', 0, 0, 0, 0, 0, 1, ""},
    {"!21\r\nSYNTAX invalid syntax\r\n", '!', 1, 0, 0, 0, 21, 1, "SYNTAX invalid syntax"},
    {"=15\r\ntxt:Some string\r\n", '=', 0, 0, 0, 0, 15, 1, "txt:Some string"},
    {"(3492890328409238509324850943850943825024385\r\n", '(', 0, 0, 0, 0, 0, 1,
     "3492890328409238509324850943850943825024385"},
    {"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", '%', 0, 0, 0, 0, 2, 5, "first"},
    {"%0\r\n", '%', 0, 0, 0, 0, 0, 1, ""},
    {"~3\r\n+a\r\n+b\r\n+c\r\n", '~', 0, 0, 0, 0, 3, 4, "a"},
    {">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n", '>', 0, 1, 0, 0, 2, 4, "invalidate"},
    /* Attributes: folded into the reply that follows, never captured. */
    {"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
     "*2\r\n:2039123\r\n:9543892\r\n",
     '*', 0, 0, 0, 1, 2, 10, ""},
    {"*2\r\n|1\r\n+ttl\r\n:3600\r\n+x\r\n:2\r\n", '*', 0, 0, 0, 0, 2, 6, "x"},
    {"|0\r\n-ERR after attr\r\n", '-', 1, 0, 0, 1, 0, 2, "ERR after attr"},
    /* Streamed strings and aggregates. */
    {"$?\r\n;4\r\nHell\r\n;6\r\no worl\r\n;1\r\nd\r\n;0\r\n", '$', 0, 0, 0, 0, 11, 1,
     "Hello world"},
    {"$?\r\n;0\r\n", '$', 0, 0, 0, 0, 0, 1, ""},
    {"*?\r\n:1\r\n:2\r\n:3\r\n.\r\n", '*', 0, 0, 0, 0, 3, 4, ""},
    {"~?\r\n*?\r\n+a\r\n.\r\n%?\r\n.\r\n.\r\n", '~', 0, 0, 0, 0, 2, 4, "a"},
    {"*1\r\n$?\r\n;2\r\nab\r\n;0\r\n", '*', 0, 0, 0, 0, 1, 2, "ab"},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

typedef struct got {
    int n;
    rr_reply_t r[64];
} got_t;

/* Feed the pieces [cuts[i], cuts[i+1]) of raw; each piece is its own exact
 * allocation. Returns RR_ERR on a protocol error, else 0. */
static int feed_cuts(rr_parser_t *p, const char *raw, size_t len, const size_t *cuts, int ncuts,
                     got_t *g) {
    for (int i = 0; i + 1 < ncuts; i++) {
        size_t n = cuts[i + 1] - cuts[i];
        char *piece = kl_memdup(raw + cuts[i], n ? n : 1);
        size_t off = 0;
        while (off < n) {
            size_t used = 0;
            int r = rr_parse(p, piece + off, n - off, &used);
            cr_assert_leq(used, n - off);
            off += used;
            if (r == RR_ERR) {
                kl_free(piece);
                return RR_ERR;
            }
            if (r == RR_MORE) {
                cr_assert_eq(off, n, "RR_MORE must consume everything");
                break;
            }
            cr_assert_lt(g->n, 64);
            g->r[g->n++] = p->reply;
        }
        kl_free(piece);
    }
    (void)len;
    return 0;
}

static void check(const rcase_t *c, const rr_reply_t *r, const char *how) {
    cr_assert_eq(r->type, c->type, "%s %s: type %c", how, c->raw, r->type);
    cr_assert_eq(r->is_error, c->err, "%s %s: is_error", how, c->raw);
    cr_assert_eq(r->is_push, c->push, "%s %s: is_push", how, c->raw);
    cr_assert_eq(r->is_null, c->null, "%s %s: is_null", how, c->raw);
    cr_assert_eq(r->has_attr, c->attr, "%s %s: has_attr", how, c->raw);
    cr_assert_eq(r->integer, c->integer, "%s %s: integer %lld", how, c->raw, (long long)r->integer);
    cr_assert_eq(r->nodes, c->nodes, "%s %s: nodes %llu", how, c->raw,
                 (unsigned long long)r->nodes);
    cr_assert_eq(r->bytes, strlen(c->raw), "%s %s: bytes", how, c->raw);
    cr_assert_eq(r->text_len, strlen(c->text), "%s %s: text_len", how, c->raw);
    cr_assert_str_eq(r->text, c->text, "%s %s: text", how, c->raw);
}

Test(resp_reply, every_type_every_split) {
    for (size_t i = 0; i < NCASES; i++) {
        const rcase_t *c = &cases[i];
        size_t len = strlen(c->raw);
        rr_parser_t p;
        got_t g;
        /* Whole. */
        rr_init(&p);
        g.n = 0;
        size_t whole[] = {0, len};
        cr_assert_eq(feed_cuts(&p, c->raw, len, whole, 2, &g), 0, "%s: %s", c->raw, rr_error(&p));
        cr_assert_eq(g.n, 1, "%s", c->raw);
        check(c, &g.r[0], "whole");
        cr_assert_not(rr_busy(&p));
        /* Two pieces, cut at every boundary. */
        for (size_t cut = 1; cut < len; cut++) {
            size_t cuts[] = {0, cut, len};
            g.n = 0;
            cr_assert_eq(feed_cuts(&p, c->raw, len, cuts, 3, &g), 0);
            cr_assert_eq(g.n, 1, "%s cut %zu", c->raw, cut);
            check(c, &g.r[0], "split");
        }
        /* One byte at a time. */
        size_t *cuts = kl_malloc((len + 1) * sizeof(*cuts));
        for (size_t k = 0; k <= len; k++)
            cuts[k] = k;
        g.n = 0;
        cr_assert_eq(feed_cuts(&p, c->raw, len, cuts, (int)len + 1, &g), 0);
        cr_assert_eq(g.n, 1);
        check(c, &g.r[0], "bytewise");
        kl_free(cuts);
    }
}

/* All replies back to back in one stream, cut into two at every boundary
 * and into three at many: the same sequence each time. */
Test(resp_reply, stream_of_all_types) {
    kl_buf_t s = {0};
    for (size_t i = 0; i < NCASES; i++)
        kl_buf_append_str(&s, cases[i].raw);
    rr_parser_t p;
    rr_init(&p);
    static got_t g;
    for (size_t cut = 0; cut <= s.len; cut++) {
        size_t cuts[] = {0, cut, s.len};
        g.n = 0;
        cr_assert_eq(feed_cuts(&p, s.p, s.len, cuts, 3, &g), 0);
        cr_assert_eq(g.n, (int)NCASES, "cut %zu", cut);
        for (size_t i = 0; i < NCASES; i++)
            check(&cases[i], &g.r[i], "stream");
    }
    for (size_t a = 1; a < s.len; a += 7) {
        for (size_t b = a; b < s.len; b += 13) {
            size_t cuts[] = {0, a, b, s.len};
            g.n = 0;
            cr_assert_eq(feed_cuts(&p, s.p, s.len, cuts, 4, &g), 0);
            cr_assert_eq(g.n, (int)NCASES);
        }
    }
    kl_buf_free(&s);
}

Test(resp_reply, long_texts_are_truncated) {
    kl_buf_t s = {0};
    kl_buf_append_str(&s, "-ERR ");
    for (int i = 0; i < 300; i++)
        kl_buf_append_char(&s, (char)('a' + i % 26));
    kl_buf_append_str(&s, "\r\n$1000\r\n");
    for (int i = 0; i < 1000; i++)
        kl_buf_append_char(&s, 'z');
    kl_buf_append_str(&s, "\r\n+OK\r\n");
    for (size_t cut = 0; cut <= s.len; cut += 5) {
        rr_parser_t p;
        rr_init(&p);
        got_t g = {0};
        size_t cuts[] = {0, cut, s.len};
        cr_assert_eq(feed_cuts(&p, s.p, s.len, cuts, 3, &g), 0);
        cr_assert_eq(g.n, 3);
        cr_assert(g.r[0].is_error);
        cr_assert(g.r[0].text_trunc);
        cr_assert_eq(g.r[0].text_len, RR_TEXT_MAX - 1);
        cr_assert_eq(memcmp(g.r[0].text, "ERR abc", 7), 0);
        cr_assert_eq(g.r[0].bytes, 5 + 300 + 2);
        cr_assert(g.r[1].text_trunc);
        cr_assert_eq(g.r[1].integer, 1000);
        cr_assert_eq(g.r[1].text_len, RR_TEXT_MAX - 1);
        cr_assert_not(g.r[2].text_trunc);
        cr_assert_str_eq(g.r[2].text, "OK");
    }
    kl_buf_free(&s);
}

Test(resp_reply, deep_nesting) {
    kl_buf_t s = {0};
    for (int i = 0; i < RR_MAX_DEPTH; i++)
        kl_buf_append_str(&s, "*1\r\n");
    kl_buf_append_str(&s, ":7\r\n");
    rr_parser_t p;
    rr_init(&p);
    got_t g = {0};
    size_t cuts[] = {0, s.len};
    cr_assert_eq(feed_cuts(&p, s.p, s.len, cuts, 2, &g), 0);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.r[0].nodes, RR_MAX_DEPTH + 1);
    kl_buf_clear(&s);
    for (int i = 0; i <= RR_MAX_DEPTH; i++)
        kl_buf_append_str(&s, "*1\r\n");
    kl_buf_append_str(&s, ":7\r\n");
    rr_init(&p);
    size_t cuts2[] = {0, s.len};
    cr_assert_eq(feed_cuts(&p, s.p, s.len, cuts2, 2, &g), RR_ERR);
    cr_assert_str_eq(rr_error(&p), "reply nested too deeply");
    kl_buf_free(&s);
}

Test(resp_reply, protocol_errors) {
    static const char *bad[] = {
        "?\r\n",        "+OK\rX",       "$abc\r\n", "$-2\r\n",     "$3\r\nabcd\r\n",
        "$3\r\nabc\rx", "#x\r\n",       "#\r\n",    "_x\r\n",      ".\r\n",
        "*-2\r\n",      ":12a\r\n",     ":\r\n",    "*1\r\n.\r\n", "$?\r\n+\r\n",
        "%-1\r\n",      "$01\r\na\r\n", ";1\r\n",   "|?\r\n",      ":99999999999999999999\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);
        for (size_t cut = 0; cut <= len; cut++) {
            rr_parser_t p;
            rr_init(&p);
            got_t g = {0};
            size_t cuts[] = {0, cut, len};
            cr_assert_eq(feed_cuts(&p, bad[i], len, cuts, 3, &g), RR_ERR, "%s accepted", bad[i]);
            cr_assert_eq(g.n, 0);
            cr_assert_str_neq(rr_error(&p), "no error");
        }
    }
}

/* A reply split in the middle leaves the parser busy; RR_MORE consumed all. */
Test(resp_reply, partial_state) {
    rr_parser_t p;
    rr_init(&p);
    size_t used;
    cr_assert_eq(rr_parse(&p, "$5\r\nhel", 7, &used), RR_MORE);
    cr_assert_eq(used, 7);
    cr_assert(rr_busy(&p));
    cr_assert_eq(rr_parse(&p, "lo\r\n+OK\r\n", 9, &used), RR_REPLY);
    cr_assert_eq(used, 4);
    cr_assert_str_eq(p.reply.text, "hello");
    cr_assert_eq(rr_parse(&p, "+OK\r\n", 5, &used), RR_REPLY);
    cr_assert_eq(used, 5);
    cr_assert_not(rr_busy(&p));
}
