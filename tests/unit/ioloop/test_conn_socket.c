/* Unit tests for ioloop/conn_socket.c: the plain TCP / Unix connection type,
 * and above all its failure paths. A connection whose handle was initialised
 * but could not take the socket must be closed through the loop (uv_close and
 * a close callback that frees it), not freed while still on the loop's handle
 * list; the fd must be closed and the error reported.
 *
 * Each test owns a uv_loop_t and proves it closes cleanly: uv_loop_close()
 * returns 0 with no uv_walk of ours. Under AddressSanitizer (build-asan) a
 * handle freed while still listed shows up as a use-after-free in uv_run or
 * uv_loop_close, and anything not freed as a leak. */
#include <criterion/criterion.h>

#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

static uv_loop_t loop;

static void setup(void) {
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void list_handle(uv_handle_t *h, void *arg) {
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, " %s%s", uv_handle_type_name(uv_handle_get_type(h)),
             uv_is_closing(h) ? "(closing)" : "");
}

/* Let every close callback run and prove nothing is left on the loop. */
static void loop_finish(void) {
    for (int i = 0; i < 100 && uv_loop_alive(&loop); i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    char left[512] = "";
    uv_walk(&loop, list_handle, left);
    cr_assert_eq(uv_loop_close(&loop), 0, "uv_loop_close failed; handles left:%s", left);
}

TestSuite(conn_socket, .init = setup, .timeout = 30);

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

static bool closed_cb_ran;

static void on_closed(conn_t *c) {
    (void)c;
    closed_cb_ran = true;
}

/* uv_tcp_open fails (EBADF): the error comes back, *out is untouched and the
 * half-made handle goes away through the loop. */
Test(conn_socket, tcp_open_failure_closes_handle) {
    conn_t *c = NULL;
    int rc = conn_create_socket(&loop, closed_fd(), CONN_KIND_TCP, &c);
    cr_assert_eq(rc, UV_EBADF, "got %d (%s)", rc, uv_strerror(rc));
    cr_assert_null(c);
    loop_finish();
}

Test(conn_socket, pipe_open_failure_closes_handle) {
    conn_t *c = NULL;
    int rc = conn_create_socket(&loop, closed_fd(), CONN_KIND_UNIX, &c);
    cr_assert_eq(rc, UV_EBADF, "got %d (%s)", rc, uv_strerror(rc));
    cr_assert_null(c);
    loop_finish();
}

/* Several failures in a row, then a working connection on the same loop: the
 * failed ones left nothing behind that disturbs the loop. */
Test(conn_socket, failures_then_success_on_one_loop) {
    for (int i = 0; i < 8; i++) {
        conn_t *c = NULL;
        cr_assert_lt(
            conn_create_socket(&loop, closed_fd(), i % 2 ? CONN_KIND_UNIX : CONN_KIND_TCP, &c), 0);
    }
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    conn_t *c = NULL;
    cr_assert_eq(conn_create_socket(&loop, sv[0], CONN_KIND_UNIX, &c), 0);
    cr_assert_not_null(c);
    cr_assert_eq(c->fd, sv[0]);
    uv_buf_t b = uv_buf_init("ping", 4);
    cr_assert_eq(conn_writev(c, &b, 1, NULL, NULL), 1);
    char got[8] = {0};
    cr_assert_eq(read(sv[1], got, sizeof(got)), 4);
    cr_assert_str_eq(got, "ping");
    closed_cb_ran = false;
    conn_close(c, on_closed);
    conn_close(c, on_closed); /* idempotent */
    loop_finish();
    cr_assert(closed_cb_ran);
    cr_assert_not(fd_is_open(sv[0]), "the connection's fd stayed open");
    close(sv[1]);
}

/* A kind nobody registered: refused with the fd closed. */
Test(conn_socket, unknown_kind_closes_fd) {
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    conn_t *c = NULL;
    cr_assert_eq(conn_create_socket(&loop, sv[0], CONN_KIND_TLS, &c), UV_EINVAL);
    cr_assert_null(c);
    cr_assert_not(fd_is_open(sv[0]));
    cr_assert_eq(conn_create_socket(&loop, sv[1], 7, &c), UV_EINVAL);
    cr_assert_not(fd_is_open(sv[1]));
    loop_finish();
}
