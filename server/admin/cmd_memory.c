/* MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE and HELP, with Redis
 * 7.0's replies, reply types and error texts.
 *
 * Where the numbers come from:
 *  - USAGE: the key's keyspace entry (the key is stored inside it), its
 *    expires entry when it has a TTL (a separate allocation in keyloom, unlike
 *    Redis, whose expires table shares the key) and the value as
 *    obj_mem_usage() and the types' mem hooks estimate it. SAMPLES is parsed
 *    and validated exactly like Redis; the hooks take no sample count (see
 *    memory_usage_cmd for what each type does).
 *  - STATS and DOCTOR: jemalloc's statistics (kl_mem_stats), the process RSS
 *    from /proc, the peak INFO tracks, the keyspace dicts' own sizes and the
 *    clients' buffers. Fields for subsystems keyloom does not have
 *    (replication backlog, AOF, Lua and functions caches, cluster links)
 *    report 0.
 *  - MALLOC-STATS and PURGE: jemalloc itself. This is the one command file
 *    that talks to jemalloc directly, because kl_alloc.h offers neither a
 *    stats printer nor a purge.
 *
 * Thread: executor (every function here). */
#include "cmd.h"
#include "db.h"
#include "dict.h"
#include "exec.h"
#include "info.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "multi.h"
#include "object.h"
#include "reply.h"

#include <jemalloc/jemalloc.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMORY_DEFAULT_SAMPLES 5 /* Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES */

/* Heap use right after start-up (memory_note_startup), Redis's
 * initial_memory_usage: what MEMORY STATS reports as startup.allocated and
 * subtracts before the per-key and dataset figures. */
static size_t startup_allocated;

/* Records the allocator's current total as the start-up baseline. Called
 * once while the server initialises, after the databases and the command
 * table exist and before any client connects. Thread: main. */
void memory_note_startup(void) {
    /* Objects freed during initialisation sit in this thread's cache and
     * still count as allocated until it is flushed: flush it first, or the
     * baseline would include them. */
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    kl_mem_stats_t ms;
    kl_mem_stats(&ms);
    startup_allocated = ms.allocated;
}

/* ---------------------------------------------------------------- USAGE */

/* MEMORY USAGE key [SAMPLES count]. Like Redis, the key is looked up in the
 * keyspace dict directly: no expiry, no keyspace hit/miss, no LRU touch.
 *
 * In Redis the count bounds how many elements an estimate looks at. Here the
 * types' mem hooks decide, and this is what each does with a big value:
 * strings and listpacks, intsets and set hashtables are exact in O(1); hash
 * hashtables count the fields exactly and extrapolate the out-of-line values
 * from a fixed sample of 32 (so SAMPLES 0 is not exact there when value sizes
 * vary); sorted-set skiplists are an O(1) estimate from the node count;
 * quicklists are exact in O(nodes), where Redis samples `count` nodes. None
 * of them takes the count today: giving the obj_type_ops_t mem hook a samples
 * argument is what would make SAMPLES 0 exact everywhere. */
static void memory_usage_cmd(client_t *c) {
    long long samples = MEMORY_DEFAULT_SAMPLES;
    for (uint32_t j = 3; j < c->argc; j++) {
        if (arg_is(&c->argv[j], "samples") && j + 1 < c->argc) {
            if (arg_ll(c, &c->argv[j + 1], &samples) != 0) return;
            if (samples < 0) {
                reply_syntax_error(c);
                return;
            }
            if (samples == 0) samples = LLONG_MAX;
            j++;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    (void)samples; /* see the comment above */

    const resp_arg_t *k = &c->argv[2];
    dict_entry_t *e = dict_find(c->db->keys, k->ptr, k->len);
    if (!e) {
        reply_null(c);
        return;
    }
    size_t usage = kl_alloc_size(e) + obj_mem_usage(dict_entry_val(e));
    dict_entry_t *x = dict_find(c->db->expires, k->ptr, k->len);
    if (x) usage += kl_alloc_size(x);
    reply_int(c, (long long)usage);
}

/* ---------------------------------------------------------------- overhead */

/* The figures themselves are kl_mem_overhead_t (info.h): INFO's memory
 * section prints the same numbers. */
typedef kl_mem_overhead_t mem_overhead_t;

static size_t process_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, rss = 0;
    if (fscanf(f, "%lu %lu", &size, &rss) != 2) rss = 0;
    fclose(f);
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

static float ratio(size_t a, size_t b) {
    return b ? (float)a / (float)b : 0.0f;
}

/* Bytes of the keyspace's own structures for one database: Redis counts a
 * dictEntry per key and the bucket arrays. keyloom's entry holds the key
 * itself; its header (chain pointer, key length) and value word are the
 * overhead, the key bytes are data. The expires dict copies its keys, so all of it is
 * overhead. */
static size_t db_overhead_main(const kdb_t *db) {
    return dict_size(db->keys) * (offsetof(dict_entry_t, key) + sizeof(dict_val_t)) +
           dict_buckets(db->keys) * sizeof(dict_entry_t *);
}

/* See info.h: the figures MEMORY STATS, MEMORY DOCTOR and INFO memory
 * print. Thread: executor. */
void memory_overhead_compute(mem_overhead_t *mh) {
    memset(mh, 0, sizeof(*mh));
    kl_mem_stats_t ms;
    size_t peak = exec_stats_peak_memory();
    kl_mem_stats(&ms);
    size_t rss = process_rss();

    mh->total_allocated = ms.allocated;
    /* info.c's peak folded in its own reading of the total; this one may be
     * a few bytes higher already. */
    mh->peak_allocated = peak > ms.allocated ? peak : ms.allocated;
    mh->startup_allocated = startup_allocated;
    size_t total = startup_allocated;

    /* Every keyloom client is a normal or pub/sub one; Redis counts pub/sub
     * (and master) clients under clients.normal too. */
    for (client_t *x = clients_first(); x; x = x->next) {
        mh->clients_normal += client_memory(x);
        mh->nclients++;
    }
    total += mh->clients_normal + mh->clients_slaves;

    int n = db_count();
    mh->dbs = kl_calloc((size_t)n, sizeof(*mh->dbs));
    for (int i = 0; i < n; i++) {
        kdb_t *db = db_get(i);
        size_t keys = db_size(db);
        if (keys == 0) continue;
        mh->dbs[mh->ndbs].id = i;
        mh->dbs[mh->ndbs].main = db_overhead_main(db);
        mh->dbs[mh->ndbs].expires = db_expires_size(db) ? dict_mem_usage(db->expires) : 0;
        total += mh->dbs[mh->ndbs].main + mh->dbs[mh->ndbs].expires;
        mh->total_keys += keys;
        mh->ndbs++;
    }
    mh->overhead_total = total;

    /* Redis subtracts in size_t and so can wrap; keyloom clamps at zero. */
    mh->dataset = ms.allocated > total ? ms.allocated - total : 0;
    mh->peak_perc = mh->peak_allocated ? (float)ms.allocated * 100 / (float)mh->peak_allocated : 0;
    size_t net = ms.allocated > startup_allocated ? ms.allocated - startup_allocated : 1;
    mh->dataset_perc = (float)mh->dataset * 100 / (float)net;
    mh->bytes_per_key = mh->total_keys ? net / mh->total_keys : 0;

    mh->allocator_allocated = ms.allocated;
    mh->allocator_active = ms.active;
    mh->allocator_resident = ms.resident;
    mh->allocator_frag = ratio(ms.active, ms.allocated);
    mh->allocator_frag_bytes = (long long)ms.active - (long long)ms.allocated;
    mh->allocator_rss = ratio(ms.resident, ms.active);
    mh->allocator_rss_bytes = (long long)ms.resident - (long long)ms.active;
    mh->rss = rss;
    mh->rss_extra = ratio(rss, ms.resident);
    mh->rss_extra_bytes = (long long)rss - (long long)ms.resident;
    mh->total_frag = ratio(rss, ms.allocated);
    mh->total_frag_bytes = (long long)rss - (long long)ms.allocated;
}

/* Frees mh->dbs. Thread: executor. */
void memory_overhead_free(mem_overhead_t *mh) {
    kl_free(mh->dbs);
    mh->dbs = NULL;
}

/* ---------------------------------------------------------------- STATS */

static void put_ll(client_t *c, const char *name, long long v) {
    reply_bulk_cstr(c, name);
    reply_int(c, v);
}

static void put_float(client_t *c, const char *name, float v) {
    reply_bulk_cstr(c, name);
    reply_double(c, (double)v);
}

/* MEMORY STATS: Redis 7.0's fields in Redis's order; a map in RESP3, a flat
 * name/value array in RESP2, with a nested map per database holding keys. */
static void memory_stats_cmd(client_t *c) {
    mem_overhead_t mh;
    memory_overhead_compute(&mh);
    reply_map(c, 27 + mh.ndbs);
    put_ll(c, "peak.allocated", (long long)mh.peak_allocated);
    put_ll(c, "total.allocated", (long long)mh.total_allocated);
    put_ll(c, "startup.allocated", (long long)mh.startup_allocated);
    put_ll(c, "replication.backlog", 0);
    put_ll(c, "clients.slaves", (long long)mh.clients_slaves);
    put_ll(c, "clients.normal", (long long)mh.clients_normal);
    put_ll(c, "cluster.links", 0);
    put_ll(c, "aof.buffer", 0);
    put_ll(c, "lua.caches", 0);
    put_ll(c, "functions.caches", 0);
    for (int i = 0; i < mh.ndbs; i++) {
        char name[32];
        snprintf(name, sizeof(name), "db.%d", mh.dbs[i].id);
        reply_bulk_cstr(c, name);
        reply_map(c, 3);
        put_ll(c, "overhead.hashtable.main", (long long)mh.dbs[i].main);
        put_ll(c, "overhead.hashtable.expires", (long long)mh.dbs[i].expires);
        put_ll(c, "overhead.hashtable.slot-to-keys", 0);
    }
    put_ll(c, "overhead.total", (long long)mh.overhead_total);
    put_ll(c, "keys.count", (long long)mh.total_keys);
    put_ll(c, "keys.bytes-per-key", (long long)mh.bytes_per_key);
    put_ll(c, "dataset.bytes", (long long)mh.dataset);
    put_float(c, "dataset.percentage", mh.dataset_perc);
    put_float(c, "peak.percentage", mh.peak_perc);
    put_ll(c, "allocator.allocated", (long long)mh.allocator_allocated);
    put_ll(c, "allocator.active", (long long)mh.allocator_active);
    put_ll(c, "allocator.resident", (long long)mh.allocator_resident);
    put_float(c, "allocator-fragmentation.ratio", mh.allocator_frag);
    put_ll(c, "allocator-fragmentation.bytes", mh.allocator_frag_bytes);
    put_float(c, "allocator-rss.ratio", mh.allocator_rss);
    put_ll(c, "allocator-rss.bytes", mh.allocator_rss_bytes);
    put_float(c, "rss-overhead.ratio", mh.rss_extra);
    put_ll(c, "rss-overhead.bytes", mh.rss_extra_bytes);
    put_float(c, "fragmentation", mh.total_frag);
    put_ll(c, "fragmentation.bytes", mh.total_frag_bytes);
    memory_overhead_free(&mh);
}

/* ---------------------------------------------------------------- DOCTOR */

#define MB (1024LL * 1024)

/* The report Redis's MEMORY DOCTOR gives, on the same thresholds (an instance
 * under 5 MB is "empty"; a peak over 150% of the current use; a ratio above
 * 1.4 or 1.1 that is also more than 10 MB; clients averaging over 200 KB),
 * in keyloom's own words. */
static void memory_doctor_cmd(client_t *c) {
    mem_overhead_t mh;
    memory_overhead_compute(&mh);
    kl_buf_t b = {0};
    int empty = 0, big_peak = 0, high_frag = 0, high_alloc_frag = 0, high_alloc_rss = 0,
        high_proc_rss = 0, big_client_buf = 0, reports = 0;
    if (mh.total_allocated < (size_t)(5 * MB)) {
        empty = 1;
        reports++;
    } else {
        if (ratio(mh.peak_allocated, mh.total_allocated) > 1.5f) big_peak = 1, reports++;
        if (mh.total_frag > 1.4f && mh.total_frag_bytes > 10 * MB) high_frag = 1, reports++;
        if (mh.allocator_frag > 1.1f && mh.allocator_frag_bytes > 10 * MB)
            high_alloc_frag = 1, reports++;
        if (mh.allocator_rss > 1.1f && mh.allocator_rss_bytes > 10 * MB)
            high_alloc_rss = 1, reports++;
        if (mh.rss_extra > 1.1f && mh.rss_extra_bytes > 10 * MB) high_proc_rss = 1, reports++;
        if (mh.nclients && mh.clients_normal / mh.nclients > 200 * 1024)
            big_client_buf = 1, reports++;
    }

    if (reports == 0) {
        kl_buf_append_str(&b, "Hello. I looked at this instance's memory and found nothing wrong "
                              "with it, as far as the figures the server keeps can tell.\n");
    } else if (empty) {
        kl_buf_append_str(&b, "Hello. This instance holds little or no data, so there is nothing "
                              "for the memory doctor to examine yet: the figures are all start-up "
                              "noise at this size. Load some data and ask me again later.\n");
    } else {
        kl_buf_append_str(&b, "Hello. I found some things worth a look in this instance's "
                              "memory:\n\n");
        if (big_peak)
            kl_buf_append_str(
                &b, " * Peak memory: at some point this instance used more than one and a half "
                    "times the memory it uses now. An allocator cannot always give memory back "
                    "after a peak, so a high fragmentation ratio is expected and harmless: the "
                    "space is reused as the data grows again. To return what can be returned to "
                    "the system now, run MEMORY PURGE; otherwise only a restart releases it.\n\n");
        if (high_frag)
            kl_buf_appendf(
                &b,
                " * High total RSS: the process's resident memory is %.2f times the memory "
                "in use (%lld bytes more). The other entries of this report, if any, and the "
                "allocator and RSS overhead fields of MEMORY STATS tell where the difference "
                "lies. MEMORY PURGE gives freed pages back to the system.\n\n",
                (double)mh.total_frag, mh.total_frag_bytes);
        if (high_alloc_frag)
            kl_buf_appendf(
                &b,
                " * High allocator fragmentation: the allocator's active pages are %.2f "
                "times the bytes it handed out (%lld bytes more). This usually follows the "
                "deletion of many values of mixed sizes and shrinks as new data fills the "
                "gaps. Restarting with the data reloaded removes it.\n\n",
                (double)mh.allocator_frag, mh.allocator_frag_bytes);
        if (high_alloc_rss)
            kl_buf_appendf(
                &b,
                " * High allocator RSS overhead: the allocator keeps %.2f times its active "
                "pages resident (%lld bytes more). These are freed pages it has not yet "
                "returned to the system; MEMORY PURGE returns them now.\n\n",
                (double)mh.allocator_rss, mh.allocator_rss_bytes);
        if (high_proc_rss)
            kl_buf_appendf(
                &b,
                " * High RSS outside the allocator: the process's resident memory is %.2f "
                "times what the allocator holds (%lld bytes more). That memory is not heap: "
                "thread stacks, the TLS library, shared libraries or mapped files.\n\n",
                (double)mh.rss_extra, mh.rss_extra_bytes);
        if (big_client_buf)
            kl_buf_appendf(
                &b,
                " * Big client buffers: the %zu connected clients hold %zu bytes of buffers "
                "each on average. Look for clients that read their replies slowly or send "
                "very large pipelines (the qbuf and omem fields of CLIENT LIST), and consider "
                "a client-output-buffer-limit.\n\n",
                mh.nclients, mh.clients_normal / mh.nclients);
        kl_buf_append_str(&b, "MEMORY STATS has the figures behind this report.\n");
    }
    reply_verbatim(c, b.p, b.len, "txt");
    kl_buf_free(&b);
    memory_overhead_free(&mh);
}

/* ---------------------------------------------------------------- MALLOC-STATS, PURGE */

static void malloc_stats_append(void *opaque, const char *s) {
    kl_buf_append_str(opaque, s);
}

/* MEMORY MALLOC-STATS: jemalloc's own report, as malloc_stats_print writes it
 * with the default options. */
static void memory_malloc_stats_cmd(client_t *c) {
    kl_buf_t b = {0};
    malloc_stats_print(malloc_stats_append, &b, NULL);
    reply_verbatim(c, b.p ? b.p : "", b.len, "txt");
    kl_buf_free(&b);
}

/* MEMORY PURGE: return every arena's dirty (freed but still mapped) pages to
 * the system now instead of on jemalloc's decay schedule. */
static void memory_purge_cmd(client_t *c) {
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    if (mallctl(name, NULL, NULL, NULL, 0) != 0) {
        reply_error(c, "ERR Error purging dirty pages");
        return;
    }
    reply_ok(c);
}

/* ---------------------------------------------------------------- HELP, container */

static void memory_help_cmd(client_t *c) {
    static const char *help[] = {
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        NULL,
    };
    reply_help(c, help);
}

/* Reached only if the executor did not resolve the subcommand. */
static void memory_cmd(client_t *c) {
    reply_subcommand_error(c);
}

/* ---------------------------------------------------------------- table */

static kl_command_t memory_subcommands[] = {
    {
        .name = "memory|doctor",
        .proc = memory_doctor_cmd,
        .arity = 2,
        .flags = 0,
        .group = "server",
        .since = "4.0.0",
        .summary = "Outputs memory problems report",
        .complexity = "O(1)",
        .acl_cats = "@slow",
    },
    {
        .name = "memory|help",
        .proc = memory_help_cmd,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "server",
        .since = "4.0.0",
        .summary = "Show helpful text about the different subcommands",
        .complexity = "O(1)",
        .acl_cats = "@slow",
    },
    {
        .name = "memory|malloc-stats",
        .proc = memory_malloc_stats_cmd,
        .arity = 2,
        .flags = 0,
        .group = "server",
        .since = "4.0.0",
        .summary = "Show allocator internal stats",
        .complexity = "Depends on how much memory is allocated, could be slow",
        .acl_cats = "@slow",
    },
    {
        .name = "memory|purge",
        .proc = memory_purge_cmd,
        .arity = 2,
        .flags = 0,
        .group = "server",
        .since = "4.0.0",
        .summary = "Ask the allocator to release memory",
        .complexity = "Depends on how much memory is allocated, could be slow",
        .acl_cats = "@slow",
    },
    {
        .name = "memory|stats",
        .proc = memory_stats_cmd,
        .arity = 2,
        .flags = 0,
        .group = "server",
        .since = "4.0.0",
        .summary = "Show memory usage details",
        .complexity = "O(1)",
        .acl_cats = "@slow",
    },
    {
        .name = "memory|usage",
        .proc = memory_usage_cmd,
        .arity = -3,
        .flags = CMD_READONLY,
        .keys = {.first = 2, .last = 2, .step = 1},
        .group = "server",
        .since = "4.0.0",
        .summary = "Estimate the memory usage of a key",
        .complexity = "O(N) where N is the number of samples.",
        .acl_cats = "@read @slow",
    },
    {0},
};

/* The MEMORY family's command table (registered by cmd_table_init). */
kl_command_t cmds_memory[] = {
    {
        .name = "memory",
        .proc = memory_cmd,
        .arity = -2,
        .flags = 0,
        .group = "server",
        .since = "4.0.0",
        .summary = "A container for memory diagnostics commands",
        .complexity = "Depends on subcommand.",
        .acl_cats = "@slow",
        .subcommands = memory_subcommands,
    },
    {0},
};
