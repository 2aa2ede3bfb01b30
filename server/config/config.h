/* Redis-compatible configuration: one table describes every directive (name,
 * alias, type, default, range, flags), and the same table drives redis.conf
 * loading, the redis-server command line, CONFIG GET, CONFIG SET (all or
 * nothing, with apply hooks and rollback) and CONFIG REWRITE. Value syntax,
 * defaults, ranges and error texts are those of Redis 7.0.15.
 *
 * Ownership and threads: the executor thread owns g_cfg. It loads it at
 * startup (before any other thread exists) and changes it only in CONFIG SET.
 * Other threads must not read g_cfg directly: the executor hands them copies
 * of the values they need (for example through their mailbox after an apply
 * hook runs). Every function here is "Thread: executor" (or startup).
 *
 * Directives Redis 7.0 has that keyloom does not act on yet (replication,
 * cluster, AOF/RDB tuning, defrag, ...) are still accepted, validated,
 * reported by CONFIG GET and settable, so a stock redis.conf loads; their
 * fields are grouped at the end of kl_config_t and config_load() logs one
 * warning listing those set to a non-default value. Settings that would
 * silently change semantics are refused instead:
 * "appendonly yes" (before the AOF existed) and "cluster-enabled yes". */
#ifndef KL_CONFIG_H
#define KL_CONFIG_H

#include <stddef.h>

/* The most save points a "save" schedule may have. */
#define KL_SAVE_PARAMS_MAX 64

/* Values of the no/yes/local enums (enable-debug-command, ...). */
enum { KL_CFG_NO = 0, KL_CFG_YES = 1, KL_CFG_LOCAL = 2 };

/* tls-auth-clients. */
enum { KL_TLS_AUTH_NO = 0, KL_TLS_AUTH_YES = 1, KL_TLS_AUTH_OPTIONAL = 2 };

/* maxmemory-policy. */
enum kl_maxmemory_policy {
    KL_MAXMEMORY_VOLATILE_LRU = 0,
    KL_MAXMEMORY_VOLATILE_LFU,
    KL_MAXMEMORY_VOLATILE_RANDOM,
    KL_MAXMEMORY_VOLATILE_TTL,
    KL_MAXMEMORY_ALLKEYS_LRU,
    KL_MAXMEMORY_ALLKEYS_LFU,
    KL_MAXMEMORY_ALLKEYS_RANDOM,
    KL_MAXMEMORY_NOEVICTION,
};

/* notify-keyspace-events bits (the letters of Redis's flag string). */
enum {
    KL_NOTIFY_KEYSPACE = 1 << 0,  /* K */
    KL_NOTIFY_KEYEVENT = 1 << 1,  /* E */
    KL_NOTIFY_GENERIC = 1 << 2,   /* g */
    KL_NOTIFY_STRING = 1 << 3,    /* $ */
    KL_NOTIFY_LIST = 1 << 4,      /* l */
    KL_NOTIFY_SET = 1 << 5,       /* s */
    KL_NOTIFY_HASH = 1 << 6,      /* h */
    KL_NOTIFY_ZSET = 1 << 7,      /* z */
    KL_NOTIFY_EXPIRED = 1 << 8,   /* x */
    KL_NOTIFY_EVICTED = 1 << 9,   /* e */
    KL_NOTIFY_STREAM = 1 << 10,   /* t */
    KL_NOTIFY_KEY_MISS = 1 << 11, /* m (not part of A) */
    KL_NOTIFY_MODULE = 1 << 12,   /* d */
    KL_NOTIFY_NEW = 1 << 13,      /* n (not part of A) */
    /* A = g$lshzxetd */
    KL_NOTIFY_ALL = KL_NOTIFY_GENERIC | KL_NOTIFY_STRING | KL_NOTIFY_LIST | KL_NOTIFY_SET |
                    KL_NOTIFY_HASH | KL_NOTIFY_ZSET | KL_NOTIFY_EXPIRED | KL_NOTIFY_EVICTED |
                    KL_NOTIFY_STREAM | KL_NOTIFY_MODULE,
};

/* client-output-buffer-limit classes ("slave" is an accepted alias of
 * "replica"; CONFIG GET prints "slave" like Redis). */
enum { KL_OBUF_NORMAL = 0, KL_OBUF_REPLICA = 1, KL_OBUF_PUBSUB = 2, KL_OBUF_CLASSES = 3 };
typedef struct kl_obuf_limit {
    unsigned long long hard_bytes; /* 0 = no limit */
    unsigned long long soft_bytes; /* 0 = no limit */
    int soft_seconds;
} kl_obuf_limit_t;

/* shutdown-on-sigint / shutdown-on-sigterm bits ("default" is 0). */
enum { KL_SHUTDOWN_SAVE = 1, KL_SHUTDOWN_NOSAVE = 2, KL_SHUTDOWN_NOW = 4, KL_SHUTDOWN_FORCE = 8 };

/* Booleans are int 0/1. Strings are never NULL ("" when unset) and owned by
 * the config (kl_malloc). Enums are the enum constants above, or for
 * compatibility-only enums the index of the value in Redis's list. Memory
 * values are in bytes. */
typedef struct kl_config {
    /* Network */
    char **bind; /* default "*" "-::*" */
    int bind_count;
    int protected_mode;
    int port;
    int tcp_backlog;             /* immutable */
    char *unixsocket;            /* immutable */
    unsigned int unixsocketperm; /* immutable, octal in the file */
    int timeout;
    int tcp_keepalive;
    /* General */
    int daemonize;        /* immutable */
    char *pidfile;        /* immutable */
    int loglevel;         /* KL_LOG_* from kl_log.h; "nothing" accepted too */
    char *logfile;        /* immutable */
    int databases;        /* immutable, 1..INT_MAX */
    int always_show_logo; /* immutable */
    int set_proc_title;   /* immutable */
    char *proc_title_template;
    int enable_debug_command;     /* KL_CFG_*, immutable */
    int enable_protected_configs; /* KL_CFG_*, immutable */
    int enable_module_command;    /* KL_CFG_*, immutable (stored only) */
    /* Security and clients */
    char *requirepass; /* sensitive */
    unsigned int maxclients;
    /* Memory */
    unsigned long long maxmemory;
    int maxmemory_policy; /* enum kl_maxmemory_policy */
    int maxmemory_samples;
    int maxmemory_eviction_tenacity;
    int lfu_log_factor;
    int lfu_decay_time;
    int lazyfree_lazy_eviction;
    int lazyfree_lazy_expire;
    int lazyfree_lazy_server_del;
    int lazyfree_lazy_user_del;
    int lazyfree_lazy_user_flush;
    /* Threads and timers */
    int io_threads;          /* immutable, 1..128 */
    int io_threads_do_reads; /* immutable, accepted for compatibility */
    int hz;                  /* clamped to 1..500 like Redis */
    int dynamic_hz;
    int active_expire_effort; /* 1..10 */
    /* Limits */
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    kl_obuf_limit_t client_output_buffer_limit[KL_OBUF_CLASSES];
    /* Monitoring */
    long long slowlog_log_slower_than; /* -1 disables, 0 logs everything */
    long long slowlog_max_len;
    long long latency_monitor_threshold;
    int latency_tracking;
    /* Persistence */
    char *dbfilename; /* protected */
    int nsave;        /* save points in force (save_params[0 .. nsave)) */
    struct {
        long long seconds, changes;
    } save_params[KL_SAVE_PARAMS_MAX];
    int rdb_key_save_delay; /* us slept per key saved (test hook); < 0: ns */
    int key_load_delay;     /* same, per key loaded */
    long long loading_process_events_interval_bytes;
    int appendonly; /* always 0: "yes" is refused */
    /* Pub/Sub */
    int notify_keyspace_events; /* KL_NOTIFY_* bits */
    /* Encodings */
    int list_max_listpack_size;
    int list_compress_depth;
    long long hash_max_listpack_entries;
    long long hash_max_listpack_value;
    long long set_max_intset_entries;
    long long zset_max_listpack_entries;
    long long zset_max_listpack_value;
    /* TLS */
    int tls_port;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_key_file_pass; /* sensitive */
    char *tls_client_cert_file;
    char *tls_client_key_file;
    char *tls_client_key_file_pass; /* sensitive */
    char *tls_ca_cert_file;
    char *tls_ca_cert_dir;
    char *tls_dh_params_file;
    char *tls_protocols; /* "" = TLSv1.2 and TLSv1.3 */
    char *tls_ciphers;
    char *tls_ciphersuites;
    int tls_prefer_server_ciphers;
    int tls_session_caching;
    int tls_session_cache_size;
    int tls_session_cache_timeout;
    int tls_auth_clients; /* KL_TLS_AUTH_* */
    int tls_replication;
    int tls_cluster;
    long long tls_handshake_timeout; /* keyloom: ms a TLS handshake may take */

    /* ---- Accepted for compatibility, no effect in keyloom yet ---- */
    int activerehashing;
    int activedefrag;
    int active_defrag_cycle_min;
    int active_defrag_cycle_max;
    int active_defrag_threshold_lower;
    int active_defrag_threshold_upper;
    long long active_defrag_ignore_bytes;
    long long active_defrag_max_scan_fields;
    int jemalloc_bg_thread;
    int disable_thp;
    int crash_log_enabled;
    int crash_memcheck_enabled;
    int supervised;      /* upstart systemd auto no */
    int syslog_enabled;  /* immutable */
    char *syslog_ident;  /* immutable */
    int syslog_facility; /* user local0..local7 */
    char *ignore_warnings;
    char *server_cpulist, *bio_cpulist, *aof_rewrite_cpulist, *bgsave_cpulist;
    int oom_score_adj; /* no yes relative absolute */
    int oom_score_adj_values[3];
    unsigned int socket_mark_id;
    char *bind_source_addr;
    int shutdown_on_sigint;  /* KL_SHUTDOWN_* bits */
    int shutdown_on_sigterm; /* KL_SHUTDOWN_* bits */
    int shutdown_timeout;
    long long busy_reply_threshold; /* alias lua-time-limit */
    char *aclfile;
    long long acllog_max_len;
    int acl_pubsub_default;         /* allchannels resetchannels */
    int sanitize_dump_payload;      /* no yes clients */
    int propagation_error_behavior; /* ignore panic panic-on-replicas */
    long long tracking_table_max_keys;
    long long maxmemory_clients; /* bytes, or -percent when given as N% */
    double *latency_tracking_info_percentiles;
    int latency_tracking_info_percentiles_len;
    long long hll_sparse_max_bytes;
    long long stream_node_max_bytes;
    long long stream_node_max_entries;
    /* RDB / AOF */
    int stop_writes_on_bgsave_error;
    int rdbcompression;
    int rdbchecksum;
    int rdb_del_sync_files;
    int rdb_save_incremental_fsync;
    char *appendfilename;
    char *appenddirname;
    int appendfsync; /* everysec always no */
    int no_appendfsync_on_rewrite;
    int auto_aof_rewrite_percentage;
    long long auto_aof_rewrite_min_size;
    int aof_load_truncated;
    int aof_use_rdb_preamble;
    int aof_timestamp_enabled;
    int aof_rewrite_incremental_fsync;
    int aof_disable_auto_gc;
    /* Replication */
    /* The replicaof directive (start-up only; REPLICAOF changes the master
     * at run time in replication/, which reports it back through
     * config_set_replicaof_source): "" when none. */
    char replicaof_host[256];
    int replicaof_port;
    char *masterauth; /* sensitive */
    char *masteruser;
    int replica_serve_stale_data;
    int replica_read_only;
    int replica_ignore_maxmemory;
    int replica_lazy_flush;
    int replica_priority;
    int replica_announced;
    char *replica_announce_ip;
    int replica_announce_port;
    int replica_ignore_disk_write_errors;
    int repl_diskless_sync;
    int repl_diskless_sync_delay;
    int repl_diskless_sync_max_replicas;
    int repl_diskless_load; /* disabled on-empty-db swapdb */
    int repl_disable_tcp_nodelay;
    long long repl_backlog_size;
    long long repl_backlog_ttl;
    int repl_timeout;
    int repl_ping_replica_period;
    int min_replicas_to_write;
    int min_replicas_max_lag;
    /* Cluster */
    int cluster_enabled; /* always 0: "yes" is refused */
    char *cluster_config_file;
    long long cluster_node_timeout;
    int cluster_port;
    char *cluster_announce_ip;
    char *cluster_announce_hostname;
    int cluster_announce_port;
    int cluster_announce_bus_port;
    int cluster_announce_tls_port;
    int cluster_replica_validity_factor;
    int cluster_migration_barrier;
    int cluster_allow_replica_migration;
    int cluster_require_full_coverage;
    int cluster_replica_no_failover;
    int cluster_allow_reads_when_down;
    int cluster_allow_pubsubshard_when_down;
    int cluster_preferred_endpoint_type; /* ip hostname unknown-endpoint */
    unsigned long long cluster_link_sendbuf_limit;
} kl_config_t;

extern kl_config_t g_cfg;

/* Reset every directive to its default, freeing previous values. Also the
 * first call to make. Does not touch the working directory. */
void config_init_defaults(void);
/* Free everything the configuration owns (strings, arrays, hooks, the
 * remembered config file path). g_cfg must not be used afterwards except
 * through config_init_defaults(). */
void config_free(void);

/* Load redis.conf text on top of the current values: one directive per line,
 * arguments split like redis-server does, '#' comment lines, case-insensitive
 * names, "include <path-or-glob>" (relative to the working directory, nested
 * at most 16 deep). Directives take effect as they are read ("dir" changes
 * the working directory at once). No apply hooks run: startup applies
 * everything itself. Returns 0, or on error a negative code with *err set to
 * a kl_malloc'd message ready for stderr (free with kl_free):
 *   -EINVAL: a bad line, in redis-server's format
 *     "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
 *     "Reading the configuration file, at line N\n>>> 'line'\n<reason>\n"
 *   -errno: an included file could not be opened; *err is the single line
 *     "Fatal error, can't open config file '<path>': <strerror>" that Redis
 *     writes to its log. */
int config_load_string(const char *text, char **err);

/* redis-server startup: read the config file (path_or_null; its absolute path
 * is remembered for CONFIG REWRITE), then stdin_text_or_null, then the
 * command line options, exactly as redis-server concatenates them, and load
 * the result with config_load_string(). argv holds the words after the
 * program name and the config file path: "--name v1 v2" becomes the line
 * "name "v1" "v2"" (values quoted so spaces survive), a lone "-" that is the
 * first word without a config file, or the last word, is the stdin marker
 * and is skipped (see config_cmdline_wants_stdin). Errors as
 * config_load_string(); -errno with "Fatal error, can't open config file ..."
 * when the file cannot be read. Call config_init_defaults() first. */
int config_load(const char *path_or_null, const char *stdin_text_or_null, int argc, char **argv,
                char **err);
/* Whether the command line words (as passed to config_load) ask for the
 * configuration to be read from stdin ("-" first without config file, or
 * last), so main() knows to read stdin before calling config_load(). */
int config_cmdline_wants_stdin(const char *path_or_null, int argc, char **argv);
/* Absolute path of the config file given at startup, or NULL. */
const char *config_file_path(void);

/* CONFIG GET. Each pattern is a Redis glob (case-insensitive) or, when it has
 * none of "[*?", an exact (case-insensitive) name that is reported spelled
 * as given, as Redis 7 does. Aliases match too and are reported under the
 * alias name. Each matching name is emitted once across all patterns, in
 * pattern order then table order; value is NUL-terminated, vlen its length.
 * The emits happen after all matching is done; config_get_count() gives the
 * count first for a RESP map header. Returns the number of pairs emitted. */
typedef void (*config_emit_fn)(void *ctx, const char *name, const char *value, size_t vlen);
size_t config_get(const char **patterns, int npatterns, config_emit_fn emit, void *ctx);
size_t config_get_count(const char **patterns, int npatterns);
/* Current value of one directive as CONFIG GET prints it, kl_malloc'd, or
 * NULL if the name is unknown. */
char *config_get_value(const char *name);

/* CONFIG SET name value [name value ...]: all or nothing. Every name is looked
 * up first (unknown, immutable, protected or repeated names fail the whole
 * call), then every value is parsed and stored, then the apply hooks of the
 * directives whose value changed run, each distinct hook once. If a value is
 * invalid or a hook fails, every value is restored from a snapshot taken
 * before the call and the hooks that ran are called again so the subsystems
 * see the old values. Returns 0, or -1 with *err set to the exact Redis error
 * text without the leading '-' (e.g. "ERR CONFIG SET failed (possibly related
 * to argument 'port') - argument must be between 0 and 65535 inclusive"),
 * kl_malloc'd. argv holds argc strings: name, value, name, value... */
int config_set(int argc, const char **argv, char **err);
/* Flags for config_set_ex. */
enum { KL_CONFIG_SET_LOCAL_CLIENT = 1 }; /* caller is a local (loopback/unix) client */
/* As config_set; lens (may be NULL) gives each argument's length so that a
 * value with an embedded NUL byte is refused instead of being truncated;
 * flags say whether protected directives (dir, dbfilename) may be set when
 * enable-protected-configs is "local". */
int config_set_ex(int argc, const char **argv, const size_t *lens, unsigned flags, char **err);

/* Apply hooks. A hook runs after CONFIG SET has stored the new value(s) in
 * g_cfg (read them there) and returns 0, or -1 with *err pointing to a static
 * reason text such as "Unable to listen on this port" (not freed). Hooks are
 * not run at startup. One hook per directive; several directives may share
 * a hook, which then runs once per CONFIG SET. Returns 0 or -ENOENT for an
 * unknown name. Hooks must not call config_set. */
/* On failure a hook returns non-zero and may set *err to a kl_malloc'd reason,
 * which config_set() frees. */
typedef int (*config_apply_fn)(char **err);
int config_register_apply(const char *name, config_apply_fn fn);

/* replication/ registers where CONFIG GET/REWRITE read the master in
 * effect (host, or NULL when not a replica; *port). Thread: main, at
 * start-up. */
void config_set_replicaof_source(const char *(*source)(int *port));

/* CONFIG REWRITE: rewrite the startup config file in place like Redis 7.0:
 * comments, blank lines and the order of directives are kept; a directive's
 * first line is replaced by its current value (lines of directives at their
 * default are rewritten too, as Redis does), extra lines of the same
 * directive and lines of directives that are now unset are dropped, lines
 * keyloom does not know become "# ??? <line>", and directives not yet in the
 * file whose value differs from the default are appended after a
 * "# Generated by CONFIG REWRITE" line. The file is replaced atomically
 * (temporary file, fsync, rename, fsync of the directory) keeping its
 * permissions. Returns 0, or -1 with *err = "ERR The server is running
 * without a config file" or "ERR Rewriting config file: <strerror>". */
int config_rewrite(char **err);

/* Whether a directive's value must be redacted from SLOWLOG, MONITOR and
 * the command log (requirepass, masterauth, TLS key passwords). */
int config_is_sensitive(const char *name);

/* Expand a proc-title-template with the current configuration: {title},
 * {listen-addr}, {server-mode}, {port}, {tls-port}, {unixsocket},
 * {config-file}; "{{" is a literal '{'. Returns a kl_malloc'd string with
 * surrounding spaces trimmed, or NULL if the template is invalid. */
char *config_expand_proc_title(const char *tmpl, const char *title);

/* Tests and fuzzers: when on, "include" is refused, "dir" only checks that
 * the directory exists instead of changing the working directory, and the
 * log file is not test-opened. Off by default. */
void config_set_sandboxed(int on);

#endif
