/* The server-administration commands of admin/ (CONFIG, CLIENT, DEBUG,
 * COMMAND, SLOWLOG, LATENCY, INFO, SHUTDOWN, MONITOR, MEMORY ...), which
 * main.c registers with the executor's command table (cmd.h). INFO's
 * generator is in info.h.
 *
 * Thread: main (registration) / executor. */
#ifndef KL_ADMIN_H
#define KL_ADMIN_H

#include "cmd.h"

#include <stdbool.h>

extern kl_command_t cmds_server[];
extern kl_command_t cmds_memory[];

/* MEMORY STATS's startup.allocated baseline (cmd_memory.c): call once every
 * start-up allocation is done, before the I/O layer and clients. Thread: main. */
void memory_note_startup(void);

/* SHUTDOWN and SIGTERM/SIGINT wait for lagging replicas (Redis 7.0's
 * shutdown-timeout): writes are paused, the replicas asked for an ACK, and
 * the shutdown goes on once they all acknowledged the whole stream or the
 * timeout passed. replication/ tells whether replicas lag, asks them for
 * ACKs and logs the laggards, through these hooks. Thread: executor. */
typedef struct admin_shutdown_hooks {
    bool (*lagging)(void);
    void (*request_acks)(void);
    void (*log_lagging)(void);
} admin_shutdown_hooks_t;
void admin_set_shutdown_hooks(const admin_shutdown_hooks_t *h);
/* A signal asked for a shutdown with flags (KL_SHUTDOWN_*): returns true
 * when it now waits for replicas (admin_shutdown_cron finishes it), false
 * to shut down at once. */
bool admin_shutdown_wait_signal(int flags);
/* From the cron: finish a waiting shutdown once the replicas caught up or
 * the time is up. */
void admin_shutdown_cron(void);

#endif
