"""Data governance tables: the dataset register, the stored lineage graph (the rows of charter.data.lineage.rows),
retention and deletion records, PII audits, egress policies and the pseudonymisation vault."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned

NAME = 1000  # OpenLineage names and namespaces are URIs and paths: generous, but bounded


class Dataset(Versioned, Base):
    """A registered dataset, named as OpenLineage names it (namespace = the data source, name = its path)."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace: Mapped[str] = mapped_column(String(NAME))
    name: Mapped[str] = mapped_column(String(NAME))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(String(40))
    classification: Mapped[str] = mapped_column(String(20), index=True)
    pii_categories: Mapped[Any] = mapped_column(JSON, default=list)
    location: Mapped[str] = mapped_column(String(NAME), default="")
    retention_days: Mapped[int | None]
    systems: Mapped[Any] = mapped_column(JSON, default=list)  # keys of the AI systems that use it
    status: Mapped[str] = mapped_column(String(20), index=True, default="active")
    retain_until: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]


class DeletionRecord(Base):
    """Who deleted a dataset, when and how, with the certificate kept as evidence. Never changed."""

    __tablename__ = "dataset_deletions"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    method: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    deleted_at: Mapped[datetime]  # when the data was deleted (as reported)
    deleted_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime]
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))


class LineageEvent(Base):
    """Each accepted OpenLineage event, once (a retried event is recognised by the SHA-256 of its JSON)."""

    __tablename__ = "lineage_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    event_type: Mapped[str | None] = mapped_column(String(20))
    event_time: Mapped[datetime] = mapped_column(index=True)
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    job_namespace: Mapped[str | None] = mapped_column(String(NAME))
    job_name: Mapped[str | None] = mapped_column(String(NAME))
    producer: Mapped[str] = mapped_column(String(NAME), default="")
    received_at: Mapped[datetime]
    received_by: Mapped[str] = mapped_column(String(200))
    payload: Mapped[Any] = mapped_column(JSON)


class LineageDataset(Base):
    __tablename__ = "lineage_datasets"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace: Mapped[str] = mapped_column(String(NAME))
    name: Mapped[str] = mapped_column(String(NAME))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class LineageJob(Base):
    __tablename__ = "lineage_jobs"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    namespace: Mapped[str] = mapped_column(String(NAME))
    name: Mapped[str] = mapped_column(String(NAME))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class LineageRun(Base):
    __tablename__ = "lineage_runs"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_namespace: Mapped[str] = mapped_column(String(NAME))
    job_name: Mapped[str] = mapped_column(String(NAME))
    state: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    parent_run_id: Mapped[str | None] = mapped_column(String(36))


class LineageEdge(Base):
    __tablename__ = "lineage_edges"
    # unique by a digest of (direction, job namespace, job name, dataset namespace, dataset name): index size limits
    __table_args__ = (Index("ix_lineage_edges_dataset", "dataset_namespace", "dataset_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(6))
    job_namespace: Mapped[str] = mapped_column(String(NAME))
    job_name: Mapped[str] = mapped_column(String(NAME))
    dataset_namespace: Mapped[str] = mapped_column(String(NAME))
    dataset_name: Mapped[str] = mapped_column(String(NAME))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    last_run_id: Mapped[str] = mapped_column(String(36), default="")


class LineageColumnEdge(Base):
    __tablename__ = "lineage_column_edges"
    # the natural key is ten strings: a digest of it is the unique key (index size limits on PostgreSQL)
    __table_args__ = (Index("ix_lineage_column_edges_output", "output_namespace", "output_name", "output_field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    output_namespace: Mapped[str] = mapped_column(String(NAME))
    output_name: Mapped[str] = mapped_column(String(NAME))
    output_field: Mapped[str] = mapped_column(String(NAME))
    input_namespace: Mapped[str] = mapped_column(String(NAME))
    input_name: Mapped[str] = mapped_column(String(NAME))
    input_field: Mapped[str] = mapped_column(String(NAME))
    transformation_type: Mapped[str] = mapped_column(String(40))
    transformation_subtype: Mapped[str] = mapped_column(String(40))
    job_namespace: Mapped[str] = mapped_column(String(NAME))
    job_name: Mapped[str] = mapped_column(String(NAME))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    description: Mapped[str | None] = mapped_column(Text)
    masking: Mapped[bool | None] = mapped_column(Boolean)


class PiiAudit(Base):
    """A PII audit of a file (seed 003 phase 1): counts per column and entity type, masked examples only."""

    __tablename__ = "pii_audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"), index=True)
    source: Mapped[str] = mapped_column(String(NAME))
    format: Mapped[str] = mapped_column(String(10))
    records: Mapped[int]
    records_with_pii: Mapped[int]
    entities: Mapped[Any] = mapped_column(JSON)  # entity -> count
    report: Mapped[Any] = mapped_column(JSON)  # AuditReport.to_dict()
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_runs.id"))
    item_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class EgressPolicy(Versioned, Base):
    """What may leave for one vendor: entity type -> block / redact / mask / hash / pseudonymise / allow."""

    __tablename__ = "pii_egress_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor: Mapped[str] = mapped_column(String(200), unique=True)
    document: Mapped[Any] = mapped_column(JSON)  # charter.data.pii.EgressPolicy.to_dict()
    ttl_seconds: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VaultRow(Base):
    """One pseudonym: token <-> AES-GCM-encrypted value, found by a keyed blind index, until it expires."""

    __tablename__ = "pii_vault_entries"
    __table_args__ = (UniqueConstraint("scope", "token"), Index("ix_pii_vault_entries_index", "scope", "blind_index"))

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(200))
    token: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(40))
    blind_index: Mapped[bytes] = mapped_column(LargeBinary(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
