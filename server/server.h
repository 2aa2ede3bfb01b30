/* Process-wide executor state: statistics, clocks and run-time flags that
 * several modules report (INFO) or consult. Not a god header: modules include
 * this only when they read or bump these fields.
 *
 * Thread: executor, except where a field says otherwise. */
#ifndef KL_SERVER_H
#define KL_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

typedef struct kl_stats {
    uint64_t numcommands, numconnections, rejected_conn;
    uint64_t expiredkeys, evictedkeys, keyspace_hits, keyspace_misses;
    uint64_t expired_time_cap_reached_count;
    uint64_t unexpected_error_replies, total_error_replies;
    uint64_t rejected_calls, failed_calls;
    uint64_t io_reads_processed, io_writes_processed;
    double expired_stale_perc;
    int64_t reset_time_ms;
} kl_stats_t;

typedef struct kl_server {
    uv_loop_t *loop;
    pid_t pid;
    char runid[41];
    int64_t start_ms;
    int64_t mstime; /* cached at the start of every command */
    int64_t ustime;
    uint32_t lruclock; /* seconds, 24 bits, refreshed by the cron */
    uint64_t next_client_id;
    uint64_t dirty;
    kl_stats_t stat;
    uint64_t cronloops;
    int active_expire_enabled;
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
} kl_server_t;

extern kl_server_t g_srv;

static inline int64_t srv_mstime(void) {
    return g_srv.mstime;
}
void srv_update_time(void);

#endif
