"""Template use cases: install (validated, versioned, immutable), sync the shipped ones, list and read."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from charter.kit.errors import Conflict, NotFound
from charter.kit.principal import SYSTEM
from charter.ledger.chain import snapshot
from charter.procedures.loader import TemplateInvalid, content_hash, parse_template, shipped_templates
from charter.procedures.models import SopTemplate
from charter.procedures.schemas import TemplateRead, TemplateSummary, ValidationReport
from charter.procedures.template_schema import TemplateSpec, signoff_roles

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

log = logging.getLogger("charter.procedures")


def spec_of(row: SopTemplate) -> TemplateSpec:
    return TemplateSpec.model_validate(row.definition)


def _row_for(ctx: Ctx, spec: TemplateSpec, origin: str, filename: str) -> SopTemplate:
    return SopTemplate(
        key=spec.key,
        version=spec.version,
        title=spec.title,
        kind=spec.kind,
        applies_to=list(spec.applies_to),
        severities=list(spec.severities),
        definition=spec.model_dump(mode="json"),
        content_sha256=content_hash(spec),
        origin=origin,
        filename=filename,
        installed_at=ctx.now(),
        installed_by=ctx.principal.name,
    )


def _existing(session: Session, key: str, version: int) -> SopTemplate | None:
    return session.execute(
        select(SopTemplate).where(SopTemplate.key == key, SopTemplate.version == version)
    ).scalar_one_or_none()


def sync_shipped(ctx: Ctx) -> list[SopTemplate]:
    """Store every shipped template version the database does not have yet (acting as the system).

    Runs at `charter db upgrade` and server start; idempotent and safe when two processes race (a savepoint
    absorbs the loser).
    A shipped version that differs from an installed one with the same key and version is skipped
    (the installed one wins) and logged.
    """
    wanted = shipped_templates()
    have = {
        (k, v): h
        for k, v, h in ctx.session.execute(
            select(SopTemplate.key, SopTemplate.version, SopTemplate.content_sha256)
        ).all()
    }
    sys_ctx = replace(ctx, principal=SYSTEM)
    added: list[SopTemplate] = []
    for spec in wanted:
        existing_hash = have.get((spec.key, spec.version))
        if existing_hash is not None:
            if existing_hash != content_hash(spec):
                log.warning(
                    "shipped template %s v%s differs from the installed one; keeping the installed one",
                    spec.key,
                    spec.version,
                )
            continue
        try:
            with ctx.session.begin_nested():
                row = _row_for(sys_ctx, spec, "shipped", f"{spec.key}.yaml")
                ctx.session.add(row)
                ctx.session.flush()
                sys_ctx.record(
                    "sop.installed",
                    "sop_template",
                    f"{spec.key}@{spec.version}",
                    after=snapshot(row, exclude=frozenset({"definition"})),
                    reason="shipped with Charter",
                )
        except IntegrityError:
            continue  # another request stored it first
        added.append(row)
    return added


def install_template(ctx: Ctx, text: str, filename: str) -> tuple[SopTemplate, bool]:
    """Validate and store a template version. Same key, version and content again: a no-op (False).

    A version number already used with other content is refused: install it under a higher version.
    """
    ctx.require("sops:manage")
    spec = parse_template(text, filename)
    existing = _existing(ctx.session, spec.key, spec.version)
    if existing is not None:
        if existing.content_sha256 == content_hash(spec):
            return existing, False
        latest = _latest_version(ctx.session, spec.key)
        raise Conflict(
            f"template '{spec.key}' version {spec.version} is already installed with different content; "
            f"versions are immutable (runs keep the version they started with) — install it as version {latest + 1}",
            current_version=latest,
        )
    row = _row_for(ctx, spec, "installed", filename)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record(
        "sop.installed",
        "sop_template",
        f"{spec.key}@{spec.version}",
        after=snapshot(row, exclude=frozenset({"definition"})),
    )
    return row, True


def _latest_version(session: Session, key: str) -> int:
    return int(session.execute(select(func.max(SopTemplate.version)).where(SopTemplate.key == key)).scalar() or 0)


def get_template(session: Session, key: str, version: int | None = None) -> SopTemplate:
    """A stored template version (default: the highest)."""
    stmt = select(SopTemplate).where(SopTemplate.key == key)
    stmt = stmt.where(SopTemplate.version == version) if version else stmt.order_by(SopTemplate.version.desc())
    row = session.execute(stmt.limit(1)).scalar_one_or_none()
    if row is None:
        keys = sorted(set(session.execute(select(SopTemplate.key)).scalars()))
        if version and key in keys:
            versions = _versions(session).get(key, [])
            raise NotFound(f"template '{key}' has no version {version}; installed: {versions}", entity="sop")
        raise NotFound(f"no procedure template '{key}'; installed: {', '.join(keys) or 'none'}", entity="sop")
    return row


def _versions(session: Session) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for key, version in session.execute(
        select(SopTemplate.key, SopTemplate.version).order_by(SopTemplate.key, SopTemplate.version)
    ).all():
        out.setdefault(key, []).append(version)
    return out


def latest_templates(session: Session) -> list[SopTemplate]:
    latest = select(SopTemplate.key, func.max(SopTemplate.version).label("v")).group_by(SopTemplate.key).subquery()
    stmt = (
        select(SopTemplate)
        .join(latest, (SopTemplate.key == latest.c.key) & (SopTemplate.version == latest.c.v))
        .order_by(SopTemplate.key)
    )
    return list(session.execute(stmt).scalars())


def to_summary(row: SopTemplate, versions: list[int]) -> TemplateSummary:
    spec = spec_of(row)
    return TemplateSummary(
        key=row.key,
        version=row.version,
        title=row.title,
        kind=row.kind,
        applies_to=list(row.applies_to),
        severities=list(row.severities or []),
        tags=list(spec.tags),
        origin=row.origin,
        item_count=len(spec.items()),
        installed_at=row.installed_at,
        installed_by=row.installed_by,
        versions=versions,
    )


def to_read(row: SopTemplate, versions: list[int]) -> TemplateRead:
    spec = spec_of(row)
    return TemplateRead(
        **to_summary(row, versions).model_dump(),
        description=spec.description,
        source=spec.source,
        filename=row.filename,
        content_sha256=row.content_sha256,
        signoff_roles=sorted(signoff_roles(spec)),
        sections=[s.model_dump(mode="json") for s in spec.sections],
    )


def list_templates(
    ctx: Ctx,
    *,
    kind: str | None = None,
    applies_to: str | None = None,
    severity: str | None = None,
    tag: str | None = None,
) -> list[TemplateSummary]:
    """The latest version of every template, filtered (e.g. kind=runbook, applies_to=incident, severity=high)."""
    ctx.require("sops:read")
    versions = _versions(ctx.session)
    out = []
    for row in latest_templates(ctx.session):
        summary = to_summary(row, versions[row.key])
        if kind and summary.kind != kind:
            continue
        if applies_to and applies_to not in summary.applies_to:
            continue
        if severity and severity not in summary.severities:
            continue
        if tag and tag not in summary.tags:
            continue
        out.append(summary)
    return out


def read_template(ctx: Ctx, key: str, version: int | None = None) -> TemplateRead:
    ctx.require("sops:read")
    row = get_template(ctx.session, key, version)
    return to_read(row, _versions(ctx.session)[key])


def validate_template(ctx: Ctx, text: str, filename: str) -> ValidationReport:
    """Check a template without installing it: valid, or every problem with its place."""
    ctx.require("sops:read")
    try:
        spec = parse_template(text, filename)
    except TemplateInvalid as exc:
        return ValidationReport(valid=False, problems=[p.as_dict() for p in exc.problems])
    return ValidationReport(valid=True, key=spec.key, version=spec.version, items=len(spec.items()))
