"""Expert benchmark report: tallies, intervals, agreement against statsmodels / krippendorff, validation."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from charter.evaluation.benchmark import VERDICTS, BenchmarkInputError, Rating, benchmark_report
from tests.evaluation.refs import assert_same, reference

RATINGS = [
    ("t1", "ann", "ai_better"),
    ("t1", "bob", "ai_better"),
    ("t1", "cy", "tie"),
    ("t2", "ann", "human_better"),
    ("t2", "bob", "ai_better"),
    ("t3", "ann", "human_better"),
    ("t3", "bob", "human_better"),
    ("t3", "cy", "ai_better"),
    ("t4", "ann", "tie"),
    ("t4", "bob", "TIE"),
]


def test_majority_and_pooled_tallies() -> None:
    report = benchmark_report(RATINGS)
    # t1 ai (2 of 3), t2 split 1-1 -> tie, t3 human (2 of 3), t4 tie
    assert (report.majority.win, report.majority.tie, report.majority.loss) == (1, 2, 1)
    assert (report.pooled.win, report.pooled.tie, report.pooled.loss) == (4, 3, 3)
    assert report.majority.win_or_tie_rate == 0.75
    assert report.pooled.win_or_tie_rate == 0.7
    low, high = proportion_confint(7, 10, method="wilson")
    assert report.pooled.win_or_tie_wilson95 == pytest.approx((low, high), abs=1e-9)
    assert (report.tasks, report.raters, report.ratings) == (4, 3, 10)
    assert report.units_below_min_raters == []


def test_no_strict_majority_is_a_tie() -> None:
    ratings = [("t", r, v) for r, v in zip("abcd", ["ai_better", "ai_better", "human_better", "tie"], strict=True)]
    report = benchmark_report(ratings)
    assert (report.majority.win, report.majority.tie, report.majority.loss) == (0, 1, 0)


def test_report_json_has_the_cli_contract() -> None:
    data = json.loads(json.dumps(benchmark_report(RATINGS).as_dict()))
    for key in ("majority", "pooled"):
        assert {"win", "tie", "loss", "win_or_tie_rate", "win_or_tie_wilson95"} <= set(data[key])
    assert "fleiss_kappa" in data and "krippendorff_alpha" in data


def _ratings(draw_tasks: list[list[int | None]]) -> list[tuple[str, str, str]]:
    return [
        (f"t{t}", f"r{r}", VERDICTS[v]) for t, row in enumerate(draw_tasks) for r, v in enumerate(row) if v is not None
    ]


@settings(max_examples=150, deadline=None)
@given(
    tasks=st.integers(2, 5).flatmap(
        lambda raters: st.lists(st.lists(st.integers(0, 2), min_size=raters, max_size=raters), min_size=1, max_size=30)
    )
)
def test_agreement_equals_statsmodels_and_krippendorff_with_equal_raters(tasks: list[list[int]]) -> None:
    report = benchmark_report(_ratings(tasks))  # type: ignore[arg-type]
    table = np.array([[row.count(c) for c in range(3)] for row in tasks])
    assert_same(report.fleiss_kappa, reference(sm_fleiss_kappa, table), "fleiss")
    data = np.array(tasks, dtype=float).T
    assert_same(report.krippendorff_alpha, reference(krippendorff.alpha, data, level_of_measurement="nominal"), "alpha")


@settings(max_examples=150, deadline=None)
@given(
    tasks=st.lists(st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=4, max_size=4), min_size=1, max_size=30)
)
def test_krippendorff_alpha_allows_missing_ratings(tasks: list[list[int | None]]) -> None:
    ratings = _ratings(tasks)
    if not ratings:
        return
    report = benchmark_report(ratings)
    rated = [row for row in tasks if any(v is not None for v in row)]
    data = np.array([[np.nan if v is None else v for v in row] for row in rated], dtype=float).T
    assert_same(report.krippendorff_alpha, reference(krippendorff.alpha, data, level_of_measurement="nominal"), "alpha")
    below = {f"t{t}" for t, row in enumerate(tasks) if 0 < sum(v is not None for v in row) < 2}
    assert set(report.units_below_min_raters) == below


def test_everyone_agrees_leaves_kappa_and_alpha_undefined() -> None:
    report = benchmark_report([(t, r, "ai_better") for t in ("a", "b") for r in ("x", "y")])
    assert report.majority.win == 2
    assert report.fleiss_kappa is None and report.krippendorff_alpha is None
    assert report.observed_agreement == 1.0


def test_single_rated_tasks_are_flagged_and_still_counted() -> None:
    report = benchmark_report([("a", "x", "ai_better"), ("a", "y", "tie"), ("b", "x", "human_better")])
    assert report.units_below_min_raters == ["b"]
    assert report.majority.loss == 1
    assert report.fleiss_kappa is not None  # task a still pairs


def test_per_criterion_reports() -> None:
    ratings = [
        Rating("t1", "ann", "ai_better", "accuracy"),
        Rating("t1", "bob", "ai_better", "accuracy"),
        Rating("t1", "ann", "human_better", "tone"),
        Rating("t1", "bob", "tie", "tone"),
        {"task_id": "t2", "rater": "ann", "verdict": "tie", "criterion": "accuracy"},
        {"task_id": "t2", "rater": "bob", "verdict": "tie", "criterion": "accuracy"},
    ]
    report = benchmark_report(ratings)
    assert set(report.by_criterion) == {"accuracy", "tone"}
    accuracy = report.by_criterion["accuracy"]
    assert (accuracy.majority.win, accuracy.majority.tie, accuracy.majority.loss) == (1, 1, 0)
    tone = report.by_criterion["tone"]
    assert (tone.majority.win, tone.majority.tie, tone.majority.loss) == (0, 1, 0)
    assert tone.units_below_min_raters == []
    # the top level counts each task x criterion as a unit
    assert report.majority.n == 3
    assert report.tasks == 2


@pytest.mark.parametrize(
    ("ratings", "message"),
    [
        ([("t1", "ann", "better")], r"rating 0: unknown verdict 'better' for task 't1'; allowed: ai_better, tie"),
        ([("t1", "ann", "tie"), ("t1", "ann", "ai_better")], r"rating 1: rater 'ann' rated task 't1' twice"),
        ([], "no ratings"),
        ([("t1", "", "tie")], "rater is missing"),
        ([("t1", "ann", "tie", "accuracy"), ("t1", "bob", "tie")], "criterion on every rating or none"),
        ([{"task_id": "t1", "rater": "a", "verdict": "tie", "score": 3}], r"unknown fields \['score'\]"),
    ],
)
def test_bad_ratings_are_refused_with_their_position(ratings: list[object], message: str) -> None:
    with pytest.raises(BenchmarkInputError, match=message):
        benchmark_report(ratings)  # type: ignore[arg-type]


def test_ratings_for_unknown_tasks_and_own_answers_are_refused() -> None:
    with pytest.raises(BenchmarkInputError, match="task 't9' is not in the benchmark") as info:
        benchmark_report([("t1", "ann", "tie"), ("t9", "ann", "tie")], known_tasks={"t1"})
    assert info.value.index == 1
    with pytest.raises(BenchmarkInputError, match="rater 'eve' wrote an answer of task 't1'"):
        benchmark_report([("t1", "eve", "tie")], authors={"t1": {"eve"}})
