"""A connection to the local relay: request, broadcast, publish, subscribe, tunnel."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import defaults
from ._util import Payload, check_timeout, to_bytes, to_ms, wait
from .errors import ClosedError, HeraldError, MessageTooLargeError, error_from_wire
from .keys import KeyRing, SealKind, open_sealed, seal
from .subscription import EventHandler, Subscription
from .transport import Transport
from .tunnel import Tunnel, TunnelCrypto
from .wire import (
    ErrorCode, Frame, FrameType, WireError, encode_named, name_bytes,
)

log = logging.getLogger("herald")


class MemberHooks(Protocol):
    """What a member (register()) installs on its connection."""

    def on_request(self, ident: int, timeout_ms: int, payload: bytes) -> None: ...
    def on_broadcast(self, payload: bytes) -> None: ...
    def on_tunnel(self, ident: int) -> None: ...


@dataclass
class _Pending:
    future: asyncio.Future[bytes]
    cluster: str
    ring: KeyRing | None


class Connection:
    """Create it with ``await connect(...)`` or ``async with connect(...) as conn``."""

    def __init__(
        self, transport: Transport, *, on_drop: Callable[[HeraldError], None] | None = None,
        cluster_keys: dict[str, KeyRing] | None = None, topic_keys: dict[str, KeyRing] | None = None,
    ) -> None:
        self._t = transport
        self._loop = asyncio.get_running_loop()
        self._requests: dict[int, _Pending] = {}
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._topics: dict[str, list[Subscription]] = {}
        self._tunnels: dict[int, Tunnel] = {}
        self._opening: dict[int, asyncio.Future[Tunnel]] = {}
        self._next_id = 1
        self._next_seq = 1
        self._closing = False
        self._is_closed = False
        self._drop_reason: HeraldError | None = None
        self._on_drop = on_drop
        self._cluster_rings = cluster_keys or {}
        self._topic_rings = topic_keys or {}
        self._member: MemberHooks | None = None
        #: Resolves when the connection ends: None after close(), the error after a drop.
        self.closed_future: asyncio.Future[HeraldError | None] = self._loop.create_future()
        transport.on_frame = self._on_frame
        transport.on_close = self._on_transport_close
        if transport.closed:
            self._on_transport_close(transport.closed_with)

    @property
    def node_id(self) -> str:
        """The relay's node id (its overlay peer id)."""
        return str(self._t.welcome["nodeId"])

    @property
    def max_message_bytes(self) -> int:
        """The largest payload the relay accepts (from WELCOME)."""
        return int(self._t.welcome["maxMessageBytes"])

    @property
    def closed(self) -> bool:
        return self._is_closed or self._closing

    async def wait_closed(self) -> HeraldError | None:
        """Waits for the end: None after close(), the reason after the relay connection dropped."""
        return await asyncio.shield(self.closed_future)

    # ---- internals shared with members and tunnels --------------------------------------

    def _set_member(self, hooks: MemberHooks) -> None:
        self._member = hooks

    def _send_frame(self, frame: Frame) -> None:
        self._t.send_frame(frame)

    def _send_bytes(self, data: bytes) -> None:
        self._t.send_bytes(data)

    def _forget_tunnel(self, ident: int) -> None:
        self._tunnels.pop(ident, None)

    def _ensure_open(self) -> None:
        if self.closed:
            raise ClosedError("connection is closed")

    def _check_size(self, data: bytes, what: str) -> None:
        if len(data) > self.max_message_bytes:
            raise MessageTooLargeError(f"{what} of {len(data)} bytes exceeds the limit of {self.max_message_bytes}")

    @staticmethod
    def _check_name(name: str, what: str) -> bytes:
        try:
            return name_bytes(name)
        except WireError as err:
            raise HeraldError("INVALID", f"{what} {name!r}: {err}") from None

    def _alloc_id(self, in_use: dict[int, Any]) -> int:
        while True:
            ident = self._next_id
            self._next_id = 1 if ident >= defaults.MAX_OPENER_ID else ident + 1
            if ident not in in_use:
                return ident

    async def _backpressure(self) -> None:
        if self._t.congested:
            await self._t.drained()

    # ---- the four patterns --------------------------------------------------------------

    async def request(self, cluster: str, payload: Payload, *, timeout: float | None = None) -> bytes:
        """Sends a request to one member of ``cluster`` (chosen by load) and returns its reply."""
        self._ensure_open()
        self._check_name(cluster, "cluster")
        ring = self._cluster_rings.get(cluster)
        data = to_bytes(payload)
        if ring is not None:
            data = seal(ring, SealKind.REQUEST, cluster, data)
        self._check_size(data, "request")
        t = check_timeout(timeout, defaults.REQUEST_TIMEOUT)
        ident = self._alloc_id(self._requests)
        fut: asyncio.Future[bytes] = self._loop.create_future()
        self._requests[ident] = _Pending(fut, cluster, ring)
        self._t.send_frame({"type": FrameType.REQUEST, "id": ident, "timeoutMs": to_ms(t), "cluster": cluster, "payload": data})
        try:
            return await wait(fut, t, f'request to "{cluster}"')
        finally:
            self._requests.pop(ident, None)

    async def broadcast(self, cluster: str, payload: Payload) -> None:
        """Sends ``payload`` to every member of ``cluster``, on every relay. Best effort, no reply."""
        await self._send_named(FrameType.BROADCAST, cluster, payload)

    async def publish(self, topic: str, payload: Payload) -> None:
        """Publishes an event to every subscriber of ``topic``. Returns at once unless the socket is backed up."""
        await self._send_named(FrameType.PUBLISH, topic, payload)

    async def _send_named(self, frame_type: int, target: str, payload: Payload) -> None:
        self._ensure_open()
        is_topic = frame_type == FrameType.PUBLISH
        name = self._check_name(target, "topic" if is_topic else "cluster")
        ring = (self._topic_rings if is_topic else self._cluster_rings).get(target)
        data = to_bytes(payload)
        if ring is not None:
            data = seal(ring, SealKind.EVENT if is_topic else SealKind.BROADCAST, target, data)
        self._check_size(data, "event" if is_topic else "broadcast")
        self._t.send_bytes(encode_named(frame_type, name, data))
        await self._backpressure()

    async def subscribe(
        self, topic: str, handler: EventHandler | None = None, *,
        memory: int = defaults.SUBSCRIPTION_MEMORY, timeout: float | None = None,
    ) -> Subscription:
        """Subscribes to ``topic``; returns once the relay has it in place. Iterate the result
        (``async for ev in sub``) or pass a handler, called once per event in order."""
        self._ensure_open()
        self._check_name(topic, "topic")
        if isinstance(memory, bool) or not isinstance(memory, int) or not 1 <= memory <= 0xFFFFFFFF:
            raise HeraldError("INVALID", f"memory must be a positive number of bytes (1..4 GiB), got {memory!r}")
        sub = Subscription(topic=topic, memory=memory, owner=self, handler=handler, ring=self._topic_rings.get(topic))
        self._topics.setdefault(topic, []).append(sub)
        try:
            await self._ack({"type": FrameType.SUBSCRIBE, "topic": topic, "memoryLimit": memory}, timeout)
        except BaseException as err:
            self._remove_sub(sub)
            sub._mark_closed(err if isinstance(err, HeraldError) else None)
            raise
        return sub

    def _remove_sub(self, sub: Subscription) -> bool:
        subs = self._topics.get(sub.topic)
        if subs is None or sub not in subs:
            return False
        subs.remove(sub)
        if not subs:
            del self._topics[sub.topic]
        return True

    async def _unsubscribe(self, sub: Subscription) -> None:
        if not self._remove_sub(sub) or self.closed:
            return
        await self._ack({"type": FrameType.UNSUBSCRIBE, "topic": sub.topic}, None)

    async def tunnel(self, cluster: str, *, timeout: float | None = None) -> Tunnel:
        """Opens a tunnel to one member of ``cluster``."""
        self._ensure_open()
        self._check_name(cluster, "cluster")
        t = check_timeout(timeout, defaults.TUNNEL_TIMEOUT)
        ident = self._alloc_id(self._tunnels)
        ring = self._cluster_rings.get(cluster)
        crypto = None if ring is None else TunnelCrypto(ring, cluster, SealKind.TO_MEMBER, SealKind.TO_CLIENT)
        tun = Tunnel(ident=ident, owner=self, crypto=crypto)
        self._tunnels[ident] = tun
        fut: asyncio.Future[Tunnel] = self._loop.create_future()
        self._opening[ident] = fut
        self._t.send_frame({"type": FrameType.TUNNEL_OPEN, "tunnel": ident, "timeoutMs": to_ms(t), "cluster": cluster})
        try:
            # A little longer than the relay's own deadline, so its answer (timeout) wins.
            return await wait(fut, t + 0.25, f'tunnel to "{cluster}"')
        except BaseException:
            if self._opening.pop(ident, None) is not None:
                await tun.close()
            raise

    async def _ack(self, frame: Frame, timeout: float | None) -> None:
        """REGISTER/UNREGISTER/SUBSCRIBE/UNSUBSCRIBE: waits for the relay's ACK."""
        self._ensure_open()
        seq = self._next_seq
        self._next_seq = 1 if seq >= 0xFFFFFFFF else seq + 1
        fut: asyncio.Future[None] = self._loop.create_future()
        self._acks[seq] = fut
        self._t.send_frame({**frame, "seq": seq})
        try:
            await wait(fut, defaults.ACK_TIMEOUT if timeout is None else timeout, "relay acknowledgement")
        finally:
            self._acks.pop(seq, None)

    def _accept_tunnel(self, ident: int, crypto: TunnelCrypto | None) -> Tunnel:
        tun = Tunnel(ident=ident, owner=self, crypto=crypto)
        self._tunnels[ident] = tun
        tun._granted(tun.window)
        self._t.send_frame({"type": FrameType.TUNNEL_ACCEPT, "tunnel": ident, "allowance": tun.window})
        return tun

    # ---- frames from the relay ----------------------------------------------------------

    def _on_frame(self, f: Frame) -> None:
        t = f["type"]
        if t == FrameType.EVENT:
            for sub in list(self._topics.get(f["topic"], ())):
                sub._deliver(f["payload"])
        elif t == FrameType.TUNNEL_DATA:
            tun = self._tunnels.get(f["tunnel"])
            if tun is not None:
                tun._deliver(f["payload"])
        elif t == FrameType.TUNNEL_ALLOWANCE:
            tun = self._tunnels.get(f["tunnel"])
            if tun is not None:
                tun._grant(f["bytes"])
        elif t in (FrameType.REPLY, FrameType.FAILURE):
            self._on_answer(f)
        elif t in (FrameType.TUNNEL_ACCEPT, FrameType.TUNNEL_CLOSE):
            self._on_tunnel_frame(f)
        elif t == FrameType.ACK:
            fut = self._acks.pop(f["seq"], None)
            if fut is not None and not fut.done():
                if f["code"] == ErrorCode.OK:
                    fut.set_result(None)
                else:
                    fut.set_exception(error_from_wire(f["code"], f["message"]))
        elif t == FrameType.DROPPED:
            for sub in self._topics.get(f["topic"], ()):
                sub._relay_dropped(f["count"])
        elif t == FrameType.REQUEST:
            if self._member is not None:
                self._member.on_request(f["id"], f["timeoutMs"], f["payload"])
            else:
                self._t.send_frame({"type": FrameType.FAILURE, "id": f["id"], "code": ErrorCode.NO_MEMBERS, "message": "not a member"})
        elif t == FrameType.BROADCAST:
            if self._member is not None:
                self._member.on_broadcast(f["payload"])
        elif t == FrameType.TUNNEL_OPEN:
            if self._member is not None:
                self._member.on_tunnel(f["tunnel"])
            else:
                self._t.send_frame({"type": FrameType.TUNNEL_CLOSE, "tunnel": f["tunnel"], "code": ErrorCode.INVALID, "reason": "not a member"})
        elif t == FrameType.PING:
            self._t.send_frame({"type": FrameType.PONG, "token": f["token"]})
        elif t in (FrameType.CLOSE, FrameType.ERROR):
            # The relay says goodbye; the socket close that follows does the cleanup.
            self._drop_reason = error_from_wire(f["code"], f.get("message", f.get("reason", "")))

    def _on_answer(self, f: Frame) -> None:
        p = self._requests.pop(f["id"], None)
        if p is None or p.future.done():
            return  # answered already, timed out, or cancelled: discarded
        if f["type"] == FrameType.FAILURE:
            p.future.set_exception(error_from_wire(f["code"], f["message"]))
        elif p.ring is None:
            p.future.set_result(f["payload"])
        else:
            try:
                p.future.set_result(open_sealed(p.ring, SealKind.REPLY, p.cluster, f["payload"])[0])
            except HeraldError as err:
                p.future.set_exception(err)

    def _on_tunnel_frame(self, f: Frame) -> None:
        ident = f["tunnel"]
        fut = self._opening.pop(ident, None)
        if f["type"] == FrameType.TUNNEL_ACCEPT:
            tun = self._tunnels.get(ident)
            if fut is None or fut.done() or tun is None:
                return
            tun._grant(f["allowance"])
            tun._granted(tun.window)
            self._t.send_frame({"type": FrameType.TUNNEL_ALLOWANCE, "tunnel": ident, "bytes": tun.window})
            fut.set_result(tun)
            return
        if fut is not None:
            self._tunnels.pop(ident, None)
            if not fut.done():
                code = ErrorCode.CLOSED if f["code"] == ErrorCode.OK else f["code"]
                fut.set_exception(error_from_wire(code, f["reason"]))
            return
        tun = self._tunnels.get(ident)
        if tun is not None:
            tun._remote_close(f["code"], f["reason"])

    def _on_transport_close(self, error: HeraldError | None) -> None:
        if self._is_closed:
            return
        self._is_closed = True
        reason: HeraldError = ClosedError("connection closed") if self._closing \
            else (self._drop_reason or error or ClosedError("the relay closed the connection"))
        for p in self._requests.values():
            if not p.future.done():
                p.future.set_exception(reason)
        self._requests.clear()
        for a in self._acks.values():
            if not a.done():
                a.set_exception(reason)
        self._acks.clear()
        for o in self._opening.values():
            if not o.done():
                o.set_exception(reason)
        self._opening.clear()
        for tun in list(self._tunnels.values()):
            tun._abort(reason)
        self._tunnels.clear()
        for subs in self._topics.values():
            for s in subs:
                s._mark_closed(None if self._closing else reason)
        self._topics.clear()
        if self._closing:
            self.closed_future.set_result(None)
        else:
            self.closed_future.set_result(reason)
            if self._on_drop is not None:
                try:
                    self._on_drop(reason)
                except Exception:  # noqa: BLE001 - the application's callback must not break the loop
                    log.exception("herald: the on_drop callback raised")

    async def close(self) -> None:
        """Closes the connection: pending calls raise ClosedError; queued frames are sent first."""
        if self.closed:
            return
        self._closing = True
        await self._t.end()
        self._on_transport_close(None)

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
