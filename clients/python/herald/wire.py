"""The Herald client protocol codec (docs/protocol.md), with no I/O.

One table (SCHEMA) drives both the encoder and the decoder, as in @herald/wire. Frames are
plain dicts keyed by the field names of docs/protocol.md: ``{"type": 0x06, "id": 7,
"payload": b"..."}``. The decoder treats every byte as hostile: a frame's length is checked
before anything is allocated for it, every field is checked against the bytes present.
"""
from __future__ import annotations

import struct
from typing import Any, Final

MAGIC: Final = b"HRLD"
PROTOCOL_VERSION: Final = 1
FRAME_HEADER_BYTES: Final = 5
MAX_NAME_BYTES: Final = 255
MAX_TEXT_BYTES: Final = 1024
DEFAULT_MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
FRAME_OVERHEAD_BYTES: Final = 1024
ROLE_CLIENT: Final = 0
ROLE_MEMBER: Final = 1

Frame = dict[str, Any]


class FrameType:
    HELLO: Final = 0x01
    WELCOME: Final = 0x02
    REGISTER: Final = 0x03
    UNREGISTER: Final = 0x04
    REQUEST: Final = 0x05
    REPLY: Final = 0x06
    FAILURE: Final = 0x07
    BROADCAST: Final = 0x08
    SUBSCRIBE: Final = 0x09
    UNSUBSCRIBE: Final = 0x0A
    PUBLISH: Final = 0x0B
    EVENT: Final = 0x0C
    TUNNEL_OPEN: Final = 0x0D
    TUNNEL_ACCEPT: Final = 0x0E
    TUNNEL_DATA: Final = 0x0F
    TUNNEL_ALLOWANCE: Final = 0x10
    TUNNEL_CLOSE: Final = 0x11
    PING: Final = 0x12
    PONG: Final = 0x13
    CLOSE: Final = 0x14
    ERROR: Final = 0x15
    DROPPED: Final = 0x16
    ACK: Final = 0x17


FRAME_NAMES: Final[dict[int, str]] = {
    v: k for k, v in vars(FrameType).items() if not k.startswith("_") and isinstance(v, int)
}


class ErrorCode:
    OK: Final = 0
    TIMEOUT: Final = 1
    REMOTE: Final = 2
    NO_MEMBERS: Final = 3
    MEMBER_LOST: Final = 4
    CLOSED: Final = 5
    TOO_LARGE: Final = 6
    KEY: Final = 7
    PROTOCOL: Final = 8
    LIMIT: Final = 9
    INVALID: Final = 10
    SHUTDOWN: Final = 11
    OVERLOADED: Final = 12
    VERSION: Final = 13
    UNKNOWN: Final = 65535


# The wire names of the codes, as docs/protocol.md spells them ("noMembers").
CODE_NAMES: Final[dict[int, str]] = {
    0: "ok", 1: "timeout", 2: "remote", 3: "noMembers", 4: "memberLost", 5: "closed",
    6: "tooLarge", 7: "key", 8: "protocol", 9: "limit", 10: "invalid", 11: "shutdown",
    12: "overloaded", 13: "version", 65535: "unknown",
}
CODES_BY_NAME: Final[dict[str, int]] = {v: k for k, v in CODE_NAMES.items()}


def to_error_code(n: int) -> int:
    """A receiver maps numbers it does not know to ``unknown`` (the set is closed)."""
    return n if n in CODE_NAMES else ErrorCode.UNKNOWN


SCHEMA: Final[dict[int, tuple[tuple[str, str], ...]]] = {
    FrameType.HELLO: (("magic", "magic"), ("version", "u8"), ("role", "u8")),
    FrameType.WELCOME: (("version", "u8"), ("maxMessageBytes", "u32"), ("nodeId", "name")),
    FrameType.REGISTER: (
        ("seq", "u32"), ("cluster", "name"), ("requestConcurrency", "u32"), ("requestMemory", "u32"),
        ("broadcastConcurrency", "u32"), ("broadcastMemory", "u32"),
    ),
    FrameType.UNREGISTER: (("seq", "u32"), ("cluster", "name")),
    FrameType.REQUEST: (("id", "u32"), ("timeoutMs", "u32"), ("cluster", "name"), ("payload", "rest")),
    FrameType.REPLY: (("id", "u32"), ("payload", "rest")),
    FrameType.FAILURE: (("id", "u32"), ("code", "code"), ("message", "text")),
    FrameType.BROADCAST: (("cluster", "name"), ("payload", "rest")),
    FrameType.SUBSCRIBE: (("seq", "u32"), ("topic", "name"), ("memoryLimit", "u32")),
    FrameType.UNSUBSCRIBE: (("seq", "u32"), ("topic", "name")),
    FrameType.PUBLISH: (("topic", "name"), ("payload", "rest")),
    FrameType.EVENT: (("topic", "name"), ("payload", "rest")),
    FrameType.TUNNEL_OPEN: (("tunnel", "u32"), ("timeoutMs", "u32"), ("cluster", "name")),
    FrameType.TUNNEL_ACCEPT: (("tunnel", "u32"), ("allowance", "u32")),
    FrameType.TUNNEL_DATA: (("tunnel", "u32"), ("payload", "rest")),
    FrameType.TUNNEL_ALLOWANCE: (("tunnel", "u32"), ("bytes", "u32")),
    FrameType.TUNNEL_CLOSE: (("tunnel", "u32"), ("code", "code"), ("reason", "text")),
    FrameType.PING: (("token", "u32"),),
    FrameType.PONG: (("token", "u32"),),
    FrameType.CLOSE: (("code", "code"), ("reason", "text")),
    FrameType.ERROR: (("code", "code"), ("message", "text")),
    FrameType.DROPPED: (("topic", "name"), ("count", "u32")),
    FrameType.ACK: (("seq", "u32"), ("code", "code"), ("message", "text")),
}

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_HEADER = struct.Struct(">IB")


class WireError(Exception):
    """The one error the codec raises: ``code`` is a wire error code (tooLarge, protocol, invalid)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def name_bytes(name: str) -> bytes:
    """UTF-8 bytes of a cluster/topic name; WireError(invalid) when empty, too long or not text."""
    if not isinstance(name, str):
        raise WireError(ErrorCode.INVALID, "a name must be a str")
    try:
        b = name.encode("utf-8")
    except UnicodeEncodeError as err:
        raise WireError(ErrorCode.INVALID, f"name is not valid Unicode: {err.reason}") from None
    if not b:
        raise WireError(ErrorCode.INVALID, "name is empty")
    if len(b) > MAX_NAME_BYTES:
        raise WireError(ErrorCode.INVALID, f"name is {len(b)} bytes; the limit is {MAX_NAME_BYTES}")
    return b


def text_bytes(text: str) -> bytes:
    """UTF-8 bytes of a message or reason, cut to MAX_TEXT_BYTES at a character boundary."""
    b = text.encode("utf-8", "replace")
    if len(b) <= MAX_TEXT_BYTES:
        return b
    end = MAX_TEXT_BYTES
    while end > 0 and (b[end] & 0xC0) == 0x80:
        end -= 1
    return b[:end]


def _uint(value: Any, bits: int, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >= 1 << bits:
        raise WireError(ErrorCode.INVALID, f"{field} must be an integer in 0..{(1 << bits) - 1}")
    return value


def encode_frame(frame: Frame) -> bytes:
    """Encodes one frame (dict with ``type`` and the fields of its schema)."""
    t = frame["type"]
    schema = SCHEMA.get(t)
    if schema is None:
        raise WireError(ErrorCode.INVALID, f"unknown frame type {t!r}")
    parts: list[bytes] = []
    for name, kind in schema:
        v = frame.get(name)
        if kind == "u8":
            parts.append(bytes((_uint(v, 8, name),)))
        elif kind in ("u16", "code"):
            parts.append(_U16.pack(_uint(v, 16, name)))
        elif kind == "u32":
            parts.append(_U32.pack(_uint(v, 32, name)))
        elif kind == "magic":
            parts.append(MAGIC)
        elif kind == "name":
            b = name_bytes(str(v) if v is not None else "")
            parts.append(bytes((len(b),)) + b)
        elif kind == "text":
            b = text_bytes(v or "")
            parts.append(_U16.pack(len(b)) + b)
        else:  # rest
            parts.append(bytes(v or b""))
    body = b"".join(parts)
    return _HEADER.pack(len(body) + 1, t) + body


def encode_id_payload(frame_type: int, ident: int, payload: bytes) -> bytes:
    """Hot path for REPLY and TUNNEL_DATA."""
    return _HEADER.pack(5 + len(payload), frame_type) + _U32.pack(ident) + payload


def encode_named(frame_type: int, name: bytes, payload: bytes) -> bytes:
    """Hot path for PUBLISH and BROADCAST (``name`` from name_bytes())."""
    return _HEADER.pack(2 + len(name) + len(payload), frame_type) + bytes((len(name),)) + name + payload


def _utf8(b: bytes | memoryview, what: str) -> str:
    # Python's strict UTF-8 codec rejects overlong forms, surrogates, > U+10FFFF and
    # truncated sequences, and (unlike "utf-8-sig") keeps a leading U+FEFF.
    try:
        return bytes(b).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError(ErrorCode.PROTOCOL, f"{what} is not valid UTF-8") from None


def parse_frame(frame_type: int, body: bytes | memoryview) -> Frame:
    """Decodes a frame body into a dict. Raises WireError(protocol) for anything malformed."""
    schema = SCHEMA.get(frame_type)
    if schema is None:
        raise WireError(ErrorCode.PROTOCOL, f"unknown frame type 0x{frame_type:02x}")
    out: Frame = {"type": frame_type}
    pos = 0
    n = len(body)

    def need(k: int, what: str) -> None:
        if pos + k > n:
            raise WireError(ErrorCode.PROTOCOL, f"frame truncated in {what}")

    for name, kind in schema:
        if kind == "u8":
            need(1, name)
            out[name] = body[pos]
            pos += 1
        elif kind in ("u16", "code"):
            need(2, name)
            v = _U16.unpack_from(body, pos)[0]
            out[name] = to_error_code(v) if kind == "code" else v
            pos += 2
        elif kind == "u32":
            need(4, name)
            out[name] = _U32.unpack_from(body, pos)[0]
            pos += 4
        elif kind == "magic":
            need(4, name)
            if bytes(body[pos:pos + 4]) != MAGIC:
                raise WireError(ErrorCode.PROTOCOL, "bad magic: not a Herald peer")
            pos += 4
        elif kind == "name":
            need(1, name)
            k = body[pos]
            pos += 1
            if k == 0:
                raise WireError(ErrorCode.PROTOCOL, f"{name} is empty")
            need(k, name)
            out[name] = _utf8(body[pos:pos + k], name)
            pos += k
        elif kind == "text":
            need(2, name)
            k = _U16.unpack_from(body, pos)[0]
            pos += 2
            if k > MAX_TEXT_BYTES:
                raise WireError(ErrorCode.PROTOCOL, f"{name} of {k} bytes exceeds {MAX_TEXT_BYTES}")
            need(k, name)
            out[name] = _utf8(body[pos:pos + k], name)
            pos += k
        else:  # rest
            out[name] = bytes(body[pos:])
            pos = n
    if pos != n:
        raise WireError(ErrorCode.PROTOCOL, f"{n - pos} trailing bytes in frame 0x{frame_type:02x}")
    if frame_type == FrameType.HELLO and out["role"] not in (ROLE_CLIENT, ROLE_MEMBER):
        raise WireError(ErrorCode.PROTOCOL, f"unknown role {out['role']}")
    return out


class FrameDecoder:
    """Cuts a byte stream into frames; reads may split or coalesce frames anywhere.

    Memory held is what was received and not yet returned. A length over ``max_frame_bytes``
    fails as soon as its 4 bytes are in, and the decoder keeps failing after that.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_MESSAGE_BYTES + FRAME_OVERHEAD_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._failed: WireError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def error(self) -> WireError | None:
        """Set once the stream is malformed; every later feed() returns no frames."""
        return self._failed

    def feed(self, data: bytes) -> list[Frame]:
        """Adds received bytes; returns the frames they complete, in order (parsed).

        Frames before a malformed one are still returned; check ``error`` after handling them.
        """
        if self._failed is not None:
            return []
        buf = self._buf
        buf += data
        frames: list[Frame] = []
        pos = 0
        try:
            with memoryview(buf) as view:
                while len(buf) - pos >= 4:
                    length = _U32.unpack_from(buf, pos)[0]
                    if length < 1 or length > self.max_frame_bytes:
                        raise WireError(
                            ErrorCode.PROTOCOL if length < 1 else ErrorCode.TOO_LARGE,
                            "frame length 0" if length < 1
                            else f"frame of {length} bytes exceeds the limit of {self.max_frame_bytes}",
                        )
                    end = pos + 4 + length
                    if end > len(buf):
                        break
                    frames.append(parse_frame(buf[pos + 4], view[pos + 5:end]))
                    pos = end
        except WireError as err:
            self._failed = err
            self._buf = bytearray()  # rebound, not resized: the traceback may still hold views of it
            return frames
        # Consumed bytes go once per read, not once per frame: linear in the bytes received.
        if pos:
            del buf[:pos]
        return frames
