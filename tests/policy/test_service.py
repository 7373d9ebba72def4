"""Gate policies and evaluations through the service layer on a real database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from charter.kit.errors import PermissionDenied, ValidationFailed
from charter.ledger.models import LedgerEntry
from charter.policy import queries, service
from charter.policy.content import shipped
from charter.policy.facts import FactsRequest, register_facts_provider, unregister_facts_provider
from charter.policy.models import Policy
from charter.policy.schemas import PolicySave
from charter.releases import gate
from charter.releases.models import GateEvaluation
from charter.releases.store import get_release
from tests.releases.conftest import CHATBOT, critical_risk, submit


def body(*rules: dict[str, Any], stage: str = "sandbox", enabled: bool = True) -> PolicySave:
    return PolicySave.model_validate({"stage": stage, "enabled": enabled, "rules": list(rules)})


def rule(rule_id: str, expression: str, message: str = "", kind: str = "gate") -> dict[str, Any]:
    return {"id": rule_id, "expression": expression, "message": message, "kind": kind}


def test_a_broken_rule_is_refused_at_save_with_its_rule_line_and_column(actors) -> None:
    with pytest.raises(ValidationFailed) as err:
        service.save_policy(
            actors.ctx("governance"),
            "custom",
            body(rule("ok", "risk.open_critical == 0"), rule("typo", "risk.open_critical == 0 &&\n history.dayz > 1")),
        )
    [problem] = err.value.extra["errors"]
    assert problem["rule"] == "typo" and (problem["line"], problem["column"]) == (2, 9)
    assert problem["loc"] == ["rules", 1, "expression"]
    assert "undeclared reference to 'history.dayz'" in problem["msg"]
    assert "rule 'typo' does not compile at line 2, column 9" in err.value.detail
    assert actors.session.execute(select(Policy).where(Policy.name == "custom")).first() is None


def test_a_message_that_names_an_unknown_namespace_is_refused(actors) -> None:
    with pytest.raises(ValidationFailed, match="no facts namespace 'riks'"):
        service.save_policy(actors.ctx("governance"), "custom", body(rule("r", "true", "see {riks.open_total}")))


def test_saving_adds_versions_and_identical_content_changes_nothing(actors) -> None:
    ctx = actors.ctx("governance")
    first, changed = service.save_policy(ctx, "custom", body(rule("r", "release.artifact_count > 0")))
    assert (first.version, changed) == (1, True)
    same, changed = service.save_policy(ctx, "custom", body(rule("r", "release.artifact_count > 0")))
    assert (same.version, changed) == (1, False)
    second, changed = service.save_policy(ctx, "custom", body(rule("r", "release.artifact_count > 1")))
    assert (second.version, changed) == (2, True)
    assert [p.version for p in queries.list_versions(ctx, "custom")] == [1, 2]
    entries = actors.session.execute(
        select(LedgerEntry.entity_id)
        .where(LedgerEntry.action == "policy.saved", LedgerEntry.entity_id.startswith("custom@"))
        .order_by(LedgerEntry.seq)
    ).scalars()
    assert list(entries) == ["custom@1", "custom@2"]


def test_only_governance_manages_policies(actors) -> None:
    with pytest.raises(PermissionDenied):
        service.save_policy(actors.ctx("engineer"), "custom", body(rule("r", "true")))


def test_the_shipped_policies_compile_and_reflect_the_seeds() -> None:
    docs = {d.name: d for d in shipped()}
    assert {d.stage for d in docs.values()} == {"sandbox", "pilot", "production"}
    production = {r.id for r in docs["to-production"].rules}
    assert {
        "deployment-checklist-approved",
        "pilot-14-days",
        "two-distinct-approvers",
        "governance-approval",
        "requester-not-approver",
        "no-open-critical-risk",
    } <= production
    assert {"no-open-critical-risk", "ethical-review-approved"} <= {r.id for r in docs["to-pilot"].rules}
    # the fact counts HIGH risks without a *done* mitigation: a planned one does not count, and the message says so
    mitigated = next(r for r in docs["to-production"].rules if r.id == "high-risks-mitigated")
    assert mitigated.message.startswith("HIGH risk(s) without a completed mitigation: ")


def test_the_first_gate_installs_missing_defaults_as_the_system_once(actors, system) -> None:
    submit(actors)
    gate.check_gate(actors.ctx("engineer"), CHATBOT, 1, "sandbox")
    gate.check_gate(actors.ctx("engineer"), CHATBOT, 1, "sandbox")
    rows = actors.session.execute(select(Policy.name, Policy.version, Policy.created_by)).all()
    assert sorted(rows) == [
        ("to-pilot", 1, "system:charter"),
        ("to-production", 1, "system:charter"),
        ("to-sandbox", 1, "system:charter"),
    ]


def test_every_evaluation_is_stored_with_the_policy_version_and_the_facts_it_saw(actors, system) -> None:
    submit(actors)
    risk = critical_risk(actors)
    first = gate.check_gate(actors.ctx("engineer"), CHATBOT, 1, "pilot")
    assert first.policies == [{"name": "to-pilot", "version": 1}]
    assert first.facts["risk"]["open_critical_keys"] == [risk]
    assert first.facts["system"]["key"] == CHATBOT
    assert first.actor == "user:engineer" and first.purpose == "check" and len(first.digest) == 64
    critical = next(r for r in first.results if r["rule"] == "no-open-critical-risk")
    assert (critical["passed"], critical["policy"], critical["policy_version"]) == (False, "to-pilot", 1)

    doc = next(d for d in shipped() if d.name == "to-pilot")
    relaxed = [r.model_dump() for r in doc.rules if r.id != "no-open-critical-risk"]
    service.save_policy(actors.ctx("governance"), "to-pilot", body(*relaxed, stage="pilot"))
    second = gate.check_gate(actors.ctx("engineer"), CHATBOT, 1, "pilot")
    assert second.policies == [{"name": "to-pilot", "version": 2}]
    assert "no-open-critical-risk" not in {r["rule"] for r in second.results}
    actors.session.expire_all()
    stored = actors.session.get(GateEvaluation, first.id)
    assert stored.policies == [{"name": "to-pilot", "version": 1}]  # the evidence keeps what it saw
    assert stored.facts["risk"]["open_critical"] == 1


def test_a_stage_without_an_enabled_policy_is_closed(actors, system) -> None:
    submit(actors)
    gate.check_gate(actors.ctx("engineer"), CHATBOT, 1, "sandbox")
    doc = next(d for d in shipped() if d.name == "to-sandbox")
    service.save_policy(
        actors.ctx("governance"), "to-sandbox", body(*[r.model_dump() for r in doc.rules], enabled=False)
    )
    evaluation = gate.check_gate(actors.ctx("engineer"), CHATBOT, 1, "sandbox")
    assert evaluation.passed is False
    assert [r["rule"] for r in evaluation.results] == ["no-policy"]


def test_gate_check_needs_the_gate_check_permission(actors, system) -> None:
    submit(actors)
    with pytest.raises(PermissionDenied):
        gate.check_gate(actors.ctx("viewer"), CHATBOT, 1, "sandbox")


def test_other_modules_add_typed_facts_through_the_provider_registry(actors, system) -> None:
    def monitoring(request: FactsRequest) -> dict[str, Any]:
        return {"open_alerts": 3 if request.stage == "sandbox" else 0, "drift_detected": False}

    register_facts_provider("watchtower", monitoring, {"open_alerts": "int", "drift_detected": "bool"})
    try:
        with pytest.raises(ValidationFailed, match="no matching overload"):
            service.save_policy(actors.ctx("governance"), "watch", body(rule("a", "watchtower.open_alerts == 'x'")))
        service.save_policy(
            actors.ctx("governance"),
            "watch",
            body(
                rule(
                    "quiet",
                    "watchtower.open_alerts == 0 && !watchtower.drift_detected",
                    "{watchtower.open_alerts} open alerts",
                )
            ),
        )
        submit(actors)
        evaluation = gate.check_gate(actors.ctx("engineer"), CHATBOT, 1, "sandbox")
        result = next(r for r in evaluation.results if r["policy"] == "watch")
        assert (result["passed"], result["reason"]) == (False, "3 open alerts")
        assert evaluation.facts["watchtower"] == {"open_alerts": 3, "drift_detected": False}
    finally:
        unregister_facts_provider("watchtower")


def test_a_failing_provider_fails_its_rules_by_name_without_breaking_the_gate(actors, system) -> None:
    def broken(_request: FactsRequest) -> dict[str, Any]:
        raise RuntimeError("metrics store unreachable")

    register_facts_provider("scorecard", broken, {"accuracy": "double"})
    try:
        service.save_policy(actors.ctx("governance"), "accuracy", body(rule("acc", "scorecard.accuracy >= 0.9")))
        submit(actors)
        evaluation = gate.check_gate(actors.ctx("engineer"), CHATBOT, 1, "sandbox")
        result = next(r for r in evaluation.results if r["rule"] == "acc")
        assert result["passed"] is False
        assert "the fact 'scorecard.accuracy' is missing" in result["reason"]
        assert evaluation.facts["provider_errors"] == {"scorecard": "RuntimeError: metrics store unreachable"}
    finally:
        unregister_facts_provider("scorecard")


def test_core_namespaces_cannot_be_replaced_by_a_provider() -> None:
    with pytest.raises(ValueError, match="built-in"):
        register_facts_provider("risk", lambda r: {}, "map(string, dyn)")
    with pytest.raises(ValueError, match="unknown fact type"):
        register_facts_provider("feedback", lambda r: {}, {"score": "float"})


def test_gate_checks_reuse_recent_facts_until_the_ledger_records_a_change(actors, system, clock, counted_facts) -> None:
    calls = counted_facts
    submit(actors)
    check = lambda: gate.check_gate(actors.ctx("engineer"), CHATBOT, 1, "pilot")  # noqa: E731
    first = check()
    clock.advance(seconds=2)
    second = check()
    assert len(calls) == 1 and second.facts["counter"] == {"checks": 1}  # reused, but stored again
    assert second.id != first.id and second.evaluated_at > first.evaluated_at
    risk = critical_risk(actors)  # a recorded change: the next check sees it
    third = check()
    assert len(calls) == 2 and third.facts["risk"]["open_critical_keys"] == [risk]
    clock.advance(seconds=actors.settings.gate_facts_ttl_seconds + 1)  # too old: recomputed
    check()
    assert len(calls) == 3
    sys_, release = get_release(actors.session, CHATBOT, 1)
    gate.run_gate(actors.ctx("engineer"), sys_, release, "pilot", "promotion")  # promotions: always fresh
    assert len(calls) == 4
