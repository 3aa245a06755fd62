"""Cluster keys: the sealed format, byte for byte the TS SDK's (checked against it), and the
clear error without the optional ``cryptography`` package."""
from __future__ import annotations

import base64
import hashlib
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from herald import ClusterKeyError, HeraldError, generate_cluster_key
from herald.keys import SEAL_OVERHEAD, SealKind, key_ring, open_sealed, seal

from tests.harness import NODE, ROOT

SEAL_JS = str(Path(__file__).parent / "js" / "seal.mjs")
K1 = "dycZxudXMwzBckYcL4vkqu97T911xiszxfWkSUPBlHI="
K2 = "o/8ReIX0div3wAP9SIMuR7BZNOhHcS4mEvm9ILXwsJw="


def node_seal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NODE, SEAL_JS, *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)


def test_format() -> None:
    ring = key_ring(K1)
    sealed = seal(ring, SealKind.REQUEST, "vault", b"hello")
    assert len(sealed) == len(b"hello") + SEAL_OVERHEAD == 5 + 33
    assert sealed[0] == 0xA7
    want_id = struct.unpack(">I", hashlib.sha256(b"herald-key-id:" + base64.b64decode(K1)).digest()[:4])[0]
    assert struct.unpack(">I", sealed[1:5])[0] == want_id
    assert open_sealed(ring, SealKind.REQUEST, "vault", sealed) == (b"hello", want_id)


@pytest.mark.parametrize("kind, name, tamper", [
    (SealKind.REPLY, "vault", None),  # another kind: the associated data differs
    (SealKind.REQUEST, "other", None),  # another cluster
    (SealKind.REQUEST, "vault", 20),  # a flipped ciphertext byte
])
def test_open_refuses(kind: int, name: str, tamper: int | None) -> None:
    ring = key_ring(K1)
    sealed = bytearray(seal(ring, SealKind.REQUEST, "vault", b"secret payload"))
    if tamper is not None:
        sealed[tamper] ^= 1
    with pytest.raises(ClusterKeyError, match="failed authentication"):
        open_sealed(ring, kind, name, bytes(sealed))


def test_rotation_and_unknown_keys() -> None:
    old, new, both = key_ring(K1), key_ring(K2), key_ring([K2, K1])
    assert open_sealed(both, SealKind.EVENT, "t", seal(old, SealKind.EVENT, "t", b"a"))[0] == b"a"
    assert open_sealed(both, SealKind.EVENT, "t", seal(new, SealKind.EVENT, "t", b"b"))[0] == b"b"
    # Answering with the key the caller used keeps callers on the old key working.
    reply = seal(both, SealKind.REPLY, "t", b"c", key_id=next(iter(old.by_id)))
    assert open_sealed(old, SealKind.REPLY, "t", reply)[0] == b"c"
    with pytest.raises(ClusterKeyError, match="does not have"):
        open_sealed(old, SealKind.EVENT, "t", seal(new, SealKind.EVENT, "t", b"d"))
    with pytest.raises(ClusterKeyError, match="not sealed"):
        open_sealed(old, SealKind.EVENT, "t", b"plain text, not sealed at all")


def test_bad_keys_are_invalid() -> None:
    for bad in ("not base64!", base64.b64encode(b"short").decode(), b"x" * 31, [], 42):
        with pytest.raises(HeraldError) as e:
            key_ring(bad)  # type: ignore[arg-type]
        assert e.value.code == "INVALID"
    assert len(base64.b64decode(generate_cluster_key())) == 32


def test_typescript_opens_what_python_seals() -> None:
    for kind in (SealKind.REQUEST, SealKind.TO_CLIENT):
        sealed = seal(key_ring(K1), kind, "vault", "héllo".encode())
        r = node_seal("open", f"{K2},{K1}", str(kind), "vault", sealed.hex())
        assert r.returncode == 0, r.stderr
        assert bytes.fromhex(r.stdout) == "héllo".encode()
    wrong_kind = node_seal("open", K1, str(SealKind.REPLY), "vault", seal(key_ring(K1), SealKind.REQUEST, "vault", b"x").hex())
    assert wrong_kind.returncode == 1 and "KeyError" in wrong_kind.stderr


def test_python_opens_what_typescript_seals() -> None:
    r = node_seal("seal", K2, str(SealKind.BROADCAST), "vault", b"\x00\xffpayload".hex())
    assert r.returncode == 0, r.stderr
    plain, key_id = open_sealed(key_ring([K1, K2]), SealKind.BROADCAST, "vault", bytes.fromhex(r.stdout))
    assert plain == b"\x00\xffpayload" and key_id == next(iter(key_ring(K2).by_id))


def test_without_cryptography_keys_fail_clearly_and_the_rest_works() -> None:
    code = (
        "import sys; sys.modules['cryptography'] = None\n"  # as if the package were not installed
        "import herald\n"
        "assert not herald.crypto_available()\n"
        "assert len(herald.generate_cluster_key()) == 44\n"
        "try:\n"
        "    herald.connect(port=1, cluster_keys={'vault': herald.generate_cluster_key()})\n"
        "except herald.ClusterKeyError as e:\n"
        "    print(e.code, e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("KEY cluster keys need the optional 'cryptography' package"), r.stdout
    assert "python3-cryptography" in r.stdout
