#include "kl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The level is read by every thread and written by the executor on CONFIG SET:
 * relaxed is enough, a log line racing a level change may go either way. */
static _Atomic int log_level = KL_LOG_NOTICE;
static _Atomic int log_fd = STDOUT_FILENO;
static _Atomic char log_role = 'M';

static const char *level_names[] = {"debug", "verbose", "notice", "warning", "nothing"};

int kl_log_set_file(const char *path) {
    int fd = STDOUT_FILENO;
    if (path && path[0]) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return -errno;
    }
    int old = atomic_exchange_explicit(&log_fd, fd, memory_order_acq_rel);
    if (old != STDOUT_FILENO && old != STDERR_FILENO) close(old);
    return 0;
}

void kl_log_set_level(int level) {
    atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int kl_log_get_level(void) {
    return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int kl_log_level_from_name(const char *name) {
    for (int i = 0; i <= KL_LOG_NOTHING; i++)
        if (strcasecmp(name, level_names[i]) == 0) return i;
    return -1;
}

const char *kl_log_level_name(int level) {
    if (level < 0 || level > KL_LOG_NOTHING) return "unknown";
    return level_names[level];
}

void kl_log_set_role(char role) {
    atomic_store_explicit(&log_role, role, memory_order_relaxed);
}

int kl_log_enabled(int level) {
    return level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

static void log_write(const char *buf, size_t len) {
    int fd = atomic_load_explicit(&log_fd, memory_order_acquire);
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void kl_vlog(int level, const char *fmt, va_list ap) {
    if (!kl_log_enabled(level)) return;
    static const char marks[] = ".-*#";
    char line[8192];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int off = snprintf(line, sizeof(line), "%d:%c ", (int)getpid(),
                       atomic_load_explicit(&log_role, memory_order_relaxed));
    off += (int)strftime(line + off, sizeof(line) - (size_t)off, "%d %b %Y %H:%M:%S.", &tm);
    off += snprintf(line + off, sizeof(line) - (size_t)off, "%03d %c ", (int)(tv.tv_usec / 1000),
                    marks[level < 4 ? level : 3]);
    int n = vsnprintf(line + off, sizeof(line) - (size_t)off - 1, fmt, ap);
    if (n < 0) n = 0;
    size_t len = (size_t)off + (size_t)n;
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    line[len++] = '\n';
    log_write(line, len);
}

void kl_log(int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kl_vlog(level, fmt, ap);
    va_end(ap);
}

void kl_log_raw(int level, const char *msg) {
    if (!kl_log_enabled(level)) return;
    log_write(msg, strlen(msg));
}
