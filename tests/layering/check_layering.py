#!/usr/bin/env python3
"""The include graph of keyloom, checked against the layering.

Every C file of the product belongs to a component (a folder). A file may
include headers of its own component and of the components below it, never of
one above: the allowed direction is the table LOWER below, and the same table
is what server/meson.build gives each static library as include directories.
The check also fails on:
  - a cycle between components (even one the table would allow);
  - an `<x>_internal.h` included from outside its own component (tests may);
  - <uv.h> outside ioloop/ and tls/, OpenSSL headers outside tls/, directly
    or through the headers a file includes (the executor never sees libuv);
  - an #include "name.h" that matches no header of the tree or more than one.

Usage: check_layering.py [SOURCE_ROOT]      exit 0 when the graph is clean
       check_layering.py --selftest         proves the check catches violations
"""

import os
import re
import sys
import tempfile

# component -> components it may include (besides itself). Order = bottom-up.
LOWER = {
    "common": set(),
    "ioloop": {"common"},
    "tls": {"ioloop", "common"},
    "server/config": {"common"},
    "server/ds": {"common"},
    "server/kv": {"server/ds", "server/config", "common"},
    "server/persist": {"server/kv", "server/ds", "server/config", "common"},
    "server/exec": {"server/persist", "server/kv", "server/ds", "server/config", "ioloop", "common"},
    "server/commands": {"server/exec", "server/persist", "server/kv", "server/ds", "server/config",
                        "common"},
    "server/admin": {"server/exec", "server/persist", "server/kv", "server/ds", "server/config",
                     "ioloop", "tls", "common"},
    "server/main": {"server/admin", "server/commands", "server/exec", "server/persist",
                    "server/kv", "server/ds", "server/config", "ioloop", "tls", "common",
                    "replication", "cluster"},
    "replication": {"server/admin", "server/exec", "server/persist", "server/kv", "server/ds",
                    "server/config", "ioloop", "tls", "common"},
    "cluster": {"replication", "server/exec", "server/kv", "server/ds", "server/config", "ioloop",
                "tls", "common"},
}
# Generated at the build root (version, commit): anyone may include them.
GENERATED = {"kl_version.h", "kl_git.h"}
# Only these components may include these system headers.
SYSTEM_ONLY = [
    (re.compile(r"^uv\.h$|^uv/"), {"ioloop", "tls"}),
    (re.compile(r"^openssl/"), {"tls"}),
]
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def component_of(rel):
    """The component of a source path relative to the root, or None when the
    file is not part of the product (tests, bench, fuzz)."""
    parts = rel.split("/")
    if parts[0] in ("common", "ioloop", "tls", "replication", "cluster"):
        return parts[0]
    if parts[0] == "server":
        if len(parts) == 2:
            return "server/main"
        return "server/" + parts[1]
    return None


def scan(root):
    files = {}  # rel path -> component
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and not d.startswith("build")]
        for f in filenames:
            if f.endswith((".c", ".h")):
                rel = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
                comp = component_of(rel)
                if comp is not None:
                    files[rel] = comp
    return files


def check(root):
    """Returns (errors, edges) for the tree at root."""
    files = scan(root)
    headers = {}  # basename -> [rel]
    for rel in files:
        if rel.endswith(".h"):
            headers.setdefault(os.path.basename(rel), []).append(rel)
    errors = []
    edges = {}  # (from comp, to comp) -> example "file -> header"
    direct = {}  # rel -> (list of resolved tree headers, list of system headers)
    for rel, comp in sorted(files.items()):
        if comp not in LOWER:
            errors.append("%s: component %s is not in the layering table" % (rel, comp))
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        tree_incs, sys_incs = [], []
        for m in INCLUDE_RE.finditer(text):
            kind, name = m.group(1), m.group(2)
            if kind == "<":
                sys_incs.append(name)
                continue
            base = os.path.basename(name)
            if base in GENERATED:
                continue
            owners = headers.get(base, [])
            if not owners:
                errors.append('%s: #include "%s" matches no header of the tree' % (rel, name))
                continue
            if len(owners) > 1:
                errors.append('%s: #include "%s" is ambiguous (%s)' % (rel, name, ", ".join(owners)))
                continue
            tree_incs.append(owners[0])
            target = files[owners[0]]
            if target == comp:
                continue
            if base.endswith("_internal.h"):
                errors.append('%s: includes %s, internal to %s' % (rel, owners[0], target))
            if target not in LOWER[comp]:
                errors.append('%s (%s): includes %s of %s, which is not below it' %
                              (rel, comp, owners[0], target))
            edges.setdefault((comp, target), "%s -> %s" % (rel, owners[0]))
        direct[rel] = (tree_incs, sys_incs)
    # System headers, directly or through the tree's headers.
    for rel, comp in sorted(files.items()):
        if rel not in direct:
            continue
        seen, stack, via = {rel}, [rel], {rel: None}
        while stack:
            cur = stack.pop()
            for name in direct.get(cur, ((), ()))[1]:
                for pat, allowed in SYSTEM_ONLY:
                    if pat.search(name) and comp not in allowed:
                        chain, n = [], cur
                        while n is not None:
                            chain.append(n)
                            n = via[n]
                        errors.append("%s: reaches <%s> (only %s may) via %s" %
                                      (rel, name, ", ".join(sorted(allowed)),
                                       " <- ".join(chain)))
            for h in direct.get(cur, ((), ()))[0]:
                if h not in seen:
                    seen.add(h)
                    via[h] = cur
                    stack.append(h)
    # Cycles between components.
    graph = {}
    for (a, b) in edges:
        graph.setdefault(a, set()).add(b)
    state = {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                cyc = path[path.index(m):] + [m] if m in path else [n, m]
                errors.append("cycle between components: " + " -> ".join(cyc))
            elif m not in state:
                visit(m, path + [m])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    return errors, edges


def selftest():
    """Build small trees with one violation each; every one must be caught,
    and a clean tree must pass."""
    cases = {
        "clean": ({"server/ds/a.h": "", "server/kv/b.c": '#include "a.h"\n'}, 0),
        "upward": ({"server/exec/x.h": "", "server/kv/b.c": '#include "x.h"\n'}, 1),
        "uv outside ioloop": ({"server/exec/y.c": "#include <uv.h>\n"}, 1),
        "openssl outside tls": ({"ioloop/y.c": "#include <openssl/ssl.h>\n"}, 1),
        "internal header": ({"ioloop/iol_internal.h": "", "server/exec/y.c":
                             '#include "iol_internal.h"\n'}, 1),
        "unknown header": ({"server/kv/y.c": '#include "nope.h"\n'}, 1),
        "ambiguous": ({"server/kv/d.h": "", "server/ds/d.h": "", "server/kv/y.c":
                       '#include "d.h"\n'}, 1),
        "cycle": ({"ioloop/i.h": '#include "t.h"\n', "tls/t.h": '#include "i.h"\n'}, 2),
        "uv through a header": ({"ioloop/c.h": "#include <uv.h>\n", "server/exec/e.c":
                                 '#include "c.h"\n'}, 1),
    }
    ok = True
    for name, (tree, want) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            for rel, text in tree.items():
                os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                with open(os.path.join(d, rel), "w") as fh:
                    fh.write(text)
            errors, _ = check(d)
            good = (len(errors) >= 1) if want else not errors
            if want and len(errors) < want:
                good = False
            print("%-22s %s (%d error(s)%s)" % (name, "ok" if good else "FAILED", len(errors),
                                                ": " + errors[0] if errors else ""))
            ok = ok and good
    return ok


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--selftest":
        ok = selftest()
        print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
        return 0 if ok else 1
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    errors, edges = check(os.path.abspath(root))
    for (a, b), ex in sorted(edges.items()):
        print("%-16s -> %-16s e.g. %s" % (a, b, ex))
    for e in errors:
        print("LAYERING: " + e)
    print("%d passed, %d failed" % (0 if errors else 1, 1 if errors else 0))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
