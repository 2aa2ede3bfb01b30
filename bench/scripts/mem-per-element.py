#!/usr/bin/python3
"""Memory per element of hashes, sets and sorted sets: keyloom against redis-server.

Starts keyloom-server and redis-server on free loopback ports (same flags: no persistence,
one database), then for each data shape and each size N in (100, 1,000, 1,000,000) loads
the same data into both and reports

    (INFO used_memory after - INFO used_memory before) / total elements

The total number of elements per measurement is kept near --budget (default 1,000,000) by
loading several keys of N elements: 10,000 keys of 100, 1,000 keys of 1,000, one key of
1,000,000. The key names and per-key overhead are therefore included, spread over the
elements. The data is deterministic (field:<i>/value:<i>, member:<i>, integers), so both
servers hold byte-identical data, and OBJECT ENCODING of one key per case is printed for
each server so the encodings can be compared too.

    bench/scripts/mem-per-element.py [--keyloom BIN] [--redis BIN] [--budget N]
                                     [--sizes 100,1000,1000000] [--markdown]

Needs redis-py (Debian's python3-redis); run with /usr/bin/python3.
"""

import argparse
import os
import socket
import subprocess
import sys
import time

import redis

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(binary, extra=()):
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--logfile", "", "--databases", "1"]
    proc = subprocess.Popen(args + list(extra), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = redis.Redis(host="127.0.0.1", port=port, socket_timeout=120)
    for _ in range(100):
        try:
            conn.ping()
            return proc, conn
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("%s did not start" % binary)


def used_memory(conn):
    # jemalloc statistics settle after a short pause (tcache flushes, decay).
    time.sleep(0.3)
    return int(conn.info("memory")["used_memory"])


def load(conn, shape, nkeys, n):
    """Load nkeys keys of n elements each, pipelined in chunks of up to 1,000 elements."""
    pipe = conn.pipeline(transaction=False)
    queued = 0
    for k in range(nkeys):
        key = "%s:%d" % (shape, k)
        for start_i in range(0, n, 1000):
            end = min(n, start_i + 1000)
            if shape == "hash":
                mapping = {}
                for i in range(start_i, end):
                    mapping["field:%d" % i] = "value:%d" % i
                pipe.hset(key, mapping=mapping)
            elif shape == "set-int":
                pipe.sadd(key, *range(start_i, end))
            elif shape == "set-str":
                pipe.sadd(key, *["member:%d" % i for i in range(start_i, end)])
            elif shape == "zset":
                pipe.zadd(key, {"member:%d" % i: i for i in range(start_i, end)})
            queued += end - start_i
            if queued >= 20000:
                pipe.execute()
                queued = 0
    pipe.execute()


def measure(conn, shape, n, budget):
    conn.flushall()
    nkeys = max(1, budget // n)
    before = used_memory(conn)
    load(conn, shape, nkeys, n)
    after = used_memory(conn)
    enc = conn.object("encoding", "%s:0" % shape)
    if isinstance(enc, bytes):
        enc = enc.decode()
    conn.flushall()
    return (after - before) / float(nkeys * n), enc, nkeys


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--keyloom", default=os.path.join(ROOT, "build", "server", "keyloom-server"))
    p.add_argument("--redis", default="/usr/bin/redis-server")
    p.add_argument("--budget", type=int, default=1000000)
    p.add_argument("--sizes", default="100,1000,1000000")
    p.add_argument("--shapes", default="hash,set-int,set-str,zset")
    p.add_argument("--markdown", action="store_true")
    opts = p.parse_args()
    sizes = [int(x) for x in opts.sizes.split(",")]
    shapes = opts.shapes.split(",")

    servers = {}
    procs = []
    try:
        for name, binary in (("keyloom", opts.keyloom), ("redis", opts.redis)):
            proc, conn = start(binary)
            procs.append(proc)
            servers[name] = conn
        rows = []
        for shape in shapes:
            for n in sizes:
                res = {}
                for name, conn in servers.items():
                    res[name] = measure(conn, shape, n, opts.budget)
                kl, rd = res["keyloom"], res["redis"]
                rows.append((shape, n, kl[2], kl[0], kl[1], rd[0], rd[1], kl[0] / rd[0]))
                print("%-8s N=%-8d keys=%-6d keyloom %7.1f B/elem (%s)  redis %7.1f B/elem (%s)"
                      "  ratio %.2f" % (shape, n, kl[2], kl[0], kl[1], rd[0], rd[1],
                                        kl[0] / rd[0]), flush=True)
        if opts.markdown:
            print()
            print("| shape | elements per key | keys | keyloom B/elem | encoding | "
                  "redis 7.0 B/elem | encoding | keyloom / redis |")
            print("|---|---:|---:|---:|---|---:|---|---:|")
            for r in rows:
                print("| %s | %d | %d | %.1f | %s | %.1f | %s | %.2f |" % r)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
