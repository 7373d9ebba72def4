"""What the areas contribute to the dashboard and to a system's overview.

Each contribution is computed only when its area is installed and the user may read it. Lists come from the
domains' service functions (which check the permission again). Where a domain has no bulk read yet, the
dashboard reads that domain's tables directly with one query (no business rules: counts and lists), so the
page stays one round of queries for any number of systems — see docs/console.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import select

from charter.context import Ctx
from charter.web.nav import has_area

OPEN_INCIDENT_CATEGORIES = ("open", "active", "mitigated")


@dataclass(frozen=True)
class Waiting:
    """One thing that waits for the signed-in person."""

    kind: str
    title: str
    href: str
    since: datetime | None = None
    due: datetime | None = None
    overdue: bool = False


def visible(request: Request, ctx: Ctx, area: str, permission: str) -> bool:
    return has_area(request, area) and ctx.principal.can(permission)


# ----------------------------------------------------------------------------- monitoring


def health_by_system(ctx: Ctx, keys: list[str]) -> dict[str, Any]:
    """Health of every system from the firing alerts (the monitoring rule), and the firing alerts."""
    from charter.inventory.models import AISystem
    from charter.monitoring.alerts import rules as mrules
    from charter.monitoring.metrics import queries as series
    from charter.monitoring.models import MonitorState

    firing = series.list_alerts(ctx, state="firing", limit=1000)
    with_data = set(
        ctx.session.execute(
            select(AISystem.key)
            .join(MonitorState, MonitorState.system_id == AISystem.id)
            .where(MonitorState.last_data_at.is_not(None))
        ).scalars()
    )
    by_system: dict[str, list[str]] = {}
    for alert in firing:
        by_system.setdefault(alert.system, []).append(alert.severity)
    health = {k: mrules.health(by_system.get(k, []), k in with_data) for k in keys}
    counts = Counter(health.values())
    return {"health": health, "counts": counts, "firing": firing}


# ----------------------------------------------------------------------------- incidents


def open_incidents(ctx: Ctx) -> list[Any]:
    from charter.incidents import queries

    out: list[Any] = []
    for category in OPEN_INCIDENT_CATEGORIES:
        items, _ = queries.list_incidents(ctx, queries.IncidentFilter(category=category), sort="-key", limit=200)
        out.extend(items)
    return sorted(out, key=lambda i: (i.severity_rank, i.detected_at))


# ----------------------------------------------------------------------------- waiting for me


def waiting_for(request: Request, ctx: Ctx, incidents: list[Any] | None) -> list[Waiting]:
    p = ctx.principal
    now = ctx.now()
    out: list[Waiting] = []
    if visible(request, ctx, "releases", "releases:approve"):
        out += _approvals(ctx)
    if visible(request, ctx, "reviews", "reviews:signoff"):
        out += _signoffs(ctx)
    if visible(request, ctx, "reviews", "reviews:run"):
        out += _review_items(ctx, now)
    if incidents is not None and p.can("incidents:write"):
        for i in incidents:
            if i.acknowledged_at is None and i.status_category == "open":
                out.append(
                    Waiting("Acknowledge", f"{i.key} {i.title} ({i.severity})", f"/incidents/{i.key}", i.detected_at)
                )
            if i.regulatory.serious and i.regulatory.deadline and not i.regulatory.reported_at:
                out.append(
                    Waiting(
                        "Regulatory report",
                        f"{i.key}: report to the authority ({i.regulatory.article})",
                        f"/incidents/{i.key}",
                        due=i.regulatory.deadline,
                        overdue=i.regulatory.overdue,
                    )
                )
    if visible(request, ctx, "incidents", "incidents:read"):
        out += _postmortems(ctx, now)
    if visible(request, ctx, "risks", "risks:read"):
        out += _risk_reviews(ctx)
    return sorted(out, key=lambda w: (not w.overdue, w.due or w.since or now))


def _approvals(ctx: Ctx) -> list[Waiting]:
    from charter.inventory.models import AISystem
    from charter.releases.models import Release, ReleaseStage

    rows = ctx.session.execute(
        select(AISystem.key, Release.version, Release.change_summary, Release.requested_by, ReleaseStage.stage)
        .join(Release, Release.id == ReleaseStage.release_id)
        .join(AISystem, AISystem.id == ReleaseStage.system_id)
        .where(ReleaseStage.status == "pending_approval", Release.requested_by != ctx.principal.name)
        .order_by(Release.submitted_at)
        .limit(50)
    )
    return [
        Waiting(
            "Approve release",
            f"{key} v{version} for {stage}: {summary}",
            f"/systems/{key}/releases/{version}/approve?stage={stage}",
        )
        for key, version, summary, _by, stage in rows
    ]


def _signoffs(ctx: Ctx) -> list[Waiting]:
    from charter.procedures import service as procedures

    runs, _ = procedures.list_runs(ctx, status="submitted", limit=50)
    return [Waiting("Sign off review", r.title, f"/reviews/{r.id}", r.updated_at) for r in runs]


def _review_items(ctx: Ctx, now: datetime) -> list[Waiting]:
    from charter.procedures.models import ProcedureRun, RunItem

    if ctx.principal.user_id is None:
        return []
    rows = ctx.session.execute(
        select(ProcedureRun.id, ProcedureRun.title, RunItem.item_id, RunItem.due_at)
        .join(ProcedureRun, ProcedureRun.id == RunItem.run_id)
        .where(
            RunItem.assignee_id == ctx.principal.user_id,
            RunItem.status == "open",
            ProcedureRun.status == "in_progress",
        )
        .limit(50)
    )
    return [
        Waiting(
            "Answer review item",
            f"{title}: {item}",
            f"/reviews/{run_id}#item-{item}",
            due=due,
            overdue=bool(due and due < now),
        )
        for run_id, title, item, due in rows
    ]


def _postmortems(ctx: Ctx, now: datetime) -> list[Waiting]:
    from charter.incidents.models import ActionItem, Incident, Postmortem

    out: list[Waiting] = []
    if ctx.principal.can("reviews:signoff"):
        rows = ctx.session.execute(
            select(Incident.key, Incident.title, Postmortem.submitted_at, Postmortem.author_id)
            .join(Incident, Incident.id == Postmortem.incident_id)
            .where(Postmortem.status == "in_review")
            .limit(50)
        )
        out += [
            Waiting("Approve postmortem", f"{key}: {title}", f"/incidents/{key}/postmortem", since)
            for key, title, since, author in rows
            if author != ctx.principal.user_id
        ]
    if ctx.principal.user_id is not None and ctx.principal.can("incidents:write"):
        items = ctx.session.execute(
            select(Incident.key, ActionItem.title, ActionItem.due_date)
            .join(Incident, Incident.id == ActionItem.incident_id)
            .where(ActionItem.owner_id == ctx.principal.user_id, ActionItem.status.in_(("open", "in_progress")))
            .order_by(ActionItem.due_date)
            .limit(50)
        )
        today = now.date()
        out += [
            Waiting(
                "Action item",
                f"{key}: {title}",
                f"/incidents/{key}/postmortem",
                due=datetime.combine(due, datetime.min.time(), tzinfo=now.tzinfo),
                overdue=due < today,
            )
            for key, title, due in items
        ]
    return out


def _risk_reviews(ctx: Ctx) -> list[Waiting]:
    from charter.risk import queries

    mine, _ = queries.list_risks(
        ctx, queries.RiskFilter(owner=ctx.principal.name, overdue=True), sort="next_review_at", limit=50
    )
    return [
        Waiting("Review risk", f"{r.key} {r.title} ({r.level})", f"/risks/{r.key}", due=r.next_review_at, overdue=True)
        for r in mine
    ]


# ----------------------------------------------------------------------------- overdue (everyone's)


def overdue(request: Request, ctx: Ctx) -> dict[str, int]:
    counts: dict[str, int] = {}
    if visible(request, ctx, "risks", "risks:read"):
        from sqlalchemy import func

        from charter.risk import queries

        ctx.require("risks:read")
        overdue_risks = queries.filtered(ctx.session, queries.RiskFilter(overdue=True), ctx.now()).subquery()
        counts["risk reviews"] = int(ctx.session.execute(select(func.count()).select_from(overdue_risks)).scalar_one())
    if visible(request, ctx, "incidents", "incidents:read"):
        from charter.incidents import metrics

        counts["incident action items"] = len(metrics.overdue_actions(ctx))
    return counts


# ----------------------------------------------------------------------------- a system's overview


def system_summary(request: Request, ctx: Ctx, key: str) -> list[dict[str, Any]]:
    """Counters at the top of a system's overview page, each linking to its tab."""
    out: list[dict[str, Any]] = []
    if visible(request, ctx, "monitoring", "metrics:read"):
        from charter.monitoring.metrics import queries as series

        h = series.health(ctx, key)
        out.append(
            {
                "label": "health",
                "value": h.health.title(),
                "href": f"/systems/{key}/metrics",
                "bad": h.health in ("critical", "degraded"),
            }
        )
    if visible(request, ctx, "risks", "risks:read"):
        from charter.risk import queries

        risks, _ = queries.list_risks(ctx, queries.RiskFilter(system=key, open=True), limit=500)
        high = sum(1 for r in risks if r.level in ("HIGH", "CRITICAL"))
        out.append({"label": "open risks", "value": len(risks), "href": f"/systems/{key}/risks", "bad": False})
        out.append({"label": "high or critical", "value": high, "href": f"/systems/{key}/risks", "bad": high > 0})
    if visible(request, ctx, "incidents", "incidents:read"):
        from charter.incidents import queries as incident_views

        n = 0
        for category in OPEN_INCIDENT_CATEGORIES:
            items, _ = incident_views.list_incidents(
                ctx, incident_views.IncidentFilter(system=key, category=category), limit=200
            )
            n += len(items)
        out.append({"label": "open incidents", "value": n, "href": f"/systems/{key}/incidents", "bad": n > 0})
    if visible(request, ctx, "releases", "releases:read"):
        from charter.releases import queries as release_queries

        pointers = {p.stage: p.version for p in release_queries.read_stages(ctx, key).pointers if p.version}
        text = ", ".join(f"{s} v{v}" for s, v in pointers.items()) or "nothing"
        out.append({"label": "deployed", "value": text, "href": f"/systems/{key}/releases", "bad": False})
    return out
