"""The dataset register: service rules, the API, permissions, ledger entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from charter.data import service
from charter.data.models import Dataset
from charter.data.schemas import DatasetUpdate
from charter.kit.errors import Conflict, PermissionDenied, StaleVersion, ValidationFailed
from charter.ledger.models import LedgerEntry

from .conftest import register

BODY = {
    "namespace": "s3://acme-lake",
    "name": "raw/tickets",
    "legal_basis": "contract",
    "classification": "confidential",
    "pii_categories": ["EMAIL_ADDRESS", "PHONE_NUMBER"],
    "retention_days": 30,
    "systems": ["support-chatbot"],
}


def _count(session: Any) -> int:
    return int(session.execute(select(func.count()).select_from(Dataset)).scalar_one())


def test_registering_a_dataset_records_it_with_its_retention_deadline_in_the_ledger(actors, systems, clock) -> None:
    dataset = register(
        actors, "raw/tickets", retention_days=30, systems=["support-chatbot"], pii_categories=["EMAIL_ADDRESS"]
    )
    assert dataset.status == "active"
    assert dataset.retain_until == clock.now() + timedelta(days=30)
    entry = actors.session.execute(select(LedgerEntry).where(LedgerEntry.action == "dataset.registered")).scalar_one()
    assert entry.entity_id == "s3://acme-lake/raw/tickets"
    assert entry.actor == "user:engineer"


def test_the_same_namespace_and_name_cannot_be_registered_twice(actors) -> None:
    register(actors, "raw")
    with pytest.raises(Conflict, match="registered already"):
        register(actors, "raw")
    register(actors, "raw", namespace="s3://other")  # another namespace is another dataset


def test_unknown_systems_and_pii_categories_are_refused_and_nothing_is_stored(actors, client_for, systems) -> None:
    before = _count(actors.session)
    with pytest.raises(ValidationFailed, match="no AI system with key 'nope'"):
        register(actors, "raw", systems=["support-chatbot", "nope"])
    answer = client_for("engineer").post("/api/v1/datasets", json={**BODY, "pii_categories": ["EMAIL"]})
    assert answer.status_code == 422
    assert "unknown PII category EMAIL" in answer.text and "EMAIL_ADDRESS" in answer.text
    answer = client_for("engineer").post("/api/v1/datasets", json={**BODY, "classification": "secret"})
    assert answer.status_code == 422 and "restricted" in answer.text
    assert _count(actors.session) == before


def test_a_viewer_reads_the_register_but_cannot_write_it(client_for, systems) -> None:
    created = client_for("engineer").post("/api/v1/datasets", json=BODY)
    assert created.status_code == 201, created.text
    viewer = client_for("viewer")
    assert viewer.post("/api/v1/datasets", json={**BODY, "name": "other"}).status_code == 403
    listed = viewer.get("/api/v1/datasets", params={"namespace": "s3://acme-lake"}).json()["items"]
    assert [(d["name"], d["owner"], d["systems"]) for d in listed] == [("raw/tickets", "engineer", ["support-chatbot"])]


def test_updates_need_the_current_version_and_recompute_the_retention_deadline(actors, clock) -> None:
    dataset = register(actors, "raw", retention_days=10)
    with pytest.raises(StaleVersion):
        service.update_dataset(actors.ctx("engineer"), dataset.id, DatasetUpdate(version=7, purpose="x"))
    changed = service.update_dataset(
        actors.ctx("engineer"), dataset.id, DatasetUpdate(version=1, retention_days=20, reason="legal asked for 20")
    )
    assert changed.version == 2
    assert changed.retain_until == dataset.created_at + timedelta(days=20)
    same = service.update_dataset(actors.ctx("engineer"), dataset.id, DatasetUpdate(version=2, retention_days=20))
    assert same.version == 2  # nothing changed: no new version, no ledger entry


def test_a_viewer_cannot_register(actors) -> None:
    with pytest.raises(PermissionDenied):
        register(actors, "raw", role="viewer")


def test_null_for_a_field_that_must_hold_a_value_is_a_422_not_a_500(client_for, systems) -> None:  # type: ignore[no-untyped-def]
    """Found by `make fuzz` (issue 12): PATCH with "classification": null answered 500."""
    c = client_for("engineer")
    created = c.post("/api/v1/datasets", json=BODY).json()
    for field in ("classification", "legal_basis", "purpose", "location", "pii_categories"):
        r = c.patch(f"/api/v1/datasets/{created['id']}", json={"version": created["version"], field: None})
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == f"{field}: cannot be null; leave it out to keep the current value"
    assert c.get(f"/api/v1/datasets/{created['id']}").json()["version"] == created["version"]
