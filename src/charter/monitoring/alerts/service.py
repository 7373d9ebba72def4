"""Alert rule use cases: the shipped defaults, create, change (versioned), delete, list."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.content import content_path, load_file
from charter.kit.errors import Conflict, NotFound, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot
from charter.monitoring.alerts.evaluate import transition
from charter.monitoring.alerts.rules import ACTIVE_STATES, ANOMALY_DEFAULTS, describe, format_duration, rule_problems
from charter.monitoring.models import Alert, AlertRule, MonitorState
from charter.monitoring.schemas import RuleCreate, RuleRead, RuleUpdate

CONTENT_FILE: Final = content_path("alert_rules", "defaults.yaml")
DEFAULT_WINDOW: Final[dict[str, int]] = {"threshold": 900, "anomaly": 3600, "no_data": 3600, "drift": 0}


class DefaultRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[RuleCreate]


def resolved_fields(data: RuleCreate) -> dict[str, Any]:
    """The column values of a new rule, defaults filled in."""
    params = dict(data.params or {})
    if data.kind == "anomaly":
        params = {**ANOMALY_DEFAULTS, **params}
    window = data.window if data.window is not None else DEFAULT_WINDOW[data.kind]
    return {
        "key": data.key,
        "kind": data.kind,
        "description": data.description or "",
        "metric": data.metric,
        "aggregation": data.aggregation or "last",
        "window_seconds": window,
        "comparison": data.comparison,
        "threshold": data.threshold,
        "for_seconds": data.for_ or 0,
        "severity": data.severity,
        "labels": dict(data.labels or {}),
        "params": params,
        "enabled": True if data.enabled is None else data.enabled,
    }


def _problems(fields: dict[str, Any], raw_retention_seconds: int | None) -> list[tuple[str, str]]:
    found = rule_problems(
        fields["kind"],
        fields["metric"],
        fields["aggregation"],
        fields["window_seconds"],
        fields["comparison"],
        fields["threshold"],
        fields["params"],
    )
    if raw_retention_seconds is not None and fields["window_seconds"] > raw_retention_seconds:
        found.append(("window", f"cannot exceed the raw retention ({format_duration(raw_retention_seconds)})"))
    return found


def _raise(problems: list[tuple[str, str]]) -> None:
    if problems:
        field, msg = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValidationFailed(f"{field}: {msg}{more}", errors=[{"loc": [f], "msg": m} for f, m in problems])


@lru_cache(maxsize=1)
def default_rules() -> tuple[RuleCreate, ...]:
    """The shipped default rules (content/alert_rules/defaults.yaml), validated; raises ContentInvalid."""

    def semantic(parsed: DefaultRules) -> list[tuple[tuple[str | int, ...], str]]:
        out: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for i, rule in enumerate(parsed.rules):
            if rule.key in seen:
                out.append((("rules", i, "key"), f"duplicate rule key '{rule.key}'"))
            seen.add(rule.key)
            out.extend(
                (("rules", i, field.split(".")[0]), msg) for field, msg in _problems(resolved_fields(rule), None)
            )
        return out

    parsed = load_file(CONTENT_FILE, DefaultRules, semantic)
    return tuple(parsed.rules)


def to_read(rule: AlertRule) -> RuleRead:
    if rule.kind == "threshold":
        expression = describe(
            rule.metric, rule.aggregation, rule.window_seconds, rule.comparison or "", rule.threshold or 0
        )
    elif rule.kind == "anomaly":
        p = rule.params
        expression = (
            f"|robust z of {rule.metric}| > {p.get('z')} against the last {format_duration(rule.window_seconds)}"
            f" (at least {p.get('min_points')} points, {p.get('direction')})"
        )
    elif rule.kind == "no_data":
        what = rule.metric or "any metric"
        expression = f"no {what} for {format_duration(rule.window_seconds)}"
    else:
        share = rule.params.get("share")
        expression = "dataset drift" if share is None else f"drifted column share >= {share}"
        if rule.params.get("reference"):
            expression += f" against '{rule.params['reference']}'"
    return RuleRead(
        key=rule.key,
        kind=rule.kind,
        description=rule.description,
        metric=rule.metric,
        aggregation=rule.aggregation,
        window_seconds=rule.window_seconds,
        comparison=rule.comparison,
        threshold=rule.threshold,
        for_seconds=rule.for_seconds,
        severity=rule.severity,
        labels=dict(rule.labels or {}),
        params=dict(rule.params or {}),
        enabled=rule.enabled,
        source=rule.source,
        expression=expression,
        version=rule.version,
        updated_at=rule.updated_at,
        updated_by=rule.updated_by,
    )


def _snap(rule: AlertRule) -> dict[str, Any]:
    return snapshot(rule, exclude=frozenset({"id", "system_id"}))


def _retention_seconds(ctx: Ctx) -> int:
    return int(ctx.settings.metrics_raw_retention_days) * 86400


def _insert(ctx: Ctx, system: AISystem, fields: dict[str, Any], source: str, reason: str | None) -> AlertRule:
    now = ctx.now()
    rule = AlertRule(
        system_id=system.id,
        **fields,
        source=source,
        created_at=now,
        updated_at=now,
        updated_by=ctx.principal.actor,
        version=1,
    )
    ctx.session.add(rule)
    ctx.session.flush()
    ctx.record("alert_rule.created", "alert_rule", f"{system.key}/{rule.key}", after=_snap(rule), reason=reason)
    return rule


def install_defaults(ctx: Ctx, system: AISystem, *, reason: str) -> list[AlertRule]:
    """Add every shipped rule the system does not have yet (by key); never touches existing rules.

    Called by ingestion for a system's first metrics (permission already checked there) and by
    ensure_defaults. Marks the system's monitor state so deleted defaults are not re-added on the next push.
    """
    existing = set(ctx.session.execute(select(AlertRule.key).where(AlertRule.system_id == system.id)).scalars())
    created = [
        _insert(ctx, system, resolved_fields(spec), "shipped", reason)
        for spec in default_rules()
        if spec.key not in existing
    ]
    state = ctx.session.get(MonitorState, system.id)
    if state is None:
        state = MonitorState(system_id=system.id, points_total=0)
        ctx.session.add(state)
    state.defaults_applied_at = ctx.now()
    ctx.session.flush()
    return created


def ensure_defaults(ctx: Ctx, key: str) -> list[RuleRead]:
    ctx.require("alerts:manage")
    system = get_system(ctx.session, key)
    created = install_defaults(ctx, system, reason="shipped default rules installed on request")
    return [to_read(r) for r in created]


def get_rule(session: Session, system: AISystem, rule_key: str) -> AlertRule:
    rule = session.execute(
        select(AlertRule).where(AlertRule.system_id == system.id, AlertRule.key == rule_key)
    ).scalar_one_or_none()
    if rule is None:
        raise NotFound(f"system '{system.key}' has no alert rule '{rule_key}'", entity="alert_rule")
    return rule


def create_rule(ctx: Ctx, key: str, data: RuleCreate) -> AlertRule:
    ctx.require("alerts:manage")
    system = get_system(ctx.session, key)
    if ctx.session.execute(
        select(AlertRule.id).where(AlertRule.system_id == system.id, AlertRule.key == data.key)
    ).first():
        raise Conflict(f"system '{key}' already has an alert rule '{data.key}'; change it with PATCH")
    fields = resolved_fields(data)
    _raise(_problems(fields, _retention_seconds(ctx)))
    return _insert(ctx, system, fields, "user", None)


_UPDATABLE: Final = {
    "description": "description",
    "metric": "metric",
    "aggregation": "aggregation",
    "window": "window_seconds",
    "comparison": "comparison",
    "threshold": "threshold",
    "for_": "for_seconds",
    "severity": "severity",
    "labels": "labels",
    "params": "params",
    "enabled": "enabled",
}


def update_rule(ctx: Ctx, key: str, rule_key: str, data: RuleUpdate) -> AlertRule:
    ctx.require("alerts:manage")
    system = get_system(ctx.session, key)
    rule = get_rule(ctx.session, system, rule_key)
    if data.version != rule.version:
        raise StaleVersion(f"alert rule '{rule_key}'", data.version, rule.version)
    changes = {_UPDATABLE[f]: v for f, v in data.model_dump(exclude_unset=True, exclude={"version", "reason"}).items()}
    for col in list(changes):
        if changes[col] is None:
            if col in ("labels", "params"):
                changes[col] = {}
            elif col == "description":
                changes[col] = ""
            elif col not in ("metric", "comparison", "threshold"):
                raise ValidationFailed(f"{col}: cannot be empty", errors=[{"loc": [col], "msg": "cannot be empty"}])
    if rule.kind == "anomaly" and "params" in changes:
        changes["params"] = {**ANOMALY_DEFAULTS, **(changes["params"] or {})}
    current = {col: getattr(rule, col) for col in _UPDATABLE.values()}
    merged = {**current, **changes, "kind": rule.kind}
    _raise(_problems(merged, _retention_seconds(ctx)))
    changed = {k: v for k, v in changes.items() if current[k] != v}
    if not changed:
        return rule
    before = _snap(rule)
    for col, value in changed.items():
        setattr(rule, col, value)
    rule.version += 1
    rule.updated_at = ctx.now()
    rule.updated_by = ctx.principal.actor
    ctx.session.flush()
    ctx.record(
        "alert_rule.updated", "alert_rule", f"{key}/{rule.key}", before=before, after=_snap(rule), reason=data.reason
    )
    if not rule.enabled or {"metric", "labels", "kind"} & set(changed):
        _resolve_rule_alerts(ctx, rule, "the rule was disabled or changed what it watches")
    return rule


def delete_rule(ctx: Ctx, key: str, rule_key: str, version: int, reason: str | None) -> None:
    ctx.require("alerts:manage")
    system = get_system(ctx.session, key)
    rule = get_rule(ctx.session, system, rule_key)
    if version != rule.version:
        raise StaleVersion(f"alert rule '{rule_key}'", version, rule.version)
    _resolve_rule_alerts(ctx, rule, "the rule was deleted")
    before = _snap(rule)
    for alert in ctx.session.execute(select(Alert).where(Alert.rule_id == rule.id)).scalars():
        ctx.session.delete(alert)
    ctx.session.delete(rule)
    ctx.session.flush()
    ctx.record("alert_rule.deleted", "alert_rule", f"{key}/{rule_key}", before=before, reason=reason)


def _resolve_rule_alerts(ctx: Ctx, rule: AlertRule, why: str) -> None:
    active = ctx.session.execute(
        select(Alert).where(Alert.rule_id == rule.id, Alert.state.in_(ACTIVE_STATES))
    ).scalars()
    for alert in list(active):
        transition(ctx, alert, "resolved", alert.value, f"{alert.summary} — resolved: {why}")


def list_rules(ctx: Ctx, key: str) -> list[RuleRead]:
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    rows = ctx.session.execute(
        select(AlertRule).where(AlertRule.system_id == system.id).order_by(AlertRule.key)
    ).scalars()
    return [to_read(r) for r in rows]


def read_rule(ctx: Ctx, key: str, rule_key: str) -> RuleRead:
    ctx.require("metrics:read")
    return to_read(get_rule(ctx.session, get_system(ctx.session, key), rule_key))
