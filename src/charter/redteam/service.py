"""Red-team use cases: store a run or an imported report, move findings, open risks, triage.

Each use case declares its permission, changes state and appends to the ledger in the same transaction; it
never commits (the request, the CLI command or the worker job does). Parsing a report and calling a target
happen before (outside) the transaction that stores the result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.access.models import User
from charter.evaluation.targets import ChatTarget, HttpTarget, OfflineTarget, TargetError, parse_target
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.clock import as_utc
from charter.kit.errors import (
    Conflict,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)
from charter.kit.principal import SYSTEM
from charter.redteam import rules
from charter.redteam import suites as suite_files
from charter.redteam.imports.common import ImportResult
from charter.redteam.imports.common import observations as import_observations
from charter.redteam.models import Finding, RedteamAttempt, RedteamRun
from charter.redteam.probing import RunConfigError, plan
from charter.redteam.queries import finding_snapshot, get_finding, get_run
from charter.redteam.schemas import RunCreate, TriageIn
from charter.releases.models import Release
from charter.risk.models import Risk
from charter.risk.schemas import RiskCreate
from charter.risk.service import create_risk

if TYPE_CHECKING:
    from datetime import datetime

    from charter.context import Ctx

IMPORTED_IMPACT: rules.Impact = "medium"  # a scanner's probe carries no impact; docs/redteam.md
EVIDENCE_KEEP = 50
_KEY_CHUNK = 500


@dataclass(frozen=True)
class ProbeMeta:
    """What a finding needs to know of its probe beyond the counts."""

    title: str
    impact: rules.Impact
    owasp_2025: tuple[str, ...]
    atlas: tuple[str, ...] = ()


@dataclass
class Outcome:
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    fixed: list[int] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)

    @property
    def touched(self) -> list[int]:
        return sorted({*self.opened, *self.updated, *self.fixed})


@dataclass(frozen=True)
class StoredImport:
    run: RedteamRun | None
    new_attempts: int
    outcome: Outcome


def release_id(ctx: Ctx, system: AISystem, version: int | None) -> int | None:
    if version is None:
        return None
    found = ctx.session.execute(
        select(Release.id).where(Release.system_id == system.id, Release.version == version)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"{system.key} has no release {version}", entity="release")
    return found


def known_keys(ctx: Ctx, system_id: int, keys: Sequence[str]) -> set[str]:
    """The dedup keys among `keys` already stored for this system."""
    out: set[str] = set()
    for i in range(0, len(keys), _KEY_CHUNK):
        chunk = keys[i : i + _KEY_CHUNK]
        out.update(
            ctx.session.execute(
                select(RedteamAttempt.dedup_key).where(
                    RedteamAttempt.system_id == system_id, RedteamAttempt.dedup_key.in_(chunk)
                )
            ).scalars()
        )
    return out


def attempt_row(
    run: RedteamRun,
    now: datetime,
    *,
    key: str,
    content_hash: str,
    probe: str,
    prompt: str,
    outputs: list[str | None],
    scores: dict[str, list[float | None]],
    hit: bool,
    converters: list[str] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One redteam_attempts row for `store_attempts`, from an imported attempt or a run's record alike."""
    return {
        "run_id": run.id,
        "system_id": run.system_id,
        "dedup_key": key,
        "content_hash": content_hash,
        "probe": probe,
        "prompt": prompt,
        "converters": converters or [],
        "outputs": outputs,
        "scores": scores,
        "hit": hit,
        "error": error,
        "created_at": now,
    }


_ATTEMPT_COLUMNS = (
    "run_id", "system_id", "dedup_key", "content_hash", "probe", "prompt", "converters", "outputs", "scores", "hit",
    "error", "created_at",
)  # fmt: skip
_JSON_COLUMNS = frozenset({"converters", "outputs", "scores"})


def store_attempts(ctx: Ctx, rows: list[dict[str, Any]]) -> None:
    """Insert attempt rows with one driver-level executemany (SQLite) or COPY (PostgreSQL): a 10,000-attempt
    report must import in seconds, and attempts are never changed, so no ORM object is needed. JSON is encoded
    as SQLAlchemy's JSON type encodes it (json.dumps), times as its SQLite DateTime stores them."""
    if not rows:
        return
    conn = ctx.session.connection()
    dumps = json.dumps
    names = ", ".join(_ATTEMPT_COLUMNS)
    if conn.dialect.name == "sqlite":
        data = [
            tuple(
                dumps(r[c])
                if c in _JSON_COLUMNS
                else (as_utc(r[c]).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if c == "created_at" else r[c])
                for c in _ATTEMPT_COLUMNS
            )
            for r in rows
        ]
        marks = ", ".join("?" * len(_ATTEMPT_COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO redteam_attempts ({names}) VALUES ({marks})", data)  # noqa: S608
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY redteam_attempts ({names}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row(tuple(dumps(r[c]) if c in _JSON_COLUMNS else r[c] for c in _ATTEMPT_COLUMNS))


def run_summary(run: RedteamRun) -> dict[str, Any]:
    return {
        "source": run.source,
        "release_id": run.release_id,
        "file_name": run.file_name,
        "file_sha256": run.file_sha256,
        "suites": run.suites,
        "target": run.target,
        "attempts_total": run.attempts_total,
        "attempts_new": run.attempts_new,
        "hits": run.hits,
        "errors": run.errors,
        "status": run.status,
    }


# ----------------------------------------------------------------------------- imports


def import_report(
    ctx: Ctx,
    system_key: str,
    parsed: ImportResult,
    *,
    file_sha256: str,
    release: int | None = None,
) -> StoredImport:
    """Store an imported scanner report. Attempts already stored for the system (same scanner id and content)
    are skipped; a report that adds nothing stores nothing and changes no finding."""
    ctx.require("redteam:write")
    system = get_system(ctx.session, system_key)
    rel_id = release_id(ctx, system, release)
    keys = [a.dedup_key for a in parsed.attempts]
    known = known_keys(ctx, system.id, keys)
    fresh = [a for a in parsed.attempts if a.dedup_key not in known]
    hits = [a.hit for a in fresh]  # each attempt's scores are scanned once
    if not fresh:
        return StoredImport(None, 0, Outcome())
    now = ctx.now()
    run = RedteamRun(
        system_id=system.id,
        release_id=rel_id,
        source=parsed.format,
        status="completed",
        suites=[],
        target=str(parsed.meta.get("target") or "") or None,
        file_name=parsed.file[:255],
        file_sha256=file_sha256,
        config={"meta": dict(parsed.meta)},
        results=[r.as_json() for r in parsed.results],
        classification={p: list(ids) for p, ids in parsed.classification.items()},
        warnings=list(parsed.warnings),
        attempts_total=len(parsed.attempts),
        attempts_new=len(fresh),
        errors=0,
        hits=sum(hits),
        started_at=now,
        finished_at=now,
        created_by=ctx.principal.actor,
    )
    ctx.session.add(run)
    ctx.session.flush()
    rows = [
        attempt_row(
            run,
            now,
            key=a.dedup_key,
            content_hash=a.content_hash,
            probe=a.probe,
            prompt=a.prompt,
            outputs=list(a.outputs),
            scores={d: list(v) for d, v in a.scores.items()},
            hit=hit,
        )
        for a, hit in zip(fresh, hits, strict=True)
    ]
    store_attempts(ctx, rows)
    ctx.record("redteam.imported", "redteam_run", run.id, after=run_summary(run))
    observed = import_observations(fresh, run_id=str(run.id), finished_at=now)
    meta = {
        probe: ProbeMeta(probe, IMPORTED_IMPACT, tuple(parsed.classification.get(probe, ())))
        for probe in {a.probe for a in fresh}
    }
    hashes = hitting_hashes((a.probe, a.content_hash, hit) for a, hit in zip(fresh, hits, strict=True))
    outcome = apply_observations(ctx, system, run, observed, meta, hashes)
    return StoredImport(run, len(fresh), outcome)


def hitting_hashes(attempts: Iterable[tuple[str, str, bool]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for probe, content_hash, hit in attempts:
        if hit:
            out.setdefault(probe, []).append(content_hash)
    return out


# ----------------------------------------------------------------------------- findings from observations


def apply_observations(
    ctx: Ctx,
    system: AISystem,
    run: RedteamRun,
    observed: Iterable[rules.ProbeObservation],
    meta: Mapping[str, ProbeMeta],
    hashes: Mapping[str, list[str]],
) -> Outcome:
    """Open, update, fix or reopen the system's findings from what a run saw of each probe; open risks."""
    outcome = Outcome()
    now = ctx.now()
    for obs in observed:
        finding = ctx.session.execute(
            select(Finding).where(Finding.system_id == system.id, Finding.probe == obs.probe)
        ).scalar_one_or_none()
        info = meta[obs.probe]
        if finding is None:
            if obs.hits == 0:
                continue
            finding = _open_finding(ctx, system, run, obs, info, hashes.get(obs.probe, []), now)
            outcome.opened.append(finding.id)
        else:
            before = finding_snapshot(finding)
            move = rules.status_after_observation(finding.status, obs)  # type: ignore[arg-type]
            finding.last_checked_at = now
            if obs.hits:
                _observe_hit(finding, run, obs, info, hashes.get(obs.probe, []), now)
            if move is not None:
                finding.status = move
                finding.fixed_by_run_id = run.id if move == "fixed" else None
                if move == "open":
                    finding.reason = f"hit again by run {run.id} after it was fixed"
            finding.updated_at = now
            finding.version += 1
            action = {"fixed": "redteam.finding_fixed", "open": "redteam.finding_reopened"}.get(
                move or "", "redteam.finding_observed"
            )
            ctx.session.flush()
            ctx.record(action, "redteam_finding", finding.id, before=before, after=finding_snapshot(finding))
            (outcome.fixed if move == "fixed" else outcome.updated).append(finding.id)
        risk_key = _link_risk(ctx, system, finding)
        if risk_key:
            outcome.risks.append(risk_key)
    return outcome


def _interval(obs: rules.ProbeObservation) -> tuple[float, float, float]:
    rate = obs.hits / obs.evaluated if obs.evaluated else 0.0
    low, high = rules.wilson_interval(obs.hits, obs.evaluated) or (0.0, 1.0)
    return rate, low, high


def _open_finding(
    ctx: Ctx,
    system: AISystem,
    run: RedteamRun,
    obs: rules.ProbeObservation,
    info: ProbeMeta,
    evidence: list[str],
    now: datetime,
) -> Finding:
    rate, low, high = _interval(obs)
    finding = Finding(
        system_id=system.id,
        probe=obs.probe,
        title=info.title[:300],
        owasp_2025=list(info.owasp_2025),
        atlas=list(info.atlas),
        impact=info.impact,
        severity=rules.severity_for(rate, info.impact) or "low",
        status="open",
        attack_success_rate=rate,
        asr_low=low,
        asr_high=high,
        evaluated=obs.evaluated,
        hits=obs.hits,
        first_seen_at=now,
        last_seen_at=now,
        last_checked_at=now,
        first_seen_release_id=run.release_id,
        last_seen_release_id=run.release_id,
        first_run_id=run.id,
        last_run_id=run.id,
        evidence=evidence[-EVIDENCE_KEEP:][::-1],
        updated_at=now,
        version=1,
    )
    ctx.session.add(finding)
    ctx.session.flush()
    ctx.record("redteam.finding_opened", "redteam_finding", finding.id, after=finding_snapshot(finding))
    return finding


def _observe_hit(
    finding: Finding,
    run: RedteamRun,
    obs: rules.ProbeObservation,
    info: ProbeMeta,
    evidence: list[str],
    now: datetime,
) -> None:
    rate, low, high = _interval(obs)
    finding.attack_success_rate, finding.asr_low, finding.asr_high = rate, low, high
    finding.evaluated, finding.hits = obs.evaluated, obs.hits
    finding.severity = rules.severity_for(rate, info.impact) or "low"
    finding.impact = info.impact
    if info.owasp_2025:
        finding.owasp_2025 = list(info.owasp_2025)
    if info.atlas:
        finding.atlas = list(info.atlas)
    finding.last_seen_at = now
    finding.last_run_id = run.id
    if run.release_id is not None:
        finding.last_seen_release_id = run.release_id
        if finding.first_seen_release_id is None:
            finding.first_seen_release_id = run.release_id
    finding.evidence = (evidence[::-1] + [h for h in finding.evidence if h not in evidence])[:EVIDENCE_KEEP]


def risk_title(finding: Finding) -> str:
    """The risk a finding opens or links to: one per system and OWASP 2025 category, so a scan that hits fifty
    probes of one category adds one risk to the register, not fifty."""
    category = finding.owasp_2025[0] if finding.owasp_2025 else "unclassified probes"
    return f"Red-team findings: {category}"


def _link_risk(ctx: Ctx, system: AISystem, finding: Finding) -> str | None:
    """Link a live finding at or above the configured severity to its category's open risk, opening that risk
    if there is none; return the key of a risk it opened."""
    threshold = ctx.settings.redteam_risk_severity
    if finding.risk_id is not None or finding.status not in rules.LIVE:
        return None
    if not rules.at_or_above(finding.severity, threshold):  # type: ignore[arg-type]
        return None
    title = risk_title(finding)
    existing = ctx.session.execute(
        select(Risk).where(Risk.system_id == system.id, Risk.title == title, Risk.status != "closed")
    ).scalar_one_or_none()
    opened: str | None = None
    if existing is None:
        owner = None
        if system.owner_id is not None:
            owner = ctx.session.execute(select(User.username).where(User.id == system.owner_id)).scalar_one_or_none()
        owner = owner or (ctx.principal.name if ctx.principal.user_id is not None else None)
        if owner is None:
            return None  # no one to own it: the finding stays visible in the triage queue
        ids = ", ".join(finding.owasp_2025) or "unclassified"
        data = RiskCreate(
            system=system.key,
            title=title,
            description=(
                f"Red-team probes of {ids} succeed against this system. Opened automatically by finding "
                f"{finding.id} ({finding.probe}: {finding.hits} of {finding.evaluated} evaluated outputs hit, "
                f"attack success rate {finding.attack_success_rate:.1%}, severity {finding.severity}); later "
                "findings of the same category link here (charter redteam findings --system "
                f"{system.key})."
            ),
            category=rules.default_risk_category(finding.owasp_2025),
            owner=owner,
        )
        existing = create_risk(
            ctx.acting_as(SYSTEM), data, reason=f"red-team finding {finding.id} is {finding.severity}"
        )
        opened = existing.key
    before = finding_snapshot(finding)
    finding.risk_id = existing.id
    ctx.session.flush()
    ctx.record("redteam.finding_risk_linked", "redteam_finding", finding.id, before, finding_snapshot(finding))
    return opened


# ----------------------------------------------------------------------------- triage


def triage(ctx: Ctx, finding_id: int, body: TriageIn) -> Finding:
    """Move a finding by hand: triaged, accepted (governance and a reason), false_positive (a reason), open.
    `fixed` is never set by hand: only a later run that no longer hits confirms a fix."""
    ctx.require("redteam:triage")
    finding = get_finding(ctx.session, finding_id, for_update=True)
    if body.version != finding.version:
        raise StaleVersion(f"finding {finding.id}", body.version, finding.version)
    try:
        rules.check_transition(finding.status, body.to)
    except rules.IllegalTransition as exc:
        raise IllegalTransition(f"finding {finding.id}", exc.current, exc.target, exc.allowed) from None
    if body.to in rules.NEEDS_GOVERNANCE and not ctx.principal.can("redteam:accept"):
        raise PermissionDenied("accepting a finding needs the governance role (permission redteam:accept)")
    reason = (body.reason or "").strip()
    if body.to in rules.NEEDS_REASON and not reason:
        raise ValidationFailed(
            f"reason: say why the finding is {body.to.replace('_', ' ')}",
            errors=[{"loc": ["reason"], "msg": f"required when moving to {body.to}"}],
        )
    before = finding_snapshot(finding)
    finding.status = body.to
    finding.reason = reason or finding.reason
    finding.updated_at = ctx.now()
    finding.version += 1
    ctx.session.flush()
    ctx.record(f"redteam.finding_{body.to}", "redteam_finding", finding.id, before, finding_snapshot(finding), reason)
    return finding


# ----------------------------------------------------------------------------- own runs


def create_run(ctx: Ctx, system_key: str, body: RunCreate, *, seed: str) -> RedteamRun:
    """Record a queued run after checking everything that can be checked before calling the target: the
    suites and probes exist, the target configuration is valid, the release exists. The worker runs it."""
    ctx.require("redteam:write")
    system = get_system(ctx.session, system_key)
    rel_id = release_id(ctx, system, body.release)
    installed = {s.key: s for s in suite_files.latest_versions(suite_files.shipped_suites())}
    keys = body.suites if body.suites is not None else sorted(installed)
    unknown = sorted(set(keys) - set(installed))
    if unknown or not keys:
        raise ValidationFailed(
            f"suites: unknown suite '{unknown[0] if unknown else ''}'; installed: {', '.join(sorted(installed))}",
            errors=[{"loc": ["suites"], "msg": "unknown suite"}],
        )
    suites = [installed[k] for k in keys]
    try:
        target = parse_target(body.target)
        planned = plan(suites, seed=seed, repeats=body.repeats, probes=body.probes)
    except (TargetError, RunConfigError) as exc:
        raise ValidationFailed(str(exc)) from None
    if isinstance(target, OfflineTarget):
        raise ValidationFailed("target: an offline target has no endpoint to attack; use openai_chat or http_json")
    if not planned:
        raise ValidationFailed("probes: the selection leaves nothing to send")
    now = ctx.now()
    run = RedteamRun(
        system_id=system.id,
        release_id=rel_id,
        source="run",
        status="queued",
        suites=keys,
        target=describe_target(target),
        config={
            "suites": [
                {"key": s.key, "version": s.version, "content_hash": suite_files.content_hash(s)} for s in suites
            ],
            "probes": body.probes,
            "repeats": body.repeats,
            "concurrency": body.concurrency,
            "rate_per_second": body.rate_per_second,
            "timeout_s": body.timeout_s,
            "seed": seed,
            "planned": len(planned),
            "target": target.model_dump(mode="json"),
        },
        results=[],
        classification={},
        warnings=[],
        attempts_total=0,
        attempts_new=0,
        errors=0,
        hits=0,
        started_at=now,
        created_by=ctx.principal.actor,
    )
    ctx.session.add(run)
    ctx.session.flush()
    ctx.record("redteam.run_queued", "redteam_run", run.id, after={**run_summary(run), "planned": len(planned)})
    return run


def describe_target(target: ChatTarget | HttpTarget) -> str:
    """How a run names its target (never a secret: credentials are references)."""
    if isinstance(target, ChatTarget):
        return f"openai_chat {target.model} at {target.base_url}"[:200]
    return f"http_json at {target.url}"[:200]


def resume_run(ctx: Ctx, run_id: int) -> RedteamRun:
    """Allow a queued or interrupted (running) run to be picked up again; finished runs are final."""
    ctx.require("redteam:write")
    run = get_run(ctx.session, run_id)
    if run.status not in ("queued", "running"):
        raise Conflict(f"run {run_id} is {run.status}; only a queued or interrupted run can be resumed")
    return run
