/* The append-only file's policy (aof_policy.h), following Redis 7.0's aof.c:
 * the propagated stream is buffered per loop turn and handed to the writer
 * thread (persist/aof.h) right before the loop sleeps; appendfsync always
 * holds every client's replies until the fsync that covers the turn is done
 * (the reply gate of exec.h): one fsync per batch the writer takes, however
 * many commands it covers. Rewrites fork a child that writes a new base;
 * the files and the manifest follow Redis 7.0's multi-part layout.
 *
 * Thread: executor (main), except the writer's wake-up callback. */
#include "aof_policy.h"

#include "aof.h"
#include "aof_rewrite.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "exec.h"
#include "iol.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "multi.h"
#include "propagate.h"
#include "rdb.h"
#include "reply.h"
#include "resp_parser.h"
#include "server.h"
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { AOF_OFF = 0, AOF_ON = 1, AOF_WAIT_REWRITE = 2 };

static struct {
    int state;
    aof_manifest_t *m;   /* the manifest in force (AOF_ON) */
    kl_buf_t turn;       /* this loop turn's propagated bytes */
    prop_consumer_t *pc; /* our stream of the write path */
    iol_before_sleep_t *bs;
    iol_async_t *wake;
    int64_t last_ts; /* aof-timestamp-enabled: the last #TS written */
    /* rewrite */
    pid_t child;
    int report_fd;
    int64_t child_start_ms;
    bool scheduled;
    bool preamble;     /* the running child writes an RDB preamble */
    bool fsync_paused; /* no-appendfsync-on-rewrite while the child runs */
    /* the last manifest handed to the writer: a rewrite shows as in
     * progress until it is durable (Redis writes it before INFO changes) */
    uint64_t manifest_gen;
    long long last_rewrite_secs;
    bool last_rewrite_ok;
    uint64_t rewrites, consecutive_failures, last_cow;
    char *temp_incr; /* WAIT_REWRITE: the incremental file written meanwhile */
    /* sizes (INFO aof_current_size / aof_base_size, auto rewrite) */
    uint64_t base_size, closed_incr_size;
} A = {.child = -1, .report_fd = -1, .last_rewrite_secs = -1, .last_rewrite_ok = true};

static int64_t mstime(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static const char *dirname_(void) {
    return g_cfg.appenddirname;
}

static char *path_in_dir(const char *name) {
    kl_buf_t b = {0};
    kl_buf_appendf(&b, "%s/%s", dirname_(), name);
    return kl_buf_detach(&b);
}

static uint64_t file_size_of(const char *name) {
    char *p = path_in_dir(name);
    struct stat st;
    uint64_t n = stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
    kl_free(p);
    return n;
}

/* Persist m: on the writer thread when it runs (in order with the stream:
 * aof_writer_manifest), else here (start-up, before anything is served);
 * history files named in paths are removed once it is durable. */
static int persist_manifest_and_unlink(const aof_manifest_t *m, char **paths, size_t npaths) {
    char *text = aof_manifest_format(m);
    char name[1024];
    snprintf(name, sizeof(name), "%s.manifest", g_cfg.appendfilename);
    if (aof_writer_running()) {
        A.manifest_gen = aof_writer_manifest(dirname_(), name, text, paths, npaths);
        return 0;
    }
    int rc = aof_write_file_atomic(dirname_(), name, text, strlen(text));
    kl_free(text);
    for (size_t i = 0; i < npaths; i++) {
        if (!rc) unlink(paths[i]);
        kl_free(paths[i]);
    }
    kl_free(paths);
    if (rc) kl_warning("Can't persist AOF manifest file %s: %s", name, strerror(-rc));
    return rc;
}

static int persist_manifest(const aof_manifest_t *m) {
    return persist_manifest_and_unlink(m, NULL, 0);
}

static int open_incr(const char *name) {
    char *p = path_in_dir(name);
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    int e = errno;
    if (fd < 0) kl_warning("Can't open the append-only file %s: %s", p, strerror(e));
    kl_free(p);
    errno = e;
    return fd;
}

static int fsync_policy(void) {
    /* appendfsync's enum order: everysec always no (config.c). */
    switch (g_cfg.appendfsync) {
    case 1:
        return AOF_FSYNC_ALWAYS;
    case 2:
        return AOF_FSYNC_NO;
    default:
        return AOF_FSYNC_EVERYSEC;
    }
}

/* ---------------------------------------------------------------- the stream */

static void feed(void *arg, const char *bytes, size_t len) {
    (void)arg;
    if (g_srv.loading) return; /* DEBUG LOADAOF replays: nothing to append */
    if (g_cfg.aof_timestamp_enabled) {
        int64_t now = g_kv.mstime / 1000;
        if (now != A.last_ts) {
            kl_buf_appendf(&A.turn, "#TS:%lld\r\n", (long long)now);
            A.last_ts = now;
        }
    }
    kl_buf_append(&A.turn, bytes, len);
}

/* Right before the loop sleeps: hand the turn's bytes to the writer. */
static void before_sleep(void *arg) {
    (void)arg;
    if (A.turn.len && aof_writer_running()) aof_writer_hand(&A.turn.p, &A.turn.len, &A.turn.cap);
    kl_buf_clear(&A.turn);
}

/* How far the stream must be for a reply to go out. appendfsync always:
 * fsynced (no fsync during a rewrite with no-appendfsync-on-rewrite: Redis
 * replies at once then, and so do we). everysec and no: written to the
 * file, as Redis writes the AOF buffer before it sends the replies of a
 * turn, so an acknowledged write survives a crash of the process (not of
 * the machine: that is what the fsync policy is for). */
static uint64_t gate_done(void) {
    if (fsync_policy() == AOF_FSYNC_ALWAYS && !A.fsync_paused) return aof_writer_seq_synced();
    return aof_writer_seq_written();
}

/* The reply gate (exec.h): hold a client whose batch ended with stream bytes
 * not yet as far as gate_done() requires; its ticket is the sequence number
 * its last byte will have, the turn's bytes being handed over together
 * right before the loop sleeps (one hand-over and one write per turn, not
 * one per batch). */
static uint64_t gate(void) {
    if (!aof_writer_running()) return 0;
    uint64_t end = aof_writer_append(NULL, 0) + A.turn.len;
    return end > gate_done() ? end : 0;
}

/* Writer thread -> main loop. */
static void writer_progress(void *arg) {
    (void)arg;
    iol_async_send(A.wake);
}

static void on_wake(void *arg) {
    (void)arg;
    exec_gate_release(gate_done());
}

static int start_stream(int fd) {
    int rc = aof_writer_start(fd, fsync_policy(), writer_progress, NULL);
    if (rc) {
        close(fd);
        return rc;
    }
    if (!A.wake) A.wake = iol_async_new(on_wake, NULL);
    if (!A.bs) A.bs = iol_before_sleep_new(before_sleep, NULL);
    A.pc = prop_consumer_add(PROP_AOF, feed, NULL);
    exec_set_reply_gate(gate);
    return 0;
}

static void stop_stream(void) {
    if (A.pc) prop_consumer_remove(A.pc);
    A.pc = NULL;
    exec_set_reply_gate(NULL);
    before_sleep(NULL);
    aof_writer_stop();
    exec_gate_release_all();
}

/* ---------------------------------------------------------------- the rewrite child */

typedef struct child_report {
    uint64_t keys, cow_bytes;
} child_report_t;

/* The child: write the new base to temp-rewriteaof-bg-<pid>.aof in the
 * working directory. The fork rules of persist/snapshot.h apply. */
static void rewrite_child(int wfd, bool preamble) {
    snap_child_enter();
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "temp-rewriteaof-bg-%d.aof", (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        kl_warning("Opening the temp file for AOF rewrite in rewriteAppendOnlyFile(): %s",
                   strerror(errno));
        _exit(1);
    }
    uint64_t keys = 0;
    int rc;
    if (preamble) {
        rdb_save_opts_t o = {.compress = g_cfg.rdbcompression != 0,
                             .checksum = g_cfg.rdbchecksum != 0,
                             .aof_base = true,
                             .key_save_delay = g_cfg.rdb_key_save_delay,
                             .incremental_fsync = g_cfg.aof_rewrite_incremental_fsync != 0};
        rdb_err_t err;
        rc = rdb_save_fd(fd, &o, &keys, &err);
    } else {
        rc = aof_rewrite_fd(fd, &keys);
    }
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc) {
        kl_warning("Write error writing append only file on disk: %s", strerror(-rc));
        unlink(tmp);
    } else {
        kl_notice("Successfully created the temporary AOF base file %s", tmp);
    }
    child_report_t rep = {keys, snap_child_cow_bytes()};
    ssize_t w = write(wfd, &rep, sizeof(rep));
    (void)w;
    _exit(rc ? 1 : 0);
}

/* BGREWRITEAOF: switch the stream to a new incremental file (AOF_ON) and
 * fork the child that writes the new base. */
static int ensure_dir(void);

static int rewrite_start(char *err, size_t errlen) {
    if (snap_child_running() || A.child != -1) {
        snprintf(err, errlen, "child running");
        return -1;
    }
    /* BGREWRITEAOF with the AOF off still writes into appenddirname. */
    if (ensure_dir() != 0) {
        snprintf(err, errlen, "can't create the append-only dir");
        A.last_rewrite_ok = false;
        return -1;
    }
    if (A.state == AOF_ON) {
        /* Everything until here goes to the old files (which the new base
         * replaces); what follows, to a new incremental file. */
        before_sleep(NULL);
        aof_manifest_t *m = aof_manifest_dup(A.m);
        const char *name = aof_manifest_new_incr(m, g_cfg.appendfilename);
        int fd = open_incr(name);
        if (fd < 0 || persist_manifest(m) != 0) {
            if (fd >= 0) close(fd);
            aof_manifest_free(m);
            kl_free(m);
            snprintf(err, errlen, "can't open a new incremental AOF file");
            A.last_rewrite_ok = false;
            return -1;
        }
        A.closed_incr_size += aof_writer_file_size();
        aof_writer_switch(fd);
        /* The new file starts with a SELECT, as in Redis (each file is
         * loaded by a client that starts in db 0). */
        prop_consumer_reset_db(A.pc);
        aof_manifest_free(A.m);
        kl_free(A.m);
        A.m = m;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    bool preamble = g_cfg.aof_use_rdb_preamble != 0;
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    A.rewrites++; /* INFO aof_rewrites counts the attempts, as in Redis */
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        rewrite_child(fds[1], preamble);
    }
    gettimeofday(&t1, NULL);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        snprintf(err, errlen, "Can't rewrite append only file in background: fork: %s",
                 strerror(errno));
        kl_warning("%s", err);
        A.last_rewrite_ok = false;
        return -1;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    g_snap.latest_fork_usec =
        (long long)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_usec - t0.tv_usec);
    g_snap.total_forks++;
    g_snap.other_child_pid = pid;
    A.child = pid;
    A.report_fd = fds[0];
    A.child_start_ms = mstime();
    A.preamble = preamble;
    A.scheduled = false;
    if (g_cfg.no_appendfsync_on_rewrite) {
        aof_writer_fsync_pause(true);
        A.fsync_paused = true;
        exec_gate_release(gate_done()); /* those waiting for an fsync wait no more */
    }
    kl_notice("Background append only file rewriting started by pid %d", (int)pid);
    return 0;
}

static void child_gone(void) {
    if (A.report_fd >= 0) {
        child_report_t rep;
        if (read(A.report_fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep))
            A.last_cow = rep.cow_bytes;
        close(A.report_fd);
        A.report_fd = -1;
    }
    A.child = -1;
    g_snap.other_child_pid = -1;
    if (aof_writer_running()) aof_writer_fsync_pause(false);
    A.fsync_paused = false;
}

/* Drop the history files from the manifest; they are removed once the
 * manifest without them is durable (on the writer thread when it runs). */
static void delete_history(aof_manifest_t *m) {
    if (g_cfg.aof_disable_auto_gc || m->nhist == 0) return;
    char **paths = kl_malloc(sizeof(char *) * m->nhist);
    for (size_t i = 0; i < m->nhist; i++) {
        kl_notice("Removing the history file %s in the background", m->hist[i].name);
        paths[i] = path_in_dir(m->hist[i].name);
        kl_free(m->hist[i].name);
    }
    size_t n = m->nhist;
    kl_free(m->hist);
    m->hist = NULL;
    m->nhist = 0;
    persist_manifest_and_unlink(m, paths, n);
}

/* The child finished well: its file becomes the base. */
static void rewrite_done_ok(void) {
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "temp-rewriteaof-bg-%d.aof", (int)A.child);
    aof_manifest_t *m = A.m ? aof_manifest_dup(A.m) : kl_calloc(1, sizeof(aof_manifest_t));
    const char *base = aof_manifest_new_base(m, g_cfg.appendfilename, A.preamble);
    char *bpath = path_in_dir(base);
    if (rename(tmp, bpath) != 0) {
        kl_warning("Error trying to rename the temporary AOF base file %s into %s: %s", tmp, base,
                   strerror(errno));
        unlink(tmp);
        kl_free(bpath);
        aof_manifest_free(m);
        kl_free(m);
        A.last_rewrite_ok = false;
        A.consecutive_failures++;
        return;
    }
    kl_free(bpath);
    if (A.state == AOF_WAIT_REWRITE) {
        /* Every older incremental file is history (the AOF was off since);
         * the commands written during the rewrite become the only one. */
        const char *incr = aof_manifest_new_incr(m, g_cfg.appendfilename);
        aof_manifest_incrs_to_history(m);
        incr = m->incr[0].name;
        char *from = path_in_dir(A.temp_incr), *to = path_in_dir(incr);
        if (rename(from, to) != 0)
            kl_warning("Error trying to rename the temporary AOF incr file %s into %s: %s",
                       A.temp_incr, incr, strerror(errno));
        kl_free(from);
        kl_free(to);
        kl_free(A.temp_incr);
        A.temp_incr = NULL;
    } else {
        aof_manifest_incrs_to_history(m);
    }
    if (persist_manifest(m) != 0) {
        aof_manifest_free(m);
        kl_free(m);
        A.last_rewrite_ok = false;
        A.consecutive_failures++;
        return;
    }
    if (A.m) {
        aof_manifest_free(A.m);
        kl_free(A.m);
    }
    A.m = m;
    A.base_size = file_size_of(base);
    A.closed_incr_size = 0;
    if (A.state == AOF_WAIT_REWRITE) {
        A.state = AOF_ON;
        kl_notice("Background AOF rewrite finished successfully");
    }
    kl_notice("Background AOF rewrite terminated with success");
    delete_history(A.m);
    A.last_rewrite_ok = true;
    A.consecutive_failures = 0;
}

static void rewrite_poll(void) {
    if (A.child == -1) return;
    int status;
    pid_t pid = waitpid(A.child, &status, WNOHANG);
    if (pid == 0 || (pid < 0 && errno == EINTR)) return;
    A.last_rewrite_secs = (mstime() - A.child_start_ms) / 1000;
    bool ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok) {
        rewrite_done_ok();
    } else {
        if (pid > 0 && WIFSIGNALED(status))
            kl_warning("Background AOF rewrite terminated by signal %d", WTERMSIG(status));
        else
            kl_warning("Background AOF rewrite terminated with error");
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "temp-rewriteaof-bg-%d.aof", (int)A.child);
        unlink(tmp);
        A.last_rewrite_ok = false;
        A.consecutive_failures++;
    }
    child_gone();
}

static void rewrite_kill(void) {
    if (A.child == -1) return;
    kill(A.child, SIGUSR1);
    int status;
    while (waitpid(A.child, &status, 0) < 0 && errno == EINTR) {}
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "temp-rewriteaof-bg-%d.aof", (int)A.child);
    unlink(tmp);
    child_gone();
}

/* ---------------------------------------------------------------- turning it on and off */

static int ensure_dir(void) {
    if (mkdir(dirname_(), 0755) == 0 || errno == EEXIST) return 0;
    kl_warning("Can't open or create append-only dir %s: %s", dirname_(), strerror(errno));
    return -1;
}

/* CONFIG SET appendonly yes: write the commands from now on to a temporary
 * incremental file and rewrite; the AOF is on once the base exists. */
static int aof_turn_on(char **err) {
    if (A.state != AOF_OFF) return 0;
    if (ensure_dir() != 0) {
        *err = kl_strdup("Can't create the append-only directory");
        return -1;
    }
    kl_buf_t b = {0};
    kl_buf_appendf(&b, "temp-%s.incr", g_cfg.appendfilename);
    A.temp_incr = kl_buf_detach(&b);
    char *p = path_in_dir(A.temp_incr);
    int fd = open(p, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0644);
    kl_free(p);
    if (fd < 0 || start_stream(fd) != 0) {
        *err = kl_strdup("Can't open the append only file");
        kl_free(A.temp_incr);
        A.temp_incr = NULL;
        return -1;
    }
    A.state = AOF_WAIT_REWRITE;
    A.closed_incr_size = 0;
    if (snap_child_running()) {
        A.scheduled = true;
        kl_notice("AOF was enabled but there is already another background operation. An AOF "
                  "background was scheduled to start when possible.");
        return 0;
    }
    char e[256];
    if (rewrite_start(e, sizeof(e)) != 0) {
        stop_stream();
        A.state = AOF_OFF;
        *err = kl_strdup("Can't rewrite append only file in background");
        return -1;
    }
    return 0;
}

static void aof_turn_off(void) {
    if (A.state == AOF_OFF) return;
    rewrite_kill();
    stop_stream();
    if (A.temp_incr) {
        char *p = path_in_dir(A.temp_incr);
        unlink(p);
        kl_free(p);
        kl_free(A.temp_incr);
        A.temp_incr = NULL;
    }
    A.state = AOF_OFF;
    A.scheduled = false;
}

void aof_stop_for_sync(void) {
    if (A.state == AOF_OFF) return;
    kl_notice("Stopping the append only file for the MASTER <-> REPLICA synchronization");
    aof_turn_off();
}

void aof_restart_after_sync(void) {
    if (!g_cfg.appendonly || A.state != AOF_OFF) return;
    char *err = NULL;
    if (aof_turn_on(&err) != 0) {
        kl_warning("Failed enabling the AOF after successful master synchronization! (%s)",
                   err ? err : "error");
        kl_free(err);
    }
}

static int apply_appendonly(char **err) {
    if (g_cfg.appendonly) return aof_turn_on(err);
    aof_turn_off();
    return 0;
}

static int apply_appendfsync(char **err) {
    (void)err;
    if (aof_writer_running()) aof_writer_set_policy(fsync_policy());
    return 0;
}

/* ---------------------------------------------------------------- loading */

/* One file of the AOF being loaded. */
typedef struct load_file {
    char *name;
    unsigned char *p;
    size_t len, pos;
    bool last;     /* the last file: a torn tail may be cut (aof-load-truncated) */
    bool rdb_done; /* an RDB preamble was loaded */
} load_file_t;

static struct {
    load_file_t *files;
    size_t n, cur;
    client_t *c;
    resp_batch_t batch;
    rdb_loader_t *rdb;
    size_t valid_up_to, valid_before_multi;
    bool in_multi;
    uint64_t commands;
    int64_t file_start_ms;
} L;

static void load_reset(void) {
    for (size_t i = 0; i < L.n; i++) {
        if (L.files[i].p) munmap(L.files[i].p, L.files[i].len);
        kl_free(L.files[i].name);
    }
    kl_free(L.files);
    if (L.c) exec_internal_client_free(L.c);
    resp_batch_free(&L.batch);
    if (L.rdb) rdb_loader_close(L.rdb);
    memset(&L, 0, sizeof(L));
}

static int map_file(load_file_t *f, char *err, size_t errlen) {
    char *p = path_in_dir(f->name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "The AOF file %s doesn't exist", f->name);
        kl_free(p);
        return -1;
    }
    kl_free(p);
    struct stat st;
    fstat(fd, &st);
    f->len = (size_t)st.st_size;
    if (f->len) {
        f->p = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->p == MAP_FAILED) {
            f->p = NULL;
            close(fd);
            snprintf(err, errlen, "mmap: %s", strerror(errno));
            return -1;
        }
    }
    close(fd);
    return 0;
}

/* Scan one RESP multibulk command at p[0..n): its length, 0 when it is
 * incomplete, -1 when the bytes are not a command. */
static long scan_command(const unsigned char *p, size_t n) {
    size_t i = 0;
    if (n == 0) return 0;
    if (p[0] != '*') return -1;
    long long argc = 0;
    i = 1;
    if (i >= n) return 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        argc = argc * 10 + (p[i] - '0');
        if (argc > 1024 * 1024 * 1024) return -1;
        i++;
    }
    if (i + 1 >= n) return 0;
    if (p[i] != '\r' || p[i + 1] != '\n' || argc < 1) return -1;
    i += 2;
    for (long long a = 0; a < argc; a++) {
        if (i >= n) return 0;
        if (p[i] != '$') return -1;
        i++;
        unsigned long long len = 0;
        size_t digits = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            len = len * 10 + (unsigned long long)(p[i] - '0');
            if (len > (1ULL << 40)) return -1;
            i++;
            digits++;
        }
        if (i + 1 >= n) return 0;
        if (!digits || p[i] != '\r' || p[i + 1] != '\n') return -1;
        i += 2;
        if (n - i < len + 2) return 0;
        i += len;
        if (p[i] != '\r' || p[i + 1] != '\n') return -1;
        i += 2;
    }
    return (long)i;
}

static void fatal_load(const char *fmt, const char *name) {
    kl_warning(fmt, name);
    exit(1);
}

/* Run the commands gathered in L.batch. */
static void flush_batch(void) {
    if (L.batch.ncmds == 0) return;
    exec_internal_run(L.c, &L.batch);
    resp_batch_reset(&L.batch);
}

/* The torn end of the last file: cut it at the last whole command (before
 * an unfinished MULTI) when aof-load-truncated allows, else stop. */
static int load_truncated(load_file_t *f, bool torn) {
    size_t cut = L.in_multi ? L.valid_before_multi : L.valid_up_to;
    if (L.in_multi) kl_warning("Revert incomplete MULTI/EXEC transaction in AOF file %s", f->name);
    if (torn) kl_warning("!!! Warning: short read while loading the AOF file %s!!!", f->name);
    if (!f->last || !g_cfg.aof_load_truncated) {
        kl_warning("Unexpected end of file reading the append only file %s. You can: 1) Make a "
                   "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. "
                   "2) Alternatively you can set the 'aof-load-truncated' configuration option to "
                   "yes and restart the server.",
                   f->name);
        exit(1);
    }
    kl_warning("!!! Truncating the AOF %s at offset %zu !!!", f->name, cut);
    char *p = path_in_dir(f->name);
    if (truncate(p, (off_t)cut) != 0) {
        kl_warning("Error truncating the AOF file %s: %s", f->name, strerror(errno));
        kl_free(p);
        exit(1);
    }
    kl_free(p);
    if (L.in_multi) {
        resp_batch_reset(&L.batch);
        multi_client_reset(L.c);
        L.c->flags &= ~CF_MULTI;
        L.in_multi = false;
    }
    kl_warning("AOF %s loaded anyway because aof-load-truncated is enabled", f->name);
    return 0;
}

/* Load up to budget bytes of the current file. 1: more, 0: all files
 * done. Errors are fatal (exit), as in Redis. */
static int load_step(size_t budget) {
    while (L.cur < L.n) {
        load_file_t *f = &L.files[L.cur];
        if (!f->p && f->len == 0 && f->pos == 0) {
            char err[256];
            if (map_file(f, err, sizeof(err)) != 0) fatal_load("%s", err);
            L.valid_up_to = L.valid_before_multi = 0;
            /* Every file starts in db 0 (Redis loads each with a new client). */
            L.c->db = db_get(0);
            if (f->len >= 5 && !memcmp(f->p, "REDIS", 5)) {
                L.rdb = rdb_loader_open_mem(f->p, f->len,
                                            RDB_LOAD_AOF_PREAMBLE |
                                                (g_cfg.rdbchecksum ? 0 : RDB_LOAD_NO_CHECKSUM));
                kl_notice("Reading RDB base file on AOF loading...");
            }
            if (f->len == 0) {
                L.cur++;
                continue;
            }
        }
        if (L.rdb) {
            rdb_err_t err;
            int rc = rdb_loader_step(L.rdb, budget, &err);
            if (rc < 0) {
                kl_warning("Bad file format reading the append only file %s (RDB preamble, "
                           "offset %zu): %s",
                           f->name, err.offset, err.msg);
                exit(1);
            }
            if (rc == 1) return 1;
            f->pos = rdb_loader_pos(L.rdb);
            rdb_loader_close(L.rdb);
            L.rdb = NULL;
            f->rdb_done = true;
            L.valid_up_to = L.valid_before_multi = f->pos;
            if (f->pos < f->len) kl_notice("Reading the remaining AOF tail...");
        }
        size_t until = f->pos + budget;
        while (f->pos < f->len && f->pos < until) {
            const unsigned char *p = f->p + f->pos;
            size_t left = f->len - f->pos;
            if (p[0] == '#') { /* an annotation (#TS:...) */
                const unsigned char *nl = memchr(p, '\n', left);
                if (!nl) {
                    flush_batch();
                    load_truncated(f, true);
                    f->pos = f->len;
                    break;
                }
                f->pos += (size_t)(nl - p) + 1;
                L.valid_up_to = f->pos;
                continue;
            }
            long n = scan_command(p, left);
            if (n == 0) {
                flush_batch();
                load_truncated(f, true);
                f->pos = f->len;
                break;
            }
            if (n < 0) {
                kl_warning("Bad file format reading the append only file %s: make a backup of "
                           "your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                           f->name);
                exit(1);
            }
            resp_parser_t rp;
            resp_parser_init(&rp);
            size_t used = 0;
            uint32_t before = L.batch.ncmds;
            int rc = resp_parse(&rp, NULL, (const char *)p, (size_t)n, &used, &L.batch);
            resp_parser_free(&rp);
            if (rc != RESP_OK || used != (size_t)n || L.batch.ncmds != before + 1) {
                kl_warning("Bad file format reading the append only file %s: make a backup of "
                           "your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                           f->name);
                exit(1);
            }
            resp_arg_t *argv = resp_batch_argv(&L.batch, before);
            if (!cmd_lookup(argv[0].ptr, argv[0].len)) {
                kl_warning("Unknown command '%s' reading the append only file %s", argv[0].ptr,
                           f->name);
                exit(1);
            }
            if (argv[0].len == 5 && !strncasecmp(argv[0].ptr, "multi", 5)) {
                L.in_multi = true;
                L.valid_before_multi = f->pos;
            } else if (argv[0].len == 4 && !strncasecmp(argv[0].ptr, "exec", 4)) {
                L.in_multi = false;
            }
            f->pos += (size_t)n;
            L.valid_up_to = f->pos;
            L.commands++;
            if (L.batch.ncmds >= 1024) flush_batch();
        }
        if (f->pos < f->len) return 1;
        flush_batch();
        if (L.in_multi) {
            load_truncated(f, false);
        }
        L.cur++;
        kl_notice("DB loaded from %s file %s: %.3f seconds",
                  L.cur == 1 && A.m && A.m->base ? "base" : "incr", f->name,
                  (double)(mstime() - L.file_start_ms) / 1000.0);
        L.file_start_ms = mstime();
    }
    return 0;
}

/* The whole file at path (kl_malloc'd, NUL-terminated), or NULL. */
static char *read_whole(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    kl_buf_t b = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        kl_buf_append(&b, chunk, (size_t)n);
    close(fd);
    *len = b.len;
    kl_buf_append_char(&b, '\0');
    return kl_buf_detach(&b);
}

/* Read the manifest (or upgrade a Redis < 7 appendonly.aof) into A.m and
 * the list of files to load. Returns 0 (possibly nothing to load). */
static void prepare_load(void) {
    char mname[1024];
    snprintf(mname, sizeof(mname), "%s.manifest", g_cfg.appendfilename);
    char *mpath = path_in_dir(mname);
    size_t len = 0;
    char *text = read_whole(mpath, &len);
    kl_free(mpath);
    A.m = kl_calloc(1, sizeof(*A.m));
    if (text) {
        char err[256];
        if (aof_manifest_parse(A.m, text, len, err, sizeof(err)) != 0) {
            kl_warning("Error loading the AOF manifest %s: %s", mname, err);
            exit(1);
        }
        kl_free(text);
    } else if (access(g_cfg.appendfilename, F_OK) == 0) {
        /* A Redis < 7.0 single-file AOF in dir: it becomes the base. */
        char *to = path_in_dir(g_cfg.appendfilename);
        if (rename(g_cfg.appendfilename, to) != 0) {
            kl_warning("Error trying to move the old AOF file %s into dir %s: %s",
                       g_cfg.appendfilename, dirname_(), strerror(errno));
            exit(1);
        }
        kl_free(to);
        A.m->base = kl_calloc(1, sizeof(*A.m->base));
        A.m->base->name = kl_strdup(g_cfg.appendfilename);
        A.m->base->seq = 1;
        A.m->base->type = AOF_FILE_BASE;
        A.m->base_seq = 1;
        if (persist_manifest(A.m) != 0) exit(1);
        kl_notice("Successfully migrated an old-style AOF into the AOF directory %s.", dirname_());
    }
    size_t n = (A.m->base ? 1 : 0) + A.m->nincr;
    L.files = kl_calloc(n ? n : 1, sizeof(load_file_t));
    if (A.m->base) L.files[L.n++].name = kl_strdup(A.m->base->name);
    for (size_t i = 0; i < A.m->nincr; i++)
        L.files[L.n++].name = kl_strdup(A.m->incr[i].name);
    if (L.n) L.files[L.n - 1].last = true;
    L.c = exec_internal_client_new(CF_AOF_LOADER);
    L.file_start_ms = mstime();
    resp_batch_init(&L.batch);
}

/* After loading: open the last incremental file (a new one if there is
 * none; a base for an empty dataset if there is nothing), start the
 * writer. */
static void open_at_start(void) {
    if (!A.m->base && A.m->nincr == 0) {
        /* Redis writes a base for the empty dataset at once. */
        const char *base =
            aof_manifest_new_base(A.m, g_cfg.appendfilename, g_cfg.aof_use_rdb_preamble != 0);
        char *p = path_in_dir(base);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int rc = fd < 0 ? -errno : 0;
        if (!rc) {
            if (g_cfg.aof_use_rdb_preamble) {
                rdb_save_opts_t o = {.compress = g_cfg.rdbcompression != 0,
                                     .checksum = g_cfg.rdbchecksum != 0,
                                     .aof_base = true};
                rdb_err_t err;
                rc = rdb_save_fd(fd, &o, NULL, &err);
            } else {
                rc = aof_rewrite_fd(fd, NULL);
            }
            if (!rc && fsync(fd) != 0) rc = -errno;
            close(fd);
        }
        kl_free(p);
        if (rc) {
            kl_warning("Can't create the AOF base file %s: %s", base, strerror(-rc));
            exit(1);
        }
        kl_notice("Creating AOF base file %s on server start", base);
    }
    const char *incr = A.m->nincr ? A.m->incr[A.m->nincr - 1].name
                                  : aof_manifest_new_incr(A.m, g_cfg.appendfilename);
    int fd = open_incr(incr);
    if (fd < 0) exit(1);
    if (persist_manifest(A.m) != 0) exit(1);
    A.base_size = A.m->base ? file_size_of(A.m->base->name) : 0;
    A.closed_incr_size = 0;
    for (size_t i = 0; i + 1 < A.m->nincr; i++)
        A.closed_incr_size += file_size_of(A.m->incr[i].name);
    if (start_stream(fd) != 0) {
        kl_warning("Can't start the AOF writer thread");
        exit(1);
    }
    A.state = AOF_ON;
    delete_history(A.m);
}

bool aof_enabled_at_start(void) {
    return g_cfg.appendonly != 0;
}

void aof_load_begin(void) {
    if (ensure_dir() != 0) exit(1);
    prepare_load();
}

int aof_load_step(size_t budget) {
    return load_step(budget);
}

void aof_load_end(void) {
    kl_notice("DB loaded from append only file: %llu commands", (unsigned long long)L.commands);
    load_reset();
    open_at_start();
}

/* ---------------------------------------------------------------- commands, cron, INFO */

static void cmd_bgrewriteaof(client_t *c) {
    if (A.child != -1) {
        reply_error(c, "ERR Background append only file rewriting already in progress");
    } else if (snap_child_running() || (c->flags & CF_DENY_BLOCKING)) {
        A.scheduled = true;
        reply_simple(c, "Background append only file rewriting scheduled");
    } else {
        char err[256];
        if (rewrite_start(err, sizeof(err)) == 0)
            reply_simple(c, "Background append only file rewriting started");
        else
            reply_error(c, "ERR Can't execute an AOF background rewriting. Please check the "
                           "server logs for more information.");
    }
}

kl_command_t cmds_aof[] = {
    {
        .name = "bgrewriteaof",
        .proc = cmd_bgrewriteaof,
        .arity = 1,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING,
        .group = "server",
        .since = "1.0.0",
        .summary = "Asynchronously rewrites the append-only file to disk.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {0},
};

void aof_cron(void) {
    rewrite_poll();
    if (A.child != -1 || snap_child_running()) return;
    if (A.scheduled && A.state != AOF_OFF) {
        char err[256];
        rewrite_start(err, sizeof(err));
        return;
    }
    if (A.scheduled && A.state == AOF_OFF) {
        /* BGREWRITEAOF with the AOF off: a base is written all the same. */
        char err[256];
        rewrite_start(err, sizeof(err));
        return;
    }
    if (A.state == AOF_ON && g_cfg.auto_aof_rewrite_percentage) {
        uint64_t cur = A.base_size + A.closed_incr_size + aof_writer_file_size();
        uint64_t base = A.base_size ? A.base_size : 1;
        if (cur > (uint64_t)g_cfg.auto_aof_rewrite_min_size &&
            (cur - A.base_size) * 100 / base >= (uint64_t)g_cfg.auto_aof_rewrite_percentage) {
            kl_notice("Starting automatic rewriting of AOF on %llu%% growth",
                      (unsigned long long)((cur - A.base_size) * 100 / base));
            char err[256];
            rewrite_start(err, sizeof(err));
        }
    }
}

bool aof_child_running(void) {
    return A.child != -1;
}

void aof_shutdown(void) {
    if (A.state == AOF_OFF) return;
    rewrite_kill();
    kl_notice("Calling fsync() on the AOF file.");
    stop_stream();
}

int aof_debug_loadaof(void) {
    if (A.state == AOF_ON) {
        before_sleep(NULL);
        aof_writer_flush_sync();
    }
    for (int i = 0; i < db_count(); i++)
        multi_touch_db(db_get(i), NULL);
    db_flush_all();
    aof_manifest_t *keep = A.m;
    A.m = NULL;
    g_srv.loading = true;
    prepare_load();
    while (load_step(SIZE_MAX / 4) == 1) {}
    load_reset();
    g_srv.loading = false;
    aof_manifest_free(A.m);
    kl_free(A.m);
    A.m = keep;
    g_srv.dirty = 0;
    kl_notice("Append Only File loaded by DEBUG LOADAOF");
    return 0;
}

/* The rewrite's manifest is not durable yet (the writer persists it). */
static bool rewrite_finishing(void) {
    return A.manifest_gen > aof_writer_manifest_done();
}

void aof_info(kl_buf_t *b) {
    int64_t now = mstime();
    kl_buf_appendf(b,
                   "aof_enabled:%d\r\n"
                   "aof_rewrite_in_progress:%d\r\n"
                   "aof_rewrite_scheduled:%d\r\n"
                   "aof_last_rewrite_time_sec:%lld\r\n"
                   "aof_current_rewrite_time_sec:%lld\r\n"
                   "aof_last_bgrewrite_status:%s\r\n"
                   "aof_rewrites:%llu\r\n"
                   "aof_rewrites_consecutive_failures:%llu\r\n"
                   "aof_last_write_status:%s\r\n"
                   "aof_last_cow_size:%llu\r\n",
                   A.state != AOF_OFF, A.child != -1 || rewrite_finishing(), A.scheduled,
                   A.last_rewrite_secs,
                   A.child != -1 ? (long long)((now - A.child_start_ms) / 1000) : -1LL,
                   A.last_rewrite_ok ? "ok" : "err", (unsigned long long)A.rewrites,
                   (unsigned long long)A.consecutive_failures,
                   aof_writer_running() && aof_writer_last_error() ? "err" : "ok",
                   (unsigned long long)A.last_cow);
}

void aof_info_tail(kl_buf_t *b) {
    if (A.state == AOF_OFF) return;
    uint64_t cur = A.base_size + A.closed_incr_size + aof_writer_file_size();
    kl_buf_appendf(b,
                   "aof_current_size:%llu\r\n"
                   "aof_base_size:%llu\r\n"
                   "aof_pending_rewrite:%d\r\n"
                   "aof_buffer_length:%zu\r\n"
                   "aof_pending_bio_fsync:0\r\n"
                   "aof_delayed_fsync:0\r\n",
                   (unsigned long long)cur, (unsigned long long)A.base_size, A.scheduled,
                   A.turn.len);
}

void aof_register(void) {
    config_register_apply("appendonly", apply_appendonly);
    config_register_apply("appendfsync", apply_appendfsync);
}
