"""Risk matrices and categories: install, activate, resolve. Services flush, never commit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from charter.kit.errors import Conflict, NotFound, ValidationFailed
from charter.kit.numbering import lock_scope
from charter.ledger.chain import snapshot
from charter.risk.content import parse_matrix, shipped_categories, shipped_default, shipped_matrices
from charter.risk.matrices.rules import MatrixSpec
from charter.risk.models import RiskCategory, RiskMatrix
from charter.risk.schemas import CategoryCreate, CategoryRead, MatrixInstall, MatrixRead, MatrixRef

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

_SPECS: dict[str, MatrixSpec] = {}


def spec_of(row: RiskMatrix) -> MatrixSpec:
    """The validated matrix of an installed row (cached by content hash: installed rows never change)."""
    spec = _SPECS.get(row.content_hash)
    if spec is None:
        spec = _SPECS[row.content_hash] = MatrixSpec.model_validate(row.content)
    return spec


def _cache(session: Session) -> dict[tuple[str, int | None], MatrixSpec]:
    """Matrices looked up in this session (installed rows never change; installing clears it)."""
    cache: dict[tuple[str, int | None], MatrixSpec] = session.info.setdefault("risk_matrices", {})
    return cache


def _row(session: Session, name: str, version: int | None) -> RiskMatrix | None:
    stmt = select(RiskMatrix).where(RiskMatrix.name == name)
    stmt = stmt.where(RiskMatrix.version == version) if version else stmt.order_by(RiskMatrix.version.desc())
    return session.execute(stmt.limit(1)).scalar_one_or_none()


def get_matrix(session: Session, name: str, version: int | None = None) -> MatrixSpec:
    """An installed matrix, or a shipped one not yet installed; newest version when version is None."""
    cached = _cache(session).get((name, version))
    if cached is not None:
        return cached
    row = _row(session, name, version)
    shipped = [s for s in shipped_matrices().values() if s.name == name and (version is None or s.version == version)]
    candidates = [spec_of(row)] if row else []
    candidates += shipped
    if not candidates:
        known = sorted(
            {r for r in session.execute(select(RiskMatrix.name)).scalars()}
            | {s.name for s in shipped_matrices().values()}
        )
        raise NotFound(
            f"no risk matrix '{name}'"
            + (f" version {version}" if version else "")
            + f"; installed: {', '.join(known)}",
            entity="risk-matrix",
        )
    spec = max(candidates, key=lambda s: s.version)
    if row is not None and row.version == spec.version:  # cache only what is installed
        _cache(session)[(name, version)] = spec
    return spec


def active_matrix(session: Session) -> MatrixSpec:
    """The matrix new assessments use: the installed one marked active, else the shipped default."""
    row = session.execute(select(RiskMatrix).where(RiskMatrix.active.is_(True)).limit(1)).scalar_one_or_none()
    return spec_of(row) if row else shipped_default()


def matrix_for(session: Session, ref: MatrixRef | None, name: str | None, version: int | None) -> MatrixSpec:
    """The matrix to score with: the one asked for, else the risk's own, else the active one."""
    if ref is not None:
        return get_matrix(session, ref.name, ref.version)
    if name is not None:
        return get_matrix(session, name, version)
    return active_matrix(session)


def ensure_installed(ctx: Ctx, spec: MatrixSpec) -> RiskMatrix:
    """Persist the matrix a score is about to use, so the score stays reproducible."""
    row = _row(ctx.session, spec.name, spec.version)
    if row is not None:
        if row.content_hash != spec.content_hash():
            raise Conflict(
                f"risk matrix {spec.ref} is installed with different content; a published version never "
                f"changes: give the new content version {_next_version(ctx.session, spec.name)}"
            )
        return row
    row = RiskMatrix(
        name=spec.name,
        version=spec.version,
        title=spec.title,
        content=spec.model_dump(mode="json"),
        content_hash=spec.content_hash(),
        active=False,  # no active row: the shipped default is the active matrix
        shipped=spec.ref in shipped_matrices() and shipped_matrices()[spec.ref].content_hash() == spec.content_hash(),
        installed_at=ctx.now(),
        installed_by=ctx.principal.actor,
    )
    _cache(ctx.session).clear()
    try:
        with ctx.session.begin_nested():
            ctx.session.add(row)
    except IntegrityError:  # installed concurrently by another request
        existing = _row(ctx.session, spec.name, spec.version)
        if existing is None:
            raise
        return existing
    ctx.record(
        "risk.matrix.installed",
        "risk_matrix",
        spec.ref,
        after=snapshot(row, exclude=frozenset({"id"})),
        reason="shipped default, installed on first use" if row.shipped else None,
    )
    return row


def _next_version(session: Session, name: str) -> int:
    lock_scope(session, f"risk-matrix:{name}")
    versions = list(session.execute(select(RiskMatrix.version).where(RiskMatrix.name == name)).scalars())
    versions += [s.version for s in shipped_matrices().values() if s.name == name]
    return max(versions, default=0) + 1


def install_matrix(ctx: Ctx, data: MatrixInstall) -> RiskMatrix:
    ctx.require("risks:matrix")
    spec = parse_matrix(data.source, data.filename)
    shipped = shipped_matrices().get(spec.ref)
    if shipped is not None and shipped.content_hash() != spec.content_hash():
        raise Conflict(
            f"{spec.ref} is a shipped matrix with different content; install yours as version "
            f"{_next_version(ctx.session, spec.name)} or under another name"
        )
    row = ensure_installed(ctx, spec)
    if data.activate and not row.active:
        activate_matrix(ctx, spec.name, spec.version)
    return row


def activate_matrix(ctx: Ctx, name: str, version: int) -> RiskMatrix:
    ctx.require("risks:matrix")
    spec = get_matrix(ctx.session, name, version)
    row = ensure_installed(ctx, spec)
    if row.active:
        return row
    before = active_matrix(ctx.session).ref
    ctx.session.execute(update(RiskMatrix).where(RiskMatrix.active.is_(True)).values(active=False))
    row.active = True
    ctx.session.flush()
    ctx.record("risk.matrix.activated", "risk_matrix", spec.ref, before={"active": before}, after={"active": spec.ref})
    return row


def list_matrices(ctx: Ctx) -> list[MatrixRead]:
    ctx.require("risks:read")
    rows = list(ctx.session.execute(select(RiskMatrix).order_by(RiskMatrix.name, RiskMatrix.version)).scalars())
    active = active_matrix(ctx.session).ref
    out = [_read(spec_of(r), r, active) for r in rows]
    installed = {(r.name, r.version) for r in rows}
    out += [_read(s, None, active) for s in shipped_matrices().values() if (s.name, s.version) not in installed]
    return sorted(out, key=lambda m: (m.name, m.version))


def read_matrix(ctx: Ctx, name: str, version: int | None) -> MatrixRead:
    ctx.require("risks:read")
    spec = get_matrix(ctx.session, name, version)
    return _read(spec, _row(ctx.session, spec.name, spec.version), active_matrix(ctx.session).ref)


def _read(spec: MatrixSpec, row: RiskMatrix | None, active: str) -> MatrixRead:
    return MatrixRead(
        name=spec.name,
        version=spec.version,
        title=spec.title,
        active=spec.ref == active,
        shipped=spec.ref in shipped_matrices(),
        installed=row is not None,
        installed_at=row.installed_at if row else None,
        installed_by=row.installed_by if row else None,
        likelihood=[f"{p.value} {p.label}" for p in spec.likelihood],
        impact=[f"{p.value} {p.label}" for p in spec.impact],
        levels=[f"{b.key} ≤{b.max_score} (review {b.review_days}d)" for b in spec.levels],
        content=spec.model_dump(mode="json"),
    )


# ----------------------------------------------------------------------------- categories


def categories(session: Session) -> dict[str, CategoryRead]:
    """Shipped categories, then the organisation's own, by key."""
    out = {
        c.key: CategoryRead(key=c.key, label=c.label, description=c.description, examples=c.examples, shipped=True)
        for c in shipped_categories()
    }
    for row in session.execute(select(RiskCategory).order_by(RiskCategory.key)).scalars():
        out[row.key] = CategoryRead(
            key=row.key, label=row.label, description=row.description, examples=list(row.examples), shipped=False
        )
    return out


def resolve_category(session: Session, text: str, known: dict[str, CategoryRead] | None = None) -> str:
    """A category key from its key or label, case-insensitive ('Privacy' -> 'privacy')."""
    known = known if known is not None else categories(session)
    norm = text.strip().casefold()
    for cat in known.values():
        if norm in (cat.key, cat.label.casefold()):
            return cat.key
    raise ValidationFailed(
        f"category {text!r} is unknown; use one of: {', '.join(known)} (add one with 'charter risk category add')",
        errors=[{"loc": ["category"], "msg": f"allowed: {', '.join(known)}"}],
    )


def list_categories(ctx: Ctx) -> list[CategoryRead]:
    ctx.require("risks:read")
    return list(categories(ctx.session).values())


def add_category(ctx: Ctx, data: CategoryCreate) -> CategoryRead:
    ctx.require("risks:matrix")
    known = categories(ctx.session)
    for cat in known.values():
        if data.key == cat.key or data.label.casefold() == cat.label.casefold():
            raise Conflict(f"a risk category '{cat.key}' ({cat.label}) already exists")
    row = RiskCategory(**data.model_dump(), created_at=ctx.now(), created_by=ctx.principal.actor)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record("risk.category.added", "risk_category", row.key, after=snapshot(row, exclude=frozenset({"id"})))
    return categories(ctx.session)[row.key]
