/* The append-only file's policy on top of persist/aof.h: loading the AOF
 * directory at start-up (or upgrading a Redis 6 appendonly.aof), feeding the
 * propagated stream to the writer thread once per loop turn, holding replies
 * for appendfsync always, BGREWRITEAOF and automatic rewrites (a forked
 * child writes the new base; the fork rules of persist/snapshot.h),
 * CONFIG SET appendonly yes/no at run time, DEBUG LOADAOF, INFO.
 *
 * Thread: executor (main). */
#ifndef KL_AOF_POLICY_H
#define KL_AOF_POLICY_H

#include "cmd.h"
#include "kl_util.h"

#include <stdbool.h>
#include <stddef.h>

extern kl_command_t cmds_aof[];

/* Register the CONFIG SET hooks (appendonly, appendfsync). Thread: main. */
void aof_register(void);
/* Start-up with appendonly yes: aof_load_begin, then aof_load_step until it
 * returns 0, then aof_load_end (which opens the files and starts writing). */
bool aof_enabled_at_start(void);
void aof_load_begin(void);
int aof_load_step(size_t budget);
void aof_load_end(void);
/* Cron: reap the rewrite child, start scheduled or automatic rewrites. */
void aof_cron(void);
bool aof_child_running(void);
/* Shutdown: kill a rewrite child, write and fsync what is buffered. */
void aof_shutdown(void);
/* A replica's full sync (Redis's stopAppendOnly / restartAOFAfterSYNC):
 * the AOF stops before the old data is flushed, and with appendonly yes it
 * starts again from a rewrite of the loaded dataset. */
void aof_stop_for_sync(void);
void aof_restart_after_sync(void);
/* DEBUG LOADAOF: flush, empty the dataset, load the AOF again. */
int aof_debug_loadaof(void);
/* INFO persistence: the aof_* fields, and the ones shown while it is on. */
void aof_info(kl_buf_t *b);
void aof_info_tail(kl_buf_t *b);

#endif
