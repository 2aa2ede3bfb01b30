#!/usr/bin/python3
"""kldiff: differential tester, keyloom (A) against redis-server (B), raw RESP bytes compared.

Starts two servers with the same redis-server flags (tests/integration/klserver.py), then for
RESP2 and RESP3 (HELLO 3 first):

  1. runs the scripted cases in tests/diff/cases/*.txt, and
  2. runs seeded random command sequences over a small key space,

sending every command to both servers and comparing the raw replies byte for byte, except where
a per-command normaliser says otherwise (see POLICIES below: non-deterministic replies are
compared as sorted sets, by shape, with a tolerance, or checked for membership; never ignored
wholesale). The first mismatch of a case (or of a random run) prints the command, both raw
replies, the seed and the sequence index; the exit status is then 1 (2 for a harness or server
failure, e.g. a crash).

Case files: one command per line in redis-cli quoting ("..." with \\n \\r \\t \\xHH \\" \\\\
escapes, '...' with \\' only), '#' starts a comment line, a blank line ends a case. Every case
runs on fresh connections after FLUSHALL. Directives (a line starting with '@'):
  @sleep SECONDS        pause (both servers see the same elapsed time)
  @only 2|3             the rest of this case runs only under that protocol
  @shape                compare the next reply by type only (errors are still exact)
  @sorted               compare the next aggregate reply as a multiset
  @raw ARG...           send the concatenated (unquoted) arguments on a separate connection
                        (an argument {N} repeats the previous one N times); compare everything
                        the server sends back until it closes the connection or is idle 0.5 s
Configuration changed with CONFIG SET inside a case is restored afterwards.

Usage:
  tests/diff/kldiff.py [--a BIN] [--b BIN] [--seed N] [--ops N] [--protocols 2,3]
                       [--cases DIR_OR_FILE ...] [--no-cases] [--no-random] [--types]
                       [--perturb K] [-v]
Environment: KEYLOOM_SERVER (A), KEYLOOM_REFERENCE_SERVER (B, default /usr/bin/redis-server),
KEYLOOM_TEST_TLS / KEYLOOM_TEST_IO_THREADS (the same flags for both servers),
KEYLOOM_DIFF_SEED / KEYLOOM_DIFF_OPS (defaults for --seed / --ops).
"""

import argparse
import glob
import os
import random
import re
import select
import socket
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from klserver import (Mode, ProtocolError, Server, ServerError, encode_command,  # noqa: E402
                      parse_reply)

CASES_DIR = os.path.join(HERE, "cases")


class Mismatch(Exception):
    replies = (None, None)      # (raw A, raw B), attached by Pair.run


class HarnessError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Tokenizer (what redis-cli and the inline protocol accept: sdssplitargs)
# --------------------------------------------------------------------------------------------

_ESC = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}


def split_args(line):
    """Split a line the way redis-cli does. Returns a list of bytes; raises ValueError on
    unbalanced quotes."""
    out = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return out
        cur = bytearray()
        if line[i] == '"':
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unbalanced quotes: %r" % line)
                c = line[i]
                if c == "\\" and i + 3 < n + 0 and line[i + 1] == "x" and \
                        all(ch in "0123456789abcdefABCDEF" for ch in line[i + 2:i + 4]) and \
                        len(line[i + 2:i + 4]) == 2:
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 4
                elif c == "\\" and i + 1 < n:
                    e = line[i + 1]
                    cur += _ESC.get(e, e.encode("utf-8"))
                    i += 2
                elif c == '"':
                    i += 1
                    if i < n and not line[i].isspace():
                        raise ValueError("closing quote must be followed by a space: %r" % line)
                    break
                else:
                    cur += c.encode("utf-8")
                    i += 1
        elif line[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unbalanced quotes: %r" % line)
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    cur += b"'"
                    i += 2
                elif c == "'":
                    i += 1
                    if i < n and not line[i].isspace():
                        raise ValueError("closing quote must be followed by a space: %r" % line)
                    break
                else:
                    cur += c.encode("utf-8")
                    i += 1
        else:
            while i < n and not line[i].isspace():
                cur += line[i].encode("utf-8")
                i += 1
        out.append(bytes(cur))


# --------------------------------------------------------------------------------------------
# Raw reply helpers
# --------------------------------------------------------------------------------------------

def split_aggregate(raw):
    """(header line, [raw element, ...]) for an aggregate reply; pairs for maps."""
    nl = raw.index(b"\r\n")
    header = raw[:nl + 2]
    t = raw[:1]
    n = int(raw[1:nl])
    if n < 0:
        return header, []
    count = n * 2 if t in (b"%", b"|") else n
    pos = nl + 2
    elems = []
    for _ in range(count):
        _, end = parse_reply(raw, pos)
        elems.append(raw[pos:end])
        pos = end
    return header, elems


def is_error(raw):
    return raw[:1] in (b"-", b"!")


def shape(raw):
    return raw[:1]


# --------------------------------------------------------------------------------------------
# Normalisers: how to compare the replies of each command
# --------------------------------------------------------------------------------------------

def cmd_key(args):
    """'GET', 'CLIENT LIST', ... (upper-case command, plus the subcommand for containers)."""
    if not args:
        return ""
    name = args[0].upper().decode("latin-1")
    if name in ("CLIENT", "CONFIG", "OBJECT", "DEBUG", "COMMAND", "SLOWLOG", "LATENCY",
                "MEMORY") and len(args) > 1:
        return name + " " + args[1].upper().decode("latin-1")
    return name


class Ctx:
    """What a normaliser may use: the two connections, for follow-up queries."""

    def __init__(self, ca, cb):
        self.ca = ca
        self.cb = cb


def cmp_exact(args, ra, rb, ctx):
    if ra != rb:
        raise Mismatch("replies differ")


def cmp_shape(args, ra, rb, ctx):
    if is_error(ra) or is_error(rb):
        return cmp_exact(args, ra, rb, ctx)
    if shape(ra) != shape(rb):
        raise Mismatch("reply types differ")


def cmp_sorted(args, ra, rb, ctx):
    """Aggregate compared as a multiset of raw elements (KEYS, ...)."""
    if is_error(ra) or is_error(rb) or ra[:1] not in (b"*", b"~") or ra[:1] != rb[:1]:
        return cmp_exact(args, ra, rb, ctx)
    ha, ea = split_aggregate(ra)
    hb, eb = split_aggregate(rb)
    if ha != hb or sorted(ea) != sorted(eb):
        raise Mismatch("aggregate differs as a multiset")


def cmp_pairs_sorted(args, ra, rb, ctx):
    """Map or flat name/value array compared as a set of pairs (CONFIG GET glob order)."""
    if is_error(ra) or is_error(rb) or ra[:1] != rb[:1] or ra[:1] not in (b"*", b"%"):
        return cmp_exact(args, ra, rb, ctx)
    ha, ea = split_aggregate(ra)
    hb, eb = split_aggregate(rb)
    pa = sorted(zip(ea[0::2], ea[1::2]))
    pb = sorted(zip(eb[0::2], eb[1::2]))
    if ha != hb or pa != pb:
        raise Mismatch("pairs differ")


def _tolerance(tol):
    def cmp(args, ra, rb, ctx):
        if ra[:1] != b":" or rb[:1] != b":":
            return cmp_exact(args, ra, rb, ctx)
        a = int(ra[1:-2])
        b = int(rb[1:-2])
        if a < 0 or b < 0:
            return cmp_exact(args, ra, rb, ctx)
        if abs(a - b) > tol:
            raise Mismatch("differ by more than %d" % tol)
    return cmp


_HELLO_ID = re.compile(rb"(\$2\r\nid\r\n):\d+\r\n")


def cmp_hello(args, ra, rb, ctx):
    """HELLO: the client id differs between servers."""
    return cmp_exact(args, _HELLO_ID.sub(rb"\1:ID\r\n", ra), _HELLO_ID.sub(rb"\1:ID\r\n", rb), ctx)


_DEBUG_OBJECT = re.compile(rb"at:0x[0-9a-f]+|lru:\d+|lru_seconds_idle:\d+")


# serializedlength is the value's size in an RDB file. keyloom has no RDB and
# reports the uncompressed size; Redis LZF-compresses strings over 20 bytes,
# so for raw strings only the rest of the line is compared (documented in
# BENCHMARKS.md/README as a known difference of a debugging command).
_SERIALIZED_RAW = re.compile(rb"(encoding:raw serializedlength:)\d+")


def cmp_debug_object(args, ra, rb, ctx):
    def norm(r):
        return _SERIALIZED_RAW.sub(rb"\1<uncompressed>", _DEBUG_OBJECT.sub(b"<masked>", r))
    return cmp_exact(args, norm(ra), norm(rb), ctx)


def cmp_randomkey(args, ra, rb, ctx):
    """RANDOMKEY: both null, or both a key that exists on its own server.

    RANDOMKEY deletes the already-expired keys it happens to sample (redis-server 7.0 keeps a
    key SET with an EXAT/PXAT in the past until it is looked up), so afterwards both servers
    run a full SCAN, which deletes every such key of the selected db (KEYS only hides them):
    the states agree again, and the key sets are compared."""
    if ra[:1] in (b"$", b"_") and rb[:1] == ra[:1]:
        if ra in (b"$-1\r\n", b"_\r\n") or rb in (b"$-1\r\n", b"_\r\n"):
            cmp_exact(args, ra, rb, ctx)
        else:
            for conn, raw in ((ctx.ca, ra), (ctx.cb, rb)):
                key = parse_reply(raw, 0)[0]
                if conn.execute("EXISTS", key) != 1:
                    raise Mismatch("RANDOMKEY returned a key that does not exist: %r" % key)
        ka = scan_all(ctx.ca)
        kb = scan_all(ctx.cb)
        if ka != kb:
            raise Mismatch("keyspaces differ after RANDOMKEY: A %r, B %r" % (sorted(ka),
                                                                              sorted(kb)))
        return
    return cmp_exact(args, ra, rb, ctx)


def scan_all(conn, *opts):
    """Full SCAN iteration: the set of keys (bounded number of rounds)."""
    cursor = b"0"
    seen = set()
    for _ in range(100000):
        cursor, batch = conn.execute("SCAN", cursor, *opts)
        seen.update(batch)
        if cursor == b"0":
            return seen
    raise Mismatch("SCAN does not terminate")


def cmp_time(args, ra, rb, ctx):
    if is_error(ra) or is_error(rb):
        return cmp_exact(args, ra, rb, ctx)
    va = parse_reply(ra, 0)[0]
    vb = parse_reply(rb, 0)[0]
    if not (isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb) == 2):
        raise Mismatch("TIME shape")
    ta = int(va[0]) + int(va[1]) / 1e6
    tb = int(vb[0]) + int(vb[1]) / 1e6
    if abs(ta - tb) > 5 or not (0 <= int(va[1]) < 1000000):
        raise Mismatch("TIME values too far apart")


_AVG_TTL = re.compile(rb"avg_ttl=\d+")


# INFO sections a drop-in must have when redis-server shows them (Modules, Cluster, ... are
# allowed to be missing, extra sections are allowed).
INFO_CORE = {b"# Server", b"# Clients", b"# Memory", b"# Persistence", b"# Stats",
             b"# Replication", b"# CPU", b"# Errorstats", b"# Keyspace", b"# Commandstats",
             b"# Latencystats"}


def cmp_info(args, ra, rb, ctx):
    """INFO: the keyspace section compared exactly (avg_ttl masked); otherwise the reply type
    and the presence of the core sections, with the keyspace lines compared if both have them."""
    if is_error(ra) or is_error(rb) or ra[:1] != rb[:1]:
        return cmp_exact(args, ra, rb, ctx)
    sections = [a.lower() for a in args[1:]]
    if sections == [b"keyspace"]:
        # Mask avg_ttl in the parsed text (a RESP3 verbatim string's length prefix
        # changes with the number's width), then compare the text exactly.
        ta = _AVG_TTL.sub(b"avg_ttl=*", bytes(parse_reply(ra, 0)[0]))
        tb = _AVG_TTL.sub(b"avg_ttl=*", bytes(parse_reply(rb, 0)[0]))
        if ta != tb:
            raise Mismatch("INFO keyspace differs: %r vs %r" % (ta, tb))
        return None
    va = parse_reply(ra, 0)[0].split(b"\r\n")
    vb = parse_reply(rb, 0)[0].split(b"\r\n")
    ha = [l for l in va if l.startswith(b"# ")]
    hb = [l for l in vb if l.startswith(b"# ")]
    missing = [h for h in hb if h in INFO_CORE and h not in ha]
    if missing:
        raise Mismatch("INFO sections missing in A: %r" % missing)
    ka = [_AVG_TTL.sub(b"avg_ttl=*", l) for l in va if re.match(rb"db\d+:keys=", l)]
    kb = [_AVG_TTL.sub(b"avg_ttl=*", l) for l in vb if re.match(rb"db\d+:keys=", l)]
    if b"# Keyspace" in ha and ka != kb:
        raise Mismatch("INFO keyspace lines differ: %r vs %r" % (ka, kb))


def cmp_slowlog_get(args, ra, rb, ctx):
    """SLOWLOG GET: timestamps, durations and client addresses masked."""
    if is_error(ra) or is_error(rb):
        return cmp_exact(args, ra, rb, ctx)

    def norm(raw):
        # Entry ids are compared relative to the oldest one shown: a command that happened to
        # take over the default 10 ms threshold on one server only shifts all later ids.
        v = parse_reply(raw, 0)[0]
        ids = [e[0] for e in v if isinstance(e, list) and len(e) == 6]
        base = min(ids) if ids else 0
        return raw[:raw.index(b"\r\n")], [
            [e[0] - base, "ts", "dur", e[3], "addr", e[5]]
            if isinstance(e, list) and len(e) == 6 else e for e in v]
    if norm(ra) != norm(rb):
        raise Mismatch("SLOWLOG entries differ")


def cmp_scan(args, ra, rb, ctx):
    """SCAN: cursors are implementation details. SCAN 0 triggers a full iteration on both
    servers with the same options and compares the sets of keys; other cursors: shape only."""
    if is_error(ra) or is_error(rb):
        return cmp_exact(args, ra, rb, ctx)
    for raw in (ra, rb):
        v = parse_reply(raw, 0)[0]
        if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], bytes)
                and v[0].isdigit() and isinstance(v[1], list)):
            raise Mismatch("SCAN reply shape")
    if len(args) < 2 or args[1] != b"0":
        return
    opts = list(args[2:])
    sets = []
    for conn, raw in ((ctx.ca, ra), (ctx.cb, rb)):
        cursor, batch = parse_reply(raw, 0)[0]
        seen = set(batch)
        rounds = 0
        while cursor != b"0":
            cursor, batch = conn.execute("SCAN", cursor, *opts)
            seen.update(batch)
            rounds += 1
            if rounds > 100000:
                raise Mismatch("SCAN does not terminate")
        sets.append(seen)
    if sets[0] != sets[1]:
        raise Mismatch("SCAN full iteration differs: only A %r, only B %r" % (
            sorted(sets[0] - sets[1])[:10], sorted(sets[1] - sets[0])[:10]))


def cmp_memory_stats(args, ra, rb, ctx):
    """MEMORY STATS: the same field names in the same order (and the same db.<n> maps with the
    same fields), each value of the same reply type; the numbers themselves are the servers'."""
    if is_error(ra) or is_error(rb) or ra[:1] != rb[:1] or ra[:1] not in (b"*", b"%"):
        return cmp_exact(args, ra, rb, ctx)

    def outline(raw):
        _, elems = split_aggregate(raw)
        out = []
        for name, value in zip(elems[0::2], elems[1::2]):
            nested = outline(value) if value[:1] in (b"*", b"%") else None
            out.append((name, shape(value), nested))
        return out
    if outline(ra) != outline(rb):
        raise Mismatch("MEMORY STATS fields or value types differ")


def cmp_type_only(args, ra, rb, ctx):
    return cmp_shape(args, ra, rb, ctx)


POLICIES = {
    "KEYS": cmp_sorted,
    "SCAN": cmp_scan,
    "RANDOMKEY": cmp_randomkey,
    "TIME": cmp_time,
    "LASTSAVE": cmp_shape,
    "INFO": cmp_info,
    "HELLO": cmp_hello,
    "TTL": _tolerance(1),
    "PTTL": _tolerance(1000),
    "EXPIRETIME": _tolerance(1),
    "PEXPIRETIME": _tolerance(1000),
    "CLIENT ID": cmp_shape,
    "CLIENT LIST": cmp_shape,
    "CLIENT INFO": cmp_shape,
    "CLIENT KILL": cmp_shape,
    "OBJECT IDLETIME": cmp_shape,
    "OBJECT FREQ": cmp_shape,
    "DEBUG OBJECT": cmp_debug_object,
    "COMMAND": cmp_shape,
    "CONFIG GET": cmp_pairs_sorted,
    "SLOWLOG GET": cmp_slowlog_get,
    "LATENCY LATEST": cmp_shape,
    "LATENCY HISTORY": cmp_shape,
    "LATENCY RESET": cmp_shape,
    "LATENCY DOCTOR": cmp_shape,
    "MEMORY USAGE": cmp_shape,
    "MEMORY STATS": cmp_memory_stats,
}


# Per-type generator modules (tests/diff/gen_<type>.py). A module may also define
# POLICIES ({"CMD" or "CMD SUB": comparator}) for its non-deterministic replies (SPOP,
# HRANDFIELD, ...), merged into the table above.
TYPE_GENERATORS = []
for _name in ("gen_list", "gen_hash", "gen_set", "gen_zset", "gen_pubsub", "gen_multi"):
    if os.path.exists(os.path.join(HERE, _name + ".py")):
        _mod = __import__(_name)
        TYPE_GENERATORS.append(_mod)
        POLICIES.update(getattr(_mod, "POLICIES", {}))


def policy_for(args):
    key = cmd_key(args)
    if key in POLICIES:
        return POLICIES[key]
    # COMMAND replies describe the whole command table (key specs, tips, docs): shape only,
    # except GETKEYS, which is about the commands' semantics.
    if key.split(" ")[0] == "COMMAND" and key not in ("COMMAND GETKEYS",
                                                      "COMMAND GETKEYSANDFLAGS"):
        return cmp_shape
    return cmp_exact


# --------------------------------------------------------------------------------------------
# The pair of servers and connections
# --------------------------------------------------------------------------------------------

class Pair:
    def __init__(self, server_a, server_b, protocol, report, perturb=None):
        self.sa = server_a
        self.sb = server_b
        self.protocol = protocol
        self.report = report
        self.perturb = perturb          # [index] of the exact comparison whose A reply to spoil
        self.compared = 0
        self.exact_compared = 0
        self.ca = self.cb = None
        self.reply_mode = "on"          # CLIENT REPLY state, identical on both by construction
        self.reconnect()

    def reconnect(self):
        self.close()
        self.ca = self.sa.raw(protocol=self.protocol)
        self.cb = self.sb.raw(protocol=self.protocol)
        self.reply_mode = "on"

    def close(self):
        for c in (self.ca, self.cb):
            if c is not None:
                c.close()
        self.ca = self.cb = None

    def check_alive(self):
        for name, s in (("A", self.sa), ("B", self.sb)):
            try:
                s.check_alive("server %s (%s)" % (name, s.binary))
            except ServerError as e:
                raise HarnessError(str(e))

    def run(self, args, policy=None):
        """Send args to both servers and compare the replies. Returns (raw_a, raw_b) or None
        when no reply is expected (CLIENT REPLY OFF/SKIP) or the connections were closed."""
        data = encode_command(*args)
        key = cmd_key(args)
        expect_reply = self.reply_mode == "on"
        if key == "CLIENT REPLY" and len(args) == 3:
            mode = args[2].lower()
            if mode == b"on":
                expect_reply = True
            elif mode in (b"off", b"skip") and self.reply_mode == "on":
                expect_reply = False
        self.ca.send(data)
        self.cb.send(data)
        if key == "CLIENT REPLY" and len(args) == 3:
            mode = args[2].lower()
            if mode in (b"on", b"off"):
                self.reply_mode = mode.decode()
            elif mode == b"skip" and self.reply_mode == "on":
                self.reply_mode = "skip-next"
                return None
        elif self.reply_mode == "skip-next":
            self.reply_mode = "on"
            return None
        if not expect_reply:
            return None
        ra = rb = None
        try:
            ra = self._read(self.ca, "A")
            rb = self._read(self.cb, "B")
            if ra is None or rb is None:
                if (ra is None) != (rb is None):
                    raise Mismatch("only %s closed the connection"
                                   % ("A" if ra is None else "B"))
                self.reconnect()
                return None
            self.compared += 1
            cmp = policy or policy_for(args)
            if self.perturb is not None and cmp is cmp_exact:
                if self.exact_compared == self.perturb:
                    ra = ra[:-3] + bytes([ra[-3] ^ 0x01]) + ra[-2:] if len(ra) > 3 else ra + b"?"
                self.exact_compared += 1
            cmp(args, ra, rb, Ctx(self.ca, self.cb))
        except Mismatch as e:
            e.replies = (ra, rb)
            raise
        if key == "QUIT" or key == "SHUTDOWN":
            self.reconnect()
        return ra, rb

    def _read(self, conn, name):
        try:
            return conn.read_reply()[0]
        except (ConnectionError, OSError) as e:
            if isinstance(e, (socket.timeout, TimeoutError)):
                self.check_alive()
                raise HarnessError("server %s did not reply within the timeout" % name)
            return None
        except ProtocolError as e:
            raise Mismatch("server %s sent bytes that are not RESP: %s" % (name, e))

    def raw_exchange(self, data, idle=0.5):
        """Send raw bytes on fresh connections; collect everything received until the server
        closes the connection or stays idle for `idle` seconds. Returns [(bytes, state)] for
        A and B, state being "closed" or "open"."""
        conns = []
        for s in (self.sa, self.sb):
            c = s.raw(protocol=self.protocol, timeout=5)
            try:
                c.send(data)
            except OSError:
                pass
            c.sock.setblocking(False)
            conns.append(c)
        got = [bytearray(), bytearray()]
        state = ["open", "open"]
        last = time.monotonic()
        deadline = last + 30
        try:
            while "open" in state and time.monotonic() < deadline:
                live = [c for c, st in zip(conns, state) if st == "open"]
                # TLS sockets may hold decrypted bytes that select() cannot see.
                ready = [c for c in live if getattr(c.sock, "pending", lambda: 0)()]
                if not ready:
                    ready = select.select(live, [], [], 0.05)[0]
                if not ready:
                    # Both idle and alike: done. While they still differ, one server may just
                    # be slow (a loaded machine): give it up to 5 s of silence.
                    alike = got[0] == got[1] and state[0] == state[1]
                    if time.monotonic() - last > (idle if alike else 5.0):
                        break
                    continue
                for c in ready:
                    i = conns.index(c)
                    try:
                        chunk = c.sock.recv(65536)
                    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
                    except (ConnectionError, ssl.SSLError, OSError):
                        chunk = b""
                    if chunk:
                        got[i] += chunk
                        last = time.monotonic()
                    else:
                        state[i] = "closed"
        finally:
            for c in conns:
                c.close()
        return [(bytes(got[0]), state[0]), (bytes(got[1]), state[1])]


# --------------------------------------------------------------------------------------------
# Scripted cases
# --------------------------------------------------------------------------------------------

class Case:
    def __init__(self, path, lineno):
        self.path = path
        self.lineno = lineno
        self.lines = []         # (lineno, text)

    def name(self):
        return "%s:%d" % (os.path.relpath(self.path), self.lineno)


def load_cases(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files.extend(sorted(glob.glob(os.path.join(p, "*.txt"))))
        else:
            files.append(p)
    cases = []
    for path in files:
        cur = None
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                text = line.rstrip("\n")
                if not text.strip():
                    if cur and cur.lines:
                        cases.append(cur)
                    cur = None
                    continue
                if text.lstrip().startswith("#"):
                    continue
                if cur is None:
                    cur = Case(path, lineno)
                cur.lines.append((lineno, text.strip()))
        if cur and cur.lines:
            cases.append(cur)
    return cases


_REPEAT = re.compile(rb"\{(\d+)\}")


def raw_payload(text):
    """The bytes of an @raw line: tokens concatenated, a token {N} repeats the previous one."""
    out = []
    for tok in split_args(text):
        m = _REPEAT.fullmatch(tok)
        if m and out:
            out[-1] = out[-1] * int(m.group(1))
        else:
            out.append(tok)
    return b"".join(out)


def _config_names(case):
    names = []
    for _, text in case.lines:
        if text.startswith("@"):
            continue
        try:
            args = split_args(text)
        except ValueError:
            continue
        if len(args) >= 4 and cmd_key(args) == "CONFIG SET":
            names.extend(a.decode() for a in args[2::2])
    return names


def _admin(server):
    return server.raw(protocol=2)


def run_case(pair, case, log):
    """Returns None on success or a failure description."""
    names = _config_names(case)
    saved = []
    for s in (pair.sa, pair.sb):
        with _admin(s) as c:
            c.execute("FLUSHALL")
            vals = {}
            for n in names:
                got = c.execute("CONFIG", "GET", n)
                if isinstance(got, list) and len(got) == 2:
                    vals[n] = got[1]
            saved.append(vals)
    pair.reconnect()
    policy = None
    try:
        for lineno, text in case.lines:
            if text.startswith("@"):
                words = text[1:].split(None, 1)
                d = words[0]
                rest = words[1] if len(words) > 1 else ""
                if d == "sleep":
                    time.sleep(float(rest))
                elif d == "only":
                    if int(rest) != pair.protocol:
                        return None
                elif d == "shape":
                    policy = cmp_shape
                elif d == "sorted":
                    policy = cmp_sorted
                elif d == "raw":
                    data = raw_payload(rest)
                    (ga, sa_), (gb, sb_) = pair.raw_exchange(data)
                    if (ga, sa_) != (gb, sb_):
                        return describe(case, lineno, text, pair,
                                        "raw exchange differs (A %s, B %s)" % (sa_, sb_),
                                        ga, gb)
                else:
                    raise HarnessError("%s:%d: unknown directive %r" % (case.path, lineno, text))
                continue
            try:
                args = split_args(text)
            except ValueError as e:
                raise HarnessError("%s:%d: %s" % (case.path, lineno, e))
            try:
                res = pair.run(args, policy)
            except Mismatch as e:
                return describe(case, lineno, text, pair, str(e), *e.replies)
            finally:
                policy = None
            if log and res is not None:
                log("  %s -> %r" % (text, res[0][:120]))
        return None
    finally:
        pair.check_alive()
        for s, vals in zip((pair.sa, pair.sb), saved):
            with _admin(s) as c:
                for n, v in vals.items():
                    c.execute("CONFIG", "SET", n, v)
                c.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")
                c.execute("CLIENT", "UNPAUSE")


def show(raw, limit=4000):
    """repr() of a raw reply, shortened beyond `limit` characters."""
    r = repr(raw)
    if len(r) > limit:
        return r[:limit] + "... (%d bytes in all)" % len(raw)
    return r


def describe(case, lineno, text, pair, why, ra, rb):
    return ("MISMATCH in case %s (line %d, RESP%d): %s\n  command: %s\n  A (%s): %s\n  B (%s): %s"
            % (case.name(), lineno, pair.protocol, why, text, pair.sa.binary, show(ra),
               pair.sb.binary, show(rb)))


# --------------------------------------------------------------------------------------------
# Random sequences
# --------------------------------------------------------------------------------------------

FAR = 4102444800          # 2100-01-01: absolute expiry times far in the future, deterministic


class Generator:
    """Random commands of the core set over a small key space, so commands collide."""

    def __init__(self, rng, types=False):
        self.r = rng
        self.types = types
        self.keys = [b"k%d" % i for i in range(6)] + [b"n%d" % i for i in range(3)] + [b"x"]
        self.values = [b"", b"v", b"hello", b"12", b"-3", b"0", b"3.5", b"1e3", b"10001",
                       b"9223372036854775807", b"-9223372036854775808", b"x" * 50, b"\x00\xff",
                       b" 1", b"01", b"abc\r\ndef"]
        ops = [
            (8, self.g_set), (6, self.g_get), (2, self.g_setnx), (2, self.g_setex),
            (2, self.g_getset), (2, self.g_getdel), (3, self.g_getex), (3, self.g_mget),
            (2, self.g_mset), (1, self.g_msetnx), (3, self.g_append), (2, self.g_strlen),
            (5, self.g_incr), (2, self.g_incrbyfloat), (3, self.g_getrange),
            (2, self.g_setrange), (1, self.g_lcs), (3, self.g_del), (3, self.g_exists),
            (2, self.g_type), (1, self.g_keys), (1, self.g_scan), (1, self.g_randomkey),
            (2, self.g_rename), (1, self.g_move), (2, self.g_copy), (1, self.g_touch),
            (4, self.g_expire), (3, self.g_ttl), (1, self.g_persist), (2, self.g_object),
            (1, self.g_dbsize), (1, self.g_select), (1, self.g_swapdb), (1, self.g_misc),
            (1, self.g_flush),
        ]
        if types:
            # One module per data type (tests/diff/gen_<type>.py), each with
            # generators(gen) -> [(weight, fn), ...] where fn() returns a command's
            # arguments (bytes) and may use gen.r, gen.key(), gen.val(), gen.num().
            for mod in TYPE_GENERATORS:
                ops.extend(mod.generators(self))
        self.ops = []
        for w, f in ops:
            self.ops.extend([f] * w)

    def key(self):
        return self.r.choice(self.keys)

    def val(self):
        if self.r.random() < 0.2:
            return str(self.r.randint(-1000, 1000)).encode()
        return self.r.choice(self.values)

    def num(self):
        return self.r.choice([b"1", b"-1", b"0", b"10", b"100", b"-100", b"9223372036854775807",
                              b"-9223372036854775808", b"abc", b"1.5", b""])

    def ttl_opt(self):
        c = self.r.random()
        if c < 0.3:
            return [b"EX", str(self.r.randint(1000, 100000)).encode()]
        if c < 0.5:
            return [b"PX", str(self.r.randint(1000000, 100000000)).encode()]
        if c < 0.6:
            return [b"EXAT", str(FAR + self.r.randint(0, 1000)).encode()]
        if c < 0.7:
            return [b"PXAT", str(FAR * 1000 + self.r.randint(0, 1000000)).encode()]
        if c < 0.75:
            return [b"PXAT", b"1"]           # in the past: the key is deleted
        if c < 0.8:
            return [b"EX", self.r.choice([b"0", b"-1", b"abc", b"9999999999999999"])]
        if c < 0.9:
            return [b"KEEPTTL"]
        return []

    def next(self):
        return self.r.choice(self.ops)()

    # ---- generators ----
    def g_set(self):
        args = [b"SET", self.key(), self.val()] + self.ttl_opt()
        c = self.r.random()
        if c < 0.15:
            args.append(b"NX")
        elif c < 0.3:
            args.append(b"XX")
        elif c < 0.33:
            args += [b"NX", b"XX"]
        if self.r.random() < 0.2:
            args.append(b"GET")
        if self.r.random() < 0.05:
            self.r.shuffle(args[3:])
        return args

    def g_get(self):
        return [b"GET", self.key()]

    def g_setnx(self):
        return [b"SETNX", self.key(), self.val()]

    def g_setex(self):
        cmd = self.r.choice([b"SETEX", b"PSETEX"])
        t = self.r.choice([b"100000", b"5000000", b"0", b"-5", b"abc"])
        return [cmd, self.key(), t, self.val()]

    def g_getset(self):
        return [b"GETSET", self.key(), self.val()]

    def g_getdel(self):
        return [b"GETDEL", self.key()]

    def g_getex(self):
        args = [b"GETEX", self.key()]
        c = self.r.random()
        if c < 0.2:
            args.append(b"PERSIST")
        elif c < 0.6:
            opt = self.ttl_opt()
            if opt and opt != [b"KEEPTTL"]:
                args += opt
        elif c < 0.65:
            args += [b"FOO"]
        return args

    def g_mget(self):
        return [b"MGET"] + [self.key() for _ in range(self.r.randint(1, 4))]

    def g_mset(self):
        args = [b"MSET"]
        for _ in range(self.r.randint(1, 3)):
            args += [self.key(), self.val()]
        if self.r.random() < 0.05:
            args.pop()
        return args

    def g_msetnx(self):
        args = [b"MSETNX"]
        for _ in range(self.r.randint(1, 3)):
            args += [self.key(), self.val()]
        return args

    def g_append(self):
        return [b"APPEND", self.key(), self.r.choice([b"", b"a", b"xyz", b"1", b"\x00"])]

    def g_strlen(self):
        return [b"STRLEN", self.key()]

    def g_incr(self):
        c = self.r.random()
        k = self.r.choice(self.keys[-4:]) if self.r.random() < 0.6 else self.key()
        if c < 0.3:
            return [b"INCR", k]
        if c < 0.5:
            return [b"DECR", k]
        if c < 0.8:
            return [b"INCRBY", k, self.num()]
        return [b"DECRBY", k, self.num()]

    def g_incrbyfloat(self):
        inc = self.r.choice([b"1", b"0.1", b"-1.5", b"1e3", b"3.0e-2", b"abc", b"inf", b"10.5",
                             b"-0.25", b"5.0e3"])
        return [b"INCRBYFLOAT", self.key(), inc]

    def g_getrange(self):
        return [b"GETRANGE", self.key(), str(self.r.randint(-10, 10)).encode(),
                str(self.r.randint(-10, 10)).encode()]

    def g_setrange(self):
        off = self.r.choice([b"0", b"1", b"5", b"20", b"-1", b"abc"])
        return [b"SETRANGE", self.key(), off, self.r.choice([b"", b"ab", b"Z"])]

    def g_lcs(self):
        args = [b"LCS", self.key(), self.key()]
        c = self.r.random()
        if c < 0.3:
            args.append(b"LEN")
        elif c < 0.6:
            args.append(b"IDX")
            if self.r.random() < 0.5:
                args += [b"MINMATCHLEN", self.r.choice([b"0", b"1", b"2"])]
            if self.r.random() < 0.5:
                args.append(b"WITHMATCHLEN")
        return args

    def g_del(self):
        return [self.r.choice([b"DEL", b"UNLINK"])] + [self.key() for _ in
                                                       range(self.r.randint(1, 3))]

    def g_exists(self):
        return [b"EXISTS"] + [self.key() for _ in range(self.r.randint(1, 3))]

    def g_type(self):
        return [b"TYPE", self.key()]

    def g_keys(self):
        return [b"KEYS", self.r.choice([b"*", b"k*", b"n?", b"[kn]1", b"nomatch"])]

    def g_scan(self):
        args = [b"SCAN", b"0"]
        if self.r.random() < 0.5:
            args += [b"MATCH", self.r.choice([b"k*", b"*", b"n*"])]
        if self.r.random() < 0.5:
            args += [b"COUNT", self.r.choice([b"1", b"2", b"10"])]
        if self.r.random() < 0.2:
            args += [b"TYPE", self.r.choice([b"string", b"list"])]
        return args

    def g_randomkey(self):
        return [b"RANDOMKEY"]

    def g_rename(self):
        return [self.r.choice([b"RENAME", b"RENAMENX"]), self.key(), self.key()]

    def g_move(self):
        return [b"MOVE", self.key(), self.r.choice([b"0", b"1", b"2"])]

    def g_copy(self):
        args = [b"COPY", self.key(), self.key()]
        if self.r.random() < 0.4:
            args += [b"DB", self.r.choice([b"0", b"1"])]
        if self.r.random() < 0.4:
            args.append(b"REPLACE")
        return args

    def g_touch(self):
        return [b"TOUCH"] + [self.key() for _ in range(self.r.randint(1, 3))]

    def g_expire(self):
        cmd = self.r.choice([b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"])
        c = self.r.random()
        if cmd == b"EXPIRE":
            t = self.r.choice([b"1000", b"100000", b"-1", b"abc"]) if c < 0.9 else b"0"
        elif cmd == b"PEXPIRE":
            t = self.r.choice([b"1000000", b"50000000", b"-5"])
        elif cmd == b"EXPIREAT":
            t = self.r.choice([str(FAR).encode(), str(FAR + 500).encode(), b"1"])
        else:
            t = self.r.choice([str(FAR * 1000).encode(), str(FAR * 1000 + 999).encode(), b"1"])
        args = [cmd, self.key(), t]
        if self.r.random() < 0.4:
            args.append(self.r.choice([b"NX", b"XX", b"GT", b"LT"]))
            if self.r.random() < 0.15:
                args.append(self.r.choice([b"NX", b"XX", b"GT", b"LT"]))
        return args

    def g_ttl(self):
        return [self.r.choice([b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"]), self.key()]

    def g_persist(self):
        return [b"PERSIST", self.key()]

    def g_object(self):
        return [b"OBJECT", self.r.choice([b"ENCODING", b"ENCODING", b"REFCOUNT", b"IDLETIME",
                                          b"FREQ"]), self.key()]

    def g_dbsize(self):
        return [b"DBSIZE"]

    def g_select(self):
        return [b"SELECT", self.r.choice([b"0", b"0", b"0", b"1"])]

    def g_swapdb(self):
        return [b"SWAPDB", b"0", b"1"]

    def g_misc(self):
        return self.r.choice([[b"PING"], [b"ECHO", self.val()], [b"GET"], [b"SET", b"k0"],
                              [b"NOSUCHCOMMAND", b"x"], [b"EXISTS"]])

    def g_flush(self):
        if self.r.random() < 0.2:
            return [self.r.choice([b"FLUSHDB", b"FLUSHALL"])]
        return [b"PING"]



# Directives the random generators may change.
RANDOM_CONFIG = ("hash-max-listpack-entries", "hash-max-listpack-value", "list-max-listpack-size",
                 "list-compress-depth", "set-max-intset-entries", "zset-max-listpack-entries",
                 "zset-max-listpack-value")


def run_random(pair, seed, ops, types, log):
    rng = random.Random("%d/%d" % (seed, pair.protocol))
    # Active expiry runs on each server's own clock, so a key whose time has passed (redis-server
    # 7.0 keeps a key SET with an EXAT/PXAT in the past until it is looked up) would leave DBSIZE
    # at the mercy of timing. Lazy expiry alone is deterministic.
    # The type generators may CONFIG SET encoding thresholds; whatever they change is put
    # back afterwards, so the scripted cases that follow (e.g. of the other protocol) see
    # the defaults they were written for.
    saved = {}
    for s in (pair.sa, pair.sb):
        with _admin(s) as c:
            c.execute("FLUSHALL")
            c.execute("DEBUG", "SET-ACTIVE-EXPIRE", "0")
            saved[s] = [(name, c.execute("CONFIG", "GET", name)[1]) for name in RANDOM_CONFIG]
    try:
        return _run_random(pair, seed, ops, types, log, rng)
    finally:
        for s in (pair.sa, pair.sb):
            if s.alive():
                with _admin(s) as c:
                    c.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")
                    for name, value in saved[s]:
                        c.execute("CONFIG", "SET", name, value)


def _run_random(pair, seed, ops, types, log, rng):
    gen = Generator(rng, types=types)
    pair.reconnect()
    for i in range(ops):
        args = gen.next()
        try:
            res = pair.run(args)
        except Mismatch as e:
            ra, rb = e.replies
            print(state_dump(pair), flush=True)
            return ("MISMATCH in random sequence (seed %d, index %d, RESP%d): %s\n"
                    "  command: %s\n  A (%s): %s\n  B (%s): %s\n"
                    "  reproduce: %s --seed %d --ops %d --protocols %d --no-cases"
                    % (seed, i, pair.protocol, e, fmt_args(args), pair.sa.binary, show(ra),
                       pair.sb.binary, show(rb), sys.argv[0], seed, i + 1, pair.protocol))
        if log and res is not None:
            log("  [%d] %s -> %r" % (i, fmt_args(args), res[0][:100]))
        if i % 500 == 499:
            pair.check_alive()
    pair.check_alive()
    return None


def state_dump(pair, dbs=(0, 1, 2)):
    """Keys with their types, TTLs and values in a few dbs of both servers, for a report.
    Uses commands that do not expire anything (DEBUG OBJECT would, so it is not used): SCAN
    with a huge COUNT does expire, so the dump is taken once, after the mismatch."""
    lines = ["state after the mismatch (db: key type pttl value), DBSIZE first:"]
    for name, s in (("A", pair.sa), ("B", pair.sb)):
        try:
            with _admin(s) as c:
                for db in dbs:
                    c.execute("SELECT", db)
                    size = c.execute("DBSIZE")
                    keys = sorted(c.execute("KEYS", "*"))
                    lines.append("  %s db%d dbsize=%s keys=%r" % (name, db, size, keys))
                    for k in keys:
                        lines.append("    %r %s %s %r" % (k, c.execute("TYPE", k),
                                                        c.execute("PTTL", k),
                                                        c.execute("GET", k)))
        except (OSError, ConnectionError) as e:
            lines.append("  %s: %s" % (name, e))
    return "\n".join(lines)


def fmt_args(args):
    out = []
    for a in args:
        if a and all(33 <= ch < 127 and ch not in b"\"'\\" for ch in a):
            out.append(a.decode())
        else:
            s = '"'
            for ch in a:
                if ch in b'"\\':
                    s += "\\" + chr(ch)
                elif 32 <= ch < 127:
                    s += chr(ch)
                else:
                    s += "\\x%02x" % ch
            out.append(s + '"')
    return " ".join(out)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", default=os.environ.get("KEYLOOM_SERVER") or "/usr/bin/redis-server",
                   help="server under test (default $KEYLOOM_SERVER)")
    p.add_argument("--b", default=os.environ.get("KEYLOOM_REFERENCE_SERVER",
                                                 "/usr/bin/redis-server"),
                   help="reference server (default $KEYLOOM_REFERENCE_SERVER or redis-server)")
    p.add_argument("--seed", type=int, default=int(os.environ.get("KEYLOOM_DIFF_SEED", "0")),
                   help="random seed (0: pick one and print it)")
    p.add_argument("--ops", type=int, default=int(os.environ.get("KEYLOOM_DIFF_OPS", "5000")),
                   help="random operations per protocol")
    p.add_argument("--protocols", default="2,3")
    p.add_argument("--cases", nargs="*", default=None, help="case files or directories")
    p.add_argument("--no-cases", action="store_true")
    p.add_argument("--no-random", action="store_true")
    p.add_argument("--types", action="store_true",
                   help="also generate list commands (RPUSH/LLEN) for WRONGTYPE paths")
    p.add_argument("--perturb", type=int, default=None, metavar="K",
                   help="self-test: corrupt A's reply at the K-th exact comparison")
    p.add_argument("--max-failures", type=int, default=10)
    p.add_argument("-v", "--verbose", action="store_true")
    opts = p.parse_args(argv)

    seed = opts.seed or random.SystemRandom().randint(1, 2 ** 31 - 1)
    protocols = [int(x) for x in opts.protocols.split(",") if x]
    log = print if opts.verbose else None
    mode = Mode()
    print("kldiff: A=%s B=%s tls=%s io-threads=%s seed=%d ops=%d protocols=%s" % (
        opts.a, opts.b, mode.tls, mode.io_threads, seed, opts.ops, protocols), flush=True)

    failures = []
    sa = sb = None
    t0 = time.monotonic()
    try:
        sa = Server(Mode(server=opts.a, tls=mode.tls, io_threads=mode.io_threads)).start()
        sb = Server(Mode(server=opts.b, tls=mode.tls, io_threads=mode.io_threads)).start()
        cases = [] if opts.no_cases else load_cases(opts.cases or [CASES_DIR])
        for proto in protocols:
            pair = Pair(sa, sb, proto, print, perturb=opts.perturb)
            ncases = 0
            for case in cases:
                if log:
                    log("case %s (RESP%d)" % (case.name(), proto))
                why = run_case(pair, case, log)
                ncases += 1
                if why:
                    failures.append(why)
                    print(why, flush=True)
                    if len(failures) >= opts.max_failures:
                        raise HarnessError("too many failures")
            if not opts.no_random:
                why = run_random(pair, seed, opts.ops, opts.types, log)
                if why:
                    failures.append(why)
                    print(why, flush=True)
            print("RESP%d: %d cases, %d random ops, %d replies compared" % (
                proto, ncases, 0 if opts.no_random else opts.ops, pair.compared), flush=True)
            pair.close()
    except HarnessError as e:
        print("kldiff: %s" % e, flush=True)
        if "too many failures" not in str(e):
            return 2
    except ServerError as e:
        print("kldiff: server failure: %s" % e, flush=True)
        return 2
    finally:
        for name, s in (("A", sa), ("B", sb)):
            if s is not None:
                try:
                    s.stop()
                except ServerError as e:
                    print("kldiff: server %s did not stop cleanly: %s" % (name, e), flush=True)
                    failures.append("unclean stop of %s" % name)
    print("kldiff: %s in %.1fs (seed %d)" % ("FAILED, %d mismatches" % len(failures) if failures
                                            else "OK", time.monotonic() - t0, seed), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
