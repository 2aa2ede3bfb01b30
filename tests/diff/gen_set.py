"""Random set commands for kldiff.py (--types), and the policies for the set replies whose order
or content is not deterministic.

Orders: an intset is walked in ascending order, which keyloom must reproduce exactly, so
SMEMBERS/SSCAN of an intset, SINTER walking an intset and SUNION/SDIFF whose result set is an
intset are compared byte for byte. A hashtable's order is the hash table's (different between
any two processes), so those replies are compared as multisets. The policies ask both servers
for the encodings involved (OBJECT ENCODING; for SUNION/SDIFF the encoding of the same
operation stored into a scratch key, which Redis builds exactly like the temporary set it
replies from); differing encodings are a mismatch of their own.

SPOP and SRANDMEMBER are checked for what Redis promises: the reply type and size, distinct
members for a positive count, members that really are (SRANDMEMBER) or were (SPOP) in the set,
and the whole set when the count covers it (byte for byte for an intset). SPOP removes different
members on the two servers, so its policy then makes keyloom's set equal to Redis's again (and
rebuilds it when the encodings differ, which only happens after Redis rebuilt its own) so the
random run can go on comparing everything else exactly.
"""

import sys

SCRATCH = b"__kldiff_set_scratch__"


def _kd():
    """The kldiff module that loaded us: __main__ when kldiff.py runs as a script (raising the
    class that its `except Mismatch` catches), else the imported kldiff module."""
    main = sys.modules.get("__main__")
    if main is not None and hasattr(main, "Mismatch") and hasattr(main, "split_aggregate"):
        return main
    return sys.modules["kldiff"]


def _mismatch(why):
    return _kd().Mismatch(why)


def _q(conn, *args):
    """One follow-up command; RESP3 push messages (keyspace events) before its reply are
    skipped."""
    from klserver import Push
    conn.send_command(*args)
    for _ in range(10000):
        v = conn.read_reply()[1]
        if not isinstance(v, Push):
            return v
    raise _mismatch("too many push messages")


def _is_err(v):
    from klserver import RespError
    return isinstance(v, RespError)


def _encodings(ctx, key):
    ea = _q(ctx.ca, "OBJECT", "ENCODING", key)
    eb = _q(ctx.cb, "OBJECT", "ENCODING", key)
    if ea != eb:
        raise _mismatch("encodings of %r differ: A %r, B %r" % (key, ea, eb))
    return ea


def _members(conn, key):
    v = _q(conn, "SMEMBERS", key)
    if not isinstance(v, list):
        raise _mismatch("SMEMBERS %r returned %r" % (key, v))
    return set(v)


def _plain(ra, rb, kinds=(b"*", b"~")):
    """True when the replies are not aggregates to reason about (errors, +QUEUED, nulls...):
    they are then compared exactly."""
    kd = _kd()
    return kd.is_error(ra) or kd.is_error(rb) or ra[:1] != rb[:1] or ra[:1] not in kinds


def _parse(raw):
    from klserver import parse_reply
    return parse_reply(raw, 0)[0]


def cmp_smembers(args, ra, rb, ctx):
    """SMEMBERS: exact for intsets, as multisets for hashtables."""
    kd = _kd()
    if len(args) != 2 or _plain(ra, rb) or ra == rb:
        return kd.cmp_exact(args, ra, rb, ctx)
    if _encodings(ctx, args[1]) != b"hashtable":
        return kd.cmp_exact(args, ra, rb, ctx)
    return kd.cmp_sorted(args, ra, rb, ctx)


def cmp_sinter(args, ra, rb, ctx):
    """SINTER walks its smallest set (the first given among equals): exact when that set is an
    intset, as multisets otherwise."""
    kd = _kd()
    if len(args) < 2 or _plain(ra, rb) or ra == rb:
        return kd.cmp_exact(args, ra, rb, ctx)
    best = None
    for k in args[1:]:
        n = _q(ctx.cb, "SCARD", k)
        if not isinstance(n, int) or n == 0:
            return kd.cmp_exact(args, ra, rb, ctx)  # an empty input: empty, deterministic
        if best is None or n < best[0]:
            best = (n, k)
    if _encodings(ctx, best[1]) != b"hashtable":
        return kd.cmp_exact(args, ra, rb, ctx)
    return kd.cmp_sorted(args, ra, rb, ctx)


def cmp_sunion_sdiff(args, ra, rb, ctx):
    """SUNION/SDIFF reply from a temporary set: exact when it is an intset (ascending order),
    as multisets otherwise. Its encoding is that of the *STORE variant's result, computed into
    a scratch key on both servers and deleted again."""
    kd = _kd()
    if len(args) < 2 or _plain(ra, rb) or ra == rb:
        return kd.cmp_exact(args, ra, rb, ctx)
    store = args[0].upper() + b"STORE"
    for conn in (ctx.ca, ctx.cb):
        _q(conn, store, SCRATCH, *args[1:])
    enc = _encodings(ctx, SCRATCH)
    for conn in (ctx.ca, ctx.cb):
        _q(conn, "DEL", SCRATCH)
    if enc == b"intset":
        return kd.cmp_exact(args, ra, rb, ctx)
    return kd.cmp_sorted(args, ra, rb, ctx)


def _scan_shape(raw):
    v = _parse(raw)
    if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], bytes)
            and v[0].isdigit() and isinstance(v[1], list)
            and all(isinstance(x, bytes) for x in v[1])):
        raise _mismatch("SSCAN reply shape")
    return v


def _sscan_full(conn, key, first, opts):
    cursor, items = first
    seen = set()
    for _ in range(200000):
        seen.update(items)
        if cursor == b"0":
            return seen
        cursor, items = _q(conn, "SSCAN", key, cursor, *opts)
    raise _mismatch("SSCAN does not terminate")


def cmp_sscan(args, ra, rb, ctx):
    """SSCAN: exact for intsets (returned whole with cursor 0); for hashtables cursor 0 runs a
    full iteration on both servers with the same options and compares the member sets, other
    cursors are checked for shape."""
    kd = _kd()
    if kd.is_error(ra) or kd.is_error(rb) or len(args) < 3 or ra == rb:
        return kd.cmp_exact(args, ra, rb, ctx)
    va = _scan_shape(ra)
    vb = _scan_shape(rb)
    if _encodings(ctx, args[1]) != b"hashtable":
        return kd.cmp_exact(args, ra, rb, ctx)
    if args[2] != b"0":
        return
    opts = list(args[3:])
    sa = _sscan_full(ctx.ca, args[1], va, opts)
    sb = _sscan_full(ctx.cb, args[1], vb, opts)
    if sa != sb:
        raise _mismatch("SSCAN full iteration differs: only A %r, only B %r"
                        % (sorted(sa - sb)[:10], sorted(sb - sa)[:10]))


def cmp_srandmember(args, ra, rb, ctx):
    """SRANDMEMBER: same reply type and size; picks that are members; distinct picks for a
    positive count; the whole set when the count covers it (exact for an intset)."""
    kd = _kd()
    if kd.is_error(ra) or kd.is_error(rb) or ra[:1] != rb[:1] or ra == rb or len(args) < 2:
        return kd.cmp_exact(args, ra, rb, ctx)
    key = args[1]
    if len(args) == 2:
        if ra[:1] != b"$":
            return kd.cmp_exact(args, ra, rb, ctx)
        for conn, raw, name in ((ctx.ca, ra, "A"), (ctx.cb, rb, "B")):
            if _q(conn, "SISMEMBER", key, _parse(raw)) != 1:
                raise _mismatch("server %s: SRANDMEMBER returned a non-member" % name)
        return
    if ra[:1] != b"*":
        return kd.cmp_exact(args, ra, rb, ctx)
    count = int(args[2])
    va = _parse(ra)
    vb = _parse(rb)
    if len(va) != len(vb):
        raise _mismatch("SRANDMEMBER reply sizes differ")
    size = None
    for picks, conn, name in ((va, ctx.ca, "A"), (vb, ctx.cb, "B")):
        members = _members(conn, key)
        if size is None:
            size = len(members)
        elif size != len(members):
            raise _mismatch("set sizes differ")
        bad = [p for p in picks if p not in members]
        if bad:
            raise _mismatch("server %s: SRANDMEMBER picks %r are not members" % (name, bad[:5]))
        if count > 0:
            if len(set(picks)) != len(picks):
                raise _mismatch("server %s: SRANDMEMBER with a positive count repeated a member"
                                % name)
            if len(picks) != min(count, len(members)):
                raise _mismatch("server %s: SRANDMEMBER returned %d members, not %d"
                                % (name, len(picks), min(count, len(members))))
        elif len(picks) != -count:
            raise _mismatch("server %s: SRANDMEMBER returned %d picks, not %d"
                            % (name, len(picks), -count))
    if count >= size and _encodings(ctx, key) == b"intset":
        return kd.cmp_exact(args, ra, rb, ctx)


def _resync(ctx, key, popped_a, popped_b):
    """After SPOP: make A's set hold exactly B's members, keeping its TTL, then require the
    same encoding; A's set is rebuilt like Redis's SPOP rebuilds (SADD of the members that
    stay) when only that differs."""
    add = [m for m in popped_a if m not in popped_b]
    rem = [m for m in popped_b if m not in popped_a]
    # An intset may hold more than set-max-intset-entries (the limit was lowered after it
    # grew): lift the limit while adding so that A's set keeps the encoding it had.
    limit = _q(ctx.ca, "CONFIG", "GET", "set-max-intset-entries")
    limit = dict(zip(limit[0::2], limit[1::2])) if isinstance(limit, list) else dict(limit)
    limit = limit[b"set-max-intset-entries"]
    _q(ctx.ca, "CONFIG", "SET", "set-max-intset-entries", "1073741824")
    try:
        if add:
            _q(ctx.ca, "SADD", key, *add)
        if rem:
            _q(ctx.ca, "SREM", key, *rem)
    finally:
        _q(ctx.ca, "CONFIG", "SET", "set-max-intset-entries", limit)
    ma = _members(ctx.ca, key)
    mb = _members(ctx.cb, key)
    if ma != mb:
        raise _mismatch("SPOP left different members: only A %r, only B %r"
                        % (sorted(ma - mb)[:10], sorted(mb - ma)[:10]))
    ea = _q(ctx.ca, "OBJECT", "ENCODING", key)
    eb = _q(ctx.cb, "OBJECT", "ENCODING", key)
    if ea == eb or not mb:
        return
    when = _q(ctx.ca, "PEXPIRETIME", key)
    _q(ctx.ca, "DEL", key)
    _q(ctx.ca, "SADD", key, *sorted(mb))
    if isinstance(when, int) and when > 0:
        _q(ctx.ca, "PEXPIREAT", key, when)
    _encodings(ctx, key)


def cmp_spop(args, ra, rb, ctx):
    """SPOP: the same reply type and size on both servers, distinct members that are gone from
    the set now, and equal sizes left; then the sets are made equal again (see _resync)."""
    kd = _kd()
    if kd.is_error(ra) or kd.is_error(rb) or ra[:1] != rb[:1] or ra == rb or len(args) < 2:
        return kd.cmp_exact(args, ra, rb, ctx)
    key = args[1]
    if len(args) == 2:
        if ra[:1] != b"$" or ra == b"$-1\r\n" or rb == b"$-1\r\n":
            return kd.cmp_exact(args, ra, rb, ctx)
        pa, pb = [_parse(ra)], [_parse(rb)]
    else:
        if ra[:1] not in (b"*", b"~"):
            return kd.cmp_exact(args, ra, rb, ctx)
        pa, pb = _parse(ra), _parse(rb)
        if len(pa) != len(pb):
            raise _mismatch("SPOP reply sizes differ")
    for picks, conn, name in ((pa, ctx.ca, "A"), (pb, ctx.cb, "B")):
        if len(set(picks)) != len(picks):
            raise _mismatch("server %s: SPOP returned a member twice" % name)
        still = _q(conn, "SMISMEMBER", key, *picks)
        if not isinstance(still, list) or any(still):
            raise _mismatch("server %s: SPOP returned members still in the set: %r"
                            % (name, still))
    if _q(ctx.ca, "SCARD", key) != _q(ctx.cb, "SCARD", key):
        raise _mismatch("SPOP left sets of different sizes")
    _resync(ctx, key, pa, pb)


POLICIES = {
    "SMEMBERS": cmp_smembers,
    "SINTER": cmp_sinter,
    "SUNION": cmp_sunion_sdiff,
    "SDIFF": cmp_sunion_sdiff,
    "SSCAN": cmp_sscan,
    "SRANDMEMBER": cmp_srandmember,
    "SPOP": cmp_spop,
}


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------

WIDE = [b"32767", b"32768", b"-32768", b"-32769", b"2147483647", b"2147483648", b"-2147483649",
        b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808"]
STRINGS = [b"a", b"b", b"c", b"", b"01", b"-0", b"+1", b" 1", b"1.5", b"x" * 50, b"\x00\xff",
           b"abc\r\ndef"]


def generators(gen):
    r = gen.r

    def member():
        c = r.random()
        if c < 0.6:
            return str(r.randint(-10, 30)).encode()
        if c < 0.75:
            return r.choice(WIDE)
        if c < 0.95:
            return r.choice(STRINGS)
        return gen.val()

    def keys(lo=1, hi=4):
        return [gen.key() for _ in range(r.randint(lo, hi))]

    def g_sadd():
        return [b"SADD", gen.key()] + [member() for _ in range(r.randint(1, 4))]

    def g_sadd_many():
        # Around the 512-entry intset threshold, sometimes with a string at the end.
        n = r.choice([r.randint(5, 40), r.randint(500, 520)])
        base = r.randint(-20, 20)
        args = [b"SADD", gen.key()] + [b"%d" % i for i in range(base, base + n)]
        if r.random() < 0.2:
            args.append(r.choice(STRINGS))
        return args

    def g_srem():
        return [b"SREM", gen.key()] + [member() for _ in range(r.randint(1, 4))]

    def g_srem_many():
        base = r.randint(-20, 40)
        return [b"SREM", gen.key()] + [b"%d" % i for i in range(base, base + r.randint(1, 500))]

    def g_read():
        c = r.random()
        if c < 0.3:
            return [b"SCARD", gen.key()]
        if c < 0.6:
            return [b"SISMEMBER", gen.key(), member()]
        if c < 0.8:
            return [b"SMISMEMBER", gen.key()] + [member() for _ in range(r.randint(1, 4))]
        return [b"SMEMBERS", gen.key()]

    def g_spop():
        args = [b"SPOP", gen.key()]
        if r.random() < 0.6:
            args.append(r.choice([b"0", b"1", b"2", b"3", b"5", b"10", b"600", b"-1", b"abc",
                                  b"9223372036854775807"]))
        if r.random() < 0.03:
            args.append(b"1")
        return args

    def g_srandmember():
        args = [b"SRANDMEMBER", gen.key()]
        if r.random() < 0.75:
            args.append(r.choice([b"0", b"1", b"2", b"3", b"5", b"-1", b"-3", b"-10", b"100",
                                  b"600", b"abc", b"-9223372036854775808",
                                  b"9223372036854775807"]))
        return args

    def g_smove():
        return [b"SMOVE", gen.key(), gen.key(), member()]

    def g_setop():
        cmd = r.choice([b"SINTER", b"SUNION", b"SDIFF"])
        return [cmd] + keys()

    def g_setop_store():
        cmd = r.choice([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"])
        return [cmd, gen.key()] + keys()

    def g_sintercard():
        ks = keys()
        n = len(ks)
        c = r.random()
        if c < 0.1:
            n = r.choice([0, -1, n + 1])
        args = [b"SINTERCARD", b"%d" % n] + ks
        if r.random() < 0.4:
            args += [b"LIMIT", r.choice([b"0", b"1", b"2", b"5", b"-1", b"x"])]
        return args

    def g_sscan():
        args = [b"SSCAN", gen.key(), r.choice([b"0", b"0", b"0", b"7", b"abc", b"-1"])]
        if r.random() < 0.4:
            args += [b"MATCH", r.choice([b"1*", b"*", b"-*", b"[ab]", b"?", b"*0"])]
        if r.random() < 0.4:
            args += [b"COUNT", r.choice([b"1", b"10", b"100", b"0", b"x"])]
        return args

    def g_config():
        v = r.choice([b"512", b"512", b"512", b"0", b"1", b"3", b"8", b"20"])
        return [b"CONFIG", b"SET", b"set-max-intset-entries", v]

    def g_encoding():
        return [b"OBJECT", b"ENCODING", gen.key()]

    return [
        (6, g_sadd), (1, g_sadd_many), (3, g_srem), (1, g_srem_many), (5, g_read),
        (2, g_spop), (2, g_srandmember), (2, g_smove), (3, g_setop), (2, g_setop_store),
        (1, g_sintercard), (2, g_sscan), (1, g_config), (2, g_encoding),
    ]
