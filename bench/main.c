/* keyloom-bench: a load generator for RESP servers (keyloom, Redis, ...).
 * Startup only: parse the options, build the workloads' request templates,
 * resolve the target, create the TLS context, then run each workload with
 * the engine and print its report. See bench/README.md. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "bench.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "kl_version.h"

/* The -t workloads: redis-benchmark's commands and key names. */
static const struct {
    const char *name;
    const char *cmd;
} builtin[] = {
    {"ping", "PING"},
    {"set", "SET key:__rand__ __data__"},
    {"get", "GET key:__rand__"},
    {"incr", "INCR counter:__rand__"},
    {"lpush", "LPUSH mylist __data__"},
    {"rpop", "RPOP mylist"},
    {"hset", "HSET myhash element:__rand__ __data__"},
    {"zadd", "ZADD myzset __rand__ element:__rand__"},
    {"mget", "MGET key:__rand__ key:__rand__ key:__rand__ key:__rand__ key:__rand__ key:__rand__ "
             "key:__rand__ key:__rand__ key:__rand__ key:__rand__"},
};
#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

static void usage(FILE *f) {
    fprintf(
        f,
        "Usage: keyloom-bench [options] [-- COMMAND ARGS...]\n"
        "\n"
        "Target\n"
        "  -h, --host HOST         server address (default 127.0.0.1)\n"
        "  -p, --port PORT         server port (default 6379)\n"
        "  -s, --socket PATH       Unix socket (overrides host and port)\n"
        "  -a, --password PASS     AUTH with this password (HELLO 3 AUTH with --resp3)\n"
        "      --user NAME         ACL user for AUTH (default: the default user)\n"
        "      --resp3             send HELLO 3 on every connection\n"
        "Load\n"
        "  -c, --clients N         connections (default 50)\n"
        "      --threads T         worker threads, each with its own event loop (default 1)\n"
        "  -P, --pipeline N        requests in flight per connection (default 1)\n"
        "  -n, --requests N        measured requests per workload (default 100000)\n"
        "      --duration S        run each workload for S seconds instead of -n\n"
        "      --warmup S          run S seconds before measuring (not counted)\n"
        "      --rate R            open loop: R requests/s in total on a fixed schedule; latency\n"
        "                          is measured from each request's intended send time\n"
        "      --reconnect N       new connection every N requests per connection (1: per "
        "request)\n"
        "      --timeout S         give up on a connection after S s without a reply (default 10)\n"
        "Workload\n"
        "  -t, --tests LIST        comma-separated: ping,set,get,incr,lpush,rpop,hset,zadd,mget\n"
        "                          (default: all, one after another, one report each)\n"
        "      --ratio S:G         one mixed workload of S SETs per G GETs (e.g. 1:10)\n"
        "  -- CMD ARGS...          custom command; __rand__ is a key index, __data__ the value\n"
        "  -d, --data-size N       value size in bytes (default 3)\n"
        "  -r, --keyspace N        key indexes drawn from [0, N) (default: always 0)\n"
        "      --key-dist D        uniform (default) or zipf\n"
        "      --zipf-s S          Zipf exponent (default 0.99)\n"
        "TLS\n"
        "      --tls               connect with TLS\n"
        "      --cacert F          CA certificates to verify the server with\n"
        "      --cert F, --key F   client certificate and key\n"
        "      --insecure          do not verify the server certificate\n"
        "      --sni NAME          server name to send and to verify\n"
        "      --tls-protocols L   e.g. \"TLSv1.2 TLSv1.3\"\n"
        "      --tls-ciphers L     TLS 1.2 cipher list\n"
        "      --tls-ciphersuites L  TLS 1.3 cipher suites\n"
        "      --session-reuse     resume each connection slot's last TLS session\n"
        "Output\n"
        "      --csv, --json       machine-readable summary (latencies in microseconds)\n"
        "  -q, --quiet             no live progress line\n"
        "      --help, --version\n"
        "\n"
        "Exit status: 0 when every measured request got a reply, 1 otherwise (lost\n"
        "connections, timeouts, failed AUTH/HELLO), 2 for bad options. Error replies\n"
        "are counted and shown but do not change the exit status.\n");
}

enum {
    O_USER = 256,
    O_RESP3,
    O_THREADS,
    O_DURATION,
    O_WARMUP,
    O_RATE,
    O_RECONNECT,
    O_TIMEOUT,
    O_RATIO,
    O_KEYDIST,
    O_ZIPFS,
    O_TLS,
    O_CACERT,
    O_CERT,
    O_KEY,
    O_INSECURE,
    O_SNI,
    O_PROTOCOLS,
    O_CIPHERS,
    O_CIPHERSUITES,
    O_REUSE,
    O_CSV,
    O_JSON,
    O_HELP,
    O_VERSION,
};

static const struct option longopts[] = {
    {"host", required_argument, NULL, 'h'},
    {"port", required_argument, NULL, 'p'},
    {"socket", required_argument, NULL, 's'},
    {"password", required_argument, NULL, 'a'},
    {"user", required_argument, NULL, O_USER},
    {"resp3", no_argument, NULL, O_RESP3},
    {"clients", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, O_THREADS},
    {"pipeline", required_argument, NULL, 'P'},
    {"requests", required_argument, NULL, 'n'},
    {"duration", required_argument, NULL, O_DURATION},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"rate", required_argument, NULL, O_RATE},
    {"reconnect", required_argument, NULL, O_RECONNECT},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"tests", required_argument, NULL, 't'},
    {"ratio", required_argument, NULL, O_RATIO},
    {"data-size", required_argument, NULL, 'd'},
    {"keyspace", required_argument, NULL, 'r'},
    {"key-dist", required_argument, NULL, O_KEYDIST},
    {"zipf-s", required_argument, NULL, O_ZIPFS},
    {"tls", no_argument, NULL, O_TLS},
    {"cacert", required_argument, NULL, O_CACERT},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"sni", required_argument, NULL, O_SNI},
    {"tls-protocols", required_argument, NULL, O_PROTOCOLS},
    {"tls-ciphers", required_argument, NULL, O_CIPHERS},
    {"tls-ciphersuites", required_argument, NULL, O_CIPHERSUITES},
    {"session-reuse", no_argument, NULL, O_REUSE},
    {"csv", no_argument, NULL, O_CSV},
    {"json", no_argument, NULL, O_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

static void die_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "keyloom-bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'keyloom-bench --help'.\n");
    exit(2);
}

static uint64_t opt_u64(const char *name, const char *s, uint64_t lo, uint64_t hi) {
    long long v;
    if (kl_str_to_ll(s, strlen(s), &v) || v < 0 || (uint64_t)v < lo || (uint64_t)v > hi) {
        fprintf(stderr, "keyloom-bench: bad value for %s: '%s' (%llu..%llu)\n", name, s,
                (unsigned long long)lo, (unsigned long long)hi);
        exit(2);
    }
    return (uint64_t)v;
}

static double opt_secs(const char *name, const char *s) {
    double v;
    if (kl_str_to_d(s, strlen(s), &v) || !(v >= 0) || v > 1e7)
        die_usage("bad number of seconds: '%s'", s);
    (void)name;
    return v;
}

static void workload_add_tpl(bench_workload_t *w, const char *tname, const char *cmd,
                             size_t data_size) {
    char **argv;
    size_t *lens;
    int argc;
    if (kl_split_args_len(cmd, strlen(cmd), &argv, &lens, &argc) || argc == 0)
        die_usage("bad command template '%s'", cmd);
    if (tpl_build(&w->tpl[w->ntpl], argc, argv, lens, data_size))
        die_usage("command too large: %s", cmd);
    snprintf(w->tpl_name[w->ntpl], sizeof(w->tpl_name[0]), "%s", tname);
    w->ntpl++;
    kl_free_args(argv, argc);
    kl_free(lens);
}

static const char *builtin_cmd(const char *name, size_t n) {
    for (size_t i = 0; i < NBUILTIN; i++)
        if (strlen(builtin[i].name) == n && strncasecmp(builtin[i].name, name, n) == 0)
            return builtin[i].cmd;
    return NULL;
}

/* --ratio S:G: a cycle of S+G positions with the SETs spread evenly. */
static void workload_ratio(bench_workload_t *w, const char *spec, size_t data_size) {
    const char *colon = strchr(spec, ':');
    long long s = 0, g = 0;
    if (!colon || kl_str_to_ll(spec, (size_t)(colon - spec), &s) ||
        kl_str_to_ll(colon + 1, strlen(colon + 1), &g) || s < 0 || g < 0 || s + g == 0 ||
        s + g > 100000)
        die_usage("bad --ratio '%s' (want SETS:GETS, e.g. 1:10)", spec);
    snprintf(w->name, sizeof(w->name), "SET:GET %lld:%lld", s, g);
    workload_add_tpl(w, "SET", builtin_cmd("set", 3), data_size);
    workload_add_tpl(w, "GET", builtin_cmd("get", 3), data_size);
    w->cycle_len = (uint32_t)(s + g);
    w->cycle = kl_malloc(w->cycle_len);
    for (long long i = 0; i < s + g; i++)
        w->cycle[i] = ((i + 1) * s / (s + g) > i * s / (s + g)) ? 0 : 1;
}

int main(int argc, char **argv) {
    bench_opts_t o;
    memset(&o, 0, sizeof(o));
    o.host = "127.0.0.1";
    o.port = 6379;
    o.threads = 1;
    o.clients = 50;
    o.pipeline = 1;
    o.requests = 100000;
    o.timeout_s = 10;
    o.zipf_s = 0.99;
    o.data_size = 3;
    o.progress = isatty(STDOUT_FILENO);
    const char *tests = NULL, *ratio = NULL;

    int ch;
    while ((ch = getopt_long(argc, argv, "h:p:s:a:c:P:n:t:d:r:q", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            o.host = optarg;
            break;
        case 'p':
            o.port = (int)opt_u64("--port", optarg, 1, 65535);
            break;
        case 's':
            o.socket_path = optarg;
            break;
        case 'a':
            o.password = optarg;
            break;
        case O_USER:
            o.user = optarg;
            break;
        case O_RESP3:
            o.resp3 = 1;
            break;
        case 'c':
            o.clients = (uint32_t)opt_u64("-c", optarg, 1, 1000000);
            break;
        case O_THREADS:
            o.threads = (int)opt_u64("--threads", optarg, 1, 1024);
            break;
        case 'P':
            o.pipeline = (uint32_t)opt_u64("-P", optarg, 1, 1 << 20);
            break;
        case 'n':
            o.requests = opt_u64("-n", optarg, 1, UINT64_MAX / 4);
            break;
        case O_DURATION:
            o.duration_s = opt_secs("--duration", optarg);
            break;
        case O_WARMUP:
            o.warmup_s = opt_secs("--warmup", optarg);
            break;
        case O_RATE:
            o.rate = opt_u64("--rate", optarg, 1, 1000000000ULL);
            break;
        case O_RECONNECT:
            o.reconnect = opt_u64("--reconnect", optarg, 1, UINT64_MAX / 4);
            break;
        case O_TIMEOUT:
            o.timeout_s = opt_secs("--timeout", optarg);
            break;
        case 't':
            tests = optarg;
            break;
        case O_RATIO:
            ratio = optarg;
            break;
        case 'd':
            o.data_size = (size_t)opt_u64("-d", optarg, 0, 512u << 20);
            break;
        case 'r':
            o.keyspace = opt_u64("-r", optarg, 1, TPL_KEY_LIMIT);
            break;
        case O_KEYDIST:
            if (strcasecmp(optarg, "uniform") == 0)
                o.key_dist = KEYGEN_UNIFORM;
            else if (strcasecmp(optarg, "zipf") == 0)
                o.key_dist = KEYGEN_ZIPF;
            else
                die_usage("bad --key-dist '%s' (uniform or zipf)", optarg);
            break;
        case O_ZIPFS:
            if (kl_str_to_d(optarg, strlen(optarg), &o.zipf_s) || !(o.zipf_s > 0) || o.zipf_s > 100)
                die_usage("bad --zipf-s '%s'", optarg);
            break;
        case O_TLS:
            o.tls = 1;
            break;
        case O_CACERT:
            o.cacert = optarg;
            break;
        case O_CERT:
            o.cert = optarg;
            break;
        case O_KEY:
            o.key = optarg;
            break;
        case O_INSECURE:
            o.insecure = 1;
            break;
        case O_SNI:
            o.sni = optarg;
            break;
        case O_PROTOCOLS:
            o.protocols = optarg;
            break;
        case O_CIPHERS:
            o.ciphers = optarg;
            break;
        case O_CIPHERSUITES:
            o.ciphersuites = optarg;
            break;
        case O_REUSE:
            o.session_reuse = 1;
            break;
        case O_CSV:
            o.out_fmt = OUT_CSV;
            break;
        case O_JSON:
            o.out_fmt = OUT_JSON;
            break;
        case 'q':
            o.progress = 0;
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        case O_VERSION:
            printf("keyloom-bench %s\n", KEYLOOM_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if ((uint32_t)o.threads > o.clients) die_usage("%s", "--threads must not exceed -c");
    if (o.timeout_s <= 0) die_usage("%s", "--timeout must be positive");
    if (o.session_reuse && !o.tls) die_usage("%s", "--session-reuse needs --tls");
    if (o.duration_s <= 0 && o.requests < o.clients && !o.rate)
        fprintf(stderr, "keyloom-bench: note: -n %llu < -c %u, some connections stay idle\n",
                (unsigned long long)o.requests, o.clients);

    /* Workloads: a custom command, a --ratio mix, or -t (default: all). */
    int nw = 0;
    bench_workload_t *ws = kl_calloc(NBUILTIN + 1, sizeof(*ws));
    if (optind < argc) {
        bench_workload_t *w = &ws[nw++];
        char **args = argv + optind;
        int n = argc - optind;
        if (tests || ratio) die_usage("%s", "a custom command excludes -t and --ratio");
        if (tpl_build(&w->tpl[0], n, args, NULL, o.data_size)) die_usage("%s", "bad command");
        w->ntpl = 1;
        kl_buf_t name = {0};
        for (int i = 0; i < n; i++) {
            if (i) kl_buf_append_char(&name, ' ');
            kl_buf_append_str(&name, args[i]);
        }
        snprintf(w->name, sizeof(w->name), "%s", name.p);
        snprintf(w->tpl_name[0], sizeof(w->tpl_name[0]), "%s", args[0]);
        kl_buf_free(&name);
    } else if (ratio) {
        if (tests) die_usage("%s", "--ratio excludes -t");
        workload_ratio(&ws[nw++], ratio, o.data_size);
    } else {
        const char *list = tests ? tests : "ping,set,get,incr,lpush,rpop,hset,zadd,mget";
        const char *s = list;
        while (*s) {
            const char *e = strchr(s, ',');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (n) {
                const char *cmd = builtin_cmd(s, n);
                if (!cmd) {
                    char bad[64];
                    snprintf(bad, sizeof(bad), "%.*s", (int)(n < 60 ? n : 60), s);
                    die_usage("unknown test '%s' (ping,set,get,incr,lpush,rpop,hset,zadd,mget)",
                              bad);
                }
                if (nw == (int)NBUILTIN + 1) die_usage("%s", "too many tests");
                bench_workload_t *w = &ws[nw++];
                char tname[16];
                snprintf(tname, sizeof(tname), "%.*s", (int)n, s);
                for (char *p = tname; *p; p++)
                    *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
                snprintf(w->name, sizeof(w->name), "%s", tname);
                workload_add_tpl(w, tname, cmd, o.data_size);
            }
            if (!e) break;
            s = e + 1;
        }
        if (!nw) die_usage("%s", "no tests");
    }

    bench_target_t tg;
    memset(&tg, 0, sizeof(tg));
    if (o.socket_path) {
        tg.is_unix = 1;
    } else {
        struct addrinfo hints, *ai = NULL;
        char port[16];
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        snprintf(port, sizeof(port), "%d", o.port);
        int rc = getaddrinfo(o.host, port, &hints, &ai);
        if (rc || !ai) {
            fprintf(stderr, "keyloom-bench: cannot resolve %s: %s\n", o.host, gai_strerror(rc));
            return 2;
        }
        /* A name may resolve to several addresses (localhost: ::1 and
         * 127.0.0.1) while the server listens on one: use the first that
         * accepts a connection, else the first. */
        struct addrinfo *pick = ai;
        if (ai->ai_next) {
            for (struct addrinfo *a = ai; a; a = a->ai_next) {
                int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (fd < 0) continue;
                int ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
                close(fd);
                if (ok) {
                    pick = a;
                    break;
                }
            }
        }
        memcpy(&tg.addr, pick->ai_addr, pick->ai_addrlen);
        freeaddrinfo(ai);
    }
    if (o.tls) {
        char err[256];
        tg.ssl_ctx = btls_ctx_new(&o, err, sizeof(err));
        if (!tg.ssl_ctx) {
            fprintf(stderr, "keyloom-bench: TLS: %s\n", err);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    int failed = 0;
    for (int i = 0; i < nw; i++) {
        bench_result_t r;
        bench_run(&o, &tg, &ws[i], &r);
        report_result(&o, &ws[i], &r);
        if (r.failed || r.conn_errors || r.fatal) failed = 1;
        int fatal = r.fatal;
        bench_result_free(&r);
        if (fatal) break;
    }

    for (int i = 0; i < nw; i++) {
        for (int j = 0; j < ws[i].ntpl; j++)
            tpl_free(&ws[i].tpl[j]);
        kl_free(ws[i].cycle);
    }
    kl_free(ws);
    if (tg.ssl_ctx) SSL_CTX_free(tg.ssl_ctx);
    return failed ? 1 : 0;
}
