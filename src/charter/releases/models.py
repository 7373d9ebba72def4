"""Release tables. Releases and artifacts are immutable; pointer moves and verifications are append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class Release(Base):
    """An immutable, numbered version of a system: artifacts plus a change record, bound by content_hash."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("system_id", "version", name="uq_releases_system_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    change_summary: Mapped[str] = mapped_column(Text)
    change_type: Mapped[str] = mapped_column(String(30))
    expected_impact: Mapped[str] = mapped_column(Text, default="")
    risk_keys: Mapped[Any] = mapped_column(JSON, default=list)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime]


class ReleaseArtifact(Base):
    __tablename__ = "release_artifacts"
    __table_args__ = (
        UniqueConstraint("release_id", "kind", "name", name="uq_release_artifacts_release_kind_name"),
        Index("ix_release_artifacts_system_sha256", "system_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    uri: Mapped[str] = mapped_column(String(2000))
    sha256: Mapped[str] = mapped_column(String(64))


class ReleaseStage(Versioned, Base):
    """The status of one release at one stage. At most one 'deployed' row per (system, stage): a partial
    unique index enforces it in the database, under the deployment pointer's lock."""

    __tablename__ = "release_stages"
    __table_args__ = (
        UniqueConstraint("release_id", "stage", name="uq_release_stages_release_stage"),
        Index(
            "uq_release_stages_one_deployed",
            "system_id",
            "stage",
            unique=True,
            sqlite_where=text("status = 'deployed'"),
            postgresql_where=text("status = 'deployed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    stage: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)


class ReleaseApproval(Base):
    """One approver's decision on a release for a stage, bound to the release content hash it saw."""

    __tablename__ = "release_approvals"
    __table_args__ = (
        UniqueConstraint("release_id", "stage", "username", name="uq_release_approvals_release_stage_username"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    decision: Mapped[str] = mapped_column(String(10))  # approve | reject
    comment: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime]


class DeploymentPointer(Base):
    """Which release is deployed at (system, stage) now. One row per pair, moved only under its row lock."""

    __tablename__ = "deployment_pointers"

    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(20), primary_key=True)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    moves: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class Deployment(Base):
    """Append-only history of every pointer move: what was deployed where, when, by whom and why."""

    __tablename__ = "deployments"
    __table_args__ = (Index("ix_deployments_system_stage_at", "system_id", "stage", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    stage: Mapped[str] = mapped_column(String(20))
    from_release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    to_release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    kind: Mapped[str] = mapped_column(String(20))  # promote | rollback | emergency | withdraw
    actor: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    incident_key: Mapped[str | None] = mapped_column(String(64))
    gate_evaluation_id: Mapped[int | None]
    runbook: Mapped[Any] = mapped_column(JSON, nullable=True)


class DeploymentVerification(Base):
    """A serving system asked whether its artifact is the deployed one. Failures are possible shadow deployments."""

    __tablename__ = "deployment_verifications"
    __table_args__ = (Index("ix_deployment_verifications_system_flagged", "system_id", "flagged"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    stage: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(20))  # match | mismatch | unknown_artifact
    deployed_release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    artifact_versions: Mapped[Any] = mapped_column(JSON, default=list)
    caller: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)


class ReleaseStageConfig(Versioned, Base):
    """The release stages a system goes through (default: sandbox, pilot, production)."""

    __tablename__ = "release_stage_configs"

    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), primary_key=True)
    stages: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class GateEvaluation(Base):
    """Evidence: the policies (name + version) a gate used, the facts it saw and each rule's result."""

    __tablename__ = "gate_evaluations"
    __table_args__ = (Index("ix_gate_evaluations_release_stage", "release_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    stage: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))  # check | promotion
    policies: Mapped[Any] = mapped_column(JSON)
    facts: Mapped[Any] = mapped_column(JSON)
    results: Mapped[Any] = mapped_column(JSON)
    passed: Mapped[bool] = mapped_column(Boolean)
    digest: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    evaluated_at: Mapped[datetime]


def _refuse_update(_mapper: Any, _connection: Any, target: Any) -> None:
    raise RuntimeError(f"{type(target).__name__} is immutable: a new change is a new release")


event.listen(Release, "before_update", _refuse_update)
event.listen(ReleaseArtifact, "before_update", _refuse_update)
event.listen(ReleaseApproval, "before_update", _refuse_update)
event.listen(Deployment, "before_update", _refuse_update)
event.listen(DeploymentVerification, "before_update", _refuse_update)
event.listen(GateEvaluation, "before_update", _refuse_update)
