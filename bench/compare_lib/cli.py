"""bench/compare: options, the measurement plan, and the run loop.

Phases, each repeated --repeats times with the servers interleaved (A B C A B C ...):
  1. throughput: plain and TLS x -P 1 and -P 16 x SET and GET, 50 clients, 64-byte values;
  2. handshakes: full (RSA-2048 and EC P-256 server certificates) and resumed (RSA-2048,
     --session-reuse), one new connection per request (keyloom-bench --reconnect 1);
  3. idle TLS connections: a fresh server per repeat, N connections held by idle_client.py,
     RSS before and after.
Around every run: server CPU (all threads and the main thread) from /proc, RSS, INFO.
"""

import argparse
import datetime
import os
import resource
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time

from . import bench, certs, report
from .servers import Config, Instance, ServerError, info_int, popen

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

DEFAULTS = dict(repeats=3, duration=4.0, hs_duration=3.0, clients=50, hs_clients=16,
                data_size=64, keyspace=100000, fill=500000, idle_conns=5000, settle=3.0)
# --quick: tiny sizes (seconds in all) for the integration test; -n instead of --duration.
QUICK = dict(repeats=1, requests=2000, requests_p16=20000, hs_requests=100, hs_clients=4,
             keyspace=1000, fill=10000, idle_conns=200, settle=1.0)

PHASES = ("throughput", "handshake", "idle")


def _on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/compare",
        description="Compare keyloom-server with redis-server (and other redis-server-"
                    "compatible binaries) under the same keyloom-bench load: ops/s, server CPU "
                    "per request (all threads and the main thread), RSS, TLS handshake CPU and "
                    "idle TLS connection memory. Writes results.csv, summary.md and chart.png.",
        epilog="Default: the whole matrix in about 10 minutes on 2 cores. Servers listen on "
               "127.0.0.1 only, on ports the kernel picks; every run is bounded in time.")
    p.add_argument("--out", help="output directory (default bench/results/<timestamp>/)")
    p.add_argument("--quick", action="store_true",
                   help="tiny workloads and 1 repeat (seconds; for the integration test)")
    p.add_argument("--repeats", type=int, help="repeats per cell (default 3, quick 1)")
    p.add_argument("--duration", type=float,
                   help="seconds per throughput run (default %g)" % DEFAULTS["duration"])
    p.add_argument("-n", "--requests", type=int,
                   help="requests per throughput run instead of --duration")
    p.add_argument("--hs-duration", type=float,
                   help="seconds per handshake run (default %g)" % DEFAULTS["hs_duration"])
    p.add_argument("--hs-requests", type=int,
                   help="handshakes (= requests) per handshake run instead of --hs-duration")
    p.add_argument("-c", "--clients", type=int, default=DEFAULTS["clients"],
                   help="connections for the throughput cells (default 50)")
    p.add_argument("--hs-clients", type=int,
                   help="connections for the handshake cells (default %d, quick %d)"
                   % (DEFAULTS["hs_clients"], QUICK["hs_clients"]))
    p.add_argument("-d", "--data-size", type=int, default=DEFAULTS["data_size"],
                   help="value size in bytes (default 64)")
    p.add_argument("-r", "--keyspace", type=int,
                   help="keys drawn from [0, N) (default %d); filled with SETs before the runs"
                   % DEFAULTS["keyspace"])
    p.add_argument("--idle-conns", type=int,
                   help="idle TLS connections for the memory cell (default %d, quick %d)"
                   % (DEFAULTS["idle_conns"], QUICK["idle_conns"]))
    p.add_argument("--settle", type=float,
                   help="seconds the idle connections sit before RSS is read (default %g)"
                   % DEFAULTS["settle"])
    p.add_argument("--skip", default="",
                   help="comma-separated phases to leave out: " + ",".join(PHASES))
    p.add_argument("--keyloom", default=os.path.join(ROOT, "build", "server", "keyloom-server"),
                   help="keyloom-server binary (default build/server/keyloom-server)")
    p.add_argument("--redis", default="/usr/bin/redis-server",
                   help="redis-server binary, 'none' to leave it out (default /usr/bin/redis-server)")
    p.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "keyloom-bench"),
                   help="keyloom-bench binary (default build/bench/keyloom-bench)")
    p.add_argument("--server", action="append", default=[], metavar="NAME=PATH[:ARGS]",
                   help="another redis-server-compatible binary to compare (repeatable); ARGS "
                        "are extra server arguments, shell-quoted, e.g. "
                        "'valkey=/usr/bin/valkey-server:--hz 10'")
    p.add_argument("--certs", default=os.path.join(ROOT, "tests", "tls"),
                   help="directory with ca.{crt,key} and server.{crt,key} (RSA-2048; made by "
                        "utils/gen-test-certs.sh when missing; default tests/tls)")
    p.add_argument("--no-chart", action="store_true", help="do not run gnuplot")
    a = p.parse_args(argv)

    base = dict(DEFAULTS)
    if a.quick:
        base.update(QUICK)
    for k in ("repeats", "hs_clients", "keyspace", "idle_conns", "settle"):
        if getattr(a, k) is None:
            setattr(a, k, base[k])
    a.fill = max(base["fill"], a.keyspace * 5)
    if a.duration is None and a.requests is None:
        if a.quick:
            a.requests = base["requests"]
            a.requests_p16 = base["requests_p16"]
        else:
            a.duration = base["duration"]
    if a.requests is not None and not hasattr(a, "requests_p16"):
        a.requests_p16 = a.requests
    if a.hs_duration is None and a.hs_requests is None:
        if a.quick:
            a.hs_requests = base["hs_requests"]
        else:
            a.hs_duration = base["hs_duration"]
    a.skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    bad = a.skip - set(PHASES)
    if bad:
        p.error("--skip: unknown phase(s) %s" % ", ".join(sorted(bad)))
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    return a


def parse_server_spec(spec):
    """'name=/path[:extra args]' -> (name, path, [args])."""
    if "=" not in spec:
        raise ValueError("--server %r: expected NAME=PATH[:ARGS]" % spec)
    name, rest = spec.split("=", 1)
    path, _, extra = rest.partition(":")
    if os.sep in path:
        path = os.path.abspath(path)  # servers run in their own working directories
    name = name.strip()
    if not name or not path:
        raise ValueError("--server %r: expected NAME=PATH[:ARGS]" % spec)
    return name, path, shlex.split(extra)


def make_configs(a):
    configs = [
        Config("keyloom-io1", "keyloom", a.keyloom, 1, label="keyloom io1",
               note="--io-threads 1: one thread does I/O, TLS and commands"),
        Config("keyloom-io2", "keyloom", a.keyloom, 2, label="keyloom io2",
               note="--io-threads 2: the executor thread plus one I/O thread"),
    ]
    if a.redis and a.redis != "none":
        configs.append(Config("redis", "other", a.redis, 1, label="redis",
                              note="redis-server, default --io-threads 1"))
        configs.append(Config(
            "redis-io2", "other", a.redis, 2, ["--io-threads-do-reads", "yes"], tls=False,
            label="redis io2",
            note="--io-threads 2 --io-threads-do-reads yes; plain only: redis-server 7.0 does "
                 "not support I/O threads with TLS (started without a TLS port)"))
    for spec in a.server:
        name, path, extra = parse_server_spec(spec)
        configs.append(Config(name, "other", path, 1, extra, label=name,
                              note="%s %s" % (path, " ".join(extra))))
    return configs


class Cell:
    def __init__(self, phase, transport, pipeline=None, test=None, cert=None, resumed=False):
        self.phase = phase
        self.transport = transport
        self.pipeline = pipeline
        self.test = test
        self.cert = cert
        self.resumed = resumed

    @property
    def name(self):
        if self.phase == "throughput":
            return "%s -P %d %s" % (self.transport, self.pipeline, self.test.upper())
        if self.phase == "handshake":
            return "%s %s" % ("resumed" if self.resumed else "full", self.cert.upper())
        return "idle TLS"


def throughput_cells():
    return [Cell("throughput", t, p, test) for t in ("plain", "tls") for p in (1, 16)
            for test in ("set", "get")]


def handshake_cells():
    return [Cell("handshake", "tls", cert="rsa"), Cell("handshake", "tls", cert="ec"),
            Cell("handshake", "tls", cert="rsa", resumed=True)]


def machine_info(configs, bench_path):
    def first_line(path):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return "?"
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ossl = subprocess.run(["openssl", "version"], stdout=subprocess.PIPE,
                              timeout=10).stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        ossl = "?"
    try:
        bver = subprocess.run([bench_path, "--version"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=10).stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        bver = "?"
    versions = {}
    for c in configs:
        versions.setdefault(c.binary, c.version())
    mem_kb = None
    for line in first_line("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return dict(nproc=len(os.sched_getaffinity(0)), cpus_online=os.cpu_count(), cpu_model=model,
                kernel=os.uname().release, mem_gib=(mem_kb or 0) / 1048576.0,
                loadavg_start=first_line("/proc/loadavg"), openssl=ossl, bench=bver,
                python=sys.version.split()[0], versions=versions)


class Runner:
    def __init__(self, a, configs, out):
        self.a = a
        self.configs = configs
        self.out = out
        self.instances = {}
        self.start_failures = {}
        self.launches = {}
        self.rows = []
        self.problems = []
        self.idle_proc = None
        self.seq = 0
        self.tls_rsa = certs.rsa_server_cert(a.certs)
        self.tls_ec = None
        self.csv = report.CsvWriter(os.path.join(out, "results.csv"))
        self.maxclients = max(10000, a.idle_conns + 1000)

    # ----- bookkeeping -----

    def problem(self, text):
        self.problems.append(text)
        log("PROBLEM: " + text.splitlines()[0])

    def emit(self, row):
        self.seq += 1
        row["seq"] = self.seq
        row["time"] = datetime.datetime.now().isoformat(timespec="seconds")
        self.rows.append(row)
        self.csv.write(row)

    # ----- servers -----

    def tls_files(self, cert):
        if cert == "rsa":
            return self.tls_rsa
        if cert == "ec":
            if self.tls_ec is None:
                self.tls_ec = certs.make_ec_server_cert(self.a.certs,
                                                        tempfile.mkdtemp(prefix="kl-compare-ec-"))
            return self.tls_ec
        return None

    def instance(self, cfg, cert, fill=False):
        """The running instance of cfg with cert, started (and filled) on first use and
        restarted when it died or stopped answering; None when it cannot be started."""
        key = (cfg.id, cert)
        inst = self.instances.get(key)
        if inst is not None:
            if inst.healthy():
                return inst
            rc = inst.exit_status()
            if rc is None:
                self.problem("%s (%s cert) stopped answering PING; killed and restarted\n%s"
                             % (cfg.id, cert or "no", inst.log_tail()))
                inst.kill()
            else:
                self.problem("%s (%s cert) had exited with status %s%s; restarted\n%s"
                             % (cfg.id, cert or "no", rc, _signame(rc), inst.log_tail()))
        if self.start_failures.get(key, 0) >= 2:
            return None
        self.launches[key] = self.launches.get(key, 0) + 1
        workdir = os.path.join(self.out, "servers", "%s-%s%s" % (
            cfg.id, cert or "plain",
            "-start%d" % self.launches[key] if self.launches[key] > 1 else ""))
        new = Instance(cfg, workdir, self.tls_files(cert), self.maxclients)
        try:
            new.start()
        except (ServerError, OSError) as e:
            self.start_failures[key] = self.start_failures.get(key, 0) + 1
            self.problem("%s failed to start: %s" % (cfg.id, e))
            self.instances.pop(key, None)
            return None
        self.instances[key] = new
        log("started %s (%s) pid %d port %d%s" % (
            cfg.id, cert or "plain", new.pid, new.port,
            " tls-port %d" % new.tls_port if new.tls_port else ""))
        if fill:
            self.fill(new)
        return new

    def fill(self, inst):
        res = bench.run(self.a.bench, inst.port, clients=50, pipeline=16, requests=self.a.fill,
                        test="set", data_size=self.a.data_size, keyspace=self.a.keyspace)
        if res.error:
            self.problem("filling %s with %d SETs: %s" % (inst.config.id, self.a.fill, res.error))

    def stop_all(self):
        for key, inst in list(self.instances.items()):
            err = inst.stop()
            if err:
                self.problem(err + "\n" + inst.log_tail())
        self.instances.clear()

    # ----- measuring one run -----

    def _snapshot(self, inst):
        try:
            info = inst.info("all")
        except (OSError, ConnectionError, ServerError) as e:
            return None, None, "INFO failed: %s" % e
        return info, inst.cpu(), None

    def _measure(self, inst, run):
        """Snapshots around run() -> (result, dict of deltas, error or None)."""
        info0, cpu0, err = self._snapshot(inst)
        rss0 = inst.rss_kb()
        if err:
            return None, {}, err
        t0 = time.monotonic()
        res = run()
        wall = time.monotonic() - t0
        cpu1 = inst.cpu()
        rss1 = inst.rss_kb()
        if not inst.alive():
            rc = inst.exit_status()
            msg = "server exited with status %s%s during the run" % (rc, _signame(rc))
            self.problem("%s: %s\n%s" % (inst.config.id, msg, inst.log_tail()))
            return res, {}, msg
        info1, _, err = self._snapshot(inst)
        d = dict(wall_s=wall, rss_before_kb=rss0, rss_kb=rss1)
        if cpu0 and cpu1:
            d["server_cpu_s"] = cpu1.total - cpu0.total
            d["server_main_cpu_s"] = cpu1.main - cpu0.main
            d["server_threads"] = cpu1.threads
        if err:
            self.problem("%s did not answer INFO after a run: %s" % (inst.config.id, err))
            return res, d, err
        for field, key in (("total_commands_processed", "server_cmds"),
                           ("tls_handshakes_completed", "server_handshakes"),
                           ("tls_handshakes_resumed", "server_resumed")):
            v0, v1 = info_int(info0, field), info_int(info1, field)
            if v0 is not None and v1 is not None:
                d[key] = v1 - v0
        return res, d, None

    def base_row(self, phase, cfg, cell, rep):
        return dict(phase=phase, server=cfg.id, family=cfg.family, binary=cfg.binary,
                    io_threads=cfg.io_threads, transport=cell.transport,
                    cert=cell.cert or ("rsa" if cell.transport == "tls" else ""),
                    pipeline=cell.pipeline if cell.pipeline else "",
                    clients=self.a.clients if phase == "throughput" else (
                        self.a.hs_clients if phase == "handshake" else self.a.idle_conns),
                    test=(cell.test or ("ping" if phase == "handshake" else "idle")).upper(),
                    mode=("resumed" if cell.resumed else "full") if phase == "handshake" else "",
                    cell=cell.name, repeat=rep, status="ok", error="")

    def _fill_bench_fields(self, row, res):
        r = res.report if res else {}
        for k in ("requests", "errors", "failed", "conn_errors", "seconds", "ops_per_sec",
                  "p50_us", "p99_us", "handshakes", "handshakes_per_sec", "resumed"):
            if k in r:
                row[k] = r[k]
        if "cpu_s" in r:
            row["client_cpu_s"] = r["cpu_s"]
            if r.get("requests"):
                row["client_cpu_us_per_req"] = r["cpu_s"] * 1e6 / r["requests"]

    def run_throughput(self, cfg, cell, rep):
        a = self.a
        row = self.base_row("throughput", cfg, cell, rep)
        inst = self.instance(cfg, "rsa" if cfg.tls else None, fill=True)
        if inst is None:
            row.update(status="error", error="server not running (failed to start)")
            return self.emit(row)
        port = inst.tls_port if cell.transport == "tls" else inst.port
        n = None
        if a.requests is not None:
            n = a.requests_p16 if cell.pipeline > 1 else a.requests
        res, d, err = self._measure(inst, lambda: bench.run(
            a.bench, port, tls=self.tls_rsa["ca"] if cell.transport == "tls" else None,
            clients=a.clients, pipeline=cell.pipeline, duration=a.duration, requests=n,
            test=cell.test, data_size=a.data_size, keyspace=a.keyspace))
        row.update(d)
        self._fill_bench_fields(row, res)
        reqs = row.get("requests") or 0
        if reqs and "server_cpu_s" in row:
            row["server_cpu_us_per_req"] = row["server_cpu_s"] * 1e6 / reqs
            row["server_main_cpu_us_per_req"] = row["server_main_cpu_s"] * 1e6 / reqs
        error = err or (res.error if res else None)
        if error:
            row.update(status="error", error=error)
        self.emit(row)
        log("[%s r%d] %-22s %-12s %s" % (cell.phase, rep + 1, cell.name, cfg.id,
                                        _short(row)))

    def run_handshake(self, cfg, cell, rep):
        a = self.a
        row = self.base_row("handshake", cfg, cell, rep)
        inst = self.instance(cfg, cell.cert)
        if inst is None:
            row.update(status="error", error="server not running (failed to start)")
            return self.emit(row)
        res, d, err = self._measure(inst, lambda: bench.run(
            a.bench, inst.tls_port, tls=self.tls_files(cell.cert)["ca"], clients=a.hs_clients,
            pipeline=1, duration=a.hs_duration, requests=a.hs_requests, test="ping",
            reconnect=1, session_reuse=cell.resumed))
        row.update(d)
        self._fill_bench_fields(row, res)
        hs = row.get("handshakes") or 0
        if hs and "server_cpu_s" in row:
            row["server_cpu_us_per_handshake"] = row["server_cpu_s"] * 1e6 / hs
            row["server_main_cpu_us_per_handshake"] = row["server_main_cpu_s"] * 1e6 / hs
        error = err or (res.error if res else None)
        if not error and cell.resumed and hs and (row.get("resumed") or 0) < hs / 2:
            error = "only %s of %d handshakes were resumed" % (row.get("resumed"), hs)
        if error:
            row.update(status="error", error=error)
        self.emit(row)
        log("[%s r%d] %-22s %-12s %s" % (cell.phase, rep + 1, cell.name, cfg.id,
                                        _short(row)))

    def run_idle(self, cfg, rep):
        a = self.a
        cell = Cell("idle", "tls", cert="rsa")
        row = self.base_row("idle", cfg, cell, rep)
        row["idle_conns"] = a.idle_conns
        workdir = os.path.join(self.out, "servers", "idle-%s-r%d" % (cfg.id, rep + 1))
        inst = Instance(cfg, workdir, self.tls_rsa, self.maxclients)
        try:
            inst.start()
        except (ServerError, OSError) as e:
            self.problem("%s failed to start for the idle cell: %s" % (cfg.id, e))
            row.update(status="error", error="server failed to start")
            return self.emit(row)
        self.instances[(cfg.id, "idle")] = inst
        try:
            self._idle(inst, row)
        finally:
            if self.idle_proc is not None:
                _stop_idle_client(self.idle_proc)
                self.idle_proc = None
            self.instances.pop((cfg.id, "idle"), None)
            err = inst.stop()
            if err:
                self.problem(err + "\n" + inst.log_tail())
        self.emit(row)
        log("[idle r%d] %-12s %s" % (rep + 1, cfg.id, _short(row)))

    def _idle(self, inst, row):
        a = self.a
        time.sleep(1.0)
        rss0 = inst.rss_kb()
        cpu0 = inst.cpu()
        row["rss_before_kb"] = rss0
        argv = [sys.executable, os.path.join(HERE, "idle_client.py"), "--port",
                str(inst.tls_port), "--cacert", self.tls_rsa["ca"], "-n", str(a.idle_conns),
                "--hold", str(300 + a.settle)]
        self.idle_proc = proc = popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
        limit = 60 + a.idle_conns / 20.0
        line = _readline(proc.stdout, limit)
        if not line.startswith(b"READY"):
            err = proc.stderr.read1(4096).decode(errors="replace") if proc.poll() is not None \
                else ""
            row.update(status="error", error="idle client did not get ready within %.0f s%s"
                       % (limit, (": " + err.strip().splitlines()[-1]) if err.strip() else ""))
            if not inst.alive():
                rc = inst.exit_status()
                row["error"] += "; server exited with status %s%s" % (rc, _signame(rc))
                self.problem("%s exited with status %s%s while %d idle TLS connections were "
                             "opened\n%s" % (inst.config.id, rc, _signame(rc), a.idle_conns,
                                             inst.log_tail()))
            return
        parts = line.decode(errors="replace").split(None, 4)
        ok, failed, secs = int(parts[1]), int(parts[2]), float(parts[3])
        row["idle_open_s"] = secs
        if failed:
            row.update(status="error", error="%d of %d idle connections failed: %s" % (
                failed, a.idle_conns, parts[4].strip() if len(parts) > 4 else "?"))
        time.sleep(a.settle)
        cpu1 = inst.cpu()
        rss1 = inst.rss_kb()
        row["rss_kb"] = rss1
        try:
            connected = info_int(inst.info("clients"), "connected_clients")
        except (OSError, ConnectionError, ServerError) as e:
            connected = None
            row.update(status="error", error="INFO failed with idle connections open: %s" % e)
        row["server_connected_clients"] = connected
        row["idle_conns_open"] = ok
        if cpu0 and cpu1:
            row["server_cpu_s"] = cpu1.total - cpu0.total
            row["server_main_cpu_s"] = cpu1.main - cpu0.main
        if rss0 is not None and rss1 is not None and ok:
            row["bytes_per_conn"] = (rss1 - rss0) * 1024.0 / ok
        if not inst.alive():
            rc = inst.exit_status()
            row.update(status="error", error="server exited with status %s%s" % (rc, _signame(rc)))
            self.problem("%s exited with status %s%s holding idle TLS connections\n%s"
                         % (inst.config.id, rc, _signame(rc), inst.log_tail()))


def _readline(f, timeout):
    """One line from a pipe within timeout seconds (b'' on timeout or EOF)."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = f.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            return b""
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            return b""
        chunk = os.read(fd, 4096)
        if not chunk:
            return buf
        buf += chunk
    return buf


def _stop_idle_client(proc):
    try:
        proc.stdin.write(b"done\n")
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        bench.kill(proc)
        proc.wait(5)


def _signame(rc):
    from .servers import signame
    return signame(rc)


def _short(row):
    if row.get("status") != "ok":
        return "ERROR: " + str(row.get("error"))[:160]
    if row["phase"] == "throughput":
        return "%10.0f ops/s  server %6.2f us/req (main %6.2f)  rss %d KiB" % (
            row.get("ops_per_sec", 0), row.get("server_cpu_us_per_req", 0),
            row.get("server_main_cpu_us_per_req", 0), row.get("rss_kb") or 0)
    if row["phase"] == "handshake":
        return "%8.0f hs/s  server %7.1f us/handshake  resumed %s/%s" % (
            row.get("handshakes_per_sec", 0), row.get("server_cpu_us_per_handshake", 0),
            row.get("resumed"), row.get("handshakes"))
    return "%d conns  rss %s -> %s KiB  %.0f bytes/conn" % (
        row.get("idle_conns_open", 0), row.get("rss_before_kb"), row.get("rss_kb"),
        row.get("bytes_per_conn") or 0)


def log(msg):
    sys.stderr.write("compare: %s\n" % msg)
    sys.stderr.flush()


def raise_nofile(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv=None):
    raw_argv = sys.argv[1:] if argv is None else argv
    a = parse_args(raw_argv)
    a.command_line = shlex.join(["bench/compare"] + list(raw_argv))
    # Servers run in their own working directories: relative paths would not resolve there.
    for name in ("out", "keyloom", "bench", "certs"):
        v = getattr(a, name)
        if v and os.sep in v:
            setattr(a, name, os.path.abspath(v))
    for path, what in ((a.bench, "keyloom-bench"), (a.keyloom, "keyloom-server")):
        if not os.access(path, os.X_OK):
            log("%s not found at %s (build with: ninja -C build)" % (what, path))
            return 2
    try:
        configs = make_configs(a)
    except ValueError as e:
        log(str(e))
        return 2
    for c in configs:
        if not os.access(c.binary, os.X_OK):
            log("warning: %s: %s is not executable; its cells will be errors" % (c.id, c.binary))
    try:
        certs.ensure_test_certs(ROOT, a.certs)
    except (certs.CertError, OSError, subprocess.SubprocessError) as e:
        log(str(e))
        return 2

    # The server and the idle client inherit this; each server gets --maxclients to match.
    nofile = raise_nofile(a.idle_conns + 1100)
    if nofile < a.idle_conns + 200:
        log("RLIMIT_NOFILE is %d: idle connections lowered from %d to %d"
            % (nofile, a.idle_conns, nofile - 300))
        a.idle_conns = max(10, nofile - 300)

    out = a.out or os.path.join(ROOT, "bench", "results",
                                datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    a.out = out
    started = datetime.datetime.now().astimezone()
    machine = machine_info(configs, a.bench)
    log("output: %s" % out)
    log("machine: %d CPUs (%s), load %s" % (machine["nproc"], machine["cpu_model"],
                                             machine["loadavg_start"]))

    runner = Runner(a, configs, out)
    # SIGINT too: a shell starts background jobs with SIGINT ignored, which Python keeps.
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM,
                                                     signal.SIGHUP)}
    interrupted = None
    try:
        if "throughput" not in a.skip:
            cells = throughput_cells()
            for rep in range(a.repeats):
                for cell in cells:
                    for cfg in configs:
                        if cell.transport == "tls" and not cfg.tls:
                            continue
                        runner.run_throughput(cfg, cell, rep)
        if "handshake" not in a.skip:
            for rep in range(a.repeats):
                for cell in handshake_cells():
                    for cfg in configs:
                        if cfg.tls:
                            runner.run_handshake(cfg, cell, rep)
        runner.stop_all()
        if "idle" not in a.skip:
            for rep in range(a.repeats):
                for cfg in configs:
                    if cfg.tls:
                        runner.run_idle(cfg, rep)
    except KeyboardInterrupt as e:
        interrupted = str(e) or "Ctrl-C"
        log("interrupted (%s): stopping servers, writing partial results" % interrupted)
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        if bench.current is not None:
            bench.kill(bench.current)
        if runner.idle_proc is not None:
            bench.kill(runner.idle_proc)
        runner.stop_all()
        runner.csv.close()
        if runner.tls_ec:
            import shutil
            shutil.rmtree(os.path.dirname(runner.tls_ec["cert"]), ignore_errors=True)
        machine["loadavg_end"] = _loadavg()
        finished = datetime.datetime.now().astimezone()
        summary = report.write_summary(out, runner.rows, configs, a, machine, started, finished,
                                       runner.problems, interrupted)
        chart = None
        if not a.no_chart:
            chart, err = report.write_chart(out, runner.rows, configs)
            if err:
                log("chart: %s" % err)
        for s, h in old.items():
            signal.signal(s, h)
    log("results: %s" % os.path.join(out, "results.csv"))
    log("summary: %s" % summary)
    if chart:
        log("chart:   %s" % chart)
    if runner.problems:
        log("%d problem(s), see the summary" % len(runner.problems))
    return 130 if interrupted else 0


def _loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
