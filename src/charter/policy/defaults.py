"""Shipped content installed by `charter db upgrade` and at server start: the default gate policies."""

from __future__ import annotations

from charter.context import Ctx
from charter.policy.service import ensure_defaults


def install(ctx: Ctx) -> list[str]:
    installed = ensure_defaults(ctx)
    return [f"gate policies installed: {', '.join(installed)}"] if installed else []
