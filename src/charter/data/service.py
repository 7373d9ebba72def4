"""Dataset register use cases: register, change, expire (the retention sweep), record a deletion.

Each declares its permission, changes state, appends to the ledger; never commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.access.models import User
from charter.data import rules
from charter.data.models import Dataset, DeletionRecord
from charter.data.queries import get_dataset
from charter.data.schemas import DatasetCreate, DatasetUpdate, DeletionIn
from charter.evidence.models import Evidence
from charter.inventory.models import AISystem
from charter.kit.errors import Conflict, NotFound, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx


def _user_id(session: Session, username: str) -> int:
    uid = session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if uid is None:
        raise ValidationFailed(
            f"owner: no user named '{username}'", errors=[{"loc": ["body", "owner"], "msg": "unknown user"}]
        )
    return uid


def _check_systems(session: Session, keys: list[str]) -> None:
    if not keys:
        return
    known = set(session.execute(select(AISystem.key).where(AISystem.key.in_(keys))).scalars())
    missing = sorted(set(keys) - known)
    if missing:
        raise ValidationFailed(
            f"systems: no AI system with key {', '.join(repr(k) for k in missing)}; register it first "
            "(charter system register)",
            errors=[{"loc": ["body", "systems"], "msg": "unknown system"}],
        )


def snap(dataset: Dataset) -> dict[str, Any]:
    return snapshot(dataset, exclude=frozenset({"id"}))


def label(dataset: Dataset) -> str:
    return f"{dataset.namespace}/{dataset.name}"


def register_dataset(ctx: Ctx, data: DatasetCreate) -> Dataset:
    ctx.require("data:write")
    session = ctx.session
    taken = session.execute(
        select(Dataset.id).where(Dataset.namespace == data.namespace, Dataset.name == data.name)
    ).first()
    if taken:
        raise Conflict(f"dataset {data.name!r} in namespace {data.namespace!r} is registered already (id {taken[0]})")
    _check_systems(session, data.systems)
    owner_id = _user_id(session, data.owner) if data.owner else ctx.principal.user_id
    now = ctx.now()
    dataset = Dataset(
        **data.model_dump(exclude={"owner"}),
        owner_id=owner_id,
        status="active",
        retain_until=rules.retain_until(now, data.retention_days),
        created_at=now,
        updated_at=now,
        status_changed_at=now,
        version=1,
    )
    session.add(dataset)
    session.flush()
    ctx.record("dataset.registered", "dataset", label(dataset), after=snap(dataset))
    return dataset


def update_dataset(ctx: Ctx, dataset_id: int, data: DatasetUpdate) -> Dataset:
    ctx.require("data:write")
    dataset = get_dataset(ctx.session, dataset_id, for_update=True)
    if data.version != dataset.version:
        raise StaleVersion(f"dataset {label(dataset)}", data.version, dataset.version)
    if dataset.status == "deleted":
        raise Conflict(f"dataset {label(dataset)} is deleted: its register entry is kept as it was")
    changes = data.model_dump(exclude_unset=True, exclude={"version", "reason"})
    required = [k for k in ("purpose", "legal_basis", "classification", "pii_categories", "location") if k in changes]
    if cleared := [
        k for k in required if changes[k] is None
    ]:  # null means "no change" for a field that must hold a value
        raise ValidationFailed(
            f"{cleared[0]}: cannot be null; leave it out to keep the current value",
            errors=[{"loc": [k], "msg": "cannot be null"} for k in cleared],
        )
    if "owner" in changes:
        owner = changes.pop("owner")
        changes["owner_id"] = _user_id(ctx.session, owner) if owner else None
    if "systems" in changes:
        _check_systems(ctx.session, changes["systems"] or [])
    changes = {k: v for k, v in changes.items() if getattr(dataset, k) != v}
    if not changes:
        return dataset
    before = snap(dataset)
    for field, value in changes.items():
        setattr(dataset, field, value)
    if "retention_days" in changes:
        dataset.retain_until = rules.retain_until(dataset.created_at, dataset.retention_days)
    dataset.version += 1
    dataset.updated_at = ctx.now()
    ctx.session.flush()
    ctx.record("dataset.updated", "dataset", label(dataset), before=before, after=snap(dataset), reason=data.reason)
    return dataset


def expire_due(ctx: Ctx) -> list[str]:
    """Flag every active dataset past its retention period as expired (the retention sweep)."""
    ctx.require("data:write")
    now = ctx.now()
    due = ctx.session.execute(
        select(Dataset)
        .where(Dataset.status == "active", Dataset.retain_until.is_not(None), Dataset.retain_until <= now)
        .order_by(Dataset.id)
    ).scalars()
    flagged = []
    for dataset in list(due):
        rules.check_transition(label(dataset), dataset.status, "expired")
        before = snap(dataset)
        dataset.status = "expired"
        dataset.status_changed_at = now
        dataset.version += 1
        ctx.session.flush()
        ctx.record(
            "dataset.expired",
            "dataset",
            label(dataset),
            before=before,
            after=snap(dataset),
            reason=f"retention of {dataset.retention_days} days ended at {dataset.retain_until}",
        )
        flagged.append(label(dataset))
    return flagged


def record_deletion(ctx: Ctx, dataset_id: int, data: DeletionIn) -> DeletionRecord:
    """Who deleted what, when and how; the certificate (evidence) is named by id and its SHA-256 kept."""
    ctx.require("data:delete")
    dataset = get_dataset(ctx.session, dataset_id, for_update=True)
    if data.version != dataset.version:
        raise StaleVersion(f"dataset {label(dataset)}", data.version, dataset.version)
    rules.check_transition(label(dataset), dataset.status, "deleted")
    now = ctx.now()
    deleted_at = data.deleted_at or now
    if deleted_at > now:
        raise ValidationFailed(
            "deleted_at is in the future: record a deletion once it has happened",
            errors=[{"loc": ["body", "deleted_at"], "msg": "in the future"}],
        )
    certificate = None
    if data.evidence_id is not None:
        evidence = ctx.session.get(Evidence, data.evidence_id)
        if evidence is None:
            raise NotFound(f"no evidence with id {data.evidence_id}; upload the certificate first", entity="evidence")
        certificate = evidence.sha256
    record = DeletionRecord(
        dataset_id=dataset.id,
        method=data.method,
        description=data.description,
        deleted_at=deleted_at,
        deleted_by=ctx.principal.actor,
        recorded_at=now,
        evidence_id=data.evidence_id,
        certificate_sha256=certificate,
    )
    ctx.session.add(record)
    before = snap(dataset)
    dataset.status = "deleted"
    dataset.status_changed_at = now
    dataset.version += 1
    ctx.session.flush()
    ctx.record(
        "dataset.deleted",
        "dataset",
        label(dataset),
        before=before,
        after={**snap(dataset), "deletion": snapshot(record, exclude=frozenset({"id"}))},
        reason=data.description or None,
    )
    return record
