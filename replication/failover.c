/* FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: Redis 7.0's
 * coordinated failover, master side.
 *
 * 1. waiting-for-sync: writes are paused (the pause of CLIENT PAUSE WRITE)
 *    and the replicas are asked for an ACK; we wait for the target (or any
 *    replica) to acknowledge our whole stream;
 * 2. failover-in-progress: we become a replica of it; our handshake sends
 *    "PSYNC <replid> <offset> FAILOVER", on which the target, whose replid is
 *    ours, promotes itself and accepts us as its replica (+CONTINUE);
 * 3. done: the pause ends. A timeout in step 1 aborts (or, with FORCE, goes
 *    on with the target anyway); a refused PSYNC or a timeout in step 2
 *    aborts and makes us a master again.
 *
 * Thread: executor. */
#include "repl_internal.h"

#include "client.h"
#include "cmd.h"
#include "config.h"
#include "exec.h"
#include "kl_log.h"
#include "master.h"
#include "replica.h"
#include "reply.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int g_failover_state = FAILOVER_NONE;

static struct {
    char host[256];
    int port; /* 0: any replica */
    bool force;
    int64_t end_ms; /* 0: no timeout */
} F;

static int64_t ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *failover_state_name(void) {
    switch (g_failover_state) {
    case FAILOVER_WAIT_FOR_SYNC:
        return "waiting-for-sync";
    case FAILOVER_IN_PROGRESS:
        return "failover-in-progress";
    default:
        return "no-failover";
    }
}

static void clear_state(void) {
    g_failover_state = FAILOVER_NONE;
    F.host[0] = '\0';
    F.port = 0;
    F.force = false;
    F.end_ms = 0;
    exec_unpause();
}

static void abort_failover(const char *why) {
    if (g_failover_state == FAILOVER_NONE) return;
    if (F.port)
        kl_notice("FAILOVER to %s:%d aborted: %s", F.host, F.port, why);
    else
        kl_notice("FAILOVER to any replica aborted: %s", why);
    if (g_failover_state == FAILOVER_IN_PROGRESS) {
        replica_clear_failover_psync();
        replica_unset_master();
    }
    clear_state();
}

void failover__psync_result(bool accepted) {
    if (g_failover_state != FAILOVER_IN_PROGRESS) return;
    if (accepted) {
        kl_notice("Failover target %s:%d accepted the PSYNC: failover complete", F.host, F.port);
        clear_state();
    } else {
        abort_failover("Failover target rejected psync request");
    }
}

/* Step 1 -> 2 once the chosen replica has everything. */
static void go(const char *host, int port) {
    if (host != F.host) snprintf(F.host, sizeof(F.host), "%s", host);
    F.port = port;
    kl_notice("Failover target %s:%d is synced, failing over.", F.host, port);
    g_failover_state = FAILOVER_IN_PROGRESS;
    char err[256];
    if (replica_set_master(F.host, port, err, sizeof(err)) != 0) {
        abort_failover(err);
        return;
    }
    replica_set_failover_psync(failover__psync_result);
}

void failover__cron(void) {
    if (g_failover_state == FAILOVER_NONE) return;
    bool timed_out = F.end_ms && ms_now() >= F.end_ms;
    if (g_failover_state == FAILOVER_IN_PROGRESS) {
        if (timed_out) abort_failover("Failover target never accepted the psync request");
        return;
    }
    char host[256];
    int port = 0;
    if (master__synced_replica(F.port ? F.host : NULL, F.port, host, sizeof(host), &port)) {
        go(host, port);
        return;
    }
    if (timed_out) {
        if (F.force && F.port) {
            go(F.host, F.port);
            return;
        }
        abort_failover("Replica never caught up before timeout");
    }
}

static void cmd_failover(client_t *c) {
    const char *host = NULL;
    long long port = 0, timeout = 0;
    bool force = false, abort = false, have_timeout = false;
    for (uint32_t j = 1; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "to") && j + 2 < c->argc && !host) {
            host = c->argv[j + 1].ptr;
            if (kl_str_to_ll(c->argv[j + 2].ptr, c->argv[j + 2].len, &port) != 0) {
                reply_not_integer(c);
                return;
            }
            j += 2;
        } else if (arg_is(&c->argv[j], "timeout") && j + 1 < c->argc && !have_timeout) {
            if (kl_str_to_ll(c->argv[j + 1].ptr, c->argv[j + 1].len, &timeout) != 0) {
                reply_not_integer(c);
                return;
            }
            if (timeout <= 0) {
                reply_error(c, "ERR FAILOVER timeout must be greater than 0");
                return;
            }
            have_timeout = true;
            j++;
        } else if (arg_is(&c->argv[j], "force") && !force) {
            force = true;
        } else if (arg_is(&c->argv[j], "abort") && !abort) {
            abort = true;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (abort) {
        if (host || force || have_timeout) {
            reply_syntax_error(c);
            return;
        }
        if (g_failover_state == FAILOVER_NONE) {
            reply_error(c, "ERR No failover in progress.");
            return;
        }
        abort_failover("Failover manually aborted");
        reply_ok(c);
        return;
    }
    if (g_failover_state != FAILOVER_NONE) {
        reply_error(c, "ERR FAILOVER already in progress.");
        return;
    }
    if (repl_is_replica()) {
        reply_error(c, "ERR FAILOVER is not valid when server is a replica.");
        return;
    }
    if (master_replica_count() == 0) {
        reply_error(c, "ERR FAILOVER requires connected replicas.");
        return;
    }
    if (force && (!have_timeout || !host)) {
        reply_error(c, "ERR FAILOVER with force option requires both a timeout and target HOST "
                       "and IP.");
        return;
    }
    if (host) {
        int st = master__replica_state(host, (int)port);
        if (st < 0) {
            reply_error(c, "ERR FAILOVER target HOST and PORT is not a replica.");
            return;
        }
        if (st == 0) {
            reply_error(c, "ERR FAILOVER target replica is not online.");
            return;
        }
        snprintf(F.host, sizeof(F.host), "%s", host);
        F.port = (int)port;
        kl_notice("FAILOVER requested to %s:%lld.", host, port);
    } else {
        kl_notice("FAILOVER requested to any replica.");
    }
    F.force = force;
    F.end_ms = have_timeout ? ms_now() + timeout : 0;
    /* Writes wait until the failover ends (Redis's PAUSE_DURING_FAILOVER). */
    exec_pause_until(INT64_MAX, false);
    g_failover_state = FAILOVER_WAIT_FOR_SYNC;
    master__request_acks();
    reply_ok(c);
}

static kl_command_t cmds_failover[] = {
    {
        .name = "failover",
        .proc = cmd_failover,
        .arity = -1,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_STALE,
        .group = "server",
        .since = "6.2.0",
        .summary = "Starts a coordinated failover from a server to one of its replicas.",
        .complexity = "O(1)",
        .acl_cats = "@admin @slow @dangerous",
    },
    {0},
};

void failover__init(void) {
    cmd_table_register(cmds_failover);
}
