"""Reversible pseudonymisation: values go into a vault and tokens go to the vendor; the vendor's answer is
restored by putting the values back.

- Values are encrypted at rest with AES-256-GCM (``cryptography``); the ciphertext is bound to its scope and token
  (associated data), so a row moved to another token or scope does not decrypt.
- Within a scope the same value gets the same token, found through a keyed blind index (HMAC), never by
  comparing plaintext. Keys are derived (HKDF) from one injected 32-byte key.
- Entries expire after a TTL (clock injected); an expired token is left as it is by ``restore``.
- Storage is an interface (:class:`VaultStore`): the integrator keeps entries in the database; tests use
  :class:`MemoryVaultStore`. Nothing here does I/O other than through the store.

Tokens look like ``<EMAIL_ADDRESS_3f9a0c21b7>``. Text that merely looks like a token is never altered by
``restore`` unless the token was issued in that scope; :meth:`Vault.pseudonymise` escapes any token-like text
already in its input (it is vaulted too), so that ``restore(pseudonymise(text))`` is always exactly ``text``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from charter.data.pii.errors import VaultError

TOKEN = re.compile(r"<([A-Z][A-Z0-9_]*)_([0-9a-f]{10})>")
#: the entity under which token-like text found in an input is vaulted, so that it comes back unchanged
ESCAPED = "TOKEN"
KEY_BYTES = 32
_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class VaultEntry:
    scope: str
    token: str
    entity: str
    index: bytes  #: HMAC of (scope, entity, value): finds the token of a value without its plaintext
    nonce: bytes
    ciphertext: bytes
    created_at: datetime
    expires_at: datetime


class VaultStore(Protocol):
    """Where entries live. Implementations must be safe to call concurrently for different scopes."""

    def get_many(self, scope: str, tokens: Collection[str]) -> dict[str, VaultEntry]: ...

    def find(self, scope: str, index: bytes) -> VaultEntry | None: ...

    def put(self, entry: VaultEntry) -> None: ...

    def delete_expired(self, now: datetime) -> int: ...

    def delete_scope(self, scope: str) -> int: ...


class MemoryVaultStore:
    """In-memory :class:`VaultStore` (tests, single process)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], VaultEntry] = {}
        self._index: dict[tuple[str, bytes], str] = {}

    def get_many(self, scope: str, tokens: Collection[str]) -> dict[str, VaultEntry]:
        found = {}
        for token in tokens:
            entry = self.entries.get((scope, token))
            if entry is not None:
                found[token] = entry
        return found

    def find(self, scope: str, index: bytes) -> VaultEntry | None:
        token = self._index.get((scope, index))
        return None if token is None else self.entries.get((scope, token))

    def put(self, entry: VaultEntry) -> None:
        self.entries[(entry.scope, entry.token)] = entry
        self._index[(entry.scope, entry.index)] = entry.token

    def delete_expired(self, now: datetime) -> int:
        expired = [key for key, entry in self.entries.items() if entry.expires_at <= now]
        for key in expired:
            entry = self.entries.pop(key)
            if self._index.get((entry.scope, entry.index)) == entry.token:
                del self._index[(entry.scope, entry.index)]
        return len(expired)

    def delete_scope(self, scope: str) -> int:
        doomed = [key for key in self.entries if key[0] == scope]
        for key in doomed:
            entry = self.entries.pop(key)
            self._index.pop((entry.scope, entry.index), None)
        return len(doomed)


@dataclass(frozen=True, slots=True)
class Restored:
    text: str
    restored: int  #: tokens replaced by their value
    expired: int  #: tokens of this scope whose entry has expired (left as they are)
    unknown: int  #: token-like text not issued in this scope (left as it is)


class Vault:
    def __init__(
        self,
        key: bytes,
        store: VaultStore,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime],
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
            raise VaultError(f"the vault key must be {KEY_BYTES} random bytes (AES-256), got {len(key)} bytes")
        if ttl <= timedelta(0):
            raise VaultError(f"the vault TTL must be positive, got {ttl}")
        self._aead = AESGCM(_derive(bytes(key), b"charter pii vault: encryption"))
        self._index_key = _derive(bytes(key), b"charter pii vault: blind index")
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self.random_bytes = random_bytes

    def tokenize(self, value: str, entity: str, *, scope: str) -> str:
        """The token of ``value`` in ``scope``: the existing one while it lives, else a new one."""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", entity):
            raise VaultError(f"entity {entity!r} must be upper-case letters, digits and underscores")
        now = self.clock()
        index = hmac.new(self._index_key, _pack(scope, entity, value), hashlib.sha256).digest()
        existing = self.store.find(scope, index)
        if existing is not None and existing.expires_at > now and existing.entity == entity:
            return existing.token
        for _ in range(_ATTEMPTS):
            token = f"<{entity}_{self.random_bytes(5).hex()}>"
            if not self.store.get_many(scope, [token]):
                break
        else:
            raise VaultError(f"could not draw an unused token in scope {scope!r} after {_ATTEMPTS} attempts")
        nonce = self.random_bytes(12)
        ciphertext = self._aead.encrypt(nonce, value.encode("utf-8"), _pack(scope, token))
        self.store.put(VaultEntry(scope, token, entity, index, nonce, ciphertext, now, now + self.ttl))
        return token

    def escape(self, text: str, *, scope: str) -> str:
        """``text`` with any token-like substring replaced by a token of its own, so that restore gives it back."""
        return TOKEN.sub(lambda m: self.tokenize(m.group(0), ESCAPED, scope=scope), text)

    def pseudonymise(self, text: str, spans: Iterable[tuple[int, int, str]], *, scope: str) -> str:
        """Replace each (start, end, entity) span (non-overlapping) by its token; escape token-like text around."""
        pieces: list[str] = []
        cursor = 0
        for start, end, entity in sorted(spans):
            if start < cursor:
                raise VaultError(f"spans overlap at {start}: resolve overlaps before pseudonymising")
            pieces.append(self.escape(text[cursor:start], scope=scope))
            pieces.append(self.tokenize(text[start:end], entity, scope=scope))
            cursor = end
        pieces.append(self.escape(text[cursor:], scope=scope))
        return "".join(pieces)

    def restore(self, text: str, *, scope: str) -> str:
        """Put the original values back in place of this scope's live tokens; everything else is unchanged."""
        return self.restore_report(text, scope=scope).text

    def restore_report(self, text: str, *, scope: str) -> Restored:
        tokens = {m.group(0) for m in TOKEN.finditer(text)}
        if not tokens:
            return Restored(text, 0, 0, 0)
        entries = self.store.get_many(scope, tokens)
        now = self.clock()
        counts = {"restored": 0, "expired": 0, "unknown": 0}
        values: dict[str, str] = {}

        def put_back(m: re.Match[str]) -> str:
            token = m.group(0)
            entry = entries.get(token)
            if entry is None:
                counts["unknown"] += 1
                return token
            if entry.expires_at <= now:
                counts["expired"] += 1
                return token
            if token not in values:
                values[token] = self._decrypt(entry)
            counts["restored"] += 1
            return values[token]

        restored = TOKEN.sub(put_back, text)  # one pass: restored values are never scanned again
        return Restored(restored, counts["restored"], counts["expired"], counts["unknown"])

    def purge_expired(self) -> int:
        return self.store.delete_expired(self.clock())

    def forget(self, scope: str) -> int:
        """Delete every entry of a scope (a conversation ended, a vendor offboarded)."""
        return self.store.delete_scope(scope)

    def _decrypt(self, entry: VaultEntry) -> str:
        try:
            return self._aead.decrypt(entry.nonce, entry.ciphertext, _pack(entry.scope, entry.token)).decode("utf-8")
        except InvalidTag as exc:
            raise VaultError(
                f"vault entry {entry.token} in scope {entry.scope!r} failed authentication: wrong key, or the row "
                "was altered or moved"
            ) from exc


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def _pack(*parts: str) -> bytes:
    """Unambiguous encoding of several strings (length-prefixed)."""
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8")
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)
