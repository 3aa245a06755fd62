"""The member behaviours of the conformance DSL, on the Python client."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from herald import HeraldError, Limits, Service, Tunnel, register

LIMIT_FIELDS = {
    "requestConcurrency": "request_concurrency", "requestMemory": "request_memory",
    "broadcastConcurrency": "broadcast_concurrency", "broadcastMemory": "broadcast_memory",
}


class Member:
    """A registered member that records what reaches it (requests, broadcasts, tunnel traffic)."""

    def __init__(self, step: dict[str, Any]) -> None:
        self.step = step
        self.requests = 0
        self.broadcasts: list[bytes] = []
        self.broadcast_seen = asyncio.Condition()
        self.gate = asyncio.Event()
        self.tunnel_messages: list[bytes] = []
        self.tunnel_end: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.svc: Service | None = None

    async def start(self, port: int) -> Member:
        s = self.step
        handler = SimpleNamespace(handle_request=self._request, handle_broadcast=self._broadcast)
        if "on_tunnel" in s:
            handler.handle_tunnel = self._tunnel
        limits = Limits(**{LIMIT_FIELDS[k]: v for k, v in s.get("limits", {}).items()})
        self.svc = await register(s["cluster"], handler, port=port, limits=limits, key=s.get("key"))
        return self

    def _drop(self) -> None:
        assert self.svc is not None
        asyncio.get_running_loop().create_task(self.svc.conn.close())

    async def _request(self, payload: bytes) -> bytes | str | None:
        self.requests += 1
        how = self.step.get("on_request", "echo")
        if how == "echo":
            return payload
        if how == "empty":
            return None
        if how == "gated-echo":
            await self.gate.wait()
            return payload
        if how in ("hang", "drop"):
            if how == "drop":
                self._drop()
            await asyncio.Event().wait()
        if isinstance(how, dict) and "fail" in how:
            raise RuntimeError(how["fail"])
        if isinstance(how, dict) and "prefix" in how:
            return str(how["prefix"]).encode("utf-8") + payload
        raise AssertionError(f"unknown on_request {how!r}")

    async def _broadcast(self, payload: bytes) -> None:
        async with self.broadcast_seen:
            self.broadcasts.append(payload)
            self.broadcast_seen.notify_all()

    async def _tunnel(self, tun: Tunnel) -> None:
        how = self.step["on_tunnel"]
        if how == "gated-echo":
            await self.gate.wait()
        if how in ("echo", "gated-echo"):
            async for m in tun:
                await tun.send(m)
        elif how == "collect":
            try:
                async for m in tun:
                    self.tunnel_messages.append(m)
                self.tunnel_end.set_result("ok")
            except HeraldError as err:
                self.tunnel_end.set_result(err.code)
        elif how == "drop":
            self._drop()
        elif isinstance(how, dict) and "close_after" in how:
            for _ in range(how["close_after"]):
                await tun.receive()
            await tun.close()
        else:
            raise AssertionError(f"unknown on_tunnel {how!r}")

    async def close(self) -> None:
        if self.svc is not None:
            await self.svc.close(grace=0.5)
