"""Shipped content installed by `charter db upgrade` and at server start: the SOP templates."""

from __future__ import annotations

from charter.context import Ctx
from charter.procedures.templates import sync_shipped


def install(ctx: Ctx) -> list[str]:
    added = sync_shipped(ctx)
    return [f"procedure templates installed: {', '.join(f'{t.key} v{t.version}' for t in added)}"] if added else []
