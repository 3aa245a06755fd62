"""The conformance scenarios (conformance/scenarios/*.json) and their values: payloads,
frames and frame patterns, as conformance/README.md defines them."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from herald import (
    ClosedError, ClusterKeyError, HeraldError, MemberLostError, MessageTooLargeError, NoMembersError,
    RemoteError, TimeoutError,
)
from herald.wire import CODES_BY_NAME, FRAME_NAMES, Frame, FrameType, encode_frame

from tests.harness import ROOT

SCENARIO_DIR = ROOT / "conformance" / "scenarios"
#: Tags of scenarios to run besides the default set: a scenario marked ``"requires": tag`` checks a rule
#: the relay does not follow yet.
INCLUDE = {t for t in os.environ.get("HERALD_CONFORMANCE_INCLUDE", "").split(",") if t}

ERROR_CLASSES: dict[str, type[HeraldError]] = {
    "TIMEOUT": TimeoutError, "REMOTE": RemoteError, "NO_MEMBERS": NoMembersError,
    "MEMBER_LOST": MemberLostError, "CLOSED": ClosedError, "TOO_LARGE": MessageTooLargeError,
    "KEY": ClusterKeyError,
}
TYPES_BY_NAME = {v: k for k, v in FRAME_NAMES.items()}


@dataclass(frozen=True)
class Scenario:
    suite: str
    name: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"


def load() -> list[Scenario]:
    out: list[Scenario] = []
    for path in sorted(SCENARIO_DIR.glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        for s in doc["scenarios"]:
            if s.get("requires") is None or s["requires"] in INCLUDE:
                out.append(Scenario(doc["suite"], s["name"], s))
    return out


_PATTERN = bytes(range(251)) * 2


def payload(spec: Any) -> bytes:
    if isinstance(spec, str):
        return spec.encode("utf-8")
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    n = int(spec["size"])
    return (_PATTERN[:251] * (n // 251 + 1))[:n]


def _numbered(i: int, size: int) -> bytes:
    start = (i + 4) % 251
    body = (_PATTERN[start:start + 251] * ((size - 4) // 251 + 1))[:size - 4]
    return i.to_bytes(4, "big") + body


def payloads(spec: Any) -> list[bytes]:
    if isinstance(spec, list):
        return [payload(p) for p in spec]
    if "template" in spec:
        return [spec["template"].replace("{i}", str(i)).encode("utf-8") for i in range(spec["count"])]
    return [_numbered(i, spec["size"]) for i in range(spec["count"])]


def numbered(i: int, size: int) -> bytes:
    """Message i of ``{"count": n, "size": size}``."""
    return _numbered(i, size)


class Vars(dict[str, Any]):
    """Captured frame fields (``{"var": name}`` in later frames)."""

    def resolve(self, v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {"var"}:
            if v["var"] not in self:
                raise AssertionError(f"nothing captured as {v['var']!r}")
            return self[v["var"]]
        return v


def code_of(v: Any) -> int:
    return v if isinstance(v, int) else CODES_BY_NAME[v]


def encode(spec: dict[str, Any], vars_: Vars) -> bytes:
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    frame: Frame = {"type": TYPES_BY_NAME[spec["type"]]}
    for k, v in spec.items():
        if k == "type":
            continue
        v = vars_.resolve(v)
        frame[k] = code_of(v) if k == "code" else payload(v) if k == "payload" else v
    return encode_frame(frame)


def matches(pattern: dict[str, Any], frame: Frame, vars_: Vars) -> str | None:
    """None when ``frame`` matches; else what differs. Captures on a match."""
    want_type = TYPES_BY_NAME[pattern["type"]]
    if frame["type"] != want_type:
        return f"expected {pattern['type']}, got {describe(frame)}"
    for k, v in pattern.items():
        if k in ("type", "capture"):
            continue
        v = vars_.resolve(v)
        want = code_of(v) if k == "code" else payload(v) if k == "payload" else v
        if frame.get(k) != want:
            return f"{pattern['type']}.{k}: expected {v!r}, got {describe(frame)}"
    for field_name, var in pattern.get("capture", {}).items():
        vars_[var] = frame[field_name]
    return None


def describe(frame: Frame) -> str:
    parts = [FRAME_NAMES.get(frame["type"], hex(frame["type"]))]
    for k, v in frame.items():
        if k != "type":
            parts.append(f"{k}={(v[:32] + b'...') if isinstance(v, bytes) and len(v) > 32 else v!r}")
    return " ".join(parts)


__all__ = ["FrameType", "Scenario", "Vars", "encode", "load", "matches", "payload", "payloads"]
