"""Transactions: MULTI/EXEC/DISCARD/WATCH/UNWATCH (Redis 7.0 semantics, replies byte for byte)."""

import time

import pytest
import redis

from helpers import (NIL, OK, array, bulk, call, calls, err, info_dict, integer, read_nothing,
                     simple, wait_until, wrong_args)

QUEUED = simple("QUEUED")
NULL_ARRAY = b"*-1\r\n"
EXECABORT = err("EXECABORT Transaction discarded because of previous errors.")


def exec_ok(raw, *cmds):
    """Run cmds inside MULTI/EXEC and return EXEC's raw reply (checking every +QUEUED)."""
    assert call(raw, "MULTI") == OK
    for cmd in cmds:
        assert call(raw, *cmd) == QUEUED, cmd
    return call(raw, "EXEC")


# ---------------------------------------------------------------- MULTI / EXEC / DISCARD

def test_exec_runs_queued_commands_in_order(raw):
    assert call(raw, "MULTI") == OK
    assert calls(raw, ("SET", "a", "1"), ("INCR", "a"), ("GET", "a"), ("GET", "nokey")) == \
        [QUEUED] * 4
    assert call(raw, "EXEC") == array(OK, integer(2), bulk("2"), NIL)
    assert call(raw, "GET", "a") == bulk("2")


def test_empty_transaction(raw):
    assert call(raw, "MULTI") == OK
    assert call(raw, "EXEC") == b"*0\r\n"


def test_transaction_state_errors(raw):
    assert call(raw, "EXEC") == err("ERR EXEC without MULTI")
    assert call(raw, "DISCARD") == err("ERR DISCARD without MULTI")
    assert call(raw, "MULTI") == OK
    # These run at once and do not flag the transaction.
    assert call(raw, "MULTI") == err("ERR MULTI calls can not be nested")
    assert call(raw, "WATCH", "x") == err("ERR WATCH inside MULTI is not allowed")
    assert call(raw, "SET", "x", "1") == QUEUED
    assert call(raw, "EXEC") == array(OK)
    assert call(raw, "EXEC") == err("ERR EXEC without MULTI")


def test_queuing_errors_abort_exec(raw):
    # Unknown command.
    assert call(raw, "MULTI") == OK
    assert call(raw, "SET", "k", "1") == QUEUED
    assert call(raw, "NOSUCH", "arg") == \
        err("ERR unknown command 'NOSUCH', with args beginning with: 'arg' ")
    assert call(raw, "EXEC") == EXECABORT
    assert call(raw, "GET", "k") == NIL
    # Wrong arity.
    assert call(raw, "MULTI") == OK
    assert call(raw, "SET", "k") == wrong_args("set")
    assert call(raw, "EXEC") == EXECABORT
    # no-multi commands.
    assert call(raw, "MULTI") == OK
    assert call(raw, "SHUTDOWN") == err("ERR Command not allowed inside a transaction")
    assert call(raw, "SET", "k", "1") == QUEUED
    assert call(raw, "EXEC") == EXECABORT
    assert call(raw, "GET", "k") == NIL
    # Wrong arity of the transaction commands themselves flags it too.
    assert call(raw, "MULTI") == OK
    assert call(raw, "MULTI", "x") == wrong_args("multi")
    assert call(raw, "WATCH") == wrong_args("watch")
    assert call(raw, "EXEC") == EXECABORT
    assert call(raw, "MULTI") == OK
    assert call(raw, "DISCARD", "x") == wrong_args("discard")
    assert call(raw, "EXEC") == EXECABORT


def test_exec_with_wrong_arity_aborts_with_reason(raw):
    assert call(raw, "MULTI") == OK
    assert call(raw, "SET", "k", "1") == QUEUED
    assert call(raw, "EXEC", "now") == err(
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' "
        "command")
    assert call(raw, "EXEC") == err("ERR EXEC without MULTI")
    assert call(raw, "GET", "k") == NIL


def test_runtime_errors_do_not_abort(raw):
    raw.execute("SET", "s", "abc")
    reply = exec_ok(raw, ("INCR", "s"), ("SET", "t", "1"), ("LPUSH", "t", "x"), ("GET", "t"))
    assert reply == array(err("ERR value is not an integer or out of range"), OK,
                          err("WRONGTYPE Operation against a key holding the wrong kind of value"),
                          bulk("1"))


def test_discard(raw):
    assert call(raw, "MULTI") == OK
    assert call(raw, "SET", "k", "1") == QUEUED
    assert call(raw, "DISCARD") == OK
    assert call(raw, "GET", "k") == NIL
    assert call(raw, "EXEC") == err("ERR EXEC without MULTI")


def test_commands_inside_transaction(raw):
    # SELECT inside EXEC changes the db for the following queued commands and afterwards.
    assert exec_ok(raw, ("SELECT", "1"), ("SET", "k", "in1")) == array(OK, OK)
    assert call(raw, "GET", "k") == bulk("in1")
    assert call(raw, "SELECT", "0") == OK
    assert call(raw, "GET", "k") == NIL
    # UNWATCH is queued; MONITOR cannot run inside EXEC.
    assert exec_ok(raw, ("UNWATCH",), ("MONITOR",), ("PING",)) == array(
        OK, err("ERR MONITOR isn't allowed for DENY BLOCKING client"), simple("PONG"))


def test_disconnect_inside_multi_runs_nothing(server, r):
    with server.raw() as c:
        cid = c.execute("CLIENT", "ID")
        assert call(c, "MULTI") == OK
        assert call(c, "SET", "k", "1") == QUEUED
    # That client (other tests' connections may still be closing meanwhile).
    wait_until(lambda: all(int(x["id"]) != cid for x in r.client_list()),
               what="the client to be gone")
    assert r.get("k") is None
    assert r.ping()


def test_many_queued_commands(raw):
    n = 2000
    raw.execute("MULTI")
    replies = calls(raw, *[("INCR", "ctr") for _ in range(n)])
    assert replies == [QUEUED] * n
    reply = call(raw, "EXEC")
    assert reply == b"*%d\r\n" % n + b"".join(integer(i) for i in range(1, n + 1))


def test_large_arguments_are_copied(raw):
    big = b"x" * 300000
    assert call(raw, "MULTI") == OK
    # Pipelined with other traffic so the batch is reused before EXEC.
    assert calls(raw, ("SET", "big", big), ("SET", "small", "v"), ("APPEND", "big", "!")) == \
        [QUEUED] * 3
    assert calls(raw, ("PING",), ("PING",)) == [QUEUED] * 2
    assert call(raw, "EXEC") == array(OK, OK, integer(len(big) + 1), simple("PONG"),
                                      simple("PONG"))
    assert raw.execute("GET", "big") == big + b"!"


def test_reset_leaves_multi_and_unwatches(server, raw):
    raw.execute("SET", "w", "1")
    assert call(raw, "WATCH", "w") == OK
    assert call(raw, "MULTI") == OK
    assert call(raw, "SET", "k", "1") == QUEUED
    assert call(raw, "RESET") == simple("RESET")
    assert call(raw, "EXEC") == err("ERR EXEC without MULTI")
    assert call(raw, "GET", "k") == NIL
    with server.raw() as other:
        other.execute("SET", "w", "2")
    assert exec_ok(raw, ("GET", "w")) == array(bulk("2"))


# ---------------------------------------------------------------- redis-py

def test_redis_py_transaction_pipeline(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("a", "1").incr("a").get("a").mget("a", "nokey")
    assert pipe.execute() == [True, 2, b"2", [b"2", None]]


def test_redis_py_runtime_error_in_pipeline(r):
    r.set("s", "abc")
    pipe = r.pipeline(transaction=True)
    pipe.incr("s").set("after", "1")
    results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], redis.ResponseError)
    assert results[1] is True
    assert r.get("after") == b"1"


def test_redis_py_watch_broken_by_other_client(server, r):
    r.set("balance", "10")
    other = server.client()
    try:
        with r.pipeline() as pipe:
            pipe.watch("balance")
            value = int(pipe.get("balance"))
            other.set("balance", "100")  # another client's write between WATCH and EXEC
            pipe.multi()
            pipe.set("balance", value + 1)
            with pytest.raises(redis.WatchError):
                pipe.execute()
        assert r.get("balance") == b"100"
        # The usual retry loop succeeds once nobody interferes.
        with r.pipeline() as pipe:
            pipe.watch("balance")
            value = int(pipe.get("balance"))
            pipe.multi()
            pipe.set("balance", value + 1)
            assert pipe.execute() == [True]
        assert r.get("balance") == b"101"
    finally:
        other.close()


def test_redis_py_transaction_helper(r):
    r.set("n", "5")

    def double(pipe):
        v = int(pipe.get("n"))
        pipe.multi()
        pipe.set("n", v * 2)

    assert r.transaction(double, "n") == [True]
    assert r.get("n") == b"10"


# ---------------------------------------------------------------- WATCH

def test_watch_unchanged_key_executes(raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "WATCH", "k", "k", "other") == OK
    raw.execute("GET", "k")  # reads do not break a watch
    assert exec_ok(raw, ("SET", "k", "w")) == array(OK)
    # EXEC unwatches: the next transaction is not affected by that write.
    assert exec_ok(raw, ("GET", "k")) == array(bulk("w"))


def test_watch_broken_by_write(server, raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "WATCH", "k") == OK
    with server.raw() as other:
        assert call(other, "SET", "k", "v") == OK  # same value still counts
    assert exec_ok(raw, ("SET", "k", "mine")) == NULL_ARRAY
    assert call(raw, "GET", "k") == bulk("v")
    # The watch is gone after a failed EXEC.
    assert exec_ok(raw, ("SET", "k", "mine")) == array(OK)


def test_watch_broken_by_own_write_and_delete(server, raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "WATCH", "k") == OK
    raw.execute("APPEND", "k", "x")
    assert exec_ok(raw, ("PING",)) == NULL_ARRAY
    assert call(raw, "WATCH", "k") == OK
    with server.raw() as other:
        assert other.execute("DEL", "k") == 1
    assert exec_ok(raw, ("PING",)) == NULL_ARRAY


# (setup, command from another client, breaks the watch on "k")
TOUCHES = [
    (["SET k v"], "SET k v", True),
    (["SET k v"], "SET k v NX", False),
    (["SET k 1"], "INCR k", True),
    (["SET k v"], "APPEND k x", True),
    (["SET k v"], "SETRANGE k 0 x", True),
    (["SET k v"], "GETDEL k", True),
    (["SET k v"], "GETEX k", False),
    (["SET k v"], "GETEX k EX 100", True),
    (["SET k v"], "EXPIRE k 100", True),
    (["SET k v"], "EXPIRE k 100 GT", False),
    (["SET k v EX 100"], "PERSIST k", True),
    (["SET k v"], "PERSIST k", False),
    (["SET k v"], "PEXPIREAT k 1", True),
    (["SET k v"], "RENAME k k2", True),
    (["SET k2 v", "SET k x"], "RENAME k2 k", True),
    (["SET k v"], "MOVE k 1", True),
    (["SET src v"], "COPY src k", True),
    (["SET k v"], "COPY k other", False),
    (["SET k v"], "UNLINK k", True),
    (["SET k v"], "TOUCH k", False),
    (["SET k v"], "DEL nokey", False),
    ([], "MSET a 1 k 2", True),
    ([], "MSETNX k 1", True),
]


@pytest.mark.parametrize("setup, cmd, breaks", TOUCHES, ids=[t[1] for t in TOUCHES])
def test_watch_broken_by_modifications(server, raw, setup, cmd, breaks):
    for s in setup:
        raw.execute(*s.split())
    assert call(raw, "WATCH", "k") == OK
    with server.raw() as other:
        other.execute(*cmd.split())
    expected = NULL_ARRAY if breaks else array(simple("PONG"))
    assert exec_ok(raw, ("PING",)) == expected


TYPE_TOUCHES = [
    (["RPUSH k a"], "LPUSH k b", True),
    (["RPUSH k a b"], "LPOP k", True),
    (["RPUSH k a"], "LSET k 0 z", True),
    (["RPUSH k a"], "LTRIM k 0 -1", True),
    (["RPUSH k a"], "LREM k 0 z", False),
    (["RPUSH k a"], "RPOPLPUSH k k", True),
    (["HSET k f v"], "HSET k f v", True),
    (["HSET k f v"], "HDEL k nof", False),
    (["HSET k f 1"], "HINCRBY k f 1", True),
    (["SADD k a"], "SADD k a", False),
    (["SADD k a"], "SADD k b", True),
    (["SADD k a"], "SREM k z", False),
    (["SADD s1 a"], "SUNIONSTORE k s1", True),
    ([], "SUNIONSTORE k nos", False),
    (["SET k v"], "SUNIONSTORE k nos", True),
    (["ZADD k 1 a"], "ZADD k 1 a", False),
    (["ZADD k 1 a"], "ZINCRBY k 1 a", True),
]


@pytest.mark.needs_types
@pytest.mark.parametrize("setup, cmd, breaks", TYPE_TOUCHES, ids=[t[1] for t in TYPE_TOUCHES])
def test_watch_broken_by_type_modifications(server, raw, setup, cmd, breaks):
    test_watch_broken_by_modifications(server, raw, setup, cmd, breaks)


def test_watch_missing_key_created(server, raw):
    assert call(raw, "WATCH", "nokey") == OK
    with server.raw() as other:
        other.execute("DEL", "nokey")  # deleting nothing changes nothing
    assert exec_ok(raw, ("PING",)) == array(simple("PONG"))
    assert call(raw, "WATCH", "nokey") == OK
    with server.raw() as other:
        other.execute("SET", "nokey", "1")
    assert exec_ok(raw, ("PING",)) == NULL_ARRAY


def test_watch_other_db_unaffected(server, raw):
    assert call(raw, "WATCH", "k") == OK
    with server.raw() as other:
        other.execute("SELECT", "1")
        other.execute("SET", "k", "1")
    assert exec_ok(raw, ("PING",)) == array(simple("PONG"))


def test_unwatch(server, raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "WATCH", "k") == OK
    assert call(raw, "UNWATCH") == OK
    with server.raw() as other:
        other.execute("SET", "k", "changed")
    assert exec_ok(raw, ("GET", "k")) == array(bulk("changed"))
    # UNWATCH also clears an already broken watch.
    assert call(raw, "WATCH", "k") == OK
    raw.execute("SET", "k", "again")
    assert call(raw, "UNWATCH") == OK
    assert exec_ok(raw, ("PING",)) == array(simple("PONG"))


def test_discard_unwatches(server, raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "WATCH", "k") == OK
    assert call(raw, "MULTI") == OK
    assert call(raw, "DISCARD") == OK
    with server.raw() as other:
        other.execute("SET", "k", "changed")
    assert exec_ok(raw, ("PING",)) == array(simple("PONG"))


def test_watch_broken_by_expiry(raw):
    # The TTL leaves ample time for WATCH to see the key alive even on a loaded machine.
    raw.execute("SET", "k", "v", "PX", "500")
    assert call(raw, "WATCH", "k") == OK
    time.sleep(0.7)
    assert exec_ok(raw, ("PING",)) == NULL_ARRAY


def test_watch_expiry_without_active_expire(server, raw):
    """The key expires but stays stored (no access, no active expiry): EXEC still fails."""
    with server.raw() as admin:
        assert admin.execute("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
        try:
            raw.execute("SET", "k", "v", "PX", "500")
            assert call(raw, "WATCH", "k") == OK
            time.sleep(0.7)
            assert exec_ok(raw, ("PING",)) == NULL_ARRAY
            # Lazy expiry by another client breaks it the same way.
            raw.execute("SET", "k", "v", "PX", "500")
            assert call(raw, "WATCH", "k") == OK
            time.sleep(0.7)
            assert admin.execute("GET", "k") is None
            assert exec_ok(raw, ("PING",)) == NULL_ARRAY
            # A key that had already expired when watched: deleting it changes nothing...
            raw.execute("SET", "k", "v", "PX", "50")
            time.sleep(0.1)
            assert call(raw, "WATCH", "k") == OK
            assert admin.execute("GET", "k") is None
            assert exec_ok(raw, ("PING",)) == array(simple("PONG"))
            # ... but a new value does.
            raw.execute("SET", "k", "v", "PX", "50")
            time.sleep(0.1)
            assert call(raw, "WATCH", "k") == OK
            assert admin.execute("SET", "k", "new") == b"OK"
            assert exec_ok(raw, ("PING",)) == NULL_ARRAY
        finally:
            admin.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_watch_flushall_and_flushdb(server, raw):
    raw.execute("SET", "k", "v")
    for flush in (("FLUSHALL",), ("FLUSHDB",), ("FLUSHALL", "ASYNC")):
        raw.execute("SET", "k", "v")
        assert call(raw, "WATCH", "k") == OK
        with server.raw() as other:
            assert other.execute(*flush) == b"OK"
        assert exec_ok(raw, ("PING",)) == NULL_ARRAY, flush
    # A watched key that does not exist is not touched by a flush.
    assert call(raw, "WATCH", "nokey") == OK
    with server.raw() as other:
        other.execute("SET", "unrelated", "1")
        other.execute("FLUSHALL")
    assert exec_ok(raw, ("PING",)) == array(simple("PONG"))
    # FLUSHDB of another db leaves this one's watches alone.
    raw.execute("SET", "k", "v")
    assert call(raw, "WATCH", "k") == OK
    with server.raw() as other:
        other.execute("SELECT", "2")
        other.execute("SET", "k", "v")
        other.execute("FLUSHDB")
    assert exec_ok(raw, ("PING",)) == array(simple("PONG"))


def test_watch_swapdb(server, raw):
    raw.execute("SET", "x", "1")
    # SWAPDB of a db with itself changes nothing.
    assert call(raw, "WATCH", "x") == OK
    with server.raw() as other:
        assert other.execute("SWAPDB", "0", "0") == b"OK"
    assert exec_ok(raw, ("PING",)) == array(simple("PONG"))
    # The key exists here: swapping breaks the watch.
    assert call(raw, "WATCH", "x") == OK
    with server.raw() as other:
        assert other.execute("SWAPDB", "0", "1") == b"OK"
    assert exec_ok(raw, ("GET", "x")) == NULL_ARRAY
    # The key is missing here but exists in the other db: it appears, the watch breaks.
    assert call(raw, "WATCH", "x") == OK
    with server.raw() as other:
        assert other.execute("SWAPDB", "1", "0") == b"OK"
    assert exec_ok(raw, ("GET", "x")) == NULL_ARRAY
    assert call(raw, "GET", "x") == bulk("1")
    # Missing on both sides: nothing happens.
    assert call(raw, "WATCH", "nokey") == OK
    with server.raw() as other:
        assert other.execute("SWAPDB", "0", "1") == b"OK"
    assert exec_ok(raw, ("PING",)) == array(simple("PONG"))


def test_watch_after_dirty_is_ignored(server, raw):
    raw.execute("SET", "a", "1")
    assert call(raw, "WATCH", "a") == OK
    raw.execute("SET", "a", "2")
    assert call(raw, "WATCH", "b") == OK
    assert exec_ok(raw, ("PING",)) == NULL_ARRAY


def test_many_watchers_one_key(server, r):
    r.set("shared", "0")
    clients = [server.raw() for _ in range(20)]
    try:
        for c in clients:
            assert call(c, "WATCH", "shared", "k2") == OK
        # Half of them unwatch; the write only breaks the others.
        for c in clients[::2]:
            assert call(c, "UNWATCH") == OK
        r.set("shared", "1")
        for i, c in enumerate(clients):
            expected = array(simple("PONG")) if i % 2 == 0 else NULL_ARRAY
            assert exec_ok(c, ("PING",)) == expected, i
    finally:
        for c in clients:
            c.close()


# ---------------------------------------------------------------- RESP3, pause, MONITOR, stats

def test_resp3_replies(server, r3):
    r3.execute("SET", "k", "v")
    assert call(r3, "WATCH", "k") == OK
    with server.raw() as other:
        other.execute("SET", "k", "w")
    assert exec_ok(r3, ("GET", "k")) == b"_\r\n"
    assert exec_ok(r3, ("GET", "k"), ("GET", "nokey"), ("CONFIG", "GET", "maxclients")) == \
        b"*3\r\n$1\r\nw\r\n_\r\n%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    assert call(r3, "MULTI") == OK
    assert call(r3, "NOSUCH") == err("ERR unknown command 'NOSUCH', with args beginning with: ")
    assert call(r3, "EXEC") == EXECABORT


def test_exec_with_writes_waits_for_pause_write(server, raw):
    with server.raw() as admin:
        assert call(raw, "MULTI") == OK
        assert call(raw, "SET", "k", "1") == QUEUED
        assert admin.execute("CLIENT", "PAUSE", "5000", "WRITE") == b"OK"
        try:
            raw.send_command("EXEC")
            read_nothing(raw, 0.3)
            # A read-only transaction is not held up.
            with server.raw() as reader:
                assert exec_ok(reader, ("GET", "k")) == array(NIL)
            assert admin.execute("CLIENT", "UNPAUSE") == b"OK"
            assert raw.read_reply()[0] == array(OK)
        finally:
            admin.execute("CLIENT", "UNPAUSE")
    assert call(raw, "GET", "k") == bulk("1")


def test_monitor_sees_exec_after_its_commands(server, raw):
    with server.raw() as mon:
        assert mon.execute("MONITOR") == b"OK"
        exec_ok(raw, ("SET", "k", "1"), ("GET", "k"))
        assert call(raw, "MULTI") == OK
        assert call(raw, "NOSUCH") != QUEUED
        assert call(raw, "EXEC") == EXECABORT
        lines = []
        for _ in range(6):
            lines.append(mon.read_reply()[1].split(b"] ", 1)[1])
        assert lines == [b'"MULTI"', b'"SET" "k" "1"', b'"GET" "k"', b'"EXEC"', b'"MULTI"',
                         b'"EXEC"']


def test_client_list_multi_fields(server, raw):
    cid = raw.execute("CLIENT", "ID")
    with server.raw() as other:
        line = other.execute("CLIENT", "LIST", "ID", str(cid))
        assert b" flags=N " in line and b" multi=-1 " in line
        assert call(raw, "MULTI") == OK
        line = other.execute("CLIENT", "LIST", "ID", str(cid))
        assert b" flags=x " in line and b" multi=0 " in line
        assert calls(raw, ("SET", "a", "1"), ("GET", "a")) == [QUEUED] * 2
        line = other.execute("CLIENT", "LIST", "ID", str(cid))
        assert b" flags=x " in line and b" multi=2 " in line
        assert call(raw, "DISCARD") == OK
        line = other.execute("CLIENT", "LIST", "ID", str(cid))
        assert b" flags=N " in line and b" multi=-1 " in line


def test_commandstats(server, raw):
    raw.execute("CONFIG", "RESETSTAT")
    raw.execute("SET", "s", "abc")
    exec_ok(raw, ("INCR", "s"), ("GET", "s"))          # runtime error: INCR failed, not EXEC
    assert call(raw, "MULTI") == OK
    call(raw, "SET", "x")                                  # rejected while queuing
    assert call(raw, "EXEC") == EXECABORT                  # EXEC itself failed
    stats = info_dict(raw.execute("INFO", "commandstats"))["commandstats"]

    def field(cmd, name):
        return dict(kv.split("=") for kv in stats["cmdstat_" + cmd].split(","))[name]

    assert field("exec", "calls") == "2" and field("exec", "failed_calls") == "1"
    assert field("incr", "calls") == "1" and field("incr", "failed_calls") == "1"
    assert field("set", "calls") == "1" and field("set", "rejected_calls") == "1"
    assert field("multi", "calls") == "2"
    errors = info_dict(raw.execute("INFO", "errorstats"))["errorstats"]
    assert errors["errorstat_EXECABORT"] == "count=1"


@pytest.mark.needs_types
def test_blocking_commands_inside_exec_do_not_block(raw, r3):
    reply = exec_ok(raw, ("BLPOP", "nolist", "0"), ("BRPOP", "nolist", "0"),
                    ("BLMOVE", "nolist", "dst", "LEFT", "RIGHT", "0"),
                    ("BRPOPLPUSH", "nolist", "dst", "0"), ("BLMPOP", "0", "1", "nolist", "LEFT"),
                    ("BZPOPMIN", "nozset", "0"), ("BZMPOP", "0", "1", "nozset", "MIN"))
    assert reply == array(NULL_ARRAY, NULL_ARRAY, NIL, NIL, NULL_ARRAY, NULL_ARRAY, NULL_ARRAY)
    assert exec_ok(r3, ("BLPOP", "nolist", "0"), ("BLMOVE", "nolist", "d", "LEFT", "LEFT", "0")) \
        == b"*2\r\n_\r\n_\r\n"
    # With data they pop as usual.
    raw.execute("RPUSH", "l", "a", "b")
    assert exec_ok(raw, ("BLPOP", "l", "0"), ("BRPOPLPUSH", "l", "l2", "0")) == \
        array(array(bulk("l"), bulk("a")), bulk("b"))
