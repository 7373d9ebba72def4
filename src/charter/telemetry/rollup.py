"""Mapped GenAI spans aggregated into metric points, per system and per time bucket.

A series is (system, metric name, labels) with labels `provider`, `model` (the requested model, else the one that
answered; "unknown" when neither is sent), `operation` and `prompt` (name@version, "none" when the call is not
attributed to a registry prompt). A span belongs to the bucket its end time falls in; a point's `ts` is the bucket
start. Points per bucket and label set:

    span_count          spans
    throughput_spm      spans per minute (span_count / bucket minutes)
    latency_p50_ms      median latency (linear interpolation between closest ranks, numpy's default)
    latency_p95_ms      95th percentile latency
    error_rate          share of spans that ended in an error (0-1)
    input_tokens        sum of input tokens (when any span sent a count)
    output_tokens       sum of output tokens (when any span sent a count)
    cost_usd            sum of (input tokens x input price + output tokens x output price) / 1e6 over priced spans
    cost_unpriced_spans spans with token counts but no price in the table (when there are any)
    ttft_p95_ms         95th percentile time to first token (when any span sent one)
    <evaluation name>   mean gen_ai.evaluation.score.value of the bucket's evaluations with that name (snake_case;
                        e.g. hallucination_rate, relevance)

Percentiles and rates cannot be merged across batches, so a bucket is summarized once it is closed: `Rollup.add`
spans as they arrive, then `Rollup.points(before=now - grace)` pops the buckets that ended by then.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

import numpy as np

from charter.telemetry.dialects.common import provider as normalize_provider
from charter.telemetry.model import GenAISpan

SPAN_COUNT: Final = "span_count"
THROUGHPUT: Final = "throughput_spm"
LATENCY_P50: Final = "latency_p50_ms"
LATENCY_P95: Final = "latency_p95_ms"
ERROR_RATE: Final = "error_rate"
INPUT_TOKENS: Final = "input_tokens"
OUTPUT_TOKENS: Final = "output_tokens"
UNPRICED: Final = "cost_unpriced_spans"
TTFT_P95: Final = "ttft_p95_ms"
SPAN_METRICS: Final = frozenset(
    {SPAN_COUNT, THROUGHPUT, LATENCY_P50, LATENCY_P95, ERROR_RATE, INPUT_TOKENS, OUTPUT_TOKENS, UNPRICED, TTFT_P95}
)
UNKNOWN_MODEL: Final = "unknown"
NO_PROMPT: Final = "none"
MAX_LABEL_VALUE: Final = 200  # monitoring's label value limit
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PRICE_KEYS: Final = frozenset({"provider", "model", "input_per_million", "output_per_million"})


class MetricPoint(NamedTuple):
    name: str
    value: float
    ts: datetime
    labels: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        """The point as monitoring's metric push accepts it: {name, value, ts, labels}."""
        return {"name": self.name, "value": self.value, "ts": self.ts.isoformat(), "labels": self.labels}


class PriceTableError(ValueError):
    pass


@dataclass(frozen=True)
class Price:
    input_per_million: float
    output_per_million: float


class PriceTable:
    """Prices per provider and model, per million input / output tokens. A model ending in '*' is a prefix
    (e.g. 'gpt-4o-mini*' prices the dated snapshots); the exact name wins, then the longest prefix."""

    def __init__(self, prices: Mapping[tuple[str, str], Price], currency: str = "USD") -> None:
        if not _CURRENCY.match(currency):
            raise PriceTableError(f"currency {currency!r} is not an ISO 4217 code such as USD or EUR")
        self.currency = currency
        self._exact: dict[tuple[str, str], Price] = {}
        self._prefixes: list[tuple[str, str, Price]] = []
        for (prov, model), price in prices.items():
            key = normalize_provider(prov) or prov
            if model.endswith("*"):
                self._prefixes.append((key, model[:-1], price))
            else:
                self._exact[(key, model)] = price
        self._prefixes.sort(key=lambda p: -len(p[1]))

    @property
    def metric(self) -> str:
        return f"cost_{self.currency.lower()}"

    @classmethod
    def from_config(cls, data: Any) -> PriceTable:
        """{currency: USD, prices: [{provider, model, input_per_million, output_per_million}, ...]}, validated;
        every problem names its place (prices[3].model) and what is allowed."""
        if not isinstance(data, Mapping):
            raise PriceTableError("a price table is a mapping with 'currency' and 'prices'")
        extra = sorted(set(data) - {"currency", "prices"})
        if extra:
            raise PriceTableError(f"unknown key {extra[0]!r}; a price table has currency and prices")
        currency = data.get("currency", "USD")
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise PriceTableError(f"currency: {currency!r} is not an ISO 4217 code such as USD or EUR")
        rows = data.get("prices")
        if not isinstance(rows, list):
            raise PriceTableError("prices: must be a list of {provider, model, input_per_million, output_per_million}")
        prices: dict[tuple[str, str], Price] = {}
        for i, row in enumerate(rows):
            where = f"prices[{i}]"
            if not isinstance(row, Mapping):
                raise PriceTableError(f"{where}: must be a mapping {{provider, model, input_per_million, ...}}")
            unknown = sorted(set(row) - _PRICE_KEYS)
            if unknown:
                raise PriceTableError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_PRICE_KEYS))}")
            names = []
            for key in ("provider", "model"):
                value = row.get(key)
                if not isinstance(value, str) or not value.strip():
                    raise PriceTableError(f"{where}.{key}: required, a non-empty text")
                names.append(value.strip())
            prov, model = names
            if "*" in model[:-1] or model == "*":
                raise PriceTableError(f"{where}.model: {model!r} — '*' may only end a model name prefix, e.g. gpt-4o*")
            amounts = []
            for key in ("input_per_million", "output_per_million"):
                value = row.get(key)
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise PriceTableError(f"{where}.{key}: required, a number of {currency} per million tokens")
                if value < 0:
                    raise PriceTableError(f"{where}.{key}: a price cannot be negative (got {value})")
                amounts.append(float(value))
            key_pair = (normalize_provider(prov) or prov, model)
            if key_pair in prices:
                raise PriceTableError(f"{where}: {prov}/{model} is priced twice")
            prices[key_pair] = Price(amounts[0], amounts[1])
        return cls(prices, currency)

    def lookup(self, provider: str | None, model: str | None) -> Price | None:
        if not provider or not model:
            return None
        key = normalize_provider(provider) or provider
        price = self._exact.get((key, model))
        if price is not None:
            return price
        for prov, prefix, candidate in self._prefixes:
            if prov == key and model.startswith(prefix):
                return candidate
        return None

    def cost(self, span: GenAISpan) -> float | None:
        """The span's cost, or None when it has no token counts or its provider/model has no price."""
        if span.input_tokens is None and span.output_tokens is None:
            return None
        price = None
        for model in (span.response_model, span.request_model):
            price = self.lookup(span.provider, model)
            if price is not None:
                break
        if price is None:
            return None
        return (
            (span.input_tokens or 0) * price.input_per_million + (span.output_tokens or 0) * price.output_per_million
        ) / 1e6


def evaluation_metric(name: str, aliases: Mapping[str, str] | None = None) -> str:
    """A metric name for an evaluation: the alias if one is configured, else the name in snake_case
    (IntentResolution -> intent_resolution); never one of the span metrics' names."""
    if aliases and name in aliases:
        return aliases[name]
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    s = re.sub(r"[^a-z0-9_]+", "_", s).strip("_")
    if not s or s[0].isdigit() or s in SPAN_METRICS or s.startswith("cost_"):
        s = f"eval_{s}"
    return s[:100]


@dataclass
class _Group:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    has_input: bool = False
    has_output: bool = False
    cost: float = 0.0
    priced: int = 0
    unpriced: int = 0
    ttfts: list[float] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)


Key = tuple[str, int, tuple[tuple[str, str], ...]]  # system, bucket start (Unix seconds), labels


def labels_of(span: GenAISpan) -> tuple[tuple[str, str], ...]:
    return (
        ("model", (span.model or UNKNOWN_MODEL)[:MAX_LABEL_VALUE]),
        ("operation", span.operation[:MAX_LABEL_VALUE]),
        ("prompt", (span.prompt or NO_PROMPT)[:MAX_LABEL_VALUE]),
        ("provider", (span.provider or UNKNOWN_MODEL)[:MAX_LABEL_VALUE]),
    )


class Rollup:
    """Buckets of spans, summarized into metric points when asked (see the module docstring)."""

    def __init__(
        self,
        bucket: timedelta = timedelta(minutes=1),
        prices: PriceTable | None = None,
        evaluation_metrics: Mapping[str, str] | None = None,
    ) -> None:
        seconds = bucket.total_seconds()
        if seconds < 1 or not seconds.is_integer():
            raise ValueError(f"a bucket is a whole number of seconds, at least 1 (got {bucket})")
        self.bucket_seconds = int(seconds)
        self.prices = prices
        self.evaluation_metrics = dict(evaluation_metrics or {})
        self._groups: dict[Key, _Group] = {}
        self._metric_names: dict[str, str] = {}

    def add(self, spans: Iterable[GenAISpan]) -> None:
        size = self.bucket_seconds
        prices = self.prices
        groups = self._groups
        for span in spans:
            end = (span.end - _EPOCH) // timedelta(seconds=1)
            key = (span.system, end - end % size, labels_of(span))
            g = groups.get(key)
            if g is None:
                g = groups[key] = _Group()
            g.latencies.append(span.latency_ms)
            if span.is_error:
                g.errors += 1
            if span.input_tokens is not None:
                g.input_tokens += span.input_tokens
                g.has_input = True
            if span.output_tokens is not None:
                g.output_tokens += span.output_tokens
                g.has_output = True
            if prices is not None and (span.input_tokens is not None or span.output_tokens is not None):
                cost = prices.cost(span)
                if cost is None:
                    g.unpriced += 1
                else:
                    g.cost += cost
                    g.priced += 1
            if span.ttft_ms is not None:
                g.ttfts.append(span.ttft_ms)
            for ev in span.evaluations:
                if ev.score_value is not None:
                    g.scores.setdefault(ev.name, []).append(ev.score_value)

    def points(self, before: datetime | None = None) -> dict[str, list[MetricPoint]]:
        """Points of the buckets that ended at or before `before` (all buckets when None), removed from the rollup;
        per system, ordered by time, labels and name."""
        limit = None if before is None else (before - _EPOCH) // timedelta(seconds=1)
        out: dict[str, list[MetricPoint]] = {}
        for key in sorted(self._groups):
            system, start, labels = key
            if limit is not None and start + self.bucket_seconds > limit:
                continue
            g = self._groups.pop(key)
            out.setdefault(system, []).extend(self._summarize(g, _EPOCH + timedelta(seconds=start), dict(labels)))
        return out

    def _summarize(self, g: _Group, ts: datetime, labels: dict[str, str]) -> list[MetricPoint]:
        n = len(g.latencies)
        p50, p95 = np.percentile(np.asarray(g.latencies, dtype=float), [50.0, 95.0])
        rows = [
            (SPAN_COUNT, float(n)),
            (THROUGHPUT, n * 60.0 / self.bucket_seconds),
            (LATENCY_P50, float(p50)),
            (LATENCY_P95, float(p95)),
            (ERROR_RATE, g.errors / n),
        ]
        if g.has_input:
            rows.append((INPUT_TOKENS, float(g.input_tokens)))
        if g.has_output:
            rows.append((OUTPUT_TOKENS, float(g.output_tokens)))
        if g.priced and self.prices is not None:
            rows.append((self.prices.metric, g.cost))
        if g.unpriced:
            rows.append((UNPRICED, float(g.unpriced)))
        if g.ttfts:
            rows.append((TTFT_P95, float(np.percentile(np.asarray(g.ttfts, dtype=float), 95.0))))
        for name, values in sorted(g.scores.items()):
            metric = self._metric_names.get(name)
            if metric is None:
                metric = self._metric_names[name] = evaluation_metric(name, self.evaluation_metrics)
            rows.append((metric, math.fsum(values) / len(values)))
        return [MetricPoint(name, value, ts, dict(labels)) for name, value in rows]


def rollup(
    spans: Iterable[GenAISpan],
    bucket: timedelta = timedelta(minutes=1),
    prices: PriceTable | None = None,
    evaluation_metrics: Mapping[str, str] | None = None,
) -> dict[str, list[MetricPoint]]:
    """All buckets of `spans` summarized at once (see Rollup for spans that arrive over time)."""
    r = Rollup(bucket, prices, evaluation_metrics)
    r.add(spans)
    return r.points()
