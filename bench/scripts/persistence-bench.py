#!/usr/bin/python3
"""Persistence benchmark: keyloom vs redis-server 7.0.15 on the same data,
same machine, one run (the persistence issue's BENCHMARKS.md entries).

  bench/scripts/persistence-bench.py [KEYS] [KEYLOOM_BINARY]

1. Fill KEYS keys (default 1,000,000) of mixed types: 60% strings (half
   integers), 10% each lists, hashes, sets, sorted sets of 10 elements.
2. SAVE: wall time of the command and the file size; then the load time at
   start-up (what each server logs: "DB loaded from disk: X seconds").
3. BGSAVE under a write load: INFO latest_fork_usec and rdb_last_cow_size
   while redis-benchmark overwrites string keys (20-byte values) during the
   save.
4. Write throughput: redis-benchmark SET (-c 50, -P 1 and 16, 3-byte
   values) with appendonly no / appendfsync everysec / appendfsync always,
   fresh servers, interleaved, median of 3.

Every load loop is bounded; the servers listen on loopback only."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
KEYLOOM = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "server", "keyloom-server")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, binary, name, extra=()):
        self.binary, self.name = binary, name
        self.dir = tempfile.mkdtemp(prefix="kl-pbench-%s-" % name)
        self.port = free_port()
        self.extra = list(extra)
        self.proc = None

    def start(self, *more):
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--logfile", os.path.join(self.dir, "log"), "--save", "",
                "--enable-debug-command", "yes"] + self.extra + list(more)
        t0 = time.time()
        self.proc = subprocess.Popen(args)
        c = redis.Redis(port=self.port)
        for _ in range(6000):
            try:
                if c.ping():
                    break
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            time.sleep(0.01)
        else:
            raise SystemExit("%s did not start" % self.name)
        return time.time() - t0

    def client(self):
        return redis.Redis(port=self.port)

    def stop(self):
        if self.proc:
            self.client().shutdown(nosave=True)
            self.proc.wait(timeout=60)
            self.proc = None

    def log_value(self, pattern):
        with open(os.path.join(self.dir, "log")) as f:
            m = re.findall(pattern, f.read())
        return m[-1] if m else None


def fill(c):
    p = c.pipeline(transaction=False)
    n = 0
    for i in range(KEYS):
        kind = i % 10
        if kind < 6:
            p.set("s:%d" % i, i if i % 2 else "value-%d" % i)
        elif kind == 6:
            p.rpush("l:%d" % i, *["e%d" % j for j in range(10)])
        elif kind == 7:
            p.hset("h:%d" % i, mapping={"f%d" % j: "v%d" % j for j in range(10)})
        elif kind == 8:
            p.sadd("t:%d" % i, *["m%d" % j for j in range(10)])
        else:
            p.zadd("z:%d" % i, {"m%d" % j: j * 1.5 for j in range(10)})
        n += 1
        if n % 5000 == 0:
            p.execute()
    p.execute()


def bench_set(port, n, pipeline):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-c", "50", "-n",
                          str(n), "-P", str(pipeline), "-q"], capture_output=True, text=True,
                         timeout=600).stdout.replace("\r", "\n")
    m = re.findall(r"SET: ([\d.]+) requests per second", out)
    return float(m[-1]) if m else 0.0


def main():
    results = {}
    for name, binary in (("keyloom", KEYLOOM), ("redis-server", REDIS)):
        s = Server(binary, name)
        s.start()
        c = s.client()
        fill(c)
        assert c.dbsize() == KEYS, c.dbsize()
        digest = c.execute_command("DEBUG", "DIGEST")
        t0 = time.time()
        c.save()
        save_s = time.time() - t0
        size = os.path.getsize(os.path.join(s.dir, "dump.rdb"))
        s.stop()
        s.start()
        load_s = float(s.log_value(r"DB loaded from disk: ([\d.]+) seconds") or -1)
        c = s.client()
        assert c.execute_command("DEBUG", "DIGEST") == digest
        # BGSAVE under a write load: redis-benchmark overwrites string keys
        # (20-byte values) while the child saves.
        load = subprocess.Popen(["redis-benchmark", "-p", str(s.port), "-t", "set", "-c", "20",
                                 "-n", str(KEYS), "-r", str(KEYS * 6 // 10), "-d", "20", "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        c.bgsave()
        for _ in range(1200):
            if c.info("persistence")["rdb_bgsave_in_progress"] == 0:
                break
            time.sleep(0.05)
        load.wait(timeout=600)
        info = c.info()
        s.stop()
        shutil.rmtree(s.dir, ignore_errors=True)
        results[name] = dict(save_s=save_s, size=size, load_s=load_s,
                             fork_us=info["latest_fork_usec"],
                             cow=info["rdb_last_cow_size"], digest=digest)

    # AOF write throughput: fresh servers, interleaved, 3 runs each, median.
    for mode, extra in (("appendonly no", ["--appendonly", "no"]),
                        ("everysec", ["--appendonly", "yes", "--appendfsync", "everysec"]),
                        ("always", ["--appendonly", "yes", "--appendfsync", "always"])):
        for pipeline in (1, 16):
            runs = {"keyloom": [], "redis-server": []}
            for _ in range(3):
                for name, binary in (("keyloom", KEYLOOM), ("redis-server", REDIS)):
                    a = Server(binary, name)
                    a.start(*extra)
                    runs[name].append(bench_set(a.port, 100000 * pipeline, pipeline))
                    a.stop()
                    shutil.rmtree(a.dir, ignore_errors=True)
            for name in runs:
                results[name]["%s -P %d" % (mode, pipeline)] = sorted(runs[name])[1]

    k, r = results["keyloom"], results["redis-server"]
    print("keys: %d, digest equal: %s" % (KEYS, k["digest"] == r["digest"]))
    print("| measure | keyloom | redis-server 7.0.15 |")
    print("|---|---|---|")
    print("| SAVE (s) | %.2f | %.2f |" % (k["save_s"], r["save_s"]))
    print("| dump.rdb bytes | %d | %d |" % (k["size"], r["size"]))
    print("| load at start-up (s, from the log) | %.3f | %.3f |" % (k["load_s"], r["load_s"]))
    print("| BGSAVE fork (latest_fork_usec) | %d | %d |" % (k["fork_us"], r["fork_us"]))
    print("| BGSAVE copy-on-write under writes (rdb_last_cow_size) | %d | %d |" %
          (k["cow"], r["cow"]))
    for mode in ("appendonly no", "everysec", "always"):
        for pipeline in (1, 16):
            key = "%s -P %d" % (mode, pipeline)
            print("| SET req/s, %s | %.0f | %.0f |" % (key, k[key], r[key]))


if __name__ == "__main__":
    main()
