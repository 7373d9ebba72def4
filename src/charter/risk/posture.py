"""The register's posture for the governance home page: what is above appetite and untreated, which
acceptances expire soon, open risks by level and how many were identified lately. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy import and_, case, func, or_, select

from charter.context import Ctx
from charter.risk import rules
from charter.risk.matrices.rules import LEVEL_ORDER
from charter.risk.models import Risk

ABOVE_APPETITE: Final = ("HIGH", "CRITICAL")
"""Levels above the organisation's appetite: they need a treatment or an acceptance (D31)."""
UNTREATED: Final = ("identified", "assessed")
EXPIRING_WITHIN: Final = timedelta(days=30)


@dataclass(frozen=True)
class RiskPosture:
    above_appetite_untreated: int  # HIGH/CRITICAL, still identified or assessed: nobody treats them yet
    acceptances_expiring: int  # accepted, the acceptance ends within EXPIRING_WITHIN
    acceptances_expired: int  # accepted, the acceptance has ended: the risk is open again
    open_by_level: dict[str, int]  # effective level (or UNASSESSED) -> open risks
    identified_since: dict[int, int]  # days -> risks identified in the last that many days


def posture(ctx: Ctx, windows: tuple[int, ...] = (30, 90)) -> RiskPosture:
    """One aggregate query over the register (its size does not change the number of round trips)."""
    ctx.require("risks:read")
    now = ctx.now()
    is_open = or_(
        Risk.status.in_(rules.OPEN_STATUSES),
        and_(Risk.status == "accepted", Risk.accepted_until.is_not(None), Risk.accepted_until <= now),
    )
    accepted = Risk.status == "accepted"
    columns = [
        func.sum(case((and_(Risk.level.in_(ABOVE_APPETITE), Risk.status.in_(UNTREATED)), 1), else_=0)),
        func.sum(
            case((and_(accepted, Risk.accepted_until > now, Risk.accepted_until <= now + EXPIRING_WITHIN), 1), else_=0)
        ),
        func.sum(case((and_(accepted, Risk.accepted_until <= now), 1), else_=0)),
        *[func.sum(case((Risk.created_at >= now - timedelta(days=d), 1), else_=0)) for d in windows],
    ]
    row = ctx.session.execute(select(*columns)).one()
    levels = dict.fromkeys((*LEVEL_ORDER, rules.UNASSESSED), 0)
    for level, n in ctx.session.execute(select(Risk.level, func.count()).where(is_open).group_by(Risk.level)):
        levels[level or rules.UNASSESSED] = levels.get(level or rules.UNASSESSED, 0) + int(n)
    return RiskPosture(
        above_appetite_untreated=int(row[0] or 0),
        acceptances_expiring=int(row[1] or 0),
        acceptances_expired=int(row[2] or 0),
        open_by_level=levels,
        identified_since={d: int(row[3 + i] or 0) for i, d in enumerate(windows)},
    )
