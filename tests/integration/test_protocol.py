"""Wire protocol: inline commands, pipelining, protocol errors, abrupt disconnects and the
query-buffer limit."""

import socket
import time

import pytest

from helpers import OK, bulk, call, err, integer, read_nothing, wait_until
from klserver import encode_command


def assert_closed_with(server, data, expected, timeout=5):
    """Send data on a fresh connection; the server must answer `expected` and close."""
    c = server.raw(timeout=timeout)
    try:
        c.send(data)
        try:
            got = c.read_until_closed()
        except (socket.timeout, TimeoutError):
            pytest.fail("connection still open after %r; got %r" % (data[:60], c.pending()))
        assert got == expected, data[:60]
    finally:
        c.close()
    # And the server is fine.
    with server.raw() as other:
        assert call(other, "PING") == b"+PONG\r\n"


# ---------------- inline commands ----------------

def test_inline_commands(raw):
    raw.send(b"SET k v\r\nGET k\r\n")
    assert raw.read_reply()[0] == OK
    assert raw.read_reply()[0] == bulk("v")
    # Bare LF ends a line too; blank lines and extra spaces are ignored.
    raw.send(b"PING\n\r\n\n   PING   \r\nECHO    two   \r\n")
    assert [raw.read_reply()[0] for _ in range(3)] == [b"+PONG\r\n", b"+PONG\r\n", bulk("two")]


def test_inline_quoting(raw):
    raw.send(b'SET k "hello world"\r\nGET k\r\n')
    assert raw.read_reply()[0] == OK
    assert raw.read_reply()[0] == bulk("hello world")
    raw.send(b"ECHO 'single quoted \\' escape'\r\n")
    assert raw.read_reply()[0] == bulk("single quoted ' escape")
    raw.send(b'ECHO "\\x41\\x00\\n\\t\\"\\\\"\r\n')
    assert raw.read_reply()[0] == bulk(b"A\x00\n\t\"\\")
    raw.send(b'ECHO ""\r\n')
    assert raw.read_reply()[0] == bulk("")


def test_inline_mixed_with_multibulk(raw):
    raw.send(b"PING\r\n" + encode_command("ECHO", "x y") + b"ECHO z\r\n")
    assert [raw.read_reply()[0] for _ in range(3)] == [b"+PONG\r\n", bulk("x y"), bulk("z")]


def test_empty_multibulk_is_ignored(raw):
    raw.send(b"*0\r\n*-1\r\nPING\r\n")
    assert raw.read_reply()[0] == b"+PONG\r\n"


def test_command_split_across_writes(raw):
    data = encode_command("SET", "split", "x" * 1000) + encode_command("GET", "split")
    for i in range(0, len(data), 7):
        raw.send(data[i:i + 7])
        if i % 70 == 0:
            time.sleep(0.001)
    assert raw.read_reply()[0] == OK
    assert raw.read_reply()[0] == bulk("x" * 1000)


# ---------------- pipelining ----------------

def test_pipeline_10000_commands(raw):
    n = 10000
    parts = []
    for i in range(n):
        if i % 3 == 0:
            parts.append(encode_command("SET", "k%d" % (i % 100), i))
        elif i % 3 == 1:
            parts.append(encode_command("GET", "k%d" % ((i - 1) % 100)))
        else:
            parts.append(encode_command("INCR", "counter"))
    raw.send(b"".join(parts))
    incr = 0
    for i in range(n):
        reply = raw.read_reply()[0]
        if i % 3 == 0:
            assert reply == OK, i
        elif i % 3 == 1:
            assert reply == bulk(str(i - 1)), i
        else:
            incr += 1
            assert reply == integer(incr), i
    assert call(raw, "GET", "counter") == bulk(str(incr))


def test_pipeline_inline_10000(raw):
    raw.send(b"INCR n\r\n" * 10000)
    for i in range(1, 10001):
        assert raw.read_reply()[0] == integer(i)


def test_pipeline_big_values(r):
    value = b"v" * 100000
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set("big%d" % i, value)
        pipe.get("big%d" % i)
    out = pipe.execute()
    assert out[0::2] == [True] * 100
    assert out[1::2] == [value] * 100


# ---------------- abrupt clients ----------------

def test_disconnect_mid_pipeline(server):
    data = b"".join(encode_command("SET", "dk%d" % i, "v" * 100) for i in range(5000))
    for cut in (len(data) // 3, len(data) // 2 + 7, len(data) - 3):
        c = server.raw()
        c.send(data[:cut])
        c.close()
    # A client that sends commands whose replies it never reads, then vanishes.
    c = server.raw()
    c.send(encode_command("SET", "big", "x" * 200000))
    c.send(b"".join(encode_command("GET", "big") for _ in range(200)))
    c.close()
    with server.raw() as other:
        assert call(other, "PING") == b"+PONG\r\n"
        assert call(other, "SET", "after", "1") == OK
        assert call(other, "GET", "after") == bulk("1")


def test_disconnect_after_huge_multibulk_header(server):
    for header in (b"*1048576\r\n", b"*1048577\r\n", b"*1000000\r\n$3\r\nSET\r\n",
                   b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\nxx"):
        c = server.raw()
        c.send(header)
        time.sleep(0.05)
        c.close()
    with server.raw() as other:
        assert call(other, "PING") == b"+PONG\r\n"
        assert call(other, "EXISTS", "k") == integer(0)


def test_big_multibulk_header_is_accepted(server):
    # Redis 7.0 accepts any multibulk length up to INT_MAX from an authenticated client: the
    # connection stays open waiting for the arguments.
    c = server.raw()
    try:
        c.send(b"*1048577\r\n")
        read_nothing(c, 0.3)
        assert server.alive()
    finally:
        c.close()


# ---------------- protocol errors ----------------

PROTOCOL_ERRORS = [
    (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*-5\r\n*abc\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*3000000000\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*2147483648\r\n", "ERR Protocol error: invalid multibulk length"),
    (b"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$4294967296\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$99999999999999999999999\r\n", "ERR Protocol error: invalid bulk length"),
    (b"*1\r\nfoo\r\n", "ERR Protocol error: expected '$', got 'f'"),
    (b"*2\r\n$3\r\nGET\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'"),
    (b"*" + b"1" * 70000, "ERR Protocol error: too big mbulk count string"),
    (b"*1\r\n$" + b"1" * 70000, "ERR Protocol error: too big bulk count string"),
    (b"x" * 70000, "ERR Protocol error: too big inline request"),
    (b"SET k \"abc\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"SET k 'abc\r\n", "ERR Protocol error: unbalanced quotes in request"),
    (b"SET \"a\"b c\r\n", "ERR Protocol error: unbalanced quotes in request"),
]


@pytest.mark.parametrize("data,message", PROTOCOL_ERRORS,
                         ids=[repr(d[:20])[2:-1] for d, _ in PROTOCOL_ERRORS])
def test_protocol_error_closes_connection(server, data, message):
    assert_closed_with(server, data, err(message))


def test_protocol_error_after_good_commands(server):
    # Replies to commands before the garbage are delivered, then the error, then EOF.
    assert_closed_with(server, b"PING\r\n" + encode_command("ECHO", "x") + b"*1\r\n$x\r\nPING\r\n",
                       b"+PONG\r\n" + bulk("x") + err("ERR Protocol error: invalid bulk length"))


def test_protocol_error_in_resp3(server):
    c = server.raw(protocol=3)
    try:
        c.send(b"*1\r\n$abc\r\n")
        assert c.read_until_closed() == err("ERR Protocol error: invalid bulk length")
    finally:
        c.close()


def test_inline_limit_is_64k(server):
    # Exactly 64 KiB without a newline is still accepted (waiting for more).
    c = server.raw()
    try:
        c.send(b"x" * 65536)
        read_nothing(c, 0.3)
        c.send(b"\r\n")
        assert c.read_reply()[0].startswith(b"-ERR unknown command 'xxxx")
    finally:
        c.close()


def test_max_bulk_is_accepted_header(server):
    # proto-max-bulk-len (512 MB) itself is fine as a header; the server waits for the data.
    c = server.raw()
    try:
        c.send(b"*1\r\n$536870912\r\n")
        read_nothing(c, 0.3)
    finally:
        c.close()


# ---------------- query buffer limit ----------------

def test_client_query_buffer_limit(server, config_set):
    config_set("client-query-buffer-limit", "1mb")
    bystander = server.raw()
    c = server.raw()
    try:
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000000\r\n")
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < 4 * 1024 * 1024:
                c.send(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        assert c.is_closed_by_peer(5), "client over client-query-buffer-limit not closed"
        assert call(bystander, "PING") == b"+PONG\r\n"
        assert call(bystander, "EXISTS", "k") == integer(0)
    finally:
        c.close()
        bystander.close()


# ---------------- cross protocol scripting guard ----------------

SECURITY_WARNING = ("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or "
                    "Host: commands to Redis. This is likely due to an attacker attempting to use "
                    "Cross Protocol Scripting to compromise your Redis instance. Connection "
                    "aborted.")

CROSS_PROTOCOL = [
    b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"Host: x\r\n",
    b"post /x\r\n",
    b"hOsT: y\r\n",
    encode_command("POST", "/"),
    encode_command("HOST:"),
]


def assert_silently_closed(server, data, timeout=5):
    """Send data on a fresh connection: no byte comes back and the server closes it."""
    c = server.raw(timeout=timeout)
    try:
        c.send(data)
        try:
            got = c.read_until_closed()
        except (socket.timeout, TimeoutError):
            pytest.fail("connection still open after %r; got %r" % (data[:60], c.pending()))
        assert got == b"", data[:60]
    finally:
        c.close()


def log_count(srv, line):
    with open(srv.logfile, errors="replace") as f:
        return f.read().count(line)


@pytest.mark.parametrize("data", CROSS_PROTOCOL, ids=[repr(d[:12])[2:-1] for d in CROSS_PROTOCOL])
def test_post_and_host_close_without_reply(server, data):
    assert_silently_closed(server, data)
    # Logged at WARNING ('#'), at most once a minute: an earlier test may have logged it.
    wait_until(lambda: log_count(server, "# " + SECURITY_WARNING) >= 1, timeout=5,
               what="the security warning in the log")
    with server.raw() as other:
        assert call(other, "PING") == b"+PONG\r\n"


def test_cross_protocol_stops_the_pipeline(server):
    # What follows the HTTP header is never run; what came before it in the same packet runs
    # but its reply is dropped with the connection (Redis: the client is closed before writing).
    assert_silently_closed(server, b"SET before 1\r\nPOST / HTTP/1.1\r\nHost: x\r\n\r\n"
                           + encode_command("SET", "after", "1") + b"SET after2 1\r\n")
    with server.raw() as other:
        assert call(other, "EXISTS", "before") == integer(1)
        assert call(other, "EXISTS", "after", "after2") == integer(0)
    # Inside MULTI too: the connection goes, nothing is queued or run.
    assert_silently_closed(server, b"MULTI\r\nSET inmulti 1\r\nPOST /\r\nEXEC\r\n")
    with server.raw() as other:
        assert call(other, "EXISTS", "inmulti") == integer(0)


def test_cross_protocol_before_auth_and_log_rate(start_server):
    # A fresh server: the guard runs before authentication, and the warning is logged once a
    # minute however many connections try.
    srv = start_server(["--requirepass", "secret"])
    for data in CROSS_PROTOCOL:
        assert_silently_closed(srv, data)
    wait_until(lambda: log_count(srv, SECURITY_WARNING) >= 1, timeout=5,
               what="the security warning in the log")
    time.sleep(0.2)
    assert log_count(srv, SECURITY_WARNING) == 1
    with srv.raw() as c:
        assert call(c, "PING").startswith(b"-NOAUTH")
