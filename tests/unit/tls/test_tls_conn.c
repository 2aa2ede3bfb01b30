/* Unit tests for tls/tls.c: the TLS connection type, both sides.
 *
 * Each test owns a uv_loop_t and proves it closes cleanly (uv_loop_close == 0
 * after every connection was closed). A connected loopback pair is made by
 * hand (listen, connect, accept); the accepted end becomes the server side
 * through conn_create_socket(CONN_KIND_TLS) + conn_accept, the connecting end
 * the client side through tls_conn_connect, the outgoing path replication and
 * cluster links use. Both sides run on the one loop, so everything here is
 * single-threaded: the threading contract is the integration suite's job.
 *
 * Certificates come from tests/tls (utils/gen-test-certs.sh, run here when
 * they are missing); a CA nobody trusts is made with the openssl command line
 * for the wrong-CA test. Criterion runs every test in its own process, so the
 * process-wide TLS state (contexts, statistics, handshake knobs) starts fresh
 * each time. */
#include <criterion/criterion.h>

#include "conn.h"
#include "kl_log.h"
#include "tls_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#ifndef KL_TLS_TEST_DIR
#error "KL_TLS_TEST_DIR must name the directory holding the test certificates"
#endif
#ifndef KL_GEN_CERTS
#error "KL_GEN_CERTS must name utils/gen-test-certs.sh"
#endif

#define CERT(name) KL_TLS_TEST_DIR "/" name

/* ---- loop ---------------------------------------------------------------- */

static uv_loop_t loop;
static uv_timer_t tick; /* keeps UV_RUN_ONCE from sleeping past a deadline */
static char tmpdir[128];

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tick_cb(uv_timer_t *t) {
    (void)t;
}

/* Run the loop until cond holds or ms milliseconds passed; assert cond. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        uint64_t deadline_ = now_ms() + (ms);                                                      \
        while (!(cond) && now_ms() < deadline_)                                                    \
            uv_run(&loop, UV_RUN_ONCE);                                                            \
        cr_assert((cond), "timed out after %d ms waiting for: %s", (int)(ms), #cond);              \
    } while (0)

static bool file_ok(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

static void setup(void) {
    kl_log_set_file("/dev/null");
    if (!file_ok(CERT("ca.crt")) || !file_ok(CERT("server.key")) || !file_ok(CERT("client.key"))) {
        cr_assert_eq(system("sh '" KL_GEN_CERTS "' '" KL_TLS_TEST_DIR "' >/dev/null"), 0,
                     "utils/gen-test-certs.sh failed");
    }
    cr_assert_eq(tls_init(), 0);
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, tick_cb, 5, 5);
}

static void teardown(void) {
    tls_shutdown();
    if (tmpdir[0]) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
        tmpdir[0] = '\0';
    }
}

static void list_handle(uv_handle_t *h, void *arg) {
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, " %s%s%s", uv_handle_type_name(uv_handle_get_type(h)),
             uv_is_active(h) ? "(active)" : "", uv_is_closing(h) ? "(closing)" : "");
}

/* Close the tick timer, let every close callback run, and prove nothing is
 * left on the loop: uv_loop_close must succeed without a uv_walk of ours. */
static void loop_finish(void) {
    uv_close((uv_handle_t *)&tick, NULL);
    for (int i = 0; i < 100 && uv_loop_alive(&loop); i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    char left[512] = "";
    uv_walk(&loop, list_handle, left);
    cr_assert_eq(uv_loop_close(&loop), 0, "uv_loop_close failed; handles left on the loop:%s",
                 left);
}

TestSuite(tls_conn, .init = setup, .fini = teardown, .timeout = 60);

/* ---- settings ------------------------------------------------------------ */

/* Mutual TLS: the server presents server.crt and requires a client
 * certificate; outgoing connections present client.crt; both trust ca.crt. */
static tls_settings_t default_settings(void) {
    tls_settings_t s;
    memset(&s, 0, sizeof(s));
    s.cert_file = CERT("server.crt");
    s.key_file = CERT("server.key");
    s.client_cert_file = CERT("client.crt");
    s.client_key_file = CERT("client.key");
    s.ca_cert_file = CERT("ca.crt");
    s.session_caching = true;
    s.session_cache_size = 20480;
    s.session_cache_timeout = 300;
    s.auth_clients = TLS_AUTH_YES;
    return s;
}

static void configure(const tls_settings_t *s) {
    char *err = NULL;
    int rc = tls_configure(s, &err);
    cr_assert_eq(rc, 0, "tls_configure: %s", err ? err : "?");
    cr_assert_null(err);
    cr_assert(tls_configured());
}

/* A self-signed CA that signed nothing we use; returns its certificate path. */
static const char *make_other_ca(void) {
    static char crt[192];
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kl_tls_test_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(crt, sizeof(crt), "%s/other-ca.crt", tmpdir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-days 2 -subj '/CN=Other CA' -keyout '%s/other-ca.key' -out '%s' "
             ">/dev/null 2>&1",
             tmpdir, crt);
    cr_assert_eq(system(cmd), 0, "openssl req failed");
    return crt;
}

/* ---- sockets ------------------------------------------------------------- */

static void set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    cr_assert_geq(fl, 0);
    cr_assert_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* A connected loopback pair: *sfd accepted by hand from a listening socket,
 * *cfd the connecting end. bufsize > 0 shrinks both socket buffers so large
 * writes cannot complete at once. */
static void make_pair(int *sfd, int *cfd, int bufsize) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(l, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    if (bufsize > 0) {
        setsockopt(l, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
        setsockopt(l, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
    }
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(l, 16), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(c, 0);
    if (bufsize > 0) {
        setsockopt(c, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
        setsockopt(c, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
    }
    cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    int s = accept(l, NULL, NULL);
    cr_assert_geq(s, 0);
    close(l);
    set_nonblock(s);
    set_nonblock(c);
    *sfd = s;
    *cfd = c;
}

/* ---- one side of a connection -------------------------------------------- */

#define BIG (8u << 20) /* 8 MiB: far beyond any socket buffer here */
static uint8_t *pattern;

static void make_pattern(void) {
    if (pattern) return;
    pattern = malloc(BIG);
    cr_assert_not_null(pattern);
    for (size_t i = 0; i < BIG; i++)
        pattern[i] = (uint8_t)(i * 131u + (i >> 11));
}

typedef struct side {
    const char *name;
    conn_t *c;
    bool read_on_ready; /* call conn_read_start from the ready callback */
    bool ready;
    int status;
    /* reading */
    size_t nread;
    size_t reads;
    bool bulk; /* received bytes are checked against pattern */
    bool pattern_ok;
    char text[512]; /* otherwise they are kept here */
    bool eof;
    int read_err;
    bool stop_after_first_read;
    /* writing: wtotal bytes of pattern in chunks of wchunk */
    size_t wtotal, woff, wchunk;
    bool wpending, wdone;
    int async_writes, werr;
    size_t max_pending_out;
    /* closing */
    bool closed;
} side_t;

static side_t *connecting; /* for callbacks that run inside tls_conn_connect */

static side_t *side_of(conn_t *c) {
    return c->data ? c->data : connecting;
}

static void on_read(conn_t *c, ssize_t n, const char *buf) {
    side_t *s = side_of(c);
    cr_assert_neq(n, 0, "read handler called with 0");
    if (n < 0) {
        if (n == UV_EOF)
            s->eof = true;
        else
            s->read_err = (int)n;
        return;
    }
    cr_assert_not_null(buf);
    s->reads++;
    if (s->bulk) {
        if (s->nread + (size_t)n > BIG || memcmp(buf, pattern + s->nread, (size_t)n) != 0)
            s->pattern_ok = false;
    } else {
        size_t room = sizeof(s->text) - 1 - strlen(s->text);
        size_t k = (size_t)n < room ? (size_t)n : room;
        memcpy(s->text + strlen(s->text), buf, k);
    }
    s->nread += (size_t)n;
    if (s->stop_after_first_read) {
        s->stop_after_first_read = false;
        conn_read_stop(c);
    }
}

static void on_ready(conn_t *c, int status) {
    side_t *s = side_of(c);
    cr_assert_not(s->ready, "%s: ready reported twice", s->name);
    s->ready = true;
    s->status = status;
    if (status == 0 && s->read_on_ready) {
        int rc = conn_read_start(c, on_read);
        cr_assert_eq(rc, 0, "%s: conn_read_start in the ready callback returned %d (%s)", s->name,
                     rc, uv_strerror(rc));
    }
}

static void on_closed(conn_t *c) {
    side_t *s = side_of(c);
    cr_assert_not(s->closed, "%s: close callback ran twice", s->name);
    s->closed = true;
    s->c = NULL;
}

static void close_side(side_t *s) {
    if (s->c && !s->closed) conn_close(s->c, on_closed);
}

static void write_more(side_t *s);

static void on_write(conn_t *c, int status, void *ctx) {
    side_t *s = ctx;
    cr_assert_eq(side_of(c), s);
    cr_assert(s->wpending, "%s: write callback without a pending write", s->name);
    s->wpending = false;
    if (status < 0) {
        s->werr = status;
        return;
    }
    write_more(s);
}

/* Write the rest of the pattern, one chunk at a time, waiting for the write
 * callback whenever a write goes on in the background (back-pressure). */
static void write_more(side_t *s) {
    while (s->woff < s->wtotal) {
        size_t n = s->wtotal - s->woff < s->wchunk ? s->wtotal - s->woff : s->wchunk;
        uv_buf_t b[2];
        /* Two buffers per call: the type must handle a real iovec. */
        size_t half = n / 3;
        b[0] = uv_buf_init((char *)pattern + s->woff, (unsigned)half);
        b[1] = uv_buf_init((char *)pattern + s->woff + half, (unsigned)(n - half));
        int rc = conn_writev(s->c, b, 2, on_write, s);
        if (rc < 0) {
            s->werr = rc;
            return;
        }
        s->woff += n;
        size_t pend = conn_pending_out(s->c);
        if (pend > s->max_pending_out) s->max_pending_out = pend;
        if (rc == 0) {
            /* In the background: no other write until the callback. */
            s->wpending = true;
            s->async_writes++;
            return;
        }
        cr_assert_eq(rc, 1);
    }
    s->wdone = true;
}

static int write_text(side_t *s, const char *text) {
    uv_buf_t b = uv_buf_init((char *)text, (unsigned)strlen(text));
    int rc = conn_writev(s->c, &b, 1, on_write, s);
    if (rc == 0) s->wpending = true;
    return rc;
}

/* Start both sides: the accepted fd as a TLS server connection, the other
 * end through tls_conn_connect with sni. */
static void start_pair(side_t *srv, side_t *cli, int sfd, int cfd, const char *sni) {
    srv->name = "server";
    cli->name = "client";
    srv->pattern_ok = cli->pattern_ok = true;
    cr_assert_eq(conn_create_socket(&loop, sfd, CONN_KIND_TLS, &srv->c), 0);
    cr_assert_eq(srv->c->kind, CONN_KIND_TLS);
    srv->c->data = srv;
    cr_assert_eq(conn_accept(srv->c, on_ready), 0);
    connecting = cli;
    cr_assert_eq(tls_conn_connect(&loop, cfd, sni, on_ready, &cli->c), 0);
    cr_assert_not_null(cli->c);
    cli->c->data = cli;
    connecting = NULL;
    cr_assert_eq(cli->c->kind, CONN_KIND_TLS);
}

static void close_both(side_t *a, side_t *b) {
    close_side(a);
    close_side(b);
    RUN_UNTIL(a->closed && b->closed, 5000);
}

/* ---- tests --------------------------------------------------------------- */

/* Handshake, a message each way, the accessors, and a clean close (the peer
 * of a closing side reads EOF: close_notify). */
static void exchange_small(const char *protocols, const char *version) {
    tls_settings_t st = default_settings();
    st.protocols = protocols;
    configure(&st);
    int sfd, cfd;
    make_pair(&sfd, &cfd, 0);
    side_t srv = {.read_on_ready = true}, cli = {.read_on_ready = true};
    start_pair(&srv, &cli, sfd, cfd, "127.0.0.1");
    RUN_UNTIL(srv.ready && cli.ready, 5000);
    cr_assert_eq(cli.status, 0, "client handshake: %s", conn_last_error(cli.c));
    cr_assert_eq(srv.status, 0, "server handshake: %s", conn_last_error(srv.c));

    cr_assert_str_eq(tls_conn_version(srv.c), version);
    cr_assert_str_eq(tls_conn_version(cli.c), version);
    cr_assert_not(tls_conn_resumed(cli.c));
    char subj[256];
    cr_assert_eq(tls_conn_peer_subject(srv.c, subj, sizeof(subj)), 0);
    cr_assert(strstr(subj, "CN=Client-only") != NULL, "server sees %s", subj);
    cr_assert_eq(tls_conn_peer_subject(cli.c, subj, sizeof(subj)), 0);
    cr_assert(strstr(subj, "CN=Server") != NULL, "client sees %s", subj);

    cr_assert_geq(write_text(&cli, "hello from the client"), 0);
    RUN_UNTIL(strcmp(srv.text, "hello from the client") == 0, 5000);
    cr_assert_geq(write_text(&srv, "and hello from the server"), 0);
    RUN_UNTIL(strcmp(cli.text, "and hello from the server") == 0, 5000);
    RUN_UNTIL(!cli.wpending && !srv.wpending, 5000);
    cr_assert_eq(conn_pending_out(cli.c), 0);
    cr_assert_eq(conn_pending_out(srv.c), 0);

    tls_stats_t stats;
    tls_stats_get(&stats);
    cr_assert_eq(stats.connections, 2);
    cr_assert_eq(stats.handshakes_ok, 2);

    close_side(&cli);
    RUN_UNTIL(srv.eof, 5000);
    cr_assert_eq(srv.read_err, 0);
    close_side(&srv);
    RUN_UNTIL(srv.closed && cli.closed, 5000);
    tls_stats_get(&stats);
    cr_assert_eq(stats.connections, 0);
    loop_finish();
}

Test(tls_conn, handshake_and_exchange_tls13) {
    exchange_small(NULL, "TLSv1.3");
}

Test(tls_conn, handshake_and_exchange_tls12) {
    exchange_small("TLSv1.2", "TLSv1.2");
}

/* Stop reading on one side for a while so the other side's writes pile up. */
static void resume_cb(uv_timer_t *t) {
    side_t *s = t->data;
    int rc = conn_read_start(s->c, on_read);
    cr_assert_eq(rc, 0, "%s: conn_read_start after conn_read_stop returned %d (%s)", s->name, rc,
                 uv_strerror(rc));
}

static void one_direction(side_t *writer, side_t *reader) {
    uv_timer_t resume;
    conn_read_stop(reader->c);
    reader->bulk = true;
    reader->nread = 0;
    writer->wtotal = BIG;
    writer->woff = 0;
    writer->wchunk = 1u << 20;
    writer->async_writes = 0;
    writer->max_pending_out = 0;
    writer->wdone = false;
    uv_timer_init(&loop, &resume);
    resume.data = reader;
    uv_timer_start(&resume, resume_cb, 100, 0);
    write_more(writer);
    RUN_UNTIL(reader->nread == BIG || writer->werr || !reader->pattern_ok, 30000);
    RUN_UNTIL(writer->wdone || writer->werr, 30000);
    cr_assert_eq(writer->werr, 0, "%s write failed: %s", writer->name, conn_last_error(writer->c));
    cr_assert(reader->pattern_ok, "%s received corrupted or reordered data", reader->name);
    cr_assert_eq(reader->nread, BIG);
    /* The socket could not take 8 MiB at once: some writes had to wait. */
    cr_assert_gt(writer->async_writes, 0, "%s: no write went on in the background", writer->name);
    cr_assert_gt(writer->max_pending_out, 0, "%s: pending_out never reported a backlog",
                 writer->name);
    cr_assert_eq(conn_pending_out(writer->c), 0);
    cr_assert_gt(reader->reads, 1);
    uv_close((uv_handle_t *)&resume, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    reader->bulk = false;
}

Test(tls_conn, large_transfer_with_back_pressure) {
    make_pattern();
    tls_settings_t st = default_settings();
    configure(&st);
    int sfd, cfd;
    make_pair(&sfd, &cfd, 64 * 1024);
    side_t srv = {.read_on_ready = true}, cli = {.read_on_ready = true};
    start_pair(&srv, &cli, sfd, cfd, "127.0.0.1");
    RUN_UNTIL(srv.ready && cli.ready, 5000);
    cr_assert_eq(cli.status, 0, "client handshake: %s", conn_last_error(cli.c));
    cr_assert_eq(srv.status, 0, "server handshake: %s", conn_last_error(srv.c));
    one_direction(&cli, &srv);
    one_direction(&srv, &cli);
    close_both(&srv, &cli);
    loop_finish();
}

/* The client checks the server certificate against the CA and the name it
 * asked for: a DNS name or an IP address from the certificate's SANs. */
static void verify_case(const char *sni, const char *ca_file, bool expect_ok) {
    tls_settings_t st = default_settings();
    configure(&st);
    int sfd, cfd;
    make_pair(&sfd, &cfd, 0);
    side_t srv = {.read_on_ready = true}, cli = {.read_on_ready = true};
    srv.name = "server";
    srv.pattern_ok = true;
    cr_assert_eq(conn_create_socket(&loop, sfd, CONN_KIND_TLS, &srv.c), 0);
    srv.c->data = &srv;
    cr_assert_eq(conn_accept(srv.c, on_ready), 0);
    if (ca_file) {
        /* Outgoing connections made from now on trust only ca_file; the
         * server connection above keeps the context it was made with. */
        st.ca_cert_file = ca_file;
        st.auth_clients = TLS_AUTH_NO;
        configure(&st);
    }
    cli.name = "client";
    connecting = &cli;
    cr_assert_eq(tls_conn_connect(&loop, cfd, sni, on_ready, &cli.c), 0);
    cli.c->data = &cli;
    connecting = NULL;
    RUN_UNTIL(cli.ready, 5000);
    if (expect_ok) {
        RUN_UNTIL(srv.ready, 5000);
        cr_assert_eq(cli.status, 0, "client handshake with %s: %s", sni ? sni : "(none)",
                     conn_last_error(cli.c));
        cr_assert_eq(srv.status, 0, "server handshake: %s", conn_last_error(srv.c));
        cr_assert_geq(write_text(&cli, "PING"), 0);
        RUN_UNTIL(strcmp(srv.text, "PING") == 0, 5000);
    } else {
        cr_assert_lt(cli.status, 0, "client accepted a server it must refuse (%s)",
                     sni ? sni : "(none)");
        const char *why = conn_last_error(cli.c);
        cr_assert_not_null(why);
        cr_assert(strstr(why, "certificate verify failed") != NULL, "reason: %s", why);
        /* The server learns of it through the client's alert. */
        RUN_UNTIL(srv.ready, 5000);
        cr_assert_lt(srv.status, 0);
        /* Writing to a failed connection is refused, not queued. */
        uv_buf_t b = uv_buf_init("x", 1);
        cr_assert_lt(conn_writev(cli.c, &b, 1, on_write, &cli), 0);
    }
    close_both(&srv, &cli);
    loop_finish();
}

Test(tls_conn, verify_ip_name_ok) {
    verify_case("127.0.0.1", NULL, true);
}

Test(tls_conn, verify_dns_name_ok) {
    verify_case("localhost", NULL, true);
}

Test(tls_conn, verify_wrong_dns_name_fails) {
    verify_case("wrong.example.com", NULL, false);
}

Test(tls_conn, verify_wrong_ip_fails) {
    verify_case("127.0.0.2", NULL, false);
}

Test(tls_conn, verify_wrong_ca_fails) {
    verify_case("127.0.0.1", make_other_ca(), false);
}

/* Without a name only the chain is checked: still refused from an unknown CA. */
Test(tls_conn, verify_no_name_right_ca_ok) {
    verify_case(NULL, NULL, true);
}

Test(tls_conn, verify_no_name_wrong_ca_fails) {
    verify_case(NULL, make_other_ca(), false);
}

Test(tls_conn, verify_right_ca_after_reconfigure_ok) {
    /* The same reconfiguration path as the wrong-CA test, with the right CA. */
    verify_case("127.0.0.1", CERT("ca.crt"), true);
}

/* A peer that connects and says nothing is dropped after the handshake
 * timeout, and counted. */
Test(tls_conn, handshake_timeout) {
    tls_set_handshake_timeout_ms(200);
    tls_settings_t st = default_settings();
    configure(&st);
    int sfd, cfd;
    make_pair(&sfd, &cfd, 0);
    side_t srv = {.read_on_ready = true};
    srv.name = "server";
    cr_assert_eq(conn_create_socket(&loop, sfd, CONN_KIND_TLS, &srv.c), 0);
    srv.c->data = &srv;
    /* The timer counts from the loop's cached time, which is as old as the
     * set-up above (certificates loaded under load take a while). */
    uv_update_time(&loop);
    uint64_t t0 = now_ms();
    cr_assert_eq(conn_accept(srv.c, on_ready), 0);
    RUN_UNTIL(srv.ready, 5000);
    uint64_t took = now_ms() - t0;
    cr_assert_lt(srv.status, 0);
    cr_assert_geq(took, 150, "reaped after %llu ms", (unsigned long long)took);
    tls_stats_t stats;
    tls_stats_get(&stats);
    cr_assert_eq(stats.failed_timeout, 1);
    close_side(&srv);
    RUN_UNTIL(srv.closed, 5000);
    close(cfd);
    loop_finish();
}

/* Plaintext on a TLS connection fails the handshake at once, counted as such. */
Test(tls_conn, plaintext_peer) {
    tls_settings_t st = default_settings();
    configure(&st);
    int sfd, cfd;
    make_pair(&sfd, &cfd, 0);
    side_t srv = {.read_on_ready = true};
    srv.name = "server";
    cr_assert_eq(conn_create_socket(&loop, sfd, CONN_KIND_TLS, &srv.c), 0);
    srv.c->data = &srv;
    cr_assert_eq(conn_accept(srv.c, on_ready), 0);
    cr_assert_eq(write(cfd, "PING\r\n", 6), 6);
    RUN_UNTIL(srv.ready, 5000);
    cr_assert_lt(srv.status, 0);
    tls_stats_t stats;
    tls_stats_get(&stats);
    cr_assert_eq(stats.failed_plaintext, 1);
    close_side(&srv);
    RUN_UNTIL(srv.closed, 5000);
    close(cfd);
    loop_finish();
}

/* Closing a connection in the middle of its handshake: the close callback
 * runs once, ready is never reported afterwards, nothing is left behind. */
Test(tls_conn, close_during_handshake) {
    tls_settings_t st = default_settings();
    configure(&st);
    int sfd, cfd;
    make_pair(&sfd, &cfd, 0);
    side_t srv = {.read_on_ready = true}, cli = {.read_on_ready = true};
    start_pair(&srv, &cli, sfd, cfd, "127.0.0.1");
    /* No loop iteration yet: the client's ClientHello is in flight. */
    close_side(&srv);
    RUN_UNTIL(srv.closed, 5000);
    cr_assert_not(srv.ready);
    RUN_UNTIL(cli.ready, 5000);
    cr_assert_lt(cli.status, 0);
    close_both(&srv, &cli);
    loop_finish();
}

/* The ready handler need not start reading at once: data the client sends
 * right after its handshake waits until the server asks for it. */
static void late_read_cb(uv_timer_t *t) {
    side_t *s = t->data;
    int rc = conn_read_start(s->c, on_read);
    cr_assert_eq(rc, 0, "%s: the first conn_read_start returned %d (%s)", s->name, rc,
                 uv_strerror(rc));
}

Test(tls_conn, read_start_after_ready) {
    tls_settings_t st = default_settings();
    configure(&st);
    int sfd, cfd;
    make_pair(&sfd, &cfd, 0);
    side_t srv = {.read_on_ready = false}, cli = {.read_on_ready = true};
    start_pair(&srv, &cli, sfd, cfd, "127.0.0.1");
    RUN_UNTIL(cli.ready, 5000);
    cr_assert_eq(cli.status, 0, "client handshake: %s", conn_last_error(cli.c));
    cr_assert_geq(write_text(&cli, "early data"), 0);
    RUN_UNTIL(srv.ready, 5000);
    cr_assert_eq(srv.status, 0, "server handshake: %s", conn_last_error(srv.c));
    uv_timer_t late;
    uv_timer_init(&loop, &late);
    late.data = &srv;
    uv_timer_start(&late, late_read_cb, 50, 0);
    RUN_UNTIL(strcmp(srv.text, "early data") == 0, 5000);
    uv_close((uv_handle_t *)&late, NULL);
    close_both(&srv, &cli);
    loop_finish();
}

/* More connections than the per-tick handshake cap, all at once: the rest
 * start on later ticks and every one of them completes. */
Test(tls_conn, handshakes_beyond_the_per_tick_cap) {
    enum { N = 8 };
    tls_set_handshakes_per_tick(2);
    tls_settings_t st = default_settings();
    configure(&st);
    side_t srv[N], cli[N];
    memset(srv, 0, sizeof(srv));
    memset(cli, 0, sizeof(cli));
    for (int i = 0; i < N; i++) {
        int sfd, cfd;
        make_pair(&sfd, &cfd, 0);
        srv[i].read_on_ready = cli[i].read_on_ready = true;
        start_pair(&srv[i], &cli[i], sfd, cfd, "127.0.0.1");
    }
    for (int i = 0; i < N; i++) {
        RUN_UNTIL(srv[i].ready && cli[i].ready, 5000);
        cr_assert_eq(srv[i].status, 0, "server %d: %s", i, conn_last_error(srv[i].c));
        cr_assert_eq(cli[i].status, 0, "client %d: %s", i, conn_last_error(cli[i].c));
    }
    for (int i = 0; i < N; i++)
        close_both(&srv[i], &cli[i]);
    loop_finish();
}

/* A configuration that cannot be loaded is refused with a reason naming the
 * file, and the contexts in force stay so. */
Test(tls_conn, configure_error_keeps_old_contexts) {
    tls_settings_t st = default_settings();
    configure(&st);
    tls_settings_t bad = default_settings();
    bad.key_file = CERT("client.key"); /* does not match server.crt */
    char *err = NULL;
    cr_assert_neq(tls_configure(&bad, &err), 0);
    cr_assert_not_null(err);
    cr_assert(strstr(err, CERT("client.key")) != NULL, "error does not name the file: %s", err);
    free(err);
    bad = default_settings();
    bad.ca_cert_file = "/nonexistent/ca.crt";
    err = NULL;
    cr_assert_neq(tls_configure(&bad, &err), 0);
    cr_assert(err && strstr(err, "/nonexistent/ca.crt") != NULL, "%s", err ? err : "(null)");
    free(err);
    /* The old contexts still make working connections. */
    int sfd, cfd;
    make_pair(&sfd, &cfd, 0);
    side_t srv = {.read_on_ready = true}, cli = {.read_on_ready = true};
    start_pair(&srv, &cli, sfd, cfd, "127.0.0.1");
    RUN_UNTIL(srv.ready && cli.ready, 5000);
    cr_assert_eq(cli.status, 0, "client handshake: %s", conn_last_error(cli.c));
    cr_assert_eq(srv.status, 0, "server handshake: %s", conn_last_error(srv.c));
    close_both(&srv, &cli);
    loop_finish();
}

/* ---- failure paths ------------------------------------------------------- */

/* A descriptor number that cannot be open: above RLIMIT_NOFILE (a number
 * just closed could be reused at once by the test runner's own threads). */
static int closed_fd(void) {
    int fd = 1 << 24;
    cr_assert_eq(fcntl(fd, F_GETFD), -1);
    return fd;
}

static bool fd_is_open(int fd) {
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* uv_tcp_open fails (EBADF) after uv_tcp_init registered the handle: the
 * error is reported, nothing is returned, and the handle leaves the loop
 * through uv_close (loop_finish proves the loop closes; under ASan a handle
 * freed while still listed is a use-after-free). Both the server side and
 * tls_conn_connect. */
Test(tls_conn, tcp_open_failure_closes_handle) {
    tls_settings_t st = default_settings();
    configure(&st);
    conn_t *c = NULL;
    int rc = conn_create_socket(&loop, closed_fd(), CONN_KIND_TLS, &c);
    cr_assert_eq(rc, UV_EBADF, "got %d (%s)", rc, uv_strerror(rc));
    cr_assert_null(c);
    rc = tls_conn_connect(&loop, closed_fd(), "127.0.0.1", on_ready, &c);
    cr_assert_eq(rc, UV_EBADF, "got %d (%s)", rc, uv_strerror(rc));
    cr_assert_null(c);
    loop_finish();
}

/* No context yet (TLS never configured): refused, fd closed. */
Test(tls_conn, unconfigured_refuses_and_closes_fd) {
    int sfd, cfd;
    make_pair(&sfd, &cfd, 0);
    conn_t *c = NULL;
    cr_assert_eq(conn_create_socket(&loop, sfd, CONN_KIND_TLS, &c), UV_EINVAL);
    cr_assert_null(c);
    cr_assert_not(fd_is_open(sfd));
    close(cfd);
    loop_finish();
}

/* OpenSSL's allocator, failing on demand: SSL_new / BIO_new return NULL. */
static bool fail_allocs;

static void *failing_malloc(size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    return fail_allocs ? NULL : malloc(n);
}

static void *failing_realloc(void *p, size_t n, const char *file, int line) {
    (void)file;
    (void)line;
    return fail_allocs ? NULL : realloc(p, n);
}

static void plain_free(void *p, const char *file, int line) {
    (void)file;
    (void)line;
    free(p);
}

/* The allocator can only be replaced before OpenSSL allocates anything, so
 * it is installed when the process starts (every test process of Criterion
 * runs the constructors), and the suite checks that it took. */
static int failing_alloc_installed;

__attribute__((constructor)) static void install_failing_alloc(void) {
    failing_alloc_installed = CRYPTO_set_mem_functions(failing_malloc, failing_realloc, plain_free);
}

static void setup_failing_alloc(void) {
    cr_assert_eq(failing_alloc_installed, 1,
                 "OpenSSL allocated before the test could replace its allocator");
    setup();
}

TestSuite(tls_conn_oom, .init = setup_failing_alloc, .fini = teardown, .timeout = 60);

/* SSL_new fails after the socket was taken by the handle: the connection is
 * refused with an error, the handle (and with it the fd) is closed through the
 * loop, the peer sees the close, and a later connection works. */
Test(tls_conn_oom, ssl_new_failure_closes_handle_and_fd) {
    tls_settings_t st = default_settings();
    configure(&st);
    int sfd, cfd;
    make_pair(&sfd, &cfd, 0);
    conn_t *c = NULL;
    fail_allocs = true;
    int rc = conn_create_socket(&loop, sfd, CONN_KIND_TLS, &c);
    fail_allocs = false;
    cr_assert_eq(rc, UV_ENOMEM, "got %d (%s)", rc, uv_strerror(rc));
    cr_assert_null(c);
    for (int i = 0; i < 10; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_not(fd_is_open(sfd), "the socket was not closed");
    char ch;
    cr_assert_eq(read(cfd, &ch, 1), 0, "the peer did not see the close");
    close(cfd);

    fail_allocs = true;
    make_pair(&sfd, &cfd, 0);
    rc = tls_conn_connect(&loop, cfd, "127.0.0.1", on_ready, &c);
    fail_allocs = false;
    cr_assert_eq(rc, UV_ENOMEM, "got %d (%s)", rc, uv_strerror(rc));
    cr_assert_null(c);
    for (int i = 0; i < 10; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_not(fd_is_open(cfd), "the socket was not closed");
    cr_assert_eq(read(sfd, &ch, 1), 0, "the peer did not see the close");
    close(sfd);

    /* The loop and the TLS state are fine afterwards. */
    make_pair(&sfd, &cfd, 0);
    side_t srv = {.read_on_ready = true}, cli = {.read_on_ready = true};
    start_pair(&srv, &cli, sfd, cfd, "127.0.0.1");
    RUN_UNTIL(srv.ready && cli.ready, 5000);
    cr_assert_eq(cli.status, 0, "client handshake: %s", conn_last_error(cli.c));
    cr_assert_eq(srv.status, 0, "server handshake: %s", conn_last_error(srv.c));
    close_both(&srv, &cli);
    loop_finish();
}
