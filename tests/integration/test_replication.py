"""Replication (issue 11): full and partial resyncs, the command stream, chained replicas,
failover by REPLICAOF NO ONE, WAIT, ROLE / INFO replication, the tools (redis-cli --rdb,
--replica) and faults, as redis-server 7.0.15 behaves.

Roles: KEYLOOM_REPL_MASTER / KEYLOOM_REPL_REPLICA in {keyloom, redis} (default keyloom/keyloom;
the mixed settings are the two interop directions).  Every test here was checked against
redis-server 7.0.15 in all four modes:

  KEYLOOM_SERVER=/usr/bin/redis-server KEYLOOM_TEST_REFERENCE=1 \\
      /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/integration/test_replication.py

Topologies come from repltopo.py (TLS layouts, waits, kill -9, restarts).

Where an assertion is looser than "equal", the reason:
  * DUMP is compared between master and replica except for hashtable encodings, whose DUMP
    follows the bucket order (different on two servers holding the same data); DEBUG DIGEST
    covers their content.
  * The random load accepts -OOM replies once maxmemory is set: used memory counts the
    replication backlog as it fills (up to 1 MB), so how many writes are refused depends on
    the server's accounting; evicted_keys > 0 is what is asserted.
  * PING latency: median under 20 ms and none over 300 ms (the issue's 10 ms is for the
    benchmark machine, not a shared 2-core box with sanitizer builds).
  * masteruser is checked with the default user: an ACL user of its own needs ACL SETUSER on
    the master (issue 15).
"""

import os
import random
import re
import select
import socket
import ssl
import subprocess
import threading
import time

import pytest

from klserver import HOST, Mode, RespError, encode_command, free_port, tls_path
from repltopo import ENCODINGS, Topology, fill_types, info, popen_cli, repl_roles

MODE = Mode()


@pytest.fixture
def topo(request):
    t = Topology(MODE)
    request.node._kl_extra_servers = t.nodes     # conftest attaches their logs on failure
    yield t
    errors = t.close()
    if errors:
        pytest.fail("nodes did not stop cleanly:\n" + "\n".join(errors), pytrace=False)


def ok(reply, what=""):
    assert reply == b"OK", "%s -> %r" % (what, reply)


def wait_for(pred, timeout, what, describe=None):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s\n%s" % (
                timeout, what, describe() if describe else ""))
        time.sleep(0.05)


def dbsizes(node, dbs):
    out = {}
    with node.raw() as c:
        for db in dbs:
            c.execute("SELECT", db)
            out[db] = c.execute("DBSIZE")
    return out


def shutdown_save(node):
    """SHUTDOWN SAVE: the connection closes, the process exits 0."""
    with node.raw() as c:
        c.send_command("SHUTDOWN", "SAVE")
        assert c.is_closed_by_peer(10), "%s: SHUTDOWN SAVE did not close the connection" % node
    assert node.wait_exit() == 0, node.log_tail()


def ping_latency(c):
    t0 = time.monotonic()
    assert c.execute("PING") == b"PONG"
    return time.monotonic() - t0


def assert_answers_quickly(c, n=20):
    """n PINGs: the median under 20 ms, none over 300 ms (a busy 2-core box, sanitizer
    builds)."""
    lat = sorted(ping_latency(c) for _ in range(n))
    assert lat[n // 2] < 0.02 and lat[-1] < 0.3, ["%.1fms" % (x * 1000) for x in lat]


# --------------------------------------------------------------------------------------------
# full sync
# --------------------------------------------------------------------------------------------

DBS = (0, 3, 15)


@pytest.mark.parametrize("diskless,load", [("no", "disabled"), ("yes", "disabled"),
                                           ("yes", "swapdb"), ("yes", "on-empty-db")],
                         ids=["disk", "diskless", "diskless-swapdb", "diskless-on-empty-db"])
def test_full_sync_every_type(topo, diskless, load):
    m = topo.master(args=["--repl-diskless-sync", diskless])
    with m.raw() as c:
        for db in DBS:
            ok(c.execute("SELECT", db))
            fill_types(c, big=(db == 3))
        ok(c.execute("SELECT", 9))
        ok(c.execute("SET", "only-in-9", "x"))
    want = dbsizes(m, DBS + (9,))
    r = topo.node("replica", args=["--repl-diskless-load", load])
    # What the replica held before is replaced by the master's data.
    with r.raw() as c:
        for db in (0, 9):
            ok(c.execute("SELECT", db))
            ok(c.execute("SET", "replica-own-%d" % db, "gone after the sync"))
    topo.replicaof(r, m)
    topo.assert_same_data(m, r)
    assert dbsizes(r, DBS + (9,)) == want
    assert r.do("EXISTS", "replica-own-0") == 0
    with r.raw() as rc, m.raw() as mc:
        for db in DBS:
            rc.execute("SELECT", db)
            mc.execute("SELECT", db)
            for key, enc in ENCODINGS.items():
                assert rc.execute("OBJECT", "ENCODING", key) == enc, (db, key)
                if enc != b"hashtable":     # a hash table's DUMP follows its bucket order
                    assert rc.execute("DUMP", key) == mc.execute("DUMP", key), (db, key)
            for key, lo, hi in (("ttl:str", 990_000, 1_000_000), ("ttl:list", 4_990_000, 5_000_000),
                                ("ttl:hash", 2_990_000, 3_000_000)):
                pttl = rc.execute("PTTL", key)
                assert lo <= pttl <= hi, (db, key, pttl)
            assert rc.execute("TTL", "str:raw") == -1
    # A disk-based sync went through an RDB file in the master's dir, a diskless one did not.
    assert os.path.exists(os.path.join(m.dir, "dump.rdb")) == (diskless == "no"), \
        os.listdir(m.dir)
    assert m.stat("sync_full") == 1
    assert m.stat("sync_partial_ok") == 0
    # The stream follows the sync.
    ok(m.do("SET", "after-sync", "1"))
    topo.assert_same_data(m, r)
    assert r.do("GET", "after-sync") == b"1"


# --------------------------------------------------------------------------------------------
# the command stream under a random load
# --------------------------------------------------------------------------------------------

OOM = b"OOM command not allowed when used memory > 'maxmemory'."


def random_load(m, seed, ops, evict_at=None):
    """A seeded, bounded write load on master m: strings/lists/hashes/sets/zsets, expiry (short
    PX that expires actively, EXPIRE in the past), MULTI/EXEC, blocking pops served by pushes,
    SELECT of other dbs, FLUSHDB, and, from op evict_at on, maxmemory + allkeys-lru."""
    rnd = random.Random(seed)
    dbs = (0, 1, 2)
    keys = ["k%d" % i for i in range(120)]
    with m.raw() as c, m.raw() as blocker:
        db = 0

        def key(prefix):
            return "%s:%s" % (prefix, rnd.choice(keys))

        def write():
            r = rnd.random()
            if r < 0.12:
                return ("SET", key("s"), "v%d" % rnd.randrange(10 ** 6))
            if r < 0.17:
                return ("SET", key("s"), "x" * rnd.randrange(1, 300), "PX",
                        str(rnd.randrange(1, 300)))
            if r < 0.20:
                return ("SET", key("s"), "long", "EX", "100000")
            if r < 0.25:
                return ("INCRBY", key("n"), str(rnd.randrange(-50, 50)))
            if r < 0.28:
                return ("INCRBYFLOAT", key("f"), "%.3f" % rnd.uniform(-5, 5))
            if r < 0.31:
                return ("APPEND", key("s"), "ab")
            if r < 0.38:
                return (rnd.choice(("LPUSH", "RPUSH")), key("l")) + tuple(
                    "e%d" % rnd.randrange(100) for _ in range(rnd.randrange(1, 5)))
            if r < 0.41:
                return (rnd.choice(("LPOP", "RPOP")), key("l"))
            if r < 0.47:
                return ("HSET", key("h"), "f%d" % rnd.randrange(200), str(rnd.random()))
            if r < 0.49:
                return ("HDEL", key("h"), "f%d" % rnd.randrange(200))
            if r < 0.51:
                return ("HINCRBYFLOAT", key("h"), "cnt", "1.5")
            if r < 0.57:
                return ("SADD", key("set"), *("m%d" % rnd.randrange(300)
                                             for _ in range(rnd.randrange(1, 4))))
            if r < 0.59:
                return ("SPOP", key("set"))
            if r < 0.60:
                return ("SPOP", key("set"), "3")
            if r < 0.61:
                return ("SREM", key("set"), "m%d" % rnd.randrange(300))
            if r < 0.67:
                return ("ZADD", key("z"), str(rnd.randrange(1000)), "m%d" % rnd.randrange(200))
            if r < 0.69:
                return ("ZINCRBY", key("z"), "2", "m%d" % rnd.randrange(200))
            if r < 0.70:
                return ("ZPOPMIN", key("z"))
            if r < 0.75:
                return ("EXPIRE", key(rnd.choice("slhz")), str(rnd.randrange(1, 100000)))
            if r < 0.77:
                return ("PEXPIRE", key(rnd.choice("slhz")), str(rnd.randrange(1, 200)))
            if r < 0.79:
                return ("EXPIRE", key(rnd.choice("slhz")), "-1")      # in the past: DEL
            if r < 0.80:
                return ("PERSIST", key("s"))
            if r < 0.83:
                return ("DEL", key(rnd.choice("slhz")))
            if r < 0.85:
                return ("GETDEL", key("s"))
            return ("SET", key("s"), "plain")

        for i in range(ops):
            if evict_at is not None and i == evict_at:
                used = int(info(c, "memory")["used_memory"])
                ok(c.execute("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"))
                # Headroom for the replication backlog (1 MB), which fills up from here on
                # and counts as used memory.
                ok(c.execute("CONFIG", "SET", "maxmemory", str(used + 1536 * 1024)))
            if evict_at is not None and i >= evict_at:
                reply = c.execute("SET", "big:%d" % i, "B" * 8000)    # pushes over maxmemory
                assert reply == b"OK" or reply == RespError(OOM), reply
            r = rnd.random()
            if r < 0.03:
                db = rnd.choice(dbs)
                ok(c.execute("SELECT", db))
            elif r < 0.07:
                ok(c.execute("MULTI"))
                n = rnd.randrange(1, 5)
                for _ in range(n):
                    c.execute(*write())
                res = c.execute("EXEC")
                assert (isinstance(res, list) and len(res) == n) or res == RespError(
                    b"EXECABORT Transaction discarded because of previous errors."), res
            elif r < 0.09:
                # A blocking pop on another connection, served by a push from this one.
                blocker.execute("SELECT", db)
                bk = "blk:%d" % rnd.randrange(5)
                c.execute("DEL", bk)
                blocker.send_command(rnd.choice(("BLPOP", "BRPOP")), bk, "10")
                wait_for(lambda: int(info(c, "clients")["blocked_clients"]) == 1, 5,
                         "the BLPOP to block")
                c.execute("RPUSH", bk, "a", "b")
                got = blocker.read_value()
                assert isinstance(got, list) and got[0] == bk.encode(), got
            elif r < 0.091 and i > ops // 3:
                ok(c.execute("FLUSHDB"))
            else:
                reply = c.execute(*write())
                if isinstance(reply, RespError):
                    assert reply.message.startswith((b"WRONGTYPE", b"ERR value is not",
                                                     b"ERR hash value is not",
                                                     b"ERR increment or decrement",
                                                     OOM)), reply
        if evict_at is not None:
            ok(c.execute("CONFIG", "SET", "maxmemory", "0"))
        # Let the short TTLs run out through active expiry, then stop it so the dataset is
        # still while the digests are taken.
        time.sleep(0.4)
        ok(c.execute("DEBUG", "SET-ACTIVE-EXPIRE", "0"))


def test_stream_random_load(topo):
    m = topo.master()
    r = topo.replica("replica", m)
    random_load(m, seed=1107, ops=2500, evict_at=1500)
    topo.assert_same_data(m, r)      # master_repl_offset equal on both, then the digests
    mi, ri = m.info(), r.info()
    assert ri["master_replid"] == mi["master_replid"]
    st = m.info("stats")
    assert int(st["expired_keys"]) > 0, st
    assert int(st["evicted_keys"]) > 0, st
    assert dbsizes(m, (0, 1, 2)) == dbsizes(r, (0, 1, 2))
    assert sum(dbsizes(m, (0, 1, 2)).values()) > 50
    assert m.stat("sync_full") == 1


def test_chained_replicas(topo):
    m = topo.master()
    r1 = topo.replica("replica1", m)
    r2 = topo.replica("replica2", m)
    r3 = topo.replica("chained", r1, cmd="SLAVEOF")
    random_load(m, seed=42, ops=1200, evict_at=800)
    topo.assert_same_data(m, r1, r2, r3)
    mi = m.info()
    assert mi["connected_slaves"] == "2"
    assert r1.info()["connected_slaves"] == "1"
    r3i = r3.info()
    assert r3i["master_replid"] == mi["master_replid"]
    assert r3i["master_port"] == str(r1.port)
    assert m.stat("evicted_keys") > 0


# --------------------------------------------------------------------------------------------
# partial and full resyncs
# --------------------------------------------------------------------------------------------

def test_partial_resync_after_link_kills(topo):
    m = topo.master()
    r = topo.replica("replica", m)
    with m.raw() as c:
        fill_types(c)
    topo.wait_synced(m, r)
    full0, part0 = m.stat("sync_full"), m.stat("sync_partial_ok")
    replid = m.info()["master_replid"]

    assert r.do("CLIENT", "KILL", "TYPE", "master") == 1
    with m.raw() as c:
        for i in range(50):
            ok(c.execute("SET", "during-1:%d" % i, "v"))
    wait_for(lambda: m.stat("sync_partial_ok") == part0 + 1, 15,
             "sync_partial_ok to grow after CLIENT KILL TYPE master", topo.describe)
    topo.assert_same_data(m, r)

    assert m.do("CLIENT", "KILL", "TYPE", "replica") == 1
    with m.raw() as c:
        for i in range(50):
            ok(c.execute("SET", "during-2:%d" % i, "v"))
    wait_for(lambda: m.stat("sync_partial_ok") == part0 + 2, 15,
             "sync_partial_ok to grow after CLIENT KILL TYPE replica", topo.describe)
    topo.assert_same_data(m, r)
    assert m.stat("sync_full") == full0
    assert r.info()["master_replid"] == replid
    assert r.do("GET", "during-2:49") == b"v"


def test_backlog_overflow_full_resync(topo):
    m = topo.master(args=["--repl-backlog-size", "16kb"])
    r = topo.replica("replica", m)
    ok(m.do("SET", "before", "1"))
    off = topo.wait_synced(m, r)
    full0, part0 = m.stat("sync_full"), m.stat("sync_partial_ok")
    r.sigstop()
    assert m.do("CLIENT", "KILL", "TYPE", "replica") == 1
    with m.raw() as c:
        for i in range(200):
            ok(c.execute("SET", "fill:%d" % i, "x" * 1000))   # ~200 KB, far over 16 KB
    mi = m.info()
    # The bytes the replica misses are gone from the backlog.
    assert int(mi["repl_backlog_first_byte_offset"]) > off + 1, mi
    assert int(mi["repl_backlog_histlen"]) < 200_000, mi
    r.sigcont()
    wait_for(lambda: m.stat("sync_full") == full0 + 1, 20,
             "a full resync after the backlog overflowed", topo.describe)
    topo.assert_same_data(m, r)
    assert m.stat("sync_partial_ok") == part0
    assert r.do("GET", "fill:199") == b"x" * 1000


def test_replica_restart_partial_resync(topo):
    m = topo.master()
    r = topo.replica("replica", m)
    with m.raw() as c:
        fill_types(c)
    topo.wait_synced(m, r)
    full0, part0 = m.stat("sync_full"), m.stat("sync_partial_ok")
    shutdown_save(r)
    assert os.path.exists(os.path.join(r.dir, "dump.rdb"))
    with m.raw() as c:
        for i in range(30):
            ok(c.execute("SET", "while-down:%d" % i, "v"))
    r.replicaof_at_start = m
    r.restart()
    wait_for(lambda: m.stat("sync_partial_ok") == part0 + 1, 15,
             "a partial resync of the restarted replica", topo.describe)
    topo.assert_same_data(m, r)
    assert m.stat("sync_full") == full0
    assert r.do("GET", "while-down:29") == b"v"


def test_master_kill9_restart(topo):
    m = topo.master()
    r = topo.replica("replica", m)
    with m.raw() as c:
        fill_types(c)
        ok(c.execute("SAVE"))
        ok(c.execute("SET", "after-save", "lost on kill -9"))
    topo.wait_synced(m, r)
    assert r.do("GET", "after-save") == b"lost on kill -9"
    m.kill9()
    wait_for(lambda: r.info()["master_link_status"] == "down", 10, "the link to go down",
             topo.describe)
    assert r.do("PING") == b"PONG"
    m.restart()
    # The master came back with its RDB (without after-save): the replica follows it.
    topo.assert_same_data(m, r)
    assert m.do("GET", "after-save") is None
    assert r.do("GET", "after-save") is None
    assert r.do("GET", "str:raw") == b"r" * 200
    ok(m.do("SET", "new", "1"))
    topo.assert_same_data(m, r)


def test_promotion_replid2_and_psync2(topo):
    # No periodic PING from the old master: the two replicas stay at the same offset.
    m = topo.master(args=["--repl-ping-replica-period", "3600"])
    r1 = topo.replica("replica1", m)
    r2 = topo.replica("replica2", m)
    with m.raw() as c:
        fill_types(c)
    off = topo.wait_synced(m, r1, r2)
    old = m.info()["master_replid"]
    assert r1.do("SET", "x", "1") == RespError(b"READONLY You can't write against a read only "
                                               b"replica.")
    ok(r1.do("REPLICAOF", "NO", "ONE"))
    i1 = r1.info()
    assert i1["role"] == "master"
    assert i1["master_replid2"] == old
    assert i1["master_replid"] != old
    assert int(i1["second_repl_offset"]) == off + 1
    assert int(i1["master_repl_offset"]) == off
    ok(r1.do("SET", "promoted", "yes"))
    topo.replicaof(r2, r1)
    topo.assert_same_data(r1, r2)
    assert r1.stat("sync_partial_ok") == 1
    assert r1.stat("sync_full") == 0
    i2 = r2.info()
    assert i2["master_replid"] == r1.info()["master_replid"]
    assert i2["master_replid2"] == old
    assert r2.do("GET", "promoted") == b"yes"


def test_failover_command(topo):
    m = topo.master()
    with m.raw() as c:
        assert c.execute("FAILOVER") == RespError(b"ERR FAILOVER requires connected replicas.")
        assert c.execute("FAILOVER", "ABORT") == RespError(b"ERR No failover in progress.")
        assert c.execute("FAILOVER", "TIMEOUT", "-1") == RespError(
            b"ERR FAILOVER timeout must be greater than 0")
    r = topo.replica("replica", m)
    assert r.do("FAILOVER") == RespError(b"ERR FAILOVER is not valid when server is a replica.")
    with m.raw() as c:
        fill_types(c)
    topo.wait_synced(m, r)
    old = m.info()["master_replid"]
    ok(m.do("FAILOVER", "TO", HOST, str(r.port), "TIMEOUT", "10000"))

    def swapped():
        mi, ri = m.info(), r.info()
        return (mi["role"] == "slave" and ri["role"] == "master"
                and mi["master_failover_state"] == "no-failover"
                and mi.get("master_link_status") == "up")
    wait_for(swapped, 15, "the roles to swap", topo.describe)
    # The old master follows the new one with a partial resync (the new one's replid2).
    topo.assert_same_data(r, m)
    assert r.info()["master_replid2"] == old
    assert r.stat("sync_partial_ok") == 1 and r.stat("sync_full") == 0
    ok(r.do("SET", "after-failover", "1"))
    assert m.do("SET", "x", "1") == RespError(
        b"READONLY You can't write against a read only replica.")
    topo.assert_same_data(r, m)


def test_masterauth_and_masteruser(topo):
    # (masteruser names the default user: an ACL user of its own needs ACL SETUSER on the
    # master, which is issue 15's, not replication's.)
    m = topo.master(args=["--requirepass", "s3cret"])
    m.password = "s3cret"
    with m.raw() as c:
        fill_types(c)
    r = topo.node("replica")
    topo.replicaof(r, m)
    time.sleep(2)
    assert r.info()["master_link_status"] == "down"
    assert m.info()["connected_slaves"] == "0"
    assert m.stat("sync_full") == 0
    ok(r.do("CONFIG", "SET", "masterauth", "s3cret"))
    topo.assert_same_data(m, r)
    full = m.stat("sync_full")
    assert full == 1
    # masteruser + masterauth: AUTH user password.
    ok(r.do("CONFIG", "SET", "masteruser", "default"))
    assert m.do("CLIENT", "KILL", "TYPE", "replica") == 1
    wait_for(lambda: m.stat("sync_partial_ok") == 1, 15, "a partial resync with masteruser",
             topo.describe)
    assert m.stat("sync_full") == full
    line = m.do("CLIENT", "LIST", "TYPE", "replica").decode()
    assert " user=default " in line, line
    topo.assert_same_data(m, r)
    # A wrong password: the link stays down after the next drop.
    ok(r.do("CONFIG", "SET", "masterauth", "wrong"))
    assert m.do("CLIENT", "KILL", "TYPE", "replica") == 1
    wait_for(lambda: r.info()["master_link_status"] == "down", 10, "the link down",
             topo.describe)
    time.sleep(1.5)
    assert r.info()["master_link_status"] == "down"
    assert m.stat("sync_partial_ok") == 1 and m.stat("sync_full") == full


# --------------------------------------------------------------------------------------------
# WAIT, min-replicas-to-write
# --------------------------------------------------------------------------------------------

def test_wait_and_min_replicas(topo):
    m = topo.master()
    with m.raw() as c:
        # No replicas at all.
        assert c.execute("WAIT", "0", "0") == 0
        t0 = time.monotonic()
        assert c.execute("WAIT", "1", "200") == 0
        assert time.monotonic() - t0 >= 0.19
        ok(c.execute("CONFIG", "SET", "min-replicas-to-write", "1"))
        assert c.execute("SET", "k", "v") == RespError(
            b"NOREPLICAS Not enough good replicas to write.")
        ok(c.execute("CONFIG", "SET", "min-replicas-to-write", "0"))
    r1 = topo.replica("replica1", m)
    r2 = topo.replica("replica2", m)
    topo.wait_synced(m, r1, r2)
    with m.raw() as c:
        ok(c.execute("SET", "k", "v"))
        t0 = time.monotonic()
        assert c.execute("WAIT", "2", "5000") == 2
        assert time.monotonic() - t0 < 4
        assert c.execute("WAIT", "0", "0") == 2       # both acknowledged the offset already
        r2.sigstop()
        ok(c.execute("SET", "k", "v2"))
        t0 = time.monotonic()
        assert c.execute("WAIT", "2", "500") == 1
        assert time.monotonic() - t0 >= 0.49
        r2.sigcont()
        ok(c.execute("CONFIG", "SET", "min-replicas-to-write", "3"))
        assert c.execute("SET", "k", "v3") == RespError(
            b"NOREPLICAS Not enough good replicas to write.")
        assert c.execute("GET", "k") == b"v2"
        ok(c.execute("CONFIG", "SET", "min-replicas-to-write", "2"))
        ok(c.execute("SET", "k", "v4"))
    topo.assert_same_data(m, r1, r2)


# --------------------------------------------------------------------------------------------
# ROLE and INFO replication
# --------------------------------------------------------------------------------------------

def test_role_shape(topo):
    # No periodic PING: the offsets stay where the test left them.
    m = topo.master(args=["--repl-ping-replica-period", "3600"])
    assert m.do("ROLE") == [b"master", 0, []]
    r = topo.replica("replica", m)
    ok(m.do("SET", "k", "v"))
    off = topo.wait_synced(m, r)
    role = m.do("ROLE")
    assert role[0] == b"master" and role[1] == off, role
    # The replica's ack may trail the stream by up to a second.
    wait_for(lambda: m.do("ROLE")[2] == [[HOST.encode(), str(r.port).encode(),
                                          str(m.do("ROLE")[1]).encode()]], 5,
             "ROLE's replica entry", topo.describe)
    rr = r.do("ROLE")
    assert rr == [b"slave", HOST.encode(), m.port, b"connected", off], rr


MASTER_INFO_KEYS = ["role", "connected_slaves", "slave0", "master_failover_state",
                    "master_replid", "master_replid2", "master_repl_offset",
                    "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
                    "repl_backlog_first_byte_offset", "repl_backlog_histlen"]
REPLICA_INFO_KEYS = ["role", "master_host", "master_port", "master_link_status",
                     "master_last_io_seconds_ago", "master_sync_in_progress",
                     "slave_read_repl_offset", "slave_repl_offset", "slave_priority",
                     "slave_read_only", "replica_announced", "connected_slaves",
                     "master_failover_state", "master_replid", "master_replid2",
                     "master_repl_offset", "second_repl_offset", "repl_backlog_active",
                     "repl_backlog_size", "repl_backlog_first_byte_offset",
                     "repl_backlog_histlen"]


def test_info_replication_fields(topo):
    from repltopo import info_keys
    m = topo.master()
    r = topo.replica("replica", m)
    topo.wait_synced(m, r)
    assert info_keys(m) == MASTER_INFO_KEYS
    assert info_keys(r) == REPLICA_INFO_KEYS
    mi, ri = m.info(), r.info()
    fields = [kv.partition("=") for kv in mi["slave0"].split(",")]
    assert [f[0] for f in fields] == ["ip", "port", "state", "offset", "lag"], mi["slave0"]
    f = {k: v for k, _, v in fields}
    assert f["ip"] == HOST and f["port"] == str(r.port) and f["state"] == "online"
    assert mi["role"] == "master" and ri["role"] == "slave"
    assert ri["master_host"] == HOST and ri["master_port"] == str(m.port)
    assert ri["slave_read_only"] == "1" and ri["replica_announced"] == "1"
    assert ri["slave_priority"] == "100"
    assert ri["repl_backlog_active"] == "1" and mi["repl_backlog_active"] == "1"
    assert ri["master_replid"] == mi["master_replid"]
    assert ri["master_replid2"] == "0" * 40
    assert ri["second_repl_offset"] == "-1"
    # A replica whose master is down shows master_link_down_since_seconds.
    m.kill9()
    wait_for(lambda: r.info()["master_link_status"] == "down", 10, "link down", topo.describe)
    keys = info_keys(r)
    want = list(REPLICA_INFO_KEYS)
    want.insert(want.index("slave_repl_offset") + 1, "master_link_down_since_seconds")
    assert keys == want, keys


def test_replica_announce_and_priority(topo):
    m = topo.master()
    r = topo.replica("replica", m, wait=False,
                     args=["--replica-announce-ip", "10.1.2.3", "--replica-announce-port",
                           "7777", "--replica-priority", "42"])
    topo.wait_link_up(r)

    def listed():
        v = m.info().get("slave0", "")
        return v.startswith("ip=10.1.2.3,port=7777,state=online,") and v
    wait_for(listed, 10, "the announced address in slave0", topo.describe)
    ri = r.info()
    assert ri["slave_priority"] == "42" and ri["replica_announced"] == "1", ri
    wait_for(lambda: m.do("ROLE")[2][:1] and m.do("ROLE")[2][0][:2] == [b"10.1.2.3", b"7777"],
             5, "ROLE's announced entry", topo.describe)
    ok(r.do("CONFIG", "SET", "replica-announced", "no"))
    assert r.info()["replica_announced"] == "0"


# --------------------------------------------------------------------------------------------
# replica-read-only, replica-serve-stale-data
# --------------------------------------------------------------------------------------------

def test_readonly_and_stale_data(topo):
    m = topo.master()
    r = topo.replica("replica", m)
    ok(m.do("SET", "k", "v"))
    topo.wait_synced(m, r)
    with r.raw() as c:
        assert c.execute("SET", "k", "x") == RespError(
            b"READONLY You can't write against a read only replica.")
        assert c.execute("GET", "k") == b"v"
        ok(c.execute("CONFIG", "SET", "replica-serve-stale-data", "no"))
        assert c.execute("GET", "k") == b"v"          # the link is up: served
    m.kill9()
    wait_for(lambda: r.info()["master_link_status"] == "down", 10, "link down", topo.describe)
    with r.raw() as c:
        assert c.execute("GET", "k") == RespError(
            b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
        assert isinstance(c.execute("INFO", "replication"), bytes)
        ok(c.execute("CONFIG", "SET", "replica-serve-stale-data", "yes"))
        assert c.execute("GET", "k") == b"v"


# --------------------------------------------------------------------------------------------
# redis-cli --rdb / --replica
# --------------------------------------------------------------------------------------------

def test_cli_rdb_and_replica(topo):
    m = topo.master()
    with m.raw() as c:
        for db in (0, 4):
            ok(c.execute("SELECT", db))
            fill_types(c)
    total = sum(dbsizes(m, (0, 4)).values())
    path = os.path.join(topo.dir, "cli.rdb")
    out = m.cli("--rdb", path, timeout=30)
    assert os.path.getsize(path) > 100, out
    chk = subprocess.run(["redis-check-rdb", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=30)
    text = chk.stdout.decode(errors="replace")
    assert chk.returncode == 0, text
    assert "RDB looks OK" in text, text
    assert "%d keys read" % total in text, text

    p = popen_cli(m, "--replica")
    try:
        buf = b""
        deadline = time.monotonic() + 15
        sent = False
        while b'"set","cli-replica-key","hello"' not in buf.lower():
            if not sent and b"sync done" in buf.lower():
                ok(m.do("SET", "cli-replica-key", "hello"))
                sent = True
            assert time.monotonic() < deadline, "redis-cli --replica showed %r" % buf
            rl, _, _ = select.select([p.stdout], [], [], 0.2)
            if rl:
                chunk = os.read(p.stdout.fileno(), 65536)
                assert chunk, "redis-cli --replica exited: %r" % buf
                buf += chunk
        assert p.poll() is None
    finally:
        p.kill()
        p.wait(10)


# --------------------------------------------------------------------------------------------
# replicas as clients
# --------------------------------------------------------------------------------------------

def test_client_list_and_kill_replica(topo):
    m = topo.master()
    r = topo.replica("replica", m)
    topo.wait_synced(m, r)
    lines = m.do("CLIENT", "LIST", "TYPE", "replica").decode().splitlines()
    assert len(lines) == 1, lines
    fields = dict(kv.partition("=")[::2] for kv in lines[0].split(" "))
    assert fields["flags"] == "S", lines
    old_id = fields["id"]
    everyone = m.do("CLIENT", "LIST").decode()
    assert re.search(r"\bid=%s\b.*\bflags=S\b" % old_id, everyone), everyone
    assert m.do("CLIENT", "KILL", "TYPE", "replica") == 1
    # The replica notices and reconnects: a new connection, flags=S again.

    def new_replica():
        ls = m.do("CLIENT", "LIST", "TYPE", "replica").decode().splitlines()
        return len(ls) == 1 and ("id=%s " % old_id) not in ls[0] and " flags=S " in ls[0]
    wait_for(new_replica, 15, "the replica to reconnect", topo.describe)
    topo.wait_synced(m, r)


# --------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------

def test_replicaof_nothing_listening(topo):
    r = topo.node("replica")
    dead = free_port()
    ok(r.do("REPLICAOF", HOST, str(dead)))
    time.sleep(2.5)    # a couple of reconnect attempts
    ri = r.info()
    assert ri["role"] == "slave" and ri["master_link_status"] == "down", ri
    assert ri["master_port"] == str(dead)
    # Never connected: Redis shows -1 for both ages and for ROLE's offset.
    assert ri["master_link_down_since_seconds"] == "-1", ri
    assert ri["master_last_io_seconds_ago"] == "-1", ri
    with r.raw() as c:
        assert_answers_quickly(c)
        role = c.execute("ROLE")
        assert role[:3] == [b"slave", HOST.encode(), dead] and role[3] in (
            b"connect", b"connecting") and role[4] == -1, role
        ok(c.execute("SLAVEOF", "NO", "ONE"))
        assert c.execute("ROLE")[0] == b"master"


def _server_tls_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_path("server.crt"), tls_path("server.key"))
    ctx.load_verify_locations(tls_path("ca.crt"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class FakeMaster(threading.Thread):
    """A listening socket (TLS in TLS mode) that hands each replica connection to
    handler(sock, fake), one at a time, then closes it."""

    def __init__(self, handler):
        super().__init__(daemon=True)
        self.handler = handler
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((HOST, 0))
        self.ls.listen(8)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.ctx = _server_tls_ctx() if MODE.tls else None
        self.connections = 0
        self.received = []
        self.done = False

    def run(self):
        while not self.done:
            try:
                s, _ = self.ls.accept()
            except (socket.timeout, OSError):
                continue
            try:
                s.settimeout(3)
                if self.ctx is not None:
                    s = self.ctx.wrap_socket(s, server_side=True)
                self.connections += 1
                self.handler(s, self)
            except (OSError, ssl.SSLError):
                pass
            finally:
                s.close()

    def stop(self):
        self.done = True
        self.join(5)
        self.ls.close()


GARBAGE = b"GARBAGE-7f3a\x00\xff\xfe not a reply\r\n"


def garbage_handler(s, fake):
    """Read the replica's first command (its PING), answer garbage."""
    fake.received.append(s.recv(4096))
    s.sendall(GARBAGE)
    time.sleep(0.2)


def test_fake_master_sends_garbage(topo):
    r = topo.node("replica")
    fm = FakeMaster(garbage_handler)
    fm.start()
    try:
        ok(r.do("REPLICAOF", HOST, str(fm.port)))
        wait_for(lambda: fm.connections >= 2, 10, "the replica to retry", topo.describe)
        assert any(b"PING" in c.upper() for c in fm.received), fm.received
        with r.raw() as c:
            assert_answers_quickly(c)
            assert info(c)["master_link_status"] == "down"
        r.check_alive("replica")
        # The log names what the master sent.
        assert "GARBAGE-7f3a" in r.log_text(), r.log_tail()
        ok(r.do("REPLICAOF", "NO", "ONE"))
    finally:
        fm.stop()


def _read_command(s, buf):
    """One multibulk command from socket s (buf: a bytearray of what was read before)."""
    while True:
        try:
            from klserver import parse_reply
            got = parse_reply(buf)
        except Exception:  # noqa: BLE001 - not RESP: give up on this connection
            raise OSError("not RESP: %r" % bytes(buf[:60]))
        if got is not None:
            value, end = got
            del buf[:end]
            return [bytes(a) for a in value]
        data = s.recv(65536)
        if not data:
            raise OSError("closed")
        buf += data


# A tiny RDB: key "half" in db 0, then an end marker with a zero (unchecked) checksum.
RDB_HEAD = b"REDIS0010\xfe\x00\x00\x04half\x01v"
RDB_GOOD = RDB_HEAD + b"\xff" + b"\x00" * 8


def rdb_handler(payload, declared_len):
    """A master that completes the handshake and answers PSYNC with +FULLRESYNC and a sized
    payload: `payload` bytes of the `declared_len` announced, then closes."""
    def handler(s, fake):
        buf = bytearray()
        while True:
            cmd = _read_command(s, buf)
            fake.received.append(cmd)
            name = cmd[0].upper()
            if name == b"PING":
                s.sendall(b"+PONG\r\n")
            elif name in (b"REPLCONF", b"AUTH"):
                s.sendall(b"+OK\r\n")
            elif name in (b"PSYNC", b"SYNC"):
                s.sendall(b"+FULLRESYNC " + b"a" * 40 + b" 0\r\n$%d\r\n" % declared_len
                          + payload)
                time.sleep(0.3)
                return
            else:
                s.sendall(b"-ERR unexpected\r\n")
    return handler


def test_fake_master_cuts_rdb_short(topo):
    """The transfer stops half-way: the replica keeps what it had (repl-diskless-load
    disabled loads nothing before the whole file is there), stays up and retries."""
    r = topo.node("replica")
    ok(r.do("SET", "old", "data"))
    fm = FakeMaster(rdb_handler(RDB_HEAD, 1000))
    fm.start()
    try:
        ok(r.do("REPLICAOF", HOST, str(fm.port)))
        wait_for(lambda: fm.connections >= 2, 10, "the replica to retry", topo.describe)
        assert any(c[0].upper() == b"PSYNC" for c in fm.received), fm.received
        r.check_alive("replica")
        with r.raw() as c:
            assert_answers_quickly(c)
            ri = info(c)
            assert ri["master_link_status"] == "down", ri
            assert c.execute("GET", "old") == b"data"
            assert c.execute("GET", "half") is None
        ok(r.do("REPLICAOF", "NO", "ONE"))
    finally:
        fm.stop()


@pytest.mark.keyloom_only
def test_fake_master_sends_corrupt_rdb(topo):
    """A complete but corrupt payload (an unknown type byte after the first key): redis-server
    7.0.15 exits with status 1 ("Internal error in RDB reading ... Unknown RDB encoding type
    99"); keyloom stays up, keeps the link down, retries, and does not
    serve the part it could read."""
    if repl_roles()[1] != "keyloom":
        pytest.skip("the replica is redis-server, which exits on a corrupt RDB (see above)")
    r = topo.node("replica")
    bad = RDB_HEAD + b"\x63\x04evil\x01v\xff" + b"\x00" * 8
    fm = FakeMaster(rdb_handler(bad, len(bad)))
    fm.start()
    try:
        ok(r.do("REPLICAOF", HOST, str(fm.port)))
        wait_for(lambda: fm.connections >= 2, 10, "the replica to retry", topo.describe)
        r.check_alive("replica")
        with r.raw() as c:
            assert_answers_quickly(c)
            assert info(c)["master_link_status"] == "down"
            assert c.execute("GET", "half") is None
        ok(r.do("REPLICAOF", "NO", "ONE"))
    finally:
        fm.stop()


def test_fake_master_good_rdb(topo):
    """The same fake master with a whole, valid payload: the replica loads it (a check of
    the fake master itself, so that the two tests above fail for the right reason)."""
    r = topo.node("replica")
    fm = FakeMaster(rdb_handler(RDB_GOOD, len(RDB_GOOD)))
    fm.start()
    try:
        ok(r.do("REPLICAOF", HOST, str(fm.port)))
        wait_for(lambda: r.do("GET", "half") == b"v", 10, "the key from the fake master",
                 topo.describe)
        ok(r.do("REPLICAOF", "NO", "ONE"))
    finally:
        fm.stop()


def test_fake_replica_never_reads(topo):
    m = topo.master()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect((HOST, m.port))
    if MODE.tls:
        s = MODE.ssl_context().wrap_socket(s, server_hostname=HOST)
    try:
        s.sendall(encode_command("PSYNC", "?", "-1"))
        wait_for(lambda: m.info()["connected_slaves"] == "1", 10, "the fake replica",
                 topo.describe)
        value = b"v" * 100_000
        errors = []

        def writer():
            try:
                with m.raw() as c:
                    for i in range(200):                       # 20 MB
                        c.send_command("SET", "big:%d" % (i % 20), value)
                        if i % 10 == 9:
                            for _ in range(10):
                                assert c.read_value() == b"OK"
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=writer, daemon=True)
        lat = []
        with m.raw() as pc:
            t.start()
            while t.is_alive():
                lat.append(ping_latency(pc))
                time.sleep(0.005)
            t.join()
        assert not errors, errors
        lat.sort()
        assert len(lat) >= 5, lat
        # On a busy 2-core box: the median PING stays small and no single PING stalls.
        assert lat[len(lat) // 2] < 0.02, lat
        assert lat[-1] < 0.3, lat
        mi = m.info()
        assert mi["connected_slaves"] == "1", mi         # 20 MB is under the default limits
        # ... and it is held for the replica that does not read.
        line = m.do("CLIENT", "LIST", "TYPE", "replica").decode()
        omem = int(re.search(r"\bomem=(\d+)", line).group(1))
        assert omem > 10_000_000, line
        ok(m.do("CONFIG", "SET", "client-output-buffer-limit", "replica 1mb 1mb 0"))
        ok(m.do("SET", "one-more", "x" * 1000))
        wait_for(lambda: m.info()["connected_slaves"] == "0", 10,
                 "the replica over its output buffer limit to be dropped", topo.describe)
        assert m.do("PING") == b"PONG"
    finally:
        s.close()


@pytest.mark.skipif(not MODE.tls, reason="tls-replication needs the TLS modes")
def test_tls_replica_to_plaintext_master(topo):
    m = topo.master(layout="dual")
    r = topo.node("replica")
    ok(r.do("REPLICAOF", HOST, str(m.plain_port)))
    time.sleep(2.5)
    ri = r.info()
    assert ri["master_link_status"] == "down", ri
    with r.raw() as c:
        assert_answers_quickly(c)
    assert m.info()["connected_slaves"] == "0"
    assert m.stat("sync_full") == 0
    assert m.do("PING") == b"PONG"
    # The same replica pointed at the TLS port syncs.
    ok(m.do("SET", "k", "v"))
    topo.replicaof(r, m)
    topo.assert_same_data(m, r)
