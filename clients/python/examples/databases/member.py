"""One member of the "databases" cluster, in Python. It answers every request with its own
name after a short pause that stands in for real work (so several members share the load).

    python3 examples/databases/member.py db-1 [--port 55555] [--delay-ms 5]

Prints ``ready <name>`` once registered; SIGINT/SIGTERM leaves the cluster and exits 0.
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from herald import HeraldError, register


async def main(name: str, port: int, delay: float) -> int:
    answered = 0
    lost: asyncio.Future[HeraldError] = asyncio.get_running_loop().create_future()

    class Database:
        async def handle_request(self, request: bytes) -> str:
            nonlocal answered
            await asyncio.sleep(delay)
            answered += 1
            return name

        def handle_drop(self, reason: HeraldError) -> None:
            lost.set_result(reason)

    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with register("databases", Database(), port=port):
        print(f"ready {name}", flush=True)
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        waits: list[asyncio.Future[Any]] = [stopped, lost]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if lost.done():
            print(f"{name}: lost the relay: {lost.result()}", file=sys.stderr)
            return 1
    print(f"{name}: answered {answered} requests, leaving", file=sys.stderr)
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="A member of the 'databases' cluster.")
    p.add_argument("name")
    p.add_argument("--port", type=int, default=55555)
    p.add_argument("--delay-ms", type=float, default=5)
    a = p.parse_args()
    sys.exit(asyncio.run(main(a.name, a.port, a.delay_ms / 1000)))
