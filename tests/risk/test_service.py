"""Risk register use cases on a real database: identify, assess, move, mitigate, matrices, ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.risk.conftest import CHATBOT, make_system

from charter.kit.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, StaleVersion, ValidationFailed
from charter.ledger.models import LedgerEntry
from charter.risk import mitigations, queries, rules, service
from charter.risk.content import MATRIX_DIR
from charter.risk.matrices import service as matrices
from charter.risk.models import Risk, RiskAssessment, RiskMitigation
from charter.risk.schemas import (
    Accept,
    Assess,
    CategoryCreate,
    MatrixInstall,
    MatrixRef,
    MitigationCreate,
    MitigationUpdate,
    RiskCreate,
    RiskUpdate,
    Transition,
)

THREE_BY_THREE = """\
name: org-3x3
version: 1
title: Organisation 3 x 3
likelihood:
  - {value: 1, key: UNLIKELY, label: Unlikely}
  - {value: 2, key: POSSIBLE, label: Possible}
  - {value: 3, key: LIKELY, label: Likely}
impact:
  - {value: 1, key: LOW, label: Low}
  - {value: 2, key: MEDIUM, label: Medium}
  - {value: 3, key: HIGH, label: High}
levels:
  - {key: LOW, label: Low, max_score: 2, review_days: 365}
  - {key: MEDIUM, label: Medium, max_score: 4, review_days: 120}
  - {key: HIGH, label: High, max_score: 9, review_days: 45, requires_acceptance: true}
"""


def ledger(session, entity_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    stmt = select(LedgerEntry.action).where(LedgerEntry.entity_id == entity_id).order_by(LedgerEntry.seq)
    return list(session.execute(stmt).scalars())


def read(actors, key: str):  # type: ignore[no-untyped-def]
    return queries.read_detail(actors.ctx("viewer"), key)


# ----------------------------------------------------------------------------- identify and assess


def test_a_risk_added_with_scores_is_assessed_with_the_seed_matrix(actors, add_risk, clock) -> None:
    risk = add_risk("Hallucination in Medical Advice", category="Safety", likelihood="LIKELY", impact="CATASTROPHIC")
    r = read(actors, risk.key)
    assert (r.key, r.status, r.score, r.level, r.category, r.category_label) == (
        "RISK-0001", "assessed", 20, "HIGH", "safety", "Safety",
    )  # fmt: skip
    assert (r.matrix, r.matrix_version, r.likelihood_label, r.impact_label) == ("seed-5x5", 1, "Likely", "Catastrophic")
    assert r.owner == "engineer"
    assert r.next_review_at == clock.now() + timedelta(days=90)
    assert [(a.kind, a.score, a.level, a.matrix) for a in r.assessments] == [("inherent", 20, "HIGH", "seed-5x5")]
    assert ledger(actors.session, "RISK-0001") == ["risk.identified", "risk.assessed"]


def test_a_risk_without_scores_is_identified_and_due_for_assessment_within_30_days(actors, add_risk, clock) -> None:
    r = read(actors, add_risk("Model theft").key)
    assert (r.status, r.level, r.score, r.matrix) == ("identified", "UNASSESSED", None, None)
    assert r.next_review_at == clock.now() + timedelta(days=30)


def test_keys_are_sequential_across_systems(actors, add_risk) -> None:
    make_system(actors, "hr-screener", "HR Screener")
    first = add_risk("One")
    second = service.create_risk(
        actors.ctx("engineer"), RiskCreate(system="hr-screener", title="One", category="fairness")
    )
    assert (first.key, second.key) == ("RISK-0001", "RISK-0002")


def test_the_same_title_twice_in_one_system_is_refused_naming_the_first(actors, add_risk) -> None:
    add_risk("PII Leakage")
    with pytest.raises(Conflict, match="RISK-0001 of this system already has the title 'pii leakage'"):
        add_risk("pii leakage")


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"category": "weather"}, ValidationFailed, "category 'weather' is unknown; use one of: safety, fairness"),
        ({"system": "nope"}, NotFound, "no AI system with key 'nope'"),
        ({"owner": "ghost"}, ValidationFailed, "owner: no user named 'ghost'"),
        ({"likelihood": 6, "impact": 1}, ValidationFailed, "likelihood 6 is not on the seed-5x5@1 scale"),
        ({"residual_likelihood": 1, "residual_impact": 1}, ValidationFailed, "before the residual"),
        (
            {"likelihood": 2, "impact": 2, "residual_likelihood": 3, "residual_impact": 3},
            ValidationFailed,
            "cannot exceed",
        ),
        ({"likelihood": 2, "impact": 2, "matrix": MatrixRef(name="nope")}, NotFound, "no risk matrix 'nope'"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_added(actors, add_risk, fields, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        add_risk("Anything", **fields)
    assert actors.session.execute(select(Risk.id)).first() is None


def test_likelihood_without_impact_is_refused_by_the_schema() -> None:
    with pytest.raises(ValueError, match="give likelihood and impact together"):
        RiskCreate(system=CHATBOT, title="x", category="privacy", likelihood=3)


def test_a_viewer_cannot_add_risks(actors, add_risk) -> None:
    with pytest.raises(PermissionDenied, match="role 'viewer' may not add, assess and treat risks"):
        add_risk("x", role="viewer")


def test_reassessing_keeps_history_and_moves_the_review_date(actors, add_risk, clock) -> None:
    risk = add_risk(likelihood=3, impact=4)
    clock.advance(days=10)
    service.assess_risk(actors.ctx("engineer"), risk.key, Assess(version=risk.version, likelihood=5, impact=5))
    r = read(actors, risk.key)
    assert (r.score, r.level, r.version) == (25, "CRITICAL", 2)
    assert r.next_review_at == clock.now() + timedelta(days=30)
    assert [a.score for a in r.assessments] == [12, 25]


def test_a_stale_version_is_refused(actors, add_risk) -> None:
    risk = add_risk(likelihood=3, impact=4)
    with pytest.raises(StaleVersion, match="you sent version 7, the current version is 1"):
        service.assess_risk(actors.ctx("engineer"), risk.key, Assess(version=7, likelihood=1, impact=1))


def test_an_accepted_mitigated_or_closed_risk_must_be_reopened_before_reassessing(actors, treating) -> None:
    risk = treating(rli=2, rim=2)
    ctx = actors.ctx("engineer")
    mitigations.add_mitigation(ctx, risk.key, MitigationCreate(description="filter", status="done"))
    service.transition_risk(ctx, risk.key, Transition(to="mitigated", version=risk.version))
    with pytest.raises(Conflict, match="is mitigated; reopen it"):
        service.assess_risk(ctx, risk.key, Assess(version=risk.version, likelihood=1, impact=1))


def test_update_changes_fields_and_records_the_reason(actors, add_risk) -> None:
    risk = add_risk()
    service.update_risk(
        actors.ctx("engineer"),
        risk.key,
        RiskUpdate(version=1, title="PII leakage in transcripts", category="Legal", owner="approver", reason="scope"),
    )
    r = read(actors, risk.key)
    assert (r.title, r.category, r.owner, r.version) == ("PII leakage in transcripts", "legal", "approver", 2)
    entry = actors.session.execute(select(LedgerEntry).where(LedgerEntry.action == "risk.updated")).scalar_one()
    assert entry.reason == "scope" and entry.before["title"] == "PII Leakage"


# ----------------------------------------------------------------------------- lifecycle


def _force(actors, risk: Risk, status: str, scored: bool) -> None:  # type: ignore[no-untyped-def]
    """Put a risk in `status` meeting every guard (test set-up, bypassing the use cases)."""
    if scored:
        ctx = actors.ctx("engineer")
        service.assess_risk(ctx, risk.key, Assess(version=risk.version, likelihood=4, impact=4,
                                                  residual_likelihood=1, residual_impact=4))  # fmt: skip
        mitigations.add_mitigation(ctx, risk.key, MitigationCreate(description="done already", status="done"))
    risk.status = status
    actors.session.flush()


@pytest.mark.parametrize(("current", "target"), [(a, b) for a in rules.STATUSES for b in rules.STATUSES if a != b])
def test_every_lifecycle_move_through_the_service(actors, add_risk, current: str, target: str) -> None:
    risk = add_risk()
    _force(actors, risk, current, scored=target != "identified")
    allowed = target in rules.TRANSITIONS[current]
    if target == "accepted":
        call = lambda: service.accept_risk(  # noqa: E731
            actors.ctx("governance"),
            risk.key,
            Accept(
                version=risk.version,
                justification="Residual risk within appetite",
                expires_at=actors.clock.now() + timedelta(days=90),
            ),
        )
    else:
        call = lambda: service.transition_risk(  # noqa: E731
            actors.ctx("engineer"), risk.key, Transition(to=target, version=risk.version, reason="test move")
        )
    if allowed:
        call()
        assert read(actors, risk.key).status == target
    else:
        with pytest.raises(IllegalTransition) as err:
            call()
        assert err.value.extra["allowed"] == sorted(rules.TRANSITIONS[current])
        assert read(actors, risk.key).status == current


def test_treatment_to_mitigated_and_closed_records_every_step(actors, treating) -> None:
    risk = treating(li=4, im=4, rli=1, rim=4)  # residual 4: LOW
    ctx = actors.ctx("engineer")
    with pytest.raises(Conflict, match="no mitigation is done yet"):
        service.transition_risk(ctx, risk.key, Transition(to="mitigated", version=risk.version))
    m = mitigations.add_mitigation(ctx, risk.key, MitigationCreate(description="Rate limiting", due_date=None))
    mitigations.update_mitigation(ctx, risk.key, m.number, MitigationUpdate(version=1, status="done"))
    service.transition_risk(ctx, risk.key, Transition(to="mitigated", version=risk.version))
    service.transition_risk(ctx, risk.key, Transition(to="closed", version=risk.version))
    assert ledger(actors.session, risk.key) == [
        "risk.identified", "risk.assessed", "risk.assessed", "risk.status.treating",
        "risk.level.changed", "risk.status.mitigated", "risk.status.closed",
    ]  # fmt: skip
    assert ledger(actors.session, f"{risk.key}/M1") == ["risk.mitigation.added", "risk.mitigation.updated"]


def test_a_high_residual_cannot_be_closed_as_mitigated(actors, treating) -> None:
    risk = treating(li=5, im=5, rli=4, rim=4)  # residual 16: HIGH, needs acceptance
    ctx = actors.ctx("engineer")
    mitigations.add_mitigation(ctx, risk.key, MitigationCreate(description="guardrail", status="done"))
    with pytest.raises(Conflict, match="residual level HIGH cannot be closed as mitigated"):
        service.transition_risk(ctx, risk.key, Transition(to="mitigated", version=risk.version))


def test_reopening_needs_a_reason_and_makes_the_risk_due_now(actors, treating, clock) -> None:
    risk = treating(rli=1, rim=1)
    ctx = actors.ctx("engineer")
    mitigations.add_mitigation(ctx, risk.key, MitigationCreate(description="x", status="done"))
    service.transition_risk(ctx, risk.key, Transition(to="mitigated", version=risk.version))
    with pytest.raises(ValidationFailed, match="reopening needs a reason"):
        service.transition_risk(ctx, risk.key, Transition(to="assessed", version=risk.version))
    clock.advance(days=3)
    service.transition_risk(ctx, risk.key, Transition(to="assessed", version=risk.version, reason="incident INC-7"))
    r = read(actors, risk.key)
    assert (r.status, r.next_review_at, r.overdue) == ("assessed", clock.now(), True)
    assert ledger(actors.session, risk.key)[-1] == "risk.reopened"


# ----------------------------------------------------------------------------- mitigations


def test_the_effective_level_drops_to_the_residual_when_mitigations_are_done(actors, treating) -> None:
    risk = treating(li=5, im=5, rli=2, rim=3)
    ctx = actors.ctx("engineer")
    assert read(actors, risk.key).level == "CRITICAL"
    a = mitigations.add_mitigation(ctx, risk.key, MitigationCreate(description="human review", owner="approver"))
    b = mitigations.add_mitigation(ctx, risk.key, MitigationCreate(description="retrieval grounding"))
    mitigations.update_mitigation(ctx, risk.key, a.number, MitigationUpdate(version=1, status="done"))
    assert read(actors, risk.key).level == "CRITICAL"  # b still planned
    mitigations.update_mitigation(ctx, risk.key, b.number, MitigationUpdate(version=1, status="cancelled"))
    r = read(actors, risk.key)
    assert (r.level, r.score, r.mitigations_done, r.mitigations_open) == ("MEDIUM", 6, 1, 0)
    assert [(m.number, m.owner, m.status) for m in r.mitigations] == [
        (1, "approver", "done"),
        (2, "engineer", "cancelled"),
    ]


def test_mitigation_moves_outside_their_table_are_refused(actors, treating) -> None:
    risk = treating()
    ctx = actors.ctx("engineer")
    mitigations.add_mitigation(ctx, risk.key, MitigationCreate(description="x", status="done"))
    with pytest.raises(IllegalTransition, match="Allowed from 'done': in_progress"):
        mitigations.update_mitigation(ctx, risk.key, 1, MitigationUpdate(version=1, status="cancelled"))
    with pytest.raises(StaleVersion):
        mitigations.update_mitigation(ctx, risk.key, 1, MitigationUpdate(version=9, status="in_progress"))
    with pytest.raises(NotFound, match="has no mitigation M2"):
        mitigations.update_mitigation(ctx, risk.key, 2, MitigationUpdate(version=1, status="done"))


def test_overdue_mitigations_are_flagged(actors, treating, clock) -> None:
    risk = treating()
    mitigations.add_mitigation(
        actors.ctx("engineer"),
        risk.key,
        MitigationCreate(description="x", due_date=clock.now().date() + timedelta(days=1)),
    )
    assert not read(actors, risk.key).mitigations[0].overdue
    clock.advance(days=2)
    assert read(actors, risk.key).mitigations[0].overdue


# ----------------------------------------------------------------------------- matrices


def test_a_custom_3x3_matrix_scores_new_assessments_while_old_ones_keep_their_5x5_scores(actors, add_risk) -> None:
    old = add_risk("Hallucination in Medical Advice", category="safety", likelihood="LIKELY", impact="CATASTROPHIC")
    matrices.install_matrix(actors.ctx("governance"), MatrixInstall(source=THREE_BY_THREE, filename="org-3x3.yaml"))
    new = add_risk("Toxic output", category="safety", likelihood="LIKELY", impact="HIGH")

    o, n = read(actors, old.key), read(actors, new.key)
    assert (o.matrix, o.matrix_version, o.score, o.level, o.likelihood_label) == ("seed-5x5", 1, 20, "HIGH", "Likely")
    assert (n.matrix, n.matrix_version, n.score, n.level) == ("org-3x3", 1, 9, "HIGH")
    # Reproducible: the stored matrix re-scores the old assessment to the same result.
    again = matrices.get_matrix(actors.session, o.matrix, o.matrix_version).score(o.likelihood, o.impact)
    assert (again.score, again.level) == (o.score, o.level)
    # Re-assessing the old risk keeps its own matrix unless another is asked for.
    service.assess_risk(actors.ctx("engineer"), old.key, Assess(version=old.version, likelihood=5, impact=5))
    assert (read(actors, old.key).matrix, read(actors, old.key).score) == ("seed-5x5", 25)
    service.assess_risk(
        actors.ctx("engineer"), old.key,
        Assess(version=old.version, likelihood=2, impact=3, matrix=MatrixRef(name="org-3x3")),
    )  # fmt: skip
    assert (read(actors, old.key).matrix, read(actors, old.key).score) == ("org-3x3", 6)
    assert [(a.matrix, a.score) for a in read(actors, old.key).assessments] == [
        ("seed-5x5", 20), ("seed-5x5", 25), ("org-3x3", 6),
    ]  # fmt: skip


def test_changing_matrix_requires_rescoring_the_residual_too(actors, treating) -> None:
    risk = treating()
    matrices.install_matrix(actors.ctx("governance"), MatrixInstall(source=THREE_BY_THREE, filename="org-3x3.yaml"))
    with pytest.raises(
        ValidationFailed, match="residual was scored with seed-5x5@1; re-score the residual with org-3x3@1"
    ):
        service.assess_risk(
            actors.ctx("engineer"), risk.key,
            Assess(version=risk.version, likelihood=3, impact=3, matrix=MatrixRef(name="org-3x3")),
        )  # fmt: skip


def test_a_published_matrix_version_never_changes(actors) -> None:
    gov = actors.ctx("governance")
    matrices.install_matrix(gov, MatrixInstall(source=THREE_BY_THREE))
    matrices.install_matrix(gov, MatrixInstall(source=THREE_BY_THREE))  # same content: a no-op
    changed = THREE_BY_THREE.replace("review_days: 45", "review_days: 40")
    with pytest.raises(Conflict, match=r"installed with different content.*version 2"):
        matrices.install_matrix(gov, MatrixInstall(source=changed))
    seed = (MATRIX_DIR / "seed-5x5.yaml").read_text().replace("review_days: 30", "review_days: 20")
    with pytest.raises(Conflict, match="seed-5x5@1 is a shipped matrix with different content"):
        matrices.install_matrix(gov, MatrixInstall(source=seed))
    matrices.install_matrix(gov, MatrixInstall(source=changed.replace("version: 1", "version: 2")))
    listed = {(m.name, m.version): m.active for m in matrices.list_matrices(actors.ctx("viewer"))}
    assert listed == {("org-3x3", 1): False, ("org-3x3", 2): True, ("seed-5x5", 1): False}


def test_activating_the_seed_matrix_again_switches_new_assessments_back(actors, add_risk) -> None:
    gov = actors.ctx("governance")
    matrices.install_matrix(gov, MatrixInstall(source=THREE_BY_THREE))
    matrices.activate_matrix(gov, "seed-5x5", 1)
    assert read(actors, add_risk(likelihood=5, impact=5).key).level == "CRITICAL"
    assert [e for e in ledger(actors.session, "seed-5x5@1")] == ["risk.matrix.installed", "risk.matrix.activated"]


def test_only_governance_installs_matrices(actors) -> None:
    with pytest.raises(PermissionDenied, match="needs 'risks:matrix'"):
        matrices.install_matrix(actors.ctx("engineer"), MatrixInstall(source=THREE_BY_THREE))


def test_an_organisation_adds_a_category(actors, add_risk) -> None:
    matrices.add_category(actors.ctx("governance"), CategoryCreate(key="environmental", label="Environmental"))
    assert add_risk(category="Environmental").category == "environmental"
    with pytest.raises(Conflict, match="'privacy'"):
        matrices.add_category(actors.ctx("governance"), CategoryCreate(key="privacy2", label="PRIVACY"))


def test_assessments_store_the_matrix_they_used(actors, add_risk) -> None:
    add_risk(likelihood=1, impact=1)
    row = actors.session.execute(select(RiskAssessment)).scalar_one()
    assert (row.matrix_name, row.matrix_version, row.score, row.level) == ("seed-5x5", 1, 1, "LOW")
    assert actors.session.execute(select(RiskMitigation)).first() is None
