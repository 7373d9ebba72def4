"""Pure release rules: the status transition table, stage order, content hash, diff, verification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.kit.errors import IllegalTransition, ValidationFailed
from charter.releases.rules import (
    DEPLOYMENT_STAGES,
    TRANSITIONS,
    check_transition,
    content_hash,
    diff,
    ordered_stages,
    previous_stage,
    verification_result,
)

ARTS = [
    {"kind": "model", "name": "clf", "uri": "s3://m/1", "sha256": "a" * 64},
    {"kind": "prompt", "name": "sys", "uri": "git://p@1", "sha256": "b" * 64},
]
CHANGE = {"summary": "first", "type": "new_model", "expected_impact": "", "risk_keys": ["RISK-0002", "RISK-0001"]}


def test_final_statuses_allow_no_move() -> None:
    for status in ("rejected", "rolled_back", "withdrawn"):
        assert TRANSITIONS[status] == frozenset()
        with pytest.raises(IllegalTransition):
            check_transition("release", status, "deployed")


def test_an_illegal_move_names_the_allowed_ones() -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition("release x@1 at pilot", "deployed", "approved")
    assert err.value.extra["allowed"] == ["rolled_back", "superseded", "withdrawn"]


def test_only_superseded_or_pending_or_approved_releases_can_become_deployed() -> None:
    into_deployed = {s for s, nxt in TRANSITIONS.items() if "deployed" in nxt}
    assert into_deployed == {"pending_approval", "approved", "superseded"}


def test_every_target_status_is_a_known_status() -> None:
    for targets in TRANSITIONS.values():
        assert targets <= set(TRANSITIONS)


def test_stages_are_validated_and_put_in_lifecycle_order() -> None:
    assert ordered_stages(["production", "sandbox"]) == ["sandbox", "production"]
    with pytest.raises(ValidationFailed, match="unknown stage"):
        ordered_stages(["staging"])
    with pytest.raises(ValidationFailed, match="once"):
        ordered_stages(["pilot", "pilot"])
    with pytest.raises(ValidationFailed, match="at least one"):
        ordered_stages([])


def test_previous_stage_follows_the_systems_own_stages() -> None:
    assert previous_stage(DEPLOYMENT_STAGES, "production") == "pilot"
    assert previous_stage(["sandbox", "production"], "production") == "sandbox"
    assert previous_stage(DEPLOYMENT_STAGES, "sandbox") == ""
    assert previous_stage(["production"], "pilot") == ""


def test_content_hash_ignores_artifact_order_and_risk_key_order_but_not_content() -> None:
    base = content_hash(ARTS, CHANGE)
    assert content_hash(list(reversed(ARTS)), {**CHANGE, "risk_keys": ["RISK-0001", "RISK-0002"]}) == base
    assert content_hash([{**ARTS[0], "sha256": "c" * 64}, ARTS[1]], CHANGE) != base
    assert content_hash(ARTS, {**CHANGE, "summary": "first!"}) != base
    assert content_hash(ARTS, {**CHANGE, "expected_impact": "faster"}) != base
    assert content_hash([{**ARTS[0], "sha256": "A" * 64}, ARTS[1]], CHANGE) == base  # hex case is not content


@given(st.lists(st.sampled_from("abcdef"), min_size=64, max_size=64), st.text(min_size=1, max_size=30))
def test_any_artifact_or_summary_change_changes_the_hash(digits: list[str], summary: str) -> None:
    changed = [{**ARTS[0], "sha256": "".join(digits)}, ARTS[1]]
    if changed[0]["sha256"] != ARTS[0]["sha256"]:
        assert content_hash(changed, CHANGE) != content_hash(ARTS, CHANGE)
    if summary != CHANGE["summary"]:
        assert content_hash(ARTS, {**CHANGE, "summary": summary}) != content_hash(ARTS, CHANGE)


def test_diff_lists_added_removed_changed_artifacts_and_change_fields() -> None:
    new_arts = [
        {**ARTS[0], "uri": "s3://m/2", "sha256": "d" * 64},
        {"kind": "dataset", "name": "eval", "uri": "s3://d/1", "sha256": "e" * 64},
    ]
    d = diff(ARTS, CHANGE, new_arts, {**CHANGE, "summary": "retrain", "type": "retrain"})
    assert [a["name"] for a in d["artifacts"]["added"]] == ["eval"]
    assert [a["name"] for a in d["artifacts"]["removed"]] == ["sys"]
    assert d["artifacts"]["changed"] == [
        {"kind": "model", "name": "clf", "changes": {"uri": ["s3://m/1", "s3://m/2"], "sha256": ["a" * 64, "d" * 64]}}
    ]
    assert d["change"] == {"summary": ["first", "retrain"], "type": ["new_model", "retrain"]}
    assert d["same_content"] is False
    assert diff(ARTS, CHANGE, ARTS, CHANGE)["same_content"] is True


def test_verification_says_match_mismatch_or_unknown() -> None:
    known = {"a" * 64: [1], "b" * 64: [1, 2]}
    assert verification_result("b" * 64, {"b" * 64}, known) == "match"
    assert verification_result("a" * 64, {"b" * 64}, known) == "mismatch"
    assert verification_result("f" * 64, {"b" * 64}, known) == "unknown_artifact"
    assert verification_result("a" * 64, None, known) == "mismatch"  # nothing deployed at that stage
