"""Writes RDB files in the formats of Redis 2.6 to 6.x (RDB versions 6 to 9),
byte by byte, from the format (Redis's rdb.h/rdb.c, ziplist.c, zipmap.c,
intset.c, lzf), since no old Redis is at hand:

  - strings raw, integer-encoded (INT8/16/32) and LZF-compressed;
  - RDB_TYPE_LIST (linked list, element by element), RDB_TYPE_LIST_ZIPLIST,
    RDB_TYPE_LIST_QUICKLIST (quicklist v1: nodes that are ziplists, some
    LZF-compressed);
  - RDB_TYPE_SET, RDB_TYPE_SET_INTSET (16/32/64-bit);
  - RDB_TYPE_ZSET (scores as text, with inf/-inf), RDB_TYPE_ZSET_ZIPLIST,
    RDB_TYPE_ZSET_2;
  - RDB_TYPE_HASH, RDB_TYPE_HASH_ZIPMAP, RDB_TYPE_HASH_ZIPLIST;
  - EXPIRETIME (seconds), EXPIRETIME_MS, SELECTDB, RESIZEDB, AUX, IDLE, FREQ.

legacy_files() returns [(name, bytes, expected)], expected mapping
(db, key) -> (type, encoding Redis 7.0 gives it on load, value, ttl kind),
where ttl kind is None (no TTL) or the absolute expiry in ms. Values: bytes
(string), list of bytes (list), set of bytes (set), dict bytes->float (zset),
dict bytes->bytes (hash).
"""

import struct

# ---------------------------------------------------------------- primitives

CRC64_POLY = 0xAD93D23594C935A9  # Jones, reflected (Redis's crc64)


def _crc64_table():
    table = []
    # Reflected algorithm: the polynomial is applied bit-reversed.
    rpoly = int(f"{CRC64_POLY:064b}"[::-1], 2)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ rpoly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc64_table()


def crc64(data, crc=0):
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def lzf_compress(data):
    """A small greedy LZF compressor (liblzf's format: literal runs of up to
    32 bytes, back references of 3..264 bytes within 8 KB)."""
    out = bytearray()
    lit = bytearray()
    i = 0
    n = len(data)

    def flush():
        while lit:
            chunk = lit[:32]
            del lit[:32]
            out.append(len(chunk) - 1)
            out.extend(chunk)

    while i < n:
        best_len, best_off = 0, 0
        start = max(0, i - 8192)
        if i + 3 <= n:
            for j in range(i - 1, start - 1, -1):
                length = 0
                while i + length < n and length < 264 and data[j + length] == data[i + length]:
                    length += 1
                if length > best_len:
                    best_len, best_off = length, i - j - 1
                    if length == 264:
                        break
        if best_len >= 3:
            flush()
            ln = best_len - 2
            if ln < 7:
                out.append((ln << 5) | (best_off >> 8))
            else:
                out.append((7 << 5) | (best_off >> 8))
                out.append(ln - 7)
            out.append(best_off & 0xFF)
            i += best_len
        else:
            lit.append(data[i])
            i += 1
    flush()
    return bytes(out)


def rdb_raw(s):
    return rdb_len(len(s)) + s


def rdb_int_str(v):
    """An integer-encoded string (RDB_ENC_INT8/16/32)."""
    if -128 <= v <= 127:
        return b"\xc0" + struct.pack("<b", v)
    if -32768 <= v <= 32767:
        return b"\xc1" + struct.pack("<h", v)
    return b"\xc2" + struct.pack("<i", v)


def rdb_lzf_str(s):
    c = lzf_compress(s)
    return b"\xc3" + rdb_len(len(c)) + rdb_len(len(s)) + c


def rdb_str(s):
    """Encode s as old Redis did: integers in int32 range as integers, long
    compressible strings with LZF, else raw."""
    try:
        v = int(s)
        if str(v).encode() == s and -(2**31) <= v < 2**31:
            return rdb_int_str(v)
    except ValueError:
        pass
    if len(s) > 20:
        c = lzf_compress(s)
        if len(c) + 4 < len(s):
            return b"\xc3" + rdb_len(len(c)) + rdb_len(len(s)) + c
    return rdb_raw(s)


def rdb_double_str(d):
    """RDB_TYPE_ZSET's text score."""
    if d != d:
        return b"\xfd"
    if d == float("inf"):
        return b"\xfe"
    if d == float("-inf"):
        return b"\xff"
    s = repr(d).encode() if d != int(d) or abs(d) >= 2**52 else str(int(d)).encode()
    return bytes([len(s)]) + s


# ---------------------------------------------------------------- ziplist

def _zl_entry(prevlen, v):
    pl = bytes([prevlen]) if prevlen < 254 else b"\xfe" + struct.pack("<I", prevlen)
    if isinstance(v, int):
        if 0 <= v <= 12:
            enc = bytes([0xF1 + v])
        elif -128 <= v <= 127:
            enc = b"\xfe" + struct.pack("<b", v)
        elif -32768 <= v <= 32767:
            enc = b"\xc0" + struct.pack("<h", v)
        elif -(2**23) <= v < 2**23:
            enc = b"\xf0" + struct.pack("<i", v)[:3]
        elif -(2**31) <= v < 2**31:
            enc = b"\xd0" + struct.pack("<i", v)
        else:
            enc = b"\xe0" + struct.pack("<q", v)
        return pl + enc
    n = len(v)
    if n <= 63:
        enc = bytes([n])
    elif n <= 16383:
        enc = bytes([0x40 | (n >> 8), n & 0xFF])
    else:
        enc = b"\x80" + struct.pack(">I", n)
    return pl + enc + v


def _zl_item(v):
    """As ziplistPush: strings that are canonical integers stored as ints."""
    if isinstance(v, bytes) and 0 < len(v) <= 20:
        try:
            i = int(v)
            if str(i).encode() == v and -(2**63) <= i < 2**63:
                return i
        except ValueError:
            pass
    return v


def ziplist(items):
    body = bytearray()
    prev = 0
    tail = 10
    for it in items:
        e = _zl_entry(prev, _zl_item(it))
        tail = 10 + len(body)
        body += e
        prev = len(e)
    total = 10 + len(body) + 1
    n = len(items) if len(items) < 65535 else 65535
    return struct.pack("<IIH", total, tail, n) + bytes(body) + b"\xff"


# ---------------------------------------------------------------- zipmap

def zipmap(pairs):
    out = bytearray([len(pairs) if len(pairs) < 254 else 254])

    def zlen(n):
        return bytes([n]) if n < 254 else b"\xfe" + struct.pack("<I", n)

    for i, (k, v) in enumerate(pairs):
        free = 2 if i == 1 else 0  # one value with unused trailing bytes
        out += zlen(len(k)) + k + zlen(len(v)) + bytes([free]) + v + b"\x00" * free
    out.append(0xFF)
    return bytes(out)


# ---------------------------------------------------------------- intset

def intset(values):
    values = sorted(values)
    width = 2
    for v in values:
        if not -(2**15) <= v < 2**15:
            width = max(width, 4)
        if not -(2**31) <= v < 2**31:
            width = 8
    fmt = {2: "<h", 4: "<i", 8: "<q"}[width]
    return struct.pack("<II", width, len(values)) + b"".join(struct.pack(fmt, v) for v in values)


# ---------------------------------------------------------------- files

FAR_MS = 4102444800000  # 2100-01-01
FAR_S = 2100000000      # 2036-07-18 (the seconds opcode is 32-bit)
PAST_MS = 1000000000000  # 2001: expired at load


class RdbFile:
    def __init__(self, version):
        self.version = version
        self.out = bytearray(b"REDIS%04d" % version)
        self.expected = {}
        self.payloads = []  # (key, DUMP-style payload): fuzz seeds
        self.db = 0

    def aux(self, k, v):
        self.out += b"\xfa" + rdb_str(k) + rdb_str(v)

    def select(self, db, size=None, expires=0):
        self.db = db
        self.out += b"\xfe" + rdb_len(db)
        if size is not None:
            self.out += b"\xfb" + rdb_len(size) + rdb_len(expires)

    def key(self, rtype, key, payload, typ, enc, value, expire_ms=None, expire_s=None,
            idle=None, freq=None, expected=True):
        ttl = None
        if expire_s is not None:
            self.out += b"\xfd" + struct.pack("<i", expire_s)
            ttl = expire_s * 1000
        if expire_ms is not None:
            self.out += b"\xfc" + struct.pack("<q", expire_ms)
            ttl = expire_ms
        if idle is not None:
            self.out += b"\xf8" + rdb_len(idle)
        if freq is not None:
            self.out += b"\xf9" + bytes([freq])
        self.out += bytes([rtype]) + rdb_str(key) + payload
        body = bytes([rtype]) + payload + struct.pack("<H", self.version)
        self.payloads.append((key, body + struct.pack("<Q", crc64(body))))
        if expected:
            self.expected[(self.db, key)] = (typ, enc, value, ttl)

    def finish(self):
        self.out += b"\xff"
        if self.version >= 5:
            self.out += struct.pack("<Q", crc64(self.out))
        return bytes(self.out)


def _elems(prefix, n, width=0):
    return [f"{prefix}{i}".encode() + b"x" * width for i in range(n)]


def _strings(f):
    f.key(0, b"s_raw", rdb_raw(b"hello world"), "string", "embstr", b"hello world")
    f.key(0, b"s_int8", rdb_int_str(-7), "string", "int", b"-7")
    f.key(0, b"s_int16", rdb_int_str(12345), "string", "int", b"12345")
    f.key(0, b"s_int32", rdb_int_str(-2147483648), "string", "int", b"-2147483648")
    long = b"abcdefgh" * 40
    f.key(0, b"s_lzf", rdb_lzf_str(long), "string", "raw", long)
    f.key(0, b"s_bin", rdb_raw(bytes(range(256))), "string", "raw", bytes(range(256)))
    f.key(0, b"s_empty", rdb_raw(b""), "string", "embstr", b"")


def _sets(f):
    members = [b"a", b"b", b"1", b"zz" * 10]
    f.key(2, b"set_ht", rdb_len(len(members)) + b"".join(rdb_str(m) for m in members),
          "set", "hashtable", set(members))
    ints = [b"5", b"-3", b"100000"]
    f.key(2, b"set_plain_ints", rdb_len(3) + b"".join(rdb_str(m) for m in ints), "set", "intset",
          set(ints))
    for name, vals in ((b"set_is16", [1, -2, 300]), (b"set_is32", [1, 70000, -70000]),
                       (b"set_is64", [1, 2**40, -(2**40)])):
        blob = intset(vals)
        f.key(11, name, rdb_str(blob), "set", "intset", {str(v).encode() for v in vals})
    big = list(range(600))  # over set-max-intset-entries (512): a hashtable
    f.key(11, b"set_is_big", rdb_str(intset(big)), "set", "hashtable",
          {str(v).encode() for v in big})


def _zsets_text(f):
    zs = {b"a": 1.0, b"b": 2.5, b"c": -3.0, b"inf": float("inf"), b"ninf": float("-inf"),
          b"tiny": 1e-300, b"third": 1 / 3}
    payload = rdb_len(len(zs)) + b"".join(rdb_str(m) + rdb_double_str(s) for m, s in zs.items())
    f.key(3, b"zset_text", payload, "zset", "listpack", zs)
    big = {f"m{i}".encode(): i / 7 for i in range(200)}
    payload = rdb_len(len(big)) + b"".join(rdb_str(m) + rdb_double_str(s) for m, s in big.items())
    f.key(3, b"zset_text_big", payload, "zset", "skiplist", big)


def _zset_ziplist(f):
    zs = {b"a": 1.0, b"b": 2.5, b"c": -3.0, b"d": 100.0}
    items = []
    for m, s in sorted(zs.items(), key=lambda kv: kv[1]):
        items += [m, (str(int(s)) if s == int(s) else repr(s)).encode()]
    f.key(12, b"zset_zl", rdb_str(ziplist(items)), "zset", "listpack", zs)
    many = {f"m{i}".encode(): float(i) for i in range(130)}  # > 128: a skiplist
    items = [x for m, sc in many.items() for x in (m, str(int(sc)).encode())]
    f.key(12, b"zset_zl_many", rdb_str(ziplist(items)), "zset", "skiplist", many)
    f.key(12, b"zset_zl_long", rdb_str(ziplist([b"m" * 100, b"1"])), "zset", "listpack",
          {b"m" * 100: 1.0})


def _zset2(f):
    zs = {b"x": 0.5, b"y": -1e10, b"z": float("inf")}
    payload = rdb_len(len(zs)) + b"".join(rdb_str(m) + struct.pack("<d", s) for m, s in zs.items())
    f.key(5, b"zset2", payload, "zset", "listpack", zs)


def _hashes(f, zipmap_ok=True):
    h = {b"f1": b"v1", b"f2": b"2", b"f3": b"x" * 30}
    payload = rdb_len(len(h)) + b"".join(rdb_str(k) + rdb_str(v) for k, v in h.items())
    f.key(4, b"hash_plain", payload, "hash", "listpack", h)
    big = {f"f{i}".encode(): f"v{i}".encode() for i in range(600)}  # > 512 entries
    payload = rdb_len(len(big)) + b"".join(rdb_str(k) + rdb_str(v) for k, v in big.items())
    f.key(4, b"hash_plain_big", payload, "hash", "hashtable", big)
    items = []
    for k, v in h.items():
        items += [k, v]
    f.key(13, b"hash_zl", rdb_str(ziplist(items)), "hash", "listpack", h)
    # A hash ziplist with a value over hash-max-listpack-value: Redis 7.0
    # converts only by the entry count.
    f.key(13, b"hash_zl_long", rdb_str(ziplist([b"k", b"v" * 100])), "hash", "listpack",
          {b"k": b"v" * 100})
    many = {f"f{i}".encode(): str(i).encode() for i in range(520)}
    items = [x for kv in many.items() for x in kv]
    f.key(13, b"hash_zl_many", rdb_str(ziplist(items)), "hash", "hashtable", many)
    if zipmap_ok:
        f.key(9, b"hash_zm", rdb_str(zipmap(list(h.items()))), "hash", "listpack", h)
        longv = {b"k": b"v" * 100, b"k2": b"w"}  # a value over hash-max-listpack-value
        f.key(9, b"hash_zm_long", rdb_str(zipmap(list(longv.items()))), "hash", "hashtable", longv)


def _lists_old(f):
    el = [b"a", b"1", b"-5", b"70000", b"4294967296", b"x" * 70, b""]
    f.key(1, b"list_linked", rdb_len(len(el)) + b"".join(rdb_str(e) for e in el), "list",
          "quicklist", el)
    f.key(10, b"list_zl", rdb_str(ziplist(el)), "list", "quicklist", el)
    many = [str(i).encode() * 3 for i in range(300)]
    f.key(10, b"list_zl_many", rdb_str(ziplist(many)), "list", "quicklist", many)


def _lists_quicklist(f):
    nodes = [_elems("n0-", 5), _elems("n1-", 100, 20), [b"1", b"2", b"300000"], [b"y" * 300]]
    payload = rdb_len(len(nodes)) + b"".join(rdb_str(ziplist(n)) for n in nodes)
    f.key(14, b"list_ql", payload, "list", "quicklist", [e for n in nodes for e in n])


def legacy_files():
    files = []

    # Redis 2.6/2.8 (RDB 6): no AUX, no RESIZEDB; linked lists, ziplists,
    # zipmaps, text zset scores, second expiries.
    f = RdbFile(6)
    f.select(0)
    _strings(f)
    _lists_old(f)
    _sets(f)
    _zsets_text(f)
    _zset_ziplist(f)
    _hashes(f)
    f.key(0, b"exp_s", rdb_raw(b"v"), "string", "embstr", b"v", expire_s=FAR_S)
    f.key(0, b"exp_ms", rdb_raw(b"v"), "string", "embstr", b"v", expire_ms=FAR_MS)
    f.key(0, b"expired", rdb_raw(b"gone"), "string", "embstr", b"gone", expire_ms=PAST_MS,
          expected=False)
    f.select(5)
    f.key(0, b"in_db5", rdb_raw(b"five"), "string", "embstr", b"five", expire_s=FAR_S)
    files.append(("v6.rdb", f.finish(), f.expected))

    # Redis 3.2 (RDB 7): AUX fields, RESIZEDB, quicklists of ziplists.
    f = RdbFile(7)
    f.aux(b"redis-ver", b"3.2.12")
    f.aux(b"redis-bits", b"64")
    f.aux(b"ctime", b"1500000000")
    f.aux(b"used-mem", b"1000000")
    f.select(0, 20, 1)
    _strings(f)
    _lists_quicklist(f)
    _sets(f)
    _zset_ziplist(f)
    _hashes(f)
    f.key(0, b"exp_ms", rdb_raw(b"v"), "string", "embstr", b"v", expire_ms=FAR_MS)
    files.append(("v7.rdb", f.finish(), f.expected))

    # Redis 4.0 (RDB 8): ZSET_2 binary scores, IDLE opcodes, aof-preamble.
    f = RdbFile(8)
    f.aux(b"redis-ver", b"4.0.14")
    f.aux(b"aof-preamble", b"0")
    f.select(0, 10, 0)
    _strings(f)
    _lists_quicklist(f)
    _zset2(f)
    f.key(0, b"idle", rdb_raw(b"v"), "string", "embstr", b"v", idle=100)
    f.select(3, 1, 0)
    _hashes(f, zipmap_ok=False)
    files.append(("v8.rdb", f.finish(), f.expected))

    # Redis 5/6 (RDB 9): FREQ opcodes, lua AUX (ignored).
    f = RdbFile(9)
    f.aux(b"redis-ver", b"6.2.14")
    f.aux(b"lua", b"return 1")
    f.select(0, 10, 1)
    _strings(f)
    _lists_quicklist(f)
    _sets(f)
    _zset2(f)
    _zset_ziplist(f)
    _hashes(f, zipmap_ok=False)
    f.key(0, b"freq", rdb_raw(b"v"), "string", "embstr", b"v", freq=20)
    f.key(0, b"exp_ms", rdb_raw(b"v"), "string", "embstr", b"v", expire_ms=FAR_MS)
    files.append(("v9.rdb", f.finish(), f.expected))

    # Versions before checksums (RDB 4: Redis 2.4-era header, no trailer).
    f = RdbFile(4)
    f.select(0)
    f.key(0, b"old", rdb_raw(b"value"), "string", "embstr", b"value")
    _lists_old(f)
    files.append(("v4.rdb", f.finish(), f.expected))
    return files


def bad_files():
    """Files Redis 7.0 refuses to load: [(name, bytes)]. Hash and zset
    ziplists and zipmaps are converted with a full check, duplicates
    included, whatever sanitize-dump-payload says."""
    out = []
    for rtype, name in ((13, "dup-hash-ziplist"), (12, "dup-zset-ziplist")):
        f = RdbFile(6)
        f.select(0)
        f.key(rtype, b"ok", rdb_str(ziplist([b"a", b"1"])), None, None, None)
        f.key(rtype, b"dup", rdb_str(ziplist([b"a", b"1", b"b", b"2", b"a", b"3"])), None, None,
              None)
        out.append((name + ".rdb", f.finish()))
    f = RdbFile(6)
    f.select(0)
    f.key(9, b"dup", rdb_str(zipmap([(b"a", b"1"), (b"a", b"2")])), None, None, None)
    out.append(("dup-zipmap.rdb", f.finish()))
    return out


if __name__ == "__main__":
    import os
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "."
    for name, data, _ in legacy_files():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
