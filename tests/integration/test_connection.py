"""Connection commands: PING ECHO HELLO AUTH QUIT RESET SELECT."""

from helpers import (NIL, NULL3, OK, bulk, call, calls, err, integer, read_nothing, wrong_args,
                     NOT_INT)

NOAUTH = err("NOAUTH Authentication required.")
WRONGPASS = err("WRONGPASS invalid username-password pair or user is disabled.")


def test_ping(raw, r):
    assert r.ping() is True
    assert call(raw, "PING") == b"+PONG\r\n"
    assert call(raw, "PING", "hello") == bulk("hello")
    assert call(raw, "ping", "") == bulk("")
    assert call(raw, "PING", "a", "b") == wrong_args("ping")


def test_echo_is_binary_safe(raw):
    payload = b"a\x00b\r\nc\xff"
    assert call(raw, "ECHO", payload) == bulk(payload)
    assert call(raw, "ECHO", "") == bulk("")
    assert call(raw, "ECHO") == wrong_args("echo")
    assert call(raw, "ECHO", "a", "b") == wrong_args("echo")


def _hello_fields(value):
    if isinstance(value, dict):
        return dict(value)
    assert isinstance(value, list) and len(value) % 2 == 0
    return dict(zip(value[0::2], value[1::2]))


def test_hello_2_and_3(server, raw):
    raw2, v2 = raw.call("HELLO", "2")
    assert raw2.startswith(b"*14\r\n$6\r\nserver\r\n")
    f2 = _hello_fields(v2)
    assert list(f2) == [b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"]
    assert f2[b"proto"] == 2
    assert f2[b"version"] == b"7.0.15"
    assert f2[b"mode"] == b"standalone"
    assert f2[b"role"] == b"master"
    assert f2[b"modules"] == []
    assert f2[b"id"] == raw.execute("CLIENT", "ID")

    raw3, v3 = raw.call("HELLO", "3")
    assert raw3.startswith(b"%7\r\n$6\r\nserver\r\n")
    assert isinstance(v3, dict)
    assert v3[b"proto"] == 3
    assert raw3 == raw2.replace(b"*14\r\n", b"%7\r\n", 1).replace(b":2\r\n", b":3\r\n", 1)
    # HELLO without a version reports the current protocol and does not change it.
    raw3b, v3b = raw.call("HELLO")
    assert raw3b == raw3
    # Back to RESP2.
    assert raw.call("HELLO", "2")[0] == raw2
    assert call(raw, "GET", "nokey") == NIL


def test_hello_errors(raw):
    for v in ("1", "4", "0", "-1", "100"):
        assert call(raw, "HELLO", v) == err("NOPROTO unsupported protocol version"), v
    assert call(raw, "HELLO", "abc") == err(
        "ERR Protocol version is not an integer or out of range")
    assert call(raw, "HELLO", "3", "AUTH", "default") == err(
        "ERR Syntax error in HELLO option 'AUTH'")
    assert call(raw, "HELLO", "3", "SETNAME") == err(
        "ERR Syntax error in HELLO option 'SETNAME'")
    assert call(raw, "HELLO", "3", "FOO") == err("ERR Syntax error in HELLO option 'FOO'")
    assert call(raw, "HELLO", "3", "SETNAME", "a b") == err(
        "ERR Client names cannot contain spaces, newlines or special characters.")
    # Failed HELLOs leave the protocol alone.
    assert call(raw, "GET", "nokey") == NIL


def test_hello_setname(raw):
    v = raw.execute("HELLO", "3", "SETNAME", "conn-1")
    assert v[b"proto"] == 3
    assert call(raw, "CLIENT", "GETNAME") == bulk("conn-1")
    assert call(raw, "GET", "nokey") == NULL3


def test_auth_without_requirepass(raw):
    assert call(raw, "AUTH", "foo") == err(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?")
    # The default user is 'nopass': any password is accepted for it, other users do not exist.
    assert call(raw, "AUTH", "default", "whatever") == OK
    assert call(raw, "AUTH", "nosuchuser", "x") == WRONGPASS
    assert call(raw, "AUTH") == wrong_args("auth")
    assert call(raw, "AUTH", "a", "b", "c") == err("ERR syntax error")


def test_requirepass(start_server):
    srv = start_server(["--requirepass", "s3cret"])
    with srv.raw() as c:
        assert call(c, "PING") == NOAUTH
        assert call(c, "GET", "k") == NOAUTH
        assert call(c, "SET", "k", "v") == NOAUTH
        assert call(c, "ECHO", "x") == NOAUTH
        assert call(c, "AUTH", "wrong") == WRONGPASS
        assert call(c, "AUTH", "default", "wrong") == WRONGPASS
        assert call(c, "PING") == NOAUTH
        assert call(c, "AUTH", "s3cret") == OK
        assert call(c, "PING") == b"+PONG\r\n"
        assert call(c, "SET", "k", "v") == OK
    with srv.raw() as c:
        assert call(c, "AUTH", "default", "s3cret") == OK
        assert call(c, "GET", "k") == bulk("v")
    with srv.raw() as c:
        # HELLO needs authentication unless it carries AUTH itself.
        assert call(c, "HELLO", "3") == err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
            "the RESP protocol version at the same time")
        assert call(c, "HELLO", "3", "AUTH", "default", "nope") == WRONGPASS
        v = c.execute("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "authed")
        assert v[b"proto"] == 3
        assert call(c, "GET", "k") == bulk("v")
        assert call(c, "CLIENT", "GETNAME") == bulk("authed")
    # Unauthenticated clients may not send big requests: the connection is dropped.
    with srv.raw() as c:
        c.send(b"*20\r\n")
        assert c.read_until_closed() == err(
            "ERR Protocol error: unauthenticated multibulk length")
    with srv.raw() as c:
        c.send(b"*1\r\n$100000\r\n")
        assert c.read_until_closed() == err("ERR Protocol error: unauthenticated bulk length")
    # redis-py with a password works too.
    r = srv.client(password="s3cret")
    assert r.get("k") == b"v"
    r.close()


def test_quit_closes_after_reply(raw, r):
    raw.send(b"*1\r\n$4\r\nQUIT\r\n*3\r\n$3\r\nSET\r\n$9\r\nafterquit\r\n$1\r\n1\r\n")
    assert raw.read_until_closed() == OK
    assert r.exists("afterquit") == 0


def test_quit_inline(raw):
    raw.send(b"QUIT\r\n")
    assert raw.read_until_closed() == OK


def test_reset(server, raw):
    raw.execute("HELLO", "3", "SETNAME", "before-reset")
    assert raw.execute("SELECT", "5") == b"OK"
    raw.execute("SET", "k", "in-db5")
    assert call(raw, "CLIENT", "REPLY", "ON") == OK
    assert call(raw, "RESET") == b"+RESET\r\n"
    # Back to RESP2, db 0, no name.
    assert call(raw, "GET", "nokey") == NIL
    assert call(raw, "CLIENT", "GETNAME") == NIL
    assert call(raw, "EXISTS", "k") == integer(0)
    assert call(raw, "SELECT", "5") == OK
    assert call(raw, "GET", "k") == bulk("in-db5")
    assert call(raw, "RESET", "extra") == wrong_args("reset")


def test_reset_deauthenticates(start_server):
    srv = start_server(["--requirepass", "pw"])
    with srv.raw() as c:
        assert calls(c, ("AUTH", "pw"), ("PING",), ("RESET",), ("PING",)) == [
            OK, b"+PONG\r\n", b"+RESET\r\n", NOAUTH]
        # RESET is allowed before authentication.
        assert call(c, "RESET") == b"+RESET\r\n"


def test_reset_leaves_monitor_mode(server, raw):
    mon = server.raw()
    try:
        assert call(mon, "MONITOR") == OK
        assert call(mon, "RESET") == b"+RESET\r\n"
        raw.execute("SET", "k", "v")
        read_nothing(mon, 0.3)
        assert call(mon, "PING") == b"+PONG\r\n"
    finally:
        mon.close()


def test_select(raw):
    assert call(raw, "SELECT", "16") == err("ERR DB index is out of range")
    assert call(raw, "SELECT", "-1") == err("ERR DB index is out of range")
    assert call(raw, "SELECT", "abc") == NOT_INT
    assert call(raw, "SELECT", "1.5") == NOT_INT
    assert call(raw, "SELECT") == wrong_args("select")
    assert call(raw, "SET", "k", "db0") == OK
    assert call(raw, "SELECT", "15") == OK
    assert call(raw, "GET", "k") == NIL
    assert call(raw, "SET", "k", "db15") == OK
    assert call(raw, "DBSIZE") == integer(1)
    assert call(raw, "SELECT", "0") == OK
    assert call(raw, "GET", "k") == bulk("db0")


def test_select_is_per_connection(server, raw):
    assert call(raw, "SELECT", "2") == OK
    with server.raw() as other:
        assert call(other, "SET", "k", "v") == OK
    assert call(raw, "EXISTS", "k") == integer(0)


def test_unknown_command(raw):
    assert call(raw, "NOSUCHCMD", "a", "b") == err(
        "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' ")
    assert call(raw, "nosuchcmd") == err(
        "ERR unknown command 'nosuchcmd', with args beginning with: ")
    assert call(raw, "GET") == wrong_args("get")


def test_redis_cli(cli, r):
    assert cli("SET", "clikey", "hello world") == b"OK\n"
    assert cli("GET", "clikey") == b"hello world\n"
    assert r.get("clikey") == b"hello world"
    assert cli("INCR", "n") == b"1\n"
    assert cli("GET", "nokey") == b"\n"
    assert cli("PING") == b"PONG\n"
    assert cli(input=b"SET a 1\nGET a\n") == b"OK\n1\n"
