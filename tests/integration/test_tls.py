"""TLS: client authentication modes, CA directories, protocol and cipher restrictions, session
resumption, password-protected keys, certificate reload, plaintext/TLS port mix-ups, handshake
storms and timeouts, TLS work on the I/O threads, and the standard clients over TLS.

Every test starts its own TLS server(s) and runs with io-threads 1 and 4 (the `io_threads`
fixture), whatever KEYLOOM_TEST_IO_THREADS says: TLS on the I/O threads is the point of keyloom.

The file also passes against redis-server 7.0.15 (KEYLOOM_SERVER=/usr/bin/redis-server
KEYLOOM_TEST_REFERENCE=1); what redis-server does not have (INFO "# TLS" counters, the "# Threads"
section, the handshake timeout, the listener lines in the log) is checked for keyloom only.

Certificates: tests/tls (utils/gen-test-certs.sh) plus, per module run, a private set made with
the openssl command line (see the `pki` fixture).
"""

import asyncio
import os
import re
import resource
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

# This module starts its own TLS servers and covers io-threads 1 and 4 by
# itself, so under meson (which runs the whole directory in four modes) it
# runs in the tls-io1 mode only.
if os.environ.get("KEYLOOM_TEST_TLS") is not None and (
        os.environ.get("KEYLOOM_TEST_TLS"), os.environ.get("KEYLOOM_TEST_IO_THREADS", "1")) != ("1", "1"):
    pytest.skip("TLS module runs in the tls-io1 mode", allow_module_level=True)

import klserver
from helpers import info_dict, wait_until
from klserver import HOST, Mode, ensure_certs, free_port, run_cli, tls_path

REFERENCE = klserver.reference_mode()
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

# The server's handshake timeout (tls.c: hs_timeout_ms) when no directive sets it.
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
# The directive proposed for it (milliseconds); used when the server knows it.
HANDSHAKE_TIMEOUT_DIRECTIVE = "tls-handshake-timeout"

ALL_TLS_DIRECTIVES = {
    "tls-port", "tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file",
    "tls-client-key-file", "tls-client-key-file-pass", "tls-ca-cert-file", "tls-ca-cert-dir",
    "tls-dh-params-file", "tls-protocols", "tls-ciphers", "tls-ciphersuites",
    "tls-prefer-server-ciphers", "tls-session-caching", "tls-session-cache-size",
    "tls-session-cache-timeout", "tls-auth-clients", "tls-replication", "tls-cluster",
}


# --------------------------------------------------------------------------------------------
# certificates
# --------------------------------------------------------------------------------------------

def _openssl(*args, input=None):
    res = subprocess.run([OPENSSL] + list(args), input=input, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=60)
    if res.returncode != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args),
                                                        res.stdout.decode(errors="replace")))
    return res.stdout.decode(errors="replace")


def cert_serial(path):
    """The serial of a PEM certificate as uppercase hex (python's getpeercert() spelling)."""
    out = _openssl("x509", "-noout", "-serial", "-in", path)
    return out.strip().split("=", 1)[1].upper()


_EXT = """\
[ server_cert ]
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1

[ client_cert ]
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth

[ ca_cert ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
"""


class Pki:
    """Paths of every certificate and key the tests use.

    ca, server, client       tests/tls (the suite's set)
    server2                  a second server certificate from the same CA, its own key and serial
    other_ca, bad_client     a CA nobody trusts and a client certificate it signed
    enc_key                  server.key encrypted with the password ENC_PASS (AES-256)
    ca_dir                   a hashed directory (openssl rehash) holding only ca.crt
    dh                       DH parameters (RFC 7919 ffdhe2048)
    """

    ENC_PASS = "secret"

    def __init__(self, d):
        ensure_certs()
        self.dir = d
        self.ca = tls_path("ca.crt")
        self.ca_key = tls_path("ca.key")
        self.server_crt = tls_path("server.crt")
        self.server_key = tls_path("server.key")
        self.client_crt = tls_path("client.crt")
        self.client_key = tls_path("client.key")
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write(_EXT)
        p = lambda name: os.path.join(d, name)  # noqa: E731

        # A second server certificate: same CA, new key, a serial nobody else uses.
        self.server2_crt, self.server2_key = p("server2.crt"), p("server2.key")
        _openssl("genrsa", "-out", self.server2_key, "2048")
        _openssl("req", "-new", "-sha256", "-subj", "/O=keyloom test/CN=Server-two",
                 "-key", self.server2_key, "-out", p("server2.csr"))
        _openssl("x509", "-req", "-sha256", "-in", p("server2.csr"), "-CA", self.ca,
                 "-CAkey", self.ca_key, "-set_serial", "0x4B4C5332", "-days", "30",
                 "-extfile", ext, "-extensions", "server_cert", "-out", self.server2_crt)

        # An unknown CA and a client certificate it signed.
        self.other_ca, self.other_ca_key = p("other-ca.crt"), p("other-ca.key")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
                 "-subj", "/O=somebody else/CN=Other CA", "-keyout", self.other_ca_key,
                 "-out", self.other_ca, "-extensions", "ca_cert", "-config", _req_config(d))
        self.bad_client_crt, self.bad_client_key = p("bad-client.crt"), p("bad-client.key")
        _openssl("genrsa", "-out", self.bad_client_key, "2048")
        _openssl("req", "-new", "-sha256", "-subj", "/O=somebody else/CN=Client",
                 "-key", self.bad_client_key, "-out", p("bad-client.csr"))
        _openssl("x509", "-req", "-sha256", "-in", p("bad-client.csr"), "-CA", self.other_ca,
                 "-CAkey", self.other_ca_key, "-set_serial", "77", "-days", "30",
                 "-extfile", ext, "-extensions", "client_cert", "-out", self.bad_client_crt)

        # The server key, encrypted.
        self.enc_key = p("server-enc.key")
        _openssl("rsa", "-in", self.server_key, "-aes256", "-passout", "pass:" + self.ENC_PASS,
                 "-out", self.enc_key)

        # A hashed CA directory.
        self.ca_dir = p("cadir")
        os.mkdir(self.ca_dir)
        shutil.copy(self.ca, os.path.join(self.ca_dir, "ca.crt"))
        _openssl("rehash", self.ca_dir)
        assert any(re.fullmatch(r"[0-9a-f]{8}\.0", n) for n in os.listdir(self.ca_dir)), \
            os.listdir(self.ca_dir)

        self.dh = p("dh.pem")
        _openssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
                 "-out", self.dh)

        self.server_serial = cert_serial(self.server_crt)
        self.server2_serial = cert_serial(self.server2_crt)
        assert self.server_serial != self.server2_serial

    def ctx(self, cert="client", ca=None, min_version=None, max_version=None, ciphers=None):
        """A client context verifying the server against ca (default: the test CA).
        cert: "client" (valid), "bad" (unknown CA) or None (no certificate)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(ca or self.ca)
        if cert == "client":
            ctx.load_cert_chain(self.client_crt, self.client_key)
        elif cert == "bad":
            ctx.load_cert_chain(self.bad_client_crt, self.bad_client_key)
        else:
            assert cert is None
        if min_version is not None:
            ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
        if ciphers is not None:
            ctx.set_ciphers(ciphers)
        return ctx


def _req_config(d):
    """A minimal openssl req config carrying the CA extensions (for -x509 -extensions)."""
    path = os.path.join(d, "req.cnf")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write("[ req ]\ndistinguished_name = dn\n[ dn ]\n" + _EXT)
    return path


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="kl-tls-pki-")
    try:
        yield Pki(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------------------------

class TlsMode(Mode):
    """A TLS mode whose server-side TLS flags and client context the test chooses."""

    def __init__(self, io_threads, tls_args, client_ctx):
        super().__init__(tls=True, io_threads=io_threads)
        self._tls_args = list(tls_args)
        self._ssl_ctx = client_ctx

    def server_tls_args(self, port):
        return ["--port", "0", "--tls-port", str(port)] + self._tls_args


@pytest.fixture(params=[1, 4], ids=["io1", "io4"])
def io_threads(request):
    return request.param


@pytest.fixture
def tls_server(start_server, io_threads, pki):
    """tls_server(*extra_args, ca="file"|"dir", client_ctx=None) -> a started TLS-only Server
    (--port 0 --tls-port P) using server.crt/key. Extra args come last, so they override."""
    def make(*extra, ca="file", client_ctx=None):
        args = ["--tls-cert-file", pki.server_crt, "--tls-key-file", pki.server_key]
        args += ["--tls-ca-cert-file", pki.ca] if ca == "file" else ["--tls-ca-cert-dir",
                                                                     pki.ca_dir]
        mode = TlsMode(io_threads, args, client_ctx or pki.ctx())
        return start_server([str(a) for a in extra], mode=mode)
    return make


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def tls_connect(port, ctx, timeout=5.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        return ctx.wrap_socket(s, server_hostname=HOST)
    except BaseException:
        s.close()
        raise


def _recv_reply(s, deadline):
    """The raw bytes of one whole RESP reply, or what arrived before EOF."""
    data = b""
    while klserver.parse_reply(data) is None:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk
    return data


def tls_ping(port, ctx, timeout=5.0):
    """Handshake, PING, read the reply. Returns "ok", "refused" (an SSL error, a reset or EOF)
    or "timeout" (nothing happened: a hung server, never a refusal)."""
    deadline = time.monotonic() + timeout
    try:
        s = tls_connect(port, ctx, timeout)
    except (socket.timeout, TimeoutError):
        return "timeout"
    except (ssl.SSLError, ConnectionError, OSError):
        return "refused"
    try:
        s.sendall(b"PING\r\n")
        reply = _recv_reply(s, deadline)
        return "ok" if reply == b"+PONG\r\n" else "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"
    except (ssl.SSLError, ConnectionError, OSError):
        return "refused"
    finally:
        s.close()


def info(srv, section):
    with srv.raw() as c:
        return info_dict(c.execute("INFO", section))


def tls_info(srv):
    return {k: int(v) for k, v in info(srv, "tls")["tls"].items()}


def thread_info(srv):
    """INFO threads as {n: {field: value}} for the io_thread_N lines."""
    out = {}
    for k, v in info(srv, "threads")["threads"].items():
        m = re.fullmatch(r"io_thread_(\d+)", k)
        if not m:
            continue
        fields = {}
        for kv in v.split(","):
            name, _, val = kv.partition("=")
            fields[name] = val if name == "role" else float(val)
        out[int(m.group(1))] = fields
    return out


def counter_delta(before, after):
    return {k: after[k] - before.get(k, 0) for k in after}


def config_get(srv, name):
    with srv.raw() as c:
        v = c.execute("CONFIG", "GET", name)
    assert isinstance(v, list) and len(v) == 2, (name, v)
    return v[1].decode()


def config_set(srv, *pairs):
    with srv.raw() as c:
        return c.execute("CONFIG", "SET", *pairs)


def client_hello():
    """The bytes of a real TLS ClientHello (what a TLS client sends first)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=HOST)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    assert hello[:1] == b"\x16" and len(hello) > 100
    return hello


def s_client(port, pki, *args, stdin=b"PING\r\nQUIT\r\n", timeout=15):
    """openssl s_client with the valid client certificate; returns (returncode, output)."""
    cmd = [OPENSSL, "s_client", "-connect", "%s:%d" % (HOST, port), "-CAfile", pki.ca,
           "-cert", pki.client_crt, "-key", pki.client_key, "-ign_eof"] + list(args)
    res = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=timeout)
    return res.returncode, res.stdout.decode(errors="replace")


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_cpu_ticks(path):
    """utime + stime (fields 14 and 15) from a /proc/.../stat file."""
    with open(path) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def log_text(srv):
    try:
        with open(srv.logfile, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# 1. tls-auth-clients
# --------------------------------------------------------------------------------------------

def test_auth_clients_yes(tls_server, pki):
    """The default: a client must present a certificate from the configured CA."""
    srv = tls_server()
    assert config_get(srv, "tls-auth-clients") == "yes"
    before = None if REFERENCE else tls_info(srv)
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        v = dict(min_version=version, max_version=version)
        assert tls_ping(srv.port, pki.ctx(cert=None, **v)) == "refused", version
        assert tls_ping(srv.port, pki.ctx(cert="bad", **v)) == "refused", version
        assert tls_ping(srv.port, pki.ctx(cert="client", **v)) == "ok", version
    if not REFERENCE:
        d = counter_delta(before, tls_info(srv))
        assert d["tls_handshakes_failed_no_client_cert"] == 2, d
        assert d["tls_handshakes_failed_unknown_ca"] == 2, d
        assert d["tls_handshakes_failed"] == 4, d
        # The two good clients plus the INFO connection of tls_info itself.
        assert d["tls_handshakes_completed"] == 3, d
    # The server is unharmed.
    with srv.raw() as c:
        assert c.execute("SET", "k", "v") == b"OK"
        assert c.execute("GET", "k") == b"v"


@pytest.mark.parametrize("auth", ["optional", "no"])
def test_auth_clients_optional_and_no(tls_server, pki, auth):
    srv = tls_server("--tls-auth-clients", auth)
    assert config_get(srv, "tls-auth-clients") == auth
    assert tls_ping(srv.port, pki.ctx(cert=None)) == "ok"
    assert tls_ping(srv.port, pki.ctx(cert="client")) == "ok"
    # optional: a certificate that is presented is verified; no: none is asked for.
    expect_bad = "refused" if auth == "optional" else "ok"
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = pki.ctx(cert="bad", min_version=version, max_version=version)
        assert tls_ping(srv.port, ctx) == expect_bad, version
    assert tls_ping(srv.port, pki.ctx(cert=None)) == "ok"


def test_auth_clients_config_set(tls_server, pki):
    """CONFIG SET tls-auth-clients applies to new connections; established ones stay."""
    srv = tls_server()
    with srv.raw() as held:
        assert tls_ping(srv.port, pki.ctx(cert=None)) == "refused"
        assert config_set(srv, "tls-auth-clients", "no") == b"OK"
        assert tls_ping(srv.port, pki.ctx(cert=None)) == "ok"
        assert config_set(srv, "tls-auth-clients", "optional") == b"OK"
        assert tls_ping(srv.port, pki.ctx(cert=None)) == "ok"
        assert tls_ping(srv.port, pki.ctx(cert="bad")) == "refused"
        assert config_set(srv, "tls-auth-clients", "yes") == b"OK"
        assert tls_ping(srv.port, pki.ctx(cert=None)) == "refused"
        assert held.execute("PING") == b"PONG"


# --------------------------------------------------------------------------------------------
# 2. tls-ca-cert-dir
# --------------------------------------------------------------------------------------------

def test_ca_cert_dir(tls_server, pki):
    srv = tls_server(ca="dir")
    assert config_get(srv, "tls-ca-cert-dir") == pki.ca_dir
    assert config_get(srv, "tls-ca-cert-file") == ""
    assert tls_ping(srv.port, pki.ctx(cert="client")) == "ok"
    assert tls_ping(srv.port, pki.ctx(cert="bad")) == "refused"
    assert tls_ping(srv.port, pki.ctx(cert=None)) == "refused"
    # Switching to the file at run time and back keeps verifying the same CA.
    assert config_set(srv, "tls-ca-cert-file", pki.ca, "tls-ca-cert-dir", "") == b"OK"
    assert tls_ping(srv.port, pki.ctx(cert="client")) == "ok"
    assert tls_ping(srv.port, pki.ctx(cert="bad")) == "refused"
    assert config_set(srv, "tls-ca-cert-dir", pki.ca_dir, "tls-ca-cert-file", "") == b"OK"
    assert tls_ping(srv.port, pki.ctx(cert="client")) == "ok"
    # Neither a file nor a directory with tls-auth-clients on: refused, old context kept.
    reply = config_set(srv, "tls-ca-cert-dir", "")
    assert isinstance(reply, klserver.RespError), reply
    assert reply.message.startswith(b"ERR CONFIG SET failed (possibly related to argument "
                                    b"'tls-ca-cert-dir')"), reply
    assert config_get(srv, "tls-ca-cert-dir") == pki.ca_dir
    assert tls_ping(srv.port, pki.ctx(cert="client")) == "ok"


# --------------------------------------------------------------------------------------------
# 3. protocols, ciphers, ciphersuites
# --------------------------------------------------------------------------------------------

def test_tls13_only_server(tls_server, pki):
    srv = tls_server("--tls-protocols", "TLSv1.3")
    before = None if REFERENCE else tls_info(srv)
    old = pki.ctx(max_version=ssl.TLSVersion.TLSv1_2)
    assert tls_ping(srv.port, old) == "refused"
    new = pki.ctx(min_version=ssl.TLSVersion.TLSv1_3)
    assert tls_ping(srv.port, new) == "ok"
    with tls_connect(srv.port, pki.ctx()) as s:
        assert s.version() == "TLSv1.3"
    if not REFERENCE:
        d = counter_delta(before, tls_info(srv))
        assert d["tls_handshakes_failed_protocol"] == 1, d


def test_tls12_single_cipher(tls_server, pki):
    cipher = "ECDHE-RSA-AES128-GCM-SHA256"
    srv = tls_server("--tls-protocols", "TLSv1.2", "--tls-ciphers", cipher)
    assert config_get(srv, "tls-ciphers") == cipher
    assert config_get(srv, "tls-protocols") == "TLSv1.2"
    v12 = ssl.TLSVersion.TLSv1_2
    offering = pki.ctx(max_version=v12, ciphers="ECDHE-RSA-AES256-GCM-SHA384:" + cipher)
    with tls_connect(srv.port, offering) as s:
        assert s.version() == "TLSv1.2"
        assert s.cipher()[0] == cipher
        s.sendall(b"PING\r\n")
        assert _recv_reply(s, time.monotonic() + 5) == b"+PONG\r\n"
    others = pki.ctx(max_version=v12,
                     ciphers="ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305")
    assert tls_ping(srv.port, others) == "refused"
    # A client that would prefer 1.3 gets 1.2 with the one cipher.
    with tls_connect(srv.port, pki.ctx()) as s:
        assert (s.version(), s.cipher()[0]) == ("TLSv1.2", cipher)


def test_tls13_ciphersuites(tls_server, pki):
    suite = "TLS_CHACHA20_POLY1305_SHA256"
    srv = tls_server("--tls-ciphersuites", suite)
    assert config_get(srv, "tls-ciphersuites") == suite
    with tls_connect(srv.port, pki.ctx(min_version=ssl.TLSVersion.TLSv1_3)) as s:
        assert (s.version(), s.cipher()[0]) == ("TLSv1.3", suite)
    # python cannot restrict TLS 1.3 suites: openssl s_client can.
    rc, out = s_client(srv.port, pki, "-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256")
    assert "+PONG" not in out and rc != 0, out
    rc, out = s_client(srv.port, pki, "-tls1_3", "-ciphersuites", suite)
    assert "+PONG" in out and suite in out, out
    # Changed at run time: new connections use the new suite.
    assert config_set(srv, "tls-ciphersuites", "TLS_AES_128_GCM_SHA256") == b"OK"
    with tls_connect(srv.port, pki.ctx(min_version=ssl.TLSVersion.TLSv1_3)) as s:
        assert s.cipher()[0] == "TLS_AES_128_GCM_SHA256"


# --------------------------------------------------------------------------------------------
# 4. session resumption
# --------------------------------------------------------------------------------------------

def _session_line(out):
    m = re.search(r"^(New|Reused), (TLSv[\d.]+)", out, re.M)
    assert m, out
    return m.group(1), m.group(2)


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_session_resumption(tls_server, pki, version, tmp_path):
    srv = tls_server()
    sess = str(tmp_path / "sess.pem")
    before = None if REFERENCE else tls_info(srv)
    rc, out = s_client(srv.port, pki, version, "-sess_out", sess)
    assert "+PONG" in out and _session_line(out)[0] == "New", out
    assert os.path.getsize(sess) > 0
    rc, out = s_client(srv.port, pki, version, "-sess_in", sess)
    assert "+PONG" in out, out
    assert _session_line(out) == ("Reused", "TLSv1.3" if version == "-tls1_3" else "TLSv1.2"), out
    if not REFERENCE:
        d = counter_delta(before, tls_info(srv))
        assert d["tls_handshakes_resumed"] == 1, d
        assert d["tls_handshakes_completed"] == 3, d    # two s_client runs + this INFO


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_session_caching_off(tls_server, pki, version, tmp_path):
    srv = tls_server("--tls-session-caching", "no")
    assert config_get(srv, "tls-session-caching") == "no"
    sess = str(tmp_path / "sess.pem")
    rc, out = s_client(srv.port, pki, version, "-sess_out", sess)
    assert "+PONG" in out and _session_line(out)[0] == "New", out
    if os.path.exists(sess) and os.path.getsize(sess) > 0:
        rc, out = s_client(srv.port, pki, version, "-sess_in", sess)
        if REFERENCE and "+PONG" not in out:
            # redis-server 7.0.15 fails that handshake ("session id context uninitialized").
            assert "Reused" not in out, out
        else:
            assert "+PONG" in out and _session_line(out)[0] == "New", out
    # else: the server gave the client nothing to resume with, which is just as good.
    if not REFERENCE:
        assert tls_info(srv)["tls_handshakes_resumed"] == 0


# --------------------------------------------------------------------------------------------
# 5. password-protected keys
# --------------------------------------------------------------------------------------------

def test_encrypted_key_with_password(tls_server, pki):
    srv = tls_server("--tls-key-file", pki.enc_key, "--tls-key-file-pass", pki.ENC_PASS)
    assert config_get(srv, "tls-key-file") == pki.enc_key
    assert config_get(srv, "tls-key-file-pass") == pki.ENC_PASS
    with tls_connect(srv.port, pki.ctx()) as s:
        assert s.getpeercert()["serialNumber"] == pki.server_serial
        s.sendall(b"PING\r\n")
        assert _recv_reply(s, time.monotonic() + 5) == b"+PONG\r\n"
    assert tls_ping(srv.port, pki.ctx()) == "ok"


@pytest.mark.parametrize("password", ["wrong", None], ids=["wrong", "missing"])
def test_encrypted_key_bad_password_refuses_to_start(pki, io_threads, password, tmp_path):
    mode = Mode(io_threads=io_threads)
    log = str(tmp_path / "server.log")
    cmd = [mode.server, "--port", "0", "--tls-port", str(free_port()), "--bind", HOST,
           "--tls-cert-file", pki.server_crt, "--tls-key-file", pki.enc_key,
           "--tls-ca-cert-file", pki.ca, "--io-threads", str(io_threads), "--save", "",
           "--logfile", log, "--dir", str(tmp_path)]
    if password is not None:
        cmd += ["--tls-key-file-pass", password]
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=20)
    with open(log, errors="replace") as f:
        text = f.read() + res.stdout.decode(errors="replace")
    assert res.returncode == 1, text
    # Which file, and OpenSSL's reason for it (redis-server 7.0.15 logs
    # "Failed to load private key: FILE: error:1C800064:Provider routines::bad decrypt").
    assert pki.enc_key in text, text
    assert re.search(r"Failed to load private key: %s: error:[0-9A-F]+:" % re.escape(pki.enc_key),
                     text), text
    if password is not None:
        assert "bad decrypt" in text, text


def test_config_set_bad_key_password_keeps_old_context(tls_server, pki):
    srv = tls_server()
    with srv.raw() as held:
        reply = config_set(srv, "tls-key-file", pki.enc_key, "tls-key-file-pass", "wrong")
        assert isinstance(reply, klserver.RespError), reply
        assert re.match(rb"ERR CONFIG SET failed \(possibly related to argument "
                        rb"'tls-key-file(-pass)?'\) - ", reply.message), reply
        # Nothing changed: the directives, the established client, new clients, the cert.
        assert config_get(srv, "tls-key-file") == pki.server_key
        assert config_get(srv, "tls-key-file-pass") == ""
        assert held.execute("PING") == b"PONG"
        with tls_connect(srv.port, pki.ctx()) as s:
            assert s.getpeercert()["serialNumber"] == pki.server_serial
            s.sendall(b"PING\r\n")
            assert _recv_reply(s, time.monotonic() + 5) == b"+PONG\r\n"
        # The right password then works, and so do new clients.
        assert config_set(srv, "tls-key-file", pki.enc_key,
                          "tls-key-file-pass", pki.ENC_PASS) == b"OK"
        assert tls_ping(srv.port, pki.ctx()) == "ok"
        assert held.execute("PING") == b"PONG"


TLS_UPDATE_FAILED = (b"ERR CONFIG SET failed (possibly related to argument '%s') - Unable to "
                     b"update TLS configuration. Check server logs.")


def test_config_set_bad_tls_file_exact_error(tls_server, pki, tmp_path):
    """A bad TLS file is refused with Redis 7.0's text (the reason goes to the log, not to the
    client), the directive keeps its value and the old context stays in force."""
    srv = tls_server()
    garbage = str(tmp_path / "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a PEM file\n")
    missing = str(tmp_path / "nonexistent.pem")
    with srv.raw() as held:
        cases = [("tls-cert-file", missing, "Failed to load certificate: %s: error:" % missing),
                 ("tls-cert-file", garbage, "Failed to load certificate: %s: error:" % garbage),
                 ("tls-key-file", missing, "Failed to load private key: %s: error:" % missing),
                 ("tls-key-file", garbage, "Failed to load private key: %s: error:" % garbage),
                 ("tls-ca-cert-file", missing, "Failed to configure CA certificate(s)"),
                 ("tls-dh-params-file", missing, None)]
        for name, bad, logged in cases:
            before = config_get(srv, name)
            log_before = len(log_text(srv))
            reply = config_set(srv, name, bad)
            assert isinstance(reply, klserver.RespError), (name, bad, reply)
            assert reply.message == TLS_UPDATE_FAILED % name.encode(), (name, bad, reply)
            assert config_get(srv, name) == before, name
            if logged is not None:
                wait_until(lambda: logged in log_text(srv)[log_before:], timeout=5,
                           what="log line %r" % logged)
            if not REFERENCE:
                # keyloom names the file and OpenSSL's reason for every case.
                wait_until(lambda: bad in log_text(srv)[log_before:], timeout=5,
                           what="%s in the log" % bad)
            assert held.execute("PING") == b"PONG"
            with tls_connect(srv.port, pki.ctx()) as s:
                assert s.getpeercert()["serialNumber"] == pki.server_serial
                s.sendall(b"PING\r\n")
                assert _recv_reply(s, time.monotonic() + 5) == b"+PONG\r\n"


# --------------------------------------------------------------------------------------------
# 6. certificate reload, CONFIG GET
# --------------------------------------------------------------------------------------------

def test_cert_reload_while_connected(tls_server, pki):
    srv = tls_server()
    old = tls_connect(srv.port, pki.ctx())
    try:
        assert old.getpeercert()["serialNumber"] == pki.server_serial
        old.sendall(b"SET before reload\r\n")
        assert _recv_reply(old, time.monotonic() + 5) == b"+OK\r\n"
        expiry_before = None if REFERENCE else tls_info(srv)["tls_server_cert_expire_time"]

        assert config_set(srv, "tls-cert-file", pki.server2_crt,
                          "tls-key-file", pki.server2_key) == b"OK"
        assert config_get(srv, "tls-cert-file") == pki.server2_crt
        assert config_get(srv, "tls-key-file") == pki.server2_key

        # The old client keeps working over its old session.
        old.sendall(b"GET before\r\n")
        assert _recv_reply(old, time.monotonic() + 5) == b"$6\r\nreload\r\n"
        assert old.getpeercert()["serialNumber"] == pki.server_serial
        # New clients see the new certificate (python and openssl s_client).
        for _ in range(3):
            with tls_connect(srv.port, pki.ctx()) as s:
                assert s.getpeercert()["serialNumber"] == pki.server2_serial
                s.sendall(b"GET before\r\n")
                assert _recv_reply(s, time.monotonic() + 5) == b"$6\r\nreload\r\n"
        rc, out = s_client(srv.port, pki, "-showcerts")
        assert "CN = Server-two" in out and "+PONG" in out, out
        if not REFERENCE:
            # server2 is valid for 30 days, server.crt for 10 years.
            assert tls_info(srv)["tls_server_cert_expire_time"] < expiry_before
        old.sendall(b"PING\r\n")
        assert _recv_reply(old, time.monotonic() + 5) == b"+PONG\r\n"
    finally:
        old.close()


def test_config_get_every_tls_directive(tls_server, pki):
    srv = tls_server()
    with srv.raw() as c:
        got = c.execute("CONFIG", "GET", "tls-*")
    # keyloom adds one directive of its own beside Redis's set (tls-handshake-timeout).
    assert set(x.decode() for x in got[0::2]) - {HANDSHAKE_TIMEOUT_DIRECTIVE} == ALL_TLS_DIRECTIVES

    new_port = free_port()
    values = [
        ("tls-cert-file", pki.server2_crt), ("tls-key-file", pki.server2_key),
        ("tls-key-file-pass", "unused-pass"),
        ("tls-client-cert-file", pki.client_crt), ("tls-client-key-file", pki.client_key),
        ("tls-ca-cert-file", pki.ca), ("tls-ca-cert-dir", pki.ca_dir),
        ("tls-dh-params-file", pki.dh),
        ("tls-protocols", "TLSv1.2 TLSv1.3"),
        ("tls-ciphers", "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"),
        ("tls-ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"),
        ("tls-prefer-server-ciphers", "yes"), ("tls-session-caching", "no"),
        ("tls-session-cache-size", "5000"), ("tls-session-cache-timeout", "60"),
        ("tls-auth-clients", "optional"), ("tls-replication", "yes"), ("tls-cluster", "yes"),
    ]
    # A certificate and its key must change together.
    assert config_set(srv, *values[0], *values[1]) == b"OK"
    assert config_set(srv, *values[3], *values[4]) == b"OK"
    values.insert(5, ("tls-client-key-file-pass", "client-pass"))
    for name, value in values[2:3] + values[5:]:
        assert config_set(srv, name, value) == b"OK", (name, value)
    # tls-port: the new port serves, the old one is closed.
    old_port = srv.port
    assert config_set(srv, "tls-port", str(new_port)) == b"OK"
    srv.port = new_port
    values.append(("tls-port", str(new_port)))
    with pytest.raises(OSError):
        socket.create_connection((HOST, old_port), timeout=2).close()
    for name, value in values:
        assert config_get(srv, name) == value, name
    # Everything together still makes a working server.
    with tls_connect(srv.port, pki.ctx(cert=None)) as s:
        assert s.getpeercert()["serialNumber"] == pki.server2_serial
        assert s.cipher()[0] in ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
    # Bad values are refused and change nothing.
    for name, bad in (("tls-protocols", "TLSv1.2 SSLv3"), ("tls-ciphers", "NO-SUCH-CIPHER"),
                      ("tls-ciphersuites", "TLS_NO_SUCH_SUITE"),
                      ("tls-cert-file", "/nonexistent/cert.pem"),
                      ("tls-auth-clients", "maybe")):
        reply = config_set(srv, name, bad)
        assert isinstance(reply, klserver.RespError), (name, reply)
        assert reply.message.startswith(b"ERR CONFIG SET failed (possibly related to argument '"
                                        + name.encode() + b"')"), (name, reply)
        assert config_get(srv, name) == dict(values)[name], name
    assert tls_ping(srv.port, pki.ctx()) == "ok"


# --------------------------------------------------------------------------------------------
# 7. the wrong protocol on each port
# --------------------------------------------------------------------------------------------

def test_plaintext_client_on_tls_port(tls_server, pki):
    srv = tls_server()
    before = None if REFERENCE else tls_info(srv)
    for payload in (b"PING\r\n", b"*1\r\n$4\r\nPING\r\n", b"GET / HTTP/1.1\r\n\r\n"):
        s = socket.create_connection((HOST, srv.port), timeout=5)
        try:
            s.sendall(payload)
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass
            # Closed (EOF or reset) without a RESP reply; an alert record at most.
            assert not got.startswith((b"+", b"-", b"$", b"*")), got
        finally:
            s.close()
    assert tls_ping(srv.port, pki.ctx()) == "ok"
    if not REFERENCE:
        d = wait_until(lambda: (lambda d: d if d["tls_handshakes_failed_plaintext"] >= 3 else
                                None)(counter_delta(before, tls_info(srv))),
                       timeout=5, what="tls_handshakes_failed_plaintext += 3")
        assert d["tls_handshakes_failed_plaintext"] == 3, d


def test_tls_client_on_plain_port(tls_server, pki):
    plain = free_port()
    srv = tls_server("--port", plain)
    ctx = pki.ctx()
    for _ in range(3):
        s = socket.create_connection((HOST, plain), timeout=2)
        try:
            # keyloom answers the garbage with RESP errors (not TLS): the handshake fails at
            # once; redis-server 7.0 waits for a newline it never finds: the handshake times
            # out. Either way it must not succeed, and the server must go on.
            with pytest.raises((ssl.SSLError, OSError)):
                ctx.wrap_socket(s, server_hostname=HOST)
        finally:
            s.close()
    with klserver.RawClient(HOST, plain) as c:
        assert c.execute("PING") == b"PONG"
    assert tls_ping(srv.port, ctx) == "ok"
    # A raw ClientHello on the plain port: whatever comes back is RESP, never TLS.
    with socket.create_connection((HOST, plain), timeout=1) as s:
        s.sendall(client_hello())
        try:
            got = s.recv(4096)
        except (socket.timeout, TimeoutError):
            got = b""
        assert got == b"" or got.startswith(b"-ERR "), got


# --------------------------------------------------------------------------------------------
# 8. a handshake storm
# --------------------------------------------------------------------------------------------

STORM = 500


async def _storm(port, ctx, n, limit):
    opened = []
    ready = asyncio.Event()

    async def one(i):
        reader, writer = await asyncio.open_connection(HOST, port, ssl=ctx,
                                                       server_hostname=HOST)
        opened.append(writer)
        await ready.wait()
        writer.write(b"SET storm:%d %d\r\n" % (i, i))
        await writer.drain()
        line = await reader.readline()
        return line

    async def run():
        tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
        # Everyone handshakes at once; the commands go out only when all are connected.
        while len(opened) < n:
            done = [t for t in tasks if t.done() and t.exception() is not None]
            if done:
                ready.set()
                raise done[0].exception()
            await asyncio.sleep(0.01)
        ready.set()
        return await asyncio.gather(*tasks)

    return await asyncio.wait_for(run(), limit), opened


def test_handshake_storm(tls_server, pki, io_threads):
    raise_nofile(STORM * 2 + 256)
    srv = tls_server()
    ctx = pki.ctx()
    loop = asyncio.new_event_loop()
    opened = []
    try:
        replies, opened = loop.run_until_complete(_storm(srv.port, ctx, STORM, 60))
        assert replies == [b"+OK\r\n"] * STORM
        with srv.raw() as c:
            clients = info_dict(c.execute("INFO", "clients"))["clients"]
            assert int(clients["connected_clients"]) >= STORM + 1
            assert c.execute("DBSIZE") == STORM
        if not REFERENCE:
            threads = thread_info(srv)
            hs = sum(t["tls_handshakes"] for t in threads.values())
            assert hs >= STORM, threads
            if io_threads > 1:
                assert threads[0]["tls_handshakes"] == 0, threads
                # The accepts are spread over the I/O threads.
                busy = [n for n, t in threads.items() if n and t["tls_handshakes"] >= STORM // 10]
                assert len(busy) == io_threads - 1, threads
    finally:
        for w in opened:
            w.close()
        loop.run_until_complete(asyncio.sleep(0.1))
        loop.close()
    with srv.raw() as c:
        wait_until(lambda: int(info_dict(c.execute("INFO", "clients"))["clients"]
                               ["connected_clients"]) == 1, timeout=10,
                   what="the storm clients to be gone")


# --------------------------------------------------------------------------------------------
# 9. the handshake timeout
# --------------------------------------------------------------------------------------------

def _handshake_timeout(srv):
    """Seconds after which the server reaps a handshake; shortened to 1 s when the server has
    the (proposed) tls-handshake-timeout directive."""
    with srv.raw() as c:
        got = c.execute("CONFIG", "GET", HANDSHAKE_TIMEOUT_DIRECTIVE)
        if isinstance(got, list) and len(got) == 2:
            if c.execute("CONFIG", "SET", HANDSHAKE_TIMEOUT_DIRECTIVE, "1000") == b"OK":
                return 1.0
    return DEFAULT_HANDSHAKE_TIMEOUT


def _closed_within(s, seconds):
    """Seconds until the peer closed s (EOF or reset), or None if it stayed open."""
    t0 = time.monotonic()
    s.settimeout(seconds)
    try:
        while True:
            if not s.recv(4096):
                break
    except (socket.timeout, TimeoutError):
        return None
    except (ConnectionResetError, BrokenPipeError):
        pass
    return time.monotonic() - t0


@pytest.mark.slow
@pytest.mark.keyloom_only
@pytest.mark.timeout(60)
def test_handshake_timeout_reaps_half_open(tls_server, pki):
    srv = tls_server()
    limit = _handshake_timeout(srv)
    before = tls_info(srv)
    hello = client_hello()
    silent = socket.create_connection((HOST, srv.port), timeout=5)
    half = socket.create_connection((HOST, srv.port), timeout=5)
    done = tls_connect(srv.port, pki.ctx())   # a finished handshake is never reaped
    t0 = time.monotonic()
    try:
        half.sendall(hello[:len(hello) // 2])
        # Meanwhile the server serves others.
        assert tls_ping(srv.port, pki.ctx()) == "ok"
        assert tls_info(srv)["tls_handshakes_failed_timeout"] == before[
            "tls_handshakes_failed_timeout"]
        for s in (silent, half):
            elapsed = _closed_within(s, limit + 5 - (time.monotonic() - t0))
            assert elapsed is not None, "half-open handshake not reaped within %.0fs" % (
                limit + 5)
        assert time.monotonic() - t0 >= limit * 0.8
        d = counter_delta(before, tls_info(srv))
        assert d["tls_handshakes_failed_timeout"] == 2, d
        done.sendall(b"PING\r\n")
        assert _recv_reply(done, time.monotonic() + 5) == b"+PONG\r\n"
    finally:
        for s in (silent, half, done):
            s.close()


# --------------------------------------------------------------------------------------------
# 10. TLS work is done by the I/O threads
# --------------------------------------------------------------------------------------------

def _benchmark(mode, port, pki, *args, timeout=120):
    cmd = [mode.benchmark, "-h", HOST, "-p", str(port), "--tls", "--cert", pki.client_crt,
           "--key", pki.client_key, "--cacert", pki.ca] + [str(a) for a in args]
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=timeout)
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, out
    return out


@pytest.mark.keyloom_only
@pytest.mark.timeout(150)
def test_tls_work_on_io_threads(tls_server, pki, io_threads):
    srv = tls_server()
    pid = srv.pid
    threads0 = thread_info(srv)
    total0 = proc_cpu_ticks("/proc/%d/stat" % pid)
    exec0 = proc_cpu_ticks("/proc/%d/task/%d/stat" % (pid, pid))
    out = _benchmark(srv.mode, srv.port, pki, "-c", 50, "-n", 20000, "-t", "set,get", "-q")
    assert re.search(r"SET: [\d.]+ requests per second", out), out
    assert re.search(r"GET: [\d.]+ requests per second", out), out
    total = proc_cpu_ticks("/proc/%d/stat" % pid) - total0
    execu = proc_cpu_ticks("/proc/%d/task/%d/stat" % (pid, pid)) - exec0
    threads = thread_info(srv)
    d = {n: {k: (v - threads0[n][k] if k != "role" else v) for k, v in t.items()}
         for n, t in threads.items()}
    assert len(d) == io_threads, threads
    if io_threads == 1:
        # Only the executor: it does the I/O and the TLS itself.
        assert d[0]["role"] == "executor+io"
        assert d[0]["tls_handshakes"] >= 100 and d[0]["reads"] >= 40000, d
        return
    assert d[0]["role"] == "executor"
    for field in ("tls_handshakes", "tls_handshake_failures", "reads", "writes", "accepts",
                  "net_input_bytes", "net_output_bytes"):
        assert d[0][field] == 0, (field, d)
    io = [d[n] for n in range(1, io_threads)]
    # redis-benchmark opens 50 connections per test (two tests) and one to read the config.
    assert sum(t["tls_handshakes"] for t in io) >= 100, d
    assert sum(t["reads"] for t in io) >= 40000 * 0.5, d
    assert sum(t["writes"] for t in io) >= 40000 * 0.5, d
    assert sum(t["commands"] for t in io) >= 40000, d
    assert all(t["tls_handshakes"] > 0 and t["reads"] > 0 and t["writes"] > 0 for t in io), d
    assert sum(t["cpu_user"] + t["cpu_sys"] for t in io) > 0, d
    # The executor's CPU time is a minority of the process's.
    assert total > 0
    assert execu / total < 0.5, "executor used %d of %d CPU ticks\n%s" % (execu, total, d)


# --------------------------------------------------------------------------------------------
# 11. the standard clients, and every listener at once
# --------------------------------------------------------------------------------------------

def test_standard_clients_over_tls(tls_server, pki):
    srv = tls_server()
    assert config_get(srv, "port") == "0"
    assert config_get(srv, "tls-port") == str(srv.port)
    # redis-cli --tls
    assert srv.cli("SET", "cli-key", "from-cli").strip() == b"OK"
    assert srv.cli("GET", "cli-key").strip() == b"from-cli"
    # redis-py ssl=True
    r = srv.client()
    try:
        assert r.ping() is True
        assert r.get("cli-key") == b"from-cli"
        assert r.set("py-key", b"x" * 100000) is True
        assert r.strlen("py-key") == 100000
        p = r.pipeline(transaction=False)
        for i in range(1000):
            p.incr("py-counter")
        assert p.execute()[-1] == 1000
    finally:
        r.close()
    # redis-benchmark --tls
    out = _benchmark(srv.mode, srv.port, pki, "-c", 10, "-n", 2000, "-t", "ping,set,get", "-q",
                     "-P", 4)
    for test in ("PING_INLINE", "PING_MBULK", "SET", "GET"):
        assert re.search(r"%s: [\d.]+ requests per second" % test, out), out
    assert srv.cli("GET", "py-counter").strip() == b"1000"
    if not REFERENCE:
        assert tls_info(srv)["tls_port"] == srv.port
        # redis-server 7.0 reports the TLS port as tcp_port when port is 0; so do we.
        assert int(info(srv, "server")["server"]["tcp_port"]) == srv.port


def test_tcp_tls_and_unix_listeners_together(tls_server, pki):
    plain = free_port()
    sockdir = tempfile.mkdtemp(prefix="kl-tls-")
    path = os.path.join(sockdir, "s.sock")
    try:
        srv = tls_server("--port", plain, "--unixsocket", path, "--unixsocketperm", "700")
        tls_c = klserver.RawClient(HOST, srv.port, ssl_context=pki.ctx())
        tcp_c = klserver.RawClient(HOST, plain)
        unix_c = klserver.RawClient(unix_path=path)
        try:
            # Interleaved on the three at once.
            for i in range(50):
                for n, c in enumerate((tls_c, tcp_c, unix_c)):
                    assert c.execute("SET", "k%d:%d" % (n, i), i) == b"OK"
            for n in range(3):
                for c in (tls_c, tcp_c, unix_c):
                    assert c.execute("GET", "k%d:49" % n) == b"49"
            # Pipelined from all three without waiting in between.
            for c in (tls_c, tcp_c, unix_c):
                c.send(b"".join(klserver.encode_command("INCR", "shared") for _ in range(200)))
            for c in (tls_c, tcp_c, unix_c):
                for _ in range(200):
                    c.read_reply()
            assert tcp_c.execute("GET", "shared") == b"600"
            assert tls_c.execute("CLIENT", "LIST").count(b"\n") >= 3
        finally:
            for c in (tls_c, tcp_c, unix_c):
                c.close()
        # The three standard clients reach the three listeners.
        mode_plain = Mode(tls=False)
        assert run_cli(srv.mode, srv.port, "GET", "shared").strip() == b"600"
        assert run_cli(mode_plain, plain, "GET", "shared").strip() == b"600"
        assert run_cli(mode_plain, plain, "-s", path, "GET", "shared").strip() == b"600"
        assert config_get(srv, "port") == str(plain)
        assert config_get(srv, "tls-port") == str(srv.port)
        assert config_get(srv, "unixsocket") == path
        if not REFERENCE:
            log = log_text(srv)
            assert re.search(r"Listening on %s:%d \(tcp\)" % (re.escape(HOST), plain), log), log
            assert re.search(r"Listening on %s:%d \(tls\)" % (re.escape(HOST), srv.port),
                             log), log
            assert "unix socket %s" % path in log, log
            assert int(info(srv, "server")["server"]["tcp_port"]) == plain
            assert tls_info(srv)["tls_port"] == srv.port
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# data paths and shutdown over TLS
# --------------------------------------------------------------------------------------------

def test_large_values_and_slow_reader(tls_server, pki):
    """Big requests, big replies that outgrow the socket buffers while the client is not
    reading (the server's TLS write backlog), and a long pipeline of small commands."""
    srv = tls_server()
    big = bytes(range(256)) * (4 * 4096)          # 4 MiB, every byte value
    with klserver.RawClient(HOST, srv.port, ssl_context=pki.ctx(), timeout=10) as c:
        assert c.execute("SET", "big", big) == b"OK"
        assert c.execute("STRLEN", "big") == len(big)
        n = 12
        c.send(b"".join(klserver.encode_command("GET", "big") for _ in range(n)))
        time.sleep(0.5)       # let the server fill the socket and queue the rest
        with srv.raw() as other:   # the server (and this I/O thread's other clients) go on
            assert other.execute("PING") == b"PONG"
        for _ in range(n):
            assert c.read_value() == big
        c.send(b"".join(klserver.encode_command("INCR", "n") for _ in range(20000)))
        last = None
        for _ in range(20000):
            last = c.read_value()
        assert last == 20000
        assert c.execute("PING") == b"PONG"


@pytest.mark.parametrize("transport", ["tls", "tcp"])
def test_pipelined_big_replies_with_prompt_reader(tls_server, pki, transport):
    """Pipelined GETs whose replies add up to far more than the executor's 1 MB yield, read
    as fast as they come: all of them arrive. (The TCP variant is the control: a stall on
    both transports is not a TLS bug.)"""
    plain = free_port()
    srv = tls_server("--port", plain)
    big = b"v" * 300000
    if transport == "tls":
        c = klserver.RawClient(HOST, srv.port, ssl_context=pki.ctx(), timeout=5)
    else:
        c = klserver.RawClient(HOST, plain, timeout=5)
    with c:
        assert c.execute("SET", "big", big) == b"OK"
        n = 200
        c.send(b"".join(klserver.encode_command("GET", "big") for _ in range(n)))
        got = 0
        try:
            for _ in range(n):
                assert c.read_value() == big
                got += 1
        except (socket.timeout, TimeoutError):
            pytest.fail("%s: stalled after %d of %d replies of %d bytes" % (
                transport, got, n, len(big)))
        assert c.execute("PING") == b"PONG"


def test_quit_sends_close_notify(tls_server, pki):
    srv = tls_server()
    s = tls_connect(srv.port, pki.ctx())
    try:
        s.sendall(b"QUIT\r\n")
        deadline = time.monotonic() + 5
        assert _recv_reply(s, deadline) == b"+OK\r\n"
        # A clean TLS close (close_notify) reads as b"", a bare TCP close as SSLEOFError.
        s.settimeout(5)
        assert s.recv(4096) == b""
    finally:
        s.close()


def test_quit_after_big_reply_delivers_everything(tls_server, pki):
    """QUIT pipelined behind a reply far bigger than the socket buffers, read slowly: every
    byte of the reply, then +OK, then a clean TLS close."""
    srv = tls_server()
    big = b"q" * (6 << 20)
    with srv.raw() as c:
        assert c.execute("SET", "big", big) == b"OK"
    s = tls_connect(srv.port, pki.ctx(), timeout=10)
    try:
        s.sendall(klserver.encode_command("GET", "big") + klserver.encode_command("QUIT"))
        time.sleep(0.3)      # the server has most of the reply queued now
        data = b""
        s.settimeout(10)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data == b"$%d\r\n%s\r\n+OK\r\n" % (len(big), big), \
            "got %d bytes, ending %r" % (len(data), data[-20:])
    finally:
        s.close()


def test_fragmented_handshake_and_records(tls_server, pki):
    """A client whose handshake and records arrive a few bytes at a time (the server must
    reassemble partial records across reads)."""
    srv = tls_server()
    sock = socket.create_connection((HOST, srv.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = pki.ctx().wrap_bio(inc, out, server_hostname=HOST)

    def dribble(data):
        for i in range(0, len(data), 7):
            sock.sendall(data[i:i + 7])
            time.sleep(0.0005)

    def pump_in():
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed")
        inc.write(chunk)

    try:
        deadline = time.monotonic() + 10
        while True:
            assert time.monotonic() < deadline, "handshake did not finish"
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                dribble(out.read())
                pump_in()
        dribble(out.read())
        # Three commands, each in its own record, every record dribbled.
        for cmd in (("SET", "frag", "x" * 3000), ("APPEND", "frag", "yz"), ("STRLEN", "frag")):
            obj.write(klserver.encode_command(*cmd))
            dribble(out.read())
        got = b""
        while got.count(b"\r\n") < 3:
            assert time.monotonic() < deadline, got
            try:
                got += obj.read(65536)
            except ssl.SSLWantReadError:
                pump_in()
        assert got == b"+OK\r\n:3002\r\n:3002\r\n", got
    finally:
        sock.close()


def test_client_kill_tls_client(tls_server, pki):
    srv = tls_server()
    with klserver.RawClient(HOST, srv.port, ssl_context=pki.ctx()) as victim, srv.raw() as c:
        vid = victim.execute("CLIENT", "ID")
        assert c.execute("CLIENT", "KILL", "ID", vid) == 1
        assert victim.is_closed_by_peer(5)
        assert c.execute("PING") == b"PONG"


def test_tls_port_change_keeps_established_clients(tls_server, pki):
    srv = tls_server()
    with klserver.RawClient(HOST, srv.port, ssl_context=pki.ctx()) as held:
        assert held.execute("SET", "k", "v") == b"OK"
        new_port = free_port()
        assert held.execute("CONFIG", "SET", "tls-port", new_port) == b"OK"
        srv.port = new_port
        assert held.execute("GET", "k") == b"v"
        assert tls_ping(new_port, pki.ctx()) == "ok"


def test_shutdown_with_handshakes_in_flight(tls_server, pki):
    """SIGTERM while TLS clients are connected, some of them mid-handshake: a clean exit."""
    srv = tls_server()
    hello = client_hello()
    socks = []
    try:
        for _ in range(20):
            socks.append(tls_connect(srv.port, pki.ctx()))
        for i in range(10):
            s = socket.create_connection((HOST, srv.port), timeout=5)
            if i % 2:
                s.sendall(hello[:len(hello) // 2])
            socks.append(s)
        for s in socks[:20]:
            s.sendall(b"PING\r\n")
            assert _recv_reply(s, time.monotonic() + 5) == b"+PONG\r\n"
        srv.stop()      # raises when the exit is not clean and quick
        assert srv.returncode == 0
    finally:
        for s in socks:
            s.close()


def _push_until_stalled(sock, cap, stall=1.0, limit=8.0):
    """Send pipelined GETs without reading a single reply until the server stops taking them
    (no progress for `stall` seconds), cap bytes went out, or `limit` seconds passed.
    Returns the number of bytes the server (its socket) accepted."""
    data = memoryview(klserver.encode_command("GET", "big") * (cap // 22 + 1))[:cap]
    sock.setblocking(False)
    sent = 0
    last_progress = t0 = time.monotonic()
    while sent < cap:
        now = time.monotonic()
        if now - last_progress > stall or now - t0 > limit:
            break
        try:
            n = sock.send(data[sent:sent + 65536])
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            time.sleep(0.02)
            continue
        if n > 0:
            sent += n
            last_progress = time.monotonic()
    return sent


@pytest.mark.keyloom_only
@pytest.mark.timeout(90)
def test_tls_client_read_back_pressure(tls_server, pki):
    """A client that pipelines without reading its replies is stopped (the server stops
    reading it once its output passes the high-water mark) over TLS as over plain TCP.
    redis-server 7.0 has no such limit (it would buffer every reply), hence keyloom-only."""
    plain = free_port()
    srv = tls_server("--port", plain)
    with srv.raw() as c:
        assert c.execute("SET", "big", b"x" * (256 * 1024)) == b"OK"
    cap = 32 << 20
    s = socket.create_connection((HOST, plain), timeout=5)
    try:
        plain_sent = _push_until_stalled(s, cap)
    finally:
        s.close()
    t = tls_connect(srv.port, pki.ctx())
    try:
        tls_sent = _push_until_stalled(t, cap)
        rss = srv.rss_kb()
    finally:
        t.close()
    assert plain_sent < cap, "the plain-TCP baseline was never stopped"
    # Allow for TLS framing and bigger buffers, but not for reading without end.
    assert tls_sent < max(3 * plain_sent, 12 << 20), (
        "TLS client pushed %.1f MB of pipelined commands without reading a reply (plain TCP: "
        "%.1f MB); server RSS %s kB" % (tls_sent / 1e6, plain_sent / 1e6, rss))
    with srv.raw() as c:
        assert c.execute("PING") == b"PONG"
