"""Members: ``register(cluster, handler)`` serves a cluster's requests, broadcasts and tunnels."""
from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Union

from . import defaults
from ._util import Payload, check_timeout, to_bytes
from .connection import Connection
from .opening import Opening
from .errors import HeraldError, MessageTooLargeError
from .keys import ClusterKeys, KeyRing, SealKind, key_ring, open_sealed, rings, seal
from .transport import open_transport
from .tunnel import Tunnel, TunnelCrypto
from .wire import ROLE_MEMBER, ErrorCode, FrameType, encode_id_payload

log = logging.getLogger("herald")

RequestResult = Union[Payload, None]
#: A plain request handler: bytes in, bytes/str/None out (or an awaitable of it). Raising
#: reaches the caller as RemoteError carrying ``str(exc)``.
RequestHandler = Callable[[bytes], Union[RequestResult, Awaitable[RequestResult]]]


@dataclass(frozen=True)
class Limits:
    """What the relay may hand this member at once (REGISTER's limits; each at least 1)."""

    #: Requests outstanding at this member at once; more wait at the relay.
    request_concurrency: int = 64
    #: Bytes of request payloads outstanding at this member at once.
    request_memory: int = 64 * 1024 * 1024
    #: Broadcast handlers running at once here; more are queued here, up to broadcast_memory.
    broadcast_concurrency: int = 16
    #: Bytes of broadcasts queued (at the relay while the socket is backed up, and here).
    broadcast_memory: int = 16 * 1024 * 1024

    def checked(self) -> Limits:
        for k, v in asdict(self).items():
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 0xFFFFFFFF:
                raise HeraldError("INVALID", f"limits.{k} must be an integer in 1..4294967295, got {v!r}")
        return self


@dataclass
class MemberStats:
    requests: int = 0
    failed_requests: int = 0
    #: Requests whose handler was cancelled at the request's deadline.
    expired_requests: int = 0
    broadcasts: int = 0
    dropped_broadcasts: int = 0
    tunnels: int = 0
    #: Payloads that could not be opened with the cluster key (never handed to the handler).
    rejected: int = 0


class Service:
    """A registered member of a cluster. Create it with ``register()``."""

    def __init__(self, *, cluster: str, conn: Connection, limits: Limits, handler: Any, ring: KeyRing | None) -> None:
        self.cluster = cluster
        self.conn = conn
        self.limits = limits
        self.stats = MemberStats()
        self._handler = handler
        self._ring = ring
        self._loop = asyncio.get_running_loop()
        self._running: set[asyncio.Task[None]] = set()
        self._broadcast_queue: deque[bytes] = deque()
        self._broadcast_queued = 0
        self._broadcasts_running = 0
        self._closing: asyncio.Task[None] | None = None
        conn._set_member(self)

    def _method(self, name: str) -> Callable[..., Any] | None:
        if name == "handle_request" and callable(self._handler) and not hasattr(self._handler, name):
            return self._handler  # type: ignore[no-any-return]
        m = getattr(self._handler, name, None)
        return m if callable(m) else None

    # ---- requests -----------------------------------------------------------------------

    def on_request(self, ident: int, timeout_ms: int, payload: bytes) -> None:
        self.stats.requests += 1
        key_id: int | None = None
        if self._ring is not None:
            try:
                payload, key_id = open_sealed(self._ring, SealKind.REQUEST, self.cluster, payload)
            except HeraldError as err:
                self.stats.rejected += 1
                self._failure(ident, ErrorCode.KEY, str(err))
                return
        handle = self._method("handle_request")
        if handle is None:
            self._failure(ident, ErrorCode.REMOTE, f'member of "{self.cluster}" does not handle requests')
            return
        try:
            result = handle(payload)
        except Exception as err:  # noqa: BLE001 - the handler's error goes to the caller
            self._fail(ident, err)
            return
        if inspect.isawaitable(result):
            task = self._loop.create_task(self._finish(ident, timeout_ms, result, key_id))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        else:
            self._reply(ident, result, key_id)

    async def _finish(self, ident: int, timeout_ms: int, work: Awaitable[RequestResult], key_id: int | None) -> None:
        deadline = asyncio.timeout(timeout_ms / 1000)
        try:
            # The REQUEST carries the time left: past it the caller has its timeout already, so
            # the work is cancelled, and the FAILURE frees this member's slot at the relay.
            async with deadline:
                result = await work
        except Exception as err:  # noqa: BLE001
            if deadline.expired():
                self.stats.expired_requests += 1
                self._failure(ident, ErrorCode.TIMEOUT, "the request expired at the member")
            else:
                self._fail(ident, err)
            return
        self._reply(ident, result, key_id)

    def _reply(self, ident: int, result: RequestResult, key_id: int | None) -> None:
        try:
            data = b"" if result is None else to_bytes(result)
            # Answer with the key the caller used, so callers still on an old key keep working.
            if self._ring is not None:
                data = seal(self._ring, SealKind.REPLY, self.cluster, data, key_id)
            if len(data) > self.conn.max_message_bytes:
                raise MessageTooLargeError(f"reply of {len(data)} bytes exceeds the limit of {self.conn.max_message_bytes}")
        except HeraldError as err:
            self._fail(ident, err)
            return
        self.conn._send_bytes(encode_id_payload(FrameType.REPLY, ident, data))

    def _fail(self, ident: int, err: BaseException) -> None:
        self.stats.failed_requests += 1
        self._failure(ident, ErrorCode.REMOTE, str(err) or type(err).__name__)

    def _failure(self, ident: int, code: int, message: str) -> None:
        self.conn._send_frame({"type": FrameType.FAILURE, "id": ident, "code": code, "message": message})

    # ---- broadcasts ---------------------------------------------------------------------

    def on_broadcast(self, payload: bytes) -> None:
        if self._method("handle_broadcast") is None:
            return
        if self._ring is not None:
            try:
                payload, _ = open_sealed(self._ring, SealKind.BROADCAST, self.cluster, payload)
            except HeraldError:
                self.stats.rejected += 1
                return
        if self._broadcasts_running < self.limits.broadcast_concurrency:
            self._run_broadcast(payload)
        elif self._broadcast_queued + len(payload) > self.limits.broadcast_memory:
            self.stats.dropped_broadcasts += 1
        else:
            self._broadcast_queued += len(payload)
            self._broadcast_queue.append(payload)

    def _run_broadcast(self, payload: bytes) -> None:
        self.stats.broadcasts += 1
        self._broadcasts_running += 1
        handle = self._method("handle_broadcast")
        try:
            r = handle(payload) if handle is not None else None
        except Exception as err:  # noqa: BLE001
            log.warning("herald: broadcast handler of %r raised: %r", self.cluster, err)
            r = None
        if inspect.isawaitable(r):
            task = self._loop.create_task(self._await_broadcast(r))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        else:
            self._broadcast_done()

    async def _await_broadcast(self, r: Awaitable[Any]) -> None:
        try:
            await r
        except Exception as err:  # noqa: BLE001
            log.warning("herald: broadcast handler of %r raised: %r", self.cluster, err)
        finally:
            self._broadcast_done()

    def _broadcast_done(self) -> None:
        self._broadcasts_running -= 1
        if self._broadcast_queue:
            nxt = self._broadcast_queue.popleft()
            self._broadcast_queued -= len(nxt)
            self._run_broadcast(nxt)

    # ---- tunnels ------------------------------------------------------------------------

    def on_tunnel(self, ident: int) -> None:
        handle = self._method("handle_tunnel")
        if handle is None:
            self.conn._send_frame({"type": FrameType.TUNNEL_CLOSE, "tunnel": ident, "code": ErrorCode.INVALID,
                                   "reason": f'member of "{self.cluster}" does not accept tunnels'})
            return
        self.stats.tunnels += 1
        crypto = None if self._ring is None else TunnelCrypto(self._ring, self.cluster, SealKind.TO_CLIENT, SealKind.TO_MEMBER)
        tun = self.conn._accept_tunnel(ident, crypto)
        task = self._loop.create_task(self._serve_tunnel(handle, tun))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _serve_tunnel(self, handle: Callable[[Tunnel], Any], tun: Tunnel) -> None:
        try:
            r = handle(tun)
            if inspect.isawaitable(r):
                await r
        except HeraldError:
            await tun.close()  # the tunnel or connection ended under the handler
        except Exception as err:  # noqa: BLE001
            log.warning("herald: tunnel handler of %r raised: %r", self.cluster, err)
            await tun.close()

    # ---- closing ------------------------------------------------------------------------

    async def close(self, grace: float = defaults.CLOSE_GRACE) -> None:
        """Leaves the cluster gracefully: no new requests; those in flight are answered (for
        up to ``grace`` seconds); then the connection closes."""
        if self._closing is None:
            self._closing = self._loop.create_task(self._close(grace))
        await asyncio.shield(self._closing)

    async def _close(self, grace: float) -> None:
        try:
            await self.conn._ack({"type": FrameType.UNREGISTER, "cluster": self.cluster}, None)
            if self._running:
                await asyncio.wait(set(self._running), timeout=grace)
        except HeraldError:
            pass  # the connection is already gone: nothing left to drain
        await self.conn.close()
        for task in list(self._running):
            task.cancel()

    async def __aenter__(self) -> Service:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


def register(
    cluster: str, handler: Any, *, host: str = defaults.DEFAULT_HOST, port: int = defaults.DEFAULT_PORT,
    path: str | None = None, limits: Limits | None = None, key: ClusterKeys | None = None,
    timeout: float = defaults.CONNECT_TIMEOUT, cluster_keys: dict[str, ClusterKeys] | None = None,
    topic_keys: dict[str, ClusterKeys] | None = None,
) -> Opening[Service]:
    """Connects as a member of ``cluster`` and serves it. ``handler`` is a request handler
    (a function, sync or async), or an object with any of ``handle_request(bytes)``,
    ``handle_broadcast(bytes)``, ``handle_tunnel(Tunnel)``, ``handle_drop(HeraldError)`` and
    ``init(Connection)``. ``key`` (or ``[seal_key, *accepted]``) seals payloads end to end.
    """
    lim = (limits or Limits()).checked()
    if handler is None:
        raise HeraldError("INVALID", "register() needs a handler")
    ring = None if key is None else key_ring(key)
    c_rings, t_rings = rings(cluster_keys), rings(topic_keys)

    async def start() -> Service:
        t = await open_transport(host=host, port=port, path=path, role=ROLE_MEMBER, timeout=check_timeout(timeout, defaults.CONNECT_TIMEOUT))
        drop = getattr(handler, "handle_drop", None)
        conn = Connection(t, on_drop=drop if callable(drop) else None, cluster_keys=c_rings, topic_keys=t_rings)
        svc = Service(cluster=cluster, conn=conn, limits=lim, handler=handler, ring=ring)
        try:
            init = getattr(handler, "init", None)
            if callable(init):
                r = init(conn)
                if inspect.isawaitable(r):
                    await r
            conn._check_name(cluster, "cluster")
            await conn._ack({
                "type": FrameType.REGISTER, "cluster": cluster,
                "requestConcurrency": lim.request_concurrency, "requestMemory": lim.request_memory,
                "broadcastConcurrency": lim.broadcast_concurrency, "broadcastMemory": lim.broadcast_memory,
            }, timeout)
        except BaseException:
            await conn.close()
            raise
        return svc

    return Opening(start, lambda s: s.close())
