"""Cluster and topic keys: end-to-end sealing, byte for byte the TS SDK's (keys.ts).

A sealed payload is ``a7 | key id (u32 BE) | nonce (12) | ChaCha20-Poly1305 ciphertext | tag (16)``
with the associated data ``"herald-seal/1" | kind (u8) | name (UTF-8)``; the key id is the
first 4 bytes (BE) of SHA-256("herald-key-id:" + key). The standard library has no AEAD, so
this uses the optional ``cryptography`` package (Debian: python3-cryptography); without it,
using a key raises ClusterKeyError with that advice, and everything else works.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Union

from .errors import ClusterKeyError, HeraldError

try:  # optional dependency: only cluster keys need it
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
except ImportError:  # pragma: no cover - exercised by a test that hides the package
    ChaCha20Poly1305 = None  # type: ignore[assignment,misc]
    InvalidTag = Exception  # type: ignore[assignment,misc]

ClusterKey = Union[bytes, str]
#: One key, or [seal_key, *accepted_keys] for rotation: the first seals, all of them open.
ClusterKeys = Union[ClusterKey, Sequence[ClusterKey]]

_MAGIC: Final = 0xA7
_NONCE: Final = 12
_TAG: Final = 16
#: Bytes a sealed payload adds: magic, key id, nonce, tag.
SEAL_OVERHEAD: Final = 1 + 4 + _NONCE + _TAG


class SealKind:
    """What is sealed: bound into the associated data, so a payload cannot be replayed as another kind."""

    REQUEST: Final = 1
    REPLY: Final = 2
    BROADCAST: Final = 3
    EVENT: Final = 4
    TO_MEMBER: Final = 5
    TO_CLIENT: Final = 6


def generate_cluster_key() -> str:
    """A new 32-byte cluster key, as base64 (needs no optional package)."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


def crypto_available() -> bool:
    return ChaCha20Poly1305 is not None


@dataclass(frozen=True)
class _Key:
    id: int
    aead: Any


@dataclass(frozen=True)
class KeyRing:
    """The keys of one cluster or topic: ``seal`` seals, every key opens."""

    seal: _Key
    by_id: dict[int, _Key]


def _parse_key(k: ClusterKey) -> _Key:
    if isinstance(k, str):
        try:
            raw = base64.b64decode(k, validate=True)
        except binascii.Error:
            raise HeraldError("INVALID", "a cluster key string must be base64 (of 32 bytes)") from None
    elif isinstance(k, (bytes, bytearray, memoryview)):
        raw = bytes(k)
    else:
        raise HeraldError("INVALID", "a cluster key must be bytes or a base64 str")
    if len(raw) != 32:
        raise HeraldError("INVALID", f"a cluster key must be 32 bytes (base64 of 32 bytes), got {len(raw)}")
    if ChaCha20Poly1305 is None:
        raise ClusterKeyError(
            "cluster keys need the optional 'cryptography' package "
            "(Debian: apt-get install python3-cryptography; or pip install cryptography)"
        )
    key_id = struct.unpack(">I", hashlib.sha256(b"herald-key-id:" + raw).digest()[:4])[0]
    return _Key(key_id, ChaCha20Poly1305(raw))


def key_ring(keys: ClusterKeys) -> KeyRing:
    items: list[ClusterKey] = list(keys) if isinstance(keys, (list, tuple)) else [keys]  # type: ignore[list-item]
    if not items:
        raise HeraldError("INVALID", "an empty key list")
    parsed = [_parse_key(k) for k in items]
    return KeyRing(parsed[0], {k.id: k for k in parsed})


def rings(keys: dict[str, ClusterKeys] | None) -> dict[str, KeyRing]:
    return {name: key_ring(k) for name, k in (keys or {}).items()}


def _aad(kind: int, name: str) -> bytes:
    return b"herald-seal/1" + bytes((kind,)) + name.encode("utf-8")


def seal(ring: KeyRing, kind: int, name: str, plain: bytes, key_id: int | None = None) -> bytes:
    """Seals ``plain`` for ``name`` with the ring's seal key (or the key ``key_id`` when it has it)."""
    key = ring.by_id.get(key_id, ring.seal) if key_id is not None else ring.seal
    nonce = os.urandom(_NONCE)
    body: bytes = key.aead.encrypt(nonce, plain, _aad(kind, name))  # ciphertext then tag, as the TS SDK writes
    return bytes((_MAGIC,)) + struct.pack(">I", key.id) + nonce + body


def open_sealed(ring: KeyRing, kind: int, name: str, sealed: bytes) -> tuple[bytes, int]:
    """Opens a sealed payload: (plain, key id). ClusterKeyError when it is not ours or tampered."""
    what = f'topic "{name}"' if kind == SealKind.EVENT else f'cluster "{name}"'
    if len(sealed) < SEAL_OVERHEAD or sealed[0] != _MAGIC:
        raise ClusterKeyError(f"a payload for {what} is not sealed with a cluster key")
    key_id = struct.unpack_from(">I", sealed, 1)[0]
    key = ring.by_id.get(key_id)
    if key is None:
        raise ClusterKeyError(f"a payload for {what} is sealed with a key this side does not have")
    try:
        plain = key.aead.decrypt(bytes(sealed[5:5 + _NONCE]), bytes(sealed[5 + _NONCE:]), _aad(kind, name))
    except InvalidTag:
        raise ClusterKeyError(f"a payload for {what} failed authentication (wrong key or tampered)") from None
    return plain, key_id
