/* Unit tests for server/config.c. Expected texts were taken from redis-server
 * 7.0.15 (CONFIG GET / CONFIG SET replies and its startup errors). Every test
 * runs in its own process (Criterion's default), starts from defaults and
 * frees everything at the end so ASan checks ownership. */
#include <criterion/criterion.h>

#include "config.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static char tmpdir[PATH_MAX];

static void setup(void) {
    kl_log_set_file("/dev/null");
    config_init_defaults();
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void) {
    config_free();
    if (tmpdir[0]) {
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        tmpdir[0] = '\0';
    }
}

TestSuite(config, .init = setup, .fini = teardown);

/* Create a private temp dir and chdir into it. */
static void in_tmpdir(void) {
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/kl_cfg_test_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "fopen %s", path);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path) {
    kl_buf_t b = {0};
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        kl_buf_append(&b, chunk, n);
    fclose(f);
    return kl_buf_detach(&b);
}

static char *fmt(const char *f, ...) {
    kl_buf_t b = {0};
    va_list ap;
    va_start(ap, f);
    kl_buf_vappendf(&b, f, ap);
    va_end(ap);
    return kl_buf_detach(&b);
}

static void load_ok(const char *text) {
    char *err = NULL;
    int rc = config_load_string(text, &err);
    cr_assert_eq(rc, 0, "loading '%s' failed: %s", text, err ? err : "");
    cr_assert_null(err);
}

/* Load text, expect the FATAL message for line `line` showing `shown` with
 * `reason`, exactly as redis-server prints it. */
static void load_err(const char *text, int line, const char *shown, const char *reason) {
    char *err = NULL;
    int rc = config_load_string(text, &err);
    char *want = fmt("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                     "Reading the configuration file, at line %d\n>>> '%s'\n%s\n",
                     line, shown, reason);
    cr_assert_lt(rc, 0, "'%s' should fail", text);
    cr_assert_not_null(err);
    cr_assert_str_eq(err, want);
    kl_free(want);
    kl_free(err);
}

/* Single-line shortcut: the shown line is the text itself. */
static void line_err(const char *line, const char *reason) {
    load_err(line, 1, line, reason);
}

static char *get(const char *name) {
    char *v = config_get_value(name);
    cr_assert_not_null(v, "unknown %s", name);
    return v;
}

static void expect_get(const char *name, const char *value) {
    char *v = get(name);
    cr_assert_str_eq(v, value, "CONFIG GET %s", name);
    kl_free(v);
}

static int set_n(char **err, int argc, ...) {
    const char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, const char *);
    va_end(ap);
    *err = NULL;
    return config_set(argc, argv, err);
}

static void set_ok(const char *name, const char *value) {
    char *err;
    int rc = set_n(&err, 2, name, value);
    cr_assert_eq(rc, 0, "CONFIG SET %s %s: %s", name, value, err ? err : "");
}

static void set_err(const char *name, const char *value, const char *reason) {
    char *err;
    char *want =
        fmt("ERR CONFIG SET failed (possibly related to argument '%s') - %s", name, reason);
    cr_assert_eq(set_n(&err, 2, name, value), -1, "CONFIG SET %s %s should fail", name, value);
    cr_assert_str_eq(err, want);
    kl_free(want);
    kl_free(err);
}

/* ---- defaults ------------------------------------------------------------ */

Test(config, defaults_struct) {
    cr_assert_eq(g_cfg.bind_count, 2);
    cr_assert_str_eq(g_cfg.bind[0], "*");
    cr_assert_str_eq(g_cfg.bind[1], "-::*");
    cr_assert_eq(g_cfg.protected_mode, 1);
    cr_assert_eq(g_cfg.port, 6379);
    cr_assert_eq(g_cfg.tcp_backlog, 511);
    cr_assert_str_eq(g_cfg.unixsocket, "");
    cr_assert_eq(g_cfg.unixsocketperm, 0);
    cr_assert_eq(g_cfg.timeout, 0);
    cr_assert_eq(g_cfg.tcp_keepalive, 300);
    cr_assert_eq(g_cfg.daemonize, 0);
    cr_assert_eq(g_cfg.loglevel, KL_LOG_NOTICE);
    cr_assert_eq(g_cfg.databases, 16);
    cr_assert_eq(g_cfg.set_proc_title, 1);
    cr_assert_str_eq(g_cfg.proc_title_template, "{title} {listen-addr} {server-mode}");
    cr_assert_str_eq(g_cfg.requirepass, "");
    cr_assert_eq(g_cfg.maxclients, 10000);
    cr_assert_eq(g_cfg.maxmemory, 0);
    cr_assert_eq(g_cfg.maxmemory_policy, KL_MAXMEMORY_NOEVICTION);
    cr_assert_eq(g_cfg.maxmemory_samples, 5);
    cr_assert_eq(g_cfg.maxmemory_eviction_tenacity, 10);
    cr_assert_eq(g_cfg.lfu_log_factor, 10);
    cr_assert_eq(g_cfg.lfu_decay_time, 1);
    cr_assert_eq(g_cfg.io_threads, 1);
    cr_assert_eq(g_cfg.hz, 10);
    cr_assert_eq(g_cfg.dynamic_hz, 1);
    cr_assert_eq(g_cfg.proto_max_bulk_len, 512LL * 1024 * 1024);
    cr_assert_eq(g_cfg.client_query_buffer_limit, 1024LL * 1024 * 1024);
    cr_assert_eq(g_cfg.client_output_buffer_limit[KL_OBUF_NORMAL].hard_bytes, 0);
    cr_assert_eq(g_cfg.client_output_buffer_limit[KL_OBUF_REPLICA].hard_bytes, 268435456ULL);
    cr_assert_eq(g_cfg.client_output_buffer_limit[KL_OBUF_REPLICA].soft_bytes, 67108864ULL);
    cr_assert_eq(g_cfg.client_output_buffer_limit[KL_OBUF_PUBSUB].soft_seconds, 60);
    cr_assert_eq(g_cfg.slowlog_log_slower_than, 10000);
    cr_assert_eq(g_cfg.slowlog_max_len, 128);
    cr_assert_eq(g_cfg.active_expire_effort, 1);
    cr_assert_str_eq(g_cfg.dbfilename, "dump.rdb");
    cr_assert_eq(g_cfg.appendonly, 0);
    cr_assert_eq(g_cfg.enable_debug_command, KL_CFG_NO);
    cr_assert_eq(g_cfg.notify_keyspace_events, 0);
    cr_assert_eq(g_cfg.list_max_listpack_size, -2);
    cr_assert_eq(g_cfg.hash_max_listpack_entries, 512);
    cr_assert_eq(g_cfg.hash_max_listpack_value, 64);
    cr_assert_eq(g_cfg.set_max_intset_entries, 512);
    cr_assert_eq(g_cfg.zset_max_listpack_entries, 128);
    cr_assert_eq(g_cfg.zset_max_listpack_value, 64);
    cr_assert_eq(g_cfg.latency_tracking, 1);
    cr_assert_eq(g_cfg.tls_port, 0);
    cr_assert_eq(g_cfg.tls_session_caching, 1);
    cr_assert_eq(g_cfg.tls_session_cache_size, 20480);
    cr_assert_eq(g_cfg.tls_session_cache_timeout, 300);
    cr_assert_eq(g_cfg.tls_auth_clients, KL_TLS_AUTH_YES);
    cr_assert_eq(g_cfg.latency_tracking_info_percentiles_len, 3);
    cr_assert_eq(g_cfg.repl_backlog_size, 1024 * 1024);
}

Test(config, defaults_as_config_get_prints_them) {
    static const char *const expect[][2] = {
        {"bind", "* -::*"},
        {"port", "6379"},
        {"protected-mode", "yes"},
        {"unixsocketperm", "0"},
        {"loglevel", "notice"},
        {"maxmemory", "0"},
        {"maxmemory-policy", "noeviction"},
        {"proto-max-bulk-len", "536870912"},
        {"client-query-buffer-limit", "1073741824"},
        {"client-output-buffer-limit",
         "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
        {"save", "3600 1 300 100 60 10000"},
        {"appendonly", "no"},
        {"notify-keyspace-events", ""},
        {"enable-debug-command", "no"},
        {"tls-auth-clients", "yes"},
        {"tls-protocols", ""},
        {"oom-score-adj-values", "0 200 800"},
        {"latency-tracking-info-percentiles", "50 99 99.9"},
        {"shutdown-on-sigint", "default"},
        {"supervised", "no"},
        {"syslog-facility", "local0"},
        {"acl-pubsub-default", "resetchannels"},
        {"replicaof", ""},
        {"slaveof", ""},
        {"maxmemory-clients", "0"},
        {"hz", "10"},
        {"lua-time-limit", "5000"},
        {"list-max-ziplist-size", "-2"},
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        expect_get(expect[i][0], expect[i][1]);
    char cwd[PATH_MAX];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    expect_get("dir", cwd);
    cr_assert_null(config_get_value("no-such-directive"));
}

Test(config, init_defaults_resets_everything) {
    load_ok("port 1\nbind a b c\nrequirepass x\nlatency-tracking-info-percentiles 1 2 3 4\n");
    config_init_defaults();
    expect_get("port", "6379");
    expect_get("bind", "* -::*");
    expect_get("requirepass", "");
    expect_get("latency-tracking-info-percentiles", "50 99 99.9");
}

/* ---- loading: syntax ----------------------------------------------------- */

Test(config, load_syntax) {
    load_ok("# comment\n\n   # indented comment\n\tport 1234 \r\nHZ 20\nMaxMemory \"1mb\"\n"
            "timeout '5'\n\n");
    cr_assert_eq(g_cfg.port, 1234);
    cr_assert_eq(g_cfg.hz, 20);
    cr_assert_eq(g_cfg.maxmemory, 1024 * 1024);
    cr_assert_eq(g_cfg.timeout, 5);
    load_ok("");
    load_ok("\n\n");
    load_ok("port 1\nport 2"); /* last one wins, no final newline needed */
    cr_assert_eq(g_cfg.port, 2);
    load_ok("requirepass \"a b\\x41\\n\"");
    cr_assert_str_eq(g_cfg.requirepass, "a bA\n");
    line_err("\"\"", "Bad directive or wrong number of arguments");
}

Test(config, load_bad_directive_and_arg_count) {
    load_err("port 6380\nfoo bar\n", 2, "foo bar", "Bad directive or wrong number of arguments");
    load_err("\n\n  foo  \n", 3, "foo", "Bad directive or wrong number of arguments");
    line_err("port 1 2", "wrong number of arguments");
    line_err("port", "wrong number of arguments");
    line_err("port 6379 # trailing comments are arguments", "wrong number of arguments");
    line_err("loglevel a b", "wrong number of arguments");
    line_err("notify-keyspace-events K E", "wrong number of arguments");
    line_err("include", "Bad directive or wrong number of arguments");
    line_err("include a b", "Bad directive or wrong number of arguments");
    line_err("module.config 1", "Bad directive or wrong number of arguments");
}

Test(config, load_unbalanced_quotes) {
    load_err("  \"unbalanced\n", 1, "\"unbalanced", "Unbalanced quotes in configuration line");
    line_err("port \"a\"b", "Unbalanced quotes in configuration line");
    line_err("port 'a", "Unbalanced quotes in configuration line");
}

Test(config, load_type_errors) {
    line_err("protected-mode maybe", "argument must be 'yes' or 'no'");
    line_err("port abc", "argument couldn't be parsed into an integer");
    line_err("port 05", "argument couldn't be parsed into an integer");
    line_err("port +5", "argument couldn't be parsed into an integer");
    line_err("port 99999999999999999999", "argument couldn't be parsed into an integer");
    line_err("port 70000", "argument must be between 0 and 65535 inclusive");
    line_err("databases 0", "argument must be between 1 and 2147483647 inclusive");
    line_err("io-threads 129", "argument must be between 1 and 128 inclusive");
    line_err("maxclients 0", "argument must be between 1 and 4294967295 inclusive");
    line_err("maxclients -1", "argument must be between 1 and 4294967295 inclusive");
    line_err("slowlog-log-slower-than -2",
             "argument must be between -1 and 9223372036854775807 inclusive");
    line_err("maxmemory 10x", "argument must be a memory value");
    line_err("maxmemory -1", "argument must be a memory value");
    line_err("proto-max-bulk-len 1000",
             "argument must be between 1048576 and 9223372036854775807 inclusive");
    line_err("hash-max-listpack-value 9223372036854775808",
             "argument must be between 0 and 9223372036854775807 inclusive");
    line_err("maxmemory-clients foo", "argument must be a memory or percent value");
    line_err("maxmemory-clients 101%", "percentage argument must be less or equal to 100");
    line_err("unixsocketperm 999", "argument couldn't be parsed as an octal number");
    line_err("unixsocketperm abc", "argument couldn't be parsed as an octal number");
    line_err("unixsocketperm 1000", "argument must be between 0 and 777 inclusive");
    line_err("unixsocketperm -1", "argument must be between 0 and 777 inclusive");
    line_err("maxmemory-policy foo",
             "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
             "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
    line_err("loglevel bar",
             "argument(s) must be one of the following: debug, verbose, notice, warning");
    line_err("enable-debug-command maybe",
             "argument(s) must be one of the following: no, yes, local");
    line_err("tls-auth-clients foo", "argument(s) must be one of the following: no, yes, optional");
    line_err("shutdown-on-sigint foo",
             "argument(s) must be one of the following: default, save, nosave, now, force");
    line_err("shutdown-on-sigint save nosave",
             "shutdown options SAVE and NOSAVE can't be used simultaneously");
}

Test(config, load_values_accepted) {
    load_ok("maxmemory 1GB\nhz 1000\nunixsocketperm 0770\nloglevel DEBUG\n"
            "maxmemory-policy ALLKEYS-LRU\nprotected-mode NO\nslowlog-log-slower-than -1\n"
            "list-max-listpack-size -5\nmaxmemory-clients 10%\nshutdown-on-sigterm \"now save\"\n"
            "proc-title-template \"{title} {port}\"\n");
    cr_assert_eq(g_cfg.maxmemory, 1024ULL * 1024 * 1024);
    cr_assert_eq(g_cfg.hz, 500, "hz is clamped like Redis");
    cr_assert_eq(g_cfg.unixsocketperm, 0770);
    expect_get("unixsocketperm", "770");
    cr_assert_eq(g_cfg.loglevel, KL_LOG_DEBUG);
    expect_get("loglevel", "debug");
    cr_assert_eq(g_cfg.maxmemory_policy, KL_MAXMEMORY_ALLKEYS_LRU);
    cr_assert_eq(g_cfg.protected_mode, 0);
    cr_assert_eq(g_cfg.slowlog_log_slower_than, -1);
    cr_assert_eq(g_cfg.list_max_listpack_size, -5);
    expect_get("maxmemory-clients", "10%");
    cr_assert_eq(g_cfg.maxmemory_clients, -10);
    cr_assert_eq(g_cfg.shutdown_on_sigterm, KL_SHUTDOWN_SAVE | KL_SHUTDOWN_NOW);
    expect_get("shutdown-on-sigterm", "save now");
    load_ok("hz 0\nloglevel nothing\n");
    cr_assert_eq(g_cfg.hz, 1);
    cr_assert_eq(g_cfg.loglevel, KL_LOG_NOTHING, "\"nothing\" is accepted (Redis 7.2)");
    load_ok("maxmemory \"\"\n");
    cr_assert_eq(g_cfg.maxmemory, 0, "an empty memory value is 0, as in Redis");
    load_ok("maxmemory 99999999999999999999\n");
    cr_assert_eq(g_cfg.maxmemory, ULLONG_MAX);
}

Test(config, load_special_directives) {
    /* bind */
    load_ok("bind 127.0.0.1 -::1\n");
    cr_assert_eq(g_cfg.bind_count, 2);
    cr_assert_str_eq(g_cfg.bind[1], "-::1");
    load_ok("bind \"127.0.0.1 ::1 10.0.0.1\"\n");
    cr_assert_eq(g_cfg.bind_count, 3);
    load_ok("bind\n");
    cr_assert_eq(g_cfg.bind_count, 0);
    load_ok("bind \"\"\n");
    cr_assert_eq(g_cfg.bind_count, 0);
    line_err("bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
             "Too many bind addresses specified.");
    /* client-output-buffer-limit */
    load_ok("client-output-buffer-limit normal 1mb 2kb 3 pubsub 4 5 6\n"
            "client-output-buffer-limit replica 7 8 9\n");
    expect_get("client-output-buffer-limit", "normal 1048576 2048 3 slave 7 8 9 pubsub 4 5 6");
    load_ok("client-output-buffer-limit \"slave 1 2 3\"\n");
    cr_assert_eq(g_cfg.client_output_buffer_limit[KL_OBUF_REPLICA].hard_bytes, 1);
    line_err("client-output-buffer-limit foo 1 2 3",
             "Invalid client class specified in buffer limit configuration.");
    line_err("client-output-buffer-limit master 1 2 3",
             "Invalid client class specified in buffer limit configuration.");
    line_err("client-output-buffer-limit normal 1 2",
             "Wrong number of arguments in buffer limit configuration.");
    line_err("client-output-buffer-limit normal a 2 3",
             "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    line_err("client-output-buffer-limit normal 1 2 -3",
             "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    line_err("client-output-buffer-limit normal 1 2 3x",
             "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    /* notify-keyspace-events */
    load_ok("notify-keyspace-events KEA\n");
    cr_assert_eq(g_cfg.notify_keyspace_events,
                 KL_NOTIFY_ALL | KL_NOTIFY_KEYSPACE | KL_NOTIFY_KEYEVENT);
    line_err("notify-keyspace-events q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    /* save: the first line replaces the default schedule, the next ones add */
    load_ok("save \"\"\nsave\n");
    cr_assert_eq(g_cfg.nsave, 0);
    load_ok("save 900 1\nsave \"300 10 60 10000\"\n");
    cr_assert_eq(g_cfg.nsave, 3);
    cr_assert_eq(g_cfg.save_params[2].seconds, 60);
    cr_assert_eq(g_cfg.save_params[2].changes, 10000);
    expect_get("save", "900 1 300 10 60 10000");
    line_err("save 900", "Invalid save parameters");
    line_err("save a b", "Invalid save parameters");
    line_err("save 0 1", "Invalid save parameters");
    /* appendonly / cluster / replication */
    load_ok("appendonly no\ncluster-enabled no\nreplicaof no one\nslaveof \"NO ONE\"\n");
    load_ok("appendonly yes\n");
    cr_assert_eq(g_cfg.appendonly, 1);
    load_ok("appendonly no\n");
    line_err("appendonly maybe", "argument must be 'yes' or 'no'");
    line_err("cluster-enabled yes", "keyloom has no cluster support; use cluster-enabled no");
    load_ok("replicaof 10.0.0.1 6379\n");
    cr_assert_str_eq(g_cfg.replicaof_host, "10.0.0.1");
    cr_assert_eq(g_cfg.replicaof_port, 6379);
    expect_get("replicaof", "10.0.0.1 6379");
    load_ok("replicaof no one\n");
    cr_assert_str_eq(g_cfg.replicaof_host, "");
    expect_get("replicaof", "");
    line_err("replicaof a", "wrong number of arguments");
    line_err("replicaof a b", "Invalid master port");
    line_err("slaveof a 70000", "Invalid master port");
    /* oom-score-adj-values and latency-tracking-info-percentiles */
    load_ok("oom-score-adj-values \"-10 0 2000\"\n");
    expect_get("oom-score-adj-values", "-10 0 2000");
    line_err("oom-score-adj-values 1 2", "wrong number of arguments");
    line_err("oom-score-adj-values 1 2 x",
             "Invalid oom-score-adj-values, elements must be between -2000 and 2000.");
    line_err("oom-score-adj-values 1 2 3000",
             "Invalid oom-score-adj-values, elements must be between -2000 and 2000.");
    load_ok("latency-tracking-info-percentiles 0.1 99.99999 100 1e2\n");
    expect_get("latency-tracking-info-percentiles", "0.1 99.99999 100 100");
    load_ok("latency-tracking-info-percentiles\n");
    expect_get("latency-tracking-info-percentiles", "");
    line_err("latency-tracking-info-percentiles 50 101",
             "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]");
    line_err("latency-tracking-info-percentiles 50 x",
             "Invalid latency-tracking-info-percentiles parameters");
}

Test(config, load_string_validators) {
    line_err("dbfilename a/b", "dbfilename can't be a path, just a filename");
    line_err("dbfilename a\\\\b", "dbfilename can't be a path, just a filename");
    line_err("appendfilename a/b", "appendfilename can't be a path, just a filename");
    line_err("appendfilename \"\"", "appendfilename can't be empty");
    line_err("appenddirname a/b", "appenddirname can't be a path, just a dirname");
    line_err("appenddirname \"\"", "appenddirname can't be empty");
    line_err("cluster-announce-hostname a_b",
             "Hostnames may only contain alphanumeric characters, hyphens or dots");
    char *long_host = fmt("cluster-announce-hostname %0300d", 0);
    line_err(long_host, "Hostnames must be less than 256 characters");
    kl_free(long_host);
    const char *bad_templates[] = {"\"{title}\"", "\"{foo}\"", "\"{title\"", "\"\"", "\"   \""};
    for (size_t i = 0; i < sizeof(bad_templates) / sizeof(bad_templates[0]); i++) {
        char *l = fmt("proc-title-template %s", bad_templates[i]);
        line_err(l, "template format is invalid or contains unknown variables");
        kl_free(l);
    }
    load_ok("proc-title-template \"{{\"\nproc-title-template \"x}\"\n");
}

Test(config, load_unsupported_and_deprecated) {
    load_ok("list-max-ziplist-entries 5\nlist-max-ziplist-value 5\nlua-replicate-commands yes\n");
    line_err("list-max-ziplist-entries 5 6", "Bad directive or wrong number of arguments");
    line_err("sentinel monitor x", "sentinel directive while not in sentinel mode");
    line_err("rename-command FLUSHALL \"\"", "rename-command is not supported by keyloom");
    line_err("user default on", "ACL users in the configuration file are not supported by keyloom");
    line_err("loadmodule /x.so", "keyloom does not support modules");
    load_err("requirepass \"a\\x00b\"", 1, "requirepass \"a\\x00b\"",
             "argument contains a NUL byte");
}

Test(config, load_dir_and_logfile) {
    in_tmpdir();
    mkdir("sub", 0755);
    load_ok("dir sub\n");
    char cwd[PATH_MAX];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    char *want = fmt("%s/sub", tmpdir);
    char *real = realpath(want, NULL);
    cr_assert_str_eq(cwd, real);
    expect_get("dir", cwd);
    free(real);
    kl_free(want);
    line_err("dir /nonexistent/x", "No such file or directory");
    load_ok("logfile x.log\n");
    cr_assert_eq(access("x.log", F_OK), 0, "the log file is test-opened like Redis");
    char *err = NULL;
    cr_assert_lt(config_load_string("logfile /nonexistent/x.log\n", &err), 0);
    cr_assert_str_eq(err, "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                          "Can't open the log file: No such file or directory\n");
    kl_free(err);
}

Test(config, sandbox_mode) {
    char cwd[PATH_MAX], after[PATH_MAX];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    config_set_sandboxed(1);
    load_ok("dir /\nlogfile /nonexistent/x.log\n");
    cr_assert_not_null(getcwd(after, sizeof(after)));
    cr_assert_str_eq(cwd, after, "sandboxed dir does not chdir");
    line_err("dir /nonexistent", "No such file or directory");
    line_err("dir /etc/passwd", "Not a directory");
    line_err("include /etc/passwd", "include is disabled in sandboxed mode");
    config_set_sandboxed(0);
}

/* ---- aliases ------------------------------------------------------------- */

Test(config, aliases) {
    load_ok("hash-max-ziplist-entries 100\nslave-read-only no\nlua-time-limit 42\n"
            "zset-max-ziplist-value 1kb\nlist-max-ziplist-size 7\n");
    cr_assert_eq(g_cfg.hash_max_listpack_entries, 100);
    cr_assert_eq(g_cfg.replica_read_only, 0);
    cr_assert_eq(g_cfg.busy_reply_threshold, 42);
    cr_assert_eq(g_cfg.zset_max_listpack_value, 1024);
    cr_assert_eq(g_cfg.list_max_listpack_size, 7);
    expect_get("hash-max-listpack-entries", "100");
    expect_get("hash-max-ziplist-entries", "100");
    set_ok("slave-priority", "5");
    cr_assert_eq(g_cfg.replica_priority, 5);
    set_err("hash-max-ziplist-value", "abc", "argument must be a memory value");
}

/* ---- include ------------------------------------------------------------- */

Test(config, include_files_and_globs) {
    in_tmpdir();
    mkdir("conf.d", 0755);
    write_file("conf.d/a.conf", "hz 33\n");
    write_file("conf.d/b.conf", "timeout 7\n");
    write_file("main.conf", "port 1\ninclude conf.d/*.conf\ninclude conf.d/none*.conf\nport 2\n");
    load_ok("include main.conf\n");
    cr_assert_eq(g_cfg.hz, 33);
    cr_assert_eq(g_cfg.timeout, 7);
    cr_assert_eq(g_cfg.port, 2);

    /* Errors inside an included file report that file's line. */
    write_file("bad.conf", "# one\n\nfoo bar\n");
    load_err("port 3\ninclude bad.conf\n", 3, "foo bar",
             "Bad directive or wrong number of arguments");

    char *err = NULL;
    cr_assert_eq(config_load_string("include missing.conf\n", &err), -ENOENT);
    cr_assert_str_eq(
        err, "Fatal error, can't open config file 'missing.conf': No such file or directory");
    kl_free(err);
    cr_assert_eq(config_load_string("include conf.d\n", &err), -EISDIR);
    kl_free(err);

    /* Self-inclusion stops at the depth limit instead of recursing forever. */
    write_file("loop.conf", "include loop.conf\n");
    cr_assert_eq(config_load_string("include loop.conf\n", &err), -ELOOP);
    cr_assert_not_null(strstr(err, "include nesting is too deep"));
    kl_free(err);
}

/* ---- command line -------------------------------------------------------- */

static int cmdline(const char *path, const char *stdin_text, char **err, int argc, ...) {
    char *argv[32];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    *err = NULL;
    return config_load(path, stdin_text, argc, argv, err);
}

Test(config, cmdline_overrides_file) {
    in_tmpdir();
    write_file("r.conf", "port 1\nhz 3\nmaxmemory 5\n");
    char *err;
    cr_assert_eq(cmdline("r.conf", NULL, &err, 6, "--port", "2", "--maxmemory", "1mb", "--bind",
                         "127.0.0.1"),
                 0, "%s", err);
    cr_assert_eq(g_cfg.port, 2, "command line after the file wins");
    cr_assert_eq(g_cfg.hz, 3);
    cr_assert_eq(g_cfg.maxmemory, 1024 * 1024);
    char *want = fmt("%s/r.conf", tmpdir);
    cr_assert_str_eq(config_file_path(), want, "absolute path remembered");
    kl_free(want);
}

Test(config, cmdline_redis_semantics) {
    char *err;
    /* Several values become one line; values are quoted so spaces survive. */
    cr_assert_eq(cmdline(NULL, NULL, &err, 4, "--bind", "127.0.0.1", "::1", "--hz=x"), -EINVAL);
    cr_assert_str_eq(err, "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                          "Reading the configuration file, at line 3\n>>> 'hz=x'\n"
                          "Bad directive or wrong number of arguments\n");
    kl_free(err);
    config_init_defaults();
    cr_assert_eq(cmdline(NULL, NULL, &err, 2, "--requirepass", "a b\"c"), 0);
    cr_assert_str_eq(g_cfg.requirepass, "a b\"c");
    cr_assert_eq(cmdline(NULL, NULL, &err, 1, "--hz 8"), 0, "name and value in one word");
    cr_assert_eq(g_cfg.hz, 8);
    cr_assert_eq(cmdline(NULL, NULL, &err, 3, "--save", "--hz", "9"), 0, "--save alone means \"\"");
    cr_assert_eq(g_cfg.hz, 9);
    cr_assert_eq(cmdline(NULL, NULL, &err, 1, "--save"), 0);
    cr_assert_eq(cmdline(NULL, NULL, &err, 4, "--maxmemory", "1mb", "--maxmemory", "2mb"), 0);
    cr_assert_eq(g_cfg.maxmemory, 2 * 1024 * 1024);
    /* Redis line numbers: the options start after "\n". */
    cr_assert_eq(cmdline(NULL, NULL, &err, 2, "--port", "abc"), -EINVAL);
    cr_assert_str_eq(err, "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                          "Reading the configuration file, at line 2\n>>> 'port \"abc\"'\n"
                          "argument couldn't be parsed into an integer\n");
    kl_free(err);
    /* A name without value swallows the next option as its value. */
    cr_assert_eq(cmdline(NULL, NULL, &err, 3, "--port", "--bind", "x"), -EINVAL);
    cr_assert_not_null(strstr(err, ">>> 'port \"--bind\" \"x\"'\nwrong number of arguments\n"));
    kl_free(err);
    cr_assert_eq(cmdline(NULL, NULL, &err, 2, "--hz", "\x01\n"), -EINVAL);
    cr_assert_not_null(strstr(err, ">>> 'hz \"\\x01\\n\"'\n"));
    kl_free(err);
    cr_assert_eq(cmdline(NULL, NULL, &err, 1, "5"), -EINVAL);
    cr_assert_not_null(strstr(err, ">>> '\"5\"'\nBad directive"));
    kl_free(err);
}

Test(config, cmdline_stdin_and_files) {
    in_tmpdir();
    write_file("a.conf", "port 1\n");
    write_file("b.conf", "port 1");
    char *err;
    char *argv_stdin[] = {"-"};
    cr_assert(config_cmdline_wants_stdin(NULL, 1, argv_stdin));
    cr_assert_not(config_cmdline_wants_stdin("a.conf", 2, (char *[]){"-", "--hz"}));
    cr_assert(config_cmdline_wants_stdin("a.conf", 3, (char *[]){"--hz", "5", "-"}));
    cr_assert_eq(cmdline("a.conf", "hz 44\n", &err, 1, "-"), 0);
    cr_assert_eq(g_cfg.hz, 44, "stdin text follows the file");
    /* Line numbers continue across file, stdin and options. */
    cr_assert_eq(cmdline("a.conf", NULL, &err, 2, "--port", "x"), -EINVAL);
    cr_assert_not_null(strstr(err, "at line 3\n"));
    kl_free(err);
    cr_assert_eq(cmdline("b.conf", NULL, &err, 2, "--port", "x"), -EINVAL);
    cr_assert_not_null(strstr(err, "at line 2\n"));
    kl_free(err);
    cr_assert_eq(cmdline("nonexist.conf", NULL, &err, 0), -ENOENT);
    char *want = fmt("Fatal error, can't open config file '%s/nonexist.conf': No such file or "
                     "directory",
                     tmpdir);
    cr_assert_str_eq(err, want);
    kl_free(want);
    kl_free(err);
}

Test(config, stock_redis_conf_loads) {
    /* The active lines of Debian's redis 7.0 redis.conf (paths adjusted). */
    load_ok("bind 127.0.0.1 -::1\nprotected-mode yes\nport 6379\ntcp-backlog 511\ntimeout 0\n"
            "tcp-keepalive 300\ndaemonize yes\npidfile /run/redis/redis-server.pid\n"
            "loglevel notice\ndatabases 16\nalways-show-logo no\nset-proc-title yes\n"
            "proc-title-template \"{title} {listen-addr} {server-mode}\"\n"
            "stop-writes-on-bgsave-error yes\nrdbcompression yes\nrdbchecksum yes\n"
            "dbfilename dump.rdb\nrdb-del-sync-files no\ndir /tmp\nreplica-serve-stale-data yes\n"
            "replica-read-only yes\nrepl-diskless-sync yes\nrepl-diskless-sync-delay 5\n"
            "repl-diskless-sync-max-replicas 0\nrepl-diskless-load disabled\n"
            "repl-disable-tcp-nodelay no\nreplica-priority 100\nacllog-max-len 128\n"
            "lazyfree-lazy-eviction no\nlazyfree-lazy-expire no\nlazyfree-lazy-server-del no\n"
            "replica-lazy-flush no\nlazyfree-lazy-user-del no\nlazyfree-lazy-user-flush no\n"
            "oom-score-adj no\noom-score-adj-values 0 200 800\ndisable-thp yes\nappendonly no\n"
            "appendfilename \"appendonly.aof\"\nappenddirname \"appendonlydir\"\n"
            "appendfsync everysec\nno-appendfsync-on-rewrite no\nauto-aof-rewrite-percentage 100\n"
            "auto-aof-rewrite-min-size 64mb\naof-load-truncated yes\naof-use-rdb-preamble yes\n"
            "aof-timestamp-enabled no\nslowlog-log-slower-than 10000\nslowlog-max-len 128\n"
            "latency-monitor-threshold 0\nnotify-keyspace-events \"\"\n"
            "hash-max-listpack-entries 512\nhash-max-listpack-value 64\n"
            "list-max-listpack-size -2\nlist-compress-depth 0\nset-max-intset-entries 512\n"
            "zset-max-listpack-entries 128\nzset-max-listpack-value 64\nhll-sparse-max-bytes 3000\n"
            "stream-node-max-bytes 4096\nstream-node-max-entries 100\nactiverehashing yes\n"
            "client-output-buffer-limit normal 0 0 0\n"
            "client-output-buffer-limit replica 256mb 64mb 60\n"
            "client-output-buffer-limit pubsub 32mb 8mb 60\nhz 10\ndynamic-hz yes\n"
            "aof-rewrite-incremental-fsync yes\nrdb-save-incremental-fsync yes\n"
            "jemalloc-bg-thread yes\n");
    cr_assert_eq(g_cfg.daemonize, 1);
    cr_assert_eq(g_cfg.bind_count, 2);
    expect_get("client-output-buffer-limit",
               "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
}

/* ---- CONFIG GET ---------------------------------------------------------- */

typedef struct pairs {
    int n;
    char names[256][64];
    char values[256][128];
} pairs_t;

static void collect(void *ctx, const char *name, const char *value, size_t vlen) {
    pairs_t *p = ctx;
    cr_assert_lt(p->n, 256);
    cr_assert_eq(strlen(value), vlen);
    snprintf(p->names[p->n], 64, "%s", name);
    snprintf(p->values[p->n], 128, "%s", value);
    p->n++;
}

static pairs_t *get_pairs(int n, const char **pats) {
    static pairs_t p;
    memset(&p, 0, sizeof(p));
    size_t c = config_get(pats, n, collect, &p);
    cr_assert_eq((int)c, p.n);
    cr_assert_eq(config_get_count(pats, n), c);
    return &p;
}

static const char *find(pairs_t *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->names[i], name)) return p->values[i];
    return NULL;
}

Test(config, get_patterns_dedup_and_aliases) {
    pairs_t *p = get_pairs(1, (const char *[]){"*"});
    /* Redis 7.0.15 reports 192 names and aliases; keyloom adds tls-handshake-timeout. */
    cr_assert_eq(p->n, 193, "every Redis 7.0.15 name and alias, plus keyloom's own");
    cr_assert_str_eq(find(p, "tls-handshake-timeout"), "10000");
    cr_assert_str_eq(find(p, "hash-max-ziplist-entries"), "512");
    cr_assert_str_eq(find(p, "slaveof"), "");

    p = get_pairs(3, (const char *[]){"port", "PORT", "Port"});
    cr_assert_eq(p->n, 1, "exact names dedup case-insensitively");
    cr_assert_str_eq(p->names[0], "port");

    p = get_pairs(1, (const char *[]){"HZ"});
    cr_assert_str_eq(p->names[0], "HZ", "an exact name is reported as typed");

    p = get_pairs(3, (const char *[]){"hz", "h?", "*z"});
    cr_assert_eq(p->n, 2, "hz once, then dynamic-hz");
    cr_assert_str_eq(p->names[0], "hz");
    cr_assert_str_eq(p->names[1], "dynamic-hz");

    p = get_pairs(1, (const char *[]){"*ziplist*"});
    cr_assert_eq(p->n, 5, "aliases match and are reported under the alias");
    cr_assert_not_null(find(p, "list-max-ziplist-size"));
    cr_assert_null(find(p, "list-max-listpack-size"));

    p = get_pairs(1, (const char *[]){"hash-max-*-entries"});
    cr_assert_eq(p->n, 2);

    p = get_pairs(2, (const char *[]){"maxmemory", "MAXMEMORY-P*"});
    cr_assert_eq(p->n, 2);
    cr_assert_str_eq(find(p, "maxmemory-policy"), "noeviction");

    p = get_pairs(3, (const char *[]){"nonexistent", "\\hz", ""});
    cr_assert_eq(p->n, 0, "no glob characters means an exact lookup");

    p = get_pairs(1, (const char *[]){"[a-b]*"});
    for (int i = 0; i < p->n; i++)
        cr_assert(p->names[i][0] == 'a' || p->names[i][0] == 'b');
    cr_assert_not_null(find(p, "bind"));
}

Test(config, get_formatting) {
    load_ok("maxmemory 2gb\nbind 127.0.0.1 ::1\nunixsocketperm 700\nnotify-keyspace-events Ex\n"
            "client-output-buffer-limit pubsub 1kb 2mb 3\n");
    expect_get("maxmemory", "2147483648");
    expect_get("bind", "127.0.0.1 ::1");
    expect_get("unixsocketperm", "700");
    expect_get("notify-keyspace-events", "xE");
    expect_get("client-output-buffer-limit",
               "normal 0 0 0 slave 268435456 67108864 60 pubsub 1024 2097152 3");
    /* Canonical notify strings, as Redis prints them. */
    static const char *const notify[][2] = {{"KEA", "AKE"},
                                            {"Kx", "xK"},
                                            {"gn", "gn"},
                                            {"An", "A"},
                                            {"AKEn", "AKE"},
                                            {"m", "m"},
                                            {"Kg$lshzxetdmnE", "AKEm"},
                                            {"", ""}};
    for (size_t i = 0; i < sizeof(notify) / sizeof(notify[0]); i++) {
        set_ok("notify-keyspace-events", notify[i][0]);
        expect_get("notify-keyspace-events", notify[i][1]);
    }
}

/* ---- CONFIG SET ---------------------------------------------------------- */

Test(config, set_values_and_errors) {
    set_ok("maxmemory", "1GB");
    cr_assert_eq(g_cfg.maxmemory, 1ULL << 30);
    set_ok("maxmemory", "1G");
    cr_assert_eq(g_cfg.maxmemory, 1000000000ULL);
    set_ok("hz", "1000");
    cr_assert_eq(g_cfg.hz, 500);
    set_ok("hz", "0");
    cr_assert_eq(g_cfg.hz, 1);
    set_err("hz", "-5", "argument must be between 0 and 2147483647 inclusive");
    set_err("maxmemory", "10x", "argument must be a memory value");
    set_err("maxmemory", " 5", "argument must be a memory value");
    set_err("protected-mode", "maybe", "argument must be 'yes' or 'no'");
    set_err("port", "abc", "argument couldn't be parsed into an integer");
    set_err("port", "70000", "argument must be between 0 and 65535 inclusive");
    set_err("maxmemory-policy", "foo",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
            "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
    set_err("client-output-buffer-limit", "normal  1 2 3",
            "Wrong number of arguments in buffer limit configuration.");
    set_ok("client-output-buffer-limit", "");
    set_ok("client-output-buffer-limit", "normal 1mb 2kb 3 replica 5 6 7");
    expect_get("client-output-buffer-limit",
               "normal 1048576 2048 3 slave 5 6 7 pubsub 33554432 8388608 60");
    set_ok("client-output-buffer-limit", "normal 1 2 9999999999");
    expect_get("client-output-buffer-limit",
               "normal 1 2 1410065407 slave 5 6 7 pubsub 33554432 8388608 60");
    set_err("notify-keyspace-events", "q", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    set_ok("bind", "127.0.0.1  ::1"); /* split on single spaces, like Redis */
    cr_assert_eq(g_cfg.bind_count, 3);
    expect_get("bind", "127.0.0.1  ::1");
    set_ok("bind", "");
    cr_assert_eq(g_cfg.bind_count, 0);
    set_ok("save", "");
    set_ok("save", "900 1 60 5");
    expect_get("save", "900 1 60 5");
    set_ok("save", "");
    expect_get("save", "");
    set_err("save", "900", "Invalid save parameters");
    set_ok("appendonly", "yes");
    expect_get("appendonly", "yes");
    set_ok("appendonly", "no");
    set_ok("requirepass", "s3cret");
    expect_get("requirepass", "s3cret");
    set_ok("loglevel", "WARNING");
    expect_get("loglevel", "warning");
    set_ok("shutdown-on-sigint", "now force");
    expect_get("shutdown-on-sigint", "now force");
    set_err("shutdown-on-sigint", "",
            "argument(s) must be one of the following: default, save, nosave, now, force");
    set_ok("latency-tracking-info-percentiles", "");
    expect_get("latency-tracking-info-percentiles", "");
    set_err("oom-score-adj-values", "1 2", "wrong number of arguments");
    set_ok("maxmemory-clients", "99999999999999999999");
    expect_get("maxmemory-clients", "1%"); /* Redis's own cast, kept */
}

Test(config, set_name_errors) {
    char *err;
    cr_assert_eq(set_n(&err, 2, "foo", "bar"), -1);
    cr_assert_str_eq(err, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    kl_free(err);
    set_err("daemonize", "yes", "can't set immutable config");
    set_err("unixsocket", "/x", "can't set immutable config");
    set_err("replicaof", "no one", "can't set immutable config");
    set_err("dir", "/tmp", "can't set protected config");
    set_err("dbfilename", "x.rdb", "can't set protected config");
    cr_assert_eq(set_n(&err, 4, "port", "1", "PORT", "2"), -1);
    cr_assert_str_eq(err, "ERR CONFIG SET failed (possibly related to argument 'PORT') - "
                          "duplicate parameter");
    kl_free(err);
    /* Name and alias are different parameters for Redis: the later wins. */
    cr_assert_eq(set_n(&err, 4, "hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "2"),
                 0);
    cr_assert_eq(g_cfg.hash_max_listpack_entries, 2);
    /* The first problem wins. */
    cr_assert_eq(set_n(&err, 4, "foo", "1", "daemonize", "yes"), -1);
    cr_assert_str_eq(err, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    kl_free(err);
    cr_assert_eq(set_n(&err, 4, "daemonize", "yes", "foo", "1"), -1);
    cr_assert_not_null(strstr(err, "'daemonize') - can't set immutable config"));
    kl_free(err);
    cr_assert_eq(set_n(&err, 4, "maxmemory", "bad", "foo", "1"), -1);
    cr_assert_not_null(strstr(err, "Unknown option"), "names are checked before values");
    kl_free(err);
    cr_assert_eq(set_n(&err, 1, "hz"), -1);
    cr_assert_str_eq(err, "ERR wrong number of arguments for 'config|set' command");
    kl_free(err);
    cr_assert_eq(set_n(&err, 3, "hz", "1", "timeout"), -1);
    cr_assert_str_eq(err, "ERR syntax error");
    kl_free(err);
    /* Embedded NUL bytes are refused, not truncated. */
    const char *argv[] = {"requirepass", "a\0b"};
    size_t lens[] = {11, 3};
    cr_assert_eq(config_set_ex(2, argv, lens, 0, &err), -1);
    cr_assert_str_eq(err, "ERR CONFIG SET failed (possibly related to argument 'requirepass') - "
                          "argument contains a NUL byte");
    kl_free(err);
}

Test(config, set_protected_configs) {
    char *err;
    in_tmpdir();
    mkdir("d", 0755);
    load_ok("enable-protected-configs local\n");
    const char *argv[] = {"dir", "d"};
    cr_assert_eq(config_set_ex(2, argv, NULL, 0, &err), -1, "remote client");
    kl_free(err);
    cr_assert_eq(config_set_ex(2, argv, NULL, KL_CONFIG_SET_LOCAL_CLIENT, &err), 0);
    char *want = fmt("%s/d", tmpdir);
    char *real = realpath(want, NULL);
    expect_get("dir", real);
    free(real);
    kl_free(want);
    load_ok("enable-protected-configs yes\n");
    set_err("dir", "/nonexistent", "No such file or directory");
    set_err("dbfilename", "a/b", "dbfilename can't be a path, just a filename");
    set_ok("dbfilename", "x.rdb");
}

/* Hooks used by the rollback tests record what they saw in g_cfg. */
static int hook_calls, tls_calls, fail_next;
static int seen_port[8];
static int seen_hz[8];

static int port_hook(char **err) {
    seen_port[hook_calls++ & 7] = g_cfg.port;
    if (fail_next) {
        fail_next = 0;
        *err = kl_strdup("Unable to listen on this port");
        return -1;
    }
    return 0;
}

static int hz_hook(char **err) {
    seen_hz[hook_calls++ & 7] = g_cfg.hz;
    return 0;
}

static int tls_hook(char **err) {
    tls_calls++;
    return 0;
}

static int silent_fail_hook(char **err) {
    return -1;
}

Test(config, set_all_or_nothing_on_bad_value) {
    char *err;
    set_ok("hz", "20");
    cr_assert_eq(config_register_apply("hz", hz_hook), 0);
    cr_assert_eq(set_n(&err, 6, "hz", "5", "timeout", "9", "maxmemory", "bad"), -1);
    cr_assert_str_eq(err, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - "
                          "argument must be a memory value");
    kl_free(err);
    cr_assert_eq(g_cfg.hz, 20, "earlier values restored");
    cr_assert_eq(g_cfg.timeout, 0);
    cr_assert_eq(hook_calls, 0, "no hook runs when a value is invalid");
}

Test(config, set_rollback_on_hook_failure) {
    char *err;
    set_ok("port", "7000");
    set_ok("hz", "20");
    set_ok("requirepass", "old");
    cr_assert_eq(config_register_apply("port", port_hook), 0);
    cr_assert_eq(config_register_apply("hz", hz_hook), 0);
    fail_next = 1;
    cr_assert_eq(set_n(&err, 6, "hz", "30", "port", "7001", "requirepass", "new"), -1);
    cr_assert_str_eq(err, "ERR CONFIG SET failed (possibly related to argument 'port') - "
                          "Unable to listen on this port");
    kl_free(err);
    cr_assert_eq(g_cfg.port, 7000);
    cr_assert_eq(g_cfg.hz, 20);
    cr_assert_str_eq(g_cfg.requirepass, "old");
    /* hz hook saw 30, port hook saw 7001 and failed, then both saw the old
     * values again during the rollback. */
    cr_assert_eq(hook_calls, 4);
    cr_assert_eq(seen_hz[0], 30);
    cr_assert_eq(seen_port[1], 7001);
    cr_assert_eq(seen_hz[2], 20);
    cr_assert_eq(seen_port[3], 7000);

    /* A hook that fails without text gives the short Redis error. */
    cr_assert_eq(config_register_apply("timeout", silent_fail_hook), 0);
    cr_assert_eq(set_n(&err, 2, "timeout", "5"), -1);
    cr_assert_str_eq(err, "ERR CONFIG SET failed (possibly related to argument 'timeout')");
    kl_free(err);
    cr_assert_eq(g_cfg.timeout, 0);
}

Test(config, set_hooks_run_once_and_only_on_change) {
    char *err;
    cr_assert_eq(config_register_apply("tls-cert-file", tls_hook), 0);
    cr_assert_eq(config_register_apply("tls-key-file", tls_hook), 0);
    cr_assert_eq(config_register_apply("tls-protocols", tls_hook), 0);
    cr_assert_eq(config_register_apply("hz", hz_hook), 0);
    cr_assert_eq(config_register_apply("nope", hz_hook), -ENOENT);
    cr_assert_eq(set_n(&err, 6, "tls-cert-file", "a.crt", "tls-key-file", "a.key", "tls-protocols",
                       "TLSv1.3"),
                 0);
    cr_assert_eq(tls_calls, 1, "a shared hook runs once per CONFIG SET");
    set_ok("tls-protocols", "TLSv1.3");
    cr_assert_eq(tls_calls, 1, "unchanged value: no hook");
    set_ok("tls-cert-file", "a.crt");
    cr_assert_eq(tls_calls, 2, "certificate paths are volatile: same path reloads");
    set_ok("hz", "10");
    cr_assert_eq(hook_calls, 0);
    set_ok("hz", "11");
    cr_assert_eq(hook_calls, 1);
}

Test(config, set_dir_rollback_restores_cwd) {
    char *err, before[PATH_MAX], after[PATH_MAX];
    in_tmpdir();
    mkdir("d", 0755);
    load_ok("enable-protected-configs yes\n");
    cr_assert_eq(config_register_apply("timeout", silent_fail_hook), 0);
    cr_assert_not_null(getcwd(before, sizeof(before)));
    cr_assert_eq(set_n(&err, 4, "dir", "d", "timeout", "3"), -1);
    kl_free(err);
    cr_assert_not_null(getcwd(after, sizeof(after)));
    cr_assert_str_eq(before, after);
}

/* ---- REWRITE ------------------------------------------------------------- */

Test(config, rewrite_without_file) {
    char *err;
    cr_assert_eq(config_rewrite(&err), -1);
    cr_assert_str_eq(err, "ERR The server is running without a config file");
    kl_free(err);
}

Test(config, rewrite_round_trip) {
    char *err;
    in_tmpdir();
    write_file("inc.conf", "\n");
    write_file("r.conf", "# top comment\n"
                         "port 0\n"
                         "hz 10\n"
                         "\n"
                         "   # indented comment\n"
                         "maxmemory 1mb\n"
                         "bind 127.0.0.1\n"
                         "bind 127.0.0.2\n"
                         "hash-max-ziplist-entries 100\n"
                         "include inc.conf\n"
                         "timeout 5\n"
                         "requirepass secret\n"
                         "pidfile /tmp/x.pid\n"
                         "\n"
                         "\n"
                         "# end\n");
    chmod("r.conf", 0600);
    cr_assert_eq(config_load("r.conf", NULL, 0, NULL, &err), 0, "%s", err);
    cr_assert_eq(set_n(&err, 14, "maxmemory", "0", "timeout", "0", "hz", "20", "loglevel",
                       "warning", "bind", "127.0.0.1 ::1", "hash-max-listpack-entries", "512",
                       "zset-max-ziplist-entries", "5"),
                 0);
    /* Lines edited by hand after startup that keyloom cannot parse. */
    FILE *f = fopen("r.conf", "a");
    fputs("foo-unknown-line\n\"unbalanced\n", f);
    fclose(f);
    cr_assert_eq(config_rewrite(&err), 0, "%s", err);
    char *got = read_all("r.conf");
    char *want = fmt("# top comment\n"
                     "port 0\n"
                     "hz 20\n"
                     "\n"
                     "# indented comment\n"
                     "maxmemory 0\n"
                     "bind 127.0.0.1 ::1\n"
                     "\n"
                     "hash-max-listpack-entries 512\n"
                     "include inc.conf\n"
                     "timeout 0\n"
                     "requirepass \"secret\"\n"
                     "pidfile \"/tmp/x.pid\"\n"
                     "\n"
                     "# end\n"
                     "# ??? foo-unknown-line\n"
                     "# ??? \"unbalanced\n"
                     "\n"
                     "# Generated by CONFIG REWRITE\n"
                     "loglevel warning\n"
                     "dir \"%s\"\n"
                     "save 3600 1\nsave 300 100\nsave 60 10000\n"
                     "zset-max-listpack-entries 5\n"
                     "latency-tracking-info-percentiles 50 99 99.9\n",
                     tmpdir);
    cr_assert_str_eq(got, want);
    kl_free(got);
    kl_free(want);
    struct stat st;
    cr_assert_eq(stat("r.conf", &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "permissions kept");

    /* The result loads back to the same values. Like Redis, the next rewrite
     * keeps the final newline as one blank line, then the file is stable. */
    config_init_defaults();
    cr_assert_eq(config_load("r.conf", NULL, 0, NULL, &err), 0, "%s", err);
    cr_assert_eq(g_cfg.hz, 20);
    cr_assert_eq(g_cfg.bind_count, 2);
    cr_assert_eq(g_cfg.zset_max_listpack_entries, 5);
    cr_assert_eq(config_rewrite(&err), 0);
    got = read_all("r.conf");
    cr_assert_eq(strcmp(got + strlen(got) - 2, "\n\n"), 0);
    cr_assert_eq(config_rewrite(&err), 0);
    char *again = read_all("r.conf");
    cr_assert_str_eq(again, got);
    kl_free(got);
    kl_free(again);
}

Test(config, rewrite_removes_unset_and_default_lines) {
    char *err;
    in_tmpdir();
    write_file("r.conf", "bind 10.0.0.1\n"
                         "masteruser foo\n"
                         "replica-announce-ip 1.2.3.4\n"
                         "maxmemory 5\n"
                         "maxmemory 6\n"
                         "client-output-buffer-limit pubsub 1 2 3\n"
                         "client-output-buffer-limit normal 0 0 0\n"
                         "replicaof no one\n"
                         "# Generated by CONFIG REWRITE\n"
                         "notify-keyspace-events KEA");
    cr_assert_eq(config_load("r.conf", NULL, 0, NULL, &err), 0, "%s", err);
    cr_assert_eq(set_n(&err, 12, "masteruser", "", "replica-announce-ip", "", "bind", "* -::*",
                       "client-output-buffer-limit", "pubsub 33554432 8388608 60 slave 1mb 2 3",
                       "notify-keyspace-events", "", "proto-max-bulk-len", "2gb"),
                 0);
    cr_assert_eq(config_rewrite(&err), 0, "%s", err);
    char *got = read_all("r.conf");
    /* Each client class takes the next existing line of the directive,
     * whatever class that line had (Redis does the same). */
    char *want = fmt("\n"
                     "maxmemory 6\n"
                     "\n"
                     "client-output-buffer-limit normal 0 0 0\n"
                     "client-output-buffer-limit replica 1mb 2 3\n"
                     "\n"
                     "# Generated by CONFIG REWRITE\n"
                     "notify-keyspace-events \"\"\n"
                     "dir \"%s\"\n"
                     "proto-max-bulk-len 2gb\n"
                     "save 3600 1\nsave 300 100\nsave 60 10000\n"
                     "latency-tracking-info-percentiles 50 99 99.9\n",
                     tmpdir);
    cr_assert_str_eq(got, want);
    kl_free(got);
    kl_free(want);
}

Test(config, rewrite_creates_missing_file_and_reports_errors) {
    char *err;
    in_tmpdir();
    write_file("r.conf", "");
    cr_assert_eq(config_load("r.conf", NULL, 0, NULL, &err), 0);
    unlink("r.conf");
    set_ok("maxmemory", "3000");
    cr_assert_eq(config_rewrite(&err), 0, "%s", err);
    char *got = read_all("r.conf");
    cr_assert_not_null(strstr(got, "# Generated by CONFIG REWRITE\n"));
    cr_assert_not_null(strstr(got, "\nmaxmemory 3000\n"));
    kl_free(got);
    /* Symlinks stay links: the target is rewritten. */
    cr_assert_eq(rename("r.conf", "target.conf"), 0);
    cr_assert_eq(symlink("target.conf", "r.conf"), 0);
    cr_assert_eq(config_rewrite(&err), 0, "%s", err);
    struct stat st;
    cr_assert_eq(lstat("r.conf", &st), 0);
    cr_assert(S_ISLNK(st.st_mode));
    if (geteuid() != 0) {
        chmod(tmpdir, 0500);
        cr_assert_eq(config_rewrite(&err), -1);
        cr_assert_str_eq(err, "ERR Rewriting config file: Permission denied");
        kl_free(err);
        chmod(tmpdir, 0700);
    }
}

/* ---- misc ---------------------------------------------------------------- */

Test(config, sensitive_names) {
    cr_assert(config_is_sensitive("requirepass"));
    cr_assert(config_is_sensitive("MASTERAUTH"));
    cr_assert(config_is_sensitive("tls-key-file-pass"));
    cr_assert(config_is_sensitive("tls-client-key-file-pass"));
    cr_assert_not(config_is_sensitive("port"));
    cr_assert_not(config_is_sensitive("nope"));
}

Test(config, proc_title_expansion) {
    load_ok("port 6380\nbind 10.0.0.1\n");
    char *t = config_expand_proc_title("{title} {listen-addr} {server-mode}", "redis-server");
    cr_assert_str_eq(t, "redis-server 10.0.0.1:6380");
    kl_free(t);
    t = config_expand_proc_title("{{x}} {port}/{tls-port} [{unixsocket}]", "");
    cr_assert_str_eq(t, "{x}} 6380/0 []");
    kl_free(t);
    load_ok("port 0\nunixsocket /tmp/k.sock\n");
    t = config_expand_proc_title("{listen-addr}", "t");
    cr_assert_str_eq(t, "unixsocket:/tmp/k.sock");
    kl_free(t);
    cr_assert_null(config_expand_proc_title("{nope}", "t"));
    cr_assert_null(config_expand_proc_title("{title", "t"));
    cr_assert_null(config_expand_proc_title("x{", "t"));
}
