"""redis-cli against the data types, pub/sub, transactions and blocking commands.

redis-cli is what operators type at; its output (non-tty, so raw unless --no-raw) must look
exactly as it does against redis-server 7.0. Every test here also passes against redis-server
itself (KEYLOOM_SERVER=/usr/bin/redis-server KEYLOOM_TEST_REFERENCE=1)."""

import subprocess
import time

import pytest

from klserver import HOST


pytestmark = pytest.mark.needs_types


def test_hash(cli):
    assert cli("HSET", "h", "f1", "v1", "f2", "hello world") == b"2\n"
    assert cli("HGET", "h", "f2") == b"hello world\n"
    assert cli("--no-raw", "HGETALL", "h") == \
        b'1) "f1"\n2) "v1"\n3) "f2"\n4) "hello world"\n'
    assert cli("--no-raw", "HINCRBYFLOAT", "h", "n", "1.5") == b'"1.5"\n'
    assert cli("--no-raw", "HGET", "h", "missing") == b"(nil)\n"
    assert cli("--no-raw", "OBJECT", "ENCODING", "h") == b'"listpack"\n'
    assert cli("--no-raw", "-3", "HGETALL", "h") == \
        b'1# "f1" => "v1"\n2# "f2" => "hello world"\n3# "n" => "1.5"\n'


def test_set(cli):
    assert cli("SADD", "s", "3", "1", "2") == b"3\n"
    assert cli("SMEMBERS", "s") == b"1\n2\n3\n"  # intset: sorted, as in Redis
    assert cli("--no-raw", "OBJECT", "ENCODING", "s") == b'"intset"\n'
    assert cli("--no-raw", "SISMEMBER", "s", "2") == b"(integer) 1\n"
    assert cli("--no-raw", "SMISMEMBER", "s", "1", "9") == b"1) (integer) 1\n2) (integer) 0\n"
    assert cli("--no-raw", "SADD", "s", "x") == b"(integer) 1\n"
    assert cli("--no-raw", "OBJECT", "ENCODING", "s") == b'"hashtable"\n'
    assert cli("--no-raw", "-3", "SINTERCARD", "1", "s") == b"(integer) 4\n"


def test_zset(cli):
    assert cli("ZADD", "z", "1.5", "a", "2", "b", "-inf", "c") == b"3\n"
    assert cli("--no-raw", "ZRANGE", "z", "0", "-1", "WITHSCORES") == \
        b'1) "c"\n2) "-inf"\n3) "a"\n4) "1.5"\n5) "b"\n6) "2"\n'
    # RESP3: doubles and nested pairs.
    assert cli("--no-raw", "-3", "ZRANGE", "z", "0", "-1", "WITHSCORES") == \
        b'1) 1) "c"\n   2) (double) -inf\n2) 1) "a"\n   2) (double) 1.5\n' \
        b'3) 1) "b"\n   2) (double) 2\n'
    assert cli("--no-raw", "ZSCORE", "z", "a") == b'"1.5"\n'
    assert cli("--no-raw", "ZADD", "z", "nan", "x") == \
        b"(error) ERR value is not a valid float\n"
    assert cli("--no-raw", "ZRANK", "z", "b") == b"(integer) 2\n"


def test_list_and_wrongtype(cli):
    assert cli("RPUSH", "l", "a", "b") == b"2\n"
    assert cli("--no-raw", "HGET", "l", "f") == \
        b"(error) WRONGTYPE Operation against a key holding the wrong kind of value\n"
    assert cli("--no-raw", "TYPE", "l") == b"list\n"
    assert cli("--no-raw", "OBJECT", "ENCODING", "l") == b'"quicklist"\n'


def test_multi_exec_from_stdin(cli):
    script = b"MULTI\nSET k 1\nINCR k\nLPUSH k x\nEXEC\n"
    out = cli("--no-raw", input=script)
    assert out == (b"OK\nQUEUED\nQUEUED\nQUEUED\n"
                   b"1) OK\n2) (integer) 2\n"
                   b"3) (error) WRONGTYPE Operation against a key holding the wrong kind of "
                   b"value\n")


def test_blpop_woken_by_push(server, cli):
    waiter = subprocess.Popen(
        [server.mode.cli, "-h", HOST, "-p", str(server.port)] + server.mode.cli_tls_args() +
        ["BLPOP", "q", "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while b"blocked_clients:1" not in cli("INFO", "clients"):
            assert time.monotonic() < deadline, "BLPOP did not block"
            time.sleep(0.02)
        assert cli("RPUSH", "q", "job") == b"1\n"
        out, _ = waiter.communicate(timeout=10)
        assert out == b"q\njob\n"
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


def test_blpop_timeout(cli):
    t = time.monotonic()
    assert cli("--no-raw", "BLPOP", "nothing", "0.2") == b"(nil)\n"
    assert time.monotonic() - t >= 0.15


def test_subscribe_and_publish(server, cli):
    sub = subprocess.Popen(
        [server.mode.cli, "-h", HOST, "-p", str(server.port)] + server.mode.cli_tls_args() +
        ["SUBSCRIBE", "news"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while cli("PUBSUB", "NUMSUB", "news") != b"news\n1\n":
            assert time.monotonic() < deadline, "SUBSCRIBE did not register"
            time.sleep(0.02)
        assert cli("PUBLISH", "news", "hello") == b"1\n"
        assert cli("PUBLISH", "news", "bye") == b"1\n"
        deadline = time.monotonic() + 5
        out = b""
        while out.count(b"\n") < 9 and time.monotonic() < deadline:
            time.sleep(0.05)
            sub.terminate()
            out, _ = sub.communicate(timeout=5)
        # redis-cli prints each array element on its own line (raw mode, not a tty).
        assert out == b"subscribe\nnews\n1\nmessage\nnews\nhello\nmessage\nnews\nbye\n"
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
