/* Snapshots: the RDB file on disk, saved in the foreground (SAVE, SHUTDOWN,
 * FLUSHALL, DEBUG RELOAD) or by a forked child (BGSAVE), and the state INFO
 * persistence reports. The policy (save points, dirty counting, commands)
 * is the layer above's (admin/persistence.c); this module does the work.
 *
 * Files are written to "temp-<pid>.rdb" in the working directory (dir),
 * fsynced, renamed over dbfilename and the directory fsynced, so a crash at
 * any moment leaves either the old file or the new one, never a torn one.
 *
 * Fork rules (BGSAVE). The executor forks while I/O threads, the lazy-free
 * thread and the allocator's background work may hold locks. The child:
 *  - only serializes the keyspace it inherited (rdb_save_fd) and writes its
 *    own file; it never touches the event loop, a connection, TLS state, the
 *    lazy-free queue or any structure another thread may have been changing;
 *  - allocates only through kl_malloc, which after kl_alloc_fork_child()
 *    serves the child from a private mmap'd region and never calls malloc
 *    (another thread may have held the allocator's locks at the fork;
 *    jemalloc's fork handlers would cope, a sanitizer's allocator does not);
 *  - logs through kl_log after kl_log_fork_child(), which formats the time
 *    without localtime/strftime (they take glibc's timezone lock);
 *  - reports its copy-on-write size to the parent through a pipe, and
 *    leaves with _exit() (no atexit handlers, no stdio flush, no destructors
 *    of the parent's threads).
 *
 * Thread: executor (the child runs on the forking thread). */
#ifndef KL_SNAPSHOT_H
#define KL_SNAPSHOT_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct snap_state {
    pid_t child_pid;            /* -1: no child */
    int64_t child_start_ms;     /* when the running child was forked */
    int64_t lastsave;           /* unix seconds of the last successful save */
    int64_t lastbgsave_try;     /* unix seconds of the last BGSAVE attempt */
    bool lastbgsave_ok;         /* rdb_last_bgsave_status */
    long long last_bgsave_secs; /* rdb_last_bgsave_time_sec, -1 if none */
    long long latest_fork_usec;
    uint64_t total_forks;
    uint64_t rdb_saves;     /* rdb_saves: SAVE commands and BGSAVEs started */
    uint64_t last_cow_size; /* rdb_last_cow_size */
    uint64_t child_keys;    /* current_save_keys_processed, when reported */
    /* current_cow_size / _peak and when it was reported (unix ms), while a
     * child runs */
    uint64_t cur_cow, cur_cow_peak;
    int64_t cur_cow_at_ms;
    uint64_t dirty_at_fork; /* the caller's dirty counter when the child forked */
    pid_t other_child_pid;  /* the AOF rewrite child, -1 if none (one child at a time) */
    bool child_to_fds;      /* the child writes to replicas' pipes (diskless sync), not a file */
} snap_state_t;

extern snap_state_t g_snap;

/* Writes are refused with -MISCONF: stop-writes-on-bgsave-error, save
 * points configured and the last background save failed (Redis's
 * writeCommandsDeniedByDiskError). */
static inline bool snap_writes_denied(void) {
    return g_cfg.stop_writes_on_bgsave_error && g_cfg.nsave > 0 && !g_snap.lastbgsave_ok;
}

/* Options the AUX fields need (used-mem, replication info). */
typedef struct snap_opts {
    long long used_mem;
    bool with_repl;
    int repl_stream_db;
    const char *repl_id;
    long long repl_offset;
} snap_opts_t;

/* Save the dataset to g_cfg.dbfilename in the foreground. 0, or -1 with
 * the reason logged and in err. A success updates lastsave and sets the
 * status ok; a failure changes neither (Redis's rdbSave). */
int snap_save(const snap_opts_t *o, char *err, size_t errlen);
/* Fork a child that saves (BGSAVE). 0, or -1 (fork failed: logged, err).
 * The caller passes its dirty counter, handed back by snap_poll. */
int snap_bgsave(const snap_opts_t *o, uint64_t dirty, char *err, size_t errlen);
/* Fork a child that writes prefix, the RDB and suffix to each of fds (the
 * pipes of a diskless sync, one per replica; the caller closes its copies
 * after the call), after closing close_fds (the pipes' read ends) in the
 * child. A target that stops reading is dropped; the child fails when none
 * is left. 0, or -1 (fork failed: logged, err). */
int snap_bgsave_fds(const snap_opts_t *o, const int *fds, int nfds, const int *close_fds,
                    int nclose, const char *prefix, size_t plen, const char *suffix, size_t slen,
                    char *err, size_t errlen);
/* Reap a finished child without blocking. Returns 0 when none finished, 1
 * when a BGSAVE did (*ok: it saved; *dirty_at_fork: what snap_bgsave got),
 * 2 when a snap_bgsave_fds child did (*ok: it wrote everything). */
int snap_poll(bool *ok, uint64_t *dirty_at_fork);
/* Kill the running child and remove its temporary file (FLUSHALL,
 * SHUTDOWN). Waits for it. */
void snap_kill_child(void);
/* The first steps of any forked child (BGSAVE, AOF rewrite), the fork
 * rules above: fork-safe logging and allocation, default signal handling.
 * _exits when the child cannot set up. Thread: the child's only thread. */
void snap_child_enter(void);
/* The child's copy-on-write bytes so far (Private_Dirty of
 * /proc/self/smaps_rollup, read without stdio). Thread: the child. */
uint64_t snap_child_cow_bytes(void);
/* Is a child running? */
static inline bool snap_child_running(void) {
    return g_snap.child_pid != -1;
}

#endif
