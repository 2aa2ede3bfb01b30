/* keyloom-server: start-up, the cron, signals and shutdown. */
#include "admin.h"
#include "aof_policy.h"
#include "persistence.h"
#include "cmd.h"
#include "commands.h"
#include "config.h"
#include "db.h"
#include "evict.h"
#include "lazyfree.h"
#include "propagate.h"
#include "exec.h"
#include "info.h"
#include "iol.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "kl_git.h"
#include "kl_version.h"
#include "server.h"
#include "commands.h"
#include "slowlog.h"
#include "supervise.h"
#include "tls.h"
#include "reply.h"
#include "repl.h"
#include "replica.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LISTENERS 32
static iol_listener_t *tcp_listeners[MAX_LISTENERS];
static int n_tcp_listeners;
static iol_listener_t *unix_listener;
static iol_listener_t *tls_listeners[MAX_LISTENERS];
static int n_tls_listeners;
static iol_timer_t *cron_timer;

/* ---------------------------------------------------------------- process title */

/* The title overwrites the argv block (argv strings are copied first). */
static char *saved_arg0;
static size_t saved_arg0_cap;

static void proctitle_set(const char *title) {
    if (!saved_arg0) return;
    size_t n = strlen(title);
    if (n >= saved_arg0_cap) n = saved_arg0_cap - 1;
    memcpy(saved_arg0, title, n);
    memset(saved_arg0 + n, 0, saved_arg0_cap - n);
    char comm[16];
    snprintf(comm, sizeof(comm), "%s", "keyloom-server");
    prctl(PR_SET_NAME, comm, 0, 0, 0);
}

/* ---------------------------------------------------------------- listeners */

/* Listen on every bind address for one port; returns 0 or -1 (logged). */
static int listen_port(int port, int kind, iol_listener_t **out, int *nout, int *bound_port) {
    char err[256];
    for (int i = 0; i < g_cfg.bind_count && *nout < MAX_LISTENERS; i++) {
        const char *addr = g_cfg.bind[i];
        bool optional = addr[0] == '-';
        if (optional) addr++;
        const char *real = !strcmp(addr, "*") ? "0.0.0.0" : !strcmp(addr, "::*") ? "::" : addr;
        iol_listener_t *l;
        int rc = iol_listen_tcp(real, port, g_cfg.tcp_backlog, kind, &l, err, sizeof(err));
        if (rc) {
            if (optional) continue;
            kl_warning("Warning: Could not create server %s listening socket %s:%d: %s",
                       kind == CONN_KIND_TLS ? "TLS" : "TCP", addr, port, err);
            for (int k = 0; k < *nout; k++)
                iol_listener_close(out[k]);
            *nout = 0;
            return -1;
        }
        out[(*nout)++] = l;
        *bound_port = iol_listener_port(l);
        kl_notice("Listening on %s:%d (%s)", addr, *bound_port,
                  kind == CONN_KIND_TLS ? "tls" : "tcp");
    }
    return 0;
}

static void tls_settings_from_config(tls_settings_t *s) {
    memset(s, 0, sizeof(*s));
    s->cert_file = g_cfg.tls_cert_file;
    s->key_file = g_cfg.tls_key_file;
    s->key_file_pass = g_cfg.tls_key_file_pass;
    s->client_cert_file = g_cfg.tls_client_cert_file;
    s->client_key_file = g_cfg.tls_client_key_file;
    s->client_key_file_pass = g_cfg.tls_client_key_file_pass;
    s->ca_cert_file = g_cfg.tls_ca_cert_file;
    s->ca_cert_dir = g_cfg.tls_ca_cert_dir;
    s->dh_params_file = g_cfg.tls_dh_params_file;
    s->protocols = g_cfg.tls_protocols;
    s->ciphers = g_cfg.tls_ciphers;
    s->ciphersuites = g_cfg.tls_ciphersuites;
    s->prefer_server_ciphers = g_cfg.tls_prefer_server_ciphers;
    s->session_caching = g_cfg.tls_session_caching;
    s->session_cache_size = g_cfg.tls_session_cache_size;
    s->session_cache_timeout = g_cfg.tls_session_cache_timeout;
    s->auth_clients = g_cfg.tls_auth_clients == KL_TLS_AUTH_YES        ? TLS_AUTH_YES
                      : g_cfg.tls_auth_clients == KL_TLS_AUTH_OPTIONAL ? TLS_AUTH_OPTIONAL
                                                                       : TLS_AUTH_NO;
}

static bool tls_wanted(void) {
    return g_cfg.tls_port != 0 || g_cfg.tls_replication || g_cfg.tls_cluster;
}

/* CONFIG SET of any tls-* directive: rebuild the contexts; existing
 * connections keep theirs. As in Redis 7.0 the client only hears "Unable to
 * update TLS configuration. Check server logs."; the file and OpenSSL's
 * reason go to the log. */
static int apply_tls(char **err) {
    if (!tls_wanted()) return 0;
    tls_settings_t s;
    tls_settings_from_config(&s);
    char *e = NULL;
    if (tls_configure(&s, &e) != 0) {
        kl_warning("%s", e ? e : "Failed to configure TLS");
        kl_free(e);
        *err = kl_strdup("Unable to update TLS configuration. Check server logs.");
        return -1;
    }
    kl_notice("TLS configuration reloaded");
    return 0;
}

static int apply_tls_handshake_timeout(char **err) {
    tls_set_handshake_timeout_ms((uint64_t)g_cfg.tls_handshake_timeout);
    return 0;
}

static int apply_tls_port(char **err) {
    iol_listener_t *old[MAX_LISTENERS];
    int nold = n_tls_listeners;
    memcpy(old, tls_listeners, sizeof(old));
    n_tls_listeners = 0;
    if (g_cfg.tls_port != 0) {
        if (!tls_configured() && apply_tls(err) != 0) {
            memcpy(tls_listeners, old, sizeof(old));
            n_tls_listeners = nold;
            return -1;
        }
        if (listen_port(g_cfg.tls_port, CONN_KIND_TLS, tls_listeners, &n_tls_listeners,
                        &g_srv.tls_port) != 0) {
            memcpy(tls_listeners, old, sizeof(old));
            n_tls_listeners = nold;
            *err = kl_strdup("Unable to listen on this port. Check server logs.");
            return -1;
        }
    }
    for (int k = 0; k < nold; k++)
        iol_listener_close(old[k]);
    if (!n_tls_listeners) g_srv.tls_port = 0;
    return 0;
}

static int listen_all(void) {
    char err[256];
    if (g_cfg.tls_port != 0 && listen_port(g_cfg.tls_port, CONN_KIND_TLS, tls_listeners,
                                           &n_tls_listeners, &g_srv.tls_port) != 0) {
        kl_warning("Failed listening on port %d (tls), aborting.", g_cfg.tls_port);
        return -1;
    }
    if (g_cfg.port != 0 && listen_port(g_cfg.port, CONN_KIND_TCP, tcp_listeners, &n_tcp_listeners,
                                       &g_srv.tcp_port) != 0) {
        kl_warning("Failed listening on port %d (tcp), aborting.", g_cfg.port);
        return -1;
    }
    if (g_cfg.unixsocket && g_cfg.unixsocket[0]) {
        int rc = iol_listen_unix(g_cfg.unixsocket, (unsigned)g_cfg.unixsocketperm,
                                 g_cfg.tcp_backlog, &unix_listener, err, sizeof(err));
        if (rc) {
            kl_warning("Failed opening Unix socket: %s", err);
            return -1;
        }
        kl_notice("Listening on unix socket %s", g_cfg.unixsocket);
    }
    if (n_tcp_listeners == 0 && n_tls_listeners == 0 && !unix_listener) {
        kl_warning("Configured to not listen anywhere, exiting.");
        return -1;
    }
    return 0;
}

static void close_listeners(void) {
    for (int i = 0; i < n_tls_listeners; i++)
        iol_listener_close(tls_listeners[i]);
    n_tls_listeners = 0;
    for (int i = 0; i < n_tcp_listeners; i++)
        iol_listener_close(tcp_listeners[i]);
    n_tcp_listeners = 0;
    if (unix_listener) iol_listener_close(unix_listener);
    unix_listener = NULL;
}

/* CONFIG SET port / bind: open the new listeners first, then close the old. */
static int apply_listeners(char **err) {
    iol_listener_t *old[MAX_LISTENERS];
    int nold = n_tcp_listeners;
    memcpy(old, tcp_listeners, sizeof(old));
    n_tcp_listeners = 0;
    if (g_cfg.port != 0 && listen_port(g_cfg.port, CONN_KIND_TCP, tcp_listeners, &n_tcp_listeners,
                                       &g_srv.tcp_port) != 0) {
        memcpy(tcp_listeners, old, sizeof(old));
        n_tcp_listeners = nold;
        *err = kl_strdup("Unable to listen on this port. Check server logs.");
        return -1;
    }
    for (int k = 0; k < nold; k++)
        iol_listener_close(old[k]);
    if (!n_tcp_listeners) g_srv.tcp_port = 0;
    return 0;
}

static int apply_tls_port(char **err);

/* CONFIG SET bind: both the plain and the TLS listeners move. */
static int apply_bind(char **err) {
    if (apply_listeners(err) != 0) return -1;
    return g_cfg.tls_port ? apply_tls_port(err) : 0;
}

static iol_limits_t limits_from_config(void) {
    iol_limits_t l;
    l.proto_max_bulk_len = (size_t)g_cfg.proto_max_bulk_len;
    l.client_query_buffer_limit = (size_t)g_cfg.client_query_buffer_limit;
    l.out_high_water = 4 * 1024 * 1024;
    const kl_obuf_limit_t *n = &g_cfg.client_output_buffer_limit[KL_OBUF_NORMAL];
    const kl_obuf_limit_t *p = &g_cfg.client_output_buffer_limit[KL_OBUF_PUBSUB];
    const kl_obuf_limit_t *r = &g_cfg.client_output_buffer_limit[KL_OBUF_REPLICA];
    l.obuf_normal =
        (iol_obuf_limit_t){n->hard_bytes, n->soft_bytes, (int64_t)n->soft_seconds * 1000};
    l.obuf_pubsub =
        (iol_obuf_limit_t){p->hard_bytes, p->soft_bytes, (int64_t)p->soft_seconds * 1000};
    l.obuf_replica =
        (iol_obuf_limit_t){r->hard_bytes, r->soft_bytes, (int64_t)r->soft_seconds * 1000};
    return l;
}

static int apply_limits(char **err) {
    iol_limits_t l = limits_from_config();
    iol_set_limits(&l);
    return 0;
}

static int apply_loglevel(char **err) {
    kl_log_set_level(g_cfg.loglevel);
    return 0;
}

static int apply_keepalive(char **err) {
    iol_set_tcp_keepalive(g_cfg.tcp_keepalive);
    return 0;
}

static int apply_jemalloc_bg_thread(char **err) {
    kl_alloc_set_background_thread(g_cfg.jemalloc_bg_thread);
    return 0;
}

static int apply_hz(char **err) {
    if (cron_timer)
        iol_timer_set_repeat(cron_timer, (uint64_t)(1000 / (g_cfg.hz > 0 ? g_cfg.hz : 10)));
    return 0;
}

/* ---------------------------------------------------------------- cron */

static void cron(iol_timer_t *t, void *arg) {
    kv_update_time();
    g_srv.cronloops++;
    if (g_srv.loading) {
        /* The dataset is incomplete: no expiry, eviction or save points. */
        exec_clients_cron();
        return;
    }
    int hz = g_cfg.hz > 0 ? g_cfg.hz : 10;
    /* Active expiry gets 25% of a cron period, scaled by the effort knob. */
    long long budget = 1000000LL / hz * 25 / 100;
    budget += budget * (g_cfg.active_expire_effort - 1) / 4;
    if (g_kv.active_expire_enabled) {
        long long t0 = kl_ustime();
        db_active_expire_cycle(budget);
        g_srv.stat.expire_cycle_us += (uint64_t)(kl_ustime() - t0); /* INFO expire_cycle_cpu_ms */
    }
    db_cron(1000);
    exec_evict_cron();
    exec_clients_cron();
    exec_stats_cron();
    persistence_cron();
    repl_cron();
    admin_shutdown_cron();
}

static void on_signal(int signum) {
    const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (g_srv.shutdown_asap && signum == SIGINT) {
        kl_warning("You insist... exiting now.");
        _exit(1);
    }
    kl_warning("Received %s scheduling shutdown...", name);
    g_srv.shutdown_flags = signum == SIGINT ? g_cfg.shutdown_on_sigint : g_cfg.shutdown_on_sigterm;
    /* Lagging replicas get shutdown-timeout seconds to catch up first
     * (unless the flags say NOW); the cron then finishes the shutdown. */
    if (!(g_srv.shutdown_flags & KL_SHUTDOWN_NOW) &&
        admin_shutdown_wait_signal(g_srv.shutdown_flags))
        return;
    g_srv.shutdown_asap = 1;
    iol_loop_stop();
}

/* ---------------------------------------------------------------- start-up */

/* The dataset is loaded: tell the log and the supervisor. */
static void ready(void) {
    kl_notice("Ready to accept connections");
    supervise_ready();
}

static void usage(void) {
    fprintf(stderr, "Usage: ./keyloom-server [/path/to/keyloom.conf] [options] [-]\n"
                    "       ./keyloom-server - (read config from stdin)\n"
                    "       ./keyloom-server -v or --version\n"
                    "       ./keyloom-server -h or --help\n"
                    "\n"
                    "Examples:\n"
                    "       ./keyloom-server (run the server with default conf)\n"
                    "       echo 'maxmemory 128mb' | ./keyloom-server -\n"
                    "       ./keyloom-server /etc/keyloom/6379.conf\n"
                    "       ./keyloom-server --port 7777\n"
                    "       ./keyloom-server /etc/mykeyloom.conf --loglevel verbose -\n"
                    "       ./keyloom-server /etc/mykeyloom.conf --loglevel verbose\n"
                    "\n"
                    "keyloom speaks the Redis protocol and accepts redis-server's configuration\n"
                    "directives; see conf/keyloom.conf for every directive it supports.\n");
    exit(1);
}

static void version(void) {
    printf("keyloom server v=%s sha=%s:0 malloc=%s bits=%d build=%s redis_compat=%s\n",
           KEYLOOM_VERSION, KEYLOOM_GIT_SHA1, kl_allocator_name(), (int)(sizeof(long) * 8),
           KEYLOOM_BUILD_TYPE, KEYLOOM_REDIS_VERSION);
    exit(0);
}

static char *read_stdin_all(void) {
    kl_buf_t b = {0};
    char buf[4096];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
        kl_buf_append(&b, buf, (size_t)n);
    if (!b.p) kl_buf_append(&b, "", 0);
    return kl_buf_detach(&b);
}

static void daemonize(void) {
    if (fork() != 0) exit(0);
    setsid();
    int fd = open("/dev/null", O_RDWR, 0);
    if (fd != -1) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) close(fd);
    }
}

static const char *pidfile_path(void) {
    if (g_cfg.pidfile && g_cfg.pidfile[0]) return g_cfg.pidfile;
    /* Like redis-server: a daemon without a pidfile setting uses the default. */
    return g_cfg.daemonize ? "/var/run/redis.pid" : NULL;
}

static void write_pidfile(void) {
    const char *path = pidfile_path();
    if (!path) return;
    FILE *f = fopen(path, "w");
    if (!f) {
        kl_warning("Failed to write PID file: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
}

static void banner(void) {
    kl_notice("oO0OoO0OoO0Oo keyloom is starting oO0OoO0OoO0Oo");
    kl_notice("keyloom version=%s (redis_version=%s), bits=%d, commit=%s, pid=%d, just started",
              KEYLOOM_VERSION, KEYLOOM_REDIS_VERSION, (int)(sizeof(long) * 8), KEYLOOM_GIT_SHA1,
              (int)getpid());
    if (g_srv.config_file)
        kl_notice("Configuration loaded from %s", g_srv.config_file);
    else
        kl_notice("Warning: no config file specified, using the default config. In order to "
                  "specify a config file use keyloom-server /path/to/keyloom.conf");
}

int main(int argc, char **argv) {
    if (argc >= 2) {
        if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")) version();
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) usage();
    }
    saved_arg0 = argv[0];
    {
        /* The title may use every byte of the original argv block. */
        char *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
        saved_arg0_cap = (size_t)(end - argv[0]);
    }
    char **args = kl_malloc(sizeof(char *) * (size_t)(argc + 1));
    for (int i = 0; i < argc; i++)
        args[i] = kl_strdup(argv[i]);
    args[argc] = NULL;

    config_init_defaults();
    const char *cfgfile = NULL;
    int j = 1;
    char *stdin_text = NULL;
    if (argc >= 2 && args[1][0] != '-') {
        cfgfile = args[1];
        j = 2;
    }
    /* "-" as the first or last option means: also read config from stdin
     * (redis-server's rule); config_load() skips the marker itself. */
    int nopts = argc - j;
    char **opts = args + j;
    if (config_cmdline_wants_stdin(cfgfile, nopts, opts)) stdin_text = read_stdin_all();
    char *err = NULL;
    if (config_load(cfgfile, stdin_text, nopts, opts, &err) != 0) {
        fputs(err ? err : "Error loading config\n", stderr);
        kl_free(err);
        exit(1);
    }
    kl_free(stdin_text);

    kl_log_set_level(g_cfg.loglevel);
    if (g_cfg.logfile && g_cfg.logfile[0]) {
        int rc = kl_log_set_file(g_cfg.logfile);
        if (rc) {
            fprintf(stderr, "Can't open the log file: %s\n", strerror(-rc));
            exit(1);
        }
    }
    /* As redis-server: a supervised server stays in the foreground, so the
     * process systemd started is the one that reports READY=1. */
    bool supervised = false;
    g_cfg.supervised = supervise_start(g_cfg.supervised, &supervised);
    if (g_cfg.daemonize && !supervised) daemonize();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    memset(&g_srv, 0, sizeof(g_srv));
    g_srv.pid = getpid();
    g_srv.supervised_name = supervise_info_name();
    g_srv.next_client_id = 1;
    g_kv.active_expire_enabled = 1;
    kl_get_random_hex_chars(g_srv.runid, 40);
    g_srv.runid[40] = '\0';
    kv_update_time();
    g_srv.start_ms = g_kv.mstime;
    g_srv.stat.reset_time_ms = g_kv.mstime;
    {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
            exe[n] = '\0';
            g_srv.executable = kl_strdup(exe);
        }
    }
    if (config_file_path()) g_srv.config_file = kl_strdup(config_file_path());

    banner();
    {
        /* maxclients needs file descriptors: raise the soft limit like Redis. */
        struct rlimit rl;
        rlim_t need = (rlim_t)g_cfg.maxclients + 32;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
            rlim_t want = need <= rl.rlim_max ? need : rl.rlim_max;
            rl.rlim_cur = want;
            setrlimit(RLIMIT_NOFILE, &rl);
            if (want < need)
                kl_warning("You requested maxclients of %d requiring at least %llu max file "
                           "descriptors; the limit is %llu.",
                           g_cfg.maxclients, (unsigned long long)need, (unsigned long long)want);
        }
    }

    if (tls_init() != 0) exit(1);
    tls_set_handshake_timeout_ms((uint64_t)g_cfg.tls_handshake_timeout);
    if (tls_wanted()) {
        tls_settings_t ts;
        tls_settings_from_config(&ts);
        char *terr = NULL;
        if (tls_configure(&ts, &terr) != 0) {
            kl_warning("Failed to configure TLS. %s", terr ? terr : "");
            fprintf(stderr, "Failed to configure TLS: %s\n", terr ? terr : "unknown error");
            kl_free(terr);
            exit(1);
        }
    }
    if (kl_alloc_set_background_thread(g_cfg.jemalloc_bg_thread) != 0 && g_cfg.jemalloc_bg_thread)
        kl_warning("Could not start jemalloc's background thread: freed memory returns to the "
                   "OS only as the program allocates");

    exec_register_kv_hooks();
    db_init(g_cfg.databases);
    if (lazyfree_start() != 0) {
        kl_warning("Failed to start the lazy-free thread");
        exit(1);
    }
    cmd_table_init();
    cmd_table_register(cmds_connection);
    cmd_table_register(cmds_server);
    cmd_table_register(cmds_string);
    cmd_table_register(cmds_keyspace);
    cmd_table_register(cmds_list);
    cmd_table_register(cmds_hash);
    cmd_table_register(cmds_set);
    cmd_table_register(cmds_zset);
    cmd_table_register(cmds_pubsub);
    cmd_table_register(cmds_multi);
    cmd_table_register(cmds_memory);
    cmd_table_register(cmds_persistence);
    cmd_table_register(cmds_dump);
    cmd_table_register(cmds_aof);
    cmd_table_register(cmds_replica);
    repl_init();
    memory_note_startup(); /* the last start-up step before the I/O layer and clients */
    iol_limits_t limits = limits_from_config();
    int nthreads = g_cfg.io_threads > 1 ? g_cfg.io_threads - 1 : 0;
    if (iol_init(nthreads, exec_hooks(), &limits) != 0) {
        kl_warning("Failed to initialise the I/O layer");
        exit(1);
    }
    iol_set_tcp_keepalive(g_cfg.tcp_keepalive);
    if (listen_all() != 0) exit(1);
    config_register_apply("port", apply_listeners);
    config_register_apply("bind", apply_bind);
    config_register_apply("proto-max-bulk-len", apply_limits);
    config_register_apply("client-query-buffer-limit", apply_limits);
    config_register_apply("client-output-buffer-limit", apply_limits);
    config_register_apply("loglevel", apply_loglevel);
    config_register_apply("tcp-keepalive", apply_keepalive);
    config_register_apply("hz", apply_hz);
    config_register_apply("jemalloc-bg-thread", apply_jemalloc_bg_thread);
    config_register_apply("tls-port", apply_tls_port);
    config_register_apply("tls-handshake-timeout", apply_tls_handshake_timeout);
    static const char *tls_dirs[] = {"tls-cert-file",
                                     "tls-key-file",
                                     "tls-key-file-pass",
                                     "tls-client-cert-file",
                                     "tls-client-key-file",
                                     "tls-client-key-file-pass",
                                     "tls-ca-cert-file",
                                     "tls-ca-cert-dir",
                                     "tls-dh-params-file",
                                     "tls-protocols",
                                     "tls-ciphers",
                                     "tls-ciphersuites",
                                     "tls-prefer-server-ciphers",
                                     "tls-session-caching",
                                     "tls-session-cache-size",
                                     "tls-session-cache-timeout",
                                     "tls-auth-clients",
                                     "tls-replication",
                                     "tls-cluster"};
    for (size_t i = 0; i < sizeof(tls_dirs) / sizeof(tls_dirs[0]); i++)
        config_register_apply(tls_dirs[i], apply_tls);
    if (iol_start() != 0) {
        kl_warning("Failed to start the I/O threads");
        exit(1);
    }
    write_pidfile();
    kl_notice("Server initialized");
    kl_notice("io-threads %d (%d I/O thread%s beside the executor)", g_cfg.io_threads, nthreads,
              nthreads == 1 ? "" : "s");
    if (g_cfg.set_proc_title) {
        char *title = config_expand_proc_title(g_cfg.proc_title_template, "keyloom-server");
        if (title) {
            proctitle_set(title);
            kl_free(title);
        }
    }
    persistence_load_at_startup(ready);

    cron_timer = iol_timer_new(cron, NULL);
    iol_timer_start(cron_timer, 1, (uint64_t)(1000 / (g_cfg.hz > 0 ? g_cfg.hz : 10)));
    if (iol_signal_watch(SIGTERM, on_signal) != 0 || iol_signal_watch(SIGINT, on_signal) != 0) {
        kl_warning("Failed to watch SIGTERM/SIGINT");
        exit(1);
    }

    for (;;) {
        while (!g_srv.shutdown_asap)
            iol_loop_run();
        if (g_srv.shutdown_saved || persistence_prepare_shutdown(g_srv.shutdown_flags) == 0) break;
        kl_warning("%s received but errors trying to shut down the server, check the logs for "
                   "more information",
                   g_srv.shutdown_flags == g_cfg.shutdown_on_sigint ? "SIGINT" : "SIGTERM");
        g_srv.shutdown_asap = 0;
    }

    /* Graceful shutdown: stop accepting, flush what clients can take, join. */
    supervise_stopping();
    close_listeners();
    repl_shutdown(); /* links and replicas close with the I/O layer below */
    iol_shutdown();
    iol_timer_free(cron_timer);
    cron_timer = NULL;
    if (pidfile_path()) unlink(pidfile_path());
    kl_warning("keyloom is now ready to exit, bye bye...");
    lazyfree_stop(); /* finishes every pending free, then joins */
    db_free_all();
    prop_free_all();
    cmd_table_free();
    slowlog_free();
    exec_free_all();
    exec_oom_free();
    reply_errorstats_free();
    kl_free(g_srv.executable);
    kl_free(g_srv.config_file);
    for (int i = 0; i < argc; i++)
        kl_free(args[i]);
    kl_free(args);
    config_free();
    tls_shutdown();
    iol_loop_close();
    return g_srv.shutdown_exit_code;
}
