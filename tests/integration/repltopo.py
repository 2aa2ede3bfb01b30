"""Replication topologies for the integration tests (tests/integration/test_replication.py,
test_repl_stream_diff.py).  Standard library only, on top of klserver.py.

  Topology(mode)              a set of nodes sharing one temporary directory; close() stops them
  topo.node(name, kind, ...)  starts one node: kind "keyloom" (KEYLOOM_SERVER) or "redis" (the
                              reference redis-server); plain or TLS per the mode
  topo.replicaof(r, m)        REPLICAOF wiring (asserts +OK)
  topo.wait_synced(m, *rs)    bounded wait until every replica's link is up, not syncing and at
                              the top master's offset (INFO replication); failures name the node
                              and print every node's INFO replication
  topo.assert_same_data(...)  wait_synced, then DEBUG DIGEST equal on every node
  node.kill9(), node.restart(), node.sigstop(), node.sigcont()

TLS mode (KEYLOOM_TEST_TLS=1): every node has tls-port, tls-replication yes, tls-auth-clients yes
and the suite's certificates (server.crt doubles as the client certificate a replica presents to
its master, as Redis falls back to tls-cert-file).  Two layouts alternate, node by node: "tls-only"
(port 0, tls-port P) and "dual" (a plain port as well as tls-port P); clients and replicas use the
TLS port, node.plain_port is the dual layout's plaintext port.

Roles come from KEYLOOM_REPL_MASTER / KEYLOOM_REPL_REPLICA in {keyloom, redis} (default keyloom):
the mixed settings are the interop directions of issue 11.  KEYLOOM_REFERENCE_SERVER names the
reference binary (default /usr/bin/redis-server).
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from klserver import (HOST, Mode, RawClient, RespError, Server, ServerError, free_port,
                      tls_path)

REFERENCE_SERVER = os.environ.get("KEYLOOM_REFERENCE_SERVER") or "/usr/bin/redis-server"
KINDS = ("keyloom", "redis")
SYNC_TIMEOUT = 20.0


def repl_roles():
    """(master kind, replica kind) from the environment."""
    m = os.environ.get("KEYLOOM_REPL_MASTER", "keyloom").strip().lower()
    r = os.environ.get("KEYLOOM_REPL_REPLICA", "keyloom").strip().lower()
    for name, v in (("KEYLOOM_REPL_MASTER", m), ("KEYLOOM_REPL_REPLICA", r)):
        if v not in KINDS:
            raise ValueError("%s must be one of %s, not %r" % (name, KINDS, v))
    return m, r


def binary_for(kind, mode):
    if kind == "keyloom":
        return mode.server
    if kind == "redis":
        return REFERENCE_SERVER
    raise ValueError("unknown node kind %r" % (kind,))


def info(node_or_client, section="replication"):
    """INFO section as {field: value} (str), from a Node or a RawClient."""
    if isinstance(node_or_client, RawClient):
        text = node_or_client.execute("INFO", section)
    else:
        with node_or_client.raw(timeout=5) as c:
            text = c.execute("INFO", section)
    if isinstance(text, RespError):
        raise AssertionError("INFO %s failed: %s" % (section, text))
    out = {}
    for line in text.decode().split("\r\n"):
        if line and not line.startswith("#"):
            k, _, v = line.partition(":")
            out[k] = v
    return out


def info_keys(node, section="replication"):
    """The field names of an INFO section, in order."""
    with node.raw(timeout=5) as c:
        text = c.execute("INFO", section).decode()
    return [line.partition(":")[0] for line in text.split("\r\n")
            if line and not line.startswith("#")]


class Node(Server):
    """One server of a topology.  port is the port clients and replicas use (the TLS port in
    TLS mode); plain_port is the dual layout's plaintext port (None otherwise)."""

    def __init__(self, topo, name, kind, layout, args, replicaof=None):
        d = os.path.join(topo.dir, name)
        os.makedirs(d, exist_ok=True)
        super().__init__(mode=topo.mode, args=args, workdir=d, binary=binary_for(kind, topo.mode))
        self.name = name
        self.kind = kind
        self.layout = layout
        self.plain_port = None
        self.replicaof_at_start = replicaof   # a Node: started with --replicaof it
        self.password = None                  # AUTH sent on every connection made here
        self.stopped = False                  # SIGSTOPped
        self.killed = False                   # kill -9'ed (and not restarted)

    def __repr__(self):
        return "<%s %s %s:%s>" % (self.name, self.kind, HOST, self.port)

    def command_line(self, port):
        cmd = [self.binary]
        if self.mode.tls:
            cmd += ["--tls-port", str(port),
                    "--port", str(self.plain_port) if self.layout == "dual" else "0",
                    "--tls-cert-file", tls_path("server.crt"),
                    "--tls-key-file", tls_path("server.key"),
                    "--tls-ca-cert-file", tls_path("ca.crt"),
                    "--tls-auth-clients", "yes",
                    "--tls-replication", "yes"]
        else:
            cmd += ["--port", str(port)]
        cmd += ["--bind", HOST, "--save", "", "--appendonly", "no",
                "--enable-debug-command", "yes", "--io-threads", str(self.io_threads),
                "--logfile", self.logfile, "--dir", self.dir,
                "--repl-diskless-sync-delay", "0"]
        if self.replicaof_at_start is not None:
            cmd += ["--replicaof", HOST, str(self.replicaof_at_start.port)]
        return cmd + self.extra_args

    def start(self, attempts=5):
        last = None
        for _ in range(attempts):
            if self.mode.tls and self.layout == "dual":
                self.plain_port = free_port()
            try:
                self._start_on(free_port())
                return self
            except ServerError as e:
                last = e
                if not (self._bind_failed() or "answered by another process" in str(e)):
                    raise
        raise last

    def restart(self):
        """Start again on the same ports and directory (after kill9 / SHUTDOWN)."""
        assert self.proc is None or self.proc.poll() is not None, "%s still running" % self.name
        self.killed = False
        self._start_on(self.port)
        return self

    def kill9(self):
        if self.stopped:
            self.sigcont()
        self.proc.kill()
        self.proc.wait(10)
        self.killed = True

    def sigstop(self):
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def sigcont(self):
        os.kill(self.proc.pid, signal.SIGCONT)
        self.stopped = False

    def raw(self, protocol=2, timeout=10, **kw):
        c = super().raw(protocol=protocol, timeout=timeout, **kw)
        if self.password is not None:
            reply = c.execute("AUTH", self.password)
            if reply != b"OK":
                c.close()
                raise ServerError("%s: AUTH -> %r" % (self.name, reply))
        return c

    def do(self, *args):
        """One command on a fresh connection; returns the parsed reply."""
        with self.raw(timeout=10) as c:
            return c.execute(*args)

    def info(self, section="replication"):
        return info(self, section)

    def digest(self):
        d = self.do("DEBUG", "DIGEST")
        assert isinstance(d, bytes) and len(d) == 40, "%s: DEBUG DIGEST -> %r" % (self.name, d)
        return d

    def stat(self, name):
        return int(self.info("stats")[name])

    def log_text(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""


class Topology:
    """Nodes in one temporary directory.  node() alternates the TLS layouts."""

    def __init__(self, mode=None):
        self.mode = mode or Mode()
        self.dir = tempfile.mkdtemp(prefix="keyloom-repl-")
        self.nodes = []
        self.master_kind, self.replica_kind = repl_roles()

    def node(self, name, kind=None, role="replica", args=(), layout=None, replicaof=None,
             start=True):
        """Start a node.  kind defaults to the role's kind from the environment."""
        if kind is None:
            kind = self.master_kind if role == "master" else self.replica_kind
        if layout is None:
            layout = "tls-only" if len(self.nodes) % 2 == 0 else "dual"
        n = Node(self, name, kind, layout, [str(a) for a in args], replicaof=replicaof)
        self.nodes.append(n)
        if start:
            n.start()
        return n

    def master(self, name="master", args=(), **kw):
        return self.node(name, role="master", args=args, **kw)

    def replica(self, name, of, args=(), wait=True, cmd="REPLICAOF", **kw):
        """Start a replica node and point it at `of` with REPLICAOF (or SLAVEOF)."""
        r = self.node(name, role="replica", args=args, **kw)
        self.replicaof(r, of, cmd)
        if wait:
            # The replica's side (link up, loaded) and the master's (state=online: a diskless
            # sync's child has been reaped, so SAVE/BGSAVE are possible again).
            self.wait_link_up(r)
            self.wait_synced(of, r)
        return r

    def replicaof(self, replica, master, cmd="REPLICAOF"):
        reply = replica.do(cmd, HOST, str(master.port))
        assert reply == b"OK", "%s: %s %s %s -> %r" % (replica.name, cmd, HOST, master.port,
                                                       reply)

    # ----- waits -----

    def describe(self, nodes=None):
        out = []
        for n in nodes or self.nodes:
            if not n.alive():
                out.append("---- %s (%s): not running (status %s)" % (
                    n.name, n.kind, n.proc.poll() if n.proc else None))
                continue
            if n.stopped:
                out.append("---- %s (%s): SIGSTOPped" % (n.name, n.kind))
                continue
            try:
                with n.raw(timeout=2) as c:
                    text = c.execute("INFO", "replication")
                text = text.decode() if isinstance(text, bytes) else repr(text)
            except Exception as e:  # noqa: BLE001 - diagnostics only
                text = "INFO failed: %r" % (e,)
            out.append("---- %s (%s, port %s) INFO replication:\n%s" % (
                n.name, n.kind, n.port, text.strip()))
        return "\n".join(out)

    def wait_link_up(self, replica, timeout=SYNC_TIMEOUT):
        """Until the replica's master_link_status is up and no sync is in progress."""
        deadline = time.monotonic() + timeout
        while True:
            replica.check_alive(replica.name)
            ri = replica.info()
            if ri.get("master_link_status") == "up" and ri.get("master_sync_in_progress") == "0":
                return ri
            if time.monotonic() > deadline:
                raise AssertionError("%s: link to its master not up within %.0fs\n%s" % (
                    replica.name, timeout, self.describe()))
            time.sleep(0.05)

    def wait_synced(self, master, *replicas, timeout=SYNC_TIMEOUT):
        """Until every replica (chained ones too) has its link up, no sync in progress and
        master_repl_offset equal to the top master's.  Returns that offset."""
        deadline = time.monotonic() + timeout
        while True:
            master.check_alive(master.name)
            moff = int(master.info()["master_repl_offset"])
            lagging = None
            for r in replicas:
                r.check_alive(r.name)
                ri = r.info()
                if ri.get("master_link_status") != "up":
                    lagging = "%s: master_link_status:%s" % (r.name, ri.get("master_link_status"))
                elif ri.get("master_sync_in_progress") != "0":
                    lagging = "%s: master_sync_in_progress:%s" % (
                        r.name, ri.get("master_sync_in_progress"))
                elif int(ri.get("master_repl_offset", -1)) != moff:
                    lagging = "%s: master_repl_offset %s != %s's %d" % (
                        r.name, ri.get("master_repl_offset"), master.name, moff)
                if lagging:
                    break
            if lagging is None:
                lagging = self._replicas_not_online(master, replicas)
            if lagging is None:
                return moff
            if time.monotonic() > deadline:
                raise AssertionError("replicas not in sync with %s within %.0fs (%s)\n%s" % (
                    master.name, timeout, lagging, self.describe()))
            time.sleep(0.05)

    def _replicas_not_online(self, master, replicas):
        """The masters' side: for every replica of `replicas`, the node it replicates (one of
        master + replicas) lists it (by its port) in a slaveN line with state=online.  A
        description of the first that is not, or None."""
        nodes = (master,) + tuple(replicas)
        for r in replicas:
            port = r.info().get("master_port")
            up = [n for n in nodes if str(n.port) == port]
            if not up:
                continue
            lines = [v for k, v in up[0].info().items() if re.fullmatch(r"slave\d+", k)]
            if not any(",port=%d,state=online," % r.port in v for v in lines):
                return "%s does not list %s as online: %s" % (up[0].name, r.name, lines)
        return None

    def assert_same_data(self, master, *replicas, timeout=SYNC_TIMEOUT):
        """wait_synced, then DEBUG DIGEST equal everywhere (retried when the master's offset
        moved in between, e.g. a periodic PING)."""
        for _ in range(5):
            off = self.wait_synced(master, *replicas, timeout=timeout)
            digests = {n.name: n.digest() for n in (master,) + replicas}
            if int(master.info()["master_repl_offset"]) != off:
                continue
            if len(set(digests.values())) == 1:
                return digests[master.name]
            raise AssertionError("DEBUG DIGEST differs at offset %d: %s\n%s" % (
                off, digests, self.describe()))
        raise AssertionError("%s's offset kept moving" % master.name)

    # ----- teardown -----

    def close(self):
        """Stop every node; returns the error messages of nodes that had crashed or did not
        stop cleanly (kill -9'ed nodes excepted)."""
        errors = []
        for n in self.nodes:
            if n.proc is None:
                continue
            if n.stopped:
                try:
                    n.sigcont()
                except OSError:
                    pass
            if n.killed:
                continue
            try:
                n.stop()
            except ServerError as e:
                errors.append("%s (%s): %s" % (n.name, n.kind, e))
        if not errors:
            shutil.rmtree(self.dir, ignore_errors=True)
        return errors


def fill_types(c, db_prefix="", big=False):
    """Data of every type and encoding on a RawClient (strings int/embstr/raw, lists small
    and large, hashes/sets/zsets in both encodings, keys with TTLs).  Returns the key names."""
    n_big = 300 if big else 200
    cmds = [
        ("SET", "str:int", "12345"),
        ("SET", "str:neg", "-9876543210"),
        ("SET", "str:embstr", "short value"),
        ("SET", "str:raw", "r" * 200),
        ("SET", "str:bin", b"\x00\x01\xff\r\n binary"),
        ("RPUSH", "list:small", "a", "b", "c", "1", "2"),
        ("RPUSH", "list:big") + tuple("item-%d-%s" % (i, "x" * (i % 50)) for i in range(n_big)),
        ("HSET", "hash:small", "f1", "v1", "f2", "2", "f3", "v3"),
        ("HSET", "hash:big") + tuple(x for i in range(n_big + 400)
                                     for x in ("f%d" % i, "v%d" % i)),
        ("HSET", "hash:longval", "f", "v" * 100),
        ("SADD", "set:int", "1", "2", "3", "100000", "-5"),
        ("SADD", "set:str", "a", "b", "c"),
        ("SADD", "set:big") + tuple("m%d" % i for i in range(n_big + 400)),
        ("ZADD", "zset:small", "1", "a", "2.5", "b", "-3", "c"),
        ("ZADD", "zset:big") + tuple(x for i in range(n_big) for x in (str(i * 1.5), "z%d" % i)),
        ("SET", "ttl:str", "v", "EX", "1000"),
        ("RPUSH", "ttl:list", "x", "y"),
        ("PEXPIRE", "ttl:list", "5000000"),
        ("HSET", "ttl:hash", "a", "1"),
        ("EXPIRE", "ttl:hash", "3000"),
    ]
    for cmd in cmds:
        reply = c.execute(*cmd)
        assert not isinstance(reply, RespError), (cmd[:2], reply)


ENCODINGS = {
    "str:int": b"int", "str:embstr": b"embstr", "str:raw": b"raw",
    "list:small": b"quicklist", "list:big": b"quicklist",
    "hash:small": b"listpack", "hash:big": b"hashtable", "hash:longval": b"hashtable",
    "set:int": b"intset", "set:str": b"hashtable", "set:big": b"hashtable",
    "zset:small": b"listpack", "zset:big": b"skiplist",
}


def popen_cli(node, *args):
    """redis-cli against a node as a subprocess (stdout piped), with the mode's TLS flags."""
    cmd = [node.mode.cli, "-h", HOST, "-p", str(node.port)] + node.mode.cli_tls_args()
    cmd += [str(a) for a in args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
