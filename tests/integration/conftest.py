"""pytest fixtures for the keyloom integration suite.

Modes come from the environment (see klserver.py): KEYLOOM_SERVER, KEYLOOM_TEST_TLS,
KEYLOOM_TEST_IO_THREADS.  Extra knobs:
  KEYLOOM_TEST_NEEDS_TYPES=0   deselect tests marked needs_types (non-string data types)
  KEYLOOM_TEST_SLOW=0          deselect tests marked slow
  KEYLOOM_TEST_REFERENCE=1     validating against redis-server itself: skip checks that only
                               keyloom promises (marked keyloom_only)
  KEYLOOM_TEST_TIMEOUT=N       per-test wall-clock limit in seconds (default 60)

One server per session keeps the suite fast; every test gets a flushed server, a guard that
fails the test when the server died during it, and a fresh server if a previous test killed it.
"""

import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import klserver  # noqa: E402
from klserver import Mode, Server, ServerError  # noqa: E402

TEST_TIMEOUT = int(os.environ.get("KEYLOOM_TEST_TIMEOUT", "60"))
REFERENCE = klserver.reference_mode()


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_types: uses non-string data types (lists, ...)")
    config.addinivalue_line("markers", "slow: takes more than a couple of seconds")
    config.addinivalue_line("markers", "keyloom_only: checks a promise redis-server does not make")
    config.addinivalue_line("markers", "timeout(seconds): per-test limit instead of the default")


def pytest_collection_modifyitems(config, items):
    deselect = []
    skip_types = os.environ.get("KEYLOOM_TEST_NEEDS_TYPES", "1") == "0"
    skip_slow = os.environ.get("KEYLOOM_TEST_SLOW", "1") == "0"
    keep = []
    for item in items:
        if (skip_types and item.get_closest_marker("needs_types")) or \
                (skip_slow and item.get_closest_marker("slow")):
            deselect.append(item)
        else:
            keep.append(item)
        if REFERENCE and item.get_closest_marker("keyloom_only"):
            item.add_marker(pytest.mark.skip(
                reason="keyloom-only promise (KEYLOOM_TEST_REFERENCE=1)"))
    if deselect:
        config.hook.pytest_deselected(items=deselect)
        items[:] = keep


def pytest_report_header(config):
    m = Mode()
    return "keyloom mode: server=%s tls=%s io_threads=%s reference=%s" % (
        m.server, m.tls, m.io_threads, REFERENCE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the tail of every server log the test used."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    servers = []
    srv = item.funcargs.get("server") if hasattr(item, "funcargs") else None
    if srv is not None:
        servers.append(("shared server", srv))
    for i, extra in enumerate(getattr(item, "_kl_extra_servers", [])):
        servers.append(("extra server %d" % (i + 1), extra))
    for label, s in servers:
        rep.sections.append(("%s log tail (%s)" % (label, rep.when), s.log_tail(30)))


# ---- per-test wall-clock limit (no pytest-timeout plugin here) ----

class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test exceeded its time limit")


@pytest.fixture(autouse=True)
def _time_limit(request):
    marker = request.node.get_closest_marker("timeout")
    limit = int(marker.args[0]) if marker else TEST_TIMEOUT
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(limit)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ---- servers ----

@pytest.fixture(scope="session")
def mode():
    return Mode()


class _Holder:
    def __init__(self, mode):
        self.mode = mode
        self.server = None
        self.generation = 0

    def ensure(self):
        if self.server is None or not self.server.alive():
            if self.server is not None:
                self.server._kill()
            self.server = Server(self.mode).start()
            self.generation += 1
        return self.server


@pytest.fixture(scope="session")
def _server_holder(mode):
    holder = _Holder(mode)
    yield holder
    if holder.server is not None:
        # A server that does not shut down cleanly on SIGTERM is a bug.
        holder.server.stop()


@pytest.fixture
def server(_server_holder):
    """The shared server, flushed, checked for a crash after the test."""
    srv = _server_holder.ensure()
    with srv.raw() as c:
        c.execute("CLIENT", "UNPAUSE")
        c.execute("FLUSHALL")
    yield srv
    if not srv.alive():
        rc = srv.proc.poll()
        pytest.fail("server crashed during the test (status %s)\n%s" % (rc, srv.log_tail()),
                    pytrace=False)


@pytest.fixture
def r(server):
    c = server.client()
    yield c
    c.close()


@pytest.fixture
def raw(server):
    """A RESP2 RawClient."""
    c = server.raw()
    yield c
    c.close()


@pytest.fixture
def r3(server):
    """A RESP3 RawClient (HELLO 3 already sent)."""
    c = server.raw(protocol=3)
    yield c
    c.close()


@pytest.fixture
def cli(server):
    def run(*args, **kw):
        return server.cli(*args, **kw)
    return run


@pytest.fixture
def config_set(server):
    """config_set(name, value): CONFIG SET on the shared server, restored after the test."""
    saved = []

    def setter(name, value):
        with server.raw() as c:
            old = c.execute("CONFIG", "GET", name)
            assert len(old) == 2, old
            saved.append((name, old[1]))
            reply = c.execute("CONFIG", "SET", name, value)
            assert reply == b"OK", reply
    yield setter
    if server.alive():
        with server.raw() as c:
            for name, value in reversed(saved):
                c.execute("CONFIG", "SET", name, value)


@pytest.fixture
def start_server(mode, request):
    """start_server(args=[...], config_file=None, ...) -> a started extra Server, stopped (and
    checked for a clean exit) at the end of the test."""
    started = []
    request.node._kl_extra_servers = started

    def start(args=(), **kw):
        kw.setdefault("mode", mode)
        srv = Server(args=args, **kw)
        started.append(srv)
        return srv.start()
    yield start
    errors = []
    for srv in started:
        try:
            srv.stop()
        except ServerError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("extra server did not stop cleanly:\n" + "\n".join(errors), pytrace=False)
