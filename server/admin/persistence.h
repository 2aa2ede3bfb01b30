/* Persistence policy and commands (on top of persist/): SAVE, BGSAVE,
 * LASTSAVE, the save points checked by the cron, loading the RDB file at
 * start-up in steps (clients get -LOADING meanwhile), DEBUG RELOAD,
 * saving at shutdown, and INFO persistence.
 *
 * Thread: executor (main). */
#ifndef KL_PERSISTENCE_H
#define KL_PERSISTENCE_H

#include "cmd.h"
#include "kl_util.h"
#include "rdb.h"
#include "snapshot.h"

#include <stdbool.h>

extern kl_command_t cmds_persistence[];

/* Start loading dbfilename if it exists: the load then runs in steps of
 * loading-process-events-interval-bytes from the main loop. A file that
 * cannot be loaded stops the server (exit 1), as Redis. Thread: main, once
 * the listeners and I/O threads run; done() runs once the dataset is
 * there ("Ready to accept connections"). */
void persistence_load_at_startup(void (*done)(void));
/* Cron work: reap a finished BGSAVE child, start a scheduled one, check the
 * save points. */
void persistence_cron(void);
/* Save in the foreground now (keeping the dirty counter when keep_dirty:
 * FLUSHALL). 0 or -1 (logged). */
int persistence_save_now(bool keep_dirty);
/* FLUSHALL: kill a running BGSAVE, and save the empty dataset when save
 * points are configured (Redis's flushAllDataAndResetRDB). */
void persistence_after_flushall(void);
/* Shutdown: kill the child, save as flags (KL_SHUTDOWN_*) and the save
 * points say. 0: go on exiting; -1: the save failed and FORCE was not given
 * (the server keeps running). */
int persistence_prepare_shutdown(int flags);
/* DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: 0, or -1 with msg set. */
int persistence_debug_reload(bool save, bool flush, bool merge, const char **msg);
/* What replication adds to persistence (a lower layer never calls up, so
 * replication registers these): save_info fills the replication fields of
 * a save (Redis's rdbPopulateSaveInfo: repl-stream-db, repl-id,
 * repl-offset AUX fields), loaded gets the start-up load's info (a
 * restarted replica or master restores its replication ID and offset from
 * it). Either may be NULL. Thread: main, at start-up. */
typedef struct persistence_repl_hooks {
    void (*save_info)(snap_opts_t *o);
    void (*loaded)(const rdb_load_info_t *info);
    /* Every finished snapshot child: a BGSAVE, or the diskless sync child
     * when to_fds. */
    void (*child_done)(bool ok, bool to_fds);
} persistence_repl_hooks_t;
/* Registers the non-NULL hooks of h (the replica and master sides each
 * register theirs). */
void persistence_set_repl_hooks(const persistence_repl_hooks_t *h);
/* Load the RDB file at path into the (already flushed) keyspace in steps,
 * like the start-up load: g_srv.loading is set (-LOADING for clients, the
 * INFO loading fields) until done(arg, rc, info, err) runs from the main
 * loop: rc 0 with the file's info, or -1 with err saying why (the keys
 * loaded so far stay: the caller flushes them). replica: keys already
 * expired are kept (the master expires them). Returns 0, or -1 with err
 * filled when the file cannot be opened (done is not called). Thread:
 * executor. */
int persistence_load_file(const char *path, bool replica,
                          void (*done)(void *arg, int rc, const rdb_load_info_t *info,
                                       const char *err),
                          void *arg, char *err, size_t errlen);
/* The INFO persistence section. */
void persistence_info(kl_buf_t *b);

/* The options every snapshot of this server is written with. */
void persistence_fill_snap_opts(snap_opts_t *o);
/* BGSAVE to dbfilename for a replica's full sync (disk target). 0 or -1
 * (err). */
int persistence_bgsave_for_replication(char *err, size_t errlen);

#endif
