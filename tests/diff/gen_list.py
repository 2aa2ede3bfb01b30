"""Random list commands for kldiff.py (--types).

Every list reply is deterministic, so nothing needs a policy: pushes, pops (with and without
COUNT), indexes and ranges (negative, out of range, huge, not numbers), LSET / LINSERT / LREM /
LTRIM / LPOS with all options, LMOVE / RPOPLPUSH (including a list onto itself), LMPOP, and the
blocking variants with a short timeout (they block only when every key is empty, and then both
servers answer the timeout's null array). list-max-listpack-size is changed now and then
(1..5 entries, byte limits, 0) and some elements are larger than a node, so the lists span
many quicklist nodes, plain nodes included; list-compress-depth too (compressed inner nodes). Keys are shared with the other types: WRONGTYPE
paths come for free.
"""


def generators(gen):
    r = gen.r

    def value():
        c = r.random()
        if c < 0.03:
            return b"L" * r.choice([100, 4100, 9000])      # around the node byte limits
        if c < 0.35:
            return r.choice([b"a", b"b", b"c", b"1", b"2", b"-1", b"01"])  # repeats for LREM/LPOS
        return gen.val()

    def index():
        c = r.random()
        if c < 0.7:
            return b"%d" % r.randint(-12, 12)
        if c < 0.85:
            return r.choice([b"9223372036854775807", b"-9223372036854775808", b"100", b"-100"])
        return gen.num()

    def side():
        return r.choice([b"LEFT", b"RIGHT", b"left", b"Right"] + ([b"UP"] if r.random() < 0.05 else []))

    def timeout():
        # Never 0 (forever): a blocking command on empty keys must come back.
        return r.choice([b"0.01", b"0.01", b"0.01", b"-1", b"abc"])

    def g_push():
        cmd = r.choice([b"LPUSH", b"RPUSH", b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"])
        return [cmd, gen.key()] + [value() for _ in range(r.randint(1, 4))]

    def g_push_many():
        base = r.randint(0, 50)
        n = r.randint(20, 300)
        return [r.choice([b"LPUSH", b"RPUSH"]), gen.key()] + [b"e%d" % (base + i % 40)
                                                               for i in range(n)]

    def g_pop():
        args = [r.choice([b"LPOP", b"RPOP"]), gen.key()]
        c = r.random()
        if c < 0.5:
            args.append(r.choice([b"0", b"1", b"2", b"5", b"50", b"-1", b"abc",
                                  b"9223372036854775807"]))
        elif c < 0.52:
            args += [b"1", b"2"]
        return args

    def g_llen():
        return [b"LLEN", gen.key()]

    def g_lrange():
        return [b"LRANGE", gen.key(), index(), index()]

    def g_lrange_all():
        return [b"LRANGE", gen.key(), b"0", b"-1"]

    def g_lindex():
        return [b"LINDEX", gen.key(), index()]

    def g_lset():
        return [b"LSET", gen.key(), index(), value()]

    def g_linsert():
        where = r.choice([b"BEFORE", b"AFTER", b"before", b"after"] +
                         ([b"MIDDLE"] if r.random() < 0.05 else []))
        return [b"LINSERT", gen.key(), where, value(), value()]

    def g_lrem():
        count = r.choice([b"0", b"1", b"2", b"-1", b"-2", b"100", b"-9223372036854775808",
                          b"abc"])
        return [b"LREM", gen.key(), count, value()]

    def g_ltrim():
        c = r.random()
        if c < 0.6:    # keep most of the list
            return [b"LTRIM", gen.key(), b"%d" % r.randint(0, 3), b"%d" % r.randint(-4, -1)]
        return [b"LTRIM", gen.key(), index(), index()]

    def g_lpos():
        args = [b"LPOS", gen.key(), value()]
        opts = []
        if r.random() < 0.5:
            opts.append([b"RANK", r.choice([b"1", b"2", b"-1", b"-2", b"3", b"0", b"x",
                                            b"-9223372036854775808"])])
        if r.random() < 0.5:
            opts.append([b"COUNT", r.choice([b"0", b"1", b"2", b"10", b"-1"])])
        if r.random() < 0.3:
            opts.append([b"MAXLEN", r.choice([b"0", b"1", b"3", b"100", b"-1"])])
        if r.random() < 0.03:
            opts.append([b"FOO"])
        r.shuffle(opts)
        for o in opts:
            args += o
        return args

    def g_lmove():
        c = r.random()
        if c < 0.4:
            src = gen.key()
            dst = src if r.random() < 0.2 else gen.key()
            return [b"LMOVE", src, dst, side(), side()]
        if c < 0.7:
            src = gen.key()
            return [b"RPOPLPUSH", src, src if r.random() < 0.2 else gen.key()]
        if c < 0.85:
            return [b"BLMOVE", gen.key(), gen.key(), side(), side(), timeout()]
        return [b"BRPOPLPUSH", gen.key(), gen.key(), timeout()]

    def g_mpop():
        n = r.randint(1, 3)
        keys = [gen.key() for _ in range(n)]
        numkeys = b"%d" % n
        if r.random() < 0.05:
            numkeys = r.choice([b"0", b"-1", b"x", b"%d" % (n + 1)])
        tail = [side()]
        if r.random() < 0.5:
            tail += [b"COUNT", r.choice([b"1", b"2", b"3", b"100", b"0", b"x"])]
        if r.random() < 0.5:
            return [b"LMPOP", numkeys] + keys + tail
        return [b"BLMPOP", timeout(), numkeys] + keys + tail

    def g_bpop():
        keys = [gen.key() for _ in range(r.randint(1, 3))]
        return [r.choice([b"BLPOP", b"BRPOP"])] + keys + [timeout()]

    def g_config():
        if r.random() < 0.3:
            return [b"CONFIG", b"SET", b"list-compress-depth",
                    r.choice([b"0", b"0", b"1", b"2"])]
        v = r.choice([b"-2", b"-2", b"-2", b"1", b"2", b"3", b"5", b"0", b"-1", b"-5", b"128"])
        return [b"CONFIG", b"SET", b"list-max-listpack-size", v]

    def g_encoding():
        return [b"OBJECT", b"ENCODING", gen.key()]

    return [
        (8, g_push), (1, g_push_many), (5, g_pop), (2, g_llen), (4, g_lrange),
        (2, g_lrange_all), (3, g_lindex), (2, g_lset), (2, g_linsert), (2, g_lrem),
        (2, g_ltrim), (3, g_lpos), (3, g_lmove), (2, g_mpop), (1, g_bpop), (1, g_config),
        (1, g_encoding),
    ]
