"""Self-test of the RESP2/RESP3 parser in klserver.py (no server needed). Byte strings are the
ones redis-server 7.0 sends for DEBUG PROTOCOL <type> and ordinary commands."""

import math

import pytest

from klserver import (BigNumber, Double, ProtocolError, Push, RespError, RespMap, RespSet, Simple,
                      Verbatim, encode_command, parse_reply)


def parse_all(data):
    r = parse_reply(data, 0)
    assert r is not None
    value, end = r
    assert end == len(data)
    # Every proper prefix is incomplete, never an error.
    for i in range(len(data)):
        assert parse_reply(data[:i], 0) is None, data[:i]
    return value


def test_scalars():
    v = parse_all(b"+OK\r\n")
    assert v == b"OK" and isinstance(v, Simple)
    v = parse_all(b"-ERR x y\r\n")
    assert isinstance(v, RespError) and v.message == b"ERR x y" and v == "ERR x y"
    assert parse_all(b":-42\r\n") == -42
    assert parse_all(b"$5\r\nhe\r\nl\r\n") == b"he\r\nl"
    assert parse_all(b"$0\r\n\r\n") == b""
    assert parse_all(b"$-1\r\n") is None
    assert parse_all(b"*-1\r\n") is None
    assert parse_all(b"_\r\n") is None
    assert parse_all(b"#t\r\n") is True
    assert parse_all(b"#f\r\n") is False
    d = parse_all(b",3.141\r\n")
    assert isinstance(d, Double) and d == 3.141
    assert parse_all(b",inf\r\n") == math.inf
    assert parse_all(b",-inf\r\n") == -math.inf
    assert math.isnan(parse_all(b",nan\r\n"))
    n = parse_all(b"(1234567999999999999999999999999999999\r\n")
    assert isinstance(n, BigNumber) and n == 1234567999999999999999999999999999999
    e = parse_all(b"!21\r\nSYNTAX invalid syntax\r\n")
    assert isinstance(e, RespError) and e.blob and e.message == b"SYNTAX invalid syntax"
    v = parse_all(b"=29\r\ntxt:This is a verbatim\nstring\r\n")
    assert isinstance(v, Verbatim) and v.format == b"txt" and v == b"This is a verbatim\nstring"


def test_aggregates():
    assert parse_all(b"*3\r\n:0\r\n:1\r\n:2\r\n") == [0, 1, 2]
    assert parse_all(b"*0\r\n") == []
    s = parse_all(b"~3\r\n:0\r\n:1\r\n:2\r\n")
    assert isinstance(s, RespSet) and s == [0, 1, 2]
    m = parse_all(b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n")
    assert isinstance(m, RespMap) and m == {0: False, 1: True, 2: False}
    p = parse_all(b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n")
    assert isinstance(p, Push) and p == [b"server-cpu-usage", 42]
    nested = parse_all(b"*2\r\n*1\r\n$1\r\na\r\n%1\r\n*1\r\n:1\r\n_\r\n")
    assert nested == [[b"a"], {(1,): None}]


def test_attribute_precedes_reply():
    data = (b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"
            b"$39\r\nSome real reply following the attribute\r\n")
    value, end = parse_reply(data, 0)
    assert end == len(data)
    assert value == b"Some real reply following the attribute"


def test_offsets_and_pipelines():
    data = b"+OK\r\n:1\r\n$1\r\nx\r\n"
    out = []
    pos = 0
    while pos < len(data):
        v, pos = parse_reply(data, pos)
        out.append(v)
    assert out == [b"OK", 1, b"x"]


@pytest.mark.parametrize("bad", [b"?x\r\n", b":abc\r\n", b"$-2\r\n", b"#x\r\n", b",abc\r\n",
                                 b"$1\r\nab\r\n", b"_x\r\n"])
def test_garbage_is_an_error(bad):
    with pytest.raises(ProtocolError):
        parse_reply(bad, 0)


def test_encode_command():
    assert encode_command("SET", b"k\x00", 12, 1.5) == (
        b"*4\r\n$3\r\nSET\r\n$2\r\nk\x00\r\n$2\r\n12\r\n$3\r\n1.5\r\n")
