"""The append-only file in Redis 7.0's multi-part layout (server/persist/aof.c,
server/persist/aof_rewrite.c, server/admin/aof_policy.c), checked against Debian's redis-server
7.0.15 (KEYLOOM_REFERENCE_SERVER, default the redis-server on PATH) and redis-check-aof:

  * the files and the manifest are named and written as Redis 7.0 does (appenddirname and
    appendfilename respected);
  * a directory written by keyloom loads in redis-server with the same DEBUG DIGEST and the
    other way round, with and without the RDB preamble; redis-check-aof accepts keyloom's files;
  * an old single-file appendonly.aof (plain commands or with an RDB preamble) is upgraded;
  * torn tails, unfinished MULTI, garbage and unknown commands are handled as Redis does
    (aof-load-truncated), #TS: annotations are written and skipped;
  * SIGKILL under a pipelined write load loses nothing acknowledged, with appendfsync always
    and with everysec (replies wait for the write(2), as in Redis), and leaves a consistent
    prefix;
  * BGREWRITEAOF (history, auto gc, INFO, scheduling against BGSAVE, auto rewrite, a killed
    child, SIGKILL of the server mid-rewrite, with the AOF off), every new incr file starting
    with SELECT and every file loading from db 0, CONFIG SET appendonly yes/no at run time
    (also during a BGSAVE or a rewrite), CONFIG SET appendfsync, no-appendfsync-on-rewrite,
    DEBUG LOADAOF.

Every test starts its own servers on its own directories (the shared server runs with
appendonly no). Error texts and log lines are compared with redis-server where the same
situation can be made on both."""

import os
import shutil
import subprocess
import threading
import time

import pytest

from klserver import Mode, RespError, Server, ServerError, encode_command, free_port, wait_until

pytestmark = pytest.mark.needs_types

REF_BINARY = os.environ.get("KEYLOOM_REFERENCE_SERVER") or shutil.which("redis-server") or \
    "/usr/bin/redis-server"
CHECK_AOF = shutil.which("redis-check-aof") or "/usr/bin/redis-check-aof"

SET_FOO = b"*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n"


def cmd_bytes(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Servers:
    """Starts keyloom (the suite's mode) and redis-server (plain TCP) on given directories;
    everything still running at the end is stopped and must exit cleanly."""

    def __init__(self, mode):
        self.mode = mode
        self.ref_mode = Mode(server=REF_BINARY, tls=False, io_threads=1)
        self.started = []

    def kl(self, d, *args, **kw):
        srv = Server(self.mode, args=list(args), workdir=str(d), **kw)
        self.started.append(srv)
        return srv.start()

    def ref(self, d, *args):
        assert os.path.exists(REF_BINARY), "reference redis-server not found: %s" % REF_BINARY
        srv = Server(self.ref_mode, args=list(args), workdir=str(d))
        self.started.append(srv)
        return srv.start()

    def stop(self, srv):
        self.started.remove(srv)
        srv.stop()

    def kill9(self, srv):
        self.started.remove(srv)
        srv.proc.kill()
        srv.proc.wait(10)

    def fail_start(self, d, *args, ref=False, timeout=20):
        """Run a server that must refuse to start: (exit status, log text)."""
        srv = Server(self.ref_mode if ref else self.mode, args=list(args), workdir=str(d))
        cmd = srv.command_line(free_port())
        for path in (srv.logfile, srv.stdout_path):
            if os.path.exists(path):
                os.unlink(path)
        with open(srv.stdout_path, "ab") as out:
            res = subprocess.run(cmd, cwd=str(d), stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, timeout=timeout)
        return res.returncode, read_text(srv.logfile)

    def close(self):
        errors = []
        for srv in self.started:
            try:
                srv.stop()
            except ServerError as e:
                errors.append(str(e))
        return errors


@pytest.fixture
def servers(mode, request):
    s = Servers(mode)
    request.node._kl_extra_servers = s.started
    yield s
    errors = s.close()
    if errors:
        pytest.fail("server did not stop cleanly:\n" + "\n".join(errors), pytrace=False)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def listing(d, sub="appendonlydir"):
    return sorted(os.listdir(os.path.join(str(d), sub)))


def settled_listing(d, expect, timeout=5.0):
    """The directory listing once the rewrite's background work is done: the new
    manifest is persisted and the history files removed on the AOF writer thread
    after INFO already shows the rewrite finished (Redis removes them on a bio
    thread too), so poll, bounded, for the expected listing."""
    deadline = time.monotonic() + timeout
    got = listing(d)
    while got != expect and time.monotonic() < deadline:
        time.sleep(0.02)
        got = listing(d)
    return got


def manifest(d, sub="appendonlydir", name="appendonly.aof"):
    return read_bytes(os.path.join(str(d), sub, name + ".manifest"))


def info(c, section="persistence"):
    text = c.execute("INFO", section)
    assert isinstance(text, bytes), text
    out = {}
    for line in text.decode().split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_rewrite_done(c, timeout=20, rewrites=None):
    """Wait until no rewrite runs or is scheduled (and aof_rewrites reaches rewrites)."""
    def done():
        i = info(c)
        if i["aof_rewrite_in_progress"] != "0" or i["aof_rewrite_scheduled"] != "0":
            return None
        if rewrites is not None and int(i["aof_rewrites"]) < rewrites:
            return None
        return i
    return wait_until(done, timeout=timeout, interval=0.05, what="the AOF rewrite to finish")


def wait_bgsave_done(c, timeout=20):
    wait_until(lambda: info(c)["rdb_bgsave_in_progress"] == "0", timeout=timeout,
               interval=0.05, what="BGSAVE to finish")


def copy_aof_dir(src, dst, sub="appendonlydir"):
    os.makedirs(str(dst), exist_ok=True)
    shutil.copytree(os.path.join(str(src), sub), os.path.join(str(dst), sub))


def all_digest(c):
    d = c.execute("DEBUG", "DIGEST")
    assert isinstance(d, bytes) and len(d) == 40, d
    return d


def build_dataset(c, rewrite=True):
    """Every type in small and big encodings, TTLs, three databases, MULTI/EXEC, keys that
    expire, a BGREWRITEAOF in the middle and writes after it. Returns the number of keys."""
    def ok(*cmd):
        r = c.execute(*cmd)
        assert not isinstance(r, RespError), (cmd, r)
        return r

    for db in (0, 2, 9):
        ok("SELECT", db)
        ok("SET", "str", "value-%d" % db)
        ok("SET", "int", 12345 + db)
        ok("INCRBY", "int", 7)
        ok("SET", "float", "1.5")
        ok("INCRBYFLOAT", "float", "0.25")
        ok("APPEND", "str", "-appended")
        ok("SET", "big", "x" * 3000)
        ok("RPUSH", "list", "a", "b", "c", 1, 2, 3)
        ok("LPUSH", "list", "head")
        ok("RPUSH", "biglist", *["element-%d-%s" % (i, "y" * 40) for i in range(300)])
        ok("LTRIM", "biglist", 5, -5)
        ok("SADD", "intset", 1, 2, 3, 100000, -5)
        ok("SADD", "set", "a", "b", "c")
        ok("SADD", "bigset", *["member-%d" % i for i in range(300)])
        ok("SREM", "bigset", "member-7")
        ok("ZADD", "zset", "1.5", "a", "2", "b", "-3.25", "c", "0.1", "d")
        ok("ZADD", "bigzset", *[x for i in range(300) for x in ("%d.5" % i, "m%d" % i)])
        ok("ZINCRBY", "bigzset", "0.3", "m5")
        ok("HSET", "hash", "f1", "v1", "f2", "2", "f3", "v3")
        ok("HSET", "bighash", *[x for i in range(300) for x in ("field%d" % i, "v" * 80)])
        ok("HINCRBY", "hash", "f2", 40)
        ok("HDEL", "bighash", "field3")
        ok("SET", "ttl", "v", "EX", 100000)
        ok("PEXPIRE", "hash", 50000000)
        ok("EXPIREAT", "zset", int(time.time()) + 86400)
        ok("SET", "gone", "soon", "PX", 30)
        ok("RPUSH", "gonelist", "a")
        ok("PEXPIRE", "gonelist", 30)
        assert c.execute("MULTI") == b"OK"
        for cmd in (("INCR", "counter"), ("RPUSH", "mlist", "x", "y"), ("SET", "mk", "mv"),
                    ("EXPIRE", "mk", 100000)):
            assert c.execute(*cmd) == b"QUEUED"
        r = c.execute("EXEC")
        assert isinstance(r, list) and len(r) == 4, r
        if db == 2 and rewrite:
            assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
            wait_rewrite_done(c, rewrites=1)
    time.sleep(0.05)
    for db in (0, 2, 9):
        # Touching them deletes them (and propagates the DEL).
        ok("SELECT", db)
        assert c.execute("GET", "gone") is None
        assert c.execute("EXISTS", "gonelist") == 0
        ok("DEL", "str")
        ok("SET", "after", "written after the rewrite")
        ok("SETEX", "after-ttl", 100000, "v")
        ok("PERSIST", "ttl")
    ok("SELECT", 0)
    total = 0
    for db in (0, 2, 9):
        ok("SELECT", db)
        total += c.execute("DBSIZE")
    ok("SELECT", 0)
    return total


def dbsizes(c):
    out = {}
    for db in (0, 2, 9):
        c.execute("SELECT", db)
        out[db] = c.execute("DBSIZE")
    c.execute("SELECT", 0)
    return out


# ------------------------------------------------------------------------------------------
# 1. files and manifest
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_files_and_manifest_like_redis(servers, tmp_path, preamble):
    kd, rd = tmp_path / "kl", tmp_path / "ref"
    kd.mkdir()
    rd.mkdir()
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    kl = servers.kl(kd, *args)
    ref = servers.ref(rd, *args)
    ext = "rdb" if preamble == "yes" else "aof"
    expect = ["appendonly.aof.1.base." + ext, "appendonly.aof.1.incr.aof",
              "appendonly.aof.manifest"]
    assert listing(kd) == expect
    assert listing(rd) == expect
    text = ("file appendonly.aof.1.base.%s seq 1 type b\n"
            "file appendonly.aof.1.incr.aof seq 1 type i\n" % ext).encode()
    assert manifest(rd) == text
    assert manifest(kd) == text
    assert os.path.getsize(os.path.join(str(kd), "appendonlydir", "appendonly.aof.1.incr.aof")) \
        == 0
    base = read_bytes(os.path.join(str(kd), "appendonlydir", expect[0]))
    if preamble == "yes":
        assert base.startswith(b"REDIS0010"), base[:16]
    # The log line Redis writes for the base made on start.
    assert "Creating AOF base file appendonly.aof.1.base.%s on server start" % ext \
        in read_text(kl.logfile)
    # The same writes land in the incremental file as the same bytes (commands whose
    # propagated form holds no clock: rewritten ones included).
    script = [("SET", "a", "b"), ("SELECT", "3"), ("RPUSH", "l", "x", "y", "z"),
              ("INCRBYFLOAT", "f", "1.5"), ("HSET", "h", "f", "1"),
              ("HINCRBYFLOAT", "h", "f", "0.25"), ("SADD", "s", "m"), ("SPOP", "s"),
              ("LMOVE", "l", "l2", "LEFT", "RIGHT"), ("RPOPLPUSH", "l", "l2"),
              ("DEL", "nosuchkey"), ("GETDEL", "f"), ("SET", "a", "c", "GET"),
              ("MULTI",), ("INCR", "n"), ("LPUSH", "l", "w"), ("EXEC",),
              ("BLPOP", "l2", "0"), ("SELECT", "0"), ("SETRANGE", "a", "3", "xyz"),
              ("ZADD", "z", "1", "m"), ("ZINCRBY", "z", "2", "m"), ("FLUSHDB",),
              ("SET", "k", "v"), ("PERSIST", "k"), ("RENAME", "k", "k2")]
    replies = []
    for s in (kl, ref):
        with s.raw() as c:
            replies.append([c.execute(*cmd) for cmd in script])
    assert replies[0] == replies[1]
    servers.stop(kl)
    servers.stop(ref)
    incr_k = read_bytes(os.path.join(str(kd), "appendonlydir", "appendonly.aof.1.incr.aof"))
    incr_r = read_bytes(os.path.join(str(rd), "appendonlydir", "appendonly.aof.1.incr.aof"))
    assert incr_k.lower() == incr_r.lower()


def test_appenddirname_and_appendfilename(servers, tmp_path):
    kd, rd = tmp_path / "kl", tmp_path / "ref"
    kd.mkdir()
    rd.mkdir()
    args = ("--appendonly", "yes", "--appenddirname", "aofs", "--appendfilename", "data.aof")
    kl = servers.kl(kd, *args)
    servers.ref(rd, *args)
    expect = ["data.aof.1.base.rdb", "data.aof.1.incr.aof", "data.aof.manifest"]
    assert listing(rd, "aofs") == expect
    assert listing(kd, "aofs") == expect
    assert not os.path.exists(os.path.join(str(kd), "appendonlydir"))
    assert manifest(kd, "aofs", "data.aof") == manifest(rd, "aofs", "data.aof")
    with kl.raw() as c:
        assert c.execute("SET", "k", "v") == b"OK"
        assert c.execute("CONFIG", "GET", "appenddirname") == [b"appenddirname", b"aofs"]
    servers.stop(kl)
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        assert c.execute("GET", "k") == b"v"


def test_info_aof_fields_like_redis(servers, tmp_path):
    kd, rd = tmp_path / "kl", tmp_path / "ref"
    kd.mkdir()
    rd.mkdir()
    kl = servers.kl(kd, "--appendonly", "yes")
    ref = servers.ref(rd, "--appendonly", "yes")
    names = []
    for s in (kl, ref):
        with s.raw() as c:
            i = info(c)
            names.append([k for k in i if k.startswith("aof_")])
            assert i["aof_enabled"] == "1"
            assert i["aof_last_write_status"] == "ok"
            assert i["aof_last_bgrewrite_status"] == "ok"
            assert i["aof_rewrites"] == "0"
            assert i["aof_last_rewrite_time_sec"] == "-1"
            assert c.execute("SET", "a", "b") == b"OK"
    assert names[0] == names[1]
    # keyloom's sizes are those of the files (redis-server 7.0 counts 0 for a base it made on
    # start; keyloom counts it). The writer thread writes behind the reply, so poll.
    adir = os.path.join(kl.dir, "appendonlydir")
    base = os.path.getsize(os.path.join(adir, "appendonly.aof.1.base.rdb"))
    with kl.raw() as c:
        wait_until(lambda: info(c)["aof_current_size"] == str(base + 50), timeout=5,
                   what="aof_current_size to count SELECT 0 + SET a b (50 bytes)")
        assert info(c)["aof_base_size"] == str(base)
        assert os.path.getsize(os.path.join(adir, "appendonly.aof.1.incr.aof")) == 50


# ------------------------------------------------------------------------------------------
# 2. interop with redis-server 7.0.15 and redis-check-aof
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_keyloom_aof_loads_in_redis(servers, tmp_path, preamble):
    kd = tmp_path / "kl"
    kd.mkdir()
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        nkeys = build_dataset(c)
        assert nkeys > 50
        digest = all_digest(c)
        sizes = dbsizes(c)
    servers.stop(kl)
    files = listing(kd)
    ext = "rdb" if preamble == "yes" else "aof"
    assert files == ["appendonly.aof.2.base." + ext, "appendonly.aof.2.incr.aof",
                     "appendonly.aof.manifest"]
    if preamble == "no":
        base = read_bytes(os.path.join(str(kd), "appendonlydir", files[0]))
        assert base.startswith(b"*"), base[:20]
    # redis-check-aof accepts the incremental file, the base and the whole manifest.
    for name in (files[1], files[0], files[2]):
        res = subprocess.run([CHECK_AOF, os.path.join(str(kd), "appendonlydir", name)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = res.stdout.decode(errors="replace")
        assert res.returncode == 0, out
        assert "is valid" in out, out
    rd = tmp_path / "ref"
    copy_aof_dir(kd, rd)
    ref = servers.ref(rd, *args)
    with ref.raw() as c:
        assert all_digest(c) == digest
        assert dbsizes(c) == sizes
    # And keyloom itself restarts on its own files with the same data.
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        assert all_digest(c) == digest


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_redis_aof_loads_in_keyloom(servers, tmp_path, preamble):
    rd = tmp_path / "ref"
    rd.mkdir()
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    ref = servers.ref(rd, *args)
    with ref.raw() as c:
        build_dataset(c)
        digest = all_digest(c)
        sizes = dbsizes(c)
    servers.stop(ref)
    kd = tmp_path / "kl"
    copy_aof_dir(rd, kd)
    before = listing(kd)
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        assert all_digest(c) == digest
        assert dbsizes(c) == sizes
        assert c.execute("SET", "more", "1") == b"OK"
    assert listing(kd) == before
    servers.stop(kl)
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        assert c.execute("GET", "more") == b"1"


# ------------------------------------------------------------------------------------------
# 3. upgrade of an old single-file appendonly.aof
# ------------------------------------------------------------------------------------------

OLD_AOF = (cmd_bytes("SELECT", "0") + cmd_bytes("SET", "k1", "v1")
           + cmd_bytes("RPUSH", "l", "a", "b", "c") + cmd_bytes("SELECT", "5")
           + cmd_bytes("HSET", "h", "f", "v") + cmd_bytes("SET", "k1", "other-db")
           + cmd_bytes("MULTI") + cmd_bytes("INCR", "n") + cmd_bytes("INCR", "n")
           + cmd_bytes("EXEC"))


def _check_old_data(c):
    assert c.execute("GET", "k1") == b"v1"
    assert c.execute("LRANGE", "l", 0, -1) == [b"a", b"b", b"c"]
    assert c.execute("SELECT", "5") == b"OK"
    assert c.execute("HGET", "h", "f") == b"v"
    assert c.execute("GET", "k1") == b"other-db"
    assert c.execute("GET", "n") == b"2"
    assert c.execute("SELECT", "0") == b"OK"


@pytest.mark.parametrize("preamble", [False, True])
def test_old_single_file_aof_upgraded(servers, tmp_path, preamble):
    data = OLD_AOF
    if preamble:
        # An RDB preamble as redis-server writes it, then a command tail.
        sd = tmp_path / "rdbsrc"
        sd.mkdir()
        ref = servers.ref(sd)
        with ref.raw() as c:
            c.execute("SET", "pre", "amble")
            c.execute("ZADD", "z", 1, "a", 2, "b")
            assert c.execute("SAVE") == b"OK"
        servers.stop(ref)
        data = read_bytes(os.path.join(str(sd), "dump.rdb")) + OLD_AOF
    kd, rd = tmp_path / "kl", tmp_path / "ref"
    for d in (kd, rd):
        d.mkdir()
        with open(os.path.join(str(d), "appendonly.aof"), "wb") as f:
            f.write(data)
    kl = servers.kl(kd, "--appendonly", "yes")
    ref = servers.ref(rd, "--appendonly", "yes")
    expect = ["appendonly.aof", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]
    assert listing(rd) == expect
    assert listing(kd) == expect
    assert manifest(kd) == manifest(rd) == (b"file appendonly.aof seq 1 type b\n"
                                            b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    assert not os.path.exists(os.path.join(str(kd), "appendonly.aof"))
    assert read_bytes(os.path.join(str(kd), "appendonlydir", "appendonly.aof")) == data
    with kl.raw() as c, ref.raw() as rc:
        _check_old_data(c)
        if preamble:
            assert c.execute("GET", "pre") == b"amble"
            assert c.execute("ZRANGE", "z", 0, -1, "WITHSCORES") == [b"a", b"1", b"b", b"2"]
        assert all_digest(c) == all_digest(rc)
        assert c.execute("SET", "new", "x") == b"OK"
    servers.stop(kl)
    kl = servers.kl(kd, "--appendonly", "yes")
    with kl.raw() as c:
        _check_old_data(c)
        assert c.execute("GET", "new") == b"x"
        assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_rewrite_done(c, rewrites=1)
        _check_old_data(c)
    expect = ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    assert settled_listing(kd, expect) == expect


# ------------------------------------------------------------------------------------------
# 4. damaged files
# ------------------------------------------------------------------------------------------

def _prepared_dir(servers, d):
    """A directory whose incremental file holds SELECT 0, SET k0..k4 (written by keyloom)."""
    d.mkdir()
    kl = servers.kl(d, "--appendonly", "yes")
    with kl.raw() as c:
        for i in range(5):
            assert c.execute("SET", "k%d" % i, "v%d" % i) == b"OK"
    servers.stop(kl)
    incr = os.path.join(str(d), "appendonlydir", "appendonly.aof.1.incr.aof")
    return incr, read_bytes(incr)


def _clone(src, dst, tail):
    shutil.copytree(str(src), str(dst))
    for name in ("server.log", "stdout.log"):
        try:
            os.unlink(os.path.join(str(dst), name))
        except FileNotFoundError:
            pass
    incr = os.path.join(str(dst), "appendonlydir", "appendonly.aof.1.incr.aof")
    with open(incr, "ab") as f:
        f.write(tail)
    return incr


def test_torn_tail_truncated(servers, tmp_path):
    base_dir = tmp_path / "base"
    _, good = _prepared_dir(servers, base_dir)
    offsets = [1, 2, 4, 9, 17, len(SET_FOO) - 2, len(SET_FOO) - 1]
    for cut in offsets:
        for who in ("kl", "ref"):
            d = tmp_path / ("%s-%d" % (who, cut))
            incr = _clone(base_dir, d, SET_FOO[:cut])
            s = servers.kl(d, "--appendonly", "yes") if who == "kl" else \
                servers.ref(d, "--appendonly", "yes")
            with s.raw() as c:
                assert c.execute("DBSIZE") == 5, (who, cut)
                assert c.execute("GET", "k4") == b"v4"
                assert c.execute("EXISTS", "foo") == 0
            log = read_text(s.logfile)
            assert os.path.getsize(incr) == len(good), (who, cut)
            for line in ("!!! Warning: short read while loading the AOF file "
                         "appendonly.aof.1.incr.aof!!!",
                         "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset %d !!!"
                         % len(good),
                         "AOF appendonly.aof.1.incr.aof loaded anyway because "
                         "aof-load-truncated is enabled"):
                assert line in log, (who, cut, line, log[-2000:])
            # Appending after the cut makes a valid file again.
            with s.raw() as c:
                assert c.execute("SET", "after", "1") == b"OK"
            servers.stop(s)
            res = subprocess.run([CHECK_AOF, incr], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=30)
            assert res.returncode == 0, res.stdout


def test_torn_tail_refused_without_load_truncated(servers, tmp_path):
    base_dir = tmp_path / "base"
    _, good = _prepared_dir(servers, base_dir)
    logs = {}
    for who in ("kl", "ref"):
        d = tmp_path / who
        incr = _clone(base_dir, d, SET_FOO[:20])
        rc, log = servers.fail_start(d, "--appendonly", "yes", "--aof-load-truncated", "no",
                                     ref=(who == "ref"))
        assert rc != 0, (who, log)
        assert os.path.getsize(incr) == len(good) + 20
        logs[who] = log
    msg = ("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof. "
           "You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix "
           "<filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' "
           "configuration option to yes and restart the server.")
    assert msg in logs["ref"], logs["ref"][-2000:]
    assert msg in logs["kl"], logs["kl"][-2000:]


def test_unterminated_multi_reverted(servers, tmp_path):
    base_dir = tmp_path / "base"
    _, good = _prepared_dir(servers, base_dir)
    tail = cmd_bytes("MULTI") + SET_FOO + cmd_bytes("INCR", "n")
    for who in ("kl", "ref"):
        d = tmp_path / who
        incr = _clone(base_dir, d, tail)
        s = servers.kl(d, "--appendonly", "yes") if who == "kl" else \
            servers.ref(d, "--appendonly", "yes")
        with s.raw() as c:
            assert c.execute("DBSIZE") == 5, who
            assert c.execute("EXISTS", "foo", "n") == 0
            # The loader's client is not left inside MULTI: a new write goes through.
            assert c.execute("SET", "x", "y") == b"OK"
        log = read_text(s.logfile)
        assert "Revert incomplete MULTI/EXEC transaction in AOF file appendonly.aof.1.incr.aof" \
            in log, (who, log[-2000:])
        servers.stop(s)
        assert read_bytes(incr).startswith(good)
        # Cut before MULTI, then the new write (after a SELECT: a new writer).
        assert read_bytes(incr)[len(good):].lower() == \
            (cmd_bytes("SELECT", "0") + cmd_bytes("SET", "x", "y")).lower()
        s = servers.kl(d, "--appendonly", "yes")
        with s.raw() as c:
            assert c.execute("DBSIZE") == 6
            assert c.execute("GET", "x") == b"y"
        servers.stop(s)
    # A complete MULTI/EXEC at the end is applied.
    d = tmp_path / "complete"
    _clone(base_dir, d, cmd_bytes("MULTI") + SET_FOO + cmd_bytes("EXEC"))
    s = servers.kl(d, "--appendonly", "yes")
    with s.raw() as c:
        assert c.execute("GET", "foo") == b"bar"


@pytest.mark.parametrize("what", ["garbage", "unknown"])
def test_bad_content_refused(servers, tmp_path, what):
    base_dir = tmp_path / "base"
    _prepared_dir(servers, base_dir)
    if what == "garbage":
        tail = b"this is not a command\r\n" + SET_FOO
        msg = ("Bad file format reading the append only file appendonly.aof.1.incr.aof: make a "
               "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
    else:
        tail = cmd_bytes("NOSUCHCOMMAND", "a") + SET_FOO
        msg = "Unknown command 'NOSUCHCOMMAND' reading the append only file " \
              "appendonly.aof.1.incr.aof"
    for who in ("ref", "kl"):
        for truncated in ("yes", "no"):
            d = tmp_path / ("%s-%s" % (who, truncated))
            incr = _clone(base_dir, d, tail)
            size = os.path.getsize(incr)
            rc, log = servers.fail_start(d, "--appendonly", "yes", "--aof-load-truncated",
                                         truncated, ref=(who == "ref"))
            assert rc != 0, (who, log)
            assert msg in log, (who, log[-2000:])
            assert os.path.getsize(incr) == size


def test_garbage_in_base_refused(servers, tmp_path):
    """A damaged file that is not the last one is never truncated."""
    base_dir = tmp_path / "base"
    incr, good = _prepared_dir(servers, base_dir)
    d = tmp_path / "kl"
    shutil.copytree(str(base_dir), str(d))
    # Make the first file a commands base with a torn end, followed by the good incr file.
    adir = os.path.join(str(d), "appendonlydir")
    os.unlink(os.path.join(adir, "appendonly.aof.1.base.rdb"))
    with open(os.path.join(adir, "appendonly.aof.1.base.aof"), "wb") as f:
        f.write(cmd_bytes("SET", "b", "1") + SET_FOO[:10])
    with open(os.path.join(adir, "appendonly.aof.manifest"), "wb") as f:
        f.write(b"file appendonly.aof.1.base.aof seq 1 type b\n"
                b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    rd = tmp_path / "ref"
    shutil.copytree(str(d), str(rd))
    for who, dd in (("kl", d), ("ref", rd)):
        rc, log = servers.fail_start(dd, "--appendonly", "yes", ref=(who == "ref"))
        assert rc != 0, (who, log)
        assert "!!! Warning: short read while loading the AOF file appendonly.aof.1.base.aof!!!" \
            in log, (who, log[-2000:])
    # redis-server 7.0.15 truncates the base before it gives up ("Fatal error: the truncated
    # file is not the last file"); keyloom leaves the file as it was and says so.
    assert "Fatal error: the truncated file is not the last file" in read_text(
        os.path.join(str(rd), "server.log"))
    assert read_bytes(os.path.join(adir, "appendonly.aof.1.base.aof")) == \
        cmd_bytes("SET", "b", "1") + SET_FOO[:10]
    assert "Unexpected end of file reading the append only file appendonly.aof.1.base.aof" in \
        read_text(os.path.join(str(d), "server.log"))


def test_each_file_loaded_from_db_0(servers, tmp_path):
    """Redis loads every file of the AOF with a new client in db 0: an incr file that does not
    begin with SELECT writes to db 0, whatever the base selected last."""
    d = tmp_path / "kl"
    adir = d / "appendonlydir"
    os.makedirs(str(adir))
    with open(str(adir / "appendonly.aof.1.base.aof"), "wb") as f:
        f.write(cmd_bytes("SELECT", "5") + cmd_bytes("SET", "in5", "1"))
    with open(str(adir / "appendonly.aof.1.incr.aof"), "wb") as f:
        f.write(cmd_bytes("SET", "where", "?"))
    with open(str(adir / "appendonly.aof.manifest"), "wb") as f:
        f.write(b"file appendonly.aof.1.base.aof seq 1 type b\n"
                b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    rd = tmp_path / "ref"
    shutil.copytree(str(d), str(rd))
    for s in (servers.ref(rd, "--appendonly", "yes"), servers.kl(d, "--appendonly", "yes")):
        with s.raw() as c:
            assert c.execute("GET", "where") == b"?", s.binary
            assert c.execute("SELECT", "5") == b"OK"
            assert c.execute("KEYS", "*") == [b"in5"], s.binary


@pytest.mark.timeout(60)
def test_kill9_during_rewrite(servers, tmp_path):
    """SIGKILL while a rewrite runs: the manifest names the old base, the old incr file and
    the new one; a restart (keyloom and redis-server) has every acknowledged write."""
    kd = tmp_path / "kl"
    kd.mkdir()
    args = ("--appendonly", "yes", "--appendfsync", "always")
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        for i in range(100):
            assert c.execute("RPUSH", "l", i) == i + 1
        assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "1000000") == b"OK"
        assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
        for i in range(100, 150):
            assert c.execute("RPUSH", "l", i) == i + 1
        assert c.execute("SELECT", "4") == b"OK"
        assert c.execute("SET", "k", "v") == b"OK"
        assert info(c)["aof_rewrite_in_progress"] == "1"
    log = read_text(kl.logfile)
    marker = "Background append only file rewriting started by pid "
    assert marker in log, log
    child = int(log.split(marker, 1)[1].split()[0])
    servers.kill9(kl)
    try:
        os.kill(child, 9)
    except ProcessLookupError:
        pass
    assert manifest(kd) == (b"file appendonly.aof.1.base.rdb seq 1 type b\n"
                            b"file appendonly.aof.1.incr.aof seq 1 type i\n"
                            b"file appendonly.aof.2.incr.aof seq 2 type i\n")
    rd = tmp_path / "ref"
    copy_aof_dir(kd, rd)
    for s in (servers.kl(kd, *args), servers.ref(rd, *args)):
        with s.raw() as c:
            assert c.execute("LRANGE", "l", 0, -1) == [str(i).encode() for i in range(150)]
            assert c.execute("SELECT", "4") == b"OK"
            assert c.execute("GET", "k") == b"v"
            assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
            wait_rewrite_done(c, rewrites=1)
            assert c.execute("GET", "k") == b"v"
    assert [f for f in listing(kd) if not f.startswith("temp-")] == [
        "appendonly.aof.2.base.rdb", "appendonly.aof.3.incr.aof", "appendonly.aof.manifest"]


def test_timestamp_annotations(servers, tmp_path):
    kd = tmp_path / "kl"
    kd.mkdir()
    kl = servers.kl(kd, "--appendonly", "yes", "--aof-timestamp-enabled", "yes")
    t0 = int(time.time())
    with kl.raw() as c:
        assert c.execute("SET", "a", "1") == b"OK"
        time.sleep(1.1)
        assert c.execute("SET", "b", "2") == b"OK"
        assert c.execute("INCR", "a") == 2
    servers.stop(kl)
    incr = read_bytes(os.path.join(str(kd), "appendonlydir", "appendonly.aof.1.incr.aof"))
    lines = [ln for ln in incr.split(b"\r\n") if ln.startswith(b"#")]
    assert len(lines) >= 2, incr
    stamps = []
    for ln in lines:
        assert ln.startswith(b"#TS:"), ln
        stamps.append(int(ln[4:]))
    assert stamps == sorted(stamps) and t0 - 1 <= stamps[0] <= t0 + 2, stamps
    assert incr.startswith(b"#TS:%d\r\n*" % stamps[0])
    res = subprocess.run([CHECK_AOF, os.path.join(str(kd), "appendonlydir",
                                                  "appendonly.aof.manifest")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert res.returncode == 0, res.stdout
    rd = tmp_path / "ref"
    copy_aof_dir(kd, rd)
    for s in (servers.kl(kd, "--appendonly", "yes"), servers.ref(rd, "--appendonly", "yes")):
        with s.raw() as c:
            assert c.execute("MGET", "a", "b") == [b"2", b"2"]
            assert c.execute("DBSIZE") == 2


# ------------------------------------------------------------------------------------------
# 5. SIGKILL under a write load
# ------------------------------------------------------------------------------------------

class Writer(threading.Thread):
    """Pipelines INCR counter + RPUSH list:<id> <n> in batches and records every
    acknowledgement (value, time) until the connection breaks."""

    def __init__(self, srv, ident, batch):
        super().__init__(daemon=True)
        self.c = srv.raw(timeout=10)
        self.wid = ident
        self.batch = batch
        self.acked = 0            # list elements acknowledged: 0..acked-1
        self.max_incr = 0
        self.ack_times = []       # (time, acked after this batch)
        self.error = None

    def run(self):
        n = 0
        try:
            while True:
                out = []
                for i in range(self.batch):
                    out.append(encode_command("INCR", "counter"))
                    out.append(encode_command("RPUSH", "list:%d" % self.wid, n + i))
                self.c.send(b"".join(out))
                for i in range(self.batch):
                    v = self.c.read_value()
                    if not isinstance(v, int):
                        raise AssertionError("INCR replied %r" % (v,))
                    self.max_incr = max(self.max_incr, v)
                    v = self.c.read_value()
                    if v != n + i + 1:
                        raise AssertionError("RPUSH replied %r, expected %d" % (v, n + i + 1))
                    self.acked = n + i + 1
                n += self.batch
                self.ack_times.append((time.monotonic(), self.acked))
        except (OSError, ConnectionError):
            pass
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.c.close()

    def acked_before(self, t):
        best = 0
        for when, acked in self.ack_times:
            if when <= t:
                best = acked
        return best


@pytest.mark.timeout(60)
@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_kill9_under_write_load(servers, tmp_path, policy):
    d = tmp_path / "kl"
    d.mkdir()
    args = ("--appendonly", "yes", "--appendfsync", policy)
    kl = servers.kl(d, *args)
    writers = [Writer(kl, i, batch) for i, batch in enumerate((1, 16, 64))]
    for w in writers:
        w.start()
    time.sleep(2.0)
    for w in writers:
        assert w.is_alive() and w.error is None, w.error
    servers.kill9(kl)
    killed_at = time.monotonic()
    for w in writers:
        w.join(15)
        assert not w.is_alive()
        assert w.error is None, w.error
        assert w.acked > 0, "writer %d got no acknowledgement" % w.wid
    kl = servers.kl(d, *args)
    with kl.raw() as c:
        counter = int(c.execute("GET", "counter"))
        total_acked = sum(w.acked for w in writers)
        assert total_acked > 500, "too little load to mean anything: %d" % total_acked
        max_incr = max(w.max_incr for w in writers)
        for w in writers:
            items = c.execute("LRANGE", "list:%d" % w.wid, 0, -1)
            got = [int(x) for x in items]
            # A consistent prefix: every element in order, none missing before the last.
            assert got == list(range(len(got))), "list:%d is not a prefix" % w.wid
            # A kill -9 is a crash of the process, not of the machine: the page
            # cache keeps what was written. Redis writes the AOF buffer before
            # it sends a turn's replies, and so does keyloom (the reply gate
            # waits for the writer's write(2) with everysec, for its fsync with
            # always), so nothing acknowledged may be lost with either policy.
            # (A power loss may cost everysec up to ~2 s: not testable here.)
            assert len(got) >= w.acked, (w.wid, len(got), w.acked)
            assert len(got) >= w.acked_before(killed_at - 2.0), (w.wid, len(got))
        # Each client sends INCR then its RPUSH; what was loaded is a prefix of every client's
        # stream, so the counter holds every loaded RPUSH's INCR and at most one more each.
        pushed = sum(c.execute("LLEN", "list:%d" % w.wid) for w in writers)
        assert pushed <= counter <= pushed + len(writers), (counter, pushed)
        assert counter >= max_incr and counter >= total_acked
    # The restarted server writes on: a clean stop and a restart keep everything.
    with kl.raw() as c:
        assert c.execute("INCR", "counter") == counter + 1
    servers.stop(kl)
    kl = servers.kl(d, *args)
    with kl.raw() as c:
        assert int(c.execute("GET", "counter")) == counter + 1


@pytest.mark.timeout(60)
def test_always_pipelined_batch_persisted_and_config_set_appendfsync(servers, tmp_path):
    d = tmp_path / "kl"
    d.mkdir()
    kl = servers.kl(d, "--appendonly", "yes", "--appendfsync", "always")
    with kl.raw() as c:
        n = 2000
        c.send(b"".join(encode_command("SET", "key:%d" % i, "v%d" % i) for i in range(n)))
        for i in range(n):
            assert c.read_value() == b"OK"
    servers.kill9(kl)
    kl = servers.kl(d, "--appendonly", "yes", "--appendfsync", "always")
    with kl.raw() as c:
        assert c.execute("DBSIZE") == 2000
        assert c.execute("GET", "key:1999") == b"v1999"
        # no -> always with unsynced bytes must not hold the CONFIG SET reply (it did: the
        # writer slept until the next write). It ends with always, so all 250 are durable.
        for policy in ("everysec", "no", "always", "no", "always"):
            assert c.execute("CONFIG", "SET", "appendfsync", policy) == b"OK"
            assert c.execute("CONFIG", "GET", "appendfsync") == [b"appendfsync",
                                                                   policy.encode()]
            for i in range(50):
                assert c.execute("RPUSH", "l", policy) > 0
        assert c.execute("CONFIG", "SET", "appendfsync", "sometimes") == RespError(
            b"ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) "
            b"must be one of the following: everysec, always, no")
    servers.kill9(kl)
    kl = servers.kl(d, "--appendonly", "yes")
    with kl.raw() as c:
        assert c.execute("LLEN", "l") == 250
        assert c.execute("DBSIZE") == 2001


@pytest.mark.timeout(60)
def test_no_appendfsync_on_rewrite_does_not_hold_replies(servers, tmp_path):
    """appendfsync always + no-appendfsync-on-rewrite yes: during a rewrite Redis skips the
    fsync and replies at once; the writes are durable once the rewrite is over."""
    for who in ("ref", "kl"):
        d = tmp_path / who
        d.mkdir()
        args = ("--appendonly", "yes", "--appendfsync", "always",
                "--no-appendfsync-on-rewrite", "yes")
        s = servers.kl(d, *args) if who == "kl" else servers.ref(d, *args)
        with s.raw(timeout=10) as c:
            for i in range(20):
                assert c.execute("SET", "k%d" % i, i) == b"OK"
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "100000") == b"OK"  # 2 s
            assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
            t0 = time.monotonic()
            for i in range(10):
                assert c.execute("SET", "during%d" % i, i) == b"OK"
            took = time.monotonic() - t0
            assert info(c)["aof_rewrite_in_progress"] == "1", who
            assert took < 1.0, "%s: 10 SETs took %.2fs during the rewrite" % (who, took)
            wait_rewrite_done(c, rewrites=1)
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "0") == b"OK"
            assert c.execute("SET", "after", "1") == b"OK"
        servers.kill9(s)
        s = servers.kl(d, *args) if who == "kl" else servers.ref(d, *args)
        with s.raw() as c:
            assert c.execute("DBSIZE") == 31, who
            assert c.execute("GET", "during9") == b"9"


def test_debug_loadaof_keeps_digest(servers, tmp_path):
    d = tmp_path / "kl"
    d.mkdir()
    (tmp_path / "ref").mkdir()
    kl = servers.kl(d, "--appendonly", "yes")
    with kl.raw() as c:
        build_dataset(c)
        digest = all_digest(c)
        sizes = dbsizes(c)
        assert c.execute("DEBUG", "LOADAOF") == b"OK"
        assert all_digest(c) == digest
        assert dbsizes(c) == sizes
        assert c.execute("SET", "after-load", "1") == b"OK"
        assert c.execute("DEBUG", "LOADAOF") == b"OK"
        assert c.execute("GET", "after-load") == b"1"
    # With the AOF turned off, DEBUG LOADAOF loads what the files hold (redis-server 7.0.15
    # does the same): a write made while off is gone.
    for s in (kl, servers.ref(tmp_path / "ref", "--appendonly", "yes")):
        with s.raw() as c:
            assert c.execute("SET", "x", "1") == b"OK"
            assert c.execute("CONFIG", "SET", "appendonly", "no") == b"OK"
            assert c.execute("SET", "y", "1") == b"OK"
            assert c.execute("DEBUG", "LOADAOF") == b"OK"
            assert c.execute("EXISTS", "x") == 1 and c.execute("EXISTS", "y") == 0, s.binary


# ------------------------------------------------------------------------------------------
# 6. BGREWRITEAOF
# ------------------------------------------------------------------------------------------

def test_bgrewriteaof_history_and_info(servers, tmp_path):
    kd = tmp_path / "kl"
    kd.mkdir()
    kl = servers.kl(kd, "--appendonly", "yes")
    with kl.raw() as c:
        for i in range(100):
            c.execute("SET", "k%d" % i, "v" * 100)
        assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
        i = wait_rewrite_done(c, rewrites=1)
        assert i["aof_last_bgrewrite_status"] == "ok"
        assert i["aof_rewrites"] == "1"
        assert i["aof_rewrites_consecutive_failures"] == "0"
        assert int(i["aof_last_rewrite_time_sec"]) >= 0
        base = os.path.join(str(kd), "appendonlydir", "appendonly.aof.2.base.rdb")
        wait_until(lambda: listing(kd) == ["appendonly.aof.2.base.rdb",
                                           "appendonly.aof.2.incr.aof",
                                           "appendonly.aof.manifest"], timeout=5,
                   what="history files removed")
        assert int(i["aof_base_size"]) == os.path.getsize(base)
        assert int(i["aof_current_size"]) == os.path.getsize(base)
        assert c.execute("SET", "after", "x") == b"OK"
        # The writer thread writes behind the reply: poll (SELECT 0 + SET after x = 54 bytes).
        wait_until(lambda: int(info(c)["aof_current_size"]) == os.path.getsize(base) + 54,
                   timeout=5, what="aof_current_size to count the new write")
    assert manifest(kd) == (b"file appendonly.aof.2.base.rdb seq 2 type b\n"
                            b"file appendonly.aof.2.incr.aof seq 2 type i\n")
    log = read_text(kl.logfile)
    for line in ("Background append only file rewriting started by pid",
                 "Background AOF rewrite terminated with success",
                 "Removing the history file appendonly.aof.1.incr.aof in the background",
                 "Removing the history file appendonly.aof.1.base.rdb in the background"):
        assert line in log, line
    servers.stop(kl)
    kl = servers.kl(kd, "--appendonly", "yes")
    with kl.raw() as c:
        assert c.execute("DBSIZE") == 101
        assert c.execute("GET", "after") == b"x"


def test_bgrewriteaof_auto_gc_disabled_like_redis(servers, tmp_path):
    kd, rd = tmp_path / "kl", tmp_path / "ref"
    kd.mkdir()
    rd.mkdir()
    args = ("--appendonly", "yes", "--aof-disable-auto-gc", "yes")
    kl = servers.kl(kd, *args)
    ref = servers.ref(rd, *args)
    for s in (kl, ref):
        with s.raw() as c:
            assert c.execute("SET", "a", "1") == b"OK"
            for n in (1, 2):
                assert c.execute("BGREWRITEAOF") == \
                    b"Background append only file rewriting started"
                wait_rewrite_done(c, rewrites=n)
                assert c.execute("SET", "b%d" % n, "1") == b"OK"
    assert listing(kd) == listing(rd)
    assert "appendonly.aof.1.incr.aof" in listing(kd)
    assert manifest(kd) == manifest(rd)
    assert b"type h" in manifest(kd)
    # Turning auto gc back on removes the history at the next rewrite.
    for s in (kl, ref):
        with s.raw() as c:
            assert c.execute("CONFIG", "SET", "aof-disable-auto-gc", "no") == b"OK"
            assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
            wait_rewrite_done(c, rewrites=3)
    wait_until(lambda: listing(kd) == listing(rd) and len(listing(kd)) == 3, timeout=5,
               what="history removed like redis-server does")
    assert manifest(kd) == manifest(rd)
    servers.stop(kl)
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        assert sorted(c.execute("KEYS", "*")) == [b"a", b"b1", b"b2"]


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_new_incr_file_starts_with_select(servers, tmp_path, preamble):
    """Redis starts every new incremental file with a SELECT (and loads each file with a fresh
    client in db 0): a write in db 3 right after a rewrite must stay in db 3."""
    kd = tmp_path / "kl"
    kd.mkdir()
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        assert c.execute("SELECT", "3") == b"OK"
        assert c.execute("SET", "before", "1") == b"OK"
        assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_rewrite_done(c, rewrites=1)
        assert c.execute("SET", "after", "1") == b"OK"
        digest = all_digest(c)
    servers.stop(kl)
    incr = read_bytes(os.path.join(str(kd), "appendonlydir", "appendonly.aof.2.incr.aof"))
    assert incr.lower().startswith(cmd_bytes("select", "3")), incr
    rd = tmp_path / "ref"
    copy_aof_dir(kd, rd)
    for s in (servers.kl(kd, *args), servers.ref(rd, *args)):
        with s.raw() as c:
            assert c.execute("SELECT", "3") == b"OK"
            assert c.execute("MGET", "before", "after") == [b"1", b"1"]
            assert all_digest(c) == digest


@pytest.mark.timeout(60)
def test_writes_during_slow_rewrite_survive(servers, tmp_path):
    kd = tmp_path / "kl"
    kd.mkdir()
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", "yes")
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        for i in range(200):
            c.execute("SET", "old:%d" % i, i)
        assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "5000") == b"OK"  # 1 s
        assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
        assert info(c)["aof_rewrite_in_progress"] == "1"
        assert c.execute("BGREWRITEAOF") == RespError(
            b"ERR Background append only file rewriting already in progress")
        n = 0
        while info(c)["aof_rewrite_in_progress"] == "1":
            assert c.execute("SET", "new:%d" % n, n) == b"OK"
            if n < 100:
                assert c.execute("DEL", "old:%d" % n) == 1
            n += 1
            time.sleep(0.002)
            assert n < 20000
        assert n > 100
        wait_rewrite_done(c, rewrites=1)
        assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "0") == b"OK"
        digest = all_digest(c)
    servers.stop(kl)
    assert listing(kd) == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof",
                           "appendonly.aof.manifest"]
    kl = servers.kl(kd, *args)
    with kl.raw() as c:
        assert all_digest(c) == digest
        assert c.execute("DBSIZE") == 100 + n
        assert c.execute("EXISTS", "old:99") == 0 and c.execute("GET", "old:100") == b"100"
        assert c.execute("GET", "new:%d" % (n - 1)) == str(n - 1).encode()
    rd = tmp_path / "ref"
    copy_aof_dir(kd, rd)
    ref = servers.ref(rd, *args)
    with ref.raw() as c:
        assert all_digest(c) == digest


@pytest.mark.timeout(60)
def test_rewrite_and_bgsave_scheduling_like_redis(servers, tmp_path):
    replies = {}
    for who in ("ref", "kl"):
        d = tmp_path / who
        d.mkdir()
        s = servers.kl(d, "--appendonly", "yes") if who == "kl" else \
            servers.ref(d, "--appendonly", "yes")
        got = []
        with s.raw() as c:
            for i in range(100):
                c.execute("SET", "k%d" % i, i)
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "5000") == b"OK"
            # A rewrite asked for while BGSAVE runs is scheduled, then done.
            got.append(c.execute("BGSAVE"))
            got.append(c.execute("BGREWRITEAOF"))
            got.append(info(c)["aof_rewrite_scheduled"])
            got.append(c.execute("BGREWRITEAOF"))
            wait_bgsave_done(c)
            wait_rewrite_done(c, rewrites=1)
            # BGSAVE while a rewrite runs: refused, or scheduled with SCHEDULE.
            got.append(c.execute("BGREWRITEAOF"))
            got.append(c.execute("BGSAVE"))
            got.append(c.execute("BGSAVE", "SCHEDULE"))
            got.append(c.execute("BGSAVE", "SCHEDULE"))
            saves = int(info(c)["rdb_saves"])
            wait_rewrite_done(c, rewrites=2)
            wait_until(lambda: int(info(c)["rdb_saves"]) == saves + 1, timeout=20,
                       what="the scheduled BGSAVE")
            wait_bgsave_done(c)
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "0") == b"OK"
        replies[who] = got
        servers.stop(s)
        assert os.path.exists(os.path.join(str(d), "dump.rdb"))
    assert replies["ref"][0] == b"Background saving started"
    assert replies["ref"][1] == b"Background append only file rewriting scheduled"
    assert replies["ref"][2] == "1"
    assert replies["kl"] == replies["ref"], replies


def test_auto_rewrite(servers, tmp_path):
    kd = tmp_path / "kl"
    kd.mkdir()
    kl = servers.kl(kd, "--appendonly", "yes", "--auto-aof-rewrite-min-size", "100kb",
                    "--auto-aof-rewrite-percentage", "100")
    with kl.raw() as c:
        assert c.execute("CONFIG", "GET", "auto-aof-rewrite-min-size") == [
            b"auto-aof-rewrite-min-size", b"102400"]
        for i in range(60):
            c.execute("SET", "k%d" % (i % 5), "v" * 1000)
        assert info(c)["aof_rewrites"] == "0"
        for i in range(60):
            c.execute("SET", "k%d" % (i % 5), "v" * 1000)
        i = wait_rewrite_done(c, rewrites=1)
        assert i["aof_last_bgrewrite_status"] == "ok"
        # Five keys of 1000 bytes: the new base is far below the threshold.
        assert int(i["aof_base_size"]) < 20000
    assert "Starting automatic rewriting of AOF on" in read_text(kl.logfile)
    expect = ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    assert settled_listing(kd, expect) == expect


# ------------------------------------------------------------------------------------------
# 7. CONFIG SET appendonly at run time
# ------------------------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_config_set_appendonly_yes_then_no_then_yes(servers, tmp_path):
    kd = tmp_path / "kl"
    kd.mkdir()
    kl = servers.kl(kd)
    with kl.raw() as c:
        build_dataset(c, rewrite=False)
        assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "2000") == b"OK"
        assert c.execute("CONFIG", "SET", "appendonly", "yes") == b"OK"
        i = info(c)
        assert i["aof_enabled"] == "1" and i["aof_rewrite_in_progress"] == "1", i
        n = 0
        while info(c)["aof_rewrite_in_progress"] == "1":
            assert c.execute("RPUSH", "during", n) == n + 1
            n += 1
            time.sleep(0.002)
            assert n < 20000
        assert n > 5
        wait_rewrite_done(c, rewrites=1)
        assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "0") == b"OK"
        assert c.execute("SET", "after", "1") == b"OK"
        digest = all_digest(c)
    expect = ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]
    assert settled_listing(kd, expect) == expect
    assert not [f for f in os.listdir(str(kd / "appendonlydir")) if f.startswith("temp")]
    servers.stop(kl)
    kl = servers.kl(kd, "--appendonly", "yes")
    with kl.raw() as c:
        assert all_digest(c) == digest
        assert c.execute("LLEN", "during") == n
        # Off, delete while off, on again: the deletion must stick.
        assert c.execute("CONFIG", "SET", "appendonly", "no") == b"OK"
        assert info(c)["aof_enabled"] == "0"
        assert c.execute("DEL", "during") == 1
        assert c.execute("SET", "while-off", "1") == b"OK"
        assert c.execute("CONFIG", "SET", "appendonly", "yes") == b"OK"
        wait_rewrite_done(c, rewrites=1)
        assert c.execute("SET", "back-on", "1") == b"OK"
        digest = all_digest(c)
    files = listing(kd)
    assert len(files) == 3 and files[2] == "appendonly.aof.manifest", files
    assert files[0].endswith(".base.rdb") and files[1].endswith(".incr.aof"), files
    m = manifest(kd).decode()
    assert m.count("\n") == 2 and "type h" not in m, m
    servers.stop(kl)
    kl = servers.kl(kd, "--appendonly", "yes")
    with kl.raw() as c:
        assert c.execute("EXISTS", "during") == 0
        assert c.execute("GET", "while-off") == b"1"
        assert c.execute("GET", "back-on") == b"1"
        assert all_digest(c) == digest
    # The same directory in redis-server has the same data.
    servers.stop(kl)
    rd = tmp_path / "ref"
    copy_aof_dir(kd, rd)
    ref = servers.ref(rd, "--appendonly", "yes")
    with ref.raw() as c:
        assert all_digest(c) == digest


@pytest.mark.timeout(60)
def test_config_set_appendonly_during_bgsave_and_rewrite_while_off_like_redis(servers, tmp_path):
    """CONFIG SET appendonly yes while a BGSAVE runs schedules the rewrite; BGREWRITEAOF with
    the AOF off writes a base and a manifest only. Same files and replies as redis-server."""
    seen = {}
    for who in ("ref", "kl"):
        d = tmp_path / who
        d.mkdir()
        s = servers.kl(d) if who == "kl" else servers.ref(d)
        got = []
        with s.raw() as c:
            for i in range(50):
                c.execute("SET", "k%d" % i, i)
            got.append(c.execute("BGREWRITEAOF"))
            wait_rewrite_done(c, rewrites=1)
            got.append(listing(d))
            got.append(manifest(d))
            got.append(info(c)["aof_enabled"])
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "10000") == b"OK"
            got.append(c.execute("BGSAVE"))
            got.append(c.execute("CONFIG", "SET", "appendonly", "yes"))
            i = info(c)
            got.append((i["aof_enabled"], i["aof_rewrite_scheduled"],
                        i["aof_rewrite_in_progress"]))
            assert c.execute("SET", "during", "1") == b"OK"
            wait_bgsave_done(c)
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "0") == b"OK"
            wait_rewrite_done(c, rewrites=2)
            assert c.execute("SET", "after", "1") == b"OK"
            got.append(listing(d))
            got.append(manifest(d))
        seen[who] = got
        servers.stop(s)
        s = servers.kl(d, "--appendonly", "yes") if who == "kl" else \
            servers.ref(d, "--appendonly", "yes")
        with s.raw() as c:
            assert c.execute("DBSIZE") == 52, who
        servers.stop(s)
    assert seen["ref"][4] == b"Background saving started"
    assert seen["ref"][6] == ("1", "1", "0")
    assert seen["kl"] == seen["ref"]


@pytest.mark.timeout(60)
def test_rewrite_child_killed_like_redis(servers, tmp_path):
    """A rewrite child that dies: INFO says err, the manifest keeps every incr file, nothing
    is lost, temp files are gone, and the next rewrite succeeds. Same as redis-server."""
    seen = {}
    for who in ("ref", "kl"):
        d = tmp_path / who
        d.mkdir()
        args = ("--appendonly", "yes")
        s = servers.kl(d, *args) if who == "kl" else servers.ref(d, *args)
        got = []
        with s.raw() as c:
            for i in range(20):
                c.execute("SET", "k%d" % i, i)
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "1000000") == b"OK"
            assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
            assert c.execute("SET", "during", "1") == b"OK"
            marker = "rewriting started by pid "
            log = wait_until(lambda: marker in read_text(s.logfile) and read_text(s.logfile),
                             what="the rewrite's log line")
            child = int(log.split(marker, 1)[1].split()[0])
            os.kill(child, 9)
            wait_until(lambda: info(c)["aof_rewrite_in_progress"] == "0", timeout=10,
                       what="the parent to see the child die")
            i = info(c)
            got.append((i["aof_last_bgrewrite_status"], i["aof_rewrites_consecutive_failures"],
                        i["aof_rewrites"]))
            assert "Background AOF rewrite terminated by signal 9" in read_text(s.logfile)
            wait_until(lambda: not [f for f in os.listdir(s.dir) if f.startswith("temp-")],
                       timeout=5, what="the temp file removed")
            got.append(listing(d))
            got.append(manifest(d))
            assert c.execute("SET", "after", "1") == b"OK"
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "0") == b"OK"
            assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
            wait_rewrite_done(c, rewrites=1)
            i = info(c)
            got.append((i["aof_last_bgrewrite_status"], i["aof_rewrites_consecutive_failures"]))
            got.append(listing(d))
            got.append(manifest(d))
        seen[who] = got
        servers.stop(s)
        s = servers.kl(d, *args) if who == "kl" else servers.ref(d, *args)
        with s.raw() as c:
            assert c.execute("DBSIZE") == 22, who
        servers.stop(s)
    assert seen["ref"][0] == ("err", "1", "1")  # aof_rewrites counts the forks
    assert seen["kl"] == seen["ref"]


@pytest.mark.timeout(60)
def test_appendonly_no_during_rewrite_like_redis(servers, tmp_path):
    """CONFIG SET appendonly no while a rewrite runs kills the child (not an error), leaves
    no temp file; turning it on again rewrites. Files, manifest and INFO as redis-server."""
    seen = {}
    for who in ("ref", "kl"):
        d = tmp_path / who
        d.mkdir()
        s = servers.kl(d, "--appendonly", "yes") if who == "kl" else \
            servers.ref(d, "--appendonly", "yes")
        got = []
        with s.raw() as c:
            for i in range(20):
                c.execute("SET", "k%d" % i, i)
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "1000000") == b"OK"
            assert c.execute("BGREWRITEAOF") == b"Background append only file rewriting started"
            got.append(c.execute("CONFIG", "SET", "appendonly", "no"))
            i = info(c)
            got.append((i["aof_enabled"], i["aof_rewrite_in_progress"],
                        i["aof_last_bgrewrite_status"]))
            wait_until(lambda: not [f for f in os.listdir(s.dir) if f.startswith("temp-")]
                       and not [f for f in listing(d) if f.startswith("temp-")], timeout=5,
                       what="no temp files")
            got.append(listing(d))
            got.append(manifest(d))
            assert c.execute("DEL", "k0") == 1
            assert c.execute("CONFIG", "SET", "rdb-key-save-delay", "0") == b"OK"
            got.append(c.execute("CONFIG", "SET", "appendonly", "yes"))
            wait_rewrite_done(c)
            got.append(info(c)["aof_last_bgrewrite_status"])
            got.append(listing(d))
            got.append(manifest(d))
        seen[who] = got
        servers.stop(s)
        s = servers.kl(d, "--appendonly", "yes") if who == "kl" else \
            servers.ref(d, "--appendonly", "yes")
        with s.raw() as c:
            assert c.execute("DBSIZE") == 19, who
            assert c.execute("EXISTS", "k0") == 0
        servers.stop(s)
    assert seen["ref"][1] == ("0", "0", "ok")
    assert seen["kl"] == seen["ref"]
