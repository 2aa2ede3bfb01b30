"""Shared pieces of the persistence tests (test_persistence.py, test_dump_restore.py): the
reference redis-server, a CRC-64/Jones like Redis's crc64.c, a hand-made RDB file builder, and
one dataset that covers every type in each of its encodings.

The dataset is a list of commands, so the same data can be built on keyloom and on
redis-server and compared value by value (DEBUG DIGEST-VALUE, OBJECT ENCODING, DUMP)."""

import os
import random
import shutil
import struct

from klserver import Mode, RespError, encode_command

REF_BINARY = os.environ.get("KEYLOOM_REFERENCE_SERVER") or shutil.which("redis-server") or \
    "/usr/bin/redis-server"
CHECK_RDB = shutil.which("redis-check-rdb") or "/usr/bin/redis-check-rdb"
REF_MODE = Mode(server=REF_BINARY, tls=False, io_threads=1)
ZERO = b"0" * 40

# ---- CRC-64/Jones (reflected, init 0, no final xor): Redis's crc64() -------------------------

_POLY = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 reflected
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc64(data, crc=0):
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA  # Redis's crc64 self-test vector


def payload_with_version(payload, version):
    """A DUMP payload with its 2-byte RDB version replaced and the CRC64 recomputed."""
    body = payload[:-10] + struct.pack("<H", version)
    return body + struct.pack("<Q", crc64(body))


def payload_footer_ok(payload):
    body, crc = payload[:-8], struct.unpack("<Q", payload[-8:])[0]
    return crc64(body) == crc


# ---- hand-made RDB files -------------------------------------------------------------------

def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + struct.pack(">I", n)


def rdb_str(s):
    s = s.encode() if isinstance(s, str) else s
    return rdb_len(len(s)) + s


def rdb_file(body, version=10, checksum=True):
    """REDIS<version> + body + EOF + CRC64 trailer (zero when checksum is False)."""
    data = b"REDIS%04d" % version + body + b"\xff"
    return data + struct.pack("<Q", crc64(data) if checksum else 0)


# ---- the dataset -----------------------------------------------------------------------------

_rng = random.Random(20261207)
BIN = bytes(_rng.getrandbits(8) for _ in range(300))     # incompressible
BIGKEY = b"k\x00\xff" + bytes(range(256)) * 12           # a 3 KB binary key name
SPECIAL_SCORES = ["-0.0", "inf", "-inf", "1e17", "0.1", "1.5", "-2.5e-300", "4503599627370497",
                  "0.30000000000000004", "-12"]
DBS = (0, 1, 4, 9, 15)  # databases holding keys; 2, 3, 5-8, 10-14 stay empty


def _zargs(scores, prefix):
    out = []
    for i, s in enumerate(scores):
        out += [s, "%s%d" % (prefix, i)]
    return out


def dataset(big_list_element=True):
    """(commands, {(db, key): expected OBJECT ENCODING}). big_list_element adds a list with an
    element over list-max-listpack-size's 8 KB (a node of its own)."""
    cmds, enc = [], {}
    db = [0]

    def A(*c):
        cmds.append(c)

    def E(key, e):
        enc[(db[0], key.encode() if isinstance(key, str) else key)] = e

    def select(n):
        db[0] = n
        A("SELECT", str(n))

    select(0)
    A("SET", "s:int", "12345"), E("s:int", "int")
    A("SET", "s:min", "-9223372036854775808"), E("s:min", "int")
    A("SET", "s:emb", "hello world"), E("s:emb", "embstr")
    A("SET", "s:20", "y" * 20), E("s:20", "embstr")
    A("SET", "s:21", "y" * 21), E("s:21", "embstr")
    A("SET", "s:raw", "r" * 100), E("s:raw", "raw")
    A("SET", "s:bin", BIN), E("s:bin", "raw")
    A("SET", "s:big", "abcdefgh" * 4000), E("s:big", "raw")
    A("SET", "s:empty", ""), E("s:empty", "embstr")
    A("SET", BIGKEY, BIN[:50]), E(BIGKEY, "raw")
    # lists: one listpack node; many nodes; many nodes with the inner ones compressed
    A("RPUSH", "l:small", "a", "1", "-3", "", "x" * 50), E("l:small", "quicklist")
    for i in range(40):
        A("RPUSH", "l:big", *["e%d-%s" % (i * 20 + j, "y" * ((i * 7 + j) % 90))
                              for j in range(20)])
        A("LPUSH", "l:big", str(i * 1000 - 7), str(i))
    E("l:big", "quicklist")
    A("CONFIG", "SET", "list-compress-depth", "1")
    for i in range(40):
        A("RPUSH", "l:comp", *["c%d-%s" % (i * 20 + j, "q" * ((i * 5 + j) % 80))
                               for j in range(20)])
    A("CONFIG", "SET", "list-compress-depth", "0")
    E("l:comp", "quicklist")
    if big_list_element:
        A("RPUSH", "l:huge", "head", "z" * 9000, "mid", BIN * 40, "tail"), E("l:huge", "quicklist")
    # hashes
    A("HSET", "h:small", "f1", "v1", "n", "123", "neg", "-1", "empty", "", "9", "nine")
    E("h:small", "listpack")
    A("HSET", "h:big", *[x for i in range(600)
                        for x in ("field%d" % i, str(i) if i % 3 else "v" * (i % 70))])
    E("h:big", "hashtable")
    A("HSET", "h:longval", "a", "1", "b", "w" * 100), E("h:longval", "hashtable")
    # sets
    A("SADD", "set:int", "1", "2", "3", "-5", "100000", "-9223372036854775808")
    E("set:int", "intset")
    A("SADD", "set:intbig", *[str(i * 3 - 500) for i in range(600)]), E("set:intbig", "hashtable")
    A("SADD", "set:str", "a", "b", "c", "12", "", "long" * 10), E("set:str", "hashtable")
    # sorted sets
    A("ZADD", "z:small", *_zargs(SPECIAL_SCORES, "m")), E("z:small", "listpack")
    A("ZADD", "z:big", *[x for i in range(200) for x in (str(i / 7.0), "b%d" % i)])
    A("ZADD", "z:big", *_zargs(SPECIAL_SCORES, "m")), E("z:big", "skiplist")
    A("ZADD", "z:longmember", "1.5", "m" * 80, "-0.0", "negzero", "1e17", "big")
    E("z:longmember", "skiplist")
    # keys with a TTL
    A("SET", "ttl:s", "v", "EX", "10000"), E("ttl:s", "embstr")
    A("HSET", "ttl:h", "f", "v"), E("ttl:h", "listpack")
    A("PEXPIRE", "ttl:h", "5000000")
    A("RPUSH", "ttl:l", "a", "b"), E("ttl:l", "quicklist")
    A("PEXPIREAT", "ttl:l", "99999999999999")
    # other databases, with empty ones between
    select(1)
    A("SET", "s:int", "12346"), E("s:int", "int")
    A("SADD", "set:int", "4", "5"), E("set:int", "intset")
    select(4)
    A("ZADD", "z", "1", "a", "2", "b"), E("z", "listpack")
    A("SET", "ttl:x", "1", "PX", "50000000"), E("ttl:x", "int")
    select(9)
    A("RPUSH", "only", "x"), E("only", "quicklist")
    select(15)
    A("HSET", "h", "k", "v"), E("h", "listpack")
    A("SET", BIGKEY, "other db"), E(BIGKEY, "embstr")
    A("SELECT", "0")
    return cmds, enc


def pipeline(c, cmds, chunk=256):
    """Send commands in pipelined chunks; assert that none failed. Returns the replies."""
    out = []
    for i in range(0, len(cmds), chunk):
        part = cmds[i:i + chunk]
        c.send(b"".join(encode_command(*cmd) for cmd in part))
        for cmd in part:
            reply = c.read_reply()[1]
            assert not isinstance(reply, RespError), (cmd[:2], reply)
            out.append(reply)
    return out


def build(c, big_list_element=True):
    """Build the dataset on a RawClient's server; returns the expected encodings."""
    cmds, enc = dataset(big_list_element)
    pipeline(c, cmds)
    return enc


def state(c, dbs=DBS):
    """{(db, key): (encoding, pttl, digest-value)} and the dataset digest."""
    out = {}
    for db in dbs:
        assert c.execute("SELECT", str(db)) == b"OK"
        keys = c.execute("KEYS", "*")
        if not keys:
            continue
        digests = c.execute("DEBUG", "DIGEST-VALUE", *keys)
        for k, d in zip(keys, digests):
            out[(db, k)] = (c.execute("OBJECT", "ENCODING", k), c.execute("PTTL", k), d)
    assert c.execute("SELECT", "0") == b"OK"
    return out, c.execute("DEBUG", "DIGEST")


def assert_same_state(before, after, ttl_slack_ms=5000, what=""):
    (a, da), (b, db_) = before, after
    assert da == db_, "%s: DEBUG DIGEST %r != %r" % (what, da, db_)
    assert sorted(a) == sorted(b), "%s: key sets differ" % what
    for k in a:
        (ea, ta, ga), (eb, tb, gb) = a[k], b[k]
        assert ga == gb, "%s: DIGEST-VALUE of %r" % (what, k)
        assert ea == eb, "%s: OBJECT ENCODING of %r: %r then %r" % (what, k, ea, eb)
        if ta < 0:
            assert tb == ta, "%s: TTL of %r: %r then %r" % (what, k, ta, tb)
        else:
            assert 0 < tb <= ta and ta - tb <= ttl_slack_ms, \
                "%s: PTTL of %r: %r then %r" % (what, k, ta, tb)


def check_encodings(c, enc):
    for (db, key), e in enc.items():
        assert c.execute("SELECT", str(db)) == b"OK"
        assert c.execute("OBJECT", "ENCODING", key) == e.encode(), (db, key[:20], e)
    assert c.execute("SELECT", "0") == b"OK"


def info(c, section="persistence"):
    text = c.execute("INFO", section)
    assert isinstance(text, bytes), text
    out = {}
    for line in text.decode().split("\r\n"):
        if line and not line.startswith("#"):
            k, _, v = line.partition(":")
            out[k] = v
    return out


def _skip_string(data, pos):
    b = data[pos]
    kind = b >> 6
    if kind == 3:
        enc = b & 0x3F
        if enc in (0, 1, 2):
            return pos + 1 + (1, 2, 4)[enc]
        assert enc == 3, "unknown string encoding %d at %d" % (enc, pos)
        clen, pos = _read_len(data, pos + 1)
        _, pos = _read_len(data, pos)
        return pos + clen
    n, pos = _read_len(data, pos)
    return pos + n


def _read_len(data, pos):
    b = data[pos]
    kind = b >> 6
    if kind == 0:
        return b & 0x3F, pos + 1
    if kind == 1:
        return ((b & 0x3F) << 8) | data[pos + 1], pos + 2
    if b == 0x80:
        return struct.unpack(">I", data[pos + 1:pos + 5])[0], pos + 5
    assert b == 0x81, "bad length byte %#x at %d" % (b, pos)
    return struct.unpack(">Q", data[pos + 1:pos + 9])[0], pos + 9


def _string_at(data, pos):
    end = _skip_string(data, pos)
    b = data[pos]
    if b >> 6 == 3 and (b & 0x3F) < 3:
        size = (1, 2, 4)[b & 0x3F]
        value = int.from_bytes(data[pos + 1:pos + 1 + size], "little", signed=True)
        return str(value).encode(), end
    n, start = _read_len(data, pos)
    return data[start:start + n], end


def rdb_split(data):
    """(version, [(aux name, aux value)], body): body runs from after the AUX fields to the
    end of the file, trailer included."""
    assert data[:5] == b"REDIS"
    pos, aux = 9, []
    while data[pos] == 0xFA:
        name, pos = _string_at(data, pos + 1)
        value, pos = _string_at(data, pos)
        aux.append((name, value))
    return int(data[5:9]), aux, data[pos:]
