"""A living scenario for the console: risks, reviews, releases, metrics with a firing alert, an open incident.

Built on the three systems charter.demo.data seeds (support-chatbot, claims-triage, contract-summariser)
and its people (grace: governance, alan: approver, ada: engineer), entirely through the domain services,
so every step is in the ledger and verifies. charter.demo.data.seed() calls extend_demo() (so do the
browser tests and scripts/screenshots.py, through seed()).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from charter.access.models import User
from charter.access.service import principal_of
from charter.context import Ctx
from charter.demo.releases import releases_story
from charter.incidents import service as incidents
from charter.incidents import timeline
from charter.incidents.schemas import IncidentCreate
from charter.incidents.store import get_incident
from charter.inventory import service as inventory
from charter.inventory.queries import get_system
from charter.inventory.schemas import Transition
from charter.kit.clock import Clock, FixedClock
from charter.monitoring.metrics import service as ingest
from charter.procedures import service as procedures
from charter.procedures.subjects import resolve
from charter.risk import mitigations
from charter.risk import service as risks
from charter.risk.schemas import Assess, MitigationCreate, MitigationUpdate, RiskCreate
from charter.risk.schemas import Transition as RiskTransition


def _as(ctx: Ctx, username: str) -> Ctx:
    user = ctx.session.execute(select(User).where(User.username == username)).scalar_one()
    principal = principal_of(user)
    return Ctx(session=ctx.session, principal=principal, clock=ctx.clock, settings=ctx.settings, request_id="demo")


def extend_demo(ctx: Ctx, clock: FixedClock, real: Clock) -> list[str]:
    """Add the living part of the demo; returns one note per area seeded.

    `clock` is the demo's backdated clock (ctx's clock): the story moves it forward day by day, and the
    metrics arrive at the `real` clock's now so the last day of metrics and its firing alert end now.
    """
    notes: list[str] = []
    ada, alan, grace = _as(ctx, "ada"), _as(ctx, "alan"), _as(ctx, "grace")

    def advance(delta: timedelta) -> None:
        clock.advance(delta)

    notes.append(_risks(ada, grace))
    advance(timedelta(hours=2))

    notes.append(releases_story(ada, alan, grace, advance))
    advance(timedelta(days=1))
    notes.append(_review(ada))
    clock.set(max(clock.now(), real.now() - timedelta(hours=2)))
    notes.append(_incident(ada))
    clock.set(max(clock.now(), real.now()))
    notes.append(_metrics(ada))
    ctx.session.flush()
    return notes


def _risks(ada: Ctx, grace: Ctx) -> str:
    claims = get_system(grace.session, "claims-triage")
    if claims.stage == "proposed":
        inventory.transition_system(grace, "claims-triage", Transition(to="sandbox", version=claims.version))
    made = [
        ("support-chatbot", "Hallucinated refund policy", "reputational", (4, 4), (2, 3)),
        ("support-chatbot", "Personal data pasted into prompts", "privacy", (3, 5), None),
        ("support-chatbot", "Prompt injection exfiltrates instructions", "security", (3, 3), None),
        ("claims-triage", "Lower approval rates for older claimants", "fairness", (4, 5), None),
        ("claims-triage", "Model drift after policy change", "safety", (3, 4), None),
        ("contract-summariser", "Summary omits liability clauses", "legal", (2, 4), None),
    ]
    for system, title, category, inherent, residual in made:
        risk = risks.create_risk(
            ada,
            RiskCreate(system=system, title=title, category=category, likelihood=inherent[0], impact=inherent[1]),
        )
        if residual:
            risk = risks.assess_risk(
                ada,
                risk.key,
                Assess(
                    version=risk.version,
                    likelihood=inherent[0],
                    impact=inherent[1],
                    residual_likelihood=residual[0],
                    residual_impact=residual[1],
                    rationale="retrieval limited to the published policy pages",
                ),
            )
            risk = risks.transition_risk(ada, risk.key, RiskTransition(to="treating", version=risk.version))
            m = mitigations.add_mitigation(
                ada, risk.key, MitigationCreate(description="Answer refund questions only from retrieved policy text")
            )
            mitigations.update_mitigation(ada, risk.key, m.number, MitigationUpdate(version=m.version, status="done"))
    return f"demo: {len(made)} risks on the heat map"


def _metrics(ada: Ctx) -> str:
    now = ada.now()
    start = now - timedelta(hours=24)
    points: list[dict[str, Any]] = []
    for i in range(24 * 12 + 1):  # every 5 minutes for a day
        ts = (start + timedelta(minutes=5 * i)).isoformat()
        drop = max(0.0, (i - 250) * 0.004)  # accuracy falls in the last hours: the alert fires
        points.append({"name": "accuracy", "value": round(0.93 - drop + (i % 7) * 0.002, 4), "ts": ts})
        points.append({"name": "latency_ms", "value": float(420 + (i % 12) * 15), "ts": ts})
    ingest.ingest(ada, "support-chatbot", {"batch_id": "demo-chatbot-1", "points": points})
    summariser = [
        {
            "name": "latency_ms",
            "value": float(900 + (i % 5) * 20),
            "ts": (start + timedelta(minutes=15 * i)).isoformat(),
        }
        for i in range(24 * 4 + 1)
    ]
    ingest.ingest(ada, "contract-summariser", {"batch_id": "demo-summariser-1", "points": summariser})
    return "demo: a day of metrics; accuracy of the chatbot fell below its threshold (alert firing)"


def _incident(ada: Ctx) -> str:
    incident = incidents.open_incident(
        ada,
        IncidentCreate(
            system="support-chatbot",
            title="Chatbot quotes a refund policy that does not exist",
            description="Three customers were promised 90-day refunds; the policy allows 30.",
            severity="HIGH",
            harm_category="reputational",
            affected_users=3,
        ),
    )
    incidents.acknowledge(ada, incident.key, via="console")
    timeline.post_update(
        ada, get_incident(ada.session, incident.key), "Refund intent routed to humans while we investigate."
    )
    return f"demo: incident {incident.key} open (HIGH)"


def _review(ada: Ctx) -> str:
    system_id, _ = resolve(ada.session, "system", subject_key="claims-triage")
    run = procedures.start_run(ada, "ethical-review", "system", system_id)
    detail = procedures.read_run(ada, run.id)
    answered = 0
    for section in detail.sections[:1]:
        for item in section.items:
            if not item.evidence_required:
                procedures.answer_item(ada, run.id, item.item_id, "pass", version=item.version, response="Yes.")
                answered += 1
    return f"demo: ethical review of claims-triage in progress ({answered} answered)"
