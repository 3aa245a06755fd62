"""One end of a tunnel: an ordered, lossless, flow-controlled message stream.

``send`` waits while the other end's allowance is used up; allowance is granted back as
``receive`` consumes messages (docs/protocol.md, "Tunnels").
"""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from . import defaults
from ._util import Payload, to_bytes, wait
from .errors import ClosedError, HeraldError, MessageTooLargeError, error_from_wire
from .keys import SEAL_OVERHEAD, KeyRing, open_sealed, seal
from .wire import ErrorCode, Frame, FrameType, encode_id_payload


class _Owner(Protocol):
    @property
    def max_message_bytes(self) -> int: ...

    def _send_frame(self, frame: Frame) -> None: ...
    def _send_bytes(self, data: bytes) -> None: ...
    def _forget_tunnel(self, ident: int) -> None: ...


@dataclass(frozen=True)
class TunnelCrypto:
    """End-to-end sealing of a tunnel's messages with the cluster key."""

    ring: KeyRing
    name: str
    send_kind: int
    recv_kind: int


def tunnel_cost(size: int) -> int:
    """What a message costs against the allowance: its size plus a fixed charge."""
    return size + defaults.TUNNEL_MESSAGE_COST


class Tunnel:
    """Use ``send``/``receive``, ``async for msg in tunnel``, and ``close`` (or ``async with``)."""

    def __init__(
        self, *, ident: int, owner: _Owner, window: int = defaults.TUNNEL_WINDOW,
        crypto: TunnelCrypto | None = None,
    ) -> None:
        self.id = ident
        self._owner = owner
        self.window = window
        self._crypto = crypto
        self._allowance = 0  # bytes the other end lets us send; may dip below 0 by one message
        self._send_queue: deque[tuple[bytes, asyncio.Future[None]]] = deque()
        self._inbox: deque[bytes] = deque()  # bounded by what we granted: see _deliver
        self._consumed = 0  # consumed bytes not yet granted back
        self._peer_allowance = 0  # what we granted the other end, less what it sent
        self._reader: asyncio.Future[bytes | None] | None = None
        self._closed = False
        self._remote_closed = False
        self._error: HeraldError | None = None
        self._peer_key_id: int | None = None  # answer with the key the other end used (rotation)
        #: Allowance grants received from the other end (how often flow control released us).
        self.grants_received = 0

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def allowance(self) -> int:
        return self._allowance

    # ---- sending ------------------------------------------------------------------------

    async def send(self, payload: Payload, timeout: float | None = None) -> None:
        """Sends one message, in order; waits while the receiver's allowance is used up."""
        if self._closed:
            raise self._error or ClosedError("tunnel is closed")
        data = to_bytes(payload)
        limit = self._owner.max_message_bytes - (0 if self._crypto is None else SEAL_OVERHEAD)
        if len(data) > limit:
            raise MessageTooLargeError(f"tunnel message of {len(data)} bytes exceeds the limit of {limit}")
        if self._crypto is not None:
            data = seal(self._crypto.ring, self._crypto.send_kind, self._crypto.name, data, self._peer_key_id)
        self._purge()
        if not self._send_queue and self._allowance > 0:
            self._transmit(data)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (data, fut)
        self._send_queue.append(entry)
        try:
            await wait(fut, timeout, "tunnel send")
        finally:
            if not fut.done() or fut.cancelled():
                try:
                    self._send_queue.remove(entry)
                except ValueError:
                    pass

    def _purge(self) -> None:
        while self._send_queue and self._send_queue[0][1].done():
            self._send_queue.popleft()

    def _transmit(self, data: bytes) -> None:
        self._allowance -= tunnel_cost(len(data))
        self._owner._send_bytes(encode_id_payload(FrameType.TUNNEL_DATA, self.id, data))

    def _grant(self, n: int) -> None:
        self.grants_received += 1
        self._allowance += n
        while self._allowance > 0 and self._send_queue:
            data, fut = self._send_queue.popleft()
            if fut.done():  # gave up (timeout or cancelled): never sent
                continue
            self._transmit(data)
            fut.set_result(None)

    # ---- receiving ----------------------------------------------------------------------

    def _granted(self, n: int) -> None:
        """We granted the other end ``n`` more bytes (the caller sends the frame)."""
        self._peer_allowance += n

    def _deliver(self, payload: bytes) -> None:
        if self._closed and not self._remote_closed:
            return
        if self._peer_allowance <= 0:
            # The relay enforces allowance, so this is a relay that does not: refuse to
            # buffer past what we granted (docs/protocol.md, Tunnels, enforcement).
            err = HeraldError("LIMIT", "the other end sent beyond the allowance it was granted")
            self._owner._send_frame({"type": FrameType.TUNNEL_CLOSE, "tunnel": self.id, "code": ErrorCode.LIMIT, "reason": str(err)})
            self._finish(err, keep_inbox=False)
            return
        self._peer_allowance -= tunnel_cost(len(payload))
        if self._crypto is not None:
            try:
                payload, self._peer_key_id = open_sealed(
                    self._crypto.ring, self._crypto.recv_kind, self._crypto.name, payload)
            except HeraldError as err:
                self._owner._send_frame({"type": FrameType.TUNNEL_CLOSE, "tunnel": self.id, "code": ErrorCode.KEY, "reason": str(err)})
                self._finish(err, keep_inbox=False)
                return
        if self._reader is not None and not self._reader.done():
            self._consume(len(payload))
            self._reader.set_result(payload)
            self._reader = None
            return
        self._inbox.append(payload)

    def _consume(self, size: int) -> None:
        # Flow control counts what crossed the wire: a sealed message is SEAL_OVERHEAD longer.
        self._consumed += tunnel_cost(size) + (0 if self._crypto is None else SEAL_OVERHEAD)
        if self._consumed >= self.window // 4 and not self._closed:
            self._granted(self._consumed)
            self._owner._send_frame({"type": FrameType.TUNNEL_ALLOWANCE, "tunnel": self.id, "bytes": self._consumed})
            self._consumed = 0

    async def next(self, timeout: float | None = None) -> bytes | None:
        """The next message; None once the other end closed normally and everything was read."""
        if self._inbox:
            m = self._inbox.popleft()
            self._consume(len(m))
            return m
        if self._closed:
            if self._error is not None:
                raise self._error
            return None
        if self._reader is not None:
            raise HeraldError("INVALID", "only one pending receive() per tunnel")
        fut: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._reader = fut
        try:
            return await wait(fut, timeout, "tunnel receive")
        finally:
            if self._reader is fut:
                self._reader = None

    async def receive(self, timeout: float | None = None) -> bytes:
        """The next message; ClosedError once the tunnel ended and nothing is left."""
        m = await self.next(timeout)
        if m is None:
            raise ClosedError("tunnel closed by the other end")
        return m

    def __aiter__(self) -> Tunnel:
        return self

    async def __anext__(self) -> bytes:
        m = await self.next()
        if m is None:
            raise StopAsyncIteration
        return m

    # ---- closing ------------------------------------------------------------------------

    async def close(self) -> None:
        """Closes from this end; messages already sent are delivered first."""
        if self._closed:
            return
        self._owner._send_frame({"type": FrameType.TUNNEL_CLOSE, "tunnel": self.id, "code": ErrorCode.OK, "reason": ""})
        self._finish(None, keep_inbox=False)

    async def __aenter__(self) -> Tunnel:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _remote_close(self, code: int, reason: str) -> None:
        self._remote_closed = True
        self._finish(None if code == ErrorCode.OK else error_from_wire(code, reason or "tunnel failed"), keep_inbox=True)

    def _abort(self, error: HeraldError) -> None:
        self._finish(error, keep_inbox=False)

    def _finish(self, error: HeraldError | None, *, keep_inbox: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._error = error
        self._owner._forget_tunnel(self.id)
        if not keep_inbox:
            self._inbox.clear()
        senders, self._send_queue = self._send_queue, deque()
        for _, fut in senders:
            if not fut.done():
                fut.set_exception(error or ClosedError("tunnel is closed"))
        r, self._reader = self._reader, None
        if r is not None and not r.done():
            if error is not None:
                r.set_exception(error)
            else:
                r.set_result(None)
