"""Accepting residual risk: who may, with what, for how long — and what happens when it lapses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from charter.context import Ctx
from charter.kit.errors import Conflict, PermissionDenied, ValidationFailed
from charter.kit.principal import SYSTEM
from charter.ledger.models import LedgerEntry
from charter.risk import mitigations, queries, service
from charter.risk.schemas import Accept, Assess, MitigationCreate, RiskUpdate, Transition

JUSTIFICATION = "Residual within appetite: human review on every answer"


def accept(actors, risk, role: str = "governance", days: int = 90, justification: str = JUSTIFICATION):  # type: ignore[no-untyped-def]
    return service.accept_risk(
        actors.ctx(role),
        risk.key,
        Accept(version=risk.version, justification=justification, expires_at=actors.clock.now() + timedelta(days=days)),
    )


def test_governance_accepts_a_residual_risk_with_justification_and_expiry(actors, treating, clock) -> None:
    risk = treating(li=5, im=5, rli=4, rim=4)
    accept(actors, risk, days=60)
    r = queries.read_detail(actors.ctx("viewer"), risk.key)
    assert (r.status, r.accepted_by, r.acceptance_justification) == ("accepted", "governance", JUSTIFICATION)
    assert r.accepted_until == clock.now() + timedelta(days=60)
    assert r.next_review_at == clock.now() + timedelta(days=60)  # min(HIGH cadence 90 d, expiry)
    assert not r.is_open and not r.acceptance_expired
    entry = actors.session.execute(select(LedgerEntry).where(LedgerEntry.action == "risk.accepted")).scalar_one()
    assert (entry.actor, entry.reason) == ("user:governance", JUSTIFICATION)


@pytest.mark.parametrize("role", ["engineer", "approver", "auditor", "viewer"])
def test_only_governance_may_accept(actors, treating, role: str) -> None:
    with pytest.raises(PermissionDenied, match=f"role '{role}' may not accept a residual risk"):
        accept(actors, treating(), role=role)


def test_the_risk_owner_cannot_accept_their_own_risk(actors, treating) -> None:
    actors.add_user("grace", "governance")
    risk = treating(owner="grace")
    with pytest.raises(PermissionDenied, match="separation of duties") as err:
        accept(actors, risk, role="grace")
    assert err.value.extra["rule"] == "separation-of-duties"
    assert queries.read_detail(actors.ctx("viewer"), risk.key).status == "treating"
    accept(actors, risk, role="governance")  # another governance user may


def test_the_acceptor_cannot_become_owner_while_the_acceptance_stands(actors, treating) -> None:
    risk = treating()
    accept(actors, risk)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        service.update_risk(actors.ctx("engineer"), risk.key, RiskUpdate(version=risk.version, owner="governance"))


@pytest.mark.parametrize(
    ("days", "justification", "message"),
    [
        (90, "ok", "justification: explain why the risk is acceptable"),
        (0, JUSTIFICATION, "expires_at: must be in the future"),
        (-5, JUSTIFICATION, "expires_at: must be in the future"),
        (366, JUSTIFICATION, "expires_at: an acceptance may last at most 365 days"),
    ],
)
def test_acceptance_needs_a_justification_and_a_bounded_future_expiry(
    actors, treating, days: int, justification: str, message: str
) -> None:
    risk = treating()
    with pytest.raises(ValidationFailed, match=message):
        accept(actors, risk, days=days, justification=justification)
    assert queries.read_detail(actors.ctx("viewer"), risk.key).status == "treating"


def test_a_lapsed_acceptance_is_open_again_on_read_and_in_the_gate_facts(actors, treating, clock, system) -> None:
    risk = treating(li=5, im=5, rli=4, rim=4)  # residual HIGH, no mitigation done
    accept(actors, risk, days=30)
    facts = queries.gate_facts(actors.session, system.id, clock.now())
    assert (facts["open_total"], facts["accepted_expired"]) == (0, 0)

    clock.advance(days=30)
    r = queries.read_detail(actors.ctx("viewer"), risk.key)
    assert (r.status, r.acceptance_expired, r.is_open, r.needs_review) == ("accepted", True, True, True)
    facts = queries.gate_facts(actors.session, system.id, clock.now())
    assert facts["accepted_expired_keys"] == [risk.key]
    assert facts["open_critical_keys"] == [risk.key]  # inherent CRITICAL counts: no mitigation is done
    expired_list = queries.list_risks(actors.ctx("viewer"), queries.RiskFilter(open=True))[0]
    assert [x.key for x in expired_list] == [risk.key]


def test_the_sweep_sends_lapsed_acceptances_back_to_assessed_in_the_ledger(actors, treating, clock, system) -> None:
    lapsing, lasting = treating("Lapsing"), treating("Lasting")
    accept(actors, lapsing, days=10)
    accept(actors, lasting, days=100)
    clock.advance(days=11)
    sweep_ctx = Ctx(session=actors.session, principal=SYSTEM, clock=clock, settings=actors.settings)
    assert service.expire_acceptances(sweep_ctx) == [lapsing.key]
    assert service.expire_acceptances(sweep_ctx) == []  # idempotent
    r = queries.read_detail(actors.ctx("viewer"), lapsing.key)
    assert (r.status, r.overdue, r.next_review_at) == ("assessed", True, clock.now() - timedelta(days=1))
    assert queries.read_detail(actors.ctx("viewer"), lasting.key).status == "accepted"
    entry = actors.session.execute(
        select(LedgerEntry).where(LedgerEntry.action == "risk.acceptance_expired")
    ).scalar_one()
    assert (entry.entity_id, entry.actor) == (lapsing.key, "system:charter")
    assert "lapsed" in (entry.reason or "")
    facts = queries.gate_facts(actors.session, system.id, clock.now())
    assert (facts["accepted_expired"], facts["overdue_reviews"]) == (0, 1)
    assert lapsing.key in facts["open_keys"]


def test_gate_facts_for_the_seed_example(actors, add_risk, system, clock) -> None:
    add_risk("Hallucination in Medical Advice", category="safety", likelihood="LIKELY", impact="CATASTROPHIC")
    add_risk("PII Leakage", likelihood="POSSIBLE", impact="MAJOR")
    add_risk("Total outage", category="safety", likelihood=5, impact=5)
    facts = queries.gate_facts(actors.session, system.id, clock.now())
    assert facts["open_critical"] == 1 and facts["open_critical_keys"] == ["RISK-0003"]
    assert facts["open_high_without_mitigation"] == 1 and facts["high_without_mitigation_keys"] == ["RISK-0001"]
    assert facts["open_by_level"] == {"LOW": 0, "MEDIUM": 1, "HIGH": 1, "CRITICAL": 1, "UNASSESSED": 0}
    assert facts["overdue_reviews"] == 0

    # Treating the HIGH risk: a done mitigation takes it off the "without mitigation" list.
    ctx = actors.ctx("engineer")
    service.transition_risk(ctx, "RISK-0001", Transition(to="treating", version=1))
    mitigations.add_mitigation(ctx, "RISK-0001", MitigationCreate(description="cite sources", status="done"))
    facts = queries.gate_facts(actors.session, system.id, clock.now())
    assert facts["high_without_mitigation_keys"] == []
    # And 31 days later the CRITICAL risk's review (30 days) is overdue.
    facts = queries.gate_facts(actors.session, system.id, clock.now() + timedelta(days=31))
    assert facts["overdue_review_keys"] == ["RISK-0003"]


def test_gate_facts_only_see_the_given_system(actors, add_risk, system, clock) -> None:
    from tests.risk.conftest import make_system

    other = make_system(actors, "hr-screener", "HR Screener")
    add_risk("Outage", likelihood=5, impact=5)
    assert queries.gate_facts(actors.session, other.id, clock.now())["open_total"] == 0
    assert queries.gate_facts(actors.session, system.id, clock.now())["open_total"] == 1


def test_residual_assessment_after_acceptance_requires_reopening(actors, treating) -> None:
    risk = treating()
    accept(actors, risk)
    with pytest.raises(Conflict, match="is accepted; reopen it"):
        service.assess_risk(
            actors.ctx("engineer"), risk.key, Assess(version=risk.version, residual_likelihood=1, residual_impact=1)
        )
