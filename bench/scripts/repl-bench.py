#!/usr/bin/python3
"""Replication benchmark: keyloom vs redis-server 7.0.15 as the MASTER, over
TLS, same machine, same replica program (the replication issue's BENCHMARKS.md
entries).

  bench/scripts/repl-bench.py [KEYS] [REPLICA=redis|keyloom] [KEYLOOM_BINARY]

1. Full sync: the master holds KEYS keys (default 1,000,000, DEBUG POPULATE,
   values of 32 bytes); a fresh replica (redis-server 7.0.15 by default, or
   keyloom) is pointed at it with tls-replication yes; time from REPLICAOF
   to master_link_status:up with master_sync_in_progress:0, for
   repl-diskless-sync no (disk) and yes (diskless, delay 0). Meanwhile an
   unrelated client PINGs the master over TLS every 5 ms: its worst and
   median round trip are reported (the issue asks for < 10 ms).
2. Master write throughput over TLS with 0, 1 and 2 TLS replicas:
   redis-benchmark SET -c 50 -P 16 -n 400000 (-d 16), requests/s and the
   master process's CPU (user+sys, all its threads) per request, median
   of 3 interleaved runs.

Every load loop is bounded; the servers listen on loopback only."""
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
KEYS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REPLICA = sys.argv[2] if len(sys.argv) > 2 else "redis"
KEYLOOM = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "build", "server",
                                                               "keyloom-server")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
CERTS = os.path.join(ROOT, "tests", "tls")
HZ = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def tls_args():
    return ["--tls-cert-file", os.path.join(CERTS, "server.crt"),
            "--tls-key-file", os.path.join(CERTS, "server.key"),
            "--tls-ca-cert-file", os.path.join(CERTS, "ca.crt"),
            "--tls-replication", "yes"]


class Server:
    def __init__(self, binary, name, extra=()):
        self.binary, self.name = binary, name
        self.dir = tempfile.mkdtemp(prefix="kl-rbench-%s-" % name)
        self.port = free_port()
        self.extra = list(extra)
        self.proc = None

    def start(self):
        args = [self.binary, "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--logfile", os.path.join(self.dir, "log"), "--save", "",
                "--enable-debug-command", "yes"] + tls_args() + self.extra
        self.proc = subprocess.Popen(args)
        for _ in range(3000):
            try:
                self.client().ping()
                return self
            except Exception:
                time.sleep(0.01)
        raise RuntimeError("%s did not start" % self.name)

    def client(self, timeout=None):
        return redis.Redis(port=self.port, ssl=True, ssl_certfile=os.path.join(CERTS, "client.crt"),
                           ssl_keyfile=os.path.join(CERTS, "client.key"),
                           ssl_ca_certs=os.path.join(CERTS, "ca.crt"), socket_timeout=timeout)

    def cpu(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def master_binary(kind):
    return KEYLOOM if kind == "keyloom" else REDIS


def replica_extra():
    return ["--io-threads", "2"] if REPLICA == "keyloom" else []


def wait_synced(r, deadline_s=600):
    t_end = time.time() + deadline_s
    while time.time() < t_end:
        info = r.info("replication")
        if info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"):
            return True
        time.sleep(0.005)
    return False


def full_sync(kind, diskless):
    extra = ["--repl-diskless-sync", "yes" if diskless else "no", "--repl-diskless-sync-delay", "0"]
    if kind == "keyloom":
        extra += ["--io-threads", "2"]
    m = Server(master_binary(kind), "m-" + kind, extra).start()
    rep = Server(KEYLOOM if REPLICA == "keyloom" else REDIS, "r", replica_extra()).start()
    try:
        mc = m.client(timeout=600)
        mc.execute_command("DEBUG", "POPULATE", KEYS, "key", 32)
        # An unrelated client pings the master while the sync runs.
        pinger = m.client(timeout=30)
        pinger.ping()  # connected (TLS handshake done) before the clock starts
        rc = rep.client(timeout=30)
        rc.ping()
        t0 = time.time()
        rc.execute_command("REPLICAOF", "127.0.0.1", m.port)
        lat = []
        done = False
        t_end = t0 + 600
        while time.time() < t_end:
            p0 = time.perf_counter()
            pinger.ping()
            lat.append((time.perf_counter() - p0) * 1000)
            info = rc.info("replication")
            if info.get("master_link_status") == "up" and not info.get("master_sync_in_progress"):
                done = True
                break
            time.sleep(0.005)
        took = time.time() - t0
        assert done, "replica never finished syncing"
        assert rc.dbsize() == mc.dbsize(), "dataset sizes differ"
        return took, max(lat), statistics.median(lat)
    finally:
        m.stop()
        rep.stop()


def throughput(kind, nreplicas, n=400000):
    extra = ["--repl-diskless-sync-delay", "0"]
    if kind == "keyloom":
        extra += ["--io-threads", "2"]
    m = Server(master_binary(kind), "m-" + kind, extra).start()
    reps = [Server(KEYLOOM if REPLICA == "keyloom" else REDIS, "r%d" % i, replica_extra()).start()
            for i in range(nreplicas)]
    try:
        for r in reps:
            r.client().execute_command("REPLICAOF", "127.0.0.1", m.port)
        for r in reps:
            assert wait_synced(r.client()), "replica did not sync"
        c0 = m.cpu()
        out = subprocess.run(
            ["redis-benchmark", "--tls", "--cert", os.path.join(CERTS, "client.crt"), "--key",
             os.path.join(CERTS, "client.key"), "--cacert", os.path.join(CERTS, "ca.crt"), "-p",
             str(m.port), "-t", "set", "-n", str(n), "-c", "50", "-P", "16", "-d", "16", "-r",
             "100000", "-q", "--csv"], capture_output=True, text=True, timeout=600).stdout
        c1 = m.cpu()
        rps = float(out.strip().splitlines()[-1].split(",")[1].strip('"'))
        # Let the replicas catch up: the same data everywhere.
        mc = m.client()
        off = mc.info("replication")["master_repl_offset"]
        for r in reps:
            t_end = time.time() + 120
            while time.time() < t_end and r.client().info("replication").get(
                    "slave_repl_offset", 0) < off:
                time.sleep(0.01)
        return rps, (c1 - c0) / n * 1e6
    finally:
        m.stop()
        for r in reps:
            r.stop()


def main():
    print("# repl-bench: %d keys, replica program: %s" % (KEYS, REPLICA))
    print("\n## Full sync over TLS (master -> fresh replica)\n")
    print("| master | mode | sync time (s) | PING worst (ms) | PING median (ms) |")
    print("|---|---|---|---|---|")
    for diskless in (False, True):
        for kind in ("keyloom", "redis"):
            took, worst, med = full_sync(kind, diskless)
            print("| %s | %s | %.2f | %.2f | %.2f |" % (kind, "diskless" if diskless else "disk",
                                                        took, worst, med), flush=True)
    print("\n## Master write throughput over TLS (SET -c 50 -P 16, median of 3)\n")
    print("| master | replicas | requests/s | master CPU us/request |")
    print("|---|---|---|---|")
    for nrep in (0, 1, 2):
        res = {"keyloom": [], "redis": []}
        for _ in range(3):
            for kind in ("keyloom", "redis"):
                res[kind].append(throughput(kind, nrep))
        for kind in ("keyloom", "redis"):
            rps = statistics.median(x[0] for x in res[kind])
            cpu = statistics.median(x[1] for x in res[kind])
            print("| %s | %d | %.0f | %.2f |" % (kind, nrep, rps, cpu), flush=True)


if __name__ == "__main__":
    main()
