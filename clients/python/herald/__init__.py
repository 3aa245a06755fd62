"""Herald for Python: an asyncio client of the Herald relay (docs/protocol.md).

    async with connect(port=55555) as conn:
        reply = await conn.request("databases", b"user:42", timeout=1.0)

Standard library only; cluster keys use the optional ``cryptography`` package.
"""
from . import defaults
from ._util import Payload
from .connection import Connection
from .opening import connect
from .errors import (
    ClosedError, ClusterKeyError, HeraldError, HeraldErrorCode, MemberLostError, MessageTooLargeError,
    NoMembersError, RemoteError, TimeoutError,
)
from .keys import ClusterKey, ClusterKeys, crypto_available, generate_cluster_key
from .member import Limits, MemberStats, RequestHandler, Service, register
from .subscription import EventHandler, Subscription, SubscriptionStats
from .tunnel import Tunnel

#: herald.TimeoutError (a subclass of the builtin TimeoutError) under a name of its own.
HeraldTimeoutError = TimeoutError

__version__ = "0.1.0"

__all__ = [
    "ClosedError", "ClusterKey", "ClusterKeyError", "ClusterKeys", "Connection", "EventHandler",
    "HeraldError", "HeraldErrorCode", "HeraldTimeoutError", "Limits", "MemberLostError", "MemberStats", "MessageTooLargeError",
    "NoMembersError", "Payload", "RemoteError", "RequestHandler", "Service", "Subscription",
    "SubscriptionStats", "TimeoutError", "Tunnel", "connect", "crypto_available", "defaults",
    "generate_cluster_key", "register",
]
