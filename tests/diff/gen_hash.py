"""Random hash commands for kldiff.py (--types), and the policies for the hash replies whose
order or content is not deterministic.

Orders: a listpack-encoded hash keeps insertion order, which keyloom must reproduce exactly, so
HGETALL/HKEYS/HVALS/HSCAN of a listpack are compared byte for byte. Once hashtable-encoded the
order is the hash table's (different between any two processes, even two redis-servers), so
those replies are compared as multisets (of field/value pairs where there are values). The
policies ask both servers for OBJECT ENCODING of the key first; differing encodings are a
mismatch of their own. HRANDFIELD and HSCAN with a non-zero cursor are checked for what Redis
promises (sizes, distinct fields, fields and values that really are in the hash); HSCAN 0
drives a full iteration on both servers and compares the resulting sets.
"""

import sys


def _kd():
    """The kldiff module that loaded us: __main__ when kldiff.py runs as a script (raising the
    class that its `except Mismatch` catches), else the imported kldiff module."""
    main = sys.modules.get("__main__")
    if main is not None and hasattr(main, "Mismatch") and hasattr(main, "split_aggregate"):
        return main
    return sys.modules["kldiff"]


def _mismatch(why):
    return _kd().Mismatch(why)


def _encodings(ctx, key):
    ea = ctx.ca.execute("OBJECT", "ENCODING", key)
    eb = ctx.cb.execute("OBJECT", "ENCODING", key)
    if ea != eb:
        raise _mismatch("encodings differ: A %r, B %r" % (ea, eb))
    return ea


def _as_dict(v):
    """HGETALL's parsed reply (flat list in RESP2, map in RESP3) as a dict."""
    if isinstance(v, dict):
        return dict(v)
    if isinstance(v, list):
        return dict(zip(v[0::2], v[1::2]))
    raise _mismatch("HGETALL returned %r" % (v,))


def _contents(conn, key):
    return _as_dict(conn.execute("HGETALL", key))


def _plain(args, ra, rb):
    """True when the replies are not aggregates to reason about (errors, nulls, bulks...):
    they are then compared exactly."""
    kd = _kd()
    return kd.is_error(ra) or kd.is_error(rb) or ra[:1] != rb[:1] or ra[:1] not in (b"*", b"%")


def cmp_hash_all(args, ra, rb, ctx):
    """HGETALL / HKEYS / HVALS: exact for listpacks, as multisets for hashtables."""
    kd = _kd()
    if len(args) != 2 or _plain(args, ra, rb) or ra == rb:
        return kd.cmp_exact(args, ra, rb, ctx)
    if _encodings(ctx, args[1]) != b"hashtable":
        return kd.cmp_exact(args, ra, rb, ctx)
    if args[0].upper() == b"HGETALL":
        return kd.cmp_pairs_sorted(args, ra, rb, ctx)
    return kd.cmp_sorted(args, ra, rb, ctx)


def _hscan_full(conn, key, first, opts):
    """Completes an HSCAN iteration from the parsed first reply; returns the pairs seen."""
    cursor, items = first
    seen = {}
    for rounds in range(200000):
        if len(items) % 2:
            raise _mismatch("HSCAN returned an odd number of items")
        for f, v in zip(items[0::2], items[1::2]):
            if f in seen and seen[f] != v:
                raise _mismatch("HSCAN returned two values for field %r" % f)
            seen[f] = v
        if cursor == b"0":
            return seen
        cursor, items = conn.execute("HSCAN", key, cursor, *opts)
    raise _mismatch("HSCAN does not terminate")


def _scan_shape(raw):
    from klserver import parse_reply
    v = parse_reply(raw, 0)[0]
    if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], bytes)
            and v[0].isdigit() and isinstance(v[1], list)
            and all(isinstance(x, bytes) for x in v[1])):
        raise _mismatch("HSCAN reply shape")
    return v


def cmp_hscan(args, ra, rb, ctx):
    """HSCAN: exact for listpacks (returned whole, cursor 0); for hashtables cursor 0 runs a
    full iteration on both servers (same options) and compares the field/value sets, and other
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
    sa = _hscan_full(ctx.ca, args[1], va, opts)
    sb = _hscan_full(ctx.cb, args[1], vb, opts)
    if sa != sb:
        only_a = sorted(set(sa.items()) - set(sb.items()))[:10]
        only_b = sorted(set(sb.items()) - set(sa.items()))[:10]
        raise _mismatch("HSCAN full iteration differs: only A %r, only B %r" % (only_a, only_b))


def _picks(v, withvalues, resp3):
    """HRANDFIELD's parsed reply as a list of (field, value-or-None)."""
    if not isinstance(v, list):
        raise _mismatch("HRANDFIELD returned %r" % (v,))
    if not withvalues:
        if not all(isinstance(x, bytes) for x in v):
            raise _mismatch("HRANDFIELD returned non-bulk fields")
        return [(x, None) for x in v]
    if resp3:
        if not all(isinstance(x, list) and len(x) == 2 for x in v):
            raise _mismatch("RESP3 HRANDFIELD WITHVALUES must nest [field, value] pairs")
        return [tuple(x) for x in v]
    if len(v) % 2:
        raise _mismatch("RESP2 HRANDFIELD WITHVALUES must be flat field, value pairs")
    return list(zip(v[0::2], v[1::2]))


def cmp_hrandfield(args, ra, rb, ctx):
    """HRANDFIELD: same reply type and size; every pick a field of the hash with its value;
    distinct picks for a positive count; the whole hash when count >= size (byte for byte for
    a listpack, whose order is defined)."""
    from klserver import parse_reply
    kd = _kd()
    if kd.is_error(ra) or kd.is_error(rb) or ra[:1] != rb[:1] or ra == rb or len(args) < 2:
        return kd.cmp_exact(args, ra, rb, ctx)
    key = args[1]
    ha = _contents(ctx.ca, key)
    hb = _contents(ctx.cb, key)
    if len(args) == 2:
        if ra[:1] != b"$":
            return kd.cmp_exact(args, ra, rb, ctx)
        fa = parse_reply(ra, 0)[0]
        fb = parse_reply(rb, 0)[0]
        if fa not in ha or fb not in hb:
            raise _mismatch("HRANDFIELD returned a field that is not in the hash")
        return
    if ra[:1] != b"*":
        return kd.cmp_exact(args, ra, rb, ctx)
    count = int(args[2])
    withvalues = len(args) > 3
    va = parse_reply(ra, 0)[0]
    vb = parse_reply(rb, 0)[0]
    if len(va) != len(vb):
        raise _mismatch("HRANDFIELD reply sizes differ")
    # RESP3 nests pairs; a flat reply of the same length in RESP2 holds half as many picks.
    resp3 = withvalues and len(va) > 0 and isinstance(va[0], list)
    if withvalues and len(vb) > 0 and isinstance(vb[0], list) != resp3:
        raise _mismatch("HRANDFIELD WITHVALUES nesting differs")
    for picks, h, name in ((_picks(va, withvalues, resp3), ha, "A"),
                           (_picks(vb, withvalues, resp3), hb, "B")):
        for f, v in picks:
            if f not in h:
                raise _mismatch("server %s: HRANDFIELD field %r is not in the hash" % (name, f))
            if withvalues and h[f] != v:
                raise _mismatch("server %s: HRANDFIELD value of %r is %r, not %r"
                                % (name, f, v, h[f]))
        if count > 0:
            fields = [f for f, _ in picks]
            if len(set(fields)) != len(fields):
                raise _mismatch("server %s: HRANDFIELD with a positive count repeated a field"
                                % name)
            want = min(count, len(h))
            if len(fields) != want:
                raise _mismatch("server %s: HRANDFIELD returned %d fields, not %d"
                                % (name, len(fields), want))
        elif len(picks) != -count:
            raise _mismatch("server %s: HRANDFIELD returned %d picks, not %d"
                            % (name, len(picks), -count))
    if count >= len(ha) and _encodings(ctx, key) == b"listpack":
        return kd.cmp_exact(args, ra, rb, ctx)


POLICIES = {
    "HGETALL": cmp_hash_all,
    "HKEYS": cmp_hash_all,
    "HVALS": cmp_hash_all,
    "HSCAN": cmp_hscan,
    "HRANDFIELD": cmp_hrandfield,
}


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------

FIELDS = [b"f1", b"f2", b"f3", b"a", b"b", b"", b"12", b"-3", b"\x00\xff", b"x" * 65,
          b"9223372036854775807", b"f" * 64]


def generators(gen):
    r = gen.r

    def field():
        return r.choice(FIELDS)

    def value():
        c = r.random()
        if c < 0.05:
            return b"v" * r.choice([63, 64, 65, 200])
        return gen.val()

    def g_hset():
        cmd = r.choice([b"HSET", b"HSET", b"HSET", b"HMSET"])
        args = [cmd, gen.key()]
        for _ in range(r.randint(1, 3)):
            args += [field(), value()]
        if r.random() < 0.05:
            args.pop()          # odd number of arguments
        return args

    def g_hset_many():
        # Around the 512-entry threshold, with some fields that already exist.
        n = r.choice([r.randint(5, 40), r.randint(500, 520)])
        base = r.randint(0, 30)
        args = [b"HSET", gen.key()]
        for i in range(base, base + n):
            args += [b"m%d" % i, b"%d" % (i * 7)]
        return args

    def g_hsetnx():
        return [b"HSETNX", gen.key(), field(), value()]

    def g_hget():
        return [b"HGET", gen.key(), field()]

    def g_hmget():
        return [b"HMGET", gen.key()] + [field() for _ in range(r.randint(1, 4))]

    def g_hdel():
        return [b"HDEL", gen.key()] + [field() for _ in range(r.randint(1, 4))]

    def g_hdel_many():
        base = r.randint(0, 40)
        return [b"HDEL", gen.key()] + [b"m%d" % i for i in range(base, base + r.randint(1, 500))]

    def g_small():
        cmd = r.choice([b"HLEN", b"HKEYS", b"HVALS", b"HGETALL", b"HGETALL"])
        return [cmd, gen.key()]

    def g_field_read():
        return [r.choice([b"HSTRLEN", b"HEXISTS"]), gen.key(), field()]

    def g_hincrby():
        return [b"HINCRBY", gen.key(), field(), gen.num()]

    def g_hincrbyfloat():
        incr = r.choice([b"1", b"-1.5", b"0.1", b"3e2", b"1e308", b"-1e308", b"inf", b"abc",
                         b"", b"1.18e4932", b"0", gen.num()])
        return [b"HINCRBYFLOAT", gen.key(), field(), incr]

    def g_hrandfield():
        args = [b"HRANDFIELD", gen.key()]
        c = r.random()
        if c < 0.25:
            return args
        args.append(r.choice([b"0", b"1", b"2", b"3", b"5", b"-1", b"-3", b"-10", b"100",
                              b"600", b"abc"]))
        if r.random() < 0.5:
            args.append(r.choice([b"WITHVALUES", b"withvalues", b"WITHVALUES", b"foo"]))
            if r.random() < 0.1:
                # Out of range only with WITHVALUES (without, it asks for 4.6e18 fields).
                args[2] = r.choice([b"-4611686018427387904", b"4611686018427387904"])
        return args

    def g_hscan():
        args = [b"HSCAN", gen.key(), r.choice([b"0", b"0", b"0", b"7", b"abc", b"-1"])]
        if r.random() < 0.4:
            args += [b"MATCH", r.choice([b"f*", b"*", b"m1*", b"[ab]", b"?"])]
        if r.random() < 0.4:
            args += [b"COUNT", r.choice([b"1", b"10", b"100", b"0", b"x"])]
        if r.random() < 0.05:
            args += [b"NOVALUES"]
        return args

    def g_config():
        # Mostly back at the defaults, sometimes tiny thresholds (conversions on every write).
        name = r.choice([b"hash-max-listpack-entries", b"hash-max-listpack-value"])
        if name == b"hash-max-listpack-entries":
            v = r.choice([b"512", b"512", b"512", b"0", b"1", b"3", b"8"])
        else:
            v = r.choice([b"64", b"64", b"64", b"0", b"2", b"10"])
        return [b"CONFIG", b"SET", name, v]

    def g_encoding():
        return [b"OBJECT", b"ENCODING", gen.key()]

    return [
        (6, g_hset), (1, g_hset_many), (2, g_hsetnx), (4, g_hget), (2, g_hmget), (3, g_hdel),
        (1, g_hdel_many), (3, g_small), (2, g_field_read), (3, g_hincrby),
        (2, g_hincrbyfloat), (2, g_hrandfield), (2, g_hscan), (1, g_config), (2, g_encoding),
    ]
