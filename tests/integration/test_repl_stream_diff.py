"""The replication stream, differentially (issue 11): for a scripted list of commands, attach
as a replica (PSYNC ? -1, skip the RDB payload, then read the stream, as
utils/propagation-probe.py does) to a keyloom master and to a redis-server 7.0.15 master, run
the same script on each and compare what each master sent, byte for byte.

Two things are set aside, for reasons that have nothing to do with what is propagated:
  * PING and REPLCONF GETACK, which the masters send on their own timing;
  * the digits of absolute times a master computes from its clock (PEXPIREAT's time, SET's
    PXAT): a step marked ~N (N ms) must put send-time + N there (checked against the wall
    clock before and after the step), and that value is then compared as "<T+N>".
Everything else is compared exactly: command names and their spelling, arguments, SELECTs,
MULTI/EXEC wrapping, the order.

To attribute the stream to the script's steps without relying on timing, every step is followed
by a fence, `PUBLISH __fence__ <step>` on the main connection (propagated to replicas by both
servers); the capture reads up to that fence.  The fences are part of what is compared.

Script lines (shell quoting):
  CMD ARGS...            on the main connection
  ~N CMD ARGS...         same, the propagated times are now + N ms
  %CMD ARGS...           same, the reply is an array compared as a multiset (SPOP count)
  @name CMD ARGS...      on connection `name` (opened on first use)
  @name !send CMD...     send without reading the reply (a blocking command)
  @name !read            read the pending reply of `name`
  !sleep S               wait S seconds
  !mark                  remember INFO stats expired_keys
  !expired               wait (bounded) until expired_keys is above the last mark

KEYLOOM_SERVER is the server under test, KEYLOOM_REFERENCE_SERVER the reference (default
/usr/bin/redis-server); with both redis-server the test must pass (it is how the script was
checked).
"""

import os
import re
import select
import shlex
import socket
import ssl
import subprocess
import time

import pytest

from klserver import Mode, RespError, Server, encode_command
from repltopo import REFERENCE_SERVER, info

MODE = Mode()

SCRIPT = r"""
# strings and their rewrites
SET s1 hello
~100000 SET s2 v EX 100
~500000 SET s3 v PX 500000
SET s4 v EXAT 4102444800
SET s5 v PXAT 4102444800123
~100000 SETEX s6 100 v
~500000 PSETEX s7 500000 v
SET s1 world GET
SET s1 again KEEPTTL
SETNX s1 no
SET s8 v NX
MSET m1 a m2 b
INCR n
INCRBY n 10
DECR n
INCRBYFLOAT n 1.5
INCRBYFLOAT fl 3.0e3
APPEND s1 !
SETRANGE s1 0 J
GETSET s1 x
GETDEL s1
GETDEL nothere
~100000 GETEX s2 EX 100
GETEX s2 PERSIST
GETEX s2
# the expire family
~100000 EXPIRE s3 100
~500000 PEXPIRE s3 500000
EXPIREAT s3 4102444800
PEXPIREAT s3 4102444800123
EXPIRE s3 100 NX
~200000 EXPIRE s3 200 XX
~300000 EXPIRE s3 300 GT
PERSIST s3
PERSIST s3
EXPIRE s3 -1
PEXPIREAT s4 1
EXPIRE nothere 100
# hashes, sets, sorted sets
HSET h f 1 g 2
HINCRBYFLOAT h f 0.25
HINCRBY h g 5
HDEL h g nothere
HSET h f 1.25
SADD one a
SPOP one
SADD many a b c
%SPOP many 5
SADD s x y z
SADD s x
SREM s x
SMOVE s s9 y
SPOP nothere
ZADD z 1 a 2 b 3 c
ZINCRBY z 5 a
ZPOPMIN z
ZPOPMAX z 5
# lists and blocking pops
RPUSH l a b c d e f
LPOP l
RPOP l 2
LMOVE l l2 LEFT RIGHT
RPOPLPUSH l2 l
LMPOP 1 l LEFT COUNT 5
RPUSH bl4 v
BLPOP bl4 0
@b !send BLPOP bl 0
RPUSH bl x y
@b !read
@b !send BRPOP bl 0
@b !read
@b !send BRPOPLPUSH bsrc bdst 0
LPUSH bsrc v
@b !read
@b !send BLMOVE bsrc2 bdst left right 0
RPUSH bsrc2 w
@b !read
@b !send BZPOPMIN bz 0
ZADD bz 1 one 2 two
@b !read
@b !send BLMPOP 0 1 bl2 RIGHT COUNT 3
RPUSH bl2 a b
@b !read
@b !send BZMPOP 0 1 bz MAX COUNT 5
ZADD bz 7 seven
@b !read
# transactions
@t MULTI
@t SET t1 1
@t INCR t1
@t EXPIRE t1 100
@t ~100000 EXEC
@t MULTI
@t SET t2 1
@t EXEC
@t MULTI
@t GET t2
@t EXEC
@t MULTI
@t SELECT 3
@t SET t3 x
@t SELECT 4
@t SET t4 y
@t EXEC
@t SET t4 z
# databases
SELECT 5
SET d5 x
@o SELECT 7
@o SET d7 y
SET d5 z
SWAPDB 5 7
SELECT 0
FLUSHDB
SET after-flush 1
SELECT 5
FLUSHDB
SELECT 0
# writes that change nothing
DEL nothere
SREM s nothere
LPOP nothere
# pub/sub reaches replicas
PUBLISH ch hello
# keys the server deletes (every TTL above is long enough not to run out during the script;
# these are deleted lazily by the access that finds them expired, or actively after !expired)
DEBUG SET-ACTIVE-EXPIRE 0
~100 SET e1 v PX 100
!sleep 0.25
GET e1
~100 SET e2 v PX 100
@t SET e2b v
@t ~100 PEXPIRE e2b 100
!sleep 0.25
@t INCR e2b
!mark
DEBUG SET-ACTIVE-EXPIRE 1
!expired
CONFIG SET lazyfree-lazy-expire yes
CONFIG SET lazyfree-lazy-user-del yes
DEBUG SET-ACTIVE-EXPIRE 0
~100 SET e3 v PX 100
!sleep 0.25
EXISTS e3
SET gd v
GETDEL gd
DEL m1
FLUSHALL
"""


def parse_script(text):
    steps = []
    for line in text.strip().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        conn, rel = "main", None
        if line.startswith("@"):
            conn, line = line[1:].split(" ", 1)
        if line.startswith("~"):
            n, line = line[1:].split(" ", 1)
            rel = int(n)
        unordered = line.startswith("%")
        if unordered:
            line = line[1:]
        steps.append((conn, rel, unordered, shlex.split(line), line))
    return steps


# --------------------------------------------------------------------------------------------
# the capture
# --------------------------------------------------------------------------------------------

def _parse_command(buf, i):
    """One multibulk command at buf[i:] -> (args with their (start, end) offsets, next i), or
    None when incomplete."""
    j = buf.find(b"\r\n", i)
    if j < 0:
        return None
    if buf[i:i + 1] != b"*":
        raise AssertionError("the stream is not multibulk at byte %d: %r" % (i, buf[i:i + 60]))
    n = int(buf[i + 1:j])
    pos = j + 2
    args = []
    for _ in range(n):
        j = buf.find(b"\r\n", pos)
        if j < 0:
            return None
        assert buf[pos:pos + 1] == b"$", buf[pos:pos + 40]
        ln = int(buf[pos + 1:j])
        start = j + 2
        if len(buf) < start + ln + 2:
            return None
        args.append((bytes(buf[start:start + ln]), start, start + ln))
        pos = start + ln + 2
    return args, pos


def split_commands(stream):
    """[(raw bytes, [(arg, start, end) relative to raw])] for a complete stream."""
    out, i = [], 0
    while i < len(stream):
        r = _parse_command(stream, i)
        assert r is not None, "incomplete command at the end of %r" % stream[i:i + 80]
        args, end = r
        out.append((stream[i:end], [(a, s - i, e - i) for a, s, e in args]))
        i = end
    return out


def is_noise(args):
    name = args[0][0].upper()
    return name == b"PING" or (name == b"REPLCONF" and len(args) > 1
                               and args[1][0].upper() == b"GETACK")


def time_positions(args):
    """Indexes of the arguments that are absolute ms times computed by the master."""
    name = args[0][0].upper()
    pos = []
    if name == b"PEXPIREAT" and len(args) >= 3:
        pos.append(2)
    if name == b"SET":
        for k in range(3, len(args) - 1):
            if args[k][0].upper() == b"PXAT":
                pos.append(k + 1)
    return pos


class Capture:
    """A replica connection: PSYNC ? -1, the RDB payload skipped, then the stream."""

    def __init__(self, server):
        self.c = server.raw(timeout=10)
        self.c.send_command("PSYNC", "?", "-1")
        line = self.c.readline()
        assert line.startswith(b"+FULLRESYNC "), "PSYNC ? -1 -> %r" % line
        # Newlines keep the link alive while the RDB is produced.
        while True:
            while len(self.c.buf) <= self.c.pos:
                self.c._fill()
            if self.c.buf[self.c.pos:self.c.pos + 1] == b"\n":
                self.c.pos += 1
                continue
            break
        hdr = self.c.readline()
        assert hdr.startswith(b"$") and not hdr.startswith(b"$EOF:"), \
            "a replica without capa eof gets a sized payload, not %r" % hdr
        self.c.read(int(hdr[1:]))            # the RDB, no CRLF after it
        self.stream = bytearray(self.c.pending())
        del self.c.buf[:]
        self.c.pos = 0

    def read_until(self, marker, timeout=10.0):
        """Everything up to (and without) marker; the marker is consumed."""
        deadline = time.monotonic() + timeout
        while True:
            k = self.stream.find(marker)
            if k >= 0:
                seg = bytes(self.stream[:k])
                del self.stream[:k + len(marker)]
                return seg
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("fence %r not in the stream within %.0fs; got %r"
                                     % (marker, timeout, bytes(self.stream[:400])))
            self.c.settimeout(left)
            data = self.c.sock.recv(65536)
            if not data:
                raise AssertionError("the master closed the replica link; stream so far %r"
                                     % bytes(self.stream[:400]))
            self.stream += data

    def close(self):
        self.c.close()


def run_script(binary, steps, io_threads):
    """Run the script against a fresh master; returns [(step, normalized segment, reply,
    decoded commands)] and the master's log tail."""
    srv = Server(MODE, binary=binary, io_threads=io_threads,
                 args=["--repl-diskless-sync-delay", "0"]).start()
    conns = {}
    results = []
    try:
        cap = Capture(srv)
        conns["main"] = srv.raw()
        mark = None
        for idx, (conn, rel, unordered, argv, line) in enumerate(steps):
            c = conns.get(conn)
            if c is None:
                c = conns[conn] = srv.raw()
            t0 = time.time() * 1000
            reply = None
            if argv[0] == "!send":
                c.send_command(*argv[1:])
                # Wait until the command ran (blocked, or served at once), so that it comes
                # before this step's fence from the main connection.
                deadline = time.monotonic() + 10
                while not (select.select([c.sock], [], [], 0)[0] or c.pending() or int(
                        info(conns["main"], "clients")["blocked_clients"]) > 0):
                    assert time.monotonic() < deadline, "%r neither blocked nor replied" % line
                    time.sleep(0.005)
            elif argv[0] == "!read":
                reply = c.read_value()
            elif argv[0] == "!sleep":
                time.sleep(float(argv[1]))
            elif argv[0] == "!mark":
                mark = int(info(conns["main"], "stats")["expired_keys"])
            elif argv[0] == "!expired":
                deadline = time.monotonic() + 10
                while int(info(conns["main"], "stats")["expired_keys"]) <= mark:
                    assert time.monotonic() < deadline, "no key expired actively within 10s"
                    time.sleep(0.02)
            else:
                reply = c.execute(*argv)
            t1 = time.time() * 1000
            if unordered and isinstance(reply, list):
                reply = sorted(reply)
            fence = encode_command("PUBLISH", "__fence__", str(idx))
            assert conns["main"].execute("PUBLISH", "__fence__", str(idx)) == 0
            seg = cap.read_until(fence)
            results.append((line if conn == "main" else "@%s %s" % (conn, line),
                            normalize(seg, rel, t0, t1, line),
                            reply.message if isinstance(reply, RespError) else reply))
        cap.close()
    finally:
        for c in conns.values():
            c.close()
        log = srv.log_tail(30)
        srv.stop()
    return results, log


def normalize(seg, rel, t0, t1, line):
    """The segment without PING / REPLCONF GETACK, absolute times replaced by <T+rel>."""
    out = []
    for raw, args in split_commands(seg):
        if is_noise(args):
            continue
        pos = time_positions(args)
        if pos and rel is not None:
            # (an unmarked step keeps its times: absolute ones given by the script compare
            # as they are, and a relative one the script forgot to mark cannot match)
            for k in sorted(pos, reverse=True):
                val, s, e = args[k]
                v = int(val)
                assert t0 + rel - 2 <= v <= t1 + rel + 2, (
                    "step %r: propagated time %d is not now+%d (sent at %.0f, replied at %.0f)"
                    % (line, v, rel, t0, t1))
                raw = raw[:s] + b"<T+%d>" % rel + raw[e:]
        out.append(raw)
    return b"".join(out)


def decode(seg):
    cmds = []
    i = 0
    while i < len(seg):
        # normalized segments may hold <T+N> in place of digits: split on the framing.
        j = seg.index(b"\r\n", i)
        n = int(seg[i + 1:j])
        i = j + 2
        args = []
        for _ in range(n):
            j = seg.index(b"\r\n", i)
            k = seg.index(b"\r\n", j + 2)
            args.append(seg[j + 2:k].decode(errors="replace"))
            i = k + 2
        cmds.append(" ".join(args))
    return cmds


def test_stream_matches_redis():
    if not os.path.exists(REFERENCE_SERVER):
        pytest.fail("the reference server %s is missing (set KEYLOOM_REFERENCE_SERVER)"
                    % REFERENCE_SERVER)
    steps = parse_script(SCRIPT)
    want, ref_log = run_script(REFERENCE_SERVER, steps, io_threads=1)
    got, log = run_script(MODE.server, steps, io_threads=MODE.io_threads)
    diffs = []
    for (line, wseg, wrep), (_, gseg, grep) in zip(want, got):
        if wseg != gseg or wrep != grep:
            diffs.append("step %-40s\n   redis  : %s reply=%r\n   keyloom: %s reply=%r"
                         % (line, decode(wseg), wrep, decode(gseg), grep))
    assert len(got) == len(want)
    assert not diffs, ("%d of %d steps differ:\n%s\n---- keyloom log\n%s"
                       % (len(diffs), len(want), "\n".join(diffs[:15]), log))
    # The script exercised what it is meant to: rewrites, blocking pops, expiry deletions.
    everything = b"".join(w[1] for w in want)
    for needle in (b"PEXPIREAT", b"PXAT", b"KEEPTTL", b"SREM", b"LPOP", b"LMOVE", b"MULTI",
                   b"SELECT", b"UNLINK", b"ZPOPMIN", b"FLUSHALL", b"PUBLISH\r\n$2\r\nch"):
        assert needle in everything, needle


# --------------------------------------------------------------------------------------------
# the handshake, differentially: REPLCONF/PSYNC/SYNC replies, +FULLRESYNC/+CONTINUE, the
# diskless $EOF: framing and the stream held back until the first REPLCONF ACK
# --------------------------------------------------------------------------------------------

def _skip_newlines(c):
    while True:
        while len(c.buf) <= c.pos:
            c._fill()
        if c.buf[c.pos:c.pos + 1] != b"\n":
            return
        c.pos += 1


def read_payload(c, tmpdir, name):
    """After +FULLRESYNC (or SYNC): the RDB payload, sized ($len) or diskless ($EOF:mark).
    Returns (normalized header, path of the RDB written to tmpdir)."""
    _skip_newlines(c)
    hdr = c.readline()
    if hdr.startswith(b"$EOF:"):
        mark = hdr[5:]
        assert len(mark) == 40, hdr
        deadline = time.monotonic() + 10
        while not c.pending().endswith(mark):
            assert time.monotonic() < deadline, "no EOF mark after %r" % c.pending()[-80:]
            c._fill()
        data = c.pending()[:-40]
        c.pos = len(c.buf)
        norm = b"$EOF:<MARK>"
    else:
        assert hdr.startswith(b"$"), hdr
        data = c.read(int(hdr[1:]))
        norm = b"$<len>"
    assert data.startswith(b"REDIS0010"), data[:20]
    path = os.path.join(tmpdir, name)
    with open(path, "wb") as f:
        f.write(data)
    return norm, path


def check_rdb(path, keys):
    res = subprocess.run(["redis-check-rdb", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=30)
    text = res.stdout.decode(errors="replace")
    assert res.returncode == 0 and "RDB looks OK" in text, text
    assert "%d keys read" % keys in text, text


def quiet(c, seconds=0.3):
    """Bytes the master sent within `seconds` (b"" when none)."""
    c.settimeout(seconds)
    try:
        data = c.sock.recv(65536)
    except (socket.timeout, TimeoutError, ssl.SSLError):
        data = b""
    c.settimeout(10)
    return data


def handshake_transcript(binary, io_threads, tmpdir):
    srv = Server(MODE, binary=binary, io_threads=io_threads,
                 args=["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
                       "--repl-ping-replica-period", "3600"]).start()
    out = []
    ids = {}

    def norm(b):
        for hexid in re.findall(rb"[0-9a-f]{40}", b):
            ids.setdefault(hexid, b"<ID%d>" % len(ids))
            b = b.replace(hexid, ids[hexid])
        return b

    try:
        with srv.raw() as main, srv.raw() as r:
            out.append(("SET a 1 (no replica yet)", main.call("SET", "a", "1")[0]))
            for cmd in (("PING",), ("REPLCONF", "listening-port", "12345"),
                        ("REPLCONF", "ip-address", "127.0.0.9"),
                        ("REPLCONF", "capa", "eof", "capa", "psync2"),
                        ("REPLCONF", "foo", "bar"), ("REPLCONF", "a"),
                        ("REPLCONF", "listening-port", "abc"), ("PSYNC", "x")):
                out.append((" ".join(cmd), r.call(*cmd)[0]))
            # REPLCONF ACK from a connection that is not a replica yet: no reply at all.
            r.send_command("REPLCONF", "ACK", "5")
            r.send_command("PSYNC", "?", "-1")
            line = r.readline()
            out.append(("PSYNC ? -1 (capa eof psync2, diskless)", norm(line)))
            replid = line.split()[1]
            hdr, path = read_payload(r, tmpdir, "diskless.rdb")
            out.append(("payload header", hdr))
            check_rdb(path, 1)
            out.append(("SET b 2", main.call("SET", "b", "2")[0]))
            out.append(("stream before the first REPLCONF ACK", quiet(r)))
            r.send_command("REPLCONF", "ACK", "0")
            out.append(("stream after REPLCONF ACK 0", r.read(len(
                b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n"))))
            deadline = time.monotonic() + 5
            while True:
                slave0 = info(main)["slave0"]
                if ",offset=0," in slave0 and "state=online" in slave0:
                    break
                assert time.monotonic() < deadline, slave0
                time.sleep(0.02)
            out.append(("slave0", slave0.rsplit(",lag=", 1)[0].encode()))
            off = int(info(main)["master_repl_offset"])
        # Partial resyncs: with capa psync2 the id is repeated, without it is not.
        with srv.raw() as main, srv.raw() as r:
            out.append(("capa", r.call("REPLCONF", "capa", "eof", "capa", "psync2")[0]))
            r.send_command("PSYNC", replid, str(off + 1))
            out.append(("PSYNC id off+1 (psync2)", norm(r.readline())))
            out.append(("SET c 3", main.call("SET", "c", "3")[0]))
            out.append(("stream after +CONTINUE", r.read(len(
                b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n3\r\n"))))
            off = int(info(main)["master_repl_offset"])
        with srv.raw() as main, srv.raw() as r:
            r.send_command("PSYNC", replid, str(off + 1))
            out.append(("PSYNC id off+1 (no capa)", norm(r.readline())))
            out.append(("no backlog to send", quiet(r)))
        # Full resyncs: an unknown id, an offset the backlog does not have, SYNC.
        with srv.raw() as r:
            r.send_command("PSYNC", "f" * 40, "1")
            out.append(("PSYNC unknown-id 1", norm(r.readline())))
            out.append(("payload header", read_payload(r, tmpdir, "disk1.rdb")[0]))
        with srv.raw() as r:
            r.send_command("PSYNC", replid, str(off + 1000))
            out.append(("PSYNC id off+1000", norm(r.readline())))
            out.append(("payload header", read_payload(r, tmpdir, "disk2.rdb")[0]))
        with srv.raw() as r:
            r.send_command("SYNC")
            hdr, path = read_payload(r, tmpdir, "sync.rdb")
            out.append(("SYNC", hdr))
            check_rdb(path, 3)
        st = info(srv.raw(), "stats")
        out.append(("stats", ("sync_full=%s sync_partial_ok=%s sync_partial_err=%s" % (
            st["sync_full"], st["sync_partial_ok"], st["sync_partial_err"])).encode()))
    except (AssertionError, OSError, ValueError, IndexError, KeyError) as e:
        # The transcript stops at the first step that could not go on; the comparison shows
        # where the servers parted.
        out.append(("transcript stopped", repr(e)[:300].encode()))
    finally:
        log = srv.log_tail(30)
        srv.stop()
    return out, log


def test_handshake_matches_redis(tmp_path):
    if not os.path.exists(REFERENCE_SERVER):
        pytest.fail("the reference server %s is missing (set KEYLOOM_REFERENCE_SERVER)"
                    % REFERENCE_SERVER)
    want, _ = handshake_transcript(REFERENCE_SERVER, 1, str(tmp_path))
    got, log = handshake_transcript(MODE.server, MODE.io_threads, str(tmp_path))
    assert want[-1][0] == "stats", want[-1]
    diffs = ["%-40s redis   %r\n%-40s keyloom %r" % (w[0], w[1], "", g[1])
             for w, g in zip(want, got) if w != g]
    if len(got) < len(want):
        diffs.append("keyloom's transcript ends after %d of %d steps" % (len(got), len(want)))
    assert not diffs, "\n".join(diffs) + "\n---- keyloom log\n" + log
