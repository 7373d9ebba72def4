"""Post-deployment checks: after a promotion, a check window per stage during which a firing alert of the
chosen severity puts the release "at risk" (ledger + log), and — where the system's policy says so — rolls it
back automatically (the releases rollback, acting as the built-in system principal).

Watches start from the deployment history (charter.releases): the sweep opens one for every promotion still
inside its window, and an alert that fires opens any missing ones first, so a promotion followed at once by
an alert is caught before the next sweep. Only alerts that fire after the promotion count.
"""

from __future__ import annotations

import importlib.util
import logging
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.context import Ctx
from charter.context import Ctx as Context
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import CharterError, IllegalTransition, StaleVersion, ValidationFailed
from charter.kit.principal import SYSTEM
from charter.ledger.chain import snapshot
from charter.monitoring.alerts.rules import at_least
from charter.monitoring.models import Alert, PostDeployConfig, PostDeployWatch
from charter.monitoring.schemas import PostDeployConfigIn, PostDeployConfigRead, WatchRead
from charter.notifications.service import notify
from charter.releases.deploy import rollback
from charter.releases.models import Deployment, DeploymentPointer, Release
from charter.releases.schemas import RollbackIn

log = logging.getLogger("charter.monitoring")

DEFAULT_WINDOWS: Final[dict[str, float]] = {"pilot": 24.0, "production": 72.0}
DEFAULT_SEVERITY: Final = "critical"
WATCH_STAGES: Final = ("sandbox", "pilot", "production")
WATCH_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "watching": frozenset({"at_risk", "passed", "superseded"}),
    "at_risk": frozenset({"rolled_back", "superseded"}),
    "passed": frozenset(),
    "superseded": frozenset(),
    "rolled_back": frozenset(),
}


def _move(ctx: Ctx, watch: PostDeployWatch, system: AISystem, target: str, reason: str) -> None:
    allowed = WATCH_TRANSITIONS[watch.status]
    if target not in allowed:
        raise IllegalTransition(f"post-deployment check {watch.id}", watch.status, target, allowed)
    before = snapshot(watch, exclude=frozenset({"id"}))
    watch.status = target
    watch.version += 1
    watch.updated_at = ctx.now()
    ctx.session.flush()
    action = "release.at_risk" if target == "at_risk" else f"release.post_deploy.{target}"
    ctx.record(
        action,
        "release",
        f"{system.key}/v{watch.release_version}",
        before=before,
        after=snapshot(watch, exclude=frozenset({"id"})),
        reason=reason,
    )


# ----------------------------------------------------------------------------- configuration


def config_of(session: Session, system_id: int) -> tuple[dict[str, float], str, bool, PostDeployConfig | None]:
    row = session.get(PostDeployConfig, system_id)
    if row is None:
        return dict(DEFAULT_WINDOWS), DEFAULT_SEVERITY, False, None
    return dict(row.windows), row.severity, row.auto_rollback, row


def read_config(ctx: Ctx, key: str) -> PostDeployConfigRead:
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    windows, severity, auto, row = config_of(ctx.session, system.id)
    return PostDeployConfigRead(
        system=key,
        windows=windows,
        severity=severity,
        auto_rollback=auto,
        version=row.version if row else 0,
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
    )


def set_config(ctx: Ctx, key: str, data: PostDeployConfigIn) -> PostDeployConfigRead:
    """Windows and severity: alerts:manage. Turning automatic rollback on or off is a policy decision:
    policies:manage."""
    ctx.require("alerts:manage")
    system = get_system(ctx.session, key)
    windows, severity, auto, row = config_of(ctx.session, system.id)
    current_version = row.version if row else 0
    if (data.version or 0) != current_version:
        raise StaleVersion(f"post-deployment configuration of '{key}'", data.version or 0, current_version)
    if data.auto_rollback is not None and data.auto_rollback != auto:
        ctx.require("policies:manage")
    if data.windows is not None:
        unknown = sorted(set(data.windows) - set(WATCH_STAGES))
        if unknown:
            raise ValidationFailed(
                f"windows: unknown stage {', '.join(unknown)}; stages are {', '.join(WATCH_STAGES)}",
                errors=[{"loc": ["windows"], "msg": "unknown stage"}],
            )
    now = ctx.now()
    before = snapshot(row, exclude=frozenset({"system_id"})) if row else None
    if row is None:
        row = PostDeployConfig(system_id=system.id, windows=windows, severity=severity, auto_rollback=auto, version=0)
        ctx.session.add(row)
    row.windows = dict(data.windows) if data.windows is not None else windows
    row.severity = data.severity or severity
    row.auto_rollback = auto if data.auto_rollback is None else data.auto_rollback
    row.version += 1
    row.updated_at = now
    row.updated_by = ctx.principal.actor
    ctx.session.flush()
    ctx.record(
        "post_deploy_config.updated",
        "system",
        key,
        before=before,
        after=snapshot(row, exclude=frozenset({"system_id"})),
        reason=data.reason,
    )
    return read_config(ctx, key)


# ----------------------------------------------------------------------------- watches


def _releases_ready() -> bool:
    return importlib.util.find_spec("charter.releases.deploy") is not None


def open_watches(ctx: Ctx, system: AISystem | None = None) -> list[PostDeployWatch]:
    """A watch for every promotion still inside its stage's check window that has none yet."""
    if not _releases_ready():
        return []

    now = ctx.now()
    watched = select(PostDeployWatch.deployment_id)
    stmt = (
        select(Deployment, Release.version)
        .join(Release, Release.id == Deployment.to_release_id)
        .where(Deployment.kind == "promote", Deployment.id.not_in(watched), Deployment.at >= now - timedelta(days=90))
    )
    if system is not None:
        stmt = stmt.where(Deployment.system_id == system.id)
    created = []
    configs: dict[int, tuple[dict[str, float], str, bool, Any]] = {}
    for dep, version in ctx.session.execute(stmt.order_by(Deployment.id)):
        cfg = configs.get(dep.system_id) or configs.setdefault(dep.system_id, config_of(ctx.session, dep.system_id))
        hours = float(cfg[0].get(dep.stage, 0) or 0)
        ends = dep.at + timedelta(hours=hours)
        if hours <= 0 or ends <= now or not _deployed(ctx.session, dep.system_id, dep.stage, dep.to_release_id):
            continue
        watch = PostDeployWatch(
            deployment_id=dep.id,
            system_id=dep.system_id,
            release_id=dep.to_release_id,
            release_version=version,
            stage=dep.stage,
            status="watching",
            severity=cfg[1],
            auto_rollback=cfg[2],
            started_at=dep.at,
            ends_at=ends,
            at_risk_at=None,
            alerts=[],
            rollback_result=None,
            updated_at=now,
            version=1,
        )
        ctx.session.add(watch)
        ctx.session.flush()
        ctx.record(
            "release.post_deploy.watching",
            "release",
            f"{_system_key(ctx.session, dep.system_id)}/v{version}",
            after=snapshot(watch, exclude=frozenset({"id"})),
            reason=f"post-deployment check window at {dep.stage}: {hours:g} h, at-risk severity {cfg[1]}",
        )
        created.append(watch)
    return created


def _system_key(session: Session, system_id: int) -> str:
    system = session.get(AISystem, system_id)
    return system.key if system else str(system_id)


def alert_fired(ctx: Ctx, system: AISystem, alert: Alert) -> None:
    """Called when an alert of `system` starts firing: at-risk marking (and rollback) for open watches."""
    open_watches(ctx, system)
    now = ctx.now()
    watches = ctx.session.execute(
        select(PostDeployWatch).where(
            PostDeployWatch.system_id == system.id,
            PostDeployWatch.status.in_(("watching", "at_risk")),
            PostDeployWatch.started_at <= now,
            PostDeployWatch.ends_at > now,
        )
    ).scalars()
    for watch in list(watches):
        if at_least(alert.severity, watch.severity) and (alert.fired_at or now) >= watch.started_at:
            _at_risk(ctx, system, watch, [alert])


def _at_risk(ctx: Ctx, system: AISystem, watch: PostDeployWatch, alerts: list[Alert]) -> None:
    ids = [a.id for a in alerts if a.id not in (watch.alerts or [])]
    if not ids:
        return
    watch.alerts = [*(watch.alerts or []), *ids]
    what = "; ".join(f"{a.rule_key} ({a.severity}): {a.summary}" for a in alerts)
    if watch.status == "at_risk":
        watch.updated_at = ctx.now()
        ctx.session.flush()
        return
    watch.at_risk_at = ctx.now()
    reason = f"release {watch.release_version} at {watch.stage} is at risk during its post-deployment check: {what}"
    _move(ctx, watch, system, "at_risk", reason)
    log.warning("%s: %s", system.key, reason)

    notify(
        ctx,
        "release.at_risk",
        recipients=[system.owner_id] if system.owner_id else [],
        subject=f"{system.name}: release {watch.release_version} at risk in {watch.stage}",
        body=reason,
        payload={
            "system": system.key,
            "release": watch.release_version,
            "stage": watch.stage,
            "alerts": ids,
            "auto_rollback": watch.auto_rollback,
        },
        entity=("release", f"{system.key}@{watch.release_version}"),
    )
    if watch.auto_rollback:
        _auto_rollback(ctx, system, watch, reason)


def _auto_rollback(ctx: Ctx, system: AISystem, watch: PostDeployWatch, why: str) -> None:
    auto = Context(
        session=ctx.session, principal=SYSTEM, clock=ctx.clock, settings=ctx.settings, request_id=ctx.request_id
    )
    reason = f"automatic rollback by the post-deployment check (system policy auto_rollback): {why}"[:2000]
    try:
        with ctx.session.begin_nested():
            deployment = rollback(auto, system.key, RollbackIn(stage=watch.stage, reason=reason))
    except CharterError as exc:
        watch.rollback_result = f"automatic rollback failed: {exc.detail}"
        watch.updated_at = ctx.now()
        ctx.session.flush()
        auto.record(
            "release.rollback_failed", "release", f"{system.key}/v{watch.release_version}", reason=watch.rollback_result
        )
        log.error("%s: %s", system.key, watch.rollback_result)
        return
    watch.rollback_result = f"rolled back automatically (deployment {deployment.id})"
    _move(auto, watch, system, "rolled_back", reason)
    log.warning("%s: %s", system.key, watch.rollback_result)


def advance_watches(ctx: Ctx) -> dict[str, int]:
    """Sweep: open missing watches, mark alerts that fired meanwhile, close windows that ended, notice
    releases replaced at their stage."""
    opened = open_watches(ctx)
    now = ctx.now()
    counts = {"opened": len(opened), "passed": 0, "superseded": 0, "at_risk": 0}
    rows = ctx.session.execute(
        select(PostDeployWatch).where(PostDeployWatch.status.in_(("watching", "at_risk"))).order_by(PostDeployWatch.id)
    ).scalars()
    for watch in list(rows):
        system = ctx.session.get(AISystem, watch.system_id)
        assert system is not None
        if not _still_deployed(ctx.session, watch):
            _move(ctx, watch, system, "superseded", "another deployment replaced this release at its stage")
            counts["superseded"] += 1
            continue
        if watch.status == "watching":
            fired = [
                a
                for a in ctx.session.execute(
                    select(Alert).where(
                        Alert.system_id == watch.system_id,
                        Alert.state == "firing",
                        Alert.fired_at >= watch.started_at,
                    )
                ).scalars()
                if at_least(a.severity, watch.severity)
            ]
            if fired and now < watch.ends_at:
                _at_risk(ctx, system, watch, fired)
                counts["at_risk"] += 1
                continue
            if now >= watch.ends_at:
                _move(ctx, watch, system, "passed", f"no alert of severity {watch.severity}+ fired in the window")
                counts["passed"] += 1
    return counts


def _still_deployed(session: Session, watch: PostDeployWatch) -> bool:
    return _deployed(session, watch.system_id, watch.stage, watch.release_id)


def _deployed(session: Session, system_id: int, stage: str, release_id: int | None) -> bool:
    pointer = session.get(DeploymentPointer, (system_id, stage))
    return pointer is not None and release_id is not None and pointer.release_id == release_id


def watch_read(watch: PostDeployWatch, key: str) -> WatchRead:
    return WatchRead(
        id=watch.id,
        system=key,
        release_version=watch.release_version,
        stage=watch.stage,
        status=watch.status,
        severity=watch.severity,
        auto_rollback=watch.auto_rollback,
        started_at=watch.started_at,
        ends_at=watch.ends_at,
        at_risk_at=watch.at_risk_at,
        alerts=list(watch.alerts or []),
        rollback_result=watch.rollback_result,
        version=watch.version,
    )


def list_watches(ctx: Ctx, key: str) -> list[WatchRead]:
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    rows = ctx.session.execute(
        select(PostDeployWatch).where(PostDeployWatch.system_id == system.id).order_by(PostDeployWatch.id.desc())
    ).scalars()
    return [watch_read(w, key) for w in rows]
