"""Hold N idle TLS connections to a server (a standalone script, standard library only).

    python3 idle_client.py --port P --cacert CA -n 5000 [--concurrency 64] [--hold 300]

Opens the connections with at most --concurrency handshakes in flight; on each one, after the
handshake, sends one PING and reads +PONG (so the server has set the client up completely and
sent its TLS 1.3 session tickets). Then prints one line

    READY <connected> <failed> <seconds> [first error]

and holds every connection idle until a line or EOF arrives on stdin (or --hold seconds pass),
then closes them all and exits. Exit status 0 when all N connected.
"""

import argparse
import asyncio
import resource
import ssl
import sys
import time


def raise_nofile(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


async def main(args):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.cacert)
    ctx.check_hostname = False     # the chain is still verified against the CA
    sem = asyncio.Semaphore(args.concurrency)
    conns = []
    errors = []

    async def one():
        async with sem:
            last = None
            for _ in range(3):
                writer = None
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(args.host, args.port, ssl=ctx), 30)
                    writer.write(b"*1\r\n$4\r\nPING\r\n")
                    await writer.drain()
                    line = await asyncio.wait_for(reader.readline(), 30)
                    if line != b"+PONG\r\n":
                        raise ConnectionError("PING got %r" % line[:60])
                    conns.append((reader, writer))
                    return
                except (OSError, asyncio.TimeoutError, ssl.SSLError, ConnectionError) as e:
                    last = e
                    if writer is not None:
                        writer.close()
                    await asyncio.sleep(0.2)
            errors.append("%s: %s" % (type(last).__name__, last))

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(args.n)))
    secs = time.monotonic() - t0
    print("READY %d %d %.3f %s" % (len(conns), len(errors), secs,
                                   errors[0] if errors else ""), flush=True)
    loop = asyncio.get_running_loop()
    released = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: released.done() or released.set_result(None))
    try:
        await asyncio.wait_for(released, args.hold)
    except asyncio.TimeoutError:
        pass
    loop.remove_reader(sys.stdin.fileno())
    for _, w in conns:
        w.close()
    try:
        await asyncio.wait_for(asyncio.gather(*(w.wait_closed() for _, w in conns),
                                              return_exceptions=True), 10)
    except asyncio.TimeoutError:
        pass
    return 0 if not errors else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cacert", required=True)
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--hold", type=float, default=300.0)
    a = p.parse_args()
    raise_nofile(a.n + 100)
    sys.exit(asyncio.run(main(a)))
