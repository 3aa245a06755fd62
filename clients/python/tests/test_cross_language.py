"""Python and TypeScript in one network: a Python member answers the TS SDK and the CLI; a
Python client reaches a TypeScript member across two relays; tunnels of 10,000 messages."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from herald import Tunnel, connect, register

from tests import harness

JS = Path(__file__).parent / "js"
K1 = "dycZxudXMwzBckYcL4vkqu97T911xiszxfWkSUPBlHI="
K2 = "o/8ReIX0div3wAP9SIMuR7BZNOhHcS4mEvm9ILXwsJw="


async def node(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """Runs a node process without blocking the event loop (the Python member lives on it)."""
    p = await asyncio.create_subprocess_exec(
        harness.NODE, *args, cwd=harness.ROOT, stdin=asyncio.subprocess.PIPE if stdin is not None else None,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(p.communicate(stdin), 30)
    return p.returncode or 0, out.decode(), err.decode()


def ts_member(port: int, cluster: str, keys: str | None = None) -> harness.Proc:
    p = harness.spawn([str(port), cluster, *([keys] if keys else [])], script=str(JS / "ts-member.mjs"))
    p.wait_line("ready")
    return p


@pytest.fixture(scope="module")
def relay() -> harness.Relay:
    return harness.start_relay()


async def test_python_member_answers_the_typescript_sdk_and_the_cli(relay: harness.Relay) -> None:
    def handle(req: bytes) -> bytes:
        if req == b"fail":
            raise RuntimeError("python says no")
        return b"py:" + req

    async with register("xl-py", handle, port=relay.port) as svc:
        code, out, err = await node(str(JS / "ts-client.mjs"), str(relay.port), "xl-py", "from typescript")
        assert code == 0, err
        assert json.loads(out) == {"reply": "py:from typescript"}
        code, out, err = await node(str(JS / "ts-client.mjs"), str(relay.port), "xl-py", "fail")
        assert json.loads(out) == {"error": "REMOTE", "message": "python says no"}

        code, out, err = await node(harness.CLI, "request", "xl-py", "from the cli", "--port", str(relay.port))
        assert (code, out) == (0, "py:from the cli"), err
        code, out, err = await node(harness.CLI, "request", "xl-py", "--port", str(relay.port), stdin=b"from stdin")
        assert (code, out) == (0, "py:from stdin"), err
        code, out, err = await node(harness.CLI, "request", "xl-py", "fail", "--port", str(relay.port))
        assert code == 1 and "python says no" in err and err.count("\n") == 1
        assert svc.stats.requests == 5


async def test_keys_interoperate_both_ways(relay: harness.Relay) -> None:
    """Sealing is byte for byte the TS SDK's: a Python caller with the old key reaches a TS
    member holding [new, old], and a TS caller reaches a Python member."""
    ts = ts_member(relay.port, "xl-keyed-ts", f"{K2},{K1}")
    try:
        async with connect(port=relay.port, cluster_keys={"xl-keyed-ts": K1}) as conn:
            assert await conn.request("xl-keyed-ts", "sealed", timeout=5) == b"ts:sealed"
            async with await conn.tunnel("xl-keyed-ts") as tun:
                await tun.send(b"through a sealed tunnel")
                assert await tun.receive(timeout=5) == b"through a sealed tunnel"
    finally:
        ts.kill()
    async with register("xl-keyed-py", lambda b: b"py:" + b, port=relay.port, key=[K1, K2]) as svc:
        _, out, _ = await node(str(JS / "ts-client.mjs"), str(relay.port), "xl-keyed-py", "hi", K2)
        assert json.loads(out) == {"reply": "py:hi"}
        _, out, _ = await node(str(JS / "ts-client.mjs"), str(relay.port), "xl-keyed-py", "no key")
        assert json.loads(out)["error"] == "KEY"
        assert svc.stats.rejected == 1


async def echo_10000(tun: Tunnel, size: int = 1024) -> None:
    """Sends 10,000 numbered messages while reading the echoes; each must come back intact, in order."""
    n = 10_000

    def msg(i: int) -> bytes:
        return i.to_bytes(4, "big") + bytes([i % 251]) * (size - 4)

    async def writer() -> None:
        for i in range(n):
            await tun.send(msg(i), timeout=30)

    w = asyncio.get_running_loop().create_task(writer())
    for i in range(n):
        got = await tun.receive(timeout=30)
        assert got == msg(i), f"message {i} came back as message {int.from_bytes(got[:4], 'big')}"
    await w


async def test_python_tunnel_moves_10000_messages_in_order(relay: harness.Relay) -> None:
    """10,000 x 1 KiB is ten times the 1 MiB window each way: it only completes if the reader's
    grants flow back, and the writer waits for them."""
    served: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Echo:
        async def handle_tunnel(self, tun: Tunnel) -> None:
            n = 0
            async for m in tun:
                await tun.send(m)
                n += 1
            served.set_result(n)  # the member's loop ended at our close, after all 10,000

    async with register("xl-tunnel", Echo(), port=relay.port), connect(port=relay.port) as conn:
        tun = await conn.tunnel("xl-tunnel")
        await echo_10000(tun)
        assert tun.grants_received >= 10_000 * (1024 + 64) // tun.window  # grants of a quarter window
        await tun.close()
        assert await asyncio.wait_for(served, 10) == 10_000


async def test_python_client_reaches_a_typescript_member_across_two_relays() -> None:
    a = harness.start_relay()
    b = harness.start_relay(bootstrap=a)
    ts = ts_member(b.port, "xl-far")
    try:
        await harness.wait_route(a.port, cluster="xl-far")
        async with connect(port=a.port) as conn:
            assert await conn.request("xl-far", "across two relays", timeout=5) == b"ts:across two relays"
            tun = await conn.tunnel("xl-far")
            await echo_10000(tun)
            await tun.close()
    finally:
        ts.kill()
        a.proc.kill()
        b.proc.kill()
