"""Install the web console into the FastAPI app (called by charter.http.app.create_app)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

import charter.web.models  # noqa: F401  (console tables: web_sessions, web_login_failures)
from charter.kit.routing import add_routes
from charter.web.auth.api_cookie import cookie_principal
from charter.web.nav import installed_areas
from charter.web.security import SecurityHeaders
from charter.web.static_files import router as static_router
from charter.web.views import (
    auth,
    compliance,
    dashboard,
    data,
    evaluation,
    incidents,
    ledger,
    monitoring,
    prompts,
    redteam,
    releases,
    reviews,
    risks,
    systems,
    users,
)

AREA_ROUTERS: dict[str, APIRouter] = {
    "systems": systems.router,
    "risks": risks.router,
    "reviews": reviews.router,
    "releases": releases.router,
    "prompts": prompts.router,
    "monitoring": monitoring.router,
    "data": data.router,
    "evaluation": evaluation.router,
    "redteam": redteam.router,
    "incidents": incidents.router,
    "compliance": compliance.router,
    "ledger": ledger.router,
    "users": users.router,
}
"""The console pages of each area (nav.AREAS), installed when the area's domain is."""


def install(app: FastAPI) -> None:
    areas = installed_areas()
    app.state.web_areas = areas
    app.state.cookie_principal = cookie_principal
    app.add_middleware(SecurityHeaders)
    inline = getattr(app.state, "inline_reads", False)
    add_routes(app.router, static_router, inline_reads=inline)
    add_routes(app.router, auth.router, inline_reads=inline)
    add_routes(app.router, dashboard.router, inline_reads=inline)
    for area in areas:
        add_routes(app.router, AREA_ROUTERS[area.key], inline_reads=inline)
