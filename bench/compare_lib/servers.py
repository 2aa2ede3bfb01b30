"""Servers under test: configurations, processes, a small INFO client.

A Config is one column of the comparison (a binary, its io-threads, whether it may serve TLS).
An Instance is one running process of a Config with one certificate. Every instance listens on
127.0.0.1 only, on a plain port (used for INFO and the key fill) and, when TLS is on, a TLS
port; ports come from the kernel (bind to port 0), so 6379 is never used.

Processes are started in their own session (a Ctrl-C on the terminal reaches bench/compare
only, which then stops them) and with PR_SET_PDEATHSIG, so they die with bench/compare even
if it is killed with SIGKILL.
"""

import ctypes
import os
import signal
import socket
import subprocess
import time

from . import procstat

HOST = "127.0.0.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
INFO_TIMEOUT = 10.0

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: SIGKILL this child when the process that started it goes away."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def popen(argv, **kw):
    """subprocess.Popen in a new session that dies with us."""
    return subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent, **kw)


def free_port():
    """A loopback port that was free a moment ago (never 6379: the kernel picks it)."""
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port != 6379:
            return port


class ServerError(Exception):
    pass


class Config:
    """One server configuration: a column in the tables.

    id:          short name used in results.csv and the tables ("keyloom-io1", "redis", ...)
    family:      "keyloom" or "other" (ratios are keyloom / other)
    binary:      path of a redis-server-compatible binary
    io_threads:  --io-threads value
    extra_args:  appended last (after ours, so they win for redis-style parsers)
    tls:         whether TLS cells run on it (redis-server 7.0 has no TLS with io-threads > 1)
    """

    def __init__(self, id, family, binary, io_threads=1, extra_args=(), tls=True, label=None,
                 note=""):
        self.id = id
        self.family = family
        self.binary = binary
        self.io_threads = io_threads
        self.extra_args = list(extra_args)
        self.tls = tls
        self.label = label or id
        self.note = note

    def __repr__(self):
        return "Config(%s)" % self.id

    def version(self):
        try:
            res = subprocess.run([self.binary, "--version"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=10)
            return res.stdout.decode(errors="replace").strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError) as e:
            return "unknown (%s)" % e


class Info:
    """A persistent plain-TCP RESP connection for INFO and PING."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        self.buf = b""

    def _connect(self):
        self.sock = socket.create_connection((HOST, self.port), timeout=INFO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed by server")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed by server")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def command(self, *args):
        """Send one command, return the reply (bytes, int, or ServerError for '-')."""
        if self.sock is None:
            self._connect()
        req = b"*%d\r\n" % len(args) + b"".join(
            b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
        try:
            self.sock.sendall(req)
            line = self._line()
            t, rest = line[:1], line[1:]
            if t == b"+":
                return rest
            if t == b"-":
                return ServerError(rest.decode(errors="replace"))
            if t == b":":
                return int(rest)
            if t in (b"$", b"="):
                n = int(rest)
                return None if n < 0 else self._bytes(n)
            raise ServerError("unexpected reply %r" % line[:60])
        except BaseException:
            self.close()
            raise

    def info(self, section="all"):
        """INFO section as {field: str} (an empty dict when the server has no such section)."""
        reply = self.command("INFO", section)
        if not isinstance(reply, bytes):
            raise ServerError("INFO failed: %r" % (reply,))
        out = {}
        for line in reply.decode(errors="replace").splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out


def info_int(info, key):
    try:
        return int(info[key])
    except (KeyError, ValueError, TypeError):
        return None


class Instance:
    """One server process: a Config with a certificate (or none: plain only)."""

    def __init__(self, config, workdir, tls_files=None, maxclients=10000):
        self.config = config
        self.workdir = workdir
        self.tls_files = tls_files    # dict(cert=, key=, ca=) or None
        self.maxclients = maxclients
        self.proc = None
        self.server_pid = None      # the process measured: proc, or the child of a wrapper
        self.port = None
        self.tls_port = None
        self.info_conn = None
        self.starts = 0
        self.logfile = os.path.join(workdir, "server.log")
        self.stdout_path = os.path.join(workdir, "stdout.log")

    @property
    def pid(self):
        return self.server_pid or (self.proc.pid if self.proc else None)

    def command_line(self):
        cmd = [self.config.binary, "--port", str(self.port), "--bind", HOST,
               "--save", "", "--appendonly", "no", "--daemonize", "no",
               "--io-threads", str(self.config.io_threads),
               "--maxclients", str(self.maxclients),
               "--logfile", self.logfile, "--dir", self.workdir]
        if self.tls_files:
            cmd += ["--tls-port", str(self.tls_port),
                    "--tls-cert-file", self.tls_files["cert"],
                    "--tls-key-file", self.tls_files["key"],
                    "--tls-ca-cert-file", self.tls_files["ca"],
                    "--tls-auth-clients", "no"]
        return cmd + self.config.extra_args

    def start(self, attempts=4):
        os.makedirs(self.workdir, exist_ok=True)
        last = None
        for _ in range(attempts):
            self.port = free_port()
            self.tls_port = free_port() if self.tls_files else None
            if self.tls_port == self.port:
                continue
            try:
                self._start_once()
                self.starts += 1
                return self
            except ServerError as e:
                last = e
                if "in use" not in str(e) and "EADDRINUSE" not in str(e):
                    break
        raise last or ServerError("could not start %s" % self.config.id)

    def _start_once(self):
        try:
            os.unlink(self.logfile)
        except FileNotFoundError:
            pass
        with open(self.stdout_path, "ab") as out:
            self.proc = popen(self.command_line(), cwd=self.workdir, stdout=out,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerError("%s exited with status %s during startup\ncommand: %s\n%s"
                                  % (self.config.id, rc, " ".join(self.command_line()),
                                     self.log_tail()))
            conn = Info(self.port)
            try:
                if conn.command("PING") == b"PONG":
                    pid = info_int(conn.info("server"), "process_id")
                    self.server_pid = self.proc.pid
                    if pid is not None and pid != self.proc.pid:
                        # Either our server lost the port to another process (then it exits
                        # soon), or the binary is a wrapper (taskset, a script) whose child
                        # answered: measure that child.
                        try:
                            self.proc.wait(1)
                            raise ServerError("port %d in use by another process" % self.port)
                        except subprocess.TimeoutExpired:
                            self.server_pid = pid
                    self.info_conn = conn
                    return
            except (OSError, ConnectionError):
                conn.close()
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError("%s did not answer PING within %.0f s\n%s"
                                  % (self.config.id, START_TIMEOUT, self.log_tail()))
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self):
        return None if self.proc is None else self.proc.poll()

    def healthy(self):
        """Alive and answering PING within INFO_TIMEOUT."""
        if not self.alive():
            return False
        try:
            return self.info_conn.command("PING") == b"PONG"
        except (OSError, ConnectionError, ServerError):
            return False

    def info(self, section="all"):
        return self.info_conn.info(section)

    def cpu(self):
        return procstat.cpu_sample(self.pid) if self.alive() else None

    def rss_kb(self):
        return procstat.rss_kb(self.pid) if self.alive() else None

    def stop(self):
        """SIGTERM and a bounded wait. Returns a problem description, or None if it exited 0."""
        if self.info_conn is not None:
            self.info_conn.close()
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is not None:
            return None if rc == 0 else "%s had exited with status %s%s" % (
                self.config.id, rc, signame(rc))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return "%s did not exit within %.0f s of SIGTERM (killed)" % (
                self.config.id, STOP_TIMEOUT)
        if rc != 0:
            return "%s exited with status %s%s after SIGTERM" % (self.config.id, rc, signame(rc))
        return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def log_tail(self, lines=15):
        chunks = []
        for path in (self.logfile, self.stdout_path):
            try:
                with open(path, "rb") as f:
                    data = f.read().decode(errors="replace").splitlines()
            except OSError:
                continue
            if data:
                chunks.append("---- %s ----\n%s" % (path, "\n".join(data[-lines:])))
        return "\n".join(chunks) or "(no server log)"


def signame(rc):
    if rc is not None and rc < 0:
        try:
            return " (signal %s)" % signal.Signals(-rc).name
        except ValueError:
            return " (signal %d)" % -rc
    return ""
