"""Random sorted-set commands for kldiff.py (--types), and the policies for the sorted-set
replies that are not deterministic.

Everything about a sorted set is ordered (by score, then member bytes), so nearly every reply is
compared byte for byte. The exceptions:

  * ZRANDMEMBER picks at random. The policy checks what Redis promises: the reply type and
    size, every pick (with its score) really in the sorted set, distinct picks for a positive
    count, and the whole set byte for byte when the count covers it (that order is defined).
  * ZSCAN of a skiplist-encoded set walks the member hash table, whose order differs between
    any two processes: cursor 0 drives a full iteration on both servers and compares the
    member/score sets; other cursors are checked for shape. Listpacks come back whole and are
    compared exactly.
  * Lex ranges (ZRANGEBYLEX, ZLEXCOUNT, ZRANGE BYLEX) are only defined when all scores are
    equal. On a listpack Redis walks the entries in order, so even mixed scores give a defined
    reply (compared exactly); on a skiplist with mixed scores the reply depends on the random
    shape of the skiplist, so it is compared by type only. The generator keeps lex commands
    that write (ZREMRANGEBYLEX, ZRANGESTORE BYLEX) on dedicated keys whose scores are all 0.
"""

import sys

ZSET_KEYS = [b"z0", b"z1", b"z2"]   # mostly sorted sets (fewer WRONGTYPE replies)
LEX_KEYS = [b"zlex0", b"zlex1"]
BIG_KEY = b"zbig"
SET_KEYS = [b"zs_int", b"zs_str"]   # plain sets as Z* set-operation inputs (score 1)
MEMBERS = [b"a", b"b", b"c", b"d", b"e", b"aa", b"ab", b"", b"1", b"10", b"-1", b"2",
           b"\x00", b"a\x00b", b"\xff", b"hello world"]
LONG = b"L" * 70
SCORES = [b"0", b"1", b"-1", b"2", b"3", b"1.5", b"-0", b"-0.5", b"inf", b"-inf", b"+inf",
          b"1e300", b"-1e300", b"0.1", b"4503599627370497", b"1e17", b"3.0"]
BAD_SCORES = [b"abc", b"nan", b"", b"(1", b" 1", b"1e400"]
RANGE_ENDS = [b"-inf", b"+inf", b"0", b"1", b"(1", b"2", b"(2", b"-1", b"(-1", b"1.5", b"inf",
              b"(inf", b"3", b"(0", b"abc", b"(", b""]
LEX_ENDS = [b"-", b"+", b"[a", b"(a", b"[b", b"(b", b"[c", b"(aa", b"[", b"(", b"a", b"[e",
            b"(zz", b"[\x00"]


def _kd():
    """The kldiff module that loaded us (__main__ when kldiff.py runs as a script)."""
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


def _units(raw, withscores):
    """The elements of an array reply as comparable raw units: a member, or a member with its
    score (one nested RESP3 pair, or two consecutive RESP2 elements)."""
    kd = _kd()
    _, elems = kd.split_aggregate(raw)
    if withscores and raw[:1] == b"*" and elems and not elems[0].startswith(b"*"):
        if len(elems) % 2:
            raise _mismatch("odd number of elements in a WITHSCORES reply")
        return [elems[i] + elems[i + 1] for i in range(0, len(elems), 2)]
    return elems


def _whole(conn, key, withscores):
    """The sorted set as raw units, in the same protocol as the compared replies."""
    args = ["ZRANGE", key, "0", "-1"] + (["WITHSCORES"] if withscores else [])
    conn.send(_encode(*args))
    raw = conn.read_reply()[0]
    return _units(raw, withscores)


def _encode(*args):
    from klserver import encode_command
    return encode_command(*args)


def cmp_zrandmember(args, ra, rb, ctx):
    """ZRANDMEMBER: see the module docstring."""
    kd = _kd()
    if kd.is_error(ra) or kd.is_error(rb) or ra[:1] != rb[:1] or ra == rb or len(args) < 2:
        return kd.cmp_exact(args, ra, rb, ctx)
    key = args[1]
    withscores = len(args) > 3
    if len(args) == 2:
        # One member (a bulk string) or null on both.
        if ra[:1] != b"$":
            return kd.cmp_exact(args, ra, rb, ctx)
        for conn, raw in ((ctx.ca, ra), (ctx.cb, rb)):
            if raw not in _whole(conn, key, False):
                raise _mismatch("ZRANDMEMBER returned a non-member: %r" % raw)
        return
    count = int(args[2])
    wa = _whole(ctx.ca, key, withscores)
    wb = _whole(ctx.cb, key, withscores)
    if wa != wb:
        raise _mismatch("sorted sets differ before ZRANDMEMBER: A %r, B %r" % (wa, wb))
    if count > 0 and count >= len(wa):
        return kd.cmp_exact(args, ra, rb, ctx)
    want = abs(count) if count < 0 else min(count, len(wa))
    for raw, whole in ((ra, wa), (rb, wb)):
        picks = _units(raw, withscores)
        if len(picks) != want:
            raise _mismatch("ZRANDMEMBER returned %d picks, %d expected" % (len(picks), want))
        if count > 0 and len(set(picks)) != len(picks):
            raise _mismatch("ZRANDMEMBER with a positive count repeated a member")
        wset = set(whole)
        for p in picks:
            if p not in wset:
                raise _mismatch("ZRANDMEMBER pick %r is not in the sorted set" % p)


def _zscan_full(conn, key, first, opts):
    from klserver import parse_reply
    cursor, items = first
    seen = {}
    for _ in range(200000):
        if len(items) % 2:
            raise _mismatch("ZSCAN returned an odd number of items")
        for m, s in zip(items[0::2], items[1::2]):
            if m in seen and seen[m] != s:
                raise _mismatch("ZSCAN returned two scores for %r" % m)
            seen[m] = s
        if cursor == b"0":
            return seen
        conn.send(_encode("ZSCAN", key, cursor, *opts))
        cursor, items = parse_reply(conn.read_reply()[0], 0)[0]
    raise _mismatch("ZSCAN does not terminate")


def _scan_shape(raw):
    from klserver import parse_reply
    v = parse_reply(raw, 0)[0]
    if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], bytes)
            and v[0].isdigit() and isinstance(v[1], list)
            and all(isinstance(x, bytes) for x in v[1])):
        raise _mismatch("ZSCAN reply shape")
    return v


def cmp_zscan(args, ra, rb, ctx):
    """ZSCAN: exact for listpacks; skiplists: full iteration from cursor 0, shape otherwise."""
    kd = _kd()
    if kd.is_error(ra) or kd.is_error(rb) or len(args) < 3 or ra == rb:
        return kd.cmp_exact(args, ra, rb, ctx)
    va = _scan_shape(ra)
    vb = _scan_shape(rb)
    if _encodings(ctx, args[1]) != b"skiplist":
        return kd.cmp_exact(args, ra, rb, ctx)
    if args[2] != b"0":
        return
    opts = list(args[3:])
    sa = _zscan_full(ctx.ca, args[1], va, opts)
    sb = _zscan_full(ctx.cb, args[1], vb, opts)
    if sa != sb:
        only_a = sorted(set(sa.items()) - set(sb.items()))[:10]
        only_b = sorted(set(sb.items()) - set(sa.items()))[:10]
        raise _mismatch("ZSCAN full iteration differs: only A %r, only B %r" % (only_a, only_b))


def _mixed_skiplist(ctx, key):
    """True when key is a skiplist whose scores are not all equal (lex ranges undefined)."""
    if _encodings(ctx, key) != b"skiplist":
        return False

    def score_at(i):
        v = ctx.ca.execute("ZRANGE", key, i, i, "WITHSCORES")
        if not v:
            return None
        return float(v[0][1] if isinstance(v[0], list) else v[1])   # RESP3 nests the pair

    return score_at("0") != score_at("-1")


def cmp_lex(args, ra, rb, ctx):
    """Lex range reads: exact unless the key is a skiplist with mixed scores (type only)."""
    kd = _kd()
    if kd.is_error(ra) or kd.is_error(rb) or ra == rb or len(args) < 2:
        return kd.cmp_exact(args, ra, rb, ctx)
    if _mixed_skiplist(ctx, args[1]):
        return kd.cmp_shape(args, ra, rb, ctx)
    return kd.cmp_exact(args, ra, rb, ctx)


def cmp_zrange(args, ra, rb, ctx):
    """ZRANGE: BYLEX reads follow cmp_lex, everything else is exact."""
    if any(a.upper() == b"BYLEX" for a in args[4:]):
        return cmp_lex(args, ra, rb, ctx)
    return _kd().cmp_exact(args, ra, rb, ctx)


POLICIES = {
    "ZRANDMEMBER": cmp_zrandmember,
    "ZSCAN": cmp_zscan,
    "ZRANGEBYLEX": cmp_lex,
    "ZREVRANGEBYLEX": cmp_lex,
    "ZLEXCOUNT": cmp_lex,
    "ZRANGE": cmp_zrange,
}


def generators(gen):
    r = gen.r

    def zkey():
        c = r.random()
        if c < 0.1:
            return r.choice(LEX_KEYS)
        if c < 0.2:
            return BIG_KEY
        if c < 0.55:
            return r.choice(ZSET_KEYS)
        return gen.key()

    def member():
        c = r.random()
        if c < 0.7:
            return r.choice(MEMBERS)
        if c < 0.9:
            return b"m%d" % r.randint(0, 40)
        if c < 0.97:
            return gen.val()
        return LONG

    def score():
        c = r.random()
        if c < 0.4:
            return str(r.randint(-5, 5)).encode()
        if c < 0.95:
            return r.choice(SCORES)
        return r.choice(BAD_SCORES)

    def end():
        if r.random() < 0.3:
            return str(r.randint(-5, 5)).encode()
        return r.choice(RANGE_ENDS)

    def lex_end():
        return r.choice(LEX_ENDS)

    def idx():
        return str(r.randint(-8, 8)).encode()

    def keys(lo=1, hi=3):
        return [zkey() for _ in range(r.randint(lo, hi))]

    def g_zadd():
        k = zkey()
        if k in LEX_KEYS:
            return [b"ZADD", k] + [x for _ in range(r.randint(1, 4)) for x in (b"0", member())]
        args = [b"ZADD", k]
        for opt in (b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"):
            if r.random() < 0.12:
                args.append(opt)
        n = 1 if b"INCR" in args and r.random() < 0.9 else r.randint(1, 4)
        for _ in range(n):
            args += [score(), member()]
        if r.random() < 0.03:
            args.pop()
        return args

    def g_zadd_many():
        # Around the 128-entry listpack threshold.
        k = r.choice([BIG_KEY, gen.key(), r.choice(ZSET_KEYS)])
        n = r.choice([r.randint(1, 20), r.randint(120, 135)])
        base = r.randint(0, 50)
        args = [b"ZADD", k]
        for i in range(base, base + n):
            args += [b"0" if k in LEX_KEYS else str(i % 17).encode(), b"m%d" % i]
        return args

    def g_zincrby():
        k = zkey()
        inc = b"0" if k in LEX_KEYS else score()
        return [b"ZINCRBY", k, inc, member()]

    def g_zrem():
        return [b"ZREM", zkey()] + [member() for _ in range(r.randint(1, 4))]

    def g_read():
        c = r.random()
        k = zkey()
        if c < 0.15:
            return [b"ZCARD", k]
        if c < 0.35:
            return [b"ZSCORE", k, member()]
        if c < 0.45:
            return [b"ZMSCORE", k] + [member() for _ in range(r.randint(1, 4))]
        if c < 0.6:
            return [r.choice([b"ZRANK", b"ZREVRANK"]), k, member()]
        if c < 0.75:
            return [b"ZCOUNT", k, end(), end()]
        if c < 0.85:
            return [b"ZLEXCOUNT", k, lex_end(), lex_end()]
        return [b"OBJECT", b"ENCODING", k]

    def limit():
        return [b"LIMIT", str(r.randint(-1, 5)).encode(), str(r.randint(-2, 6)).encode()]

    def g_zrange():
        k = zkey()
        c = r.random()
        if c < 0.35:
            args = [b"ZRANGE", k, idx(), idx()]
            if r.random() < 0.3:
                args.append(b"REV")
            if r.random() < 0.5:
                args.append(b"WITHSCORES")
        elif c < 0.65:
            args = [b"ZRANGE", k, end(), end(), b"BYSCORE"]
            if r.random() < 0.3:
                args.append(b"REV")
            if r.random() < 0.4:
                args += limit()
            if r.random() < 0.5:
                args.append(b"WITHSCORES")
        elif c < 0.8:
            args = [b"ZRANGE", k, lex_end(), lex_end(), b"BYLEX"]
            if r.random() < 0.3:
                args.append(b"REV")
            if r.random() < 0.4:
                args += limit()
        else:
            args = [b"ZRANGE", k, idx(), idx()]
            args += r.sample([b"REV", b"BYSCORE", b"BYLEX", b"WITHSCORES", b"LIMIT", b"1", b"2"],
                             r.randint(1, 3))
        if len(args) > 4 and r.random() < 0.2:
            tail = args[4:]
            r.shuffle(tail)
            args = args[:4] + tail
        return args

    def g_old_range():
        k = zkey()
        c = r.random()
        if c < 0.25:
            args = [b"ZREVRANGE", k, idx(), idx()]
            if r.random() < 0.5:
                args.append(b"WITHSCORES")
            return args
        if c < 0.7:
            name = r.choice([b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE"])
            args = [name, k, end(), end()]
            if r.random() < 0.5:
                args.append(b"WITHSCORES")
            if r.random() < 0.4:
                args += limit()
            return args
        name = r.choice([b"ZRANGEBYLEX", b"ZREVRANGEBYLEX"])
        args = [name, k, lex_end(), lex_end()]
        if r.random() < 0.4:
            args += limit()
        return args

    def g_zrangestore():
        dst = r.choice([gen.key(), BIG_KEY, r.choice(ZSET_KEYS)])
        c = r.random()
        if c < 0.5:
            args = [b"ZRANGESTORE", dst, zkey(), idx(), idx()]
            if r.random() < 0.3:
                args.append(b"REV")
        elif c < 0.85:
            args = [b"ZRANGESTORE", dst, zkey(), end(), end(), b"BYSCORE"]
            if r.random() < 0.4:
                args += limit()
        else:
            lk = r.choice(LEX_KEYS)
            return [b"ZRANGESTORE", r.choice(LEX_KEYS), lk, lex_end(), lex_end(), b"BYLEX"]
        return args

    def g_pop():
        c = r.random()
        if c < 0.5:
            args = [r.choice([b"ZPOPMIN", b"ZPOPMAX"]), zkey()]
            if r.random() < 0.5:
                args.append(r.choice([b"1", b"2", b"0", b"5", b"-1", b"abc"]))
            return args
        if c < 0.8:
            ks = keys()
            args = [b"ZMPOP", str(len(ks)).encode()] + ks + [r.choice([b"MIN", b"MAX"])]
            if r.random() < 0.5:
                args += [b"COUNT", r.choice([b"1", b"3", b"0", b"10"])]
            return args
        # Blocking pops with a short timeout: they only block when every key is empty.
        if r.random() < 0.5:
            return [r.choice([b"BZPOPMIN", b"BZPOPMAX"])] + keys() + [b"0.01"]
        ks = keys()
        return [b"BZMPOP", b"0.01", str(len(ks)).encode()] + ks + \
            [r.choice([b"MIN", b"MAX"]), b"COUNT", r.choice([b"1", b"2"])]

    def g_zrandmember():
        k = zkey()
        c = r.random()
        if c < 0.3:
            return [b"ZRANDMEMBER", k]
        args = [b"ZRANDMEMBER", k, str(r.randint(-6, 8)).encode()]
        if r.random() < 0.5:
            args.append(b"WITHSCORES")
        return args

    def g_zremrange():
        c = r.random()
        if c < 0.4:
            return [b"ZREMRANGEBYRANK", zkey(), idx(), idx()]
        if c < 0.8:
            return [b"ZREMRANGEBYSCORE", zkey(), end(), end()]
        return [b"ZREMRANGEBYLEX", r.choice(LEX_KEYS), lex_end(), lex_end()]

    def g_sadd():
        k = r.choice(SET_KEYS)
        if k == b"zs_int":
            return [b"SADD", k] + [str(r.randint(-3, 12)).encode() for _ in range(r.randint(1, 3))]
        return [b"SADD", k] + [member() for _ in range(r.randint(1, 3))]

    def setop_key():
        return r.choice(SET_KEYS) if r.random() < 0.2 else zkey()

    def g_setop():
        ks = [setop_key() for _ in range(r.randint(1, 3))]
        op = r.choice([b"ZUNION", b"ZINTER", b"ZDIFF", b"ZUNIONSTORE", b"ZINTERSTORE",
                       b"ZDIFFSTORE", b"ZINTERCARD"])
        n = str(len(ks)).encode() if r.random() < 0.95 else r.choice([b"0", b"9", b"x"])
        if op.endswith(b"STORE"):
            args = [op, r.choice([gen.key(), BIG_KEY, r.choice(ZSET_KEYS)]), n] + ks
        else:
            args = [op, n] + ks
        if op in (b"ZUNION", b"ZINTER", b"ZUNIONSTORE", b"ZINTERSTORE"):
            if r.random() < 0.4:
                args += [b"WEIGHTS"] + [r.choice([b"1", b"2", b"-1", b"0", b"0.5", b"inf"])
                                        for _ in ks]
            if r.random() < 0.4:
                args += [b"AGGREGATE", r.choice([b"SUM", b"MIN", b"MAX"])]
        if op in (b"ZUNION", b"ZINTER", b"ZDIFF") and r.random() < 0.6:
            args.append(b"WITHSCORES")
        if op == b"ZINTERCARD" and r.random() < 0.5:
            args += [b"LIMIT", r.choice([b"0", b"1", b"2", b"-1"])]
        return args

    def g_zscan():
        args = [b"ZSCAN", zkey(), b"0"]
        if r.random() < 0.3:
            args += [b"MATCH", r.choice([b"*", b"a*", b"m1*", b"*b*", b"?"])]
        if r.random() < 0.3:
            args += [b"COUNT", r.choice([b"1", b"5", b"100"])]
        return args

    return [
        (10, g_zadd), (2, g_zadd_many), (3, g_zincrby), (4, g_zrem), (10, g_read),
        (8, g_zrange), (5, g_old_range), (2, g_zrangestore), (4, g_pop), (3, g_zrandmember),
        (3, g_zremrange), (5, g_setop), (2, g_zscan), (1, g_sadd),
    ]
