from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Query, Response, UploadFile
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from charter.access.deps import CtxDep
from charter.kit.errors import ValidationFailed
from charter.kit.routing import API, body_schema
from charter.monitoring import postdeploy
from charter.monitoring.alerts import service as alert_rules
from charter.monitoring.alerts.service import default_rules
from charter.monitoring.drift import service as drift_service
from charter.monitoring.metrics import queries as series
from charter.monitoring.metrics import service as ingest
from charter.monitoring.schemas import (
    AlertRead,
    AlertState,
    BatchIn,
    BatchResult,
    CheckIn,
    CheckRead,
    DriftOptionsIn,
    HealthRead,
    PostDeployConfigIn,
    PostDeployConfigRead,
    ProfileIn,
    ProfileRead,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    SeriesData,
    SeriesRead,
    WatchRead,
    WindowIn,
    WindowRead,
)

default_rules()  # shipped content is validated at start-up: a broken defaults.yaml stops the server here

router = APIRouter(prefix=API, tags=["monitoring"])
S = "/systems/{key}"
ProfileName = Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


# ----------------------------------------------------------------------------- metrics


@router.post(
    f"{S}/metrics",
    summary="Push a batch of metric points (idempotent by batch_id)",
    response_model=BatchResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body_schema(BatchIn)}},
        }
    },
)
def push_metrics(key: str, body: Annotated[Any, Body(include_in_schema=False)], ctx: CtxDep) -> Response:
    """A batch is {batch_id, points: [{name, value, ts, labels}]}; validated whole (a rejected batch stores
    nothing); a retry with the same batch_id and points gets the same answer (header Idempotent-Replayed)."""
    try:
        result = ingest.ingest(ctx, key, body)
        ctx.commit()
    except IntegrityError:  # a concurrent request stored the same batch id first
        ctx.session.rollback()
        result = ingest.replay_after_conflict(ctx, key, body)
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return Response(result.model_dump_json(), media_type="application/json", headers=headers)


@router.get(f"{S}/metrics", summary="The system's metric series with their last values")
def list_series(key: str, ctx: CtxDep) -> list[SeriesRead]:
    return series.list_series(ctx, key)


@router.get(f"{S}/metrics/{{name}}", summary="Points of a metric (raw or per-minute / per-hour roll-ups)")
def series_data(
    key: str,
    name: str,
    ctx: CtxDep,
    since: datetime | None = None,
    until: datetime | None = None,
    resolution: Annotated[str, Query(pattern="^(auto|raw|1m|1h)$")] = "auto",
    label: Annotated[list[str] | None, Query(description="label filter, repeat: release=3")] = None,
) -> list[SeriesData]:
    labels: dict[str, str] = {}
    for item in label or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise ValidationFailed(f"label filter {item!r} must look like name=value")
        labels[k] = v
    return series.series_data(ctx, key, name, labels=labels, since=since, until=until, resolution=resolution)


@router.get(f"{S}/health", summary="Health (healthy / degraded / critical) from the firing alerts")
def health(key: str, ctx: CtxDep) -> HealthRead:
    return series.health(ctx, key)


# ----------------------------------------------------------------------------- alert rules and alerts


@router.get(f"{S}/alert-rules", summary="The system's alert rules")
def list_rules(key: str, ctx: CtxDep) -> list[RuleRead]:
    return alert_rules.list_rules(ctx, key)


@router.post(f"{S}/alert-rules", status_code=201, summary="Add an alert rule")
def create_rule(key: str, body: RuleCreate, ctx: CtxDep) -> RuleRead:
    rule = alert_rules.create_rule(ctx, key, body)
    ctx.commit()
    return alert_rules.to_read(rule)


@router.post(f"{S}/alert-rules/defaults", summary="Install the shipped default rules the system lacks")
def install_defaults(key: str, ctx: CtxDep) -> list[RuleRead]:
    created = alert_rules.ensure_defaults(ctx, key)
    ctx.commit()
    return created


@router.get(f"{S}/alert-rules/{{rule_key}}", summary="One alert rule")
def read_rule(key: str, rule_key: str, ctx: CtxDep) -> RuleRead:
    return alert_rules.read_rule(ctx, key, rule_key)


@router.patch(f"{S}/alert-rules/{{rule_key}}", summary="Change an alert rule (send the version you read)")
def update_rule(key: str, rule_key: str, body: RuleUpdate, ctx: CtxDep) -> RuleRead:
    rule = alert_rules.update_rule(ctx, key, rule_key, body)
    ctx.commit()
    return alert_rules.to_read(rule)


@router.delete(f"{S}/alert-rules/{{rule_key}}", status_code=204, summary="Delete an alert rule")
def delete_rule(key: str, rule_key: str, version: int, ctx: CtxDep, reason: str | None = None) -> Response:
    alert_rules.delete_rule(ctx, key, rule_key, version, reason)
    ctx.commit()
    return Response(status_code=204)


@router.get(f"{S}/alerts", summary="The system's alerts, newest first")
def list_alerts(
    key: str, ctx: CtxDep, state: AlertState | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[AlertRead]:
    return series.list_alerts(ctx, key, state, limit)


@router.get("/alerts", summary="Alerts of every system, newest first")
def all_alerts(
    ctx: CtxDep, state: AlertState | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[AlertRead]:
    return series.list_alerts(ctx, None, state, limit)


# ----------------------------------------------------------------------------- drift


def _options(raw: str | None) -> DriftOptionsIn:
    if not raw:
        return DriftOptionsIn()
    try:
        return DriftOptionsIn.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        raise ValidationFailed(f"options.{where}: {err['msg']}") from None


def _column_types(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(v in ("numeric", "categorical") for v in value.values()):
        raise ValidationFailed('column_types must be JSON like {"zip": "categorical", "age": "numeric"}')
    return {str(k): str(v) for k, v in value.items()}


@router.get(f"{S}/drift/profiles", summary="Reference profiles")
def list_profiles(key: str, ctx: CtxDep) -> list[ProfileRead]:
    return drift_service.list_profiles(ctx, key)


@router.get(f"{S}/drift/profiles/{{name}}", summary="A reference profile, with its summary (bin edges for the SDK)")
def read_profile(key: str, name: str, ctx: CtxDep, release: str = "", summary: bool = True) -> ProfileRead:
    return drift_service.read_profile(ctx, key, name, release, include=summary)


@router.put(f"{S}/drift/profiles/{{name}}", summary="Store a reference profile built with the SDK")
def put_profile(key: str, name: str, body: ProfileIn, ctx: CtxDep) -> ProfileRead:
    _name(name)
    profile = drift_service.put_profile(ctx, key, name, body)
    ctx.commit()
    return drift_service.profile_read(profile)


def _name(name: str) -> None:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", name):
        raise ValidationFailed(f"profile name {name!r}: lower-case letters, digits, '.', '_', '-' (1-64)")


@router.post(f"{S}/drift/profiles/{{name}}/dataset", summary="Upload a reference dataset (CSV, JSON Lines, Parquet)")
def upload_reference(
    key: str,
    name: str,
    ctx: CtxDep,
    file: Annotated[UploadFile, File(description="the reference dataset")],
    release: Annotated[str, Form(pattern=r"^[A-Za-z0-9._+-]{0,64}$")] = "",
    format: Annotated[str | None, Form(description="csv, jsonl or parquet (default: from the file name)")] = None,
    column_types: Annotated[str | None, Form(description='JSON, e.g. {"zip": "categorical"}')] = None,
    version: Annotated[int | None, Form()] = None,
    reason: Annotated[str | None, Form(max_length=2000)] = None,
) -> ProfileRead:
    _name(name)
    content = file.file.read()
    profile = drift_service.upload_dataset(
        ctx,
        key,
        name,
        content,
        filename=file.filename,
        content_type=file.content_type,
        fmt=format,
        release=release,
        column_types=_column_types(column_types),
        version=version,
        reason=reason,
    )
    ctx.commit()
    return drift_service.profile_read(profile)


@router.post(f"{S}/drift/windows", status_code=201, summary="Store a current-window profile (SDK)")
def add_window(key: str, body: WindowIn, ctx: CtxDep) -> WindowRead:
    window = drift_service.add_window(ctx, key, body)
    ctx.commit()
    return window


@router.post(f"{S}/drift/checks", status_code=201, summary="Check a current profile or stored windows for drift")
def run_check(key: str, body: CheckIn, ctx: CtxDep) -> CheckRead:
    result = drift_service.run_check(ctx, key, body)
    ctx.commit()
    return result


@router.post(f"{S}/drift/checks/dataset", status_code=201, summary="Check an uploaded current dataset for drift")
def check_dataset(
    key: str,
    ctx: CtxDep,
    file: Annotated[UploadFile, File(description="the current dataset")],
    reference: Annotated[str, Form(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] = "reference",
    release: Annotated[str, Form(pattern=r"^[A-Za-z0-9._+-]{0,64}$")] = "",
    format: Annotated[str | None, Form()] = None,
    options: Annotated[str | None, Form(description='JSON drift options, e.g. {"drift_share": 0.3}')] = None,
) -> CheckRead:
    content = file.file.read()
    result = drift_service.check_dataset(
        ctx,
        key,
        content,
        filename=file.filename,
        content_type=file.content_type,
        fmt=format,
        reference=reference,
        release=release,
        options=_options(options),
    )
    ctx.commit()
    return result


@router.get(f"{S}/drift/checks", summary="Drift checks, newest first")
def list_checks(key: str, ctx: CtxDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[CheckRead]:
    return drift_service.list_checks(ctx, key, limit)


@router.get(f"{S}/drift/checks/{{check_id}}", summary="One drift check with its per-feature results")
def read_check(key: str, check_id: int, ctx: CtxDep) -> CheckRead:
    return drift_service.read_check(ctx, key, check_id)


@router.get(f"{S}/drift/features/{{column}}", summary="A feature's drift results over time")
def feature_history(
    key: str, column: str, ctx: CtxDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    return drift_service.feature_history(ctx, key, column, limit)


# ----------------------------------------------------------------------------- post-deployment checks


@router.get(f"{S}/post-deploy/config", summary="Post-deployment check windows, severity, automatic rollback")
def read_post_deploy_config(key: str, ctx: CtxDep) -> PostDeployConfigRead:
    return postdeploy.read_config(ctx, key)


@router.put(f"{S}/post-deploy/config", summary="Change the post-deployment check policy")
def set_post_deploy_config(key: str, body: PostDeployConfigIn, ctx: CtxDep) -> PostDeployConfigRead:
    result = postdeploy.set_config(ctx, key, body)
    ctx.commit()
    return result


@router.get(f"{S}/post-deploy/checks", summary="Post-deployment check windows and their outcome")
def list_watches(key: str, ctx: CtxDep) -> list[WatchRead]:
    return postdeploy.list_watches(ctx, key)
