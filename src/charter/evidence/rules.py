"""Pure evidence rules: what type a file really is, whether it is allowed, whether it has expired.

The type comes from the file's content (magic bytes) checked against its extension; the client's
Content-Type header is never trusted. A file whose extension names one type and whose content is
another is refused, so a renamed executable cannot pass as a PDF.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import PurePosixPath
from typing import Final

from charter.kit.errors import ValidationFailed

HEAD_BYTES: Final = 8192

# Extension → media type, for the types Charter can recognise.
EXTENSIONS: Final[dict[str, str]] = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".html": "text/html",
    ".htm": "text/html",
    ".svg": "image/svg+xml",
    ".xml": "application/xml",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".exe": "application/x-msdownload",
    ".dll": "application/x-msdownload",
}

# Content signatures → media type. Order matters only where one signature prefixes another.
MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/x-msdownload"),
    (b"\xca\xfe\xba\xbe", "application/x-mach-binary"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
)
OOXML: Final = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
TEXT_TYPES: Final = frozenset(
    {
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
        "application/yaml",
        "text/html",
        "image/svg+xml",
        "application/xml",
    }
)


def extension_type(filename: str) -> str | None:
    return EXTENSIONS.get(PurePosixPath(filename.replace("\\", "/")).suffix.lower())


def _magic_type(head: bytes) -> str | None:
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for sig, kind in MAGIC if head.startswith(sig)), None)


def looks_like_text(head: bytes) -> bool:
    """UTF-8 without NUL bytes (a multi-byte character cut at the end of the head is fine)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def detect_type(head: bytes, filename: str) -> str:
    """The media type of a file from its first bytes and its name; refuse contradictions."""
    by_ext = extension_type(filename)
    by_magic = _magic_type(head)
    if by_magic == "application/zip" and by_ext in OOXML:
        return by_ext  # .docx / .xlsx / .pptx are zip containers
    if by_magic is not None:
        if by_ext is not None and by_ext != by_magic:
            raise ValidationFailed(
                f"'{filename}' is named like {by_ext} but its content is {by_magic}; "
                "rename it or upload the right file",
                errors=[{"loc": ["file"], "msg": "extension and content disagree", "content_type": by_magic}],
            )
        return by_magic
    if looks_like_text(head):
        if by_ext is None:
            return "text/plain"
        if by_ext in TEXT_TYPES:
            return by_ext
        raise ValidationFailed(
            f"'{filename}' is named like {by_ext} but its content is plain text",
            errors=[{"loc": ["file"], "msg": "extension and content disagree", "content_type": "text/plain"}],
        )
    if by_ext is not None:
        raise ValidationFailed(
            f"'{filename}' is named like {by_ext} but its content is not recognisable as one",
            errors=[{"loc": ["file"], "msg": "content not recognised", "content_type": "application/octet-stream"}],
        )
    return "application/octet-stream"


def check_allowed(media_type: str, filename: str, allowed: Iterable[str]) -> None:
    allowed_list = sorted(set(allowed))
    if media_type not in allowed_list:
        raise ValidationFailed(
            f"'{filename}' is {media_type}, which is not an allowed evidence type; allowed: "
            f"{', '.join(allowed_list)} (CHARTER_EVIDENCE_ALLOWED_TYPES)",
            errors=[{"loc": ["file"], "msg": "type not allowed", "content_type": media_type, "allowed": allowed_list}],
        )


def too_large_message(filename: str, limit: int) -> str:
    return (
        f"'{filename}' is larger than the evidence size limit of {limit} bytes "
        f"({limit / 1_048_576:.1f} MiB, CHARTER_EVIDENCE_MAX_BYTES); nothing was stored"
    )


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def safe_filename(filename: str) -> str:
    """The last path component, without control characters or quotes (used in Content-Disposition)."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '"\r\n;')
    return cleaned[:255] or "evidence"
