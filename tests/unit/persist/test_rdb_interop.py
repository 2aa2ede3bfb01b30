"""A dump.rdb written by redis-server 7.0, walked by keyloom's RDB reader.

Usage (meson test unit-rdb-interop): /usr/bin/python3 -m pytest test_rdb_interop.py
with RDB_WALK (the rdb_walk binary) and REDIS_SERVER (redis-server 7.0) in the
environment. Fails, never skips, when either is missing.
"""

import os
import socket
import subprocess
import tempfile
import time

import redis

RDB_WALK = os.environ.get("RDB_WALK", "")
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")

VALUES = {
    "int16": "12345",          # RDB_ENC_INT16: c1 39 30
    "int8": "-7",              # RDB_ENC_INT8: c0 f9
    "int32": "-2147483648",    # RDB_ENC_INT32: c2 00 00 00 80
    "bigint": "1234567890123",  # beyond int32: raw text
    "zero_lead": "0123",       # not canonical: raw
    "plus": "+1",              # not canonical: raw
    "plain": "hello world",
    "long": "abcdefgh" * 40,   # 320 bytes, compressible: LZF
    "short_rep": "x" * 20,     # compressible but not > 20 bytes: raw
    "empty": "",
}


def _lcg_text(n, alphabet, seed):
    x, out = seed, []
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out.append(alphabet[(x >> 16) % len(alphabet)])
    return "".join(out)


# Values that exercise liblzf's choices: long runs (back references capped at
# 264 bytes), offsets near 8 KB, 32-byte literal runs, and strings at the edge
# of "saves 4 bytes" that Redis stores raw or compressed. Every one must be
# re-encoded by keyloom to Redis's very bytes.
_WORDS = ["alpha", "beta", "gamma", "delta", "kappa", "omega", "zeta", "sigma"]
LZF_VALUES = {
    "lzf_run": "a" * 1000,
    "lzf_words": "".join(_WORDS[int(c)] for c in _lcg_text(4000, "01234567", 7)),
    "lzf_far": _lcg_text(8200, "abcdefghijklmnopqrstuvwxyz", 3) * 2,
    "lzf_lits": _lcg_text(100, "abcdefghijklmnopqrstuvwxyz0123456789", 5) * 3,
    "lzf_21": "abcabcabcabcabcabcabc",
    "lzf_edge1": _lcg_text(30, "abcdefghij", 11) + "abcdef",
    "lzf_edge2": _lcg_text(24, "abcdefghij", 13) + "abcdefgh" * 2,
    "lzf_edge3": _lcg_text(40, "abcdefghijklmnop", 17) + "abcd" * 3,
    "lzf_tail": "xyz" * 7 + "q",
}
# Around the edge: a 24-byte prefix and a 4-byte chunk repeated 1..6 times.
# Some of these Redis compresses and some it stores raw (checked below).
for _i in range(36):
    LZF_VALUES[f"edge{_i}"] = (_lcg_text(24, "abcdefghij", 100 + _i)
                               + _lcg_text(4, "abcdefghij", 200 + _i) * (1 + _i % 6))
VALUES.update(LZF_VALUES)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_dump(tmp):
    """Start redis-server on a free loopback port, SET the keys, SAVE, stop it."""
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp,
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
             "--rdbcompression", "yes", "--rdbchecksum", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
        try:
            for _ in range(100):  # bounded: 10 s
                try:
                    c.ping()
                    break
                except redis.ConnectionError:
                    if proc.poll() is not None:
                        break
                    time.sleep(0.1)
            if proc.poll() is not None:
                continue  # the port was taken in between: try another
            for k, v in VALUES.items():
                assert c.set(k, v)
            assert c.save()
            return os.path.join(tmp, "dump.rdb")
        finally:
            c.close()
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
    raise AssertionError("redis-server did not start")


def test_walk_redis_dump():
    assert RDB_WALK and os.access(RDB_WALK, os.X_OK), "RDB_WALK must name the rdb_walk binary"
    assert os.access(REDIS_SERVER, os.X_OK), REDIS_SERVER + " is needed for this test"
    with tempfile.TemporaryDirectory() as tmp:
        path = write_dump(tmp)
        with open(path, "rb") as f:
            data = f.read()
        out = subprocess.run([RDB_WALK, path], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "header REDIS0010"
    aux = dict(tuple(l.split(" ")[1:3]) for l in lines if l.startswith("aux "))
    assert aux["redis-ver"].startswith("7.0."), aux
    assert aux["redis-bits"] == "64"
    assert aux["aof-base"] == "0"
    assert int(aux["ctime"]) > 1600000000
    assert "select 0" in lines
    assert f"resize {len(VALUES)} 0" in lines
    got = {}
    reencoded = {}
    for l in lines:
        if l.startswith("string "):
            parts = l.split(" ")
            assert len(parts) == 4, l
            got[parts[1]] = parts[2]
            reencoded[parts[1]] = parts[3]
    expect = {k: v.replace(" ", "\\x20") for k, v in VALUES.items()}
    assert got == expect
    # Our writer reproduces redis-server's bytes for every value: integer
    # encodings, raw strings, and LZF (liblzf's own choice of matches).
    for k in VALUES:
        assert reencoded[k] == "same", k
    # The encodings really are the ones the test means to cover.
    assert b"\x05int16\xc1\x39\x30" in data
    assert b"\x04int8\xc0\xf9" in data
    assert b"\x05int32\xc2\x00\x00\x00\x80" in data
    assert b"\x06bigint\x0d1234567890123" in data
    assert b"\x04long\xc3" in data
    edge = [bytes([len(k)]) + k.encode() for k in LZF_VALUES if k.startswith("edge")]
    lzf_edge = sum(1 for e in edge if data[data.index(e) + len(e)] == 0xC3)
    assert 0 < lzf_edge < len(edge), lzf_edge  # both decisions occur
    assert b"\x09short_rep\x14" + b"x" * 20 in data
    assert lines[-2] == "eof"
    crc = lines[-1].split(" ")
    assert crc[0] == "crc" and crc[1] == crc[2], lines[-1]
    assert int.from_bytes(data[-8:], "little") == int(crc[1], 16) != 0
    assert data[-9] == 0xFF
