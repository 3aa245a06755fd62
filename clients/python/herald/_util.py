"""Small helpers shared by the connection, subscriptions, tunnels and members."""
from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable
from typing import TypeVar, Union

from . import defaults
from .errors import HeraldError, TimeoutError

T = TypeVar("T")

#: What the client accepts as a payload: bytes-like, or str (sent as UTF-8).
Payload = Union[bytes, bytearray, memoryview, str]


def to_bytes(payload: Payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        try:
            return payload.encode("utf-8")
        except UnicodeEncodeError as err:
            raise HeraldError("INVALID", f"payload is not valid Unicode: {err.reason}") from None
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    raise HeraldError("INVALID", "payload must be bytes, bytearray, memoryview or str")


def check_timeout(timeout: float | None, fallback: float) -> float:
    """A timeout in seconds: positive and finite (the wire carries whole milliseconds, at least 1)."""
    t = fallback if timeout is None else timeout
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0 or t != t or t == float("inf"):
        raise HeraldError("INVALID", f"timeout must be a positive number of seconds, got {t!r}")
    return min(float(t), defaults.MAX_TIMEOUT)


def to_ms(timeout: float) -> int:
    return max(1, min(int(round(timeout * 1000)), 0x7FFFFFFF))


async def wait(aw: Awaitable[T], timeout: float | None, what: str) -> T:
    """Awaits ``aw``; past ``timeout`` seconds raises herald.TimeoutError (None: no deadline)."""
    if timeout is None:
        return await aw
    try:
        async with asyncio.timeout(timeout):
            return await aw
    except builtins.TimeoutError as err:
        if isinstance(err, HeraldError):  # a TimeoutError the relay reported, not our deadline
            raise
        raise TimeoutError(f"{what} timed out after {timeout:g} s") from None
