"""Pub/Sub: SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH / SPUBLISH,
PUBSUB, RESP2 subscribed mode and RESP3 push messages, delivery order across I/O threads,
the pubsub output-buffer class and subscribers that go away mid-stream.

Replies are compared byte for byte with what redis-server 7.0 sends (every test here also
passes against redis-server itself, KEYLOOM_SERVER=/usr/bin/redis-server)."""

import socket
import threading

import pytest

from helpers import (NIL, NULL3, OK, bulk, call, calls, err, info_dict, integer, read_nothing,
                     wait_until, wrong_args)

SUBSCRIBED_ONLY = ("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                   "QUIT / RESET are allowed in this context")


def agg(resp, *items):
    """An array (RESP2) or push (RESP3) of already-encoded items."""
    return b"%s%d\r\n" % (b">" if resp == 3 else b"*", len(items)) + b"".join(items)


def sub_reply(kind, name, count, resp=2):
    """[kind, name (None: nil), count]: the reply of (P|S)(UN)SUBSCRIBE for one name."""
    if name is None:
        name_raw = NULL3 if resp == 3 else NIL
    else:
        name_raw = bulk(name)
    return agg(resp, bulk(kind), name_raw, integer(count))


def message(channel, msg, resp=2, kind="message"):
    return agg(resp, bulk(kind), bulk(channel), bulk(msg))


def pmessage(pattern, channel, msg, resp=2):
    return agg(resp, bulk("pmessage"), bulk(pattern), bulk(channel), bulk(msg))


def read_n(c, n):
    return [c.read_reply()[0] for _ in range(n)]


def numsub(server, channel):
    with server.raw() as c:
        return c.execute("PUBSUB", "NUMSUB", channel)[1]


# ---------------------------------------------------------------- basics, both protocols

@pytest.mark.parametrize("resp", [2, 3])
def test_subscribe_publish(server, resp):
    with server.raw(protocol=resp) as s, server.raw() as p:
        s.send_command("SUBSCRIBE", "news", "sport")
        assert read_n(s, 2) == [sub_reply("subscribe", "news", 1, resp),
                                sub_reply("subscribe", "sport", 2, resp)]
        assert call(p, "PUBLISH", "news", "hello") == integer(1)
        assert s.read_reply()[0] == message("news", "hello", resp)
        assert call(p, "PUBLISH", "nobody", "x") == integer(0)
        # Binary-safe channel and payload, empty payload.
        assert call(p, "PUBLISH", "sport", b"a\r\nb\x00c") == integer(1)
        assert call(p, "PUBLISH", "sport", "") == integer(1)
        assert read_n(s, 2) == [message("sport", b"a\r\nb\x00c", resp), message("sport", "", resp)]
        # Subscribing twice to a channel keeps the count.
        assert call(s, "SUBSCRIBE", "news") == sub_reply("subscribe", "news", 2, resp)
        assert call(p, "PUBLISH", "news", "once") == integer(1)
        assert s.read_reply()[0] == message("news", "once", resp)
        s.send_command("UNSUBSCRIBE", "news", "nope")
        assert read_n(s, 2) == [sub_reply("unsubscribe", "news", 1, resp),
                                sub_reply("unsubscribe", "nope", 1, resp)]
        assert call(p, "PUBLISH", "news", "gone") == integer(0)
        assert call(s, "UNSUBSCRIBE") == sub_reply("unsubscribe", "sport", 0, resp)
        # Out of subscribed mode: an ordinary client again.
        assert call(s, "GET", "k") == (NULL3 if resp == 3 else NIL)


@pytest.mark.parametrize("resp", [2, 3])
def test_unsubscribe_from_nothing(server, resp):
    with server.raw(protocol=resp) as s:
        for kind in ("unsubscribe", "punsubscribe", "sunsubscribe"):
            assert call(s, kind.upper()) == sub_reply(kind, None, 0, resp)
            assert call(s, kind.upper(), "x") == sub_reply(kind, "x", 0, resp)
        assert call(s, "PING") == b"+PONG\r\n"


@pytest.mark.parametrize("resp", [2, 3])
def test_patterns(server, resp):
    with server.raw(protocol=resp) as s, server.raw() as p:
        s.send_command("PSUBSCRIBE", "news.*", "h?llo", "c[ab]t", r"lit\*")
        assert read_n(s, 4) == [sub_reply("psubscribe", "news.*", 1, resp),
                                sub_reply("psubscribe", "h?llo", 2, resp),
                                sub_reply("psubscribe", "c[ab]t", 3, resp),
                                sub_reply("psubscribe", r"lit\*", 4, resp)]
        for ch, pat in (("news.art", "news.*"), ("hallo", "h?llo"), ("cbt", "c[ab]t"),
                        ("lit*", r"lit\*")):
            assert call(p, "PUBLISH", ch, "m") == integer(1)
            assert s.read_reply()[0] == pmessage(pat, ch, "m", resp)
        for ch in ("news", "hllo", "cct", "litx"):
            assert call(p, "PUBLISH", ch, "m") == integer(0)
        # A channel and a pattern that both match: two deliveries, two receivers.
        assert call(s, "SUBSCRIBE", "news.x") == sub_reply("subscribe", "news.x", 5, resp)
        assert call(p, "PUBLISH", "news.x", "both") == integer(2)
        assert read_n(s, 2) == [message("news.x", "both", resp),
                                pmessage("news.*", "news.x", "both", resp)]
        # PUNSUBSCRIBE without arguments answers in subscription order.
        s.send_command("PUNSUBSCRIBE")
        assert read_n(s, 4) == [sub_reply("punsubscribe", "news.*", 4, resp),
                                sub_reply("punsubscribe", "h?llo", 3, resp),
                                sub_reply("punsubscribe", "c[ab]t", 2, resp),
                                sub_reply("punsubscribe", r"lit\*", 1, resp)]
        assert call(s, "PUNSUBSCRIBE", "news.*") == sub_reply("punsubscribe", "news.*", 1, resp)


def test_pattern_star_does_not_match_empty_channel(server):
    with server.raw() as s, server.raw() as p:
        assert call(s, "PSUBSCRIBE", "*") == sub_reply("psubscribe", "*", 1)
        assert call(p, "PUBLISH", "", "x") == integer(0)
        assert call(p, "PUBLISH", "a", "x") == integer(1)
        assert s.read_reply()[0] == pmessage("*", "a", "x")


def test_several_subscribers_and_patterns_count(server):
    with server.raw() as a, server.raw() as b, server.raw(protocol=3) as c, \
            server.raw() as p:
        assert call(a, "SUBSCRIBE", "ch") == sub_reply("subscribe", "ch", 1)
        assert call(b, "PSUBSCRIBE", "c*") == sub_reply("psubscribe", "c*", 1)
        c.send_command("SUBSCRIBE", "ch")
        c.send_command("PSUBSCRIBE", "?h")
        assert read_n(c, 2) == [sub_reply("subscribe", "ch", 1, 3),
                                sub_reply("psubscribe", "?h", 2, 3)]
        assert call(p, "PUBLISH", "ch", "m") == integer(4)
        assert a.read_reply()[0] == message("ch", "m")
        assert b.read_reply()[0] == pmessage("c*", "ch", "m")
        assert read_n(c, 2) == [message("ch", "m", 3), pmessage("?h", "ch", "m", 3)]


# ---------------------------------------------------------------- subscribed mode

def _rejected_calls(server, cmd):
    with server.raw() as q:
        stats = info_dict(q.execute("INFO", "commandstats"))["commandstats"]
    fields = dict(f.split("=") for f in stats.get("cmdstat_" + cmd, "rejected_calls=0").split(","))
    return int(fields["rejected_calls"])


def test_resp2_subscribed_mode_restrictions(server):
    rejected = _rejected_calls(server, "publish")
    with server.raw() as s:
        assert call(s, "SUBSCRIBE", "a") == sub_reply("subscribe", "a", 1)
        assert call(s, "GET", "k") == err(SUBSCRIBED_ONLY % "get")
        assert call(s, "PUBLISH", "a", "x") == err(SUBSCRIBED_ONLY % "publish")
        assert call(s, "CLIENT", "LIST") == err(SUBSCRIBED_ONLY % "client|list")
        assert call(s, "PUBSUB", "NUMPAT") == err(SUBSCRIBED_ONLY % "pubsub|numpat")
        # Unknown commands and arity errors are reported first.
        assert call(s, "NOSUCH") == err(
            "ERR unknown command 'NOSUCH', with args beginning with: ")
        assert call(s, "GET") == wrong_args("get")
        assert call(s, "PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        assert call(s, "PING", "hi") == b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
        assert call(s, "PING", "a", "b") == wrong_args("ping")
        # The mode lasts while any subscription (shard ones included) is left.
        assert call(s, "SSUBSCRIBE", "s") == sub_reply("ssubscribe", "s", 1)
        assert call(s, "UNSUBSCRIBE", "a") == sub_reply("unsubscribe", "a", 0)
        assert call(s, "GET", "k") == err(SUBSCRIBED_ONLY % "get")
        assert call(s, "SUNSUBSCRIBE") == sub_reply("sunsubscribe", "s", 0)
        assert call(s, "GET", "k") == NIL
        assert call(s, "PING") == b"+PONG\r\n"
        # QUIT is allowed.
        assert call(s, "PSUBSCRIBE", "p*") == sub_reply("psubscribe", "p*", 1)
        assert call(s, "QUIT") == OK
        assert s.is_closed_by_peer()
    assert _rejected_calls(server, "publish") == rejected + 1


def test_resp3_subscribed_client_runs_anything(server):
    with server.raw(protocol=3) as s:
        assert call(s, "SUBSCRIBE", "a") == sub_reply("subscribe", "a", 1, 3)
        assert call(s, "SET", "k", "v") == OK
        assert call(s, "GET", "k") == bulk("v")
        assert call(s, "PING") == b"+PONG\r\n"
        # Its own PUBLISH: the message (a push) comes before PUBLISH's reply.
        s.send_command("PUBLISH", "a", "self")
        assert read_n(s, 2) == [message("a", "self", 3), integer(1)]
        assert call(s, "PUBSUB", "NUMSUB", "a") == b"*2\r\n$1\r\na\r\n:1\r\n"


@pytest.mark.needs_types
def test_resp3_subscriber_blocked_in_blpop_gets_messages_at_once(server):
    """A RESP3 subscriber whose batch is parked on BLPOP still receives its messages
    while it waits (the parked batch does not hold pushes back), then BLPOP's reply."""
    with server.raw(protocol=3) as s, server.raw() as p:
        assert call(s, "SUBSCRIBE", "ch") == sub_reply("subscribe", "ch", 1, 3)
        s.send_command("BLPOP", "blocked-list", "0")
        wait_until(lambda: info_dict(p.execute("INFO", "clients"))["clients"]
                   ["blocked_clients"] == "1")
        assert call(p, "PUBLISH", "ch", "m1") == integer(1)
        assert read_n(s, 1) == [message("ch", "m1", 3)]
        assert call(p, "RPUSH", "blocked-list", "x") == integer(1)
        assert read_n(s, 1) == [b"*2\r\n$12\r\nblocked-list\r\n$1\r\nx\r\n"]


def test_hello_switches_subscribed_client_to_resp2_mode(server):
    with server.raw(protocol=3) as s:
        assert call(s, "SUBSCRIBE", "a") == sub_reply("subscribe", "a", 1, 3)
        s.execute("HELLO", "2")
        assert call(s, "GET", "k") == err(SUBSCRIBED_ONLY % "get")
        assert call(s, "PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


@pytest.mark.parametrize("resp", [2, 3])
def test_reset_leaves_subscriptions(server, resp):
    with server.raw(protocol=resp) as s, server.raw() as p:
        s.send_command("SUBSCRIBE", "a")
        s.send_command("PSUBSCRIBE", "b*")
        s.send_command("SSUBSCRIBE", "c")
        read_n(s, 3)
        assert call(s, "RESET") == b"+RESET\r\n"
        assert call(s, "GET", "k") == NIL        # RESET also went back to RESP2
        assert call(p, "PUBLISH", "a", "x") == integer(0)
        assert call(p, "PUBLISH", "bb", "x") == integer(0)
        assert call(p, "SPUBLISH", "c", "x") == integer(0)
        assert p.execute("PUBSUB", "NUMPAT") == 0
        read_nothing(s, 0.2)
        assert b"flags=N" in s.execute("CLIENT", "INFO")


@pytest.mark.parametrize("resp", [2, 3])
def test_reply_off_does_not_mute_pubsub(server, resp):
    """As in Redis 7.0, subscription replies and messages bypass CLIENT REPLY OFF/SKIP."""
    with server.raw(protocol=resp) as s, server.raw() as p:
        s.send_command("CLIENT", "REPLY", "OFF")
        assert call(s, "SUBSCRIBE", "a") == sub_reply("subscribe", "a", 1, resp)
        assert call(p, "PUBLISH", "a", "x") == integer(1)
        assert s.read_reply()[0] == message("a", "x", resp)
        s.send_command("PING")              # muted in both protocols
        assert call(s, "UNSUBSCRIBE") == sub_reply("unsubscribe", "a", 0, resp)
        s.send_command("CLIENT", "REPLY", "ON")
        assert s.read_reply()[0] == OK


# ---------------------------------------------------------------- shard channels

@pytest.mark.parametrize("resp", [2, 3])
def test_shard_channels_are_their_own_namespace(server, resp):
    with server.raw(protocol=resp) as s, server.raw() as p:
        s.send_command("SSUBSCRIBE", "s1", "s2", "s1")
        assert read_n(s, 3) == [sub_reply("ssubscribe", "s1", 1, resp),
                                sub_reply("ssubscribe", "s2", 2, resp),
                                sub_reply("ssubscribe", "s1", 2, resp)]
        # Channel subscriptions count apart from shard ones.
        assert call(s, "SUBSCRIBE", "s1") == sub_reply("subscribe", "s1", 1, resp)
        assert call(p, "SPUBLISH", "s1", "m") == integer(1)
        assert s.read_reply()[0] == message("s1", "m", resp, kind="smessage")
        assert call(p, "PUBLISH", "s1", "n") == integer(1)
        assert s.read_reply()[0] == message("s1", "n", resp)
        assert p.execute("PUBSUB", "SHARDNUMSUB", "s1", "s2", "s3") == [b"s1", 1, b"s2", 1,
                                                                       b"s3", 0]
        assert sorted(p.execute("PUBSUB", "SHARDCHANNELS")) == [b"s1", b"s2"]
        assert p.execute("PUBSUB", "SHARDCHANNELS", "*2") == [b"s2"]
        assert p.execute("PUBSUB", "CHANNELS") == [b"s1"]
        s.send_command("SUNSUBSCRIBE", "s2", "zz")
        assert read_n(s, 2) == [sub_reply("sunsubscribe", "s2", 1, resp),
                                sub_reply("sunsubscribe", "zz", 1, resp)]
        assert call(s, "SUNSUBSCRIBE") == sub_reply("sunsubscribe", "s1", 0, resp)
        assert call(p, "SPUBLISH", "s1", "m") == integer(0)


# ---------------------------------------------------------------- PUBSUB, INFO, CLIENT LIST

def test_pubsub_subcommands(server):
    with server.raw() as a, server.raw() as b, server.raw() as q:
        a.send_command("SUBSCRIBE", "news.a", "news.b", "other")
        read_n(a, 3)
        b.send_command("SUBSCRIBE", "news.a")
        b.send_command("PSUBSCRIBE", "n*", "x*")
        read_n(b, 3)
        a.send_command("PSUBSCRIBE", "n*")
        read_n(a, 1)
        assert sorted(q.execute("PUBSUB", "CHANNELS")) == [b"news.a", b"news.b", b"other"]
        assert sorted(q.execute("PUBSUB", "CHANNELS", "news.*")) == [b"news.a", b"news.b"]
        assert q.execute("PUBSUB", "CHANNELS", "zz*") == []
        assert call(q, "PUBSUB", "NUMSUB", "news.a", "news.b", "zz", "news.a") == (
            b"*8\r\n$6\r\nnews.a\r\n:2\r\n$6\r\nnews.b\r\n:1\r\n$2\r\nzz\r\n:0\r\n"
            b"$6\r\nnews.a\r\n:2\r\n")
        assert call(q, "PUBSUB", "NUMSUB") == b"*0\r\n"
        # NUMPAT counts distinct patterns.
        assert call(q, "PUBSUB", "NUMPAT") == integer(2)
        stats = info_dict(q.execute("INFO", "stats"))["stats"]
        assert (stats["pubsub_channels"], stats["pubsub_patterns"],
                stats["pubsubshard_channels"]) == ("3", "2", "0")
        assert call(q, "PUBSUB", "CHANNELS", "a", "b") == err(
            "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB "
            "HELP.")
        assert call(q, "PUBSUB", "NUMPAT", "x") == wrong_args("pubsub|numpat")
        assert call(q, "PUBSUB", "nosuch") == err(
            "ERR unknown subcommand 'nosuch'. Try PUBSUB HELP.")
        assert call(q, "PUBSUB") == wrong_args("pubsub")
        help_lines = q.execute("PUBSUB", "HELP")
        assert help_lines[0] == (b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands "
                                 b"are:")
        assert b"SHARDNUMSUB [<shardchannel> ...]" in help_lines and len(help_lines) == 14
        for args in (("PUBLISH", "a"), ("SPUBLISH", "a"), ("SUBSCRIBE",), ("PSUBSCRIBE",),
                     ("SSUBSCRIBE",)):
            assert call(q, *args) == wrong_args(args[0].lower())
    # Everything goes away with the subscribers.
    with server.raw() as q:
        wait_until(lambda: q.execute("PUBSUB", "NUMPAT") == 0 and
                   q.execute("PUBSUB", "CHANNELS") == [], what="subscriptions dropped")
        stats = info_dict(q.execute("INFO", "stats"))["stats"]
        assert (stats["pubsub_channels"], stats["pubsub_patterns"]) == ("0", "0")


def test_client_list_fields_and_type(server):
    with server.raw(protocol=3) as s, server.raw() as q:
        s.send_command("SUBSCRIBE", "a", "b")
        s.send_command("PSUBSCRIBE", "p*")
        s.send_command("SSUBSCRIBE", "s1", "s2", "s3")
        read_n(s, 6)
        info = s.execute("CLIENT", "INFO")
        assert b" flags=P " in info and b" sub=2 psub=1 ssub=3 " in info
        sid = s.execute("CLIENT", "ID")
        listed = q.execute("CLIENT", "LIST", "TYPE", "pubsub")
        assert b"id=%d " % sid in listed and listed.count(b"\n") == 1
        assert b" sub=0 psub=0 ssub=0 " in q.execute("CLIENT", "INFO")
        assert q.execute("CLIENT", "KILL", "TYPE", "pubsub") == 1
        assert s.is_closed_by_peer()
        wait_until(lambda: q.execute("PUBSUB", "SHARDCHANNELS") == [], what="unsubscribed")


def test_disconnect_unsubscribes(server):
    with server.raw() as q:
        subs = [server.raw(protocol=2 + i % 2) for i in range(4)]
        for s in subs:
            s.send_command("SUBSCRIBE", "d")
            s.send_command("PSUBSCRIBE", "d*")
            read_n(s, 2)
        assert q.execute("PUBLISH", "d", "x") == 8
        for s in subs:
            s.close()
        wait_until(lambda: q.execute("PUBLISH", "d", "x") == 0, what="subscribers gone")
        assert q.execute("PUBSUB", "NUMPAT") == 0


# ---------------------------------------------------------------- sizes

@pytest.mark.parametrize("resp", [2, 3])
def test_large_messages(server, resp):
    """Messages bigger than a reply block, to another client and to oneself (RESP3)."""
    big = b"x" * (300 * 1024) + b"end"
    with server.raw(protocol=resp) as s, server.raw(protocol=3) as me, server.raw() as p:
        assert call(s, "PSUBSCRIBE", "big*") == sub_reply("psubscribe", "big*", 1, resp)
        assert call(me, "SUBSCRIBE", "big") == sub_reply("subscribe", "big", 1, 3)
        assert call(p, "PUBLISH", "big", big) == integer(2)
        assert s.read_reply()[0] == pmessage("big*", "big", big, resp)
        assert me.read_reply()[0] == message("big", big, 3)
        me.send_command("PUBLISH", "big", big)
        assert read_n(me, 2) == [message("big", big, 3), integer(2)]
        assert s.read_reply()[0] == pmessage("big*", "big", big, resp)


def test_many_channels(server):
    n = 2000
    names = ["ch:%d" % i for i in range(n)]
    with server.raw() as s, server.raw() as p:
        s.send_command("SUBSCRIBE", *names)
        replies = read_n(s, n)
        assert replies[0] == sub_reply("subscribe", "ch:0", 1)
        assert replies[-1] == sub_reply("subscribe", "ch:%d" % (n - 1), n)
        assert len(p.execute("PUBSUB", "CHANNELS", "ch:*")) == n
        assert call(p, "PUBLISH", "ch:1234", "m") == integer(1)
        assert s.read_reply()[0] == message("ch:1234", "m")
        s.send_command("UNSUBSCRIBE")
        got = set()
        for i, raw in enumerate(read_n(s, n)):
            assert raw.endswith(integer(n - 1 - i))
            got.add(raw)
        assert len(got) == n
        assert call(s, "GET", "k") == NIL


# ---------------------------------------------------------------- ordering and fan-out

def _io_thread_clients(c):
    """{thread index: client count} for the I/O threads (role=io) of INFO threads."""
    out = {}
    for k, v in info_dict(c.execute("INFO", "threads"))["threads"].items():
        if k.startswith("io_thread_") and "role=io," in v:
            fields = dict(f.split("=", 1) for f in v.split(","))
            out[int(k[len("io_thread_"):])] = int(fields["clients"])
    return out


def _collect(sub, total, out, errors):
    try:
        for _ in range(total):
            out.append(sub.read_reply()[1])
    except Exception as e:   # reported by the main thread
        errors.append(e)


@pytest.mark.timeout(120)
def test_fanout_over_all_io_threads_keeps_per_publisher_order(server, mode):
    nsub, npub, nmsg = 16, 4, 300
    subs = []
    try:
        for i in range(nsub):
            s = server.raw(protocol=2 + i % 2)
            if i % 4 == 3:
                assert call(s, "PSUBSCRIBE", "fan*") == sub_reply("psubscribe", "fan*", 1,
                                                                  2 + i % 2)
            else:
                assert call(s, "SUBSCRIBE", "fan") == sub_reply("subscribe", "fan", 1, 2 + i % 2)
            subs.append(s)
        with server.raw() as q:
            if mode.io_threads > 1:
                # Every I/O thread holds subscribers (clients go to the least loaded thread).
                per_thread = _io_thread_clients(q)
                assert len(per_thread) == mode.io_threads - 1
                assert min(per_thread.values()) >= 3, per_thread
            assert q.execute("PUBSUB", "NUMSUB", "fan") == [b"fan", nsub - nsub // 4]
        got = [[] for _ in subs]
        errors = []
        readers = [threading.Thread(target=_collect, args=(s, npub * nmsg, got[i], errors))
                   for i, s in enumerate(subs)]
        for t in readers:
            t.start()

        def publish(pid):
            try:
                with server.raw() as p:
                    for start in range(0, nmsg, 50):
                        cmds = [("PUBLISH", "fan", "%d:%d" % (pid, seq))
                                for seq in range(start, min(nmsg, start + 50))]
                        for reply in calls(p, *cmds):
                            assert reply == integer(nsub), reply
            except Exception as e:
                errors.append(e)
        pubs = [threading.Thread(target=publish, args=(pid,)) for pid in range(npub)]
        for t in pubs:
            t.start()
        for t in pubs + readers:
            t.join(100)
            assert not t.is_alive(), "a publisher or subscriber is stuck"
        assert not errors, errors
        for i, msgs in enumerate(got):
            seqs = {pid: [] for pid in range(npub)}
            for m in msgs:
                if i % 4 == 3:
                    assert m[:3] == [b"pmessage", b"fan*", b"fan"], m
                else:
                    assert m[:2] == [b"message", b"fan"], m
                pid, seq = m[-1].split(b":")
                seqs[int(pid)].append(int(seq))
            for pid in range(npub):
                assert seqs[pid] == list(range(nmsg)), (i, pid)
    finally:
        for s in subs:
            s.close()


def test_subscribe_reply_comes_before_any_message(server):
    """A publisher racing a SUBSCRIBE: the subscriber sees the confirmation first, then every
    message published after it, without a gap."""
    stop = threading.Event()
    errors = []

    def publish():
        try:
            with server.raw() as p:
                seq = 0
                while not stop.is_set() and seq < 200000:
                    cmds = [("PUBLISH", "race", str(seq + i)) for i in range(20)]
                    calls(p, *cmds)
                    seq += 20
        except Exception as e:
            errors.append(e)
    t = threading.Thread(target=publish)
    t.start()
    try:
        for resp in (2, 3, 2, 3):
            with server.raw(protocol=resp) as s:
                s.send_command("SUBSCRIBE", "race")
                assert s.read_reply()[0] == sub_reply("subscribe", "race", 1, resp)
                first = int(s.read_reply()[1][2])
                for i in range(1, 200):
                    assert int(s.read_reply()[1][2]) == first + i
    finally:
        stop.set()
        t.join(30)
    assert not t.is_alive() and not errors, errors


def test_subscriber_disconnects_mid_stream(server):
    nmsg = 3000
    with server.raw() as keep1, server.raw(protocol=3) as keep2, server.raw() as p:
        quitter = server.raw()
        for s, resp in ((keep1, 2), (keep2, 3), (quitter, 2)):
            assert call(s, "SUBSCRIBE", "mid") == sub_reply("subscribe", "mid", 1, resp)
        got = [[], []]
        errors = []
        readers = [threading.Thread(target=_collect, args=(s, nmsg, got[i], errors))
                   for i, s in enumerate((keep1, keep2))]
        for t in readers:
            t.start()
        for start in range(0, nmsg, 100):
            calls(p, *[("PUBLISH", "mid", str(i)) for i in range(start, start + 100)])
            if start == nmsg // 2:
                # Gone with unread messages in its socket: the server may see a reset.
                quitter.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        b"\x01\x00\x00\x00\x00\x00\x00\x00")
                quitter.close()
        for t in readers:
            t.join(60)
            assert not t.is_alive()
        assert not errors, errors
        for msgs in got:
            assert [int(m[2]) for m in msgs] == list(range(nmsg))
        wait_until(lambda: p.execute("PUBLISH", "mid", "last") == 2, what="quitter gone")
        assert p.execute("PING") == b"PONG"


@pytest.mark.timeout(120)
def test_pubsub_output_buffer_limit_disconnects_slow_subscriber(server, config_set):
    """A subscriber that never reads is closed at the pubsub hard limit; the others keep
    receiving everything."""
    config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    payload = b"p" * (64 * 1024)
    with server.raw() as slow, server.raw() as good, server.raw() as p:
        assert call(slow, "SUBSCRIBE", "flood") == sub_reply("subscribe", "flood", 1)
        assert call(good, "SUBSCRIBE", "flood") == sub_reply("subscribe", "flood", 1)
        # keyloom counts these disconnections in INFO (Redis 7.2's field; 7.0 has none).
        before = int(info_dict(p.execute("INFO", "stats"))["stats"]
                     .get("client_output_buffer_limit_disconnections", "-1"))
        sent = 0
        # Kernel socket buffers take some megabytes first; 1000 x 64 KB bounds the loop.
        for i in range(1000):
            n = p.execute("PUBLISH", "flood", payload + b"%d" % i)
            sent += 1
            assert good.read_reply()[0] == message("flood", payload + b"%d" % i)
            if n == 1 and p.execute("PUBSUB", "NUMSUB", "flood")[1] == 1:
                break
        else:
            pytest.fail("the slow subscriber was never disconnected")
        after = int(info_dict(p.execute("INFO", "stats"))["stats"]
                    .get("client_output_buffer_limit_disconnections", "-2"))
        if before >= 0:
            assert after == before + 1
        assert slow.is_closed_by_peer(10)
        # The remaining subscriber still gets messages, in order.
        for i in range(20):
            assert p.execute("PUBLISH", "flood", "after%d" % i) == 1
        for i in range(20):
            assert good.read_reply()[0] == message("flood", "after%d" % i)
        assert sent > 16       # more than the limit itself went out


@pytest.mark.slow
def test_subscribers_are_exempt_from_idle_timeout(server, config_set):
    config_set("timeout", "1")
    with server.raw() as s, server.raw() as idle:
        assert call(s, "SUBSCRIBE", "t") == sub_reply("subscribe", "t", 1)
        idle.execute("PING")
        assert idle.is_closed_by_peer(5)
        with server.raw() as p:
            assert p.execute("PUBLISH", "t", "still here") == 1
        assert s.read_reply()[0] == message("t", "still here")


# ---------------------------------------------------------------- redis-py

def test_redis_py_pubsub(r):
    ps = r.pubsub()
    ps.subscribe("rp")
    ps.psubscribe("rp.*")
    got = [ps.get_message(timeout=5) for _ in range(2)]
    assert [(m["type"], m["channel"], m["data"]) for m in got] == [
        ("subscribe", b"rp", 1), ("psubscribe", b"rp.*", 2)]
    assert r.publish("rp", "hello") == 1
    assert r.publish("rp.x", "world") == 1
    m1 = ps.get_message(timeout=5)
    m2 = ps.get_message(timeout=5)
    assert (m1["type"], m1["channel"], m1["data"]) == ("message", b"rp", b"hello")
    assert (m2["type"], m2["pattern"], m2["channel"], m2["data"]) == (
        "pmessage", b"rp.*", b"rp.x", b"world")
    assert r.pubsub_numsub("rp") == [(b"rp", 1)]
    assert r.pubsub_numpat() == 1
    assert r.pubsub_channels() == [b"rp"]
    ps.ping()
    pong = ps.get_message(timeout=5)
    assert pong["type"] == "pong"
    ps.unsubscribe()
    ps.punsubscribe()
    ps.close()
