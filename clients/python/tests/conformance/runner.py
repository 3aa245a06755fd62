"""Runs one conformance scenario against the Python client (conformance/README.md)."""
from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from herald import Connection, HeraldError, Subscription, Tunnel, connect

from tests.harness import wait_route

from .data import ERROR_CLASSES, Scenario, Vars, numbered, payload, payloads
from .members import Member
from .sockets import WAIT, FakeRelay, FrameStream, open_raw


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ms(v: Any) -> float | None:
    return None if v is None else v / 1000


class Runner:
    def __init__(self, scenario: Scenario, ports: list[int], fake: FakeRelay | None) -> None:
        self.scenario = scenario
        self.ports = ports
        self.fake = fake
        self.actors: dict[str, Any] = {}
        self.vars = Vars()

    async def run(self) -> None:
        try:
            for i, step in enumerate(self.scenario.spec["steps"]):
                try:
                    await self.step(step)
                except AssertionError as err:
                    raise AssertionError(f"step {i} {json.dumps(step)[:300]}: {err}") from None
        finally:
            await self.teardown()

    async def teardown(self) -> None:
        for a in self.actors.values():
            try:
                if isinstance(a, (Connection, Member)):
                    await asyncio.wait_for(a.close(), WAIT)
                elif isinstance(a, FrameStream):
                    a.close()
                elif isinstance(a, asyncio.Task):
                    a.cancel()
            except (HeraldError, asyncio.TimeoutError):
                pass

    # ---- one step -----------------------------------------------------------------------

    async def step(self, step: dict[str, Any]) -> None:
        op = step["op"]
        fn = getattr(self, "op_" + op, None)
        if fn is None:
            raise AssertionError(f"unknown op {op!r}")
        if step.get("pending") is True:
            self.actors[step["as"]] = asyncio.get_running_loop().create_task(fn(step))
            return
        work = self.actors[step["of"]] if op == "await" else fn(step)
        await self.outcome(work, step.get("expect") or {})

    async def outcome(self, work: Any, expect: dict[str, Any]) -> None:
        if "error" in expect:
            try:
                await work
            except HeraldError as err:
                self.check_error(err, expect)
                return
            raise AssertionError(f"expected {expect['error']}, but it succeeded")
        result = await work
        if "reply" in expect and result != payload(expect["reply"]):
            raise AssertionError(f"reply {result[:64]!r} != {payload(expect['reply'])[:64]!r}")
        if "max_message_bytes" in expect:
            assert result.max_message_bytes == expect["max_message_bytes"], result.max_message_bytes

    @staticmethod
    def check_error(err: HeraldError, expect: dict[str, Any]) -> None:
        code = expect["error"]
        assert err.code == code, f"expected {code}, got {err.code}: {err}"
        cls = ERROR_CLASSES.get(code, HeraldError)
        assert isinstance(err, cls), f"{code} should be a {cls.__name__}, got {type(err).__name__}"
        if "message" in expect:
            assert str(err) == expect["message"], f"message {str(err)!r} != {expect['message']!r}"

    def port(self, step: dict[str, Any]) -> int:
        return self.ports[int(step.get("relay", 0))]

    def conn(self, name: str) -> Connection:
        a = self.actors[name]
        if isinstance(a, Member):
            assert a.svc is not None
            return a.svc.conn
        assert isinstance(a, Connection), f"{name} is not a connection"
        return a

    # ---- the ops (conformance/README.md, "Steps") ----------------------------------------

    async def op_connect(self, s: dict[str, Any]) -> Connection:
        port = _unused_port() if s.get("port") == "unused" else self.port(s)
        kw: dict[str, Any] = {}
        if "timeout_ms" in s:
            kw["timeout"] = s["timeout_ms"] / 1000
        c = await connect(port=port, cluster_keys=s.get("cluster_keys"), topic_keys=s.get("topic_keys"), **kw)
        self.actors[s["as"]] = c
        return c

    async def op_register(self, s: dict[str, Any]) -> None:
        m = Member(s)
        await m.start(self.port(s))
        self.actors[s["as"]] = m

    async def op_request(self, s: dict[str, Any]) -> bytes:
        return await self.conn(s["conn"]).request(s["cluster"], payload(s["payload"]), timeout=_ms(s.get("timeout_ms")))

    async def op_await(self, s: dict[str, Any]) -> None:
        raise AssertionError("handled by step()")

    async def op_broadcast(self, s: dict[str, Any]) -> None:
        await self.conn(s["conn"]).broadcast(s["cluster"], payload(s["payload"]))

    async def op_publish(self, s: dict[str, Any]) -> None:
        c = self.conn(s["conn"])
        for p in payloads(s["payloads"]):
            await c.publish(s["topic"], p)

    async def op_subscribe(self, s: dict[str, Any]) -> None:
        kw = {"memory": s["memory"]} if "memory" in s else {}
        self.actors[s["as"]] = await self.conn(s["conn"]).subscribe(s["topic"], **kw)

    async def op_unsubscribe(self, s: dict[str, Any]) -> None:
        await self.actors[s["sub"]].unsubscribe()

    async def op_events(self, s: dict[str, Any]) -> None:
        sub: Subscription = self.actors[s["sub"]]
        for i, want in enumerate(payloads(s["payloads"])):
            got = await sub.next(timeout=WAIT)
            assert got == want, f"event {i}: {got[:64] if got else got!r} != {want[:64]!r}"

    async def op_sub_end(self, s: dict[str, Any]) -> None:
        got = await self.actors[s["sub"]].next(timeout=WAIT)
        assert got is None, f"expected the end, got an event {got[:64]!r}"

    async def op_sub_stats(self, s: dict[str, Any]) -> None:
        st = self.actors[s["sub"]].stats()
        assert st.dropped == s["dropped"], f"dropped {st.dropped} != {s['dropped']}"

    async def op_broadcasts(self, s: dict[str, Any]) -> None:
        m: Member = self.actors[s["member"]]
        want = payloads(s["payloads"])
        async with m.broadcast_seen:
            await asyncio.wait_for(m.broadcast_seen.wait_for(lambda: len(m.broadcasts) >= len(want)), WAIT)
        assert m.broadcasts == want, f"broadcasts {m.broadcasts!r} != {want!r}"

    async def op_member_stats(self, s: dict[str, Any]) -> None:
        m: Member = self.actors[s["member"]]
        assert m.requests == s["requests"], f"member saw {m.requests} requests, expected {s['requests']}"

    async def op_gate(self, s: dict[str, Any]) -> None:
        self.actors[s["member"]].gate.set()

    async def op_tunnel(self, s: dict[str, Any]) -> Tunnel:
        t = await self.conn(s["conn"]).tunnel(s["cluster"], timeout=_ms(s.get("timeout_ms")))
        self.actors[s["as"]] = t
        return t

    async def op_send(self, s: dict[str, Any]) -> None:
        t: Tunnel = self.actors[s["tunnel"]]
        for p in payloads(s["payloads"]):
            await t.send(p, timeout=_ms(s.get("timeout_ms")) or WAIT)

    async def op_send_until_blocked(self, s: dict[str, Any]) -> None:
        t: Tunnel = self.actors[s["tunnel"]]
        sent = 0
        while sent <= s["sent"]:
            try:
                await t.send(numbered(sent, s["size"]), timeout=s["timeout_ms"] / 1000)
            except HeraldError as err:
                assert err.code == "TIMEOUT", f"send failed with {err.code}: {err}"
                break
            sent += 1
        assert sent == s["sent"], f"{sent} sends went before one blocked, expected {s['sent']}"

    async def op_receive(self, s: dict[str, Any]) -> None:
        t: Tunnel = self.actors[s["tunnel"]]
        for i, want in enumerate(payloads(s["payloads"])):
            got = await t.receive(timeout=WAIT)
            assert got == want, f"message {i}: {got[:64]!r} != {want[:64]!r}"

    async def op_echo(self, s: dict[str, Any]) -> None:
        t: Tunnel = self.actors[s["tunnel"]]
        msgs = payloads(s["payloads"])

        async def writer() -> None:
            for m in msgs:
                await t.send(m, timeout=WAIT)

        w = asyncio.get_running_loop().create_task(writer())
        try:
            for i, want in enumerate(msgs):
                got = await t.receive(timeout=WAIT)
                assert got == want, f"echo {i}: {got[:64]!r} != {want[:64]!r}"
        finally:
            if not w.done():
                w.cancel()
        await w

    async def op_tunnel_close(self, s: dict[str, Any]) -> None:
        await self.actors[s["tunnel"]].close()

    async def op_tunnel_end(self, s: dict[str, Any]) -> None:
        t: Tunnel = self.actors[s["tunnel"]]
        try:
            got = await t.next(timeout=WAIT)
        except HeraldError as err:
            assert "error" in s, f"the tunnel ended with {err.code}: {err}"
            self.check_error(err, {"error": s["error"]})
            return
        assert got is None, f"expected the end, got a message {got[:64]!r}"
        assert "error" not in s, f"the tunnel ended normally, expected {s.get('error')}"

    async def op_member_tunnel(self, s: dict[str, Any]) -> None:
        m: Member = self.actors[s["member"]]
        end = await asyncio.wait_for(asyncio.shield(m.tunnel_end), WAIT)
        assert m.tunnel_messages == payloads(s["payloads"]), f"member got {len(m.tunnel_messages)} messages"
        assert end == s["end"], f"the member's tunnel ended with {end}, expected {s['end']}"

    async def op_sync(self, s: dict[str, Any]) -> None:
        await self.conn(s["conn"]).request("$herald.status", b"", timeout=WAIT)

    async def op_close(self, s: dict[str, Any]) -> None:
        name = s.get("conn") or s["member"]
        await self.actors[name].close()

    async def op_dropped(self, s: dict[str, Any]) -> None:
        reason = await asyncio.wait_for(self.conn(s["conn"]).wait_closed(), WAIT)
        assert reason is not None, "the connection was closed by us, not dropped"
        self.check_error(reason, {"error": s["error"]})

    async def op_wait_route(self, s: dict[str, Any]) -> None:
        await wait_route(self.port(s), cluster=s.get("cluster"), topic=s.get("topic"))

    async def op_raw(self, s: dict[str, Any]) -> None:
        self.actors[s["as"]] = await open_raw(self.port(s))

    async def op_raw_send(self, s: dict[str, Any]) -> None:
        r: FrameStream = self.actors[s["raw"]]
        r.write(s["frames"], self.vars)
        await r.writer.drain()

    async def op_raw_expect(self, s: dict[str, Any]) -> None:
        r: FrameStream = self.actors[s["raw"]]
        for i, pattern in enumerate(s["frames"]):
            await r.expect(pattern, self.vars, f"frame {i}")
        if s.get("then") == "closed":
            await r.expect_end("after the frames")

    async def op_fake_done(self, _: dict[str, Any]) -> None:
        assert self.fake is not None, "no fake relay in this scenario"
        await self.fake.done()
