"""The errors the client raises: one base class with a closed set of codes, as in the TS SDK.

Match on the class or on ``code``, never on the text. The codes are the TypeScript SDK's
(``"TIMEOUT"``, ``"REMOTE"``, ...), so both SDKs report the same failure the same way.
"""
from __future__ import annotations

import builtins
from typing import Literal

from .wire import ErrorCode

HeraldErrorCode = Literal[
    "TIMEOUT", "REMOTE", "NO_MEMBERS", "MEMBER_LOST", "CLOSED", "TOO_LARGE", "KEY",
    "PROTOCOL", "LIMIT", "INVALID", "OVERLOADED", "UNAVAILABLE",
]


class HeraldError(Exception):
    """The base of every error the client raises."""

    code: HeraldErrorCode

    def __init__(self, code: HeraldErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class TimeoutError(HeraldError, builtins.TimeoutError):  # noqa: A001 - the SDK's name, on purpose
    """A deadline passed. Also a builtin TimeoutError, so ``except TimeoutError`` catches it."""

    def __init__(self, message: str = "timed out") -> None:
        super().__init__("TIMEOUT", message)


class RemoteError(HeraldError):
    """The member's handler raised; the message is its message."""

    def __init__(self, message: str) -> None:
        super().__init__("REMOTE", message)


class NoMembersError(HeraldError):
    def __init__(self, message: str = "no members") -> None:
        super().__init__("NO_MEMBERS", message)


class MemberLostError(HeraldError):
    """The member serving a request or tunnel went away before answering."""

    def __init__(self, message: str = "member lost") -> None:
        super().__init__("MEMBER_LOST", message)


class ClosedError(HeraldError):
    """The connection, subscription or tunnel is closed."""

    def __init__(self, message: str = "closed") -> None:
        super().__init__("CLOSED", message)


class MessageTooLargeError(HeraldError):
    def __init__(self, message: str) -> None:
        super().__init__("TOO_LARGE", message)


class ClusterKeyError(HeraldError):
    """A cluster key is missing or wrong (the TS SDK's ``KeyError``; that name is a builtin here)."""

    def __init__(self, message: str) -> None:
        super().__init__("KEY", message)


def error_from_wire(code: int, message: str) -> HeraldError:
    """Translates a numeric wire code (FAILURE, ACK, TUNNEL_CLOSE, ERROR, CLOSE) into an error."""
    if code == ErrorCode.TIMEOUT:
        return TimeoutError(message or "timed out")
    if code == ErrorCode.REMOTE:
        return RemoteError(message)
    if code == ErrorCode.NO_MEMBERS:
        return NoMembersError(message or "no members")
    if code == ErrorCode.MEMBER_LOST:
        return MemberLostError(message or "member lost")
    if code in (ErrorCode.CLOSED, ErrorCode.SHUTDOWN):
        return ClosedError(message or "closed")
    if code == ErrorCode.TOO_LARGE:
        return MessageTooLargeError(message or "message too large")
    if code == ErrorCode.KEY:
        return ClusterKeyError(message or "key error")
    if code == ErrorCode.LIMIT:
        return HeraldError("LIMIT", message or "limit exceeded")
    if code == ErrorCode.INVALID:
        return HeraldError("INVALID", message or "invalid")
    if code == ErrorCode.OVERLOADED:
        return HeraldError("OVERLOADED", message or "overloaded")
    return HeraldError("PROTOCOL", message or f"protocol error (code {code})")
