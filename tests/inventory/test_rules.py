"""The lifecycle transition table and its error, without a database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.inventory.rules import LIFECYCLE_STAGES, TRANSITIONS, check_transition
from charter.kit.errors import IllegalTransition


def test_every_stage_has_a_row_and_moves_only_to_known_stages() -> None:
    assert set(TRANSITIONS) == set(LIFECYCLE_STAGES)
    for targets in TRANSITIONS.values():
        assert targets <= set(LIFECYCLE_STAGES)


def test_no_stage_moves_to_itself() -> None:
    assert all(stage not in targets for stage, targets in TRANSITIONS.items())


def test_retired_is_final_and_every_other_stage_can_retire() -> None:
    assert TRANSITIONS["retired"] == frozenset()
    assert all("retired" in TRANSITIONS[s] for s in LIFECYCLE_STAGES if s != "retired")


def test_every_stage_is_reachable_from_proposed() -> None:
    seen, todo = {"proposed"}, ["proposed"]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(LIFECYCLE_STAGES)


def test_a_system_cannot_skip_from_proposed_to_production() -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition("support-bot", "proposed", "production")
    problem = err.value.problem()
    assert problem["status"] == 409
    assert problem["allowed"] == ["retired", "sandbox"]
    assert problem["current"] == "proposed" and problem["requested"] == "production"
    assert "Allowed from 'proposed': retired, sandbox" in problem["detail"]


def test_moving_a_retired_system_says_it_is_final() -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition("old-bot", "retired", "production")
    assert err.value.problem()["allowed"] == []
    assert "none (final state)" in err.value.detail


@given(st.sampled_from(LIFECYCLE_STAGES), st.sampled_from(LIFECYCLE_STAGES))
def test_check_transition_accepts_exactly_the_table(current: str, target: str) -> None:
    if target in TRANSITIONS[current]:
        check_transition("k", current, target)
    else:
        with pytest.raises(IllegalTransition) as err:
            check_transition("k", current, target)
        assert err.value.problem()["allowed"] == sorted(TRANSITIONS[current])
