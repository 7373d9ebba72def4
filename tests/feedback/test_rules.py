from __future__ import annotations

import pytest

from charter.feedback import rules


def test_the_default_rubric_is_seed_003s_accuracy_tone_hallucination() -> None:
    rubric = rules.check_rubric(rules.DEFAULT_RUBRIC)
    assert [r["name"] for r in rubric] == ["accuracy", "tone", "hallucination"]
    assert {r["type"] for r in rubric} == {"numeric", "categorical", "boolean"}


def test_a_rubric_with_an_unknown_type_names_the_allowed_ones() -> None:
    with pytest.raises(rules.RuleError) as exc:
        rules.check_rubric([{"name": "x", "type": "stars"}])
    assert "allowed: numeric, categorical, boolean, text" in str(exc.value)


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"accuracy": 9, "hallucination": False}, "accuracy: 9 is not a number from 1 to 5"),
        ({"accuracy": 3, "hallucination": "no"}, "hallucination: 'no' is not true or false"),
        ({"accuracy": 3, "hallucination": False, "tone": "rude"}, "tone: 'rude' is not one of: appropriate"),
        ({"hallucination": False}, "accuracy: required"),
        ({"accuracy": 3, "hallucination": False, "speed": 1}, "speed: not in this queue's rubric"),
    ],
)
def test_invalid_scores_say_what_is_allowed(scores: dict[str, object], message: str) -> None:
    with pytest.raises(rules.RuleError) as exc:
        rules.check_scores(rules.check_rubric(rules.DEFAULT_RUBRIC), scores)
    assert message in str(exc.value)


def test_sampling_is_reproducible_and_close_to_the_rate() -> None:
    policy = rules.check_sampling({"rate": 0.2})
    picks = [
        rules.sample_reason(policy, "high", rules.Candidate(f"i-{k}", "q", "a", None, False), "q1") for k in range(5000)
    ]
    share = sum(p == "sampled" for p in picks) / len(picks)
    assert 0.18 < share < 0.22
    again = [
        rules.sample_reason(policy, "high", rules.Candidate(f"i-{k}", "q", "a", None, False), "q1") for k in range(5000)
    ]
    assert picks == again


def test_triggers_and_tiers_decide_before_the_draw() -> None:
    policy = rules.check_sampling({"rate": 0, "keywords": ["Refund"], "score_below": 0.5, "tier_rates": {"high": 1}})
    c = rules.Candidate
    assert rules.sample_reason(policy, "low", c("a", "q", "ok", 0.2, False), "s") == "score"
    assert rules.sample_reason(policy, "low", c("b", "q", "ok", None, True), "s") == "pii"
    assert rules.sample_reason(policy, "low", c("c", "I want a refund", "ok", None, False), "s") == "keyword"
    assert rules.sample_reason(policy, "high", c("d", "q", "ok", None, False), "s") == "sampled"
    assert rules.sample_reason(policy, "low", c("d", "q", "ok", None, False), "s") is None


def test_a_bad_sampling_policy_is_refused() -> None:
    with pytest.raises(rules.RuleError) as exc:
        rules.check_sampling({"rate": 2, "mode": "some"})
    assert "unknown mode 'some'" in str(exc.value) and "2 is not a rate from 0 to 1" in str(exc.value)


def test_a_spike_needs_enough_flags_and_a_high_enough_rate() -> None:
    assert not rules.is_spike(9, 0, 10, 0.05)
    assert rules.is_spike(10, 0, 10, 0.05)
    assert rules.is_spike(10, 200, 10, 0.05)
    assert not rules.is_spike(10, 201, 10, 0.05)
