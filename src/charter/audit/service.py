"""Audit use cases that change state: signed checkpoints on demand."""

from __future__ import annotations

from charter.context import Ctx
from charter.ledger.chain import sign_checkpoint
from charter.ledger.models import LedgerCheckpoint


def create_checkpoint(ctx: Ctx) -> LedgerCheckpoint:
    """Sign the chain as it stands now, on demand (`charter audit checkpoint`, POST /audit/checkpoints).

    Not itself a ledger entry: recording it would move the head past what it signs.
    """
    ctx.require("audit:checkpoint")
    return sign_checkpoint(ctx.session, ctx.settings.ledger_key_path, ctx.now())
