/* The append-only file in Redis 7.0's multi-part layout: a directory
 * (appenddirname) holding a manifest (<appendfilename>.manifest), one base
 * file (<appendfilename>.<seq>.base.rdb with an RDB preamble, or .base.aof)
 * and incremental files (<appendfilename>.<seq>.incr.aof) that receive the
 * commands written since the base was made. History files (type h) are what
 * a rewrite replaced, deleted afterwards.
 *
 * This module has the pure parts (the manifest, file names) and the writer
 * thread that owns the open incremental file: the executor hands it the
 * bytes of each loop turn (aof_writer_append), and it writes them, fsyncs as
 * appendfsync says (always: once per batch it takes, covering everything
 * handed over so far, then publishes the sequence number that is durable;
 * everysec: at most once a second; no: never), and switches files when told.
 * The executor never writes or fsyncs the AOF itself.
 *
 * Thread: executor, except where a function says otherwise. */
#ifndef KL_AOF_H
#define KL_AOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the manifest ---------------------------------------------------------------- */

enum { AOF_FILE_BASE = 'b', AOF_FILE_HIST = 'h', AOF_FILE_INCR = 'i' };

typedef struct aof_file {
    char *name;
    long long seq;
    char type; /* AOF_FILE_* */
} aof_file_t;

typedef struct aof_manifest {
    aof_file_t *base; /* NULL: none */
    aof_file_t *incr; /* in order */
    size_t nincr;
    aof_file_t *hist;
    size_t nhist;
    long long base_seq; /* highest sequence numbers used */
    long long incr_seq;
} aof_manifest_t;

/* Parse a manifest's text. 0, or -1 with err (Redis's wording). */
int aof_manifest_parse(aof_manifest_t *m, const char *text, size_t len, char *err, size_t errlen);
/* The manifest's text (kl_malloc'd, NUL-terminated). */
char *aof_manifest_format(const aof_manifest_t *m);
void aof_manifest_free(aof_manifest_t *m);
aof_manifest_t *aof_manifest_dup(const aof_manifest_t *m);
/* A new base name (seq = ++base_seq; the old base becomes history, put
 * first in the history as Redis does). */
const char *aof_manifest_new_base(aof_manifest_t *m, const char *prefix, bool rdb);
/* A new incremental file (seq = ++incr_seq), appended. */
const char *aof_manifest_new_incr(aof_manifest_t *m, const char *prefix);
/* After a rewrite: every incremental file but the last one becomes history
 * (in their order, in front of the older history, as Redis does). */
void aof_manifest_incrs_to_history(aof_manifest_t *m);

/* Write dir/name atomically (temp file, fsync, rename, fsync dir). 0 or -errno. */
int aof_write_file_atomic(const char *dir, const char *name, const char *text, size_t len);

/* ---- the writer thread --------------------------------------------------------------- */

enum { AOF_FSYNC_NO = 0, AOF_FSYNC_ALWAYS = 1, AOF_FSYNC_EVERYSEC = 2 };

/* Start the writer on fd (an incremental file opened O_APPEND; the writer
 * owns it from now on). done_cb(arg) is called on the writer thread after
 * every durable point it reaches (the executor wakes itself from there).
 * 0 or -errno. */
int aof_writer_start(int fd, int fsync_policy, void (*done_cb)(void *), void *arg);
/* Stop: write everything handed over, fsync (unless policy no), close the
 * file, join the thread. */
void aof_writer_stop(void);
bool aof_writer_running(void);
/* Hand over bytes; returns the sequence number of the last byte (the
 * running count of bytes handed over). */
uint64_t aof_writer_append(const char *p, size_t n);
/* aof_writer_append for a whole buffer (kl_malloc'd *p, *len bytes of
 * *cap): when nothing is pending the writer takes the buffer and hands its
 * spare one back in *p / *cap (no copy); *len becomes 0. */
uint64_t aof_writer_hand(char **p, size_t *len, size_t *cap);
/* Everything before this point goes to the current file, everything after
 * to fd (the writer closes the old file after an fsync). */
void aof_writer_switch(int fd);
/* Persist a manifest (aof_write_file_atomic(dir, name, text)) on the
 * writer thread, then unlink the given paths (history files). It runs after
 * every byte handed over before it was written to its file, and before a
 * file switch requested after it: a new incremental file is in the durable
 * manifest before its first byte. A later call before it ran replaces the
 * text and adds its paths. Takes text and paths (kl_malloc'd). */
uint64_t aof_writer_manifest(const char *dir, const char *name, char *text, char **unlink_paths,
                             size_t npaths);
/* The generation (aof_writer_manifest's return value) of the last manifest
 * job done. Thread: any. */
uint64_t aof_writer_manifest_done(void);
/* Change the fsync policy (CONFIG SET appendfsync). */
void aof_writer_set_policy(int fsync_policy);
/* Suspend / resume fsyncs (no-appendfsync-on-rewrite while a child runs). */
void aof_writer_fsync_pause(bool paused);
/* Sequence numbers: handed over, written to the file, made durable.
 * Thread: any. */
uint64_t aof_writer_seq_written(void);
uint64_t aof_writer_seq_synced(void);
/* Bytes written to the current file / since the writer started, and the
 * last write or fsync error (0 if none; INFO aof_last_write_status). */
uint64_t aof_writer_file_size(void);
int aof_writer_last_error(void);
/* Ask for an fsync now and wait until it is done (shutdown, DEBUG). */
void aof_writer_flush_sync(void);

#endif
