/* maxmemory as the executor applies it: the OOM check before each command,
 * the timer that keeps evicting between client batches when one eviction
 * round ran out of time, the cron's check, and the over-maxmemory periods
 * INFO reports (total/current_eviction_exceeded_time). The choice of victims
 * is kv/evict.c's.
 *
 * Thread: executor (every function here). */
#include "exec.h"

#include "cmd.h"
#include "config.h"
#include "evict.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "multi.h"
#include "reply.h"
#include "server.h"

#define OOM_TEXT "OOM command not allowed when used memory > 'maxmemory'."

static iol_timer_t *evict_timer;

/* Redis opens a period when an eviction attempt ends still over the limit and
 * closes it at the first attempt that finds memory under it. */
void exec_note_eviction(bool exceeded) {
    kl_stats_t *s = &g_srv.stat;
    if (exceeded) {
        if (s->evict_exceeded_since_us == 0) s->evict_exceeded_since_us = kl_ustime();
    } else if (s->evict_exceeded_since_us != 0) {
        s->evict_exceeded_total_us += (uint64_t)(kl_ustime() - s->evict_exceeded_since_us);
        s->evict_exceeded_since_us = 0;
    }
}

static void evict_timer_cb(iol_timer_t *t, void *arg) {
    if (exec_evict() != EVICT_RUNNING) iol_timer_stop(t);
}

int exec_evict(void) {
    /* Keys must not change while clients are paused (a failover or a
     * consistent snapshot may be waiting on that). */
    if (g_srv.paused) return EVICT_OK;
    int r = evict_perform();
    bool running = evict_timer && iol_timer_active(evict_timer);
    if (r == EVICT_RUNNING && !running) {
        if (!evict_timer) evict_timer = iol_timer_new(evict_timer_cb, NULL);
        /* Every loop turn until done: between client batches. */
        if (evict_timer) iol_timer_start(evict_timer, 0, 1);
    }
    exec_note_eviction(r != EVICT_OK);
    return r;
}

bool exec__oom_rejected(client_t *c, kl_command_t *cmd) {
    if (exec_evict() != EVICT_FAIL) return false;
    bool exec = multi_is_exec(cmd);
    /* EXEC counts as a write that may grow memory when it would run one. */
    bool reject =
        (cmd->flags & CMD_DENYOOM) != 0 || (exec && (multi_queued_flags(c) & CMD_DENYOOM) != 0);
    /* Inside MULTI every queued command would grow memory: refuse all but
     * the ones that end the transaction. */
    if ((c->flags & CF_MULTI) && !(cmd->xflags & CMDX_TXN_END)) reject = true;
    if (!reject) return false;
    cmd->rejected_calls++;
    g_srv.stat.rejected_calls++;
    multi_flag_error(c); /* inside MULTI: EXEC will abort */
    if (exec && (c->flags & CF_MULTI))
        multi_exec_rejected(c, OOM_TEXT);
    else
        reply_error(c, OOM_TEXT);
    return true;
}

void exec_evict_cron(void) {
    if (!g_cfg.maxmemory) {
        exec_note_eviction(false);
        return;
    }
    if ((evict_timer && iol_timer_active(evict_timer)) || g_srv.paused) return;
    if (g_cfg.maxmemory_policy == KL_MAXMEMORY_NOEVICTION) return;
    if (kl_used_memory() > g_cfg.maxmemory) exec_evict();
}

void exec_oom_free(void) {
    iol_timer_free(evict_timer);
    evict_timer = NULL;
}
