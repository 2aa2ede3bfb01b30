/* keyloom-bench TLS client context: protocol range, cipher lists, client
 * certificate, verification. Per-connection TLS lives in engine.c. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"

static int proto_version(const char *name, size_t n) {
    static const struct {
        const char *name;
        int v;
    } tab[] = {{"TLSv1", TLS1_VERSION},
               {"TLSv1.1", TLS1_1_VERSION},
               {"TLSv1.2", TLS1_2_VERSION},
               {"TLSv1.3", TLS1_3_VERSION}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strlen(tab[i].name) == n && strncasecmp(tab[i].name, name, n) == 0) return tab[i].v;
    return 0;
}

static void ssl_err(char *err, size_t cap, const char *what) {
    unsigned long e = ERR_peek_last_error();
    char buf[200] = "unknown error";
    if (e) ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, cap, "%s: %s", what, buf);
}

/* Thread: main, before any connection exists. */
SSL_CTX *btls_ctx_new(const bench_opts_t *o, char *err, size_t errcap) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        ssl_err(err, errcap, "SSL_CTX_new");
        return NULL;
    }
    /* A retried SSL_write may come from a different buffer (engine keeps the
     * bytes in its own). Partial writes stay off: a burst is all or nothing. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (o->protocols) {
        int lo = 0, hi = 0;
        const char *s = o->protocols;
        while (*s) {
            while (*s == ' ' || *s == ',')
                s++;
            const char *e = s;
            while (*e && *e != ' ' && *e != ',')
                e++;
            if (e == s) break;
            int v = proto_version(s, (size_t)(e - s));
            if (!v) {
                snprintf(err, errcap, "unknown TLS protocol '%.*s'", (int)(e - s), s);
                SSL_CTX_free(ctx);
                return NULL;
            }
            if (!lo || v < lo) lo = v;
            if (v > hi) hi = v;
            s = e;
        }
        if (lo &&
            (!SSL_CTX_set_min_proto_version(ctx, lo) || !SSL_CTX_set_max_proto_version(ctx, hi))) {
            ssl_err(err, errcap, "tls-protocols");
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    if (o->ciphers && !SSL_CTX_set_cipher_list(ctx, o->ciphers)) {
        ssl_err(err, errcap, "tls-ciphers");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (o->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, o->ciphersuites)) {
        ssl_err(err, errcap, "tls-ciphersuites");
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (o->cert) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
            ssl_err(err, errcap, o->cert);
            SSL_CTX_free(ctx);
            return NULL;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, o->key ? o->key : o->cert, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            ssl_err(err, errcap, o->key ? o->key : o->cert);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    if (o->insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
        int ok = o->cacert ? SSL_CTX_load_verify_locations(ctx, o->cacert, NULL)
                           : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            ssl_err(err, errcap, o->cacert ? o->cacert : "default CA paths");
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
}
