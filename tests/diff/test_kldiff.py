"""Self-checks of the differential harness: redis-server against itself must pass in both
protocols, and a perturbed reply must be reported. Run: /usr/bin/python3 -m pytest tests/diff"""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import kldiff  # noqa: E402

KLDIFF = os.path.join(HERE, "kldiff.py")
REFERENCE = os.environ.get("KEYLOOM_REFERENCE_SERVER", "/usr/bin/redis-server")


def run(*args, timeout=300):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    res = subprocess.run([sys.executable, KLDIFF, "--a", REFERENCE, "--b", REFERENCE] +
                         list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=timeout, env=env)
    return res.returncode, res.stdout.decode(errors="replace")


needs_reference = pytest.mark.skipif(not os.access(REFERENCE, os.X_OK),
                                     reason="no reference server at %s" % REFERENCE)


@needs_reference
def test_reference_against_itself_passes():
    rc, out = run("--seed", "20240601", "--ops", "3000")
    assert rc == 0, out
    assert "RESP2:" in out and "RESP3:" in out and "kldiff: OK" in out


@needs_reference
@pytest.mark.parametrize("proto", ["2", "3"])
def test_perturbed_case_reply_is_reported(proto):
    rc, out = run("--no-random", "--protocols", proto, "--perturb", "3", "--max-failures", "1")
    assert rc == 1, out
    assert "MISMATCH in case" in out and "RESP%s" % proto in out
    assert "A (" in out and "B (" in out


@needs_reference
def test_perturbed_random_reply_reports_seed_and_index():
    rc, out = run("--no-cases", "--protocols", "2", "--seed", "77", "--ops", "500",
                  "--perturb", "100")
    assert rc == 1, out
    assert "MISMATCH in random sequence (seed 77, index" in out
    assert "reproduce:" in out


def test_split_args_like_redis_cli():
    s = kldiff.split_args
    assert s('SET k "hello world"') == [b"SET", b"k", b"hello world"]
    assert s("ECHO 'it\\'s'") == [b"ECHO", b"it's"]
    assert s('ECHO "\\x41\\x00\\n\\r\\t\\"\\\\"') == [b"ECHO", b'A\x00\n\r\t"\\']
    assert s('ECHO ""') == [b"ECHO", b""]
    assert s("  a   b  ") == [b"a", b"b"]
    assert s("") == []
    for bad in ('ECHO "abc', "ECHO 'abc", 'ECHO "a"b'):
        with pytest.raises(ValueError):
            s(bad)


def test_raw_payload_repeat():
    assert kldiff.raw_payload('"*" "1" {3} "\\r\\n"') == b"*111\r\n"
    assert kldiff.raw_payload('"PING\\r\\n" {2}') == b"PING\r\nPING\r\n"


def test_normalisers():
    ctx = None
    kldiff.cmp_sorted([b"KEYS", b"*"], b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
                      b"*2\r\n$1\r\nb\r\n$1\r\na\r\n", ctx)
    with pytest.raises(kldiff.Mismatch):
        kldiff.cmp_sorted([b"KEYS", b"*"], b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
                          b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n", ctx)
    kldiff.cmp_pairs_sorted([b"CONFIG", b"GET", b"*"], b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n"
                            b"$1\r\n2\r\n", b"%2\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1\r\n",
                            ctx)
    ttl = kldiff.policy_for([b"TTL", b"k"])
    ttl([b"TTL", b"k"], b":100\r\n", b":99\r\n", ctx)
    with pytest.raises(kldiff.Mismatch):
        ttl([b"TTL", b"k"], b":100\r\n", b":97\r\n", ctx)
    with pytest.raises(kldiff.Mismatch):
        ttl([b"TTL", b"k"], b":-1\r\n", b":-2\r\n", ctx)
    kldiff.cmp_hello([b"HELLO"], b"*4\r\n$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$1\r\nx\r\n",
                     b"*4\r\n$2\r\nid\r\n:9\r\n$4\r\nmode\r\n$1\r\nx\r\n", ctx)
    # Errors are always compared exactly, whatever the policy.
    with pytest.raises(kldiff.Mismatch):
        kldiff.cmp_shape([b"CLIENT", b"LIST"], b"-ERR a\r\n", b"-ERR b\r\n", ctx)
    kldiff.cmp_shape([b"CLIENT", b"LIST"], b"$3\r\nabc\r\n", b"$2\r\nab\r\n", ctx)
    with pytest.raises(kldiff.Mismatch):
        kldiff.cmp_shape([b"CLIENT", b"LIST"], b"$3\r\nabc\r\n", b"=6\r\ntxt:ab\r\n", ctx)
    assert kldiff.policy_for([b"GET", b"k"]) is kldiff.cmp_exact
    assert kldiff.policy_for([b"command", b"info", b"get"]) is kldiff.cmp_shape
    assert kldiff.policy_for([b"COMMAND", b"GETKEYS", b"GET", b"k"]) is kldiff.cmp_exact
    assert kldiff.policy_for([b"command", b"count"]) is kldiff.cmp_shape
