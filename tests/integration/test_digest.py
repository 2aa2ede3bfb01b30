"""DEBUG DIGEST and DEBUG DIGEST-VALUE must be Redis 7.0's values bit for bit: the persistence
tests compare keyloom's dataset with redis-server's through them. Every test builds the same
data on keyloom (the shared server, in the suite's mode) and on a plain redis-server 7.0
(KEYLOOM_REFERENCE_SERVER, default the redis-server on PATH) started here, then compares the
digests. The data covers every type in each of its encodings (asserted through OBJECT
ENCODING, so a changed conversion threshold cannot silently shrink the coverage), the score
texts that differ between %.17g and shorter formats, keys with a TTL and several databases."""

import os
import shutil

import pytest

from klserver import Mode, RespError, Server

pytestmark = pytest.mark.needs_types

ZERO = b"0" * 40
REF_BINARY = os.environ.get("KEYLOOM_REFERENCE_SERVER") or shutil.which("redis-server") or \
    "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def ref_server():
    """A plain redis-server 7.0, the reference; a missing binary fails the tests."""
    assert os.path.exists(REF_BINARY), "reference redis-server not found: %s" % REF_BINARY
    srv = Server(Mode(server=REF_BINARY, tls=False, io_threads=1)).start()
    yield srv
    srv.stop()


class Pair:
    """One connection to keyloom and one to redis-server; run() sends a command to both and
    asserts that the replies are the same."""

    def __init__(self, kl, ref):
        self.a = kl.raw()
        self.b = ref.raw()
        for c in (self.a, self.b):
            assert c.execute("FLUSHALL") == b"OK"
            assert c.execute("SELECT", "0") == b"OK"

    def run(self, *cmd):
        x = self.a.execute(*cmd)
        y = self.b.execute(*cmd)
        assert x == y, "%r: keyloom %r, redis-server %r" % (cmd, x, y)
        return x

    def kl(self, *cmd):
        return self.a.execute(*cmd)

    def close(self):
        self.a.close()
        self.b.close()


@pytest.fixture
def pair(server, ref_server):
    p = Pair(server, ref_server)
    yield p
    p.close()


def _select(p, db):
    assert p.run("SELECT", str(db)) == b"OK"


def _digest(p):
    d = p.run("DEBUG", "DIGEST")
    assert isinstance(d, bytes) and len(d) == 40, d
    return d


def _keys(p):
    ka, kb = sorted(p.a.execute("KEYS", "*")), sorted(p.b.execute("KEYS", "*"))
    assert ka == kb
    return ka


def _digest_values(p, keys):
    vals = p.run("DEBUG", "DIGEST-VALUE", *keys)
    assert isinstance(vals, list) and len(vals) == len(keys)
    for k, v in zip(keys, vals):
        assert v != ZERO, "digest of existing key %r is zero" % k
    return dict(zip(keys, vals))


def _expect_encoding(p, key, enc):
    assert p.run("OBJECT", "ENCODING", key) == enc.encode(), key


SPECIAL_SCORES = ["1.5", "-0.0", "0", "inf", "-inf", "+inf", "1e17", "3.0", "0.1",
                  "-2.5e-300", "123456789012345678", "1.7976931348623157e308", "4503599627370497",
                  "-12", "0.30000000000000004"]


def _build_db0(p):
    _select(p, 0)
    # strings
    p.run("SET", "s:int", "12345")
    p.run("SET", "s:neg", "-7")
    p.run("SET", "s:zero", "0")
    p.run("SET", "s:max", "9223372036854775807")
    p.run("SET", "s:min", "-9223372036854775808")
    p.run("SET", "s:notint", "007")
    p.run("SET", "s:emb", "hello world")
    p.run("SET", "s:raw", "r" * 100)
    p.run("SET", "s:empty", "")
    p.run("SET", "s:bin", b"\x00\xff\r\n binary \x01")
    p.run("APPEND", "s:appended", "abc")
    p.run("APPEND", "s:appended", "def")
    p.run("INCRBYFLOAT", "s:float", "1.5")
    p.run("INCR", "s:counter")
    p.run("SETRANGE", "s:range", "5", "x")
    _expect_encoding(p, "s:int", "int")
    _expect_encoding(p, "s:emb", "embstr")
    _expect_encoding(p, "s:raw", "raw")
    _expect_encoding(p, "s:appended", "raw")
    # lists: a small one (one listpack node) and a long one over many quicklist nodes, built
    # from both ends, with integer and string elements of varied sizes
    p.run("RPUSH", "l:small", "a", "b", "1", "-3", "", "x" * 50)
    for i in range(60):
        p.run("RPUSH", "l:big", *["e%d-%s" % (i * 20 + j, "y" * ((i * 7 + j) % 90))
                                  for j in range(20)])
        p.run("LPUSH", "l:big", str(i * 1000 - 7), str(i))
    p.run("LSET", "l:big", "500", "replaced")
    _expect_encoding(p, "l:small", "quicklist")
    info = p.kl("DEBUG", "OBJECT", "l:big")
    nodes = int(info.split(b"ql_nodes:")[1].split()[0])
    assert nodes >= 4, info
    # sets: intset, and hashtable by size, by a string member and by a long integer
    p.run("SADD", "set:int", "1", "2", "3", "-5", "100000", "-9223372036854775808")
    p.run("SADD", "set:intbig", *[str(i * 3 - 500) for i in range(600)])
    p.run("SADD", "set:str", "a", "b", "c", "12", "")
    p.run("SADD", "set:mixed", *[str(i) for i in range(20)])
    p.run("SADD", "set:mixed", "not-a-number")
    _expect_encoding(p, "set:int", "intset")
    _expect_encoding(p, "set:intbig", "hashtable")
    _expect_encoding(p, "set:str", "hashtable")
    _expect_encoding(p, "set:mixed", "hashtable")
    # sorted sets: listpack, and skiplist by size (converted from a listpack holding the
    # special scores) and by a long member; integer-looking members
    args = []
    for i, s in enumerate(SPECIAL_SCORES):
        args += [s, "m%d" % i]
    p.run("ZADD", "z:small", *args, "42", "77", "2.25", "-1")
    p.run("ZADD", "z:conv", *args)
    p.run("ZADD", "z:conv", *[x for i in range(200) for x in (str(i * 0.37), "c%d" % i)])
    p.run("ZADD", "z:big", *[x for i in range(300) for x in (str(i / 7.0), str(i))])
    p.run("ZADD", "z:big", *args)  # the special scores arrive after the conversion
    p.run("ZADD", "z:longmember", "1.5", "m" * 80, "-0.0", "neg-zero", "1e17", "big")
    p.run("ZINCRBY", "z:small", "0.1", "m6")
    _expect_encoding(p, "z:small", "listpack")
    _expect_encoding(p, "z:conv", "skiplist")
    _expect_encoding(p, "z:big", "skiplist")
    _expect_encoding(p, "z:longmember", "skiplist")
    # hashes: listpack, and hashtable by size and by a long value, values inline (<= 7
    # bytes), long, integers and empty
    p.run("HSET", "h:small", "f1", "v1", "n", "123", "neg", "-1", "empty", "", "9", "nine")
    p.run("HSET", "h:big", *[x for i in range(600)
                            for x in ("field%d" % i, str(i) if i % 3 else "v" * (i % 70))])
    p.run("HSET", "h:longval", "a", "1", "b", "w" * 100)
    p.run("HINCRBY", "h:small", "n", "7")
    p.run("HINCRBYFLOAT", "h:big", "field1", "0.5")
    _expect_encoding(p, "h:small", "listpack")
    _expect_encoding(p, "h:big", "hashtable")
    _expect_encoding(p, "h:longval", "hashtable")
    # keys with a TTL, of several types
    p.run("SET", "ttl:s", "v", "EX", "10000")
    p.run("RPUSH", "ttl:l", "a", "b")
    p.run("EXPIRE", "ttl:l", "10000")
    p.run("HSET", "ttl:h", "f", "v")
    p.run("PEXPIREAT", "ttl:h", "99999999999999")


def _build_other_dbs(p):
    _select(p, 1)
    p.run("SET", "s:int", "12346")  # a name also used in db 0
    p.run("SADD", "set:int", "4", "5")
    p.run("ZADD", "z", "1", "a", "2", "b")
    p.run("SET", "ttl:x", "1", "PX", "50000000")
    _select(p, 5)
    p.run("RPUSH", "only", "x")
    _select(p, 15)
    p.run("HSET", "h", "k", "v")
    _select(p, 0)


def _compare_all(p, dbs=(0, 1, 5, 15)):
    """Whole-dataset and per-key digests equal on both servers; returns them."""
    out = {"all": _digest(p)}
    for db in dbs:
        _select(p, db)
        keys = _keys(p)
        out[db] = _digest_values(p, keys) if keys else {}
    _select(p, 0)
    return out


def test_empty_dataset_is_zero(pair):
    assert _digest(pair) == ZERO
    assert pair.run("DEBUG", "DIGEST-VALUE", "nokey") == [ZERO]
    assert pair.run("DEBUG", "DIGEST-VALUE") == []


def test_every_type_and_encoding_matches_redis(pair):
    _build_db0(pair)
    _build_other_dbs(pair)
    d = _compare_all(pair)
    assert d["all"] != ZERO
    assert len(d[0]) == 30
    # a missing key among present ones is 40 zeros, in its place
    reply = pair.run("DEBUG", "DIGEST-VALUE", "s:int", "missing", "l:small")
    assert reply == [d[0][b"s:int"], ZERO, d[0][b"l:small"]]
    # the same value under the same name in another database digests the same (DIGEST-VALUE
    # does not include the key or the database)
    _select(pair, 1)
    pair.run("SET", "s:int", "12345")
    assert pair.run("DEBUG", "DIGEST-VALUE", "s:int") == [d[0][b"s:int"]]


def test_digest_changes_with_the_data(pair):
    _build_db0(pair)
    _build_other_dbs(pair)
    base = _compare_all(pair)
    seen = {base["all"]}
    changes = [
        (0, "s:int", ("SET", "s:int", "12346")),
        (0, "s:emb", ("SET", "s:emb", "hello worle")),
        (0, "l:small", ("LSET", "l:small", "0", "A")),
        (0, "l:big", ("RPOP", "l:big")),
        (0, "set:int", ("SADD", "set:int", "7")),
        (0, "set:str", ("SREM", "set:str", "")),
        (0, "z:small", ("ZADD", "z:small", "2.5", "m0")),
        (0, "z:big", ("ZADD", "z:big", "1e-5", "5")),
        (0, "h:small", ("HSET", "h:small", "f1", "v2")),
        (0, "h:big", ("HDEL", "h:big", "field7")),
        (0, "ttl:s", ("PERSIST", "ttl:s")),
        (0, "s:zero", ("EXPIRE", "s:zero", "5000")),
        (15, "h", ("HSET", "h", "k", "w")),
    ]
    for db, key, cmd in changes:
        _select(pair, db)
        before = pair.run("DEBUG", "DIGEST-VALUE", key)[0]
        pair.run(*cmd)
        after = pair.run("DEBUG", "DIGEST-VALUE", key)[0]
        assert after != before, cmd
        total = _digest(pair)
        assert total not in seen, cmd
        seen.add(total)
    # moving a key to another database changes the dataset digest, not the value's
    _select(pair, 0)
    before = pair.run("DEBUG", "DIGEST-VALUE", "s:emb")[0]
    assert pair.run("MOVE", "s:emb", "3") == 1
    total = _digest(pair)
    assert total not in seen
    _select(pair, 3)
    assert pair.run("DEBUG", "DIGEST-VALUE", "s:emb")[0] == before
    _compare_all(pair, dbs=(0, 1, 3, 5, 15))
    # deleting everything brings back the empty digest
    pair.run("FLUSHALL")
    assert _digest(pair) == ZERO


def test_order_rules(pair):
    """Lists are ordered; sets, hashes, sorted sets and keys are not."""
    pair.run("RPUSH", "l1", "a", "b", "c")
    pair.run("RPUSH", "l2", "c", "b", "a")
    pair.run("SADD", "s1", "a", "b", "c")
    pair.run("SADD", "s2", "c", "b", "a")
    pair.run("HSET", "h1", "a", "1", "b", "2")
    pair.run("HSET", "h2", "b", "2", "a", "1")
    pair.run("ZADD", "z1", "1", "a", "2", "b")
    pair.run("ZADD", "z2", "2", "b", "1", "a")
    l1, l2, s1, s2, h1, h2, z1, z2 = pair.run("DEBUG", "DIGEST-VALUE", "l1", "l2", "s1", "s2",
                                              "h1", "h2", "z1", "z2")
    assert l1 != l2
    assert s1 == s2 and h1 == h2 and z1 == z2
    # a hash's field and value are bound together: swapping values changes it
    pair.run("HSET", "h2", "a", "2", "b", "1")
    assert pair.run("DEBUG", "DIGEST-VALUE", "h2")[0] != h1
    # integer-encoded and string-encoded values with the same text digest the same
    pair.run("SET", "i1", "100")
    pair.run("SET", "i2", "1")
    pair.run("APPEND", "i2", "00")
    assert pair.kl("OBJECT", "ENCODING", "i1") == b"int"
    assert pair.kl("OBJECT", "ENCODING", "i2") == b"raw"
    i1, i2 = pair.run("DEBUG", "DIGEST-VALUE", "i1", "i2")
    assert i1 == i2
    _compare_all(pair, dbs=(0,))


def test_negative_zero_scores_by_encoding(pair):
    """A listpack stores -0 as the integer 0 (so it prints "0"); a skiplist keeps -0 ("-0")
    unless it was converted from a listpack. Whatever Redis does, keyloom must match."""
    pair.run("ZADD", "lp", "-0.0", "a")
    pair.run("ZADD", "sl", "-0.0", "a", "1", "x" * 100)
    pair.run("ZADD", "conv", "-0.0", "a")
    pair.run("ZADD", "conv", "1", "x" * 100)
    pair.run("CONFIG", "SET", "zset-max-listpack-entries", "0")
    try:
        pair.run("ZADD", "sl0", "-0.0", "a")
        _expect_encoding(pair, "sl0", "skiplist")
    finally:
        pair.run("CONFIG", "SET", "zset-max-listpack-entries", "128")
    _compare_all(pair, dbs=(0,))


def test_digest_value_ignores_expiry_time_but_not_ttl(pair):
    pair.run("SET", "a", "v", "EX", "100")
    pair.run("SET", "b", "v", "EX", "90000")
    pair.run("SET", "c", "v")
    a, b, c = pair.run("DEBUG", "DIGEST-VALUE", "a", "b", "c")
    assert a == b and a != c
    _compare_all(pair, dbs=(0,))


def test_errors_and_help(pair):
    for cmd in (("DEBUG", "DIGEST", "x"), ("DEBUG", "DIGEST", "x", "y")):
        reply = pair.run(*cmd)
        assert isinstance(reply, RespError), reply
    help_kl = pair.kl("DEBUG", "HELP")
    for line in (b"DIGEST", b"    Output a hex signature representing the current DB content.",
                 b"DIGEST-VALUE <key> [<key> ...]",
                 b"    Output a hex signature of the values of all the specified keys."):
        assert line in help_kl, line
    assert help_kl.index(b"DIGEST") + 2 == help_kl.index(b"DIGEST-VALUE <key> [<key> ...]")
