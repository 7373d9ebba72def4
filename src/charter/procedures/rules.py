"""Pure procedure rules: the run lifecycle, what an item's answer means, the approval rule, completion.

No DB and no web here: the service hands in plain `ItemState` values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from charter.kit.errors import IllegalTransition

RunStatus = Literal["in_progress", "submitted", "approved", "rejected", "cancelled"]
RUN_STATUSES: Final[tuple[RunStatus, ...]] = get_args(RunStatus)

# Every allowed move of a run. Anything else is refused with the allowed set.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "in_progress": frozenset({"submitted", "cancelled"}),
    "submitted": frozenset({"approved", "rejected", "in_progress"}),
    "rejected": frozenset({"in_progress", "cancelled"}),
    "approved": frozenset(),
    "cancelled": frozenset(),
}
ANSWERABLE: Final = frozenset({"in_progress"})  # items change only while the run is being worked on
EXCEPTION_STATES: Final = frozenset({"in_progress", "submitted"})
EVIDENCE_STATES: Final = frozenset({"in_progress", "submitted"})

ItemStatus = Literal["open", "pass", "fail", "needs_review", "not_applicable"]
ITEM_STATUSES: Final[tuple[ItemStatus, ...]] = get_args(ItemStatus)
Answer = Literal["pass", "fail", "needs_review", "not_applicable"]
ANSWERS: Final[tuple[Answer, ...]] = get_args(Answer)
EXCEPTABLE: Final = frozenset({"fail", "needs_review"})


def check_transition(run_id: int, current: str, target: str) -> None:
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        raise IllegalTransition(f"procedure run {run_id}", current, target, allowed)


@dataclass(frozen=True)
class ItemState:
    """What the rules need to know about one item."""

    item_id: str
    section_id: str
    required: bool
    evidence_required: bool
    status: str  # one of ITEM_STATUSES
    justification: str = ""
    has_exception: bool = False
    evidence_count: int = 0
    expired_evidence: tuple[str, ...] = ()  # titles of attached evidence past its expiry
    answered_by_id: int | None = None


@dataclass(frozen=True)
class Assessment:
    """An item as it stands now: its effective status and why it differs from the stored one."""

    item: ItemState
    status: str
    reasons: tuple[str, ...] = ()
    satisfied: bool = False  # passes, or is N/A with a justification
    excepted: bool = False  # not satisfied, but governance approved an exception
    blocking: bool = False  # required, not satisfied, no exception: approval is impossible

    @property
    def open(self) -> bool:
        """Not passing (the seed's get_issues): open, fail, needs_review, or a pass flagged for review."""
        return not self.satisfied


def assess(item: ItemState) -> Assessment:
    reasons: list[str] = []
    status = item.status
    if status == "pass":
        if item.expired_evidence:
            reasons.append("evidence expired: " + ", ".join(item.expired_evidence))
        if item.evidence_required and item.evidence_count - len(item.expired_evidence) <= 0:
            reasons.append("evidence is required and none valid is attached")
        if reasons:
            status = "needs_review"
    if status == "not_applicable" and not item.justification.strip():
        reasons.append("not applicable without a justification")
        status = "needs_review"
    if status == "open":
        reasons.append("not answered")
    satisfied = status in ("pass", "not_applicable")
    excepted = not satisfied and item.has_exception and item.status in EXCEPTABLE
    return Assessment(
        item=item,
        status=status,
        reasons=tuple(reasons),
        satisfied=satisfied,
        excepted=excepted,
        blocking=item.required and not satisfied and not excepted,
    )


@dataclass(frozen=True)
class Completion:
    pct: float
    sections: dict[str, float] = field(default_factory=dict)


def _pct(done: int, total: int) -> float:
    return round(100.0 * done / total, 1) if total else 100.0


def completion(items: Sequence[ItemState]) -> Completion:
    """Share of items answered (any answer), overall and per section, in percent with one decimal."""
    totals: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    for item in items:
        totals[item.section_id] += 1
        if item.status != "open":
            answered[item.section_id] += 1
    return Completion(
        pct=_pct(sum(answered.values()), len(items)),
        sections={sid: _pct(answered[sid], n) for sid, n in totals.items()},
    )


def blockers(items: Iterable[ItemState]) -> list[Assessment]:
    """The required items that stop approval (seed 002: all criteria met or exceptions approved)."""
    return [a for a in map(assess, items) if a.blocking]


def can_approve(items: Sequence[ItemState]) -> bool:
    return not blockers(items)


def top_answerers(items: Iterable[ItemState]) -> frozenset[int]:
    """The user(s) who answered the most items; ties all count. They may not sign the run off."""
    counts = Counter(i.answered_by_id for i in items if i.answered_by_id is not None and i.status != "open")
    if not counts:
        return frozenset()
    most = max(counts.values())
    return frozenset(uid for uid, n in counts.items() if n == most)
