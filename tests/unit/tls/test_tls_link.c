/* Outbound links over TLS (ioloop/link.c with the security provider of
 * tls/tls.c), with io-threads 1 and with I/O threads, against a scripted
 * loopback TLS server (tests/unit/ioloop/link_harness.h) that requires a
 * client certificate.
 *
 * Covered: a handshake with peer verification and SNI, then framing
 * switches (a reply, then binary frames with split headers) over TLS; the
 * configured client context (tls-replication's) and one of the link's own;
 * verification failures (a CA that signed nothing of ours, a name the
 * certificate does not carry); and a connect timeout inside the handshake
 * (a plaintext peer that never answers).
 *
 * Certificates: tests/tls, made by utils/gen-test-certs.sh when missing; the
 * wrong CA is made on the fly with the openssl command line. */
#include <criterion/criterion.h>

#include "../ioloop/link_harness.h"
#include "tls_conn.h"

#include <sys/stat.h>

#ifndef KL_TLS_TEST_DIR
#error "KL_TLS_TEST_DIR must name the directory holding the test certificates"
#endif
#ifndef KL_GEN_CERTS
#error "KL_GEN_CERTS must name utils/gen-test-certs.sh"
#endif

#define CERT(name) KL_TLS_TEST_DIR "/" name

static char tmpdir[128];

static bool file_ok(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

static tls_settings_t settings(const char *ca) {
    tls_settings_t s;
    memset(&s, 0, sizeof(s));
    s.cert_file = CERT("server.crt");
    s.key_file = CERT("server.key");
    s.client_cert_file = CERT("client.crt");
    s.client_key_file = CERT("client.key");
    s.ca_cert_file = ca;
    s.session_caching = true;
    s.session_cache_timeout = 300;
    s.auth_clients = TLS_AUTH_YES;
    return s;
}

static void setup(void) {
    kl_log_set_file("/dev/null");
    if (!file_ok(CERT("ca.crt")) || !file_ok(CERT("server.key")) || !file_ok(CERT("client.key")))
        cr_assert_eq(system("sh '" KL_GEN_CERTS "' '" KL_TLS_TEST_DIR "' >/dev/null"), 0,
                     "utils/gen-test-certs.sh failed");
    tls_init();
    tls_settings_t s = settings(CERT("ca.crt"));
    char *err = NULL;
    cr_assert_eq(tls_configure(&s, &err), 0, "tls_configure: %s", err ? err : "?");
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

TestSuite(tls_link, .init = setup, .fini = teardown, .timeout = 60);

#define BOTH(name)                                                                                 \
    static void name(int nthreads);                                                                \
    Test(tls_link, name##_io1) {                                                                   \
        name(0);                                                                                   \
    }                                                                                              \
    Test(tls_link, name##_iothreads) {                                                             \
        name(2);                                                                                   \
    }                                                                                              \
    static void name(int nthreads)

/* A self-signed CA that signed nothing we use. */
static const char *make_other_ca(void) {
    static char crt[192];
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kl_tls_link_XXXXXX");
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

/* A client context of the link's own, trusting ca. */
static tls_client_ctx_t *client_ctx(const char *ca) {
    tls_settings_t s = settings(ca);
    tls_client_ctx_t *c = NULL;
    char *err = NULL;
    cr_assert_eq(tls_client_ctx_new(&s, &c, &err), 0, "tls_client_ctx_new: %s", err ? err : "?");
    return c;
}

static size_t put_frame(char *out, uint32_t total, uint8_t seed) {
    memcpy(out, "RCmb", 4);
    out[4] = (char)(total >> 24);
    out[5] = (char)(total >> 16);
    out[6] = (char)(total >> 8);
    out[7] = (char)total;
    for (uint32_t i = 8; i < total; i++)
        out[i] = (char)(seed * 13 + i);
    return total;
}

static void to_frames(rec_t *r, iol_link_t *l, const iol_unit_t *u) {
    if (u->kind == IOL_UNIT_REPLY) {
        cr_assert(u->stopped);
        iol_framing_t f = iol_framing_cluster_bus(1 << 20);
        cr_assert_eq(iol_link_set_framing(l, &f), 0);
    }
}

/* Server side: what the client sent as SNI. */
static void note_sni(server_t *s, conn_t *c) {
    snprintf(s->note, sizeof(s->note), "sni=%s", tls_conn_server_name(c));
}

/* A reply, then binary frames, over TLS; ctx NULL: the configured client
 * context. The own context sends SNI "localhost"; the other passes an
 * address, which is verified but not sent as SNI. */
static void tls_stream(int nthreads, bool own_ctx) {
    static char stream[5 + 8 + 2256 + 70000];
    size_t n = 0;
    memcpy(stream, "+OK\r\n", 5);
    n = 5;
    n += put_frame(stream + n, 8, 1);
    n += put_frame(stream + n, 2256, 2);
    n += put_frame(stream + n, 70000, 3);
    step_t script[] = {
        EXPECT("*1\r\n$4\r\nPING\r\n"),
        WRITE_BUF(stream, 5 + 8 + 30, 3, 1), /* the reply and the first header, split */
        WRITE_BUF(stream + 43, n - 43, 5000, 1),
        CLOSE(),
        END(),
    };
    harness_start(nthreads);
    server_t s;
    server_start_hooked(&s, CONN_KIND_TLS, script, note_sni);
    rec_t r;
    rec_init(&r);
    r.step = to_frames;
    tls_client_ctx_t *ctx = own_ctx ? client_ctx(CERT("ca.crt")) : NULL;
    iol_link_security_t sec;
    tls_link_security(ctx, &sec);
    tls_client_ctx_free(ctx); /* the link holds its own reference */
    iol_link_opts_t o =
        link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, IOL_FRAMING_STOP));
    o.sec = &sec;
    o.sni = own_ctx ? "localhost" : "127.0.0.1";
    o.verify_name = o.sni;
    iol_link_t *l = link_start(&o);
    iol_link_write(l, "*1\r\n$4\r\nPING\r\n", 14);
    RUN_UNTIL(r.closed, 20000);
    cr_assert(r.connected);
    cr_assert_str_eq(r.log, "+OK\nF:8\nF:2256\nF:70000\n");
    cr_assert_eq(r.frames_len, n - 5);
    cr_assert_eq(memcmp(r.frames, stream + 5, n - 5), 0, "frame bytes differ");
    cr_assert_eq(r.status, UV_EOF, "%d %s", r.status, r.reason);
    cr_assert(r.offsets_ok);
    server_stop(&s);
    cr_assert_str_eq(s.note, own_ctx ? "sni=localhost" : "sni=");
    harness_stop();
    rec_free(&r);
}

BOTH(own_context) {
    tls_stream(nthreads, true);
}

BOTH(configured_context) {
    tls_stream(nthreads, false);
}

/* The handshake fails on the client side: the closed hook says why. */
static void verify_fails(int nthreads, const char *ca, const char *name, const char *needle) {
    static const step_t script[] = {SLEEP(5000), END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TLS, script);
    rec_t r;
    rec_init(&r);
    tls_client_ctx_t *ctx = client_ctx(ca);
    iol_link_security_t sec;
    tls_link_security(ctx, &sec);
    tls_client_ctx_free(ctx);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    o.sec = &sec;
    o.sni = name;
    o.verify_name = name;
    link_start(&o);
    RUN_UNTIL(r.closed, 10000);
    cr_assert_not(r.connected);
    cr_assert_eq(r.status, UV_EPROTO, "%d %s", r.status, r.reason);
    char want[96];
    snprintf(want, sizeof(want), "TLS handshake with 127.0.0.1:%d failed: ", s.port);
    cr_assert(strncmp(r.reason, want, strlen(want)) == 0, "%s", r.reason);
    cr_assert(strstr(r.reason, needle), "'%s' lacks '%s'", r.reason, needle);
    harness_stop();
    server_stop(&s);
    rec_free(&r);
}

BOTH(wrong_ca) {
    verify_fails(nthreads, make_other_ca(), "localhost",
                 "certificate verify failed (unable to get local issuer certificate)");
}

BOTH(wrong_name) {
    verify_fails(nthreads, CERT("ca.crt"), "wrong.example",
                 "certificate verify failed (hostname mismatch)");
}

/* A peer that accepts but never speaks TLS: the connect timeout covers the
 * handshake too. */
BOTH(handshake_timeout) {
    static const step_t script[] = {SLEEP(5000), END()};
    harness_start(nthreads);
    server_t s;
    server_start(&s, CONN_KIND_TCP, script);
    rec_t r;
    rec_init(&r);
    iol_link_security_t sec;
    tls_link_security(NULL, &sec);
    iol_link_opts_t o = link_opts(s.port, &r, iol_framing_make(IOL_FRAMING_RESP_REPLIES, 0));
    o.sec = &sec;
    o.connect_timeout_ms = 300;
    link_start(&o);
    RUN_UNTIL(r.closed, 10000);
    cr_assert_not(r.connected);
    cr_assert_eq(r.status, UV_ETIMEDOUT, "%d %s", r.status, r.reason);
    char want[128];
    snprintf(want, sizeof(want),
             "connecting to 127.0.0.1:%d timed out after 300 ms (in the TLS handshake)", s.port);
    cr_assert_str_eq(r.reason, want);
    harness_stop();
    server_stop(&s);
    rec_free(&r);
}
