"""RDB persistence, differential against redis-server 7.0 (the reference, started here without
TLS): files written by keyloom load in redis-server and the other way round with the same
dataset (DEBUG DIGEST, OBJECT ENCODING and TTL per key), redis-check-rdb accepts keyloom's
files, BGSAVE / save points / MISCONF / SHUTDOWN / SIGTERM / start-up loading (-LOADING) behave
as Redis's, and damaged files stop the server with a clear log line, never a crash."""

import os
import shutil
import signal
import socket
import subprocess
import struct
import time

import pytest

from klserver import ProtocolError, RespError, Server, ServerError, free_port, wait_until
from rdbtools import (CHECK_RDB, REF_MODE, build, check_encodings, info, pipeline,
                      rdb_file, rdb_split, rdb_len, rdb_str, state, assert_same_state)

pytestmark = pytest.mark.needs_types

MISCONF = (b"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
           b"persist to disk. Commands that may modify the data set are disabled, because this "
           b"instance is configured to report errors during writes if RDB snapshotting fails "
           b"(stop-writes-on-bgsave-error option). Please check the Redis logs for details "
           b"about the RDB error.")
PROTECTED = ("--enable-protected-configs", "yes")  # CONFIG SET dbfilename
LOADING = b"LOADING Redis is loading the dataset in memory"


def _dir(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    return str(d)


def _ref(start_server, workdir, *args):
    return start_server(args=list(args), mode=REF_MODE, workdir=workdir)


def _kl(start_server, workdir, *args):
    return start_server(args=list(args), workdir=workdir)


def _copy_rdb(src_dir, dst_dir, name="dump.rdb"):
    shutil.copy(os.path.join(src_dir, "dump.rdb"), os.path.join(dst_dir, name))


def _read_log(srv):
    with open(srv.logfile, "rb") as f:
        return f.read().decode(errors="replace")


def _check_rdb(path):
    res = subprocess.run([CHECK_RDB, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=60)
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0 and "RDB looks OK" in out, out
    return out


# ---------------------------------------------------------------- files both ways

@pytest.mark.timeout(90)
def test_keyloom_file_loads_in_redis(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"))
    with kl.raw() as c:
        enc = build(c)
        check_encodings(c, enc)
        before = state(c)
        assert c.execute("SAVE") == b"OK"
    path = os.path.join(kl.dir, "dump.rdb")
    _check_rdb(path)
    ref_dir = _dir(tmp_path, "ref")
    _copy_rdb(kl.dir, ref_dir)
    ref = _ref(start_server, ref_dir)
    with ref.raw() as c:
        after = state(c)
    assert_same_state(before, after, what="keyloom -> redis-server")
    with kl.raw() as a, ref.raw() as b:
        for db in range(16):
            a.execute("SELECT", str(db))
            b.execute("SELECT", str(db))
            assert a.execute("DBSIZE") == b.execute("DBSIZE"), db


@pytest.mark.timeout(90)
def test_redis_file_loads_in_keyloom(start_server, tmp_path):
    ref = _ref(start_server, _dir(tmp_path, "ref"))
    with ref.raw() as c:
        enc = build(c)
        check_encodings(c, enc)
        before = state(c)
        assert c.execute("SAVE") == b"OK"
    kl_dir = _dir(tmp_path, "kl")
    _copy_rdb(ref.dir, kl_dir)
    kl = _kl(start_server, kl_dir)
    with kl.raw() as c:
        after = state(c)
        i = info(c)
        assert int(i["rdb_last_load_keys_loaded"]) == len(before[0])
        assert i["rdb_last_load_keys_expired"] == "0"
        # keyloom saves it again and redis-server reads that back: still the same data
        assert c.execute("SAVE") == b"OK"
    assert_same_state(before, after, what="redis-server -> keyloom")
    _check_rdb(os.path.join(kl_dir, "dump.rdb"))
    ref2_dir = _dir(tmp_path, "ref2")
    _copy_rdb(kl_dir, ref2_dir)
    ref2 = _ref(start_server, ref2_dir)
    with ref2.raw() as c:
        assert_same_state(before, state(c), ttl_slack_ms=10000, what="round trip")


@pytest.mark.timeout(90)
def test_no_compression_no_checksum(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"), "--rdbcompression", "no", "--rdbchecksum", "no")
    ref = _ref(start_server, _dir(tmp_path, "ref"), "--rdbcompression", "no",
               "--rdbchecksum", "no")
    for srv in (kl, ref):
        with srv.raw() as c:
            build(c, big_list_element=False)
            assert c.execute("SAVE") == b"OK"
    files = {}
    for name, srv in (("kl", kl), ("ref", ref)):
        with open(os.path.join(srv.dir, "dump.rdb"), "rb") as f:
            files[name] = f.read()
        data = files[name]
        assert data[-8:] == b"\0" * 8, name             # rdbchecksum no: a zero checksum
        assert data[-9] == 0xFF, name                    # after the EOF opcode
        assert b"abcdefgh" * 4000 in data, name          # rdbcompression no: stored as is
        assert b"r" * 100 in data, name
    _check_rdb(os.path.join(kl.dir, "dump.rdb"))
    # each loads the other's file (a zero checksum is not checked)
    with kl.raw() as c:
        before = state(c)
    kl2_dir, ref2_dir = _dir(tmp_path, "kl2"), _dir(tmp_path, "ref2")
    _copy_rdb(ref.dir, kl2_dir)
    _copy_rdb(kl.dir, ref2_dir)
    kl2 = _kl(start_server, kl2_dir)
    ref2 = _ref(start_server, ref2_dir)
    with kl2.raw() as a, ref2.raw() as b:
        assert_same_state(before, state(a), what="redis-server's file in keyloom")
        assert_same_state(before, state(b), what="keyloom's file in redis-server")
    # with compression on, the long compressible strings are no longer there as they are
    klc = _kl(start_server, _dir(tmp_path, "klc"))
    with klc.raw() as c:
        build(c, big_list_element=False)
        assert c.execute("SAVE") == b"OK"
    with open(os.path.join(klc.dir, "dump.rdb"), "rb") as f:
        data = f.read()
    assert b"abcdefgh" * 4000 not in data and len(data) < len(files["kl"])
    assert data[-8:] != b"\0" * 8
    _check_rdb(os.path.join(klc.dir, "dump.rdb"))


DETERMINISTIC_BY_DB = [
    ("SET", "k", "12345"),
    ("SET", "k", "hello world"),
    ("SET", "k", "compress me " * 30),
    ("SET", "k", bytes(range(256))),
    ("RPUSH", "k", *["element-%d-%s" % (i, "x" * (i % 50)) for i in range(1500)]),
    ("HSET", "k", "a", "1", "b", "two", "c", "-3"),
    ("SADD", "k", "3", "1", "2", "-100000"),
    ("ZADD", "k", "1.5", "a", "-0.0", "b", "inf", "c", "1e17", "d", "0.1", "e"),
    ("ZADD", "k", *[x for i in range(300) for x in (str(i * 0.3), "member%d" % i)]),
    ("SET", "k", "v", "PXAT", "99999999999000"),
    ("HSET", "k", *[x for i in range(100) for x in ("f%d" % i, "v" * (i % 40))]),
]


@pytest.mark.timeout(60)
def test_rdb_file_matches_redis_byte_for_byte(start_server, tmp_path):
    """With one key per database (so no hash-table order is involved) and deterministic
    encodings, everything after the AUX fields is what redis-server writes, byte for byte;
    the AUX fields have the same names."""
    files = []
    for name, mode in (("kl", None), ("ref", REF_MODE)):
        srv = start_server(args=[], workdir=_dir(tmp_path, name),
                           **({"mode": mode} if mode else {}))
        with srv.raw() as c:
            for db, cmd in enumerate(DETERMINISTIC_BY_DB):
                assert c.execute("SELECT", str(db)) == b"OK"
                assert not isinstance(c.execute(*cmd), RespError), cmd[:2]
            assert c.execute("SAVE") == b"OK"
        with open(os.path.join(srv.dir, "dump.rdb"), "rb") as f:
            files.append(rdb_split(f.read()))
    (va, aux_a, body_a), (vb, aux_b, body_b) = files
    assert va == vb == 10
    assert [n for n, _ in aux_a] == [n for n, _ in aux_b]
    assert dict(aux_a)[b"redis-ver"] == dict(aux_b)[b"redis-ver"]
    assert dict(aux_a)[b"redis-bits"] == b"64"
    if body_a[:-8] != body_b[:-8]:
        i = next(i for i in range(min(len(body_a), len(body_b))) if body_a[i] != body_b[i])
        pytest.fail("RDB bodies differ at body offset %d of %d/%d: keyloom %s, redis %s"
                    % (i, len(body_a), len(body_b), body_a[i:i + 24].hex(),
                       body_b[i:i + 24].hex()))
    # the same bytes after the same AUX fields: the checksums differ only through the AUX
    assert len(body_a) == len(body_b)


def test_debug_object_serializedlength_matches_redis(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"))
    ref = _ref(start_server, _dir(tmp_path, "ref"))
    with kl.raw() as a, ref.raw() as b:
        enc = build(a)
        build(b)
        diff = []
        for (db, key) in sorted(enc):
            a.execute("SELECT", str(db))
            b.execute("SELECT", str(db))
            la, lb = (int(c.execute("DEBUG", "OBJECT", key).split(b"serializedlength:")[1]
                          .split()[0]) for c in (a, b))
            if la != lb:
                diff.append((db, key[:20], la, lb))
        assert not diff, "serializedlength differs from redis-server's: %r" % diff


# ---------------------------------------------------------------- BGSAVE and MISCONF

def _bgsave_running(c):
    return info(c)["rdb_bgsave_in_progress"] == "1"


def _bgsave_idle(c):
    return info(c)["rdb_bgsave_in_progress"] == "0"


@pytest.mark.timeout(90)
def test_bgsave(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"))
    ref = _ref(start_server, _dir(tmp_path, "ref"))
    with kl.raw() as a, ref.raw() as b:
        for c in (a, b):
            pipeline(c, [("SET", "key:%d" % i, "v%d" % i) for i in range(2500)])
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "1000") == b"OK"
            i = info(c)
            assert i["rdb_changes_since_last_save"] == "2500"
            assert i["rdb_bgsave_in_progress"] == "0"
            assert i["rdb_last_bgsave_status"] == "ok"
            c.forks0 = int(info(c, "stats")["total_forks"])
            c.last0 = c.execute("LASTSAVE")
        time.sleep(1.1)  # LASTSAVE has a one-second resolution
        for c in (a, b):
            assert c.call("BGSAVE")[0] == b"+Background saving started\r\n"
        for c in (a, b):
            i = info(c)
            assert i["rdb_bgsave_in_progress"] == "1"
            assert 0 <= int(i["rdb_current_bgsave_time_sec"]) <= 2
            assert int(i["current_save_keys_total"]) == 2500
            assert i["rdb_saves"] == "1"   # Redis counts a BGSAVE when it forks
        replies = [(c.call("BGSAVE")[0], c.call("BGSAVE", "SCHEDULE")[0],
                    c.call("BGSAVE", "NOW")[0], c.call("SAVE")[0]) for c in (a, b)]
        assert replies[0] == replies[1]
        assert replies[0][0] == b"-ERR Background save already in progress\r\n"
        for c in (a, b):
            pipeline(c, [("SET", "during:%d" % i, "x") for i in range(7)])
        # the child reports its progress while it runs (about once a second)
        for c in (a, b):
            i = wait_until(lambda: (lambda i: int(i["current_save_keys_processed"]) > 0 and i)(
                info(c)), timeout=10, what="progress of the BGSAVE")
            assert i["rdb_bgsave_in_progress"] == "1"
            assert 0 < float(i["current_fork_perc"]) < 100
        for c in (a, b):
            wait_until(lambda: not _bgsave_running(c), timeout=20, what="BGSAVE end")
            i = info(c)
            assert i["rdb_last_bgsave_status"] == "ok"
            assert i["rdb_changes_since_last_save"] == "7"
            assert 1 <= int(i["rdb_last_bgsave_time_sec"]) <= 10
            assert i["rdb_saves"] == "1"
            assert c.execute("LASTSAVE") > c.last0
            st = info(c, "stats")
            assert int(st["total_forks"]) == c.forks0 + 1
            assert int(st["latest_fork_usec"]) > 0
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "0") == b"OK"
    # the file holds the 2500 keys of the fork, not the writes made during the save
    for srv in (kl, ref):
        _check_rdb(os.path.join(srv.dir, "dump.rdb"))
    kl2_dir = _dir(tmp_path, "kl2")
    _copy_rdb(kl.dir, kl2_dir)
    kl2 = _kl(start_server, kl2_dir)
    with kl2.raw() as c:
        assert c.execute("DBSIZE") == 2500
        assert c.execute("GET", "key:2499") == b"v2499"


@pytest.mark.timeout(60)
def test_bgsave_scheduled_inside_multi(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"))
    ref = _ref(start_server, _dir(tmp_path, "ref"))
    for srv in (kl, ref):
        with srv.raw() as c:
            c.execute("SET", "k", "v")
            assert c.execute("MULTI") == b"OK"
            assert c.execute("BGSAVE") == b"QUEUED"
            assert c.execute("SET", "k2", "v2") == b"QUEUED"
            assert c.execute("EXEC") == [b"Background saving scheduled", b"OK"]
            path = os.path.join(srv.dir, "dump.rdb")
            wait_until(lambda: os.path.exists(path) and _bgsave_idle(c), timeout=10,
                       what="the scheduled BGSAVE")
            i = info(c)
            assert i["rdb_last_bgsave_status"] == "ok"
            assert i["rdb_saves"] == "1"
            assert int(info(c, "stats")["total_forks"]) == 1


@pytest.mark.timeout(60)
def test_failed_bgsave_and_misconf(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"), *PROTECTED)
    ref = _ref(start_server, _dir(tmp_path, "ref"), *PROTECTED)
    conns = []
    for srv in (kl, ref):
        # the target name is an existing directory: the final rename fails (as root too)
        os.mkdir(os.path.join(srv.dir, "blocked.rdb"))
        c = srv.raw()
        conns.append(c)
        assert c.execute("SET", "k", "v") == b"OK"
        assert c.execute("CONFIG", "SET", "dbfilename", "blocked.rdb") == b"OK"
        assert c.execute("BGSAVE") == b"Background saving started"
    for c in conns:
        wait_until(lambda: info(c)["rdb_bgsave_in_progress"] == "0", timeout=10,
                   what="the failing BGSAVE to end")
        assert info(c)["rdb_last_bgsave_status"] == "err"
        assert info(c)["rdb_saves"] == "1"     # counted when it started
        # no save points: writes still work
        assert c.execute("SET", "k", "v2") == b"OK"
        assert c.execute("CONFIG", "SET", "save", "3600 1") == b"OK"
    replies = []
    for c in conns:
        replies.append([c.call(*cmd)[0] for cmd in (
            ("SET", "k", "v3"), ("PING",), ("GET", "k"), ("DEL", "k"), ("INCR", "n"),
            ("CONFIG", "GET", "dbfilename"))])
    assert replies[0] == replies[1]
    assert replies[0][0] == b"-" + MISCONF + b"\r\n"
    assert replies[0][1] == b"-" + MISCONF + b"\r\n"
    assert replies[0][2] == b"$2\r\nv2\r\n"
    # the failed save is in the log
    assert "Background saving error" in _read_log(kl)
    for c in conns:
        assert c.execute("CONFIG", "SET", "stop-writes-on-bgsave-error", "no") == b"OK"
        assert c.execute("SET", "k", "v4") == b"OK"
        assert c.execute("PING") == b"PONG"
        # back on: refused again until a save succeeds
        assert c.execute("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes") == b"OK"
        assert c.execute("SET", "k", "v5") == RespError(MISCONF)
        assert c.execute("CONFIG", "SET", "dbfilename", "dump.rdb") == b"OK"
        assert c.execute("BGSAVE") == b"Background saving started"
    for c in conns:
        wait_until(lambda: info(c)["rdb_bgsave_in_progress"] == "0", timeout=10,
                   what="BGSAVE to end")
        assert info(c)["rdb_last_bgsave_status"] == "ok"
        assert c.execute("SET", "k", "v6") == b"OK"
        assert c.execute("CONFIG", "SET", "save", "") == b"OK"
        c.close()


@pytest.mark.timeout(60)
def test_foreground_save_status_and_counters(start_server, tmp_path):
    """SAVE counts in rdb_saves (even when it fails) and a failed SAVE does not touch
    rdb_last_bgsave_status (so no MISCONF); the saves of DEBUG RELOAD and FLUSHALL are not
    counted. Compared with redis-server."""
    kl = _kl(start_server, _dir(tmp_path, "kl"), *PROTECTED)
    ref = _ref(start_server, _dir(tmp_path, "ref"), *PROTECTED)
    views = []
    for srv in (kl, ref):
        os.mkdir(os.path.join(srv.dir, "blocked.rdb"))
        with srv.raw() as c:
            seen = []
            for cmd in (("SET", "k", "v"), ("CONFIG", "SET", "save", "3600 1"),
                        ("DEBUG", "RELOAD"), ("FLUSHALL",), ("SET", "k", "v"),
                        ("CONFIG", "SET", "dbfilename", "blocked.rdb"), ("SAVE",),
                        ("SET", "k2", "v2"), ("PING",),
                        ("CONFIG", "SET", "dbfilename", "dump.rdb"), ("SAVE",),
                        ("CONFIG", "SET", "save", "")):
                reply = c.call(*cmd)[0]
                i = info(c)
                seen.append((cmd, reply, i["rdb_saves"], i["rdb_last_bgsave_status"],
                             i["rdb_changes_since_last_save"]))
            views.append(seen)
    for x, y in zip(*views):
        assert x == y, "keyloom %r, redis-server %r" % (x, y)


@pytest.mark.timeout(60)
def test_save_points(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"))
    path = os.path.join(kl.dir, "dump.rdb")
    with kl.raw() as c:
        assert c.execute("CONFIG", "SET", "save", "1 1") == b"OK"
        time.sleep(1.2)
        assert not os.path.exists(path)
        assert c.execute("SET", "k", "v") == b"OK"
        wait_until(lambda: os.path.exists(path), timeout=4, what="the save point's file")
        wait_until(lambda: info(c)["rdb_bgsave_in_progress"] == "0", timeout=5,
                   what="the BGSAVE to end")
        i = info(c)
        assert i["rdb_changes_since_last_save"] == "0"
        assert i["rdb_last_bgsave_status"] == "ok"
        assert c.execute("CONFIG", "SET", "save", "") == b"OK"
    log = _read_log(kl)
    assert "1 changes in 1 seconds. Saving..." in log, log[-2000:]
    assert "Background saving terminated with success" in log
    _check_rdb(path)


# ---------------------------------------------------------------- start-up and shutdown

@pytest.mark.timeout(90)
def test_restart_on_own_file(start_server, tmp_path):
    d = _dir(tmp_path, "kl")
    kl = _kl(start_server, d)
    with kl.raw() as c:
        build(c)
        before = state(c)
        assert c.execute("SAVE") == b"OK"
        assert info(c)["rdb_changes_since_last_save"] == "0"
    kl.stop()                       # save "" : SIGTERM does not save
    kl2 = Server(kl.mode, workdir=d, args=[]).start()
    try:
        with kl2.raw() as c:
            assert_same_state(before, state(c), what="restart")
            i = info(c)
            assert int(i["rdb_last_load_keys_loaded"]) == len(before[0])
            assert i["rdb_changes_since_last_save"] == "0"
        log = _read_log(kl2)
        assert "Done loading RDB, keys loaded: %d, keys expired: 0." % len(before[0]) in log
    finally:
        kl2.stop()


def _restart(srv):
    s = Server(srv.mode, workdir=srv.dir, args=srv.extra_args).start()
    return s


def _shutdown(c, *args):
    try:
        reply = c.execute("SHUTDOWN", *args)
    except (OSError, ProtocolError):
        return None
    return reply


@pytest.mark.timeout(60)
def test_shutdown_saves_as_told(start_server, tmp_path):
    # save points configured: SHUTDOWN saves, SHUTDOWN NOSAVE does not
    kl = _kl(start_server, _dir(tmp_path, "a"), "--save", "3600 1")
    path = os.path.join(kl.dir, "dump.rdb")
    with kl.raw() as c:
        c.execute("SET", "a", "1")
        assert _shutdown(c, "NOSAVE") is None
    assert kl.wait_exit() == 0
    assert not os.path.exists(path)
    kl = _restart(kl)
    try:
        with kl.raw() as c:
            assert c.execute("DBSIZE") == 0
            c.execute("SET", "a", "2")
            c.execute("RPUSH", "l", "x", "y")
            assert _shutdown(c) is None
        assert kl.wait_exit() == 0
    finally:
        kl._kill()
    assert os.path.exists(path)
    assert "Saving the final RDB snapshot before exiting." in _read_log(kl)
    kl = _restart(kl)
    try:
        with kl.raw() as c:
            assert c.execute("GET", "a") == b"2"
            assert c.execute("LRANGE", "l", "0", "-1") == [b"x", b"y"]
    finally:
        kl.stop()       # SIGTERM with save points: saves again
    # save "": SHUTDOWN does not save, SHUTDOWN SAVE does
    kl = _kl(start_server, _dir(tmp_path, "b"))
    path = os.path.join(kl.dir, "dump.rdb")
    with kl.raw() as c:
        c.execute("SET", "b", "1")
    kl2 = _kl(start_server, _dir(tmp_path, "c"))
    with kl2.raw() as c:
        c.execute("SET", "c", "1")
        assert _shutdown(c, "SAVE") is None
    assert kl2.wait_exit() == 0
    assert os.path.exists(os.path.join(kl2.dir, "dump.rdb"))
    with kl.raw() as c:
        assert _shutdown(c) is None
    assert kl.wait_exit() == 0
    assert not os.path.exists(path)
    kl2 = _restart(kl2)
    try:
        with kl2.raw() as c:
            assert c.execute("GET", "c") == b"1"
    finally:
        kl2.stop()


@pytest.mark.timeout(60)
def test_shutdown_when_the_save_fails(start_server, tmp_path):
    """The final save fails (the target is a directory): SHUTDOWN and SHUTDOWN SAVE are refused
    with Redis's error and the server keeps serving; SIGTERM does not stop it either;
    SHUTDOWN NOSAVE and SHUTDOWN FORCE do."""
    views, servers = [], []
    for name, mode in (("kl", None), ("ref", REF_MODE)):
        d = _dir(tmp_path, name)
        os.mkdir(os.path.join(d, "blocked.rdb"))
        srv = start_server(args=["--save", "3600 1", *PROTECTED], workdir=d,
                           **({"mode": mode} if mode else {}))
        servers.append(srv)
        with srv.raw() as c:
            assert c.execute("CONFIG", "SET", "dbfilename", "blocked.rdb") == b"OK"
            c.execute("SET", "k", "v")
            seen = [c.call("SHUTDOWN")[0], c.call("SHUTDOWN", "SAVE")[0], c.call("GET", "k")[0]]
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert srv.alive(), name
        with srv.raw() as c:
            seen.append(c.call("GET", "k")[0])
        views.append(seen)
    assert views[0] == views[1]
    assert views[0][0] == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    for srv, args in zip(servers, (("NOSAVE",), ("FORCE",))):
        with srv.raw() as c:
            assert _shutdown(c, *args) is None
        assert srv.wait_exit() == 0
    log = _read_log(servers[0])
    assert "Error trying to save the DB, can't exit." in log


@pytest.mark.timeout(60)
def test_sigterm_saves_with_save_points(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"), "--save", "3600 1")
    path = os.path.join(kl.dir, "dump.rdb")
    with kl.raw() as c:
        c.execute("SET", "k", "v")
        c.execute("SADD", "s", "1", "2")
        digest = c.execute("DEBUG", "DIGEST")
    kl.stop()
    assert os.path.exists(path)
    kl = _restart(kl)
    try:
        with kl.raw() as c:
            assert c.execute("DEBUG", "DIGEST") == digest
    finally:
        kl.stop()


@pytest.mark.timeout(60)
def test_missing_file_starts_empty(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"), "--dbfilename", "nothing-here.rdb")
    with kl.raw() as c:
        assert c.execute("DBSIZE") == 0
        assert info(c)["loading"] == "0"


@pytest.mark.timeout(60)
def test_expired_keys_are_not_loaded(start_server, tmp_path):
    """A hand-made file with keys whose expire time has passed: neither server loads them,
    and both count them the same way."""
    now = int(time.time() * 1000)
    body = b"\xfe\x00\xfb" + rdb_len(16) + rdb_len(6)
    for i in range(10):
        body += b"\x00" + rdb_str("keep:%d" % i) + rdb_str("v")
    for i in range(5):
        body += b"\xfc" + struct.pack("<q", now - 1000 * (i + 1))
        body += b"\x00" + rdb_str("gone:%d" % i) + rdb_str("v")
    body += b"\xfc" + struct.pack("<q", now + 1000000) + b"\x00" + rdb_str("later") + rdb_str("v")
    body += b"\xfd" + struct.pack("<I", now // 1000 - 5) + b"\x00" + rdb_str("gone:s") + \
        rdb_str("v")
    results = []
    for name, mode in (("kl", None), ("ref", REF_MODE)):
        d = _dir(tmp_path, name)
        _write(d, rdb_file(body))
        srv = start_server(args=[], workdir=d, **({"mode": mode} if mode else {}))
        with srv.raw() as c:
            i = info(c)
            results.append((c.execute("DBSIZE"), i["rdb_last_load_keys_loaded"],
                            i["rdb_last_load_keys_expired"], c.execute("EXISTS", "gone:0")))
            assert 990 < c.execute("TTL", "later") <= 1000
        assert "keys loaded: 11, keys expired: 6" in _read_log(srv)
    assert results[0] == results[1] == (11, "11", "6", 0)


# ---------------------------------------------------------------- loading

def _start_no_wait(srv):
    """Start the process without waiting for PING (it answers -LOADING for a while)."""
    port = free_port()
    srv.port = port
    out = open(srv.stdout_path, "ab")
    srv.proc = subprocess.Popen(srv.command_line(port), cwd=srv.dir, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out.close()


def _connect(srv, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return srv.raw(timeout=5)
        except (OSError, ProtocolError):
            if srv.proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _loading_view(srv):
    """Connect during the load: the GET reply and INFO persistence's fields."""
    c = _connect(srv)
    try:
        got = c.execute("GET", "key:1")
        fields = info(c)
        others = []
        for cmd in (("PING",), ("SET", "x", "y"), ("DBSIZE",), ("SELECT", "1"), ("LASTSAVE",),
                    ("CONFIG", "GET", "maxmemory"), ("CLIENT", "SETNAME", "n"), ("SAVE",),
                    ("BGSAVE",), ("DEBUG", "DIGEST"), ("KEYS", "*"), ("ECHO", "e"),
                    ("FLUSHALL",), ("INFO", "keyspace")):
            reply = c.execute(*cmd)
            others.append((cmd, reply.message if isinstance(reply, RespError)
                           else type(reply).__name__))
        return got, fields, others
    finally:
        c.close()


@pytest.mark.timeout(90)
def test_loading_replies_and_info(start_server, tmp_path):
    src = _kl(start_server, _dir(tmp_path, "src"))
    with src.raw() as c:
        pipeline(c, [("SET", "key:%d" % i, "v" * 20) for i in range(3000)])
        assert c.execute("SAVE") == b"OK"
        digest = c.execute("DEBUG", "DIGEST")
    views = {}
    for name, mode in (("kl", src.mode), ("ref", REF_MODE)):
        d = _dir(tmp_path, name)
        _copy_rdb(src.dir, d)
        srv = Server(mode, workdir=d, args=["--key-load-delay", "300",
                                            "--loading-process-events-interval-bytes", "1024"])
        _start_no_wait(srv)
        try:
            views[name] = _loading_view(srv)
            got, fields, _ = views[name]
            assert got == RespError(LOADING), (name, got)
            assert fields["loading"] == "1", name
            assert 0 <= float(fields["loading_loaded_perc"]) < 100, name
            assert int(fields["loading_total_bytes"]) == os.path.getsize(
                os.path.join(d, "dump.rdb")), name
            # the load finishes and the data is there
            c = _connect(srv)
            try:
                wait_until(lambda: c.execute("PING") == b"PONG", timeout=20, what="load end")
                assert c.execute("DBSIZE") == 3000
                assert c.execute("GET", "key:1") == b"v" * 20
                assert c.execute("DEBUG", "DIGEST") == digest
                i = info(c)
                assert i["loading"] == "0" and "loading_loaded_perc" not in i
                assert i["rdb_last_load_keys_loaded"] == "3000"
            finally:
                c.close()
        finally:
            srv.stop()
    assert list(views["kl"][1]) == list(views["ref"][1]), "INFO persistence fields differ"
    for x, y in zip(views["kl"][2], views["ref"][2]):
        assert x == y, "while loading: keyloom %r, redis-server %r" % (x, y)
    loading = [k for k in views["ref"][1] if k.startswith("loading_")]
    assert loading == ["loading_start_time", "loading_total_bytes", "loading_rdb_used_mem",
                       "loading_loaded_bytes", "loading_loaded_perc", "loading_eta_seconds"]


# ---------------------------------------------------------------- damaged files

def _expect_refusal(mode, d, *needles, args=()):
    """keyloom started on d's dump.rdb exits with status 1 (no signal) and logs the needles."""
    srv = Server(mode, workdir=d, args=list(args), start_timeout=20)
    with pytest.raises(ServerError):
        srv.start(attempts=1)
    rc = srv.proc.wait(10)
    log = _read_log(srv)
    assert rc == 1, "exit status %r\n%s" % (rc, log[-2000:])
    srv._check_sanitizer_output()  # a sanitizer build: no report on the way out
    line = [ln for ln in log.splitlines() if "dump.rdb" in ln and "Fatal error loading" in ln]
    assert line, log[-2000:]
    for n in needles:
        assert n in line[-1], (n, line[-1])
    return line[-1]


def _offset(line):
    return int(line.split("at offset ")[1].split(")")[0])


def _write(d, data):
    with open(os.path.join(d, "dump.rdb"), "wb") as f:
        f.write(data)


@pytest.mark.timeout(90)
def test_damaged_files_refused(start_server, tmp_path):
    src = _kl(start_server, _dir(tmp_path, "src"))
    with src.raw() as c:
        build(c, big_list_element=False)
        c.execute("SET", "plain:marker", "P" * 64)
        assert c.execute("CONFIG", "SET", "rdbcompression", "no") == b"OK"
        assert c.execute("SAVE") == b"OK"
    with open(os.path.join(src.dir, "dump.rdb"), "rb") as f:
        good = f.read()
    mode = src.mode
    n = 0

    def case(data, *needles):
        nonlocal n
        n += 1
        d = _dir(tmp_path, "bad%d" % n)
        _write(d, data)
        return _expect_refusal(mode, d, *needles)

    for cut in (0, 5, 9, 20, len(good) // 3, len(good) // 2, len(good) - 9, len(good) - 1):
        line = case(good[:cut], "offset")
        assert "EOF" in line or "Short read" in line or "Wrong signature" in line, line
    pos = good.index(b"P" * 64) + 10
    line = case(good[:pos] + b"Q" + good[pos + 1:], "Wrong RDB checksum", "offset %d"
                % (len(good) - 8))
    case(bytes(range(256)) * 4, "Wrong signature", "offset 0")
    case(b"REDIX0010" + good[9:], "Wrong signature", "offset 0")
    case(b"REDIS0011" + good[9:], "Can't handle RDB format version 11")
    # an unknown type byte (100) at offset 14; the value it announces would start at 19
    body = b"\xfe\x00\xfb\x01\x00" + b"\x64" + rdb_str("key") + rdb_str("value")
    line = case(rdb_file(body), "Unknown RDB encoding type 100")
    assert 14 <= _offset(line) <= 19, line
    case(rdb_file(b"\xfe\x00" + b"\x00" + rdb_str("k") + b"\x80\xff\xff\xff\xf0"),
         "offset")
    # a version-9 file with an unknown type is refused the same way
    line = case(rdb_file(body, version=9), "Unknown RDB encoding type 100")
    assert 14 <= _offset(line) <= 19, line


@pytest.mark.timeout(60)
def test_damaged_file_never_served(tmp_path, mode):
    """A file damaged near its end, loaded slowly: every client sees -LOADING until the server
    gives up; none ever reads a key."""
    d = _dir(tmp_path, "src")
    src = Server(mode, workdir=d).start()
    try:
        with src.raw() as c:
            pipeline(c, [("SET", "key:%d" % i, "v") for i in range(2000)])
            assert c.execute("SAVE") == b"OK"
    finally:
        src.stop()
    with open(os.path.join(d, "dump.rdb"), "rb") as f:
        good = f.read()
    bad = _dir(tmp_path, "bad")
    _write(bad, good[:len(good) * 3 // 4])
    srv = Server(mode, workdir=bad, args=["--key-load-delay", "300",
                                          "--loading-process-events-interval-bytes", "1024"])
    _start_no_wait(srv)
    seen_loading = 0
    try:
        deadline = time.monotonic() + 30
        while srv.proc.poll() is None and time.monotonic() < deadline:
            try:
                c = srv.raw(timeout=5)
                try:
                    reply = c.execute("GET", "key:1")
                finally:
                    c.close()
            except (OSError, ProtocolError, socket.timeout):
                time.sleep(0.01)
                continue
            assert reply == RespError(LOADING), reply
            seen_loading += 1
        assert srv.proc.wait(10) == 1
        srv._check_sanitizer_output()
    finally:
        srv._kill()
    assert seen_loading > 0
    assert "Fatal error loading the DB (dump.rdb, at offset" in _read_log(srv)


# ---------------------------------------------------------------- DEBUG RELOAD

@pytest.mark.timeout(60)
def test_debug_reload(start_server, tmp_path):
    kl = _kl(start_server, _dir(tmp_path, "kl"), *PROTECTED)
    with kl.raw() as c:
        build(c)
        before = state(c)
        assert c.execute("DEBUG", "RELOAD") == b"OK"
        assert_same_state(before, state(c), what="DEBUG RELOAD")
        assert os.path.exists(os.path.join(kl.dir, "dump.rdb"))
        # NOSAVE loads the file as it is: later writes are gone
        c.execute("SET", "new", "x")
        c.execute("DEL", "s:int")
        assert c.execute("DEBUG", "RELOAD", "NOSAVE") == b"OK"
        assert c.execute("EXISTS", "new") == 0
        assert c.execute("GET", "s:int") == b"12345"
        assert_same_state(before, state(c), what="DEBUG RELOAD NOSAVE")
        # a missing file: an error, and the dataset stays
        assert c.execute("CONFIG", "SET", "dbfilename", "missing.rdb") == b"OK"
        reply = c.execute("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH")
        assert reply == RespError(b"ERR Error trying to load the RDB dump, check server logs.")
        assert c.execute("CONFIG", "SET", "dbfilename", "dump.rdb") == b"OK"
        assert c.execute("DEBUG", "DIGEST") == before[1]
