"""Defaults of the Python client; keyword arguments override each of them.

They match the TypeScript SDK's (packages/client/src/constants.ts). Times are in seconds.
"""
from __future__ import annotations

from typing import Final

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 55555
CONNECT_TIMEOUT: Final = 5.0
REQUEST_TIMEOUT: Final = 10.0
TUNNEL_TIMEOUT: Final = 10.0
ACK_TIMEOUT: Final = 5.0
#: Undelivered events buffered per subscription (here and at the relay); excess is dropped and counted.
SUBSCRIPTION_MEMORY: Final = 16 * 1024 * 1024
#: Bytes a tunnel end lets its peer send ahead of what the application consumed.
TUNNEL_WINDOW: Final = 1024 * 1024
#: Extra allowance charged per tunnel message, so empty messages are flow-controlled too.
TUNNEL_MESSAGE_COST: Final = 64
#: Past this many bytes queued for the socket, publish/broadcast wait for it to drain.
SOCKET_HIGH_WATER: Final = 4 * 1024 * 1024
#: Frames written in one tick leave in one write, flushed early at this size.
BATCH_BYTES: Final = 64 * 1024
#: Timeouts are capped here (the wire carries milliseconds in a u32; the relay caps timers at 2^31-1 ms).
MAX_TIMEOUT: Final = 0x7FFFFFFF / 1000
#: How long a member's close() lets in-flight requests finish.
CLOSE_GRACE: Final = 5.0
#: Request and tunnel ids an opener chooses are below 2^31 (the relay numbers served tunnels from 2^31).
MAX_OPENER_ID: Final = 0x7FFFFFFF
