"""maxmemory and eviction: every maxmemory-policy evicts the right keys (volatile-* only keys
with a TTL, volatile-ttl the soonest to expire, allkeys-lru keeps recently read keys,
allkeys-lfu frequently read ones), -OOM for write commands when nothing can be evicted while
reads and DEL still work, evicted_keys, the "evicted" keyspace event, OBJECT FREQ / IDLETIME
under LRU and LFU policies, policy changes at run time, and INFO memory's fields.

Memory limits are set a couple of MB above the flushed server's used_memory and the fill
loops are bounded, so each test stays small whatever the mode (TLS, I/O threads)."""

import time

import pytest

from helpers import NIL, OK, bulk, call, err, integer, simple, wait_until

OOM = err("OOM command not allowed when used memory > 'maxmemory'.")
FREQ_ERR = err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
               "Please note that when switching between policies at runtime LRU and LFU data "
               "will take some time to adjust.")
IDLE_ERR = err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note "
               "that when switching between policies at runtime LRU and LFU data will take some "
               "time to adjust.")

VALUE = b"v" * 1000          # about 1.1 KB per key with its overhead
BATCH = 200                  # commands per pipeline round trip


def used_memory(r):
    return int(r.info("memory")["used_memory"])


def evicted(r):
    return int(r.info("stats")["evicted_keys"])


def fill(r, names, ttl=None):
    """SET every name to VALUE (with EX ttl(name) when ttl is given), pipelined; returns the
    replies (errors included, never raised)."""
    out = []
    p = r.pipeline(transaction=False)
    for i, name in enumerate(names):
        if ttl is None:
            p.set(name, VALUE)
        else:
            p.set(name, VALUE, ex=ttl(name))
        if i % BATCH == BATCH - 1:
            out += p.execute(raise_on_error=False)
    out += p.execute(raise_on_error=False)
    return out


def existing(r, names):
    """The subset of names that exist."""
    p = r.pipeline(transaction=False)
    for name in names:
        p.exists(name)
    return {n for n, e in zip(names, p.execute()) if e}


def read(r, names, times=1):
    p = r.pipeline(transaction=False)
    for _ in range(times):
        for name in names:
            p.get(name)
    p.execute()


def shrink_to(r, config_set, limit):
    """Lower maxmemory, wait until eviction brought used memory under it (every command,
    INFO included, evicts first when over the limit; a timer continues between commands),
    then lift the limit again so that the checks that follow (whose own query and reply
    buffers count as used memory) evict nothing more."""
    config_set("maxmemory", str(limit))
    wait_until(lambda: used_memory(r) <= limit, timeout=10, what="used_memory <= maxmemory")
    r.config_set("maxmemory", "0")


def half_way(r, base):
    """A limit half-way between base (used_memory before a fill) and now: the server is
    over it by half of the data, far more than the few hundred KB of buffers the I/O layer
    may free meanwhile (TLS, idle clients), so it cannot drift under it by itself."""
    return base + (used_memory(r) - base) // 2


def keys(prefix, n):
    return ["%s%d" % (prefix, i) for i in range(n)]


# ---------------------------------------------------------------- noeviction / OOM


def test_noeviction_refuses_writes_but_reads_and_del_work(r, raw, config_set):
    names = keys("k", 1500)
    base = used_memory(r)
    assert all(x is True for x in fill(r, names))
    config_set("maxmemory-policy", "noeviction")
    limit = half_way(r, base)
    config_set("maxmemory", str(limit))
    before = evicted(r)
    assert call(raw, "SET", "new", "v") == OOM
    assert call(raw, "APPEND", "k1", "x") == OOM
    assert call(raw, "INCR", "counter") == OOM
    # Reads, metadata and non-denyoom writes still run.
    assert call(raw, "GET", "k1") == bulk(VALUE)
    assert call(raw, "EXISTS", "k1") == integer(1)
    assert call(raw, "EXPIRE", "k2", "1000") == integer(1)
    assert call(raw, "GET", "new") == NIL
    assert evicted(r) == before
    stats = r.info("commandstats")
    assert stats["cmdstat_set"]["rejected_calls"] >= 1
    assert stats["cmdstat_incr"]["rejected_calls"] >= 1
    # DEL frees memory; afterwards writes are accepted again.
    # Nearly all of the data: far under the limit, whatever the I/O buffers do meanwhile.
    assert r.delete(*names[:1400]) == 1400
    wait_until(lambda: used_memory(r) < limit, what="memory freed by DEL")
    assert call(raw, "SET", "new", "v") == OK
    assert call(raw, "GET", "new") == bulk("v")
    assert r.dbsize() == 101  # nothing was evicted


def test_oom_error_in_resp3(server, r, config_set):
    base = used_memory(r)
    fill(r, keys("k", 1500))
    config_set("maxmemory-policy", "noeviction")
    config_set("maxmemory", str(half_way(r, base)))
    with server.raw(protocol=3) as c:
        assert call(c, "SET", "new", "v") == OOM
        assert call(c, "GET", "k3") == bulk(VALUE)


def test_maxmemory_zero_means_no_limit(r, config_set):
    config_set("maxmemory-policy", "allkeys-lru")
    config_set("maxmemory", "0")
    before = evicted(r)
    names = keys("k", 3000)
    assert all(x is True for x in fill(r, names))
    assert r.dbsize() == 3000
    assert evicted(r) == before


def test_oom_inside_multi(server, r, raw, config_set):
    base = used_memory(r)
    fill(r, keys("k", 1000))
    config_set("maxmemory-policy", "noeviction")
    config_set("maxmemory", str(half_way(r, base)))
    # While out of memory every command but EXEC/DISCARD/QUIT/RESET is refused inside
    # MULTI, reads included, and the refusal aborts the transaction.
    assert call(raw, "MULTI") == OK
    assert call(raw, "GET", "k1") == OOM
    assert call(raw, "EXEC") == err("EXECABORT Transaction discarded because of previous errors.")
    assert call(raw, "MULTI") == OK
    assert call(raw, "DEL", "k1") == OOM
    assert call(raw, "DISCARD") == OK
    assert call(raw, "GET", "k1") == bulk(VALUE)


def test_exec_of_queued_writes_when_oom(server, r, raw, config_set):
    base = used_memory(r)
    fill(r, keys("k", 1000))
    config_set("maxmemory-policy", "noeviction")
    assert call(raw, "MULTI") == OK
    assert call(raw, "SET", "a", "1") == simple("QUEUED"), "MULTI must queue commands"
    assert call(raw, "GET", "k1") == simple("QUEUED")
    config_set("maxmemory", str(half_way(r, base)))
    assert call(raw, "EXEC") == err("EXECABORT Transaction discarded because of: OOM command "
                                    "not allowed when used memory > 'maxmemory'.")
    assert call(raw, "GET", "a") == NIL


# ---------------------------------------------------------------- allkeys-*


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_evict_while_writing(r, config_set, policy):
    config_set("maxmemory-policy", policy)
    limit = used_memory(r) + 2 * 1024 * 1024
    config_set("maxmemory", str(limit))
    before = evicted(r)
    names = keys("k", 4000)  # about 4.4 MB: twice the room
    replies = fill(r, names)
    assert all(x is True for x in replies), [x for x in replies if x is not True][:3]
    assert used_memory(r) <= limit + 256 * 1024
    r.config_set("maxmemory", "0")  # the checks below must not evict more
    n = r.dbsize()
    assert 1000 < n < 4000
    assert evicted(r) - before == 4000 - n
    # Eviction runs before a command, never after: the last key written is there.
    assert r.exists(names[-1]) == 1


def test_allkeys_lru_keeps_recently_read_keys(r, config_set):
    config_set("maxmemory-policy", "allkeys-lru")
    base = used_memory(r)
    names = keys("k", 3000)
    fill(r, names)
    data = used_memory(r) - base
    # The LRU clock counts seconds: let the fill age before reading the hot set.
    time.sleep(2.1)
    hot = names[::10]
    read(r, hot)
    # Evict half of the data from what is used now: the reads' buffers (kept by the I/O
    # layer for a while) must not make eviction go deeper than intended.
    shrink_to(r, config_set, used_memory(r) - data // 2)
    alive = existing(r, names)
    cold = set(names) - set(hot)
    assert len(alive) < 0.75 * len(names)  # about half evicted; I/O buffer noise moves it a little
    assert len(alive & set(hot)) >= 0.95 * len(hot)
    assert len(alive & cold) < 0.7 * len(cold)


def test_allkeys_lfu_keeps_frequently_read_keys(r, config_set):
    config_set("maxmemory-policy", "allkeys-lfu")
    config_set("lfu-log-factor", "0")  # every access counts: deterministic counters
    base = used_memory(r)
    names = keys("k", 3000)
    fill(r, names)
    data = used_memory(r) - base
    hot = names[::10]
    read(r, hot, times=3)
    shrink_to(r, config_set, used_memory(r) - data // 2)  # see the LRU test
    alive = existing(r, names)
    assert len(alive) < 0.75 * len(names)  # see the LRU test
    assert len(alive & set(hot)) >= 0.95 * len(hot)


# ---------------------------------------------------------------- volatile-*


@pytest.mark.parametrize("policy",
                         ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_evict_only_keys_with_a_ttl(r, raw, config_set, policy):
    config_set("maxmemory-policy", policy)
    base = used_memory(r)
    persistent = keys("p", 1500)
    volatile = keys("v", 1500)
    fill(r, persistent)
    fill(r, volatile, ttl=lambda name: 1000 + int(name[1:]))
    data = used_memory(r) - base
    before = evicted(r)
    # Room for about 3/4 of the keys: half of the volatile ones must go.
    shrink_to(r, config_set, base + data * 3 // 4)
    assert existing(r, persistent) == set(persistent)
    left = existing(r, volatile)
    assert 0 < len(left) < len(volatile)
    assert evicted(r) - before == len(volatile) - len(left)
    # Less room than the persistent keys need: once the volatile keys are gone (a command
    # that used up its eviction time may still run meanwhile), writes fail.
    config_set("maxmemory", str(base + data // 4))
    wait_until(lambda: r.info("keyspace")["db0"]["expires"] == 0, what="volatile keys evicted")
    assert call(raw, "SET", "more", "x") == OOM
    assert existing(r, persistent) == set(persistent)
    assert call(raw, "GET", "p1") == bulk(VALUE)


def test_volatile_ttl_evicts_the_soonest_to_expire(r, config_set):
    config_set("maxmemory-policy", "volatile-ttl")
    base = used_memory(r)
    names = keys("v", 2000)
    fill(r, names, ttl=lambda name: 1000 + int(name[1:]))  # v0 expires first
    data = used_memory(r) - base
    shrink_to(r, config_set, base + data * 3 // 4)
    alive = existing(r, names)
    assert len(alive) < 0.85 * len(names)
    soonest, latest = set(names[:500]), set(names[1000:])
    assert len(alive & latest) >= 0.97 * len(latest)
    assert len(alive & soonest) <= 0.6 * len(soonest)


def test_volatile_policy_with_no_ttl_keys_is_oom(r, raw, config_set):
    base = used_memory(r)
    fill(r, keys("k", 1000))
    config_set("maxmemory-policy", "volatile-lru")
    config_set("maxmemory", str(half_way(r, base)))
    before = evicted(r)
    assert call(raw, "SET", "x", "y") == OOM
    assert r.dbsize() == 1000
    assert evicted(r) == before


# ---------------------------------------------------------------- details


def test_eviction_spans_databases(server, r, config_set):
    config_set("maxmemory-policy", "allkeys-lru")
    base = used_memory(r)
    r1 = server.client(db=1)
    try:
        fill(r, keys("a", 1200))
        fill(r1, keys("b", 1200))
        data = used_memory(r) - base
        shrink_to(r, config_set, base + data // 2)
        n0, n1 = r.dbsize(), r1.dbsize()
        assert n0 < 1200 and n1 < 1200
        assert n0 + n1 < 0.6 * 2400
    finally:
        r1.close()


def test_long_keys_and_many_samples(r, config_set):
    config_set("maxmemory-policy", "allkeys-lru")
    config_set("maxmemory-samples", "100")  # more than fit the sampler's stack buffer
    limit = used_memory(r) + 1024 * 1024
    config_set("maxmemory", str(limit))
    names = [("L%d-" % i) + "x" * 300 for i in range(2000)]  # keys longer than 255 bytes
    assert all(x is True for x in fill(r, names))
    n = r.dbsize()
    assert 0 < n < 2000
    assert used_memory(r) <= limit + 256 * 1024


def test_policy_change_at_runtime_keeps_evicting(r, raw, config_set):
    config_set("maxmemory-policy", "allkeys-lru")
    limit = used_memory(r) + 1024 * 1024
    config_set("maxmemory", str(limit))
    before = evicted(r)
    assert all(x is True for x in fill(r, keys("a", 1500)))
    config_set("maxmemory-policy", "allkeys-lfu")  # lru fields now read as LFU data
    assert all(x is True for x in fill(r, keys("b", 1500)))
    config_set("maxmemory-policy", "volatile-ttl")  # nothing has a TTL
    # Well below what is used (buffers the I/O layer frees meanwhile must not make the
    # server fit again): nothing can be evicted under volatile-ttl, so writes fail.
    config_set("maxmemory", str(limit - 600_000))
    assert call(raw, "SET", "c", VALUE) == OOM
    config_set("maxmemory-policy", "allkeys-random")
    assert call(raw, "SET", "c", VALUE) == OK
    assert evicted(r) - before >= 1500
    assert used_memory(r) <= limit


def test_low_tenacity_does_not_refuse_commands(r, raw, config_set):
    # Tenacity 0: each command evicts only a few keys; a timer goes on between commands,
    # and a write is not refused while that eviction is still running.
    config_set("maxmemory-policy", "allkeys-random")
    config_set("maxmemory-eviction-tenacity", "0")
    base = used_memory(r)
    fill(r, keys("k", 3000))
    data = used_memory(r) - base
    config_set("maxmemory", str(base + data // 3))
    assert call(raw, "SET", "x", "y") == OK
    wait_until(lambda: used_memory(r) <= base + data // 3, timeout=10, what="eviction timer")
    assert r.dbsize() < 1500


def test_evicted_keyspace_event(server, r, raw, config_set):
    probe = raw.execute("COMMAND", "INFO", "SUBSCRIBE")
    assert probe and probe[0] is not None, "COMMAND INFO SUBSCRIBE: pub/sub is missing"
    config_set("notify-keyspace-events", "Ee")
    config_set("maxmemory-policy", "allkeys-random")
    sub = server.client()
    ps = sub.pubsub()
    try:
        ps.subscribe("__keyevent@0__:evicted")
        msg = ps.get_message(timeout=5)
        assert msg and msg["type"] == "subscribe"
        base = used_memory(r)
        fill(r, keys("k", 500))
        config_set("maxmemory", str(half_way(r, base)))
        r.ping()  # evicts before running
        msg = ps.get_message(timeout=5)
        assert msg and msg["type"] == "message", msg
        assert msg["data"].startswith(b"k")
    finally:
        ps.close()
        sub.close()


# ---------------------------------------------------------------- OBJECT FREQ / IDLETIME


def test_object_freq_grows_with_accesses(raw, config_set):
    config_set("maxmemory-policy", "allkeys-lfu")
    config_set("lfu-log-factor", "0")
    assert call(raw, "SET", "k", "hello") == OK
    assert call(raw, "OBJECT", "FREQ", "k") == integer(5)  # a new value starts at 5
    for _ in range(3):
        raw.execute("GET", "k")
    assert call(raw, "OBJECT", "FREQ", "k") == integer(8)
    assert call(raw, "OBJECT", "FREQ", "k") == integer(8)  # OBJECT does not count
    assert call(raw, "SET", "k", "again") == OK            # an overwrite is one access
    assert call(raw, "OBJECT", "FREQ", "k") == integer(9)
    assert call(raw, "COPY", "k", "k2") == integer(1)      # a copy is a new value
    assert call(raw, "OBJECT", "FREQ", "k2") == integer(5)
    assert call(raw, "OBJECT", "FREQ", "nokey") == NIL
    assert call(raw, "OBJECT", "IDLETIME", "k") == IDLE_ERR


def test_object_freq_logarithmic(raw, config_set):
    config_set("maxmemory-policy", "volatile-lfu")
    config_set("lfu-log-factor", "10")
    raw.execute("SET", "k", "v")
    raw.send(b"".join(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" for _ in range(300)))
    for _ in range(300):
        raw.read_reply()
    f = raw.execute("OBJECT", "FREQ", "k")
    assert 7 <= f <= 22, f  # random increments (mean ~13 after 300 hits), far below 300


def test_object_freq_and_idletime_under_lru(raw, config_set):
    config_set("maxmemory-policy", "allkeys-lru")
    raw.execute("SET", "k", "v")
    assert call(raw, "OBJECT", "FREQ", "k") == FREQ_ERR
    assert call(raw, "OBJECT", "IDLETIME", "k") in (integer(0), integer(1))
    config_set("maxmemory-policy", "noeviction")
    assert call(raw, "OBJECT", "FREQ", "k") == FREQ_ERR


# ---------------------------------------------------------------- INFO


def test_info_memory_and_stats_fields(r, config_set):
    config_set("maxmemory", "100mb")
    config_set("maxmemory-policy", "allkeys-lfu")
    mem = r.info("memory")
    assert mem["maxmemory"] == 104857600
    assert mem["maxmemory_human"] == "100.00M"
    assert mem["maxmemory_policy"] == "allkeys-lfu"
    assert mem["mem_not_counted_for_evict"] == 0
    assert "evicted_keys" in r.info("stats")
