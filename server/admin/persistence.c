/* Persistence policy and commands (persistence.h), following Redis 7.0's
 * rdb.c / server.c: saveCommand, bgsaveCommand, lastsaveCommand, the save
 * points of serverCron, loadDataFromDisk, prepareForShutdown, DEBUG RELOAD.
 *
 * Thread: executor (main). */
#include "persistence.h"

#include "aof_policy.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "iol.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "multi.h"
#include "rdb.h"
#include "reply.h"
#include "server.h"
#include "snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed BGSAVE, the save points
 * wait this long before trying again. */
#define BGSAVE_RETRY_DELAY 5

static bool bgsave_scheduled;
static uint64_t save_keys_total; /* keys at the fork of the running child */

/* Loading state (start-up). */
static rdb_loader_t *loader;
static iol_timer_t *load_timer;
static int64_t loading_start_ms;
static void (*loading_done_cb)(void);
static uint64_t last_load_keys_loaded, last_load_keys_expired;

static int64_t mstime(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Replication's part (persistence_set_repl_hooks). */
static persistence_repl_hooks_t repl_hooks;

/* A load other than start-up's (a replica's full sync): its callback. */
static void (*file_done)(void *arg, int rc, const rdb_load_info_t *info, const char *err);
static void *file_done_arg;
static iol_timer_t *file_timer;

static void fill_opts(snap_opts_t *o) {
    memset(o, 0, sizeof(*o));
    o->used_mem = (long long)kl_used_memory();
    if (repl_hooks.save_info) repl_hooks.save_info(o);
}

void persistence_fill_snap_opts(snap_opts_t *o) {
    fill_opts(o);
}

void persistence_set_repl_hooks(const persistence_repl_hooks_t *h) {
    if (h->save_info) repl_hooks.save_info = h->save_info;
    if (h->loaded) repl_hooks.loaded = h->loaded;
    if (h->child_done) repl_hooks.child_done = h->child_done;
}

static int load_flags(void) {
    int flags = RDB_LOAD_SKIP_EXPIRED;
    if (!g_cfg.rdbchecksum) flags |= RDB_LOAD_NO_CHECKSUM;
    if (g_cfg.sanitize_dump_payload == KL_CFG_YES) flags |= RDB_LOAD_DEEP;
    return flags;
}

/* ---------------------------------------------------------------- saving */

int persistence_save_now(bool keep_dirty) {
    if (snap_child_running()) {
        kl_warning("Background save already in progress");
        return -1;
    }
    snap_opts_t o;
    fill_opts(&o);
    char err[512];
    uint64_t dirty = g_srv.dirty;
    if (snap_save(&o, err, sizeof(err)) != 0) return -1;
    g_srv.dirty = keep_dirty ? dirty : 0;
    return 0;
}

static int bgsave_start(char *err, size_t errlen) {
    snap_opts_t o;
    fill_opts(&o);
    uint64_t total = 0;
    for (int i = 0; i < db_count(); i++)
        total += db_size(db_get(i));
    if (snap_bgsave(&o, g_srv.dirty, err, errlen) != 0) return -1;
    save_keys_total = total;
    return 0;
}

int persistence_bgsave_for_replication(char *err, size_t errlen) {
    return bgsave_start(err, errlen);
}

void persistence_after_flushall(void) {
    if (snap_child_running()) snap_kill_child();
    /* Redis 7.0.15's flushAllDataAndResetRDB lets rdbSave reset the dirty
     * counter (FLUSHALL is propagated by prop_force, not by the counter). */
    if (g_cfg.nsave > 0) persistence_save_now(false);
}

int persistence_prepare_shutdown(int flags) {
    if (snap_child_running()) {
        kl_warning("There is a child saving an .rdb. Killing it!");
        snap_kill_child();
    }
    aof_shutdown();
    bool save = (flags & KL_SHUTDOWN_SAVE) != 0, nosave = (flags & KL_SHUTDOWN_NOSAVE) != 0;
    if ((g_cfg.nsave > 0 && !nosave) || save) {
        kl_notice("Saving the final RDB snapshot before exiting.");
        if (persistence_save_now(false) != 0) {
            if (flags & KL_SHUTDOWN_FORCE) {
                kl_warning("Error trying to save the DB. Exit anyway.");
            } else {
                kl_warning("Error trying to save the DB, can't exit.");
                return -1;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- commands */

static void cmd_save(client_t *c) {
    if (snap_child_running()) {
        reply_error(c, "ERR Background save already in progress");
        return;
    }
    g_snap.rdb_saves++; /* as Redis's saveCommand: SAVE counts, the other saves do not */
    if (persistence_save_now(false) == 0)
        reply_ok(c);
    else
        reply_error(c, "ERR");
}

static void cmd_bgsave(client_t *c) {
    bool schedule = false;
    if (c->argc > 1) {
        if (c->argc == 2 && c->argv[1].len == 8 && !strncasecmp(c->argv[1].ptr, "schedule", 8)) {
            schedule = true;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (snap_child_running()) {
        reply_error(c, "ERR Background save already in progress");
    } else if (g_snap.other_child_pid != -1 || (c->flags & CF_DENY_BLOCKING)) {
        /* Another child (AOF rewrite), or inside EXEC (forking there would
         * save half a transaction). */
        if (schedule || (c->flags & CF_DENY_BLOCKING)) {
            bgsave_scheduled = true;
            reply_simple(c, "Background saving scheduled");
        } else {
            reply_error(c, "ERR Another child process is active (AOF?): can't BGSAVE right now. "
                           "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
        }
    } else {
        char err[512];
        if (bgsave_start(err, sizeof(err)) == 0)
            reply_simple(c, "Background saving started");
        else
            reply_error(c, "ERR");
    }
}

static void cmd_lastsave(client_t *c) {
    reply_int(c, g_snap.lastsave);
}

kl_command_t cmds_persistence[] = {
    {
        .name = "save",
        .proc = cmd_save,
        .arity = 1,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING | CMD_NO_MULTI,
        .group = "server",
        .since = "1.0.0",
        .summary = "Synchronously saves the database(s) to disk.",
        .complexity = "O(N) where N is the total number of keys in all databases",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "bgsave",
        .proc = cmd_bgsave,
        .arity = -1,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING,
        .group = "server",
        .since = "1.0.0",
        .summary = "Asynchronously saves the database(s) to disk.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {
        .name = "lastsave",
        .proc = cmd_lastsave,
        .arity = 1,
        .flags = CMD_LOADING | CMD_STALE | CMD_FAST,
        .group = "server",
        .since = "1.0.0",
        .summary = "Returns the Unix timestamp of the last successful save to disk.",
        .complexity = "O(1)",
        .acl_cats = "@admin @fast @dangerous",
    },
    {0},
};

/* ---------------------------------------------------------------- cron */

void persistence_cron(void) {
    int64_t now = mstime() / 1000;
    aof_cron();
    if (g_snap.other_child_pid != -1) return;
    if (snap_child_running()) {
        bool ok;
        uint64_t dirty_at_fork;
        int done = snap_poll(&ok, &dirty_at_fork);
        if (done == 1 && ok)
            g_srv.dirty = g_srv.dirty > dirty_at_fork ? g_srv.dirty - dirty_at_fork : 0;
        if (done && repl_hooks.child_done) repl_hooks.child_done(ok, done == 2);
        if (snap_child_running()) return;
    }
    bool may_retry = now - g_snap.lastbgsave_try > BGSAVE_RETRY_DELAY || g_snap.lastbgsave_ok;
    for (int i = 0; i < g_cfg.nsave && !snap_child_running(); i++) {
        if (g_srv.dirty >= (uint64_t)g_cfg.save_params[i].changes &&
            now - g_snap.lastsave > g_cfg.save_params[i].seconds && may_retry) {
            kl_notice("%llu changes in %lld seconds. Saving...", (unsigned long long)g_srv.dirty,
                      g_cfg.save_params[i].seconds);
            char err[512];
            bgsave_start(err, sizeof(err));
            break;
        }
    }
    if (!snap_child_running() && bgsave_scheduled && may_retry) {
        char err[512];
        if (bgsave_start(err, sizeof(err)) == 0) bgsave_scheduled = false;
    }
}

/* ---------------------------------------------------------------- loading */

static void loading_finish(void) {
    const rdb_load_info_t *in = rdb_loader_info(loader);
    last_load_keys_loaded = in->keys_loaded;
    last_load_keys_expired = in->keys_expired;
    kl_notice("Done loading RDB, keys loaded: %llu, keys expired: %llu.",
              (unsigned long long)in->keys_loaded, (unsigned long long)in->keys_expired);
    if (in->empty_keys_skipped)
        kl_warning("Done loading RDB, empty keys skipped: %llu.",
                   (unsigned long long)in->empty_keys_skipped);
    if (!file_done) {
        kl_notice("DB loaded from disk: %.3f seconds",
                  (double)(mstime() - loading_start_ms) / 1000.0);
        if (repl_hooks.loaded) repl_hooks.loaded(in);
    }
    rdb_loader_close(loader);
    loader = NULL;
    g_srv.loading = false;
    g_srv.dirty = 0;
}

static void loading_fatal(const rdb_err_t *err) {
    kl_warning("Fatal error loading the DB (%s, at offset %zu): %s. Exiting.", g_cfg.dbfilename,
               err->offset, err->msg);
    exit(1);
}

/* Load for about 20 ms, in steps of loading-process-events-interval-bytes;
 * between timer runs the loop serves clients (with -LOADING). */
static void load_timer_cb(iol_timer_t *t, void *arg) {
    (void)arg;
    int64_t until = mstime() + 20;
    kv_update_time();
    do {
        rdb_err_t err;
        int rc = rdb_loader_step(loader, (size_t)g_cfg.loading_process_events_interval_bytes, &err);
        if (rc < 0) loading_fatal(&err);
        if (rc == 0) {
            iol_timer_stop(t);
            loading_finish();
            if (loading_done_cb) loading_done_cb();
            return;
        }
    } while (mstime() < until);
}

/* persistence_load_file's steps: as load_timer_cb, but an error ends the
 * load (the caller decides) instead of the process. */
static void file_timer_cb(iol_timer_t *t, void *arg) {
    (void)arg;
    int64_t until = mstime() + 20;
    kv_update_time();
    do {
        rdb_err_t err;
        int rc = rdb_loader_step(loader, (size_t)g_cfg.loading_process_events_interval_bytes, &err);
        if (rc == 1) continue;
        iol_timer_stop(t);
        void (*done)(void *, int, const rdb_load_info_t *, const char *) = file_done;
        void *done_arg = file_done_arg;
        if (rc == 0) {
            rdb_load_info_t info = *rdb_loader_info(loader);
            loading_finish();
            file_done = NULL;
            done(done_arg, 0, &info, NULL);
        } else {
            char msg[320];
            snprintf(msg, sizeof(msg), "%s (at offset %zu)", err.msg, err.offset);
            rdb_load_info_t info = *rdb_loader_info(loader);
            rdb_loader_close(loader);
            loader = NULL;
            g_srv.loading = false;
            file_done = NULL;
            done(done_arg, -1, &info, msg);
        }
        return;
    } while (mstime() < until);
}

int persistence_load_file(const char *path, bool replica,
                          void (*done)(void *arg, int rc, const rdb_load_info_t *info,
                                       const char *err),
                          void *arg, char *err, size_t errlen) {
    if (loader || g_srv.loading) {
        snprintf(err, errlen, "a load is already in progress");
        return -1;
    }
    int flags = load_flags();
    if (replica) flags &= ~RDB_LOAD_SKIP_EXPIRED; /* the master expires them */
    rdb_err_t e;
    loader = rdb_loader_open_file(path, flags, &e);
    if (!loader) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    file_done = done;
    file_done_arg = arg;
    g_srv.loading = true;
    loading_start_ms = mstime();
    if (!file_timer) file_timer = iol_timer_new(file_timer_cb, NULL);
    iol_timer_start(file_timer, 0, 1);
    return 0;
}

/* Start-up with appendonly yes: the AOF directory instead of the RDB file. */
static void aof_timer_cb(iol_timer_t *t, void *arg) {
    (void)arg;
    int64_t until = mstime() + 20;
    kv_update_time();
    do {
        if (aof_load_step((size_t)g_cfg.loading_process_events_interval_bytes) == 0) {
            iol_timer_stop(t);
            aof_load_end();
            kl_notice("DB loaded from append only file: %.3f seconds",
                      (double)(mstime() - loading_start_ms) / 1000.0);
            g_srv.loading = false;
            g_srv.dirty = 0;
            if (loading_done_cb) loading_done_cb();
            return;
        }
    } while (mstime() < until);
}

void persistence_load_at_startup(void (*done)(void)) {
    g_snap.lastsave = mstime() / 1000;
    aof_register();
    if (aof_enabled_at_start()) {
        aof_load_begin();
        g_srv.loading = true;
        loading_start_ms = mstime();
        loading_done_cb = done;
        load_timer = iol_timer_new(aof_timer_cb, NULL);
        iol_timer_start(load_timer, 0, 1);
        return;
    }
    rdb_err_t err;
    loader = rdb_loader_open_file(g_cfg.dbfilename, load_flags(), &err);
    if (!loader) {
        if (errno != ENOENT) {
            kl_warning("Fatal error loading the DB (%s): %s. Exiting.", g_cfg.dbfilename, err.msg);
            exit(1);
        }
        if (done) done();
        return;
    }
    g_srv.loading = true;
    loading_start_ms = mstime();
    loading_done_cb = done;
    load_timer = iol_timer_new(load_timer_cb, NULL);
    iol_timer_start(load_timer, 0, 1);
}

int persistence_debug_reload(bool save, bool flush, bool merge, const char **msg) {
    if (save && persistence_save_now(false) != 0) {
        *msg = "ERR";
        return -1;
    }
    if (flush) {
        for (int i = 0; i < db_count(); i++)
            multi_touch_db(db_get(i), NULL);
        db_flush_all();
    }
    rdb_err_t err;
    int flags = load_flags() | (merge ? RDB_LOAD_ALLOW_DUP : 0);
    rdb_loader_t *l = rdb_loader_open_file(g_cfg.dbfilename, flags, &err);
    int rc = l ? 0 : -1;
    g_srv.loading = true;
    while (rc == 0 && (rc = rdb_loader_step(l, SIZE_MAX / 2, &err)) == 1) {}
    g_srv.loading = false;
    if (l) {
        last_load_keys_loaded = rdb_loader_info(l)->keys_loaded;
        last_load_keys_expired = rdb_loader_info(l)->keys_expired;
        rdb_loader_close(l);
    }
    if (rc != 0) {
        kl_warning("Error loading the RDB dump (%s, at offset %zu): %s", g_cfg.dbfilename,
                   err.offset, err.msg);
        *msg = "ERR Error trying to load the RDB dump, check server logs.";
        return -1;
    }
    kl_warning("DB reloaded by DEBUG RELOAD");
    return 0;
}

/* ---------------------------------------------------------------- INFO */

void persistence_info(kl_buf_t *b) {
    int64_t now = mstime();
    bool child = snap_child_running();
    uint64_t processed = g_snap.child_keys;
    kl_buf_appendf(
        b,
        "# Persistence\r\n"
        "loading:%d\r\n"
        "async_loading:0\r\n"
        "current_cow_peak:%llu\r\n"
        "current_cow_size:%llu\r\n"
        "current_cow_size_age:%lld\r\n"
        "current_fork_perc:%.2f\r\n"
        "current_save_keys_processed:%llu\r\n"
        "current_save_keys_total:%llu\r\n"
        "rdb_changes_since_last_save:%llu\r\n"
        "rdb_bgsave_in_progress:%d\r\n"
        "rdb_last_save_time:%lld\r\n"
        "rdb_last_bgsave_status:%s\r\n"
        "rdb_last_bgsave_time_sec:%lld\r\n"
        "rdb_current_bgsave_time_sec:%lld\r\n"
        "rdb_saves:%llu\r\n"
        "rdb_last_cow_size:%llu\r\n"
        "rdb_last_load_keys_expired:%llu\r\n"
        "rdb_last_load_keys_loaded:%llu\r\n",
        g_srv.loading ? 1 : 0, (unsigned long long)(child ? g_snap.cur_cow_peak : 0),
        (unsigned long long)(child ? g_snap.cur_cow : 0),
        child && g_snap.cur_cow_at_ms ? (long long)((now - g_snap.cur_cow_at_ms) / 1000) : 0LL,
        child && save_keys_total ? 100.0 * (double)processed / (double)save_keys_total : 0.0,
        (unsigned long long)(child ? processed : 0),
        (unsigned long long)(child ? save_keys_total : 0), (unsigned long long)g_srv.dirty,
        child ? 1 : 0, (long long)g_snap.lastsave, g_snap.lastbgsave_ok ? "ok" : "err",
        g_snap.last_bgsave_secs, child ? (long long)((now - g_snap.child_start_ms) / 1000) : -1LL,
        (unsigned long long)g_snap.rdb_saves, (unsigned long long)g_snap.last_cow_size,
        (unsigned long long)last_load_keys_expired, (unsigned long long)last_load_keys_loaded);
    aof_info(b);
    kl_buf_append_str(b, "module_fork_in_progress:0\r\n"
                         "module_fork_last_cow_size:0\r\n");
    aof_info_tail(b);
    if (loader) {
        size_t total = rdb_loader_size(loader), done = rdb_loader_pos(loader);
        double perc = total ? 100.0 * (double)done / (double)total : 0.0;
        double elapsed = (double)(now - loading_start_ms) / 1000.0;
        long long eta =
            done && total > done ? (long long)(elapsed * (double)(total - done) / (double)done) : 1;
        kl_buf_appendf(b,
                       "loading_start_time:%lld\r\n"
                       "loading_total_bytes:%zu\r\n"
                       "loading_rdb_used_mem:%lld\r\n"
                       "loading_loaded_bytes:%zu\r\n"
                       "loading_loaded_perc:%.2f\r\n"
                       "loading_eta_seconds:%lld\r\n",
                       (long long)(loading_start_ms / 1000), total,
                       rdb_loader_info(loader)->used_mem, done, perc, eta);
    }
}
