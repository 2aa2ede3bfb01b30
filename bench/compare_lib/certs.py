"""Certificates: the test set (utils/gen-test-certs.sh, RSA-2048) and an EC P-256 server
certificate signed by the same CA, made with openssl in a temporary directory."""

import os
import subprocess

NAMES = ("ca.crt", "ca.key", "server.crt", "server.key")

_EXT = """[ server_cert ]
keyUsage = digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
"""


class CertError(Exception):
    pass


def ensure_test_certs(root, tls_dir):
    """Make sure tls_dir holds ca.{crt,key} and server.{crt,key}; generate them if missing."""
    if all(os.path.isfile(os.path.join(tls_dir, n)) for n in NAMES):
        return
    script = os.path.join(root, "utils", "gen-test-certs.sh")
    res = subprocess.run(["sh", script, tls_dir], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=180)
    if res.returncode != 0:
        raise CertError("utils/gen-test-certs.sh failed:\n" + res.stdout.decode(errors="replace"))


def _openssl(*args):
    res = subprocess.run(("openssl",) + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=60)
    if res.returncode != 0:
        raise CertError("openssl %s failed:\n%s" % (" ".join(args),
                                                     res.stdout.decode(errors="replace")))


def make_ec_server_cert(tls_dir, out_dir):
    """An EC P-256 server certificate for 127.0.0.1 signed by tls_dir/ca.{crt,key}.
    Returns dict(cert=, key=, ca=)."""
    os.makedirs(out_dir, exist_ok=True)
    key = os.path.join(out_dir, "server-ec.key")
    csr = os.path.join(out_dir, "server-ec.csr")
    crt = os.path.join(out_dir, "server-ec.crt")
    ext = os.path.join(out_dir, "ext.cnf")
    with open(ext, "w") as f:
        f.write(_EXT)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    _openssl("req", "-new", "-sha256", "-key", key, "-subj", "/O=keyloom test/CN=Server-EC",
             "-out", csr)
    _openssl("x509", "-req", "-sha256", "-in", csr, "-CA", os.path.join(tls_dir, "ca.crt"),
             "-CAkey", os.path.join(tls_dir, "ca.key"), "-set_serial",
             str(int.from_bytes(os.urandom(8), "big")), "-days", "30", "-extfile", ext,
             "-extensions", "server_cert", "-out", crt)
    return dict(cert=crt, key=key, ca=os.path.join(tls_dir, "ca.crt"))


def rsa_server_cert(tls_dir):
    return dict(cert=os.path.join(tls_dir, "server.crt"), key=os.path.join(tls_dir, "server.key"),
                ca=os.path.join(tls_dir, "ca.crt"))
