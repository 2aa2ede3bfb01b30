/* Logging in redis-server's format:
 *   <pid>:<role> <dd Mon yyyy hh:mm:ss.mmm> <level-char> <message>
 * Levels and their characters are Redis's (debug '.', verbose '-', notice '*',
 * warning '#'). Each line is written with one write(2), so lines from
 * different threads never interleave. The log file descriptor is opened at
 * startup; logging itself never blocks on anything but that write. */
#ifndef KL_LOG_H
#define KL_LOG_H

#include <stdarg.h>

enum kl_log_level {
    KL_LOG_DEBUG = 0,
    KL_LOG_VERBOSE,
    KL_LOG_NOTICE,
    KL_LOG_WARNING,
    KL_LOG_NOTHING
};

/* Thread: startup/executor. Sets the level and the destination ("" = stdout). Returns 0 or -errno.
 */
int kl_log_set_file(const char *path);
void kl_log_set_level(int level);
int kl_log_get_level(void);
/* Parse a Redis level name ("debug", "verbose", "notice", "warning", "nothing"); -1 if unknown. */
int kl_log_level_from_name(const char *name);
const char *kl_log_level_name(int level);
/* Role character: 'M' master, 'C' child, 'S' replica, 'X' sentinel. */
void kl_log_set_role(char role);

/* In a forked child (BGSAVE): role 'C', and from now on the time is
 * formatted from the UTC offset the parent last saw, without localtime_r
 * or strftime (glibc's timezone lock may be held by a thread that does not
 * exist in the child). Thread: the child's only thread. */
void kl_log_fork_child(void);

/* Thread: any. */
void kl_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kl_vlog(int level, const char *fmt, va_list ap);
/* Raw line without the prefix (the startup banner). */
void kl_log_raw(int level, const char *msg);
int kl_log_enabled(int level);

#define kl_debug(...) kl_log(KL_LOG_DEBUG, __VA_ARGS__)
#define kl_verbose(...) kl_log(KL_LOG_VERBOSE, __VA_ARGS__)
#define kl_notice(...) kl_log(KL_LOG_NOTICE, __VA_ARGS__)
#define kl_warning(...) kl_log(KL_LOG_WARNING, __VA_ARGS__)

#endif
