"""RESP3 reply types of the core commands, compared byte for byte with their RESP2 form."""

import re

import pytest

from helpers import OK, bulk, call, err, integer

# (setup commands, command, RESP2 reply, RESP3 reply)
CASES = [
    ((), ("GET", "nokey"), b"$-1\r\n", b"_\r\n"),
    ((("SET", "k", "v"),), ("GET", "k"), b"$1\r\nv\r\n", b"$1\r\nv\r\n"),
    ((("SET", "k", "v"),), ("MGET", "k", "nokey"), b"*2\r\n$1\r\nv\r\n$-1\r\n",
     b"*2\r\n$1\r\nv\r\n_\r\n"),
    ((("SET", "k", "v"),), ("SET", "k", "w", "NX"), b"$-1\r\n", b"_\r\n"),
    ((), ("SET", "k", "w", "GET"), b"$-1\r\n", b"_\r\n"),
    ((), ("SET", "k", "w", "XX"), b"$-1\r\n", b"_\r\n"),
    ((), ("GETDEL", "nokey"), b"$-1\r\n", b"_\r\n"),
    ((), ("GETEX", "nokey", "EX", "10"), b"$-1\r\n", b"_\r\n"),
    ((), ("GETSET", "nokey", "v"), b"$-1\r\n", b"_\r\n"),
    ((), ("RANDOMKEY",), b"$-1\r\n", b"_\r\n"),
    ((), ("OBJECT", "ENCODING", "nokey"), b"$-1\r\n", b"_\r\n"),
    ((), ("OBJECT", "REFCOUNT", "nokey"), b"$-1\r\n", b"_\r\n"),
    ((), ("OBJECT", "IDLETIME", "nokey"), b"$-1\r\n", b"_\r\n"),
    ((), ("CLIENT", "GETNAME"), b"$-1\r\n", b"_\r\n"),
    ((), ("INCRBYFLOAT", "f", "1.5"), b"$3\r\n1.5\r\n", b"$3\r\n1.5\r\n"),
    ((), ("INCR", "n"), b":1\r\n", b":1\r\n"),
    ((), ("EXISTS", "nokey"), b":0\r\n", b":0\r\n"),
    ((), ("TTL", "nokey"), b":-2\r\n", b":-2\r\n"),
    ((("SET", "k", "v"),), ("TYPE", "k"), b"+string\r\n", b"+string\r\n"),
    ((), ("PING",), b"+PONG\r\n", b"+PONG\r\n"),
    ((), ("KEYS", "*"), b"*0\r\n", b"*0\r\n"),
    ((), ("SCAN", "0"), b"*2\r\n$1\r\n0\r\n*0\r\n", b"*2\r\n$1\r\n0\r\n*0\r\n"),
    ((), ("CONFIG", "GET", "nonexistent"), b"*0\r\n", b"%0\r\n"),
    ((), ("CONFIG", "GET", "maxclients"),
     b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n", b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"),
    ((("MSET", "a", "abc", "b", "abc"),), ("LCS", "a", "b", "IDX"),
     b"*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:2\r\n*2\r\n:0\r\n:2\r\n$3\r\nlen\r\n:3\r\n",
     b"%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:2\r\n*2\r\n:0\r\n:2\r\n$3\r\nlen\r\n:3\r\n"),
    ((), ("INFO", "keyspace"), b"$12\r\n# Keyspace\r\n\r\n", b"=16\r\ntxt:# Keyspace\r\n\r\n"),
    ((("SET", "k", "v"),), ("INFO", "keyspace"),
     b"$44\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n\r\n",
     b"=48\r\ntxt:# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n\r\n"),
    ((), ("INFO", "nosuchsection"), b"$0\r\n\r\n", b"=4\r\ntxt:\r\n"),
    ((), ("CLIENT", "LIST", "ID", "999999"), b"$0\r\n\r\n", b"=4\r\ntxt:\r\n"),
    ((), ("COMMAND", "INFO", "nosuchcommand"), b"*1\r\n$-1\r\n", b"*1\r\n_\r\n"),
    ((), ("COMMAND", "DOCS", "nosuchcommand"), b"*0\r\n", b"%0\r\n"),
    ((), ("SLOWLOG", "GET", "0"), b"*0\r\n", b"*0\r\n"),
    ((), ("EXPIRETIME", "nokey"), b":-2\r\n", b":-2\r\n"),
    ((), ("NOSUCH",), b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
     b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n"),
    ((("SET", "k", "v"),), ("INCR", "k"), b"-ERR value is not an integer or out of range\r\n",
     b"-ERR value is not an integer or out of range\r\n"),
]


@pytest.mark.parametrize("setup,cmd,resp2,resp3", CASES, ids=[" ".join(c[1]) for c in CASES])
def test_resp2_vs_resp3(server, setup, cmd, resp2, resp3):
    for proto, expected in ((2, resp2), (3, resp3)):
        with server.raw(protocol=proto) as c:
            c.execute("FLUSHALL")
            for s in setup:
                c.execute(*s)
            assert c.call(*cmd)[0] == expected, (proto, cmd)


def test_hello3_reply_is_a_map(r3):
    rawreply, v = r3.call("HELLO", "3")
    assert re.fullmatch(
        rb"%7\r\n\$6\r\nserver\r\n\$\d+\r\n[^\r]+\r\n\$7\r\nversion\r\n\$6\r\n7\.0\.15\r\n"
        rb"\$5\r\nproto\r\n:3\r\n\$2\r\nid\r\n:\d+\r\n\$4\r\nmode\r\n\$10\r\nstandalone\r\n"
        rb"\$4\r\nrole\r\n\$6\r\nmaster\r\n\$7\r\nmodules\r\n\*0\r\n", rawreply), rawreply


def test_info_is_verbatim(r3):
    rawreply, v = r3.call("INFO", "server")
    m = re.match(rb"=(\d+)\r\ntxt:", rawreply)
    assert m
    assert int(m.group(1)) == len(rawreply) - len(m.group(0)) - 2 + 4
    assert v.format == b"txt" and v.startswith(b"# Server\r\n")


def test_client_info_and_list_are_verbatim(r3):
    assert r3.call("CLIENT", "INFO")[0].startswith(b"=")
    assert r3.call("CLIENT", "LIST")[0].startswith(b"=")


def test_command_info_uses_sets(r3):
    rawreply = r3.call("COMMAND", "INFO", "get")[0]
    assert rawreply.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n"
                               b":1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n")


def test_monitor_lines_stay_simple_strings(server, r3):
    mon = server.raw(protocol=3)
    try:
        assert call(mon, "MONITOR") == OK
        r3.execute("SET", "a", "b")
        line = mon.read_reply()[0]
        assert re.fullmatch(rb'\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "a" "b"\r\n', line), line
    finally:
        mon.close()


def test_protocol_switch_back_and_forth(r3):
    assert call(r3, "GET", "nokey") == b"_\r\n"
    r3.execute("HELLO", "2")
    assert call(r3, "GET", "nokey") == b"$-1\r\n"
    r3.execute("HELLO", "3")
    assert call(r3, "GET", "nokey") == b"_\r\n"
    # A failed HELLO keeps the current protocol.
    assert call(r3, "HELLO", "4") == err("NOPROTO unsupported protocol version")
    assert call(r3, "GET", "nokey") == b"_\r\n"


def test_resp3_errors_and_integers(r3):
    assert call(r3, "SET", "k", "v", "EX", "0") == err("ERR invalid expire time in 'set' command")
    assert call(r3, "DEL", "k") == integer(0)
    assert call(r3, "ECHO", "x") == bulk("x")
