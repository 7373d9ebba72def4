"""The metric vocabulary: names Charter knows (seed 002) with units and valid ranges, and the naming limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class MetricInfo:
    unit: str
    description: str
    minimum: float | None = None
    maximum: float | None = None

    def check(self, name: str, value: float) -> str | None:
        """Why `value` is impossible for this metric, or None when it is fine."""
        if self.minimum is not None and value < self.minimum:
            return f"{name} is measured in {self.unit} and cannot be below {self.minimum:g} (got {value:g})"
        if self.maximum is not None and value > self.maximum:
            return f"{name} is measured in {self.unit} and cannot be above {self.maximum:g} (got {value:g})"
        return None


# Seed 002, "Key Metrics to Track". Any other metric name is accepted too (unit unknown).
KNOWN_METRICS: Final[dict[str, MetricInfo]] = {
    "accuracy": MetricInfo("ratio", "share of correct predictions", 0.0, 1.0),
    "latency_ms": MetricInfo("ms", "response time in milliseconds", 0.0),
    "throughput_qps": MetricInfo("queries/s", "requests served per second", 0.0),
    "error_rate": MetricInfo("ratio", "share of requests that failed", 0.0, 1.0),
    "bias_score": MetricInfo("score 0-1", "disparity between groups (0: none)", 0.0, 1.0),
    "hallucination_rate": MetricInfo("ratio", "share of answers with unsupported content", 0.0, 1.0),
    "user_satisfaction": MetricInfo("score 0-5", "average user rating out of 5", 0.0, 5.0),
}

METRIC_NAME: Final = r"^[a-zA-Z_][a-zA-Z0-9_.:]{0,99}$"
LABEL_NAME: Final = r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$"
MAX_LABELS: Final = 10
MAX_LABEL_VALUE: Final = 200
BATCH_ID: Final = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"

_METRIC_RE = re.compile(METRIC_NAME)


def is_metric_name(name: str) -> bool:
    return bool(_METRIC_RE.match(name))


def unit_of(name: str) -> str | None:
    info = KNOWN_METRICS.get(name)
    return info.unit if info else None
