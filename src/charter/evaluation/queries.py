"""Evaluation reads: datasets, targets, runs with their items. Each checks `evals:read`; none writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.evaluation.datasets import DatasetVersion, Sample
from charter.evaluation.models import (
    EvalCalibration,
    EvalDataset,
    EvalDatasetVersion,
    EvalRun,
    EvalRunItem,
    EvalSchedule,
    EvalTarget,
)
from charter.evaluation.schemas import (
    CalibrationRead,
    DatasetRead,
    DatasetVersionRead,
    RunDetail,
    RunItemRead,
    RunRead,
    TargetRead,
)
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import NotFound, ValidationFailed
from charter.releases.models import Release

if TYPE_CHECKING:
    from charter.context import Ctx


def split_ref(ref: str) -> tuple[str, int | None]:
    """'name' or 'name@3' -> (name, version or None)."""
    name, at, version = ref.partition("@")
    if not at:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise ValidationFailed(f"dataset {ref!r}: the version after '@' must be a positive whole number")
    return name, int(version)


def get_dataset(session: Session, system_id: int, name: str) -> EvalDataset:
    found = session.execute(
        select(EvalDataset).where(EvalDataset.system_id == system_id, EvalDataset.name == name)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no evaluation dataset '{name}' for this system", entity="eval_dataset")
    return found


def get_version(session: Session, system_id: int, ref: str) -> tuple[EvalDataset, EvalDatasetVersion]:
    """The dataset version `name[@version]` names (the newest when no version is given)."""
    name, number = split_ref(ref)
    dataset = get_dataset(session, system_id, name)
    stmt = select(EvalDatasetVersion).where(EvalDatasetVersion.dataset_id == dataset.id)
    if number is None:
        stmt = stmt.order_by(EvalDatasetVersion.version.desc()).limit(1)
    else:
        stmt = stmt.where(EvalDatasetVersion.version == number)
    version = session.execute(stmt).scalar_one_or_none()
    if version is None:
        raise NotFound(f"dataset '{name}' has no version {number}", entity="eval_dataset_version")
    return dataset, version


def samples_of(version: EvalDatasetVersion) -> DatasetVersion:
    """The stored samples, checked against the stored content hash."""
    return DatasetVersion(tuple(Sample.model_validate(s) for s in version.samples), version.content_hash)


def version_read(system: str, dataset: EvalDataset, v: EvalDatasetVersion, new: bool = True) -> DatasetVersionRead:
    return DatasetVersionRead(
        system=system,
        name=dataset.name,
        version=v.version,
        content_hash=v.content_hash,
        samples=v.sample_count,
        source_format=v.source_format,
        created_at=v.created_at,
        created_by=v.created_by,
        new=new,
    )


def list_datasets(ctx: Ctx, system_key: str) -> list[DatasetRead]:
    ctx.require("evals:read")
    system = get_system(ctx.session, system_key)
    datasets = ctx.session.execute(
        select(EvalDataset).where(EvalDataset.system_id == system.id).order_by(EvalDataset.name)
    ).scalars()
    return [_dataset_read(ctx.session, system.key, d) for d in datasets]


def _dataset_read(session: Session, system_key: str, dataset: EvalDataset) -> DatasetRead:
    versions = session.execute(
        select(EvalDatasetVersion)
        .where(EvalDatasetVersion.dataset_id == dataset.id)
        .order_by(EvalDatasetVersion.version)
    ).scalars()
    return DatasetRead(
        system=system_key,
        name=dataset.name,
        description=dataset.description,
        versions=[version_read(system_key, dataset, v) for v in versions],
    )


def read_dataset(ctx: Ctx, system_key: str, name: str) -> DatasetRead:
    ctx.require("evals:read")
    system = get_system(ctx.session, system_key)
    return _dataset_read(ctx.session, system.key, get_dataset(ctx.session, system.id, name))


def dataset_samples(ctx: Ctx, system_key: str, ref: str) -> tuple[DatasetVersionRead, DatasetVersion]:
    ctx.require("evals:read")
    system = get_system(ctx.session, system_key)
    dataset, version = get_version(ctx.session, system.id, ref)
    return version_read(system.key, dataset, version), samples_of(version)


def get_target(session: Session, name: str) -> EvalTarget:
    found = session.execute(select(EvalTarget).where(EvalTarget.name == name)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no evaluation target '{name}'", entity="eval_target")
    return found


def latest_calibration(session: Session, judge_id: int) -> EvalCalibration | None:
    return session.execute(
        select(EvalCalibration).where(EvalCalibration.judge_id == judge_id).order_by(EvalCalibration.id.desc()).limit(1)
    ).scalar_one_or_none()


def calibration_read(c: EvalCalibration, judge: str) -> CalibrationRead:
    return CalibrationRead(
        id=c.id,
        judge=judge,
        scale=c.scale,
        n=c.n,
        stats=c.stats,
        source=c.source,
        created_at=c.created_at,
        created_by=c.created_by,
    )


def target_read(session: Session, t: EvalTarget) -> TargetRead:
    calibration = latest_calibration(session, t.id)
    return TargetRead(
        name=t.name,
        kind=t.kind,
        config=t.config,
        description=t.description,
        version=t.version,
        created_at=t.created_at,
        created_by=t.created_by,
        calibration=calibration_read(calibration, t.name).model_dump(mode="json") if calibration else None,
    )


def list_targets(ctx: Ctx) -> list[TargetRead]:
    ctx.require("evals:read")
    targets = ctx.session.execute(select(EvalTarget).order_by(EvalTarget.name)).scalars()
    return [target_read(ctx.session, t) for t in targets]


def read_target(ctx: Ctx, name: str) -> TargetRead:
    ctx.require("evals:read")
    return target_read(ctx.session, get_target(ctx.session, name))


def get_run(session: Session, run_id: int) -> EvalRun:
    run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFound(f"no evaluation run {run_id}", entity="eval_run")
    return run


def run_read(session: Session, run: EvalRun) -> RunRead:
    version = session.get(EvalDatasetVersion, run.dataset_version_id)
    assert version is not None
    dataset = session.get(EvalDataset, version.dataset_id)
    target = session.get(EvalTarget, run.target_id)
    system = session.get(AISystem, run.system_id)
    release = session.get(Release, run.release_id) if run.release_id else None
    schedule = session.get(EvalSchedule, run.schedule_id) if run.schedule_id else None
    assert dataset is not None and target is not None and system is not None
    return RunRead(
        id=run.id,
        system=system.key,
        dataset=dataset.name,
        dataset_version=version.version,
        dataset_hash=version.content_hash,
        target=target.name,
        release=release.version if release else None,
        schedule=schedule.name if schedule else None,
        scorers=run.scorers,
        status=run.status,
        planned=run.planned,
        completed=run.completed,
        errored=run.errored,
        summary=run.summary,
        pass_threshold=run.pass_threshold,
        passed=run.passed,
        error=run.error,
        created_at=run.created_at,
        created_by=run.created_by,
        started_at=run.started_at,
        finished_at=run.finished_at,
        version=run.version,
    )


def read_run(ctx: Ctx, run_id: int, *, items: bool = False) -> RunRead | RunDetail:
    ctx.require("evals:read")
    run = get_run(ctx.session, run_id)
    base = run_read(ctx.session, run)
    if not items:
        return base
    version = ctx.session.get(EvalDatasetVersion, run.dataset_version_id)
    assert version is not None
    samples = {s["id"]: s for s in version.samples}
    rows = ctx.session.execute(
        select(EvalRunItem).where(EvalRunItem.run_id == run.id).order_by(EvalRunItem.epoch, EvalRunItem.id)
    ).scalars()
    return RunDetail(**base.model_dump(), items=[_item_read(r, samples.get(r.sample_id, {})) for r in rows])


def _item_read(r: EvalRunItem, sample: dict[str, Any]) -> RunItemRead:
    return RunItemRead(
        sample_id=r.sample_id,
        epoch=r.epoch,
        status=r.status,
        input=sample.get("input"),
        expected=list(sample.get("expected") or []),
        reference=sample.get("reference"),
        output=r.output,
        error=r.error,
        attempts=r.attempts,
        latency_ms=r.latency_ms,
        tokens_in=r.tokens_in,
        tokens_out=r.tokens_out,
        cost=r.cost,
        scores=r.scores or {},
    )


def list_runs(ctx: Ctx, system_key: str | None = None, limit: int = 100) -> list[RunRead]:
    ctx.require("evals:read")
    stmt = select(EvalRun).order_by(EvalRun.id.desc()).limit(limit)
    if system_key:
        stmt = stmt.where(EvalRun.system_id == get_system(ctx.session, system_key).id)
    return [run_read(ctx.session, r) for r in ctx.session.execute(stmt).scalars()]


def done_pairs(session: Session, run_id: int) -> set[tuple[str, int]]:
    rows = session.execute(select(EvalRunItem.sample_id, EvalRunItem.epoch).where(EvalRunItem.run_id == run_id))
    return {(s, e) for s, e in rows}
