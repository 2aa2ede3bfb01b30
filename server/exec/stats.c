/* Executor statistics that are sampled rather than counted: Redis's
 * instantaneous metrics (ops/sec, network kbps) and the memory peak. The cron
 * samples them (exec_stats_cron); INFO and MEMORY only read them.
 *
 * Thread: executor (every function here). */
#include "exec.h"

#include "iol.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "server.h"

#include <string.h>

/* Every ~100 ms the cron turns the growth of a counter into a per-second
 * rate; the reported value is the mean of the last 16. */
#define METRIC_SAMPLES 16
typedef struct metric {
    uint64_t samples[METRIC_SAMPLES];
    int idx;
    uint64_t last_count;
} metric_t;

static metric_t metric_ops, metric_net_in, metric_net_out;
static int64_t metric_last_ms;
/* CONFIG RESETSTAT is noticed through g_srv.stat.reset_time_ms. */
static int64_t reset_seen_ms;
static size_t peak_memory;

static void check_reset(void) {
    if (g_srv.stat.reset_time_ms == reset_seen_ms) return;
    reset_seen_ms = g_srv.stat.reset_time_ms;
    memset(&metric_ops, 0, sizeof(metric_ops));
    memset(&metric_net_in, 0, sizeof(metric_net_in));
    memset(&metric_net_out, 0, sizeof(metric_net_out));
    metric_last_ms = 0;
}

/* A counter that went down was reset (RESETSTAT): that sample counts 0. */
static void metric_add(metric_t *m, uint64_t count, int64_t dt_ms) {
    uint64_t delta = count >= m->last_count ? count - m->last_count : 0;
    m->samples[m->idx] = delta * 1000 / (uint64_t)dt_ms;
    m->idx = (m->idx + 1) % METRIC_SAMPLES;
    m->last_count = count;
}

static uint64_t metric_get(const metric_t *m) {
    uint64_t sum = 0;
    for (int i = 0; i < METRIC_SAMPLES; i++)
        sum += m->samples[i];
    return sum / METRIC_SAMPLES;
}

void exec_stats_net_totals(uint64_t *in, uint64_t *out) {
    *in = *out = 0;
    for (int i = 0; i <= iol_nthreads(); i++) {
        iol_thread_stats_t ts;
        iol_thread_stats(i, &ts);
        *in += ts.bytes_in;
        *out += ts.bytes_out;
    }
}

void exec_stats_note_memory(size_t used) {
    if (used > peak_memory) peak_memory = used;
}

void exec_stats_cron(void) {
    exec_stats_note_memory(kl_used_memory());
    check_reset();
    int64_t now = kl_mstime();
    uint64_t in, out;
    exec_stats_net_totals(&in, &out);
    if (metric_last_ms == 0) {
        metric_last_ms = now;
        metric_ops.last_count = g_srv.stat.numcommands;
        metric_net_in.last_count = in;
        metric_net_out.last_count = out;
        return;
    }
    int64_t dt = now - metric_last_ms;
    if (dt < 100) return;
    metric_add(&metric_ops, g_srv.stat.numcommands, dt);
    metric_add(&metric_net_in, in, dt);
    metric_add(&metric_net_out, out, dt);
    metric_last_ms = now;
}

uint64_t exec_stats_ops_per_sec(void) {
    check_reset();
    return metric_get(&metric_ops);
}

double exec_stats_input_kbps(void) {
    check_reset();
    return (double)metric_get(&metric_net_in) / 1024.0;
}

double exec_stats_output_kbps(void) {
    check_reset();
    return (double)metric_get(&metric_net_out) / 1024.0;
}

size_t exec_stats_peak_memory(void) {
    exec_stats_note_memory(kl_used_memory());
    return peak_memory;
}
