"""keyloom as a replica (issue 11, the replica side), with a real redis-server 7.0.15 as the
master, in the suite's mode (TLS: the master listens on TLS only and keyloom connects with
tls-replication yes; io-threads 1 or 4 on keyloom):

  * full sync, disk-based and diskless on the master's side (repl-diskless-sync yes/no),
    then the command stream (every type, expiry, MULTI/EXEC, SELECT of other dbs): DEBUG DIGEST
    and master_repl_offset equal on both;
  * expiry on a replica: a logically expired key is hidden, not deleted, until the master's DEL;
  * partial resync after CLIENT KILL TYPE master (the master's sync_partial_ok grows) and after a
    replica restart (replid/offset restored from its RDB);
  * REPLICAOF NO ONE (replid2, writes accepted), REPLICAOF errors and replies, READONLY and
    MASTERDOWN;
  * faults: a master that is not listening, a plaintext master while tls-replication is on,
    garbage from a fake master, a payload cut off and a corrupt payload: the replica keeps
    running, retries, and never serves a half-loaded dataset.
"""

import os
import socket
import ssl
import threading
import time

import pytest

from helpers import info_dict
from klserver import HOST, Mode, RespError, ensure_certs, free_port, tls_path, wait_until

REDIS = "/usr/bin/redis-server"
LINK_TIMEOUT = 20


def _master(start_server, mode, *args):
    """A redis-server 7.0.15 master in the suite's TLS mode."""
    m = Mode(server=REDIS, tls=mode.tls, io_threads=1)
    return start_server(args=["--repl-diskless-sync-delay", "0"] + list(args), mode=m)


def _replica_args(mode, master=None):
    args = []
    if mode.tls:
        args += ["--tls-replication", "yes", "--tls-client-cert-file", tls_path("client.crt"),
                 "--tls-client-key-file", tls_path("client.key")]
    if master is not None:
        args += ["--replicaof", HOST, str(master.port)]
    return args


def _info(srv, section="replication"):
    with srv.raw() as c:
        return info_dict(c.execute("INFO", section))[section]


def _cmd(srv, *args):
    with srv.raw() as c:
        return c.execute(*args)


def _wait_link_up(replica, timeout=LINK_TIMEOUT):
    wait_until(lambda: _info(replica).get("master_link_status") == "up", timeout=timeout,
               what="master_link_status:up")


def _wait_in_sync(master, replica, timeout=LINK_TIMEOUT):
    def same():
        mo = _info(master)["master_repl_offset"]
        ro = _info(replica)
        return ro.get("master_link_status") == "up" and ro["master_repl_offset"] == mo \
            and ro["slave_repl_offset"] == mo
    wait_until(same, timeout=timeout, what="replica offset == master offset")


def _digest(srv):
    return _cmd(srv, "DEBUG", "DIGEST")


def _log(srv):
    try:
        with open(srv.logfile, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _populate(srv, tag):
    """Keys of every type in dbs 0 and 3, some with TTLs."""
    with srv.raw() as c:
        for db in (0, 3):
            c.execute("SELECT", str(db))
            c.execute("SET", "s:%s" % tag, "v" * 50)
            c.execute("SET", "n:%s" % tag, "12345")
            c.execute("RPUSH", "l:%s" % tag, *[str(i) for i in range(300)])
            c.execute("HSET", "h:%s" % tag, *sum([["f%d" % i, "v%d" % i] for i in range(200)], []))
            c.execute("HSET", "hs:%s" % tag, "a", "1")
            c.execute("SADD", "set:%s" % tag, *[str(i) for i in range(50)])
            c.execute("SADD", "sets:%s" % tag, "x", "y")
            c.execute("ZADD", "z:%s" % tag, *sum([[str(i), "m%d" % i] for i in range(200)], []))
            c.execute("ZADD", "zs:%s" % tag, "1", "a")
            c.execute("SET", "ttl:%s" % tag, "x", "EX", "1000")
            c.execute("PEXPIRE", "l:%s" % tag, "5000000")


def _stream(srv):
    """Writes of every kind once the replica streams."""
    with srv.raw() as c:
        c.execute("SET", "st", "1")
        c.execute("INCRBY", "st", "41")
        c.execute("APPEND", "st2", "abc")
        c.execute("LPUSH", "sl", "a", "b", "c")
        c.execute("LPOP", "sl")
        c.execute("HSET", "sh", "f", "v", "g", "w")
        c.execute("HDEL", "sh", "g")
        c.execute("SADD", "ss", "1", "2", "3")
        c.execute("SREM", "ss", "2")
        c.execute("ZADD", "sz", "1", "a", "2", "b")
        c.execute("ZINCRBY", "sz", "5", "a")
        c.execute("SET", "sexp", "v", "EX", "100")
        c.execute("EXPIRE", "st2", "200")
        c.execute("PERSIST", "sexp")
        c.execute("MULTI")
        c.execute("SET", "tx1", "a")
        c.execute("INCR", "tx2")
        c.execute("LPUSH", "tx3", "x")
        assert c.execute("EXEC") == [b"OK", 1, 1]
        c.execute("SELECT", "5")
        c.execute("SET", "in5", "five")
        c.execute("SELECT", "9")
        c.execute("HSET", "in9", "a", "b")
        c.execute("DEL", "in9")
        c.execute("SET", "in9b", "x")
        c.execute("SELECT", "0")
        c.execute("DEL", "sl")
        c.execute("RENAME", "st", "st-renamed")
        c.execute("FLUSHDB")  # db 0 only
        c.execute("SET", "after-flush", "1")


@pytest.mark.parametrize("diskless", ["no", "yes"])
def test_full_sync_then_stream(start_server, mode, diskless):
    master = _master(start_server, mode, "--repl-diskless-sync", diskless)
    _populate(master, "a")
    replica = start_server(args=_replica_args(mode, master))
    _wait_link_up(replica)
    _wait_in_sync(master, replica)
    assert _digest(replica) == _digest(master)
    ri = _info(replica)
    assert ri["master_host"] == HOST and ri["master_port"] == str(master.port)
    assert ri["master_replid"] == _info(master)["master_replid"]
    log = _log(replica)
    for line in ("Connecting to MASTER %s:%d" % (HOST, master.port),
                 "MASTER <-> REPLICA sync started",
                 "Partial resynchronization not possible (no cached master)",
                 "MASTER <-> REPLICA sync: Finished with success"):
        assert line in log, line
    if diskless == "yes":
        assert "receiving streamed RDB from master with EOF to disk" in log
    else:
        assert "bytes from master to disk" in log
    # The temp file was renamed over dbfilename.
    assert os.path.exists(os.path.join(replica.dir, "dump.rdb"))
    assert not [f for f in os.listdir(replica.dir) if f.startswith("temp-")]
    _stream(master)
    _wait_in_sync(master, replica)
    assert _digest(replica) == _digest(master)
    with replica.raw() as c:
        assert c.execute("GET", "after-flush") == b"1"
        assert c.execute("EXISTS", "st-renamed") == 0
        c.execute("SELECT", "5")
        assert c.execute("GET", "in5") == b"five"
        c.execute("SELECT", "3")
        assert c.execute("LLEN", "l:a") == 300
        assert 0 < c.execute("TTL", "ttl:a") <= 1000
    # We announced the port clients reach us on (with TLS only: the TLS port).
    assert "port=%d," % replica.port in _info(master)["slave0"]
    # The master sees our acknowledgements.
    wait_until(lambda: "offset=%s" % _info(master)["master_repl_offset"]
               in _info(master).get("slave0", ""), timeout=5, what="REPLCONF ACK")
    # A second round of changes after the first stream.
    _populate(master, "b")
    _wait_in_sync(master, replica)
    assert _digest(replica) == _digest(master)


def test_expiry_is_the_masters(start_server, mode):
    master = _master(start_server, mode)
    replica = start_server(args=_replica_args(mode, master))
    _wait_in_sync(master, replica)
    _cmd(master, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
    _cmd(master, "SET", "gone", "v", "PX", "150")
    _cmd(master, "SET", "stay", "v")
    _wait_in_sync(master, replica)
    time.sleep(0.4)
    with replica.raw() as c:
        # Logically expired: hidden from reads, but kept until the master deletes it.
        assert c.execute("GET", "gone") is None
        assert c.execute("EXISTS", "gone") == 0
        assert c.execute("DBSIZE") == 2
    time.sleep(0.3)
    assert _cmd(replica, "DBSIZE") == 2  # no active expiry on a replica
    assert _cmd(master, "GET", "gone") is None  # the master expires it and sends DEL
    wait_until(lambda: _cmd(replica, "DBSIZE") == 1, timeout=5, what="the master's DEL")
    assert _digest(replica) == _digest(master)


def test_partial_resync_after_client_kill(start_server, mode):
    master = _master(start_server, mode)
    _populate(master, "a")
    replica = start_server(args=_replica_args(mode, master))
    _wait_in_sync(master, replica)
    before = int(_info(master, "stats")["sync_partial_ok"])
    full = int(_info(master, "stats")["sync_full"])
    assert _cmd(replica, "CLIENT", "KILL", "TYPE", "master") == 1
    _stream(master)  # written while the link may be down: comes from the backlog
    wait_until(lambda: int(_info(master, "stats")["sync_partial_ok"]) == before + 1,
               timeout=LINK_TIMEOUT, what="sync_partial_ok to grow")
    _wait_in_sync(master, replica)
    assert int(_info(master, "stats")["sync_full"]) == full
    assert _digest(replica) == _digest(master)
    log = _log(replica)
    assert "Trying a partial resynchronization (request" in log
    assert "Successful partial resynchronization with master." in log


def test_partial_resync_after_replica_restart(start_server, mode, tmp_path):
    master = _master(start_server, mode)
    _populate(master, "a")
    rdir = str(tmp_path / "replica")
    os.mkdir(rdir)
    replica = start_server(args=_replica_args(mode, master), workdir=rdir)
    _wait_in_sync(master, replica)
    assert _cmd(replica, "SAVE") == b"OK"
    replica.stop()
    _stream(master)
    before = int(_info(master, "stats")["sync_partial_ok"])
    full = int(_info(master, "stats")["sync_full"])
    replica2 = start_server(args=_replica_args(mode, master), workdir=rdir)
    _wait_in_sync(master, replica2)
    assert int(_info(master, "stats")["sync_partial_ok"]) == before + 1
    assert int(_info(master, "stats")["sync_full"]) == full
    assert _digest(replica2) == _digest(master)


def test_replicaof_no_one_and_errors(start_server, mode):
    master = _master(start_server, mode)
    replica = start_server(args=_replica_args(mode))
    with replica.raw() as c:
        assert c.execute("REPLICAOF", HOST, "70000") == RespError(b"ERR Invalid master port")
        assert c.execute("REPLICAOF", HOST, "abc") == RespError(b"ERR Invalid master port")
        assert c.execute("REPLICAOF", "NO", "ONE") == b"OK"  # already a master
        assert c.execute("SET", "mine", "1") == b"OK"
        assert c.execute("REPLICAOF", HOST, str(master.port)) == b"OK"
    _wait_in_sync(master, replica)
    with replica.raw() as c:
        assert c.execute("GET", "mine") is None  # replaced by the master's dataset
        assert c.execute("SLAVEOF", HOST, str(master.port)) == \
            b"OK Already connected to specified master"
        assert c.execute("SET", "x", "1") == \
            RespError(b"READONLY You can't write against a read only replica.")
        assert c.execute("CONFIG", "GET", "replicaof") == [b"replicaof",
                                                           b"%s %d" % (HOST.encode(), master.port)]
        role = c.execute("ROLE")
        if not isinstance(role, RespError):  # ROLE is the master side's (lead's) command
            assert role[:4] == [b"slave", HOST.encode(), master.port, b"connected"]
    old_id = _info(replica)["master_replid"]
    off = int(_info(replica)["master_repl_offset"])
    with replica.raw() as c:
        assert c.execute("REPLICAOF", "no", "one") == b"OK"
        assert c.execute("SET", "x", "1") == b"OK"
    ri = _info(replica)
    assert ri["role"] == "master"
    assert ri["master_replid2"] == old_id and ri["master_replid"] != old_id
    assert int(ri["second_repl_offset"]) == off + 1
    assert _cmd(replica, "CONFIG", "GET", "replicaof") == [b"replicaof", b""]
    assert "MASTER MODE enabled (user request from" in _log(replica)


def test_readonly_masterdown_and_no_master(start_server, mode):
    dead = free_port()
    replica = start_server(args=_replica_args(mode) + ["--replicaof", HOST, str(dead)])
    with replica.raw() as c:
        assert c.execute("SET", "k", "v") == \
            RespError(b"READONLY You can't write against a read only replica.")
        assert c.execute("GET", "k") is None  # stale data served by default
        assert c.execute("CONFIG", "SET", "replica-serve-stale-data", "no") == b"OK"
        assert c.execute("GET", "k") == RespError(
            b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
        assert isinstance(c.execute("INFO"), bytes)  # stale commands still run
        assert c.execute("CONFIG", "SET", "replica-serve-stale-data", "yes") == b"OK"
        assert c.execute("CONFIG", "SET", "replica-read-only", "no") == b"OK"
        assert c.execute("SET", "k", "v") == b"OK"
    # Nothing listens: Redis's timing, one attempt per second, and the link stays down.
    wait_until(lambda: _log(replica).count("Connecting to MASTER %s:%d" % (HOST, dead)) >= 3,
               timeout=10, what="three connection attempts")
    assert "Error condition on socket for SYNC" in _log(replica)
    ri = _info(replica)
    assert ri["master_link_status"] == "down" and ri["master_sync_in_progress"] == "0"
    assert replica.alive()


def test_plaintext_master_with_tls_replication(start_server, mode):
    ensure_certs()  # TLS for the link even in plain mode
    plain = start_server(args=["--repl-diskless-sync-delay", "0"],
                         mode=Mode(server=REDIS, tls=False, io_threads=1))
    args = ["--tls-replication", "yes", "--tls-ca-cert-file", tls_path("ca.crt"),
            "--tls-cert-file", tls_path("server.crt"), "--tls-key-file", tls_path("server.key"),
            "--replicaof", HOST, str(plain.port), "--repl-timeout", "2"]
    replica = start_server(args=args)
    # The plaintext server waits for a line that never comes: repl-timeout ends the attempt.
    wait_until(lambda: _log(replica).count("Connecting to MASTER") >= 2, timeout=15,
               what="a retry")
    assert _info(replica)["master_link_status"] == "down"
    assert "Error condition on socket for SYNC" in _log(replica)
    assert replica.alive()


# ---- fake masters --------------------------------------------------------------------------

class FakeMaster:
    """A tiny master on a loopback port that answers the handshake with a script:
    script(conn) is called for each accepted connection (TLS in TLS mode)."""

    def __init__(self, mode, script):
        self.mode = mode
        self.script = script
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.ctx = None
        if mode.tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(tls_path("server.crt"), tls_path("server.key"))
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            try:
                conn.settimeout(5)
                if self.ctx:
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                self.script(conn)
            except (OSError, ssl.SSLError):
                pass
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.t.join(5)
        self.sock.close()


def _read_cmd(conn):
    """Read until one full line arrives (good enough for the handshake's small commands)."""
    data = b""
    while not data.endswith(b"\r\n") or data.count(b"\r\n") < 3:
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("closed")
        data += chunk
        if data.count(b"$") * 2 + 1 <= data.count(b"\r\n"):
            break
    return data


def _handshake(conn):
    _read_cmd(conn)  # PING
    conn.sendall(b"+PONG\r\n")
    got = b""
    while got.count(b"REPLCONF") < 2:  # listening-port, capa
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("closed")
        got += chunk
    conn.sendall(b"+OK\r\n+OK\r\n")
    while b"PSYNC" not in got or not got.endswith(b"\r\n"):
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("closed")
        got += chunk


def _with_fake(start_server, mode, script, check):
    fake = FakeMaster(mode, script)
    try:
        replica = start_server(args=_replica_args(mode))
        with replica.raw() as c:
            c.execute("SET", "old", "data")
            c.execute("RPUSH", "oldlist", "1", "2")
            assert c.execute("REPLICAOF", HOST, str(fake.port)) == b"OK"
        wait_until(lambda: fake.accepted >= 2, timeout=10, what="the replica to retry")
        assert replica.alive()
        check(replica)
        with replica.raw() as c:
            # The replica keeps retrying the fake master: a retry's load may be
            # under way, and REPLICAOF answers -LOADING then (as Redis 7.0 does).
            got = []
            wait_until(lambda: got.append(c.execute("REPLICAOF", "NO", "ONE")) or
                       got[-1] != RespError(b"LOADING Redis is loading the dataset in memory"),
                       timeout=5, what="REPLICAOF NO ONE outside a retry's load")
            assert got[-1] == b"OK"
    finally:
        fake.close()
    return replica


def test_garbage_from_master(start_server, mode):
    def script(conn):
        _read_cmd(conn)
        conn.sendall(b"\x00\x01garbage that is not RESP at all\r\n" * 20)
        time.sleep(0.2)

    def check(replica):
        assert _info(replica)["master_link_status"] == "down"
        assert _cmd(replica, "GET", "old") == b"data"  # nothing replaced
        assert "Error condition on socket for SYNC" in _log(replica)
    _with_fake(start_server, mode, script, check)


def test_bad_bulk_header_from_master(start_server, mode):
    def script(conn):
        _handshake(conn)
        conn.sendall(b"+FULLRESYNC " + b"a" * 40 + b" 0\r\n\n\nNOT-A-BULK\r\n")
        time.sleep(0.3)

    def check(replica):
        wait_until(lambda: "Bad protocol from MASTER, the first byte is not '$'" in _log(replica),
                   timeout=5, what="the bad-protocol log line")
        assert _cmd(replica, "GET", "old") == b"data"
    _with_fake(start_server, mode, script, check)


def test_payload_cut_off(start_server, mode):
    def script(conn):
        _handshake(conn)
        conn.sendall(b"+FULLRESYNC " + b"b" * 40 + b" 100\r\n$100000\r\nREDIS0010" + b"x" * 500)
        time.sleep(0.2)  # then close: the transfer is cut off

    def check(replica):
        # The old dataset stays (disk mode flushes only once the whole payload is in), the temp
        # file is removed, and the replica retries.
        assert _cmd(replica, "GET", "old") == b"data"
        assert _cmd(replica, "LLEN", "oldlist") == 2
        wait_until(lambda: not [f for f in os.listdir(replica.dir) if f.startswith("temp-")],
                   timeout=5, what="the temp file to go")
        assert "I/O error trying to sync with MASTER" in _log(replica)
    _with_fake(start_server, mode, script, check)


def test_corrupt_payload(start_server, mode):
    payload = b"REDIS0010" + b"\xfe\x00" + b"\x77" * 60  # a db selector then junk

    def script(conn):
        _handshake(conn)
        conn.sendall(b"+FULLRESYNC " + b"c" * 40 + b" 7\r\n$%d\r\n" % len(payload) + payload)
        time.sleep(0.5)

    def check(replica):
        wait_until(lambda: "Failed trying to load the MASTER synchronization DB from disk"
                   in _log(replica), timeout=5, what="the load failure")
        # Never a half-loaded dataset: Redis empties the keyspace after a failed load.
        assert _cmd(replica, "DBSIZE") == 0
        assert _info(replica)["master_link_status"] == "down"
    _with_fake(start_server, mode, script, check)


def test_info_while_syncing(start_server, mode):
    """INFO replication's replica fields in Redis 7.0's order while a transfer is under way."""
    started = threading.Event()

    def script(conn):
        _handshake(conn)
        conn.sendall(b"+FULLRESYNC " + b"d" * 40 + b" 5\r\n$100000\r\nREDIS0010" + b"y" * 491)
        started.set()
        time.sleep(3)

    fake = FakeMaster(mode, script)
    try:
        replica = start_server(args=_replica_args(mode) + ["--replicaof", HOST, str(fake.port)])
        wait_until(started.is_set, timeout=10, what="the transfer to start")
        wait_until(lambda: _info(replica).get("master_sync_read_bytes") == "500", timeout=5,
                   what="500 bytes read")
        with replica.raw() as c:
            text = c.execute("INFO", "replication").decode()
        keys = [line.split(":")[0] for line in text.split("\r\n")[1:] if ":" in line]
        assert keys[:17] == ["role", "master_host", "master_port", "master_link_status",
                             "master_last_io_seconds_ago", "master_sync_in_progress",
                             "slave_read_repl_offset", "slave_repl_offset",
                             "master_sync_total_bytes", "master_sync_read_bytes",
                             "master_sync_left_bytes", "master_sync_perc",
                             "master_sync_last_io_seconds_ago", "master_link_down_since_seconds",
                             "slave_priority", "slave_read_only", "replica_announced"], keys
        ri = _info(replica)
        assert ri["master_sync_in_progress"] == "1"
        assert ri["master_sync_total_bytes"] == "100000"
        assert ri["master_sync_left_bytes"] == "99500"
        assert ri["master_sync_perc"] == "0.50"
        assert ri["master_link_status"] == "down"
        role = _cmd(replica, "ROLE")
        if not isinstance(role, RespError):
            assert role[3] == b"sync"
    finally:
        fake.close()


def test_loading_is_never_served_half_done(start_server, mode):
    """While the received RDB loads, clients get -LOADING (never a partial dataset)."""
    master = _master(start_server, mode, "--rdbcompression", "no")
    with master.raw() as c:
        for i in range(200):  # ~1 KB each: every 1 KB load step is one key (10 ms)
            c.execute("SET", "k%d" % i, "v" * 1000)
    replica = start_server(args=_replica_args(mode) + ["--key-load-delay", "10000",
                                                      "--loading-process-events-interval-bytes",
                                                      "1024"])
    with replica.raw() as c:
        assert c.execute("REPLICAOF", HOST, str(master.port)) == b"OK"
    seen_loading = seen_info = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with replica.raw() as c:
            reply = c.execute("DBSIZE")
        if reply == RespError(b"LOADING Redis is loading the dataset in memory"):
            seen_loading = True
            seen_info = seen_info or _info(replica, "persistence")["loading"] == "1"
            # REPLICAOF is not a loading command (Redis 7.0): it waits for the dataset too.
            assert _cmd(replica, "REPLICAOF", HOST, str(master.port)) in (
                RespError(b"LOADING Redis is loading the dataset in memory"),
                b"OK Already connected to specified master")
        elif seen_loading:
            assert reply == 200  # the first answer after loading is the whole dataset
            break
        else:
            assert reply in (0, 200)
            if reply == 200:
                break
        time.sleep(0.05)
    assert seen_loading and seen_info
    _wait_in_sync(master, replica)
    assert _digest(replica) == _digest(master)


def test_master_restart_keeps_history_as_replid2(start_server, mode, tmp_path):
    """A replica's RDB names its master's history; started from it as a master (no replicaof),
    the server keeps that history as replid2 (Redis 7.0's loadDataFromDisk)."""
    master = _master(start_server, mode)
    _populate(master, "a")
    rdir = str(tmp_path / "replica")
    os.mkdir(rdir)
    replica = start_server(args=_replica_args(mode, master), workdir=rdir)
    _wait_in_sync(master, replica)
    assert _cmd(replica, "SAVE") == b"OK"
    ri = _info(replica)
    replica.stop()
    again = start_server(args=_replica_args(mode), workdir=rdir)
    ai = _info(again)
    assert ai["role"] == "master"
    assert ai["master_replid2"] == ri["master_replid"]
    assert ai["second_repl_offset"] == str(int(ri["master_repl_offset"]) + 1)
    assert ai["master_repl_offset"] == ri["master_repl_offset"]
    assert _digest(again) == _digest(master)


def test_replica_with_aof_keeps_the_synced_data(start_server, mode, tmp_path):
    """appendonly yes on a replica: the AOF stops for the full sync and restarts from a rewrite
    of the loaded dataset (Redis's restartAOFAfterSYNC), so a restart from the AOF alone has
    the master's data."""
    master = _master(start_server, mode)
    _populate(master, "a")
    rdir = str(tmp_path / "replica")
    os.mkdir(rdir)
    replica = start_server(args=_replica_args(mode, master) + ["--appendonly", "yes"],
                           workdir=rdir)
    _wait_in_sync(master, replica)
    _stream(master)
    _wait_in_sync(master, replica)
    wait_until(lambda: _info(replica, "persistence").get("aof_rewrite_in_progress") == "0"
               and _info(replica, "persistence").get("aof_rewrite_scheduled") == "0"
               and _info(replica, "persistence").get("aof_last_bgrewrite_status") == "ok"
               and _info(replica, "persistence").get("aof_enabled") == "1",
               timeout=15, what="the AOF to be rewritten after the sync")
    want = _digest(master)
    replica.stop()
    os.unlink(os.path.join(rdir, "dump.rdb"))  # the AOF alone must have it
    again = start_server(args=_replica_args(mode) + ["--appendonly", "yes"], workdir=rdir)
    assert _digest(again) == want


def test_masterauth_and_announce(start_server, mode):
    master = _master(start_server, mode, "--requirepass", "s3cret")
    with master.raw() as c:
        assert c.execute("AUTH", "s3cret") == b"OK"
        c.execute("SET", "k", "v")
    bad = start_server(args=_replica_args(mode, master) + ["--masterauth", "wrong"])
    wait_until(lambda: "Unable to AUTH to MASTER" in _log(bad), timeout=10,
               what="the AUTH failure")
    assert _info(bad)["master_link_status"] == "down"
    good = start_server(args=_replica_args(mode, master) + [
        "--masterauth", "s3cret", "--replica-announce-ip", "127.0.0.9",
        "--replica-announce-port", "4242"])
    _wait_link_up(good)
    assert _cmd(good, "GET", "k") == b"v"
    with master.raw() as c:
        c.execute("AUTH", "s3cret")
        wait_until(lambda: "ip=127.0.0.9,port=4242," in
                   info_dict(c.execute("INFO", "replication"))["replication"].get("slave0", ""),
                   timeout=5, what="the announced address")
    # An ACL user as masteruser.
    with master.raw() as c:
        c.execute("AUTH", "s3cret")
        assert c.execute("ACL", "SETUSER", "repl", "on", ">pw", "+@all", "~*") == b"OK"
    user = start_server(args=_replica_args(mode, master) + ["--masteruser", "repl",
                                                            "--masterauth", "pw"])
    _wait_link_up(user)
    assert _cmd(user, "GET", "k") == b"v"


EMPTY_RDB = b"REDIS0010\xff" + b"\x00" * 8  # no keys; checksum 0: not checked


def test_hostile_commands_in_the_stream(start_server, mode):
    """A master whose stream kills its own client and asks for REPLICAOF NO ONE: the replica
    applies what it can, drops and retries the link, and never crashes."""
    stream = (b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
              b"*4\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$4\r\nTYPE\r\n$6\r\nmaster\r\n"
              b"*3\r\n$9\r\nREPLICAOF\r\n$2\r\nNO\r\n$3\r\nONE\r\n"
              b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n")

    def script(conn):
        _handshake(conn)
        conn.sendall(b"+FULLRESYNC " + b"e" * 40 + b" 0\r\n$%d\r\n" % len(EMPTY_RDB) + EMPTY_RDB
                     + stream)
        time.sleep(0.5)

    def check(replica):
        wait_until(lambda: _cmd(replica, "GET", "a") == b"1", timeout=5, what="SET a")
        assert _info(replica)["role"] == "slave"
    _with_fake(start_server, mode, script, check)


def test_partial_resync_after_failover(start_server, mode):
    """PSYNC2 across a failover: A is the master, B (redis-server) and keyloom replicate it; B is
    promoted and keyloom is pointed at B: it continues with a partial resync (+CONTINUE with B's
    new replication ID) and keeps A's history as replid2."""
    a = _master(start_server, mode)
    _populate(a, "a")
    b_args = ["--replicaof", HOST, str(a.port)]
    if mode.tls:
        b_args += ["--tls-replication", "yes", "--tls-client-cert-file", tls_path("client.crt"),
                   "--tls-client-key-file", tls_path("client.key")]
    b = _master(start_server, mode, *b_args)
    kl = start_server(args=_replica_args(mode, a))
    _wait_in_sync(a, b)
    _wait_in_sync(a, kl)
    a_id = _info(a)["master_replid"]
    assert _cmd(b, "REPLICAOF", "NO", "ONE") == b"OK"
    partial = int(_info(b, "stats")["sync_partial_ok"])
    assert _cmd(kl, "REPLICAOF", HOST, str(b.port)) == b"OK"
    _stream(b)
    _wait_in_sync(b, kl)
    assert int(_info(b, "stats")["sync_partial_ok"]) == partial + 1
    assert int(_info(b, "stats")["sync_full"]) == 0
    ki = _info(kl)
    assert ki["master_replid"] == _info(b)["master_replid"] != a_id
    assert ki["master_replid2"] == a_id
    assert "Master replication ID changed to" in _log(kl)
    assert _digest(kl) == _digest(b)


def test_diskless_load_modes_sync(start_server, mode):
    """repl-diskless-load on-empty-db / swapdb: from the socket (or through the disk in builds
    without the push-fed loader), the same dataset either way."""
    master = _master(start_server, mode)
    _populate(master, "a")
    for how in ("on-empty-db", "swapdb"):
        replica = start_server(args=_replica_args(mode, master) + ["--repl-diskless-load", how])
        _wait_in_sync(master, replica)
        assert _digest(replica) == _digest(master)
        _diskless(replica)
        _stream(master)
        _wait_in_sync(master, replica)
        assert _digest(replica) == _digest(master)


def test_info_and_role_like_redis_without_a_master(start_server, mode):
    """Differential: keyloom and redis-server 7.0.15, both replicas of a port where nothing
    listens, show the same replica fields of INFO replication (and ROLE, once it exists)."""
    dead = free_port()
    ref = start_server(args=["--replicaof", HOST, str(dead)],
                       mode=Mode(server=REDIS, tls=False, io_threads=1))
    kl = start_server(args=_replica_args(mode) + ["--replicaof", HOST, str(dead)])
    time.sleep(1.2)

    def fields(srv):
        text = _cmd(srv, "INFO", "replication").decode()
        out = []
        for line in text.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k == "connected_slaves":
                break
            out.append((k, v))
        return out
    assert fields(kl) == fields(ref)
    role = _cmd(kl, "ROLE")
    if not isinstance(role, RespError):
        assert role == _cmd(ref, "ROLE")
    for srv in (kl, ref):
        assert _cmd(srv, "REPLICAOF", HOST, str(dead)) == b"OK Already connected to specified master"
        assert _cmd(srv, "REPLICAOF", HOST, "-1") == RespError(b"ERR Invalid master port")


def test_rdb_del_sync_files(start_server, mode):
    master = _master(start_server, mode)
    _populate(master, "a")
    replica = start_server(args=_replica_args(mode, master) + ["--rdb-del-sync-files", "yes"])
    _wait_in_sync(master, replica)
    assert _digest(replica) == _digest(master)
    assert not os.path.exists(os.path.join(replica.dir, "dump.rdb"))
    assert "Removing the RDB file obtained from the master" in _log(replica)


def test_stream_with_big_replies_is_applied_whole(start_server, mode):
    """Replies to the master are dropped, never a reason to stop: a unit whose commands reply
    more than 1 MB (200 LRANGEs of a 1000-element list) is applied up to its last command."""
    def enc(*args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        return out
    stream = enc("RPUSH", "big", *["element-%04d" % i for i in range(1000)])
    stream += b"".join(enc("LRANGE", "big", "0", "-1") for _ in range(200))
    stream += enc("SET", "done", "1")

    def script(conn):
        _handshake(conn)
        conn.sendall(b"+FULLRESYNC " + b"f" * 40 + b" 0\r\n$%d\r\n" % len(EMPTY_RDB) + EMPTY_RDB
                     + stream)
        time.sleep(1.5)

    def check(replica):
        # Each retry starts over with a full sync: wait for a pass that applied the whole unit.
        wait_until(lambda: _cmd(replica, "GET", "done") == b"1", timeout=10, what="SET done")
        assert _cmd(replica, "LLEN", "big") == 1000
        # The retry asks to continue after every byte of the stream: all were counted.
        wait_until(lambda: "(request %s:27058)" % ("f" * 40) in _log(replica), timeout=5,
                   what="the PSYNC of the retry")
    _with_fake(start_server, mode, script, check)


def _diskless(replica):
    """Did this replica load from the socket ("to parser") or through its temp file? (Diskless
    loading needs the push-fed RDB loader; builds without it load every sync from disk.)"""
    log = _log(replica)
    assert "to parser" in log or "to disk" in log, log[-2000:]
    return "to parser" in log


def test_swapdb_failed_load_keeps_or_empties_as_redis(start_server, mode):
    """repl-diskless-load swapdb and a corrupt RDB: loaded aside, the old data stays (Redis's
    swapdb); through the disk, the keyspace is emptied (Redis's disk-based load)."""
    payload = b"REDIS0010" + b"\xfe\x00" + b"\x77" * 60

    def script(conn):
        _handshake(conn)
        conn.sendall(b"+FULLRESYNC " + b"c" * 40 + b" 7\r\n$%d\r\n" % len(payload) + payload)
        time.sleep(0.5)
    fake = FakeMaster(mode, script)
    try:
        replica = start_server(args=_replica_args(mode) + ["--repl-diskless-load", "swapdb"])
        with replica.raw() as c:
            c.execute("SET", "old", "data")
            assert c.execute("REPLICAOF", HOST, str(fake.port)) == b"OK"
        wait_until(lambda: "Failed trying to load the MASTER synchronization DB" in _log(replica),
                   timeout=10, what="the load failure")
        if _diskless(replica):
            assert "from socket" in _log(replica)
            assert _cmd(replica, "GET", "old") == b"data"
            assert _cmd(replica, "DBSIZE") == 1
        else:
            assert _cmd(replica, "DBSIZE") == 0
        assert replica.alive()
        assert _cmd(replica, "REPLICAOF", "NO", "ONE") == b"OK"
    finally:
        fake.close()


def test_diskless_cut_off_never_half_loaded(start_server, mode):
    """on-empty-db and a transfer cut after the first key: nothing of it stays."""
    rdb = (b"REDIS0010\xfe\x00\x00\x01a\x01b"  # db 0, "a" -> "b"
           b"\x00\x01c")                       # half of the next key, then the link drops

    def script(conn):
        _handshake(conn)
        conn.sendall(b"+FULLRESYNC " + b"9" * 40 + b" 3\r\n$1000\r\n" + rdb)
        time.sleep(0.3)
    fake = FakeMaster(mode, script)
    try:
        replica = start_server(args=_replica_args(mode) + ["--repl-diskless-load", "on-empty-db",
                                                           "--replicaof", HOST, str(fake.port)])
        wait_until(lambda: fake.accepted >= 2, timeout=10, what="a retry")
        if _diskless(replica):
            # -LOADING while a transfer runs (each retry loads again), never the partial key.
            for _ in range(40):
                reply = _cmd(replica, "GET", "a")
                assert reply is None or reply == RespError(
                    b"LOADING Redis is loading the dataset in memory"), reply
                time.sleep(0.05)
            assert "flushing the partial load" in _log(replica)
        wait_until(lambda: _cmd(replica, "DBSIZE") == 0, timeout=5, what="an empty keyspace")
        assert replica.alive()
    finally:
        fake.close()


def test_backlog_overflow_full_resync_same_history(start_server, mode):
    """The link drops and the master's backlog overflows: the PSYNC fails and a full resync of
    the same history follows (with swapdb from the socket: loaded aside while the old data is
    served, Redis 7.0's async loading)."""
    master = _master(start_server, mode, "--repl-backlog-size", "16kb")
    _populate(master, "a")
    replica = start_server(args=_replica_args(mode, master) + ["--repl-diskless-load", "swapdb"])
    _wait_in_sync(master, replica)
    full = int(_info(master, "stats")["sync_full"])
    assert _cmd(replica, "CLIENT", "KILL", "TYPE", "master") == 1
    with master.raw() as c:
        for i in range(100):
            c.execute("SET", "fill:%d" % i, "x" * 1000)
    wait_until(lambda: int(_info(master, "stats")["sync_full"]) == full + 1, timeout=LINK_TIMEOUT,
               what="a full resync")
    _wait_in_sync(master, replica)
    assert _digest(replica) == _digest(master)
    assert int(_info(master, "stats")["sync_partial_err"]) >= 1
    if _diskless(replica):
        assert "into a temporary database set" in _log(replica)


def test_config_rewrite_writes_the_master(start_server, mode, tmp_path):
    conf = tmp_path / "kl.conf"
    conf.write_text("# test\n")
    dead = free_port()
    srv = start_server(args=_replica_args(mode), config_file=str(conf))
    assert _cmd(srv, "REPLICAOF", HOST, str(dead)) == b"OK"
    assert _cmd(srv, "CONFIG", "REWRITE") == b"OK"
    assert "replicaof %s %d\n" % (HOST, dead) in conf.read_text()
    assert _cmd(srv, "REPLICAOF", "NO", "ONE") == b"OK"
    assert _cmd(srv, "CONFIG", "REWRITE") == b"OK"
    assert "replicaof" not in conf.read_text()


def test_master_killed_and_restarted(start_server, mode):
    """kill -9 of the master, then a restart on the same port with an empty dataset: the link
    drops, retries once a second, and the next sync (a new history) replaces the data."""
    master = _master(start_server, mode)
    _populate(master, "a")
    replica = start_server(args=_replica_args(mode, master))
    _wait_in_sync(master, replica)
    master.proc.kill()
    master.proc.wait(10)
    wait_until(lambda: _info(replica)["master_link_status"] == "down", timeout=10,
               what="the link to go down")
    assert _cmd(replica, "GET", "s:a") == b"v" * 50  # stale data served meanwhile
    master._start_on(master.port)
    _cmd(master, "SET", "fresh", "1")
    _wait_in_sync(master, replica)
    assert _digest(replica) == _digest(master)
    assert _cmd(replica, "DBSIZE") == 1
    assert replica.alive()
