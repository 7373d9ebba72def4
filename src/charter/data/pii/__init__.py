"""PII detection, streamed scanning, audit, the egress guard and the reversible vault: the pure core of the
``data`` module (no database, no web, no network). Entity names follow Presidio's.

    from charter.data.pii import Detector, Scanner, audit, EgressPolicy, Guard, Vault, MemoryVaultStore

- :class:`Detector` - always-on detectors (regex pre-filters, checksums via python-stdnum, phone numbers via
  phonenumbers, context words); :func:`default_detector` shares one.
- :func:`nlp_status` / :class:`Analyzer` - the optional PERSON / LOCATION backend (Presidio + an installed spaCy
  model) and the analyzer that says which entity types were not looked for.
- :class:`Scanner`, :func:`write_jsonl` - text / CSV / JSON Lines of any size, streamed.
- :func:`audit` - counts per column and entity type with masked examples.
- :class:`EgressPolicy`, :class:`Guard` - per-vendor block / redact / mask / hash / pseudonymise / allow.
- :class:`Vault`, :class:`VaultStore`, :class:`MemoryVaultStore` - tokens <-> AES-GCM-encrypted values, with a TTL.
"""

from charter.data.pii.audit import AuditReport, AuditRow, audit
from charter.data.pii.catalog import DEFAULT_THRESHOLD, ENTITIES, NLP_ENTITIES
from charter.data.pii.detectors import Detector, default_detector
from charter.data.pii.errors import (
    BinaryFileError,
    CsvFormatError,
    EncodingError,
    JsonlFormatError,
    LineTooLongError,
    PiiError,
    PolicyError,
    ScanError,
    UnknownFieldError,
    UnknownFormatError,
    VaultError,
)
from charter.data.pii.guard import ACTIONS, EgressPolicy, Guard, GuardResult
from charter.data.pii.masking import mask_value
from charter.data.pii.nlp import Analyzer, NlpBackend, NlpStatus, default_analyzer, nlp_status
from charter.data.pii.scan import FieldSpans, Scanner, ScanRecord, ScanSummary, detect_format, write_jsonl
from charter.data.pii.spans import Span
from charter.data.pii.vault import MemoryVaultStore, Restored, Vault, VaultEntry, VaultStore

__all__ = [
    "ACTIONS",
    "DEFAULT_THRESHOLD",
    "ENTITIES",
    "NLP_ENTITIES",
    "Analyzer",
    "AuditReport",
    "AuditRow",
    "BinaryFileError",
    "CsvFormatError",
    "Detector",
    "EgressPolicy",
    "EncodingError",
    "FieldSpans",
    "Guard",
    "GuardResult",
    "JsonlFormatError",
    "LineTooLongError",
    "MemoryVaultStore",
    "NlpBackend",
    "NlpStatus",
    "PiiError",
    "PolicyError",
    "Restored",
    "ScanError",
    "ScanRecord",
    "ScanSummary",
    "Scanner",
    "Span",
    "UnknownFieldError",
    "UnknownFormatError",
    "Vault",
    "VaultEntry",
    "VaultError",
    "VaultStore",
    "audit",
    "default_analyzer",
    "default_detector",
    "detect_format",
    "mask_value",
    "nlp_status",
    "write_jsonl",
]
