"""One subscription to a topic: async-iterable, or driven by a handler."""
from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ._util import wait
from .errors import HeraldError
from .keys import KeyRing, SealKind, open_sealed

log = logging.getLogger("herald")

#: Called once per event, in publish order; a returned awaitable is awaited before the next.
EventHandler = Callable[[bytes], "Awaitable[None] | None"]


class _Owner(Protocol):
    async def _unsubscribe(self, sub: Subscription) -> None: ...


@dataclass(frozen=True)
class SubscriptionStats:
    delivered: int
    #: Dropped here (the application was too slow) plus those the relay reported dropping.
    dropped: int
    #: Events that could not be opened with the topic key (never delivered).
    rejected: int
    queued_bytes: int


class Subscription:
    """Events of one topic. Its buffer is bounded by ``memory`` bytes: events past it are
    dropped and counted, never blocking other traffic."""

    def __init__(
        self, *, topic: str, memory: int, owner: _Owner,
        handler: EventHandler | None = None, ring: KeyRing | None = None,
    ) -> None:
        self.topic = topic
        self.memory = memory
        self._owner = owner
        self._handler = handler
        self._ring = ring
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._waiter: asyncio.Future[bytes | None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        self.error: HeraldError | None = None
        self.delivered = 0
        self.dropped = 0
        self.rejected = 0
        #: Called when the handler raises; the subscription carries on.
        self.on_handler_error: Callable[[BaseException], None] = \
            lambda err: log.warning("herald: handler for topic %r raised: %r", topic, err)

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(self.delivered, self.dropped, self.rejected, self._queued_bytes)

    # ---- from the connection ------------------------------------------------------------

    def _deliver(self, payload: bytes) -> None:
        if self._closed:
            return
        if self._ring is not None:
            try:
                payload, _ = open_sealed(self._ring, SealKind.EVENT, self.topic, payload)
            except HeraldError:
                self.rejected += 1
                return
        if self._waiter is not None and not self._waiter.done():
            self.delivered += 1
            self._waiter.set_result(payload)
            self._waiter = None
            return
        if self._handler is not None and self._pump is None and not self._queue:
            self._run_handler(payload)
            return
        if self._queued_bytes + len(payload) > self.memory:
            self.dropped += 1
            return
        self._queued_bytes += len(payload)
        self._queue.append(payload)

    def _relay_dropped(self, count: int) -> None:
        self.dropped += count

    def _run_handler(self, payload: bytes) -> None:
        assert self._handler is not None
        self.delivered += 1
        try:
            result = self._handler(payload)
        except Exception as err:  # noqa: BLE001 - the application's error, reported, not fatal
            self.on_handler_error(err)
            return
        if inspect.isawaitable(result):
            self._pump = asyncio.get_running_loop().create_task(self._drain_handler(result))

    async def _drain_handler(self, first: Awaitable[Any]) -> None:
        pending: Awaitable[Any] | None = first
        try:
            while pending is not None and not self._closed:
                try:
                    await pending
                except Exception as err:  # noqa: BLE001
                    self.on_handler_error(err)
                pending = None
                while self._queue and not self._closed and pending is None:
                    ev = self._shift()
                    self.delivered += 1
                    try:
                        r = self._handler(ev) if self._handler is not None else None
                    except Exception as err:  # noqa: BLE001
                        self.on_handler_error(err)
                        continue
                    if inspect.isawaitable(r):
                        pending = r
        finally:
            self._pump = None

    def _shift(self) -> bytes:
        ev = self._queue.popleft()
        self._queued_bytes -= len(ev)
        return ev

    # ---- for the application ------------------------------------------------------------

    async def next(self, timeout: float | None = None) -> bytes | None:
        """The next event, or None once unsubscribed or the connection closed."""
        if self._queue:
            self.delivered += 1
            return self._shift()
        if self._closed:
            return None
        if self._waiter is not None:
            raise HeraldError("INVALID", "only one pending next() per subscription")
        w: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._waiter = w
        try:
            return await wait(w, timeout, f'subscription to "{self.topic}"')
        finally:
            if self._waiter is w:
                self._waiter = None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> bytes:
        ev = await self.next()
        if ev is None:
            raise StopAsyncIteration
        return ev

    async def unsubscribe(self) -> None:
        if self._closed:
            return
        self._mark_closed(None)
        await self._owner._unsubscribe(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.unsubscribe()

    def _mark_closed(self, error: HeraldError | None) -> None:
        if self._closed:
            return
        self._closed = True
        self.error = error
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        self._waiter = None
