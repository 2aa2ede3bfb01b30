/* keyloom-bench engine: worker threads, each with its own uv_loop_t and its
 * own connections for life; plain TCP, Unix sockets, or TLS through OpenSSL
 * memory BIOs over the libuv stream.
 *
 * Per request the hot path does no allocation and no formatting: a template
 * is copied into a per-thread scratch buffer with its key digits filled in,
 * and every request a read event frees up is rendered into the same scratch
 * buffer and sent with one write (one SSL_write with TLS). Replies are parsed
 * in place in the read buffer (the TLS plaintext buffer) and timed with one
 * clock read per read event.
 *
 * Phases of a run: (1) without --reconnect each thread connects all its
 * connections (TLS handshake, AUTH/HELLO) and stops its loop; (2) all
 * threads and the main thread meet at a barrier, the main thread fixes the
 * start, end-of-warm-up and end times and releases them through a second
 * barrier; (3) load until every connection is done (quota sent and
 * answered, duration over, or failed), then the loop winds down and closes.
 * With --reconnect, connections are opened in phase 3, so every handshake
 * after the warm-up is measured. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "bench.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "schedule.h"

#define TICK_MS 100           /* timeouts, fatal-stop checks, progress snapshots */
#define PACE_MIN_NS 10000     /* open loop: never re-arm the pacer closer than this */
#define RBUF_SIZE (64 * 1024) /* per-thread socket read buffer */
#define PBUF_SIZE (32 * 1024) /* per-thread TLS plaintext buffer (2 records) */
#define NBUF_SIZE (64 * 1024) /* per-thread TLS ciphertext staging buffer */
#define WBUF_MIN (64 * 1024)  /* per-thread request rendering buffer */

typedef struct brun brun_t;
typedef struct bthread bthread_t;

enum { C_IDLE, C_CONNECTING, C_HANDSHAKE, C_READY, C_CLOSING, C_DONE };
enum { WHY_DONE, WHY_RECONNECT, WHY_FAIL };
enum { PH_CONNECT, PH_LOAD };

typedef struct bconn {
    bthread_t *th;
    uint32_t slot; /* global connection index: schedule phase, session slot */
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } u;
    uv_connect_t creq;
    uv_write_t wreq;
    int state;
    int close_why;
    uint8_t writing;     /* a uv_write of wpend is in flight */
    uint8_t need_setup;  /* AUTH/HELLO not sent yet on this connection */
    uint8_t exhausted;   /* no more requests may be sent (quota, duration, fatal) */
    uint8_t awaited;     /* phase 1 waits for this connection to be ready */
    uint32_t setup_left; /* AUTH/HELLO replies still expected */
    kl_buf_t wpend;      /* bytes owned by the uv_write in flight */
    kl_buf_t wnext;      /* bytes queued behind it */
    kl_buf_t out;        /* TLS: plaintext an SSL_write must retry */
    tsq_t q;             /* in-flight requests: timestamp and template index */
    rr_parser_t rp;
    uint64_t quota; /* -n: measured requests this slot may still send */
    uint64_t since_connect;
    uint32_t cycle_pos;
    uint64_t connect_ns; /* when connect() was issued */
    uint64_t last_io_ns; /* last reply bytes (or first send into an idle queue) */
    sched_t sched;
    SSL *ssl;
    BIO *rbio, *wbio;
    SSL_SESSION *sess; /* --session-reuse: newest session of this slot */
} bconn_t;

struct bthread {
    brun_t *run;
    int idx;
    pthread_t tid;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_poll_t pace;
    int tfd;
    uint8_t pace_armed, in_pace, wound_down;
    uint64_t pace_at, pace_want;
    int phase;
    uint32_t connecting; /* phase 1: connections not yet ready nor dead */
    bconn_t *conns;
    uint32_t nconns, live;
    char *rbuf, *pbuf, *nbuf, *wbuf;
    size_t wbuf_cap;
    bench_result_t r;
    uint64_t last_reply_ns;
    uint32_t ticks;
    _Atomic uint64_t pub_requests; /* relaxed: progress display only */
    pthread_mutex_t snap_mu;       /* guards snap */
    hist_t *snap;                  /* copy of r.lat, refreshed once a second */
};

struct brun {
    const bench_opts_t *o;
    const bench_target_t *tg;
    const bench_workload_t *w;
    keygen_t kg;
    char *setup; /* AUTH / HELLO commands sent first on each connection */
    size_t setup_len;
    uint32_t setup_cmds;
    /* Written by the main thread between the two barriers, read-only after. */
    uint64_t start_ns, measure_ns, end_ns;
    pthread_barrier_t bar;
    atomic_int fatal;   /* release/acquire: fatal_msg is written before it is set */
    pthread_mutex_t mu; /* guards fatal_msg, threads_done */
    pthread_cond_t cv;
    int threads_done;
    char fatal_msg[256];
    bthread_t *th;
    int nthreads;
};

static void conn_connect(bconn_t *c);
static void conn_close(bconn_t *c, int why);
static void conn_pump(bconn_t *c, uint64_t now);
static void tls_flush(bconn_t *c);

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int run_is_fatal(brun_t *run) {
    return atomic_load_explicit(&run->fatal, memory_order_acquire);
}

/* Thread: any worker. The first message wins. */
static void run_set_fatal(brun_t *run, const char *msg) {
    pthread_mutex_lock(&run->mu);
    if (!atomic_load_explicit(&run->fatal, memory_order_relaxed)) {
        snprintf(run->fatal_msg, sizeof(run->fatal_msg), "%s", msg);
        atomic_store_explicit(&run->fatal, 1, memory_order_release);
    }
    pthread_mutex_unlock(&run->mu);
}

/* ---- Results ------------------------------------------------------------ */

void bench_samples_add(bench_samples_t *s, const char *text) {
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->text[i], text) == 0) {
            s->count[i]++;
            return;
        }
    }
    if (s->n == BENCH_SAMPLES) return;
    snprintf(s->text[s->n], sizeof(s->text[0]), "%s", text);
    s->count[s->n++] = 1;
}

void bench_samples_merge(bench_samples_t *dst, const bench_samples_t *src) {
    for (int i = 0; i < src->n; i++) {
        int j;
        for (j = 0; j < dst->n; j++)
            if (strcmp(dst->text[j], src->text[i]) == 0) break;
        if (j < dst->n) {
            dst->count[j] += src->count[i];
        } else if (dst->n < BENCH_SAMPLES) {
            memcpy(dst->text[dst->n], src->text[i], sizeof(dst->text[0]));
            dst->count[dst->n++] = src->count[i];
        }
    }
}

void bench_result_init(bench_result_t *r, int ntpl) {
    memset(r, 0, sizeof(*r));
    r->lat = hist_new();
    r->hs = hist_new();
    if (ntpl > 1)
        for (int i = 0; i < ntpl; i++)
            r->tpl_lat[i] = hist_new();
}

void bench_result_free(bench_result_t *r) {
    hist_free(r->lat);
    hist_free(r->hs);
    for (int i = 0; i < BENCH_MAX_TPL; i++)
        hist_free(r->tpl_lat[i]);
    memset(r, 0, sizeof(*r));
}

void bench_result_merge(bench_result_t *dst, const bench_result_t *src) {
    dst->requests += src->requests;
    dst->errors += src->errors;
    dst->failed += src->failed;
    dst->conn_errors += src->conn_errors;
    dst->handshakes += src->handshakes;
    dst->resumed += src->resumed;
    dst->pushes += src->pushes;
    for (int i = 0; i < BENCH_MAX_TPL; i++) {
        dst->tpl_requests[i] += src->tpl_requests[i];
        if (dst->tpl_lat[i] && src->tpl_lat[i]) hist_merge(dst->tpl_lat[i], src->tpl_lat[i]);
    }
    hist_merge(dst->lat, src->lat);
    hist_merge(dst->hs, src->hs);
    bench_samples_merge(&dst->err_samples, &src->err_samples);
    bench_samples_merge(&dst->conn_samples, &src->conn_samples);
}

/* ---- Connection failure and closing -------------------------------------- */

/* Requests in flight that belong to the measurement are lost. */
static void conn_count_lost(bconn_t *c) {
    uint64_t measure = c->th->run->measure_ns;
    for (uint32_t i = 0; i < tsq_len(&c->q); i++)
        if (tsq_peek(&c->q, i) >= measure) c->th->r.failed++;
    tsq_clear(&c->q);
}

/* Record a connection error and close the connection for good.
 * Thread: owning worker. */
static void conn_fail(bconn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_fail(bconn_t *c, const char *fmt, ...) {
    if (c->state == C_CLOSING || c->state == C_DONE || c->state == C_IDLE) return;
    char msg[RR_TEXT_MAX + 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->th->r.conn_errors++;
    bench_samples_add(&c->th->r.conn_samples, msg);
    conn_close(c, WHY_FAIL);
}

static void thread_wind_down(bthread_t *th) {
    if (th->wound_down) return;
    th->wound_down = 1;
    uv_close((uv_handle_t *)&th->tick, NULL);
    if (th->tfd >= 0) uv_close((uv_handle_t *)&th->pace, NULL);
}

static void conn_ready_for_load(bconn_t *c) {
    bthread_t *th = c->th;
    if (!c->awaited) return;
    c->awaited = 0;
    if (--th->connecting == 0 && th->phase == PH_CONNECT) uv_stop(&th->loop);
}

static void on_close(uv_handle_t *h) {
    bconn_t *c = h->data;
    bthread_t *th = c->th;
    if (c->ssl) {
        SSL_free(c->ssl); /* frees both BIOs */
        c->ssl = NULL;
        c->rbio = c->wbio = NULL;
    }
    conn_count_lost(c);
    kl_buf_clear(&c->wpend);
    kl_buf_clear(&c->wnext);
    kl_buf_clear(&c->out);
    c->writing = 0;
    c->setup_left = 0;
    if (c->close_why == WHY_RECONNECT && !c->exhausted && !run_is_fatal(th->run)) {
        conn_connect(c);
        return;
    }
    c->state = C_DONE;
    conn_ready_for_load(c);
    if (--th->live == 0) thread_wind_down(th);
}

/* Close the connection; reconnect afterwards when why is WHY_RECONNECT.
 * In-flight measured requests count as failed. Thread: owning worker. */
static void conn_close(bconn_t *c, int why) {
    if (c->state == C_CLOSING || c->state == C_DONE || c->state == C_IDLE) return;
    if (c->ssl && why != WHY_FAIL && c->state == C_READY) {
        /* close_notify, so the server does not log an unexpected EOF. */
        ERR_clear_error();
        SSL_shutdown(c->ssl);
        tls_flush(c);
    }
    c->close_why = why;
    c->state = C_CLOSING;
    uv_close(&c->u.h, on_close);
}

/* ---- Writing -------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status) {
    bconn_t *c = req->data;
    c->writing = 0;
    if (c->state == C_CLOSING || c->state == C_DONE) return;
    if (status < 0) {
        conn_fail(c, "write: %s", uv_strerror(status));
        return;
    }
    kl_buf_clear(&c->wpend);
    if (c->wnext.len) {
        kl_buf_t t = c->wpend;
        c->wpend = c->wnext;
        c->wnext = t;
        uv_buf_t b = uv_buf_init(c->wpend.p, (unsigned)c->wpend.len);
        c->writing = 1;
        int err = uv_write(&c->wreq, &c->u.s, &b, 1, on_write);
        if (err) {
            c->writing = 0;
            conn_fail(c, "write: %s", uv_strerror(err));
        }
    }
}

/* Send bytes on the socket: directly when the socket takes them, otherwise
 * copied behind the write in progress. Thread: owning worker. */
static void net_write(bconn_t *c, const char *p, size_t n) {
    if (c->state == C_CLOSING || c->state == C_DONE || !n) return;
    if (c->writing) {
        kl_buf_append(&c->wnext, p, n);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int r = uv_try_write(&c->u.s, &b, 1);
    if (r >= 0 && (size_t)r == n) return;
    if (r < 0 && r != UV_EAGAIN) {
        conn_fail(c, "write: %s", uv_strerror(r));
        return;
    }
    if (r < 0) r = 0;
    kl_buf_clear(&c->wpend);
    kl_buf_append(&c->wpend, p + r, n - (size_t)r);
    b = uv_buf_init(c->wpend.p, (unsigned)c->wpend.len);
    c->writing = 1;
    int err = uv_write(&c->wreq, &c->u.s, &b, 1, on_write);
    if (err) {
        c->writing = 0;
        conn_fail(c, "write: %s", uv_strerror(err));
    }
}

/* ---- TLS -------------------------------------------------------------------- */

static const char *tls_err_text(bconn_t *c, int sslerr, char *buf, size_t cap) {
    unsigned long e = ERR_peek_last_error();
    long vr = SSL_get_verify_result(c->ssl);
    if (vr != X509_V_OK) {
        snprintf(buf, cap, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
    } else if (e) {
        ERR_error_string_n(e, buf, cap);
    } else if (sslerr == SSL_ERROR_SYSCALL) {
        snprintf(buf, cap, "unexpected EOF");
    } else {
        snprintf(buf, cap, "SSL error %d", sslerr);
    }
    return buf;
}

/* Move everything OpenSSL produced to the socket. Called after every SSL
 * call, since any of them (handshake, read, shutdown) may emit records. */
static void tls_flush(bconn_t *c) {
    bthread_t *th = c->th;
    while (c->wbio && BIO_ctrl_pending(c->wbio) > 0) {
        int r = BIO_read(c->wbio, th->nbuf, NBUF_SIZE);
        if (r <= 0) break;
        net_write(c, th->nbuf, (size_t)r);
    }
}

/* Encrypt plaintext (one SSL_write for the whole burst; records of up to
 * 16 KB). A write that wants to read first (renegotiation, key update) keeps
 * its bytes in c->out and is retried after the next read. */
static void tls_write(bconn_t *c, const char *p, size_t n) {
    if (c->out.len) {
        if (n) kl_buf_append(&c->out, p, n);
        p = c->out.p;
        n = c->out.len;
    }
    if (!n) return;
    ERR_clear_error();
    int r = SSL_write(c->ssl, p, (int)n);
    if (r > 0) {
        kl_buf_clear(&c->out);
    } else {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (p != c->out.p) kl_buf_append(&c->out, p, n);
        } else {
            char eb[200];
            tls_err_text(c, e, eb, sizeof(eb));
            tls_flush(c);
            conn_fail(c, "TLS write: %s", eb);
            return;
        }
    }
    tls_flush(c);
}

/* SSL_CTX new-session callback (--session-reuse): keep the newest session
 * of the slot; returning 1 keeps the reference. Thread: the SSL's owner. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
    bconn_t *c = SSL_get_app_data(ssl);
    if (!c) return 0;
    if (c->sess) SSL_SESSION_free(c->sess);
    c->sess = sess;
    return 1;
}

static int is_ip_literal(const char *s) {
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

static void conn_established(bconn_t *c, uint64_t now);

static int tls_handshake(bconn_t *c, uint64_t now) {
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        tls_flush(c);
        conn_established(c, now);
        return 0;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        tls_flush(c);
        return 0;
    }
    char eb[200];
    tls_err_text(c, e, eb, sizeof(eb));
    tls_flush(c);
    conn_fail(c, "TLS handshake: %s", eb);
    return -1;
}

static void tls_start(bconn_t *c, uint64_t now) {
    brun_t *run = c->th->run;
    const bench_opts_t *o = run->o;
    c->ssl = SSL_new(run->tg->ssl_ctx);
    if (!c->ssl) {
        conn_fail(c, "TLS: SSL_new failed");
        return;
    }
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(c->rbio, -1); /* empty means "retry", not EOF */
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_app_data(c->ssl, c);
    const char *name = o->sni ? o->sni : (run->tg->is_unix ? NULL : o->host);
    if (name && !is_ip_literal(name)) SSL_set_tlsext_host_name(c->ssl, name);
    if (!o->insecure && name) {
        if (is_ip_literal(name))
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
        else
            SSL_set1_host(c->ssl, name);
    }
    if (o->session_reuse && c->sess) SSL_set_session(c->ssl, c->sess);
    SSL_set_connect_state(c->ssl);
    c->state = C_HANDSHAKE;
    tls_handshake(c, now);
}

/* ---- Requests and replies ---------------------------------------------- */

static int may_send_at(const bconn_t *c, uint64_t t) {
    const brun_t *run = c->th->run;
    if (t < run->measure_ns) return 1; /* warm-up */
    if (run->o->duration_s > 0) return t < run->end_ns;
    return c->quota > 0;
}

static void conn_emit(bconn_t *c, const char *p, size_t n) {
    if (c->ssl)
        tls_write(c, p, n);
    else
        net_write(c, p, n);
}

/* Render every request the connection may send now (up to the pipeline
 * depth) and send them with one write. Thread: owning worker. */
static void conn_fill(bconn_t *c, uint64_t now) {
    bthread_t *th = c->th;
    brun_t *run = th->run;
    const bench_opts_t *o = run->o;
    const bench_workload_t *w = run->w;
    char *buf = th->wbuf;
    size_t used = 0;
    if (c->need_setup) {
        memcpy(buf, run->setup, run->setup_len);
        used = run->setup_len;
        c->setup_left = run->setup_cmds;
        c->need_setup = 0;
        c->last_io_ns = now;
    }
    if (th->phase == PH_LOAD && !c->exhausted) {
        if (run_is_fatal(run)) c->exhausted = 1;
        uint32_t room = c->exhausted ? 0 : o->pipeline - tsq_len(&c->q);
        while (room) {
            uint64_t ts;
            if (o->reconnect && c->since_connect >= o->reconnect) break;
            if (o->rate) {
                ts = sched_next_time(&c->sched);
                if (ts > now) break;
                if (!may_send_at(c, ts)) {
                    c->exhausted = 1;
                    break;
                }
                c->sched.next++;
            } else {
                ts = now;
                if (!may_send_at(c, ts)) {
                    c->exhausted = 1;
                    break;
                }
            }
            if (ts >= run->measure_ns && o->duration_s <= 0) c->quota--;
            uint8_t tag = 0;
            if (w->cycle) {
                tag = w->cycle[c->cycle_pos];
                if (++c->cycle_pos == w->cycle_len) c->cycle_pos = 0;
            }
            const tpl_t *t = &w->tpl[tag];
            if (used + t->len > th->wbuf_cap) {
                conn_emit(c, buf, used);
                used = 0;
                if (c->state != C_READY) return;
            }
            used += tpl_render(t, buf + used, &run->kg);
            if (tsq_len(&c->q) == 0 && !c->setup_left) c->last_io_ns = now;
            tsq_push(&c->q, ts, tag);
            c->since_connect++;
            room--;
        }
    }
    if (used) conn_emit(c, buf, used);
}

/* Open loop: make sure the pacer wakes up by time t. */
static void pace_want(bthread_t *th, uint64_t t, uint64_t now) {
    if (t < now + PACE_MIN_NS) t = now + PACE_MIN_NS;
    if (th->in_pace) {
        if (t < th->pace_want) th->pace_want = t;
        return;
    }
    if (th->pace_armed && th->pace_at <= t) return;
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_sec = (time_t)(t / 1000000000u);
    its.it_value.tv_nsec = (long)(t % 1000000000u);
    timerfd_settime(th->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    th->pace_armed = 1;
    th->pace_at = t;
}

/* Send what may be sent, then close the connection when it is finished
 * (or due for --reconnect) and has nothing in flight. Thread: owning worker. */
static void conn_pump(bconn_t *c, uint64_t now) {
    brun_t *run = c->th->run;
    const bench_opts_t *o = run->o;
    conn_fill(c, now);
    if (c->state != C_READY || c->th->phase != PH_LOAD) return;
    if (o->rate && !c->exhausted) {
        uint64_t t = sched_next_time(&c->sched);
        if (!may_send_at(c, t))
            c->exhausted = 1;
        else if (tsq_len(&c->q) < o->pipeline &&
                 !(o->reconnect && c->since_connect >= o->reconnect))
            pace_want(c->th, t, now);
    } else if (!o->rate && !c->exhausted && !may_send_at(c, now)) {
        c->exhausted = 1; /* so a finished slot does not reconnect once more */
    }
    if (tsq_len(&c->q) || c->setup_left || c->out.len) return;
    if (c->exhausted || run_is_fatal(run))
        conn_close(c, WHY_DONE);
    else if (o->reconnect && c->since_connect >= o->reconnect)
        conn_close(c, WHY_RECONNECT);
}

static void conn_on_reply(bconn_t *c, const rr_reply_t *r, uint64_t now) {
    bthread_t *th = c->th;
    brun_t *run = th->run;
    if (r->is_push) {
        th->r.pushes++;
        return;
    }
    if (c->setup_left) {
        c->setup_left--;
        if (r->is_error) {
            char msg[RR_TEXT_MAX + 64];
            snprintf(msg, sizeof(msg), "%s failed: %s", run->o->resp3 ? "HELLO" : "AUTH", r->text);
            run_set_fatal(run, msg);
            c->exhausted = 1;
        }
        if (!c->setup_left && th->phase == PH_CONNECT) conn_ready_for_load(c);
        return;
    }
    uint64_t ts;
    uint8_t tag;
    if (tsq_pop(&c->q, &ts, &tag)) {
        conn_fail(c, "reply without a request (protocol out of sync)");
        return;
    }
    if (ts < run->measure_ns) return; /* warm-up */
    uint64_t us = sched_latency_us(now, ts);
    hist_record(th->r.lat, us);
    th->r.requests++;
    if (run->w->ntpl > 1) {
        hist_record(th->r.tpl_lat[tag], us);
        th->r.tpl_requests[tag]++;
    }
    if (r->is_error) {
        th->r.errors++;
        bench_samples_add(&th->r.err_samples, r->text);
    }
    th->last_reply_ns = now;
}

/* Parse replies in place. Returns -1 if the connection was failed. */
static int conn_parse(bconn_t *c, const char *buf, size_t n, uint64_t now) {
    size_t off = 0;
    while (off < n) {
        size_t used;
        int r = rr_parse(&c->rp, buf + off, n - off, &used);
        off += used;
        if (r == RR_MORE) break;
        if (r == RR_ERR) {
            conn_fail(c, "protocol error: %s", rr_error(&c->rp));
            return -1;
        }
        conn_on_reply(c, &c->rp.reply, now);
        if (c->state != C_READY) return -1;
    }
    return 0;
}

static void tls_on_data(bconn_t *c, const char *data, size_t n, uint64_t now) {
    bthread_t *th = c->th;
    if (BIO_write(c->rbio, data, (int)n) != (int)n) {
        conn_fail(c, "TLS: BIO_write failed");
        return;
    }
    if (c->state == C_HANDSHAKE && (tls_handshake(c, now) < 0 || c->state != C_READY)) return;
    /* Drain until WANT_READ: plaintext buffered inside OpenSSL would not
     * make the socket readable again. */
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, th->pbuf, PBUF_SIZE);
        if (r > 0) {
            if (conn_parse(c, th->pbuf, (size_t)r, now) < 0) return;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            conn_fail(c, "connection closed by the server (close_notify)");
            return;
        }
        char eb[200];
        tls_err_text(c, e, eb, sizeof(eb));
        conn_fail(c, "TLS read: %s", eb);
        return;
    }
    if (c->out.len) tls_write(c, NULL, 0);
    tls_flush(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    bconn_t *c = h->data;
    b->base = c->th->rbuf;
    b->len = RBUF_SIZE;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
    bconn_t *c = s->data;
    if (nread == 0 || c->state == C_CLOSING || c->state == C_DONE) return;
    if (nread < 0) {
        if (nread == UV_EOF)
            conn_fail(c, "connection closed by the server");
        else
            conn_fail(c, "read: %s", uv_strerror((int)nread));
        return;
    }
    uint64_t now = now_ns();
    c->last_io_ns = now;
    if (c->ssl)
        tls_on_data(c, b->base, (size_t)nread, now);
    else if (conn_parse(c, b->base, (size_t)nread, now) < 0)
        return;
    if (c->state == C_READY) conn_pump(c, now);
}

/* TCP connected, or TLS handshake complete. */
static void conn_established(bconn_t *c, uint64_t now) {
    bthread_t *th = c->th;
    brun_t *run = th->run;
    if (th->phase == PH_LOAD && c->connect_ns >= run->measure_ns) {
        th->r.handshakes++;
        hist_record(th->r.hs, sched_latency_us(now, c->connect_ns));
        if (c->ssl && SSL_session_reused(c->ssl)) th->r.resumed++;
    }
    c->state = C_READY;
    c->need_setup = run->setup_len > 0;
    if (th->phase == PH_CONNECT) {
        conn_fill(c, now); /* AUTH / HELLO only */
        if (c->state == C_READY && !c->setup_left) conn_ready_for_load(c);
    } else {
        conn_pump(c, now);
    }
}

static void on_connect(uv_connect_t *req, int status) {
    bconn_t *c = req->data;
    if (status == UV_ECANCELED || c->state != C_CONNECTING) return;
    if (status < 0) {
        conn_fail(c, "connect: %s", uv_strerror(status));
        return;
    }
    if (!c->th->run->tg->is_unix) uv_tcp_nodelay(&c->u.tcp, 1);
    int err = uv_read_start(&c->u.s, on_alloc, on_read);
    if (err) {
        conn_fail(c, "read start: %s", uv_strerror(err));
        return;
    }
    uint64_t now = now_ns();
    c->last_io_ns = now;
    if (c->th->run->tg->ssl_ctx)
        tls_start(c, now);
    else
        conn_established(c, now);
}

/* Open (or re-open) the connection of this slot. Thread: owning worker. */
static void conn_connect(bconn_t *c) {
    bthread_t *th = c->th;
    brun_t *run = th->run;
    c->connect_ns = now_ns();
    c->last_io_ns = c->connect_ns;
    c->since_connect = 0;
    c->setup_left = 0;
    c->need_setup = 0;
    rr_init(&c->rp);
    tsq_clear(&c->q);
    c->state = C_CONNECTING;
    c->creq.data = c;
    c->wreq.data = c;
    int err;
    if (run->tg->is_unix) {
        uv_pipe_init(&th->loop, &c->u.pipe, 0);
        c->u.h.data = c;
        uv_pipe_connect(&c->creq, &c->u.pipe, run->o->socket_path, on_connect);
        return;
    }
    uv_tcp_init(&th->loop, &c->u.tcp);
    c->u.h.data = c;
    err = uv_tcp_connect(&c->creq, &c->u.tcp, (const struct sockaddr *)&run->tg->addr, on_connect);
    if (err) conn_fail(c, "connect: %s", uv_strerror(err));
}

/* ---- Timers ---------------------------------------------------------------- */

static void on_pace(uv_poll_t *p, int status, int events) {
    bthread_t *th = p->data;
    uint64_t expirations;
    if (read(th->tfd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN) return;
    th->pace_armed = 0;
    th->in_pace = 1;
    th->pace_want = UINT64_MAX;
    uint64_t now = now_ns();
    for (uint32_t i = 0; i < th->nconns; i++)
        if (th->conns[i].state == C_READY) conn_pump(&th->conns[i], now);
    th->in_pace = 0;
    if (th->pace_want != UINT64_MAX) pace_want(th, th->pace_want, now);
}

static void on_tick(uv_timer_t *t) {
    bthread_t *th = t->data;
    brun_t *run = th->run;
    const bench_opts_t *o = run->o;
    uint64_t now = now_ns(), limit = (uint64_t)(o->timeout_s * 1e9);
    int fatal = run_is_fatal(run);
    for (uint32_t i = 0; i < th->nconns; i++) {
        bconn_t *c = &th->conns[i];
        if (c->state == C_CONNECTING || c->state == C_HANDSHAKE) {
            if (fatal && th->phase == PH_LOAD)
                conn_close(c, WHY_DONE);
            else if (now - c->connect_ns > limit)
                conn_fail(c, "%s timed out after %.1f s",
                          c->state == C_CONNECTING ? "connect" : "TLS handshake", o->timeout_s);
        } else if (c->state == C_READY) {
            if ((tsq_len(&c->q) || c->setup_left) && now - c->last_io_ns > limit)
                conn_fail(c, "no reply within %.1f s", o->timeout_s);
            else if (fatal && th->phase == PH_LOAD)
                conn_close(c, WHY_DONE);
        }
    }
    atomic_store_explicit(&th->pub_requests, th->r.requests, memory_order_relaxed);
    if (++th->ticks % (500 / TICK_MS) == 0) {
        if (o->progress) {
            pthread_mutex_lock(&th->snap_mu);
            memcpy(th->snap, th->r.lat, sizeof(*th->snap));
            pthread_mutex_unlock(&th->snap_mu);
        }
    }
}

/* ---- Threads --------------------------------------------------------------- */

static void *thread_main(void *arg) {
    bthread_t *th = arg;
    brun_t *run = th->run;
    const bench_opts_t *o = run->o;
    uv_loop_init(&th->loop);
    uv_timer_init(&th->loop, &th->tick);
    th->tick.data = th;
    uv_timer_start(&th->tick, on_tick, TICK_MS, TICK_MS);
    th->tfd = -1;
    if (o->rate) {
        th->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (th->tfd < 0) {
            fprintf(stderr, "keyloom-bench: timerfd_create: %s\n", strerror(errno));
            abort(); /* Linux >= 2.6.25; never expected to fail */
        }
        uv_poll_init(&th->loop, &th->pace, th->tfd);
        th->pace.data = th;
        uv_poll_start(&th->pace, UV_READABLE, on_pace);
    }
    th->live = th->nconns;
    th->phase = PH_CONNECT;
    if (!o->reconnect && th->nconns) {
        th->connecting = th->nconns;
        for (uint32_t i = 0; i < th->nconns; i++) {
            th->conns[i].awaited = 1;
            conn_connect(&th->conns[i]);
        }
        if (th->connecting) uv_run(&th->loop, UV_RUN_DEFAULT);
    }
    pthread_barrier_wait(&run->bar); /* everyone connected */
    pthread_barrier_wait(&run->bar); /* start times published */
    th->phase = PH_LOAD;
    uint64_t now = now_ns();
    for (uint32_t i = 0; i < th->nconns; i++) {
        bconn_t *c = &th->conns[i];
        if (o->rate) sched_init(&c->sched, run->start_ns, o->rate, o->clients, c->slot);
        if (o->reconnect && !may_send_at(c, now)) {
            c->state = C_DONE; /* -n smaller than -c: this slot has nothing to send */
            th->live--;
        } else if (o->reconnect)
            conn_connect(c);
        else if (c->state == C_READY)
            conn_pump(c, now);
    }
    if (th->live == 0) thread_wind_down(th);
    uv_run(&th->loop, UV_RUN_DEFAULT);
    if (!th->wound_down) { /* cannot happen: the loop only ends after wind-down */
        thread_wind_down(th);
        uv_run(&th->loop, UV_RUN_DEFAULT);
    }
    if (th->tfd >= 0) close(th->tfd);
    if (uv_loop_close(&th->loop) != 0)
        fprintf(stderr, "keyloom-bench: loop did not close cleanly\n");
    atomic_store_explicit(&th->pub_requests, th->r.requests, memory_order_relaxed);
    pthread_mutex_lock(&run->mu);
    run->threads_done++;
    pthread_cond_signal(&run->cv);
    pthread_mutex_unlock(&run->mu);
    return NULL;
}

static void build_setup(brun_t *run) {
    const bench_opts_t *o = run->o;
    kl_buf_t b = {0};
    char *argv[6];
    int argc = 0;
    if (o->resp3) {
        argv[argc++] = "HELLO";
        argv[argc++] = "3";
        if (o->password) {
            argv[argc++] = "AUTH";
            argv[argc++] = (char *)(o->user ? o->user : "default");
            argv[argc++] = (char *)o->password;
        }
    } else if (o->password) {
        argv[argc++] = "AUTH";
        if (o->user) argv[argc++] = (char *)o->user;
        argv[argc++] = (char *)o->password;
    }
    if (argc) {
        tpl_t t;
        if (tpl_build(&t, argc, argv, NULL, 0) == 0) {
            kl_buf_append(&b, t.buf, t.len);
            tpl_free(&t);
            run->setup_cmds = 1;
        }
    }
    run->setup = b.p;
    run->setup_len = b.len;
}

static void progress_line(brun_t *run, hist_t *tmp, uint64_t now) {
    uint64_t reqs = 0;
    hist_reset(tmp);
    for (int i = 0; i < run->nthreads; i++) {
        bthread_t *th = &run->th[i];
        reqs += atomic_load_explicit(&th->pub_requests, memory_order_relaxed);
        pthread_mutex_lock(&th->snap_mu);
        hist_merge(tmp, th->snap);
        pthread_mutex_unlock(&th->snap_mu);
    }
    int warming = now < run->measure_ns;
    double el =
        warming ? (double)(now - run->start_ns) / 1e9 : (double)(now - run->measure_ns) / 1e9;
    report_progress(run->w->name, el, warming, reqs, el > 0 ? (double)reqs / el : 0,
                    hist_percentile(tmp, 99.0));
}

int bench_run(const bench_opts_t *o, const bench_target_t *tg, const bench_workload_t *w,
              bench_result_t *res) {
    brun_t run;
    memset(&run, 0, sizeof(run));
    run.o = o;
    run.tg = tg;
    run.w = w;
    keygen_init(&run.kg, o->keyspace, o->key_dist, o->zipf_s);
    build_setup(&run);
    run.measure_ns = UINT64_MAX; /* nothing is measured before the start is fixed */
    pthread_mutex_init(&run.mu, NULL);
    pthread_cond_init(&run.cv, NULL);
    atomic_init(&run.fatal, 0);
    if (tg->ssl_ctx) {
        SSL_CTX_set_session_cache_mode(
            tg->ssl_ctx, o->session_reuse ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE
                                          : SSL_SESS_CACHE_OFF);
        SSL_CTX_sess_set_new_cb(tg->ssl_ctx, o->session_reuse ? on_new_session : NULL);
    }

    size_t max_req = 0;
    for (int i = 0; i < w->ntpl; i++)
        if (w->tpl[i].len > max_req) max_req = w->tpl[i].len;

    int nt = o->threads;
    run.nthreads = nt;
    run.th = kl_calloc((size_t)nt, sizeof(*run.th));
    bconn_t *conns = kl_calloc(o->clients, sizeof(*conns));
    uint32_t per = o->clients / (uint32_t)nt, extra = o->clients % (uint32_t)nt, next = 0;
    for (int i = 0; i < nt; i++) {
        bthread_t *th = &run.th[i];
        th->run = &run;
        th->idx = i;
        th->nconns = per + ((uint32_t)i < extra);
        th->conns = conns + next;
        next += th->nconns;
        th->rbuf = kl_malloc(RBUF_SIZE);
        th->pbuf = kl_malloc(PBUF_SIZE);
        th->nbuf = kl_malloc(NBUF_SIZE);
        th->wbuf_cap = max_req + run.setup_len > WBUF_MIN ? max_req + run.setup_len : WBUF_MIN;
        th->wbuf = kl_malloc(th->wbuf_cap);
        bench_result_init(&th->r, w->ntpl);
        th->snap = hist_new();
        pthread_mutex_init(&th->snap_mu, NULL);
        atomic_init(&th->pub_requests, 0);
    }
    for (uint32_t i = 0; i < o->clients; i++) {
        bconn_t *c = &conns[i];
        c->slot = i;
        c->th = &run.th[0];
        for (int t = 0; t < nt; t++)
            if (c >= run.th[t].conns && c < run.th[t].conns + run.th[t].nconns) c->th = &run.th[t];
        c->quota = o->requests / o->clients + (i < o->requests % o->clients);
        c->cycle_pos = w->cycle_len ? i % w->cycle_len : 0;
        tsq_init(&c->q, o->pipeline);
        c->state = C_IDLE;
    }

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    pthread_barrier_init(&run.bar, NULL, (unsigned)nt + 1);
    for (int i = 0; i < nt; i++)
        pthread_create(&run.th[i].tid, NULL, thread_main, &run.th[i]);
    pthread_barrier_wait(&run.bar);
    run.start_ns = now_ns();
    run.measure_ns = run.start_ns + (uint64_t)(o->warmup_s * 1e9);
    run.end_ns = o->duration_s > 0 ? run.measure_ns + (uint64_t)(o->duration_s * 1e9) : UINT64_MAX;
    pthread_barrier_wait(&run.bar);

    hist_t *tmp = o->progress ? hist_new() : NULL;
    pthread_mutex_lock(&run.mu);
    while (run.threads_done < nt) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 1;
        int rc = pthread_cond_timedwait(&run.cv, &run.mu, &dl);
        if (rc == ETIMEDOUT && o->progress && run.threads_done < nt) {
            pthread_mutex_unlock(&run.mu);
            progress_line(&run, tmp, now_ns());
            pthread_mutex_lock(&run.mu);
        }
    }
    pthread_mutex_unlock(&run.mu);
    if (tmp) {
        report_progress_clear();
        hist_free(tmp);
    }
    for (int i = 0; i < nt; i++)
        pthread_join(run.th[i].tid, NULL);
    getrusage(RUSAGE_SELF, &ru1);

    bench_result_init(res, w->ntpl);
    uint64_t last = 0;
    for (int i = 0; i < nt; i++) {
        bench_result_merge(res, &run.th[i].r);
        if (run.th[i].last_reply_ns > last) last = run.th[i].last_reply_ns;
    }
    res->seconds = last > run.measure_ns ? (double)(last - run.measure_ns) / 1e9 : 0.0;
    res->cpu_user = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6;
    res->cpu_sys = (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                   (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    if (atomic_load(&run.fatal)) {
        res->fatal = 1;
        snprintf(res->fatal_msg, sizeof(res->fatal_msg), "%s", run.fatal_msg);
    }

    for (uint32_t i = 0; i < o->clients; i++) {
        tsq_free(&conns[i].q);
        kl_buf_free(&conns[i].wpend);
        kl_buf_free(&conns[i].wnext);
        kl_buf_free(&conns[i].out);
        if (conns[i].sess) SSL_SESSION_free(conns[i].sess);
    }
    for (int i = 0; i < nt; i++) {
        bthread_t *th = &run.th[i];
        kl_free(th->rbuf);
        kl_free(th->pbuf);
        kl_free(th->nbuf);
        kl_free(th->wbuf);
        bench_result_free(&th->r);
        hist_free(th->snap);
        pthread_mutex_destroy(&th->snap_mu);
    }
    kl_free(conns);
    kl_free(run.th);
    kl_free(run.setup);
    pthread_barrier_destroy(&run.bar);
    pthread_mutex_destroy(&run.mu);
    pthread_cond_destroy(&run.cv);
    return 0;
}
