"""results.csv, summary.md and chart.png."""

import csv
import os
import shutil
import statistics
import subprocess

FIELDS = [
    "seq", "time", "phase", "cell", "server", "family", "io_threads", "transport", "cert",
    "pipeline", "clients", "test", "mode", "repeat", "status", "error",
    "requests", "seconds", "ops_per_sec", "errors", "failed", "conn_errors", "p50_us", "p99_us",
    "server_cpu_s", "server_main_cpu_s", "server_cpu_us_per_req", "server_main_cpu_us_per_req",
    "server_cmds", "server_threads", "rss_before_kb", "rss_kb",
    "client_cpu_s", "client_cpu_us_per_req",
    "handshakes", "resumed", "handshakes_per_sec", "server_handshakes", "server_resumed",
    "server_cpu_us_per_handshake", "server_main_cpu_us_per_handshake",
    "idle_conns", "idle_conns_open", "idle_open_s", "server_connected_clients", "bytes_per_conn",
    "wall_s", "binary",
]


class CsvWriter:
    """results.csv, one row per server/cell/repeat, flushed as it goes."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "w", newline="")
        self.w = csv.DictWriter(self.f, FIELDS, extrasaction="ignore")
        self.w.writeheader()
        self.f.flush()

    def write(self, row):
        out = {}
        for k in FIELDS:
            v = row.get(k)
            if isinstance(v, float):
                v = "%.6g" % v
            out[k] = "" if v is None else v
        self.w.writerow(out)
        self.f.flush()

    def close(self):
        if not self.f.closed:
            self.f.close()


# ---- targets (from the issue) ----

def cpu_target(transport, pipeline):
    """Server CPU per request, keyloom / redis-server, at most this."""
    if transport == "tls":
        return 0.7 if pipeline == 1 else 0.8
    return 0.85


IO2_VS_IO1 = 0.95          # keyloom io2 ops/s >= this x keyloom io1 ops/s
IO2_VS_REDIS_IO2 = 1.5     # keyloom io2 ops/s > this x redis io2 ops/s (plain)
HS_FULL = 0.7              # full-handshake server CPU, keyloom / redis
HS_RESUMED = 0.25          # keyloom resumed-handshake CPU / redis full-handshake CPU
IDLE = 0.5                 # idle TLS connection bytes, keyloom / redis


# ---- data helpers ----

class Data:
    """Rows indexed by (phase, cell, server) -> {repeat: row} (ok rows only)."""

    def __init__(self, rows):
        self.ok = {}
        self.errors = {}
        for r in rows:
            key = (r["phase"], r["cell"], r["server"])
            if r.get("status") == "ok":
                self.ok.setdefault(key, {})[r["repeat"]] = r
            else:
                self.errors.setdefault(key, []).append(r)

    def values(self, phase, cell, server, metric):
        reps = self.ok.get((phase, cell, server), {})
        return [reps[k][metric] for k in sorted(reps) if reps[k].get(metric) is not None]

    def pairs(self, a, b, metric, metric_b=None):
        """Per-repeat ratios a/b; a and b are (phase, cell, server)."""
        ra, rb = self.ok.get(a, {}), self.ok.get(b, {})
        out = []
        for rep in sorted(set(ra) & set(rb)):
            x, y = ra[rep].get(metric), rb[rep].get(metric_b or metric)
            if x is not None and y:
                out.append(x / y)
        return out

    def nerr(self, phase, cell, server):
        return len(self.errors.get((phase, cell, server), []))


def _fmt(v, kind):
    if v is None:
        return "?"
    if kind == "ops":
        if v >= 1e6:
            return "%.2fM" % (v / 1e6)
        if v >= 1e3:
            return "%.1fk" % (v / 1e3)
        return "%.0f" % v
    if kind == "us":
        if v >= 100:
            return "%.0f" % v
        if v >= 10:
            return "%.1f" % v
        return "%.2f" % v
    if kind == "ratio":
        return "%.2f" % v
    if kind == "bytes":
        return "{:,.0f}".format(v).replace(",", " ")
    if kind == "mib":
        return "%.1f" % v
    return str(v)


def stat_text(vals, kind, nerr=0):
    """'median (min..max)' or the single value; 'error' when there is nothing."""
    if not vals:
        return "error" if nerr else "–"
    med = statistics.median(vals)
    text = _fmt(med, kind)
    lo, hi = _fmt(min(vals), kind), _fmt(max(vals), kind)
    if len(vals) > 1 and (lo != text or hi != text):
        text += " (%s..%s)" % (lo, hi)
    if nerr:
        text += " [%d error%s]" % (nerr, "s" if nerr > 1 else "")
    return text


def verdict(ratios, limit, op):
    """(median, 'met' / 'missed') for ratios against a target."""
    if not ratios:
        return None, "no data"
    med = statistics.median(ratios)
    ok = med <= limit if op == "<=" else (med >= limit if op == ">=" else med > limit)
    return med, ("met" if ok else "**missed**")


def ratio_text(ratios, limit=None, op="<="):
    if not ratios:
        return "–"
    text = stat_text(ratios, "ratio")
    if limit is not None:
        _, v = verdict(ratios, limit, op)
        text += " %s (%s %.2f)" % (v, {"<=": "≤", ">=": "≥", ">": ">"}[op], limit)
    return text


# ---- summary.md ----

def _cells(rows, phase):
    seen = []
    for r in rows:
        if r["phase"] == phase and r["cell"] not in seen:
            seen.append(r["cell"])
    return seen


def _cell_info(rows, cell):
    for r in rows:
        if r["cell"] == cell:
            return r
    return {}


def write_summary(out, rows, configs, a, machine, started, finished, problems, interrupted):
    d = Data(rows)
    ids = {c.id: c for c in configs}
    keyloom = [c for c in configs if c.family == "keyloom"]
    k1 = "keyloom-io1" if "keyloom-io1" in ids else None
    k2 = "keyloom-io2" if "keyloom-io2" in ids else None
    redis = "redis" if "redis" in ids else None
    redis2 = "redis-io2" if "redis-io2" in ids else None
    extras = [c.id for c in configs if c.family == "other" and c.id not in ("redis", "redis-io2")]
    targets = []     # (what, comparison, ratios, limit, op)

    L = []
    w = L.append
    w("## keyloom-server vs redis-server: %s" % started.strftime("%Y-%m-%d %H:%M %Z"))
    w("")
    if interrupted:
        w("**Interrupted (%s): partial results.**" % interrupted)
        w("")
    w("Command: `%s` (%s, %.0f s)" % (a.command_line, "quick" if a.quick else "default sizes",
                                       (finished - started).total_seconds()))
    w("")
    w("Machine: %d CPUs usable (%s online), %s, %.1f GiB RAM, Linux %s; load average at "
      "start `%s`, at end `%s`." % (machine["nproc"], machine["cpus_online"],
                                   machine["cpu_model"], machine["mem_gib"], machine["kernel"],
                                   machine["loadavg_start"], machine.get("loadavg_end", "?")))
    w("")
    w("Software: %s; %s; keyloom-bench `%s`; Python %s." % (
        "; ".join("`%s`: %s" % (b, v) for b, v in machine["versions"].items()),
        machine["openssl"], machine["bench"], machine["python"]))
    w("")
    w("Servers (all: `--bind 127.0.0.1 --save '' --appendonly no --maxclients %d`, TLS with "
      "`--tls-cert-file server.crt --tls-key-file server.key --tls-ca-cert-file ca.crt "
      "--tls-auth-clients no`, the same files for every server):" % max(10000, a.idle_conns
                                                                        + 1000))
    w("")
    for c in configs:
        w("* **%s**: `%s` %s" % (c.label, c.binary, c.note))
    w("")

    # --- throughput ---
    tcells = _cells(rows, "throughput")
    if tcells:
        size = ("%g s per run" % a.duration) if a.duration else (
            "-n %d (-P 1) / %d (-P 16) per run" % (a.requests, a.requests_p16))
        w("### Throughput cells")
        w("")
        w("keyloom-bench, %d connections, 1 thread, %d-byte values, keys from [0, %d) filled "
          "beforehand, %s, %d repeat%s. Cells are median (min..max) over the repeats; a ratio "
          "is the median (min..max) of the per-repeat ratios keyloom / other (the runs of one "
          "repeat are adjacent in time)." % (a.clients, a.data_size, a.keyspace, size,
                                             a.repeats, "s" if a.repeats > 1 else ""))
        w("")
        cols = [c for c in configs]

        def table(title, metric, kind, ratio_cols):
            w("**%s**" % title)
            w("")
            head = ["cell"] + [c.label for c in cols] + [h for h, _ in ratio_cols]
            w("| " + " | ".join(head) + " |")
            w("|" + "---|" * len(head))
            for cell in tcells:
                info = _cell_info(rows, cell)
                line = [cell]
                for c in cols:
                    if info.get("transport") == "tls" and not c.tls:
                        line.append("n/a")
                    else:
                        line.append(stat_text(d.values("throughput", cell, c.id, metric), kind,
                                              d.nerr("throughput", cell, c.id)))
                for _, fn in ratio_cols:
                    line.append(fn(cell, info))
                w("| " + " | ".join(line) + " |")
            w("")

        def pair(num, den, metric, limit=None, op="<=", only=None, record=None):
            def fn(cell, info):
                if num is None or den is None or (only and info.get("transport") != only):
                    return "n/a"
                r = d.pairs(("throughput", cell, num), ("throughput", cell, den), metric)
                lim = limit(info) if callable(limit) else limit
                if record and r is not None and lim is not None:
                    targets.append((record(cell, info), "%s / %s" % (ids[num].label,
                                                                      ids[den].label),
                                    r, lim, op))
                return ratio_text(r, lim, op)
            return fn

        def cpu_lim(info):
            return cpu_target(info.get("transport"), info.get("pipeline"))

        def cpu_what(cell, info):
            return "server CPU per request, %s" % cell

        rc = []
        for k in keyloom:
            if redis:
                rc.append(("%s / redis" % k.label,
                           pair(k.id, redis, "server_cpu_us_per_req", cpu_lim, "<=",
                                record=cpu_what)))
        if k2 and redis2:
            rc.append(("keyloom io2 / redis io2 (plain)",
                       pair(k2, redis2, "server_cpu_us_per_req", only="plain")))
        for x in extras:
            if k1:
                rc.append(("keyloom io1 / %s" % x, pair(k1, x, "server_cpu_us_per_req")))
        table("Server CPU per request, all threads (us, lower is better)",
              "server_cpu_us_per_req", "us", rc)

        rc = []
        if k1 and redis:
            rc.append(("keyloom io1 / redis", pair(k1, redis, "server_main_cpu_us_per_req")))
        if k2 and redis2:
            rc.append(("keyloom io2 / redis io2 (plain)",
                       pair(k2, redis2, "server_main_cpu_us_per_req", only="plain")))
        table("Server CPU per request, main thread only (us)", "server_main_cpu_us_per_req",
              "us", rc)

        rc = []
        if k1 and k2:
            rc.append(("keyloom io2 / keyloom io1",
                       pair(k2, k1, "ops_per_sec", IO2_VS_IO1, ">=",
                            record=lambda c, i: "ops/s io-threads 2 vs 1, %s" % c)))
        if k2 and redis2:
            rc.append(("keyloom io2 / redis io2 (plain)",
                       pair(k2, redis2, "ops_per_sec", IO2_VS_REDIS_IO2, ">", only="plain",
                            record=lambda c, i: "ops/s keyloom io2 vs redis io2, %s" % c)))
        if k2 and redis:
            rc.append(("keyloom io2 / redis", pair(k2, redis, "ops_per_sec")))
        if k1 and redis:
            rc.append(("keyloom io1 / redis", pair(k1, redis, "ops_per_sec")))
        for x in extras:
            if k1:
                rc.append(("keyloom io1 / %s" % x, pair(k1, x, "ops_per_sec")))
        table("Throughput (ops/s, higher is better; the client shares the CPUs with the "
              "server)", "ops_per_sec", "ops", rc)

        line = []
        for c in configs:
            vals = [r["rss_kb"] for r in rows if r["phase"] == "throughput"
                    and r["server"] == c.id and r.get("rss_kb")]
            if vals:
                line.append("%s %.1f MiB" % (c.label, max(vals) / 1024.0))
        if line:
            w("Peak RSS after a throughput run: " + ", ".join(line) + ".")
            w("")

    # --- handshakes ---
    hcells = _cells(rows, "handshake")
    if hcells:
        tls_cfgs = [c for c in configs if c.tls]
        size = ("%g s" % a.hs_duration) if a.hs_duration else ("-n %d" % a.hs_requests)
        w("### TLS handshakes")
        w("")
        w("keyloom-bench `--tls --reconnect 1 -t ping`, %d connections, %s per run: every "
          "request on a new connection, so the CPU per handshake also covers the TCP accept, "
          "one PING and the close. Resumed: `--session-reuse` (TLS 1.3 tickets), RSA "
          "certificate. Full: RSA-2048 and EC P-256 server certificates from the same CA."
          % (a.hs_clients, size))
        w("")
        full_rsa = next((c for c in hcells if c.startswith("full RSA")), None)
        head = ["handshake"] + ["%s us/handshake" % c.label for c in tls_cfgs] + \
            ["%s / redis" % k.label for k in keyloom if redis]
        w("| " + " | ".join(head) + " |")
        w("|" + "---|" * len(head))
        for cell in hcells:
            resumed = cell.startswith("resumed")
            line = [cell]
            for c in tls_cfgs:
                line.append(stat_text(d.values("handshake", cell, c.id,
                                               "server_cpu_us_per_handshake"), "us",
                                      d.nerr("handshake", cell, c.id)))
            for k in keyloom:
                if not redis:
                    continue
                if resumed and full_rsa:
                    r = d.pairs(("handshake", cell, k.id), ("handshake", full_rsa, redis),
                                "server_cpu_us_per_handshake")
                    targets.append(("server CPU per resumed handshake vs redis full RSA "
                                    "handshake", "%s / redis" % k.label, r, HS_RESUMED, "<="))
                    r2 = d.pairs(("handshake", cell, k.id), ("handshake", cell, redis),
                                 "server_cpu_us_per_handshake")
                    line.append("%s vs redis full RSA; %s vs redis resumed" % (
                        ratio_text(r, HS_RESUMED), ratio_text(r2)))
                else:
                    r = d.pairs(("handshake", cell, k.id), ("handshake", cell, redis),
                                "server_cpu_us_per_handshake")
                    targets.append(("server CPU per %s handshake" % cell,
                                    "%s / redis" % k.label, r, HS_FULL, "<="))
                    line.append(ratio_text(r, HS_FULL))
            w("| " + " | ".join(line) + " |")
        w("")
        head = ["handshake"] + ["%s handshakes/s (resumed %%)" % c.label for c in tls_cfgs]
        w("| " + " | ".join(head) + " |")
        w("|" + "---|" * len(head))
        for cell in hcells:
            line = [cell]
            for c in tls_cfgs:
                text = stat_text(d.values("handshake", cell, c.id, "handshakes_per_sec"), "ops",
                                 d.nerr("handshake", cell, c.id))
                hs = sum(d.values("handshake", cell, c.id, "handshakes"))
                res = sum(d.values("handshake", cell, c.id, "resumed"))
                if hs:
                    text += " (%.0f%%)" % (100.0 * res / hs)
                line.append(text)
            w("| " + " | ".join(line) + " |")
        w("")
        w("The resumed-handshake target (≤ %.2f x) is read as keyloom's server CPU per resumed "
          "handshake against redis-server's per *full* RSA handshake (the issue says only "
          "\"resumed handshakes <= 0.25 x\"); the ratio to redis-server's own resumed "
          "handshakes is shown beside it." % HS_RESUMED)
        w("")

    # --- idle ---
    if any(r["phase"] == "idle" for r in rows):
        tls_cfgs = [c for c in configs if c.tls]
        w("### Idle TLS connections")
        w("")
        w("A fresh server per repeat; %d TLS connections opened by a Python asyncio client "
          "(64 handshakes in flight), each doing one PING, then left idle %g s before VmRSS is "
          "read. Bytes per connection = (RSS after - RSS before) / connections."
          % (a.idle_conns, a.settle))
        w("")
        head = ["server", "connections", "RSS before (MiB)", "RSS after (MiB)",
                "bytes per connection", "ratio keyloom / redis"]
        w("| " + " | ".join(head) + " |")
        w("|" + "---|" * len(head))
        for c in tls_cfgs:
            line = [c.label]
            line.append(stat_text(d.values("idle", "idle TLS", c.id, "idle_conns_open"), "bytes",
                                  d.nerr("idle", "idle TLS", c.id)))
            line.append(stat_text([v / 1024.0 for v in d.values("idle", "idle TLS", c.id,
                                                                 "rss_before_kb")], "mib"))
            line.append(stat_text([v / 1024.0 for v in d.values("idle", "idle TLS", c.id,
                                                                 "rss_kb")], "mib"))
            line.append(stat_text(d.values("idle", "idle TLS", c.id, "bytes_per_conn"),
                                  "bytes"))
            if c.family == "keyloom" and redis:
                r = d.pairs(("idle", "idle TLS", c.id), ("idle", "idle TLS", redis),
                            "bytes_per_conn")
                targets.append(("RSS per idle TLS connection", "%s / redis" % c.label, r,
                                IDLE, "<="))
                line.append(ratio_text(r, IDLE))
            else:
                line.append("")
            w("| " + " | ".join(line) + " |")
        w("")

    # --- targets ---
    if targets:
        w("### Targets")
        w("")
        w("| target | comparison | measured ratio | |")
        w("|---|---|---|---|")
        for what, comp, ratios, limit, op in targets:
            med, v = verdict(ratios, limit, op)
            w("| %s %s %.2f x | %s | %s | %s |" % (
                what, {"<=": "≤", ">=": "≥", ">": ">"}[op], limit, comp,
                stat_text(ratios, "ratio"), v))
        met = sum(1 for t in targets if verdict(t[2], t[3], t[4])[1] == "met")
        w("")
        w("%d of %d met." % (met, len(targets)))
        w("")

    # --- method ---
    w("### How it was measured")
    w("")
    w("* Server CPU: utime + stime of `/proc/PID/stat` (all threads, exited ones included) "
      "and `/proc/PID/task/PID/stat` (main thread), read right before and right after each "
      "keyloom-bench process (10 ms clock ticks), divided by the requests that keyloom-bench "
      "counted (replies received). So it includes the connection set-up of the run (50 TLS "
      "handshakes in the TLS cells) and the few requests still in flight at the end.")
    w("* Order: for each repeat, for each cell, every server in turn (A B C A B C ...); all "
      "servers of a phase run at once, idle between their turns.")
    w("* Client CPU per request is in results.csv (`client_cpu_us_per_req`, from "
      "keyloom-bench's getrusage).")
    w("* The client and the server share the machine's %d CPUs, so ops/s depend on both; "
      "server CPU per request does not." % machine["nproc"])
    w("")

    # --- problems ---
    errs = [r for r in rows if r.get("status") != "ok"]
    if problems or errs:
        w("### Problems observed")
        w("")
        for p in problems:
            lines = p.splitlines()
            w("* " + lines[0])
            tail = [x for x in lines[1:] if x.strip() and not x.startswith("----")][-4:]
            for x in tail:
                w("  `%s`" % x.strip().replace("`", "'"))
        for r in errs:
            w("* %s, %s, repeat %d: %s" % (r["server"], r["cell"], r["repeat"] + 1, r["error"]))
        w("")
        w("Server logs: `%s/servers/`." % out)
        w("")

    path = os.path.join(out, "summary.md")
    with open(path, "w") as f:
        f.write("\n".join(L))
    return path


# ---- chart.png ----

def _terminal():
    for term in ("pngcairo", "png"):
        try:
            res = subprocess.run(["gnuplot", "-e", "set terminal %s" % term],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        if res.returncode == 0 and not res.stdout.strip():
            return term
    return None


def _dat(path, labels, series, rows_spec):
    """A clustered-histogram data file: header of series names, one line per cluster."""
    with open(path, "w") as f:
        f.write("cluster " + " ".join('"%s"' % s for s in series) + "\n")
        for label, vals in zip(labels, rows_spec):
            f.write('"%s" ' % label + " ".join("?" if v is None else "%.6g" % v for v in vals)
                    + "\n")


def write_chart(out, rows, configs):
    """chart.png with gnuplot; returns (path or None, error text or None)."""
    if shutil.which("gnuplot") is None:
        return None, "gnuplot not found; no chart.png"
    term = _terminal()
    if term is None:
        return None, "gnuplot has neither the pngcairo nor the png terminal"
    d = Data(rows)
    cdir = os.path.join(out, "chart")
    os.makedirs(cdir, exist_ok=True)
    labels = [c.label for c in configs]

    def med(phase, cell, cid, metric, scale=1.0):
        v = d.values(phase, cell, cid, metric)
        return statistics.median(v) * scale if v else None

    panels = []
    tcells = _cells(rows, "throughput")
    for p in (1, 16):
        cells = [c for c in tcells if " -P %d " % p in c]
        if not cells:
            continue
        short = [c.replace(" -P %d" % p, "").replace("tls", "TLS") for c in cells]
        fn = os.path.join(cdir, "cpu_p%d.dat" % p)
        _dat(fn, short, labels, [[med("throughput", c, x.id, "server_cpu_us_per_req")
                                  for x in configs] for c in cells])
        panels.append((fn, "server CPU per request, -P %d (us, lower is better)" % p,
                       len(configs)))
        fn = os.path.join(cdir, "ops_p%d.dat" % p)
        _dat(fn, short, labels, [[med("throughput", c, x.id, "ops_per_sec", 1e-3)
                                  for x in configs] for c in cells])
        panels.append((fn, "throughput, -P %d (k ops/s, higher is better)" % p, len(configs)))
    tls_cfgs = [c for c in configs if c.tls]
    hcells = _cells(rows, "handshake")
    if hcells:
        fn = os.path.join(cdir, "handshake.dat")
        _dat(fn, hcells, [c.label for c in tls_cfgs],
             [[med("handshake", c, x.id, "server_cpu_us_per_handshake") for x in tls_cfgs]
              for c in hcells])
        panels.append((fn, "server CPU per TLS handshake (us, lower is better)", len(tls_cfgs)))
    if any(r["phase"] == "idle" for r in rows):
        fn = os.path.join(cdir, "idle.dat")
        _dat(fn, ["idle TLS connection"], [c.label for c in tls_cfgs],
             [[med("idle", "idle TLS", x.id, "bytes_per_conn", 1 / 1024.0) for x in tls_cfgs]])
        panels.append((fn, "RSS per idle TLS connection (KiB, lower is better)", len(tls_cfgs)))
    if not panels:
        return None, "no data to chart"

    ncols = 2
    nrows = (len(panels) + 1) // 2
    png = os.path.join(out, "chart.png")
    gp = [
        "set terminal %s size 1400,%d%s" % (term, 420 * nrows,
                                            " font ',10'" if term == "pngcairo" else ""),
        "set output '%s'" % png.replace("'", "''"),
        "set datafile missing '?'",
        "set style data histograms",
        "set style histogram clustered gap 1",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.9",
        "set key outside bottom center horizontal",
        "set grid ytics",
        "set yrange [0:*]",
        "set multiplot layout %d,%d title 'keyloom-server vs redis-server'" % (nrows, ncols),
    ]
    for fn, title, n in panels:
        gp.append("set title '%s'" % title.replace("'", "''"))
        gp.append("plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)"
                  % (n + 1, fn.replace("'", "''")))
    gp.append("unset multiplot")
    script = os.path.join(cdir, "chart.gp")
    with open(script, "w") as f:
        f.write("\n".join(gp) + "\n")
    try:
        res = subprocess.run(["gnuplot", script], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return None, "gnuplot failed: %s" % e
    if res.returncode != 0 or not os.path.isfile(png) or os.path.getsize(png) == 0:
        return None, "gnuplot failed: %s" % res.stdout.decode(errors="replace")[-500:]
    return png, None
