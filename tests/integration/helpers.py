"""Small assertion helpers for the integration tests (RESP byte builders and friends)."""

import socket

from klserver import RespError, wait_until

__all__ = ["RespError", "wait_until", "OK", "NIL", "NULL3", "EMPTY_ARRAY", "b", "err", "bulk",
           "integer", "simple", "array", "bulks", "wrong_args", "SYNTAX", "NOT_INT", "NOT_FLOAT",
           "WRONGTYPE", "call", "calls", "read_nothing", "info_dict"]

OK = b"+OK\r\n"
NIL = b"$-1\r\n"          # RESP2 null bulk
NULL3 = b"_\r\n"          # RESP3 null
EMPTY_ARRAY = b"*0\r\n"


def b(x):
    if isinstance(x, bytes):
        return x
    return str(x).encode()


def err(text):
    """The raw bytes of the error reply with this text (e.g. err("ERR syntax error"))."""
    return b"-" + b(text) + b"\r\n"


def bulk(x):
    x = b(x)
    return b"$%d\r\n%s\r\n" % (len(x), x)


def integer(n):
    return b":%d\r\n" % n


def simple(x):
    return b"+" + b(x) + b"\r\n"


def array(*items):
    """Array of already-encoded items."""
    return b"*%d\r\n" % len(items) + b"".join(items)


def bulks(*xs):
    return array(*[NIL if x is None else bulk(x) for x in xs])


def wrong_args(cmd):
    return err("ERR wrong number of arguments for '%s' command" % cmd)


SYNTAX = err("ERR syntax error")
NOT_INT = err("ERR value is not an integer or out of range")
NOT_FLOAT = err("ERR value is not a valid float")
WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")


def call(c, *args):
    """Send one command on a RawClient and return the raw reply bytes."""
    return c.call(*args)[0]


def calls(c, *cmds):
    """Pipeline several commands (tuples) and return their raw replies."""
    from klserver import encode_command
    c.send(b"".join(encode_command(*cmd) for cmd in cmds))
    return [c.read_reply()[0] for _ in cmds]


def read_nothing(c, seconds=0.3):
    """Assert that no reply arrives within `seconds` (and the connection stays open)."""
    c.settimeout(seconds)
    try:
        data = c.sock.recv(65536)
    except (socket.timeout, TimeoutError):
        data = None
    finally:
        c.settimeout(10)
    assert data is None, "unexpected data %r" % (data,)


def info_dict(text):
    """Parse INFO output (bytes or str) into {section: {field: value}} with str values."""
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    section = None
    for line in text.split("\r\n"):
        if not line:
            continue
        if line.startswith("# "):
            section = line[2:].strip().lower()
            out[section] = {}
            continue
        assert section is not None, "field before any section header: %r" % line
        k, sep, v = line.partition(":")
        assert sep, "INFO line without ':': %r" % line
        out[section][k] = v
    return out
