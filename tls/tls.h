/* TLS for keyloom: OpenSSL contexts (server and client), the TLS connection
 * type that plugs into ioloop's connection interface, certificate reload and
 * statistics. Only this module includes OpenSSL headers. The connection-level
 * calls (for ioloop's side and tests) are in tls_conn.h.
 *
 * Threads: tls_configure() runs on the executor; connections run entirely on
 * the I/O thread that owns them (handshake, SSL_read, SSL_write, shutdown).
 * A reload builds new contexts and swaps them in atomically; connections made
 * before keep the context they started with. */
#ifndef KL_TLS_H
#define KL_TLS_H

#include "iol_link.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tls_auth_mode { TLS_AUTH_NO = 0, TLS_AUTH_YES = 1, TLS_AUTH_OPTIONAL = 2 };

/* Everything the contexts are built from (a copy of the tls-* directives).
 * Strings may be NULL or "" for "unset". */
typedef struct tls_settings {
    const char *cert_file, *key_file, *key_file_pass;
    const char *client_cert_file, *client_key_file, *client_key_file_pass;
    const char *ca_cert_file, *ca_cert_dir;
    const char *dh_params_file;
    const char *protocols;    /* "TLSv1.2 TLSv1.3" when NULL/"" */
    const char *ciphers;      /* TLS <= 1.2 */
    const char *ciphersuites; /* TLS 1.3 */
    bool prefer_server_ciphers;
    bool session_caching;
    int session_cache_size;
    int session_cache_timeout;
    int auth_clients; /* enum tls_auth_mode */
} tls_settings_t;

/* Thread: main, once, before any I/O thread starts. Registers the TLS type
 * with ioloop. Returns 0, or -1 (logged) when OpenSSL cannot be set up. */
int tls_init(void);
void tls_shutdown(void);

/* Build server and client contexts from s and make them current. On failure
 * the previous contexts stay in force and *err (malloc'd) says which file and
 * OpenSSL's reason. Thread: executor. */
int tls_configure(const tls_settings_t *s, char **err);
bool tls_configured(void);

/* A client context of its own for outbound links (the configured one is what
 * tls-replication / tls-cluster use): built from s like the client context
 * of tls_configure() (client_cert_file/key, else cert_file/key; a CA is
 * required: peers are always verified). On failure *err (malloc'd) says why.
 * Reference counted: tls_client_ctx_free() drops the caller's reference, and
 * links keep their own. Thread: any. */
typedef struct tls_client_ctx tls_client_ctx_t;
int tls_client_ctx_new(const tls_settings_t *s, tls_client_ctx_t **out, char **err);
void tls_client_ctx_free(tls_client_ctx_t *c);
/* Fill sec so that iol_connect() runs the TLS client handshake with ctx, or
 * with the current configured client context when ctx is NULL (taken on the
 * link's I/O thread when it connects). Takes a reference to ctx for the
 * link. Thread: executor. */
void tls_link_security(tls_client_ctx_t *ctx, iol_link_security_t *sec);

typedef struct tls_stats {
    uint64_t connections; /* current */
    uint64_t handshakes_ok, resumed;
    uint64_t failed_no_cert, failed_unknown_ca, failed_protocol, failed_timeout, failed_plaintext,
        failed_other;
} tls_stats_t;
void tls_stats_get(tls_stats_t *out);
/* Expiry of the current server certificate and of the CA file's first
 * certificate, as unix seconds (0 if unknown). */
void tls_cert_expiry(int64_t *server_not_after, int64_t *ca_not_after);

/* Handshake policy knobs (Thread: main, before start). */
void tls_set_handshake_timeout_ms(uint64_t ms);
void tls_set_handshakes_per_tick(unsigned n);

#endif
