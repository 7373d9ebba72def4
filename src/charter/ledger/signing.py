"""Ed25519 checkpoint signing. The key is generated on first start and kept in the data dir."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id_of(public_text: str) -> str:
    return hashlib.sha256(base64.b64decode(public_text)).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        return public_key_text(self.private_key.public_key())

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private_key.sign(message)).decode()


def verify_signature(public_text: str, message: bytes, signature: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_text))
        key.verify(base64.b64decode(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


_cache: dict[Path, Signer] = {}


def load_or_create_signer(path: Path) -> Signer:
    """Load the PEM private key at path, creating it (mode 0600) on first use."""
    path = path.resolve()
    if path in _cache:
        return _cache[path]
    if not path.exists():
        _create_key(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    signer = Signer(key)
    _cache[path] = signer
    return signer


def _create_key(path: Path) -> None:
    """Write a new key, atomically: processes starting together all end up with the one key that won."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
