"""RDB files of Redis 2.4-6.x (RDB versions 4, 6-9, written by legacy_rdb.py
from the format) loaded by keyloom and by redis-server 7.0.15 side by side.

For every file both servers start on it; then every key keyloom holds is
checked against what the generator wrote (type, encoding Redis 7.0 chooses
on load, contents, TTL), and the two servers must agree on everything:
DBSIZE per db, DEBUG DIGEST, each key's DEBUG DIGEST-VALUE, OBJECT ENCODING
and PEXPIRETIME, and the IDLE/FREQ opcodes' effect. The cross-check is what
proves the generator right: redis-server reads RDB 1-9 natively.

Usage (meson test unit-rdb-legacy): /usr/bin/python3 -m pytest test_rdb_legacy.py
with KEYLOOM_SERVER and REDIS_SERVER in the environment. Fails, never
skips, when either is missing.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import legacy_rdb  # noqa: E402

KEYLOOM = os.environ.get("KEYLOOM_SERVER", "")
REDIS = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
FILES = legacy_rdb.legacy_files()


def _port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, binary, directory, dbfile, extra):
        self.port = _port()
        self.log = os.path.join(directory, os.path.basename(binary) + ".log")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", directory,
                "--dbfilename", dbfile, "--save", "", "--appendonly", "no",
                "--logfile", self.log, "--enable-debug-command", "yes"] + extra
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.r = redis.Redis(port=self.port, socket_timeout=10)
        deadline = time.time() + 20
        while True:
            try:
                if self.r.ping():
                    break
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                log = open(self.log).read() if os.path.exists(self.log) else ""
                raise AssertionError(f"{binary} did not start on {dbfile}:\n{log[-3000:]}")
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def _value(r, key, typ):
    if typ == "string":
        return r.get(key)
    if typ == "list":
        return r.lrange(key, 0, -1)
    if typ == "set":
        return r.smembers(key)
    if typ == "zset":
        return {m: s for m, s in r.zrange(key, 0, -1, withscores=True)}
    if typ == "hash":
        return r.hgetall(key)
    raise AssertionError(typ)


def test_servers_present():
    assert KEYLOOM and os.access(KEYLOOM, os.X_OK), "KEYLOOM_SERVER not set or not executable"
    assert os.access(REDIS, os.X_OK), f"{REDIS} missing"


def test_generator_checksum():
    # The generator's CRC64 is Redis's (the check value of crc64-jones).
    assert legacy_rdb.crc64(b"123456789") == 0xE9C6D914C4B8D9CA


@pytest.mark.parametrize("name,data,expected", FILES, ids=[f[0] for f in FILES])
def test_legacy_file(name, data, expected):
    # v9 is loaded under an LFU policy (its FREQ opcode counts), the rest
    # under an LRU one (IDLE counts).
    policy = "allkeys-lfu" if name == "v9.rdb" else "allkeys-lru"
    extra = ["--maxmemory-policy", policy]
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        kl = Server(KEYLOOM, d, name, extra)
        try:
            rs = Server(REDIS, d, name, extra)
            try:
                _compare(kl.r, rs.r, expected)
            finally:
                rs.stop()
        finally:
            kl.stop()


BAD = legacy_rdb.bad_files()


def _refuses(binary, directory, dbfile):
    """Starting binary on dbfile must fail: the process exits non-zero."""
    log = os.path.join(directory, os.path.basename(binary) + ".log")
    proc = subprocess.Popen([binary, "--port", str(_port()), "--bind", "127.0.0.1",
                             "--dir", directory, "--dbfilename", dbfile, "--save", "",
                             "--appendonly", "no", "--logfile", log],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rc = proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{binary} loaded {dbfile}")
    assert rc != 0, f"{binary} exited 0 on {dbfile}"
    return open(log, errors="replace").read() if os.path.exists(log) else ""


@pytest.mark.parametrize("name,data", BAD, ids=[b[0] for b in BAD])
def test_refused_by_both(name, data):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        # (Redis words a zipmap's duplicate "Hash zipmap with dup elements".)
        rlog = _refuses(REDIS, d, name)
        assert "integrity check failed" in rlog or "dup elements" in rlog, rlog[-2000:]
        klog = _refuses(KEYLOOM, d, name)
        assert "integrity check failed" in klog, klog[-2000:]


def _compare(k, r, expected):
    now_ms = int(time.time() * 1000)
    dbs = sorted({db for db, _ in expected})
    for db in range(16):
        k.select(db)
        r.select(db)
        want = sorted(key for d, key in expected if d == db)
        assert sorted(k.keys()) == want, f"db {db}: keyloom's keys"
        assert sorted(r.keys()) == want, f"db {db}: redis-server's keys (generator wrong?)"
    # IDLE / FREQ opcodes, before anything touches the keys.
    for (d, key) in expected:
        if key not in (b"idle", b"freq"):
            continue
        k.select(d)
        r.select(d)
        if key == b"idle":
            ki, ri = k.object("idletime", key), r.object("idletime", key)
            assert 100 <= ki <= 110 and 100 <= ri <= 110, (ki, ri)
        else:
            assert k.object("freq", key) == r.object("freq", key) == 20
    for db in dbs:
        k.select(db)
        r.select(db)
        for (d, key), (typ, enc, value, ttl) in expected.items():
            if d != db:
                continue
            what = f"db {db} key {key!r}"
            assert r.type(key).decode() == typ, what + " (redis)"
            assert r.object("encoding", key).decode() == enc, what + " encoding (redis)"
            assert _value(r, key, typ) == value, what + " value (redis)"
            assert k.type(key).decode() == typ, what
            assert k.object("encoding", key).decode() == enc, what + " encoding"
            assert _value(k, key, typ) == value, what + " value"
            assert k.execute_command("DEBUG", "DIGEST-VALUE", key) == \
                r.execute_command("DEBUG", "DIGEST-VALUE", key), what + " digest"
            kt = k.execute_command("PEXPIRETIME", key)
            assert kt == r.execute_command("PEXPIRETIME", key), what + " ttl"
            assert kt == (ttl if ttl is not None else -1), what + " ttl"
            if ttl is not None:
                assert ttl > now_ms
        assert k.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")
