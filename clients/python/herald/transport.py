"""One socket to the relay: the handshake, frame decoding, and coalesced writes.

The only module that touches sockets; OS errors become HeraldError here.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from . import defaults
from .errors import ClosedError, HeraldError, error_from_wire
from .wire import (
    DEFAULT_MAX_MESSAGE_BYTES, FRAME_OVERHEAD_BYTES, PROTOCOL_VERSION, ErrorCode, Frame,
    FrameDecoder, FrameType, encode_frame,
)

FrameSink = Callable[[Frame], None]
CloseSink = Callable[[HeraldError | None], None]


class Transport(asyncio.Protocol):
    """asyncio protocol for one relay connection. Create it with :func:`open_transport`."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._decoder = FrameDecoder()
        self._out = bytearray()
        self._flush_scheduled = False
        self._paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._lost = self._loop.create_future()  # set when the socket is gone
        self._welcome: asyncio.Future[Frame] = self._loop.create_future()
        self.closed = False
        self.closed_with: HeraldError | None = None
        self.on_frame: FrameSink | None = None
        self.on_close: CloseSink | None = None
        self.welcome: Frame = {}

    # ---- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=defaults.SOCKET_HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        frames = self._decoder.feed(data)
        for f in frames:
            if self.closed:
                return
            self._dispatch(f)
        err = self._decoder.error
        if err is not None and not self.closed:
            self.send_frame({"type": FrameType.ERROR, "code": err.code, "message": str(err)})
            self.flush()
            failure = HeraldError("PROTOCOL", f"relay sent malformed data: {err}")
            if not self._welcome.done():
                self._welcome.set_exception(failure)
            self._close_with(failure)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._lost.done():
            self._lost.set_result(None)
        why = f"relay connection failed: {exc}" if exc is not None else "the relay closed the connection"
        if not self._welcome.done():
            self._welcome.set_exception(ClosedError("the relay closed the connection during the handshake"))
        self._close_with(ClosedError(why))

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_drain()

    # ---- frames -------------------------------------------------------------------------

    def _dispatch(self, f: Frame) -> None:
        if self._welcome.done():
            if self.on_frame is not None:
                self.on_frame(f)
            return
        t = f["type"]
        if t == FrameType.WELCOME:
            self.welcome = f
            # Accept what the relay advertised, and never less than the default: relays
            # predating the fix of issue 13 (point 1) forward larger frames from other relays.
            self._decoder.max_frame_bytes = max(f["maxMessageBytes"], DEFAULT_MAX_MESSAGE_BYTES) + FRAME_OVERHEAD_BYTES
            self._welcome.set_result(f)
        elif t in (FrameType.ERROR, FrameType.CLOSE):
            text = f.get("message", f.get("reason", ""))
            self._welcome.set_exception(error_from_wire(f["code"], f"relay refused the connection: {text}"))
            self.abort()
        else:
            self._welcome.set_exception(HeraldError("PROTOCOL", f"unexpected frame 0x{t:02x} during the handshake"))
            self.abort()

    def send_frame(self, frame: Frame) -> None:
        self.send_bytes(encode_frame(frame))

    def send_bytes(self, data: bytes) -> None:
        """Queues encoded frames; frames queued in one tick leave in one write."""
        if self.closed:
            return
        self._out += data
        if len(self._out) >= defaults.BATCH_BYTES:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        if not self._out or self._transport is None or self.closed:
            return
        out, self._out = self._out, bytearray()
        self._transport.write(out)

    # ---- back-pressure ------------------------------------------------------------------

    @property
    def congested(self) -> bool:
        return self._paused or len(self._out) > defaults.SOCKET_HIGH_WATER

    async def drained(self) -> None:
        """Waits until the socket takes more (raises the close error if it closes first)."""
        while self.congested and not self.closed:
            self.flush()
            if not self._paused:
                return
            w: asyncio.Future[None] = self._loop.create_future()
            self._drain_waiters.append(w)
            await w
        if self.closed:
            raise self.closed_with or ClosedError("connection is closed")

    def _wake_drain(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    # ---- closing ------------------------------------------------------------------------

    async def end(self) -> None:
        """Says goodbye (CLOSE ok) and closes once queued frames are written."""
        if self.closed:
            return
        self.send_frame({"type": FrameType.CLOSE, "code": ErrorCode.OK, "reason": "client closed"})
        self.flush()
        t = self._transport
        self._close_with(None)
        if t is not None:
            t.close()  # writes what is buffered, then closes
            try:
                await asyncio.wait_for(asyncio.shield(self._lost), 2.0)
            except asyncio.TimeoutError:
                t.abort()

    def abort(self, error: HeraldError | None = None) -> None:
        if self._transport is not None:
            self._transport.abort()
        self._close_with(error or ClosedError("connection aborted"))

    def _close_with(self, error: HeraldError | None) -> None:
        if self.closed:
            return
        if self._welcome.done() and not self._welcome.cancelled():
            self._welcome.exception()  # retrieved: a refused handshake is reported by open_transport
        self.closed = True
        self.closed_with = error
        self._out = bytearray()
        if error is not None and self._transport is not None:
            self._transport.abort()
        self._wake_drain()
        if self.on_close is not None:
            self.on_close(error)


async def open_transport(
    *, host: str, port: int, path: str | None, role: int, timeout: float,
) -> Transport:
    """Connects and completes the handshake (HELLO -> WELCOME)."""
    loop = asyncio.get_running_loop()
    where = path if path is not None else f"{host}:{port}"
    proto: Transport | None = None
    try:
        async with asyncio.timeout(timeout):
            try:
                if path is not None:
                    _, proto = await loop.create_unix_connection(Transport, path)
                else:
                    _, proto = await loop.create_connection(Transport, host, port)
            except OSError as err:
                hint = " (is a relay running? start one with `herald relay --dev`)" \
                    if isinstance(err, (ConnectionRefusedError, FileNotFoundError)) else ""
                raise HeraldError("UNAVAILABLE", f"cannot reach the relay at {where}: {err.strerror or err}{hint}") from err
            proto.send_frame({"type": FrameType.HELLO, "version": PROTOCOL_VERSION, "role": role})
            await proto._welcome
            return proto
    except TimeoutError as err:
        if proto is not None:
            proto.abort()
        if isinstance(err, HeraldError):  # the relay refused with ERROR(timeout)
            raise
        raise HeraldError("UNAVAILABLE", f"no answer from the relay at {where} within {timeout:g} s") from None
    except BaseException:
        if proto is not None:
            proto.abort()
        raise
