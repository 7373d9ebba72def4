"""The console's areas: one per domain, shown when the domain's module is installed and the user may read it."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import Request

    from charter.kit.principal import Principal


@dataclass(frozen=True)
class Area:
    key: str
    label: str
    href: str
    permission: str
    needs: tuple[str, ...]  # modules that must exist (the domain's service); pages: web.app.AREA_ROUTERS


AREAS: tuple[Area, ...] = (
    Area("systems", "Systems", "/systems", "systems:read", ("charter.inventory.service",)),
    Area("risks", "Risks", "/risks", "risks:read", ("charter.risk.service",)),
    Area("reviews", "Reviews", "/reviews", "sops:read", ("charter.procedures.service",)),
    Area("releases", "Releases", "/releases", "releases:read", ("charter.releases.service",)),
    Area("prompts", "Prompts", "/prompts", "prompts:read", ("charter.prompts.service",)),
    Area("monitoring", "Monitoring", "/monitoring", "metrics:read", ("charter.monitoring.metrics.queries",)),
    Area("data", "Data", "/data", "data:read", ("charter.data.service",)),
    Area("evaluation", "Evaluation", "/evaluation", "evals:read", ("charter.evaluation.service",)),
    Area("redteam", "Red team", "/redteam", "redteam:read", ("charter.redteam.service",)),
    Area("incidents", "Incidents", "/incidents", "incidents:read", ("charter.incidents.service",)),
    Area("compliance", "Compliance", "/compliance", "compliance:read", ("charter.compliance.queries",)),
    Area("ledger", "Ledger", "/ledger", "audit:read", ("charter.ledger.chain",)),
    Area("users", "Users", "/users", "users:read", ("charter.access.service",)),
)


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def installed_areas() -> tuple[Area, ...]:
    """Areas whose domain modules exist in this installation."""
    return tuple(a for a in AREAS if all(_exists(m) for m in a.needs))


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str
    current: bool


def navigation(request: Request, principal: Principal) -> list[NavLink]:
    path = request.url.path
    areas: tuple[Area, ...] = getattr(request.app.state, "web_areas", ())
    links = [NavLink("Dashboard", "/", path == "/")]
    for area in areas:
        if principal.can(area.permission):
            links.append(NavLink(area.label, area.href, path == area.href or path.startswith(area.href + "/")))
    return links


def has_area(request: Request, key: str) -> bool:
    return any(a.key == key for a in getattr(request.app.state, "web_areas", ()))


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    area: str | None  # the area whose module provides the tab (None: always there)
    permission: str


SYSTEM_TABS: tuple[Tab, ...] = (
    Tab("overview", "Overview", None, "systems:read"),
    Tab("risks", "Risks", "risks", "risks:read"),
    Tab("reviews", "Reviews", "reviews", "sops:read"),
    Tab("releases", "Releases", "releases", "releases:read"),
    Tab("prompts", "Prompts", "prompts", "prompts:read"),
    Tab("metrics", "Metrics & drift", "monitoring", "metrics:read"),
    Tab("incidents", "Incidents", "incidents", "incidents:read"),
    Tab("ledger", "Ledger", "ledger", "audit:read"),
)


def system_tabs(request: Request, principal: Principal, key: str, current: str) -> list[NavLink]:
    links = []
    for tab in SYSTEM_TABS:
        if (tab.area is None or has_area(request, tab.area)) and principal.can(tab.permission):
            href = f"/systems/{key}" if tab.key == "overview" else f"/systems/{key}/{tab.key}"
            links.append(NavLink(tab.label, href, tab.key == current))
    return links
