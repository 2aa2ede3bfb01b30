"""Expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT) TTL PTTL EXPIRETIME PEXPIRETIME
PERSIST, lazy and active expiry."""

import time

from helpers import NIL, NOT_INT, OK, bulk, call, err, integer, wait_until, wrong_args

BAD_EXPIRE = lambda cmd: err("ERR invalid expire time in '%s' command" % cmd)  # noqa: E731
NX_XX = err("ERR NX and XX, GT or LT options at the same time are not compatible")
GT_LT = err("ERR GT and LT options at the same time are not compatible")


def test_expire_ttl_pttl(raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "TTL", "k") == integer(-1)
    assert call(raw, "PTTL", "k") == integer(-1)
    assert call(raw, "TTL", "nokey") == integer(-2)
    assert call(raw, "PTTL", "nokey") == integer(-2)
    assert call(raw, "EXPIRE", "k", "100") == integer(1)
    assert 99 <= raw.execute("TTL", "k") <= 100
    assert 99000 <= raw.execute("PTTL", "k") <= 100000
    assert call(raw, "PEXPIRE", "k", "200000") == integer(1)
    assert 199 <= raw.execute("TTL", "k") <= 200
    assert call(raw, "EXPIRE", "nokey", "100") == integer(0)
    assert call(raw, "PEXPIRE", "nokey", "100") == integer(0)
    assert call(raw, "EXPIRE", "k") == wrong_args("expire")


def test_expireat_and_expiretime(raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "EXPIRETIME", "k") == integer(-1)
    assert call(raw, "PEXPIRETIME", "k") == integer(-1)
    assert call(raw, "EXPIRETIME", "nokey") == integer(-2)
    assert call(raw, "PEXPIRETIME", "nokey") == integer(-2)
    assert call(raw, "EXPIREAT", "k", "99999999999") == integer(1)
    assert call(raw, "EXPIRETIME", "k") == integer(99999999999)
    assert call(raw, "PEXPIRETIME", "k") == integer(99999999999000)
    assert call(raw, "PEXPIREAT", "k", "99999999999123") == integer(1)
    assert call(raw, "PEXPIRETIME", "k") == integer(99999999999123)
    assert call(raw, "EXPIRETIME", "k") == integer(99999999999)
    at = int(time.time()) + 50
    assert call(raw, "EXPIREAT", "k", str(at)) == integer(1)
    assert call(raw, "EXPIRETIME", "k") == integer(at)
    assert 48 <= raw.execute("TTL", "k") <= 50
    assert call(raw, "EXPIREAT", "nokey", str(at)) == integer(0)


def test_expire_in_the_past_deletes(raw):
    for cmd, arg in (("EXPIRE", "-1"), ("EXPIRE", "0"), ("PEXPIRE", "-5"), ("EXPIREAT", "1"),
                     ("PEXPIREAT", "1"), ("EXPIREAT", "0")):
        raw.execute("SET", "k", "v")
        assert call(raw, cmd, "k", arg) == integer(1), cmd
        assert call(raw, "EXISTS", "k") == integer(0), cmd
        assert call(raw, "TTL", "k") == integer(-2)


def test_expire_errors(raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "EXPIRE", "k", "abc") == NOT_INT
    assert call(raw, "EXPIRE", "k", "1.5") == NOT_INT
    assert call(raw, "PEXPIRE", "k", "") == NOT_INT
    assert call(raw, "EXPIRE", "k", "9223372036854775807") == BAD_EXPIRE("expire")
    assert call(raw, "PEXPIRE", "k", "9223372036854775807") == BAD_EXPIRE("pexpire")
    assert call(raw, "EXPIREAT", "k", "9223372036854775807") == BAD_EXPIRE("expireat")
    assert call(raw, "EXPIREAT", "k", "9223372036854776") == BAD_EXPIRE("expireat")
    assert call(raw, "PEXPIRE", "k", "9223372036854775000") == BAD_EXPIRE("pexpire")
    assert call(raw, "EXPIRE", "k", "100", "FOO") == err("ERR Unsupported option FOO")
    assert call(raw, "TTL", "k") == integer(-1)
    # The largest absolute times are accepted as they are.
    assert call(raw, "EXPIREAT", "k", "9223372036854775") == integer(1)
    assert call(raw, "PEXPIREAT", "k", "9223372036854775807") == integer(1)
    assert call(raw, "PEXPIRETIME", "k") == integer(9223372036854775807)
    # Negative times are range-checked too (seconds * 1000 must fit), then delete the key.
    assert call(raw, "EXPIRE", "k", "-9223372036854775808") == BAD_EXPIRE("expire")
    assert call(raw, "EXPIRE", "k", "-9223372036854776") == BAD_EXPIRE("expire")
    assert call(raw, "EXISTS", "k") == integer(1)
    assert call(raw, "EXPIRE", "k", "-9223372036854775") == integer(1)
    assert call(raw, "EXISTS", "k") == integer(0)


def test_expire_nx_xx_gt_lt(raw):
    raw.execute("SET", "k", "v")
    assert call(raw, "EXPIRE", "k", "100", "XX") == integer(0)   # no TTL yet
    assert call(raw, "EXPIRE", "k", "100", "GT") == integer(0)   # no TTL = infinite
    assert call(raw, "EXPIRE", "k", "100", "NX") == integer(1)
    assert call(raw, "EXPIRE", "k", "200", "NX") == integer(0)
    assert call(raw, "EXPIRE", "k", "200", "XX") == integer(1)
    assert call(raw, "EXPIRE", "k", "50", "GT") == integer(0)
    assert call(raw, "EXPIRE", "k", "300", "GT") == integer(1)
    assert call(raw, "EXPIRE", "k", "400", "LT") == integer(0)
    assert call(raw, "EXPIRE", "k", "50", "LT") == integer(1)
    assert 49 <= raw.execute("TTL", "k") <= 50
    assert call(raw, "EXPIRE", "k", "60", "xx", "gt") == integer(1)
    raw.execute("PERSIST", "k")
    assert call(raw, "EXPIRE", "k", "100", "LT") == integer(1)   # infinite > 100
    assert call(raw, "PEXPIRE", "k", "50000", "LT") == integer(1)
    assert call(raw, "PEXPIREAT", "k", "99999999999000", "GT") == integer(1)
    assert call(raw, "EXPIREAT", "k", "99999999998", "GT") == integer(0)
    assert call(raw, "EXPIRE", "nokey", "100", "NX") == integer(0)


def test_expire_incompatible_flags(raw):
    raw.execute("SET", "k", "v")
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        assert call(raw, cmd, "k", "100", "NX", "XX") == NX_XX, cmd
        assert call(raw, cmd, "k", "100", "NX", "GT") == NX_XX, cmd
        assert call(raw, cmd, "k", "100", "NX", "LT") == NX_XX, cmd
        assert call(raw, cmd, "k", "100", "GT", "LT") == GT_LT, cmd
    assert call(raw, "TTL", "k") == integer(-1)


def test_persist(raw):
    raw.execute("SET", "k", "v", "EX", "100")
    assert call(raw, "PERSIST", "k") == integer(1)
    assert call(raw, "TTL", "k") == integer(-1)
    assert call(raw, "PERSIST", "k") == integer(0)
    assert call(raw, "PERSIST", "nokey") == integer(0)
    assert call(raw, "PERSIST") == wrong_args("persist")


def test_overwrite_clears_ttl(raw):
    raw.execute("SET", "k", "v", "EX", "100")
    raw.execute("SET", "k", "w")
    assert call(raw, "TTL", "k") == integer(-1)
    raw.execute("SET", "k", "v", "EX", "100")
    raw.execute("APPEND", "k", "x")
    assert 99 <= raw.execute("TTL", "k") <= 100
    raw.execute("SETRANGE", "k", "0", "y")
    assert 99 <= raw.execute("TTL", "k") <= 100
    raw.execute("MSET", "k", "z")
    assert call(raw, "TTL", "k") == integer(-1)


def test_lazy_expiry(raw):
    raw.execute("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        raw.execute("SET", "k", "v", "PX", "400")
        raw.execute("SET", "keep", "v")
        assert call(raw, "GET", "k") == bulk("v")
        time.sleep(0.5)
        assert call(raw, "DBSIZE") == integer(2)
        assert call(raw, "GET", "k") == NIL
        assert call(raw, "TTL", "k") == integer(-2)
        assert call(raw, "DBSIZE") == integer(1)
        raw.execute("SET", "k2", "v", "PX", "50")
        time.sleep(0.1)
        assert call(raw, "EXISTS", "k2") == integer(0)
        raw.execute("SET", "k3", "v", "PX", "50")
        time.sleep(0.1)
        assert call(raw, "SET", "k3", "new", "NX") == OK
        raw.execute("SET", "k4", "10", "PX", "50")
        time.sleep(0.1)
        assert call(raw, "INCR", "k4") == integer(1)
        assert sorted(raw.execute("KEYS", "*")) == [b"k3", b"k4", b"keep"]
        assert call(raw, "TTL", "k3") == integer(-1)
    finally:
        raw.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_active_expiry(raw):
    n = 200
    raw.send(b"".join(b"*5\r\n$3\r\nSET\r\n$5\r\nt%04d\r\n$1\r\nv\r\n$2\r\nPX\r\n$3\r\n500\r\n" % i
                      for i in range(n)))
    for _ in range(n):
        assert raw.read_reply()[0] == OK
    raw.execute("SET", "persistent", "v")
    assert raw.execute("DBSIZE") == n + 1
    # Nobody touches the keys: the server must remove them by itself.
    wait_until(lambda: raw.execute("DBSIZE") == 1, timeout=10, what="active expiry")
    assert call(raw, "GET", "persistent") == bulk("v")
    keyspace = raw.execute("INFO", "keyspace")
    assert keyspace == b"# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"


def test_expired_keys_counted(raw):
    raw.execute("CONFIG", "RESETSTAT")
    raw.execute("SET", "k", "v", "PX", "1")
    time.sleep(0.02)
    assert call(raw, "GET", "k") == NIL
    stats = raw.execute("INFO", "stats").decode()
    assert "\r\nexpired_keys:1\r\n" in stats


def test_ttl_rounding(raw):
    # TTL rounds to the nearest second, PTTL is exact to the millisecond.
    raw.execute("SET", "k", "v", "PX", "1900")
    assert call(raw, "TTL", "k") == integer(2)
    raw.execute("SET", "k", "v", "PX", "1400")
    assert call(raw, "TTL", "k") == integer(1)
    pttl = raw.execute("PTTL", "k")
    assert 900 <= pttl <= 1400


def test_set_with_past_absolute_time_keeps_key_until_lookup(raw):
    # A redis-server 7.0 detail: SET ... PXAT/EXAT in the past stores the key; it counts in
    # DBSIZE and INFO keyspace (KEYS hides it) until a lookup or active expiry deletes it.
    # EXPIRE/PEXPIREAT with a past time and GETEX PXAT in the past delete at once.
    raw.execute("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        assert call(raw, "SET", "k", "v", "PXAT", "1") == OK
        assert call(raw, "DBSIZE") == integer(1)
        assert raw.execute("INFO", "keyspace") == (
            b"# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\n")
        assert call(raw, "KEYS", "*") == b"*0\r\n"
        assert call(raw, "DBSIZE") == integer(1)
        assert call(raw, "EXISTS", "k") == integer(0)
        assert call(raw, "DBSIZE") == integer(0)
        raw.execute("SET", "k2", "v")
        assert call(raw, "EXPIRE", "k2", "-1") == integer(1)
        raw.execute("SET", "k3", "v")
        assert call(raw, "PEXPIREAT", "k3", "1") == integer(1)
        raw.execute("SET", "k4", "v")
        assert call(raw, "GETEX", "k4", "PXAT", "1") == bulk("v")
        assert call(raw, "DBSIZE") == integer(0)
    finally:
        raw.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")
