"""Wilson interval against statsmodels; label normalisation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from charter.evaluation.stats import (
    LabelError,
    StatisticsInputError,
    normalise_binary_labels,
    normalise_numeric_labels,
    wilson_interval,
)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=100_000),
    share=st.floats(min_value=0.0, max_value=1.0),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.999]),
)
def test_wilson_interval_equals_statsmodels(n: int, share: float, confidence: float) -> None:
    k = round(share * n)
    low, high = wilson_interval(k, n, confidence)
    ref_low, ref_high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert abs(low - ref_low) <= 1e-9
    assert abs(high - ref_high) <= 1e-9
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_interval_of_nothing_is_everything() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_edges_touch_zero_and_one() -> None:
    assert wilson_interval(0, 10)[0] == 0.0
    low, high = wilson_interval(20, 20)
    assert high == 1.0
    assert 0.83 < low < 0.84  # 20 of 20 wins still leaves room for a 16 % loss rate


@pytest.mark.parametrize(
    ("k", "n", "confidence"), [(3, 2, 0.95), (-1, 5, 0.95), (1, -1, 0.95), (1, 5, 1.0), (1, 5, 0.0), (True, 5, 0.95)]
)
def test_wilson_interval_rejects_impossible_counts(k: int, n: int, confidence: float) -> None:
    with pytest.raises(StatisticsInputError):
        wilson_interval(k, n, confidence)


def test_binary_labels_accept_each_vocabulary() -> None:
    expected = [True, False, True]
    assert normalise_binary_labels([True, False, True]).tolist() == expected
    assert normalise_binary_labels([1, 0, 1]).tolist() == expected
    assert normalise_binary_labels(np.array([1, 0, 1])).tolist() == expected
    assert normalise_binary_labels([1.0, 0.0, 1.0]).tolist() == expected
    assert normalise_binary_labels(["PASS", " fail ", "Pass"]).tolist() == expected
    assert normalise_binary_labels(["yes", "no", "YES"]).tolist() == expected
    assert normalise_binary_labels(["true", "0", "1"]).tolist() == expected


def test_binary_labels_reject_a_mix_of_vocabularies_naming_both() -> None:
    with pytest.raises(LabelError, match=r"pass/fail \(first at index 0\) and yes/no") as info:
        normalise_binary_labels(["pass", "fail", "yes"], side="human")
    assert info.value.index == 2
    assert info.value.side == "human"


@pytest.mark.parametrize("bad", ["maybe", 2, 0.5, None, float("nan")])
def test_binary_labels_reject_unknown_labels_with_position(bad: object) -> None:
    with pytest.raises(LabelError, match="index 1") as info:
        normalise_binary_labels([True, bad], side="judge")
    assert "allowed: true/false" in str(info.value)


def test_numeric_labels_parse_numbers_and_reject_booleans_and_text() -> None:
    assert normalise_numeric_labels(["4", 3, 2.5, " 1 "]).tolist() == [4.0, 3.0, 2.5, 1.0]
    with pytest.raises(LabelError, match="scale='binary'"):
        normalise_numeric_labels([1, True])
    with pytest.raises(LabelError, match="index 2"):
        normalise_numeric_labels([1, 2, "good"])
    with pytest.raises(LabelError, match="finite number"):
        normalise_numeric_labels(np.array([1.0, np.nan]))
