"""CLIENT subcommands, MONITOR, SLOWLOG, LATENCY, timeout and maxclients."""

import re
import socket
import ssl
import time

import pytest

from helpers import (NIL, OK, SYNTAX, bulk, call, err, integer, read_nothing, wait_until,
                     wrong_args)

CLIENT_LINE = re.compile(
    rb"id=(\d+) addr=(\S+) laddr=(\S+) fd=\d+ name=(\S*) age=\d+ idle=\d+ flags=\S+ db=(\d+) "
    rb"sub=\d+ psub=\d+ ssub=\d+ multi=-?\d+ qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=\d+ "
    rb"rbs=\d+ rbp=\d+ obl=\d+ oll=\d+ omem=\d+ tot-mem=\d+ events=\S+ cmd=(\S+) user=(\S+) "
    rb"redir=-?\d+ resp=(\d)")


def parse_client_list(text):
    out = []
    assert text.endswith(b"\n")
    for line in text.split(b"\n")[:-1]:
        m = CLIENT_LINE.fullmatch(line)
        assert m, line
        out.append(dict(id=int(m.group(1)), addr=m.group(2), laddr=m.group(3), name=m.group(4),
                        db=int(m.group(5)), cmd=m.group(6), user=m.group(7),
                        resp=int(m.group(8))))
    return out


def local_addr(c):
    host, port = c.sock.getsockname()[:2]
    return b"%s:%d" % (host.encode(), port)


def test_client_id(server, raw):
    cid = raw.execute("CLIENT", "ID")
    assert isinstance(cid, int) and cid > 0
    assert raw.execute("CLIENT", "ID") == cid
    with server.raw() as other:
        assert other.execute("CLIENT", "ID") > cid
    assert call(raw, "CLIENT", "ID", "x") == wrong_args("client|id")


def test_client_setname_getname(raw):
    assert call(raw, "CLIENT", "GETNAME") == NIL
    assert call(raw, "CLIENT", "SETNAME", "worker-1") == OK
    assert call(raw, "CLIENT", "GETNAME") == bulk("worker-1")
    for bad in ("a b", "a\nb", "caf\xe9", "\x01"):
        assert call(raw, "CLIENT", "SETNAME", bad) == err(
            "ERR Client names cannot contain spaces, newlines or special characters."), bad
    assert call(raw, "CLIENT", "GETNAME") == bulk("worker-1")
    assert call(raw, "CLIENT", "SETNAME", "") == OK
    assert call(raw, "CLIENT", "GETNAME") == NIL
    assert call(raw, "CLIENT", "SETNAME") == wrong_args("client|setname")


def test_client_list_and_info(server, raw):
    raw.execute("CLIENT", "SETNAME", "lister")
    raw.execute("SELECT", "4")
    other = server.raw(protocol=3)
    try:
        other.execute("CLIENT", "SETNAME", "other")
        my_id = raw.execute("CLIENT", "ID")
        other_id = other.execute("CLIENT", "ID")
        clients = {c["id"]: c for c in parse_client_list(raw.execute("CLIENT", "LIST"))}
        me = clients[my_id]
        assert me["name"] == b"lister" and me["db"] == 4 and me["cmd"] == b"client|list"
        assert me["addr"] == local_addr(raw)
        assert me["laddr"] == b"127.0.0.1:%d" % server.port
        assert me["resp"] == 2 and me["user"] == b"default"
        assert clients[other_id]["name"] == b"other"
        assert clients[other_id]["resp"] == 3
        assert clients[other_id]["cmd"] == b"client|id"

        info = raw.execute("CLIENT", "INFO")
        (one,) = parse_client_list(info)
        assert one["id"] == my_id and one["cmd"] == b"client|info"

        by_id = parse_client_list(raw.execute("CLIENT", "LIST", "ID", str(other_id)))
        assert [c["id"] for c in by_id] == [other_id]
        by_ids = parse_client_list(raw.execute("CLIENT", "LIST", "ID", str(other_id),
                                               str(my_id), "999999"))
        assert sorted(c["id"] for c in by_ids) == sorted([my_id, other_id])
        assert raw.execute("CLIENT", "LIST", "ID", "999999") == b""
        normal = parse_client_list(raw.execute("CLIENT", "LIST", "TYPE", "normal"))
        assert {my_id, other_id} <= {c["id"] for c in normal}
        assert raw.execute("CLIENT", "LIST", "TYPE", "pubsub") == b""
        assert call(raw, "CLIENT", "LIST", "ID", "abc") == err("ERR Invalid client ID")
        assert call(raw, "CLIENT", "LIST", "TYPE", "foo") == err("ERR Unknown client type 'foo'")
        assert call(raw, "CLIENT", "LIST", "FOO") == SYNTAX
        # RESP3: verbatim strings.
        rawinfo = other.call("CLIENT", "INFO")[0]
        assert re.fullmatch(rb"=\d+\r\ntxt:id=%d .* resp=3\n\r\n" % other_id, rawinfo)
    finally:
        other.close()


def test_client_kill_by_id(server, raw):
    victim = server.raw()
    vid = victim.execute("CLIENT", "ID")
    assert call(raw, "CLIENT", "KILL", "ID", str(vid)) == integer(1)
    assert victim.is_closed_by_peer(5)
    victim.close()
    assert call(raw, "CLIENT", "KILL", "ID", str(vid)) == integer(0)
    assert call(raw, "CLIENT", "KILL", "ID", "abc") == err(
        "ERR client-id should be greater than 0")
    assert call(raw, "CLIENT", "KILL", "ID", "0") == err("ERR client-id should be greater than 0")


def test_client_kill_by_addr(server, raw):
    # Each victim runs a command first: connect() can return before the server accepted it.
    victim = server.raw()
    victim.execute("PING")
    addr = local_addr(victim)
    assert call(raw, "CLIENT", "KILL", "ADDR", addr) == integer(1)
    assert victim.is_closed_by_peer(5)
    victim.close()
    assert call(raw, "CLIENT", "KILL", "ADDR", addr) == integer(0)
    # Old form: CLIENT KILL addr:port.
    victim = server.raw()
    victim.execute("PING")
    assert call(raw, "CLIENT", "KILL", local_addr(victim)) == OK
    assert victim.is_closed_by_peer(5)
    victim.close()
    assert call(raw, "CLIENT", "KILL", "1.2.3.4:5") == err("ERR No such client")
    assert call(raw, "CLIENT", "KILL", "ADDR", "1.2.3.4:5") == integer(0)


def test_client_kill_by_type_skipme(server, raw):
    victims = [server.raw() for _ in range(3)]
    try:
        # Make sure the server has accepted and registered every victim (a
        # plain connect() can return before the server's accept).
        for v in victims:
            assert v.execute("PING") == b"PONG"
        n = raw.execute("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        assert n >= 3
        for v in victims:
            assert v.is_closed_by_peer(5)
        assert call(raw, "PING") == b"+PONG\r\n"
        assert call(raw, "CLIENT", "KILL", "TYPE", "pubsub") == integer(0)
        assert call(raw, "CLIENT", "KILL", "TYPE", "foo") == err("ERR Unknown client type 'foo'")
        assert call(raw, "CLIENT", "KILL", "FOO", "bar") == SYNTAX
        # SKIPME no: the caller is killed too, after the reply is written.
        raw.send(b"CLIENT KILL ID %d SKIPME no\r\n" % raw.execute("CLIENT", "ID"))
        assert raw.read_until_closed() in (b"", integer(1))
    finally:
        for v in victims:
            v.close()


def test_client_reply_off_on_skip(raw):
    raw.send(b"CLIENT REPLY OFF\r\nSET a 1\r\nPING\r\nGET a\r\n")
    read_nothing(raw, 0.3)
    assert call(raw, "CLIENT", "REPLY", "ON") == OK
    assert call(raw, "GET", "a") == bulk("1")
    raw.send(b"CLIENT REPLY SKIP\r\nPING\r\nECHO next\r\n")
    assert raw.read_reply()[0] == bulk("next")
    assert call(raw, "CLIENT", "REPLY", "maybe") == SYNTAX
    # An error still counts as "the reply" for SKIP.
    raw.send(b"CLIENT REPLY SKIP\r\nNOSUCHCMD\r\nECHO after\r\n")
    assert raw.read_reply()[0] == bulk("after")


def test_client_no_evict(raw):
    assert call(raw, "CLIENT", "NO-EVICT", "on") == OK
    assert call(raw, "CLIENT", "NO-EVICT", "OFF") == OK
    assert call(raw, "CLIENT", "NO-EVICT", "maybe") == SYNTAX
    assert call(raw, "CLIENT", "NO-EVICT") == wrong_args("client|no-evict")


def test_client_pause_write(server, raw):
    raw.execute("SET", "k", "before")
    other = server.raw()
    try:
        assert call(raw, "CLIENT", "PAUSE", "5000", "WRITE") == OK
        # Reads still run.
        assert call(other, "GET", "k") == bulk("before")
        other.send(b"SET k during\r\n")
        read_nothing(other, 0.3)
        assert call(raw, "CLIENT", "UNPAUSE") == OK
        other.settimeout(5)
        assert other.read_reply()[0] == OK
        assert call(raw, "GET", "k") == bulk("during")
    finally:
        other.close()


def test_client_pause_all_expires(server, raw):
    other = server.raw()
    try:
        assert call(raw, "CLIENT", "PAUSE", "300") == OK
        t = time.monotonic()
        assert call(other, "PING") == b"+PONG\r\n"
        assert time.monotonic() - t >= 0.15
    finally:
        other.close()


def test_client_pause_errors(raw):
    assert call(raw, "CLIENT", "PAUSE", "abc") == err(
        "ERR timeout is not an integer or out of range")
    assert call(raw, "CLIENT", "PAUSE", "10", "FOO") == err(
        "ERR CLIENT PAUSE mode must be WRITE or ALL")
    assert call(raw, "CLIENT", "PAUSE", "0") == OK
    assert call(raw, "CLIENT", "UNPAUSE") == OK
    assert call(raw, "CLIENT", "FOO") == err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")


MONITOR_LINE = rb'\+(\d{10}\.\d{6}) \[(\d+) (127\.0\.0\.1:\d+)\] (.*)\r\n'


def test_monitor(server, raw):
    mon = server.raw()
    try:
        assert call(mon, "MONITOR") == OK
        addr = local_addr(raw)
        raw.execute("SET", "k", "v")
        raw.execute("SELECT", "3")
        raw.execute("SET", b"a\x00b\n\"\\ \xff", "x y")
        raw.send(b"PING\r\n")
        raw.read_reply()
        raw.execute("AUTH", "default", "pw")
        expected = [
            (b"0", b'"SET" "k" "v"'),
            (b"3", b'"SELECT" "3"'),
            (b"3", b'"SET" "a\\x00b\\n\\"\\\\ \\xff" "x y"'),
            (b"3", b'"PING"'),
            (b"3", b'"AUTH" "(redacted)" "(redacted)"'),
        ]
        for db, args in expected:
            line = mon.read_reply()[0]
            m = re.fullmatch(MONITOR_LINE, line)
            assert m, line
            assert abs(float(m.group(1)) - time.time()) < 10
            assert (m.group(2), m.group(3), m.group(4)) == (db, addr, args)
        # RESET takes the connection out of monitor mode.
        assert call(mon, "RESET") == b"+RESET\r\n"
    finally:
        mon.close()


def test_monitor_lowercase_cli_format(server, raw, cli):
    mon = server.raw()
    try:
        assert call(mon, "MONITOR") == OK
        cli("set", "k", "v")
        line = mon.read_reply()[0]
        assert re.fullmatch(rb'\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "set" "k" "v"\r\n', line), line
    finally:
        mon.close()


def test_slowlog(raw, config_set):
    config_set("slowlog-log-slower-than", "0")
    assert call(raw, "SLOWLOG", "RESET") == OK
    raw.execute("CLIENT", "SETNAME", "slowpoke")
    raw.execute("SET", "foo", "bar")
    # RESET, SETNAME and SET are logged; an entry is added after its command runs.
    assert raw.execute("SLOWLOG", "LEN") == 3
    entries = raw.execute("SLOWLOG", "GET")
    ids = [e[0] for e in entries]
    assert ids == sorted(ids, reverse=True)
    newest = entries[0]
    assert newest[3] == [b"SLOWLOG", b"LEN"]
    set_entry = entries[1]
    assert len(set_entry) == 6
    assert set_entry[3] == [b"SET", b"foo", b"bar"]
    assert abs(set_entry[1] - time.time()) < 10
    assert isinstance(set_entry[2], int) and set_entry[2] >= 0
    assert set_entry[4] == local_addr(raw)
    assert set_entry[5] == b"slowpoke"
    assert len(raw.execute("SLOWLOG", "GET", "1")) == 1
    assert raw.execute("SLOWLOG", "GET", "0") == []
    assert len(raw.execute("SLOWLOG", "GET", "-1")) >= 5
    assert call(raw, "SLOWLOG", "GET", "abc") == err(
        "ERR count should be greater than or equal to -1")
    assert call(raw, "SLOWLOG", "GET", "-2") == err(
        "ERR count should be greater than or equal to -1")
    assert call(raw, "SLOWLOG", "FOO") == err("ERR unknown subcommand 'FOO'. Try SLOWLOG HELP.")
    assert call(raw, "SLOWLOG", "RESET") == OK
    assert raw.execute("SLOWLOG", "LEN") == 1


def test_slowlog_threshold(raw, config_set):
    config_set("slowlog-log-slower-than", "100000")   # 100 ms
    raw.execute("SLOWLOG", "RESET")
    raw.execute("SET", "fast", "1")
    raw.execute("DEBUG", "SLEEP", "0.15")
    entries = raw.execute("SLOWLOG", "GET")
    assert [b"DEBUG", b"SLEEP", b"0.15"] in [e[3] for e in entries]
    # Only commands over the threshold are logged (a loaded machine may add a slow SET).
    assert all(e[2] >= 100000 for e in entries), entries


def test_latency(raw, config_set):
    config_set("latency-monitor-threshold", "100")
    assert isinstance(raw.execute("LATENCY", "RESET"), int)
    assert call(raw, "LATENCY", "LATEST") == b"*0\r\n"
    raw.execute("DEBUG", "SLEEP", "0.2")
    latest = raw.execute("LATENCY", "LATEST")
    assert len(latest) == 1
    event, ts, last, worst = latest[0]
    assert event == b"command"
    assert abs(ts - time.time()) < 10
    assert 200 <= last < 2000 and worst == last
    history = raw.execute("LATENCY", "HISTORY", "command")
    assert len(history) == 1 and history[0][1] == last
    assert raw.execute("LATENCY", "HISTORY", "nosuch") == []
    assert call(raw, "LATENCY", "RESET", "nosuch") == integer(0)
    assert call(raw, "LATENCY", "RESET", "command") == integer(1)
    assert call(raw, "LATENCY", "LATEST") == b"*0\r\n"
    assert call(raw, "LATENCY", "FOO") == err("ERR unknown subcommand 'FOO'. Try LATENCY HELP.")


def test_idle_timeout(start_server):
    srv = start_server(["--timeout", "1"])
    idle = srv.raw()
    busy = srv.raw()
    try:
        assert call(idle, "PING") == b"+PONG\r\n"
        t = time.monotonic()
        deadline = t + 6
        closed = False
        while time.monotonic() < deadline:
            assert call(busy, "PING") == b"+PONG\r\n"
            if idle.is_closed_by_peer(0.25):
                closed = True
                break
        assert closed, "idle client not closed within 6s of timeout=1"
        assert time.monotonic() - t >= 0.9
        # The active client survived.
        assert call(busy, "PING") == b"+PONG\r\n"
    finally:
        idle.close()
        busy.close()


def test_maxclients(start_server):
    srv = start_server(["--maxclients", "10"])
    clients = []
    try:
        for _ in range(10):
            c = srv.raw()
            assert call(c, "PING") == b"+PONG\r\n"
            clients.append(c)
        if srv.mode.tls:
            # redis-server 7.0 checks maxclients before the TLS handshake and cannot deliver
            # the error over TLS: it closes the connection. The error, if any bytes arrive,
            # must be the Redis text.
            try:
                extra = srv.raw()
            except (ssl.SSLError, ConnectionError, OSError):
                extra = None
            if extra is not None:
                clients.append(extra)
                try:
                    got = extra.read_until_closed()
                except (socket.timeout, TimeoutError):
                    pytest.fail("11th TLS client was neither refused nor closed")
                assert got in (b"", err("ERR max number of clients reached"))
        else:
            extra = srv.raw()
            clients.append(extra)
            assert extra.read_until_closed() == err("ERR max number of clients reached")
        # Freeing one slot lets a new client in.
        clients[0].close()
        time.sleep(0.2)
        c = wait_until(lambda: _try_ping(srv), timeout=5, what="a free client slot")
        clients.append(c)
    finally:
        for c in clients:
            c.close()


def _try_ping(srv):
    c = srv.raw()
    try:
        if c.execute("PING") == b"PONG":
            return c
    except (ConnectionError, OSError):
        pass
    c.close()
    return None


# ---------------- measured CLIENT LIST fields ----------------

def client_fields(line):
    """One CLIENT LIST / CLIENT INFO line as {field: value} (bytes)."""
    line = line.rstrip(b"\n")
    assert CLIENT_LINE.fullmatch(line), line
    return dict(kv.split(b"=", 1) for kv in line.split(b" "))


def client_by_id(srv, cid):
    with srv.raw() as c:
        text = c.execute("CLIENT", "LIST", "ID", str(cid))
    return client_fields(text) if text else None


def test_client_list_query_buffer_fields(server, raw):
    """qbuf = input received but not yet made into arguments, argv-mem = bytes of the arguments of
    the command being received or run, qbuf-free = room allocated for more input."""
    info = client_fields(raw.execute("CLIENT", "INFO"))
    assert int(info[b"argv-mem"]) == len("client") + len("info"), info
    assert info[b"events"] == b"r", info
    with server.raw() as c:
        cid = c.execute("CLIENT", "ID")
        # A multibulk whose third argument is partly received.
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc")
        f = wait_until(lambda: (lambda x: x if x[b"argv-mem"] == b"4" else None)(
            client_by_id(server, cid)), timeout=5, what="argv-mem=4")
        assert int(f[b"qbuf"]) == 3, f
        assert int(f[b"qbuf-free"]) > 0, f
        c.send(b"defghij\r\n")
        assert c.read_reply()[0] == OK
        f = client_by_id(server, cid)
        assert (f[b"qbuf"], f[b"argv-mem"]) == (b"0", b"0"), f
        # A big argument on its way: the query buffer holds what came and has room for the rest.
        c.send(b"*2\r\n$4\r\nECHO\r\n$100000\r\n" + b"x" * 50000)
        f = wait_until(lambda: (lambda x: x if int(x[b"qbuf"]) == 50000 else None)(
            client_by_id(server, cid)), timeout=5, what="qbuf=50000")
        assert int(f[b"argv-mem"]) == 4, f
        assert int(f[b"qbuf-free"]) >= 50000, f
        assert int(f[b"tot-mem"]) > 100000, f
        c.send(b"x" * 50000 + b"\r\n")
        assert len(c.read_reply()[1]) == 100000
        # An inline command without its newline yet.
        c.send(b"SET k ")
        f = wait_until(lambda: (lambda x: x if int(x[b"qbuf"]) == 6 else None)(
            client_by_id(server, cid)), timeout=5, what="qbuf=6")
        assert f[b"argv-mem"] == b"0" and int(f[b"qbuf-free"]) > 0, f
        c.send(b"v\r\n")
        assert c.read_reply()[0] == OK


def test_client_list_reply_buffer_and_events(server, r):
    """A client that does not read its replies: the reply buffer is in use (rbs > 0, omem > 0)
    and the connection waits to write (events has w)."""
    r.set("big", "x" * (1 << 20))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", server.port))
    c = None
    try:
        if server.mode.tls:
            s = server.mode.ssl_context().wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(b"CLIENT ID\r\n")
        line = b""
        while not line.endswith(b"\r\n"):
            line += s.recv(1)
        cid = int(line[1:-2])
        s.sendall(b"GET big\r\n" * 3)
        f = wait_until(lambda: (lambda x: x if b"w" in x[b"events"] else None)(
            client_by_id(server, cid)), timeout=10, what="events with w")
        assert int(f[b"rbs"]) > 0 and int(f[b"omem"]) > 0, f
        assert int(f[b"rbp"]) >= int(f[b"rbs"]), f
        # Once it reads everything the connection only waits for input again.
        s.settimeout(10)
        got = 0
        while got < 3 * ((1 << 20) + 11):
            got += len(s.recv(1 << 20))
        f = wait_until(lambda: (lambda x: x if x[b"events"] == b"r" else None)(
            client_by_id(server, cid)), timeout=5, what="events=r")
        assert f[b"omem"] == b"0", f
    finally:
        s.close()


def test_client_list_unix_socket(start_server, tmp_path):
    """Unix-socket clients carry flag U and addr/laddr "<path>:0", as Redis prints them; a path of
    70 characters is not cut short."""
    d = tmp_path / ("u" * max(1, 66 - len(str(tmp_path))))
    d.mkdir()
    path = str(d / "s.sock")
    assert 68 <= len(path) <= 75, path
    srv = start_server(["--unixsocket", path, "--unixsocketperm", "700"])
    import redis
    u = redis.Redis(unix_socket_path=path, socket_timeout=10)
    try:
        info = client_fields(u.execute_command("CLIENT", "INFO"))
        assert info[b"flags"] == b"U", info
        assert info[b"addr"] == path.encode() + b":0", info
        assert info[b"laddr"] == path.encode() + b":0", info
        uid = u.client_id()
        u.execute_command("MULTI")
        with srv.raw() as c:
            f = client_by_id(srv, uid)
            assert f[b"flags"] == b"xU", f           # Redis's order: x before U
            mine = client_fields(c.execute("CLIENT", "INFO"))
            assert b"U" not in mine[b"flags"], mine  # TCP (or TLS) client
        u.execute_command("DISCARD")
        # redis-py parses the unix form of addr.
        assert len([x for x in u.client_list() if x["addr"] == path + ":0"]) == 1
    finally:
        u.close()


def test_unexpected_error_replies(server, raw):
    """Errors sent to ordinary clients are counted in total_error_replies only: Redis counts in
    unexpected_error_replies the errors sent to its master, replicas or the AOF loader."""
    with server.raw() as c:
        c.execute("CONFIG", "RESETSTAT")
    for _ in range(3):
        raw.execute("NOSUCHCOMMAND")
    raw.execute("INCR", "k")
    raw.execute("LPUSH", "k", "x")  # WRONGTYPE
    stats = dict(line.split(b":", 1) for line in raw.execute("INFO", "stats").split(b"\r\n")
                 if b":" in line)
    assert int(stats[b"total_error_replies"]) >= 4, stats
    assert stats[b"unexpected_error_replies"] == b"0", stats
