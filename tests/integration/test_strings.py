"""String commands."""

import time

import pytest

from helpers import (NIL, NOT_FLOAT, NOT_INT, OK, SYNTAX, bulk, bulks, call, err, integer,
                     wrong_args)

BAD_EXPIRE = lambda cmd: err("ERR invalid expire time in '%s' command" % cmd)  # noqa: E731
OVERFLOW = err("ERR increment or decrement would overflow")
MAX_SIZE = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")


def test_get_set_basic(raw, r):
    assert call(raw, "GET", "k") == NIL
    assert call(raw, "SET", "k", "v") == OK
    assert call(raw, "GET", "k") == bulk("v")
    assert call(raw, "SET", "k", "") == OK
    assert call(raw, "GET", "k") == bulk("")
    blob = bytes(range(256)) * 40
    assert r.set("bin", blob) is True
    assert r.get("bin") == blob
    big = b"x" * (1 << 20)
    assert r.set("big", big) is True
    assert r.get("big") == big
    assert call(raw, "SET", "k") == wrong_args("set")
    assert call(raw, "GET", "a", "b") == wrong_args("get")


def test_set_nx_xx(raw):
    assert call(raw, "SET", "k", "1", "XX") == NIL
    assert call(raw, "GET", "k") == NIL
    assert call(raw, "SET", "k", "1", "NX") == OK
    assert call(raw, "SET", "k", "2", "NX") == NIL
    assert call(raw, "GET", "k") == bulk("1")
    assert call(raw, "SET", "k", "3", "xx") == OK
    assert call(raw, "GET", "k") == bulk("3")


def test_set_get_option(raw):
    assert call(raw, "SET", "k", "v1", "GET") == NIL
    assert call(raw, "SET", "k", "v2", "GET") == bulk("v1")
    assert call(raw, "SET", "k", "v3", "NX", "GET") == bulk("v2")
    assert call(raw, "GET", "k") == bulk("v2")
    assert call(raw, "SET", "k", "v4", "XX", "GET") == bulk("v2")
    assert call(raw, "SET", "nokey", "v", "XX", "GET") == NIL
    assert call(raw, "EXISTS", "nokey") == integer(0)
    assert call(raw, "SET", "new", "v", "NX", "GET") == NIL
    assert call(raw, "GET", "new") == bulk("v")


@pytest.mark.needs_types
def test_set_get_option_wrongtype(raw):
    raw.execute("RPUSH", "list", "a")
    assert call(raw, "SET", "list", "v", "GET") == err(
        "WRONGTYPE Operation against a key holding the wrong kind of value")
    assert call(raw, "TYPE", "list") == b"+list\r\n"
    # Plain SET overwrites any type.
    assert call(raw, "SET", "list", "v") == OK
    assert call(raw, "TYPE", "list") == b"+string\r\n"


def test_set_expire_options(raw):
    assert call(raw, "SET", "k", "v", "EX", "100") == OK
    assert 99 <= raw.execute("TTL", "k") <= 100
    assert call(raw, "SET", "k", "v", "PX", "100000") == OK
    assert 99000 <= raw.execute("PTTL", "k") <= 100000
    now = int(time.time())
    assert call(raw, "SET", "k", "v", "EXAT", str(now + 100)) == OK
    assert 98 <= raw.execute("TTL", "k") <= 100
    assert call(raw, "SET", "k", "v", "PXAT", str(now * 1000 + 100000)) == OK
    assert 98 <= raw.execute("TTL", "k") <= 100
    # KEEPTTL keeps it, a plain SET clears it.
    assert call(raw, "SET", "k", "v2", "KEEPTTL") == OK
    assert 98 <= raw.execute("TTL", "k") <= 100
    assert call(raw, "SET", "k", "v3") == OK
    assert call(raw, "TTL", "k") == integer(-1)
    # An absolute time in the past deletes the key (the SET still answers OK).
    assert call(raw, "SET", "k", "v", "PXAT", "1") == OK
    assert call(raw, "EXISTS", "k") == integer(0)
    assert call(raw, "SET", "k", "v", "EXAT", "1") == OK
    assert call(raw, "EXISTS", "k") == integer(0)


def test_set_errors(raw):
    for opts in (("EX", "0"), ("EX", "-1"), ("PX", "0"), ("PX", "-100"), ("EXAT", "0"),
                 ("PXAT", "0"), ("EX", "9999999999999999"), ("PX", "9223372036854775807"),
                 ("EXAT", "-5")):
        assert call(raw, "SET", "k", "v", *opts) == BAD_EXPIRE("set"), opts
    for opts in (("EX", "abc"), ("PX", "1.5"), ("EX", ""), ("EXAT", "x")):
        assert call(raw, "SET", "k", "v", *opts) == NOT_INT, opts
    for opts in (("NX", "XX"), ("EX", "10", "PX", "100"), ("KEEPTTL", "EX", "10"),
                 ("EX", "10", "KEEPTTL"), ("EX",), ("FOO",), ("EX", "10", "EXAT", "10"),
                 ("PXAT", "10", "PX", "10"), ("NX", "NX", "XX")):
        assert call(raw, "SET", "k", "v", *opts) == SYNTAX, opts
    assert call(raw, "EXISTS", "k") == integer(0)


def test_setnx_setex_psetex(raw):
    assert call(raw, "SETNX", "k", "1") == integer(1)
    assert call(raw, "SETNX", "k", "2") == integer(0)
    assert call(raw, "GET", "k") == bulk("1")
    assert call(raw, "SETEX", "k", "100", "v") == OK
    assert 99 <= raw.execute("TTL", "k") <= 100
    assert call(raw, "PSETEX", "k", "100000", "w") == OK
    assert 99000 <= raw.execute("PTTL", "k") <= 100000
    assert call(raw, "GET", "k") == bulk("w")
    assert call(raw, "SETEX", "k", "0", "v") == BAD_EXPIRE("setex")
    assert call(raw, "SETEX", "k", "-5", "v") == BAD_EXPIRE("setex")
    assert call(raw, "PSETEX", "k", "0", "v") == BAD_EXPIRE("psetex")
    assert call(raw, "SETEX", "k", "abc", "v") == NOT_INT
    assert call(raw, "SETEX", "k", "10") == wrong_args("setex")
    assert call(raw, "SETNX", "k") == wrong_args("setnx")


def test_getset_getdel(raw):
    assert call(raw, "GETSET", "k", "1") == NIL
    assert call(raw, "GETSET", "k", "2") == bulk("1")
    raw.execute("EXPIRE", "k", "100")
    assert call(raw, "GETSET", "k", "3") == bulk("2")
    assert call(raw, "TTL", "k") == integer(-1)
    assert call(raw, "GETDEL", "k") == bulk("3")
    assert call(raw, "GETDEL", "k") == NIL
    assert call(raw, "EXISTS", "k") == integer(0)
    assert call(raw, "GETDEL") == wrong_args("getdel")


def test_getex(raw):
    assert call(raw, "GETEX", "nokey") == NIL
    assert call(raw, "GETEX", "nokey", "EX", "10") == NIL
    raw.execute("SET", "k", "v")
    assert call(raw, "GETEX", "k") == bulk("v")
    assert call(raw, "TTL", "k") == integer(-1)
    assert call(raw, "GETEX", "k", "EX", "100") == bulk("v")
    assert 99 <= raw.execute("TTL", "k") <= 100
    assert call(raw, "GETEX", "k", "PX", "50000") == bulk("v")
    assert 49000 <= raw.execute("PTTL", "k") <= 50000
    assert call(raw, "GETEX", "k", "EXAT", str(int(time.time()) + 200)) == bulk("v")
    assert 198 <= raw.execute("TTL", "k") <= 200
    assert call(raw, "GETEX", "k", "PERSIST") == bulk("v")
    assert call(raw, "TTL", "k") == integer(-1)
    assert call(raw, "GETEX", "k", "PXAT", "1") == bulk("v")
    assert call(raw, "EXISTS", "k") == integer(0)
    raw.execute("SET", "k", "v")
    assert call(raw, "GETEX", "k", "EX", "0") == BAD_EXPIRE("getex")
    assert call(raw, "GETEX", "k", "PX", "-1") == BAD_EXPIRE("getex")
    assert call(raw, "GETEX", "k", "EX", "abc") == NOT_INT
    assert call(raw, "GETEX", "k", "FOO") == SYNTAX
    assert call(raw, "GETEX", "k", "PERSIST", "EX", "10") == SYNTAX
    assert call(raw, "GETEX", "k", "EX", "10", "PX", "10") == SYNTAX
    assert call(raw, "GETEX", "k", "EX") == SYNTAX
    assert call(raw, "TTL", "k") == integer(-1)


def test_mget_mset_msetnx(raw):
    assert call(raw, "MSET", "a", "1", "b", "2") == OK
    assert call(raw, "MGET", "a", "b", "zz", "a") == bulks("1", "2", None, "1")
    assert call(raw, "MSET", "a", "x", "a", "y") == OK
    assert call(raw, "GET", "a") == bulk("y")
    assert call(raw, "MSETNX", "a", "1", "new", "1") == integer(0)
    assert call(raw, "EXISTS", "new") == integer(0)
    assert call(raw, "MSETNX", "c", "3", "d", "4") == integer(1)
    assert call(raw, "MGET", "c", "d") == bulks("3", "4")
    assert call(raw, "MSET", "a") == wrong_args("mset")
    assert call(raw, "MSET", "a", "1", "b") == wrong_args("mset")
    assert call(raw, "MSETNX", "a", "1", "b") == wrong_args("msetnx")
    assert call(raw, "MGET") == wrong_args("mget")


@pytest.mark.needs_types
def test_mget_other_types_are_nil(raw):
    raw.execute("RPUSH", "list", "a")
    raw.execute("SET", "s", "v")
    assert call(raw, "MGET", "list", "s") == bulks(None, "v")


def test_append_strlen(raw):
    assert call(raw, "APPEND", "k", "hello") == integer(5)
    assert call(raw, "APPEND", "k", " world") == integer(11)
    assert call(raw, "GET", "k") == bulk("hello world")
    assert call(raw, "STRLEN", "k") == integer(11)
    assert call(raw, "STRLEN", "nokey") == integer(0)
    assert call(raw, "APPEND", "k", "") == integer(11)
    raw.execute("SET", "n", "12")
    assert call(raw, "APPEND", "n", "34") == integer(4)
    assert call(raw, "INCR", "n") == integer(1235)
    assert call(raw, "STRLEN", "n") == integer(4)


def test_incr_decr(raw):
    assert call(raw, "INCR", "n") == integer(1)
    assert call(raw, "INCRBY", "n", "10") == integer(11)
    assert call(raw, "DECR", "n") == integer(10)
    assert call(raw, "DECRBY", "n", "20") == integer(-10)
    assert call(raw, "INCRBY", "n", "-5") == integer(-15)
    assert call(raw, "GET", "n") == bulk("-15")
    raw.execute("SET", "n", "  1")
    assert call(raw, "INCR", "n") == NOT_INT
    for bad in ("1.5", "abc", "", "1e3", "0x10", "+1", " 1", "1 ", "01"):
        raw.execute("SET", "n", bad)
        assert call(raw, "INCR", "n") == NOT_INT, bad
    raw.execute("SET", "n", "-0")
    assert call(raw, "INCR", "n") == NOT_INT
    raw.execute("SET", "n", "5")
    assert call(raw, "INCRBY", "n", "abc") == NOT_INT
    assert call(raw, "INCRBY", "n", "1.0") == NOT_INT
    assert call(raw, "DECRBY", "n", "9223372036854775808") == NOT_INT
    assert call(raw, "INCR", "n", "1") == wrong_args("incr")


def test_incr_keeps_ttl(raw):
    raw.execute("SET", "n", "1", "EX", "100")
    assert call(raw, "INCR", "n") == integer(2)
    assert 99 <= raw.execute("TTL", "n") <= 100


def test_incr_overflow(raw):
    raw.execute("SET", "n", "9223372036854775807")
    assert call(raw, "INCR", "n") == OVERFLOW
    assert call(raw, "INCRBY", "n", "1") == OVERFLOW
    assert call(raw, "DECRBY", "n", "-1") == OVERFLOW
    assert call(raw, "GET", "n") == bulk("9223372036854775807")
    raw.execute("SET", "n", "-9223372036854775808")
    assert call(raw, "DECR", "n") == OVERFLOW
    assert call(raw, "INCRBY", "n", "-1") == OVERFLOW
    assert call(raw, "INCRBY", "n", "9223372036854775807") == integer(-1)
    raw.execute("SET", "n", "9223372036854775808")
    assert call(raw, "INCR", "n") == NOT_INT
    raw.execute("SET", "n", "0")
    # DECRBY negates its argument first: LLONG_MIN cannot be negated.
    assert call(raw, "DECRBY", "n", "-9223372036854775808") == err(
        "ERR decrement would overflow")


def test_incrbyfloat(raw):
    assert call(raw, "INCRBYFLOAT", "f", "1.5") == bulk("1.5")
    assert call(raw, "INCRBYFLOAT", "f", "0.1") == bulk("1.6")
    assert call(raw, "INCRBYFLOAT", "f", "-1.6") == bulk("0")
    assert call(raw, "INCRBYFLOAT", "f", "10") == bulk("10")
    assert call(raw, "INCRBYFLOAT", "f", "1e2") == bulk("110")
    assert call(raw, "INCRBYFLOAT", "f", "5.0e3") == bulk("5110")
    assert call(raw, "INCRBYFLOAT", "f", "-0.25") == bulk("5109.75")
    raw.execute("SET", "f", "3.0e3")
    assert call(raw, "INCRBYFLOAT", "f", "1") == bulk("3001")
    raw.execute("SET", "f", "1")
    assert call(raw, "INCRBYFLOAT", "f", "0.1") == bulk("1.1")
    assert call(raw, "INCRBYFLOAT", "f", "abc") == NOT_FLOAT
    assert call(raw, "INCRBYFLOAT", "f", "") == NOT_FLOAT
    assert call(raw, "INCRBYFLOAT", "f", "1.0.0") == NOT_FLOAT
    assert call(raw, "INCRBYFLOAT", "f", "inf") == err(
        "ERR increment would produce NaN or Infinity")
    assert call(raw, "INCRBYFLOAT", "f", "nan") == NOT_FLOAT
    raw.execute("SET", "s", "notanumber")
    assert call(raw, "INCRBYFLOAT", "s", "1") == NOT_FLOAT
    assert call(raw, "INCRBYFLOAT", "f", "-inf") == err(
        "ERR increment would produce NaN or Infinity")
    # The arithmetic is done in long double and printed with 17 significant digits.
    raw.execute("SET", "x", "1")
    assert call(raw, "INCRBYFLOAT", "x", "1.23456789012345678901234567890") == bulk(
        "2.23456789012345679")
    assert call(raw, "INCRBYFLOAT", "x", "1e-10") == bulk("2.23456789022345679")
    raw.execute("SET", "y", "0")
    assert call(raw, "INCRBYFLOAT", "y", "1e20") == bulk("100000000000000000000")
    raw.execute("SET", "big", "1e308")
    r = call(raw, "INCRBYFLOAT", "big", "1e308")     # no overflow in long double
    assert r.startswith(b"$309\r\n199999999999999999")
    assert call(raw, "INCRBYFLOAT", "big", "1e5000") == NOT_FLOAT
    assert call(raw, "INCRBYFLOAT", "f") == wrong_args("incrbyfloat")


def test_incrbyfloat_resp3_is_bulk(r3):
    # INCRBYFLOAT answers a bulk string, not a RESP3 double.
    assert r3.call("INCRBYFLOAT", "f", "2.5")[0] == bulk("2.5")


def test_getrange(raw):
    raw.execute("SET", "k", "This is a string")
    assert call(raw, "GETRANGE", "k", "0", "3") == bulk("This")
    assert call(raw, "GETRANGE", "k", "-3", "-1") == bulk("ing")
    assert call(raw, "GETRANGE", "k", "0", "-1") == bulk("This is a string")
    assert call(raw, "GETRANGE", "k", "10", "100") == bulk("string")
    assert call(raw, "GETRANGE", "k", "-100", "3") == bulk("This")
    assert call(raw, "GETRANGE", "k", "5", "2") == bulk("")
    assert call(raw, "GETRANGE", "k", "-1", "-2") == bulk("")
    assert call(raw, "GETRANGE", "k", "100", "200") == bulk("")
    assert call(raw, "GETRANGE", "nokey", "0", "-1") == bulk("")
    raw.execute("SET", "n", "12345")    # int-encoded value
    assert call(raw, "GETRANGE", "n", "1", "2") == bulk("23")
    assert call(raw, "GETRANGE", "k", "a", "1") == NOT_INT
    assert call(raw, "GETRANGE", "k", "0") == wrong_args("getrange")
    raw.execute("SET", "e", "")
    assert call(raw, "GETRANGE", "e", "0", "-1") == bulk("")


def test_setrange(raw):
    raw.execute("SET", "k", "Hello World")
    assert call(raw, "SETRANGE", "k", "6", "Redis") == integer(11)
    assert call(raw, "GET", "k") == bulk("Hello Redis")
    assert call(raw, "SETRANGE", "k", "11", "!") == integer(12)
    assert call(raw, "SETRANGE", "pad", "3", "x") == integer(4)
    assert call(raw, "GET", "pad") == bulk(b"\x00\x00\x00x")
    assert call(raw, "SETRANGE", "k", "0", "") == integer(12)
    # An empty value on a missing key does not create it.
    assert call(raw, "SETRANGE", "empty", "10", "") == integer(0)
    assert call(raw, "EXISTS", "empty") == integer(0)
    raw.execute("SET", "n", "1234")
    assert call(raw, "SETRANGE", "n", "1", "x") == integer(4)
    assert call(raw, "GET", "n") == bulk("1x34")
    assert call(raw, "SETRANGE", "k", "-1", "x") == err("ERR offset is out of range")
    assert call(raw, "SETRANGE", "k", "abc", "x") == NOT_INT
    assert call(raw, "SETRANGE", "k", "536870912", "x") == MAX_SIZE
    assert call(raw, "SETRANGE", "k", "536870911", "xy") == MAX_SIZE
    assert call(raw, "SETRANGE", "nokey", "536870912", "x") == MAX_SIZE
    assert call(raw, "SETRANGE", "k", "0") == wrong_args("setrange")


def test_setrange_respects_proto_max_bulk_len(raw, config_set):
    config_set("proto-max-bulk-len", "1mb")
    assert call(raw, "SETRANGE", "k", str(1024 * 1024), "x") == MAX_SIZE
    assert call(raw, "APPEND", "k2", "x" * 100) == integer(100)


def test_append_respects_proto_max_bulk_len(raw, config_set):
    config_set("proto-max-bulk-len", "1mb")
    raw.execute("SET", "k", "x" * (1024 * 1024 - 10))
    assert call(raw, "APPEND", "k", "y" * 20) == MAX_SIZE


def test_lcs(raw):
    raw.execute("MSET", "s1", "ohmytext", "s2", "mynewtext")
    assert call(raw, "LCS", "s1", "s2") == bulk("mytext")
    assert call(raw, "LCS", "s1", "s2", "LEN") == integer(6)
    assert call(raw, "LCS", "s1", "nokey") == bulk("")
    assert call(raw, "LCS", "nokey1", "nokey2", "LEN") == integer(0)
    assert call(raw, "LCS", "s1", "s2", "IDX") == (
        b"*4\r\n$7\r\nmatches\r\n*2\r\n"
        b"*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
        b"*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n"
        b"$3\r\nlen\r\n:6\r\n")
    assert call(raw, "LCS", "s1", "s2", "IDX", "WITHMATCHLEN") == (
        b"*4\r\n$7\r\nmatches\r\n*2\r\n"
        b"*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
        b"*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n"
        b"$3\r\nlen\r\n:6\r\n")
    assert call(raw, "LCS", "s1", "s2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN") == (
        b"*4\r\n$7\r\nmatches\r\n*1\r\n"
        b"*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
        b"$3\r\nlen\r\n:6\r\n")
    assert call(raw, "LCS", "s1", "s2", "LEN", "IDX") == err(
        "ERR If you want both the length and indexes, please just use IDX.")
    assert call(raw, "LCS", "s1", "s2", "FOO") == SYNTAX
    assert call(raw, "LCS", "s1", "s2", "MINMATCHLEN") == SYNTAX
    assert call(raw, "LCS", "s1", "s2", "IDX", "MINMATCHLEN", "abc") == NOT_INT
    assert call(raw, "LCS", "s1") == wrong_args("lcs")


def test_lcs_resp3_map(r3):
    r3.execute("MSET", "a", "abc", "b", "abc")
    assert r3.call("LCS", "a", "b", "IDX")[0] == (
        b"%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:2\r\n*2\r\n:0\r\n:2\r\n"
        b"$3\r\nlen\r\n:3\r\n")


@pytest.mark.needs_types
def test_string_commands_wrongtype(raw):
    raw.execute("RPUSH", "l", "a")
    wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value")
    for cmd in (("GET", "l"), ("APPEND", "l", "x"), ("STRLEN", "l"), ("INCR", "l"),
                ("INCRBY", "l", "1"), ("DECR", "l"), ("DECRBY", "l", "1"),
                ("INCRBYFLOAT", "l", "1"), ("GETRANGE", "l", "0", "1"),
                ("SETRANGE", "l", "0", "x"), ("GETSET", "l", "x"), ("GETDEL", "l"),
                ("GETEX", "l"), ("SET", "l", "x", "GET")):
        assert call(raw, *cmd) == wrongtype, cmd
    assert call(raw, "LCS", "l", "nokey") == err(
        "ERR The specified keys must contain string values")
    assert call(raw, "SETNX", "l", "x") == integer(0)
    assert call(raw, "MSETNX", "l", "x") == integer(0)
    assert call(raw, "TYPE", "l") == b"+list\r\n"
