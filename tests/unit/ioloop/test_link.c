/* Unit tests for ioloop/link.c: outbound links over loopback (plain TCP; TLS
 * is in tests/unit/tls/test_tls_link.c), each run twice: with io-threads 1
 * (the main loop is the I/O thread) and with two I/O threads. A scripted
 * server (link_harness.h) writes the bytes in many small writes with pauses,
 * so units arrive split across reads at every kind of boundary.
 *
 * Covered: every framing kind, the framing switches of a master link
 * (+FULLRESYNC, newline keep-alives, "$<len>", the payload, the command
 * stream), an EOF-marked payload whose mark is split across reads, binary
 * frames with split headers, oversize frames and bad RESP, refused, timed
 * out and unresolvable connects, closing (by the peer, by the executor, by
 * shutdown), back-pressure with a tiny credit, and option checking. */
#include <criterion/criterion.h>

#include "link_harness.h"

#define BOTH(name)                                                                                 \
    static void name(int nthreads);                                                                \
    Test(link, name##_io1) {                                                                       \
        name(0);                                                                                   \
    }                                                                                              \
    Test(link, name##_iothreads) {                                                                 \
        name(2);                                                                                   \
    }                                                                                              \
    static void name(int nthreads)

TestSuite(link, .timeout = 60);

/* ------------------------------------------------------- RESP replies */

static const step_t replies_script[] = {
    EXPECT("*1\r\n$4\r\nPING\r\n"),
    WRITE_CHUNKED("+OK\r\n-ERR bad thing\r\n:42\r\n$5\r\nhello\r\n*2\r\n*1\r\n:1\r\n%1\r\n+k\r\n"
                  "~1\r\n#t\r\n$-1\r\n*-1\r\n,2.5\r\n|1\r\n+ttl\r\n:3\r\n+V\r\n>2\r\n+pubsub\r\n"
                  "$1\r\nx\r\n",
                  3, 1),
    CLOSE(),
    END(),
};

/* Replies of every type, three bytes per write; the request is written
 * before the link is even connected; the peer's close ends the link. */
BOTH(replies) {
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, replies_script);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    o.thread = 1;
    iol_link_t *l = link_start(&o);
    cr_assert_eq(iol_link_thread(l), nthreads ? 2 : 0);
    iol_link_write(l, "*1\r\n$4\r\nPING\r\n", 14);
    RUN_UNTIL(r.closed, 10000);
    cr_assert(r.connected);
    cr_assert(r.connected_before_units);
    cr_assert_str_eq(r.log, "+OK\n-ERR bad thing\n:42\n$hello\n*[*[:1],%{+k:~{#t}}]\n_\n_\n,2.5\n"
                            "|{+ttl::3}+V\n>[+pubsub,$x]\n");
    cr_assert_eq(r.status, UV_EOF, "status %d (%s)", r.status, r.reason);
    char want[64];
    snprintf(want, sizeof(want), "connection closed by 127.0.0.1:%d", s.port);
    cr_assert_str_eq(r.reason, want);
    cr_assert(r.offsets_ok);
    server_stop(&s);
    harness_stop();
    cr_assert_eq(r.closed_calls, 1);
    rec_free(&r);
}

/* ---------------------------------------------- a master link's stream */

#define PAYLOAD_LEN 100000
static char payload[PAYLOAD_LEN];
static const char fullresync[] = "+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0\r\n";
static const char commands[] =
    "*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n";

static void fill_payload(void) {
    for (size_t i = 0; i < PAYLOAD_LEN; i++)
        payload[i] = (char)(i * 31 + (i >> 8));
}

/* What a replica does: +FULLRESYNC (stop) -> lines, skipping newline
 * keep-alives -> "$<len>" -> the payload -> the command stream. */
static void repl_step(rec_t *r, iol_link_t *l, const iol_unit_t *u) {
    iol_framing_t f;
    switch (u->kind) {
    case IOL_UNIT_REPLY:
        cr_assert(u->stopped);
        f = iol_framing_make(IOL_FRAMING_LINE, IOL_FRAMING_STOP);
        cr_assert_eq(iol_link_set_framing(l, &f), 0);
        break;
    case IOL_UNIT_LINE:
        cr_assert(u->stopped);
        if (u->len == 0) {
            iol_link_resume(l);
            break;
        }
        cr_assert_eq(u->data[0], '$');
        f = iol_framing_raw_len(strtoull(u->data + 1, NULL, 10));
        cr_assert_eq(iol_link_set_framing(l, &f), 0);
        break;
    case IOL_UNIT_PAYLOAD:
        cr_assert_eq(u->stopped, u->last);
        if (u->last) {
            f = iol_framing_make(IOL_FRAMING_RESP_REQUESTS, 0);
            cr_assert_eq(iol_link_set_framing(l, &f), 0);
        }
        break;
    case IOL_UNIT_COMMANDS:
        cr_assert_not(u->stopped);
        if (strstr(r->log, "C:SET")) iol_link_close(l, false);
        break;
    default:
        cr_assert_fail("unexpected unit kind %d", u->kind);
    }
}

/* The sink variant: the payload goes to sink_fd, written by the link's I/O
 * thread; the units only report progress. */
static int sink_fd = -1;
static int sink_units, sink_errs;

static void sink_step(rec_t *r, iol_link_t *l, const iol_unit_t *u) {
    if (u->kind == IOL_UNIT_LINE && u->len > 0) {
        cr_assert_eq(u->data[0], '$');
        iol_framing_t f = iol_framing_raw_len(strtoull(u->data + 1, NULL, 10));
        /* Not a payload framing: refused. */
        iol_framing_t line = iol_framing_make(IOL_FRAMING_LINE, 0);
        cr_assert_eq(iol_link_set_framing_sink(l, &line, sink_fd), UV_EINVAL);
        cr_assert_eq(iol_link_set_framing_sink(l, &f, sink_fd), 0);
        return;
    }
    if (u->kind == IOL_UNIT_PAYLOAD) {
        cr_assert(u->sunk);
        sink_units++;
        if (u->sink_err) sink_errs++;
    }
    repl_step(r, l, u);
}

static void master_stream_sink(int nthreads) {
    fill_payload();
    char path[] = "/tmp/kl-link-sink-XXXXXX";
    sink_fd = mkstemp(path);
    cr_assert_geq(sink_fd, 0);
    unlink(path);
    sink_units = sink_errs = 0;
    static char stream[sizeof(fullresync) + 16 + PAYLOAD_LEN + sizeof(commands)];
    size_t n = 0;
    memcpy(stream + n, fullresync, sizeof(fullresync) - 1);
    n += sizeof(fullresync) - 1;
    memcpy(stream + n, "\n$100000\r\n", 10);
    n += 10;
    memcpy(stream + n, payload, PAYLOAD_LEN);
    n += PAYLOAD_LEN;
    memcpy(stream + n, commands, sizeof(commands) - 1);
    n += sizeof(commands) - 1;
    step_t script[] = {EXPECT("*1\r\n$4\r\nPING\r\n"), WRITE_BUF(stream, n, 1500, 1), WAIT_EOF(),
                       END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    r.step = sink_step;
    iol_link_opts_t o =
        link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, IOL_FRAMING_STOP));
    iol_link_t *l = link_start(&o);
    iol_link_write(l, "*1\r\n$4\r\nPING\r\n", 14);
    RUN_UNTIL(r.closed, 20000);
    cr_assert_str_eq(r.log, "+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0\nL:\n"
                            "L:$100000\nP:100000\nC:PING\nC:SET key va\r\nl\n");
    cr_assert_gt(sink_units, 1);
    cr_assert_eq(sink_errs, 0);
    /* The file holds the payload, byte for byte. */
    static char back[PAYLOAD_LEN + 1];
    cr_assert_eq(pread(sink_fd, back, sizeof(back), 0), PAYLOAD_LEN);
    cr_assert_eq(memcmp(back, payload, PAYLOAD_LEN), 0, "file differs");
    close(sink_fd);
    sink_fd = -1;
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

/* The payload through a sink (a replica's RDB to its temp file). */
BOTH(master_stream_sink_to_file) {
    master_stream_sink(nthreads);
}

static void master_stream(int nthreads, bool at_once) {
    fill_payload();
    static char stream[sizeof(fullresync) + 16 + PAYLOAD_LEN + sizeof(commands)];
    size_t n = 0;
    memcpy(stream + n, fullresync, sizeof(fullresync) - 1);
    n += sizeof(fullresync) - 1;
    memcpy(stream + n, "\n\n$100000\r\n", 11);
    n += 11;
    memcpy(stream + n, payload, PAYLOAD_LEN);
    n += PAYLOAD_LEN;
    memcpy(stream + n, commands, sizeof(commands) - 1);
    n += sizeof(commands) - 1;
    step_t script[8];
    int k = 0;
    script[k++] = (step_t)EXPECT("*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n");
    if (at_once) {
        script[k++] = (step_t)WRITE_BUF(stream, n, 0, 0);
    } else {
        size_t head = sizeof(fullresync) - 1;
        script[k++] = (step_t)WRITE_BUF(stream, head, 5, 1);
        script[k++] = (step_t)WRITE_BUF(stream + head, 11, 1, 1);
        script[k++] = (step_t)WRITE_BUF(stream + head + 11, PAYLOAD_LEN, 997, 1);
        script[k++] =
            (step_t)WRITE_BUF(stream + head + 11 + PAYLOAD_LEN, n - head - 11 - PAYLOAD_LEN, 4, 1);
    }
    script[k++] = (step_t)WAIT_EOF();
    script[k++] = (step_t)END();

    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    r.step = repl_step;
    iol_link_opts_t o =
        link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, IOL_FRAMING_STOP));
    iol_link_t *l = link_start(&o);
    iol_link_write(l, "*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n", 30);
    RUN_UNTIL(r.closed, 20000);
    cr_assert_str_eq(r.log, "+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0\nL:\nL:\n"
                            "L:$100000\nP:100000\nC:PING\nC:SET key va\r\nl\n");
    cr_assert_eq(r.status, 0, "status %d (%s)", r.status, r.reason);
    cr_assert_str_eq(r.reason, "closed");
    cr_assert_eq(r.payload_len, PAYLOAD_LEN);
    cr_assert_eq(memcmp(r.payload, payload, PAYLOAD_LEN), 0, "payload differs");
    if (!at_once) cr_assert_gt(r.payload_chunks, 10, "only %d chunks", r.payload_chunks);
    cr_assert(r.offsets_ok);
    cr_assert_eq(r.next_offset, n, "offsets cover %llu of %zu bytes",
                 (unsigned long long)r.next_offset, n);
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

/* The stream in many small writes: every switch meets a fresh read. */
BOTH(master_stream_split) {
    master_stream(nthreads, false);
}

/* The whole stream in one write: every switch happens inside one read
 * buffer, so the link must stop at each unit's last byte. */
BOTH(master_stream_one_write) {
    master_stream(nthreads, true);
}

/* ------------------------------------------------ EOF-marked payload */

static const char MARK[] = "f00dbabe0123456789abcdef0123456789abcdef"; /* 40, as Redis */

static void eof_step(rec_t *r, iol_link_t *l, const iol_unit_t *u) {
    iol_framing_t f;
    if (u->kind == IOL_UNIT_LINE) {
        cr_assert(strncmp(u->data, "$EOF:", 5) == 0, "line %s", u->data);
        cr_assert_eq(u->len, 45);
        f = iol_framing_raw_eof(u->data + 5, 40);
        cr_assert_eq(iol_link_set_framing(l, &f), 0);
    } else if (u->kind == IOL_UNIT_PAYLOAD && u->last) {
        f = iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0);
        cr_assert_eq(iol_link_set_framing(l, &f), 0);
    } else if (u->kind == IOL_UNIT_REPLY) {
        iol_link_close(l, false);
    }
}

static void eof_payload(int nthreads, size_t chunk) {
    fill_payload();
    size_t plen = 2000;
    static char stream[64 + 2000 + 64];
    size_t n = (size_t)sprintf(stream, "$EOF:%s\r\n", MARK);
    size_t pstart = n;
    memcpy(stream + n, payload, plen);
    n += plen;
    size_t mark_at = n;
    memcpy(stream + n, MARK, 40);
    n += 40;
    memcpy(stream + n, "+AFTER\r\n", 8);
    n += 8;
    step_t script[6];
    int k = 0;
    if (chunk) {
        script[k++] = (step_t)WRITE_BUF(stream, n, chunk, 1);
    } else {
        /* Cut inside the mark, with a pause: the mark arrives in two reads. */
        script[k++] = (step_t)WRITE_BUF(stream, mark_at + 17, 0, 0);
        script[k++] = (step_t)SLEEP(30);
        script[k++] = (step_t)WRITE_BUF(stream + mark_at + 17, n - mark_at - 17, 0, 0);
    }
    script[k++] = (step_t)WAIT_EOF();
    script[k++] = (step_t)END();
    (void)pstart;

    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    r.step = eof_step;
    iol_link_t *l = link_start(
        &(iol_link_opts_t){.host = "127.0.0.1",
                           .port = s.port,
                           .thread = -1,
                           .framing = iol_framing_make(IOL_FRAMING_LINE, IOL_FRAMING_STOP),
                           .hooks = &rec_hooks,
                           .ud = &r});
    (void)l;
    RUN_UNTIL(r.closed, 20000);
    char want[128];
    snprintf(want, sizeof(want), "L:$EOF:%s\nP:%zu\n+AFTER\n", MARK, plen);
    cr_assert_str_eq(r.log, want);
    cr_assert_eq(r.status, 0, "%d %s", r.status, r.reason);
    cr_assert_eq(r.payload_len, plen);
    cr_assert_eq(memcmp(r.payload, payload, plen), 0);
    cr_assert(r.offsets_ok);
    cr_assert_eq(r.next_offset, n);
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

BOTH(eof_mark_split_across_reads) {
    eof_payload(nthreads, 0);
}

BOTH(eof_payload_in_7_byte_writes) {
    eof_payload(nthreads, 7);
}

/* ------------------------------------------------------- binary frames */

static size_t put_frame(char *out, uint32_t total, uint8_t seed) {
    memcpy(out, "RCmb", 4);
    out[4] = (char)(total >> 24);
    out[5] = (char)(total >> 16);
    out[6] = (char)(total >> 8);
    out[7] = (char)total;
    for (uint32_t i = 8; i < total; i++)
        out[i] = (char)(seed * 7 + i);
    return total;
}

BOTH(binary_frames) {
    static const uint32_t sizes[] = {8, 9, 100, 2256, 70000, 12};
    static char stream[8 + 9 + 100 + 2256 + 70000 + 12];
    size_t n = 0, small = 0;
    for (int i = 0; i < 6; i++) {
        n += put_frame(stream + n, sizes[i], (uint8_t)i);
        if (i == 2) small = n;
    }
    step_t script[] = {
        WRITE_BUF(stream, small, 5, 1), /* headers split 5 + 3 */
        WRITE_BUF(stream + small, n - small, 4093, 0),
        CLOSE(),
        END(),
    };
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_cluster_bus(1 << 20));
    link_start(&o);
    RUN_UNTIL(r.closed, 20000);
    cr_assert_str_eq(r.log, "F:8\nF:9\nF:100\nF:2256\nF:70000\nF:12\n");
    cr_assert_eq(r.frames_len, n);
    cr_assert_eq(memcmp(r.frames, stream, n), 0, "frame bytes differ");
    cr_assert_eq(r.status, UV_EOF);
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

/* A frame over the maximum ends the link with a reason, after the good
 * frame before it. */
BOTH(binary_oversize_frame) {
    static char stream[100 + 8];
    put_frame(stream, 100, 1);
    memcpy(stream + 100, "RCmb\x00\x00\x13\x88", 8); /* a 5000-byte frame's header */
    step_t script[] = {WRITE_BUF(stream, 108, 3, 1), WAIT_EOF(), END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_cluster_bus(1000));
    link_start(&o);
    RUN_UNTIL(r.closed, 10000);
    cr_assert_str_eq(r.log, "F:100\n");
    cr_assert_eq(r.status, UV_EPROTO);
    char want[128];
    snprintf(want, sizeof(want),
             "protocol error from 127.0.0.1:%d: frame too large (5000 bytes, max 1000)", s.port);
    cr_assert_str_eq(r.reason, want);
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

BOTH(bad_resp) {
    static const step_t script[] = {WRITE_CHUNKED("+OK\r\n?garbage\r\n", 2, 1), WAIT_EOF(), END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    link_start(&o);
    RUN_UNTIL(r.closed, 10000);
    cr_assert_str_eq(r.log, "+OK\n");
    cr_assert_eq(r.status, UV_EPROTO);
    cr_assert(strstr(r.reason, "Protocol error: unexpected reply type byte '?'"), "%s", r.reason);
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

/* A bad command right after a good one in the same read: the good one is
 * delivered, then the link ends with the parser's reason. */
BOTH(bad_request_after_good) {
    static const step_t script[] = {WRITE("*1\r\n$4\r\nPING\r\n*x\r\n"), WAIT_EOF(), END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REQUESTS, 0));
    link_start(&o);
    RUN_UNTIL(r.closed, 10000);
    cr_assert_str_eq(r.log, "C:PING\n");
    cr_assert_eq(r.status, UV_EPROTO);
    cr_assert(strstr(r.reason, "Protocol error: invalid multibulk length"), "%s", r.reason);
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

/* ------------------------------------------------------ connect errors */

BOTH(connect_refused) {
    harness_start(nthreads);
    int port;
    int fd = h_listen(-1, &port); /* bound, not listening: the kernel answers RST */
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    link_start(&o);
    RUN_UNTIL(r.closed, 10000);
    cr_assert_not(r.connected);
    cr_assert_eq(r.status, UV_ECONNREFUSED, "%d %s", r.status, r.reason);
    char want[128];
    snprintf(want, sizeof(want), "connecting to 127.0.0.1:%d failed: connection refused", port);
    cr_assert_str_eq(r.reason, want);
    close(fd);
    harness_stop();
    rec_free(&r);
}

/* A listener whose accept queue is full drops further SYNs (Linux: backlog
 * 0 admits one connection), so a connect there hangs until our timeout.
 * Fillers connect until one of them stays pending. */
static int full_listener(int *port, int *fillers, int *nfill) {
    int l = h_listen(0, port);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)*port);
    *nfill = 0;
    for (int i = 0; i < 16; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(c, (struct sockaddr *)&a, sizeof(a));
        fillers[(*nfill)++] = c;
        fd_set w;
        FD_ZERO(&w);
        FD_SET(c, &w);
        struct timeval tv = {0, 200000};
        if (select(c + 1, NULL, &w, NULL, &tv) == 0) return l; /* this one hangs */
    }
    cr_assert_fail("could not fill the accept queue of a loopback listener");
    return -1;
}

BOTH(connect_timeout) {
    harness_start(nthreads);
    int port, fillers[16], nfill;
    int lfd = full_listener(&port, fillers, &nfill);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    o.connect_timeout_ms = 300;
    uint64_t t0 = h_now_ms();
    link_start(&o);
    RUN_UNTIL(r.closed, 10000);
    uint64_t took = h_now_ms() - t0;
    cr_assert_not(r.connected);
    cr_assert_eq(r.status, UV_ETIMEDOUT, "%d %s", r.status, r.reason);
    char want[128];
    snprintf(want, sizeof(want), "connecting to 127.0.0.1:%d timed out after 300 ms (connecting)",
             port);
    cr_assert_str_eq(r.reason, want);
    cr_assert_geq(took, 280, "closed after %llu ms", (unsigned long long)took);
    harness_stop();
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    close(lfd);
    rec_free(&r);
}

BOTH(resolve_failure) {
    harness_start(nthreads);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(6379, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    o.host = "nonexistent.invalid";
    o.connect_timeout_ms = 0;
    link_start(&o);
    RUN_UNTIL(r.closed, 30000);
    cr_assert_not(r.connected);
    /* UV_EAI_* codes: -3000 .. -3014. */
    cr_assert(r.status <= -3000 && r.status >= -3014, "status %d (%s)", r.status, r.reason);
    cr_assert(strncmp(r.reason, "cannot resolve 'nonexistent.invalid': ", 38) == 0, "%s", r.reason);
    harness_stop();
    rec_free(&r);
}

/* ------------------------------------------------------------- closing */

BOTH(close_after_write) {
    static const step_t script[] = {EXPECT("QUIT\r\n"), WAIT_EOF(), END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    iol_link_t *l = link_start(&o);
    RUN_UNTIL(r.connected, 10000);
    iol_link_write(l, "QUIT\r\n", 6);
    iol_link_close(l, true);
    iol_link_write(l, "ignored\r\n", 9); /* after close: dropped */
    RUN_UNTIL(r.closed, 10000);
    cr_assert_eq(r.status, 0);
    cr_assert_str_eq(r.reason, "closed");
    RUN_UNTIL(atomic_load(&s.finished) == 1, 5000);
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

/* Closing after the queued bytes before the connection is even up: the
 * bytes still go out, then the link closes. */
BOTH(close_before_connected) {
    static const step_t script[] = {EXPECT("QUIT\r\n"), WAIT_EOF(), END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    iol_link_t *l = link_start(&o);
    iol_link_write(l, "QUIT\r\n", 6);
    iol_link_close(l, true);
    RUN_UNTIL(r.closed, 10000);
    cr_assert_eq(r.status, 0, "%d %s", r.status, r.reason);
    RUN_UNTIL(atomic_load(&s.finished) == 1, 5000);
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

/* Shutdown ends live links (connected, and still connecting) through their
 * closed hooks. */
BOTH(shutdown_closes_links) {
    static const step_t script[] = {SLEEP(20000), END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    int port, fillers[16], nfill;
    int lfd = full_listener(&port, fillers, &nfill);
    rec_t r1, r2;
    rec_init(&r1);
    rec_init(&r2);
    iol_link_opts_t o1 = link_opts(s.port, &r1, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    iol_link_opts_t o2 = link_opts(port, &r2, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    o2.connect_timeout_ms = 0;
    link_start(&o1);
    link_start(&o2);
    RUN_UNTIL(r1.connected, 10000);
    harness_stop();
    cr_assert(r1.closed);
    cr_assert(r2.closed);
    cr_assert_eq(r1.status, UV_ECANCELED);
    cr_assert_eq(r2.status, UV_ECANCELED);
    cr_assert_str_eq(r1.reason, "shutting down");
    cr_assert_eq(r1.closed_calls, 1);
    cr_assert_eq(r2.closed_calls, 1);
    server_stop(&s);
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    close(lfd);
    rec_free(&r1);
    rec_free(&r2);
}

/* --------------------------------------------------------- back-pressure */

/* 3000 replies with a credit of 64 bytes: the link stalls and resumes
 * hundreds of times and nothing is lost or reordered. */
BOTH(tiny_credit) {
    static char stream[3000 * 16];
    size_t n = 0;
    for (int i = 0; i < 3000; i++)
        n += (size_t)sprintf(stream + n, ":%d\r\n", i);
    step_t script[] = {WRITE_BUF(stream, n, 1000, 0), CLOSE(), END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    o.max_inflight = 64;
    link_start(&o);
    RUN_UNTIL(r.closed, 20000);
    cr_assert_eq(r.units, 3000);
    char *p = r.log;
    for (int i = 0; i < 3000; i++) {
        char want[16];
        int k = sprintf(want, ":%d\n", i);
        cr_assert(strncmp(p, want, (size_t)k) == 0, "unit %d out of order", i);
        p += k;
    }
    cr_assert(r.offsets_ok);
    server_stop(&s);
    harness_stop();
    rec_free(&r);
}

/* ------------------------------------------------------------- options */

Test(link, bad_options) {
    harness_start(0);
    rec_t r;
    rec_init(&r);
    iol_link_t *l = (iol_link_t *)1;
    const char *why = NULL;
    iol_link_opts_t o = link_opts(0, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    cr_assert_eq(iol_connect(&o, &l, &why), UV_EINVAL);
    cr_assert_null(l);
    cr_assert_str_eq(why, "port out of range");
    o = link_opts(1, &r, iol_framing_raw_eof("", 0));
    cr_assert_eq(iol_connect(&o, &l, &why), UV_EINVAL);
    cr_assert_str_eq(why, "the EOF mark must have 1 to 64 bytes");
    o = link_opts(1, &r, iol_framing_make(IOL_FRAMING_LINE, 0));
    o.host = "";
    cr_assert_eq(iol_connect(&o, &l, &why), UV_EINVAL);
    harness_stop();
    cr_assert_not(r.closed);
    rec_free(&r);
}
