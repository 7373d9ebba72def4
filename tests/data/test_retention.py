"""Retention: the sweep flags datasets past their retention period; a deletion is recorded with who, when, how and
the certificate as evidence, in the ledger; illegal moves and bad input change nothing."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from charter.data import service
from charter.data.models import DeletionRecord, VaultRow
from charter.data.pii_service import vault
from charter.data.schemas import DatasetUpdate, DeletionIn
from charter.data.sweeps import sweep
from charter.kit.errors import Conflict, IllegalTransition, PermissionDenied, ValidationFailed
from charter.kit.principal import SYSTEM
from charter.ledger.models import LedgerEntry

from .conftest import register


def count(session: Any, model: Any) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_the_sweep_flags_only_datasets_past_their_retention_period(actors: Any, clock: Any) -> None:
    short = register(actors, "raw/tickets", retention_days=30)
    register(actors, "raw/forever")  # no retention period: kept until deleted by decision
    long = register(actors, "features", retention_days=365)
    clock.advance(days=29)
    assert sweep(actors.ctx("admin").acting_as(SYSTEM))["expired_datasets"] == []
    clock.advance(days=2)
    result = sweep(actors.ctx("admin").acting_as(SYSTEM))
    assert result["expired_datasets"] == ["s3://acme-lake/raw/tickets"]
    assert (short.status, long.status) == ("expired", "active")
    entry = actors.session.execute(select(LedgerEntry).where(LedgerEntry.action == "dataset.expired")).scalar_one()
    assert entry.actor == "system:charter" and "retention of 30 days ended" in entry.reason
    assert sweep(actors.ctx("admin").acting_as(SYSTEM))["expired_datasets"] == []  # flagged once


def test_a_deletion_records_who_when_how_and_the_certificate(actors: Any, clock: Any) -> None:
    from charter.evidence.service import add_file

    dataset = register(actors, "raw/tickets", retention_days=1)
    clock.advance(days=2)
    service.expire_due(actors.ctx("admin"))
    certificate = b"Certificate of destruction: bucket s3://acme-lake/raw/tickets wiped 2026-01-03 by ACME Ops\n"
    evidence = add_file(actors.ctx("governance"), io.BytesIO(certificate), "certificate.txt")
    deleted_at = clock.now() - timedelta(hours=3)
    record = service.record_deletion(
        actors.ctx("governance"),
        dataset.id,
        DeletionIn(method="crypto_erase", deleted_at=deleted_at, description="keys destroyed in KMS",
                   evidence_id=evidence.id, version=dataset.version),
    )  # fmt: skip
    assert (record.deleted_by, record.method, record.deleted_at) == ("user:governance", "crypto_erase", deleted_at)
    assert record.certificate_sha256 == hashlib.sha256(certificate).hexdigest()
    assert dataset.status == "deleted"
    entry = actors.session.execute(select(LedgerEntry).where(LedgerEntry.action == "dataset.deleted")).scalar_one()
    assert entry.after["deletion"]["certificate_sha256"] == record.certificate_sha256
    with pytest.raises(IllegalTransition, match="final state"):
        service.record_deletion(
            actors.ctx("governance"), dataset.id, DeletionIn(method="overwrite", version=dataset.version)
        )
    with pytest.raises(Conflict, match="deleted"):
        service.update_dataset(
            actors.ctx("governance"), dataset.id, DatasetUpdate(version=dataset.version, purpose="x")
        )


def test_bad_deletions_are_refused_and_change_nothing(actors: Any, clock: Any) -> None:
    dataset = register(actors, "raw/tickets")
    with pytest.raises(PermissionDenied):  # an engineer may not record deletions
        service.record_deletion(actors.ctx("engineer"), dataset.id, DeletionIn(method="overwrite", version=1))
    with pytest.raises(ValidationFailed, match="in the future"):
        service.record_deletion(
            actors.ctx("governance"), dataset.id,
            DeletionIn(method="overwrite", version=1, deleted_at=clock.now() + timedelta(days=1)),
        )  # fmt: skip
    with pytest.raises(Exception, match="no evidence with id 999"):
        service.record_deletion(
            actors.ctx("governance"), dataset.id, DeletionIn(method="overwrite", version=1, evidence_id=999)
        )
    assert dataset.status == "active" and count(actors.session, DeletionRecord) == 0


def test_the_sweep_purges_vault_entries_past_their_ttl(actors: Any, clock: Any) -> None:
    ctx = actors.ctx("engineer")
    v = vault(ctx, ttl=timedelta(minutes=10))
    v.tokenize("jane@example.com", "EMAIL_ADDRESS", scope="c1")
    clock.advance(minutes=5)
    v.tokenize("bob@example.com", "EMAIL_ADDRESS", scope="c1")
    clock.advance(minutes=6)
    assert sweep(actors.ctx("admin").acting_as(SYSTEM))["vault_entries_purged"] == 1
    assert count(actors.session, VaultRow) == 1


def test_deleting_through_the_cli_uploads_the_certificate(cli: Any, actors: Any, tmp_path: Path) -> None:
    register(actors, "raw/tickets")
    actors.session.commit()
    certificate = tmp_path / "certificate.txt"
    certificate.write_text("wiped\n")
    result = cli(
        "governance", "data", "delete", "raw/tickets", "--namespace", "s3://acme-lake", "--method", "storage_delete",
        "--certificate", str(certificate), "--description", "bucket prefix removed",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "recorded the deletion of s3://acme-lake/raw/tickets by user:governance (storage_delete)" in result.output
    shown = cli("auditor", "data", "show", "raw/tickets", "--namespace", "s3://acme-lake", "--json")
    data = json.loads(shown.output)
    assert data["status"] == "deleted"
    assert data["deletions"][0]["certificate_sha256"] == hashlib.sha256(b"wiped\n").hexdigest()
