"""The audit ledger: filtered list, verification on demand, JSON Lines export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter, ValidationError

from charter.audit import api as audit_api
from charter.audit import queries as audit
from charter.audit.schemas import EntryRead
from charter.context import Ctx
from charter.kit.errors import ValidationFailed
from charter.kit.routing import threaded
from charter.web.deps import WebCtx, WebRoute
from charter.web.render import fragment, is_htmx, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAGE = 50
FILTERS = ("entity_type", "entity_id", "actor", "action", "since", "until")
_when = TypeAdapter(datetime)


def entries_for(
    ctx: Ctx,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = PAGE,
) -> tuple[list[EntryRead], str | None]:
    """The ledger's own listing (the API's function: same permission check, same filters)."""
    try:
        cursor_seq = int(cursor) if cursor else None
    except ValueError as exc:
        raise ValidationFailed("the page cursor is not valid; go back to the first page") from exc
    page = audit.list_entries(
        ctx,
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        action=action,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor_seq,
    )
    return page.items, page.next_cursor


def _time(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        return _when.validate_python(text)
    except ValidationError as exc:
        raise ValidationFailed(f"{name}: '{text}' is not a date or time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from exc


@router.get("/ledger")
def ledger_page(request: Request, ctx: WebCtx) -> Response:
    q = request.query_params
    flt = {k: (q.get(k) or "").strip() for k in FILTERS}
    entries, next_cursor = entries_for(
        ctx,
        entity_type=flt["entity_type"] or None,
        entity_id=flt["entity_id"] or None,
        actor=flt["actor"] or None,
        action=flt["action"] or None,
        since=_time(flt["since"], "since"),
        until=_time(flt["until"], "until"),
        cursor=q.get("cursor"),
    )
    context: dict[str, Any] = {
        "entries": entries,
        "next_cursor": next_cursor,
        "filters": flt,
        "filtered": any(flt.values()),
        "query": {k: v for k, v in flt.items() if v},
        "can_verify": ctx.principal.can("audit:verify"),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "ledger-table":
        return fragment(request, "ledger/_table.html", **context)
    return render(request, "ledger/list.html", **context)


@router.post("/ledger/verify")
def verify(request: Request, ctx: WebCtx) -> Response:
    """Re-walk the chain and the signed checkpoints now; show what was checked and the first problem."""
    result = audit.verify_ledger(ctx)
    if is_htmx(request):
        return fragment(request, "ledger/_verify.html", result=result)
    return render(request, "ledger/verify.html", result=result)


@router.get("/ledger/export")
@threaded  # a long read: never on the event loop
def export(ctx: WebCtx) -> Response:
    """The JSON Lines export (same as GET /api/v1/audit/export): verifies offline with charter audit verify --file."""
    return audit_api.export(ctx)
