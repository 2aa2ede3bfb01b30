/* The executor: the single thread that owns the keyspace and runs every
 * command, fed by the I/O threads (ioloop). This header is what main.c and
 * the client/server commands need from it.
 *
 * Thread: executor. */
#ifndef KL_EXEC_H
#define KL_EXEC_H

#include "client.h"
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register the executor's reactions to keyspace events (kv.h's hooks:
 * WATCH, blocked clients, notifications). Thread: main, at start-up. */
void exec_register_kv_hooks(void);
/* The hooks ioloop calls (see iol.h). */
const iol_hooks_t *exec_hooks(void);
/* Close a client: after its pending replies (after_reply) or at once. */
void exec_client_kill(client_t *c, bool after_reply);
/* CLIENT PAUSE support: park/resume clients whose next command must wait. */
void exec_pause_until(int64_t end_ms, bool all);
void exec_unpause(void);
bool exec_paused_clients(void);
/* Out-of-band delivery (pub/sub, MONITOR) that keeps reply order. */
void exec_client_push(client_t *c, iol_reply_t *r);
/* The same for n bytes at p (copied, no allocation per push). */
void exec_client_push_bytes(client_t *c, const char *p, size_t n);
/* MONITOR */
void exec_monitor_add(client_t *c);
void exec_monitor_remove(client_t *c);
/* Timers the cron calls. */
void exec_clients_cron(void);
/* Number of clients waiting because of CLIENT PAUSE. */
size_t exec_parked_count(void);
/* Blocking commands (called by blocking.c). Re-run c's blocked command (the
 * one its parked batch stopped at) through the call path: it either replies
 * or calls block_for_keys() again. */
void exec_blocked_rerun(client_t *c);
/* c's blocked command ended without a re-run (timeout, CLIENT UNBLOCK) after
 * its reply was written: account for it (failed: the reply was an error). */
void exec_blocked_done(client_t *c, bool failed);
/* c's blocked command has its reply: run the rest of its batch, then hand it
 * back to its I/O thread (or park it again). */
void exec_client_resume(client_t *c);
void exec_free_all(void);

/* maxmemory (oom.c). exec_evict: evict as kv/evict.c's policy says unless
 * clients are paused, keep a timer evicting between batches when the time
 * limit ran out, and track the over-maxmemory periods; returns an enum
 * evict_result. exec_oom_rejected: the check before a command - evicts as
 * needed and, when the command may not run while out of memory, replies the
 * -OOM error, counts the rejection and returns true. */
struct kl_command;
int exec_evict(void);
bool exec__oom_rejected(client_t *c, struct kl_command *cmd);
static inline bool exec_oom_rejected(client_t *c, struct kl_command *cmd) {
    return g_cfg.maxmemory != 0 && exec__oom_rejected(c, cmd);
}
/* From the cron: start evicting when memory is over the limit without any
 * command arriving (CONFIG SET maxmemory lowered it, I/O buffers grew). */
void exec_evict_cron(void);
void exec_note_eviction(bool exceeded);
void exec_oom_free(void);

/* Sampled statistics (stats.c): the cron samples, INFO and MEMORY read.
 * exec_stats_cron: ops/sec and network rates every ~100 ms, memory peak.
 * exec_stats_net_totals: bytes in/out over every I/O thread since the last
 * CONFIG RESETSTAT. exec_stats_note_memory: fold a fresh used-memory reading
 * into the peak. */
void exec_stats_cron(void);
uint64_t exec_stats_ops_per_sec(void);
double exec_stats_input_kbps(void);
double exec_stats_output_kbps(void);
void exec_stats_net_totals(uint64_t *in, uint64_t *out);
void exec_stats_note_memory(size_t used);
size_t exec_stats_peak_memory(void);

/* The reply gate (appendfsync always): at the end of every batch the
 * executor asks gate() for a ticket; a non-zero ticket keeps the client
 * held (its replies unsent, its next batch not run) until
 * exec_gate_release(done) with done >= ticket. Thread: executor. */
void exec_set_reply_gate(uint64_t (*gate)(void));
void exec_gate_release(uint64_t done);
/* Release every gated client (the AOF was turned off). */
void exec_gate_release_all(void);

/* Hooks for the layers above (replication). The write check runs for
 * every write command (not the master's) after the MISCONF check and
 * returns the error to reply (without the "-"), or NULL to let it run
 * (Redis's NOREPLICAS check). The closed hook sees each connected client
 * once, when it goes away, before the executor forgets it. Thread:
 * executor, at start-up. */
void exec_set_write_check(const char *(*check)(client_t *c));
void exec_set_closed_hook(void (*fn)(client_t *c));
/* After each top-level command, c->woff takes *offset (the replication
 * offset: WAIT waits for what the client's commands produced). */
void exec_set_woff_source(const long long *offset);
/* A replica's RDB payload was sent (0) or failed (ioloop/iol_repl.h). */
void exec_set_repl_payload_hook(void (*fn)(client_t *c, int status));

/* Internal clients (the AOF loader): no connection, not in the client
 * list, never blocking. exec_internal_run runs every command of b (replies
 * are discarded). Thread: executor. */
client_t *exec_internal_client_new(uint32_t flags);
int exec_internal_run(client_t *c, resp_batch_t *b);
void exec_internal_client_free(client_t *c);
/* The master link's client is internal (not in the client registry):
 * replication registers how CLIENT KILL TYPE master reaches it. kill drops
 * the link (the master is then cached for a PSYNC) and returns whether
 * there was one. Thread: main at start-up / executor. */
void exec_set_master_killer(bool (*kill)(void));
bool exec_kill_master(void);
/* exec_internal_run, calling after(arg, c, i) once command i of b has been
 * handled (run, queued inside MULTI, or rejected): a replica advances its
 * offset command by command. Thread: executor. */
int exec_internal_run_each(client_t *c, resp_batch_t *b,
                           void (*after)(void *arg, client_t *c, uint32_t i), void *arg);

#endif
