"""Output limits for pushed output (pub/sub messages, MONITOR lines) to clients that do not
read: the producer (the executor) stops at client-output-buffer-limit's hard limit and kills
the client, as Redis does, instead of queueing more; memory stays bounded while publishers go
on, and everybody else keeps receiving."""

import socket

from helpers import info_dict, wait_until
from klserver import encode_command

MB = 1024 * 1024
# 128 distinct patterns that all match any channel: each PUBLISH becomes 128 pmessages for the
# subscriber that holds them (a big fan-out from a small pipeline).
PATTERNS = ["*" * k for k in range(1, 129)]


def _used_memory(c):
    return int(info_dict(c.execute("INFO", "memory"))["memory"]["used_memory"])


def _obuf_disconnections(c):
    return int(info_dict(c.execute("INFO", "stats"))["stats"]
               ["client_output_buffer_limit_disconnections"])


def test_stalled_subscriber_is_killed_at_the_producer(server, config_set):
    config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    with server.raw() as slow, server.raw() as good, server.raw() as p, server.raw() as ctl:
        _shrink_rcvbuf(slow)
        slow.send(encode_command("PSUBSCRIBE", *PATTERNS))
        for i, pat in enumerate(PATTERNS):
            assert slow.read_reply()[1] == [b"psubscribe", pat.encode(), i + 1]
        assert good.execute("SUBSCRIBE", "news") == [b"subscribe", b"news", 1]
        kills = _obuf_disconnections(ctl)
        base = _used_memory(ctl)
        # One pipelined write (under one 64 KB read): 250 PUBLISHes, which queue about 8 MB
        # for the stalled subscriber, then INFO measured right behind them.
        n = 250
        msgs = [b"m" * 150 + b"%04d" % i for i in range(n)]
        pipe = b"".join(encode_command("PUBLISH", "news", m) for m in msgs)
        pipe += encode_command("INFO", "memory")
        assert len(pipe) < 60000
        p.send(pipe)
        receivers = [p.read_reply()[1] for _ in range(n)]
        info = info_dict(p.read_reply()[1])
        growth = int(info["memory"]["used_memory"]) - base
        # At most the 1 MB limit (plus the good subscriber's share and noise) was queued for
        # the stalled subscriber; queueing everything would be about 8 MB.
        assert growth < 4 * MB, "used_memory grew by %d bytes" % growth
        # Every receiver counts, as in Redis, until the slow one is gone (129 = 128 patterns +
        # the good subscriber); after that only the good one.
        assert receivers[0] == 129 and receivers[-1] in (1, 129), receivers[:3]
        assert all(r in (1, 129) for r in receivers)
        # The stalled subscriber is disconnected, once.
        assert slow.is_closed_by_peer(10)
        wait_until(lambda: ctl.execute("PUBSUB", "NUMPAT") == 0, what="patterns released")
        assert _obuf_disconnections(ctl) == kills + 1
        # The other subscriber got everything, in order, and keeps receiving.
        for m in msgs:
            assert good.read_reply()[1] == [b"message", b"news", m]
        for i in range(10):
            assert p.execute("PUBLISH", "news", "after%d" % i) == 1
        for i in range(10):
            assert good.read_reply()[1] == [b"message", b"news", b"after%d" % i]
        # What was queued for the killed client is given back.
        wait_until(lambda: _used_memory(ctl) < base + 2 * MB, timeout=10,
                   what="memory back near its level before the flood")


def _shrink_rcvbuf(c):
    """A client that does not read: keep the kernel from absorbing megabytes for it."""
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)


def test_subscriber_under_a_continuous_flood_stays_bounded(server, config_set):
    # Publishers keep going after the limit was hit: memory does not follow them.
    config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    with server.raw() as slow, server.raw() as p, server.raw() as ctl:
        _shrink_rcvbuf(slow)
        assert slow.execute("SUBSCRIBE", "big") == [b"subscribe", b"big", 1]
        kills = _obuf_disconnections(ctl)
        base = _used_memory(ctl)
        payload = b"x" * (64 * 1024)
        peak = 0
        rounds_after = None
        for rnd in range(300):  # at most 300 x 8 x 64 KB = 150 MB published
            p.send(encode_command("PUBLISH", "big", payload) * 8)
            for _ in range(8):
                p.read_reply()
            peak = max(peak, _used_memory(ctl) - base)
            if rounds_after is None and _obuf_disconnections(ctl) > kills:
                rounds_after = 0
            elif rounds_after is not None:
                rounds_after += 1
                if rounds_after == 10:  # and some more after the kill
                    break
        assert rounds_after is not None, "the stalled subscriber was never disconnected"
        assert peak < 8 * MB, "used_memory grew by %d bytes" % peak
        assert slow.is_closed_by_peer(10)
        assert ctl.execute("PUBSUB", "NUMSUB", "big") == [b"big", 0]
        assert _obuf_disconnections(ctl) == kills + 1


def test_stalled_monitor_is_killed_at_the_normal_limit(server, config_set):
    # MONITOR clients are in the normal class, as in Redis.
    config_set("client-output-buffer-limit", "normal 512kb 0 0")
    with server.raw() as mon, server.raw() as watcher, server.raw() as p, \
            server.raw() as ctl:
        _shrink_rcvbuf(mon)
        assert mon.execute("MONITOR") == b"OK"
        assert watcher.execute("MONITOR") == b"OK"
        kills = _obuf_disconnections(ctl)
        base = _used_memory(ctl)
        peak = 0
        # Binary values are escaped in MONITOR lines (4 bytes each): 64 KB lines.
        value = b"\x01" * 16000
        for rnd in range(300):  # at most 300 x 4 lines of 64 KB
            p.send(encode_command("SET", "k%d" % rnd, value) * 4)
            for _ in range(4):
                assert p.read_reply()[0] == b"+OK\r\n"
            # The watcher reads everything it is sent (ctl's INFO lines too), so it stays
            # under the limit.
            seen = 0
            while seen < 4:
                line = watcher.read_reply()[1]
                if b'"INFO"' in line:
                    continue
                assert b'"SET" "k%d"' % rnd in line, line[:60]
                seen += 1
            peak = max(peak, _used_memory(ctl) - base)
            if _obuf_disconnections(ctl) > kills:
                break
        else:
            raise AssertionError("the stalled MONITOR client was never disconnected")
        assert peak < 8 * MB, "used_memory grew by %d bytes" % peak
        assert mon.is_closed_by_peer(10)
        assert _obuf_disconnections(ctl) == kills + 1
        # The watcher is still there and still monitoring.
        assert p.execute("SET", "last", "1") == b"OK"
        while True:
            line = watcher.read_reply()[1]
            if b'"INFO"' not in line:
                break
        assert b'"SET" "last" "1"' in line, line[:60]
