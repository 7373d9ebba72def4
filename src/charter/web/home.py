"""Each role's home page answers that person's first question of the day (docs/console.md, D30):

- governance (and admin): what is out of policy (a to-do list with links), what waits for my decision, what
  changed since my last visit (meaningful events, grouped), and is it getting worse (30 / 90 day trends);
- approver: my queue; engineer: my systems' health, their gates and failing checks; auditor: the ledger's
  state, its last signed checkpoint and the export.

Everything is read through the domains' query functions (each checks the permission again), in a fixed
number of queries whatever the size of the inventory.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from fastapi import Request

from charter.audit import queries as audit
from charter.context import Ctx
from charter.incidents import queries as incident_queries
from charter.inventory.schemas import SystemRead
from charter.kit.errors import NotFound
from charter.monitoring.metrics import queries as monitoring
from charter.procedures import queries as procedure_queries
from charter.procedures import service as procedures
from charter.releases import queries as release_queries
from charter.risk import posture as risk_posture
from charter.web.auth.session import previous_visit
from charter.web.panels import visible

FOCUS: Final[dict[str, str]] = {
    "admin": "governance",
    "governance": "governance",
    "approver": "approver",
    "engineer": "engineer",
    "auditor": "auditor",
    "viewer": "viewer",
}
TITLES: Final[dict[str, str]] = {
    "governance": "Governance overview",
    "approver": "Your decisions",
    "engineer": "Your systems",
    "auditor": "Audit trail",
    "viewer": "Overview",
}
WINDOWS: Final = (30, 90)
SIGNOFF_DUE: Final = timedelta(days=7)
"""A submitted review waits at most this long for its sign-off before it counts as overdue."""
REVIEW_BEFORE: Final = ("pilot", "production")
"""Stages a system may only be in with an approved ethical review."""
BOOKKEEPING: Final = (
    "alert_rule.",
    "notification.",
    "policy.",
    "risk.matrix.",
    "risk.category.",
    "drift_profile.",
    "incident.policy.",
    "release.stages.",
    "token.",
    "template.",
    "sop.",
)
"""Ledger actions that configure the tool rather than change the governance picture: not shown as news."""
EVENT_NAMES: Final[dict[str, str]] = {
    "system.registered": "systems registered",
    "system.updated": "system records edited",
    "risk.identified": "risks identified",
    "risk.assessed": "risk assessments",
    "risk.accepted": "risks accepted",
    "risk.level.changed": "risk levels changed",
    "risk.acceptance_expired": "risk acceptances expired",
    "incident.opened": "incidents opened",
    "incident.acknowledged": "incidents acknowledged",
    "incident.update.posted": "incident updates posted",
    "incident.severity_changed": "incident severities changed",
    "release.submitted": "releases submitted",
    "release.stage.requested": "release stages requested",
    "release.stage.approved": "release stages approved",
    "release.stage.rejected": "release stages rejected",
    "release.stage.deployed": "releases deployed",
    "release.stage.rolled_back": "releases rolled back",
    "alert.firing": "alerts fired",
    "alert.resolved": "alerts resolved",
    "drift.checked": "drift checks",
    "run.started": "reviews started",
    "evidence.added": "evidence files added",
    "user.created": "people added",
}


@dataclass(frozen=True)
class Todo:
    """One out-of-policy finding on the governance home page."""

    text: str
    count: int
    href: str
    level: str = "error"  # error | warning


@dataclass(frozen=True)
class Event:
    text: str
    count: int
    href: str


@dataclass
class Home:
    focus: str
    title: str
    todos: list[Todo] = field(default_factory=list)
    since: datetime | None = None
    events: list[Event] = field(default_factory=list)
    trends: list[dict[str, Any]] = field(default_factory=list)
    open_by_level: dict[str, int] = field(default_factory=dict)
    mine: list[dict[str, Any]] = field(default_factory=list)
    gates: list[release_queries.FailingGate] = field(default_factory=list)
    ledger: dict[str, Any] = field(default_factory=dict)


def build(request: Request, ctx: Ctx, systems: list[SystemRead], context: dict[str, Any]) -> Home:
    focus = FOCUS.get(ctx.principal.role, "viewer")
    home = Home(focus=focus, title=TITLES[focus])
    if focus == "governance":
        home.todos = posture(request, ctx, systems, home)
        home.since, home.events = changes_since(request, ctx)
        home.trends = trends(request, ctx)
    elif focus == "engineer":
        home.mine, home.gates = my_systems(request, ctx, systems, context.get("health"), context.get("incidents"))
    elif focus == "auditor":
        home.ledger = ledger_state(request, ctx)
        home.since, home.events = changes_since(request, ctx)
    return home


# ----------------------------------------------------------------------------- governance


def posture(request: Request, ctx: Ctx, systems: list[SystemRead], home: Home) -> list[Todo]:
    """Out-of-policy items, worst first, each linking to where it is fixed."""
    live = [s for s in systems if s.stage != "retired"]
    todos: list[Todo] = []

    def add(items: int, one: str, many: str, href: str, level: str = "error") -> None:
        if items:
            todos.append(Todo(one if items == 1 else many.format(n=items), items, href, level))

    unclassified = [s for s in live if s.risk_tier == "unclassified"]
    add(
        len(unclassified),
        f"{_first(unclassified)} has no EU AI Act risk tier",
        "{n} systems have no EU AI Act risk tier",
        f"/systems/{unclassified[0].key}/edit" if len(unclassified) == 1 else "/systems?risk_tier=unclassified",
    )
    ownerless = [s for s in live if not s.owner]
    add(
        len(ownerless),
        f"{_first(ownerless)} has no owner",
        "{n} systems have no owner",
        f"/systems/{ownerless[0].key}/edit" if ownerless else "/systems",
    )
    if visible(request, ctx, "reviews", "sops:read"):
        reviewed = procedure_queries.systems_with_approved_run(ctx, "ethical-review")
        unreviewed = [s for s in live if s.stage in REVIEW_BEFORE and s.key not in reviewed]
        add(
            len(unreviewed),
            f"{_first(unreviewed)} is in {_stage(unreviewed)} without an approved ethical review",
            "{n} systems in pilot or production have no approved ethical review",
            f"/systems/{unreviewed[0].key}/reviews" if len(unreviewed) == 1 else "/reviews",
        )
        submitted, _ = procedures.list_runs(ctx, status="submitted", limit=200)
        late = [r for r in submitted if ctx.now() - r.updated_at > SIGNOFF_DUE]
        add(
            len(late),
            f"The review “{_first_title(late)}” has waited more than 7 days for its sign-off",
            "{n} reviews have waited more than 7 days for their sign-off",
            f"/reviews/{late[0].id}" if len(late) == 1 else "/reviews?status=submitted",
        )
    if visible(request, ctx, "risks", "risks:read"):
        rp = risk_posture.posture(ctx, WINDOWS)
        home.open_by_level = rp.open_by_level
        add(
            rp.above_appetite_untreated,
            "1 high or critical risk has no treatment yet",
            "{n} high or critical risks have no treatment yet",
            "/risks?open=1&sort=-score",
        )
        add(
            rp.acceptances_expired,
            "1 risk acceptance has expired: the risk is open again",
            "{n} risk acceptances have expired: those risks are open again",
            "/risks?status=accepted&open=1",
        )
        add(
            rp.acceptances_expiring,
            "1 risk acceptance ends within 30 days",
            "{n} risk acceptances end within 30 days",
            "/risks?status=accepted",
            "warning",
        )
    if visible(request, ctx, "releases", "releases:read"):
        gates = release_queries.failing_gates(ctx, since=ctx.now() - timedelta(days=7))
        add(
            len(gates),
            f"{gates[0].system} v{gates[0].version} fails its {gates[0].stage} gate" if gates else "",
            "{n} releases fail their gate",
            f"/systems/{gates[0].system}/releases/{gates[0].version}" if gates else "/releases",
            "warning",
        )
    return sorted(todos, key=lambda t: t.level != "error")


def _first(systems: list[SystemRead]) -> str:
    return systems[0].name if systems else ""


def _stage(systems: list[SystemRead]) -> str:
    return systems[0].stage if systems else ""


def _first_title(runs: list[Any]) -> str:
    return str(runs[0].title) if runs else ""


def changes_since(request: Request, ctx: Ctx) -> tuple[datetime | None, list[Event]]:
    """Meaningful ledger events since this person's previous visit (or the last 24 hours), grouped."""
    if not visible(request, ctx, "ledger", "audit:read"):
        return None, []
    ident = getattr(request.state, "web_identity", None)
    since = None
    if ident is not None and ctx.principal.user_id is not None:
        since = previous_visit(ctx.session, ctx.principal.user_id, ident.session_id)
    since = since or ctx.now() - timedelta(hours=24)
    events: list[Event] = []
    for action, entity_type, n in audit.action_counts(ctx, since):
        if action.startswith(BOOKKEEPING):
            continue
        name = EVENT_NAMES.get(action) or f"{action.replace('.', ' ').replace('_', ' ')} ({entity_type})"
        events.append(Event(name, n, f"/ledger?action={action}&since={since.isoformat(timespec='seconds')}"))
    return since, events[:12]


def trends(request: Request, ctx: Ctx) -> list[dict[str, Any]]:
    """Counts over the last 30 and 90 days, and whether the last 30 days run above the 90-day pace."""
    rows: list[dict[str, Any]] = []

    def add(what: str, counts: dict[int, int], href: str) -> None:
        recent, longer = counts[WINDOWS[0]], counts[WINDOWS[1]]
        pace = longer * WINDOWS[0] / WINDOWS[1]
        direction = "up" if recent > pace * 1.2 and recent > 0 else "down" if recent < pace * 0.8 else "flat"
        rows.append({"what": what, "d30": recent, "d90": longer, "direction": direction, "href": href})

    if visible(request, ctx, "risks", "risks:read"):
        add("Risks identified", risk_posture.posture(ctx, WINDOWS).identified_since, "/risks?sort=-created_at")
    if visible(request, ctx, "incidents", "incidents:read"):
        add("Incidents opened", incident_queries.opened_since(ctx, WINDOWS), "/incidents")
    if visible(request, ctx, "monitoring", "metrics:read"):
        add("Alerts fired", monitoring.fired_since(ctx, WINDOWS), "/monitoring")
    return rows


# ----------------------------------------------------------------------------- engineer


def my_systems(
    request: Request, ctx: Ctx, systems: list[SystemRead], health: dict[str, Any] | None, incidents: Any
) -> tuple[list[dict[str, Any]], list[release_queries.FailingGate]]:
    """The systems this person owns with their health, firing alerts and open incidents; failing gates."""
    mine = [s for s in systems if s.owner == ctx.principal.name and s.stage != "retired"]
    keys = {s.key for s in mine}
    firing: dict[str, int] = {}
    if health:
        for alert in health["firing"]:
            if alert.system in keys:
                firing[alert.system] = firing.get(alert.system, 0) + 1
    open_incidents: dict[str, int] = {}
    for incident in incidents or []:
        if incident.system in keys:
            open_incidents[incident.system] = open_incidents.get(incident.system, 0) + 1
    rows = [
        {
            "system": s,
            "health": (health or {}).get("health", {}).get(s.key, "unknown"),
            "firing": firing.get(s.key, 0),
            "incidents": open_incidents.get(s.key, 0),
        }
        for s in mine
    ]
    rows.sort(key=lambda r: (-(r["firing"] + r["incidents"]), r["system"].key))
    gates: list[release_queries.FailingGate] = []
    if keys and visible(request, ctx, "releases", "releases:read"):
        gates = release_queries.failing_gates(ctx, since=ctx.now() - timedelta(days=30), systems=keys)
    return rows, gates


# ----------------------------------------------------------------------------- auditor


def ledger_state(request: Request, ctx: Ctx) -> dict[str, Any]:
    if not visible(request, ctx, "ledger", "audit:read"):
        return {}
    state: dict[str, Any] = {"size": audit.ledger_size(ctx), "checkpoint": None}
    with contextlib.suppress(NotFound):
        state["checkpoint"] = audit.latest_checkpoint(ctx)
    return state
