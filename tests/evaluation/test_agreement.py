"""Cohen's kappa, Krippendorff's alpha, Fleiss' kappa and judge calibration against the reference libraries."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score, precision_score, recall_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from charter.evaluation.agreement import (
    calibrate,
    cohen_kappa,
    default_scale_points,
    fleiss_kappa,
    krippendorff_alpha,
)
from charter.evaluation.stats import LabelError, StatisticsInputError
from tests.evaluation.refs import assert_same, reference

CONTRACT = [
    "n",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "cohen_kappa",
    "krippendorff_alpha",
    "mae",
    "accuracy_wilson95",
]

pairs_binary = st.integers(min_value=1, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.booleans(), min_size=n, max_size=n), st.lists(st.booleans(), min_size=n, max_size=n)
    )
)
pairs_scale = st.integers(min_value=1, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(1, 5), min_size=n, max_size=n), st.lists(st.integers(1, 5), min_size=n, max_size=n)
    )
)


@settings(max_examples=200, deadline=None)
@given(pairs=pairs_scale, weights=st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_kappa_equals_sklearn(pairs: tuple[list[int], list[int]], weights: str | None) -> None:
    a, b = pairs
    assert_same(cohen_kappa(a, b, weights=weights), reference(cohen_kappa_score, a, b, weights=weights), "kappa")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    data=st.integers(2, 5).flatmap(
        lambda coders: st.integers(1, 25).flatmap(
            lambda units: st.lists(
                st.lists(st.one_of(st.none(), st.integers(1, 4)), min_size=units, max_size=units),
                min_size=coders,
                max_size=coders,
            )
        )
    ),
    level=st.sampled_from(["nominal", "interval"]),
)
def test_krippendorff_alpha_equals_package_with_missing_values(data: list[list[int | None]], level: str) -> None:
    matrix = np.array([[np.nan if v is None else v for v in row] for row in data], dtype=float)
    ours = krippendorff_alpha(matrix, level)  # type: ignore[arg-type]
    assert_same(ours, reference(krippendorff.alpha, reliability_data=matrix, level_of_measurement=level), level)


def test_krippendorff_alpha_matches_the_packages_published_example() -> None:
    nan = np.nan
    data = [
        [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
        [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
        [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
    ]
    assert round(krippendorff_alpha(data, "nominal") or 0, 6) == 0.691358
    assert round(krippendorff_alpha(data, "interval") or 0, 6) == 0.810845


@settings(max_examples=200, deadline=None)
@given(
    ratings=st.integers(2, 6).flatmap(
        lambda raters: st.lists(st.lists(st.integers(0, 2), min_size=raters, max_size=raters), min_size=1, max_size=30)
    )
)
def test_fleiss_kappa_equals_statsmodels_when_every_subject_has_the_same_raters(ratings: list[list[int]]) -> None:
    table = [[r.count(c) for c in range(3)] for r in ratings]
    assert_same(fleiss_kappa(table), reference(sm_fleiss_kappa, np.array(table)), "fleiss")


def _gwet_fleiss_by_rater_pairs(ratings: list[list[int]]) -> float | None:
    """Gwet's generalised Fleiss kappa written from its definition: exact fractions, explicit rater pairs."""
    rated = [r for r in ratings if r]
    categories = sorted({c for r in rated for c in r})
    pi = {c: sum(Fraction(r.count(c), len(r)) for r in rated) / len(rated) for c in categories}
    p_e = sum(p * p for p in pi.values())
    multi = [r for r in rated if len(r) >= 2]
    if not multi or p_e == 1:
        return None
    p_o = sum(
        Fraction(sum(a == b for a, b in itertools.permutations(r, 2)), len(r) * (len(r) - 1)) for r in multi
    ) / len(multi)
    return float((p_o - p_e) / (1 - p_e))


@settings(max_examples=200, deadline=None)
@given(ratings=st.lists(st.lists(st.integers(0, 2), min_size=0, max_size=5), min_size=1, max_size=25))
def test_fleiss_kappa_with_varying_raters_is_gwets_generalisation(ratings: list[list[int]]) -> None:
    table = [[r.count(c) for c in range(3)] for r in ratings]
    expected = _gwet_fleiss_by_rater_pairs(ratings) if any(ratings) else None
    assert_same(fleiss_kappa(table), expected, "generalised fleiss")


def test_fleiss_kappa_with_varying_raters_matches_irrcac() -> None:
    # 7 tasks, 1 to 4 raters each; irrCAC 0.4.4 CAC(ratings).fleiss() gave 0.436532507739938 for these ratings
    table = [[2, 1, 0], [2, 0, 0], [0, 1, 3], [0, 2, 0], [1, 0, 1], [4, 0, 0], [0, 0, 1]]
    assert fleiss_kappa(table) == pytest.approx(0.436532507739938, abs=1e-12)


def test_fleiss_kappa_is_undefined_when_everyone_picks_one_category_or_nobody_pairs() -> None:
    assert fleiss_kappa([[3, 0, 0], [3, 0, 0]]) is None
    assert fleiss_kappa([[1, 0, 0], [0, 1, 0]]) is None


@settings(max_examples=200, deadline=None)
@given(pairs=pairs_binary, vocabulary=st.sampled_from(["bool", "int", "passfail"]))
def test_binary_calibration_equals_sklearn_and_krippendorff(
    pairs: tuple[list[bool], list[bool]], vocabulary: str
) -> None:
    human, judge = pairs
    show = {"bool": lambda v: v, "int": int, "passfail": lambda v: "pass" if v else "fail"}[vocabulary]
    result = calibrate([show(v) for v in human], [show(v) for v in judge], "binary")
    h, j = np.array(human), np.array(judge)
    assert result.n == len(human)
    assert abs(result.accuracy - accuracy_score(h, j)) <= 1e-9
    assert_same(result.precision, reference(precision_score, h, j, zero_division=np.nan), "precision")
    assert_same(result.recall, reference(recall_score, h, j, zero_division=np.nan), "recall")
    assert_same(result.f1, reference(f1_score, h, j, zero_division=np.nan), "f1")
    assert_same(result.cohen_kappa, reference(cohen_kappa_score, h, j), "kappa")
    both = np.vstack([h, j]).astype(float)
    assert_same(
        result.krippendorff_alpha,
        reference(krippendorff.alpha, reliability_data=both, level_of_measurement="nominal"),
        "alpha",
    )
    assert result.mae is None
    agree = int((h == j).sum())
    low, high = proportion_confint(agree, len(h), method="wilson")
    assert abs(result.accuracy_wilson95[0] - low) <= 1e-9
    assert abs(result.accuracy_wilson95[1] - high) <= 1e-9


@settings(max_examples=200, deadline=None)
@given(pairs=pairs_scale)
def test_interval_calibration_equals_sklearn_and_krippendorff(pairs: tuple[list[int], list[int]]) -> None:
    human, judge = pairs
    result = calibrate(human, judge, "interval")
    h, j = np.array(human, dtype=float), np.array(judge, dtype=float)
    points = np.arange(min(h.min(), j.min()), max(h.max(), j.max()) + 1)
    assert abs(result.accuracy - float(np.mean(h == j))) <= 1e-9
    assert result.mae is not None and abs(result.mae - float(np.mean(np.abs(h - j)))) <= 1e-9
    assert_same(
        result.cohen_kappa, reference(cohen_kappa_score, h, j, labels=points, weights="quadratic"), "weighted kappa"
    )
    assert_same(
        result.krippendorff_alpha,
        reference(krippendorff.alpha, reliability_data=np.vstack([h, j]), level_of_measurement="interval"),
        "alpha",
    )
    assert result.precision is None and result.recall is None and result.f1 is None


def test_interval_kappa_weighs_an_unused_scale_point_as_a_step() -> None:
    # nobody chose 3 on the 1-5 scale: 2 vs 4 is still two steps apart, not one
    human, judge = [1, 2, 4, 5, 2, 4], [1, 4, 2, 5, 2, 4]
    result = calibrate(human, judge, "interval")
    points = np.array([1, 2, 3, 4, 5])
    assert default_scale_points(np.array(human + judge, dtype=float)).tolist() == points.tolist()
    expected = cohen_kappa_score(human, judge, labels=points, weights="quadratic")
    assert result.cohen_kappa == pytest.approx(expected, abs=1e-12)
    assert result.cohen_kappa != pytest.approx(cohen_kappa_score(human, judge, weights="quadratic"), abs=1e-6)


def test_interval_calibration_with_a_pass_threshold_reports_precision_and_recall() -> None:
    human = [5, 4, 2, 1, 4, 3]
    judge = [5, 3, 4, 1, 4, 2]
    result = calibrate(human, judge, "interval", pass_threshold=4)
    h, j = np.array(human) >= 4, np.array(judge) >= 4
    assert result.precision == pytest.approx(precision_score(h, j))
    assert result.recall == pytest.approx(recall_score(h, j))
    assert result.f1 == pytest.approx(f1_score(h, j))


def test_calibration_json_has_exactly_the_cli_contract_fields() -> None:
    result = calibrate(["pass", "fail", "pass", "pass"], [True, False, False, True], "binary")
    data = json.loads(json.dumps(result.as_dict()))
    assert list(data) == CONTRACT
    assert data["accuracy"] == 0.75
    assert data["precision"] == 1.0
    assert data["recall"] == pytest.approx(2 / 3)
    assert isinstance(data["accuracy_wilson95"], list) and len(data["accuracy_wilson95"]) == 2


def test_all_agree_on_one_label_leaves_chance_corrected_statistics_undefined() -> None:
    result = calibrate(["pass"] * 5, ["pass"] * 5, "binary")
    assert result.accuracy == 1.0
    assert result.cohen_kappa is None
    assert result.krippendorff_alpha is None
    assert result.precision == 1.0 and result.recall == 1.0 and result.f1 == 1.0
    none_positive = calibrate([False] * 4, [False] * 4, "binary")
    assert none_positive.precision is None and none_positive.recall is None and none_positive.f1 is None


def test_a_single_item_is_reported_with_what_it_can_support() -> None:
    agree = calibrate([4], [4], "interval")
    assert (agree.n, agree.accuracy, agree.mae, agree.cohen_kappa, agree.krippendorff_alpha) == (
        1,
        1.0,
        0.0,
        None,
        None,
    )
    disagree = calibrate([True], [False], "binary")
    assert disagree.accuracy == 0.0
    assert disagree.cohen_kappa == pytest.approx(cohen_kappa_score([1], [0]))
    assert disagree.krippendorff_alpha == pytest.approx(krippendorff.alpha([[1], [0]], level_of_measurement="nominal"))


def test_a_constant_judge_gets_zero_kappa_not_an_error() -> None:
    human = [True, False, True, False]
    judge = [True, True, True, True]
    result = calibrate(human, judge, "binary")
    assert result.cohen_kappa == pytest.approx(cohen_kappa_score(human, judge))
    assert result.recall == 1.0 and result.precision == 0.5


def test_calibration_rejects_bad_pairs_clearly() -> None:
    with pytest.raises(StatisticsInputError, match="differ in length"):
        calibrate([1, 0], [1], "binary")
    with pytest.raises(StatisticsInputError, match="no paired labels"):
        calibrate([], [], "binary")
    with pytest.raises(LabelError, match="judge label at index 1 is 'maybe'"):
        calibrate(["pass", "fail"], ["pass", "maybe"], "binary")
    with pytest.raises(LabelError, match="not a binary label"):
        calibrate([1, 5], [1, 4], "binary")
    with pytest.raises(StatisticsInputError, match="not on the scale"):
        calibrate([1, 6], [1, 2], "interval", scale_points=[1, 2, 3, 4, 5])
    with pytest.raises(StatisticsInputError, match="scale must be"):
        calibrate([1], [1], "ordinal")  # type: ignore[arg-type]
