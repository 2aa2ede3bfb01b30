"""keyloom-bench and bench/compare against real servers.

  * keyloom-bench's counts add up against the server's own: every request sent got a reply,
    no errors, and INFO total_commands_processed grew by at least as many (plain and TLS);
  * with --reconnect, the handshakes keyloom-bench reports equal the server's
    tls_handshakes_completed delta (INFO section "# TLS"; keyloom only), and with
    --session-reuse the resumed ones equal tls_handshakes_resumed;
  * bench/compare --quick runs end to end against keyloom-server and redis-server and writes
    results.csv, summary.md and chart.png.

No timing assertions: the machine may be small and shared.
"""

import csv
import json
import os
import shutil
import signal
import subprocess

import pytest

from klserver import HOST, ROOT, Mode, tls_path, wait_until

BENCH = os.environ.get("KEYLOOM_BENCH") or os.path.join(ROOT, "build", "bench", "keyloom-bench")
COMPARE = os.path.join(ROOT, "bench", "compare")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def _need_bench():
    if not os.access(BENCH, os.X_OK):
        pytest.skip("keyloom-bench not built (%s)" % BENCH)


def run_bench(server, *args, timeout=60):
    """Run keyloom-bench --json against server; return (exit status, [report dicts], stderr)."""
    cmd = [BENCH, "-h", HOST, "-p", str(server.port), "--json", "-q"]
    if server.mode.tls:
        # The server verifies clients (--tls-auth-clients defaults to yes): present client.crt.
        cmd += ["--tls", "--cacert", tls_path("ca.crt"), "--cert", tls_path("client.crt"),
                "--key", tls_path("client.key")]
    cmd += [str(a) for a in args]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    reports = [json.loads(line) for line in res.stdout.decode().splitlines()
               if line.startswith("{")]
    return res.returncode, reports, res.stderr.decode(errors="replace")


def info(conn, section):
    text = conn.execute("INFO", section)
    assert isinstance(text, bytes), text
    out = {}
    for line in text.decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def is_keyloom(conn):
    return "keyloom_version" in info(conn, "server")


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_bench_counts_add_up(mode, start_server, tls):
    _need_bench()
    srv = start_server(mode=Mode(server=mode.server, tls=tls, io_threads=mode.io_threads))
    n = 2000
    with srv.raw() as c:
        before = int(info(c, "stats")["total_commands_processed"])
        rc, reports, err = run_bench(srv, "-c", 10, "-P", 4, "-n", n, "-r", 100, "-d", 64,
                                     "-t", "set,get")
        assert rc == 0, err
        assert [r["workload"] for r in reports] == ["SET", "GET"], reports
        for r in reports:
            # -n counts measured requests that got a reply: all n were sent, and each got one.
            assert r["requests"] == n, r
            assert r["errors"] == 0 and r["failed"] == 0 and r["conn_errors"] == 0, r
            assert not r.get("aborted"), r
            assert r["error_samples"] == [] and r["conn_error_samples"] == [], r
        after = int(info(c, "stats")["total_commands_processed"])
    assert after - before >= sum(r["requests"] for r in reports), (before, after)


@pytest.mark.parametrize("reuse", [False, True], ids=["full", "resumed"])
def test_bench_handshakes_match_server_counter(mode, start_server, reuse):
    _need_bench()
    srv = start_server(mode=Mode(server=mode.server, tls=True, io_threads=mode.io_threads))
    n, clients = 200, 4
    with srv.raw() as c:
        if not is_keyloom(c):
            pytest.skip("tls_handshakes_completed is a keyloom INFO field")
        before = info(c, "tls")
        args = ["-c", clients, "-n", n, "--reconnect", 1, "-t", "ping"]
        if reuse:
            args.append("--session-reuse")
        rc, reports, err = run_bench(srv, *args)
        assert rc == 0, err
        (r,) = reports
        assert r["requests"] == n and r["errors"] == 0 and r["failed"] == 0, r
        assert r["conn_errors"] == 0, r
        assert r["handshakes"] == n, r          # one new connection per request

        def deltas():
            now = info(c, "tls")
            return tuple(int(now[k]) - int(before[k])
                         for k in ("tls_handshakes_completed", "tls_handshakes_resumed",
                                   "tls_handshakes_failed"))
        # The I/O threads publish their counters on their own; give them a moment.
        try:
            wait_until(lambda: deltas()[0] >= r["handshakes"], timeout=5,
                       what="the server's handshake counter")
        except AssertionError:
            pass
        completed, resumed, failed = deltas()
    assert completed == r["handshakes"], (completed, r)
    assert resumed == r["resumed"], (resumed, r)
    assert failed == 0
    if reuse:
        # Every connection but the first of each slot resumes (bench/README.md).
        assert r["resumed"] >= n - clients, r
    else:
        assert r["resumed"] == 0, r


def _keyloom_binary(mode):
    if "keyloom" in os.path.basename(mode.server):
        return mode.server
    return os.path.join(ROOT, "build", "server", "keyloom-server")


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_compare_quick(mode, tmp_path):
    # bench/compare starts its own servers: the suite's mode does not matter, so it runs once,
    # in the plain io-threads 1 mode.
    if mode.tls or mode.io_threads != 1:
        pytest.skip("runs once, in the plain io-threads 1 mode")
    _need_bench()
    keyloom = _keyloom_binary(mode)
    if not os.access(keyloom, os.X_OK):
        pytest.skip("keyloom-server not built (%s)" % keyloom)
    if not os.access(REDIS, os.X_OK):
        pytest.skip("redis-server not installed")
    out = tmp_path / "out"
    cmd = [COMPARE, "--quick", "--out", str(out), "--keyloom", keyloom, "--redis", REDIS,
           "--bench", BENCH]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        log, _ = proc.communicate(timeout=120)
    except BaseException:
        # SIGTERM lets bench/compare stop its servers; its children also die with it.
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        raise
    log = log.decode(errors="replace")
    assert proc.returncode == 0, log

    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    errors = [r for r in rows if r["status"] != "ok"]
    assert not errors, "\n".join("%s %s: %s" % (r["server"], r["cell"], r["error"])
                                 for r in errors)
    seen = {(r["phase"], r["server"]) for r in rows}
    for server in ("keyloom-io1", "keyloom-io2", "redis"):
        for phase in ("throughput", "handshake", "idle"):
            assert (phase, server) in seen, (phase, server, sorted(seen))
    assert ("throughput", "redis-io2") in seen
    # 8 throughput cells for the three TLS-capable servers, 4 (plain) for redis io2.
    assert sum(r["phase"] == "throughput" for r in rows) == 8 * 3 + 4
    for r in rows:
        if r["phase"] == "throughput":
            assert int(r["requests"]) > 0 and float(r["server_cpu_s"]) >= 0, r
            assert r["rss_kb"] and int(r["rss_kb"]) > 0, r
        elif r["phase"] == "handshake":
            assert int(r["handshakes"]) > 0, r
        else:
            assert int(r["idle_conns_open"]) == int(r["idle_conns"]), r

    summary = (out / "summary.md").read_text()
    for text in ("bench/compare --quick", "### Throughput cells", "### TLS handshakes",
                 "### Idle TLS connections", "### Targets", "keyloom io1 / redis",
                 "Redis server v=7", "keyloom server v=", "CPUs usable"):
        assert text in summary, text
    assert "Problems observed" not in summary, summary

    if shutil.which("gnuplot") is None:
        return      # no chart without gnuplot; everything else was checked
    png = out / "chart.png"
    assert png.is_file(), log
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
