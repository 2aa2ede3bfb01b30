/* keyloom-bench internals shared by main.c (options, workloads), engine.c
 * (threads, connections, TLS), btls.c (TLS context) and report.c (output).
 * Not a library interface: the pure pieces tests link (hist, resp_reply,
 * template, schedule, keygen) have their own headers and do not include this
 * one. */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"
#include "keygen.h"
#include "resp_reply.h"
#include "template.h"

#define BENCH_MAX_TPL 16 /* templates in one workload (a --ratio mix uses 2) */
#define BENCH_SAMPLES 5  /* distinct error texts kept for the report */

enum { OUT_TEXT = 0, OUT_CSV, OUT_JSON };

typedef struct bench_opts {
    /* target */
    const char *host;
    int port;
    const char *socket_path;
    const char *user, *password;
    int resp3;
    /* load */
    int threads;
    uint32_t clients, pipeline;
    uint64_t requests; /* -n: measured requests (used when duration_s == 0) */
    double duration_s, warmup_s, timeout_s;
    uint64_t rate;      /* open loop: requests/s over all connections; 0 = closed loop */
    uint64_t reconnect; /* new connection every N requests per connection; 0 = never */
    int session_reuse;
    uint64_t keyspace; /* -r; 0 = no -r (every key index is 0) */
    int key_dist;
    double zipf_s;
    size_t data_size;
    /* TLS */
    int tls, insecure;
    const char *cacert, *cert, *key, *sni, *protocols, *ciphers, *ciphersuites;
    /* output */
    int out_fmt;
    int progress; /* live progress line on stderr */
} bench_opts_t;

typedef struct bench_workload {
    char name[128];
    int ntpl;
    tpl_t tpl[BENCH_MAX_TPL];
    char tpl_name[BENCH_MAX_TPL][32];
    uint8_t *cycle; /* template index per position of the mix cycle; NULL: always 0 */
    uint32_t cycle_len;
} bench_workload_t;

/* Distinct texts with how often each was seen (the first BENCH_SAMPLES). */
typedef struct bench_samples {
    int n;
    uint64_t count[BENCH_SAMPLES];
    char text[BENCH_SAMPLES][RR_TEXT_MAX + 64];
} bench_samples_t;

void bench_samples_add(bench_samples_t *s, const char *text);
void bench_samples_merge(bench_samples_t *dst, const bench_samples_t *src);

/* Everything measured for one workload; per thread while running, merged after. */
typedef struct bench_result {
    uint64_t requests;    /* measured requests that got a reply */
    uint64_t errors;      /* ... of which error replies */
    uint64_t failed;      /* measured requests sent that never got a reply */
    uint64_t conn_errors; /* connections lost (connect, TLS, I/O, timeout, protocol) */
    uint64_t handshakes;  /* connections established during the measurement */
    uint64_t resumed;     /* ... of which resumed a TLS session */
    uint64_t pushes;      /* RESP3 push messages received (not replies) */
    uint64_t tpl_requests[BENCH_MAX_TPL];
    hist_t *lat;                    /* request latency, us */
    hist_t *hs;                     /* connect()/handshake latency, us */
    hist_t *tpl_lat[BENCH_MAX_TPL]; /* per template when the workload has several */
    double seconds;                 /* measured time */
    double cpu_user, cpu_sys;       /* client CPU seconds (getrusage, all threads) */
    bench_samples_t err_samples, conn_samples;
    int fatal; /* the run was aborted (failed AUTH/HELLO) */
    char fatal_msg[256];
} bench_result_t;

void bench_result_init(bench_result_t *r, int ntpl);
void bench_result_free(bench_result_t *r);
/* Add src's counters and histograms into dst (seconds and CPU excluded). */
void bench_result_merge(bench_result_t *dst, const bench_result_t *src);

struct ssl_ctx_st;

/* Where to connect: resolved once by main. */
typedef struct bench_target {
    struct sockaddr_storage addr; /* TCP */
    int is_unix;
    struct ssl_ctx_st *ssl_ctx; /* NULL without --tls */
} bench_target_t;

/* engine.c: run one workload to completion. Thread: main. Returns 0 (the
 * result says whether anything failed). */
int bench_run(const bench_opts_t *o, const bench_target_t *tg, const bench_workload_t *w,
              bench_result_t *res);

/* btls.c: build the client SSL_CTX from the options; NULL with a message in
 * err on failure. */
struct ssl_ctx_st *btls_ctx_new(const bench_opts_t *o, char *err, size_t errcap);

/* report.c. Thread: main. */
void report_result(const bench_opts_t *o, const bench_workload_t *w, const bench_result_t *r);
void report_progress(const char *name, double elapsed, int warming, uint64_t requests, double ops,
                     uint64_t p99_us);
void report_progress_clear(void);

#endif
