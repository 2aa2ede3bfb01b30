"""Blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP): waiting,
FIFO service, timeouts, wake-ups from other clients (other I/O threads, MULTI/EXEC, LMOVE
chains, SWAPDB), CLIENT UNBLOCK, disconnects."""

import time

import pytest

from helpers import (NIL, OK, array, bulk, call, calls, err, info_dict, integer, read_nothing,
                     simple, wait_until)

pytestmark = pytest.mark.needs_types

NULL_ARRAY = b"*-1\r\n"


def blocked_count(ctl):
    return int(info_dict(ctl.execute("INFO", "clients"))["clients"]["blocked_clients"])


def wait_blocked(ctl, n):
    """Wait until exactly n clients are blocked (their command reached the executor)."""
    wait_until(lambda: blocked_count(ctl) == n, what="%d blocked clients" % n)


@pytest.fixture
def ctl(server):
    """A control connection that never blocks."""
    c = server.raw()
    yield c
    c.close()


@pytest.fixture
def clients(server):
    """clients(n) -> n fresh RESP2 connections, closed after the test."""
    made = []

    def make(n, protocol=2):
        new = [server.raw(protocol=protocol) for _ in range(n)]
        made.extend(new)
        return new
    yield make
    for c in made:
        c.close()
    if made and server.alive():
        # The next test counts blocked clients: wait until these are gone.
        with server.raw() as c:
            wait_blocked(c, 0)


# ---------------------------------------------------------------- each command

def test_data_present_does_not_block(raw):
    raw.execute("RPUSH", "l", "a", "b", "c")
    assert call(raw, "BLPOP", "nolist", "l", "0") == array(bulk("l"), bulk("a"))
    assert call(raw, "BRPOP", "l", "0") == array(bulk("l"), bulk("c"))
    assert call(raw, "BLMOVE", "l", "d", "LEFT", "RIGHT", "0") == bulk("b")
    assert call(raw, "BRPOPLPUSH", "d", "l", "0") == bulk("b")
    assert call(raw, "BLMPOP", "0", "2", "nolist", "l", "LEFT") == \
        array(bulk("l"), array(bulk("b")))
    raw.execute("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert call(raw, "BZPOPMIN", "z", "0") == array(bulk("z"), bulk("a"), bulk("1"))
    assert call(raw, "BZPOPMAX", "z", "0") == array(bulk("z"), bulk("c"), bulk("3"))
    assert call(raw, "BZMPOP", "0", "1", "z", "MIN") == \
        array(bulk("z"), array(array(bulk("b"), bulk("2"))))


@pytest.mark.parametrize("cmd, feed, expected", [
    (("BLPOP", "q", "0"), ("RPUSH", "q", "a", "b"), array(bulk("q"), bulk("a"))),
    (("BRPOP", "q", "0"), ("RPUSH", "q", "a", "b"), array(bulk("q"), bulk("b"))),
    (("BLMOVE", "q", "dst", "RIGHT", "LEFT", "0"), ("RPUSH", "q", "a", "b"), bulk("b")),
    (("BRPOPLPUSH", "q", "dst", "0"), ("RPUSH", "q", "a", "b"), bulk("b")),
    (("BLMPOP", "0", "2", "other", "q", "RIGHT", "COUNT", "5"), ("RPUSH", "q", "a", "b"),
     array(bulk("q"), array(bulk("b"), bulk("a")))),
    (("BZPOPMIN", "other", "q", "0"), ("ZADD", "q", "1", "a", "2", "b"),
     array(bulk("q"), bulk("a"), bulk("1"))),
    (("BZPOPMAX", "q", "0"), ("ZADD", "q", "1", "a", "2", "b"),
     array(bulk("q"), bulk("b"), bulk("2"))),
    (("BZMPOP", "0", "1", "q", "MAX", "COUNT", "2"), ("ZADD", "q", "1", "a", "2", "b"),
     array(bulk("q"), array(array(bulk("b"), bulk("2")), array(bulk("a"), bulk("1"))))),
])
def test_each_command_blocks_until_fed(ctl, clients, cmd, feed, expected):
    (c,) = clients(1)
    c.send_command(*cmd)
    wait_blocked(ctl, 1)
    read_nothing(c, 0.05)
    ctl.execute(*feed)
    assert c.read_reply()[0] == expected
    assert blocked_count(ctl) == 0


def test_blmove_pushes_to_destination(ctl, clients):
    (c,) = clients(1)
    c.send_command("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    wait_blocked(ctl, 1)
    ctl.execute("RPUSH", "dst", "old")
    ctl.execute("RPUSH", "src", "v1", "v2")
    assert c.read_reply()[0] == bulk("v1")
    assert ctl.execute("LRANGE", "dst", "0", "-1") == [b"old", b"v1"]
    assert ctl.execute("LRANGE", "src", "0", "-1") == [b"v2"]


# ---------------------------------------------------------------- timeouts

@pytest.mark.parametrize("timeout, low, high", [("0.1", 0.09, 1.0), ("0.25", 0.24, 1.2),
                                                ("0.0009", 0.0, 0.5), (".05", 0.04, 0.8)])
def test_fractional_timeouts(raw, timeout, low, high):
    start = time.monotonic()
    assert call(raw, "BLPOP", "nolist", timeout) == NULL_ARRAY
    took = time.monotonic() - start
    assert low <= took <= high, took


def test_timeout_replies_by_command(raw, r3):
    for cmd in (("BLPOP", "x", "0.01"), ("BRPOP", "x", "y", "0.01"),
                ("BLMOVE", "x", "y", "LEFT", "LEFT", "0.01"), ("BRPOPLPUSH", "x", "y", "0.01"),
                ("BLMPOP", "0.01", "1", "x", "LEFT"), ("BZPOPMIN", "x", "0.01"),
                ("BZPOPMAX", "x", "0.01"), ("BZMPOP", "0.01", "1", "x", "MIN")):
        assert call(raw, *cmd) == NULL_ARRAY, cmd
        assert call(r3, *cmd) == b"_\r\n", cmd


def test_timeout_errors(raw):
    not_float = err("ERR timeout is not a float or out of range")
    negative = err("ERR timeout is negative")
    for bad in ("abc", "", " 1", "1 ", "nan", "1e5000"):
        assert call(raw, "BLPOP", "x", bad) == not_float, bad
    for bad in ("-1", "-0.5", "inf", "-inf", "1e16", "1e30"):
        assert call(raw, "BLPOP", "x", bad) == negative, bad
    assert call(raw, "BZPOPMIN", "x", "abc") == not_float
    assert call(raw, "BLMPOP", "-1", "1", "x", "LEFT") == negative
    assert call(raw, "BRPOPLPUSH", "x", "y", "-1") == negative
    assert call(raw, "BLMOVE", "x", "y", "LEFT", "LEFT", "nan") == not_float


def test_timeout_zero_waits_forever(ctl, clients):
    c, d = clients(2)
    c.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 1)
    d.send_command("BLPOP", "q", "-0.0001")  # rounds to 0 ms: forever as well
    wait_blocked(ctl, 2)
    read_nothing(c, 0.4)
    clients_info = info_dict(ctl.execute("INFO", "clients"))["clients"]
    assert clients_info["clients_in_timeout_table"] == "0"
    ctl.execute("RPUSH", "q", "x", "y")
    assert c.read_reply()[0] == array(bulk("q"), bulk("x"))
    assert d.read_reply()[0] == array(bulk("q"), bulk("y"))


def test_timeout_table_and_client_list(ctl, clients):
    c, d = clients(2)
    cid = c.execute("CLIENT", "ID")
    c.send_command("BLPOP", "q", "10")
    d.send_command("BZPOPMIN", "z", "0")
    wait_blocked(ctl, 2)
    info = info_dict(ctl.execute("INFO", "clients"))["clients"]
    assert info["blocked_clients"] == "2" and info["clients_in_timeout_table"] == "1"
    line = ctl.execute("CLIENT", "LIST", "ID", str(cid))
    assert b" flags=b " in line and b" cmd=blpop " in line
    ctl.execute("LPUSH", "q", "v")
    assert c.read_reply()[0] == array(bulk("q"), bulk("v"))
    info = info_dict(ctl.execute("INFO", "clients"))["clients"]
    assert info["blocked_clients"] == "1" and info["clients_in_timeout_table"] == "0"
    assert b" flags=N " in ctl.execute("CLIENT", "LIST", "ID", str(cid))


# ---------------------------------------------------------------- service order and wake-ups

def test_fifo_service_order(ctl, clients):
    cs = clients(3)
    for i, c in enumerate(cs):
        c.send_command("BLPOP", "q", "0")
        wait_blocked(ctl, i + 1)
    for i, c in enumerate(cs):
        ctl.execute("RPUSH", "q", "v%d" % i)
        assert c.read_reply()[0] == array(bulk("q"), bulk("v%d" % i))
    # One push of several values serves the waiters oldest first.
    for i, c in enumerate(cs):
        c.send_command("BRPOP", "q", "0")
        wait_blocked(ctl, i + 1)
    ctl.execute("RPUSH", "q", "a", "b", "c")
    assert [c.read_reply()[0] for c in cs] == [array(bulk("q"), bulk(x)) for x in "cba"]


def test_woken_by_push_from_other_clients(server, ctl, clients):
    """Pushers and waiters on many connections (spread over the I/O threads with io-threads 4)."""
    waiters = clients(6)
    pushers = clients(6)
    for i, c in enumerate(waiters):
        c.send_command("BLPOP", "k%d" % i, "0")
    wait_blocked(ctl, 6)
    for i, p in enumerate(reversed(pushers)):
        assert p.execute("LPUSH", "k%d" % i, "from-%d" % i) == 1
    for i, c in enumerate(waiters):
        assert c.read_reply()[0] == array(bulk("k%d" % i), bulk("from-%d" % i))
    # The values were consumed by the waiters.
    assert ctl.execute("EXISTS", *["k%d" % i for i in range(6)]) == 0


def test_served_after_exec_as_a_whole(ctl, clients):
    (c,) = clients(1)
    c.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 1)
    assert call(ctl, "MULTI") == OK
    assert calls(ctl, ("LPUSH", "q", "a"), ("LPUSH", "q", "b"), ("LLEN", "q")) == \
        [simple("QUEUED")] * 3
    assert call(ctl, "EXEC") == array(integer(1), integer(2), integer(2))
    assert c.read_reply()[0] == array(bulk("q"), bulk("b"))
    assert ctl.execute("LRANGE", "q", "0", "-1") == [b"a"]
    # A key created and deleted inside one transaction wakes nobody.
    c.send_command("BLPOP", "q2", "0")
    wait_blocked(ctl, 1)
    assert call(ctl, "MULTI") == OK
    assert calls(ctl, ("LPUSH", "q2", "a"), ("DEL", "q2")) == [simple("QUEUED")] * 2
    assert call(ctl, "EXEC") == array(integer(1), integer(1))
    read_nothing(c, 0.2)
    ctl.execute("RPUSH", "q2", "z")
    assert c.read_reply()[0] == array(bulk("q2"), bulk("z"))


def test_lmove_and_rpoplpush_chains(ctl, clients):
    a, b, c = clients(3)
    a.send_command("BRPOPLPUSH", "l1", "l2", "0")
    b.send_command("BLMOVE", "l2", "l3", "LEFT", "LEFT", "0")
    c.send_command("BLPOP", "l3", "0")
    wait_blocked(ctl, 3)
    ctl.execute("LPUSH", "l1", "item")
    assert a.read_reply()[0] == bulk("item")
    assert b.read_reply()[0] == bulk("item")
    assert c.read_reply()[0] == array(bulk("l3"), bulk("item"))
    assert ctl.execute("EXISTS", "l1", "l2", "l3") == 0
    # LMOVE (not blocking) from another client also feeds a waiter.
    a.send_command("BLPOP", "dst", "0")
    wait_blocked(ctl, 1)
    ctl.execute("RPUSH", "src", "x")
    assert ctl.execute("LMOVE", "src", "dst", "LEFT", "RIGHT") == b"x"
    assert a.read_reply()[0] == array(bulk("dst"), bulk("x"))


def test_blmove_to_own_source_rotates(ctl, clients):
    a, b = clients(2)
    a.send_command("BLMOVE", "ring", "ring", "LEFT", "RIGHT", "0")
    wait_blocked(ctl, 1)
    b.send_command("BLPOP", "ring", "0")
    wait_blocked(ctl, 2)
    ctl.execute("RPUSH", "ring", "only")
    assert a.read_reply()[0] == bulk("only")
    assert b.read_reply()[0] == array(bulk("ring"), bulk("only"))


def test_wrong_type_does_not_wake(ctl, clients):
    a, b = clients(2)
    a.send_command("BLPOP", "k", "0")
    b.send_command("BZPOPMIN", "k", "0")
    wait_blocked(ctl, 2)
    ctl.execute("ZADD", "k", "1", "m")   # only the sorted-set waiter is served
    assert b.read_reply()[0] == array(bulk("k"), bulk("m"), bulk("1"))
    read_nothing(a, 0.1)
    ctl.execute("SET", "k", "string")   # a string wakes nobody
    read_nothing(a, 0.1)
    ctl.execute("DEL", "k")
    ctl.execute("RPUSH", "k", "v")
    assert a.read_reply()[0] == array(bulk("k"), bulk("v"))


def test_several_keys_and_duplicates(ctl, clients):
    (c,) = clients(1)
    c.send_command("BLPOP", "k1", "k2", "k1", "0")
    wait_blocked(ctl, 1)
    ctl.execute("RPUSH", "k2", "v")
    assert c.read_reply()[0] == array(bulk("k2"), bulk("v"))
    ctl.execute("RPUSH", "k1", "w")
    assert ctl.execute("LLEN", "k1") == 1  # the client is no longer waiting on k1


def test_other_db_does_not_wake(ctl, clients):
    (c,) = clients(1)
    assert c.execute("SELECT", "3") == b"OK"
    c.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 1)
    ctl.execute("RPUSH", "q", "db0")
    read_nothing(c, 0.1)
    ctl.execute("SELECT", "3")
    ctl.execute("RPUSH", "q", "db3")
    assert c.read_reply()[0] == array(bulk("q"), bulk("db3"))


def test_swapdb_wakes_waiters(ctl, clients):
    (c,) = clients(1)
    c.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 1)
    ctl.execute("SELECT", "1")
    ctl.execute("RPUSH", "q", "from-db1")
    read_nothing(c, 0.1)
    assert ctl.execute("SWAPDB", "0", "1") == b"OK"
    assert c.read_reply()[0] == array(bulk("q"), bulk("from-db1"))


def test_pipelined_commands_run_after_service(ctl, clients):
    (c,) = clients(1)
    c.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n"
           b"*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$4\r\n0.05\r\n"
           b"*2\r\n$4\r\nECHO\r\n$3\r\nend\r\n")
    wait_blocked(ctl, 1)
    read_nothing(c, 0.1)
    ctl.execute("RPUSH", "q", "a", "b")
    assert [c.read_reply()[0] for _ in range(5)] == [
        array(bulk("q"), bulk("a")), simple("PONG"), integer(1), array(bulk("q"), bulk("b")),
        bulk("end")]
    # A second blocking command later in the same batch blocks in turn.
    c.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
    wait_blocked(ctl, 1)
    ctl.execute("RPUSH", "q", "1")
    assert c.read_reply()[0] == array(bulk("q"), bulk("1"))
    wait_blocked(ctl, 1)
    ctl.execute("RPUSH", "q", "2")
    assert c.read_reply()[0] == array(bulk("q"), bulk("2"))


def test_hundred_clients_fifo(ctl, clients):
    cs = clients(100)
    for i, c in enumerate(cs):
        c.send_command("BLPOP", "q", "0")
        wait_blocked(ctl, i + 1)
    for i in range(100):
        assert ctl.execute("RPUSH", "q", "v%d" % i) in (0, 1)
    for i, c in enumerate(cs):
        assert c.read_reply()[0] == array(bulk("q"), bulk("v%d" % i)), i
    assert blocked_count(ctl) == 0
    assert ctl.execute("EXISTS", "q") == 0


# ---------------------------------------------------------------- CLIENT UNBLOCK, disconnects

def test_client_unblock(ctl, clients, r3):
    (c,) = clients(1)
    cid = c.execute("CLIENT", "ID")
    c.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 1)
    assert call(ctl, "CLIENT", "UNBLOCK", str(cid)) == integer(1)
    assert c.read_reply()[0] == NULL_ARRAY
    assert call(ctl, "CLIENT", "UNBLOCK", str(cid)) == integer(0)  # no longer blocked
    c.send_command("BZPOPMAX", "z", "100")
    wait_blocked(ctl, 1)
    assert call(ctl, "CLIENT", "UNBLOCK", str(cid), "timeout") == integer(1)
    assert c.read_reply()[0] == NULL_ARRAY
    c.send_command("BLMOVE", "a", "b", "LEFT", "LEFT", "0")
    wait_blocked(ctl, 1)
    assert call(ctl, "CLIENT", "UNBLOCK", str(cid), "ERROR") == integer(1)
    assert c.read_reply()[0] == err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert blocked_count(ctl) == 0
    # RESP3 clients get the RESP3 null.
    rid = r3.execute("CLIENT", "ID")
    r3.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 1)
    assert call(ctl, "CLIENT", "UNBLOCK", str(rid)) == integer(1)
    assert r3.read_reply()[0] == b"_\r\n"


def test_client_unblock_errors(ctl):
    assert call(ctl, "CLIENT", "UNBLOCK", "abc") == \
        err("ERR value is not an integer or out of range")
    assert call(ctl, "CLIENT", "UNBLOCK", "999999") == integer(0)
    assert call(ctl, "CLIENT", "UNBLOCK", "-1") == integer(0)
    assert call(ctl, "CLIENT", "UNBLOCK", "999999", "foo") == \
        err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    assert call(ctl, "CLIENT", "UNBLOCK", "1", "timeout", "x") == err(
        "ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP.")
    assert call(ctl, "CLIENT", "UNBLOCK") == \
        err("ERR wrong number of arguments for 'client|unblock' command")
    # A client that is not blocked (here: ourselves) is not unblocked.
    cid = ctl.execute("CLIENT", "ID")
    assert call(ctl, "CLIENT", "UNBLOCK", str(cid)) == integer(0)


def test_unblocked_client_continues_its_pipeline(ctl, clients):
    (c,) = clients(1)
    cid = c.execute("CLIENT", "ID")
    c.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*2\r\n$4\r\nECHO\r\n$5\r\nafter\r\n")
    wait_blocked(ctl, 1)
    assert ctl.execute("CLIENT", "UNBLOCK", str(cid), "ERROR") == 1
    assert c.read_reply()[0] == err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert c.read_reply()[0] == bulk("after")


def test_disconnect_while_blocked(server, ctl):
    c = server.raw()
    c.send_command("BLPOP", "q", "0")
    d = server.raw()
    d.send_command("BLPOP", "q", "5")
    wait_blocked(ctl, 2)
    c.close()
    d.close()
    wait_blocked(ctl, 0)
    info = info_dict(ctl.execute("INFO", "clients"))["clients"]
    assert info["clients_in_timeout_table"] == "0"
    ctl.execute("RPUSH", "q", "kept")
    assert ctl.execute("LRANGE", "q", "0", "-1") == [b"kept"]


def test_client_kill_blocked(ctl, clients):
    c, d = clients(2)
    cid = c.execute("CLIENT", "ID")
    c.send_command("BLPOP", "q", "0")
    d.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 2)
    assert ctl.execute("CLIENT", "KILL", "ID", str(cid)) == 1
    assert c.is_closed_by_peer()
    wait_blocked(ctl, 1)
    ctl.execute("RPUSH", "q", "v")
    assert d.read_reply()[0] == array(bulk("q"), bulk("v"))


@pytest.mark.slow
def test_idle_timeout_spares_blocked_clients(ctl, clients, config_set):
    config_set("timeout", "1")
    c, idle = clients(2)
    c.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 1)
    # Keep the control connection busy while the idle one times out.
    for _ in range(60):
        ctl.execute("PING")
        if idle.is_closed_by_peer(timeout=0.1):
            break
    else:
        pytest.fail("the idle client was not closed")
    for _ in range(10):
        ctl.execute("PING")
        time.sleep(0.1)
    assert blocked_count(ctl) == 1
    ctl.execute("RPUSH", "q", "still-here")
    assert c.read_reply()[0] == array(bulk("q"), bulk("still-here"))


def test_commandstats_count_blocked_call_once(ctl, clients):
    ctl.execute("CONFIG", "RESETSTAT")
    (c,) = clients(1)
    c.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 1)
    ctl.execute("ZADD", "q2", "1", "a")
    ctl.execute("RPUSH", "q", "v")
    assert c.read_reply()[0] == array(bulk("q"), bulk("v"))
    assert call(c, "BLPOP", "q", "0.01") == NULL_ARRAY
    stats = info_dict(ctl.execute("INFO", "commandstats"))["commandstats"]
    fields = dict(kv.split("=") for kv in stats["cmdstat_blpop"].split(","))
    assert fields["calls"] == "2" and fields["failed_calls"] == "0"


def test_expired_value_does_not_serve(ctl, clients):
    (c,) = clients(1)
    c.send_command("BLPOP", "q", "0")
    wait_blocked(ctl, 1)
    # Created with a TTL that has passed by the time it would be served: nothing to pop.
    assert call(ctl, "MULTI") == OK
    calls(ctl, ("RPUSH", "q", "old"), ("PEXPIRE", "q", "1"), ("DEBUG", "SLEEP", "0.01"))
    assert call(ctl, "EXEC") == array(integer(1), integer(1), OK)
    read_nothing(c, 0.1)
    ctl.execute("RPUSH", "q", "fresh")
    assert c.read_reply()[0] == array(bulk("q"), bulk("fresh"))
