"""Pure data-governance rules: the register's vocabularies, the dataset status table, retention deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from charter.kit.errors import IllegalTransition

Classification = Literal["public", "internal", "confidential", "restricted"]
CLASSIFICATIONS: Final[tuple[Classification, ...]] = get_args(Classification)

# GDPR Art. 6(1) lawful bases, plus "not_personal" for data without personal data.
LegalBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests", "not_personal"
]
LEGAL_BASES: Final[tuple[LegalBasis, ...]] = get_args(LegalBasis)

# active: in use; expired: past its retention period (the sweeper flags it), to be deleted;
# deleted: a deletion record (who, when, how, certificate) exists. A deleted dataset stays in the register.
DatasetStatus = Literal["active", "expired", "deleted"]
DATASET_STATUSES: Final[tuple[DatasetStatus, ...]] = get_args(DatasetStatus)
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "active": frozenset({"expired", "deleted"}),
    "expired": frozenset({"deleted"}),
    "deleted": frozenset(),
}

DeletionMethod = Literal["crypto_erase", "overwrite", "storage_delete", "physical_destruction", "vendor_certificate"]
DELETION_METHODS: Final[tuple[DeletionMethod, ...]] = get_args(DeletionMethod)

LineageDirection = Literal["upstream", "downstream"]


def check_transition(dataset: str, current: str, target: str) -> None:
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        raise IllegalTransition(f"dataset {dataset}", current, target, allowed)


def retain_until(created_at: datetime, retention_days: int | None) -> datetime | None:
    """The moment a dataset's retention period ends (None: kept until deleted by decision)."""
    return None if retention_days is None else created_at + timedelta(days=retention_days)


def is_past_retention(retain_until: datetime | None, now: datetime) -> bool:
    return retain_until is not None and retain_until <= now
