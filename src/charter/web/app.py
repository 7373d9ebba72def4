"""Install the web console into the FastAPI app (called by charter.http.app.create_app)."""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from charter.kit.routing import add_routes
from charter.web.auth.api_cookie import cookie_principal
from charter.web.nav import installed_areas
from charter.web.security import SecurityHeaders


def install(app: FastAPI) -> None:
    import charter.web.models  # noqa: F401  (console tables: web_sessions, web_login_failures)
    from charter.web.static_files import router as static_router
    from charter.web.views import auth, dashboard

    areas = installed_areas()
    app.state.web_areas = areas
    app.state.cookie_principal = cookie_principal
    app.add_middleware(SecurityHeaders)
    add_routes(app.router, static_router)
    add_routes(app.router, auth.router)
    add_routes(app.router, dashboard.router)
    for area in areas:
        add_routes(app.router, importlib.import_module(area.views).router)
