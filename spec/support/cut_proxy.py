#!/usr/bin/env python3
"""A loopback TCP proxy whose line can be cut: spec/support/redis.lua's proxy().

Listens on 127.0.0.1 (a free port, written as JSON {"port": P} to --ready once
listening) and forwards every connection to 127.0.0.1:--target. SIGUSR1 cuts the
line the way a network cut does: nothing is forwarded either way and new
connections are accepted but go nowhere (no reset: the client waits for its own
timeout). SIGUSR2 mends it: the connections that lived through the cut are
closed (their bytes are lost, as TCP would have given up on them) and new ones
are forwarded again. Exits when --parent-pid is gone.
"""
import argparse
import asyncio
import json
import os
import signal

CUT = False
ALL = {}   # id -> {client writer, upstream writer or None, cut: lived through a cut}


async def pipe(reader, writer, conn):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if CUT or conn["cut"]:
                conn["cut"] = True
                continue          # dropped on the floor
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        close(conn)


def close(conn):
    for w in (conn["client"], conn["upstream"]):
        if w is not None:
            try:
                w.close()
            except (ConnectionError, OSError, RuntimeError):
                pass
    conn["closed"] = True


async def handle(target, creader, cwriter):
    conn = {"client": cwriter, "upstream": None, "cut": CUT, "closed": False}
    ALL[id(conn)] = conn
    if CUT:
        # accepted, going nowhere: read and drop until mended (then closed)
        await pipe(creader, None, conn)
        ALL.pop(id(conn), None)
        return
    try:
        ureader, uwriter = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        close(conn)
        ALL.pop(id(conn), None)
        return
    conn["upstream"] = uwriter
    await asyncio.gather(pipe(creader, uwriter, conn), pipe(ureader, cwriter, conn))
    ALL.pop(id(conn), None)


def cut():
    global CUT
    CUT = True
    for conn in ALL.values():
        conn["cut"] = True


def mend():
    global CUT
    CUT = False
    for conn in list(ALL.values()):
        if conn["cut"]:
            close(conn)


async def watch_parent(pid):
    while True:
        await asyncio.sleep(1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)


async def main():
    p = argparse.ArgumentParser(description="a TCP proxy whose line can be cut")
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--parent-pid", type=int)
    a = p.parse_args()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGUSR2, mend)
    srv = await asyncio.start_server(lambda r, w: handle(a.target, r, w), "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    tmp = a.ready + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"port": port}, f)
    os.rename(tmp, a.ready)
    if a.parent_pid:
        asyncio.ensure_future(watch_parent(a.parent_pid))
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
