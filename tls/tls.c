/* TLS contexts and the TLS connection type.
 *
 * A TLS connection is a uv_tcp_t plus an SSL object whose BIO is ours: reads
 * hand OpenSSL the ciphertext libuv just read (no copy into a memory BIO) and
 * writes append ciphertext to a per-thread scratch buffer that is written to
 * the socket at once; only what the socket does not take is copied into a
 * buffer of the connection's own. Everything runs on the connection's loop. */
#include "tls_conn.h"

#include "kl_alloc.h"
#include "kl_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- statistics */

/* Relaxed counters: they publish nothing but themselves. */
static _Atomic uint64_t st_conns, st_ok, st_resumed, st_no_cert, st_unknown_ca, st_protocol,
    st_timeout, st_plaintext, st_other;

void tls_stats_get(tls_stats_t *o) {
    o->connections = atomic_load_explicit(&st_conns, memory_order_relaxed);
    o->handshakes_ok = atomic_load_explicit(&st_ok, memory_order_relaxed);
    o->resumed = atomic_load_explicit(&st_resumed, memory_order_relaxed);
    o->failed_no_cert = atomic_load_explicit(&st_no_cert, memory_order_relaxed);
    o->failed_unknown_ca = atomic_load_explicit(&st_unknown_ca, memory_order_relaxed);
    o->failed_protocol = atomic_load_explicit(&st_protocol, memory_order_relaxed);
    o->failed_timeout = atomic_load_explicit(&st_timeout, memory_order_relaxed);
    o->failed_plaintext = atomic_load_explicit(&st_plaintext, memory_order_relaxed);
    o->failed_other = atomic_load_explicit(&st_other, memory_order_relaxed);
}

static inline void bump(_Atomic uint64_t *v) {
    atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- contexts */

/* The current contexts. Swapped under ctx_lock by the executor; each I/O
 * thread keeps its own reference and refreshes it (under the lock) only when
 * ctx_gen changed, so the lock is taken once per thread per reload, never per
 * request or per connection. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *cur_server, *cur_client;
static _Atomic uint64_t ctx_gen;
static int64_t server_not_after, ca_not_after;

typedef struct tls_thread {
    SSL_CTX *server, *client;
    uint64_t gen;
    char *scratch; /* ciphertext produced by one SSL call batch */
    size_t scratch_cap;
    char *plain; /* SSL_read destination */
    uint64_t tick;
    unsigned started_this_tick;
    struct tls_conn *deferred_head, *deferred_tail;
    uv_idle_t *idle; /* exists only while handshakes wait for a later tick */
} tls_thread_t;

static __thread tls_thread_t *tthr;
static pthread_key_t tthr_key;
static pthread_once_t tthr_once = PTHREAD_ONCE_INIT;
/* Written by the executor (CONFIG SET), read by I/O threads when a handshake
 * starts: relaxed, a connection may start with the old value. */
static _Atomic uint64_t hs_timeout_ms = 10000;
static unsigned hs_per_tick = 64;
static BIO_METHOD *bio_method;

#define PLAIN_BUF_SIZE (64 * 1024)
#define RECORD_MAX (16 * 1024)

static void tthr_release(void *p) {
    tls_thread_t *t = p;
    if (!t) return;
    if (t->server) SSL_CTX_free(t->server);
    if (t->client) SSL_CTX_free(t->client);
    kl_free(t->scratch);
    kl_free(t->plain);
    kl_free(t);
}

static void tthr_key_init(void) {
    pthread_key_create(&tthr_key, tthr_release);
}

static tls_thread_t *thread_state(void) {
    if (!tthr) {
        pthread_once(&tthr_once, tthr_key_init);
        tthr = kl_calloc(1, sizeof(*tthr));
        tthr->plain = kl_malloc(PLAIN_BUF_SIZE);
        tthr->scratch_cap = 2 * RECORD_MAX + 1024;
        tthr->scratch = kl_malloc(tthr->scratch_cap);
        pthread_setspecific(tthr_key, tthr);
    }
    return tthr;
}

static void thread_refresh_ctx(tls_thread_t *t) {
    uint64_t g = atomic_load_explicit(&ctx_gen, memory_order_acquire);
    if (g == t->gen && (t->server || t->client)) return;
    pthread_mutex_lock(&ctx_lock);
    SSL_CTX *s = cur_server, *c = cur_client;
    if (s) SSL_CTX_up_ref(s);
    if (c) SSL_CTX_up_ref(c);
    g = atomic_load_explicit(&ctx_gen, memory_order_relaxed);
    pthread_mutex_unlock(&ctx_lock);
    if (t->server) SSL_CTX_free(t->server);
    if (t->client) SSL_CTX_free(t->client);
    t->server = s;
    t->client = c;
    t->gen = g;
}

bool tls_configured(void) {
    return atomic_load_explicit(&ctx_gen, memory_order_acquire) != 0;
}

/* Every error OpenSSL queued, oldest first (the root cause, e.g. "bad
 * decrypt" for a wrong key password, comes before "PEM lib"). */
static void ssl_errstr(char *buf, size_t len) {
    size_t off = 0;
    unsigned long e;
    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0 && off + 4 < len) {
        if (off) off += (size_t)snprintf(buf + off, len - off, "; ");
        ERR_error_string_n(e, buf + off, len - off);
        off += strlen(buf + off);
    }
    if (!off) snprintf(buf, len, "unknown error");
    ERR_clear_error();
}

static char *errf(const char *fmt, const char *a) {
    char reason[512];
    ssl_errstr(reason, sizeof(reason));
    size_t n = strlen(fmt) + (a ? strlen(a) : 0) + strlen(reason) + 8;
    char *s = kl_malloc(n);
    snprintf(s, n, fmt, a ? a : "", reason);
    return s;
}

static int pem_pass_cb(char *buf, int size, int rwflag, void *u) {
    const char *pass = u;
    if (!pass) return 0;
    int n = (int)strlen(pass);
    if (n > size) n = size;
    memcpy(buf, pass, (size_t)n);
    return n;
}

static bool empty(const char *s) {
    return !s || !s[0];
}

static int parse_protocols(const char *spec, int *min, int *max, long *no_opts) {
    if (empty(spec)) {
        *min = TLS1_2_VERSION;
        *max = TLS1_3_VERSION;
        *no_opts = 0;
        return 0;
    }
    bool v10 = false, v11 = false, v12 = false, v13 = false;
    char *copy = kl_strdup(spec);
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (!strcasecmp(tok, "tlsv1"))
            v10 = true;
        else if (!strcasecmp(tok, "tlsv1.1"))
            v11 = true;
        else if (!strcasecmp(tok, "tlsv1.2"))
            v12 = true;
        else if (!strcasecmp(tok, "tlsv1.3"))
            v13 = true;
        else {
            kl_free(copy);
            return -1;
        }
    }
    kl_free(copy);
    if (!v10 && !v11 && !v12 && !v13) return -1;
    *min = v10 ? TLS1_VERSION : v11 ? TLS1_1_VERSION : v12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    *max = v13 ? TLS1_3_VERSION : v12 ? TLS1_2_VERSION : v11 ? TLS1_1_VERSION : TLS1_VERSION;
    long no = 0;
    if (!v11 && *min<TLS1_1_VERSION && * max> TLS1_1_VERSION) no |= SSL_OP_NO_TLSv1_1;
    if (!v12 && *min<TLS1_2_VERSION && * max> TLS1_2_VERSION) no |= SSL_OP_NO_TLSv1_2;
    *no_opts = no;
    return 0;
}

static int64_t asn1_to_unix(const ASN1_TIME *t) {
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm)) return 0;
    return (int64_t)timegm(&tm);
}

/* Build one context. server: TLS_server_method with the server cert; client:
 * TLS_client_method with the client cert (or the server's when unset). */
static SSL_CTX *build_ctx(const tls_settings_t *s, bool server, char **err) {
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        *err = errf("Failed to create TLS context: %s%s", NULL);
        return NULL;
    }
    int min, max;
    long no_opts;
    if (parse_protocols(s->protocols, &min, &max, &no_opts) != 0) {
        *err = kl_strdup("Invalid tls-protocols specified. Use a combination of 'TLSv1', "
                         "'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    SSL_CTX_set_options(ctx, (uint64_t)no_opts | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (server && s->prefer_server_ciphers)
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);

    const char *cert = s->cert_file, *key = s->key_file, *pass = s->key_file_pass;
    if (!server && !empty(s->client_cert_file)) {
        cert = s->client_cert_file;
        key = s->client_key_file;
        pass = s->client_key_file_pass;
    }
    if (!empty(cert)) {
        SSL_CTX_set_default_passwd_cb(ctx, pem_pass_cb);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)(empty(pass) ? NULL : pass));
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) <= 0) {
            *err = errf("Failed to load certificate: %s: %s", cert);
            goto fail;
        }
        if (empty(key) || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) <= 0) {
            *err = errf("Failed to load private key: %s: %s",
                        empty(key) ? "(tls-key-file not set)" : key);
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) <= 0) {
            *err = errf("The private key %s does not match the certificate: %s", key);
            goto fail;
        }
        /* The password is only needed while loading. */
        SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    } else if (server) {
        *err = kl_strdup("No tls-cert-file configured");
        goto fail;
    }
    if (!empty(s->ca_cert_file) || !empty(s->ca_cert_dir)) {
        if (SSL_CTX_load_verify_locations(ctx, empty(s->ca_cert_file) ? NULL : s->ca_cert_file,
                                          empty(s->ca_cert_dir) ? NULL : s->ca_cert_dir) <= 0) {
            *err = errf("Failed to configure CA certificate(s) file/directory: %s: %s",
                        empty(s->ca_cert_file) ? s->ca_cert_dir : s->ca_cert_file);
            goto fail;
        }
    } else if (server ? s->auth_clients != TLS_AUTH_NO : true) {
        *err = kl_strdup("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when "
                         "tls-cluster, tls-replication or tls-auth-clients are enabled!");
        goto fail;
    }
    if (!empty(cert)) {
        /* Build the certificate chain once, here, instead of on every
         * handshake (OpenSSL's auto-chaining rebuilds it each time). */
        if (SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_CHECK |
                                              SSL_BUILD_CHAIN_FLAG_NO_ROOT |
                                              SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR) == 1)
            SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
        ERR_clear_error();
    }
    if (!empty(s->ciphers) && !SSL_CTX_set_cipher_list(ctx, s->ciphers)) {
        *err = errf("Failed to configure ciphers: %s: %s", s->ciphers);
        goto fail;
    }
    if (!empty(s->ciphersuites) && !SSL_CTX_set_ciphersuites(ctx, s->ciphersuites)) {
        *err = errf("Failed to configure ciphersuites: %s: %s", s->ciphersuites);
        goto fail;
    }
    if (server) {
        if (!empty(s->dh_params_file)) {
            BIO *b = BIO_new_file(s->dh_params_file, "r");
            EVP_PKEY *dh = b ? PEM_read_bio_Parameters(b, NULL) : NULL;
            if (b) BIO_free(b);
            if (!dh) {
                *err = errf("Failed to load %s: %s", s->dh_params_file);
                goto fail;
            }
            if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) <= 0) {
                EVP_PKEY_free(dh);
                *err = errf("Failed to load DH params file %s: %s", s->dh_params_file);
                goto fail;
            }
        } else {
            SSL_CTX_set_dh_auto(ctx, 1);
        }
        int mode = SSL_VERIFY_NONE;
        if (s->auth_clients == TLS_AUTH_YES)
            mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        if (s->auth_clients == TLS_AUTH_OPTIONAL) mode = SSL_VERIFY_PEER;
        SSL_CTX_set_verify(ctx, mode, NULL);
        static const unsigned char sid_ctx[] = "keyloom";
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
        /* Resumption uses stateless tickets (TLS 1.2 and 1.3), which any I/O
         * thread can decrypt with no shared, locked session cache. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        if (s->session_caching) {
            SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
            SSL_CTX_set_timeout(ctx,
                                s->session_cache_timeout >= 0 ? s->session_cache_timeout : 300);
            SSL_CTX_set_num_tickets(ctx, 1);
        } else {
            SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
            SSL_CTX_set_num_tickets(ctx, 0);
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_configure(const tls_settings_t *s, char **err) {
    *err = NULL;
    SSL_CTX *server = build_ctx(s, true, err);
    if (!server) return -1;
    SSL_CTX *client = build_ctx(s, false, err);
    if (!client) {
        SSL_CTX_free(server);
        return -1;
    }
    /* Keep the ticket keys across reloads so sessions issued before a
     * certificate rotation still resume. */
    pthread_mutex_lock(&ctx_lock);
    if (cur_server) {
        unsigned char keys[80];
        if (SSL_CTX_get_tlsext_ticket_keys(cur_server, keys, sizeof(keys)) > 0)
            SSL_CTX_set_tlsext_ticket_keys(server, keys, sizeof(keys));
        OPENSSL_cleanse(keys, sizeof(keys));
    }
    SSL_CTX *old_s = cur_server, *old_c = cur_client;
    cur_server = server;
    cur_client = client;
    /* Release store: the new pointers are visible to a thread that sees the
     * new generation (it re-reads them under the lock anyway). */
    atomic_fetch_add_explicit(&ctx_gen, 1, memory_order_release);
    server_not_after = asn1_to_unix(X509_get0_notAfter(SSL_CTX_get0_certificate(server)));
    pthread_mutex_unlock(&ctx_lock);
    if (old_s) SSL_CTX_free(old_s);
    if (old_c) SSL_CTX_free(old_c);
    ca_not_after = 0;
    if (!empty(s->ca_cert_file)) {
        FILE *f = fopen(s->ca_cert_file, "r");
        if (f) {
            X509 *ca = PEM_read_X509(f, NULL, NULL, NULL);
            if (ca) {
                ca_not_after = asn1_to_unix(X509_get0_notAfter(ca));
                X509_free(ca);
            }
            fclose(f);
        }
    }
    return 0;
}

void tls_cert_expiry(int64_t *s, int64_t *ca) {
    *s = server_not_after;
    *ca = ca_not_after;
}

/* ---------------------------------------------------------------- connection */

enum { TS_HANDSHAKE = 0, TS_OPEN, TS_FAILED };

typedef struct tls_conn {
    conn_t base;
    uv_tcp_t tcp;
    SSL *ssl;
    uint8_t state;
    bool client_side, fatal, app_reading, checked_first, deferred;
    int pending_closes;
    conn_read_fn on_read;
    conn_ready_fn on_ready;
    conn_close_fn on_close;
    conn_write_fn on_write;
    void *write_ctx;
    /* Ciphertext being fed to OpenSSL by the current read callback. */
    const char *in_ptr;
    size_t in_len;
    /* Ciphertext produced by OpenSSL: the thread scratch while borrowed,
     * else the connection's own backlog buffer. */
    char *obuf;
    size_t olen, ocap;
    bool borrowed;
    char *wbuf; /* in an unfinished uv_write */
    size_t wlen;
    bool writing;
    uv_write_t wreq;
    uv_timer_t *hs_timer;
    uv_timer_t *resume_timer; /* delivers input that arrived before read_start */
    char *held;               /* ciphertext received before the app started reading */
    size_t held_len;
    struct tls_conn *next_deferred;
    char err[200];
} tls_conn_t;

static void tls_fail(tls_conn_t *c, _Atomic uint64_t *reason, const char *why);

/* Our BIO: read from in_ptr, write to obuf. */
static int bio_read_cb(BIO *b, char *out, int outl) {
    tls_conn_t *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (c->in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = (size_t)outl < c->in_len ? (size_t)outl : c->in_len;
    memcpy(out, c->in_ptr, n);
    c->in_ptr += n;
    c->in_len -= n;
    return (int)n;
}

static void obuf_reserve(tls_conn_t *c, size_t extra) {
    if (c->olen + extra <= c->ocap) return;
    size_t cap = c->ocap ? c->ocap : 4096;
    while (cap < c->olen + extra)
        cap *= 2;
    if (c->borrowed) {
        tls_thread_t *t = thread_state();
        t->scratch = kl_realloc(t->scratch, cap);
        t->scratch_cap = cap;
        c->obuf = t->scratch;
    } else {
        c->obuf = kl_realloc(c->obuf, cap);
    }
    c->ocap = cap;
}

static int bio_write_cb(BIO *b, const char *in, int inl) {
    tls_conn_t *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    obuf_reserve(c, (size_t)inl);
    memcpy(c->obuf + c->olen, in, (size_t)inl);
    c->olen += (size_t)inl;
    return inl;
}

static long bio_ctrl_cb(BIO *b, int cmd, long num, void *ptr) {
    tls_conn_t *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_PENDING:
        return c ? (long)c->in_len : 0;
    case BIO_CTRL_WPENDING:
        return 0;
    case BIO_CTRL_GET_CLOSE:
        return BIO_get_shutdown(b);
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(b, (int)num);
        return 1;
    default:
        return 0;
    }
}

static int bio_create_cb(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static int bio_destroy_cb(BIO *b) {
    return 1;
}

/* Start a batch of SSL calls: ciphertext goes to the thread scratch unless a
 * backlog exists (then it must queue behind it, in the connection's buffer). */
static void out_begin(tls_conn_t *c) {
    if (c->olen == 0 && !c->borrowed) {
        if (c->obuf) {
            kl_free(c->obuf);
        }
        tls_thread_t *t = thread_state();
        c->obuf = t->scratch;
        c->ocap = t->scratch_cap;
        c->borrowed = true;
    }
}

static void tls_on_write_done(uv_write_t *req, int status);

/* Write what OpenSSL produced; keep the rest in a buffer of our own. Ends a
 * batch begun with out_begin(). */
static void out_flush(tls_conn_t *c) {
    if (c->olen > 0 && !c->writing && !c->base.closing) {
        uv_buf_t b = uv_buf_init(c->obuf, (unsigned)c->olen);
        int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (w < 0 && w != UV_EAGAIN) {
            c->fatal = true;
            c->olen = 0;
        } else {
            size_t done = w > 0 ? (size_t)w : 0;
            if (done == c->olen) {
                c->olen = 0;
            } else {
                /* Hand the remainder to libuv from a private copy. */
                size_t rest = c->olen - done;
                c->wbuf = kl_malloc(rest);
                memcpy(c->wbuf, c->obuf + done, rest);
                c->wlen = rest;
                c->olen = 0;
                c->writing = true;
                c->wreq.data = c;
                uv_buf_t wb = uv_buf_init(c->wbuf, (unsigned)rest);
                if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &wb, 1, tls_on_write_done) != 0) {
                    kl_free(c->wbuf);
                    c->wbuf = NULL;
                    c->writing = false;
                    c->fatal = true;
                }
            }
        }
    }
    if (c->borrowed) {
        if (c->olen > 0) {
            /* Still queued behind an unfinished write: move it off the scratch. */
            char *own = kl_malloc(c->olen);
            memcpy(own, c->obuf, c->olen);
            c->obuf = own;
            c->ocap = c->olen;
        } else {
            c->obuf = NULL;
            c->ocap = 0;
        }
        c->borrowed = false;
    }
}

static void maybe_write_done(tls_conn_t *c, int status) {
    if (!c->on_write) return;
    if (status == 0 && (c->writing || c->olen > 0)) return;
    conn_write_fn fn = c->on_write;
    c->on_write = NULL;
    fn(&c->base, status, c->write_ctx);
}

static void tls_on_write_done(uv_write_t *req, int status) {
    tls_conn_t *c = req->data;
    kl_free(c->wbuf);
    c->wbuf = NULL;
    c->wlen = 0;
    c->writing = false;
    if (status < 0) {
        c->fatal = true;
        maybe_write_done(c, status);
        return;
    }
    if (c->olen > 0) {
        out_begin(c);
        out_flush(c);
    }
    maybe_write_done(c, c->fatal ? UV_EPIPE : 0);
}

static void classify_failure(tls_conn_t *c, unsigned long e, _Atomic uint64_t **reason) {
    int r = ERR_GET_REASON(e);
    long vr = SSL_get_verify_result(c->ssl);
    if (r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        *reason = &st_no_cert;
    } else if (r == SSL_R_CERTIFICATE_VERIFY_FAILED || vr != X509_V_OK) {
        *reason = &st_unknown_ca;
    } else if (r == SSL_R_HTTP_REQUEST || r == SSL_R_HTTPS_PROXY_REQUEST) {
        *reason = &st_plaintext;
    } else if (r == SSL_R_UNSUPPORTED_PROTOCOL || r == SSL_R_NO_SHARED_CIPHER ||
               r == SSL_R_WRONG_VERSION_NUMBER || r == SSL_R_VERSION_TOO_LOW ||
               r == SSL_R_VERSION_TOO_HIGH || r == SSL_R_NO_PROTOCOLS_AVAILABLE ||
               r == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION || r == SSL_R_NO_SHARED_GROUPS) {
        *reason = &st_protocol;
    } else {
        *reason = &st_other;
    }
}

static void conn_release(tls_conn_t *c) {
    if (--c->pending_closes > 0) return;
    kl_free(c->held);
    SSL_free(c->ssl);
    if (!c->borrowed) kl_free(c->obuf);
    if (c->on_close) c->on_close(&c->base);
    kl_free(c);
}

static void hs_timer_closed(uv_handle_t *h) {
    tls_conn_t *c = h->data;
    kl_free(h);
    conn_release(c);
}

static void stop_hs_timer(tls_conn_t *c) {
    if (!c->hs_timer) return;
    uv_timer_stop(c->hs_timer);
    uv_close((uv_handle_t *)c->hs_timer, hs_timer_closed);
    c->hs_timer = NULL;
}

static void peer_name(tls_conn_t *c, char *buf, size_t len) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    buf[0] = '\0';
    if (getpeername(c->base.fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(buf, len, "?");
        return;
    }
    char ip[64] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        port = ntohs(s->sin6_port);
    }
    snprintf(buf, len, "%s:%d", ip, port);
}

static void tls_fail(tls_conn_t *c, _Atomic uint64_t *reason, const char *why) {
    if (c->state == TS_FAILED) return;
    c->state = TS_FAILED;
    c->fatal = true;
    bump(reason);
    snprintf(c->err, sizeof(c->err), "%s", why);
    if (kl_log_enabled(KL_LOG_VERBOSE)) {
        char peer[80];
        peer_name(c, peer, sizeof(peer));
        kl_verbose("%s: %s (conn: fd=%d, addr=%s)",
                   c->client_side ? "TLS handshake of an outgoing connection failed"
                                  : "Error accepting a client connection",
                   why, c->base.fd, peer);
    }
    stop_hs_timer(c);
    if (c->on_ready) c->on_ready(&c->base, UV_EPROTO);
}

static void do_handshake(tls_conn_t *c) {
    out_begin(c);
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        out_flush(c);
        c->state = TS_OPEN;
        stop_hs_timer(c);
        bump(&st_ok);
        if (SSL_session_reused(c->ssl)) bump(&st_resumed);
        if (c->on_ready) c->on_ready(&c->base, 0);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        out_flush(c);
        return;
    }
    unsigned long err = ERR_peek_last_error();
    _Atomic uint64_t *reason = &st_other;
    char why[160];
    if (err) {
        classify_failure(c, err, &reason);
        ERR_error_string_n(err, why, sizeof(why));
        long vr = SSL_get_verify_result(c->ssl);
        if (vr != X509_V_OK) {
            size_t n = strlen(why);
            snprintf(why + n, sizeof(why) - n, " (%s)", X509_verify_cert_error_string(vr));
        }
    } else {
        snprintf(why, sizeof(why), "handshake failed (%s)",
                 e == SSL_ERROR_SYSCALL ? "connection reset" : "protocol error");
    }
    ERR_clear_error();
    out_flush(c); /* send the alert */
    tls_fail(c, reason, why);
}

static void tls_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    tls_conn_t *c = s->data;
    if (nread == 0 || c->base.closing) return;
    if (nread < 0) {
        if (c->state == TS_HANDSHAKE) {
            tls_fail(c, &st_other,
                     nread == UV_EOF ? "connection closed during handshake"
                                     : uv_strerror((int)nread));
            return;
        }
        if (c->on_read && c->state == TS_OPEN) c->on_read(&c->base, nread, NULL);
        return;
    }
    if (!c->checked_first && !c->client_side) {
        c->checked_first = true;
        /* A TLS connection starts with a handshake record (0x16). Anything
         * else is a plaintext client on the TLS port. */
        if ((unsigned char)buf->base[0] != 0x16) {
            tls_fail(c, &st_plaintext, "plaintext client on the TLS port");
            return;
        }
    }
    c->in_ptr = buf->base;
    c->in_len = (size_t)nread;
    if (c->state == TS_HANDSHAKE) {
        do_handshake(c);
        if (c->state != TS_OPEN || c->base.closing) {
            c->in_len = 0;
            return;
        }
    }
    if (!c->app_reading) {
        /* Ready, but the owner has not asked for data yet: keep what came
         * with the handshake and stop reading until conn_read_start(). */
        if (c->in_len) {
            c->held = kl_realloc(c->held, c->held_len + c->in_len);
            memcpy(c->held + c->held_len, c->in_ptr, c->in_len);
            c->held_len += c->in_len;
        }
        c->in_ptr = NULL;
        c->in_len = 0;
        uv_read_stop((uv_stream_t *)&c->tcp);
        return;
    }
    tls_thread_t *t = thread_state();
    /* Drain everything OpenSSL can give: plaintext buffered inside OpenSSL
     * never waits for a socket event that may not come. */
    while (!c->base.closing && c->state == TS_OPEN) {
        out_begin(c);
        ERR_clear_error();
        int n = SSL_read(c->ssl, t->plain, PLAIN_BUF_SIZE);
        out_flush(c);
        if (n > 0) {
            c->on_read(&c->base, n, t->plain);
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            c->on_read(&c->base, UV_EOF, NULL);
        } else {
            char why[160];
            unsigned long err = ERR_peek_last_error();
            if (err)
                ERR_error_string_n(err, why, sizeof(why));
            else
                snprintf(why, sizeof(why), "SSL_read failed");
            ERR_clear_error();
            snprintf(c->err, sizeof(c->err), "%s", why);
            c->fatal = true;
            c->on_read(&c->base, UV_EPROTO, NULL);
        }
        break;
    }
    c->in_ptr = NULL;
    c->in_len = 0;
}

static void tls_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    buf->base = conn__thread_read_buf();
    buf->len = CONN_READ_BUF_SIZE;
}

static void hs_timeout(uv_timer_t *h) {
    tls_conn_t *c = h->data;
    if (c->hs_timer == h && c->state == TS_HANDSHAKE)
        tls_fail(c, &st_timeout, "handshake timed out");
}

static void start_handshake(tls_conn_t *c) {
    int err = uv_read_start((uv_stream_t *)&c->tcp, tls_alloc, tls_on_read);
    if (err) {
        tls_fail(c, &st_other, uv_strerror(err)); /* reports through on_ready */
        return;
    }
    if (c->client_side) do_handshake(c);
}

static void idle_closed(uv_handle_t *h) {
    kl_free(h);
}

static void deferred_run(uv_idle_t *h) {
    tls_thread_t *t = thread_state();
    t->started_this_tick = 0;
    while (t->deferred_head && t->started_this_tick < hs_per_tick) {
        tls_conn_t *c = t->deferred_head;
        t->deferred_head = c->next_deferred;
        if (!t->deferred_head) t->deferred_tail = NULL;
        c->deferred = false;
        c->next_deferred = NULL;
        t->started_this_tick++;
        if (!c->base.closing) start_handshake(c);
    }
    if (!t->deferred_head) {
        uv_idle_stop(h);
        uv_close((uv_handle_t *)h, idle_closed);
        t->idle = NULL;
    }
}

/* Arm the handshake deadline. Returns 0 or a UV error (nothing armed). */
static int hs_timer_start(tls_conn_t *c) {
    uv_timer_t *h = kl_malloc(sizeof(*h));
    int err = uv_timer_init(c->base.loop, h);
    if (err) {
        kl_free(h); /* never registered with the loop */
        snprintf(c->err, sizeof(c->err), "handshake timer: %s", uv_strerror(err));
        return err;
    }
    h->data = c;
    c->hs_timer = h;
    c->pending_closes++;
    return uv_timer_start(h, hs_timeout, atomic_load_explicit(&hs_timeout_ms, memory_order_relaxed),
                          0);
}

static int tls_accept(conn_t *base, conn_ready_fn ready) {
    tls_conn_t *c = (tls_conn_t *)base;
    int err = hs_timer_start(c);
    if (err) return err; /* the owner closes the connection */
    c->on_ready = ready;
    /* Cap the handshakes started per loop tick so established clients keep
     * their latency during a connection storm; the rest start next tick (their
     * ClientHello waits in the socket buffer meanwhile). */
    tls_thread_t *t = thread_state();
    uint64_t now = uv_now(base->loop);
    if (now != t->tick) {
        t->tick = now;
        t->started_this_tick = 0;
    }
    if (t->started_this_tick < hs_per_tick && !t->deferred_head) {
        t->started_this_tick++;
        start_handshake(c);
        return 0;
    }
    if (!t->idle) {
        uv_idle_t *idle = kl_malloc(sizeof(*idle));
        err = uv_idle_init(base->loop, idle);
        if (err) {
            kl_free(idle); /* never registered with the loop */
            snprintf(c->err, sizeof(c->err), "handshake queue: %s", uv_strerror(err));
            return err; /* the owner closes the connection (and the hs timer) */
        }
        t->idle = idle;
    }
    c->deferred = true;
    if (t->deferred_tail)
        t->deferred_tail->next_deferred = c;
    else
        t->deferred_head = c;
    t->deferred_tail = c;
    uv_idle_start(t->idle, deferred_run);
    return 0;
}

static void resume_timer_closed(uv_handle_t *h) {
    tls_conn_t *c = h->data;
    kl_free(h);
    conn_release(c);
}

/* Deliver input held from before read_start, on a fresh loop iteration so
 * the owner is not re-entered from inside its own conn_read_start(). */
static void resume_held(uv_timer_t *h) {
    tls_conn_t *c = h->data;
    c->resume_timer = NULL;
    uv_close((uv_handle_t *)h, resume_timer_closed);
    if (c->base.closing || !c->held_len || !c->app_reading) return;
    char *held = c->held;
    size_t n = c->held_len;
    c->held = NULL;
    c->held_len = 0;
    uv_buf_t b = uv_buf_init(held, (unsigned)n);
    tls_on_read((uv_stream_t *)&c->tcp, (ssize_t)n, &b);
    kl_free(held);
}

static int tls_read_start(conn_t *base, conn_read_fn fn) {
    tls_conn_t *c = (tls_conn_t *)base;
    c->on_read = fn;
    c->app_reading = true;
    if (c->state != TS_OPEN) return 0;
    if (c->held_len && !c->resume_timer) {
        uv_timer_t *h = kl_malloc(sizeof(*h));
        int err = uv_timer_init(base->loop, h);
        if (err) {
            kl_free(h); /* never registered with the loop */
            snprintf(c->err, sizeof(c->err), "read resume timer: %s", uv_strerror(err));
            return err;
        }
        h->data = c;
        c->resume_timer = h;
        c->pending_closes++;
        uv_timer_start(h, resume_held, 0, 0);
    }
    /* The socket is still read from the handshake on: that counts as started. */
    int err = uv_read_start((uv_stream_t *)&c->tcp, tls_alloc, tls_on_read);
    return err == UV_EALREADY ? 0 : err;
}

static int tls_read_stop(conn_t *base) {
    tls_conn_t *c = (tls_conn_t *)base;
    c->app_reading = false;
    if (c->state != TS_OPEN) return 0;
    return uv_read_stop((uv_stream_t *)&c->tcp);
}

static int ssl_write_all(tls_conn_t *c, const char *p, size_t n) {
    while (n > 0) {
        ERR_clear_error();
        int w = SSL_write(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
        if (w <= 0) {
            unsigned long err = ERR_peek_last_error();
            if (err) ERR_error_string_n(err, c->err, sizeof(c->err));
            ERR_clear_error();
            c->fatal = true;
            return UV_EPROTO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int tls_writev(conn_t *base, const uv_buf_t *bufs, unsigned n, conn_write_fn fn, void *ctx) {
    tls_conn_t *c = (tls_conn_t *)base;
    if (base->closing || c->fatal || c->state != TS_OPEN) return UV_EPIPE;
    out_begin(c);
    /* Coalesce small buffers into records of up to 16 KB: SSL_write has no
     * writev, and one record per reply would multiply the overhead. */
    char stage[RECORD_MAX];
    size_t sl = 0;
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        const char *p = bufs[i].base;
        size_t len = bufs[i].len;
        if (len >= RECORD_MAX) {
            if (sl) {
                rc = ssl_write_all(c, stage, sl);
                sl = 0;
            }
            if (rc == 0) rc = ssl_write_all(c, p, len);
            continue;
        }
        if (sl + len > RECORD_MAX) {
            rc = ssl_write_all(c, stage, sl);
            sl = 0;
        }
        memcpy(stage + sl, p, len);
        sl += len;
    }
    if (rc == 0 && sl) rc = ssl_write_all(c, stage, sl);
    out_flush(c);
    if (rc != 0 || c->fatal) return UV_EPROTO;
    if (c->writing || c->olen > 0) {
        c->on_write = fn;
        c->write_ctx = ctx;
        return 0;
    }
    return 1;
}

static void tcp_closed(uv_handle_t *h) {
    tls_conn_t *c = h->data;
    atomic_fetch_sub_explicit(&st_conns, 1, memory_order_relaxed);
    conn_release(c);
}

static void tls_close(conn_t *base, conn_close_fn fn) {
    tls_conn_t *c = (tls_conn_t *)base;
    if (base->closing) return;
    /* A clean close says close_notify; never after a fatal error. */
    if (c->state == TS_OPEN && !c->fatal && !c->writing) {
        out_begin(c);
        ERR_clear_error();
        SSL_shutdown(c->ssl);
        ERR_clear_error();
        out_flush(c);
    }
    base->closing = 1;
    c->on_close = fn;
    if (c->deferred) {
        tls_thread_t *t = thread_state();
        tls_conn_t **pp = &t->deferred_head;
        t->deferred_tail = NULL;
        while (*pp) {
            if (*pp == c) {
                *pp = c->next_deferred;
                continue;
            }
            t->deferred_tail = *pp;
            pp = &(*pp)->next_deferred;
        }
        c->deferred = false;
    }
    stop_hs_timer(c);
    if (c->resume_timer) {
        uv_timer_stop(c->resume_timer);
        uv_close((uv_handle_t *)c->resume_timer, resume_timer_closed);
        c->resume_timer = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, tcp_closed);
}

static size_t tls_pending_out(const conn_t *base) {
    const tls_conn_t *c = (const tls_conn_t *)base;
    return c->wlen + (c->borrowed ? 0 : c->olen);
}

static const char *tls_last_error(const conn_t *base) {
    const tls_conn_t *c = (const tls_conn_t *)base;
    return c->err[0] ? c->err : NULL;
}

static const conn_ops_t tls_ops = {
    .name = "tls",
    .accept = tls_accept,
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .writev = tls_writev,
    .close = tls_close,
    .pending_out = tls_pending_out,
    .last_error = tls_last_error,
};

static void failed_tcp_closed(uv_handle_t *h) {
    kl_free(h->data);
}

/* A new TLS connection over fd with ctx, or (NULL) the thread's current server
 * or client context. On failure the fd is closed (by us, or by closing the
 * handle that took it), nothing is left on the loop once the close callbacks
 * ran, and *err says why. */
static tls_conn_t *tls_conn_new(uv_loop_t *loop, int fd, bool client_side, SSL_CTX *ctx, int *err) {
    tls_thread_t *t = thread_state();
    if (!ctx) {
        thread_refresh_ctx(t);
        ctx = client_side ? t->client : t->server;
    }
    if (!ctx) {
        close(fd);
        *err = UV_EINVAL;
        return NULL;
    }
    tls_conn_t *c = kl_calloc(1, sizeof(*c));
    int e = uv_tcp_init(loop, &c->tcp);
    if (e) {
        /* Never registered with the loop: plain free. */
        close(fd);
        kl_free(c);
        *err = e;
        return NULL;
    }
    c->tcp.data = c;
    e = uv_tcp_open(&c->tcp, fd);
    if (e) {
        /* The handle is on the loop's list: close it through the loop and free
         * it in the callback. It did not take the fd (see conn__socket_open
         * for UV_EEXIST). */
        if (e != UV_EEXIST) close(fd);
        uv_close((uv_handle_t *)&c->tcp, failed_tcp_closed);
        *err = e;
        return NULL;
    }
    c->ssl = SSL_new(ctx);
    BIO *bio = c->ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        char why[256];
        ssl_errstr(why, sizeof(why));
        kl_warning("Error creating a TLS connection: %s", why);
        SSL_free(c->ssl); /* NULL-safe */
        /* The handle owns the fd now: closing the handle closes it. */
        uv_close((uv_handle_t *)&c->tcp, failed_tcp_closed);
        *err = UV_ENOMEM;
        return NULL;
    }
    /* Best effort: the listener already set TCP_NODELAY on accepted sockets. */
    (void)uv_tcp_nodelay(&c->tcp, 1);
    c->base.ops = &tls_ops;
    c->base.loop = loop;
    c->base.kind = CONN_KIND_TLS;
    c->base.fd = fd;
    c->client_side = client_side;
    c->pending_closes = 1;
    BIO_set_data(bio, c);
    SSL_set_bio(c->ssl, bio, bio);
    if (client_side)
        SSL_set_connect_state(c->ssl);
    else
        SSL_set_accept_state(c->ssl);
    atomic_fetch_add_explicit(&st_conns, 1, memory_order_relaxed);
    return c;
}

static int tls_factory(uv_loop_t *loop, int fd, conn_t **out) {
    int err = 0;
    tls_conn_t *c = tls_conn_new(loop, fd, false, NULL, &err);
    if (!c) return err; /* fd closed */
    *out = &c->base;
    return 0;
}

/* Client side: send sni (if any), check the certificate against
 * verify_name (an IP address or a DNS name; NULL: the chain only), start the
 * handshake timer and the handshake. Returns 0, or an error after closing c
 * (and its socket with it). */
static int client_start(tls_conn_t *c, const char *sni, const char *verify_name,
                        conn_ready_fn ready) {
    if (sni && sni[0]) SSL_set_tlsext_host_name(c->ssl, sni);
    if (verify_name && verify_name[0]) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        if (X509_VERIFY_PARAM_set1_ip_asc(vp, verify_name) != 1) {
            ERR_clear_error();
            SSL_set1_host(c->ssl, verify_name);
        }
    }
    int err = hs_timer_start(c);
    if (err) {
        tls_close(&c->base, NULL); /* closes the socket; frees c in the callbacks */
        return err;
    }
    c->on_ready = ready;
    start_handshake(c);
    return 0;
}

int tls_conn_connect(uv_loop_t *loop, int fd, const char *sni, conn_ready_fn ready, conn_t **out) {
    int err = 0;
    tls_conn_t *c = tls_conn_new(loop, fd, true, NULL, &err);
    if (!c) return err; /* fd closed */
    /* Verify the peer against the name we asked for: IP or DNS name. */
    *out = &c->base;
    err = client_start(c, sni, sni, ready);
    if (err) *out = NULL;
    return err;
}

/* ---------------------------------------------------------------- links */

/* A client context is an SSL_CTX: SSL_CTX_up_ref / SSL_CTX_free are its
 * thread-safe reference counting, and every SSL made from it holds its own
 * reference. */
int tls_client_ctx_new(const tls_settings_t *s, tls_client_ctx_t **out, char **err) {
    *err = NULL;
    SSL_CTX *ctx = build_ctx(s, false, err);
    if (!ctx) return -1;
    *out = (tls_client_ctx_t *)ctx;
    return 0;
}

void tls_client_ctx_free(tls_client_ctx_t *c) {
    if (c) SSL_CTX_free((SSL_CTX *)c);
}

static void link_ctx_release(void *ctx) {
    if (ctx) SSL_CTX_free(ctx);
}

/* iol_secure_connect_fn: a TLS client connection over the connected fd. */
static int link_connect(void *ctx, uv_loop_t *loop, int fd, const char *sni,
                        const char *verify_name, void *data, conn_ready_fn ready, conn_t **out) {
    int err = 0;
    tls_conn_t *c = tls_conn_new(loop, fd, true, ctx, &err);
    if (!c) return err; /* fd closed */
    c->base.data = data;
    *out = &c->base;
    /* RFC 6066: a server name is a DNS name, never an address literal. */
    unsigned char addr[sizeof(struct in6_addr)];
    if (sni && (inet_pton(AF_INET, sni, addr) == 1 || inet_pton(AF_INET6, sni, addr) == 1))
        sni = NULL;
    err = client_start(c, sni, verify_name, ready);
    if (err) *out = NULL;
    return err;
}

void tls_link_security(tls_client_ctx_t *ctx, iol_link_security_t *sec) {
    if (ctx) SSL_CTX_up_ref((SSL_CTX *)ctx);
    sec->connect = link_connect;
    sec->release = link_ctx_release;
    sec->ctx = ctx;
}

const char *tls_conn_version(const conn_t *base) {
    return SSL_get_version(((const tls_conn_t *)base)->ssl);
}

bool tls_conn_resumed(const conn_t *base) {
    return SSL_session_reused(((const tls_conn_t *)base)->ssl) == 1;
}

int tls_conn_peer_subject(const conn_t *base, char *buf, size_t len) {
    X509 *x = SSL_get1_peer_certificate(((const tls_conn_t *)base)->ssl);
    buf[0] = '\0';
    if (!x) return -1;
    X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len);
    X509_free(x);
    return 0;
}

const char *tls_conn_server_name(const conn_t *base) {
    const char *n = SSL_get_servername(((const tls_conn_t *)base)->ssl, TLSEXT_NAMETYPE_host_name);
    return n ? n : "";
}

void tls_set_handshake_timeout_ms(uint64_t ms) {
    atomic_store_explicit(&hs_timeout_ms, ms, memory_order_relaxed);
}

void tls_set_handshakes_per_tick(unsigned n) {
    hs_per_tick = n ? n : 1;
}

int tls_init(void) {
    if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) !=
            1 ||
        !(bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "keyloom"))) {
        char why[256];
        ssl_errstr(why, sizeof(why));
        kl_warning("Failed to initialise OpenSSL: %s", why);
        return -1;
    }
    BIO_meth_set_write(bio_method, bio_write_cb);
    BIO_meth_set_read(bio_method, bio_read_cb);
    BIO_meth_set_ctrl(bio_method, bio_ctrl_cb);
    BIO_meth_set_create(bio_method, bio_create_cb);
    BIO_meth_set_destroy(bio_method, bio_destroy_cb);
    conn_register_type(CONN_KIND_TLS, tls_factory);
    return 0;
}

void tls_shutdown(void) {
    /* The calling (main) thread's references; I/O threads released theirs
     * when they exited. */
    if (tthr) {
        tthr_release(tthr);
        tthr = NULL;
        pthread_setspecific(tthr_key, NULL);
    }
    pthread_mutex_lock(&ctx_lock);
    if (cur_server) SSL_CTX_free(cur_server);
    if (cur_client) SSL_CTX_free(cur_client);
    cur_server = cur_client = NULL;
    pthread_mutex_unlock(&ctx_lock);
    if (bio_method) BIO_meth_free(bio_method);
    bio_method = NULL;
}
