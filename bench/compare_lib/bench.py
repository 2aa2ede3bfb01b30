"""Running keyloom-bench (--json -q) and reading its report."""

import json
import os
import signal
import subprocess

from .servers import HOST, popen

# The process running now, so that a Ctrl-C can stop it (see cli.py).
current = None


class BenchResult:
    def __init__(self, argv, rc, reports, stderr, error=None):
        self.argv = argv
        self.rc = rc
        self.reports = reports      # one dict per workload, from --json
        self.stderr = stderr
        self.error = error          # None when the run is clean

    @property
    def report(self):
        return self.reports[0] if self.reports else {}


def run(bench, port, *, tls=None, clients=50, pipeline=1, duration=None, requests=None,
        test=None, data_size=None, keyspace=None, reconnect=None, session_reuse=False,
        extra=(), timeout=None):
    """Run one keyloom-bench workload; never raises for a failed run (see .error).

    tls: None for plain TCP, else the CA file to verify the server with."""
    argv = [bench, "-h", HOST, "-p", str(port), "-c", str(clients), "-P", str(pipeline),
            "--json", "-q"]
    if tls:
        argv += ["--tls", "--cacert", tls]
    if duration is not None:
        argv += ["--duration", str(duration)]
    elif requests is not None:
        argv += ["-n", str(requests)]
    if data_size is not None:
        argv += ["-d", str(data_size)]
    if keyspace is not None:
        argv += ["-r", str(keyspace)]
    if reconnect is not None:
        argv += ["--reconnect", str(reconnect)]
    if session_reuse:
        argv += ["--session-reuse"]
    if test:
        argv += ["-t", test]
    argv += list(extra)
    if timeout is None:
        # Generous: connection set-up, a loaded machine, and keyloom-bench's own 10 s
        # per-connection reply timeout; a run that needs more than this is reported as hung.
        timeout = (duration or 0) * 3 + 60
    return _run(argv, timeout)


def _run(argv, timeout):
    global current
    try:
        proc = popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     stdin=subprocess.DEVNULL)
    except OSError as e:
        return BenchResult(argv, None, [], "", error="cannot run keyloom-bench: %s" % e)
    current = proc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        out, err = proc.communicate()
        return BenchResult(argv, None, _parse(out), err.decode(errors="replace"),
                           error="keyloom-bench did not finish within %d s (killed)" % timeout)
    finally:
        current = None
    reports = _parse(out)
    stderr = err.decode(errors="replace")
    error = None
    if proc.returncode != 0:
        error = "keyloom-bench exit status %s" % proc.returncode
    elif not reports:
        error = "keyloom-bench printed no report"
    else:
        for r in reports:
            bad = {k: r.get(k) for k in ("errors", "failed", "conn_errors") if r.get(k)}
            if bad or r.get("aborted"):
                error = "keyloom-bench %s: %s" % (r.get("workload"), ", ".join(
                    "%s=%s" % kv for kv in sorted(bad.items())) or "aborted: %s" % r["aborted"])
                break
    if error:
        detail = _detail(reports, stderr)
        if detail:
            error += " (" + detail + ")"
    return BenchResult(argv, proc.returncode, reports, stderr, error)


def _parse(out):
    reports = []
    for line in out.decode(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                reports.append(json.loads(line))
            except ValueError:
                pass
    return reports


def _detail(reports, stderr):
    bits = []
    for r in reports:
        for key in ("error_samples", "conn_error_samples"):
            for s in r.get(key) or []:
                bits.append(str(s.get("text", s)) if isinstance(s, dict) else str(s))
        if r.get("aborted"):
            bits.append("aborted: %s" % r["aborted"])
    if not bits and stderr.strip():
        bits.append(stderr.strip().splitlines()[-1])
    return "; ".join(bits)[:300]


def kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
