"""Raw sockets for the conformance runner: a plain TCP connection to a relay, and the scripted
fake relay (conformance/README.md, "The fake relay"). Both decode with herald.wire."""
from __future__ import annotations

import asyncio
from typing import Any

from herald.wire import DEFAULT_MAX_MESSAGE_BYTES, FRAME_OVERHEAD_BYTES, Frame, FrameDecoder

from .data import Vars, describe, encode, matches

WAIT = 10.0
_EOF = object()


class FrameStream:
    """Frames read from one socket, queued; EOF (or a decode error) ends the queue."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.frames: asyncio.Queue[Any] = asyncio.Queue()
        self.error: str | None = None
        self._task = asyncio.get_running_loop().create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        decoder = FrameDecoder(DEFAULT_MAX_MESSAGE_BYTES + FRAME_OVERHEAD_BYTES)
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for f in decoder.feed(data):
                    self.frames.put_nowait(f)
                if decoder.error is not None:
                    self.error = str(decoder.error)
                    break
        except (ConnectionError, OSError) as err:
            self.error = f"socket error: {err}"
        finally:
            self.frames.put_nowait(_EOF)

    async def next(self, what: str) -> Frame | None:
        """The next frame, or None at the end of the stream."""
        try:
            item = await asyncio.wait_for(self.frames.get(), WAIT)
        except asyncio.TimeoutError:
            raise AssertionError(f"{what}: nothing within {WAIT:g} s") from None
        if item is _EOF:
            self.frames.put_nowait(_EOF)
            return None
        return item  # type: ignore[no-any-return]

    async def expect(self, pattern: dict[str, Any], vars_: Vars, what: str) -> None:
        f = await self.next(what)
        if f is None:
            raise AssertionError(f"{what}: the stream ended before {pattern['type']} ({self.error or 'closed'})")
        diff = matches(pattern, f, vars_)
        if diff is not None:
            raise AssertionError(f"{what}: {diff}")

    async def expect_end(self, what: str) -> None:
        f = await self.next(what)
        if f is not None:
            raise AssertionError(f"{what}: expected the end of the stream, got {describe(f)}")

    def write(self, specs: list[dict[str, Any]], vars_: Vars) -> None:
        self.writer.write(b"".join(encode(s, vars_) for s in specs))

    async def write_bytewise(self, specs: list[dict[str, Any]], vars_: Vars) -> None:
        for b in b"".join(encode(s, vars_) for s in specs):
            self.writer.write(bytes((b,)))
            await self.writer.drain()
            await asyncio.sleep(0)  # one byte per read on the other side, as far as we can tell

    def close(self) -> None:
        self.writer.close()
        self._task.cancel()


async def open_raw(port: int) -> FrameStream:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return FrameStream(reader, writer)


class FakeRelay:
    """Accepts one client and runs the script against it; ``done()`` raises what went wrong."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = script
        self.vars = Vars()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._streams: list[FrameStream] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._streams:  # one client per scenario
            writer.close()
            return
        s = FrameStream(reader, writer)
        self._streams.append(s)
        try:
            for i, action in enumerate(self.script):
                what = f"fake relay, action {i}"
                if "expect" in action:
                    await s.expect(action["expect"], self.vars, what)
                elif "send" in action:
                    s.write(action["send"], self.vars)
                    await writer.drain()
                elif "send_bytewise" in action:
                    await s.write_bytewise(action["send_bytewise"], self.vars)
                elif action.get("close"):
                    writer.close()
                elif action.get("expect_end"):
                    await s.expect_end(what)
                else:
                    raise AssertionError(f"{what}: unknown action {action}")
            if not self._result.done():
                self._result.set_result(None)
        except BaseException as err:  # noqa: BLE001 - reported by done()
            if not self._result.done():
                self._result.set_exception(err)

    async def done(self) -> None:
        await asyncio.wait_for(asyncio.shield(self._result), WAIT * 2)

    async def stop(self) -> None:
        for s in self._streams:
            s.close()
        if self._server is not None:
            self._server.close()
        if not self._result.done():
            self._result.cancel()
