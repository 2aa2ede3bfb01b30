"""Keyspace commands: DEL UNLINK EXISTS TYPE KEYS SCAN RANDOMKEY RENAME RENAMENX MOVE COPY TOUCH
OBJECT."""

import pytest

from helpers import (NIL, NOT_INT, OK, SYNTAX, bulk, call, err, integer, wrong_args)

SAME = err("ERR source and destination objects are the same")
OUT_OF_RANGE = err("ERR DB index is out of range")


def test_del_unlink_exists(raw):
    raw.execute("MSET", "a", "1", "b", "2", "c", "3")
    assert call(raw, "EXISTS", "a", "a", "nokey", "b") == integer(3)
    assert call(raw, "DEL", "a", "nokey", "a") == integer(1)
    assert call(raw, "UNLINK", "b", "c", "nokey") == integer(2)
    assert call(raw, "EXISTS", "a", "b", "c") == integer(0)
    assert call(raw, "DEL", "nokey") == integer(0)
    assert call(raw, "DEL") == wrong_args("del")
    assert call(raw, "UNLINK") == wrong_args("unlink")
    assert call(raw, "EXISTS") == wrong_args("exists")


def test_unlink_big_value(r):
    r.set("big", b"x" * (4 << 20))
    assert r.unlink("big") == 1
    assert r.exists("big") == 0


def test_type(raw):
    raw.execute("SET", "s", "v")
    assert call(raw, "TYPE", "s") == b"+string\r\n"
    assert call(raw, "TYPE", "nokey") == b"+none\r\n"
    assert call(raw, "TYPE") == wrong_args("type")


@pytest.mark.needs_types
def test_type_list(raw):
    raw.execute("RPUSH", "l", "a")
    assert call(raw, "TYPE", "l") == b"+list\r\n"


def test_keys(r):
    keys = [b"foo", b"foobar", b"bar", b"f", b"hello", b"hallo", b"hxllo", b"a*b", b"a?b",
            b"k[1]", b""]
    for k in keys:
        r.set(k, "1")
    assert sorted(r.keys("*")) == sorted(keys)
    assert sorted(r.keys("foo*")) == [b"foo", b"foobar"]
    assert sorted(r.keys("h?llo")) == [b"hallo", b"hello", b"hxllo"]
    assert sorted(r.keys("h[ae]llo")) == [b"hallo", b"hello"]
    assert sorted(r.keys("h[^e]llo")) == [b"hallo", b"hxllo"]
    assert sorted(r.keys("h[a-e]llo")) == [b"hallo", b"hello"]
    assert r.keys("a\\*b") == [b"a*b"]
    assert sorted(r.keys("a?b")) == [b"a*b", b"a?b"]
    assert r.keys("k\\[1\\]") == [b"k[1]"]
    assert r.keys("nomatch*") == []
    assert sorted(r.keys("*o*")) == [b"foo", b"foobar", b"hallo", b"hello", b"hxllo"]


def test_keys_in_selected_db_only(raw):
    raw.execute("SET", "a", "1")
    raw.execute("SELECT", "1")
    assert call(raw, "KEYS", "*") == b"*0\r\n"


def _scan_all(raw, *opts, cursor=b"0", limit=10000):
    seen = []
    calls_made = 0
    while True:
        reply = raw.execute("SCAN", cursor, *opts)
        assert isinstance(reply, list) and len(reply) == 2, reply
        cursor, batch = reply
        assert isinstance(cursor, bytes) and cursor.isdigit()
        seen.extend(batch)
        calls_made += 1
        assert calls_made < limit, "SCAN did not terminate"
        if cursor == b"0":
            return seen


def test_scan_full_iteration(raw):
    n = 1000
    raw.send(b"".join(b"*3\r\n$3\r\nSET\r\n$6\r\nk%05d\r\n$1\r\nv\r\n" % i for i in range(n)))
    for _ in range(n):
        assert raw.read_reply()[0] == OK
    expected = {b"k%05d" % i for i in range(n)}
    for count in (None, "1", "10", "1000"):
        opts = ("COUNT", count) if count else ()
        seen = _scan_all(raw, *opts)
        # Every key at least once, nothing else.
        assert set(seen) == expected, count


def test_scan_match_count_type(raw):
    for i in range(200):
        raw.execute("SET", "user:%d" % i, i)
        raw.execute("SET", "item:%d" % i, i)
    seen = _scan_all(raw, "MATCH", "user:1*", "COUNT", "50")
    assert set(seen) == {b"user:%d" % i for i in range(200) if str(i).startswith("1")}
    seen = _scan_all(raw, "TYPE", "string", "COUNT", "100")
    assert len(set(seen)) == 400
    assert _scan_all(raw, "TYPE", "list") == []
    assert _scan_all(raw, "TYPE", "nosuchtype") == []
    assert _scan_all(raw, "MATCH", "nomatch*") == []


def test_scan_errors(raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "SCAN", "abc") == err("ERR invalid cursor")
    assert call(raw, "SCAN", "18446744073709551616") == err("ERR invalid cursor")
    assert call(raw, "SCAN", "0", "COUNT", "0") == SYNTAX
    assert call(raw, "SCAN", "0", "COUNT", "-1") == SYNTAX
    assert call(raw, "SCAN", "0", "COUNT", "abc") == NOT_INT
    assert call(raw, "SCAN", "0", "FOO") == SYNTAX
    assert call(raw, "SCAN", "0", "MATCH") == SYNTAX
    assert call(raw, "SCAN") == wrong_args("scan")


def test_scan_empty_db(raw):
    assert call(raw, "SCAN", "0") == b"*2\r\n$1\r\n0\r\n*0\r\n"


@pytest.mark.needs_types
def test_scan_type_filter_mixed(raw):
    raw.execute("SET", "s1", "v")
    raw.execute("SET", "s2", "v")
    raw.execute("RPUSH", "l1", "a")
    assert sorted(_scan_all(raw, "TYPE", "string")) == [b"s1", b"s2"]
    assert _scan_all(raw, "TYPE", "list") == [b"l1"]
    assert sorted(_scan_all(raw, "TYPE", "LIST")) == [b"l1"]


def test_randomkey(raw):
    assert call(raw, "RANDOMKEY") == NIL
    keys = {b"a", b"b", b"c"}
    for k in keys:
        raw.execute("SET", k, "1")
    seen = set()
    for _ in range(200):
        k = raw.execute("RANDOMKEY")
        assert k in keys
        seen.add(k)
    assert seen == keys
    assert call(raw, "RANDOMKEY", "x") == wrong_args("randomkey")


def test_randomkey_skips_expired(raw):
    raw.execute("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        raw.execute("SET", "live", "1")
        raw.execute("SET", "dead", "1", "PX", "1")
        import time
        time.sleep(0.05)
        for _ in range(20):
            assert call(raw, "RANDOMKEY") == bulk("live")
    finally:
        raw.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_rename(raw):
    raw.execute("SET", "a", "1", "EX", "100")
    assert call(raw, "RENAME", "a", "b") == OK
    assert call(raw, "GET", "b") == bulk("1")
    assert call(raw, "EXISTS", "a") == integer(0)
    assert 99 <= raw.execute("TTL", "b") <= 100
    raw.execute("SET", "c", "x")
    assert call(raw, "RENAME", "c", "b") == OK
    assert call(raw, "GET", "b") == bulk("x")
    assert call(raw, "TTL", "b") == integer(-1)
    assert call(raw, "RENAME", "b", "b") == OK
    assert call(raw, "GET", "b") == bulk("x")
    assert call(raw, "RENAME", "nokey", "z") == err("ERR no such key")
    assert call(raw, "RENAME", "nokey", "nokey") == err("ERR no such key")
    assert call(raw, "RENAME", "a") == wrong_args("rename")


def test_renamenx(raw):
    raw.execute("MSET", "a", "1", "b", "2")
    assert call(raw, "RENAMENX", "a", "b") == integer(0)
    assert call(raw, "RENAMENX", "a", "a") == integer(0)
    assert call(raw, "RENAMENX", "a", "c") == integer(1)
    assert call(raw, "MGET", "a", "c") == b"*2\r\n$-1\r\n$1\r\n1\r\n"
    assert call(raw, "RENAMENX", "nokey", "d") == err("ERR no such key")


def test_move(raw):
    raw.execute("SET", "k", "v", "EX", "100")
    assert call(raw, "MOVE", "k", "1") == integer(1)
    assert call(raw, "EXISTS", "k") == integer(0)
    assert call(raw, "MOVE", "k", "1") == integer(0)
    raw.execute("SET", "k", "again")
    assert call(raw, "MOVE", "k", "1") == integer(0)      # exists in the target: not moved
    assert call(raw, "GET", "k") == bulk("again")
    assert call(raw, "MOVE", "nokey", "1") == integer(0)
    assert call(raw, "MOVE", "k", "0") == SAME
    assert call(raw, "MOVE", "k", "16") == OUT_OF_RANGE
    assert call(raw, "MOVE", "k", "-1") == OUT_OF_RANGE
    assert call(raw, "MOVE", "k", "abc") == NOT_INT
    raw.execute("SELECT", "1")
    assert call(raw, "GET", "k") == bulk("v")
    assert 99 <= raw.execute("TTL", "k") <= 100


def test_copy(raw):
    raw.execute("SET", "src", "v", "EX", "100")
    assert call(raw, "COPY", "src", "dst") == integer(1)
    assert call(raw, "GET", "dst") == bulk("v")
    assert 99 <= raw.execute("TTL", "dst") <= 100
    assert call(raw, "COPY", "src", "dst") == integer(0)
    raw.execute("SET", "src", "v2")
    assert call(raw, "COPY", "src", "dst", "REPLACE") == integer(1)
    assert call(raw, "GET", "dst") == bulk("v2")
    assert call(raw, "TTL", "dst") == integer(-1)
    assert call(raw, "COPY", "src", "src") == SAME
    assert call(raw, "COPY", "nokey", "x") == integer(0)
    assert call(raw, "COPY", "src", "other", "DB", "2") == integer(1)
    assert call(raw, "COPY", "src", "src", "DB", "2") == integer(1)
    assert call(raw, "COPY", "src", "src", "DB", "0") == SAME
    assert call(raw, "COPY", "src", "x", "DB", "16") == OUT_OF_RANGE
    assert call(raw, "COPY", "src", "x", "DB", "abc") == NOT_INT
    assert call(raw, "COPY", "src", "x", "FOO") == SYNTAX
    assert call(raw, "COPY", "src", "x", "DB") == SYNTAX
    raw.execute("SELECT", "2")
    assert call(raw, "MGET", "other", "src") == b"*2\r\n$2\r\nv2\r\n$2\r\nv2\r\n"
    # The copy is independent of the source.
    raw.execute("APPEND", "other", "-changed")
    raw.execute("SELECT", "0")
    assert call(raw, "GET", "src") == bulk("v2")


def test_touch(raw):
    raw.execute("MSET", "a", "1", "b", "2")
    assert call(raw, "TOUCH", "a", "b", "nokey", "a") == integer(3)
    assert call(raw, "TOUCH") == wrong_args("touch")


def test_object_encoding(raw):
    cases = [
        ("1", b"int"), ("-1", b"int"), ("9999", b"int"), ("10001", b"int"),
        ("9223372036854775807", b"int"), ("-9223372036854775808", b"int"),
        ("9223372036854775808", b"embstr"), ("12345678901234567890", b"embstr"),
        ("01", b"embstr"), (" 1", b"embstr"), ("1.5", b"embstr"), ("hello", b"embstr"),
        ("", b"embstr"), ("x" * 44, b"embstr"), ("x" * 45, b"raw"), ("x" * 1000, b"raw"),
    ]
    for value, enc in cases:
        raw.execute("SET", "k", value)
        assert call(raw, "OBJECT", "ENCODING", "k") == bulk(enc), value
    raw.execute("SET", "k", "hello")
    raw.execute("APPEND", "k", "x")
    assert call(raw, "OBJECT", "ENCODING", "k") == bulk("raw")
    raw.execute("SET", "k", "123")
    raw.execute("SETRANGE", "k", "0", "4")
    assert call(raw, "OBJECT", "ENCODING", "k") == bulk("raw")
    raw.execute("INCR", "n")
    assert call(raw, "OBJECT", "ENCODING", "n") == bulk("int")
    raw.execute("INCRBYFLOAT", "f", "1.5")
    assert call(raw, "OBJECT", "ENCODING", "f") == bulk("embstr")
    assert call(raw, "OBJECT", "ENCODING", "nokey") == NIL


def test_object_refcount_idletime_freq(raw, config_set):
    raw.execute("SET", "small", "100")
    raw.execute("SET", "big", "100000")
    raw.execute("SET", "s", "hello")
    # Integers below 10000 are shared objects (refcount INT_MAX) under a non-LFU/LRU policy.
    assert call(raw, "OBJECT", "REFCOUNT", "small") == integer(2147483647)
    assert call(raw, "OBJECT", "REFCOUNT", "big") == integer(1)
    assert call(raw, "OBJECT", "REFCOUNT", "s") == integer(1)
    assert call(raw, "OBJECT", "REFCOUNT", "nokey") == NIL
    idle = raw.execute("OBJECT", "IDLETIME", "s")
    assert isinstance(idle, int) and 0 <= idle <= 2
    assert call(raw, "OBJECT", "IDLETIME", "nokey") == NIL
    assert call(raw, "OBJECT", "FREQ", "s") == err(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
        "that when switching between policies at runtime LRU and LFU data will take some time "
        "to adjust.")
    config_set("maxmemory-policy", "allkeys-lfu")
    freq = raw.execute("OBJECT", "FREQ", "s")
    assert isinstance(freq, int) and freq >= 0
    assert call(raw, "OBJECT", "IDLETIME", "s") == err(
        "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
        "switching between policies at runtime LRU and LFU data will take some time to adjust.")
    assert call(raw, "OBJECT", "FREQ", "nokey") == NIL


def test_object_help_and_errors(raw):
    helplines = raw.execute("OBJECT", "HELP")
    assert isinstance(helplines, list) and len(helplines) > 5
    assert helplines[0].startswith(b"OBJECT <subcommand>")
    assert all(isinstance(x, bytes) for x in helplines)
    assert call(raw, "OBJECT", "FOO", "k") == err("ERR unknown subcommand 'FOO'. Try OBJECT HELP.")
    assert call(raw, "OBJECT") == wrong_args("object")
    assert call(raw, "OBJECT", "ENCODING") == wrong_args("object|encoding")


@pytest.mark.needs_types
def test_wrongtype_on_list_key(raw):
    raw.execute("RPUSH", "l", "a", "b")
    wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert call(raw, "GET", "l") == wrongtype
    assert call(raw, "INCR", "l") == wrongtype
    assert call(raw, "APPEND", "l", "x") == wrongtype
    assert call(raw, "OBJECT", "ENCODING", "l") == bulk("quicklist")     # 7.0: not listpack
    # Keyspace commands work on any type.
    assert call(raw, "EXISTS", "l") == integer(1)
    assert call(raw, "RENAME", "l", "l2") == OK
    assert call(raw, "COPY", "l2", "l3") == integer(1)
    assert call(raw, "TYPE", "l3") == b"+list\r\n"
    assert call(raw, "EXPIRE", "l3", "100") == integer(1)
    assert call(raw, "DEL", "l2", "l3") == integer(2)
