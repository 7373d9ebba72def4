"""Pure feedback rules: rubric validation, the sampling decision, feedback vocabularies, spike detection,
the review actions and the decisions they give a held output. No database, no web."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

# ----------------------------------------------------------------------------- vocabularies

RATINGS: Final = ("up", "down")
CATEGORIES: Final = ("inaccurate", "biased", "harmful", "other")
ACTIONS: Final = ("approve", "edit", "reject")
SCORE_TYPES: Final = ("numeric", "categorical", "boolean", "text")
PII_MODES: Final = ("off", "mask", "redact")
# What a review action makes of a held (blocking) output.
DECISION_OF: Final[dict[str, str]] = {"approve": "approved", "edit": "edited", "reject": "rejected"}
DECISIONS: Final = ("held", "approved", "edited", "rejected")
# Queue item states: TRANSITIONS[status] = states it may move to.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "pending": frozenset({"leased"}),
    "leased": frozenset({"pending", "leased", "done"}),  # pending: a review of a double-reviewed item
    "done": frozenset(),
}

# Seed 003's default rubric: accuracy, tone, hallucination.
DEFAULT_RUBRIC: Final[list[dict[str, Any]]] = [
    {"name": "accuracy", "type": "numeric", "min": 1, "max": 5, "required": True},
    {"name": "tone", "type": "categorical", "options": ["appropriate", "too informal", "inappropriate"]},
    {"name": "hallucination", "type": "boolean", "required": True},
]


class RuleError(ValueError):
    """Input that breaks a feedback rule; `errors` are per-field entries (loc, msg)."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def _err(loc: Sequence[Any], msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg}


# ----------------------------------------------------------------------------- rubric


def check_rubric(rubric: Any) -> list[dict[str, Any]]:
    """A rubric is a list of score configs {name, type, ...}: numeric (min, max), categorical (options),
    boolean, text (max_length). Returns it normalised or raises RuleError naming every problem."""
    if not isinstance(rubric, list) or not rubric:
        raise RuleError("a rubric is a non-empty list of score configs", [_err(["rubric"], "expected a list")])
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for i, cfg in enumerate(rubric):
        loc = ["rubric", i]
        if not isinstance(cfg, dict):
            errors.append(_err(loc, "expected an object {name, type, ...}"))
            continue
        name, kind = cfg.get("name"), cfg.get("type")
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            errors.append(_err([*loc, "name"], "a name of 1-64 characters is required"))
            continue
        if name in seen:
            errors.append(_err([*loc, "name"], f"'{name}' appears twice"))
        seen.add(name)
        if kind not in SCORE_TYPES:
            errors.append(_err([*loc, "type"], f"unknown type {kind!r}; allowed: {', '.join(SCORE_TYPES)}"))
            continue
        item: dict[str, Any] = {"name": name, "type": kind, "required": bool(cfg.get("required", False))}
        if kind == "numeric":
            lo, hi = cfg.get("min", 0), cfg.get("max", 1)
            if not _number(lo) or not _number(hi) or lo >= hi:
                errors.append(_err(loc, "numeric needs numbers min < max"))
                continue
            item.update(min=lo, max=hi)
        elif kind == "categorical":
            options = cfg.get("options")
            if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
                errors.append(_err([*loc, "options"], "categorical needs a list of at least two option names"))
                continue
            item["options"] = list(options)
        elif kind == "text":
            item["max_length"] = int(cfg.get("max_length", 2000))
        out.append(item)
    if errors:
        raise RuleError("invalid rubric: " + "; ".join(f"{e['loc']}: {e['msg']}" for e in errors), errors)
    return out


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def check_scores(rubric: Sequence[Mapping[str, Any]], scores: Any) -> dict[str, Any]:
    """Validate a reviewer's scores against the rubric; raises RuleError naming each bad value and what is allowed."""
    if scores is None:
        scores = {}
    if not isinstance(scores, dict):
        raise RuleError("scores must be an object {score name: value}", [_err(["scores"], "expected an object")])
    by_name = {c["name"]: c for c in rubric}
    errors = [
        _err(["scores", k], f"not in this queue's rubric; allowed: {', '.join(by_name)}")
        for k in scores
        if k not in by_name
    ]
    for name, cfg in by_name.items():
        loc = ["scores", name]
        if name not in scores or scores[name] is None:
            if cfg.get("required"):
                errors.append(_err(loc, "required"))
            continue
        v = scores[name]
        kind = cfg["type"]
        if kind == "numeric" and not (_number(v) and cfg["min"] <= v <= cfg["max"]):
            errors.append(_err(loc, f"{v!r} is not a number from {cfg['min']} to {cfg['max']}"))
        elif kind == "categorical" and v not in cfg["options"]:
            errors.append(_err(loc, f"{v!r} is not one of: {', '.join(cfg['options'])}"))
        elif kind == "boolean" and not isinstance(v, bool):
            errors.append(_err(loc, f"{v!r} is not true or false"))
        elif kind == "text" and (not isinstance(v, str) or len(v) > cfg.get("max_length", 2000)):
            errors.append(_err(loc, f"expected text of at most {cfg.get('max_length', 2000)} characters"))
    if errors:
        raise RuleError("invalid scores: " + "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in errors), errors)
    return {k: scores[k] for k in by_name if k in scores and scores[k] is not None}


# ----------------------------------------------------------------------------- sampling

DEFAULT_SAMPLING: Final[dict[str, Any]] = {
    "mode": "random",  # random | all | none
    "rate": 0.05,
    "tier_rates": {},  # risk tier -> rate (stratified by risk tier); overrides rate for that tier
    "keywords": [],
    "score_below": None,
    "pii": True,  # an interaction where the PII guard found something is queued
    "flags": True,  # user flags enter this queue
}
MODES: Final = ("random", "all", "none")


def check_sampling(policy: Any) -> dict[str, Any]:
    if policy is None:
        return dict(DEFAULT_SAMPLING)
    if not isinstance(policy, dict):
        raise RuleError("sampling must be an object", [_err(["sampling"], "expected an object")])
    unknown = sorted(set(policy) - set(DEFAULT_SAMPLING))
    errors = [_err(["sampling", k], f"unknown field; allowed: {', '.join(DEFAULT_SAMPLING)}") for k in unknown]
    out = {**DEFAULT_SAMPLING, **{k: v for k, v in policy.items() if k in DEFAULT_SAMPLING}}
    if out["mode"] not in MODES:
        errors.append(_err(["sampling", "mode"], f"unknown mode {out['mode']!r}; allowed: {', '.join(MODES)}"))
    rates = {"rate": out["rate"], **{f"tier_rates.{k}": v for k, v in (out["tier_rates"] or {}).items()}}
    for where, rate in rates.items():
        if not _number(rate) or not 0 <= rate <= 1:
            errors.append(_err(["sampling", where], f"{rate!r} is not a rate from 0 to 1"))
    if not isinstance(out["keywords"], list) or not all(isinstance(k, str) and k for k in out["keywords"]):
        errors.append(_err(["sampling", "keywords"], "expected a list of non-empty words"))
    if out["score_below"] is not None and not _number(out["score_below"]):
        errors.append(_err(["sampling", "score_below"], "expected a number or null"))
    if errors:
        raise RuleError("invalid sampling policy: " + "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in errors), errors)
    out["keywords"] = [k.lower() for k in out["keywords"]]
    return out


def unit_fraction(seed: str) -> float:
    """A uniform number in [0, 1) from a seed: sampling is reproducible (a retried interaction samples the same)."""
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") / 2**64


@dataclass(frozen=True)
class Candidate:
    external_id: str
    input: str
    output: str
    score: float | None
    pii_found: bool


def sample_reason(policy: Mapping[str, Any], tier: str, c: Candidate, salt: str) -> str | None:
    """Why this interaction enters the queue (trigger first, then the random draw), or None."""
    if policy["mode"] == "none":
        return None
    if policy["mode"] == "all":
        return "all"
    if policy.get("score_below") is not None and c.score is not None and c.score < policy["score_below"]:
        return "score"
    if policy.get("pii") and c.pii_found:
        return "pii"
    words = policy.get("keywords") or []
    if words:
        text = f"{c.input}\n{c.output}".lower()
        if any(w in text for w in words):
            return "keyword"
    rate = (policy.get("tier_rates") or {}).get(tier, policy["rate"])
    return "sampled" if unit_fraction(f"{salt}:{c.external_id}") < rate else None


def reviews_needed(double_rate: float, seed: str) -> int:
    """1, or 2 for the share of items double-reviewed (inter-reviewer agreement)."""
    return 2 if double_rate > 0 and unit_fraction(f"double:{seed}") < double_rate else 1


# ----------------------------------------------------------------------------- feedback and spikes


def is_flag(rating: str | None, category: str | None) -> bool:
    return rating == "down" or category is not None


def is_spike(flags: int, interactions: int, min_flags: int, rate: float) -> bool:
    """A flag-rate spike: at least min_flags flags in the window, and (when interactions were seen in the window)
    at least `rate` flags per interaction."""
    if flags < min_flags:
        return False
    return interactions == 0 or flags / interactions >= rate
