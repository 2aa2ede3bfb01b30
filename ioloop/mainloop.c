/* The main thread's loop as the executor sees it: run/stop, timers and
 * signals (iol.h), so that nothing in server/ includes uv.h.
 *
 * Thread: main, for every function here. */
#include "iol_internal.h"

#include "kl_alloc.h"

#include <errno.h>
#include <uv.h>

struct iol_timer {
    uv_timer_t h;
    iol_timer_cb_t cb;
    void *arg;
};

struct iol_async {
    uv_async_t h;
    void (*cb)(void *arg);
    void *arg;
};

struct iol_before_sleep {
    uv_prepare_t h;
    void (*cb)(void *arg);
    void *arg;
};

typedef struct sig_watch {
    uv_signal_t h;
    void (*cb)(int signum);
} sig_watch_t;

#define MAX_SIGNALS 8
static sig_watch_t *signals[MAX_SIGNALS];
static int nsignals;

void iol_loop_run(void) {
    uv_run(iol__main_loop(), UV_RUN_DEFAULT);
}

void iol_loop_stop(void) {
    uv_stop(iol__main_loop());
}

static void free_on_close(uv_handle_t *h) {
    kl_free(h->data);
}

static void close_any(uv_handle_t *h, void *arg) {
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void iol_loop_close(void) {
    for (int i = 0; i < nsignals; i++) {
        signals[i]->h.data = signals[i];
        uv_close((uv_handle_t *)&signals[i]->h, free_on_close);
        signals[i] = NULL;
    }
    nsignals = 0;
    uv_loop_t *loop = iol__main_loop();
    /* Handles nobody closed (timers the modules keep for the process's
     * life) are closed here; their memory is the process's. */
    uv_walk(loop, close_any, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}

uint64_t iol_loop_now_ms(void) {
    uv_update_time(iol__main_loop());
    return uv_now(iol__main_loop());
}

static void timer_cb(uv_timer_t *h) {
    iol_timer_t *t = (iol_timer_t *)h;
    t->cb(t, t->arg);
}

iol_timer_t *iol_timer_new(iol_timer_cb_t cb, void *arg) {
    iol_timer_t *t = kl_calloc(1, sizeof(*t));
    t->cb = cb;
    t->arg = arg;
    /* uv_timer_init on an initialised loop cannot fail (it only links the
     * handle); checked all the same. */
    if (uv_timer_init(iol__main_loop(), &t->h) != 0) {
        kl_free(t);
        return NULL;
    }
    return t;
}

void iol_timer_start(iol_timer_t *t, uint64_t timeout_ms, uint64_t repeat_ms) {
    uv_timer_start(&t->h, timer_cb, timeout_ms, repeat_ms);
}

void iol_timer_set_repeat(iol_timer_t *t, uint64_t repeat_ms) {
    uv_timer_set_repeat(&t->h, repeat_ms);
}

void iol_timer_stop(iol_timer_t *t) {
    uv_timer_stop(&t->h);
}

bool iol_timer_active(const iol_timer_t *t) {
    return uv_is_active((const uv_handle_t *)&t->h) != 0;
}

void iol_timer_free(iol_timer_t *t) {
    if (!t) return;
    uv_timer_stop(&t->h);
    t->h.data = t;
    uv_close((uv_handle_t *)&t->h, free_on_close);
}

static void signal_cb(uv_signal_t *h, int signum) {
    sig_watch_t *w = (sig_watch_t *)h;
    w->cb(signum);
}

int iol_signal_watch(int signum, void (*cb)(int signum)) {
    if (nsignals == MAX_SIGNALS) return -ENOSPC;
    sig_watch_t *w = kl_calloc(1, sizeof(*w));
    w->cb = cb;
    int err = uv_signal_init(iol__main_loop(), &w->h);
    if (err) {
        kl_free(w);
        return err;
    }
    err = uv_signal_start(&w->h, signal_cb, signum);
    if (err) {
        w->h.data = w;
        uv_close((uv_handle_t *)&w->h, free_on_close);
        return err;
    }
    signals[nsignals++] = w;
    return 0;
}

/* ---- cross-thread wake-ups and before-sleep work ---- */

static void async_cb(uv_async_t *h) {
    iol_async_t *a = h->data;
    a->cb(a->arg);
}

iol_async_t *iol_async_new(void (*cb)(void *arg), void *arg) {
    iol_async_t *a = kl_calloc(1, sizeof(*a));
    a->cb = cb;
    a->arg = arg;
    if (uv_async_init(iol__main_loop(), &a->h, async_cb) != 0) {
        kl_free(a);
        return NULL;
    }
    a->h.data = a;
    return a;
}

/* Thread: any. uv_async_send coalesces: one callback may answer many sends. */
void iol_async_send(iol_async_t *a) {
    uv_async_send(&a->h);
}

void iol_async_free(iol_async_t *a) {
    if (!a) return;
    uv_close((uv_handle_t *)&a->h, free_on_close);
}

static void prepare_cb(uv_prepare_t *h) {
    iol_before_sleep_t *b = h->data;
    b->cb(b->arg);
}

iol_before_sleep_t *iol_before_sleep_new(void (*cb)(void *arg), void *arg) {
    iol_before_sleep_t *b = kl_calloc(1, sizeof(*b));
    b->cb = cb;
    b->arg = arg;
    uv_prepare_init(iol__main_loop(), &b->h);
    b->h.data = b;
    uv_prepare_start(&b->h, prepare_cb);
    return b;
}

void iol_before_sleep_free(iol_before_sleep_t *b) {
    if (!b) return;
    uv_prepare_stop(&b->h);
    uv_close((uv_handle_t *)&b->h, free_on_close);
}
