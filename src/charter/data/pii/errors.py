"""Errors raised by the PII library. Each message says what was wrong, where, and what is allowed."""

from __future__ import annotations


class PiiError(ValueError):
    """Base class: bad input to the PII library (a file, a policy, a token, a key)."""


class ScanError(PiiError):
    """A file could not be scanned to the end. ``records`` is how many records were fully scanned before it."""

    def __init__(self, message: str, *, line: int | None = None, records: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.records = records


class BinaryFileError(ScanError):
    """The input holds NUL bytes: it is binary (or UTF-16/32, which needs an explicit encoding)."""


class EncodingError(ScanError):
    """A line could not be decoded with the requested encoding."""


class LineTooLongError(ScanError):
    """A physical line is longer than the configured limit."""


class CsvFormatError(ScanError):
    """The CSV is malformed (unterminated quote, wrong number of fields, oversize field)."""


class JsonlFormatError(ScanError):
    """A JSON Lines record is not valid JSON, or not an object where a field was asked for."""


class UnknownFieldError(ScanError):
    """The requested column / field does not exist in the input."""


class UnknownFormatError(PiiError):
    """The requested input format is not one of text, csv, jsonl."""


class PolicyError(PiiError):
    """An egress policy names an unknown entity type or action, or cannot be applied as configured."""


class VaultError(PiiError):
    """The vault was misconfigured (key size, TTL) or a stored entry failed authentication."""
