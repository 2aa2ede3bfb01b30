/* Unit tests for the thread-ownership checks of ioloop/iothread.c (debug
 * builds only: KL_DEBUG_ASSERTS). The executor's entry points abort when
 * called from another thread, I/O-side work on a client aborts off the
 * client's thread, and the right threads pass. */
#include <criterion/criterion.h>

#include "iol.h"
#include "iol_internal.h"
#include "kl_log.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef KL_DEBUG_ASSERTS
#error "built only for buildtype debug / debugoptimized (tests/unit/ioloop/meson.build)"
#endif

typedef struct tclient {
    iol_client_t io;
} tclient_t;

static tclient_t *accepted;

static iol_client_t *hook_accept(int fd, int kind, const char *peer, const char *local, int port,
                                 const char **reject) {
    (void)fd, (void)kind, (void)peer, (void)local, (void)port, (void)reject;
    accepted = calloc(1, sizeof(*accepted));
    return &accepted->io;
}

static bool hook_dispatch(iol_client_t *c) {
    (void)c;
    return true;
}

static void hook_gone(iol_client_t *c) {
    (void)c;
}

static void hook_closed(iol_client_t *c) {
    (void)c;
}

static void hook_free(iol_client_t *c) {
    free(c);
}

static const iol_hooks_t hooks = {
    .accept = hook_accept,
    .dispatch = hook_dispatch,
    .gone = hook_gone,
    .closed = hook_closed,
    .free = hook_free,
};

static uv_loop_t loop;
static int peer = -1;

/* io-threads 1: the main thread is the executor and owns every client. One
 * client from a socket pair. */
static void setup(void) {
    kl_log_set_file("/dev/null");
    cr_assert_eq(uv_loop_init(&loop), 0);
    iol_limits_t lim;
    memset(&lim, 0, sizeof(lim));
    lim.proto_max_bulk_len = 1 << 20;
    lim.client_query_buffer_limit = 1 << 20;
    lim.out_high_water = 1 << 20;
    cr_assert_eq(iol__init_loop(&loop, 0, &hooks, &lim), 0);
    cr_assert_eq(iol_start(), 0);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    peer = sv[1];
    iol__accepted(sv[0], CONN_KIND_UNIX, "test:0", "test:0", 0);
    cr_assert_not_null(accepted);
}

/* Everything iol made on the loop is gone after iol_shutdown and the close
 * callbacks. */
static void teardown(void) {
    iol_shutdown();
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "handles left on the loop");
    if (peer >= 0) close(peer);
}

TestSuite(owner, .init = setup, .fini = teardown, .timeout = 30);

static void *call_held(void *arg) {
    (void)iol_client_held(arg); /* executor-only */
    return NULL;
}

static void *call_owner_check(void *arg) {
    iol__check_owner(arg, "test");
    return NULL;
}

/* The main thread is both the executor and the owner here: no abort. */
Test(owner, right_threads_pass) {
    cr_assert_not(iol_client_held(&accepted->io));
    iol__check_owner(&accepted->io, "test");
    iol__check_executor("test");
    iol_reply_t r;
    iol_reply_init(&r);
    iol_reply_append(&r, "+x\r\n", 4);
    iol_client_push(&accepted->io, &r); /* executor entry point, I/O side behind it */
    uv_run(&loop, UV_RUN_NOWAIT);
    char buf[8] = {0};
    cr_assert_eq(read(peer, buf, sizeof(buf)), 4);
    cr_assert_str_eq(buf, "+x\r\n");
}

Test(owner, executor_entry_point_off_the_executor_aborts, .signal = SIGABRT) {
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, call_held, &accepted->io), 0);
    pthread_join(th, NULL);
}

Test(owner, client_work_off_its_thread_aborts, .signal = SIGABRT) {
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, call_owner_check, &accepted->io), 0);
    pthread_join(th, NULL);
}
