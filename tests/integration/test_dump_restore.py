"""DUMP and RESTORE against redis-server 7.0 (the reference, started here without TLS): payloads
move between the two servers both ways for every type and encoding, are byte for byte the same
where the encoding and the element order are deterministic, and RESTORE's options and errors
are Redis's verbatim."""

import os
import time

import pytest

from klserver import Server
from rdbtools import (REF_BINARY, REF_MODE, ZERO, build, check_encodings, crc64,
                      payload_footer_ok, payload_with_version)

pytestmark = pytest.mark.needs_types

# keys whose encoding and element order are the same on both servers (no hashtable, no LZF
# compressed quicklist node): their DUMP payloads must be identical
DETERMINISTIC = ["s:int", "s:min", "s:emb", "s:20", "s:21", "s:raw", "s:bin", "s:big", "s:empty",
                 "l:small", "l:big", "l:huge", "h:small", "set:int", "z:small", "z:big",
                 "z:longmember", "ttl:s", "ttl:h", "ttl:l"]


@pytest.fixture(scope="module")
def ref_server():
    assert os.path.exists(REF_BINARY), "reference redis-server not found: %s" % REF_BINARY
    srv = Server(REF_MODE).start()
    yield srv
    srv.stop()


@pytest.fixture
def both(server, ref_server):
    a, b = server.raw(), ref_server.raw()
    for c in (a, b):
        assert c.execute("FLUSHALL") == b"OK"
    yield a, b
    for c in (a, b):
        c.execute("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.execute("CONFIG", "SET", "list-compress-depth", "0")
        c.close()


def same(a, b, *cmd):
    x, y = a.call(*cmd)[0], b.call(*cmd)[0]
    assert x == y, "%r: keyloom %r, redis-server %r" % (cmd[:3], x, y)
    return x


def test_crc64_matches_redis_payloads(both):
    a, b = both
    b.execute("SET", "k", "some value")
    p = b.execute("DUMP", "k")
    assert payload_footer_ok(p)
    assert crc64(p[:-8]) == int.from_bytes(p[-8:], "little")


def test_payloads_cross_both_ways_for_every_type(both):
    a, b = both
    enc = build(a)
    build(b)
    check_encodings(a, enc)
    check_encodings(b, enc)
    keys0 = sorted(k for (db, k) in enc if db == 0)
    for src, dst, name in ((a, b, "keyloom->redis"), (b, a, "redis->keyloom")):
        for k in keys0:
            payload = src.execute("DUMP", k)
            assert isinstance(payload, bytes) and payload_footer_ok(payload), (name, k[:20])
            ttl = max(src.execute("PTTL", k), 0)  # DIGEST-VALUE tells a volatile key apart
            assert dst.execute("RESTORE", b"copy:" + k, str(ttl), payload) == b"OK", \
                (name, k[:20])
            want = src.execute("DEBUG", "DIGEST-VALUE", k)
            got = dst.execute("DEBUG", "DIGEST-VALUE", b"copy:" + k)
            assert want == got and want != [ZERO], (name, k[:20])
            assert dst.execute("OBJECT", "ENCODING", b"copy:" + k) == \
                src.execute("OBJECT", "ENCODING", k), (name, k[:20])
            assert dst.execute("DEL", b"copy:" + k) == 1


def test_payloads_are_byte_identical(both):
    a, b = both
    build(a)
    build(b)
    diff = []
    for k in DETERMINISTIC:
        pa, pb = a.execute("DUMP", k), b.execute("DUMP", k)
        if pa != pb:
            diff.append((k, len(pa), len(pb)))
    assert not diff, "DUMP payloads differ from redis-server's: %r" % diff


def test_payload_sizes_match_for_hashtables(both):
    """Hashtable element order differs, the payload length does not."""
    a, b = both
    build(a, big_list_element=False)
    build(b, big_list_element=False)
    for k in ("h:big", "h:longval", "set:intbig", "set:str"):
        assert len(a.execute("DUMP", k)) == len(b.execute("DUMP", k)), k


def test_compressed_list_nodes(both):
    """A list with LZF-compressed inner nodes restores on the other server with the same
    value, and its payload is as long (the node blobs are compressed the same way)."""
    a, b = both
    for c in (a, b):
        c.execute("CONFIG", "SET", "list-compress-depth", "1")
        for i in range(30):
            c.execute("RPUSH", "l", *["item-%d-%s" % (i * 30 + j, "p" * (j % 40))
                                      for j in range(30)])
        c.execute("CONFIG", "SET", "list-compress-depth", "0")
    pa, pb = a.execute("DUMP", "l"), b.execute("DUMP", "l")
    assert len(pa) == len(pb)
    assert a.execute("RESTORE", "x", "0", pb) == b"OK"
    assert b.execute("RESTORE", "x", "0", pa) == b"OK"
    assert same(a, b, "DEBUG", "DIGEST-VALUE", "l", "x")


def test_restore_options_and_errors_match_redis(both):
    a, b = both
    for c in (a, b):
        c.execute("RPUSH", "src", "a", "b", "c")
    pa = a.execute("DUMP", "src")
    pb = b.execute("DUMP", "src")
    assert pa == pb
    p = pa
    now_ms = int(time.time() * 1000)
    same(a, b, "RESTORE", "src", "0", p)                                  # BUSYKEY
    same(a, b, "RESTORE", "src", "0", p, "REPLACE")
    same(a, b, "RESTORE", "k1", "-1", p)                                  # bad TTL
    same(a, b, "RESTORE", "k1", "notanumber", p)
    same(a, b, "RESTORE", "k1", "0", b"garbage")                          # bad payload
    same(a, b, "RESTORE", "k1", "0", b"")
    same(a, b, "RESTORE", "k1", "0", p[:-3])                              # truncated
    same(a, b, "RESTORE", "k1", "0", p[:len(p) // 2])
    bad_crc = p[:-1] + bytes([p[-1] ^ 0x55])
    same(a, b, "RESTORE", "k1", "0", bad_crc)                             # corrupt CRC
    same(a, b, "RESTORE", "k1", "0", payload_with_version(p, 11))         # newer RDB
    same(a, b, "RESTORE", "k1", "0", payload_with_version(p, 10))         # ours: fine
    same(a, b, "RESTORE", "k1", "0", payload_with_version(p, 9), "REPLACE")
    # a valid footer over a corrupt body
    body = p[:-10]
    mangled = bytes([body[0]]) + b"\xff" * (len(body) - 1)
    same(a, b, "RESTORE", "k2", "0", payload_with_version(mangled + b"\x0a\x00", 10))
    same(a, b, "RESTORE", "k2", "0", payload_with_version(b"\x63" + body[1:] + b"\x0a\x00", 10))
    same(a, b, "EXISTS", "k2")
    # options
    same(a, b, "RESTORE", "k3", "0", p, "REPLACE", "REPLACE", "ABSTTL")
    same(a, b, "RESTORE", "k3", "0", p, "BOGUS")
    same(a, b, "RESTORE", "k3", "0", p, "IDLETIME")
    same(a, b, "RESTORE", "k3", "0", p, "IDLETIME", "-1")
    same(a, b, "RESTORE", "k3", "0", p, "IDLETIME", "x")
    same(a, b, "RESTORE", "k3", "0", p, "FREQ", "256")
    same(a, b, "RESTORE", "k3", "0", p, "FREQ", "-1")
    same(a, b, "RESTORE", "k3", "0", p, "IDLETIME", "5", "FREQ", "5")
    same(a, b, "RESTORE", "k3", "0", p, "FREQ", "5", "IDLETIME", "5")
    same(a, b, "RESTORE", "k3")
    same(a, b, "RESTORE", "k3", "0")
    # TTL in the past with ABSTTL: OK and no key
    same(a, b, "RESTORE", "k4", str(now_ms - 10000), p, "ABSTTL")
    same(a, b, "EXISTS", "k4")
    same(a, b, "RESTORE", "k4", "1", p, "ABSTTL")
    same(a, b, "EXISTS", "k4")
    # a relative TTL and an absolute one in the future
    same(a, b, "RESTORE", "k5", "100000", p)
    same(a, b, "RESTORE", "k6", str(now_ms + 500000), p, "ABSTTL")
    for c in (a, b):
        assert 90000 < c.execute("PTTL", "k5") <= 100000
        assert 400000 < c.execute("PTTL", "k6") <= 500000
        assert c.execute("TTL", "src") == -1
    same(a, b, "DEBUG", "DIGEST")


def test_restore_idletime(both):
    a, b = both
    p = a.execute("DUMP", "nokey")
    assert p is None
    a.execute("SET", "s", "v")
    p = a.execute("DUMP", "s")
    for c in (a, b):
        assert c.execute("RESTORE", "k", "0", p, "IDLETIME", "1000") == b"OK"
        idle = c.execute("OBJECT", "IDLETIME", "k")
        assert 1000 <= idle <= 1010, idle
        assert c.execute("RESTORE", "k", "0", p, "REPLACE") == b"OK"
        assert c.execute("OBJECT", "IDLETIME", "k") <= 2
    same(a, b, "OBJECT", "FREQ", "k")


def test_restore_freq_with_lfu(both):
    a, b = both
    a.execute("SET", "s", "v")
    p = a.execute("DUMP", "s")
    for c in (a, b):
        assert c.execute("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == b"OK"
    for c in (a, b):
        assert c.execute("RESTORE", "k", "0", p, "FREQ", "100") == b"OK"
        assert c.execute("RESTORE", "k0", "0", p, "FREQ", "0") == b"OK"
        assert c.execute("RESTORE", "k255", "0", p, "FREQ", "255") == b"OK"
    same(a, b, "OBJECT", "FREQ", "k")
    same(a, b, "OBJECT", "FREQ", "k0")
    same(a, b, "OBJECT", "FREQ", "k255")
    assert a.execute("OBJECT", "FREQ", "k") == 100
    same(a, b, "OBJECT", "IDLETIME", "k")       # an error under an LFU policy


def test_dump_of_every_type_restores_with_the_same_encoding(both):
    """A value built with non-default thresholds keeps its encoding through DUMP/RESTORE only
    where Redis keeps it: listpacks and intsets are loaded as they are, converted when over
    the limits of the restoring server."""
    a, b = both
    for c in (a, b):
        c.execute("HSET", "h", *[x for i in range(20) for x in ("f%d" % i, "v")])
        c.execute("SADD", "s", *[str(i) for i in range(20)])
        c.execute("ZADD", "z", *[x for i in range(20) for x in (str(i), "m%d" % i)])
    pa = {k: a.execute("DUMP", k) for k in ("h", "s", "z")}
    for c in (a, b):
        for name, value in (("hash-max-listpack-entries", "10"),
                            ("set-max-intset-entries", "10"),
                            ("zset-max-listpack-entries", "10")):
            assert c.execute("CONFIG", "SET", name, value) == b"OK"
    try:
        for k, p in pa.items():
            same(a, b, "RESTORE", "r" + k, "0", p)
            same(a, b, "OBJECT", "ENCODING", "r" + k)
            same(a, b, "DEBUG", "DIGEST-VALUE", k, "r" + k)
    finally:
        for c in (a, b):
            c.execute("CONFIG", "SET", "hash-max-listpack-entries", "128")
            c.execute("CONFIG", "SET", "set-max-intset-entries", "512")
            c.execute("CONFIG", "SET", "zset-max-listpack-entries", "128")



def test_plain_nodes_from_redis(both):
    """redis-server makes plain list nodes only past quicklist-packed-threshold (lowered here
    through DEBUG QUICKLIST-PACKED-THRESHOLD); keyloom restores such a payload, keeps the
    plain node, and DUMPs it back byte for byte."""
    a, b = both
    assert b.execute("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100") == b"OK"
    try:
        b.execute("RPUSH", "l", "head", "p" * 200, "mid", bytes(range(256)) * 2, "tail")
        b.execute("LPUSH", "l", "q" * 150)
        p = b.execute("DUMP", "l")
    finally:
        assert b.execute("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0") == b"OK"
    assert a.execute("RESTORE", "l", "0", p) == b"OK"
    assert a.execute("DUMP", "l") == p
    same(a, b, "DEBUG", "DIGEST-VALUE", "l")
    same(a, b, "LRANGE", "l", "0", "-1")
    # the restored list keeps working on both, and stays the same
    for cmd in (("RPUSH", "l", "x"), ("LSET", "l", "1", "short"), ("LINSERT", "l", "BEFORE",
                "mid", "p" * 300), ("LPOP", "l"), ("LRANGE", "l", "0", "-1"),
                ("DEBUG", "DIGEST-VALUE", "l")):
        same(a, b, *cmd)
