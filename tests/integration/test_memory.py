"""MEMORY: USAGE for strings and hashes (growth with the value, null for a missing key, SAMPLES),
STATS (Redis 7.0's fields, their reply types in RESP2 and RESP3, numbers that add up), DOCTOR and
MALLOC-STATS text, PURGE, HELP, and the error paths."""

import re

import pytest

from helpers import NIL, NOT_INT, NULL3, OK, SYNTAX, call, err, wait_until, wrong_args
from klserver import Double, Verbatim

# The fields of MEMORY STATS in Redis 7.0's order; db.<n> maps go between functions.caches and
# overhead.total, one per database that holds keys.
STATS_HEAD = ["peak.allocated", "total.allocated", "startup.allocated", "replication.backlog",
              "clients.slaves", "clients.normal", "cluster.links", "aof.buffer", "lua.caches",
              "functions.caches"]
STATS_TAIL = ["overhead.total", "keys.count", "keys.bytes-per-key", "dataset.bytes",
              "dataset.percentage", "peak.percentage", "allocator.allocated", "allocator.active",
              "allocator.resident", "allocator-fragmentation.ratio",
              "allocator-fragmentation.bytes", "allocator-rss.ratio", "allocator-rss.bytes",
              "rss-overhead.ratio", "rss-overhead.bytes", "fragmentation", "fragmentation.bytes"]
STATS_FLOATS = {"dataset.percentage", "peak.percentage", "allocator-fragmentation.ratio",
                "allocator-rss.ratio", "rss-overhead.ratio", "fragmentation"}
DB_FIELDS = [b"overhead.hashtable.main", b"overhead.hashtable.expires",
             b"overhead.hashtable.slot-to-keys"]

HELP = [b"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"DOCTOR",
        b"    Return memory problems reports.",
        b"MALLOC-STATS",
        b"    Return internal statistics report from the memory allocator.",
        b"PURGE",
        b"    Attempt to purge dirty pages for reclamation by the allocator.",
        b"STATS",
        b"    Return information about the memory usage of the server.",
        b"USAGE <key> [SAMPLES <count>]",
        b"    Return memory in bytes used by <key> and its value. Nested values are",
        b"    sampled up to <count> times (default: 5, 0 means sample all).",
        b"HELP",
        b"    Prints this help."]


def usage(c, key, *extra):
    v = c.execute("MEMORY", "USAGE", key, *extra)
    assert isinstance(v, int), v
    return v


def stats_pairs(c, protocol):
    """MEMORY STATS as an ordered list of (name, value), checking the wire shape."""
    raw, v = c.call("MEMORY", "STATS")
    if protocol == 3:
        assert raw[:1] == b"%", raw[:40]
        return [(k.decode(), x) for k, x in v.items()]
    assert raw[:1] == b"*", raw[:40]
    assert len(v) % 2 == 0
    return [(v[i].decode(), v[i + 1]) for i in range(0, len(v), 2)]


def fill_hash(r, key, n, value=lambda i: "value-%d" % i):
    p = r.pipeline(transaction=False)
    for start in range(0, n, 1000):
        p.hset(key, mapping={"field:%d" % i: value(i) for i in range(start, min(n, start + 1000))})
    p.execute()


# ---------------------------------------------------------------- USAGE


def test_usage_missing_key_is_null(raw, r3):
    assert call(raw, "MEMORY", "USAGE", "nokey") == NIL
    assert call(raw, "MEMORY", "USAGE", "nokey", "SAMPLES", "3") == NIL
    assert call(r3, "MEMORY", "USAGE", "nokey") == NULL3
    # The lookup is not a keyspace read: no miss is counted.
    assert call(raw, "CONFIG", "RESETSTAT") == OK
    call(raw, "MEMORY", "USAGE", "nokey")
    assert b"keyspace_misses:0\r" in raw.execute("INFO", "stats")


def test_usage_string_grows_with_value(raw):
    sizes = [0, 10, 44, 45, 100, 1000, 10000, 100000, 1000000]
    prev, prev_n = 0, 0
    for n in sizes:
        call(raw, "SET", "s", "x" * n)
        u = usage(raw, "s")
        # Small strings share allocation size classes (and 44 -> 45 bytes moves from one
        # allocation, embstr, to two of the same total size).
        assert u >= prev, (n, u, prev)
        if n >= 100 and n >= 2 * prev_n:
            assert u > prev, (n, u, prev)
        assert u >= n
        # Allocation rounding stays within jemalloc's size classes (at most 25% above).
        assert u <= n * 1.25 + 256, (n, u)
        prev, prev_n = u, n
    # An integer is one small object; a longer key costs more.
    call(raw, "SET", "i", "12345")
    small = usage(raw, "i")
    assert 0 < small <= 128
    call(raw, "SET", "i" * 200, "12345")
    assert usage(raw, "i" * 200) >= small + 190
    # APPEND grows the raw string in place; the figure follows.
    call(raw, "SET", "a", "x" * 100)
    before = usage(raw, "a")
    call(raw, "APPEND", "a", "y" * 5000)
    assert usage(raw, "a") >= before + 5000


@pytest.mark.needs_types
def test_usage_hash_grows_with_fields_and_values(r, raw):
    r.hset("h", "f", "v")
    u1 = usage(raw, "h")
    assert u1 > 0
    r.hset("h", mapping={"f%d" % i: "v%d" % i for i in range(50)})
    u2 = usage(raw, "h")
    assert u2 > u1 + 50 * 4
    fill_hash(r, "h", 2000)
    assert r.object("encoding", "h") == b"hashtable"
    u3 = usage(raw, "h")
    raw_bytes = sum(len("field:%d" % i) + len("value-%d" % i) for i in range(2000))
    assert u3 > u2 and u3 >= raw_bytes
    # Bigger values, same fields: more memory.
    fill_hash(r, "h", 2000, value=lambda i: "v" * 200)
    u4 = usage(raw, "h")
    assert u4 >= u3 + 2000 * 150, (u3, u4)
    # And less again once the fields go.
    r.delete("h")
    r.hset("h", "f", "v")
    assert usage(raw, "h") < u2


@pytest.mark.needs_types
def test_usage_samples_on_a_10k_field_hash(r, raw):
    fill_hash(r, "big", 10000)
    assert r.hlen("big") == 10000
    default = usage(raw, "big")
    all_ = usage(raw, "big", "SAMPLES", "0")
    one = usage(raw, "big", "SAMPLES", "1")
    many = usage(raw, "big", "SAMPLES", "100000")
    raw_bytes = sum(len("field:%d" % i) + len("value-%d" % i) for i in range(10000))
    for u in (default, all_, one, many):
        assert raw_bytes <= u <= raw_bytes * 8, (u, raw_bytes)
    # The values are all alike, so an estimate from a sample is close to the full count.
    assert abs(default - all_) <= all_ // 10, (default, all_)
    assert abs(one - all_) <= all_ // 5, (one, all_)
    # SAMPLES may repeat; the last one wins, and the option is case-insensitive.
    assert usage(raw, "big", "samples", "1", "SAMPLES", "0") == all_


def test_usage_errors(raw, r3):
    call(raw, "SET", "k", "v")
    for c in (raw, r3):
        assert call(c, "MEMORY", "USAGE") == wrong_args("memory|usage")
        assert call(c, "MEMORY", "USAGE", "k", "extra") == SYNTAX
        assert call(c, "MEMORY", "USAGE", "k", "SAMPLES") == SYNTAX
        assert call(c, "MEMORY", "USAGE", "k", "SAMPLES", "-1") == SYNTAX
        assert call(c, "MEMORY", "USAGE", "k", "SAMPLES", "abc") == NOT_INT
        assert call(c, "MEMORY", "USAGE", "k", "SAMPLES", "99999999999999999999") == NOT_INT
        assert call(c, "MEMORY", "USAGE", "k", "SAMPLES", "0", "x") == SYNTAX
        # The options are checked before the key is looked up.
        assert call(c, "MEMORY", "USAGE", "nokey", "SAMPLES", "-1") == SYNTAX
        assert call(c, "MEMORY", "USAGE", "k", "SAMPLES", "9223372036854775807")[:1] == b":"
        assert call(c, "MEMORY") == wrong_args("memory")
        assert call(c, "MEMORY", "nosuch") == \
            err("ERR unknown subcommand 'nosuch'. Try MEMORY HELP.")
        for sub in ("STATS", "DOCTOR", "PURGE", "MALLOC-STATS", "HELP"):
            assert call(c, "MEMORY", sub, "x") == wrong_args("memory|" + sub.lower())


def test_usage_in_multi(raw):
    call(raw, "SET", "k", "hello")
    alone = usage(raw, "k")
    assert call(raw, "MULTI") == OK
    assert call(raw, "MEMORY", "USAGE", "k") == b"+QUEUED\r\n"
    assert call(raw, "MEMORY", "USAGE", "nokey") == b"+QUEUED\r\n"
    assert raw.execute("EXEC") == [alone, None]


# ---------------------------------------------------------------- STATS


def _stats_after_fill(server, protocol):
    """1001 keys (one with a TTL) in db 0 and db 3; returns MEMORY STATS as (name, value)
    pairs with the wire types checked, db.<n> values as dicts and floats parsed."""
    with server.raw(protocol=protocol) as c:
        c.execute("SELECT", "3")
        c.execute("SET", "x", "1")
        c.execute("SELECT", "0")
        for i in range(1000):
            c.send_command("SET", "key:%d" % i, "v" * 20)
        for i in range(1000):
            assert c.read_value() == b"OK"
        c.execute("EXPIRE", "key:1", "1000")
        pairs = stats_pairs(c, protocol)
    out = []
    for name, v in pairs:
        if name.startswith("db."):
            if protocol == 3:
                assert list(v.keys()) == DB_FIELDS
                vals = list(v.values())
            else:
                assert v[0::2] == DB_FIELDS
                vals = v[1::2]
            assert all(isinstance(x, int) for x in vals), vals
            v = dict(zip([f.decode() for f in DB_FIELDS], vals))
        elif name in STATS_FLOATS:
            if protocol == 3:
                assert isinstance(v, Double), (name, v)
            else:
                assert isinstance(v, bytes), (name, v)
            v = float(v)
        else:
            assert isinstance(v, int) and not isinstance(v, bool), (name, v)
        out.append((name, v))
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_stats_fields_and_types(server, protocol):
    pairs = _stats_after_fill(server, protocol)
    assert [n for n, _ in pairs] == STATS_HEAD + ["db.0", "db.3"] + STATS_TAIL
    st = dict(pairs)
    total = st["total.allocated"]
    assert total > 0
    assert st["keys.count"] == 1001
    assert 0 < st["startup.allocated"]
    assert st["keys.bytes-per-key"] == max(total - st["startup.allocated"], 1) // 1001
    assert 0 <= st["dataset.percentage"] <= 100
    assert st["peak.percentage"] > 0
    for absent in ("replication.backlog", "clients.slaves", "cluster.links", "aof.buffer",
                   "lua.caches"):
        assert st[absent] == 0, absent
    assert st["db.0"]["overhead.hashtable.main"] >= 1000 * 16
    assert st["db.0"]["overhead.hashtable.expires"] > 0
    assert st["db.3"]["overhead.hashtable.main"] > 0
    assert st["db.3"]["overhead.hashtable.expires"] == 0
    assert st["db.0"]["overhead.hashtable.slot-to-keys"] == 0


@pytest.mark.keyloom_only
def test_stats_numbers_add_up(server):
    st = dict(_stats_after_fill(server, 2))
    total = st["total.allocated"]
    assert total <= st["peak.allocated"]
    assert 0 < st["peak.percentage"] <= 100
    assert st["allocator.allocated"] == total
    assert st["clients.normal"] > 0
    assert st["functions.caches"] == 0
    overhead = (st["startup.allocated"] + st["clients.normal"] +
                st["db.0"]["overhead.hashtable.main"] + st["db.0"]["overhead.hashtable.expires"] +
                st["db.3"]["overhead.hashtable.main"])
    assert st["overhead.total"] == overhead
    assert st["dataset.bytes"] == max(total - overhead, 0)
    net = max(total - st["startup.allocated"], 1)
    assert abs(st["dataset.percentage"] - st["dataset.bytes"] * 100.0 / net) < 0.01
    assert st["allocator-fragmentation.bytes"] == st["allocator.active"] - total
    assert st["allocator-rss.bytes"] == st["allocator.resident"] - st["allocator.active"]
    # Both are the process RSS minus something: fragmentation.bytes = rss - allocated,
    # rss-overhead.bytes = rss - allocator.resident.
    assert st["fragmentation.bytes"] + total == st["rss-overhead.bytes"] + \
        st["allocator.resident"]
    assert st["fragmentation"] > 0


def test_stats_empty_server_has_no_db_entries(raw):
    pairs = stats_pairs(raw, 2)
    assert [n for n, _ in pairs] == STATS_HEAD + STATS_TAIL
    st = dict(pairs)
    assert st["keys.count"] == 0
    assert st["keys.bytes-per-key"] == 0


def test_stats_follow_the_data(r, raw):
    before = dict(stats_pairs(raw, 2))
    p = r.pipeline(transaction=False)
    for i in range(2000):
        p.set("k%d" % i, "x" * 4000)
    p.execute()
    after = dict(stats_pairs(raw, 2))
    assert after["keys.count"] == 2000
    # 8 MB of values; the allocator's total also moves by what threads keep cached (< 2 MB).
    assert after["total.allocated"] >= before["total.allocated"] + 6000000
    assert after["dataset.bytes"] >= before["dataset.bytes"] + 6000000
    assert after["peak.allocated"] >= after["total.allocated"]
    assert after["keys.bytes-per-key"] >= 3000
    # The peak stays after the data goes.
    r.flushall()
    gone = dict(stats_pairs(raw, 2))
    assert gone["total.allocated"] < after["total.allocated"]
    assert gone["peak.allocated"] >= after["total.allocated"]
    assert float(gone["peak.percentage"]) < 100


def test_stats_clients_memory_counts_connections(server, raw):
    base = dict(stats_pairs(raw, 2))["clients.normal"]
    extra = [server.raw() for _ in range(5)]
    try:
        for c in extra:
            assert c.execute("PING") == b"PONG"
        wait_until(lambda: dict(stats_pairs(raw, 2))["clients.normal"] > base,
                   what="clients.normal to grow")
    finally:
        for c in extra:
            c.close()


# ---------------------------------------------------------------- DOCTOR, MALLOC-STATS, PURGE


def test_doctor_text(raw, r3):
    rv, v = raw.call("MEMORY", "DOCTOR")
    assert rv[:1] == b"$"
    assert isinstance(v, bytes) and len(v) > 20 and v.endswith(b"\n")
    rv3, v3 = r3.call("MEMORY", "DOCTOR")
    assert rv3[:1] == b"="
    assert isinstance(v3, Verbatim) and v3.format == b"txt"
    # Same report in both protocols; the figures in it move between the two calls.
    digits = re.compile(rb"[0-9][0-9.,]*")
    assert digits.sub(b"N", bytes(v3)) == digits.sub(b"N", v)


def test_doctor_with_data(r, raw):
    small = dict(stats_pairs(raw, 2))["total.allocated"] < 4 * 1024 * 1024
    before = raw.execute("MEMORY", "DOCTOR")
    p = r.pipeline(transaction=False)
    for i in range(8):
        p.set("big%d" % i, "x" * (1 << 20))
    p.execute()
    after = raw.execute("MEMORY", "DOCTOR")
    assert isinstance(after, bytes) and after.endswith(b"\n")
    # Under 5 MB the doctor calls the instance empty; with 8 MB more it looks at the figures.
    if small:
        assert after != before


def test_malloc_stats(raw, r3):
    v = raw.execute("MEMORY", "MALLOC-STATS")
    assert isinstance(v, bytes)
    assert v.startswith(b"___ Begin jemalloc statistics ___\n")
    assert v.rstrip().endswith(b"--- End jemalloc statistics ---")
    v3 = r3.execute("MEMORY", "MALLOC-STATS")
    assert isinstance(v3, Verbatim) and v3.format == b"txt"
    assert v3.startswith(b"___ Begin jemalloc statistics ___\n")


def test_purge(r, raw, r3):
    assert call(raw, "MEMORY", "PURGE") == OK
    assert call(r3, "MEMORY", "PURGE") == OK
    # After freeing a lot, a purge still answers OK and the server keeps working.
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.set("p%d" % i, "x" * 50000)
    p.execute()
    r.flushall()
    assert call(raw, "memory", "purge") == OK
    assert r.set("after", "1") and r.get("after") == b"1"


def test_help(raw, r3):
    assert raw.execute("MEMORY", "HELP") == HELP
    assert r3.execute("memory", "help") == HELP
    assert call(raw, "MEMORY", "HELP")[:4] == b"*14\r"
