"""Rolling mapped spans up into metric points: percentiles against the reference library, rates, tokens, cost from
a validated price table, evaluation scores, and buckets that close over time."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.telemetry.mapping import Evaluation, GenAISpan
from charter.telemetry.rollup import (
    MetricPoint,
    Price,
    PriceTable,
    PriceTableError,
    Rollup,
    evaluation_metric,
    rollup,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PRICES = PriceTable.from_config(
    {
        "currency": "USD",
        "prices": [
            {"provider": "openai", "model": "gpt-4o", "input_per_million": 2.5, "output_per_million": 10.0},
            {"provider": "openai", "model": "gpt-4o-mini*", "input_per_million": 0.15, "output_per_million": 0.6},
            {"provider": "azure.ai.openai", "model": "gpt-4o*", "input_per_million": 2.75, "output_per_million": 11},
        ],
    }
)


def span(
    latency_ms: float = 100.0,
    *,
    end: datetime = T0 + timedelta(seconds=30),
    model: str | None = "gpt-4o",
    response_model: str | None = None,
    provider: str | None = "openai",
    prompt: str | None = "answer@3",
    operation: str = "chat",
    system: str = "support-bot",
    error: bool = False,
    tokens: tuple[int | None, int | None] = (100, 20),
    ttft_ms: float | None = None,
    evaluations: list[Evaluation] | None = None,
) -> GenAISpan:
    return GenAISpan(
        system=system,
        trace_id="1" * 32,
        span_id="2" * 16,
        parent_span_id=None,
        name="chat",
        dialect="otel",
        operation=operation,
        provider=provider,
        request_model=model,
        response_model=response_model,
        start=end - timedelta(milliseconds=latency_ms),
        end=end,
        latency_ms=latency_ms,
        ttft_ms=ttft_ms,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        is_error=error,
        prompt=prompt,
        evaluations=evaluations or [],
    )


def values(points: list[MetricPoint], **labels: str) -> dict[str, float]:
    return {p.name: p.value for p in points if all(p.labels.get(k) == v for k, v in labels.items())}


def reference_percentile(data: list[float], q: int) -> float:
    """The reference: statistics.quantiles' 'inclusive' method is the linear interpolation between closest ranks."""
    if len(data) == 1:
        return data[0]
    return statistics.quantiles(data, n=100, method="inclusive")[q - 1]


def test_a_bucket_of_spans_becomes_the_metric_points_of_issue_22() -> None:
    latencies = [120.0, 80.0, 450.0, 95.0, 300.0, 210.0, 150.0, 1800.0]
    spans = [span(lat, error=i in (2, 5), ttft_ms=lat / 4) for i, lat in enumerate(latencies)]
    spans[0].evaluations = [Evaluation("hallucination_rate", 1.0), Evaluation("Relevance", 4.0)]
    spans[1].evaluations = [Evaluation("hallucination_rate", 0.0), Evaluation("Relevance", 2.0, "partial")]
    spans[2].evaluations = [Evaluation("Relevance", None, "relevant")]  # a label without a score is not a point
    points = rollup(spans, prices=PRICES)["support-bot"]
    assert {p.ts for p in points} == {T0}
    assert {tuple(sorted(p.labels.items())) for p in points} == {
        (("model", "gpt-4o"), ("operation", "chat"), ("prompt", "answer@3"), ("provider", "openai"))
    }
    got = values(points)
    assert got.pop("latency_p50_ms") == pytest.approx(reference_percentile(latencies, 50))
    assert got.pop("latency_p95_ms") == pytest.approx(reference_percentile(latencies, 95))
    assert got.pop("ttft_p95_ms") == pytest.approx(reference_percentile([x / 4 for x in latencies], 95))
    assert got.pop("cost_usd") == pytest.approx(8 * (100 * 2.5 + 20 * 10.0) / 1e6)
    assert got == {
        "span_count": 8.0,
        "throughput_spm": 8.0,
        "error_rate": 0.25,
        "input_tokens": 800.0,
        "output_tokens": 160.0,
        "hallucination_rate": 0.5,
        "relevance": 3.0,
    }


def test_series_are_split_by_system_model_operation_and_prompt_version() -> None:
    spans = [
        span(100, prompt="answer@3"),
        span(200, prompt="answer@4"),
        span(300, prompt=None),
        span(400, model=None, provider=None, operation="execute_tool", tokens=(None, None)),
        span(500, system="billing-bot"),
    ]
    out = rollup(spans)
    assert set(out) == {"support-bot", "billing-bot"}
    points = out["support-bot"]
    assert values(points, prompt="answer@3", operation="chat")["latency_p50_ms"] == 100
    assert values(points, prompt="answer@4")["latency_p50_ms"] == 200
    assert values(points, prompt="none", operation="chat")["latency_p50_ms"] == 300
    tool = values(points, operation="execute_tool")
    assert tool["latency_p50_ms"] == 400 and tool["span_count"] == 1
    assert "input_tokens" not in tool and "cost_usd" not in tool  # no token counts, nothing invented
    assert {p.labels["model"] for p in points if p.labels["operation"] == "execute_tool"} == {"unknown"}


def test_spans_fall_in_the_bucket_of_their_end_time() -> None:
    spans = [span(end=T0 + timedelta(seconds=s)) for s in (0, 59.999, 60, 299)]
    points = rollup(spans, bucket=timedelta(minutes=1))["support-bot"]
    counts = {p.ts: p.value for p in points if p.name == "span_count"}
    assert counts == {T0: 2, T0 + timedelta(minutes=1): 1, T0 + timedelta(minutes=4): 1}
    five = rollup(spans, bucket=timedelta(minutes=5))["support-bot"]
    assert values(five)["span_count"] == 4 and values(five)["throughput_spm"] == pytest.approx(4 / 5)


def test_buckets_are_summarized_once_they_are_closed() -> None:
    r = Rollup(bucket=timedelta(minutes=1))
    r.add([span(end=T0 + timedelta(seconds=10)), span(end=T0 + timedelta(seconds=70))])
    first = r.points(before=T0 + timedelta(seconds=65))
    assert {p.ts for p in first["support-bot"]} == {T0}
    assert r.points(before=T0 + timedelta(seconds=65)) == {}  # popped: not summarized twice
    r.add([span(end=T0 + timedelta(seconds=80))])
    later = r.points(before=T0 + timedelta(minutes=2))
    assert values(later["support-bot"])["span_count"] == 2
    with pytest.raises(ValueError, match="whole number of seconds"):
        Rollup(bucket=timedelta(milliseconds=1500))


# ------------------------------------------------------------------------------------------- cost


def test_cost_uses_the_exact_model_then_the_longest_prefix_and_provider_aliases() -> None:
    assert PRICES.lookup("openai", "gpt-4o") == Price(2.5, 10.0)
    assert PRICES.lookup("openai", "gpt-4o-mini-2024-07-18") == Price(0.15, 0.6)
    assert PRICES.lookup("openai", "gpt-4o-2024-08-06") is None  # no 'gpt-4o*' row for openai
    assert PRICES.lookup("az.ai.openai", "gpt-4o-2024-08-06") == Price(2.75, 11.0)
    assert PRICES.lookup("anthropic", "claude") is None
    snapshot = span(model="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18", tokens=(1000, 500))
    assert PRICES.cost(snapshot) == pytest.approx((1000 * 0.15 + 500 * 0.6) / 1e6)
    assert PRICES.cost(span(tokens=(None, None))) is None


def test_spans_without_a_price_are_counted_not_costed() -> None:
    spans = [span(tokens=(10, 10)), span(provider="anthropic", model="claude-sonnet-4", tokens=(10, 10))]
    points = rollup(spans, prices=PRICES)["support-bot"]
    assert "cost_unpriced_spans" not in values(points, provider="openai")
    claude = values(points, provider="anthropic")
    assert claude["cost_unpriced_spans"] == 1 and "cost_usd" not in claude


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "a mapping with 'currency' and 'prices'"),
        ({"prices": [], "tax": 1}, "unknown key 'tax'"),
        ({"currency": "dollars", "prices": []}, "not an ISO 4217 code"),
        ({"prices": {"gpt-4o": 1}}, "prices: must be a list"),
        (
            {"prices": [{"provider": "openai", "model": "gpt-4o", "input_per_million": -1, "output_per_million": 1}]},
            r"prices\[0\].input_per_million: a price cannot be negative",
        ),
        (
            {"prices": [{"provider": "openai", "model": "gpt-4o", "input_per_million": True, "output_per_million": 1}]},
            r"prices\[0\].input_per_million: required, a number of USD",
        ),
        (
            {"prices": [{"provider": "openai", "model": "gpt-4o", "input_per_million": 1}]},
            r"prices\[0\].output_per_million: required",
        ),
        (
            {"prices": [{"provider": "", "model": "gpt-4o", "input_per_million": 1, "output_per_million": 1}]},
            r"prices\[0\].provider: required",
        ),
        (
            {
                "prices": [
                    {"provider": "openai", "model": "gpt-*-mini", "input_per_million": 1, "output_per_million": 1}
                ]
            },
            r"'\*' may only end",
        ),
        (
            {
                "prices": [
                    {"provider": "openai", "model": "o1", "input_per_million": 1, "output_per_million": 1, "cache": 0}
                ]
            },
            "unknown key 'cache'",
        ),
        (
            {
                "prices": [
                    {"provider": "az.ai.openai", "model": "o1", "input_per_million": 1, "output_per_million": 1},
                    {"provider": "azure.ai.openai", "model": "o1", "input_per_million": 2, "output_per_million": 2},
                ]
            },
            r"prices\[1\]: azure.ai.openai/o1 is priced twice",
        ),
    ],
)
def test_a_price_table_that_makes_no_sense_is_refused_naming_the_place(config, message) -> None:
    with pytest.raises(PriceTableError, match=message):
        PriceTable.from_config(config)


def test_a_table_in_another_currency_names_its_metric() -> None:
    table = PriceTable.from_config(
        {
            "currency": "EUR",
            "prices": [
                {"provider": "mistral_ai", "model": "mistral-large", "input_per_million": 2, "output_per_million": 6}
            ],
        }
    )
    spans = [span(provider="mistralai", model="mistral-large", tokens=(1_000_000, 0))]
    assert values(rollup(spans, prices=table)["support-bot"])["cost_eur"] == pytest.approx(2.0)


# ------------------------------------------------------------------------------------------- evaluation names


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("hallucination_rate", "hallucination_rate"),
        ("Relevance", "relevance"),
        ("IntentResolution", "intent_resolution"),
        ("answer relevancy (ragas)", "answer_relevancy_ragas"),
        ("error_rate", "eval_error_rate"),
        ("3-point scale", "eval_3_point_scale"),
        ("cost_usd", "eval_cost_usd"),
    ],
)
def test_evaluation_names_become_metric_names(name, metric) -> None:
    assert evaluation_metric(name) == metric


def test_evaluation_names_can_be_aliased() -> None:
    spans = [span(evaluations=[Evaluation("hallucination", 1.0)]), span(evaluations=[Evaluation("hallucination", 0.0)])]
    points = rollup(spans, evaluation_metrics={"hallucination": "hallucination_rate"})["support-bot"]
    assert values(points)["hallucination_rate"] == 0.5


def test_points_serialize_as_monitoring_push_rows() -> None:
    (p, *_) = rollup([span()])["support-bot"]
    assert p.as_json() == {
        "name": "span_count",
        "value": 1.0,
        "ts": "2026-03-02T10:00:00+00:00",
        "labels": {"model": "gpt-4o", "operation": "chat", "prompt": "answer@3", "provider": "openai"},
    }


# ------------------------------------------------------------------------------------------- invariants


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 60_000, allow_nan=False),
            st.booleans(),
            st.integers(0, 900),
            st.sampled_from(["answer@1", "answer@2", None]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_rollup_invariants(rows) -> None:
    spans = [span(lat, error=err, end=T0 + timedelta(seconds=sec), prompt=pr) for lat, err, sec, pr in rows]
    points = rollup(spans, prices=PRICES)["support-bot"]
    assert sum(p.value for p in points if p.name == "span_count") == len(spans)
    assert sum(p.value for p in points if p.name == "input_tokens") == 100 * len(spans)
    groups: dict[tuple, dict[str, float]] = {}
    for p in points:
        groups.setdefault((p.ts, tuple(sorted(p.labels.items()))), {})[p.name] = p.value
    for (ts, labels), got in groups.items():
        members = [
            s.latency_ms
            for s in spans
            if T0 + timedelta(minutes=int((s.end - T0).total_seconds() // 60)) == ts
            and (s.prompt or "none") == dict(labels)["prompt"]
        ]
        assert got["span_count"] == len(members)
        assert min(members) <= got["latency_p50_ms"] <= got["latency_p95_ms"] <= max(members)
        assert got["latency_p95_ms"] == pytest.approx(reference_percentile(members, 95))
        assert 0 <= got["error_rate"] <= 1
