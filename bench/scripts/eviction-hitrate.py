#!/usr/bin/python3
"""Cache hit rate under maxmemory eviction: keyloom against redis-server.

For each policy (default allkeys-lru and allkeys-lfu) and each server, starts the server on
a free loopback port with the same flags (no persistence, one database,
--maxmemory 20mb --maxmemory-policy P), then drives it with keyloom-bench:

  1. fill     SET key:<i> with --value-byte values, i uniform in [0, --keys), 2 x --keys
              requests: about twice as much data as fits, so eviction runs all along;
  2. warm-up  a cache-like mix, 1 SET per 10 GETs (--ratio 1:10), keys Zipf-distributed
              (--zipf-s, default 0.99) over the same key space: the SETs stand in for a
              cache filling itself on misses, and the policy decides what stays;
  3. mixed    the same mix again, measured: hit rate and evictions during the phase;
  4. GET      a read-only Zipf load over the resident set the policy kept.

The hit rate of a phase is keyspace_hits / (keyspace_hits + keyspace_misses) from INFO stats
(differences across the phase; SETs count neither). The request streams are random
(keyloom-bench seeds its generator from the OS) but drawn from the same distribution for
both servers; run it twice to see the run-to-run spread. Throughput (ops/s) is printed for
information only: on a shared machine it varies.

    bench/scripts/eviction-hitrate.py [--keyloom BIN] [--redis BIN] [--bench BIN]
        [--maxmemory 20mb] [--keys 400000] [--value-bytes 64] [--requests 1000000]
        [--zipf-s 0.99] [--policies allkeys-lru,allkeys-lfu] [--markdown]

Needs redis-py (Debian's python3-redis); run with /usr/bin/python3.
"""

import argparse
import csv
import io
import os
import socket
import subprocess
import sys
import time

import redis

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def default_binary(name, subdir):
    for build in ("build", "build-release"):
        p = os.path.join(ROOT, build, subdir, name)
        if os.access(p, os.X_OK):
            return p
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(binary, maxmemory, policy):
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--logfile", "", "--databases", "1",
            "--maxmemory", maxmemory, "--maxmemory-policy", policy]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    conn = redis.Redis(host="127.0.0.1", port=port, socket_timeout=120)
    for _ in range(200):
        try:
            conn.ping()
            return proc, conn, port
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("%s did not start" % binary)


def stop(proc, conn):
    try:
        conn.shutdown(nosave=True)
    except redis.exceptions.RedisError:
        pass
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench(args, port, extra):
    """Run keyloom-bench; returns ops/s of its one workload."""
    cmd = [args.bench, "-p", str(port), "-c", "50", "-P", "16", "-q", "--csv"] + extra
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    if res.returncode != 0:
        raise SystemExit("keyloom-bench failed (%d): %s\n%s" % (res.returncode, " ".join(cmd),
                                                               res.stderr.decode()))
    rows = list(csv.DictReader(io.StringIO(res.stdout.decode())))
    return float(rows[-1]["ops_per_sec"])


def stats(conn):
    s = conn.info("stats")
    return int(s["keyspace_hits"]), int(s["keyspace_misses"]), int(s["evicted_keys"])


def phase(args, conn, port, extra):
    h0, m0, e0 = stats(conn)
    ops = bench(args, port, extra)
    h1, m1, e1 = stats(conn)
    hits, misses = h1 - h0, m1 - m0
    rate = hits / (hits + misses) if hits + misses else 0.0
    return rate, e1 - e0, ops


def run_one(args, name, binary, policy):
    proc, conn, port = start(binary, args.maxmemory, policy)
    try:
        zipf = ["-r", str(args.keys), "--key-dist", "zipf", "--zipf-s", str(args.zipf_s),
                "-d", str(args.value_bytes)]
        bench(args, port, ["-t", "set", "-r", str(args.keys), "-n", str(2 * args.keys),
                           "-d", str(args.value_bytes)])
        phase(args, conn, port, zipf + ["--ratio", "1:10", "-n", str(args.requests // 2)])
        mixed = phase(args, conn, port, zipf + ["--ratio", "1:10", "-n", str(args.requests)])
        gets = phase(args, conn, port, zipf + ["-t", "get", "-n", str(args.requests)])
        mem = conn.info("memory")
        return {
            "server": name, "policy": policy, "keys": conn.dbsize(),
            "used": int(mem["used_memory"]), "maxmemory": int(mem["maxmemory"]),
            "mixed_rate": mixed[0], "mixed_evicted": mixed[1], "mixed_ops": mixed[2],
            "get_rate": gets[0], "get_ops": gets[2],
        }
    finally:
        stop(proc, conn)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keyloom", default=default_binary("keyloom-server", "server"))
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("--bench", default=default_binary("keyloom-bench", "bench"))
    ap.add_argument("--maxmemory", default="20mb")
    ap.add_argument("--keys", type=int, default=400000)
    ap.add_argument("--value-bytes", type=int, default=64)
    ap.add_argument("--requests", type=int, default=1000000)
    ap.add_argument("--zipf-s", type=float, default=0.99)
    ap.add_argument("--policies", default="allkeys-lru,allkeys-lfu")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    if not args.keyloom or not args.bench:
        raise SystemExit("build first (meson setup build && ninja -C build) or pass "
                         "--keyloom and --bench")
    rows = []
    for policy in args.policies.split(","):
        for name, binary in (("keyloom", args.keyloom), ("redis", args.redis)):
            print("%s %s ..." % (name, policy), file=sys.stderr, flush=True)
            rows.append(run_one(args, name, binary, policy))
    head = ["policy", "server", "keys kept", "used_memory", "mixed hit rate",
            "evicted (mixed)", "mixed ops/s", "GET hit rate", "GET ops/s"]
    lines = []
    for r in rows:
        lines.append([r["policy"], r["server"], "%d" % r["keys"], "%d" % r["used"],
                      "%.2f %%" % (100 * r["mixed_rate"]), "%d" % r["mixed_evicted"],
                      "%.0f" % r["mixed_ops"], "%.2f %%" % (100 * r["get_rate"]),
                      "%.0f" % r["get_ops"]])
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for ln in lines:
            print("| " + " | ".join(ln) + " |")
    else:
        widths = [max(len(h), *(len(ln[i]) for ln in lines)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for ln in lines:
            print("  ".join(c.ljust(w) for c, w in zip(ln, widths)))


if __name__ == "__main__":
    main()
