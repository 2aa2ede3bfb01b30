/* Snapshots on disk (snapshot.h): foreground saves, the BGSAVE child and its
 * reaping. The fork rules are in snapshot.h; every line of child_main()
 * keeps them. */
#include "snapshot.h"

#include "kl_alloc.h"
#include "kl_log.h"
#include "kv.h"
#include "rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

snap_state_t g_snap = {
    .child_pid = -1,
    .lastbgsave_ok = true,
    .last_bgsave_secs = -1,
    .other_child_pid = -1,
};

/* The child's report, written to the pipe just before it exits. */
typedef struct child_report {
    uint64_t keys;
    uint64_t cow_bytes;
} child_report_t;

static int report_fd = -1;           /* parent's read end while a child runs */
static child_report_t last_report;   /* the latest report read from it */
static int child_wfd = -1;           /* in the child: the write end */
static int64_t child_last_report_ms; /* in the child: when it last reported */

static int64_t now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void temp_name(char *buf, size_t cap, pid_t pid) {
    snprintf(buf, cap, "temp-%d.rdb", (int)pid);
}

/* fsync the working directory so that a rename survives a crash. */
static void fsync_dir(void) {
    int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

/* In the child, every 1024 keys: report the progress at most once a second
 * (Redis's CHILD_INFO_TYPE_CURRENT_INFO), for INFO's
 * current_save_keys_processed while the save runs. A 16-byte write(2) to a
 * pipe is atomic; if the parent is slow to drain it the report is dropped. */
static void child_progress(void *arg, uint64_t keys) {
    (void)arg;
    int64_t now = now_ms();
    if (now - child_last_report_ms < 1000) return;
    child_last_report_ms = now;
    child_report_t rep = {.keys = keys, .cow_bytes = snap_child_cow_bytes()};
    ssize_t w = write(child_wfd, &rep, sizeof(rep));
    (void)w;
}

static void fill_opts(rdb_save_opts_t *ro, const snap_opts_t *o) {
    memset(ro, 0, sizeof(*ro));
    ro->compress = g_cfg.rdbcompression != 0;
    ro->checksum = g_cfg.rdbchecksum != 0;
    ro->used_mem = o->used_mem;
    ro->with_repl = o->with_repl;
    ro->repl_stream_db = o->repl_stream_db;
    ro->repl_id = o->repl_id;
    ro->repl_offset = o->repl_offset;
    ro->key_save_delay = g_cfg.rdb_key_save_delay;
    ro->incremental_fsync = g_cfg.rdb_save_incremental_fsync != 0;
    if (child_wfd >= 0) ro->progress = child_progress;
}

/* Write the file under its temporary name, then move it in place. */
static int save_to(const snap_opts_t *o, pid_t pid, uint64_t *keys, char *err, size_t errlen) {
    char tmp[64];
    temp_name(tmp, sizeof(tmp), pid);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        char cwd[512];
        if (!getcwd(cwd, sizeof(cwd))) snprintf(cwd, sizeof(cwd), "unknown");
        snprintf(err, errlen,
                 "Failed opening the temp RDB file %s (in server root dir %s) for saving: %s", tmp,
                 cwd, strerror(errno));
        return -1;
    }
    rdb_save_opts_t ro;
    fill_opts(&ro, o);
    rdb_err_t re;
    int rc = rdb_save_fd(fd, &ro, keys, &re);
    if (rc == 0 && fsync(fd) != 0) {
        snprintf(re.msg, sizeof(re.msg), "Write error saving DB on disk: %s", strerror(errno));
        rc = -1;
    }
    if (close(fd) != 0 && rc == 0) {
        snprintf(re.msg, sizeof(re.msg), "Write error saving DB on disk: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s", re.msg);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, g_cfg.dbfilename) != 0) {
        snprintf(err, errlen,
                 "Error moving temp DB file %s on the final destination %s (in server root dir): "
                 "%s",
                 tmp, g_cfg.dbfilename, strerror(errno));
        unlink(tmp);
        return -1;
    }
    fsync_dir();
    return 0;
}

int snap_save(const snap_opts_t *o, char *err, size_t errlen) {
    uint64_t keys = 0;
    if (save_to(o, getpid(), &keys, err, errlen) != 0) {
        /* As Redis's rdbSave: a failed foreground save leaves the BGSAVE
         * status (and so MISCONF) alone. */
        kl_warning("%s", err);
        return -1;
    }
    kl_notice("DB saved on disk");
    g_snap.lastsave = now_ms() / 1000;
    g_snap.lastbgsave_ok = true;
    return 0;
}

/* Private_Dirty of the whole process: the pages this child copied. From
 * /proc/self/smaps_rollup with plain read(2) (no stdio lock). */
uint64_t snap_child_cow_bytes(void) {
    int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    const char *p = strstr(buf, "Private_Dirty:");
    if (!p) return 0;
    p += strlen("Private_Dirty:");
    while (*p == ' ')
        p++;
    uint64_t kb = 0;
    while (*p >= '0' && *p <= '9')
        kb = kb * 10 + (uint64_t)(*p++ - '0');
    return kb * 1024;
}

/* The child: save, report, _exit. See the fork rules in snapshot.h. */
void snap_child_enter(void) {
    kl_log_fork_child();
    if (kl_alloc_fork_child() != 0) {
        kl_warning("Can't reserve the memory of the child: %s", strerror(errno));
        _exit(1);
    }
    /* The parent decides the child's fate: default signal handling. The
     * parent's handlers write to its event loop's signal pipe, which the
     * child shares: a signal to the child must not reach the parent. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
}

static void child_main(const snap_opts_t *o, int wfd) {
    snap_child_enter();
    char err[512];
    uint64_t keys = 0;
    child_wfd = wfd;
    int rc = save_to(o, getpid(), &keys, err, sizeof(err));
    if (rc == 0) {
        kl_notice("DB saved on disk");
    } else {
        kl_warning("%s", err);
    }
    child_report_t rep = {.keys = keys, .cow_bytes = snap_child_cow_bytes()};
    if (rc == 0)
        kl_notice("Fork CoW for RDB: current %llu MB, peak %llu MB, average %llu MB",
                  (unsigned long long)(rep.cow_bytes >> 20),
                  (unsigned long long)(rep.cow_bytes >> 20),
                  (unsigned long long)(rep.cow_bytes >> 21));
    ssize_t w = write(wfd, &rep, sizeof(rep));
    (void)w;
    _exit(rc == 0 ? 0 : 1);
}

/* The parent's side of a fork that succeeded: the report pipe's read end
 * (rfd), the fork's duration and the state INFO reads. */
static void child_started(pid_t pid, int rfd, const struct timeval *t0, const struct timeval *t1,
                          int64_t start, uint64_t dirty) {
    fcntl(rfd, F_SETFL, O_NONBLOCK);
    report_fd = rfd;
    memset(&last_report, 0, sizeof(last_report));
    g_snap.latest_fork_usec =
        (long long)(t1->tv_sec - t0->tv_sec) * 1000000 + (t1->tv_usec - t0->tv_usec);
    g_snap.total_forks++;
    g_snap.child_pid = pid;
    g_snap.child_start_ms = start;
    g_snap.dirty_at_fork = dirty;
    g_snap.child_keys = 0;
    g_snap.cur_cow = g_snap.cur_cow_peak = 0;
    g_snap.cur_cow_at_ms = 0;
}

/* A diskless sync's child: the RDB, between the EOF-mark lines, to every
 * replica's pipe at once (Redis's rdbSaveRioWithEOFMark). */
static void child_fds_main(const snap_opts_t *o, int wfd, const int *fds, int nfds,
                           const int *close_fds, int nclose, const char *prefix, size_t plen,
                           const char *suffix, size_t slen) {
    snap_child_enter();
    /* The read ends are the I/O threads': with a copy here a replica that
     * goes away would never make our writes fail. */
    for (int i = 0; i < nclose; i++)
        close(close_fds[i]);
    child_wfd = wfd;
    int live[64];
    int n = 0;
    for (int i = 0; i < nfds && n < 64; i++) {
        size_t left = plen;
        const char *p = prefix;
        while (left) {
            ssize_t w = write(fds[i], p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) break;
            p += w;
            left -= (size_t)w;
        }
        if (left == 0) live[n++] = fds[i];
    }
    uint64_t keys = 0;
    int rc = -1;
    if (n > 0) {
        rdb_save_opts_t ro;
        fill_opts(&ro, o);
        ro.incremental_fsync = false;
        rdb_err_t re;
        rc = rdb_save_fds(live, n, &ro, &keys, &re);
        if (rc != 0) kl_warning("Diskless sync child: %s", re.msg);
    }
    int done = 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        size_t left = slen;
        const char *p = suffix;
        while (left) {
            ssize_t w = write(live[i], p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) break;
            p += w;
            left -= (size_t)w;
        }
        if (left == 0) done++;
    }
    child_report_t rep = {.keys = keys, .cow_bytes = snap_child_cow_bytes()};
    ssize_t w = write(wfd, &rep, sizeof(rep));
    (void)w;
    _exit(rc == 0 && done > 0 ? 0 : 1);
}

int snap_bgsave_fds(const snap_opts_t *o, const int *fds, int nfds, const int *close_fds,
                    int nclose, const char *prefix, size_t plen, const char *suffix, size_t slen,
                    char *err, size_t errlen) {
    int rep[2];
    if (pipe2(rep, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "Can't save in background: pipe: %s", strerror(errno));
        kl_warning("%s", err);
        return -1;
    }
    int64_t start = now_ms();
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(rep[0]);
        child_fds_main(o, rep[1], fds, nfds, close_fds, nclose, prefix, plen, suffix,
                       slen); /* never returns */
    }
    gettimeofday(&t1, NULL);
    close(rep[1]);
    if (pid < 0) {
        int e = errno;
        close(rep[0]);
        snprintf(err, errlen, "Can't save in background: fork: %s", strerror(e));
        kl_warning("%s", err);
        return -1;
    }
    child_started(pid, rep[0], &t0, &t1, start, 0);
    g_snap.child_to_fds = true;
    return 0;
}

int snap_bgsave(const snap_opts_t *o, uint64_t dirty, char *err, size_t errlen) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "Can't save in background: pipe: %s", strerror(errno));
        kl_warning("%s", err);
        return -1;
    }
    g_snap.lastbgsave_try = now_ms() / 1000;
    g_snap.rdb_saves++; /* Redis counts a BGSAVE when it starts, whatever its outcome */
    int64_t start = now_ms();
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child_main(o, fds[1]); /* never returns */
    }
    gettimeofday(&t1, NULL);
    close(fds[1]);
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        g_snap.lastbgsave_ok = false;
        snprintf(err, errlen, "Can't save in background: fork: %s", strerror(e));
        kl_warning("%s", err);
        return -1;
    }
    child_started(pid, fds[0], &t0, &t1, start, dirty);
    kl_notice("Background saving started by pid %d", (int)pid);
    return 0;
}

/* Read the child's reports so far (non-blocking); keep the latest. */
static void drain_reports(void) {
    child_report_t rep;
    while (report_fd >= 0 && read(report_fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep)) {
        last_report = rep;
        g_snap.child_keys = rep.keys;
        g_snap.cur_cow = rep.cow_bytes;
        if (rep.cow_bytes > g_snap.cur_cow_peak) g_snap.cur_cow_peak = rep.cow_bytes;
        g_snap.cur_cow_at_ms = now_ms();
    }
}

static void child_done(void) {
    if (report_fd >= 0) {
        drain_reports(); /* the last one is the child's final report */
        g_snap.last_cow_size = last_report.cow_bytes;
        g_snap.child_keys = last_report.keys;
        close(report_fd);
        report_fd = -1;
    }
    g_snap.child_pid = -1;
    g_snap.child_to_fds = false;
}

int snap_poll(bool *ok, uint64_t *dirty_at_fork) {
    if (g_snap.child_pid == -1) return 0;
    drain_reports();
    int status;
    pid_t pid = waitpid(g_snap.child_pid, &status, WNOHANG);
    if (pid == 0) return 0;
    if (pid < 0 && errno == EINTR) return 0;
    int64_t took = now_ms() - g_snap.child_start_ms;
    bool good = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (g_snap.child_to_fds) {
        /* A diskless transfer: no file, no save status (Redis's
         * backgroundSaveDoneHandlerSocket). */
        if (good)
            kl_notice("Background RDB transfer terminated with success");
        else if (pid > 0 && WIFSIGNALED(status))
            kl_warning("Background transfer terminated by signal %d", WTERMSIG(status));
        else
            kl_warning("Background transfer error");
        *ok = good;
        *dirty_at_fork = 0;
        child_done();
        return 2;
    }
    if (good) {
        kl_notice("Background saving terminated with success");
        g_snap.lastsave = now_ms() / 1000;
    } else if (pid > 0 && WIFSIGNALED(status)) {
        kl_warning("Background saving terminated by signal %d", WTERMSIG(status));
        char tmp[64];
        temp_name(tmp, sizeof(tmp), g_snap.child_pid);
        unlink(tmp);
    } else {
        kl_warning("Background saving error");
    }
    g_snap.lastbgsave_ok = good;
    g_snap.last_bgsave_secs = took / 1000;
    *ok = good;
    *dirty_at_fork = g_snap.dirty_at_fork;
    child_done();
    return 1;
}

void snap_kill_child(void) {
    if (g_snap.child_pid == -1) return;
    pid_t pid = g_snap.child_pid;
    kill(pid, SIGUSR1);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    char tmp[64];
    temp_name(tmp, sizeof(tmp), pid);
    unlink(tmp);
    child_done();
}
