#!/usr/bin/python3
"""Show what redis-server propagates for each command: the dirty delta (INFO
rdb_changes_since_last_save) and the replication stream, read by attaching to
it as a replica (PSYNC). This is how the expected streams of
tests/unit/server/test_propagate.c and tests/integration/test_dirty.py were
read from redis-server 7.0.15.

Usage: utils/propagation-probe.py SCRIPT [extra redis-server arguments...]

SCRIPT has one command per line (shell-style quoting). Also:
  # comment           printed as is
  !sleep SECONDS      wait (e.g. for a PX 1 key to expire)
  @NAME COMMAND ...   run on the extra connection NAME (for SELECT, MULTI)
  @NAME !send CMD...  send without reading the reply (a blocking command)
  @NAME !read         read NAME's pending reply (after it was served)
Active expiry keeps running unless the script says DEBUG SET-ACTIVE-EXPIRE 0.
The stream's periodic PING is suppressed (repl-ping-replica-period 3600).
"""
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return line.decode()
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.take(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("unexpected reply %r" % line)

    def call(self, *args):
        self.s.sendall(encode(args))
        return self.reply()


def attach_replica(port):
    """PSYNC as a replica; returns the connection positioned after the RDB payload."""
    r = Conn(port)
    r.s.sendall(encode(["PSYNC", "?", "-1"]))
    line = r.line()
    assert line.startswith(b"+FULLRESYNC"), line
    for _ in range(10000):  # newlines are sent while the RDB is produced
        if not r.buf:
            r.fill()
        if r.buf[:1] == b"\n":
            r.buf = r.buf[1:]
            continue
        break
    n = int(r.line()[1:])
    r.take(n)  # the RDB, without a trailing CRLF
    r.s.settimeout(0.05)
    return r


def drain(r):
    time.sleep(0.03)
    data, r.buf = r.buf, b""
    for _ in range(1000):
        try:
            d = r.s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        data += d
    return data


def commands(stream):
    out, i = [], 0
    while i < len(stream):
        j = stream.index(b"\r\n", i)
        n, i, args = int(stream[i + 1:j]), j + 2, []
        for _ in range(n):
            j = stream.index(b"\r\n", i)
            ln, i = int(stream[i + 1:j]), j + 2
            args.append(stream[i:i + ln].decode(errors="replace"))
            i += ln + 2
        out.append(" ".join(args))
    return out


def dirty(c):
    for line in c.call("INFO", "persistence").decode().split("\r\n"):
        if line.startswith("rdb_changes_since_last_save:"):
            return int(line.split(":")[1])
    raise RuntimeError("no rdb_changes_since_last_save")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = tempfile.mkdtemp()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", d, "--logfile", os.path.join(d, "log"),
                             "--repl-ping-replica-period", "3600",
                             "--enable-debug-command", "yes"] + sys.argv[2:])
    try:
        for _ in range(200):
            try:
                main_conn = Conn(port)
                main_conn.call("PING")
                break
            except OSError:
                time.sleep(0.05)
        info_conn = Conn(port)
        repl = attach_replica(port)
        others = {}
        with open(sys.argv[1]) as f:
            for raw in f:
                line = raw.rstrip("\n")
                if not line.strip():
                    continue
                if line.startswith("#"):
                    print(line)
                    continue
                if line.startswith("!sleep "):
                    time.sleep(float(line.split()[1]))
                    continue
                conn = main_conn
                if line.startswith("@"):
                    name, line = line[1:].split(" ", 1)
                    conn = others.setdefault(name, None) or Conn(port)
                    others[name] = conn
                    if line.startswith("!send "):
                        conn.s.sendall(encode(shlex.split(line[6:])))
                        print("[%s sent] %s" % (name, line[6:]))
                        continue
                    if line == "!read":
                        print("[%s reply] %r" % (name, conn.reply()))
                        for cmd in commands(drain(repl)):
                            print("      >> " + cmd)
                        continue
                before = dirty(info_conn)
                rep = conn.call(*shlex.split(line))
                after = dirty(info_conn)
                print("%-50s dirty%+d  reply=%.60r" % (line, after - before, rep))
                for cmd in commands(drain(repl)):
                    print("      >> " + cmd)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
