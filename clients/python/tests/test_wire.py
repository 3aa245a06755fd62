"""The codec in memory: docs/protocol.md's bytes, every frame type round trip, hostile input."""
from __future__ import annotations

import pytest

from herald.wire import (
    MAX_TEXT_BYTES, SCHEMA, ErrorCode, FrameDecoder, FrameType, WireError, encode_frame, name_bytes,
    text_bytes, to_error_code,
)

SAMPLES: dict[int, dict[str, object]] = {
    FrameType.HELLO: {"version": 1, "role": 1},
    FrameType.WELCOME: {"version": 1, "maxMessageBytes": 16777216, "nodeId": "12D3KooW"},
    FrameType.REGISTER: {"seq": 1, "cluster": "db", "requestConcurrency": 2, "requestMemory": 3,
                         "broadcastConcurrency": 4, "broadcastMemory": 5},
    FrameType.UNREGISTER: {"seq": 9, "cluster": "db"},
    FrameType.REQUEST: {"id": 0xFFFFFFFF, "timeoutMs": 1000, "cluster": "db", "payload": b"\x00q"},
    FrameType.REPLY: {"id": 7, "payload": b""},
    FrameType.FAILURE: {"id": 7, "code": ErrorCode.REMOTE, "message": "disk full"},
    FrameType.BROADCAST: {"cluster": "db", "payload": b"b"},
    FrameType.SUBSCRIBE: {"seq": 2, "topic": "news", "memoryLimit": 100},
    FrameType.UNSUBSCRIBE: {"seq": 3, "topic": "news"},
    FrameType.PUBLISH: {"topic": "news", "payload": b"hello"},
    FrameType.EVENT: {"topic": "\ufeffnews", "payload": b"hello"},
    FrameType.TUNNEL_OPEN: {"tunnel": 1, "timeoutMs": 5, "cluster": "db"},
    FrameType.TUNNEL_ACCEPT: {"tunnel": 2 ** 31, "allowance": 1 << 20},
    FrameType.TUNNEL_DATA: {"tunnel": 1, "payload": b"x" * 300},
    FrameType.TUNNEL_ALLOWANCE: {"tunnel": 1, "bytes": 64},
    FrameType.TUNNEL_CLOSE: {"tunnel": 1, "code": ErrorCode.OK, "reason": ""},
    FrameType.PING: {"token": 1},
    FrameType.PONG: {"token": 2},
    FrameType.CLOSE: {"code": ErrorCode.SHUTDOWN, "reason": "bye"},
    FrameType.ERROR: {"code": ErrorCode.PROTOCOL, "message": "é" * 10},
    FrameType.DROPPED: {"topic": "news", "count": 3},
    FrameType.ACK: {"seq": 4, "code": ErrorCode.INVALID, "message": "no"},
}


def test_worked_example_bytes() -> None:
    """The bytes docs/protocol.md shows for PUBLISH("news", "hello") and a member's HELLO."""
    assert encode_frame({"type": FrameType.PUBLISH, "topic": "news", "payload": b"hello"}).hex(" ") == \
        "00 00 00 0b 0b 04 6e 65 77 73 68 65 6c 6c 6f"
    assert encode_frame({"type": FrameType.HELLO, "version": 1, "role": 1}).hex(" ") == "00 00 00 07 01 48 52 4c 44 01 01"


def test_every_frame_round_trips_one_byte_per_read() -> None:
    assert set(SAMPLES) == set(SCHEMA)
    stream = b"".join(encode_frame({"type": t, **f}) for t, f in SAMPLES.items())
    d = FrameDecoder()
    got = []
    for i in range(len(stream)):
        got += d.feed(stream[i:i + 1])
    assert d.error is None and d.buffered == 0
    assert [(f.pop("type"), f) for f in got] == list(SAMPLES.items())


@pytest.mark.parametrize("hexbytes, code, text", [
    ("00000000", ErrorCode.PROTOCOL, "length 0"),
    ("01000401", ErrorCode.TOO_LARGE, "exceeds the limit"),
    ("000000017f", ErrorCode.PROTOCOL, "unknown frame type 0x7f"),
    ("00000003060000", ErrorCode.PROTOCOL, "truncated in id"),
    ("00000006130000000100", ErrorCode.PROTOCOL, "1 trailing bytes"),
    ("0000000701484c524401 01", ErrorCode.PROTOCOL, "bad magic"),
    ("000000070148524c440102", ErrorCode.PROTOCOL, "unknown role 2"),
    ("000000030c0041", ErrorCode.PROTOCOL, "topic is empty"),
    ("000000050c02c08041", ErrorCode.PROTOCOL, "not valid UTF-8"),  # overlong NUL
    ("000000060c03eda08041", ErrorCode.PROTOCOL, "not valid UTF-8"),  # an encoded surrogate
    ("000000070c04f490808041", ErrorCode.PROTOCOL, "not valid UTF-8"),  # above U+10FFFF
    ("000000050c02e28241", ErrorCode.PROTOCOL, "not valid UTF-8"),  # truncated sequence
    ("0000000515000807d0", ErrorCode.PROTOCOL, "2000 bytes exceeds 1024"),
])
def test_hostile_input(hexbytes: str, code: int, text: str) -> None:
    d = FrameDecoder(max_frame_bytes=65536)
    assert d.feed(bytes.fromhex(hexbytes.replace(" ", ""))) == []
    assert d.error is not None and d.error.code == code and text in str(d.error)
    assert d.feed(encode_frame({"type": FrameType.PING, "token": 1})) == [], "a failed decoder keeps failing"


def test_oversized_length_fails_from_four_bytes() -> None:
    d = FrameDecoder(max_frame_bytes=1024)
    d.feed(b"\x00\x00\x04")
    assert d.error is None
    d.feed(b"\x01")
    assert d.error is not None and d.error.code == ErrorCode.TOO_LARGE and d.buffered == 0


def test_frames_before_a_bad_one_are_returned() -> None:
    ping = encode_frame({"type": FrameType.PING, "token": 5})
    d = FrameDecoder()
    frames = d.feed(ping + bytes.fromhex("000000017f") + ping)
    assert frames == [{"type": FrameType.PING, "token": 5}]
    assert d.error is not None


def test_names_and_texts() -> None:
    assert name_bytes("ü" * 127) == "ü".encode() * 127
    for bad in ("", "a" * 256, "ü" * 128, "\ud800"):
        with pytest.raises(WireError) as e:
            name_bytes(bad)
        assert e.value.code == ErrorCode.INVALID
    cut = text_bytes("a" + "é" * 600)  # 1201 bytes: cut at the last whole character under 1024
    assert len(cut) == 1023 and cut.decode("utf-8") == "a" + "é" * 511
    assert len(text_bytes("x" * 5000)) == MAX_TEXT_BYTES


def test_unknown_codes_map_to_unknown() -> None:
    f = encode_frame({"type": FrameType.FAILURE, "id": 1, "code": 999, "message": ""})
    assert FrameDecoder().feed(f)[0]["code"] == ErrorCode.UNKNOWN == to_error_code(12345)


def test_encoder_refuses_out_of_range_fields() -> None:
    for frame in ({"type": FrameType.PING, "token": -1}, {"type": FrameType.PING, "token": 2 ** 32},
                  {"type": FrameType.PING, "token": True}, {"type": 0x7F}):
        with pytest.raises(WireError) as e:
            encode_frame(frame)
        assert e.value.code == ErrorCode.INVALID
