"""Sends requests to the "databases" cluster (never to a host) and counts which member
answered each one; the relay balances them among the members.

    python3 examples/databases/client.py [--port 55555] [--requests 300] [--concurrency 16]

Prints a small table, then one JSON line: {"answered": {"db-1": 100, ...}}
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter

from herald import NoMembersError, connect


async def main(port: int, total: int, concurrency: int) -> int:
    answered: Counter[str] = Counter()
    queue = iter(range(total))

    async with connect(port=port) as conn:
        async def worker() -> None:
            for i in queue:  # each worker takes the next request as soon as its last is answered
                reply = await conn.request("databases", f"query #{i}", timeout=5.0)
                answered[reply.decode()] += 1

        results = await asyncio.gather(*(worker() for _ in range(concurrency)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if any(isinstance(e, NoMembersError) for e in errors):
            print("no member of 'databases' is running (start examples/databases/member.py)", file=sys.stderr)
            return 1
        if errors:
            print(f"request failed: {errors[0]}", file=sys.stderr)
            return 1

    for member, n in sorted(answered.items()):
        print(f"{member:>8}  {n:5d}  {'#' * (n * 40 // total)}")
    print(json.dumps({"answered": dict(sorted(answered.items()))}))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="Sends requests to the 'databases' cluster.")
    p.add_argument("--port", type=int, default=55555)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=16)
    a = p.parse_args()
    sys.exit(asyncio.run(main(a.port, a.requests, a.concurrency)))
