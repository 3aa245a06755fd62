"""The Python client's own behaviour against a real relay (the shared patterns are in the
conformance suite): Python idioms, argument checks, deadlines at the member, drops."""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Awaitable, Callable

import pytest

from herald import (
    ClosedError, HeraldError, Limits, NoMembersError, RemoteError, Tunnel, connect, register,
)
from herald import TimeoutError as HeraldTimeout

from tests import harness
from tests.conformance.sockets import FakeRelay


@pytest.fixture(scope="module")
def relay() -> harness.Relay:
    return harness.start_relay()


async def status(port: int) -> dict[str, object]:
    async with connect(port=port) as c:
        return json.loads(await c.request("$herald.status", b"", timeout=5))  # type: ignore[no-any-return]


async def test_context_managers_close_what_they_open(relay: harness.Relay) -> None:
    async with register("py-ctx", lambda b: b"ok:" + b, port=relay.port) as svc:
        async with connect(port=relay.port) as conn:
            assert await conn.request("py-ctx", "x", timeout=5) == b"ok:x"
            assert conn.max_message_bytes == 16 * 1024 * 1024 and conn.node_id == relay.peer_id
        assert conn.closed and await conn.wait_closed() is None
        with pytest.raises(ClosedError):
            await conn.request("py-ctx", "again")
    assert svc.conn.closed
    async with connect(port=relay.port) as c:
        with pytest.raises(NoMembersError):  # the member left with the block
            await c.request("py-ctx", "x", timeout=5)


async def test_handler_object_sync_and_async(relay: harness.Relay) -> None:
    seen: list[str] = []

    class Handler:
        def init(self, conn: object) -> None:
            seen.append("init")

        async def handle_request(self, req: bytes) -> str:
            if req == b"boom":
                raise ValueError("no such row")
            return req.decode().upper()

        def handle_broadcast(self, msg: bytes) -> None:
            seen.append(msg.decode())

    async with register("py-obj", Handler(), port=relay.port) as svc, connect(port=relay.port) as conn:
        assert await conn.request("py-obj", "abc") == b"ABC"
        with pytest.raises(RemoteError, match="^no such row$"):
            await conn.request("py-obj", "boom")
        await conn.broadcast("py-obj", "hello")
        await conn.request("py-obj", "sync")  # the broadcast was delivered before this reply
        assert seen == ["init", "hello"] and svc.stats.failed_requests == 1


async def test_subscription_handler_runs_in_order(relay: harness.Relay) -> None:
    got: list[bytes] = []
    done = asyncio.Event()

    async def on_event(ev: bytes) -> None:
        await asyncio.sleep(0)  # an async handler: events still arrive one at a time, in order
        got.append(ev)
        if len(got) == 300:
            done.set()

    async with connect(port=relay.port) as conn:
        async with await conn.subscribe("py-handler", on_event) as sub:
            for i in range(300):
                await conn.publish("py-handler", str(i))
            await asyncio.wait_for(done.wait(), 10)
        assert got == [str(i).encode() for i in range(300)] and sub.closed
        assert sub.stats().delivered == 300


async def test_member_cancels_expired_requests_and_keeps_its_slot(relay: harness.Relay) -> None:
    """The REQUEST carries the time left; past it the Python member cancels the handler and
    answers FAILURE(timeout), which frees its requestConcurrency slot even at a relay that
    holds slots until the member answers (issue 13, point 4)."""
    started = asyncio.Event()

    async def slow(req: bytes) -> bytes:
        if req == b"slow":
            started.set()
            await asyncio.Event().wait()  # never finishes by itself
        return req

    async with register("py-expire", slow, port=relay.port, limits=Limits(request_concurrency=1)) as svc, \
            connect(port=relay.port) as conn:
        with pytest.raises(HeraldTimeout):
            await conn.request("py-expire", "slow", timeout=0.3)
        assert started.is_set()
        assert await conn.request("py-expire", "next", timeout=5) == b"next"
        assert svc.stats.expired_requests == 1


async def test_cancelled_request_leaves_nothing_behind(relay: harness.Relay) -> None:
    arrived = asyncio.Event()

    async def hang(req: bytes) -> bytes:
        arrived.set()
        await asyncio.Event().wait()
        return req

    svc = await register("py-cancel", hang, port=relay.port)
    async with connect(port=relay.port) as conn:
        task = asyncio.get_running_loop().create_task(conn.request("py-cancel", "x", timeout=30))
        await arrived.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert conn._requests == {}
    await svc.close(grace=0.1)


async def test_arguments_are_checked(relay: harness.Relay) -> None:
    async with connect(port=relay.port) as conn:
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: conn.request("c", "x", timeout=0),
            lambda: conn.request("c", "x", timeout=float("nan")),
            lambda: conn.request("c", 42),  # type: ignore[arg-type]
            lambda: conn.subscribe("t", memory=0),
            lambda: conn.tunnel("c", timeout=-1),
        ]
        for call in calls:
            with pytest.raises(HeraldError) as e:
                await call()
            assert e.value.code == "INVALID"
    with pytest.raises(HeraldError) as e2:
        register("c", lambda b: b, port=relay.port, limits=Limits(request_concurrency=0))
    assert e2.value.code == "INVALID"


async def test_unix_socket() -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="herald-py-"), "relay.sock")
    r = harness.start_relay(["--socket", path])
    try:
        async with register("py-unix", lambda b: b, path=path), connect(path=path) as conn:
            assert await conn.request("py-unix", "over a unix socket") == b"over a unix socket"
    finally:
        r.proc.kill()


async def test_relay_loss_drops_everything_with_one_reason() -> None:
    r = harness.start_relay()
    dropped: list[HeraldError] = []
    got_tunnel = asyncio.Event()

    class Member:
        def handle_drop(self, reason: HeraldError) -> None:
            dropped.append(reason)

        async def handle_tunnel(self, tun: Tunnel) -> None:
            got_tunnel.set()
            async for m in tun:
                await tun.send(m)

    svc = await register("py-loss", Member(), port=r.port)
    conn = await connect(port=r.port, on_drop=dropped.append)
    sub = await conn.subscribe("py-loss-t")
    tun = await conn.tunnel("py-loss")
    pending = asyncio.get_running_loop().create_task(sub.next())
    await got_tunnel.wait()
    r.proc.kill()
    reason = await asyncio.wait_for(conn.wait_closed(), 10)
    assert isinstance(reason, ClosedError)
    assert await asyncio.wait_for(pending, 5) is None and sub.error is reason
    with pytest.raises(ClosedError):
        await tun.receive()
    await asyncio.wait_for(svc.conn.wait_closed(), 10)
    assert len(dropped) == 2 and all(isinstance(d, ClosedError) for d in dropped)
    await svc.close()


async def test_status_counts_our_clients(relay: harness.Relay) -> None:
    before = (await status(relay.port))["clients"]
    async with connect(port=relay.port), connect(port=relay.port):
        assert (await status(relay.port))["clients"] == before + 2  # type: ignore[operator]


async def test_tunnel_refuses_data_beyond_its_grant() -> None:
    """Against a (fake) relay that ignores flow control, the inbox stays bounded: the tunnel
    ends with LIMIT and tells the relay so, instead of buffering without end."""
    fake = FakeRelay([
        {"expect": {"type": "HELLO"}},
        {"send": [{"type": "WELCOME", "version": 1, "maxMessageBytes": 16777216, "nodeId": "fake"}]},
        {"expect": {"type": "TUNNEL_OPEN", "cluster": "c", "capture": {"tunnel": "a"}}},
        {"send": [{"type": "TUNNEL_ACCEPT", "tunnel": {"var": "a"}, "allowance": 1000}]},
        {"expect": {"type": "TUNNEL_ALLOWANCE", "tunnel": {"var": "a"}, "bytes": 1048576}},
        # Exactly the 1 MiB granted (a message costs its size + 64), then one message more.
        {"send": [{"type": "TUNNEL_DATA", "tunnel": {"var": "a"}, "payload": {"size": 1048512}},
                  {"type": "TUNNEL_DATA", "tunnel": {"var": "a"}, "payload": "one too many"}]},
        {"expect": {"type": "TUNNEL_CLOSE", "tunnel": {"var": "a"}, "code": "limit"}},
    ])
    await fake.start()
    try:
        async with connect(port=fake.port) as conn:
            tun = await conn.tunnel("c")
            await fake.done()
            with pytest.raises(HeraldError) as e:
                while True:
                    await tun.receive(timeout=5)
            assert e.value.code == "LIMIT"
    finally:
        await fake.stop()
