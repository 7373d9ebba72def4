"""Pure risk rules: lifecycle table and guards, effective level, cadence, acceptance limits, gate facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.kit.errors import Conflict, IllegalTransition, ValidationFailed
from charter.risk import rules
from charter.risk.content import shipped_default
from charter.risk.rules import FactRow, RiskState

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
SEED = shipped_default()
ALL_PAIRS = [(a, b) for a in rules.STATUSES for b in rules.STATUSES if a != b]


def ready(status: str, target: str) -> RiskState:
    """A risk in `status` that meets every guard of a move to `target`."""
    return RiskState(
        key="RISK-0001",
        status=status,
        inherent_level=None if target == "identified" else "HIGH",
        residual_level=None if target == "identified" else "LOW",
        mitigation_statuses=("done",),
    )


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_every_move_is_allowed_exactly_when_the_table_lists_it(current: str, target: str) -> None:
    state = ready(current, target)
    if target in rules.TRANSITIONS[current]:
        rules.check_transition(state, target, "because", via_accept=target == "accepted")
    else:
        with pytest.raises(IllegalTransition) as err:
            rules.check_transition(state, target, "because", via_accept=True)
        assert err.value.status == 409
        assert err.value.extra["allowed"] == sorted(rules.TRANSITIONS[current])
        assert f"cannot move from '{current}' to '{target}'" in err.value.detail


def test_the_table_is_the_lifecycle_of_the_issue() -> None:
    assert {
        "identified": {"assessed", "closed"},
        "assessed": {"treating"},
        "treating": {"accepted", "mitigated"},
        "accepted": {"closed", "assessed"},
        "mitigated": {"closed", "assessed"},
        "closed": {"identified", "assessed"},
    } == rules.TRANSITIONS
    assert set(rules.TRANSITIONS) == set(rules.STATUSES)
    assert all(targets <= set(rules.STATUSES) for targets in rules.TRANSITIONS.values())


def test_closed_is_not_final_but_only_reopens() -> None:
    assert rules.TRANSITIONS["closed"] == {"identified", "assessed"}
    assert all(rules.is_reopen("closed", t) for t in rules.TRANSITIONS["closed"])


@pytest.mark.parametrize("current", sorted(rules.REOPEN_FROM))
def test_reopening_needs_a_reason(current: str) -> None:
    with pytest.raises(ValidationFailed, match="reopening needs a reason"):
        rules.check_transition(ready(current, "assessed"), "assessed", "  ")


def test_withdrawing_an_unassessed_risk_needs_a_reason() -> None:
    state = RiskState(key="RISK-0001", status="identified")
    with pytest.raises(ValidationFailed, match="withdrawn"):
        rules.check_transition(state, "closed", None)
    rules.check_transition(state, "closed", "duplicate of RISK-0002")


def test_acceptance_is_never_a_plain_move() -> None:
    with pytest.raises(Conflict, match="charter risk accept"):
        rules.check_transition(ready("treating", "accepted"), "accepted", None)


def test_acceptance_needs_a_residual_assessment() -> None:
    state = RiskState(key="RISK-0001", status="treating", inherent_level="HIGH")
    with pytest.raises(Conflict, match="assess the residual risk before accepting"):
        rules.check_transition(state, "accepted", None, via_accept=True)


def test_assessed_needs_an_inherent_score() -> None:
    with pytest.raises(Conflict, match="no inherent assessment"):
        rules.check_transition(RiskState(key="RISK-0001", status="identified"), "assessed", None)


def test_an_assessed_risk_reopens_to_assessed_not_identified() -> None:
    state = RiskState(key="RISK-0001", status="closed", inherent_level="LOW")
    with pytest.raises(Conflict, match="reopen it to 'assessed'"):
        rules.check_transition(state, "identified", "again")


@pytest.mark.parametrize(
    ("residual", "mitigations", "requires_acceptance", "message"),
    [
        (None, ("done",), False, "assess the residual risk"),
        ("LOW", (), False, "no mitigation is done"),
        ("LOW", ("cancelled",), False, "no mitigation is done"),
        ("LOW", ("done", "planned"), False, "1 mitigation"),
        ("LOW", ("done", "in_progress", "planned"), False, "2 mitigation"),
        ("HIGH", ("done",), True, "cannot be closed as mitigated; governance must accept it"),
    ],
)
def test_mitigated_guard_refusals(
    residual: str | None, mitigations: tuple[str, ...], requires_acceptance: bool, message: str
) -> None:
    state = RiskState(
        key="RISK-0001",
        status="treating",
        inherent_level="HIGH",
        residual_level=residual,
        mitigation_statuses=mitigations,
        residual_requires_acceptance=requires_acceptance,
    )
    with pytest.raises(Conflict, match=message):
        rules.check_transition(state, "mitigated", None)


def test_mitigated_is_allowed_once_mitigations_are_done_or_cancelled() -> None:
    state = RiskState(
        key="RISK-0001",
        status="treating",
        inherent_level="HIGH",
        residual_level="MEDIUM",
        mitigation_statuses=("done", "cancelled"),
    )
    rules.check_transition(state, "mitigated", None)


MITIGATION_PAIRS = [(a, b) for a in rules.MITIGATION_STATUSES for b in rules.MITIGATION_STATUSES if a != b]


@pytest.mark.parametrize(("current", "target"), MITIGATION_PAIRS)
def test_mitigation_moves_follow_their_table(current: str, target: str) -> None:
    if target in rules.MITIGATION_TRANSITIONS[current]:
        rules.check_mitigation_transition("M1", current, target)
    else:
        with pytest.raises(IllegalTransition):
            rules.check_mitigation_transition("M1", current, target)


# ----------------------------------------------------------------------------- effective level


@pytest.mark.parametrize(
    ("inherent", "residual", "mitigations", "expected"),
    [
        (None, None, (), (None, 0)),
        (("HIGH", 20), None, (), ("HIGH", 20)),
        (("HIGH", 20), ("LOW", 4), (), ("HIGH", 20)),  # a residual without done mitigations is a plan
        (("HIGH", 20), ("LOW", 4), ("planned",), ("HIGH", 20)),
        (("HIGH", 20), ("LOW", 4), ("done", "in_progress"), ("HIGH", 20)),
        (("HIGH", 20), ("LOW", 4), ("done",), ("LOW", 4)),
        (("HIGH", 20), ("LOW", 4), ("done", "cancelled"), ("LOW", 4)),
        (("HIGH", 20), None, ("done",), ("HIGH", 20)),
    ],
)
def test_effective_level_counts_the_residual_only_when_its_mitigations_are_done(
    inherent: tuple[str, int] | None,
    residual: tuple[str, int] | None,
    mitigations: tuple[str, ...],
    expected: tuple[str | None, int],
) -> None:
    assert rules.effective(inherent, residual, mitigations) == expected


# ----------------------------------------------------------------------------- cadence and acceptance


@pytest.mark.parametrize(("level", "days"), [("CRITICAL", 30), ("HIGH", 90), ("MEDIUM", 180), ("LOW", 365), (None, 30)])
def test_next_review_defaults_by_level(level: str | None, days: int) -> None:
    assert rules.next_review(NOW, SEED, level) == NOW + timedelta(days=days)


def test_acceptance_needs_justification_and_a_future_expiry_within_the_limit() -> None:
    rules.check_acceptance(NOW, NOW + timedelta(days=365), 365, "Residual within appetite after controls")
    with pytest.raises(ValidationFailed) as err:
        rules.check_acceptance(NOW, NOW, 365, "too short")
    assert [e["loc"] for e in err.value.extra["errors"]] == [["justification"], ["expires_at"]]
    with pytest.raises(ValidationFailed, match="at most 365 days"):
        rules.check_acceptance(NOW, NOW + timedelta(days=366), 365, "Residual within appetite after controls")


def test_an_acceptance_lapses_at_its_expiry_and_the_risk_is_open_again() -> None:
    until = NOW + timedelta(days=10)
    assert not rules.is_open("accepted", until, NOW)
    assert not rules.acceptance_expired("accepted", until, until - timedelta(seconds=1))
    assert rules.acceptance_expired("accepted", until, until)
    assert rules.is_open("accepted", until, until)
    assert not rules.acceptance_expired("mitigated", until, until)


@pytest.mark.parametrize("status", rules.STATUSES)
def test_open_means_identified_assessed_or_treating(status: str) -> None:
    assert rules.is_open(status, None, NOW) is (status in ("identified", "assessed", "treating"))


def test_overdue_is_any_status_but_closed_past_its_review() -> None:
    assert rules.is_overdue("mitigated", NOW, NOW)
    assert not rules.is_overdue("closed", NOW - timedelta(days=1), NOW)
    assert not rules.is_overdue("assessed", NOW + timedelta(seconds=1), NOW)


def test_keys_are_sequential_and_zero_padded() -> None:
    assert rules.format_key(1) == "RISK-0001"
    assert rules.format_key(10_000) == "RISK-10000"


# ----------------------------------------------------------------------------- gate facts


def row(key: str, status: str, level: str | None, mitigations: tuple[str, ...] = (), **kw: object) -> FactRow:
    return FactRow(
        key=key,
        status=status,
        level=level,
        next_review_at=kw.pop("next_review_at", NOW + timedelta(days=1)),  # type: ignore[arg-type]
        accepted_until=kw.pop("accepted_until", None),  # type: ignore[arg-type]
        mitigation_statuses=mitigations,
    )


def test_gate_facts_count_open_critical_and_high_without_mitigation() -> None:
    facts = rules.compute_gate_facts(
        [
            row("RISK-0002", "assessed", "CRITICAL"),
            row("RISK-0010", "treating", "HIGH", ("planned",)),
            row("RISK-0003", "assessed", "HIGH"),
            row("RISK-0004", "treating", "HIGH", ("done", "in_progress")),
            row("RISK-0005", "mitigated", "CRITICAL", ("done",)),  # not open
            row("RISK-0006", "accepted", "HIGH", accepted_until=NOW + timedelta(days=5)),  # not open
            row("RISK-0007", "accepted", "HIGH", accepted_until=NOW),  # expired: open again
            row("RISK-0008", "identified", None, next_review_at=NOW),
            row("RISK-0009", "closed", "CRITICAL", next_review_at=NOW - timedelta(days=9)),
        ],
        NOW,
    )
    assert facts["open_critical"] == 1 and facts["open_critical_keys"] == ["RISK-0002"]
    assert facts["high_without_mitigation_keys"] == ["RISK-0003", "RISK-0007", "RISK-0010"]
    assert facts["open_high_without_mitigation"] == 3
    assert facts["high_without_plan_keys"] == ["RISK-0003", "RISK-0007"]
    assert facts["open_high"] == 4
    assert facts["open_by_level"] == {"LOW": 0, "MEDIUM": 0, "HIGH": 4, "CRITICAL": 1, "UNASSESSED": 1}
    assert facts["accepted_expired"] == 1 and facts["accepted_expired_keys"] == ["RISK-0007"]
    assert facts["overdue_reviews"] == 1 and facts["overdue_review_keys"] == ["RISK-0008"]
    assert facts["open_unassessed"] == 1
    assert facts["open_total"] == 6


def test_gate_facts_of_a_system_without_risks_are_all_zero() -> None:
    facts = rules.compute_gate_facts([], NOW)
    assert facts["open_total"] == facts["open_critical"] == facts["open_high_without_mitigation"] == 0
    assert facts["open_by_level"] == dict.fromkeys(("LOW", "MEDIUM", "HIGH", "CRITICAL", "UNASSESSED"), 0)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(rules.STATUSES),
            st.sampled_from([None, "LOW", "MEDIUM", "HIGH", "CRITICAL"]),
            st.lists(st.sampled_from(rules.MITIGATION_STATUSES), max_size=3),
            st.integers(-3, 3),
        ),
        max_size=20,
    )
)
def test_gate_fact_counts_always_match_their_key_lists(risks: list[tuple[str, str | None, list[str], int]]) -> None:
    rows = [
        row(
            f"RISK-{i:04d}",
            s,
            lvl,
            tuple(m),
            accepted_until=NOW + timedelta(days=d),
            next_review_at=NOW + timedelta(days=d),
        )
        for i, (s, lvl, m, d) in enumerate(risks, start=1)
    ]
    facts = rules.compute_gate_facts(rows, NOW)
    assert facts["open_critical"] == len(facts["open_critical_keys"])
    assert facts["open_high_without_mitigation"] == len(facts["high_without_mitigation_keys"])
    assert facts["overdue_reviews"] == len(facts["overdue_review_keys"])
    assert sum(facts["open_by_level"].values()) == facts["open_total"] == len(facts["open_keys"])
    assert set(facts["high_without_plan_keys"]) <= set(facts["high_without_mitigation_keys"])
    closed = {r.key for r in rows if r.status == "closed"}
    assert not closed & set(facts["open_keys"])


GATE_FACTS_CONTRACT = {
    "open_total": int,
    "open_critical": int,
    "open_high": int,
    "open_high_without_mitigation": int,
    "open_high_without_plan": int,
    "open_unassessed": int,
    "overdue_reviews": int,
    "accepted_expired": int,
    "open_by_level": dict,
    "open_keys": list,
    "open_critical_keys": list,
    "high_without_mitigation_keys": list,
    "high_without_plan_keys": list,
    "overdue_review_keys": list,
    "accepted_expired_keys": list,
}


def test_gate_facts_keep_their_published_contract() -> None:
    """Policies (content/policies/*.yaml) and charter.policy.facts type-check against these names and types."""
    facts = rules.compute_gate_facts([row("RISK-0001", "assessed", "HIGH")], NOW)
    assert {k: type(v) for k, v in facts.items()} == GATE_FACTS_CONTRACT
    assert list(facts["open_by_level"]) == ["LOW", "MEDIUM", "HIGH", "CRITICAL", "UNASSESSED"]
