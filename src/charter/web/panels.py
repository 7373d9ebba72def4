"""What the areas contribute to the dashboard and to a system's overview.

Each contribution is computed only when its area is installed and the user may read it. Everything is read
through the domains' query functions (which check the permission again); the bulk reads among them
(fleet health, releases awaiting approval, postmortems in review, action items and review items assigned to
you) keep the page one fixed round of queries for any number of systems — see docs/console.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request

from charter.context import Ctx
from charter.incidents import metrics as incident_metrics
from charter.incidents import queries as incident_queries
from charter.incidents.schemas import IncidentRead
from charter.monitoring.metrics import queries as monitoring
from charter.procedures import queries as procedure_queries
from charter.procedures import service as procedures
from charter.releases import queries as release_queries
from charter.risk import queries as risk_queries
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
    """Health of every system from the firing alerts (the monitoring rule), the count per health, and the
    firing alerts."""
    fleet = monitoring.fleet_health(ctx, keys)
    return {"health": fleet.health, "counts": Counter(fleet.health.values()), "firing": fleet.firing}


# ----------------------------------------------------------------------------- incidents


def open_incidents(ctx: Ctx) -> list[IncidentRead]:
    out: list[IncidentRead] = []
    for category in OPEN_INCIDENT_CATEGORIES:
        items, _ = incident_queries.list_incidents(
            ctx, incident_queries.IncidentFilter(category=category), sort="-key", limit=200
        )
        out.extend(items)
    return sorted(out, key=lambda i: (i.severity_rank, i.detected_at))


# ----------------------------------------------------------------------------- waiting for me


def waiting_for(request: Request, ctx: Ctx, incidents: list[IncidentRead] | None) -> list[Waiting]:
    p = ctx.principal
    now = ctx.now()
    out: list[Waiting] = []
    if visible(request, ctx, "releases", "releases:approve"):
        out += _approvals(ctx)
    if visible(request, ctx, "reviews", "reviews:signoff"):
        out += _signoffs(ctx)
    if visible(request, ctx, "reviews", "reviews:run"):
        out += _review_items(ctx)
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
    return [
        Waiting(
            "Approve release",
            f"{a.system} v{a.version} for {a.stage}: {a.summary}",
            f"/systems/{a.system}/releases/{a.version}/approve?stage={a.stage}",
        )
        for a in release_queries.awaiting_my_approval(ctx, limit=50)
    ]


def _signoffs(ctx: Ctx) -> list[Waiting]:
    runs, _ = procedures.list_runs(ctx, status="submitted", limit=50)
    return [Waiting("Sign off review", r.title, f"/reviews/{r.id}", r.updated_at) for r in runs]


def _review_items(ctx: Ctx) -> list[Waiting]:
    return [
        Waiting(
            "Answer review item",
            f"{i.run_title}: {i.item_id}",
            f"/reviews/{i.run_id}#item-{i.item_id}",
            due=i.due_at,
            overdue=i.overdue,
        )
        for i in procedure_queries.my_open_items(ctx, limit=50)
    ]


def _postmortems(ctx: Ctx, now: datetime) -> list[Waiting]:
    out: list[Waiting] = []
    if ctx.principal.can("reviews:signoff"):
        out += [
            Waiting(
                "Approve postmortem",
                f"{pm.incident}: {pm.title}",
                f"/incidents/{pm.incident}/postmortem",
                pm.submitted_at,
            )
            for pm in incident_queries.postmortems_for_me_to_review(ctx, limit=50)
        ]
    if ctx.principal.can("incidents:write"):
        out += [
            Waiting(
                "Action item",
                f"{a.incident}: {a.title}",
                f"/incidents/{a.incident}/postmortem",
                due=datetime.combine(a.due_date, datetime.min.time(), tzinfo=now.tzinfo),
                overdue=a.overdue,
            )
            for a in incident_queries.my_open_action_items(ctx, limit=50)
        ]
    return out


def _risk_reviews(ctx: Ctx) -> list[Waiting]:
    mine, _ = risk_queries.list_risks(
        ctx, risk_queries.RiskFilter(owner=ctx.principal.name, overdue=True), sort="next_review_at", limit=50
    )
    return [
        Waiting("Review risk", f"{r.key} {r.title} ({r.level})", f"/risks/{r.key}", due=r.next_review_at, overdue=True)
        for r in mine
    ]


# ----------------------------------------------------------------------------- overdue (everyone's)


def overdue(request: Request, ctx: Ctx) -> dict[str, int]:
    counts: dict[str, int] = {}
    if visible(request, ctx, "risks", "risks:read"):
        counts["risk reviews"] = risk_queries.count_overdue_reviews(ctx)
    if visible(request, ctx, "incidents", "incidents:read"):
        counts["incident action items"] = len(incident_metrics.overdue_actions(ctx))
    return counts


# ----------------------------------------------------------------------------- a system's overview


def system_summary(request: Request, ctx: Ctx, key: str) -> list[dict[str, Any]]:
    """Counters at the top of a system's overview page, each linking to its tab."""
    out: list[dict[str, Any]] = []
    if visible(request, ctx, "monitoring", "metrics:read"):
        h = monitoring.health(ctx, key)
        out.append(
            {
                "label": "health",
                "value": h.health.title(),
                "href": f"/systems/{key}/metrics",
                "bad": h.health in ("critical", "degraded"),
            }
        )
    if visible(request, ctx, "risks", "risks:read"):
        risks, _ = risk_queries.list_risks(ctx, risk_queries.RiskFilter(system=key, open=True), limit=500)
        high = sum(1 for r in risks if r.level in ("HIGH", "CRITICAL"))
        out.append({"label": "open risks", "value": len(risks), "href": f"/systems/{key}/risks", "bad": False})
        out.append({"label": "high or critical", "value": high, "href": f"/systems/{key}/risks", "bad": high > 0})
    if visible(request, ctx, "incidents", "incidents:read"):
        n = 0
        for category in OPEN_INCIDENT_CATEGORIES:
            items, _ = incident_queries.list_incidents(
                ctx, incident_queries.IncidentFilter(system=key, category=category), limit=200
            )
            n += len(items)
        out.append({"label": "open incidents", "value": n, "href": f"/systems/{key}/incidents", "bad": n > 0})
    if visible(request, ctx, "releases", "releases:read"):
        pointers = {p.stage: p.version for p in release_queries.read_stages(ctx, key).pointers if p.version}
        text = ", ".join(f"{s} v{v}" for s, v in pointers.items()) or "nothing"
        out.append({"label": "deployed", "value": text, "href": f"/systems/{key}/releases", "bad": False})
    return out
