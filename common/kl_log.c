#include "kl_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
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

/* The local time's offset from UTC (seconds), refreshed by every line the
 * parent logs; the child formats times from it. Relaxed: a stale offset
 * only shifts a child's time stamp. */
static _Atomic long log_tz_off;
static bool log_no_locks;

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

void kl_log_fork_child(void) {
    log_no_locks = true;
    kl_log_set_role('C');
}

/* "dd Mon yyyy hh:mm:ss." of t (local time at offset tz_off) without any
 * libc time function (days-to-civil arithmetic). */
static int format_time_no_locks(char *out, size_t cap, time_t t, long tz_off) {
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    long long s = (long long)t + tz_off;
    long long days = s / 86400, rem = s % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long d = doy - (153 * mp + 2) / 5 + 1;
    long long m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    return snprintf(out, cap, "%02lld %s %lld %02lld:%02lld:%02lld.", d, months[m - 1], y,
                    rem / 3600, (rem / 60) % 60, rem % 60);
}

void kl_vlog(int level, const char *fmt, va_list ap) {
    if (!kl_log_enabled(level)) return;
    static const char marks[] = ".-*#";
    char line[8192];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int off = snprintf(line, sizeof(line), "%d:%c ", (int)getpid(),
                       atomic_load_explicit(&log_role, memory_order_relaxed));
    if (log_no_locks) {
        off += format_time_no_locks(line + off, sizeof(line) - (size_t)off, tv.tv_sec,
                                    atomic_load_explicit(&log_tz_off, memory_order_relaxed));
    } else {
        struct tm tm;
        localtime_r(&tv.tv_sec, &tm);
        atomic_store_explicit(&log_tz_off, tm.tm_gmtoff, memory_order_relaxed);
        off += (int)strftime(line + off, sizeof(line) - (size_t)off, "%d %b %Y %H:%M:%S.", &tm);
    }
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
