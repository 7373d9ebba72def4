"""Group fairness against fairlearn.metrics; bootstrap intervals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    selection_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.evaluation.fairness import group_fairness
from charter.evaluation.stats import StatisticsInputError
from tests.evaluation.refs import assert_same, reference

rows = st.integers(1, 80).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n),
    )
)


def _fairlearn(y_true: list[int], y_pred: list[int], groups: list[str]) -> dict[str, float | None]:
    sf = pd.Series(groups, name="group")
    return {
        name: reference(fn, np.array(y_true), np.array(y_pred), sensitive_features=sf)
        for name, fn in (
            ("demographic_parity_difference", demographic_parity_difference),
            ("demographic_parity_ratio", demographic_parity_ratio),
            ("equalized_odds_difference", equalized_odds_difference),
            ("equalized_odds_ratio", equalized_odds_ratio),
        )
    }


def _check_against_fairlearn(y_true: list[int], y_pred: list[int], groups: list[str]) -> None:
    report = group_fairness(y_true, y_pred, groups)
    ref = _fairlearn(y_true, y_pred, groups)
    for name in ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference"):
        assert_same(getattr(report, name), ref[name], name)
    if ref["equalized_odds_ratio"] is not None:
        assert_same(report.equalized_odds_ratio, ref["equalized_odds_ratio"], "equalized_odds_ratio")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = MetricFrame(
            metrics={"selection_rate": selection_rate},
            y_true=np.array(y_true),
            y_pred=np.array(y_pred),
            sensitive_features=pd.Series(groups, name="group"),
        )
    for g in report.groups:
        assert abs(g.selection_rate - frame.by_group.loc[g.group, "selection_rate"]) <= 1e-9


@settings(max_examples=80, deadline=None)
@given(data=rows)
def test_disparities_equal_fairlearn(data: tuple[list[int], list[int], list[str]]) -> None:
    _check_against_fairlearn(*data)


@settings(max_examples=40, deadline=None)
@given(data=rows)
def test_disparities_equal_fairlearn_when_some_groups_have_no_positives(
    data: tuple[list[int], list[int], list[str]],
) -> None:
    y_true, y_pred, groups = data
    y_true = [0 if g in ("a", "b") else t for t, g in zip(y_true, groups, strict=True)]
    _check_against_fairlearn(y_true, y_pred, groups)


def test_a_group_without_positives_shows_undefined_tpr_but_counts_as_zero_like_fairlearn() -> None:
    y_true = [0, 0, 1, 1, 0, 1]
    y_pred = [0, 1, 1, 1, 0, 1]
    groups = ["a", "a", "b", "b", "b", "b"]
    report = group_fairness(y_true, y_pred, groups)
    a = next(g for g in report.groups if g.group == "a")
    assert a.true_positive_rate is None and a.false_positive_rate == 0.5 and a.positives == 0
    # TPR: a counts as 0, b is 1 -> difference 1, exactly fairlearn's
    assert report.equalized_odds_difference == 1.0
    assert report.equalized_odds_difference == pytest.approx(
        _fairlearn(y_true, y_pred, groups)["equalized_odds_difference"]
    )
    assert any("'a' has no actual positives" in note for note in report.notes)


def test_equalized_odds_ratio_falls_back_to_the_defined_ratio_where_fairlearn_gives_nan() -> None:
    # nobody has an actual positive, so every TPR is 0 and the TPR ratio is 0/0; the FPR ratio is 0.5/1
    y_true = [0, 0, 0, 0]
    y_pred = [1, 0, 1, 1]
    groups = ["a", "a", "b", "b"]
    assert _fairlearn(y_true, y_pred, groups)["equalized_odds_ratio"] is None
    assert group_fairness(y_true, y_pred, groups).equalized_odds_ratio == 0.5


def test_four_fifths_flag() -> None:
    # selection: a 4/10, b 6/10 -> ratio 0.667
    y_pred = [1] * 4 + [0] * 6 + [1] * 6 + [0] * 4
    groups = ["a"] * 10 + ["b"] * 10
    report = group_fairness([1] * 20, y_pred, groups)
    assert report.demographic_parity_ratio == pytest.approx(4 / 6)
    assert report.four_fifths_violation is True
    fair = group_fairness([1] * 20, [1] * 9 + [0] + [1] * 10, groups)
    assert fair.four_fifths_violation is False
    nobody = group_fairness([1] * 20, [0] * 20, groups)
    assert nobody.demographic_parity_ratio is None and nobody.four_fifths_violation is None


def test_a_single_group_has_no_disparity() -> None:
    report = group_fairness([1, 0, 1], [1, 1, 0], ["x", "x", "x"])
    assert report.demographic_parity_difference == 0.0
    assert report.demographic_parity_ratio == 1.0
    assert report.equalized_odds_difference == 0.0
    assert report.equalized_odds_ratio == 1.0
    assert report.four_fifths_violation is False
    assert len(report.groups) == 1 and report.groups[0].count == 3
    _check_against_fairlearn([1, 0, 1], [1, 1, 0], ["x", "x", "x"])


def test_bootstrap_is_repeatable_from_the_injected_seed_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(7)
    n = 2000
    groups = rng.choice(["a", "b", "c"], size=n).tolist()
    y_true = rng.integers(0, 2, n).tolist()
    y_pred = [int(t if rng.random() < 0.8 else 1 - t) for t in y_true]
    first = group_fairness(y_true, y_pred, groups, n_resamples=500, rng=11)
    again = group_fairness(y_true, y_pred, groups, n_resamples=500, rng=np.random.default_rng(11))
    assert first.intervals == again.intervals
    other = group_fairness(y_true, y_pred, groups, n_resamples=500, rng=12)
    assert other.intervals != first.intervals
    for name in ("demographic_parity_difference", "equalized_odds_difference"):
        interval = first.intervals[name]
        assert interval.low is not None and interval.high is not None
        assert interval.low < interval.high
        assert interval.high - interval.low < 0.2
    for g in first.groups:
        sel = g.intervals["selection_rate"]
        assert sel.low is not None and sel.high is not None
        assert sel.low <= g.selection_rate <= sel.high
        # a group's selection rate over ~667 rows: the 95 % interval is about +/- 0.04
        assert 0.04 < sel.high - sel.low < 0.12


def test_each_resample_is_scored_exactly_as_fairlearn_would_score_it() -> None:
    # the multinomial draw over (group, truth, prediction) cells is a resample of rows; expand one back into rows
    groups = ["a"] * 6 + ["b"] * 5 + ["c"] * 3
    y_true = [1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1]
    y_pred = [1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1]
    seed = 5
    report = group_fairness(y_true, y_pred, groups, n_resamples=40, rng=seed)
    names = sorted(set(groups))
    cells = np.zeros(len(names) * 4, dtype=float)
    for g, t, p in zip(groups, y_true, y_pred, strict=True):
        cells[names.index(g) * 4 + 2 * t + p] += 1
    draws = np.random.default_rng(seed).multinomial(len(groups), cells / len(groups), size=40)
    values = []
    for draw in draws:
        rt, rp, rg = [], [], []
        for cell, count in enumerate(draw):
            g, t, p = names[cell // 4], (cell % 4) // 2, cell % 2
            rt += [t] * count
            rp += [p] * count
            rg += [g] * count
        values.append(_fairlearn(rt, rp, rg)["demographic_parity_difference"])
    expected = np.quantile(np.array(values, dtype=float), [0.025, 0.975])
    interval = report.intervals["demographic_parity_difference"]
    assert (interval.low, interval.high) == pytest.approx(tuple(expected), abs=1e-9)


def test_bootstrap_needs_an_injected_rng_and_sane_input() -> None:
    with pytest.raises(StatisticsInputError, match="needs rng"):
        group_fairness([1, 0], [1, 0], ["a", "b"], n_resamples=10)
    with pytest.raises(StatisticsInputError, match="group at index 1 is missing"):
        group_fairness([1, 0], [1, 0], ["a", None])
    with pytest.raises(StatisticsInputError, match="one entry per row"):
        group_fairness([1, 0], [1], ["a", "b"])
    with pytest.raises(StatisticsInputError, match="not a binary label"):
        group_fairness([1, 2], [1, 0], ["a", "b"])
