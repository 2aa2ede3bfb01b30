"""Sorted-set commands through redis-py and raw RESP: encodings (listpack / skiplist) and their
thresholds, ZADD options and INCR, score formatting in both protocols, a 100k-member sorted set
with rank and range queries, ZUNIONSTORE/ZINTERSTORE weights and aggregates, pops and ZMPOP,
ZRANDMEMBER and ZSCAN guarantees, blocking pops, keyspace events and WATCH."""

import random
import threading
import time

import pytest

from helpers import (NIL, NULL3, SYNTAX, WRONGTYPE, array, bulk, bulks, call, err, integer,
                     wrong_args)

pytestmark = pytest.mark.needs_types

BIG = 100000
NOT_FLOAT = err("ERR value is not a valid float")


def enc(raw, key):
    return raw.execute("OBJECT", "ENCODING", key)


def dbl3(x):
    """A RESP3 double."""
    return b"," + (x if isinstance(x, bytes) else str(x).encode()) + b"\r\n"


def zadd_chunks(r, key, pairs, chunk=5000):
    """ZADD a large {member: score} mapping in pipelined chunks; returns the total added."""
    items = list(pairs.items())
    p = r.pipeline(transaction=False)
    for i in range(0, len(items), chunk):
        p.zadd(key, dict(items[i:i + chunk]))
    return sum(p.execute())


def zscan_all(r, key, **kw):
    """Full ZSCAN iteration (bounded): list of every (member, score) returned."""
    cursor = 0
    out = []
    for _ in range(1000000):
        cursor, batch = r.zscan(key, cursor, **kw)
        out.extend(batch)
        if cursor == 0:
            return out
    raise AssertionError("ZSCAN did not terminate")


# ---------------------------------------------------------------- basics and encodings


def test_zadd_basics_and_listpack(r, raw):
    assert r.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
    assert r.zadd("z", {"a": 5}) == 0
    assert r.zcard("z") == 3
    assert r.type("z") == b"zset"
    assert enc(raw, "z") == b"listpack"
    assert r.zrange("z", 0, -1, withscores=True) == [(b"b", 2.0), (b"c", 3.0), (b"a", 5.0)]
    assert r.zscore("z", "a") == 5.0
    assert r.zscore("z", "nope") is None
    assert r.zmscore("z", ["a", "nope", "b"]) == [5.0, None, 2.0]
    assert r.zrank("z", "b") == 0 and r.zrevrank("z", "b") == 2
    assert r.zrank("z", "nope") is None
    assert r.zrem("z", "a", "nope") == 1
    assert r.zrem("z", "b", "c") == 2
    assert r.exists("z") == 0, "an emptied sorted set deletes its key"


def test_encoding_thresholds(r, raw, config_set):
    r.zadd("z", {"m%d" % i: i for i in range(128)})
    assert enc(raw, "z") == b"listpack"
    r.zadd("z", {"m0": 99})                     # an update does not grow it
    assert enc(raw, "z") == b"listpack"
    r.zadd("z", {"m128": 128})
    assert enc(raw, "z") == b"skiplist"
    r.zrem("z", *["m%d" % i for i in range(100)])
    assert enc(raw, "z") == b"skiplist", "never converts back by itself"

    r.zadd("v", {"x" * 64: 1})
    assert enc(raw, "v") == b"listpack"
    r.zadd("v", {"y" * 65: 1})
    assert enc(raw, "v") == b"skiplist"
    r.zadd("w", {"y" * 65: 1})
    assert enc(raw, "w") == b"skiplist"

    config_set("zset-max-listpack-entries", "0")
    r.zadd("s", {"a": 1})
    assert enc(raw, "s") == b"skiplist"
    config_set("zset-max-listpack-entries", "3")
    r.zadd("t", {"a": 1, "b": 2, "c": 3})
    assert enc(raw, "t") == b"listpack"
    r.zadd("t", {"d": 4})
    assert enc(raw, "t") == b"skiplist"
    assert r.zrange("t", 0, -1) == [b"a", b"b", b"c", b"d"]


def test_zadd_options(r, raw):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.zadd("z", {"a": 10, "c": 3}, nx=True) == 1
    assert r.zscore("z", "a") == 1.0
    assert r.zadd("z", {"a": 10, "d": 4}, xx=True) == 0
    assert r.zscore("z", "a") == 10.0 and r.zscore("z", "d") is None
    assert r.zadd("z", {"a": 11, "b": 2, "e": 5}, ch=True) == 2
    assert r.zadd("z", {"a": 5, "b": 50}, gt=True, ch=True) == 1
    assert r.zscore("z", "a") == 11.0 and r.zscore("z", "b") == 50.0
    assert r.zadd("z", {"a": 5, "b": 500}, lt=True, ch=True) == 1
    assert r.zscore("z", "a") == 5.0 and r.zscore("z", "b") == 50.0
    assert call(raw, "ZADD", "z", "NX", "XX", "1", "a") == \
        err("ERR XX and NX options at the same time are not compatible")
    assert call(raw, "ZADD", "z", "GT", "LT", "1", "a") == \
        err("ERR GT, LT, and/or NX options at the same time are not compatible")
    assert call(raw, "ZADD", "z", "NX", "GT", "1", "a") == \
        err("ERR GT, LT, and/or NX options at the same time are not compatible")
    assert call(raw, "ZADD", "z", "INCR", "1", "a", "2", "b") == \
        err("ERR INCR option supports a single increment-element pair")
    assert call(raw, "ZADD", "z", "1", "a", "2") == SYNTAX
    assert call(raw, "ZADD", "z", "nan", "a") == NOT_FLOAT
    assert call(raw, "ZADD", "z", "1", "a", "x", "b") == NOT_FLOAT
    assert call(raw, "ZADD", "z") == wrong_args("zadd")
    assert call(raw, "ZADD", "new", "XX", "1", "a") == integer(0)
    assert r.exists("new") == 0


def test_zadd_incr_and_zincrby(r, raw):
    assert r.zadd("z", {"a": 1.5}, incr=True) == 1.5
    assert r.zadd("z", {"a": 2}, incr=True) == 3.5
    assert r.zadd("z", {"a": 1}, incr=True, nx=True) is None
    assert r.zadd("z", {"b": 1}, incr=True, xx=True) is None
    assert r.zadd("z", {"a": -1}, incr=True, gt=True) is None
    assert r.zadd("z", {"a": 1}, incr=True, gt=True) == 4.5
    assert r.zincrby("z", 10, "a") == 14.5
    assert r.zincrby("z", -0.5, "new") == -0.5
    assert call(raw, "ZINCRBY", "z", "abc", "a") == NOT_FLOAT
    assert call(raw, "ZINCRBY", "z", "1", "a") == bulk("15.5")
    r.zadd("inf", {"m": float("inf")})
    assert call(raw, "ZINCRBY", "inf", "-inf", "m") == \
        err("ERR resulting score is not a number (NaN)")
    assert call(raw, "ZSCORE", "inf", "m") == bulk("inf")
    # 0.1 + 0.2 shows all 17 digits, as Redis prints it.
    r.zadd("f", {"m": 0.1})
    assert call(raw, "ZINCRBY", "f", "0.2", "m") == bulk("0.30000000000000004")


def test_score_formatting_both_protocols(r, raw, r3, config_set):
    r.zadd("lp", {"neg0": 0, "a": 0.1, "big": 1e300, "i": 3, "e17": 1e17})
    assert call(raw, "ZADD", "lp", "-0", "neg0") == integer(0)
    assert call(raw, "ZSCORE", "lp", "neg0") == bulk("0"), "a listpack stores -0 as 0"
    assert call(raw, "ZSCORE", "lp", "a") == bulk("0.10000000000000001")
    assert call(raw, "ZSCORE", "lp", "big") == bulk("1.0000000000000001e+300")
    assert call(raw, "ZSCORE", "lp", "i") == bulk("3")
    assert call(raw, "ZSCORE", "lp", "e17") == bulk("1e+17")
    assert call(r3, "ZSCORE", "lp", "a") == dbl3("0.10000000000000001")
    assert call(r3, "ZSCORE", "lp", "nope") == NULL3
    # ZSCAN of a listpack returns the stored bytes: 1e17 is stored as an integer.
    assert call(raw, "ZSCAN", "lp", "0", "MATCH", "e17") == \
        array(bulk("0"), bulks("e17", "100000000000000000"))

    config_set("zset-max-listpack-entries", "0")
    assert call(raw, "ZADD", "sl", "-0", "neg0", "inf", "pinf", "-inf", "ninf") == integer(3)
    assert enc(raw, "sl") == b"skiplist"
    assert call(raw, "ZSCORE", "sl", "neg0") == bulk("-0"), "a skiplist keeps -0"
    assert call(r3, "ZSCORE", "sl", "neg0") == dbl3("-0")
    assert call(raw, "ZRANGE", "sl", "0", "-1", "WITHSCORES") == \
        bulks("ninf", "-inf", "neg0", "-0", "pinf", "inf")
    assert call(r3, "ZRANGE", "sl", "0", "-1", "WITHSCORES") == array(
        array(bulk("ninf"), dbl3("-inf")), array(bulk("neg0"), dbl3("-0")),
        array(bulk("pinf"), dbl3("inf")))
    assert call(raw, "ZINCRBY", "sl", "1", "neg0") == bulk("1")


def test_ranges_by_score_and_lex(r, raw):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert r.zrangebyscore("z", "(1", 4) == [b"b", b"c", b"d"]
    assert r.zrangebyscore("z", "-inf", "+inf", start=1, num=2) == [b"b", b"c"]
    assert r.zrevrangebyscore("z", 4, "(1", withscores=True) == \
        [(b"d", 4.0), (b"c", 3.0), (b"b", 2.0)]
    assert r.zcount("z", "(1", "(5") == 3
    assert call(raw, "ZRANGE", "z", "(1", "3", "BYSCORE", "REV") == bulks()
    assert call(raw, "ZRANGE", "z", "3", "(1", "BYSCORE", "REV", "LIMIT", "0", "1") == bulks("c")
    assert call(raw, "ZCOUNT", "z", "x", "1") == err("ERR min or max is not a float")
    assert call(raw, "ZRANGE", "z", "0", "-1", "LIMIT", "0", "1") == err(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")

    r.zadd("lex", {m: 0 for m in ("a", "b", "c", "d", "e", "aa")})
    assert r.zrangebylex("lex", "[aa", "(d") == [b"aa", b"b", b"c"]
    assert r.zrevrangebylex("lex", "+", "(c") == [b"e", b"d"]
    assert r.zlexcount("lex", "-", "+") == 6
    assert call(raw, "ZRANGEBYLEX", "lex", "a", "+") == \
        err("ERR min or max not valid string range item")
    assert call(raw, "ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES") == \
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    assert r.zremrangebylex("lex", "(a", "[c") == 3
    assert r.zrange("lex", 0, -1) == [b"a", b"d", b"e"]


def test_zrangestore(r, raw):
    r.zadd("z", {"m%d" % i: i for i in range(200)})
    assert r.zrangestore("d", "z", 0, 9) == 10
    assert enc(raw, "d") == b"listpack"
    assert r.zrange("d", 0, -1, withscores=True)[-1] == (b"m9", 9.0)
    assert r.zrangestore("d", "z", 0, -1) == 200
    assert enc(raw, "d") == b"skiplist"
    assert r.zrangestore("d", "z", 10, 20, byscore=True, offset=2, num=3) == 3
    assert r.zrange("d", 0, -1) == [b"m12", b"m13", b"m14"]
    assert enc(raw, "d") == b"listpack"
    assert r.zrangestore("d", "z", 500, 600) == 0
    assert r.exists("d") == 0, "an empty result deletes the destination"
    r.set("s", "x")
    assert call(raw, "ZRANGESTORE", "d", "s", "0", "-1") == WRONGTYPE


# ---------------------------------------------------------------- the 100k-member sorted set


def test_big_zset_ranks_and_ranges(r, raw):
    rnd = random.Random(1234)
    scores = {"member:%06d" % i: float(rnd.randint(0, 50000)) for i in range(BIG)}
    assert zadd_chunks(r, "big", scores) == BIG
    assert r.zcard("big") == BIG
    assert enc(raw, "big") == b"skiplist"
    ordered = sorted(scores.items(), key=lambda kv: (kv[1], kv[0].encode()))
    rank = {m: i for i, (m, _) in enumerate(ordered)}

    # Ranks both ways, and ZSCORE, for a sample of members.
    for m in rnd.sample(sorted(scores), 300):
        assert r.zrank("big", m) == rank[m]
        assert r.zrevrank("big", m) == BIG - 1 - rank[m]
        assert r.zscore("big", m) == scores[m]

    # Rank ranges anywhere in the list, forwards and backwards.
    for start in (0, 1, 777, 49999, BIG - 10):
        got = r.zrange("big", start, start + 9, withscores=True)
        assert got == [(m.encode(), s) for m, s in ordered[start:start + 10]]
    got = r.zrevrange("big", 0, 4)
    assert got == [m.encode() for m, _ in reversed(ordered[-5:])]
    assert r.zrange("big", -3, -1) == [m.encode() for m, _ in ordered[-3:]]

    # Score ranges with LIMIT and counts.
    lo, hi = 1000.0, 1200.0
    inside = [(m, s) for m, s in ordered if lo <= s < hi]
    assert r.zcount("big", lo, "(%d" % hi) == len(inside)
    got = r.zrangebyscore("big", lo, "(%d" % hi, start=5, num=20)
    assert got == [m.encode() for m, _ in inside[5:25]]
    got = r.zrevrangebyscore("big", "(%d" % hi, lo, start=3, num=4)
    assert got == [m.encode() for m, _ in reversed(inside)][3:7]
    # A large offset is served in O(log n): this is fast even at the end.
    got = r.zrangebyscore("big", "-inf", "+inf", start=BIG - 2, num=10)
    assert got == [m.encode() for m, _ in ordered[-2:]]

    # ZADD INCR moves a member; ranks follow.
    m = ordered[0][0]
    assert r.zadd("big", {m: 100000}, incr=True) == ordered[0][1] + 100000
    assert r.zrevrank("big", m) == 0
    assert r.zrank("big", ordered[1][0]) == 0

    # Deleting ranges keeps ranks consistent.
    assert r.zremrangebyrank("big", 0, 999) == 1000
    assert r.zcard("big") == BIG - 1000
    assert r.zrank("big", ordered[1001][0]) == 0
    removed = r.zremrangebyscore("big", 40000, "+inf")
    assert removed == sum(1 for _, s in ordered[1001:] if s >= 40000) + 1
    assert r.zcard("big") == BIG - 1000 - removed


def test_big_zset_zscan_and_zrandmember(r):
    assert zadd_chunks(r, "big", {"m%d" % i: i for i in range(20000)}) == 20000
    seen = zscan_all(r, "big", count=500)
    got = dict(seen)
    assert len(got) == 20000
    assert all(got[b"m%d" % i] == float(i) for i in range(0, 20000, 997))
    assert len(zscan_all(r, "big", match="m1999*")) == 11

    picks = r.zrandmember("big", 100)
    assert len(picks) == 100 and len(set(picks)) == 100
    assert all(p.startswith(b"m") for p in picks)
    picks = r.zrandmember("big", 15000)                # close to the size
    assert len(picks) == 15000 and len(set(picks)) == 15000
    picks = r.execute_command("ZRANDMEMBER", "big", "-50", "WITHSCORES")
    if picks and isinstance(picks[0], list):         # RESP3: [member, score] pairs
        pairs = [tuple(p) for p in picks]
    else:
        pairs = list(zip(picks[0::2], picks[1::2]))
    assert len(pairs) == 50
    assert all(float(m[1:]) == float(s) for m, s in pairs)
    one = r.zrandmember("big")
    assert r.zscore("big", one) is not None


def test_zrandmember_small(r, raw, r3):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    # The whole set when the count covers it: highest score first, as Redis sends it.
    assert call(raw, "ZRANDMEMBER", "z", "5") == bulks("c", "b", "a")
    assert call(r3, "ZRANDMEMBER", "z", "3", "WITHSCORES") == array(
        array(bulk("c"), dbl3(3)), array(bulk("b"), dbl3(2)), array(bulk("a"), dbl3(1)))
    for _ in range(20):
        got = r.zrandmember("z", 2)
        assert len(got) == 2 and len(set(got)) == 2 and set(got) <= {b"a", b"b", b"c"}
    got = r.zrandmember("z", -10)
    assert len(got) == 10 and set(got) <= {b"a", b"b", b"c"}
    assert call(raw, "ZRANDMEMBER", "nokey") == NIL
    assert call(raw, "ZRANDMEMBER", "nokey", "3") == array()
    assert call(raw, "ZRANDMEMBER", "z", "-9223372036854775808") == err(
        "ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807")
    assert call(raw, "ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES") == \
        err("ERR value is out of range")


# ---------------------------------------------------------------- set operations


def test_zunionstore_weights_and_aggregates(r, raw):
    r.zadd("a", {"x": 1, "y": 2, "z": 3})
    r.zadd("b", {"y": 10, "z": 20, "w": 30})
    assert r.zunionstore("u", {"a": 2, "b": 3}) == 4
    assert r.zrange("u", 0, -1, withscores=True) == \
        [(b"x", 2.0), (b"y", 34.0), (b"z", 66.0), (b"w", 90.0)]
    assert enc(raw, "u") == b"listpack"
    assert r.zunionstore("u", ["a", "b"], aggregate="MIN") == 4
    assert r.zrange("u", 0, -1, withscores=True) == \
        [(b"x", 1.0), (b"y", 2.0), (b"z", 3.0), (b"w", 30.0)]
    assert r.zunionstore("u", {"a": 1, "b": -1}, aggregate="MAX") == 4
    assert r.zrange("u", 0, -1, withscores=True) == \
        [(b"w", -30.0), (b"x", 1.0), (b"y", 2.0), (b"z", 3.0)]
    assert r.zinterstore("i", {"a": 0.5, "b": 2}) == 2
    assert r.zrange("i", 0, -1, withscores=True) == [(b"y", 21.0), (b"z", 41.5)]
    assert r.zdiffstore("d", ["b", "a"]) == 1
    assert r.zrange("d", 0, -1, withscores=True) == [(b"w", 30.0)]
    assert r.zinterstore("i", ["a", "missing"]) == 0
    assert r.exists("i") == 0
    # inf * 0 is NaN: Redis turns it into 0.
    r.zadd("inf", {"x": float("inf")})
    assert r.zunionstore("u", {"inf": 0}) == 1
    assert r.zscore("u", "x") == 0.0
    # Sets take part with score 1.
    r.sadd("s", "x", "q")
    assert r.zunionstore("u", {"a": 1, "s": 5}) == 4
    assert r.zrange("u", 0, -1, withscores=True) == \
        [(b"y", 2.0), (b"z", 3.0), (b"q", 5.0), (b"x", 6.0)]
    assert call(raw, "ZUNIONSTORE", "u", "0", "a") == \
        err("ERR at least 1 input key is needed for 'zunionstore' command")
    assert call(raw, "ZUNIONSTORE", "u", "2", "a", "b", "WEIGHTS", "1", "x") == \
        err("ERR weight value is not a float")
    r.set("str", "v")
    assert call(raw, "ZUNIONSTORE", "u", "2", "a", "str") == WRONGTYPE


def test_zunion_inter_diff_replies(r, raw, r3):
    r.zadd("a", {"x": 1, "y": 2})
    r.zadd("b", {"y": 3, "z": 4})
    assert call(raw, "ZUNION", "2", "a", "b", "WITHSCORES") == \
        bulks("x", "1", "z", "4", "y", "5")
    assert call(r3, "ZINTER", "2", "a", "b", "WITHSCORES") == array(array(bulk("y"), dbl3(5)))
    assert call(raw, "ZDIFF", "2", "a", "b") == bulks("x")
    assert r.zintercard(2, ["a", "b"]) == 1
    assert r.zintercard(2, ["a", "a"], limit=1) == 1
    assert call(raw, "ZINTERCARD", "1", "a", "LIMIT", "-1") == err("ERR LIMIT can't be negative")


# ---------------------------------------------------------------- pops


def test_pops_and_zmpop(r, raw, r3):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert call(raw, "ZPOPMIN", "z") == bulks("a", "1")
    assert call(r3, "ZPOPMIN", "z") == array(bulk("b"), dbl3(2))
    assert call(r3, "ZPOPMAX", "z", "1") == array(array(bulk("d"), dbl3(4)))
    assert call(raw, "ZPOPMAX", "z", "10") == bulks("c", "3")
    assert r.exists("z") == 0
    assert call(raw, "ZPOPMIN", "z") == array()
    assert call(raw, "ZPOPMIN", "z", "-1") == err("ERR value is out of range, must be positive")
    r.zadd("z", {"a": 1, "b": 2})
    assert call(raw, "ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "5") == \
        array(bulk("z"), array(bulks("b", "2"), bulks("a", "1")))
    assert call(raw, "ZMPOP", "1", "z", "MIN") == b"*-1\r\n"
    assert call(r3, "ZMPOP", "1", "z", "MIN") == NULL3
    assert call(raw, "ZMPOP", "0", "z", "MIN") == err("ERR numkeys should be greater than 0")
    assert call(raw, "ZMPOP", "1", "z", "MIN", "COUNT", "0") == \
        err("ERR count should be greater than 0")


def _blocking_available(server):
    """True when BZPOPMIN on a missing key really waits (the blocking framework is in)."""
    c = server.raw()
    try:
        t0 = time.monotonic()
        reply = call(c, "BZPOPMIN", "nokey-probe", "0.3")
        return reply == b"*-1\r\n" and time.monotonic() - t0 >= 0.2
    finally:
        c.close()


def test_bzpopmin_wakes_up_on_zadd(server, r):
    assert _blocking_available(server), "BZPOPMIN on a missing key must wait for its timeout"
    waiter = server.raw()
    try:
        waiter.send_command("BZPOPMIN", "q1", "q2", "5")
        time.sleep(0.1)
        r.zadd("q2", {"m": 7, "n": 8})
        assert waiter.read_reply()[0] == bulks("q2", "m", "7")
        assert r.zrange("q2", 0, -1) == [b"n"]
        waiter.send_command("BZMPOP", "5", "1", "q3", "MAX", "COUNT", "2")
        time.sleep(0.1)
        r.zadd("q3", {"x": 1, "y": 2, "z": 3})
        assert waiter.read_reply()[0] == array(bulk("q3"), array(bulks("z", "3"), bulks("y", "2")))
        t0 = time.monotonic()
        assert call(waiter, "BZPOPMAX", "empty", "0.2") == b"*-1\r\n"
        assert time.monotonic() - t0 >= 0.15
    finally:
        waiter.close()


def test_blocking_pops_inside_multi_do_not_block(r, raw):
    probe = raw.execute("COMMAND", "INFO", "MULTI")
    assert probe and probe[0] is not None, "COMMAND INFO MULTI: MULTI is missing"
    p = r.pipeline(transaction=True)
    p.bzpopmin("nokey", 0)
    p.bzmpop(0, 1, ["nokey"], min=True)
    p.zadd("z", {"a": 1})
    p.bzpopmax("z", 0)
    assert p.execute() == [None, None, 1, (b"z", b"a", 1.0)]


# ---------------------------------------------------------------- events and WATCH


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
        r.zadd("z", {"a": 1, "b": 2, "c": 3})
        r.zadd("z", {"a": 1})                     # nothing changed: no event
        r.zincrby("z", 1, "a")
        r.zrem("z", "nope")                       # nothing removed: no event
        r.zrem("z", "a")
        r.zremrangebyscore("z", 2, 2)
        r.zpopmin("z")                            # emptied: zpopmin then del
        r.zadd("y", {"a": 1})
        r.zrangestore("d", "y", 0, -1)
        r.zunionstore("u", ["y"])
        r.zinterstore("u", ["y", "nokey"])        # empty result: del of u
        r.zdiffstore("x", ["y", "nokey"])
        r.zremrangebyrank("y", 0, 0)              # emptied: del
        want = [(b"zadd", b"z"), (b"zincr", b"z"), (b"zrem", b"z"),
                (b"zremrangebyscore", b"z"), (b"zpopmin", b"z"), (b"del", b"z"),
                (b"zadd", b"y"), (b"zrangestore", b"d"), (b"zunionstore", b"u"),
                (b"del", b"u"), (b"zdiffstore", b"x"), (b"zremrangebyrank", b"y"),
                (b"del", b"y")]
        events = []
        for _ in range(60):
            msg = ps.get_message(timeout=2)
            if msg is None:
                break
            if msg["type"] == "pmessage":
                events.append((msg["channel"].split(b":", 1)[1], msg["data"]))
            if len(events) == len(want):
                break
        assert events == want
        assert ps.get_message(timeout=0.2) is None
    finally:
        ps.close()
        sub.close()


def test_watch_sees_zset_writes(server, r, raw):
    probe = raw.execute("COMMAND", "INFO", "WATCH")
    assert probe and probe[0] is not None, "COMMAND INFO WATCH: MULTI/WATCH is missing"
    writes = [("ZADD", "z", "5", "new"), ("ZINCRBY", "z", "1", "a"), ("ZREM", "z", "a"),
              ("ZPOPMIN", "z"), ("ZREMRANGEBYRANK", "z", "0", "0"),
              ("ZUNIONSTORE", "z", "1", "other"), ("ZRANGESTORE", "z", "other", "0", "-1")]
    for write in writes:
        r.delete("z")
        r.zadd("z", {"a": 1, "b": 2})
        r.zadd("other", {"o": 1})
        c = server.raw()
        try:
            assert c.execute("WATCH", "z") == b"OK"
            r.execute_command(*write)
            assert c.execute("MULTI") == b"OK"
            c.execute("PING")
            assert call(c, "EXEC") == b"*-1\r\n", write
        finally:
            c.close()


def test_wrongtype_everywhere(r, raw):
    r.set("str", "v")
    for cmd in (("ZADD", "str", "1", "a"), ("ZINCRBY", "str", "1", "a"), ("ZREM", "str", "a"),
                ("ZCARD", "str"), ("ZSCORE", "str", "a"), ("ZMSCORE", "str", "a"),
                ("ZRANK", "str", "a"), ("ZCOUNT", "str", "0", "1"),
                ("ZLEXCOUNT", "str", "-", "+"), ("ZRANGE", "str", "0", "-1"),
                ("ZRANGEBYSCORE", "str", "0", "1"), ("ZPOPMIN", "str"),
                ("ZRANDMEMBER", "str"), ("ZREMRANGEBYRANK", "str", "0", "1"),
                ("ZUNION", "1", "str"), ("ZINTERCARD", "1", "str"), ("ZSCAN", "str", "0"),
                ("ZMPOP", "1", "str", "MIN"), ("BZPOPMIN", "str", "0")):
        assert call(raw, *cmd) == WRONGTYPE, cmd
    assert r.get("str") == b"v"


def test_concurrent_writers_keep_order(server, r):
    """Several clients (possibly on different I/O threads) adding to one sorted set."""
    def writer(idx):
        c = server.client()
        try:
            for i in range(500):
                c.zadd("shared", {"w%d:%d" % (idx, i): i})
        finally:
            c.close()
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert r.zcard("shared") == 2000
    got = r.zrange("shared", 0, -1, withscores=True)
    assert got == sorted(got, key=lambda ms: (ms[1], ms[0]))
