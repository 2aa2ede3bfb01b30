/* keyloom-bench output: human summary, CSV (header once, one line per
 * workload) and JSON Lines (one object per workload). Latencies are in
 * microseconds in CSV/JSON (fields end in _us) and milliseconds in the human
 * summary. Thread: main. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "kl_util.h"

static const struct {
    const char *label, *key;
    double p;
} pcts[] = {{"p50", "p50", 50.0},
            {"p90", "p90", 90.0},
            {"p99", "p99", 99.0},
            {"p99.9", "p999", 99.9},
            {"p99.99", "p9999", 99.99}};
#define NPCTS (sizeof(pcts) / sizeof(pcts[0]))

static double per_cpu(const bench_result_t *r) {
    double cpu = r->cpu_user + r->cpu_sys;
    return cpu > 0 ? (double)r->requests / cpu : 0.0;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void csv_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static void print_samples(FILE *f, const char *what, const bench_samples_t *s) {
    for (int i = 0; i < s->n; i++) {
        kl_buf_t b = {0};
        kl_buf_append_repr(&b, s->text[i], strlen(s->text[i]));
        fprintf(f, "  %s: %s (x%llu)\n", what, b.p, (unsigned long long)s->count[i]);
        kl_buf_free(&b);
    }
}

static void report_text(const bench_opts_t *o, const bench_workload_t *w, const bench_result_t *r) {
    FILE *f = stdout;
    double ops = r->seconds > 0 ? (double)r->requests / r->seconds : 0.0;
    fprintf(f, "====== %s ======\n", w->name);
    fprintf(f, "  %llu requests in %.3f s: %.2f requests per second\n",
            (unsigned long long)r->requests, r->seconds, ops);
    fprintf(f,
            "  %u connections, %d thread%s, pipeline %u, %zu-byte values, keyspace %llu (%s), %s",
            o->clients, o->threads, o->threads == 1 ? "" : "s", o->pipeline, o->data_size,
            (unsigned long long)(o->keyspace ? o->keyspace : 1),
            o->key_dist == KEYGEN_ZIPF ? "zipf" : "uniform", o->rate ? "open loop" : "closed loop");
    if (o->rate) fprintf(f, " at %llu/s", (unsigned long long)o->rate);
    fprintf(f, "%s\n", o->tls ? ", TLS" : "");
    fprintf(f, "  latency (ms): mean %.3f", hist_mean(r->lat) / 1000.0);
    for (size_t i = 0; i < NPCTS; i++)
        fprintf(f, "  %s %.3f", pcts[i].label, (double)hist_percentile(r->lat, pcts[i].p) / 1000.0);
    fprintf(f, "  max %.3f\n", (double)(r->lat->total ? r->lat->max : 0) / 1000.0);
    if (w->ntpl > 1) {
        for (int i = 0; i < w->ntpl; i++) {
            const hist_t *h = r->tpl_lat[i];
            fprintf(f, "    %-10s %llu requests  p50 %.3f  p99 %.3f  max %.3f ms\n", w->tpl_name[i],
                    (unsigned long long)r->tpl_requests[i], (double)hist_percentile(h, 50) / 1000.0,
                    (double)hist_percentile(h, 99) / 1000.0,
                    (double)(h->total ? h->max : 0) / 1000.0);
        }
    }
    if (o->reconnect || r->handshakes) {
        double hps = r->seconds > 0 ? (double)r->handshakes / r->seconds : 0.0;
        fprintf(
            f,
            "  %s: %llu (%.1f/s), resumed %llu; latency (ms) p50 %.3f p90 %.3f p99 %.3f max %.3f\n",
            o->tls ? "TLS handshakes" : "connects", (unsigned long long)r->handshakes, hps,
            (unsigned long long)r->resumed, (double)hist_percentile(r->hs, 50) / 1000.0,
            (double)hist_percentile(r->hs, 90) / 1000.0,
            (double)hist_percentile(r->hs, 99) / 1000.0,
            (double)(r->hs->total ? r->hs->max : 0) / 1000.0);
    }
    fprintf(f, "  client CPU %.2f s (user %.2f, sys %.2f): %.0f requests per CPU second\n",
            r->cpu_user + r->cpu_sys, r->cpu_user, r->cpu_sys, per_cpu(r));
    if (r->errors) {
        fprintf(f, "  %llu error replies\n", (unsigned long long)r->errors);
        print_samples(f, "error", &r->err_samples);
    }
    if (r->pushes) fprintf(f, "  %llu push messages ignored\n", (unsigned long long)r->pushes);
    if (r->conn_errors) {
        fprintf(f, "  %llu connection errors\n", (unsigned long long)r->conn_errors);
        print_samples(f, "connection error", &r->conn_samples);
    }
    if (r->failed)
        fprintf(f, "  FAILED: %llu requests got no reply\n", (unsigned long long)r->failed);
    if (r->fatal) fprintf(f, "  ABORTED: %s\n", r->fatal_msg);
    fprintf(f, "\n");
}

static const char csv_header[] =
    "workload,requests,errors,failed,conn_errors,seconds,ops_per_sec,mean_us,p50_us,p90_us,"
    "p99_us,p999_us,p9999_us,max_us,handshakes,handshakes_per_sec,resumed,hs_p50_us,hs_p99_us,"
    "hs_max_us,cpu_user_s,cpu_sys_s,cpu_s,requests_per_cpu_s\n";

static void report_csv(const bench_workload_t *w, const bench_result_t *r) {
    static int header_done;
    FILE *f = stdout;
    if (!header_done) {
        fputs(csv_header, f);
        header_done = 1;
    }
    csv_str(f, w->name);
    fprintf(f, ",%llu,%llu,%llu,%llu,%.6f,%.2f,%.1f", (unsigned long long)r->requests,
            (unsigned long long)r->errors, (unsigned long long)r->failed,
            (unsigned long long)r->conn_errors, r->seconds,
            r->seconds > 0 ? (double)r->requests / r->seconds : 0.0, hist_mean(r->lat));
    for (size_t i = 0; i < NPCTS; i++)
        fprintf(f, ",%llu", (unsigned long long)hist_percentile(r->lat, pcts[i].p));
    fprintf(f, ",%llu,%llu,%.2f,%llu,%llu,%llu,%llu,%.3f,%.3f,%.3f,%.0f\n",
            (unsigned long long)(r->lat->total ? r->lat->max : 0),
            (unsigned long long)r->handshakes,
            r->seconds > 0 ? (double)r->handshakes / r->seconds : 0.0,
            (unsigned long long)r->resumed, (unsigned long long)hist_percentile(r->hs, 50),
            (unsigned long long)hist_percentile(r->hs, 99),
            (unsigned long long)(r->hs->total ? r->hs->max : 0), r->cpu_user, r->cpu_sys,
            r->cpu_user + r->cpu_sys, per_cpu(r));
}

static void json_samples(FILE *f, const char *key, const bench_samples_t *s) {
    fprintf(f, ",\"%s\":[", key);
    for (int i = 0; i < s->n; i++) {
        fprintf(f, "%s{\"text\":", i ? "," : "");
        json_str(f, s->text[i]);
        fprintf(f, ",\"count\":%llu}", (unsigned long long)s->count[i]);
    }
    fputc(']', f);
}

static void report_json(const bench_workload_t *w, const bench_result_t *r) {
    FILE *f = stdout;
    fprintf(f, "{\"workload\":");
    json_str(f, w->name);
    fprintf(f,
            ",\"requests\":%llu,\"errors\":%llu,\"failed\":%llu,\"conn_errors\":%llu,"
            "\"seconds\":%.6f,\"ops_per_sec\":%.2f,\"latency_unit\":\"us\",\"mean_us\":%.1f",
            (unsigned long long)r->requests, (unsigned long long)r->errors,
            (unsigned long long)r->failed, (unsigned long long)r->conn_errors, r->seconds,
            r->seconds > 0 ? (double)r->requests / r->seconds : 0.0, hist_mean(r->lat));
    for (size_t i = 0; i < NPCTS; i++)
        fprintf(f, ",\"%s_us\":%llu", pcts[i].key,
                (unsigned long long)hist_percentile(r->lat, pcts[i].p));
    fprintf(f,
            ",\"max_us\":%llu,\"handshakes\":%llu,\"handshakes_per_sec\":%.2f,\"resumed\":%llu,"
            "\"hs_p50_us\":%llu,\"hs_p99_us\":%llu,\"hs_max_us\":%llu,\"cpu_user_s\":%.3f,"
            "\"cpu_sys_s\":%.3f,\"cpu_s\":%.3f,\"requests_per_cpu_s\":%.0f,\"pushes\":%llu",
            (unsigned long long)(r->lat->total ? r->lat->max : 0),
            (unsigned long long)r->handshakes,
            r->seconds > 0 ? (double)r->handshakes / r->seconds : 0.0,
            (unsigned long long)r->resumed, (unsigned long long)hist_percentile(r->hs, 50),
            (unsigned long long)hist_percentile(r->hs, 99),
            (unsigned long long)(r->hs->total ? r->hs->max : 0), r->cpu_user, r->cpu_sys,
            r->cpu_user + r->cpu_sys, per_cpu(r), (unsigned long long)r->pushes);
    if (w->ntpl > 1) {
        fprintf(f, ",\"commands\":[");
        for (int i = 0; i < w->ntpl; i++) {
            const hist_t *h = r->tpl_lat[i];
            fprintf(f, "%s{\"name\":", i ? "," : "");
            json_str(f, w->tpl_name[i]);
            fprintf(f, ",\"requests\":%llu,\"p50_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu}",
                    (unsigned long long)r->tpl_requests[i],
                    (unsigned long long)hist_percentile(h, 50),
                    (unsigned long long)hist_percentile(h, 99),
                    (unsigned long long)(h->total ? h->max : 0));
        }
        fputc(']', f);
    }
    json_samples(f, "error_samples", &r->err_samples);
    json_samples(f, "conn_error_samples", &r->conn_samples);
    fprintf(f, ",\"aborted\":");
    if (r->fatal)
        json_str(f, r->fatal_msg);
    else
        fputs("null", f);
    fputs("}\n", f);
}

void report_result(const bench_opts_t *o, const bench_workload_t *w, const bench_result_t *r) {
    if (o->out_fmt == OUT_CSV)
        report_csv(w, r);
    else if (o->out_fmt == OUT_JSON)
        report_json(w, r);
    else
        report_text(o, w, r);
    /* Scripts and pipes see each workload as soon as it ends. Errors worth a
     * look also go to stderr in the machine formats, where stdout is data. */
    fflush(stdout);
    if (o->out_fmt != OUT_TEXT && (r->errors || r->conn_errors || r->failed || r->fatal)) {
        fprintf(stderr,
                "keyloom-bench: %s: %llu error replies, %llu connection errors, %llu "
                "requests without reply%s%s\n",
                w->name, (unsigned long long)r->errors, (unsigned long long)r->conn_errors,
                (unsigned long long)r->failed, r->fatal ? "; aborted: " : "",
                r->fatal ? r->fatal_msg : "");
        print_samples(stderr, "error", &r->err_samples);
        print_samples(stderr, "connection error", &r->conn_samples);
    }
}

void report_progress(const char *name, double elapsed, int warming, uint64_t requests, double ops,
                     uint64_t p99_us) {
    if (warming)
        fprintf(stderr, "\r\033[K%s: warming up, %.0f s", name, elapsed);
    else
        fprintf(stderr, "\r\033[K%s: %.0f s, %llu requests, %.0f ops/s, p99 %.3f ms", name, elapsed,
                (unsigned long long)requests, ops, (double)p99_us / 1000.0);
    fflush(stderr);
}

void report_progress_clear(void) {
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
}
