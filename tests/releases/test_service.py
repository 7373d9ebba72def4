"""Releases through the service layer on a real database: approvals, gates, promotion, rollback, history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from charter.kit.errors import Conflict, IllegalTransition, PermissionDenied, ValidationFailed
from charter.ledger.models import LedgerEntry
from charter.releases import deploy, history, queries, service, verify
from charter.releases.models import Deployment, GateEvaluation, Release, ReleaseApproval, ReleaseArtifact, ReleaseStage
from charter.releases.schemas import DecisionIn, RollbackIn, StageRequest, StagesIn, WithdrawIn
from tests.releases.conftest import (
    CHATBOT,
    approve_procedure,
    critical_risk,
    governed,
    promote,
    request_and_approve,
    sha,
    submit,
    to_production,
)


def actions(actors: Any, prefix: str) -> list[str]:
    rows = actors.session.execute(
        select(LedgerEntry.action)
        .where(LedgerEntry.action.like(f"{prefix}%"), LedgerEntry.entity_id.like(f"{CHATBOT}%"))
        .order_by(LedgerEntry.seq)
    ).scalars()
    return list(rows)


def stage_status(actors: Any, version: int, stage: str) -> str:
    release = queries.read_release(actors.ctx("viewer"), CHATBOT, version)
    return next((s.status for s in release.stages if s.stage == stage), "none")


# ----------------------------------------------------------------------------- submission


def test_releases_are_numbered_per_system_and_bound_to_a_content_hash(actors, system) -> None:
    first, second = submit(actors, tag="v1"), submit(actors, tag="v2")
    assert (first.version, second.version) == (1, 2)
    assert first.content_hash != second.content_hash
    read = queries.read_release(actors.ctx("viewer"), CHATBOT, 1)
    assert read.requested_by == "engineer"
    assert [a.name for a in read.artifacts] == ["classifier", "system-prompt"]
    assert actions(actors, "release.submitted") == ["release.submitted", "release.submitted"]


def test_a_submitted_release_never_changes(actors, system) -> None:
    release = submit(actors)
    release.change_summary = "quietly different"
    with pytest.raises(RuntimeError, match="immutable"):
        actors.session.flush()


def test_viewers_cannot_submit_releases(actors, system) -> None:
    with pytest.raises(PermissionDenied):
        submit(actors, role="viewer")


def test_diff_shows_changed_artifacts_and_change_record(actors, system) -> None:
    submit(actors, tag="v1")
    submit(actors, tag="v2", change_type="retrain")
    d = queries.diff_releases(actors.ctx("viewer"), CHATBOT, 1, 2)
    assert {a["name"] for a in d["artifacts"]["changed"]} == {"classifier", "system-prompt"}
    assert d["change"]["type"] == ["new_model", "retrain"]


# ----------------------------------------------------------------------------- approvals


def test_the_requester_can_never_approve_their_own_release(actors, system) -> None:
    submit(actors, role="admin")  # admin holds releases:approve too
    service.request_stage(actors.ctx("engineer"), CHATBOT, 1, StageRequest(stage="pilot"))
    with pytest.raises(PermissionDenied, match="separation of duties"):
        service.decide(actors.ctx("admin"), CHATBOT, 1, DecisionIn(stage="pilot", decision="approve"))
    assert queries.read_release(actors.ctx("viewer"), CHATBOT, 1).approvals == []


def test_an_approval_needs_a_request_and_one_decision_per_person(actors, system) -> None:
    submit(actors)
    with pytest.raises(Conflict, match="has not been requested"):
        service.decide(actors.ctx("approver"), CHATBOT, 1, DecisionIn(stage="pilot", decision="approve"))
    service.request_stage(actors.ctx("engineer"), CHATBOT, 1, StageRequest(stage="pilot"))
    with pytest.raises(Conflict, match="already requested"):
        service.request_stage(actors.ctx("engineer"), CHATBOT, 1, StageRequest(stage="pilot"))
    service.decide(actors.ctx("approver"), CHATBOT, 1, DecisionIn(stage="pilot", decision="approve"))
    with pytest.raises(Conflict, match="already decided"):
        service.decide(actors.ctx("approver"), CHATBOT, 1, DecisionIn(stage="pilot", decision="approve"))


def test_status_becomes_approved_only_when_the_policys_approval_rules_pass(actors, system) -> None:
    submit(actors)
    service.request_stage(actors.ctx("engineer"), CHATBOT, 1, StageRequest(stage="production"))
    service.decide(actors.ctx("approver"), CHATBOT, 1, DecisionIn(stage="production", decision="approve"))
    assert stage_status(actors, 1, "production") == "pending_approval"  # two approvers, one governance
    service.decide(actors.ctx("governance"), CHATBOT, 1, DecisionIn(stage="production", decision="approve"))
    assert stage_status(actors, 1, "production") == "approved"


def test_a_rejection_is_final_for_that_stage_and_needs_a_comment(actors, system) -> None:
    submit(actors)
    service.request_stage(actors.ctx("engineer"), CHATBOT, 1, StageRequest(stage="pilot"))
    with pytest.raises(ValueError, match="comment"):
        DecisionIn(stage="pilot", decision="reject")
    service.decide(
        actors.ctx("approver"), CHATBOT, 1, DecisionIn(stage="pilot", decision="reject", comment="no eval report")
    )
    assert stage_status(actors, 1, "pilot") == "rejected"
    with pytest.raises(Conflict, match="'rejected' at pilot"):
        service.decide(actors.ctx("governance"), CHATBOT, 1, DecisionIn(stage="pilot", decision="approve"))
    with pytest.raises(Conflict, match="'rejected' at pilot"):
        promote(actors, 1, "pilot")


def test_a_new_release_with_different_content_does_not_carry_the_approvals(actors, system) -> None:
    from charter.releases.facts import assemble

    submit(actors, tag="v1")
    request_and_approve(actors, 1, "production", ("approver", "governance"))
    second = submit(actors, tag="v1-fixed")
    facts = assemble(actors.session, system, second, "production", actors.clock.now())
    assert facts["approvals"]["count"] == 0
    assert facts["target"]["status"] == "none"


def test_an_approval_bound_to_other_content_is_ignored(actors, system) -> None:
    from charter.releases.facts import assemble

    release = submit(actors)
    request_and_approve(actors, 1, "production", ("approver", "governance"))
    actors.session.execute(
        update(ReleaseApproval).where(ReleaseApproval.username == "approver").values(content_hash="0" * 64)
    )
    actors.session.expire_all()
    facts = assemble(actors.session, system, release, "production", actors.clock.now())
    assert facts["approvals"]["count"] == 1
    assert facts["approvals"]["approvers"] == ["governance"]
    assert facts["approvals"]["ignored_stale"] == 1
    read = queries.read_release(actors.ctx("viewer"), CHATBOT, 1)
    assert {a.user: a.valid for a in read.approvals} == {"approver": False, "governance": True}


def test_a_release_whose_stored_content_was_altered_cannot_be_approved_or_promoted(actors, system) -> None:
    submit(actors)
    service.request_stage(actors.ctx("engineer"), CHATBOT, 1, StageRequest(stage="sandbox"))
    actors.session.execute(update(ReleaseArtifact).where(ReleaseArtifact.name == "classifier").values(sha256="f" * 64))
    actors.session.expire_all()
    with pytest.raises(Conflict, match="no longer match its content hash"):
        service.decide(actors.ctx("approver"), CHATBOT, 1, DecisionIn(stage="sandbox", decision="approve"))
    with pytest.raises(Conflict, match="no longer match its content hash"):
        promote(actors, 1, "sandbox")


# ----------------------------------------------------------------------------- gates and promotion


def test_promotion_re_evaluates_the_gate_and_refuses_with_the_failing_rules(actors, system) -> None:
    submit(actors)
    promote(actors, 1, "sandbox")
    risk = critical_risk(actors)
    with pytest.raises(deploy.GateRefused) as err:
        promote(actors, 1, "pilot")
    failed = {r["rule"]: r["reason"] for r in err.value.extra["failed_rules"]}
    assert failed["no-open-critical-risk"] == f"open CRITICAL risk(s): {risk}; mitigate, reduce or accept them first"
    assert "ethical review is not approved" in failed["ethical-review-approved"]
    stored = actors.session.get(GateEvaluation, err.value.extra["gate_evaluation_id"])
    assert stored.purpose == "promotion" and stored.passed is False
    assert stage_status(actors, 1, "pilot") == "none"


def test_pilot_then_production_after_fourteen_days_moves_the_system_lifecycle(actors, system, clock) -> None:
    governed(actors, system)
    submit(actors)
    promote(actors, 1, "sandbox")
    assert system.stage == "sandbox"
    request_and_approve(actors, 1, "pilot", ("approver",))
    promote(actors, 1, "pilot")
    release = actors.session.execute(
        select(Release).where(Release.system_id == system.id, Release.version == 1)
    ).scalar_one()
    approve_procedure(actors, "deployment-approval", "release", release.id)
    request_and_approve(actors, 1, "production", ("approver", "governance"))
    clock.advance(days=13, hours=23)
    with pytest.raises(deploy.GateRefused) as err:
        promote(actors, 1, "production")
    assert [r["rule"] for r in err.value.extra["failed_rules"]] == ["pilot-14-days"]
    assert "in pilot for 13 day(s); 14 are required" in err.value.extra["failed_rules"][0]["reason"]
    clock.advance(hours=1)
    promote(actors, 1, "production")
    assert system.stage == "production"
    assert stage_status(actors, 1, "production") == "deployed"
    assert "system.stage.production" in actions(actors, "system.stage.")


def test_a_stage_the_system_does_not_use_is_refused_and_the_previous_stage_is_skipped(actors, system) -> None:
    service.set_stages(actors.ctx("governance"), CHATBOT, StagesIn(stages=["sandbox", "production"]))
    submit(actors)
    with pytest.raises(ValidationFailed, match="does not use the stage 'pilot'"):
        promote(actors, 1, "pilot")
    promote(actors, 1, "sandbox")
    from charter.releases.gate import check_gate

    evaluation = check_gate(actors.ctx("engineer"), CHATBOT, 1, "production")
    results = {r["rule"]: r["passed"] for r in evaluation.results}
    assert results["ran-in-previous-stage"] and results["pilot-14-days"]  # sandbox is the previous stage here


def test_promoting_a_second_release_supersedes_the_first_and_every_move_is_in_the_ledger(actors, system) -> None:
    submit(actors, tag="v1")
    submit(actors, tag="v2")
    promote(actors, 1, "sandbox")
    promote(actors, 2, "sandbox")
    assert stage_status(actors, 1, "sandbox") == "superseded"
    assert stage_status(actors, 2, "sandbox") == "deployed"
    deployed = actors.session.execute(
        select(func.count()).where(
            ReleaseStage.system_id == system.id, ReleaseStage.stage == "sandbox", ReleaseStage.status == "deployed"
        )
    ).scalar()
    assert deployed == 1
    moves = history.history(actors.ctx("viewer"), CHATBOT, "sandbox")
    assert [(h.from_version, h.to_version, h.kind, h.actor) for h in moves] == [
        (None, 1, "promote", "user:engineer"),
        (1, 2, "promote", "user:engineer"),
    ]
    assert actions(actors, "deployment.") == ["deployment.promote", "deployment.promote"]
    assert actions(actors, "release.stage.superseded") == ["release.stage.superseded"]


def test_an_already_deployed_release_is_not_promoted_again(actors, system) -> None:
    submit(actors)
    promote(actors, 1, "sandbox")
    with pytest.raises(Conflict, match="already deployed"):
        promote(actors, 1, "sandbox")


# ----------------------------------------------------------------------------- rollback


def _two_in_sandbox(actors: Any) -> None:
    submit(actors, tag="v1")
    submit(actors, tag="v2")
    promote(actors, 1, "sandbox")
    promote(actors, 2, "sandbox")


def test_rollback_redeploys_the_previous_release_with_reason_incident_and_runbook(actors, system, clock) -> None:
    _two_in_sandbox(actors)
    clock.advance(minutes=5)
    move = deploy.rollback(
        actors.ctx("engineer"),
        CHATBOT,
        RollbackIn(stage="sandbox", reason="hallucination spike", incident="INC-0007"),
    )
    assert (move.kind, move.reason, move.incident_key) == ("rollback", "hallucination spike", "INC-0007")
    assert move.runbook["started"] is True, move.runbook
    assert stage_status(actors, 1, "sandbox") == "deployed"
    assert stage_status(actors, 2, "sandbox") == "rolled_back"
    with pytest.raises(Conflict, match="'rolled_back' at sandbox"):
        promote(actors, 2, "sandbox")  # fix it in a new release
    assert actions(actors, "deployment.rollback") == ["deployment.rollback"]


def test_an_emergency_rollback_is_logged_as_such_and_needs_no_approval(actors, system) -> None:
    _two_in_sandbox(actors)
    move = deploy.rollback(
        actors.ctx("engineer"), CHATBOT, RollbackIn(stage="sandbox", to_version=1, reason="data leak", emergency=True)
    )
    assert move.kind == "emergency"
    assert actions(actors, "deployment.emergency") == ["deployment.emergency"]


def test_rollback_targets_must_have_been_deployed_or_approved_at_that_stage(actors, system) -> None:
    with pytest.raises(Conflict, match="nothing is deployed"):
        deploy.rollback(actors.ctx("engineer"), CHATBOT, RollbackIn(stage="sandbox", reason="why not"))
    submit(actors, tag="v1")
    submit(actors, tag="v2")
    promote(actors, 1, "sandbox")
    with pytest.raises(Conflict, match="no earlier release"):
        deploy.rollback(actors.ctx("engineer"), CHATBOT, RollbackIn(stage="sandbox", reason="why not"))
    with pytest.raises(Conflict, match=r"'not requested' at sandbox.*Candidates: none"):
        deploy.rollback(actors.ctx("engineer"), CHATBOT, RollbackIn(stage="sandbox", to_version=2, reason="x y z"))
    with pytest.raises(PermissionDenied):
        deploy.rollback(actors.ctx("approver"), CHATBOT, RollbackIn(stage="sandbox", reason="x y z"))


def test_what_was_deployed_at_a_past_time_is_a_query(actors, system, clock) -> None:
    submit(actors, tag="v1")
    submit(actors, tag="v2")
    t0 = clock.now()
    promote(actors, 1, "sandbox")
    clock.advance(days=1)
    promote(actors, 2, "sandbox")
    clock.advance(days=1)
    deploy.rollback(actors.ctx("engineer"), CHATBOT, RollbackIn(stage="sandbox", reason="regression"))
    ask = lambda at: history.deployed_at(actors.ctx("viewer"), CHATBOT, "sandbox", at).version  # noqa: E731
    assert ask(t0 - timedelta(seconds=1)) is None
    assert ask(t0 + timedelta(hours=1)) == 1
    assert ask(t0 + timedelta(days=1, hours=1)) == 2
    assert ask(clock.now()) == 1


def test_withdrawing_the_deployed_release_leaves_the_stage_empty(actors, system) -> None:
    submit(actors)
    promote(actors, 1, "sandbox")
    deploy.withdraw(actors.ctx("engineer"), CHATBOT, 1, WithdrawIn(stage="sandbox", reason="pulled for audit"))
    assert stage_status(actors, 1, "sandbox") == "withdrawn"
    assert history.deployed_at(actors.ctx("viewer"), CHATBOT, "sandbox", actors.clock.now()).version is None
    with pytest.raises(IllegalTransition):
        deploy.withdraw(actors.ctx("engineer"), CHATBOT, 1, WithdrawIn(stage="sandbox", reason="again"))


# ----------------------------------------------------------------------------- verification


def test_deployment_verification_answers_true_false_or_unknown_and_records_the_caller(actors, system) -> None:
    submit(actors, tag="v1")
    submit(actors, tag="v2")
    promote(actors, 1, "sandbox")
    promote(actors, 2, "sandbox")
    ctx = actors.ctx("engineer")
    ok = verify.verify(ctx, CHATBOT, "sandbox", sha("model-v2"))
    old = verify.verify(ctx, CHATBOT, "sandbox", sha("model-v1"))
    unknown = verify.verify(ctx, CHATBOT, "sandbox", sha("who-knows"))
    nothing = verify.verify(ctx, CHATBOT, "production", sha("model-v2"))
    assert (ok.verified, ok.result, ok.deployed_version, ok.flagged) == (True, "match", 2, False)
    assert (old.verified, old.result, old.artifact_versions, old.flagged) == (False, "mismatch", [1], True)
    assert (unknown.verified, unknown.result, unknown.flagged) == (False, "unknown_artifact", True)
    assert (nothing.result, nothing.deployed_version) == ("mismatch", None)
    assert ok.caller == "user:engineer"
    flagged = verify.verifications(actors.ctx("viewer"), CHATBOT, flagged=True)
    assert [v.result for v in flagged] == ["mismatch", "unknown_artifact", "mismatch"]
    assert actions(actors, "deployment.shadow_suspected") == ["deployment.shadow_suspected"] * 3


def test_verification_refuses_a_malformed_digest(actors, system) -> None:
    with pytest.raises(ValidationFailed, match="64 hexadecimal"):
        verify.verify(actors.ctx("engineer"), CHATBOT, "production", "abc")


def test_a_whole_production_walk_leaves_one_deployed_release_per_stage(actors, system, clock) -> None:
    governed(actors, system)
    submit(actors, tag="v1")
    to_production(actors, clock, system, 1)
    submit(actors, tag="v2")
    to_production(actors, clock, system, 2)
    rows = actors.session.execute(
        select(ReleaseStage.stage, func.count())
        .where(ReleaseStage.system_id == system.id, ReleaseStage.status == "deployed")
        .group_by(ReleaseStage.stage)
    ).all()
    assert {stage: n for stage, n in rows} == {"sandbox": 1, "pilot": 1, "production": 1}
    moves = actors.session.execute(select(func.count(Deployment.id)).where(Deployment.system_id == system.id)).scalar()
    assert moves == 6
    assert [p.version for p in queries.read_stages(actors.ctx("viewer"), CHATBOT).pointers] == [2, 2, 2]
