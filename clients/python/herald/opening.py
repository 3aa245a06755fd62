"""``connect()``: what it returns can be awaited or used with ``async with``."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

from . import defaults
from ._util import check_timeout
from .connection import Connection
from .errors import HeraldError
from .keys import ClusterKeys, rings
from .transport import open_transport
from .wire import ROLE_CLIENT

T = TypeVar("T")


class Opening(Generic[T]):
    """What connect() and register() return: await it, or use it with ``async with``."""

    def __init__(self, start: Callable[[], Awaitable[T]], close: Callable[[T], Awaitable[None]]) -> None:
        self._start = start
        self._close = close
        self._value: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._start().__await__()

    async def __aenter__(self) -> T:
        self._value = await self._start()
        return self._value

    async def __aexit__(self, *_: object) -> None:
        if self._value is not None:
            await self._close(self._value)


def connect(
    *, host: str = defaults.DEFAULT_HOST, port: int = defaults.DEFAULT_PORT, path: str | None = None,
    timeout: float = defaults.CONNECT_TIMEOUT, on_drop: Callable[[HeraldError], None] | None = None,
    cluster_keys: dict[str, ClusterKeys] | None = None, topic_keys: dict[str, ClusterKeys] | None = None,
) -> Opening[Connection]:
    """Connects to the local relay (TCP ``host:port``, or the Unix socket ``path``).

    ``cluster_keys``/``topic_keys`` seal payloads end to end per cluster/topic (needs the
    optional ``cryptography`` package). ``on_drop`` is called once if the relay connection
    is lost (not after close()).
    """
    # Parse keys first, so a bad key is an error without a connection to clean up.
    c_rings, t_rings = rings(cluster_keys), rings(topic_keys)

    async def start() -> Connection:
        t = await open_transport(host=host, port=port, path=path, role=ROLE_CLIENT, timeout=check_timeout(timeout, defaults.CONNECT_TIMEOUT))
        return Connection(t, on_drop=on_drop, cluster_keys=c_rings, topic_keys=t_rings)

    return Opening(start, lambda c: c.close())

