"""Pure procedure rules: run lifecycle table, item assessment, approval rule, completion, top answerers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.kit.errors import IllegalTransition
from charter.procedures import rules
from charter.procedures.rules import ItemState, assess

ALLOWED = {(a, b) for a, nexts in rules.TRANSITIONS.items() for b in nexts}


@pytest.mark.parametrize("current", rules.RUN_STATUSES)
@pytest.mark.parametrize("target", rules.RUN_STATUSES)
def test_every_run_transition_is_allowed_or_refused_with_the_allowed_set(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        rules.check_transition(1, current, target)
        return
    with pytest.raises(IllegalTransition) as exc:
        rules.check_transition(1, current, target)
    assert exc.value.extra["allowed"] == sorted(rules.TRANSITIONS[current])
    assert f"'{current}'" in exc.value.detail


def test_run_lifecycle_is_in_progress_submitted_then_approved_or_rejected() -> None:
    assert rules.TRANSITIONS["in_progress"] >= {"submitted"}
    assert rules.TRANSITIONS["submitted"] >= {"approved", "rejected"}
    assert rules.TRANSITIONS["approved"] == frozenset()
    assert "approved" not in rules.TRANSITIONS["in_progress"]  # no approval without submission


def item(status: str = "open", **kw: object) -> ItemState:
    base: dict[str, object] = {"item_id": "x", "section_id": "s", "required": True, "evidence_required": False}
    return ItemState(status=status, **{**base, **kw})  # type: ignore[arg-type]


def test_a_pass_is_satisfied_and_does_not_block() -> None:
    a = assess(item("pass"))
    assert (a.status, a.satisfied, a.blocking, a.open) == ("pass", True, False, False)


@pytest.mark.parametrize("status", ["open", "fail", "needs_review"])
def test_an_unmet_required_item_blocks(status: str) -> None:
    a = assess(item(status))
    assert a.blocking and a.open and not a.satisfied


@pytest.mark.parametrize("status", ["open", "fail", "needs_review"])
def test_an_unmet_optional_item_is_open_but_does_not_block(status: str) -> None:
    a = assess(item(status, required=False))
    assert a.open and not a.blocking


def test_not_applicable_counts_only_with_a_justification() -> None:
    assert assess(item("not_applicable", justification="no users under 18")).satisfied
    bare = assess(item("not_applicable", justification="  "))
    assert bare.blocking and bare.status == "needs_review"


@pytest.mark.parametrize("status", ["fail", "needs_review"])
def test_an_exception_unblocks_a_failed_or_needs_review_item_but_it_stays_open(status: str) -> None:
    a = assess(item(status, has_exception=True))
    assert a.excepted and not a.blocking and a.open


def test_an_exception_does_not_cover_an_unanswered_item() -> None:
    assert assess(item("open", has_exception=True)).blocking


def test_expired_evidence_turns_a_pass_into_needs_review() -> None:
    a = assess(item("pass", evidence_count=1, expired_evidence=("SOC 2 report",)))
    assert a.status == "needs_review" and a.blocking
    assert any("SOC 2 report" in r for r in a.reasons)


def test_a_pass_without_required_evidence_needs_review() -> None:
    assert assess(item("pass", evidence_required=True)).status == "needs_review"
    assert assess(item("pass", evidence_required=True, evidence_count=1)).status == "pass"
    # one expired and one valid piece: still backed
    assert assess(item("pass", evidence_required=True, evidence_count=2, expired_evidence=("old",))).status == (
        "needs_review"
    )


def test_completion_counts_any_answer_per_section() -> None:
    items = [
        item("pass", section_id="a", item_id="1"),
        item("fail", section_id="a", item_id="2"),
        item("open", section_id="a", item_id="3"),
        item("open", section_id="b", item_id="4"),
    ]
    c = rules.completion(items)
    assert c.pct == 50.0
    assert c.sections == {"a": 66.7, "b": 0.0}


def test_the_person_who_answered_most_items_is_the_top_answerer_and_ties_all_count() -> None:
    items = [item("pass", answered_by_id=1), item("pass", answered_by_id=1), item("fail", answered_by_id=2)]
    assert rules.top_answerers(items) == {1}
    assert rules.top_answerers([*items, item("pass", answered_by_id=2)]) == {1, 2}
    assert rules.top_answerers([item("open")]) == frozenset()


states = st.builds(
    ItemState,
    item_id=st.just("x"),
    section_id=st.sampled_from(["a", "b"]),
    required=st.booleans(),
    evidence_required=st.booleans(),
    status=st.sampled_from(rules.ITEM_STATUSES),
    justification=st.sampled_from(["", "because"]),
    has_exception=st.booleans(),
    evidence_count=st.integers(0, 2),
    expired_evidence=st.sampled_from([(), ("e",)]),
    answered_by_id=st.sampled_from([None, 1, 2]),
)


@given(st.lists(states, max_size=12))
def test_approval_is_possible_exactly_when_every_required_item_is_met_or_excepted(items: list[ItemState]) -> None:
    expected = all(
        (a := assess(i)).satisfied or (a.item.has_exception and i.status in ("fail", "needs_review"))
        for i in items
        if i.required
    )
    assert rules.can_approve(items) is expected


@given(st.lists(states, min_size=1, max_size=12))
def test_completion_is_a_percentage(items: list[ItemState]) -> None:
    c = rules.completion(items)
    assert 0.0 <= c.pct <= 100.0
    assert all(0.0 <= v <= 100.0 for v in c.sections.values())
