#include "slowlog.h"

#include "cmd.h"
#include "config.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "reply.h"
#include "server.h"

#include <stdio.h>
#include <string.h>

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARGLEN 128

typedef struct slowlog_entry {
    long long id;
    long long time; /* unix seconds */
    long long duration;
    int argc;
    char **argv;
    size_t *argl;
    char *peer;
    char *name;
} slowlog_entry_t;

/* Newest first, bounded by slowlog-max-len. */
static slowlog_entry_t **slog;
static size_t slog_len, slog_cap;
static long long slog_next_id;

static void entry_free(slowlog_entry_t *e) {
    for (int i = 0; i < e->argc; i++)
        kl_free(e->argv[i]);
    kl_free(e->argv);
    kl_free(e->argl);
    kl_free(e->peer);
    kl_free(e->name);
    kl_free(e);
}

static void slowlog_trim(size_t max) {
    while (slog_len > max)
        entry_free(slog[--slog_len]);
}

void slowlog_maybe_add(client_t *c, long long duration_us) {
    if (g_cfg.slowlog_log_slower_than < 0 || duration_us < g_cfg.slowlog_log_slower_than) return;
    if (g_cfg.slowlog_max_len == 0) return;
    slowlog_entry_t *e = kl_calloc(1, sizeof(*e));
    int argc = (int)c->argc;
    int keep = argc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : argc;
    e->argc = keep;
    e->argv = kl_calloc((size_t)keep, sizeof(char *));
    e->argl = kl_calloc((size_t)keep, sizeof(size_t));
    for (int i = 0; i < keep; i++) {
        char buf[96];
        if (i == keep - 1 && keep != argc) {
            int n = snprintf(buf, sizeof(buf), "... (%d more arguments)", argc - keep + 1);
            e->argv[i] = kl_strndup(buf, (size_t)n);
            e->argl[i] = (size_t)n;
        } else if (c->argv[i].len > SLOWLOG_MAX_ARGLEN) {
            int n = snprintf(buf, sizeof(buf), "... (%zu more bytes)",
                             c->argv[i].len - SLOWLOG_MAX_ARGLEN);
            char *s = kl_malloc(SLOWLOG_MAX_ARGLEN + (size_t)n + 1);
            memcpy(s, c->argv[i].ptr, SLOWLOG_MAX_ARGLEN);
            memcpy(s + SLOWLOG_MAX_ARGLEN, buf, (size_t)n + 1);
            e->argv[i] = s;
            e->argl[i] = SLOWLOG_MAX_ARGLEN + (size_t)n;
        } else {
            e->argv[i] = kl_strndup(c->argv[i].ptr, c->argv[i].len);
            e->argl[i] = c->argv[i].len;
        }
    }
    e->id = slog_next_id++;
    e->time = g_kv.mstime / 1000;
    e->duration = duration_us;
    e->peer = kl_strdup(iol_client_peer(c->io));
    e->name = kl_strdup(c->name ? c->name : "");
    if (slog_len == slog_cap) {
        slog_cap = slog_cap ? slog_cap * 2 : 16;
        slog = kl_realloc(slog, slog_cap * sizeof(*slog));
    }
    memmove(slog + 1, slog, slog_len * sizeof(*slog));
    slog[0] = e;
    slog_len++;
    slowlog_trim((size_t)g_cfg.slowlog_max_len);
}

void slowlog_free(void) {
    slowlog_trim(0);
    kl_free(slog);
    slog = NULL;
    slog_cap = 0;
}

void cmd_slowlog(client_t *c) {
    const char *sub = c->argv[1].ptr;
    if (c->argc == 2 && !strcasecmp(sub, "help")) {
        static const char *help[] = {
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            NULL};
        reply_help(c, help);
    } else if (c->argc == 2 && !strcasecmp(sub, "reset")) {
        slowlog_trim(0);
        reply_ok(c);
    } else if (c->argc == 2 && !strcasecmp(sub, "len")) {
        reply_int(c, (long long)slog_len);
    } else if ((c->argc == 2 || c->argc == 3) && !strcasecmp(sub, "get")) {
        long long count = 10;
        if (c->argc == 3) {
            if (kl_str_to_ll(c->argv[2].ptr, c->argv[2].len, &count) || count < -1) {
                reply_error(c, "ERR count should be greater than or equal to -1");
                return;
            }
            if (count == -1) count = (long long)slog_len;
        }
        if (count > (long long)slog_len) count = (long long)slog_len;
        reply_array(c, count);
        for (long long i = 0; i < count; i++) {
            slowlog_entry_t *e = slog[i];
            reply_array(c, 6);
            reply_int(c, e->id);
            reply_int(c, e->time);
            reply_int(c, e->duration);
            reply_array(c, e->argc);
            for (int k = 0; k < e->argc; k++)
                reply_bulk(c, e->argv[k], e->argl[k]);
            reply_bulk_cstr(c, e->peer);
            reply_bulk_cstr(c, e->name);
        }
    } else {
        reply_subcommand_error(c);
    }
}

/* ---------------------------------------------------------------- latency monitor */

#define LATENCY_TS_LEN 160

typedef struct latency_event {
    char *name;
    struct {
        int32_t time;
        uint32_t latency;
    } samples[LATENCY_TS_LEN];
    int idx;
    uint32_t max;
    struct latency_event *next;
} latency_event_t;

static latency_event_t *events;

void latency_add_sample(const char *event, long long ms) {
    if (g_cfg.latency_monitor_threshold <= 0 || ms < g_cfg.latency_monitor_threshold) return;
    latency_event_t *e = events;
    while (e && strcmp(e->name, event) != 0)
        e = e->next;
    if (!e) {
        e = kl_calloc(1, sizeof(*e));
        e->name = kl_strdup(event);
        e->next = events;
        events = e;
    }
    int32_t now = (int32_t)(g_kv.mstime / 1000);
    int prev = (e->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
    if (e->samples[prev].time == now) {
        if ((uint32_t)ms > e->samples[prev].latency) e->samples[prev].latency = (uint32_t)ms;
        if ((uint32_t)ms > e->max) e->max = (uint32_t)ms;
        return;
    }
    e->samples[e->idx].time = now;
    e->samples[e->idx].latency = (uint32_t)ms;
    if ((uint32_t)ms > e->max) e->max = (uint32_t)ms;
    e->idx = (e->idx + 1) % LATENCY_TS_LEN;
}

void latency_maybe_add(const kl_command_t *cmd, long long duration_us) {
    if (g_cfg.latency_monitor_threshold <= 0) return;
    long long ms = duration_us / 1000;
    latency_add_sample((cmd->flags & CMD_FAST) ? "fast-command" : "command", ms);
}

static void event_free(latency_event_t *e) {
    kl_free(e->name);
    kl_free(e);
}

static long latency_reset(const char *name) {
    long n = 0;
    latency_event_t **pp = &events;
    while (*pp) {
        if (!name || !strcasecmp((*pp)->name, name)) {
            latency_event_t *e = *pp;
            *pp = e->next;
            event_free(e);
            n++;
        } else {
            pp = &(*pp)->next;
        }
    }
    return n;
}

static void latency_last(const latency_event_t *e, int32_t *time, uint32_t *lat) {
    int prev = (e->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
    *time = e->samples[prev].time;
    *lat = e->samples[prev].latency;
}

void cmd_latency(client_t *c) {
    const char *sub = c->argv[1].ptr;
    if (c->argc == 2 && !strcasecmp(sub, "help")) {
        static const char *help[] = {"HISTORY <event>",
                                     "    Return time-latency samples for the <event> class.",
                                     "LATEST",
                                     "    Return the latest latency samples for all events.",
                                     "RESET [<event> ...]",
                                     "    Reset latency data of one or more <event> classes.",
                                     "    (default: reset all data for all event classes)",
                                     NULL};
        reply_help(c, help);
    } else if (c->argc == 2 && !strcasecmp(sub, "latest")) {
        long n = 0;
        for (latency_event_t *e = events; e; e = e->next)
            n++;
        reply_array(c, n);
        for (latency_event_t *e = events; e; e = e->next) {
            int32_t t;
            uint32_t l;
            latency_last(e, &t, &l);
            reply_array(c, 4);
            reply_bulk_cstr(c, e->name);
            reply_int(c, t);
            reply_int(c, l);
            reply_int(c, e->max);
        }
    } else if (c->argc == 3 && !strcasecmp(sub, "history")) {
        latency_event_t *e = events;
        while (e && strcasecmp(e->name, c->argv[2].ptr) != 0)
            e = e->next;
        if (!e) {
            reply_array(c, 0);
            return;
        }
        long n = 0;
        for (int i = 0; i < LATENCY_TS_LEN; i++)
            if (e->samples[i].time) n++;
        reply_array(c, n);
        for (int j = 0; j < LATENCY_TS_LEN; j++) {
            int i = (e->idx + j) % LATENCY_TS_LEN;
            if (!e->samples[i].time) continue;
            reply_array(c, 2);
            reply_int(c, e->samples[i].time);
            reply_int(c, e->samples[i].latency);
        }
    } else if (c->argc >= 2 && !strcasecmp(sub, "reset")) {
        if (c->argc == 2) {
            reply_int(c, latency_reset(NULL));
        } else {
            long n = 0;
            for (uint32_t i = 2; i < c->argc; i++)
                n += latency_reset(c->argv[i].ptr);
            reply_int(c, n);
        }
    } else {
        reply_subcommand_error(c);
    }
}

/* ---------------------------------------------------------------- latency histograms */

/* Log-linear buckets: 16 per power of two, so a reported percentile is within
 * about 6% above the true value; 1 us to 2^40 us. */
#define LH_SUB 16
#define LH_EXP 41

struct lat_hist {
    uint64_t count;
    uint64_t b[LH_EXP * LH_SUB];
};

static unsigned lh_index(uint64_t v) {
    if (v < LH_SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)((v >> (msb - 4)) & (LH_SUB - 1));
    unsigned e = msb - 3; /* values 16..31 -> e=1 */
    unsigned idx = e * LH_SUB + sub;
    return idx < LH_EXP * LH_SUB ? idx : LH_EXP * LH_SUB - 1;
}

/* The largest value a bucket holds. */
static uint64_t lh_upper(unsigned idx) {
    if (idx < LH_SUB) return idx;
    unsigned e = idx / LH_SUB, sub = idx % LH_SUB;
    unsigned msb = e + 3;
    uint64_t base = (1ull << msb) | ((uint64_t)sub << (msb - 4));
    return base + (1ull << (msb - 4)) - 1;
}

void latency_hist_record(kl_command_t *cmd, long long us) {
    if (!g_cfg.latency_tracking) return;
    if (!cmd->hist) cmd->hist = kl_calloc(1, sizeof(*cmd->hist));
    cmd->hist->b[lh_index(us > 0 ? (uint64_t)us : 0)]++;
    cmd->hist->count++;
}

void latency_hist_reset(kl_command_t *cmd) {
    kl_free(cmd->hist);
    cmd->hist = NULL;
}

void latency_hist_info(const kl_command_t *cmd, kl_buf_t *out) {
    const struct lat_hist *h = cmd->hist;
    if (!h || !h->count) return;
    kl_buf_appendf(out, "latency_percentiles_usec_%s:", cmd->name);
    for (int i = 0; i < g_cfg.latency_tracking_info_percentiles_len; i++) {
        double p = g_cfg.latency_tracking_info_percentiles[i];
        uint64_t want = (uint64_t)((p / 100.0) * (double)h->count + 0.5);
        if (want == 0) want = 1;
        uint64_t seen = 0;
        unsigned idx = 0;
        for (; idx < LH_EXP * LH_SUB; idx++) {
            seen += h->b[idx];
            if (seen >= want) break;
        }
        char label[32];
        snprintf(label, sizeof(label), "%.4f", p);
        /* Trim "99.9000" to "99.9" and "50.0000" to "50", as Redis prints it. */
        char *dot = strchr(label, '.');
        if (dot) {
            char *end = label + strlen(label) - 1;
            while (end > dot && *end == '0')
                *end-- = '\0';
            if (end == dot) *end = '\0';
        }
        kl_buf_appendf(out, "%sp%s=%.3f", i ? "," : "", label,
                       (double)lh_upper(idx < LH_EXP * LH_SUB ? idx : LH_EXP * LH_SUB - 1));
    }
    kl_buf_append(out, "\r\n", 2);
}
