"""Server commands: DBSIZE FLUSHDB FLUSHALL SWAPDB TIME INFO CONFIG COMMAND DEBUG SHUTDOWN."""

import os
import re
import time

import pytest

from helpers import NIL, OK, SYNTAX, bulk, call, err, info_dict, integer, wrong_args
from klserver import Server


def test_dbsize_flushdb_flushall(raw):
    assert call(raw, "DBSIZE") == integer(0)
    for i in range(10):
        raw.execute("SET", "k%d" % i, i)
    assert call(raw, "DBSIZE") == integer(10)
    raw.execute("SELECT", "1")
    raw.execute("SET", "other", "x")
    assert call(raw, "DBSIZE") == integer(1)
    raw.execute("SELECT", "0")
    assert call(raw, "FLUSHDB") == OK
    assert call(raw, "DBSIZE") == integer(0)
    raw.execute("SELECT", "1")
    assert call(raw, "DBSIZE") == integer(1)
    raw.execute("SELECT", "0")
    raw.execute("SET", "x", "1")
    assert call(raw, "FLUSHALL") == OK
    assert call(raw, "DBSIZE") == integer(0)
    raw.execute("SELECT", "1")
    assert call(raw, "DBSIZE") == integer(0)
    assert call(raw, "DBSIZE", "x") == wrong_args("dbsize")


@pytest.mark.parametrize("cmd", ["FLUSHDB", "FLUSHALL"])
def test_flush_sync_async(raw, cmd):
    for opt in ("SYNC", "ASYNC", "sync", "async"):
        raw.execute("MSET", "a", "1", "b", "2")
        assert call(raw, cmd, opt) == OK
        assert call(raw, "DBSIZE") == integer(0)
    assert call(raw, cmd, "NOW") == SYNTAX
    assert call(raw, cmd, "SYNC", "ASYNC") == SYNTAX


def test_flushall_async_large(raw):
    raw.send(b"".join(b"*3\r\n$3\r\nSET\r\n$6\r\nk%05d\r\n$1\r\nv\r\n" % i for i in range(5000)))
    for _ in range(5000):
        raw.read_reply()
    assert call(raw, "DBSIZE") == integer(5000)
    assert call(raw, "FLUSHALL", "ASYNC") == OK
    assert call(raw, "DBSIZE") == integer(0)
    assert call(raw, "SET", "k00001", "new") == OK
    assert call(raw, "GET", "k00001") == bulk("new")


def test_swapdb(raw):
    raw.execute("SET", "a", "in0")
    raw.execute("SELECT", "1")
    raw.execute("SET", "b", "in1")
    assert call(raw, "SWAPDB", "0", "1") == OK
    # This connection still has db 1 selected, which now holds the former db 0.
    assert call(raw, "GET", "a") == bulk("in0")
    assert call(raw, "GET", "b") == NIL
    raw.execute("SELECT", "0")
    assert call(raw, "GET", "b") == bulk("in1")
    assert call(raw, "SWAPDB", "0", "0") == OK
    assert call(raw, "GET", "b") == bulk("in1")
    assert call(raw, "SWAPDB", "0", "16") == err("ERR DB index is out of range")
    assert call(raw, "SWAPDB", "-1", "0") == err("ERR DB index is out of range")
    assert call(raw, "SWAPDB", "a", "1") == err("ERR invalid first DB index")
    assert call(raw, "SWAPDB", "0", "b") == err("ERR invalid second DB index")
    assert call(raw, "SWAPDB", "0") == wrong_args("swapdb")


def test_swapdb_seen_by_other_clients(server, raw):
    raw.execute("SET", "a", "zero")
    with server.raw() as other:
        other.execute("SELECT", "3")
        assert call(other, "GET", "a") == NIL
        assert call(raw, "SWAPDB", "0", "3") == OK
        assert call(other, "GET", "a") == bulk("zero")


def test_time(raw):
    rawreply, v = raw.call("TIME")
    assert re.fullmatch(rb"\*2\r\n\$\d+\r\n\d+\r\n\$\d+\r\n\d+\r\n", rawreply)
    secs, usecs = int(v[0]), int(v[1])
    assert 0 <= usecs < 1000000
    assert abs(secs + usecs / 1e6 - time.time()) < 5
    assert call(raw, "TIME", "x") == wrong_args("time")


def test_info_sections(raw):
    text = raw.execute("INFO")
    assert isinstance(text, bytes)
    info = info_dict(text)
    for section in ("server", "clients", "memory", "stats", "keyspace"):
        assert section in info, section
    assert info["server"]["redis_version"] == "7.0.15"
    assert info["server"]["redis_mode"] == "standalone"
    assert int(info["server"]["tcp_port"]) >= 0
    assert int(info["server"]["process_id"]) > 0
    assert int(info["clients"]["connected_clients"]) >= 1
    assert int(info["memory"]["used_memory"]) > 0
    assert int(info["stats"]["total_commands_processed"]) > 0
    assert text.endswith(b"\r\n")
    # Section selection, case-insensitive, several sections at once (7.0).
    only = info_dict(raw.execute("INFO", "Server"))
    assert list(only) == ["server"]
    two = info_dict(raw.execute("INFO", "server", "clients"))
    assert list(two) == ["server", "clients"]
    assert raw.execute("INFO", "nosuchsection") == b""
    every = info_dict(raw.execute("INFO", "everything"))
    assert "commandstats" in every
    assert "commandstats" not in info


def test_info_port_matches(server, raw):
    # tcp_port reports the TLS port when the plain port is 0 (--port 0 --tls-port P).
    info = info_dict(raw.execute("INFO", "server"))
    assert int(info["server"]["tcp_port"]) == server.port


def test_info_keyspace_format(raw):
    assert raw.execute("INFO", "keyspace") == b"# Keyspace\r\n"
    raw.execute("SET", "a", "1")
    assert raw.execute("INFO", "keyspace") == b"# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"
    raw.execute("SET", "b", "1", "EX", "1000")
    raw.execute("SELECT", "9")
    raw.execute("SET", "c", "1")
    text = raw.execute("INFO", "keyspace").decode()
    lines = text.split("\r\n")
    assert lines[0] == "# Keyspace"
    assert re.fullmatch(r"db0:keys=2,expires=1,avg_ttl=\d+", lines[1]), lines
    assert lines[2] == "db9:keys=1,expires=0,avg_ttl=0"
    assert lines[3:] == [""]


def test_info_stats_counters(server, raw):
    raw.execute("CONFIG", "RESETSTAT")
    raw.execute("SET", "k", "v")
    raw.execute("GET", "k")
    raw.execute("GET", "k")
    raw.execute("GET", "missing")
    stats = info_dict(raw.execute("INFO", "stats"))["stats"]
    assert stats["keyspace_hits"] == "2"
    assert stats["keyspace_misses"] == "1"
    assert call(raw, "CONFIG", "RESETSTAT") == OK
    stats = info_dict(raw.execute("INFO", "stats"))["stats"]
    assert stats["keyspace_hits"] == "0"
    assert stats["keyspace_misses"] == "0"
    # RESETSTAT itself is the only command counted before INFO.
    assert int(stats["total_commands_processed"]) <= 2
    cmdstats = info_dict(raw.execute("INFO", "commandstats"))["commandstats"]
    assert "cmdstat_get" not in cmdstats
    assert re.fullmatch(r"calls=1,usec=\d+,usec_per_call=[\d.]+,rejected_calls=0,failed_calls=0",
                        cmdstats["cmdstat_config|resetstat"])


def test_config_get_set(raw, config_set):
    got = raw.execute("CONFIG", "GET", "maxclients")
    assert got[0] == b"maxclients" and int(got[1]) > 0 and len(got) == 2
    config_set("timeout", "0")               # restored after the test
    config_set("slowlog-max-len", "128")
    assert call(raw, "CONFIG", "SET", "timeout", "123") == OK
    assert raw.execute("CONFIG", "GET", "timeout") == [b"timeout", b"123"]
    # Several parameters at once, several patterns at once (7.0).
    assert call(raw, "CONFIG", "SET", "timeout", "0", "slowlog-max-len", "128") == OK
    got = raw.execute("CONFIG", "GET", "timeout", "slowlog-max-len")
    assert dict(zip(got[0::2], got[1::2])) == {b"timeout": b"0", b"slowlog-max-len": b"128"}
    # Globs.
    got = raw.execute("CONFIG", "GET", "slowlog-*")
    assert set(got[0::2]) == {b"slowlog-log-slower-than", b"slowlog-max-len"}
    assert raw.execute("CONFIG", "GET", "nonexistent") == []
    # Memory units.
    config_set("client-query-buffer-limit", "1gb")
    assert call(raw, "CONFIG", "SET", "client-query-buffer-limit", "2mb") == OK
    assert raw.execute("CONFIG", "GET", "client-query-buffer-limit") == [
        b"client-query-buffer-limit", b"2097152"]


def test_config_errors(raw):
    assert call(raw, "CONFIG", "SET", "nonexistent", "1") == err(
        "ERR Unknown option or number of arguments for CONFIG SET - 'nonexistent'")
    assert call(raw, "CONFIG", "SET", "maxclients", "abc") == err(
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't "
        "be parsed into an integer")
    assert call(raw, "CONFIG", "SET", "timeout", "-1") == err(
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be "
        "between 0 and 2147483647 inclusive")
    assert call(raw, "CONFIG", "SET", "timeout", "0", "timeout", "1") == err(
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter")
    assert call(raw, "CONFIG", "SET", "timeout") == wrong_args("config|set")
    assert call(raw, "CONFIG", "GET") == wrong_args("config|get")
    assert call(raw, "CONFIG", "FOO") == err("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")
    assert call(raw, "CONFIG") == wrong_args("config")
    assert call(raw, "CONFIG", "REWRITE") == err("ERR The server is running without a config file")


def test_config_get_resp3_map(r3):
    rawreply, v = r3.call("CONFIG", "GET", "maxclients")
    assert rawreply == b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    assert r3.call("CONFIG", "GET", "nonexistent")[0] == b"%0\r\n"


def test_config_rewrite_keeps_comments(start_server, tmp_path):
    conf = tmp_path / "keyloom.conf"
    conf.write_text("# top comment, kept by CONFIG REWRITE\n"
                    "timeout 10\n"
                    "\n"
                    "# a comment about slowlog\n"
                    "slowlog-max-len 200\n")
    workdir = tmp_path / "data"
    workdir.mkdir()
    srv = start_server(config_file=str(conf), workdir=str(workdir))
    with srv.raw() as c:
        assert c.execute("CONFIG", "GET", "timeout") == [b"timeout", b"10"]
        assert c.execute("CONFIG", "GET", "slowlog-max-len") == [b"slowlog-max-len", b"200"]
        assert call(c, "CONFIG", "SET", "timeout", "77") == OK
        assert call(c, "CONFIG", "SET", "maxmemory-policy", "allkeys-lru") == OK
        assert call(c, "CONFIG", "REWRITE") == OK
    text = conf.read_text()
    lines = text.splitlines()
    assert "# top comment, kept by CONFIG REWRITE" in lines
    assert "# a comment about slowlog" in lines
    assert "timeout 77" in lines
    assert "timeout 10" not in lines
    assert "slowlog-max-len 200" in lines
    assert "maxmemory-policy allkeys-lru" in lines
    # New settings go below a marker line, after the user's own lines.
    marker = lines.index("# Generated by CONFIG REWRITE")
    assert lines.index("maxmemory-policy allkeys-lru") > marker > lines.index("slowlog-max-len 200")
    # The rewritten file is usable: a fresh server started from it sees the new values.
    srv.stop()
    with Server(config_file=str(conf), mode=srv.mode, workdir=str(workdir)) as again:
        with again.raw() as c:
            assert c.execute("CONFIG", "GET", "timeout") == [b"timeout", b"77"]
            assert c.execute("CONFIG", "GET", "maxmemory-policy") == [
                b"maxmemory-policy", b"allkeys-lru"]


def test_command_count_list_info_docs(raw):
    count = raw.execute("COMMAND", "COUNT")
    assert isinstance(count, int) and count > 50
    everything = raw.execute("COMMAND")
    assert len(everything) == count
    names = raw.execute("COMMAND", "LIST")
    assert isinstance(names, list)
    for name in (b"get", b"set", b"ping", b"hello", b"client|list", b"config|get"):
        assert name in names, name
    info = raw.execute("COMMAND", "INFO", "get", "nosuchcommand")
    assert len(info) == 2 and info[1] is None
    get = info[0]
    assert len(get) == 10
    assert get[0] == b"get" and get[1] == 2
    assert set(get[2]) == {b"readonly", b"fast"}
    assert get[3:6] == [1, 1, 1]
    assert b"@string" in get[6]
    docs = raw.execute("COMMAND", "DOCS", "get")
    assert docs[0] == b"get"
    fields = dict(zip(docs[1][0::2], docs[1][1::2]))
    assert fields[b"summary"] == b"Get the value of a key"
    assert fields[b"group"] == b"string"
    assert raw.execute("COMMAND", "DOCS", "nosuchcommand") == []
    assert raw.execute("COMMAND", "LIST", "FILTERBY", "PATTERN", "getd*") == [b"getdel"]
    assert call(raw, "COMMAND", "COUNT", "x") == wrong_args("command|count")
    assert call(raw, "COMMAND", "GETKEYS", "SET", "a", "b") == b"*1\r\n$1\r\na\r\n"


def test_command_resp3_shape(r3):
    rawreply, v = r3.call("COMMAND", "INFO", "get")
    assert rawreply.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n")
    assert r3.call("COMMAND", "INFO", "nosuch")[0] == b"*1\r\n_\r\n"
    assert r3.call("COMMAND", "DOCS", "nosuch")[0] == b"%0\r\n"
    assert r3.call("COMMAND", "DOCS", "get")[0].startswith(b"%1\r\n$3\r\nget\r\n%")


def test_debug_sleep_and_object(raw):
    t = time.monotonic()
    assert call(raw, "DEBUG", "SLEEP", "0.2") == OK
    assert time.monotonic() - t >= 0.19
    assert call(raw, "DEBUG", "SLEEP", "0") == OK
    raw.execute("SET", "k", "v")
    v = raw.execute("DEBUG", "OBJECT", "k")
    assert re.fullmatch(rb"Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:\d+ "
                        rb"lru:\d+ lru_seconds_idle:\d+", v), v
    assert call(raw, "DEBUG", "OBJECT", "nokey") == err("ERR no such key")
    assert call(raw, "DEBUG", "FOO") == err(
        "ERR unknown subcommand or wrong number of arguments for 'FOO'. Try DEBUG HELP.")


def test_debug_set_active_expire(raw):
    assert call(raw, "DEBUG", "SET-ACTIVE-EXPIRE", "0") == OK
    try:
        raw.execute("SET", "k", "v", "PX", "50")
        time.sleep(0.4)
        # Not expired actively: the key still counts, until a lookup expires it lazily.
        assert call(raw, "DBSIZE") == integer(1)
        assert call(raw, "EXISTS", "k") == integer(0)
        assert call(raw, "DBSIZE") == integer(0)
    finally:
        assert call(raw, "DEBUG", "SET-ACTIVE-EXPIRE", "1") == OK


def test_shutdown_nosave(start_server):
    srv = start_server()
    c = srv.raw()
    c.send(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
    # No reply: the connection is closed when the server exits.
    assert c.read_until_closed() == b""
    c.close()
    assert srv.wait_exit() == 0
    assert not os.path.exists(os.path.join(srv.dir, "dump.rdb"))


def test_shutdown_errors(raw):
    assert call(raw, "SHUTDOWN", "FOO") == SYNTAX
    assert call(raw, "SHUTDOWN", "NOSAVE", "SAVE") == SYNTAX


def test_config_resetstat_resets_network_counters(server):
    with server.raw() as c:
        c.execute("SET", "k", "x" * 5000)
        for _ in range(20):
            c.execute("GET", "k")
        before = info_dict(c.execute("INFO", "stats"))["stats"]
        assert int(before["total_net_input_bytes"]) > 5000
        assert int(before["total_net_output_bytes"]) > 20 * 5000
        assert c.execute("CONFIG", "RESETSTAT") == b"OK"
        after = info_dict(c.execute("INFO", "stats"))["stats"]
        # Only CONFIG RESETSTAT's reply and this INFO's request since the reset.
        assert int(after["total_net_input_bytes"]) < 200
        assert int(after["total_net_output_bytes"]) < 100
        assert int(after["total_reads_processed"]) <= 3
        assert int(after["total_commands_processed"]) <= 2
