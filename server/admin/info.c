/* INFO: the sections Redis clients and tools read, plus keyloom's threads. */
#include "info.h"

#include "client.h"
#include "blocking.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "evict.h"
#include "exec.h"
#include "iol.h"
#include "kl_alloc.h"
#include "lazyfree.h"
#include "pubsub.h"
#include "kl_util.h"
#include "kl_git.h"
#include "kl_version.h"
#include "reply.h"
#include "server.h"
#include "persistence.h"
#include "snapshot.h"
#include "tls.h"
#include "slowlog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const char *maxmemory_policy_name(void) {
    static char buf[32];
    char *v = config_get_value("maxmemory-policy");
    snprintf(buf, sizeof(buf), "%s", v ? v : "noeviction");
    kl_free(v);
    return buf;
}

static void human_bytes(char *buf, size_t len, double n) {
    if (n < 1024)
        snprintf(buf, len, "%.0fB", n);
    else if (n < 1024.0 * 1024)
        snprintf(buf, len, "%.2fK", n / 1024);
    else if (n < 1024.0 * 1024 * 1024)
        snprintf(buf, len, "%.2fM", n / (1024.0 * 1024));
    else if (n < 1024.0 * 1024 * 1024 * 1024)
        snprintf(buf, len, "%.2fG", n / (1024.0 * 1024 * 1024));
    else
        snprintf(buf, len, "%.2fT", n / (1024.0 * 1024 * 1024 * 1024));
}

/* CPU time of one thread, from /proc/self/task/TID/stat (utime, stime). */
static void thread_cpu(long tid, double *user, double *sys) {
    *user = *sys = 0;
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return;
    unsigned long ut = 0, st = 0;
    /* Fields after the command name: state(3) ... utime(14) stime(15). */
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == 14) ut = strtoul(tok, NULL, 10);
        if (field == 15) {
            st = strtoul(tok, NULL, 10);
            break;
        }
    }
    double hz = (double)sysconf(_SC_CLK_TCK);
    *user = (double)ut / hz;
    *sys = (double)st / hz;
}

static void section_server(kl_buf_t *b) {
    struct utsname un;
    uname(&un);
    int64_t now_us = kl_ustime();
    long long uptime = (g_kv.mstime ? kl_mstime() : 0) / 1000 - g_srv.start_ms / 1000;
    kl_buf_appendf(b,
                   "# Server\r\n"
                   "redis_version:%s\r\n"
                   "keyloom_version:%s\r\n"
                   "redis_git_sha1:%s\r\n"
                   "redis_git_dirty:0\r\n"
                   "redis_build_id:%s\r\n"
                   "redis_mode:standalone\r\n"
                   "os:%s %s %s\r\n"
                   "arch_bits:%d\r\n"
                   "monotonic_clock:POSIX clock_gettime\r\n"
                   "multiplexing_api:epoll\r\n"
                   "atomicvar_api:c11-builtin\r\n"
                   "gcc_version:%d.%d.%d\r\n"
                   "process_id:%d\r\n"
                   "process_supervised:%s\r\n"
                   "run_id:%s\r\n"
                   "tcp_port:%d\r\n"
                   "server_time_usec:%lld\r\n"
                   "uptime_in_seconds:%lld\r\n"
                   "uptime_in_days:%lld\r\n"
                   "hz:%d\r\n"
                   "configured_hz:%d\r\n"
                   "lru_clock:%u\r\n"
                   "executable:%s\r\n"
                   "config_file:%s\r\n"
                   "io_threads_active:%d\r\n",
                   KEYLOOM_REDIS_VERSION, KEYLOOM_VERSION, KEYLOOM_GIT_SHA1, KEYLOOM_GIT_SHA1,
                   un.sysname, un.release, un.machine, (int)(sizeof(long) * 8),
#ifdef __GNUC__
                   __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
                   0, 0, 0,
#endif
                   (int)g_srv.pid, g_srv.supervised_name, g_srv.runid,
                   g_srv.tcp_port ? g_srv.tcp_port : g_srv.tls_port, (long long)now_us, uptime,
                   uptime / 86400, g_cfg.hz, g_cfg.hz, g_kv.lruclock,
                   g_srv.executable ? g_srv.executable : "",
                   g_srv.config_file ? g_srv.config_file : "", iol_threaded() ? 1 : 0);
}

static void section_clients(kl_buf_t *b) {
    kl_buf_appendf(b,
                   "# Clients\r\n"
                   "connected_clients:%zu\r\n"
                   "cluster_connections:0\r\n"
                   "maxclients:%d\r\n"
                   "client_recent_max_input_buffer:0\r\n"
                   "client_recent_max_output_buffer:0\r\n"
                   "blocked_clients:%zu\r\n"
                   "tracking_clients:0\r\n"
                   "clients_in_timeout_table:%zu\r\n"
                   "paused_clients:%zu\r\n",
                   /* Redis 7.0 counts clients held by CLIENT PAUSE as blocked too. */
                   clients_count(), g_cfg.maxclients, block_blocked_clients() + exec_parked_count(),
                   block_timeout_clients(), exec_parked_count());
}

/* The replication section comes from replication/, above this layer,
 * through info_set_replication (a master with no replicas until then). */
static void (*repl_section)(kl_buf_t *b);
static info_repl_mem_fn repl_mem;

/* Redis 7.0's memory section. The overhead, dataset, fragmentation and
 * client figures are MEMORY STATS's (memory_overhead_compute); the
 * replication buffers are replication/'s. keyloom has no Lua, functions,
 * cluster or active defrag, so those fields are 0 (Redis prints about 32K
 * for the idle Lua VM it always creates; keyloom has none). */
static void section_memory(kl_buf_t *b) {
    size_t backlog_mem = 0, total_repl_mem = 0;
    if (repl_mem) repl_mem(&backlog_mem, &total_repl_mem);
    kl_mem_overhead_t mh;
    memory_overhead_compute(&mh);
    exec_stats_note_memory(mh.total_allocated);
    size_t peak_memory = exec_stats_peak_memory();
    char h1[32], h2[32], h3[32], h4[32], h5[32], h0[32];
    human_bytes(h1, sizeof(h1), (double)mh.total_allocated);
    human_bytes(h2, sizeof(h2), (double)mh.rss);
    human_bytes(h3, sizeof(h3), (double)peak_memory);
    long pages = sysconf(_SC_PHYS_PAGES);
    double total = (double)pages * (double)sysconf(_SC_PAGESIZE);
    human_bytes(h4, sizeof(h4), total);
    human_bytes(h5, sizeof(h5), (double)g_cfg.maxmemory);
    human_bytes(h0, sizeof(h0), 0);
    kl_buf_appendf(b,
                   "# Memory\r\n"
                   "used_memory:%zu\r\n"
                   "used_memory_human:%s\r\n"
                   "used_memory_rss:%zu\r\n"
                   "used_memory_rss_human:%s\r\n"
                   "used_memory_peak:%llu\r\n"
                   "used_memory_peak_human:%s\r\n"
                   "used_memory_peak_perc:%.2f%%\r\n"
                   "used_memory_overhead:%zu\r\n"
                   "used_memory_startup:%zu\r\n"
                   "used_memory_dataset:%zu\r\n"
                   "used_memory_dataset_perc:%.2f%%\r\n"
                   "allocator_allocated:%zu\r\n"
                   "allocator_active:%zu\r\n"
                   "allocator_resident:%zu\r\n"
                   "total_system_memory:%.0f\r\n"
                   "total_system_memory_human:%s\r\n",
                   mh.total_allocated, h1, mh.rss, h2, (unsigned long long)peak_memory, h3,
                   peak_memory ? (double)mh.total_allocated * 100.0 / (double)peak_memory : 0.0,
                   mh.overhead_total, mh.startup_allocated, mh.dataset, (double)mh.dataset_perc,
                   mh.allocator_allocated, mh.allocator_active, mh.allocator_resident, total, h4);
    kl_buf_appendf(b,
                   "used_memory_lua:0\r\n"
                   "used_memory_vm_eval:0\r\n"
                   "used_memory_lua_human:%s\r\n"
                   "used_memory_scripts_eval:0\r\n"
                   "number_of_cached_scripts:0\r\n"
                   "number_of_functions:0\r\n"
                   "number_of_libraries:0\r\n"
                   "used_memory_vm_functions:0\r\n"
                   "used_memory_vm_total:0\r\n"
                   "used_memory_vm_total_human:%s\r\n"
                   "used_memory_functions:0\r\n"
                   "used_memory_scripts:0\r\n"
                   "used_memory_scripts_human:%s\r\n"
                   "maxmemory:%llu\r\n"
                   "maxmemory_human:%s\r\n"
                   "maxmemory_policy:%s\r\n",
                   h0, h0, h0, (unsigned long long)g_cfg.maxmemory, h5, maxmemory_policy_name());
    kl_buf_appendf(b,
                   "allocator_frag_ratio:%.2f\r\n"
                   "allocator_frag_bytes:%lld\r\n"
                   "allocator_rss_ratio:%.2f\r\n"
                   "allocator_rss_bytes:%lld\r\n"
                   "rss_overhead_ratio:%.2f\r\n"
                   "rss_overhead_bytes:%lld\r\n"
                   "mem_fragmentation_ratio:%.2f\r\n"
                   "mem_fragmentation_bytes:%lld\r\n"
                   "mem_not_counted_for_evict:%llu\r\n"
                   "mem_replication_backlog:%zu\r\n"
                   "mem_total_replication_buffers:%zu\r\n"
                   "mem_clients_slaves:%zu\r\n"
                   "mem_clients_normal:%zu\r\n"
                   "mem_cluster_links:0\r\n"
                   "mem_aof_buffer:0\r\n"
                   "mem_allocator:%s\r\n"
                   "active_defrag_running:0\r\n",
                   (double)mh.allocator_frag, mh.allocator_frag_bytes, (double)mh.allocator_rss,
                   mh.allocator_rss_bytes, (double)mh.rss_extra, mh.rss_extra_bytes,
                   (double)mh.total_frag, mh.total_frag_bytes, evict_mem_not_counted(), backlog_mem,
                   total_repl_mem, mh.clients_slaves, mh.clients_normal, kl_allocator_name());
    kl_buf_appendf(b,
                   "lazyfree_pending_objects:%zu\r\n"
                   "lazyfreed_objects:%zu\r\n",
                   lazyfree_pending(), lazyfree_freed());
    memory_overhead_free(&mh);
}

static void section_persistence(kl_buf_t *b) {
    persistence_info(b);
}

static void section_stats(kl_buf_t *b) {
    uint64_t in = 0, out = 0, reads = 0, writes = 0, obuf_kills = 0, qbuf_kills = 0;
    uint64_t repl_out = 0;
    for (int i = 0; i <= iol_nthreads(); i++) {
        iol_thread_stats_t ts;
        iol_thread_stats(i, &ts);
        repl_out += ts.repl_bytes_out;
        obuf_kills += ts.obuf_disconnects;
        qbuf_kills += ts.qbuf_disconnects;
        in += ts.bytes_in;
        out += ts.bytes_out;
        reads += ts.reads;
        writes += ts.writes;
    }
    /* No eviction attempt runs once maxmemory is 0: that ends a period too. */
    if (!g_cfg.maxmemory) exec_note_eviction(false);
    const kl_stats_t *s = &g_srv.stat;
    const kv_stats_t *ks = &g_kv.stat;
    uint64_t evict_cur_us =
        s->evict_exceeded_since_us ? (uint64_t)(kl_ustime() - s->evict_exceeded_since_us) : 0;
    kl_buf_appendf(
        b,
        "# Stats\r\n"
        "total_connections_received:%llu\r\n"
        "total_commands_processed:%llu\r\n"
        "instantaneous_ops_per_sec:%llu\r\n"
        "total_net_input_bytes:%llu\r\n"
        "total_net_output_bytes:%llu\r\n"
        "total_net_repl_input_bytes:0\r\n"
        "total_net_repl_output_bytes:%llu\r\n"
        "instantaneous_input_kbps:%.2f\r\n"
        "instantaneous_output_kbps:%.2f\r\n"
        "instantaneous_input_repl_kbps:0.00\r\n"
        "instantaneous_output_repl_kbps:0.00\r\n"
        "rejected_connections:%llu\r\n"
        "sync_full:%llu\r\n"
        "sync_partial_ok:%llu\r\n"
        "sync_partial_err:%llu\r\n"
        "expired_keys:%llu\r\n"
        "expired_stale_perc:%.2f\r\n"
        "expired_time_cap_reached_count:%llu\r\n"
        "expire_cycle_cpu_milliseconds:%llu\r\n"
        "evicted_keys:%llu\r\n"
        "evicted_clients:0\r\n"
        "total_eviction_exceeded_time:%llu\r\n"
        "current_eviction_exceeded_time:%llu\r\n",
        (unsigned long long)s->numconnections, (unsigned long long)s->numcommands,
        (unsigned long long)exec_stats_ops_per_sec(), (unsigned long long)in,
        (unsigned long long)out, (unsigned long long)repl_out, exec_stats_input_kbps(),
        exec_stats_output_kbps(), (unsigned long long)s->rejected_conn,
        (unsigned long long)s->sync_full, (unsigned long long)s->sync_partial_ok,
        (unsigned long long)s->sync_partial_err, (unsigned long long)ks->expiredkeys,
        ks->expired_stale_perc * 100, (unsigned long long)ks->expired_time_cap_reached_count,
        (unsigned long long)(s->expire_cycle_us / 1000), (unsigned long long)ks->evictedkeys,
        (unsigned long long)((s->evict_exceeded_total_us + evict_cur_us) / 1000),
        (unsigned long long)(evict_cur_us / 1000));
    /* No MIGRATE socket cache, defrag or client tracking in keyloom; its
     * reply buffers are not resized the way Redis's are. */
    kl_buf_appendf(b,
                   "keyspace_hits:%llu\r\n"
                   "keyspace_misses:%llu\r\n"
                   "pubsub_channels:%zu\r\n"
                   "pubsub_patterns:%zu\r\n"
                   "pubsubshard_channels:%zu\r\n"
                   "latest_fork_usec:%lld\r\n"
                   "total_forks:%llu\r\n"
                   "migrate_cached_sockets:0\r\n"
                   "slave_expires_tracked_keys:0\r\n"
                   "active_defrag_hits:0\r\n"
                   "active_defrag_misses:0\r\n"
                   "active_defrag_key_hits:0\r\n"
                   "active_defrag_key_misses:0\r\n"
                   "total_active_defrag_time:0\r\n"
                   "current_active_defrag_time:0\r\n"
                   "tracking_total_keys:0\r\n"
                   "tracking_total_items:0\r\n"
                   "tracking_total_prefixes:0\r\n"
                   "unexpected_error_replies:%llu\r\n"
                   "total_error_replies:%llu\r\n"
                   "dump_payload_sanitizations:%llu\r\n"
                   "total_reads_processed:%llu\r\n"
                   "total_writes_processed:%llu\r\n"
                   "io_threaded_reads_processed:%llu\r\n"
                   "io_threaded_writes_processed:%llu\r\n"
                   "reply_buffer_shrinks:0\r\n"
                   "reply_buffer_expands:0\r\n"
                   "client_query_buffer_limit_disconnections:%llu\r\n"
                   "client_output_buffer_limit_disconnections:%llu\r\n",
                   (unsigned long long)ks->keyspace_hits, (unsigned long long)ks->keyspace_misses,
                   pubsub_channels_count(), pubsub_patterns_count(), pubsub_shard_channels_count(),
                   g_snap.latest_fork_usec, (unsigned long long)g_snap.total_forks,
                   (unsigned long long)s->unexpected_error_replies, reply_total_errors(),
                   (unsigned long long)s->dump_payload_sanitizations, (unsigned long long)reads,
                   (unsigned long long)writes, (unsigned long long)(iol_threaded() ? reads : 0),
                   (unsigned long long)(iol_threaded() ? writes : 0),
                   (unsigned long long)qbuf_kills, (unsigned long long)obuf_kills);
}

void info_set_replication(void (*section)(kl_buf_t *b), info_repl_mem_fn mem) {
    repl_section = section;
    repl_mem = mem;
}

static void section_replication(kl_buf_t *b) {
    if (repl_section) {
        repl_section(b);
        return;
    }
    kl_buf_appendf(b,
                   "# Replication\r\n"
                   "role:master\r\n"
                   "connected_slaves:0\r\n"
                   "master_failover_state:no-failover\r\n"
                   "master_replid:%s\r\n"
                   "master_replid2:0000000000000000000000000000000000000000\r\n"
                   "master_repl_offset:0\r\n"
                   "second_repl_offset:-1\r\n"
                   "repl_backlog_active:0\r\n"
                   "repl_backlog_size:%lld\r\n"
                   "repl_backlog_first_byte_offset:0\r\n"
                   "repl_backlog_histlen:0\r\n",
                   g_srv.runid, (long long)g_cfg.repl_backlog_size);
}

static void section_cpu(kl_buf_t *b) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mu, ms;
    thread_cpu(iol_thread_tid(0), &mu, &ms);
    kl_buf_appendf(b,
                   "# CPU\r\n"
                   "used_cpu_sys:%ld.%06ld\r\n"
                   "used_cpu_user:%ld.%06ld\r\n"
                   "used_cpu_sys_children:0.000000\r\n"
                   "used_cpu_user_children:0.000000\r\n"
                   "used_cpu_sys_main_thread:%.6f\r\n"
                   "used_cpu_user_main_thread:%.6f\r\n",
                   (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, (long)ru.ru_utime.tv_sec,
                   (long)ru.ru_utime.tv_usec, ms, mu);
}

static void section_threads(kl_buf_t *b) {
    kl_buf_appendf(b, "# Threads\r\nio_threads:%d\r\nio_threads_active:%d\r\n", iol_nthreads() + 1,
                   iol_threaded() ? 1 : 0);
    for (int i = 0; i <= iol_nthreads(); i++) {
        iol_thread_stats_t ts;
        iol_thread_stats(i, &ts);
        double u, s;
        thread_cpu(iol_thread_tid(i), &u, &s);
        kl_buf_appendf(b,
                       "io_thread_%d:role=%s,clients=%llu,reads=%llu,writes=%llu,commands=%llu,"
                       "net_input_bytes=%llu,net_output_bytes=%llu,accepts=%llu,"
                       "tls_handshakes=%llu,tls_handshake_failures=%llu,"
                       "cpu_user=%.6f,cpu_sys=%.6f\r\n",
                       i, i == 0 ? (iol_threaded() ? "executor" : "executor+io") : "io",
                       (unsigned long long)ts.clients, (unsigned long long)ts.reads,
                       (unsigned long long)ts.writes, (unsigned long long)ts.commands,
                       (unsigned long long)ts.bytes_in, (unsigned long long)ts.bytes_out,
                       (unsigned long long)ts.accepts, (unsigned long long)ts.handshakes,
                       (unsigned long long)ts.handshake_failures, u, s);
    }
}

static void section_tls(kl_buf_t *b) {
    tls_stats_t st;
    tls_stats_get(&st);
    int64_t cert_exp, ca_exp;
    tls_cert_expiry(&cert_exp, &ca_exp);
    uint64_t failed = st.failed_no_cert + st.failed_unknown_ca + st.failed_protocol +
                      st.failed_timeout + st.failed_plaintext + st.failed_other;
    kl_buf_appendf(b,
                   "# TLS\r\n"
                   "tls_port:%d\r\n"
                   "tls_connections:%llu\r\n"
                   "tls_handshakes_completed:%llu\r\n"
                   "tls_handshakes_resumed:%llu\r\n"
                   "tls_handshakes_failed:%llu\r\n"
                   "tls_handshakes_failed_no_client_cert:%llu\r\n"
                   "tls_handshakes_failed_unknown_ca:%llu\r\n"
                   "tls_handshakes_failed_protocol:%llu\r\n"
                   "tls_handshakes_failed_timeout:%llu\r\n"
                   "tls_handshakes_failed_plaintext:%llu\r\n"
                   "tls_handshakes_failed_other:%llu\r\n"
                   "tls_server_cert_expire_time:%lld\r\n"
                   "tls_ca_cert_expire_time:%lld\r\n",
                   g_srv.tls_port, (unsigned long long)st.connections,
                   (unsigned long long)st.handshakes_ok, (unsigned long long)st.resumed,
                   (unsigned long long)failed, (unsigned long long)st.failed_no_cert,
                   (unsigned long long)st.failed_unknown_ca, (unsigned long long)st.failed_protocol,
                   (unsigned long long)st.failed_timeout, (unsigned long long)st.failed_plaintext,
                   (unsigned long long)st.failed_other, (long long)cert_exp, (long long)ca_exp);
}

/* No module API in keyloom: the section exists, empty, as in a Redis that
 * loaded no module. */
static void section_modules(kl_buf_t *b) {
    kl_buf_append_str(b, "# Modules\r\n");
}

static void section_cluster(kl_buf_t *b) {
    kl_buf_append_str(b, "# Cluster\r\ncluster_enabled:0\r\n");
}

static void append_cmdstat(kl_buf_t *b, const kl_command_t *c) {
    if (!c->calls && !c->failed_calls && !c->rejected_calls) return;
    kl_buf_appendf(b,
                   "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                   "failed_calls=%llu\r\n",
                   c->name, (unsigned long long)c->calls, (unsigned long long)c->usec,
                   c->calls ? (double)c->usec / (double)c->calls : 0.0,
                   (unsigned long long)c->rejected_calls, (unsigned long long)c->failed_calls);
}

static void section_commandstats(kl_buf_t *b) {
    kl_buf_append_str(b, "# Commandstats\r\n");
    for (size_t i = 0; i < cmd_count(); i++) {
        const kl_command_t *c = cmd_at(i);
        append_cmdstat(b, c);
        for (const kl_command_t *s = c->subcommands; s && s->name; s++)
            append_cmdstat(b, s);
    }
}

static void section_latencystats(kl_buf_t *b) {
    kl_buf_append_str(b, "# Latencystats\r\n");
    for (size_t i = 0; i < cmd_count(); i++) {
        const kl_command_t *c = cmd_at(i);
        latency_hist_info(c, b);
        for (const kl_command_t *s = c->subcommands; s && s->name; s++)
            latency_hist_info(s, b);
    }
}

static void section_errorstats(kl_buf_t *b) {
    kl_buf_append_str(b, "# Errorstats\r\n");
    reply_errorstats_info(b);
}

static void section_keyspace(kl_buf_t *b) {
    kl_buf_append_str(b, "# Keyspace\r\n");
    for (int i = 0; i < db_count(); i++) {
        kdb_t *db = db_get(i);
        size_t keys = db_size(db);
        if (!keys) continue;
        kl_buf_appendf(b, "db%d:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", i, keys,
                       db_expires_size(db), db->avg_ttl);
    }
}

typedef struct section {
    const char *name;
    void (*fn)(kl_buf_t *b);
    int in_default;
} section_t;

static const section_t sections[] = {
    {"server", section_server, 1},
    {"clients", section_clients, 1},
    {"memory", section_memory, 1},
    {"persistence", section_persistence, 1},
    {"stats", section_stats, 1},
    {"replication", section_replication, 1},
    {"cpu", section_cpu, 1},
    {"threads", section_threads, 1},
    {"tls", section_tls, 1},
    {"modules", section_modules, 1},
    {"commandstats", section_commandstats, 0},
    {"errorstats", section_errorstats, 1},
    {"latencystats", section_latencystats, 0},
    {"cluster", section_cluster, 1},
    {"keyspace", section_keyspace, 1},
};

void info_generate(kl_buf_t *out, int argc, const resp_arg_t *argv) {
    int want[sizeof(sections) / sizeof(sections[0])] = {0};
    size_t ns = sizeof(sections) / sizeof(sections[0]);
    if (argc == 0) {
        for (size_t i = 0; i < ns; i++)
            want[i] = sections[i].in_default;
    }
    for (int a = 0; a < argc; a++) {
        const char *n = argv[a].ptr;
        if (!strcasecmp(n, "all") || !strcasecmp(n, "everything")) {
            for (size_t i = 0; i < ns; i++)
                want[i] = 1;
        } else if (!strcasecmp(n, "default")) {
            for (size_t i = 0; i < ns; i++)
                want[i] |= sections[i].in_default;
        } else {
            for (size_t i = 0; i < ns; i++)
                if (!strcasecmp(n, sections[i].name)) want[i] = 1;
        }
    }
    bool first = true;
    for (size_t i = 0; i < ns; i++) {
        if (!want[i]) continue;
        if (!first) kl_buf_append(out, "\r\n", 2);
        first = false;
        sections[i].fn(out);
    }
}
