/* Process-wide executor state: statistics and run-time flags that
 * several modules report (INFO) or consult. Not a god header: modules include
 * this only when they read or bump these fields. The cached clock and the
 * keyspace's own counters live in kv.h (g_kv), which this header includes.
 *
 * Thread: executor, except where a field says otherwise. */
#ifndef KL_SERVER_H
#define KL_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kv.h"

typedef struct kl_stats {
    uint64_t numcommands, numconnections, rejected_conn;
    uint64_t unexpected_error_replies, total_error_replies;
    uint64_t rejected_calls, failed_calls;
    uint64_t io_reads_processed, io_writes_processed;
    uint64_t dump_payload_sanitizations;                   /* RESTOREs checked deeply */
    uint64_t sync_full, sync_partial_ok, sync_partial_err; /* replicas' syncs (replication/) */
    /* Time spent in active expiry cycles, and over maxmemory (closed periods,
     * and the start of the open one or 0): INFO stats. */
    uint64_t expire_cycle_us, evict_exceeded_total_us;
    int64_t evict_exceeded_since_us;
    int64_t reset_time_ms;
} kl_stats_t;

typedef struct kl_server {
    pid_t pid;
    char runid[41];
    int64_t start_ms;
    uint64_t next_client_id;
    uint64_t dirty;
    kl_stats_t stat;
    uint64_t cronloops;
    int shutdown_asap; /* set by SIGTERM/SIGINT/SHUTDOWN: stop after this loop turn */
    int shutdown_exit_code;
    /* CLIENT PAUSE */
    int64_t pause_end_ms;
    int pause_all; /* 1: ALL, 0: WRITE */
    bool paused;
    char *executable;
    char *config_file;
    uint64_t max_clients_reached_since_reset;
    int tcp_port, tls_port; /* bound ports (for INFO) */
    /* INFO process_supervised: "no", "upstart" or "systemd" (set by main.c
     * from supervise.c at start-up). */
    const char *supervised_name;
    /* While a dataset loads (start-up, DEBUG RELOAD runs in one go),
     * commands without CMD_LOADING get -LOADING (set by admin/persistence.c). */
    bool loading;
    /* Set by replication/ (the executor never asks it): we are a replica
     * (REPLICAOF host port in effect), and its link to the master is up and
     * streaming. They drive -READONLY (replica-read-only) and -MASTERDOWN
     * (replica-serve-stale-data no) in the pre-command checks. */
    bool replica;
    bool master_link_up;
    /* Set by SHUTDOWN once it saved (or was told not to): the exit path does
     * not save again. */
    bool shutdown_saved;
    int shutdown_flags; /* KL_SHUTDOWN_* of a signal's shutdown */
} kl_server_t;

extern kl_server_t g_srv;

#endif
