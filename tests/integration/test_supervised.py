"""`supervised systemd` / `supervised auto`: the server tells systemd (the AF_UNIX datagram socket
named by $NOTIFY_SOCKET, '@' meaning the abstract namespace) what Redis 7.0 tells it: a STATUS
while starting, "STATUS=Ready to accept connections" and READY=1 once it accepts connections
(what a Type=notify unit such as Debian's redis-server.service waits for), STOPPING=1 when it
shuts down. The file passes against redis-server (Debian builds it with libsystemd)."""

import os
import signal
import socket
import uuid

import pytest

from helpers import wait_until

LOADING = b"STATUS=Redis is loading...\n"
READY_STATUS = b"STATUS=Ready to accept connections\n"
READY = b"READY=1\n"
STOPPING = b"STOPPING=1\n"


def _receiver(tmp_path, abstract):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "keyloom-test-notify-" + uuid.uuid4().hex
        s.bind("\0" + name)
        env = "@" + name
    else:
        env = str(tmp_path / "notify.sock")
        s.bind(env)
    s.settimeout(10)
    return s, env


def _recv_all(s, until, limit=10):
    """Datagrams until one equals `until` (or the timeout)."""
    got = []
    for _ in range(limit):
        try:
            got.append(s.recv(4096))
        except (socket.timeout, TimeoutError):
            break
        if got[-1] == until:
            break
    return got


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
@pytest.mark.parametrize("how", ["systemd", "auto"])
def test_notify_ready_and_stopping(start_server, monkeypatch, tmp_path, abstract, how):
    s, env = _receiver(tmp_path, abstract)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", env)
        monkeypatch.delenv("UPSTART_JOB", raising=False)
        srv = start_server(["--supervised", how])
        got = _recv_all(s, READY)
        assert got == [LOADING, READY_STATUS, READY], got
        with srv.raw() as c:
            assert c.execute("PING") == b"PONG"
            # auto resolves to what was detected, as in Redis.
            assert c.execute("CONFIG", "GET", "supervised") == [b"supervised", b"systemd"]
            assert b"process_supervised:systemd\r\n" in c.execute("INFO", "server")
        with open(srv.logfile, errors="replace") as f:
            assert "Supervised by systemd. Please make sure you set appropriate values for " \
                   "TimeoutStartSec and TimeoutStopSec in your service unit." in f.read()
        srv.proc.send_signal(signal.SIGTERM)
        assert _recv_all(s, STOPPING) == [STOPPING]
        srv.wait_exit()
    finally:
        s.close()


def test_supervised_systemd_does_not_daemonize(start_server, monkeypatch, tmp_path):
    """Under systemd the server stays in the foreground even with daemonize yes (the PID systemd
    started is the one that sends READY=1)."""
    s, env = _receiver(tmp_path, False)
    pidfile = tmp_path / "kl.pid"
    srv = None
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", env)
        srv = start_server(["--supervised", "systemd", "--daemonize", "yes",
                            "--pidfile", str(pidfile)])
        assert _recv_all(s, READY)[-1] == READY
        with srv.raw() as c:
            info = c.execute("INFO", "server").decode()
        assert "process_id:%d\r\n" % srv.proc.pid in info
        assert srv.alive()
    finally:
        s.close()
        # A server that daemonized all the same must not outlive the test.
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid and (srv is None or pid != srv.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_not_supervised_sends_nothing(start_server, monkeypatch, tmp_path):
    s, env = _receiver(tmp_path, False)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", env)
        srv = start_server(["--supervised", "no"])
        s.settimeout(0.5)
        with pytest.raises((socket.timeout, TimeoutError)):
            s.recv(4096)
        with srv.raw() as c:
            assert c.execute("CONFIG", "GET", "supervised") == [b"supervised", b"no"]
            assert b"process_supervised:no\r\n" in c.execute("INFO", "server")
    finally:
        s.close()


def test_auto_without_notify_socket(start_server, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("UPSTART_JOB", raising=False)
    srv = start_server(["--supervised", "auto"])
    with srv.raw() as c:
        assert c.execute("CONFIG", "GET", "supervised") == [b"supervised", b"auto"]


def test_unreachable_notify_socket_is_not_fatal(start_server, monkeypatch, tmp_path):
    """Nobody listens on NOTIFY_SOCKET: the server logs the failure and serves all the same."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody.sock"))
    srv = start_server(["--supervised", "systemd"])
    with srv.raw() as c:
        assert c.execute("PING") == b"PONG"
    wait_until(lambda: "systemd supervision error" in open(srv.logfile, errors="replace").read(),
               timeout=5, what="the supervision error in the log")
