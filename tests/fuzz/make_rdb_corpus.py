"""Writes the seed corpora of the RDB fuzz targets from a running server:
DUMP payloads of every type and encoding (corpus/restore/) and small
dump.rdb files (corpus/rdb_load/).

Usage: /usr/bin/python3 make_rdb_corpus.py SERVER_BINARY PREFIX
   or: /usr/bin/python3 make_rdb_corpus.py legacy
(SERVER_BINARY: /usr/bin/redis-server or keyloom-server; PREFIX names the
files, e.g. "redis" or "keyloom"). Run by hand when the formats change; the
outputs are committed.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fill(r):
    """One key per type/encoding (names say which)."""
    r.set("str_int", 12345)
    r.set("str_neg", -2147483648)
    r.set("str_big", 1234567890123)
    r.set("str_emb", "hello")
    r.set("str_raw", "x" * 60 + "y")
    r.set("str_lzf", "abcdefgh" * 40)
    r.set("str_bin", bytes(range(256)))
    r.set("str_empty", "")
    r.rpush("list_lp", "a", "1", "-5", "70000", "4294967296", "x" * 70, "")
    r.rpush("list_nodes", *[f"elem-{i}-" + "z" * (i % 50) for i in range(600)])
    r.rpush("list_ints", *range(-300, 300, 7))
    r.sadd("set_i16", 1, 2, 3, -100)
    r.sadd("set_i32", 1, 70000, -70000)
    r.sadd("set_i64", 1, 2**40, -(2**40))
    r.sadd("set_ht", "a", "b", "c", "1")
    r.sadd("set_big_ints", *range(600))
    r.zadd("zset_lp", {"a": 1, "b": 2.5, "c": -3, "d": 1e20, "e": float("inf")})
    r.zadd("zset_sl", {f"m{i}": i / 3 for i in range(200)})
    r.zadd("zset_long", {"m" * 100: 1, "n": 2})
    r.hset("hash_lp", mapping={"f1": "v1", "f2": 2, "f3": "x" * 30})
    r.hset("hash_ht", mapping={f"f{i}": f"v{i}" for i in range(200)})
    r.hset("hash_long", mapping={"f": "v" * 100})
    r.set("ttl_key", "v", px=10_000_000)


def legacy():
    """The legacy files of tests/unit/persist/legacy_rdb.py and DUMP-style
    payloads of their values (ziplists, zipmaps, linked lists, ...)."""
    sys.path.insert(0, os.path.join(HERE, "..", "unit", "persist"))
    import legacy_rdb

    seen = set()
    for name, data, _ in legacy_rdb.legacy_files():
        with open(os.path.join(HERE, "corpus", "rdb_load", "legacy-" + name), "wb") as f:
            f.write(data)
    for v in (6, 7, 8, 9):
        rf = legacy_rdb.RdbFile(v)
        for fill_fn in (legacy_rdb._strings, legacy_rdb._lists_old, legacy_rdb._lists_quicklist,
                        legacy_rdb._sets, legacy_rdb._zsets_text, legacy_rdb._zset_ziplist,
                        legacy_rdb._zset2, legacy_rdb._hashes):
            fill_fn(rf)
        for key, payload in rf.payloads:
            if key in seen:
                continue
            seen.add(key)
            with open(os.path.join(HERE, "corpus", "restore", f"legacy-{key.decode()}.bin"),
                      "wb") as f:
                f.write(payload)


def main():
    if sys.argv[1] == "legacy":
        legacy()
        return
    server, prefix = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp()
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp,
                             "--save", "", "--appendonly", "no", "--list-compress-depth", "1",
                             "--enable-debug-command", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        fill(r)
        out = os.path.join(HERE, "corpus", "restore")
        for key in sorted(r.keys()):
            name = key.decode()
            with open(os.path.join(out, f"{prefix}-{name}.bin"), "wb") as f:
                f.write(r.dump(key))
        # A few small whole files: one key of each type, then everything
        # (with a TTL, several dbs), then an empty one.
        rdb_out = os.path.join(HERE, "corpus", "rdb_load")
        r.flushall()
        r.save()
        shutil.copy(os.path.join(tmp, "dump.rdb"), os.path.join(rdb_out, f"{prefix}-empty.rdb"))
        r.set("s", "v")
        r.rpush("l", 1, "b")
        r.sadd("st", 1, 2)
        r.zadd("z", {"a": 1})
        r.hset("h", "f", "v")
        r.save()
        shutil.copy(os.path.join(tmp, "dump.rdb"), os.path.join(rdb_out, f"{prefix}-small.rdb"))
        r.flushall()
        fill(r)
        r.select(3)
        r.set("db3", "x", ex=1000)
        r.sadd("db3set", "a", "b")
        r.save()
        shutil.copy(os.path.join(tmp, "dump.rdb"), os.path.join(rdb_out, f"{prefix}-all.rdb"))
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
