"""The coverage-provider seam: how a domain tells compliance which of its controls are in place for a system.

A domain contributes a `coverage.py` part (discovered through charter.kit.registry, like `gate_facts.py`) with

    KINDS: tuple[str, ...]                       the control kinds it reports ("sop", "gate", "evaluation", …)
    def control_states(ctx, subject: Subject) -> list[ControlState]

`control_states` reads through the domain's own queries (never writes) and returns one state per control it
knows for the subject: `met`, `partial` or `missing`, why, and the evidence behind it. Compliance maps the
controls to framework requirements; a control kind no domain reports is "missing: no module reports it".
Kept in kit so every domain can build these values without importing compliance (which sits above them all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, get_args

ControlStatus = Literal["met", "partial", "missing"]
CONTROL_STATUSES: Final[tuple[str, ...]] = get_args(ControlStatus)


@dataclass(frozen=True)
class Subject:
    """The AI system coverage is computed for."""

    id: int
    key: str
    name: str
    risk_tier: str
    deployment_type: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvidenceItem:
    """One record behind a control: a run, an uploaded file, a gate evaluation, a rule…

    `ref` is stable and unique ("sop-run:12", "evidence:7", "gate-evaluation:3"); `ledger` names the ledger
    entity (entity_type, entity_id) whose entries prove it; `evidence_id` is set for a stored evidence file.
    """

    ref: str
    title: str
    at: datetime | None = None
    sha256: str | None = None
    ledger: tuple[str, str] | None = None
    evidence_id: int | None = None


@dataclass(frozen=True)
class ControlState:
    control: str  # a control reference, e.g. "sop:ethical-review/bias-tested"
    status: ControlStatus
    why: str
    evidence: tuple[EvidenceItem, ...] = field(default=())
