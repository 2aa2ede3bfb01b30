"""Test-server helpers shared by the integration suite (tests/integration) and the
differential harness (tests/diff).  Standard library only, so tests/diff can import it with
nothing but /usr/bin/python3.

What is here:
  * Mode           the test mode read from the environment (server binary, TLS, I/O threads).
  * ensure_certs   generates tests/tls/* with utils/gen-test-certs.sh when missing.
  * free_port      a free loopback TCP port (bind port 0, read it, close).
  * Server         starts a redis-server-compatible binary with redis-server flags on a free port,
                   waits (bounded) until it answers PING, detects crashes, stops it with SIGTERM
                   (bounded; a server that needs SIGKILL is reported as a failure).
  * RawClient      a small RESP2/RESP3 client that returns both the raw reply bytes and a parsed
                   value (types + - : $ * _ , # ! = ( % ~ > |), optionally over TLS.
  * run_cli        runs redis-cli with the mode's TLS flags.

Environment:
  KEYLOOM_SERVER            server binary (default: redis-server from PATH or /usr/bin)
  KEYLOOM_TEST_TLS          0|1 (default 0)
  KEYLOOM_TEST_IO_THREADS   number passed as --io-threads (default 1)
  KEYLOOM_REDIS_CLI         redis-cli binary (default: redis-cli from PATH)
  KEYLOOM_REDIS_BENCHMARK   redis-benchmark binary (default: redis-benchmark from PATH)
"""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TLS_DIR = os.path.join(ROOT, "tests", "tls")
GEN_CERTS = os.path.join(ROOT, "utils", "gen-test-certs.sh")
CERT_FILES = ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key",
              "redis.crt", "redis.key")

HOST = "127.0.0.1"
START_TIMEOUT = 20.0     # seconds for a server to answer PING after exec
STOP_TIMEOUT = 15.0      # seconds for a server to exit after SIGTERM / SHUTDOWN
SOCKET_TIMEOUT = 10.0    # default socket timeout for every client made here


def _env_flag(name, default="0"):
    return os.environ.get(name, default).strip().lower() in ("1", "yes", "true", "on")


def reference_mode():
    """KEYLOOM_TEST_REFERENCE=1: the suite is being validated against redis-server itself."""
    return _env_flag("KEYLOOM_TEST_REFERENCE")


def _which(name, fallback):
    return shutil.which(name) or fallback


def tls_path(name):
    return os.path.join(TLS_DIR, name)


def ensure_certs():
    """Make sure tests/tls holds a complete certificate set (the script is concurrency-safe)."""
    if all(os.path.isfile(tls_path(f)) and os.path.getsize(tls_path(f)) > 0 for f in CERT_FILES):
        return
    res = subprocess.run(["sh", GEN_CERTS, TLS_DIR], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=180)
    if res.returncode != 0:
        raise RuntimeError("utils/gen-test-certs.sh failed:\n"
                           + res.stdout.decode(errors="replace"))


class Mode:
    """The test mode: which binary, TLS or not, how many I/O threads."""

    def __init__(self, server=None, tls=None, io_threads=None):
        self.server = server or os.environ.get("KEYLOOM_SERVER") or _which(
            "redis-server", "/usr/bin/redis-server")
        self.tls = _env_flag("KEYLOOM_TEST_TLS") if tls is None else bool(tls)
        self.io_threads = int(os.environ.get("KEYLOOM_TEST_IO_THREADS", "1")) \
            if io_threads is None else int(io_threads)
        self.cli = os.environ.get("KEYLOOM_REDIS_CLI") or _which("redis-cli", "/usr/bin/redis-cli")
        self.benchmark = os.environ.get("KEYLOOM_REDIS_BENCHMARK") or _which(
            "redis-benchmark", "/usr/bin/redis-benchmark")
        self._ssl_ctx = None
        if self.tls:
            ensure_certs()

    def __repr__(self):
        return "Mode(server=%r, tls=%r, io_threads=%r)" % (self.server, self.tls, self.io_threads)

    def server_tls_args(self, port):
        return ["--port", "0", "--tls-port", str(port),
                "--tls-cert-file", tls_path("server.crt"),
                "--tls-key-file", tls_path("server.key"),
                "--tls-ca-cert-file", tls_path("ca.crt")]

    def ssl_context(self):
        """Client-side context: verify the server against the test CA, present client.crt.
        Built once per Mode (loading certificates is slow enough to matter for 1000 clients)."""
        if not self.tls:
            return None
        if self._ssl_ctx is None:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls_path("ca.crt"))
            ctx.check_hostname = False
            ctx.load_cert_chain(tls_path("client.crt"), tls_path("client.key"))
            self._ssl_ctx = ctx
        return self._ssl_ctx

    def redis_py_kwargs(self):
        if not self.tls:
            return {}
        return dict(ssl=True, ssl_certfile=tls_path("client.crt"),
                    ssl_keyfile=tls_path("client.key"), ssl_ca_certs=tls_path("ca.crt"),
                    ssl_cert_reqs="required")

    def cli_tls_args(self):
        if not self.tls:
            return []
        return ["--tls", "--cert", tls_path("client.crt"), "--key", tls_path("client.key"),
                "--cacert", tls_path("ca.crt")]


def free_port():
    """A loopback port that was free a moment ago (callers retry on EADDRINUSE)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


class ServerError(Exception):
    pass


class Server:
    """One server process with redis-server-style flags.

    args:        extra command-line arguments (["--requirepass", "x"]), appended last.
    config_file: path passed as the first argument (redis-server CONFIGFILE [options]).
    workdir:     directory for --dir and the log (a fresh temp dir by default, removed on a
                 successful stop unless keep_dir).
    """

    def __init__(self, mode=None, args=(), config_file=None, workdir=None, binary=None,
                 io_threads=None, keep_dir=False, start_timeout=START_TIMEOUT):
        self.mode = mode or Mode()
        self.binary = binary or self.mode.server
        self.extra_args = [str(a) for a in args]
        self.config_file = config_file
        self.io_threads = self.mode.io_threads if io_threads is None else io_threads
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="keyloom-test-")
        self.keep_dir = keep_dir
        self.logfile = os.path.join(self.dir, "server.log")
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.returncode = None

    # ----- lifecycle -----

    def command_line(self, port):
        cmd = [self.binary]
        if self.config_file:
            cmd.append(self.config_file)
        if self.mode.tls:
            cmd += self.mode.server_tls_args(port)
        else:
            cmd += ["--port", str(port)]
        cmd += ["--bind", HOST, "--save", "", "--appendonly", "no",
                "--enable-debug-command", "yes", "--io-threads", str(self.io_threads),
                "--logfile", self.logfile, "--dir", self.dir]
        return cmd + self.extra_args

    def start(self, attempts=5):
        last = None
        for _ in range(attempts):
            port = free_port()
            try:
                self._start_on(port)
                return self
            except ServerError as e:
                last = e
                if not (self._bind_failed() or "answered by another process" in str(e)):
                    raise
        raise last

    def _bind_failed(self):
        log = self.log_tail(20)
        return "in use" in log or "EADDRINUSE" in log

    def _start_on(self, port):
        try:
            os.unlink(self.logfile)
        except FileNotFoundError:
            pass
        self.port = port
        self.returncode = None
        with open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(self.command_line(port), cwd=self.dir, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise ServerError("server exited with status %s during startup\ncommand: %s\n%s"
                                  % (rc, " ".join(self.command_line(port)), self.log_tail()))
            try:
                c = self.raw(timeout=2)
                try:
                    reply = c.execute("PING")
                    # -NOAUTH means requirepass is set: the server is up all the same.
                    if reply == b"PONG" or (isinstance(reply, RespError)
                                            and reply.message.startswith(b"NOAUTH")):
                        self._check_identity(c, reply)
                        return
                finally:
                    c.close()
            except (OSError, ProtocolError):
                pass
            if time.monotonic() > deadline:
                self._kill()
                raise ServerError("server did not answer PING within %.0fs\n%s"
                                  % (self.start_timeout, self.log_tail()))
            time.sleep(0.02)

    def _check_identity(self, c, ping_reply):
        """Make sure the server that answered is ours and not another process that grabbed the
        port between free_port() and our bind (ours then exits with EADDRINUSE)."""
        if ping_reply == b"PONG":
            info = c.execute("INFO", "server")
            if isinstance(info, bytes):
                for line in info.split(b"\r\n"):
                    if line.startswith(b"process_id:") and int(line[11:]) != self.proc.pid:
                        self.proc.wait(5)
                        raise ServerError("port %d answered by another process (pid %s); "
                                          "ours exited:\n%s" % (self.port, line[11:].decode(),
                                                                 self.log_tail()))
        time.sleep(0.01)
        if self.proc.poll() is not None:
            raise ServerError("server exited with status %s right after startup\n%s"
                              % (self.proc.returncode, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self, what="server"):
        """Raise ServerError with the log tail when the process has exited."""
        if self.proc is None:
            raise ServerError("%s was never started" % what)
        rc = self.proc.poll()
        if rc is not None:
            self.returncode = rc
            raise ServerError("%s exited unexpectedly (status %s%s)\n%s" % (
                what, rc, self._signame(rc), self.log_tail()))

    @staticmethod
    def _signame(rc):
        if rc is not None and rc < 0:
            try:
                return ", signal " + signal.Signals(-rc).name
            except ValueError:
                return ", signal %d" % -rc
        return ""

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit on its own (e.g. after SHUTDOWN); returns the status."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise ServerError("server did not exit within %.0fs\n%s" % (timeout, self.log_tail()))
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and a bounded wait. Raise ServerError when the server crashed earlier, exits
        with a non-zero status, or needs SIGKILL."""
        if self.proc is None:
            return
        rc = self.proc.poll()
        if rc is not None:
            self.returncode = rc
            if rc != 0:
                raise ServerError("server had already exited with status %s%s\n%s"
                                  % (rc, self._signame(rc), self.log_tail()))
            self._cleanup()
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise ServerError("server did not exit within %.0fs of SIGTERM (killed)\n%s"
                              % (timeout, self.log_tail()))
        self.returncode = rc
        if rc != 0:
            raise ServerError("server exited with status %s%s after SIGTERM\n%s"
                              % (rc, self._signame(rc), self.log_tail()))
        self._check_sanitizer_output()
        self._cleanup()

    _SANITIZER_MARKERS = (b"runtime error:", b"AddressSanitizer", b"LeakSanitizer",
                          b"ThreadSanitizer", b"UndefinedBehaviorSanitizer")

    def _check_sanitizer_output(self):
        """A sanitizer build reports non-fatal findings (UBSan) on stderr and still exits 0:
        treat any report as a failure of the server."""
        try:
            with open(self.stdout_path, "rb") as f:
                data = f.read()
        except (OSError, TypeError):
            return
        if any(m in data for m in self._SANITIZER_MARKERS):
            raise ServerError("sanitizer report in the server's output\n%s" % self.log_tail(80))

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def _cleanup(self):
        if self.own_dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        if exc[0] is not None:
            # Already failing: do not mask the original error, but never leave a process behind.
            try:
                self.stop()
            except ServerError:
                pass
            return False
        self.stop()
        return False

    # ----- diagnostics -----

    def log_tail(self, lines=40):
        chunks = []
        for path, label in ((self.logfile, "server log"), (self.stdout_path, "server stdout")):
            try:
                with open(path, "rb") as f:
                    data = f.read().decode(errors="replace").splitlines()
            except OSError:
                continue
            if data:
                chunks.append("---- %s (%s, last %d lines) ----\n%s" % (
                    label, path, lines, "\n".join(data[-lines:])))
        return "\n".join(chunks) or "(no server log)"

    @property
    def pid(self):
        return self.proc.pid

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    # ----- clients -----

    def raw(self, protocol=2, timeout=SOCKET_TIMEOUT, **kw):
        """A RawClient connected to this server (TLS in TLS mode). protocol=3 sends HELLO 3."""
        c = RawClient(HOST, self.port, ssl_context=self.mode.ssl_context(), timeout=timeout, **kw)
        if protocol == 3:
            reply = c.execute("HELLO", "3")
            if isinstance(reply, RespError):
                c.close()
                raise ServerError("HELLO 3 failed: %r" % (reply,))
        return c

    def client(self, **kw):
        import redis  # only the pytest suite uses redis-py
        args = dict(host=HOST, port=self.port, socket_timeout=SOCKET_TIMEOUT,
                    socket_connect_timeout=SOCKET_TIMEOUT)
        args.update(self.mode.redis_py_kwargs())
        args.update(kw)
        return redis.Redis(**args)

    def cli(self, *args, **kw):
        return run_cli(self.mode, self.port, *args, **kw)

    def addr(self):
        return "%s:%d" % (HOST, self.port)


def run_cli(mode, port, *args, input=None, timeout=30, check=True, extra=()):
    """Run redis-cli against HOST:port with the mode's TLS flags; return stdout (bytes)."""
    cmd = [mode.cli, "-h", HOST, "-p", str(port)] + mode.cli_tls_args() + list(extra)
    cmd += [a if isinstance(a, (str, bytes)) else str(a) for a in args]
    res = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=timeout)
    if check and res.returncode != 0:
        raise RuntimeError("redis-cli failed (%d): %s\nstdout: %r\nstderr: %r"
                           % (res.returncode, " ".join(map(str, cmd)), res.stdout, res.stderr))
    return res.stdout


# --------------------------------------------------------------------------------------------
# RESP client
# --------------------------------------------------------------------------------------------

class ProtocolError(Exception):
    """The peer sent bytes this parser cannot understand."""


class RespError:
    """A '-' simple error or '!' blob error.  Returned, not raised, so tests can compare it."""

    __slots__ = ("message", "blob")

    def __init__(self, message, blob=False):
        self.message = message
        self.blob = blob

    def __eq__(self, other):
        if isinstance(other, RespError):
            return self.message == other.message
        if isinstance(other, (bytes, str)):
            other = other.encode() if isinstance(other, str) else other
            return self.message == other
        return NotImplemented

    def __hash__(self):
        return hash(self.message)

    def __repr__(self):
        return "RespError(%r)" % (self.message,)

    def __str__(self):
        return self.message.decode(errors="replace")


class Simple(bytes):
    """A '+' simple string (compares equal to the bytes it holds)."""


class Verbatim(bytes):
    """A '=' verbatim string; .format is the three-letter type (b'txt')."""
    format = b""


class BigNumber(int):
    """A '(' big number."""


class Double(float):
    """A ',' double."""


class RespSet(list):
    """A '~' set, kept as a list in wire order (members may be unhashable)."""


class Push(list):
    """A '>' push message."""


class RespMap(dict):
    """A '%' map (unhashable keys are turned into tuples). .attributes holds a preceding '|'."""


_CRLF = b"\r\n"


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple((_hashable(k), _hashable(x)) for k, x in v.items())
    return v


class _Incomplete(Exception):
    pass


class _BufferSource:
    """Reads from a fixed buffer; running out means the reply is incomplete."""

    def __init__(self, buf, pos):
        self.buf = buf
        self.pos = pos

    def readline(self):
        nl = self.buf.find(_CRLF, self.pos)
        if nl < 0:
            raise _Incomplete()
        line = bytes(self.buf[self.pos:nl])
        self.pos = nl + 2
        return line

    def read(self, n):
        if len(self.buf) < self.pos + n:
            raise _Incomplete()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data


def parse_reply(buf, pos=0):
    """Parse one reply from buf[pos:]. Returns (value, end) or None when incomplete.
    Raises ProtocolError on bytes that are not RESP."""
    src = _BufferSource(buf, pos)
    try:
        value = _parse(src)
    except _Incomplete:
        return None
    return value, src.pos


def _parse(src):
    """Pull one reply from src (readline() -> line without CRLF, read(n) -> n bytes)."""
    line = src.readline()
    t = line[:1]
    rest = line[1:]
    if t == b"+":
        return Simple(rest)
    if t == b"-":
        return RespError(rest)
    if t == b":":
        return _int(rest)
    if t == b"(":
        return BigNumber(_int(rest))
    if t == b"_":
        if rest:
            raise ProtocolError("bad null %r" % rest)
        return None
    if t == b"#":
        if rest not in (b"t", b"f"):
            raise ProtocolError("bad boolean %r" % rest)
        return rest == b"t"
    if t == b",":
        try:
            return Double(float(rest.decode()))
        except ValueError:
            raise ProtocolError("bad double %r" % rest)
    if t in (b"$", b"!", b"="):
        n = _int(rest)
        if n == -1 and t == b"$":
            return None
        if n < 0:
            raise ProtocolError("bad length %r" % rest)
        data = src.read(n + 2)
        if data[-2:] != _CRLF:
            raise ProtocolError("bulk not terminated by CRLF")
        data = data[:-2]
        if t == b"!":
            return RespError(data, blob=True)
        if t == b"=":
            v = Verbatim(data[4:])
            v.format = data[:3]
            return v
        return data
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = _int(rest)
        if n == -1 and t == b"*":
            return None
        if n < 0:
            raise ProtocolError("bad aggregate length %r" % rest)
        if t in (b"%", b"|"):
            m = RespMap()
            for _ in range(n):
                k = _parse(src)
                m[_hashable(k)] = _parse(src)
            if t == b"|":
                # An attribute precedes the real reply.
                value = _parse(src)
                try:
                    value.attributes = m
                except AttributeError:
                    pass
                return value
            return m
        items = [_parse(src) for _ in range(n)]
        if t == b"~":
            return RespSet(items)
        if t == b">":
            return Push(items)
        return items
    raise ProtocolError("unknown reply type %r in %r" % (t, line[:40]))


def _int(line):
    try:
        return int(line)
    except ValueError:
        raise ProtocolError("bad integer %r" % line)


def encode_command(*args):
    """RESP multibulk encoding of args (str/bytes/int/float)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, (int, float)) and not isinstance(a, bool):
            a = repr(a).encode() if isinstance(a, float) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawClient:
    """Blocking RESP client returning raw bytes and parsed values.

    c.send(b"raw bytes")                 write bytes as they are
    c.send_command("SET", "k", "v")      write one command (multibulk)
    c.read_reply() -> (raw, value)       read exactly one reply
    c.call("GET", "k") -> (raw, value)   send + read
    c.execute("GET", "k") -> value
    c.read_until_closed() -> bytes       everything until EOF (bounded by the timeout)
    """

    def __init__(self, host=HOST, port=None, ssl_context=None, timeout=SOCKET_TIMEOUT,
                 unix_path=None):
        if unix_path:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(unix_path)
        else:
            s = socket.create_connection((host, port), timeout=timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:
            try:
                s = ssl_context.wrap_socket(s, server_hostname=host)
            except Exception:
                s.close()
                raise
        self.sock = s
        self.buf = bytearray()
        self.pos = 0
        self.closed = False

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fileno(self):
        return self.sock.fileno()

    def send(self, data):
        self.sock.sendall(data)

    def send_command(self, *args):
        self.sock.sendall(encode_command(*args))

    def _fill(self):
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionError("connection closed by server")
        self.buf += data

    # Source interface for _parse(): block on the socket until the bytes are there.
    def readline(self):
        start = self.pos
        while True:
            nl = self.buf.find(_CRLF, start)
            if nl >= 0:
                line = bytes(self.buf[self.pos:nl])
                self.pos = nl + 2
                return line
            start = max(self.pos, len(self.buf) - 1)
            self._fill()

    def read(self, n):
        while len(self.buf) < self.pos + n:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data

    def read_reply(self):
        """Read exactly one reply: (raw bytes, parsed value)."""
        if self.pos > 65536 and self.pos * 2 >= len(self.buf):
            # Compact only between replies, so the raw bytes of a reply stay contiguous.
            del self.buf[:self.pos]
            self.pos = 0
        start = self.pos
        try:
            value = _parse(self)
        except BaseException:
            self.pos = start      # a timeout leaves the partial reply in place (see pending())
            raise
        return bytes(self.buf[start:self.pos]), value

    def read_value(self):
        return self.read_reply()[1]

    def call(self, *args):
        self.send_command(*args)
        return self.read_reply()

    def execute(self, *args):
        self.send_command(*args)
        return self.read_reply()[1]

    def pending(self):
        """Bytes received but not consumed yet."""
        return bytes(self.buf[self.pos:])

    def read_until_closed(self, limit=1 << 24):
        """Read until the server closes the connection; return everything not yet consumed.
        Raises socket.timeout when the server keeps the connection open past the timeout; what
        arrived stays available through pending()."""
        if self.pos:
            del self.buf[:self.pos]
            self.pos = 0
        while len(self.buf) < limit:
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                break
            except ssl.SSLError:
                break
            if not data:
                break
            self.buf += data
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def is_closed_by_peer(self, timeout=5.0):
        """True if the server closed the connection within timeout (any pending data dropped)."""
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            self.read_until_closed()
            return True
        except (socket.timeout, TimeoutError):
            return False
        finally:
            try:
                self.sock.settimeout(old)
            except OSError:
                pass


def wait_until(pred, timeout=5.0, interval=0.02, what="condition"):
    """Poll pred() until it returns something true and return that; AssertionError after
    timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)
