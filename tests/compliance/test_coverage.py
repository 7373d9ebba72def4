"""Coverage computed from live data: approved runs and gates move it; applicability and explanations."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from charter.compliance import queries, service
from charter.compliance.schemas import ApplicabilityIn, MappingIn
from charter.compliance.sweeps import sweep
from charter.evidence.service import add_file
from charter.kit.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from charter.kit.principal import SYSTEM
from charter.policy.queries import read_policy
from charter.policy.schemas import PolicySave, RuleSpec
from charter.policy.service import save_policy
from charter.procedures import service as runs
from charter.procedures import workflow
from tests.compliance.helpers import setup_acme
from tests.conftest import Actors


def status(actors: Actors, ref: str, system: str = "chatbot") -> tuple[str, str]:
    framework, _, req = ref.partition(":")
    cov = queries.coverage(actors.ctx("auditor"), system, framework)
    row = next(r for r in cov.requirements if r.id == req)
    return row.status, row.why


def test_an_approved_run_makes_its_items_met_and_a_new_review_takes_that_back(actors: Actors) -> None:
    ctx = actors.ctx("admin")
    system = setup_acme(ctx)
    assert status(actors, "acme-ai-policy:P1.1") == ("missing", "none of its 1 controls is in place")

    engineer = actors.ctx("engineer")
    run = runs.start_run(engineer, "ethical-review", "system", system.id)
    for section in runs.read_run(engineer, run.id).sections:
        for item in section.items:
            if item.item_id == "roles-clear":
                runs.answer_item(engineer, run.id, item.item_id, "pass", version=item.version, response="RACI kept.")
            else:
                runs.answer_item(engineer, run.id, item.item_id, "not_applicable", version=item.version,
                                 justification="out of scope for this test")  # fmt: skip
    got, why = status(actors, "acme-ai-policy:P1.1")
    assert got == "partial" and "controls only partly in place" in why
    cov = queries.coverage(actors.ctx("auditor"), "chatbot", "acme-ai-policy")
    (control,) = next(r for r in cov.requirements if r.id == "P1.1").controls
    assert "the run is not approved yet" in control.why and control.evidence[0].ref == f"sop-run:{run.id}"

    run = workflow.submit_run(engineer, run.id, version=runs.read_run(engineer, run.id).version)
    run = workflow.signoff_run(actors.ctx("approver"), run.id, "approve", version=run.version)
    got, why = status(actors, "acme-ai-policy:P1.1")
    assert got == "met"
    assert why.startswith("sop:ethical-review/roles-clear satisfies it and is met")

    # a new review of the system supersedes the approved one: until it is answered, the item is not in place
    again = runs.start_run(engineer, "ethical-review", "system", system.id)
    got, _ = status(actors, "acme-ai-policy:P1.1")
    cov = queries.coverage(actors.ctx("auditor"), "chatbot", "acme-ai-policy")
    (control,) = next(r for r in cov.requirements if r.id == "P1.1").controls
    assert got == "missing" and control.why == f"ethical-review run {again.id} (in_progress): the item is open"


def test_disabling_a_gate_policy_moves_its_rules_to_missing(actors: Actors) -> None:
    ctx = actors.ctx("admin")
    setup_acme(ctx)
    got, _ = status(actors, "acme-ai-policy:P1.2")
    assert got == "partial"
    cov = queries.coverage(actors.ctx("auditor"), "chatbot", "acme-ai-policy")
    (control,) = next(r for r in cov.requirements if r.id == "P1.2").controls
    assert "enforced at the production gate" in control.why

    policy = read_policy(ctx, "to-production")
    rules = [RuleSpec.model_validate(r) for r in policy.rules]
    save_policy(ctx, "to-production", PolicySave(stage="production", enabled=False, rules=rules, reason="test"))
    got, _why = status(actors, "acme-ai-policy:P1.2")
    assert got == "missing"
    cov = queries.coverage(actors.ctx("auditor"), "chatbot", "acme-ai-policy")
    (control,) = next(r for r in cov.requirements if r.id == "P1.2").controls
    assert control.why.startswith("policy to-production v") and control.why.endswith("is disabled")


def test_requirements_without_controls_say_so_and_counts_add_up(actors: Actors) -> None:
    setup_acme(actors.ctx("admin"))
    cov = queries.coverage(actors.ctx("viewer"), "chatbot", "acme-ai-policy")
    assert [r.id for r in cov.requirements] == ["P1.1", "P1.2", "P1.3"]
    p13 = cov.requirements[2]
    assert p13.status == "missing" and "no Charter control is mapped" in p13.why
    assert sum(cov.counts.values()) == 3


def test_eu_ai_act_applicability_follows_tier_and_role_and_choices_need_a_reason(actors: Actors) -> None:
    ctx = actors.ctx("admin")
    setup_acme(ctx)
    cov = queries.coverage(actors.ctx("auditor"), "chatbot", "eu-ai-act")
    assert cov.role == "provider" and cov.risk_tier == "high"
    na = [r for r in cov.requirements if r.status == "not_applicable"]
    assert na and all("this system is high tier, provider" in r.why for r in na)
    applicable = [r for r in cov.requirements if r.status != "not_applicable"]
    assert any(r.id == "Art. 9" for r in applicable)  # risk management: high-risk providers

    service.set_applicability(
        ctx,
        "chatbot",
        ApplicabilityIn(
            framework="eu-ai-act", requirement="Art. 9", applicable=False, reason="Covered by the group QMS."
        ),
    )
    assert status(actors, "eu-ai-act:Art. 9") == ("not_applicable", "marked not applicable: Covered by the group QMS.")
    with pytest.raises(ValidationFailed, match=r"'Art\. 999'"):
        service.set_applicability(
            ctx,
            "chatbot",
            ApplicabilityIn(framework="eu-ai-act", requirement="Art. 999", applicable=False, reason="nope"),
        )


def test_bad_input_is_refused_with_what_is_allowed(actors: Actors) -> None:
    ctx = actors.ctx("admin")
    setup_acme(ctx)
    with pytest.raises(NotFound, match="unknown framework 'eu-act'; known: acme-ai-policy, eu-ai-act"):
        queries.coverage(ctx, "chatbot", "eu-act")
    with pytest.raises(ValidationFailed, match=r"requirement: no requirement 'Art. 1000' in framework 'eu-ai-act'"):
        service.set_mapping(
            ctx,
            MappingIn(
                control="alert:accuracy-low", requirement="eu-ai-act:Art. 1000", relation="satisfies", reason="typo"
            ),
        )
    with pytest.raises(ValidationFailed, match="no such control in the content: 'sop:ethical-review/nope'"):
        service.set_mapping(
            ctx,
            MappingIn(
                control="sop:ethical-review/nope", requirement="eu-ai-act:Art. 10", relation="satisfies", reason="typo"
            ),
        )
    assert [m.control for m in queries.list_mappings(ctx, requirement="eu-ai-act:Art. 1000")] == []


def test_recorded_coverage_over_time_follows_the_data(actors: Actors) -> None:
    ctx = actors.ctx("admin")
    setup_acme(ctx)
    service.record_coverage(actors.ctx("governance"), "chatbot", ["acme-ai-policy"])
    service.set_mapping(ctx, MappingIn(control="inventory:system-register", requirement="acme-ai-policy:P1.3",
                                       relation="satisfies", reason="The register names the owner."))  # fmt: skip
    actors.clock.advance(minutes=5)
    service.record_coverage(actors.ctx("governance"), "chatbot", ["acme-ai-policy"])
    newest, oldest = queries.history(actors.ctx("viewer"), "chatbot", "acme-ai-policy")
    assert (oldest.met, oldest.missing) == (0, 2) and (newest.met, newest.missing) == (1, 1)
    assert newest.taken_at > oldest.taken_at and newest.digest != oldest.digest
    with pytest.raises(PermissionDenied):
        service.record_coverage(actors.ctx("viewer"), "chatbot", ["acme-ai-policy"])


def test_evidence_attached_by_hand_meets_an_organisation_control_until_it_expires(actors: Actors) -> None:
    ctx = actors.ctx("admin")
    setup_acme(ctx)
    service.set_mapping(ctx, MappingIn(control="custom:board-minutes", requirement="acme-ai-policy:P1.3",
                                       relation="satisfies", reason="The board approved the AI policy."))  # fmt: skip
    assert status(actors, "acme-ai-policy:P1.3")[0] == "missing"
    evidence = add_file(actors.ctx("engineer"), io.BytesIO(b"Board minutes, 1 Dec 2026.\n"), "minutes.txt",
                        title="Board minutes", expires_at=actors.clock.now() + timedelta(days=30))  # fmt: skip
    service.attach_evidence(ctx, "chatbot", "custom:board-minutes", evidence.id)
    got, why = status(actors, "acme-ai-policy:P1.3")
    assert got == "met" and why.startswith("custom:board-minutes satisfies it")
    actors.clock.advance(days=31)
    cov = queries.coverage(actors.ctx("auditor"), "chatbot", "acme-ai-policy")
    (control,) = next(r for r in cov.requirements if r.id == "P1.3").controls
    assert control.status == "missing" and control.why == "every attached piece of evidence has expired"

    with pytest.raises(ValidationFailed, match="evidence is attached by hand only to an organisation's own"):
        service.attach_evidence(ctx, "chatbot", "alert:accuracy-low", evidence.id)
    with pytest.raises(NotFound, match="no evidence with id 999"):
        service.attach_evidence(ctx, "chatbot", "custom:board-minutes", 999)
    with pytest.raises(Conflict, match="already attached"):
        service.attach_evidence(ctx, "chatbot", "custom:board-minutes", evidence.id)


def test_the_sweep_records_each_system_once_a_day(actors: Actors) -> None:
    setup_acme(actors.ctx("admin"))
    system = actors.ctx("admin").acting_as(SYSTEM)
    assert sweep(system) == {"coverage_recorded": ["chatbot"]}
    assert sweep(system) == {"coverage_recorded": []}
    assert len(queries.history(actors.ctx("viewer"), "chatbot", "eu-ai-act")) == 1
    actors.clock.advance(days=1)
    assert sweep(system) == {"coverage_recorded": ["chatbot"]}
    assert len(queries.history(actors.ctx("viewer"), "chatbot", "acme-ai-policy")) == 2
