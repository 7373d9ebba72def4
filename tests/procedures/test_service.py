"""Procedure runs on a real database: starting, answering, evidence, exceptions, sign-off, versions, facts."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from charter.evidence.service import add_file
from charter.kit.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, StaleVersion, ValidationFailed
from charter.ledger.models import LedgerEntry
from charter.procedures import queries, service, workflow
from charter.procedures.loader import shipped_templates
from charter.procedures.models import RunItem
from charter.procedures.templates import install_template, list_templates, read_template
from tests.procedures.conftest import answer

PDF = b"%PDF-1.7\nreport\n"
ALL_ETHICAL = [i.id for t in shipped_templates() if t.key == "ethical-review" for _, i in t.items()]


def pdf(ctx: Any, name: str, **kw: Any) -> int:
    return add_file(ctx, io.BytesIO(PDF + name.encode()), name, **kw).id


def start(actors: Any, system: Any, key: str = "ethical-review", role: str = "engineer") -> int:
    return service.start_run(actors.ctx(role), key, "system", system.id).id


def version(actors: Any, run_id: int) -> int:
    return service.read_run(actors.ctx("viewer"), run_id).version


def seed_example(actors: Any, run_id: int) -> None:
    """Seed 002's ethical review example: two pass, one needs_review, one fail."""
    eng = actors.ctx("engineer")
    answer(
        eng,
        run_id,
        "bias-tested",
        "pass",
        response="Yes, tested on 10 demographic groups",
        evidence_ids=(pdf(eng, "Bias_Testing_Report_v2.pdf"),),
    )
    answer(eng, run_id, "appeals", "pass", response="Appeal process implemented")
    answer(
        eng,
        run_id,
        "adversarial-tested",
        "needs_review",
        response="Limited testing conducted",
        evidence_ids=(pdf(eng, "Red_Team_Report_Draft.pdf"),),
    )
    answer(eng, run_id, "human-oversight", "fail", response="Not yet implemented")


def pass_the_rest(actors: Any, run_id: int, skip: set[str], role: str = "approver") -> None:
    ctx = actors.ctx(role)
    evidence = pdf(ctx, "evidence-pack.pdf")
    for item_id in ALL_ETHICAL:
        if item_id not in skip:
            answer(ctx, run_id, item_id, "pass", response="done", evidence_ids=(evidence,))


def test_the_seed_ethical_review_example_is_not_approved_and_lists_its_two_issues(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    seed_example(actors, run_id)
    assert service.is_approved(actors.session, run_id, actors.clock.now()) is False
    open_items = service.open_items(actors.session, run_id, actors.clock.now())
    answered = [(i.item_id, i.status, i.response) for i in open_items if i.answered]
    assert answered == [
        ("adversarial-tested", "needs_review", "Limited testing conducted"),
        ("human-oversight", "fail", "Not yet implemented"),
    ]
    assert len([i for i in open_items if not i.answered]) == 14  # the template's other questions


def test_with_every_other_question_passed_exactly_the_two_seed_issues_block_approval(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    seed_example(actors, run_id)
    pass_the_rest(actors, run_id, skip={"bias-tested", "appeals", "adversarial-tested", "human-oversight"})
    items = service.open_items(actors.session, run_id, actors.clock.now())
    assert [(i.item_id, i.status, i.blocking) for i in items] == [
        ("adversarial-tested", "needs_review", True),
        ("human-oversight", "fail", True),
    ]
    workflow.submit_run(actors.ctx("engineer"), run_id, version=version(actors, run_id))
    with pytest.raises(Conflict) as exc:
        workflow.signoff_run(actors.ctx("governance"), run_id, "approve", version=version(actors, run_id))
    assert exc.value.extra["blocking"] == ["adversarial-tested", "human-oversight"]
    assert "cannot be approved" in exc.value.detail


def test_a_run_is_approved_once_the_gaps_have_exceptions_approved_by_governance(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    seed_example(actors, run_id)
    pass_the_rest(actors, run_id, skip={"bias-tested", "appeals", "adversarial-tested", "human-oversight"})
    gov = actors.ctx("governance")
    for item_id in ("adversarial-tested", "human-oversight"):
        v = actors.session.execute(
            select(RunItem.version).where(RunItem.run_id == run_id, RunItem.item_id == item_id)
        ).scalar_one()
        workflow.approve_exception(gov, run_id, item_id, "accepted for the pilot; fix before GA", version=v)
    workflow.submit_run(actors.ctx("engineer"), run_id, version=version(actors, run_id))
    # the approver answered most items (14), so the governance lead signs
    workflow.signoff_run(gov, run_id, "approve", version=version(actors, run_id))
    run = service.read_run(actors.ctx("viewer"), run_id)
    assert (run.status, run.approved, run.decided_by) == ("approved", True, "governance")
    assert {i.item_id for i in run.open_items if i.excepted} == {"adversarial-tested", "human-oversight"}
    assert service.is_approved(actors.session, run_id, actors.clock.now())


def test_the_person_who_answered_most_items_cannot_sign_off(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    pass_the_rest(actors, run_id, skip=set(), role="approver")
    workflow.submit_run(actors.ctx("approver"), run_id, version=version(actors, run_id))
    with pytest.raises(PermissionDenied) as exc:
        workflow.signoff_run(actors.ctx("approver"), run_id, "approve", version=version(actors, run_id))
    assert "separation of duties" in exc.value.detail and "18 of 18" in exc.value.detail
    actors.add_user("second-approver", "approver")
    workflow.signoff_run(actors.ctx("second-approver"), run_id, "approve", version=version(actors, run_id))


def test_only_governance_may_approve_an_exception_and_never_for_its_own_answer(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    answer(actors.ctx("governance"), run_id, "human-oversight", "fail")
    for role in ("engineer", "approver", "viewer"):
        with pytest.raises(PermissionDenied, match="reviews:exception"):
            workflow.approve_exception(actors.ctx(role), run_id, "human-oversight", "good reasons here", version=2)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        workflow.approve_exception(actors.ctx("governance"), run_id, "human-oversight", "good reasons here", version=2)


def test_an_exception_needs_a_justification_and_a_failed_required_item(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    gov = actors.ctx("governance")
    with pytest.raises(Conflict, match="exceptions are for items answered fail or needs_review"):
        workflow.approve_exception(gov, run_id, "fallback", "good reasons here", version=1)
    answer(actors.ctx("engineer"), run_id, "fallback", "fail")
    with pytest.raises(ValidationFailed, match="at least 10 characters"):
        workflow.approve_exception(gov, run_id, "fallback", "ok", version=2)
    workflow.approve_exception(gov, run_id, "fallback", "manual fallback via support team", version=2)
    with pytest.raises(Conflict, match="already has an exception"):
        workflow.approve_exception(gov, run_id, "fallback", "manual fallback via support team", version=3)


def test_re_answering_an_item_withdraws_its_exception(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    answer(actors.ctx("engineer"), run_id, "fallback", "fail")
    workflow.approve_exception(actors.ctx("governance"), run_id, "fallback", "manual fallback exists", version=2)
    answer(actors.ctx("engineer"), run_id, "fallback", "needs_review", response="changed")
    item = next(
        i for s in service.read_run(actors.ctx("viewer"), run_id).sections for i in s.items if i.item_id == "fallback"
    )
    assert item.exception is None and item.blocking


def test_not_applicable_without_a_justification_is_refused(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    with pytest.raises(ValidationFailed) as exc:
        answer(actors.ctx("engineer"), run_id, "appeals", "not_applicable", justification="   ")
    assert "justification" in exc.value.detail
    answer(actors.ctx("engineer"), run_id, "appeals", "not_applicable", justification="no decisions about people")
    assert not any(i.item_id == "appeals" for i in service.open_items(actors.session, run_id, actors.clock.now()))


def test_a_fail_or_needs_review_answer_must_say_what_is_missing(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    with pytest.raises(ValidationFailed, match="needs a response"):
        answer(actors.ctx("engineer"), run_id, "fallback", "fail", response="")


def test_an_answer_records_who_and_when_and_goes_to_the_ledger(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    item = answer(actors.ctx("engineer"), run_id, "guardrails", "pass", response="filters on input and output")
    assert (item.status, item.answered_by, item.answered_at, item.version) == (
        "pass",
        "engineer",
        actors.clock.now(),
        2,
    )
    entry = actors.session.execute(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).scalar_one()
    assert entry.action == "run.item.answered" and entry.after["guardrails"]["status"] == "pass"


def test_a_stale_item_version_is_refused(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    answer(actors.ctx("engineer"), run_id, "guardrails", "pass")
    with pytest.raises(StaleVersion):
        service.answer_item(actors.ctx("approver"), run_id, "guardrails", "fail", version=1, response="x")


def test_only_the_items_answer_roles_may_answer(actors: Any, system: Any) -> None:
    run_id = start(actors, system, key="deployment-approval")
    with pytest.raises(PermissionDenied, match="answered by the roles governance"):
        answer(actors.ctx("engineer"), run_id, "legal-review", "pass")
    answer(actors.ctx("governance"), run_id, "legal-review", "pass")
    with pytest.raises(PermissionDenied, match="reviews:run"):
        answer(actors.ctx("viewer"), run_id, "alerting", "pass")


def test_unknown_items_runs_and_subjects_are_named(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    with pytest.raises(NotFound, match="no item 'nope'"):
        service.answer_item(actors.ctx("engineer"), run_id, "nope", "pass", version=1)
    with pytest.raises(NotFound, match="no procedure run with id 9999"):
        service.read_run(actors.ctx("viewer"), 9999)
    with pytest.raises(NotFound, match="no system with id 9999"):
        service.start_run(actors.ctx("engineer"), "ethical-review", "system", 9999)
    with pytest.raises(NotFound, match="no procedure template 'nope'"):
        service.start_run(actors.ctx("engineer"), "nope", "system", system.id)


def test_a_template_only_runs_on_the_subjects_it_applies_to(actors: Any, system: Any) -> None:
    with pytest.raises(ValidationFailed, match="applies to incident, not to a system"):
        service.start_run(actors.ctx("engineer"), "incident-response-critical", "system", system.id)


def test_a_second_active_run_of_the_same_template_is_refused(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    with pytest.raises(Conflict, match=f"run {run_id} of 'ethical-review' is already active"):
        start(actors, system)
    workflow.cancel_run(actors.ctx("engineer"), run_id, version=1, reason="wrong scope")
    assert start(actors, system) != run_id


def test_submit_needs_every_required_item_answered(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    seed_example(actors, run_id)
    with pytest.raises(Conflict) as exc:
        workflow.submit_run(actors.ctx("engineer"), run_id, version=1)
    assert len(exc.value.extra["unanswered"]) == 14


def test_answers_are_frozen_after_submission_until_reopened(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    pass_the_rest(actors, run_id, skip=set())
    workflow.submit_run(actors.ctx("engineer"), run_id, version=1)
    with pytest.raises(Conflict, match="only while it is in_progress; reopen it first"):
        answer(actors.ctx("engineer"), run_id, "fallback", "fail")
    workflow.reopen_run(actors.ctx("engineer"), run_id, version=2, reason="fallback regressed")
    answer(actors.ctx("engineer"), run_id, "fallback", "fail")


def test_reject_needs_a_reason_and_illegal_moves_name_the_allowed_ones(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    with pytest.raises(IllegalTransition) as exc:
        workflow.signoff_run(actors.ctx("governance"), run_id, "approve", version=1)
    assert exc.value.extra["allowed"] == ["cancelled", "submitted"]
    pass_the_rest(actors, run_id, skip=set())
    workflow.submit_run(actors.ctx("engineer"), run_id, version=1)
    with pytest.raises(ValidationFailed, match="reason is required to reject"):
        workflow.signoff_run(actors.ctx("governance"), run_id, "reject", version=2)
    workflow.signoff_run(actors.ctx("governance"), run_id, "reject", version=2, reason="redo the bias test")
    assert service.read_run(actors.ctx("viewer"), run_id).status == "rejected"


def test_signoff_needs_a_signoff_role_of_the_template(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    pass_the_rest(actors, run_id, skip=set(), role="engineer")
    workflow.submit_run(actors.ctx("engineer"), run_id, version=1)
    for role in ("engineer", "viewer", "auditor"):
        with pytest.raises(PermissionDenied, match="reviews:signoff"):
            workflow.signoff_run(actors.ctx(role), run_id, "approve", version=2)


def test_expired_evidence_flags_the_item_for_review_and_withdraws_approval(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    eng = actors.ctx("engineer")
    pass_the_rest(actors, run_id, skip={"bias-tested"}, role="approver")
    soc2 = pdf(eng, "bias.pdf", expires_at=actors.clock.now() + timedelta(days=90))
    answer(eng, run_id, "bias-tested", "pass", evidence_ids=(soc2,))
    workflow.submit_run(eng, run_id, version=1)
    workflow.signoff_run(actors.ctx("governance"), run_id, "approve", version=2)
    assert service.is_approved(actors.session, run_id, actors.clock.now())
    later = actors.clock.advance(days=91)
    assert service.is_approved(actors.session, run_id, later) is False
    [item] = service.open_items(actors.session, run_id, later)
    assert (item.item_id, item.status) == ("bias-tested", "needs_review")
    assert "evidence expired: bias.pdf" in item.reasons[0]
    facts = queries.gate_facts(actors.session, "system", system.id, now=later)["ethical_review"]
    assert (facts["status"], facts["approved"], facts["open_items"], facts["expired_evidence"]) == (
        "approved",
        False,
        1,
        1,
    )


def test_a_pass_without_its_required_evidence_is_not_satisfied(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    answer(actors.ctx("engineer"), run_id, "bias-tested", "pass", response="trust me")
    [item] = [i for i in service.open_items(actors.session, run_id, actors.clock.now()) if i.answered]
    assert (item.status, item.reasons) == ("needs_review", ["evidence is required and none valid is attached"])


def test_completion_is_reported_per_section(actors: Any, system: Any) -> None:
    run_id = start(actors, system)
    seed_example(actors, run_id)
    run = service.read_run(actors.ctx("viewer"), run_id)
    assert run.completion_pct == 22.2
    assert {s.id: s.completion_pct for s in run.sections} == {
        "fairness": 33.3,
        "privacy-security": 0.0,
        "transparency": 0.0,
        "safety": 33.3,
        "accountability": 66.7,
        "societal": 0.0,
    }


V2 = """\
key: ethical-review
version: 2
title: Ethical review (adapted)
kind: review
applies_to: [system, release]
sections:
  - id: fairness
    title: Fairness
    items:
      - id: bias-tested
        question: Has the system been tested for bias across protected groups?
"""


def test_a_run_keeps_its_template_version_after_a_new_version_is_installed(actors: Any, system: Any) -> None:
    old_run = start(actors, system)
    row, created = install_template(actors.ctx("governance"), V2, "ethical-review-v2.yaml")
    assert created and (row.version, row.origin) == (2, "installed")
    old = service.read_run(actors.ctx("viewer"), old_run)
    assert old.template_version == 1 and sum(len(s.items) for s in old.sections) == 18
    answer(actors.ctx("engineer"), old_run, "impact-monitoring", "pass")  # v1's items still answerable
    workflow.cancel_run(actors.ctx("engineer"), old_run, version=old.version, reason="switching to v2")
    new = service.read_run(actors.ctx("viewer"), start(actors, system))
    assert new.template_version == 2 and [i.item_id for s in new.sections for i in s.items] == ["bias-tested"]
    assert read_template(actors.ctx("viewer"), "ethical-review").versions == [1, 2]


def test_installing_is_idempotent_but_a_version_cannot_change_content(actors: Any) -> None:
    gov = actors.ctx("governance")
    first, created = install_template(gov, V2, "v2.yaml")
    again, created_again = install_template(gov, V2 + "\n# only a comment\n", "v2.yaml")
    assert created and not created_again and again.id == first.id
    with pytest.raises(Conflict, match="install it as version 3"):
        install_template(gov, V2.replace("(adapted)", "(changed)"), "v2.yaml")
    with pytest.raises(PermissionDenied, match="sops:manage"):
        install_template(actors.ctx("engineer"), V2.replace("version: 2", "version: 5"), "v5.yaml")


def test_shipped_templates_are_listed_and_filterable(actors: Any) -> None:
    viewer = actors.ctx("viewer")
    keys = {t.key for t in list_templates(viewer)}
    assert {"ethical-review", "deployment-approval", "ai-integration", "rollback"} <= keys
    high = list_templates(viewer, kind="runbook", applies_to="incident", severity="high")
    assert [t.key for t in high] == ["incident-response-high"]


def test_runbook_items_are_tasks_with_an_owner_and_a_due_time(actors: Any, system: Any) -> None:
    from charter.procedures.schemas import ItemUpdate
    from charter.procedures.service import update_item

    eng = actors.ctx("engineer")
    run = service.start_run(
        eng, "rollback", "release", _release(actors, system), assignee_id=actors.users["engineer"].id
    )
    read = service.read_run(actors.ctx("viewer"), run.id)
    first = read.sections[0].items[0]
    assert (first.item_id, first.assignee, first.due_at) == (
        "confirm-trigger",
        "engineer",
        actors.clock.now() + timedelta(minutes=15),
    )
    update_item(eng, run.id, "confirm-trigger", ItemUpdate(version=1, assignee="approver"))
    actors.clock.advance(minutes=16)
    item = service.read_run(actors.ctx("viewer"), run.id).sections[0].items[0]
    assert (item.assignee, item.overdue) == ("approver", True)


def _release(actors: Any, system: Any) -> int:
    from charter.releases.models import Release

    release = Release(
        system_id=system.id,
        version=1,
        content_hash="0" * 64,
        change_summary="first",
        change_type="model",
        requested_by="engineer",
        submitted_at=actors.clock.now(),
    )
    actors.session.add(release)
    actors.session.flush()
    return release.id


def test_gate_facts_report_the_latest_run_per_template(actors: Any, system: Any) -> None:
    facts = queries.gate_facts(actors.session, "system", system.id, now=actors.clock.now())
    assert facts["ethical_review"]["status"] == "not_started" and facts["ethical_review"]["open_items"] == 18
    assert "incident_response_high" not in facts  # applies to incidents only
    run_id = start(actors, system)
    seed_example(actors, run_id)
    facts = queries.gate_facts(actors.session, "system", system.id, now=actors.clock.now())
    er = facts["ethical_review"]
    assert (er["status"], er["approved"], er["completion_pct"], er["open_items"], er["run_id"]) == (
        "in_progress",
        False,
        22.2,
        16,
        run_id,
    )
    assert er["sections"]["accountability"] == 66.7
    assert facts["deployment_approval"]["status"] == "not_started"


GOV_ONLY = """\
key: board-review
version: 1
title: Board review
kind: review
applies_to: [system]
signoff_roles: [approver, governance]
sections:
  - id: main
    title: Main
    items:
      - id: board-minutes
        question: Did the board discuss the system?
        signoff_roles: [governance]
"""


def test_an_item_can_narrow_who_may_sign_off_the_run(actors: Any, system: Any) -> None:
    install_template(actors.ctx("governance"), GOV_ONLY, "board.yaml")
    run_id = start(actors, system, key="board-review")
    answer(actors.ctx("engineer"), run_id, "board-minutes", "pass")
    workflow.submit_run(actors.ctx("engineer"), run_id, version=1)
    with pytest.raises(PermissionDenied, match="may be signed off by the roles governance; you are 'approver'"):
        workflow.signoff_run(actors.ctx("approver"), run_id, "approve", version=2)
    workflow.signoff_run(actors.ctx("governance"), run_id, "approve", version=2)


def test_every_step_of_a_run_is_in_the_ledger(actors: Any, system: Any) -> None:
    start_seq = actors.session.execute(select(LedgerEntry.seq).order_by(LedgerEntry.seq.desc()).limit(1)).scalar()
    run_id = start(actors, system)
    answer(actors.ctx("engineer"), run_id, "fallback", "fail")
    workflow.approve_exception(actors.ctx("governance"), run_id, "fallback", "manual fallback via support", version=2)
    pass_the_rest(actors, run_id, skip={"fallback"})
    workflow.submit_run(actors.ctx("engineer"), run_id, version=1)
    workflow.reopen_run(actors.ctx("engineer"), run_id, version=2, reason="one more look")
    workflow.submit_run(actors.ctx("engineer"), run_id, version=3)
    workflow.signoff_run(actors.ctx("governance"), run_id, "approve", version=4)
    actions = [
        a
        for a, eid in actors.session.execute(
            select(LedgerEntry.action, LedgerEntry.entity_id)
            .where(LedgerEntry.seq > (start_seq or 0), LedgerEntry.entity_type == "procedure_run")
            .order_by(LedgerEntry.seq)
        ).all()
        if eid == str(run_id)
    ]
    assert actions[:3] == ["run.started", "run.item.answered", "run.exception.approved"]
    assert actions.count("run.item.answered") == 18 and actions.count("run.item.evidence_linked") == 17
    assert actions[-4:] == ["run.submitted", "run.reopened", "run.submitted", "run.approved"]
