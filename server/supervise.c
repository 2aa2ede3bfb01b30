/* Supervision by systemd and upstart; see supervise.h. */
#include "supervise.h"

#include "kl_log.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int mode = SUPERVISE_NO; /* after supervise_start(): auto resolved */
static bool reached;            /* a supervisor answered at start-up */

/* sd_notify(3)'s protocol by hand: one datagram holding msg to the AF_UNIX
 * socket $NOTIFY_SOCKET names ('@' first: the abstract namespace). Returns 1
 * when sent, 0 when NOTIFY_SOCKET is not set, or -errno, like sd_notify. The
 * socket is non-blocking: a supervisor that does not read loses the message
 * (-EAGAIN) instead of stopping the server. */
static int notify_send(const char *msg) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !path[0]) return 0;
    if ((path[0] != '/' && path[0] != '@') || path[1] == '\0') return -EAFNOSUPPORT;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof(sa.sun_path)) return -EINVAL;
    memcpy(sa.sun_path, path, n);
    /* An abstract name is the bytes after a leading NUL, exactly n - 1 of
     * them; a path is NUL-terminated. */
    if (path[0] == '@') sa.sun_path[0] = '\0';
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    ssize_t w;
    do {
        w = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
    } while (w < 0 && errno == EINTR);
    int rc = w < 0 ? -errno : 1;
    close(fd);
    return rc;
}

/* Redis's redisCommunicateSystemd: send, and log why not. */
static int notify(const char *msg) {
    int rc = notify_send(msg);
    if (rc == 0)
        kl_warning("systemd supervision error: NOTIFY_SOCKET not found!");
    else if (rc < 0)
        kl_warning("systemd supervision error: sd_notify: %d", rc);
    return rc;
}

int supervise_start(int configured, bool *supervised) {
    int m = configured;
    bool ok = false;
    if (m == SUPERVISE_AUTO) {
        if (getenv("UPSTART_JOB")) {
            kl_verbose("Upstart supervision detected.");
            m = SUPERVISE_UPSTART;
        } else if (getenv("NOTIFY_SOCKET")) {
            kl_verbose("Systemd supervision detected.");
            m = SUPERVISE_SYSTEMD;
        }
    }
    if (m == SUPERVISE_UPSTART) {
        if (!getenv("UPSTART_JOB")) {
            kl_warning("upstart supervision requested, but UPSTART_JOB not found!");
        } else {
            kl_notice("supervised by upstart, will stop to signal readiness.");
            raise(SIGSTOP);
            unsetenv("UPSTART_JOB");
            ok = true;
        }
    } else if (m == SUPERVISE_SYSTEMD) {
        if (notify("STATUS=Redis is loading...\n") > 0) {
            kl_notice("Supervised by systemd. Please make sure you set appropriate values for "
                      "TimeoutStartSec and TimeoutStopSec in your service unit.");
            ok = true;
        }
    }
    /* Like Redis: a detected mode replaces auto only when it worked, and an
     * explicit systemd keeps trying (and logging) at ready and shutdown. */
    mode = ok ? m : configured;
    reached = ok;
    *supervised = ok;
    return mode;
}

void supervise_ready(void) {
    if (mode != SUPERVISE_SYSTEMD) return;
    notify("STATUS=Ready to accept connections\n");
    notify("READY=1\n");
}

void supervise_stopping(void) {
    if (mode == SUPERVISE_SYSTEMD) notify("STOPPING=1\n");
}

const char *supervise_info_name(void) {
    if (!reached) return "no";
    return mode == SUPERVISE_UPSTART   ? "upstart"
           : mode == SUPERVISE_SYSTEMD ? "systemd"
                                       : "unknown";
}
