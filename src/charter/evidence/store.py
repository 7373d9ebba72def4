"""Where evidence files live: a small store interface, content-addressed by SHA-256.

`LocalFileStore` keeps each distinct content once under <evidence_dir>/ab/cd/<sha256>. Another
backend (an S3 bucket, say) implements the same three methods and is returned by `store_for`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from charter.kit.settings import Settings

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False: the same content was already stored


class BlobTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class EvidenceStore(Protocol):
    def put(self, chunks: Iterable[bytes], max_bytes: int) -> StoredBlob:
        """Store the content unless it exceeds max_bytes (then raise BlobTooLarge, storing nothing)."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def read(self, sha256: str) -> Iterator[bytes]:
        """The content in chunks; FileNotFoundError when it is missing."""
        ...


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, chunks: Iterable[bytes], max_bytes: int) -> StoredBlob:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self._path(sha)
            if final.exists():
                tmp.unlink()
                return StoredBlob(sha, size, created=False)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.chmod(0o440)
            os.replace(tmp, final)  # atomic; a concurrent writer of the same content writes the same bytes
            return StoredBlob(sha, size, created=True)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def read(self, sha256: str) -> Iterator[bytes]:
        with self._path(sha256).open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk


def store_for(settings: Settings) -> EvidenceStore:
    """The configured store. Today: the local file system under CHARTER_DATA_DIR/evidence."""
    return LocalFileStore(settings.evidence_dir)
