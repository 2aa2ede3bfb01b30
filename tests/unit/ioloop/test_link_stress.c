/* Stress test for outbound links (suite 'stress'; also run under
 * ThreadSanitizer): several links on several I/O threads, each receiving
 * thousands of binary frames of varying sizes after a framing switch, with a
 * small credit so the links stall and resume all the time, while the
 * executor writes acknowledgements back. Every frame is checked (order and
 * content), every acknowledgement is checked by the server, every link must
 * end with the peer's close, and ioloop must shut down with nothing left.
 *
 * A plain program rather than a Criterion test: Criterion cannot start under
 * ThreadSanitizer (see test_ring.c), and this test exists for TSan. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((format(printf, 4, 5))) static void check(int ok, const char *expr, int line,
                                                        const char *fmt, ...) {
    if (ok) return;
    fprintf(stderr, "test_link_stress.c:%d: assertion failed: %s. ", line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define cr_assert(cond, ...) check(!!(cond), #cond, __LINE__, " " __VA_ARGS__)
#define cr_assert_not(cond, ...) cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_fail(...) check(0, "fail", __LINE__, __VA_ARGS__)

#include "link_harness.h"

#define LINKS 8
#define FRAMES 20000
#define ACK_EVERY 50

static char *stream;
static size_t stream_len;
static char acks[(FRAMES / ACK_EVERY) * 5 + 1];

static uint32_t frame_size(uint32_t seq) {
    return 12 + (seq * 2654435761u) % 1500;
}

static void build_stream(void) {
    size_t cap = 8;
    for (uint32_t i = 0; i < FRAMES; i++)
        cap += frame_size(i);
    stream = malloc(cap + 8);
    memcpy(stream, "+READY\r\n", 8);
    size_t n = 8;
    for (uint32_t seq = 0; seq < FRAMES; seq++) {
        uint32_t total = frame_size(seq);
        char *f = stream + n;
        memcpy(f, "RCmb", 4);
        f[4] = (char)(total >> 24);
        f[5] = (char)(total >> 16);
        f[6] = (char)(total >> 8);
        f[7] = (char)total;
        memcpy(f + 8, &seq, 4);
        for (uint32_t i = 12; i < total; i++)
            f[i] = (char)(seq * 7 + i);
        n += total;
    }
    stream_len = n;
    for (int i = 0; i < FRAMES / ACK_EVERY; i++)
        memcpy(acks + i * 5, "ACK\r\n", 5);
}

typedef struct lstate {
    rec_t r; /* only connected/closed/status are used */
    uint32_t next_seq;
    bool bad;
} lstate_t;

static void st_connected(iol_link_t *l, void *ud) {
    lstate_t *s = ud;
    s->r.connected = true;
    iol_link_write(l, "HELLO\r\n", 7);
}

static void st_unit(iol_link_t *l, void *ud, const iol_unit_t *u) {
    lstate_t *s = ud;
    if (u->kind == IOL_UNIT_REPLY) {
        cr_assert(u->stopped);
        cr_assert(u->reply->type == IOL_RESP_STATUS && strcmp(u->reply->str, "READY") == 0);
        iol_framing_t f = iol_framing_cluster_bus(4096);
        cr_assert_eq(iol_link_set_framing(l, &f), 0);
        return;
    }
    cr_assert_eq(u->kind, IOL_UNIT_FRAME);
    uint32_t seq;
    memcpy(&seq, u->data + 8, 4);
    cr_assert_eq(seq, s->next_seq, "frame %u where %u was due", seq, s->next_seq);
    cr_assert_eq(u->len, frame_size(seq));
    for (uint32_t i = 12; i < u->len; i++)
        if (u->data[i] != (char)(seq * 7 + i)) s->bad = true;
    s->next_seq++;
    if (s->next_seq % ACK_EVERY == 0) iol_link_write(l, "ACK\r\n", 5);
}

static void st_closed(iol_link_t *l, void *ud, int status, const char *reason) {
    lstate_t *s = ud;
    cr_assert_not(s->r.closed);
    s->r.closed = true;
    s->r.status = status;
    snprintf(s->r.reason, sizeof(s->r.reason), "%s", reason);
}

static const iol_link_hooks_t st_hooks = {st_connected, st_unit, st_closed};

static void run(int nthreads) {
    step_t script[] = {
        EXPECT("HELLO\r\n"),
        WRITE_BUF(stream, stream_len, 1500, 0),
        {S_EXPECT, acks, sizeof(acks) - 1, 0, 0},
        CLOSE(),
        END(),
    };
    harness_start(nthreads);
    server_t srv;
    server_start(&srv, CONN_KIND_TCP, script);
    static lstate_t st[LINKS];
    memset(st, 0, sizeof(st));
    for (int i = 0; i < LINKS; i++) {
        iol_link_opts_t o;
        memset(&o, 0, sizeof(o));
        o.host = i % 2 ? "127.0.0.1" : "localhost";
        o.port = srv.port;
        o.thread = -1;
        o.framing = iol_framing_make(IOL_FRAMING_RESP_REPLIES, IOL_FRAMING_STOP);
        o.max_inflight = 8192;
        o.hooks = &st_hooks;
        o.ud = &st[i];
        o.connect_timeout_ms = 20000;
        link_start(&o);
    }
    bool all = false;
    uint64_t deadline = h_now_ms() + 240000;
    while (!all && h_now_ms() < deadline) {
        uv_run(&h_loop, UV_RUN_ONCE);
        all = true;
        for (int i = 0; i < LINKS; i++)
            all &= st[i].r.closed;
    }
    cr_assert(all, "not every link closed in time");
    for (int i = 0; i < LINKS; i++) {
        cr_assert_eq(st[i].r.status, UV_EOF, "link %d: %d %s", i, st[i].r.status, st[i].r.reason);
        cr_assert_eq(st[i].next_seq, FRAMES, "link %d got %u frames", i, st[i].next_seq);
        cr_assert_not(st[i].bad, "link %d: frame content differs", i);
    }
    server_stop(&srv);
    cr_assert_eq(atomic_load(&srv.finished), LINKS);
    harness_stop();
    fprintf(stderr, "[info] io-threads %d: %d links x %d frames ok\n", nthreads + 1, LINKS, FRAMES);
}

int main(void) {
    build_stream();
    run(3);
    run(0);
    free(stream);
    return 0;
}
