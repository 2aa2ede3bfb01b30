"""Keyspace notifications (notify-keyspace-events): which commands raise which events, in
which order, for which classes, on __keyspace@<db>__:<key> and __keyevent@<db>__:<event>.

The expected event lists are redis-server 7.0.15's (this file passes against redis-server
itself: KEYLOOM_SERVER=/usr/bin/redis-server KEYLOOM_TEST_REFERENCE=1). A listener connection
pattern-subscribes to every notification channel and also subscribes to a private sync channel;
after the commands under test, a PUBLISH on the sync channel marks the end, so every event
the commands raised has arrived before it (one executor, one delivery order) and no test
sleeps to collect events."""

import itertools
import time

import pytest

from helpers import OK, call, err, wait_until

_sync_ids = itertools.count()


class Listener:
    def __init__(self, server):
        self.server = server
        self.c = server.raw()
        self.sync = b"__sync__:%d" % next(_sync_ids)
        self.c.send_command("PSUBSCRIBE", "__key*__:*")
        self.c.send_command("SUBSCRIBE", self.sync)
        self.c.read_reply()
        self.c.read_reply()

    def collect(self, timeout_events=1000):
        """Events (channel, payload) that arrived before a sync message published now."""
        with self.server.raw() as p:
            assert p.execute("PUBLISH", self.sync, "end") == 1
        out = []
        for _ in range(timeout_events):
            v = self.c.read_reply()[1]
            if v[0] == b"message" and v[1] == self.sync:
                return out
            assert v[0] == b"pmessage", v
            out.append((v[2], v[3]))
        raise AssertionError("no sync message after %d events" % timeout_events)

    def close(self):
        self.c.close()


@pytest.fixture
def listener(server):
    lst = Listener(server)
    yield lst
    lst.close()


@pytest.fixture
def notify(config_set):
    """notify(flags): CONFIG SET notify-keyspace-events for this test."""
    def setter(flags):
        config_set("notify-keyspace-events", flags)
    return setter


def ev(key, event, db=0, space=True, keyevent=True):
    """The notifications of one event, keyspace first (Redis's order)."""
    key = key.encode() if isinstance(key, str) else key
    out = []
    if space:
        out.append((b"__keyspace@%d__:%s" % (db, key), event.encode()))
    if keyevent:
        out.append((b"__keyevent@%d__:%s" % (db, event.encode()), key))
    return out


def evs(*pairs, db=0):
    out = []
    for key, event in pairs:
        out += ev(key, event, db)
    return out


def run(c, *cmds):
    for cmd in cmds:
        c.execute(*cmd.split())


# ---------------------------------------------------------------- configuration

def test_off_by_default(server, raw, listener):
    assert raw.execute("CONFIG", "GET", "notify-keyspace-events") == [b"notify-keyspace-events",
                                                                      b""]
    run(raw, "SET k v", "DEL k", "INCR n", "GET missing", "EXPIRE n 100")
    assert listener.collect() == []


@pytest.mark.parametrize("flags,shown", [
    ("KEA", b"AKE"), ("", b""), ("KEAmn", b"AKEm"), ("Kx", b"xK"), ("Eg$", b"g$E"),
    ("Klshz", b"lshzK"), ("$lshzxetd", b"$lshzxetd"), ("nm", b"nm"), ("AKEnm", b"AKEm"),
])
def test_config_flags_round_trip(raw, notify, flags, shown):
    notify(flags)
    assert raw.execute("CONFIG", "GET", "notify-keyspace-events") == [b"notify-keyspace-events",
                                                                      shown]


def test_config_rejects_unknown_class(raw, notify):
    notify("KEA")
    assert call(raw, "CONFIG", "SET", "notify-keyspace-events", "KEz?") == err(
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    assert raw.execute("CONFIG", "GET", "notify-keyspace-events")[1] == b"AKE"


def test_config_set_takes_effect_at_once(raw, listener, notify):
    notify("KEA")
    raw.execute("SET", "a", "1")
    notify("")
    raw.execute("SET", "b", "1")
    notify("E$")
    raw.execute("SET", "c", "1")
    assert listener.collect() == ev("a", "set") + ev("c", "set", space=False)


# ---------------------------------------------------------------- classes and channels

def test_keyspace_only_and_keyevent_only(raw, listener, notify):
    notify("K$")
    run(raw, "SET k v", "DEL k")          # DEL is generic: not selected
    notify("Eg")
    run(raw, "SET k v", "DEL k")          # SET is a string event: not selected
    assert listener.collect() == (ev("k", "set", keyevent=False) +
                                  ev("k", "del", space=False))


def test_flags_without_k_or_e_publish_nothing(raw, listener, notify):
    notify("g$")
    run(raw, "SET k v", "DEL k")
    assert listener.collect() == []


def test_other_databases(raw, listener, notify):
    notify("KEA")
    run(raw, "SELECT 9", "SET k v", "DEL k", "SELECT 0", "SET k v")
    assert listener.collect() == ev("k", "set", db=9) + ev("k", "del", db=9) + ev("k", "set")


def test_binary_key_names(raw, listener, notify):
    notify("KE$")
    key = b"k\x00\r\n \xff"
    raw.execute("SET", key, "v")
    assert listener.collect() == ev(key, "set")


def test_new_and_keymiss_are_not_part_of_A(raw, listener, notify):
    notify("KEA")
    run(raw, "GET nokey", "SET k v")
    assert listener.collect() == ev("k", "set")
    notify("KEn")
    run(raw, "GET nokey2", "SET k2 v", "SET k2 w", "APPEND k3 x")
    assert listener.collect() == ev("k2", "new") + ev("k3", "new")
    notify("KEm")
    run(raw, "GET nokey3", "SET k4 v", "GET k4", "MGET a k4 b", "EXISTS c", "TTL d",
        "OBJECT ENCODING e")
    assert listener.collect() == evs(("nokey3", "keymiss"), ("a", "keymiss"), ("b", "keymiss"),
                                     ("c", "keymiss"), ("d", "keymiss"))


# ---------------------------------------------------------------- strings

STRING_CASES = [
    (["SET k v"], [("k", "new"), ("k", "set")]),
    (["SET k v", "SET k w"], [("k", "new"), ("k", "set"), ("k", "set")]),
    (["SET k v EX 100"], [("k", "new"), ("k", "set"), ("k", "expire")]),
    (["SET k v PX 100000 GET"], [("k", "keymiss"), ("k", "new"), ("k", "set"), ("k", "expire")]),
    (["SET k v NX", "SET k w NX", "SET x v XX"], [("k", "new"), ("k", "set")]),
    (["SET k v", "SET k w KEEPTTL"], [("k", "new"), ("k", "set"), ("k", "set")]),
    (["SETNX k v", "SETNX k w"], [("k", "new"), ("k", "set")]),
    (["SETEX k 100 v"], [("k", "new"), ("k", "set"), ("k", "expire")]),
    (["PSETEX k 100000 v"], [("k", "new"), ("k", "set"), ("k", "expire")]),
    (["GETSET k v", "GETSET k w"], [("k", "keymiss"), ("k", "new"), ("k", "set"), ("k", "set")]),
    (["MSET a 1 b 2"], [("a", "new"), ("a", "set"), ("b", "new"), ("b", "set")]),
    (["MSETNX a 1 b 2", "MSETNX a 3 c 4"], [("a", "new"), ("a", "set"), ("b", "new"),
                                             ("b", "set")]),
    (["APPEND k x", "APPEND k y", "APPEND k ''"], [("k", "new"), ("k", "append"),
                                                   ("k", "append"), ("k", "append")]),
    (["SETRANGE k 0 abc", "SETRANGE k 1 x", "SETRANGE k 1 ''", "SETRANGE k2 0 ''"],
     [("k", "new"), ("k", "setrange"), ("k", "setrange")]),
    (["INCR k", "DECR k", "INCRBY k 5", "DECRBY k 2", "INCRBY k 0"],
     [("k", "new")] + [("k", "incrby")] * 5),
    (["INCRBYFLOAT k 1.5", "INCRBYFLOAT k 1"], [("k", "new"), ("k", "incrbyfloat"),
                                                 ("k", "incrbyfloat")]),
    (["SET k v", "GETDEL k", "GETDEL k"], [("k", "new"), ("k", "set"), ("k", "del"),
                                           ("k", "keymiss")]),
    (["SET k v", "GETEX k", "GETEX k EX 100", "GETEX k PERSIST", "GETEX k PERSIST",
      "GETEX k PXAT 1"],
     [("k", "new"), ("k", "set"), ("k", "expire"), ("k", "persist"), ("k", "del")]),
    (["SET a 1", "SET b 2", "LCS a b", "GETRANGE a 0 1", "STRLEN b", "GET a", "MGET a b"],
     [("a", "new"), ("a", "set"), ("b", "new"), ("b", "set")]),
]


@pytest.mark.parametrize("cmds,expected", STRING_CASES, ids=[" / ".join(c[0]) for c in
                                                             STRING_CASES])
def test_string_events(raw, listener, notify, cmds, expected):
    notify("KEAmn")
    for cmd in cmds:
        args = [a if a != "''" else "" for a in cmd.split()]
        raw.execute(*args)
    assert listener.collect() == evs(*expected)


def test_string_class_only(raw, listener, notify):
    notify("KE$")
    run(raw, "SET k v EX 100", "INCR n", "DEL k")
    # The expire of SET ... EX is generic, DEL too.
    assert listener.collect() == evs(("k", "set"), ("n", "incrby"))


# ---------------------------------------------------------------- generic

GENERIC_CASES = [
    (["SET a 1", "DEL a b", "UNLINK a"], [("a", "del")]),
    (["SET a 1", "SET b 1", "UNLINK a b", "DEL a"], [("a", "del"), ("b", "del")]),
    (["SET k v", "EXPIRE k 100", "PEXPIRE k 100000", "EXPIREAT k 9999999999",
      "PEXPIREAT k 9999999999000", "EXPIRE k 100 NX", "PERSIST k", "PERSIST k", "PERSIST none"],
     [("k", "expire")] * 4 + [("k", "persist")]),
    (["SET k v", "EXPIRE k -1", "SET j v", "PEXPIREAT j 1", "EXPIRE none 10"],
     [("k", "del"), ("j", "del")]),
    (["SET a 1", "RENAME a b"], [("a", "rename_from"), ("b", "rename_to")]),
    (["SET a 1", "SET b 2", "RENAME a b"], [("a", "rename_from"), ("b", "rename_to")]),
    (["SET a 1", "RENAME a a", "RENAMENX a a"], []),
    (["SET a 1", "SET b 1", "RENAMENX a b", "RENAMENX a c"], [("a", "rename_from"),
                                                              ("c", "rename_to")]),
    (["SET a 1", "COPY a b", "COPY a b", "COPY a b REPLACE"], [("b", "copy_to"),
                                                                ("b", "copy_to")]),
    (["SET k 1", "SET j 1", "FLUSHDB", "SWAPDB 0 1", "TOUCH k", "TYPE k", "KEYS *"], []),
]


@pytest.mark.parametrize("cmds,expected", GENERIC_CASES, ids=[" / ".join(c[0]) for c in
                                                              GENERIC_CASES])
def test_generic_events(raw, listener, notify, cmds, expected):
    notify("KEg")
    run(raw, *cmds)
    assert listener.collect() == evs(*expected)


def test_rename_and_copy_create_the_destination(raw, listener, notify):
    notify("KEgn")
    run(raw, "SET a 1", "RENAME a b", "COPY b c")
    assert listener.collect() == evs(("a", "new"), ("b", "new"), ("a", "rename_from"),
                                     ("b", "rename_to"),
                                     ("c", "new"), ("c", "copy_to"))


def test_move_and_copy_to_other_db(raw, listener, notify):
    notify("KEgn")
    run(raw, "SET a 1", "MOVE a 3", "SELECT 3", "COPY a b DB 4")
    assert listener.collect() == (ev("a", "new") + ev("a", "new", db=3) + ev("a", "move_from") +
                                  ev("a", "move_to", db=3) + ev("b", "new", db=4) +
                                  ev("b", "copy_to", db=4))


# ---------------------------------------------------------------- expiry

def test_expired_on_access_lazy(server, raw, listener, notify):
    notify("KExm")
    raw.execute("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        run(raw, "SET k v PX 1", "SET j v PX 1", "SET keep v")
        time.sleep(0.01)
        run(raw, "GET k", "EXISTS j", "GET k")
        assert listener.collect() == evs(("k", "expired"), ("k", "keymiss"), ("j", "expired"),
                                         ("j", "keymiss"), ("k", "keymiss"))
        # Writes see expired keys too: SET on an expired key is expired, then new.
        notify("KEx$n")
        raw.execute("SET", "w", "v", "PX", "1")
        time.sleep(0.01)
        raw.execute("SET", "w", "again")
        assert listener.collect() == evs(("w", "new"), ("w", "set"), ("w", "expired"),
                                         ("w", "new"), ("w", "set"))
    finally:
        raw.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_expired_by_active_expiry(server, raw, listener, notify):
    notify("Ex")
    keys = [b"ax:%d" % i for i in range(20)]
    for k in keys:
        raw.execute("SET", k, "v", "PX", "30")
    raw.execute("SET", "persistent", "v")
    got = []
    deadline = time.monotonic() + 10
    while len(got) < len(keys) and time.monotonic() < deadline:
        got += listener.collect()
        if len(got) < len(keys):
            time.sleep(0.05)
    assert sorted(got) == sorted((b"__keyevent@0__:expired", k) for k in keys)
    assert raw.execute("DBSIZE") == 1


def test_expired_keyspace_channel_per_key(raw, listener, notify):
    notify("Kx")
    raw.execute("SET", "k", "v", "PX", "20")
    wait_until(lambda: listener.collect() == ev("k", "expired", keyevent=False), timeout=10,
               what="the expired event")


# ---------------------------------------------------------------- delivery to oneself

def test_resp3_client_gets_its_own_events_before_the_reply(server, notify):
    notify("KEA")
    with server.raw(protocol=3) as c:
        c.send_command("SUBSCRIBE", "__keyevent@0__:set", "__keyevent@0__:expire")
        c.read_reply()
        c.read_reply()
        c.send_command("SET", "k", "v")
        assert c.read_reply()[0] == (b">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n"
                                     b"$1\r\nk\r\n")
        assert c.read_reply()[0] == OK
        # EXPIRE replies before its event, as Redis does.
        c.send_command("EXPIRE", "k", "100")
        assert c.read_reply()[0] == b":1\r\n"
        assert c.read_reply()[0] == (b">3\r\n$7\r\nmessage\r\n$21\r\n__keyevent@0__:expire\r\n"
                                     b"$1\r\nk\r\n")


# ---------------------------------------------------------------- data types

def _check(raw, listener, flags, notify, cmds, expected):
    notify(flags)
    run(raw, *cmds)
    assert listener.collect() == evs(*expected)


@pytest.mark.needs_types
def test_list_events(raw, listener, notify):
    _check(raw, listener, "KElgn", notify,
           ["LPUSH l a b", "RPUSH l c", "LPUSHX l d", "RPUSHX nol x", "LSET l 0 z",
            "LINSERT l BEFORE z y", "LREM l 1 y", "LTRIM l 0 1", "LPOP l", "RPOP l", "LPOP l"],
           [("l", "new"), ("l", "lpush"), ("l", "rpush"), ("l", "lpush"), ("l", "lset"),
            ("l", "linsert"), ("l", "lrem"), ("l", "ltrim"), ("l", "lpop"), ("l", "rpop"),
            ("l", "del")])


@pytest.mark.needs_types
def test_list_move_events(raw, listener, notify):
    _check(raw, listener, "KElgn", notify,
           ["RPUSH a 1 2", "LMOVE a b LEFT RIGHT", "RPOPLPUSH a b", "LPOP b 5"],
           [("a", "new"), ("a", "rpush"), ("b", "new"), ("b", "rpush"), ("a", "lpop"),
            ("b", "lpush"), ("a", "rpop"), ("a", "del"), ("b", "lpop"), ("b", "del")])


@pytest.mark.needs_types
def test_hash_events(raw, listener, notify):
    _check(raw, listener, "KEhgn", notify,
           ["HSET h f v g w", "HSETNX h f x", "HSETNX h n x", "HMSET h a 1", "HINCRBY h c 1",
            "HINCRBYFLOAT h d 1.5", "HDEL h f g zz", "HDEL h n a c d"],
           [("h", "new"), ("h", "hset"), ("h", "hset"), ("h", "hset"), ("h", "hincrby"),
            ("h", "hincrbyfloat"), ("h", "hdel"), ("h", "hdel"), ("h", "del")])


@pytest.mark.needs_types
def test_set_events(raw, listener, notify):
    _check(raw, listener, "KEsgn", notify,
           ["SADD s a b", "SADD s a", "SREM s a", "SMOVE s t b", "SADD u 1",
            "SUNIONSTORE d u t", "SDIFFSTORE d u u"],
           [("s", "new"), ("s", "sadd"), ("s", "srem"), ("s", "srem"), ("s", "del"),
            ("t", "new"), ("t", "sadd"), ("u", "new"), ("u", "sadd"), ("d", "new"),
            ("d", "sunionstore"), ("d", "del")])


@pytest.mark.needs_types
def test_zset_events(raw, listener, notify):
    _check(raw, listener, "KEzgn", notify,
           ["ZADD z 1 a 2 b", "ZADD z 1 a", "ZINCRBY z 5 a", "ZADD z INCR 1 a", "ZREM z a",
            "ZADD z 3 c 4 d", "ZPOPMIN z", "ZPOPMAX z", "ZREMRANGEBYSCORE z 0 10"],
           [("z", "new"), ("z", "zadd"), ("z", "zincr"), ("z", "zincr"), ("z", "zrem"),
            ("z", "zadd"), ("z", "zpopmin"), ("z", "zpopmax"), ("z", "zremrangebyscore"),
            ("z", "del")])


@pytest.mark.needs_types
def test_type_classes_are_separate(raw, listener, notify):
    _check(raw, listener, "KEl", notify,
           ["LPUSH l a", "HSET h f v", "SADD s a", "ZADD z 1 a", "SET k v"],
           [("l", "lpush")])
