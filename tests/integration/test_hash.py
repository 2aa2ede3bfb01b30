"""Hash commands: redis-py round trips, HSCAN over big hashes, HINCRBYFLOAT, the listpack ->
hashtable conversions, big and binary fields and values, RESP3 reply types, HRANDFIELD's
sampling, keyspace events and memory per field."""

import collections
import random

import pytest

from helpers import (NIL, NOT_FLOAT, NOT_INT, OK, SYNTAX, WRONGTYPE, bulk, bulks, call, err,
                     integer, wrong_args)

pytestmark = pytest.mark.needs_types

NOT_HASH_INT = err("ERR hash value is not an integer")
NOT_HASH_FLOAT = err("ERR hash value is not a float")
OVERFLOW = err("ERR increment or decrement would overflow")
NAN_INF = err("ERR increment would produce NaN or Infinity")


def encoding(r, key):
    return r.object("encoding", key)


def fill(r, key, n, prefix="f", value=lambda i: "v%d" % i, chunk=1000):
    """HSET n fields in pipelined chunks; returns the expected contents (bytes -> bytes)."""
    want = {}
    p = r.pipeline(transaction=False)
    for start in range(0, n, chunk):
        m = {("%s%d" % (prefix, i)): value(i) for i in range(start, min(n, start + chunk))}
        p.hset(key, mapping=m)
        want.update({k.encode(): v.encode() for k, v in m.items()})
    p.execute()
    return want


# ---------------------------------------------------------------- basics


def test_hset_mapping_and_reads(r):
    assert r.hset("h", mapping={"a": "1", "b": "2", "c": "3"}) == 3
    assert r.hset("h", mapping={"a": "10", "d": "4"}) == 1
    assert r.hset("h", "e", "5") == 1
    assert r.hgetall("h") == {b"a": b"10", b"b": b"2", b"c": b"3", b"d": b"4", b"e": b"5"}
    # A listpack keeps insertion order, which HKEYS/HVALS show.
    assert r.hkeys("h") == [b"a", b"b", b"c", b"d", b"e"]
    assert r.hvals("h") == [b"10", b"2", b"3", b"4", b"5"]
    assert r.hget("h", "a") == b"10"
    assert r.hget("h", "zz") is None
    assert r.hget("nokey", "a") is None
    assert r.hmget("h", ["a", "zz", "e"]) == [b"10", None, b"5"]
    assert r.hmget("nokey", ["a", "b"]) == [None, None]
    assert r.hlen("h") == 5
    assert r.hlen("nokey") == 0
    assert r.hexists("h", "b") is True
    assert r.hexists("h", "zz") is False
    assert r.hstrlen("h", "a") == 2
    assert r.hstrlen("h", "zz") == 0
    assert r.hsetnx("h", "a", "x") == 0
    assert r.hsetnx("h", "f", "6") == 1
    assert r.hget("h", "a") == b"10"
    assert r.execute_command("HMSET", "h", "g", "7") is True
    assert r.type("h") == b"hash"
    assert encoding(r, "h") == b"listpack"
    assert r.hgetall("nokey") == {}
    assert r.hkeys("nokey") == [] and r.hvals("nokey") == []


def test_hdel_deletes_emptied_key(r, raw):
    r.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert r.hdel("h", "a", "zz", "a") == 1
    assert r.hdel("h", "b", "c", "zz") == 2
    assert r.exists("h") == 0
    assert r.hdel("h", "a") == 0
    # The key goes as soon as the last field does, with its TTL.
    r.hset("h", "a", 1)
    r.expire("h", 100)
    assert r.hdel("h", "a") == 1
    r.hset("h", "a", 1)
    assert r.ttl("h") == -1
    assert call(raw, "HDEL", "h") == wrong_args("hdel")


def test_errors(raw):
    assert call(raw, "HSET", "h", "f") == wrong_args("hset")
    assert call(raw, "HSET", "h", "f", "v", "g") == wrong_args("hset")
    assert call(raw, "HMSET", "h", "f", "v", "g") == wrong_args("hmset")
    assert call(raw, "HGET", "h") == wrong_args("hget")
    assert call(raw, "EXISTS", "h") == integer(0)
    raw.execute("SET", "s", "x")
    for cmd in (("HSET", "s", "f", "v"), ("HSETNX", "s", "f", "v"), ("HGET", "s", "f"),
                ("HMGET", "s", "f"), ("HDEL", "s", "f"), ("HLEN", "s"), ("HSTRLEN", "s", "f"),
                ("HEXISTS", "s", "f"), ("HKEYS", "s"), ("HVALS", "s"), ("HGETALL", "s"),
                ("HINCRBY", "s", "f", "1"), ("HINCRBYFLOAT", "s", "f", "1"),
                ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "2"), ("HSCAN", "s", "0")):
        assert call(raw, *cmd) == WRONGTYPE, cmd
    assert call(raw, "GET", "s") == bulk("x")
    # Argument errors come before the type check for these.
    assert call(raw, "HINCRBY", "s", "f", "x") == NOT_INT
    assert call(raw, "HINCRBYFLOAT", "s", "f", "x") == NOT_FLOAT
    assert call(raw, "HRANDFIELD", "s", "x") == NOT_INT
    assert call(raw, "HSCAN", "s", "x") == err("ERR invalid cursor")


def test_binary_and_integer_looking(r):
    blob = bytes(range(256))
    m = {b"": b"empty-field", b"e": b"", blob: blob[::-1], b"007": b"-0", b"12": b"12",
         b"-9223372036854775808": b"9223372036854775808", b" 1": b"1 "}
    assert r.hset("h", mapping=m) == len(m)
    assert r.hgetall("h") == m
    assert r.hstrlen("h", b"12") == 2
    assert r.hstrlen("h", b"-9223372036854775808") == 19
    assert r.hstrlen("h", blob) == 256
    assert encoding(r, "h") == b"hashtable"     # the 256-byte field is too long
    r.hset("small", mapping={k: v for k, v in m.items() if len(k) < 64})
    assert encoding(r, "small") == b"listpack"
    assert r.hgetall("small") == {k: v for k, v in m.items() if len(k) < 64}


# ---------------------------------------------------------------- counters


def test_hincrby(r, raw):
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    assert r.hget("h", "n") == b"-2"
    assert r.hincrby("h", "max", 9223372036854775807) == 9223372036854775807
    assert call(raw, "HINCRBY", "h", "max", "1") == OVERFLOW
    assert r.hincrby("h", "min", -9223372036854775808) == -9223372036854775808
    assert call(raw, "HINCRBY", "h", "min", "-1") == OVERFLOW
    r.hset("h", mapping={"s": "abc", "sp": " 1", "z": "01", "f": "1.5"})
    for f in ("s", "sp", "z", "f"):
        assert call(raw, "HINCRBY", "h", f, "1") == NOT_HASH_INT, f
    assert call(raw, "HINCRBY", "h", "n", "1.5") == NOT_INT
    assert call(raw, "HINCRBY", "h", "n", "9223372036854775808") == NOT_INT
    assert r.hget("h", "n") == b"-2"


def test_hincrbyfloat(r, raw):
    assert r.hincrbyfloat("h", "f", 10.5) == 10.5
    assert call(raw, "HINCRBYFLOAT", "h", "f", "0.1") == bulk("10.6")
    assert call(raw, "HINCRBYFLOAT", "h", "f", "-0.6") == bulk("10")
    assert call(raw, "HINCRBYFLOAT", "h", "g", "5.0e3") == bulk("5000")
    assert call(raw, "HINCRBYFLOAT", "h", "g", "0x10") == bulk("5016")
    assert call(raw, "HINCRBYFLOAT", "h", "tiny", "1e-20") == bulk("0")
    r.hset("h", "i", "3")
    assert call(raw, "HINCRBYFLOAT", "h", "i", "1.25") == bulk("4.25")
    assert call(raw, "HINCRBYFLOAT", "h", "big", "1.18e4932") != NAN_INF
    assert call(raw, "HINCRBYFLOAT", "h", "big", "1.18e4932") == NAN_INF
    assert call(raw, "HINCRBYFLOAT", "h", "f", "inf") == err("ERR value is NaN or Infinity")
    assert call(raw, "HINCRBYFLOAT", "h", "f", "abc") == NOT_FLOAT
    r.hset("h", "s", "abc")
    assert call(raw, "HINCRBYFLOAT", "h", "s", "1") == NOT_HASH_FLOAT
    assert r.hget("h", "f") == b"10"
    # The 4933-digit result no longer fits a listpack entry.
    assert encoding(r, "h") == b"hashtable"
    assert call(raw, "HINCRBYFLOAT", "nokey", "f", "-inf") == err("ERR value is NaN or Infinity")
    assert call(raw, "HINCRBYFLOAT", "nokey", "f", "nan") == NOT_FLOAT
    assert r.exists("nokey") == 0


# ---------------------------------------------------------------- HSCAN


@pytest.mark.timeout(120)
def test_hscan_iter_10k(r):
    want = fill(r, "h", 10000)
    assert encoding(r, "h") == b"hashtable"
    got = {}
    calls = 0
    cursor = 0
    while True:
        cursor, batch = r.hscan("h", cursor, count=100)
        calls += 1
        got.update(batch)
        if cursor == 0:
            break
        assert calls < 10000
    assert got == want
    assert calls > 10               # really incremental
    assert dict(r.hscan_iter("h", count=1000)) == want
    sub = {k: v for k, v in want.items() if k.startswith(b"f12")}
    assert dict(r.hscan_iter("h", match="f12*", count=500)) == sub
    assert dict(r.hscan_iter("h", match="nothing*")) == {}


def test_hscan_small_hash_returns_everything(r, raw):
    r.hset("h", mapping={"a": 1, "b": 2, "ab": 3})
    assert r.hscan("h", 0, count=1) == (0, {b"a": b"1", b"b": b"2", b"ab": b"3"})
    assert r.hscan("h", 0, match="a*") == (0, {b"a": b"1", b"ab": b"3"})
    assert call(raw, "HSCAN", "h", "0", "COUNT", "0") == SYNTAX
    assert call(raw, "HSCAN", "h", "0", "NOVALUES") == SYNTAX
    assert call(raw, "HSCAN", "nokey", "0", "COUNT", "0") == b"*2\r\n$1\r\n0\r\n*0\r\n"


@pytest.mark.timeout(120)
def test_hscan_guarantee_under_writes(r):
    """Every field present for the whole iteration is returned, while other fields come and
    go and the table grows (rehashing) between calls."""
    stable = fill(r, "h", 3000, prefix="s")
    rng = random.Random(7)
    seen = {}
    cursor = 0
    extra = 0
    for rounds in range(100000):
        cursor, batch = r.hscan("h", cursor, count=50)
        seen.update(batch)
        p = r.pipeline(transaction=False)
        for _ in range(40):
            p.hset("h", "x%d" % extra, "y")
            extra += 1
        p.hdel("h", *["x%d" % rng.randrange(extra) for _ in range(10)])
        p.execute()
        if cursor == 0:
            break
    assert cursor == 0
    for k, v in stable.items():
        assert seen.get(k) == v, k


# ---------------------------------------------------------------- encodings


def test_conversion_by_entries(r, config_set):
    config_set("hash-max-listpack-entries", "512")
    want = fill(r, "h", 512)
    assert encoding(r, "h") == b"listpack"
    r.hset("h", "f0", "updated")
    want[b"f0"] = b"updated"
    assert encoding(r, "h") == b"listpack"
    r.hset("h", "one-more", "x")
    want[b"one-more"] = b"x"
    assert encoding(r, "h") == b"hashtable"
    assert r.hgetall("h") == want
    # Never back to a listpack, however small it gets.
    r.hdel("h", *[k for k in want if k != b"f1"])
    assert r.hgetall("h") == {b"f1": b"v1"}
    assert encoding(r, "h") == b"hashtable"


def test_conversion_by_length(r, config_set):
    config_set("hash-max-listpack-value", "64")
    r.hset("h", "f", "x" * 64)
    assert encoding(r, "h") == b"listpack"
    r.hset("h", "f", "x" * 65)
    assert encoding(r, "h") == b"hashtable"
    assert r.hget("h", "f") == b"x" * 65
    r.hset("k", "k" * 65, "v")
    assert encoding(r, "k") == b"hashtable"
    # HSETNX on an existing field writes nothing and converts nothing.
    r.hset("n", "f", "1")
    assert r.hsetnx("n", "f", "L" * 65) == 0
    assert encoding(r, "n") == b"listpack"
    r.hincrby("n", "F" * 65, 1)
    assert encoding(r, "n") == b"hashtable"
    assert r.hgetall("n") == {b"f": b"1", b"F" * 65: b"1"}


def test_conversion_with_config_set(r, config_set):
    config_set("hash-max-listpack-entries", "3")
    config_set("hash-max-listpack-value", "8")
    r.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert encoding(r, "h") == b"listpack"
    r.hset("h", "d", 4)
    assert encoding(r, "h") == b"hashtable"
    r.hset("v", "a", "12345678")
    assert encoding(r, "v") == b"listpack"
    r.hset("v", "a", "123456789")
    assert encoding(r, "v") == b"hashtable"
    config_set("hash-max-listpack-entries", "0")
    r.hset("z", "a", 1)
    assert encoding(r, "z") == b"hashtable"
    assert r.hgetall("z") == {b"a": b"1"}


def test_big_values(r, config_set):
    big = bytes(random.Random(1).getrandbits(8) for _ in range(1 << 16)) * 16   # 1 MB
    field = b"F" * 100_000
    r.hset("h", mapping={"small": "1", field: big, "big": big})
    assert r.hget("h", field) == big
    assert r.hget("h", "big") == big
    assert r.hstrlen("h", "big") == len(big)
    assert r.hgetall("h") == {b"small": b"1", field: big, b"big": big}
    assert encoding(r, "h") == b"hashtable"
    # Big entries inside a listpack (multi-byte length encodings) when the limit allows it.
    config_set("hash-max-listpack-value", "200000")
    vals = {b"a" * n: bytes([n % 256]) * n for n in (0, 63, 64, 127, 128, 4095, 4096, 70000)}
    r.hset("lp", mapping=vals)
    assert encoding(r, "lp") == b"listpack"
    assert r.hgetall("lp") == vals
    assert r.hkeys("lp") == list(vals)
    r.hdel("lp", b"a" * 4095)
    del vals[b"a" * 4095]
    assert r.hvals("lp") == list(vals.values())


def test_hashtable_value_lengths(r, config_set):
    """Values of every storage class of the hashtable encoding (inline up to 7 bytes, one
    length byte up to 254, a 64-bit length beyond), including NULs, updated across classes."""
    config_set("hash-max-listpack-entries", "0")
    lengths = list(range(0, 12)) + [126, 127, 128, 253, 254, 255, 256, 257, 65536]
    want = {}
    for n in lengths:
        want[b"f%d" % n] = bytes((i * 7 + n) % 256 for i in range(n))
    r.hset("h", mapping=want)
    assert encoding(r, "h") == b"hashtable"
    assert r.hgetall("h") == want
    for n in lengths:
        assert r.hstrlen("h", b"f%d" % n) == n
    # Every field moves to the next length class and back.
    for k, v in list(want.items()):
        want[k] = v + b"\x00" * 250
        r.hset("h", k, want[k])
    assert r.hgetall("h") == want
    for k, v in list(want.items()):
        want[k] = v[:3]
        r.hset("h", k, want[k])
    assert r.hgetall("h") == want
    assert r.hincrby("h", "c", -1234567) == -1234567       # 8 bytes: out of line
    assert r.hincrby("h", "c", 1234567) == 0                 # back inline
    assert r.hget("h", "c") == b"0"


def test_copy_is_deep(r, config_set):
    for enc, n in ((b"listpack", 5), (b"hashtable", 600)):
        r.delete("a", "b")
        want = fill(r, "a", n)
        assert encoding(r, "a") == enc
        assert r.copy("a", "b") is True
        r.hset("b", "f0", "changed")
        r.hdel("b", "f1")
        assert r.hgetall("a") == want
        assert encoding(r, "b") == enc
        r.delete("a")
        assert r.hget("b", "f0") == b"changed"
        assert r.hlen("b") == n - 1


# ---------------------------------------------------------------- RESP3 / HRANDFIELD


def test_resp3_types(r3, raw):
    r3.execute("HSET", "h", "a", "1", "b", "2")
    assert call(r3, "HGETALL", "h") == b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert call(raw, "HGETALL", "h") == bulks("a", "1", "b", "2")
    assert call(r3, "HGETALL", "nokey") == b"%0\r\n"
    assert call(r3, "HKEYS", "nokey") == b"*0\r\n"
    assert call(r3, "HMGET", "h", "a", "x") == b"*2\r\n$1\r\n1\r\n_\r\n"
    assert call(r3, "HGET", "h", "x") == b"_\r\n"
    assert call(raw, "HGET", "h", "x") == NIL
    assert call(r3, "HRANDFIELD", "nokey") == b"_\r\n"
    assert call(r3, "HRANDFIELD", "h", "2", "WITHVALUES") == \
        b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert call(raw, "HRANDFIELD", "h", "2", "WITHVALUES") == bulks("a", "1", "b", "2")
    assert call(r3, "HINCRBYFLOAT", "h", "a", "0.5") == bulk("1.5")


def test_hrandfield_errors(raw):
    raw.execute("HSET", "h", "a", "1")
    assert call(raw, "HRANDFIELD", "h", "1", "WITHVALUE") == SYNTAX
    assert call(raw, "HRANDFIELD", "h", "1", "WITHVALUES", "x") == SYNTAX
    assert call(raw, "HRANDFIELD", "h", "-9223372036854775808") == err(
        "ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807")
    assert call(raw, "HRANDFIELD", "h", "4611686018427387904", "WITHVALUES") == err(
        "ERR value is out of range")
    assert call(raw, "HRANDFIELD", "nokey", "-4611686018427387903", "WITHVALUES") == b"*0\r\n"


@pytest.mark.parametrize("n,enc", [(10, b"listpack"), (600, b"hashtable")])
def test_hrandfield_sampling(r, n, enc):
    want = fill(r, "h", n)
    assert encoding(r, "h") == enc
    # Distinct picks for a positive count, in every sampling regime.
    for count in (1, 3, n // 2, n - 1, n, n + 5):
        got = r.hrandfield("h", count, withvalues=True)
        pairs = list(zip(got[0::2], got[1::2]))
        assert len(pairs) == min(count, n)
        assert len({f for f, _ in pairs}) == len(pairs)
        assert all(want[f] == v for f, v in pairs)
    # Repeats allowed for a negative count, and every field is about equally likely.
    draws = 30 * n
    got = r.hrandfield("h", -draws)
    assert len(got) == draws
    counts = collections.Counter(got)
    assert set(counts) <= set(want)
    assert len(counts) >= 0.9 * n
    assert max(counts.values()) < 30 * 4
    single = collections.Counter(r.hrandfield("h") for _ in range(200))
    assert set(single) <= set(want) and len(single) > 1


# ---------------------------------------------------------------- events, WATCH, memory


def test_keyspace_events(server, r, raw, config_set):
    probe = raw.execute("COMMAND", "INFO", "SUBSCRIBE")
    assert probe and probe[0] is not None, "COMMAND INFO SUBSCRIBE: pub/sub is missing"
    config_set("notify-keyspace-events", "KEA")
    sub = server.client()
    ps = sub.pubsub()
    try:
        ps.psubscribe("__keyevent@0__:*")
        msg = ps.get_message(timeout=5)
        assert msg and msg["type"] == "psubscribe"
        r.hset("h", mapping={"a": 1, "b": 2})
        r.hsetnx("h", "a", 5)             # nothing written: no event
        r.hsetnx("h", "c", 3)
        r.hincrby("h", "n", 1)
        r.hincrbyfloat("h", "x", 1.5)
        r.hdel("h", "zz")                 # nothing deleted: no event
        r.hdel("h", "a", "b", "c", "n")
        r.hdel("h", "x")                  # emptied: hdel then del
        events = []
        for _ in range(20):
            msg = ps.get_message(timeout=2)
            if msg is None:
                break
            if msg["type"] == "pmessage":
                events.append((msg["channel"].split(b":", 1)[1], msg["data"]))
            if len(events) == 7:
                break
        assert events == [(b"hset", b"h"), (b"hset", b"h"), (b"hincrby", b"h"),
                          (b"hincrbyfloat", b"h"), (b"hdel", b"h"), (b"hdel", b"h"),
                          (b"del", b"h")]
        assert ps.get_message(timeout=0.2) is None
    finally:
        ps.close()
        sub.close()


def test_watch_sees_field_writes(server, r, raw):
    probe = raw.execute("COMMAND", "INFO", "WATCH")
    assert probe and probe[0] is not None, "COMMAND INFO WATCH: MULTI/WATCH is missing"
    r.hset("h", "a", 1)
    for write in (("HSET", "h", "a", "2"), ("HINCRBY", "h", "a", "1"),
                  ("HINCRBYFLOAT", "h", "a", "1"), ("HSETNX", "h", "new", "1"),
                  ("HDEL", "h", "new")):
        c = server.raw()
        try:
            assert c.execute("WATCH", "h") == b"OK"
            raw.execute(*write)
            assert c.execute("MULTI") == b"OK"
            c.execute("HGET", "h", "a")
            assert c.execute("EXEC") is None, write
        finally:
            c.close()


@pytest.mark.keyloom_only
@pytest.mark.timeout(120)
def test_memory_per_field(r):
    """A hashtable field costs less than in Redis: the field lives in the dict entry and
    values up to 7 bytes live inside the entry's value word (Redis 7.0 measures about 75
    bytes for 8-byte fields and values, 66 for 10-byte fields with 3-byte values; keyloom
    about 48 and 64)."""
    def load(key, flen, vlen, n):
        # Plain round trips of 500 fields: no megabytes of pipelined query buffers.
        for start in range(0, n, 500):
            r.hset(key, mapping={"f%0*d" % (flen - 1, i): "v" * vlen
                                 for i in range(start, min(n, start + 500))})

    def per_field(flen, vlen, n=50000):
        r.flushall()
        # A first round brings buffers and allocator caches to their steady state.
        load("warm", flen, vlen, n)
        r.delete("warm")
        before = r.info("memory")["used_memory"]
        load("h", flen, vlen, n)
        assert encoding(r, "h") == b"hashtable"
        return (r.info("memory")["used_memory"] - before) / n

    # used_memory also sees allocator caches and buffers, hence the margins.
    assert per_field(10, 3) < 58
    assert per_field(8, 8) < 70
