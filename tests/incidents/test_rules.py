from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.incidents import catalog
from charter.incidents.rules import (
    CATEGORIES,
    Policy,
    Reminder,
    Target,
    check_action_transition,
    check_postmortem_transition,
    durations,
    format_duration,
    incident_key,
    next_escalation_step,
    parse_duration,
    reminder_times,
    report_deadline,
)
from charter.kit.content import ContentInvalid
from charter.kit.errors import IllegalTransition, ValidationFailed

CAT = catalog.load()
LIFE = CAT.lifecycle
STATUSES = list(LIFE.statuses)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

# The lifecycle the issue asks for, written out independently of the YAML: (from, to) pairs allowed.
EXPECTED = {
    ("open", "investigating"),
    ("open", "mitigated"),
    ("open", "resolved"),
    ("open", "declined"),
    ("open", "duplicate"),
    ("investigating", "mitigated"),
    ("investigating", "resolved"),
    ("investigating", "duplicate"),
    ("mitigated", "investigating"),
    ("mitigated", "resolved"),
    ("resolved", "closed"),
    ("resolved", "investigating"),  # reopen
    ("closed", "investigating"),  # reopen
    ("declined", "open"),  # reopen
    ("duplicate", "open"),  # reopen
}


@pytest.mark.parametrize(("current", "target"), [(a, b) for a in STATUSES for b in STATUSES])
def test_every_lifecycle_move_is_allowed_or_refused_as_the_table_says(current: str, target: str) -> None:
    if (current, target) in EXPECTED:
        LIFE.check("INC-2026-0001", current, target)
    else:
        with pytest.raises(IllegalTransition) as err:
            LIFE.check("INC-2026-0001", current, target)
        assert err.value.extra["allowed"] == sorted(b for a, b in EXPECTED if a == current)
        assert f"cannot move from '{current}' to '{target}'" in err.value.detail


def test_reopen_moves_are_exactly_those_back_from_finished_statuses() -> None:
    reopens = {(a, b) for a in STATUSES for b in STATUSES if LIFE.is_reopen(a, b)}
    assert reopens == {
        ("resolved", "investigating"),
        ("closed", "investigating"),
        ("declined", "open"),
        ("duplicate", "open"),
    }


def test_an_unknown_status_is_a_validation_error_listing_the_statuses() -> None:
    with pytest.raises(ValidationFailed, match="unknown status 'fixed'; statuses are: open, investigating"):
        LIFE.check("INC-1", "open", "fixed")


def test_every_fixed_category_has_a_status_and_the_initial_one_is_open() -> None:
    assert {s.category for s in LIFE.statuses.values()} == set(CATEGORIES)
    assert LIFE.category(LIFE.initial) == "open"


def test_severities_are_ranked_data_with_colours_and_playbooks() -> None:
    ranked = sorted(CAT.severities.values(), key=lambda s: s.rank)
    assert [s.key for s in ranked] == ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
    assert all(s.colour.startswith("#") for s in ranked)
    assert CAT.severities["CRITICAL"].playbook == "incident-response-critical"
    assert CAT.severities["HIGH"].playbook == "incident-response-high"
    assert {s.key for s in ranked if s.postmortem_required} == {"HIGH", "CRITICAL"}


def test_an_unknown_severity_names_the_allowed_ones_in_rank_order() -> None:
    with pytest.raises(ValidationFailed, match=r"unknown severity 'SEVERE'; allowed: LOW, MEDIUM, HIGH, CRITICAL"):
        CAT.severity("SEVERE")


def test_harm_categories_are_the_eight_risk_categories() -> None:
    assert set(CAT.harm_categories) == {
        "safety",
        "fairness",
        "privacy",
        "security",
        "transparency",
        "societal",
        "legal",
        "reputational",
    }


@pytest.mark.parametrize(
    ("case", "days"), [("standard", 15), ("widespread_or_critical_infrastructure", 2), ("death", 10)]
)
def test_article_73_deadlines_per_case(case: str, days: int) -> None:
    assert report_deadline(T0, CAT.regulatory.case(case)) == T0 + timedelta(days=days)


def test_an_unknown_regulatory_case_lists_the_cases_with_their_days() -> None:
    with pytest.raises(ValidationFailed, match=r"standard \(15 days, Art. 73\(2\)\)"):
        CAT.regulatory.case("injury")


def test_reminders_fall_at_fractions_and_hours_before_the_deadline() -> None:
    deadline = T0 + timedelta(days=2)
    times = reminder_times(T0, deadline, (Reminder(fraction=0.5), Reminder(fraction=0.8), Reminder(hours_before=12)))
    assert times == [T0 + timedelta(hours=24), T0 + timedelta(hours=36), T0 + timedelta(hours=38, minutes=24)]


def test_reminders_outside_the_window_are_dropped() -> None:
    deadline = T0 + timedelta(hours=6)
    assert reminder_times(T0, deadline, (Reminder(hours_before=12), Reminder(fraction=0.5))) == [
        T0 + timedelta(hours=3)
    ]


def _policy(levels: int, repeat: int) -> Policy:
    return Policy(
        key="p",
        name="p",
        levels=tuple((Target(role=f"r{i}"),) for i in range(levels)),
        ack_timeouts={},
        repeat=repeat,
    )


def test_escalation_walks_the_levels_then_repeats_then_stops() -> None:
    policy = _policy(levels=3, repeat=1)
    steps = []
    state = (1, 0)
    while (nxt := next_escalation_step(policy, *state)) is not None:
        steps.append(nxt)
        state = nxt
    assert steps == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]


@given(levels=st.integers(1, 6), repeat=st.integers(0, 4))
def test_escalation_always_ends_after_levels_times_rounds_steps(levels: int, repeat: int) -> None:
    policy = _policy(levels, repeat)
    count, state = 0, (1, 0)
    while (nxt := next_escalation_step(policy, *state)) is not None:
        assert nxt > state  # strictly forward: never pages a step twice
        count, state = count + 1, nxt
    assert count == levels * (repeat + 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(None) is None


def test_a_bad_duration_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match=r"use e\.g\. 30s, 15m, 1h, 2d"):
        parse_duration("fortnight")


def test_format_duration_is_readable() -> None:
    assert format_duration(timedelta(days=1, hours=2, minutes=3)) == "1d 2h 3m"
    assert format_duration(timedelta(seconds=-90)) == "-1m 30s"
    assert format_duration(timedelta(0)) == "0s"


def test_detection_durations_come_from_the_timestamps() -> None:
    d = durations(T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=7), T0 + timedelta(hours=1), None)
    assert d == {
        "time_to_detect": timedelta(minutes=5),
        "time_to_acknowledge": timedelta(minutes=2),
        "time_to_mitigate": timedelta(hours=1),
        "time_to_resolve": None,
    }


def test_incident_keys_are_per_year_and_zero_padded() -> None:
    assert incident_key(2026, 1) == "INC-2026-0001"
    assert incident_key(2027, 12345) == "INC-2027-12345"


def test_postmortem_and_action_item_moves() -> None:
    check_postmortem_transition("INC-1", "draft", "in_review")
    check_postmortem_transition("INC-1", "in_review", "approved")
    with pytest.raises(IllegalTransition):
        check_postmortem_transition("INC-1", "draft", "approved")
    with pytest.raises(IllegalTransition):
        check_postmortem_transition("INC-1", "approved", "draft")
    check_action_transition(1, "open", "done")
    with pytest.raises(IllegalTransition):
        check_action_transition(1, "done", "wont_do")


def _copy_content(tmp_path: Path) -> Path:
    target = tmp_path / "incidents"
    shutil.copytree(catalog.CONTENT_DIR, target)
    return target


def test_the_shipped_content_validates() -> None:
    assert catalog.build() is not None


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("lifecycle.yaml", "category: mitigated", "category: calmed", "lifecycle.yaml.*category must be one of"),
        ("lifecycle.yaml", "next: [closed]", "next: [archived]", "moves to unknown status 'archived'"),
        ("severities.yaml", 'colour: "#c62828"', "colour: red", "severities.yaml"),
        ("escalation.yaml", "CRITICAL: 15m", "CRITICAL: soon", "escalation.yaml.*not a duration"),
        ("escalation.yaml", "default_policy: default", "default_policy: nope", "default_policy 'nope'"),
        ("regulatory.yaml", "days: 15", "days: 0", "regulatory.yaml"),
        ("alerts.yaml", "critical: HIGH", "critical: SEVERE", "unknown severity 'SEVERE'"),
    ],
)
def test_broken_content_stops_start_up_naming_the_file(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    directory = _copy_content(tmp_path)
    path = directory / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ContentInvalid, match=message):
        catalog.build(directory)
