"""The page of one AI system: its header and tabs, with one tab's template below (each area renders its tab)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from charter.context import Ctx
from charter.inventory import queries
from charter.web.nav import system_tabs
from charter.web.render import render


def system_page(request: Request, ctx: Ctx, key: str, tab: str, template: str, **context: Any) -> Response:
    """Render one tab of the system page (header, tabs, then the tab's template)."""
    system = context.pop("system", None) or queries.read_system(ctx, key)
    return render(
        request,
        template,
        system=system,
        tabs=system_tabs(request, ctx.principal, key, tab),
        **context,
    )
