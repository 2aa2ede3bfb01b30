"""conf/keyloom.conf, the sample configuration: the server starts with it, it documents every
directive the server reports, its active lines are what the server then reports, and every
commented "# name value" line shows the true default (uncommenting them all changes nothing).

Conventions of the file that these tests rely on (described at its top):
  * an active line is any line that is neither blank nor a comment;
  * a commented directive is "# name value" with a single space after '#', where name is a
    directive the server reports or any word with '-' or '_' (prose lines never start so);
  * "# REFUSED: <line>" shows a Redis line keyloom refuses at startup.

Servers here are started from the file itself, in plain TCP whatever the suite's mode, with
only --port (a free loopback port, never 6379), --logfile and --dir (a temporary directory)
added on the command line.
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from klserver import ROOT, Mode, Server, ServerError, free_port

pytestmark = pytest.mark.keyloom_only

CONF = os.path.join(ROOT, "conf", "keyloom.conf")
# Set on the command line by ConfServer, so the server reports our values, not the file's.
OVERRIDDEN = {"port", "logfile", "dir"}
# Directives the file may list on several lines (one per client class).
MULTI_LINE = {"client-output-buffer-limit"}

COMMENTED_RE = re.compile(r"^# ([a-z][a-z0-9_-]*) +(\S.*)$")
REFUSED_RE = re.compile(r"^# REFUSED: (\S.*)$")
MEMORY_RE = re.compile(r"^(\d+)(k|kb|m|mb|g|gb)$", re.IGNORECASE)
UNITS = {"k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2, "g": 1000 ** 3, "gb": 1024 ** 3}


class ConfServer(Server):
    """A Server whose command line is the config file plus port, logfile and dir only."""

    def command_line(self, port):
        cmd = [self.binary]
        if self.config_file:
            cmd.append(self.config_file)
        cmd += ["--port", str(port), "--logfile", self.logfile, "--dir", self.dir]
        return cmd + self.extra_args


@pytest.fixture
def conf_server(mode, request):
    """conf_server(config_file or None) -> a started ConfServer, stopped (and checked for a
    clean exit) at the end of the test."""
    started = []
    request.node._kl_extra_servers = started
    plain = Mode(server=mode.server, tls=False, io_threads=1)

    def start(config_file=None):
        srv = ConfServer(mode=plain, config_file=config_file)
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
        pytest.fail("server did not stop cleanly:\n" + "\n".join(errors), pytrace=False)


# ---- reading the file ----

def split_args(line):
    """Split a config line into arguments like redis-server (sdssplitargs): "double quotes"
    with backslash escapes, 'single quotes', a closing quote must end the argument."""
    args, i, n = [], 0, len(line)
    escapes = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i == n:
            return args
        cur, quote = [], None
        while i < n:
            c = line[i]
            if quote == '"':
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and \
                        all(h in "0123456789abcdefABCDEF" for h in line[i + 2:i + 4]):
                    cur.append(chr(int(line[i + 2:i + 4], 16)))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    cur.append(escapes.get(line[i], line[i]))
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space: %r" % line)
                    quote = None
                    i += 1
                    break
                else:
                    cur.append(c)
            elif quote == "'":
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    i += 1
                    cur.append("'")
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space: %r" % line)
                    quote = None
                    i += 1
                    break
                else:
                    cur.append(c)
            elif c.isspace():
                break
            elif c in "\"'" and not cur:
                quote = c
            else:
                cur.append(c)
            i += 1
        if quote:
            raise ValueError("unbalanced quotes: %r" % line)
        args.append("".join(cur))


class ConfFile:
    """The directives of a config file: active lines, commented "# name value" lines and
    "# REFUSED:" lines, each as (line number, name, args, text)."""

    def __init__(self, path, known):
        self.lines = open(path).read().split("\n")
        self.active, self.commented, self.refused = [], [], []
        for no, text in enumerate(self.lines, 1):
            stripped = text.strip()
            if not stripped:
                continue
            if not stripped.startswith("#"):
                args = split_args(stripped)
                self.active.append((no, args[0].lower(), args[1:], text))
                continue
            m = REFUSED_RE.match(text)
            if m:
                self.refused.append((no, None, None, m.group(1)))
                continue
            m = COMMENTED_RE.match(text)
            if m and (m.group(1) in known or "-" in m.group(1) or "_" in m.group(1)):
                args = split_args(text[2:])
                self.commented.append((no, m.group(1), args[1:], text))

    def active_values(self):
        out = {}
        for _, name, args, _ in self.active:
            out.setdefault(name, []).append(args)
        return out

    def uncommented(self):
        """The file's text with every commented directive line uncommented."""
        lines = list(self.lines)
        for no, _, _, text in self.commented:
            lines[no - 1] = text[2:]
        return "\n".join(lines)


def config_get_all(srv):
    with srv.raw() as c:
        reply = c.execute("CONFIG", "GET", "*")
    assert isinstance(reply, list), reply
    return {reply[i].decode(): reply[i + 1].decode() for i in range(0, len(reply), 2)}


@pytest.fixture
def default_config(conf_server):
    """CONFIG GET * of a server started without a config file."""
    return config_get_all(conf_server(None))


def to_bytes(arg):
    m = MEMORY_RE.match(arg)
    return str(int(m.group(1)) * UNITS[m.group(2).lower()]) if m else arg


def obuf_classes(value):
    """'normal 0 0 0 slave 1 2 3 ...' -> {'normal': ['0', '0', '0'], 'slave': [...]}"""
    w = value.split()
    assert len(w) % 4 == 0, value
    return {w[i].lower(): w[i + 1:i + 4] for i in range(0, len(w), 4)}


def expected_value(name, lines, reported):
    """What CONFIG GET name should report after the file's active lines for name."""
    if name == "client-output-buffer-limit":
        classes = obuf_classes(reported)
        for args in lines:
            for i in range(0, len(args), 4):
                cls = args[i].lower()
                cls = "slave" if cls == "replica" else cls
                classes[cls] = [to_bytes(a) for a in args[i + 1:i + 4]]
        return " ".join("%s %s" % (c, " ".join(v)) for c, v in classes.items())
    args = lines[-1]
    if name in ("replicaof", "slaveof") and [a.lower() for a in args] == ["no", "one"]:
        return ""
    return " ".join(to_bytes(a) for a in args)


def no_compat_warning(srv):
    """The startup warning about compatibility-only directives set to non-default values is
    absent (it is logged while the config loads, before the log file is opened: look at both)."""
    log = ""
    for path in (srv.logfile, srv.stdout_path):
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                log += f.read()
    assert "Ready to accept connections" in log, log
    assert "accepted for compatibility" not in log, \
        "the file sets compatibility-only directives to non-default values:\n" + log


# ---- tests ----

def test_server_starts_with_sample_conf(conf_server, default_config):
    conf = ConfFile(CONF, default_config)
    values = conf.active_values()
    # What the sample promises (README's run command uses it as is).
    for name, want in {"bind": ["127.0.0.1", "-::1"], "port": ["6379"],
                       "protected-mode": ["yes"], "logfile": [""], "daemonize": ["no"],
                       "dir": ["./"]}.items():
        assert values.get(name) == [want], "%s: %r" % (name, values.get(name))

    srv = conf_server(CONF)
    with srv.raw() as c:
        assert c.execute("PING") == b"PONG"
        assert c.execute("SET", "k", "v") == b"OK"
        assert c.execute("GET", "k") == b"v"
    got = config_get_all(srv)
    assert got["port"] == str(srv.port)
    assert got["logfile"] == srv.logfile
    assert os.path.realpath(got["dir"]) == os.path.realpath(srv.dir)
    no_compat_warning(srv)


def test_every_directive_is_documented(default_config):
    conf = ConfFile(CONF, default_config)
    documented = {}
    for no, name, _, text in conf.active + conf.commented:
        documented.setdefault(name, []).append((no, text))

    missing = sorted(set(default_config) - set(documented))
    assert not missing, "directives reported by CONFIG GET * but not in %s: %s" % (CONF, missing)

    unknown = ["line %d: %s" % (no, text) for name, where in documented.items()
               if name not in default_config for no, text in where]
    assert not unknown, "directive lines the server does not know:\n" + "\n".join(unknown)

    repeated = ["%s on lines %s" % (name, [no for no, _ in where])
                for name, where in documented.items()
                if len(where) > 1 and name not in MULTI_LINE]
    assert not repeated, "directives documented more than once: %s" % repeated
    assert conf.refused, "the file should show the refused directives"


def test_active_lines_match_config_get(conf_server, default_config):
    conf = ConfFile(CONF, default_config)
    got = config_get_all(conf_server(CONF))
    mismatches = []
    for name, lines in sorted(conf.active_values().items()):
        assert len(lines) == 1 or name in MULTI_LINE, "%s set on several lines" % name
        if name in OVERRIDDEN:
            continue
        want = expected_value(name, lines, default_config[name])
        if got[name] != want:
            mismatches.append("%s: file says %r, CONFIG GET says %r" % (name, want, got[name]))
    assert not mismatches, "\n".join(mismatches)


def test_commented_defaults_are_valid_and_unchanged(conf_server, default_config, tmp_path):
    conf = ConfFile(CONF, default_config)
    assert len(conf.commented) > 100
    uncommented = tmp_path / "keyloom-all.conf"
    uncommented.write_text(conf.uncommented())

    base = config_get_all(conf_server(CONF))
    srv = conf_server(str(uncommented))
    with srv.raw() as c:
        assert c.execute("PING") == b"PONG"
    got = config_get_all(srv)
    no_compat_warning(srv)
    changed = ["%s: %r with the lines commented, %r uncommented" % (n, base[n], got.get(n))
               for n in sorted(base) if n not in OVERRIDDEN and got.get(n) != base[n]]
    assert not changed, "commented lines that are not the default:\n" + "\n".join(changed)


def test_refused_lines_are_refused(mode, default_config):
    conf = ConfFile(CONF, default_config)
    # save schedules and appendonly yes left the list when persistence landed, replicaof and
    # slaveof when replication did.
    assert len(conf.refused) >= 5
    work = tempfile.mkdtemp(prefix="keyloom-conf-")
    try:
        for no, _, _, line in conf.refused:
            path = os.path.join(work, "refused.conf")
            with open(path, "w") as f:
                f.write(line + "\n")
            # Should the line be accepted after all, the server must not take port 6379.
            cmd = [mode.server, path, "--port", str(free_port()), "--bind", "127.0.0.1",
                   "--logfile", os.path.join(work, "server.log"), "--dir", work]
            try:
                res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, timeout=5)
            except subprocess.TimeoutExpired:
                pytest.fail("line %d (%s) was accepted: the server kept running" % (no, line))
            out = res.stdout.decode(errors="replace")
            assert res.returncode != 0, "line %d (%s) was accepted" % (no, line)
            assert "FATAL CONFIG FILE ERROR" in out and (">>> '%s'" % line) in out, out
    finally:
        shutil.rmtree(work, ignore_errors=True)
