"""Reading red-team runs and findings (the API, the CLI, the console and the gate read through here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import NotFound, ValidationFailed
from charter.kit.pagination import paginate
from charter.redteam import rules
from charter.redteam.models import Finding, RedteamAttempt, RedteamRun
from charter.redteam.schemas import AttemptRead, FindingDetail, FindingRead, RunDetail, RunRead
from charter.releases.models import Release
from charter.risk.models import Risk

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

FINDING_SORTS = {"id": Finding.id, "severity": Finding.severity, "last_seen_at": Finding.last_seen_at}
ATTEMPTS_SHOWN = 200


@dataclass(frozen=True)
class FindingFilter:
    system: str | None = None
    status: str | None = None
    severity: str | None = None
    owasp: str | None = None
    live: bool | None = None  # open or triaged


def get_finding(session: Session, finding_id: int, *, for_update: bool = False) -> Finding:
    stmt = select(Finding).where(Finding.id == finding_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    finding = session.execute(stmt).scalar_one_or_none()
    if finding is None:
        raise NotFound(f"no red-team finding {finding_id}", entity="finding")
    return finding


def get_run(session: Session, run_id: int) -> RedteamRun:
    run = session.get(RedteamRun, run_id)
    if run is None:
        raise NotFound(f"no red-team run {run_id}", entity="run")
    return run


def finding_snapshot(finding: Finding) -> dict[str, Any]:
    """What the ledger keeps of a finding."""
    return {
        "system_id": finding.system_id,
        "probe": finding.probe,
        "status": finding.status,
        "severity": finding.severity,
        "impact": finding.impact,
        "owasp_2025": list(finding.owasp_2025),
        "attack_success_rate": round(finding.attack_success_rate, 6),
        "evaluated": finding.evaluated,
        "hits": finding.hits,
        "last_run_id": finding.last_run_id,
        "fixed_by_run_id": finding.fixed_by_run_id,
        "risk_id": finding.risk_id,
        "reason": finding.reason,
        "version": finding.version,
    }


def _release_versions(session: Session, ids: set[int | None]) -> dict[int, int]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {i: v for i, v in session.execute(select(Release.id, Release.version).where(Release.id.in_(wanted)))}


def _system_keys(session: Session, ids: set[int]) -> dict[int, str]:
    return {i: k for i, k in session.execute(select(AISystem.id, AISystem.key).where(AISystem.id.in_(ids)))}


def finding_read(session: Session, f: Finding, keys: dict[int, str] | None = None) -> FindingRead:
    keys = keys or _system_keys(session, {f.system_id})
    releases = _release_versions(session, {f.first_seen_release_id, f.last_seen_release_id})
    risk_key = session.execute(select(Risk.key).where(Risk.id == f.risk_id)).scalar_one_or_none() if f.risk_id else None
    return FindingRead(
        id=f.id,
        system=keys[f.system_id],
        probe=f.probe,
        title=f.title,
        owasp_2025=list(f.owasp_2025),
        atlas=list(f.atlas),
        impact=f.impact,
        severity=f.severity,
        status=f.status,
        attack_success_rate=f.attack_success_rate,
        asr_wilson95=[f.asr_low, f.asr_high],
        evaluated=f.evaluated,
        hits=f.hits,
        first_seen_at=f.first_seen_at,
        last_seen_at=f.last_seen_at,
        last_checked_at=f.last_checked_at,
        first_seen_release=releases.get(f.first_seen_release_id) if f.first_seen_release_id else None,
        last_seen_release=releases.get(f.last_seen_release_id) if f.last_seen_release_id else None,
        first_run=f.first_run_id,
        last_run=f.last_run_id,
        fixed_by_run=f.fixed_by_run_id,
        risk=risk_key,
        reason=f.reason,
        evidence=list(f.evidence),
        allowed_moves=sorted(m for m in rules.allowed_moves(f.status) if m != "fixed"),
        version=f.version,
    )


def list_findings(
    ctx: Ctx, flt: FindingFilter, *, sort: str = "id", limit: int = 50, cursor: str | None = None
) -> tuple[list[FindingRead], str | None]:
    ctx.require("redteam:read")
    session = ctx.session
    stmt = select(Finding)
    if flt.system:
        stmt = stmt.where(Finding.system_id == get_system(session, flt.system).id)
    if flt.status:
        if flt.status not in rules.STATUSES:
            raise ValidationFailed(f"status: unknown '{flt.status}'; allowed: {', '.join(rules.STATUSES)}")
        stmt = stmt.where(Finding.status == flt.status)
    if flt.severity:
        if flt.severity not in rules.SEVERITIES:
            raise ValidationFailed(f"severity: unknown '{flt.severity}'; allowed: {', '.join(rules.SEVERITIES)}")
        stmt = stmt.where(Finding.severity == flt.severity)
    if flt.live is not None:
        live = Finding.status.in_(rules.LIVE)
        stmt = stmt.where(live if flt.live else ~live)
    rows, next_cursor = paginate(
        session, stmt, sort=sort, sortable=FINDING_SORTS, id_col=Finding.id, limit=limit, cursor=cursor
    )
    if flt.owasp:
        rows = [r for r in rows if flt.owasp in r.owasp_2025]
    keys = _system_keys(session, {r.system_id for r in rows}) if rows else {}
    return [finding_read(session, r, keys) for r in rows], next_cursor


def finding_detail(ctx: Ctx, finding_id: int) -> FindingDetail:
    ctx.require("redteam:read")
    f = get_finding(ctx.session, finding_id)
    wanted = list(f.evidence)[:ATTEMPTS_SHOWN]
    attempts = (
        ctx.session.execute(
            select(RedteamAttempt)
            .where(RedteamAttempt.system_id == f.system_id, RedteamAttempt.content_hash.in_(wanted))
            .order_by(RedteamAttempt.id.desc())
        )
        .scalars()
        .all()
        if wanted
        else []
    )
    return FindingDetail(**finding_read(ctx.session, f).model_dump(), attempts=[attempt_read(a) for a in attempts])


def attempt_read(a: RedteamAttempt) -> AttemptRead:
    return AttemptRead(
        id=a.id,
        run=a.run_id,
        probe=a.probe,
        prompt=a.prompt,
        converters=list(a.converters),
        outputs=list(a.outputs),
        scores={k: list(v) for k, v in a.scores.items()},
        hit=a.hit,
        error=a.error,
        content_hash=a.content_hash,
    )


def run_read(session: Session, run: RedteamRun, keys: dict[int, str] | None = None) -> RunRead:
    keys = keys or _system_keys(session, {run.system_id})
    rel = _release_versions(session, {run.release_id}).get(run.release_id) if run.release_id else None
    return RunRead(
        id=run.id,
        system=keys[run.system_id],
        release=rel,
        source=run.source,
        status=run.status,
        suites=list(run.suites),
        target=run.target,
        file_name=run.file_name,
        file_sha256=run.file_sha256,
        attempts_total=run.attempts_total,
        attempts_new=run.attempts_new,
        errors=run.errors,
        hits=run.hits,
        error=run.error,
        warnings=list(run.warnings),
        started_at=run.started_at,
        finished_at=run.finished_at,
        created_by=run.created_by,
    )


def list_runs(ctx: Ctx, system: str, *, limit: int = 50, cursor: str | None = None) -> tuple[list[RunRead], str | None]:
    ctx.require("redteam:read")
    sys = get_system(ctx.session, system)
    stmt = select(RedteamRun).where(RedteamRun.system_id == sys.id)
    rows, next_cursor = paginate(
        ctx.session, stmt, sort="-id", sortable={"id": RedteamRun.id}, id_col=RedteamRun.id, limit=limit, cursor=cursor
    )
    keys = {sys.id: sys.key}
    return [run_read(ctx.session, r, keys) for r in rows], next_cursor


def run_detail(ctx: Ctx, run_id: int) -> RunDetail:
    ctx.require("redteam:read")
    run = get_run(ctx.session, run_id)
    touched = (
        ctx.session.execute(
            select(Finding.id).where(
                Finding.system_id == run.system_id,
                (Finding.last_run_id == run.id)
                | (Finding.first_run_id == run.id)
                | (Finding.fixed_by_run_id == run.id),
            )
        )
        .scalars()
        .all()
    )
    return RunDetail(
        **run_read(ctx.session, run).model_dump(),
        config=dict(run.config),
        results=list(run.results),
        classification={k: list(v) for k, v in run.classification.items()},
        findings=sorted(touched),
    )


def heatmap(ctx: Ctx, run_id: int) -> dict[str, Any]:
    """OWASP 2025 category x probe, each cell the probe's attack success rate over its detectors' evaluations."""
    detail = run_detail(ctx, run_id)
    cells: dict[tuple[str, str], list[int]] = {}
    for row in detail.results:
        for cat in row["owasp_2025_ids"] or ["unclassified"]:
            c = cells.setdefault((cat, row["probe"]), [0, 0])
            c[0] += row["fails"]
            c[1] += row["total"]
    categories = sorted({c for c, _ in cells})
    probes = sorted({p for _, p in cells})
    return {
        "run": run_id,
        "categories": categories,
        "probes": probes,
        "cells": [
            {"owasp": c, "probe": p, "fails": v[0], "total": v[1], "attack_success_rate": v[0] / v[1] if v[1] else None}
            for (c, p), v in sorted(cells.items())
        ],
    }


def open_by_severity(session: Session, system_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Finding.severity, func.count())
        .where(Finding.system_id == system_id, Finding.status.in_(rules.LIVE))
        .group_by(Finding.severity)
    ).all()
    counts: dict[str, int] = dict.fromkeys(rules.SEVERITIES, 0)
    for severity, n in rows:
        counts[severity] = int(n)
    return counts
