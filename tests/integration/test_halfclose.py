"""Half-closed connections: a client that pipelines commands and then says "no more input"
(shutdown(SHUT_WR) on TCP, close_notify on TLS) must have every command executed and get every
reply before the server closes, as with Redis. A peer that vanishes (RST) must be cleaned up.

The client here is a raw socket driven by select(); over TLS it uses ssl.MemoryBIO, so it can
send close_notify (SSL_shutdown) and keep reading the server's replies, which ssl.SSLSocket's
unwrap() would not allow."""

import select
import socket
import ssl
import struct
import time

import pytest

from helpers import info_dict, wait_until
from klserver import HOST, Mode, encode_command

TLS = Mode().tls
# How the client ends its input: TCP FIN; TLS close_notify alone (the TCP side stays open);
# close_notify then FIN.
ENDINGS = ["fin", "close_notify", "close_notify+fin"] if TLS else ["fin"]
DEADLINE = 30.0  # seconds for one exchange; every loop below is bounded by it


class HalfCloseClient:
    """A non-blocking client connection: plain, or TLS through memory BIOs."""

    def __init__(self, server):
        self.sock = socket.create_connection((HOST, server.port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.tls = server.mode.tls
        self.out = bytearray()   # bytes (ciphertext over TLS) waiting to be sent
        self.data = bytearray()  # plaintext received
        self.tcp_eof = False     # the server closed the TCP connection
        self.close_notify = False  # the server sent close_notify (TLS)
        self.fin_after_send = False
        self.fin_sent = False
        if self.tls:
            self.inc, self.outbio = ssl.MemoryBIO(), ssl.MemoryBIO()
            self.obj = server.mode.ssl_context().wrap_bio(self.inc, self.outbio,
                                                          server_hostname=HOST)
            deadline = time.monotonic() + DEADLINE
            while True:
                try:
                    self.obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self._move_out()
                    self._pump(deadline, want_read=True)
                    assert not self.tcp_eof, "server closed during the handshake"
            self._move_out()

    def _move_out(self):
        if self.tls:
            self.out += self.outbio.read()

    def _decrypt(self):
        while not self.close_notify:
            try:
                chunk = self.obj.read(262144)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLZeroReturnError:
                self.close_notify = True
                return
            if not chunk:
                self.close_notify = True
                return
            self.data += chunk

    def _pump(self, deadline, want_read):
        """One select round: send what is queued, read what arrived."""
        rl = [self.sock] if want_read and not self.tcp_eof else []
        wl = [self.sock] if self.out else []
        if not rl and not wl:
            return
        left = deadline - time.monotonic()
        assert left > 0, "timed out: %d bytes received, %d to send" % (len(self.data),
                                                                          len(self.out))
        r, w, _ = select.select(rl, wl, [], min(left, 0.5))
        if w:
            try:
                n = self.sock.send(self.out)
                del self.out[:n]
            except BlockingIOError:
                pass
        if not self.out and self.fin_after_send and not self.fin_sent:
            self.sock.shutdown(socket.SHUT_WR)
            self.fin_sent = True
        if r:
            try:
                chunk = self.sock.recv(262144)
            except BlockingIOError:
                return
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.tcp_eof = True
                if self.tls:
                    self.inc.write_eof()
            elif self.tls:
                self.inc.write(chunk)
            else:
                self.data += chunk
            if self.tls:
                self._decrypt()

    def send(self, payload):
        if self.tls:
            self.obj.write(payload)
            self._move_out()
        else:
            self.out += payload

    def end_input(self, how):
        """Tell the server there is no more input, the way `how` says."""
        if "close_notify" in how:
            try:
                self.obj.unwrap()  # SSL_shutdown: queues close_notify
            except ssl.SSLWantReadError:
                pass  # the server's close_notify has not come yet; we keep reading
            self._move_out()
        if "fin" in how:
            self.fin_after_send = True

    def read_until_closed(self, stop_after=None):
        """Read until the server closes (or stop_after bytes arrived); returns the plaintext."""
        deadline = time.monotonic() + DEADLINE
        while not self.tcp_eof or self.out:
            if stop_after is not None and len(self.data) >= stop_after:
                break
            self._pump(deadline, want_read=True)
        return bytes(self.data)

    def reset(self):
        """Vanish: close with SO_LINGER 0, which sends RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _info(raw, section):
    return info_dict(raw.execute("INFO", section))[section]


def _wait_only_client_left(raw):
    wait_until(lambda: _info(raw, "clients")["connected_clients"] == "1", timeout=10,
               what="the half-closed client to be closed and unregistered")


@pytest.mark.parametrize("how", ENDINGS)
def test_pipeline_then_half_close_gets_every_reply(server, raw, how):
    n = 5000
    assert raw.execute("CONFIG", "RESETSTAT") == b"OK"
    c = HalfCloseClient(server)
    try:
        c.send(b"".join(encode_command("SET", "k:%d" % i, "v") for i in range(n)))
        c.end_input(how)
        got = c.read_until_closed()
        if TLS:
            assert c.close_notify, "the server closed without close_notify"
    finally:
        c.close()
    assert got.count(b"+OK\r\n") == n, "got %d of %d replies" % (got.count(b"+OK\r\n"), n)
    assert got == b"+OK\r\n" * n
    assert raw.execute("DBSIZE") == n
    stats = _info(raw, "commandstats")
    assert stats["cmdstat_set"].startswith("calls=%d," % n), stats["cmdstat_set"]
    _wait_only_client_left(raw)


@pytest.mark.parametrize("how", ENDINGS)
def test_half_close_with_big_replies(server, raw, how):
    # 1000 x 20 KB of replies: more than the output high-water mark and the executor's
    # per-batch reply budget, so the batch is cut and resumed several times after EOF.
    value = b"x" * 20000
    n = 1000
    assert raw.execute("SET", "big", value) == b"OK"
    c = HalfCloseClient(server)
    try:
        c.send(encode_command("GET", "big") * n + encode_command("SET", "last", "1"))
        c.end_input(how)
        got = c.read_until_closed()
    finally:
        c.close()
    one = b"$%d\r\n%s\r\n" % (len(value), value)
    assert len(got) == n * len(one) + 5
    assert got == one * n + b"+OK\r\n"
    assert raw.execute("GET", "last") == b"1"
    _wait_only_client_left(raw)


@pytest.mark.parametrize("how", ENDINGS)
def test_half_close_while_blocked_closes_like_redis(server, raw, how):
    # Redis frees a blocked client that reaches EOF: the commands before the blocking one ran
    # and were answered, the blocking command is dropped and what follows it never runs.
    c = HalfCloseClient(server)
    try:
        c.send(encode_command("SET", "a", "1") + encode_command("BLPOP", "nolist", "0") +
               encode_command("SET", "b", "2"))
        c.end_input(how)
        got = c.read_until_closed()
    finally:
        c.close()
    assert got == b"+OK\r\n"
    assert raw.execute("GET", "a") == b"1"
    assert raw.execute("EXISTS", "b") == 0
    _wait_only_client_left(raw)
    assert _info(raw, "clients")["blocked_clients"] == "0"


def test_half_close_with_nothing_pending_closes_at_once(server, raw):
    c = HalfCloseClient(server)
    try:
        c.send(encode_command("PING"))
        deadline = time.monotonic() + DEADLINE
        while b"+PONG\r\n" not in c.data:
            c._pump(deadline, want_read=True)
        c.end_input(ENDINGS[-1])
        got = c.read_until_closed()
    finally:
        c.close()
    assert got == b"+PONG\r\n"
    _wait_only_client_left(raw)


@pytest.mark.parametrize("half_close_first", [False, True])
def test_peer_reset_mid_pipeline_is_cleaned_up(server, raw, half_close_first):
    # The peer vanishes (RST) while the server still has work and replies for it: the server
    # must notice (on a read, or on a write after the half-close stopped reading), drop
    # everything it held for the client and stay healthy.
    value = b"y" * 20000
    assert raw.execute("SET", "big", value) == b"OK"
    for _ in range(3):
        c = HalfCloseClient(server)
        c.send(encode_command("GET", "big") * 3000)
        if half_close_first:
            c.end_input(ENDINGS[-1])
        c.read_until_closed(stop_after=100000)
        c.reset()
    _wait_only_client_left(raw)
    assert raw.execute("PING") == b"PONG"
    # A fresh client is served as usual.
    c = HalfCloseClient(server)
    try:
        c.send(encode_command("SET", "after", "1"))
        c.end_input(ENDINGS[-1])
        assert c.read_until_closed() == b"+OK\r\n"
    finally:
        c.close()
