"""Evaluation use cases that change state: import a dataset version, add a target, store a judge calibration.

Each declares its permission, changes state, appends to the ledger, flushes; never commits. Runs: runs.py;
benchmarks: benchmarks.py; schedules: schedules.py.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from charter.evaluation import rules
from charter.evaluation.agreement import calibrate
from charter.evaluation.dataset_files import load_dataset
from charter.evaluation.datasets import DatasetError
from charter.evaluation.models import EvalCalibration, EvalDataset, EvalDatasetVersion, EvalTarget
from charter.evaluation.queries import calibration_read, get_target, version_read
from charter.evaluation.schemas import (
    CalibrationCreate,
    CalibrationRead,
    DatasetImport,
    DatasetVersionRead,
    TargetCreate,
)
from charter.evaluation.stats import StatisticsInputError
from charter.evaluation.targets import TargetError, parse_target
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, ValidationFailed
from charter.ledger.chain import snapshot

if TYPE_CHECKING:
    from charter.context import Ctx


def _name(value: str, what: str) -> None:
    problem = rules.check_name(value, what)
    if problem:
        raise ValidationFailed(problem, errors=[{"loc": ["name"], "msg": problem}])


def import_dataset(ctx: Ctx, data: DatasetImport) -> DatasetVersionRead:
    """A new immutable version of the dataset (created on first import). The same content as the newest version
    adds nothing (`new` false). A bad file stores nothing; the error names line, column and field."""
    ctx.require("evals:write")
    system = get_system(ctx.session, data.system)
    _name(data.name, "dataset")
    try:
        parsed = load_dataset(
            io.StringIO(data.content),
            data.format,
            input_key=data.input_key,
            expected_key=data.expected_key,
            include_archived=data.include_archived,
        )
    except DatasetError as exc:
        where = {k: v for k, v in (("line", exc.line), ("column", exc.column), ("field", exc.field)) if v is not None}
        raise ValidationFailed(
            f"dataset file ({data.format}): {exc}", errors=[{"loc": ["content"], "msg": str(exc), **where}]
        ) from None
    now = ctx.now()
    dataset = ctx.session.execute(
        select(EvalDataset).where(EvalDataset.system_id == system.id, EvalDataset.name == data.name)
    ).scalar_one_or_none()
    if dataset is None:
        dataset = EvalDataset(
            system_id=system.id,
            name=data.name,
            description=data.description,
            created_at=now,
            created_by=ctx.principal.actor,
        )
        ctx.session.add(dataset)
        ctx.session.flush()
    latest = ctx.session.execute(
        select(EvalDatasetVersion)
        .where(EvalDatasetVersion.dataset_id == dataset.id)
        .order_by(EvalDatasetVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    if latest is not None and latest.content_hash == parsed.content_hash:
        return version_read(system.key, dataset, latest, new=False)
    number = (
        ctx.session.execute(
            select(func.max(EvalDatasetVersion.version)).where(EvalDatasetVersion.dataset_id == dataset.id)
        ).scalar_one()
        or 0
    ) + 1
    version = EvalDatasetVersion(
        dataset_id=dataset.id,
        version=number,
        content_hash=parsed.content_hash,
        samples=[s.canonical() for s in parsed.samples],
        sample_count=len(parsed),
        source_format=data.format,
        created_at=now,
        created_by=ctx.principal.actor,
    )
    ctx.session.add(version)
    ctx.session.flush()
    ctx.record(
        "eval_dataset.version",
        "eval_dataset",
        f"{system.key}/{dataset.name}@{number}",
        after={"content_hash": parsed.content_hash, "samples": len(parsed), "format": data.format},
    )
    return version_read(system.key, dataset, version)


def add_target(ctx: Ctx, data: TargetCreate) -> EvalTarget:
    """Register a target. Its configuration is validated; a credential may only be a reference (env:/file:)."""
    ctx.require("evals:write")
    _name(data.name, "target")
    try:
        parsed = parse_target(data.config)
    except TargetError as exc:
        raise ValidationFailed(str(exc), errors=[{"loc": ["config"], "msg": str(exc)}]) from None
    if ctx.session.execute(select(EvalTarget.id).where(EvalTarget.name == data.name)).scalar_one_or_none():
        raise Conflict(f"a target named '{data.name}' exists already; choose another name")
    now = ctx.now()
    target = EvalTarget(
        name=data.name,
        kind=parsed.kind,
        config=parsed.model_dump(mode="json", exclude_defaults=False),
        description=data.description,
        created_at=now,
        created_by=ctx.principal.actor,
        updated_at=now,
    )
    ctx.session.add(target)
    ctx.session.flush()
    ctx.record("eval_target.add", "eval_target", target.name, after=snapshot(target, exclude=frozenset({"id"})))
    return target


def store_calibration(ctx: Ctx, judge_name: str, data: CalibrationCreate) -> CalibrationRead:
    """Calibrate a judge against human labels on the same items and keep the result with the judge."""
    ctx.require("evals:write")
    judge = get_target(ctx.session, judge_name)
    try:
        result = calibrate(data.human, data.judge, data.scale)
    except StatisticsInputError as exc:
        raise ValidationFailed(f"calibration labels: {exc}") from None
    stats = result.as_dict()
    row = EvalCalibration(
        judge_id=judge.id,
        scale=data.scale,
        n=result.n,
        stats=stats,
        source=data.source,
        created_at=ctx.now(),
        created_by=ctx.principal.actor,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record("eval_judge.calibrate", "eval_target", judge.name, after={"scale": data.scale, **stats})
    return calibration_read(row, judge.name)
