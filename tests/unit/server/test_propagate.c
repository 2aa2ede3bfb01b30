/* Unit tests for server/propagate.c: the command stream an AOF or a replica
 * receives, byte for byte, and the dirty counter, with commands run through
 * the real executor (exec_hooks()->dispatch) by fake clients that have no
 * connection. A registered consumer captures the stream.
 *
 * Every expected stream was read from redis-server 7.0.15 attached as a
 * replica (PSYNC) with the same commands; random parts (SPOP's members,
 * relative expiry times) are derived from the reply and the command's clock.
 *
 * Each test runs in its own process (Criterion's default) and starts from a
 * fresh executor. */
#include <criterion/criterion.h>

#include "blocking.h"
#include "client.h"
#include "cmd.h"
#include "config.h"
#include "db.h"
#include "exec.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "lazyfree.h"
#include "propagate.h"
#include "reply.h"
#include "server.h"
#include "slowlog.h"
#include "commands.h"
#include "admin.h"
#include "iol_internal.h" /* the fake clients fill the hand-off area */
#include "kv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- harness */

#define MAX_CLIENTS 8

typedef struct fake {
    client_t *c;
    resp_batch_t batch;
    kl_buf_t reply; /* replies of the last command(s) run */
} fake_t;

static fake_t fakes[MAX_CLIENTS];
static int nfakes;

/* Two streams: everything (AOF + replicas) and an AOF-only one. */
static kl_buf_t stream, aof_stream;
static int units; /* feed calls of the main consumer (one per execution unit) */
static prop_consumer_t *consumer, *aof_consumer;

static void feed(void *arg, const char *bytes, size_t len) {
    kl_buf_append(arg, bytes, len);
    if (arg == &stream) units++;
}

static void setup(void) {
    kl_log_set_file("/dev/null");
    config_init_defaults();
    memset(&g_srv, 0, sizeof(g_srv));
    g_srv.next_client_id = 1;
    g_kv.active_expire_enabled = 1;
    kv_update_time();

    exec_register_kv_hooks();
    db_init(g_cfg.databases);
    cmd_table_init();
    kl_command_t *families[] = {cmds_connection, cmds_server, cmds_string, cmds_keyspace,
                                cmds_list,       cmds_hash,   cmds_set,    cmds_zset,
                                cmds_pubsub,     cmds_multi,  cmds_memory};
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        cmd_table_register(families[i]);
    consumer = prop_consumer_add(PROP_ALL, feed, &stream);
}

static void teardown(void) {
    const iol_hooks_t *h = exec_hooks();
    for (int i = 0; i < nfakes; i++) {
        iol_client_t *io = fakes[i].c->io;
        h->closed(io);
        iol_reply_free(&io->reply);
        h->free(io);
        resp_batch_free(&fakes[i].batch);
        kl_buf_free(&fakes[i].reply);
    }
    nfakes = 0;
    exec_free_all();
    prop_free_all();
    db_free_all();
    cmd_table_free();
    slowlog_free();
    reply_errorstats_free();
    config_free();
    kl_buf_free(&stream);
    kl_buf_free(&aof_stream);
}

TestSuite(propagate, .init = setup, .fini = teardown);

static fake_t *new_client(void) {
    cr_assert(nfakes < MAX_CLIENTS);
    const char *reject = NULL;
    iol_client_t *io =
        exec_hooks()->accept(-1, CONN_KIND_TCP, "127.0.0.1:40000", "127.0.0.1:6379", 6379, &reject);
    cr_assert_not_null(io, "accept refused: %s", reject ? reject : "?");
    fake_t *f = &fakes[nfakes++];
    memset(f, 0, sizeof(*f));
    f->c = client_of(io);
    resp_batch_init(&f->batch);
    return f;
}

/* Move what the executor replied to f->reply. */
static void collect_reply(fake_t *f) {
    iol_reply_t *r = f->c->reply;
    for (iol_rblock_t *b = r->head; b; b = b->next)
        kl_buf_append(&f->reply, b->data, b->used);
    iol_reply_free(r);
    iol_reply_init(r);
}

/* Send one command (NULL-terminated arguments) as a batch of its own.
 * Returns false when it blocked (the batch stays parked). */
static bool run(fake_t *f, ...) {
    kl_buf_t req = {0};
    const char *args[64];
    int n = 0;
    va_list ap;
    va_start(ap, f);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
        args[n++] = a;
    va_end(ap);
    kl_buf_appendf(&req, "*%d\r\n", n);
    for (int i = 0; i < n; i++)
        kl_buf_appendf(&req, "$%zu\r\n%s\r\n", strlen(args[i]), args[i]);
    resp_batch_reset(&f->batch);
    resp_parser_t p;
    resp_parser_init(&p);
    size_t used;
    cr_assert_eq(resp_parse(&p, NULL, req.p, req.len, &used, &f->batch), RESP_OK);
    cr_assert_eq(used, req.len);
    resp_parser_free(&p);
    kl_buf_free(&req);
    kl_buf_clear(&f->reply);
    /* What the I/O thread does when it dispatches a batch (iothread.c). */
    iol_client_t *io = f->c->io;
    io->exec_batch = &f->batch;
    io->exec_done = 0;
    io->exec_held = true;
    bool done = exec_hooks()->dispatch(io);
    if (done) io->exec_held = false;
    collect_reply(f);
    return done;
}

#define RUN(f, ...) run((f), __VA_ARGS__, (const char *)NULL)

/* RESP for a space-separated command (arguments have no spaces). */
static void enc_words(kl_buf_t *out, const char *words) {
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", words);
    const char *argv[32];
    int n = 0;
    for (char *save = NULL, *w = strtok_r(tmp, " ", &save); w; w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    kl_buf_appendf(out, "*%d\r\n", n);
    for (int i = 0; i < n; i++)
        kl_buf_appendf(out, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

/* Show \r\n so a failing comparison is readable. */
static char *visible(const kl_buf_t *b) {
    kl_buf_t v = {0};
    for (size_t i = 0; i < b->len; i++) {
        if (b->p[i] == '\r')
            kl_buf_append_str(&v, "\\r");
        else if (b->p[i] == '\n')
            kl_buf_append_str(&v, "\\n");
        else
            kl_buf_append_char(&v, b->p[i]);
    }
    return kl_buf_detach(&v);
}

/* Assert that the stream is exactly these commands (NULL-terminated list of
 * space-separated commands), then forget it. */
static void expect_in(kl_buf_t *s, const char *first, ...) {
    kl_buf_t want = {0};
    kl_buf_append(&want, "", 0);
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w; w = va_arg(ap, const char *))
        enc_words(&want, w);
    va_end(ap);
    kl_buf_t got = *s;
    if (!got.p) got.p = "";
    char *vg = visible(&got), *vw = visible(&want);
    cr_assert_str_eq(vg, vw, "stream differs:\n  got  %s\n  want %s", vg, vw);
    kl_free(vg);
    kl_free(vw);
    kl_buf_free(&want);
    kl_buf_clear(s);
}

#define EXPECT(...) expect_in(&stream, __VA_ARGS__, (const char *)NULL)
#define EXPECT_NOTHING() expect_in(&stream, NULL)
#define EXPECT_AOF(...) expect_in(&aof_stream, __VA_ARGS__, (const char *)NULL)

/* The elements of a flat array reply of bulk strings (SPOP with a count). */
static int reply_bulks(const kl_buf_t *r, char out[][64], int max) {
    const char *p = r->p;
    cr_assert_eq(*p, '*', "not an array: %s", r->p);
    int n = atoi(p + 1);
    p = strstr(p, "\r\n") + 2;
    for (int i = 0; i < n && i < max; i++) {
        cr_assert_eq(*p, '$');
        int len = atoi(p + 1);
        p = strstr(p, "\r\n") + 2;
        snprintf(out[i], 64, "%.*s", len, p);
        p += len + 2;
    }
    return n;
}

/* The single bulk string reply (SPOP without a count). */
static void reply_bulk_str(const kl_buf_t *r, char *out, size_t cap) {
    cr_assert_eq(r->p[0], '$', "not a bulk: %s", r->p);
    int len = atoi(r->p + 1);
    const char *p = strstr(r->p, "\r\n") + 2;
    snprintf(out, cap, "%.*s", len, p);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char fmt_bufs[8][256];
static int fmt_next;
static char *fmt(const char *f, ...) {
    char *b = fmt_bufs[fmt_next++ % 8];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, 256, f, ap);
    va_end(ap);
    return b;
}

/* Make key expire 1 ms from now and wait until it has (active expiry never
 * runs here: there is no cron). */
static void expire_soon(fake_t *f, const char *key) {
    RUN(f, "SET", key, "v", "PX", "1");
    usleep(3000);
    kl_buf_clear(&stream);
}

/* ---------------------------------------------------------------- basics */

Test(propagate, changed_commands_propagate_verbatim_and_count_dirty) {
    fake_t *a = new_client();
    uint64_t d0 = g_srv.dirty;
    RUN(a, "sadd", "s", "a", "b", "c");
    cr_assert_eq(g_srv.dirty - d0, 3);
    EXPECT("SELECT 0", "sadd s a b c");
    RUN(a, "SADD", "s", "a"); /* nothing new: nothing counted or propagated */
    cr_assert_eq(g_srv.dirty - d0, 3);
    EXPECT_NOTHING();
    RUN(a, "SREM", "s", "a", "x");
    RUN(a, "HSET", "h", "f", "v");
    RUN(a, "ZADD", "z", "1", "m");
    RUN(a, "LPUSH", "l", "x", "y");
    cr_assert_eq(g_srv.dirty - d0, 3 + 1 + 1 + 1 + 2);
    EXPECT("SREM s a x", "HSET h f v", "ZADD z 1 m", "LPUSH l x y");
    cr_assert_eq(units, 5, "one unit per command, got %d", units);
}

Test(propagate, unchanged_commands_propagate_nothing) {
    fake_t *a = new_client();
    RUN(a, "SET", "k", "v");
    kl_buf_clear(&stream);
    uint64_t d0 = g_srv.dirty;
    RUN(a, "DEL", "missing");
    RUN(a, "SREM", "nos", "a");
    RUN(a, "SPOP", "k2", "0");
    RUN(a, "SET", "k", "v", "NX");
    RUN(a, "EXPIRE", "missing", "10");
    RUN(a, "HDEL", "h", "f");
    RUN(a, "GET", "k");
    RUN(a, "LPOP", "nol");
    RUN(a, "ZREM", "z", "m");
    RUN(a, "SETRANGE", "k", "0", "");
    RUN(a, "PERSIST", "k");
    RUN(a, "SET", "k", "v", "XX", "GET", "NX"); /* syntax error */
    cr_assert_eq(g_srv.dirty, d0);
    EXPECT_NOTHING();
}

Test(propagate, select_follows_the_database_of_each_command) {
    fake_t *a = new_client(), *b = new_client();
    RUN(a, "SET", "x", "1");
    RUN(b, "SELECT", "3");
    RUN(b, "SET", "y", "1");
    RUN(b, "SET", "y2", "1");
    RUN(a, "SET", "z", "1");
    EXPECT("SELECT 0", "SET x 1", "SELECT 3", "SET y 1", "SET y2 1", "SELECT 0", "SET z 1");
    /* A consumer registered later starts with its own SELECT. */
    aof_consumer = prop_consumer_add(PROP_AOF, feed, &aof_stream);
    RUN(a, "SET", "z", "2");
    EXPECT("SET z 2");
    EXPECT_AOF("SELECT 0", "SET z 2");
    prop_consumer_reset_db(consumer);
    RUN(a, "SET", "z", "3");
    EXPECT("SELECT 0", "SET z 3");
}

Test(propagate, no_consumer_builds_nothing_but_still_counts) {
    fake_t *a = new_client();
    prop_consumer_remove(consumer);
    consumer = NULL;
    cr_assert_eq(prop_consumer_count(), 0);
    cr_assert(!prop_wanted());
    uint64_t d0 = g_srv.dirty;
    RUN(a, "SADD", "s", "a", "b");
    RUN(a, "EXPIRE", "s", "100");
    RUN(a, "SPOP", "s", "1");
    cr_assert_eq(g_srv.dirty - d0, 4);
    cr_assert_eq(stream.len, 0);
    /* Registering again: the stream starts with the next command. */
    consumer = prop_consumer_add(PROP_ALL, feed, &stream);
    RUN(a, "SADD", "s", "c");
    EXPECT("SELECT 0", "SADD s c");
}

/* ---------------------------------------------------------------- expiry rewrites */

Test(propagate, expire_family_becomes_pexpireat) {
    fake_t *a = new_client();
    RUN(a, "SET", "k", "v");
    kl_buf_clear(&stream);
    RUN(a, "EXPIRE", "k", "100");
    EXPECT(fmt("PEXPIREAT k %lld", (long long)g_kv.mstime + 100000));
    RUN(a, "expire", "k", "200", "GT");
    EXPECT(fmt("PEXPIREAT k %lld GT", (long long)g_kv.mstime + 200000));
    RUN(a, "PEXPIRE", "k", "300000");
    EXPECT(fmt("PEXPIREAT k %lld", (long long)g_kv.mstime + 300000));
    RUN(a, "EXPIREAT", "k", "99999999999");
    EXPECT("PEXPIREAT k 99999999999000");
    RUN(a, "pexpireat", "k", "99999999999999"); /* already absolute: as received */
    EXPECT("pexpireat k 99999999999999");
    RUN(a, "EXPIRE", "k", "100", "NX"); /* has a TTL: nothing */
    EXPECT_NOTHING();
    RUN(a, "EXPIREAT", "k", "1"); /* in the past: deleted */
    EXPECT("DEL k");
    RUN(a, "CONFIG", "SET", "lazyfree-lazy-expire", "yes");
    RUN(a, "SET", "k", "v");
    RUN(a, "EXPIRE", "k", "-1");
    RUN(a, "SET", "k2", "v");
    RUN(a, "GETEX", "k2", "PXAT", "1");
    EXPECT("SET k v", "UNLINK k", "SET k2 v", "UNLINK k2");
}

Test(propagate, set_with_expire_becomes_set_pxat) {
    fake_t *a = new_client();
    RUN(a, "SET", "a", "1", "EX", "100");
    EXPECT("SELECT 0", fmt("SET a 1 PXAT %lld", (long long)g_kv.mstime + 100000));
    RUN(a, "set", "a", "1", "px", "100000");
    EXPECT(fmt("SET a 1 PXAT %lld", (long long)g_kv.mstime + 100000));
    RUN(a, "SET", "a", "1", "EXAT", "99999999999");
    EXPECT("SET a 1 PXAT 99999999999000");
    RUN(a, "set", "a", "1", "pxat", "99999999999999"); /* 7.0.15 rewrites this one too */
    EXPECT("SET a 1 PXAT 99999999999999");
    RUN(a, "SET", "a", "2", "PXAT", "99999999999999", "GET");
    EXPECT("SET a 2 PXAT 99999999999999");
    RUN(a, "SETEX", "a", "100", "v");
    EXPECT(fmt("SET a v PXAT %lld", (long long)g_kv.mstime + 100000));
    RUN(a, "PSETEX", "a", "100000", "w");
    EXPECT(fmt("SET a w PXAT %lld", (long long)g_kv.mstime + 100000));
    /* No expire: as received, without GET. */
    RUN(a, "set", "a", "3", "GET");
    RUN(a, "set", "a", "4", "get", "XX", "GET");
    RUN(a, "set", "a", "5", "XX", "KEEPTTL");
    RUN(a, "setnx", "b", "1");
    EXPECT("set a 3", "set a 4 XX", "set a 5 XX KEEPTTL", "setnx b 1");
}

Test(propagate, getex_becomes_pexpireat_persist_or_del) {
    fake_t *a = new_client();
    RUN(a, "SET", "c", "1");
    kl_buf_clear(&stream);
    RUN(a, "GETEX", "c", "EX", "100");
    EXPECT(fmt("PEXPIREAT c %lld", (long long)g_kv.mstime + 100000));
    RUN(a, "GETEX", "c", "PX", "100000");
    EXPECT(fmt("PEXPIREAT c %lld", (long long)g_kv.mstime + 100000));
    RUN(a, "GETEX", "c", "EXAT", "99999999999");
    RUN(a, "GETEX", "c", "PXAT", "99999999999999");
    RUN(a, "GETEX", "c", "PERSIST");
    RUN(a, "GETEX", "c", "PERSIST"); /* no TTL any more: nothing */
    RUN(a, "GETEX", "c");
    RUN(a, "GETEX", "c", "EXAT", "1");
    RUN(a, "GETEX", "c", "EX", "100"); /* gone: nothing */
    EXPECT("PEXPIREAT c 99999999999000", "PEXPIREAT c 99999999999999", "PERSIST c", "DEL c");
}

/* ---------------------------------------------------------------- value rewrites */

Test(propagate, nondeterministic_results_go_as_values) {
    fake_t *a = new_client();
    RUN(a, "SET", "b", "1");
    kl_buf_clear(&stream);
    RUN(a, "GETSET", "b", "2");
    RUN(a, "INCRBYFLOAT", "b", "1.5");
    RUN(a, "SET", "b", "3", "EX", "100");
    kl_buf_clear(&stream);
    RUN(a, "incrbyfloat", "b", "1.50"); /* KEEPTTL keeps b's TTL on the other side */
    RUN(a, "HINCRBYFLOAT", "h", "f", "1.5");
    RUN(a, "hincrbyfloat", "h", "f", "1.50");
    RUN(a, "INCRBYFLOAT", "n", "0.1");
    EXPECT("SET b 4.5 KEEPTTL", "HSET h f 1.5", "HSET h f 3", "SET n 0.1 KEEPTTL");
}

Test(propagate, getset_and_getdel) {
    fake_t *a = new_client();
    RUN(a, "SET", "b", "1");
    RUN(a, "getset", "b", "2");
    RUN(a, "GETDEL", "b");
    RUN(a, "GETDEL", "b"); /* gone: nothing */
    RUN(a, "CONFIG", "SET", "lazyfree-lazy-user-del", "yes");
    RUN(a, "SET", "k", "1");
    RUN(a, "GETDEL", "k");
    RUN(a, "SET", "k", "1");
    RUN(a, "DEL", "k"); /* DEL itself goes as received */
    EXPECT("SELECT 0", "SET b 1", "SET b 2", "DEL b", "SET k 1", "UNLINK k", "SET k 1", "DEL k");
}

Test(propagate, spop_becomes_srem) {
    fake_t *a = new_client();
    char m[64], ms[16][64];
    RUN(a, "SADD", "s", "a", "b", "c");
    kl_buf_clear(&stream);
    uint64_t d0 = g_srv.dirty;
    RUN(a, "SPOP", "s");
    reply_bulk_str(&a->reply, m, sizeof(m));
    EXPECT(fmt("SREM s %s", m));
    cr_assert_eq(g_srv.dirty - d0, 1);

    /* A few of many: one SREM per member, in reply order, in MULTI/EXEC. */
    RUN(a, "SADD", "s2", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10");
    kl_buf_clear(&stream);
    d0 = g_srv.dirty;
    RUN(a, "SPOP", "s2", "3");
    cr_assert_eq(reply_bulks(&a->reply, ms, 16), 3);
    cr_assert_eq(g_srv.dirty - d0, 3);
    EXPECT("MULTI", fmt("SREM s2 %s", ms[0]), fmt("SREM s2 %s", ms[1]), fmt("SREM s2 %s", ms[2]),
           "EXEC");
    /* One member: a single SREM, no MULTI. */
    RUN(a, "SPOP", "s2", "1");
    cr_assert_eq(reply_bulks(&a->reply, ms, 16), 1);
    EXPECT(fmt("SREM s2 %s", ms[0]));
    /* Most of the set (the members that stay are moved to a new set). */
    RUN(a, "SPOP", "s2", "5");
    cr_assert_eq(reply_bulks(&a->reply, ms, 16), 5);
    EXPECT("MULTI", fmt("SREM s2 %s", ms[0]), fmt("SREM s2 %s", ms[1]), fmt("SREM s2 %s", ms[2]),
           fmt("SREM s2 %s", ms[3]), fmt("SREM s2 %s", ms[4]), "EXEC");
    /* All of it: DEL (7.0.15 says DEL even with lazyfree-lazy-server-del). */
    RUN(a, "CONFIG", "SET", "lazyfree-lazy-server-del", "yes");
    d0 = g_srv.dirty;
    RUN(a, "SPOP", "s2", "100");
    cr_assert_eq(g_srv.dirty - d0, 1);
    EXPECT("DEL s2");
    /* Strings too. */
    RUN(a, "SADD", "t", "x1", "y2");
    RUN(a, "SPOP", "t", "1");
    reply_bulks(&a->reply, ms, 16);
    EXPECT("SADD t x1 y2", fmt("SREM t %s", ms[0]));
}

/* ---------------------------------------------------------------- blocking pops */

Test(propagate, blocking_pops_served_at_once_go_as_plain_pops) {
    fake_t *a = new_client();
    RUN(a, "RPUSH", "l", "1", "2", "3", "4", "5", "6");
    RUN(a, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d");
    kl_buf_clear(&stream);
    uint64_t d0 = g_srv.dirty;
    RUN(a, "BLPOP", "nol", "l", "0");
    RUN(a, "brpop", "l", "0");
    RUN(a, "BLMOVE", "l", "l2", "LEFT", "right", "0");
    RUN(a, "BRPOPLPUSH", "l", "l2", "0");
    RUN(a, "LMPOP", "2", "nol", "l", "LEFT", "COUNT", "10");
    RUN(a, "BLMPOP", "0", "1", "l2", "RIGHT", "COUNT", "200");
    cr_assert_eq(g_srv.dirty - d0, 1 + 1 + 1 + 1 + 2 + 2);
    EXPECT("LPOP l", "RPOP l", "LMOVE l l2 LEFT right", "RPOPLPUSH l l2", "LPOP l 2", "RPOP l2 2");
    RUN(a, "BZPOPMIN", "z", "0");
    RUN(a, "bzpopmax", "z", "0");
    RUN(a, "ZMPOP", "1", "z", "MIN", "COUNT", "10");
    RUN(a, "ZADD", "z", "1", "a", "2", "b");
    RUN(a, "BZMPOP", "0", "1", "z", "MAX");
    RUN(a, "ZPOPMIN", "z", "5"); /* as received */
    EXPECT("ZPOPMIN z", "ZPOPMAX z", "ZPOPMIN z 2", "ZADD z 1 a 2 b", "ZPOPMAX z 1", "ZPOPMIN z 5");
}

/* c blocks on its command; b's push serves it: b's command and c's pop are
 * two units, in that order, never wrapped together. */
static void served_later(const char *want_pop, uint64_t want_dirty, const char *push_words, ...) {
    fake_t *b = new_client(), *c = new_client();
    RUN(b, "SET", "warmup", "1");
    kl_buf_clear(&stream);
    const char *args[16] = {0};
    int n = 0;
    va_list ap;
    va_start(ap, push_words);
    for (const char *x; (x = va_arg(ap, const char *)) != NULL;)
        args[n++] = x;
    va_end(ap);
    args[n] = NULL;
    cr_assert(!run(c, args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7],
                   (const char *)NULL),
              "did not block");
    cr_assert_eq(stream.len, 0);
    uint64_t d0 = g_srv.dirty;
    int u0 = units;
    char tmp[128], *w[8] = {0};
    int nw = 0;
    snprintf(tmp, sizeof(tmp), "%s", push_words);
    for (char *save = NULL, *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save))
        w[nw++] = t;
    w[nw] = NULL;
    run(b, w[0], w[1], w[2], w[3], w[4], w[5], w[6], (const char *)NULL);
    collect_reply(c);
    cr_assert(c->reply.len > 0, "blocked client was not served");
    cr_assert_eq(units - u0, 2, "units: %d", units - u0);
    EXPECT(push_words, want_pop);
    cr_assert_eq(g_srv.dirty - d0, want_dirty, "dirty +%llu",
                 (unsigned long long)(g_srv.dirty - d0));
}

Test(propagate, blpop_served_later_is_lpop_without_dirty) {
    served_later("LPOP bl", 2, "rpush bl a b", "BLPOP", "bl", "0", NULL, NULL, NULL, NULL, NULL,
                 NULL);
}

Test(propagate, brpop_served_later_is_rpop) {
    served_later("RPOP bl", 2, "rpush bl a b", "BRPOP", "bl", "0", NULL, NULL, NULL, NULL, NULL,
                 NULL);
}

Test(propagate, blmove_served_later_spells_left_right) {
    served_later("LMOVE bl dst left right", 2, "rpush bl x y", "BLMOVE", "bl", "dst", "LEFT",
                 "RIGHT", "0", NULL, NULL, NULL);
}

Test(propagate, brpoplpush_served_later_is_rpoplpush) {
    served_later("RPOPLPUSH bl dst", 2, "rpush bl x y", "BRPOPLPUSH", "bl", "dst", "0", NULL, NULL,
                 NULL, NULL);
}

Test(propagate, blmpop_served_later_is_pop_with_count) {
    served_later("LPOP bl 2", 4, "rpush bl x y", "BLMPOP", "0", "1", "bl", "LEFT", "COUNT", "5",
                 NULL, NULL);
}

Test(propagate, bzpopmin_served_later_is_zpopmin) {
    served_later("ZPOPMIN bz", 3, "zadd bz 1 a 2 b", "BZPOPMIN", "bz", "0", NULL, NULL, NULL, NULL,
                 NULL, NULL);
}

Test(propagate, bzmpop_served_later_is_zpopmax_with_count) {
    served_later("ZPOPMAX bz 2", 4, "zadd bz 1 a 2 b", "BZMPOP", "0", "1", "bz", "MAX", "COUNT",
                 "5", NULL, NULL);
}

Test(propagate, clients_resumed_by_unpause_are_units_of_their_own) {
    fake_t *a = new_client(), *p = new_client(), *q = new_client();
    RUN(a, "SET", "warmup", "1");
    kl_buf_clear(&stream);
    RUN(a, "CLIENT", "PAUSE", "100000", "WRITE");
    cr_assert(!RUN(p, "SET", "x", "1"), "a write waits during CLIENT PAUSE WRITE");
    cr_assert(!RUN(q, "SADD", "s", "m"));
    int u0 = units;
    RUN(a, "CLIENT", "UNPAUSE");
    collect_reply(p);
    collect_reply(q);
    cr_assert_str_eq(p->reply.p, "+OK\r\n");
    cr_assert_str_eq(q->reply.p, ":1\r\n");
    /* Not one MULTI/EXEC around both: each resumed command is its own unit,
     * run after CLIENT UNPAUSE, not inside it. */
    cr_assert_eq(units - u0, 2, "units: %d", units - u0);
    EXPECT("SET x 1", "SADD s m");
}

/* ---------------------------------------------------------------- transactions */

Test(propagate, exec_wraps_more_than_one_command) {
    fake_t *a = new_client();
    RUN(a, "MULTI");
    RUN(a, "set", "m1", "1");
    RUN(a, "set", "m2", "2");
    RUN(a, "EXEC");
    EXPECT("SELECT 0", "MULTI", "set m1 1", "set m2 2", "EXEC");
    /* One write among reads: that write alone. */
    RUN(a, "MULTI");
    RUN(a, "set", "m1", "1");
    RUN(a, "get", "m1");
    RUN(a, "EXEC");
    EXPECT("set m1 1");
    /* Commands that changed nothing are not part of it. */
    RUN(a, "MULTI");
    RUN(a, "sadd", "ms", "a");
    RUN(a, "sadd", "ms", "a");
    RUN(a, "get", "m1");
    RUN(a, "set", "m1", "2");
    RUN(a, "EXEC");
    EXPECT("MULTI", "sadd ms a", "set m1 2", "EXEC");
    RUN(a, "MULTI");
    RUN(a, "get", "m1");
    RUN(a, "EXEC");
    EXPECT_NOTHING();
    RUN(a, "MULTI");
    RUN(a, "sadd", "ms", "b");
    RUN(a, "EXEC");
    EXPECT("sadd ms b");
    /* SELECT inside: the MULTI carries the first command's db, as 7.0. */
    RUN(a, "MULTI");
    RUN(a, "select", "1");
    RUN(a, "set", "x", "1");
    RUN(a, "select", "0");
    RUN(a, "set", "y", "1");
    RUN(a, "EXEC");
    EXPECT("SELECT 1", "MULTI", "set x 1", "SELECT 0", "set y 1", "EXEC");
    /* An aborted transaction propagates nothing. */
    RUN(a, "MULTI");
    RUN(a, "set", "x", "1");
    RUN(a, "nosuchcommand");
    RUN(a, "EXEC");
    EXPECT_NOTHING();
}

Test(propagate, publish_goes_to_replicas_only) {
    fake_t *a = new_client();
    aof_consumer = prop_consumer_add(PROP_AOF, feed, &aof_stream);
    uint64_t d0 = g_srv.dirty;
    RUN(a, "publish", "ch", "msg");
    RUN(a, "spublish", "ch", "msg");
    cr_assert_eq(g_srv.dirty, d0);
    EXPECT("SELECT 0", "publish ch msg", "spublish ch msg");
    cr_assert_eq(aof_stream.len, 0);
    RUN(a, "MULTI");
    RUN(a, "publish", "ch", "msg");
    RUN(a, "set", "a", "1");
    RUN(a, "EXEC");
    EXPECT("MULTI", "publish ch msg", "set a 1", "EXEC");
    /* With a replica listening the AOF's share keeps the wrapper, even
     * when empty: redis-server 7.0.15 with AOF on and a replica attached. */
    EXPECT_AOF("SELECT 0", "MULTI", "set a 1", "EXEC");
    RUN(a, "MULTI");
    RUN(a, "publish", "ch", "1");
    RUN(a, "publish", "ch", "2");
    RUN(a, "EXEC");
    EXPECT("MULTI", "publish ch 1", "publish ch 2", "EXEC");
    EXPECT_AOF("MULTI", "EXEC");
}

Test(propagate, publish_is_not_queued_without_a_replica_stream) {
    fake_t *a = new_client();
    prop_consumer_remove(consumer);
    consumer = NULL;
    aof_consumer = prop_consumer_add(PROP_AOF, feed, &aof_stream);
    /* redis-server 7.0.15 with AOF on and no replica: PUBLISH is not part
     * of the unit, so the SET is not wrapped. */
    RUN(a, "MULTI");
    RUN(a, "publish", "ch", "msg");
    RUN(a, "set", "a", "1");
    RUN(a, "EXEC");
    RUN(a, "publish", "ch", "msg");
    EXPECT_AOF("SELECT 0", "set a 1");
}

Test(propagate, flush_always_propagates) {
    /* No save points (as `save ""`): with them FLUSHALL saves, which resets
     * the dirty counter as in redis-server 7.0.15. */
    int nsave = g_cfg.nsave;
    g_cfg.nsave = 0;
    fake_t *a = new_client();
    uint64_t d0 = g_srv.dirty;
    RUN(a, "FLUSHALL");
    RUN(a, "flushdb", "async");
    cr_assert_eq(g_srv.dirty, d0);
    RUN(a, "SET", "a", "1");
    RUN(a, "SET", "b", "1");
    RUN(a, "FLUSHALL", "SYNC");
    cr_assert_eq(g_srv.dirty - d0, 4);
    EXPECT("SELECT 0", "FLUSHALL", "flushdb async", "SET a 1", "SET b 1", "FLUSHALL SYNC");
    g_cfg.nsave = nsave;
}

Test(propagate, keyspace_commands_go_as_received) {
    fake_t *a = new_client();
    RUN(a, "SET", "z", "1");
    RUN(a, "move", "z", "1");
    RUN(a, "move", "z", "1"); /* gone: nothing */
    RUN(a, "SET", "z", "1");
    RUN(a, "copy", "z", "z2", "db", "2");
    RUN(a, "rename", "z", "z3");
    RUN(a, "rename", "z3", "z3"); /* same key: nothing */
    RUN(a, "renamenx", "z3", "z4");
    RUN(a, "swapdb", "0", "1");
    RUN(a, "del", "z", "nokey"); /* db 0 now holds the z moved to db 1 */
    EXPECT("SELECT 0", "SET z 1", "move z 1", "SET z 1", "copy z z2 db 2", "rename z z3",
           "renamenx z3 z4", "swapdb 0 1", "del z nokey");
}

/* ---------------------------------------------------------------- server-side deletions */

Test(propagate, lazy_expiry_joins_the_command_that_found_it) {
    fake_t *a = new_client();
    expire_soon(a, "e1");
    RUN(a, "GET", "e1"); /* a read: the DEL alone */
    EXPECT("DEL e1");
    expire_soon(a, "e2");
    expire_soon(a, "e3");
    RUN(a, "EXISTS", "e2", "e3"); /* two DELs: one unit */
    EXPECT("MULTI", "DEL e2", "DEL e3", "EXEC");
    expire_soon(a, "e4");
    RUN(a, "set", "e4", "new"); /* the DEL comes before the write that found it */
    EXPECT("MULTI", "DEL e4", "set e4 new", "EXEC");
    expire_soon(a, "e5");
    RUN(a, "sadd", "e5", "x");
    EXPECT("MULTI", "DEL e5", "sadd e5 x", "EXEC");
    expire_soon(a, "e6");
    RUN(a, "MULTI");
    RUN(a, "get", "e6");
    RUN(a, "set", "q", "1");
    RUN(a, "EXEC");
    EXPECT("MULTI", "DEL e6", "set q 1", "EXEC");
    expire_soon(a, "e7");
    RUN(a, "EXPIRE", "e7", "100"); /* found expired: the DEL only */
    EXPECT("DEL e7");
    RUN(a, "CONFIG", "SET", "lazyfree-lazy-expire", "yes");
    expire_soon(a, "e8");
    RUN(a, "TYPE", "e8");
    EXPECT("UNLINK e8");
}

Test(propagate, scan_and_randomkey_expiries_are_not_wrapped) {
    fake_t *a = new_client();
    expire_soon(a, "g1");
    expire_soon(a, "g2");
    int u0 = units;
    RUN(a, "SCAN", "0");
    cr_assert_eq(units - u0, 1);
    /* dict order decides which comes first */
    kl_buf_t one = {0}, two = {0};
    enc_words(&one, "DEL g1");
    enc_words(&one, "DEL g2");
    enc_words(&two, "DEL g2");
    enc_words(&two, "DEL g1");
    cr_assert(stream.len == one.len &&
                  (!memcmp(stream.p, one.p, one.len) || !memcmp(stream.p, two.p, two.len)),
              "got %s", visible(&stream));
    kl_buf_free(&one);
    kl_buf_free(&two);
    kl_buf_clear(&stream);
    expire_soon(a, "h1");
    RUN(a, "RANDOMKEY");
    EXPECT("DEL h1");
    /* KEYS and DBSIZE do not delete (Redis 7.0). */
    expire_soon(a, "i1");
    RUN(a, "KEYS", "*");
    RUN(a, "DBSIZE");
    EXPECT_NOTHING();
}

Test(propagate, active_expiry_emits_each_key_alone) {
    fake_t *a = new_client();
    RUN(a, "SET", "x1", "v", "PX", "1");
    RUN(a, "SET", "x2", "v", "PX", "1");
    RUN(a, "SELECT", "2");
    RUN(a, "SET", "x3", "v", "PX", "1");
    kl_buf_clear(&stream);
    usleep(3000);
    int u0 = units;
    uint64_t d0 = g_srv.dirty;
    db_active_expire_cycle(1000000);
    cr_assert_eq(units - u0, 3, "one unit per expired key, got %d", units - u0);
    cr_assert_eq(g_srv.dirty, d0, "expiry is not a change");
    cr_assert_null(strstr(stream.p, "MULTI"));
    /* Keys of db 0 first, each alone; then db 2 with its SELECT. */
    char *v = visible(&stream);
    const char *want_tail = "*2\\r\\n$6\\r\\nSELECT\\r\\n$1\\r\\n2\\r\\n*2\\r\\n$3\\r\\nDEL\\r\\n"
                            "$2\\r\\nx3\\r\\n";
    cr_assert(strlen(v) > strlen(want_tail) &&
                  !strcmp(v + strlen(v) - strlen(want_tail), want_tail),
              "got %s", v);
    kl_free(v);
}

Test(propagate, eviction_emits_each_key_alone_before_the_command) {
    fake_t *a = new_client();
    RUN(a, "SET", "big", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    kl_buf_clear(&stream);
    RUN(a, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
    RUN(a, "CONFIG", "SET", "lazyfree-lazy-eviction", "yes");
    RUN(a, "CONFIG", "SET", "maxmemory", "1");
    uint64_t d0 = g_srv.dirty;
    RUN(a, "SET", "new", "1"); /* evicts big, then is refused: OOM */
    cr_assert_eq(g_srv.dirty, d0);
    RUN(a, "CONFIG", "SET", "maxmemory", "0");
    EXPECT("UNLINK big");
}

/* ---------------------------------------------------------------- consumers */

static prop_consumer_t *self_removing;
static kl_buf_t self_stream;

static void feed_once(void *arg, const char *bytes, size_t len) {
    kl_buf_append(arg, bytes, len);
    prop_consumer_remove(self_removing);
    self_removing = NULL;
}

Test(propagate, consumer_may_leave_from_its_callback) {
    fake_t *a = new_client();
    self_removing = prop_consumer_add(PROP_ALL, feed_once, &self_stream);
    RUN(a, "SET", "a", "1");
    RUN(a, "SET", "a", "2");
    cr_assert_eq(prop_consumer_count(), 1);
    kl_buf_t want = {0};
    enc_words(&want, "SELECT 0");
    enc_words(&want, "SET a 1");
    cr_assert_eq(self_stream.len, want.len);
    cr_assert(!memcmp(self_stream.p, want.p, want.len));
    kl_buf_free(&want);
    kl_buf_free(&self_stream);
    EXPECT("SELECT 0", "SET a 1", "SET a 2");
}
