"""CSV export and all-or-nothing CSV import of the risk register."""

from __future__ import annotations

import csv
import io
from typing import Any, Final

from pydantic import ValidationError

from charter.context import Ctx
from charter.inventory.queries import get_system
from charter.kit.errors import CharterError, ValidationFailed
from charter.risk.matrices.service import categories, resolve_category
from charter.risk.models import Risk
from charter.risk.queries import Lookup, RiskFilter, filtered, to_read
from charter.risk.schemas import ImportResult, MatrixRef, RiskCreate, RiskRead
from charter.risk.scoring import score_request
from charter.risk.service import check_title_free, create_risk, user_id

EXPORT_COLUMNS: Final = (
    "key",
    "system",
    "title",
    "description",
    "category",
    "owner",
    "status",
    "likelihood",
    "impact",
    "inherent_score",
    "inherent_level",
    "residual_likelihood",
    "residual_impact",
    "residual_score",
    "residual_level",
    "level",
    "matrix",
    "next_review_at",
    "overdue",
    "accepted_by",
    "accepted_until",
    "mitigations_open",
    "mitigations_done",
)
# What an import reads. 'key' must be empty (import adds risks); other export columns are ignored.
IMPORT_COLUMNS: Final = (
    "system",
    "title",
    "description",
    "category",
    "owner",
    "likelihood",
    "impact",
    "residual_likelihood",
    "residual_impact",
    "matrix",
    "rationale",
)
REQUIRED: Final = ("system", "title", "category")
IGNORED: Final = frozenset(EXPORT_COLUMNS) - frozenset(IMPORT_COLUMNS) - {"key"}
PAIRS: Final = (("likelihood", "impact"), ("residual_likelihood", "residual_impact"))
MAX_ERRORS: Final = 500
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in free text (CSV injection): prefix a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _export_row(r: RiskRead) -> dict[str, Any]:
    return {
        "key": r.key,
        "system": r.system,
        "title": _safe(r.title),
        "description": _safe(r.description),
        "category": r.category,
        "owner": r.owner,
        "status": r.status,
        "likelihood": r.likelihood,
        "impact": r.impact,
        "inherent_score": r.inherent_score,
        "inherent_level": r.inherent_level,
        "residual_likelihood": r.residual_likelihood,
        "residual_impact": r.residual_impact,
        "residual_score": r.residual_score,
        "residual_level": r.residual_level,
        "level": r.level,
        "matrix": f"{r.matrix}@{r.matrix_version}" if r.matrix else "",
        "next_review_at": r.next_review_at.isoformat(),
        "overdue": "yes" if r.overdue else "no",
        "accepted_by": r.accepted_by,
        "accepted_until": r.accepted_until.isoformat() if r.accepted_until else "",
        "mitigations_open": r.mitigations_open,
        "mitigations_done": r.mitigations_done,
    }


def export_csv(ctx: Ctx, flt: RiskFilter) -> str:
    ctx.require("risks:read")

    now = ctx.now()
    risks = list(ctx.session.execute(filtered(ctx.session, flt, now).order_by(Risk.number)).scalars())
    lookup = Lookup(ctx.session, risks)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in risks:
        writer.writerow(_export_row(to_read(r, lookup, now)))
    return buf.getvalue()


def _matrix_ref(text: str) -> MatrixRef:
    name, _, version = text.partition("@")
    if version and not version.isdigit():
        raise ValueError("write the matrix as NAME or NAME@VERSION, e.g. seed-5x5@1")
    return MatrixRef(name=name.strip(), version=int(version) if version else None)


class _RowChecker:
    """Validates rows without writing anything; collects every problem with its row and column."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.session = ctx.session
        self.categories = categories(ctx.session)
        self.seen: dict[tuple[str, str], int] = {}
        self.errors: list[dict[str, Any]] = []

    def error(self, row: int, column: str, msg: str) -> None:
        self.errors.append({"row": row, "column": column, "msg": msg})

    def check(self, row: int, raw: dict[str, str]) -> RiskCreate | None:
        before = len(self.errors)
        values = {c: (raw.get(c) or "").strip() for c in (*IMPORT_COLUMNS, "key")}
        if values["key"]:
            self.error(row, "key", f"{values['key']}: import only adds new risks; leave key empty")
        for column in REQUIRED:
            if not values[column]:
                self.error(row, column, "required")
        for a, b in PAIRS:
            if bool(values[a]) != bool(values[b]):
                missing = b if values[a] else a
                self.error(row, missing, f"required together with {a if missing == b else b}")
        payload: dict[str, Any] = {c: v for c, v in values.items() if v and c not in ("key", "matrix")}
        if values["matrix"]:
            try:
                payload["matrix"] = _matrix_ref(values["matrix"])
            except (ValueError, ValidationError) as exc:
                self.error(row, "matrix", str(exc).splitlines()[0])
        if len(self.errors) > before:
            return None
        try:
            data = RiskCreate.model_validate(payload)
        except ValidationError as exc:
            for err in exc.errors():
                column = str(err["loc"][0]) if err["loc"] else "row"
                self.error(row, column, err["msg"])
            return None
        self._semantic(row, data)
        return data if len(self.errors) == before else None

    def _attempt(self, row: int, column: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except CharterError as exc:
            self.error(row, column, exc.detail)
            return None

    def _semantic(self, row: int, data: RiskCreate) -> None:
        system = self._attempt(row, "system", get_system, self.session, data.system)
        self._attempt(row, "category", resolve_category, self.session, data.category, self.categories)
        if data.owner:
            self._attempt(row, "owner", user_id, self.session, data.owner)
        elif self.ctx.principal.user_id is None:
            self.error(row, "owner", "required (you are not a user who can own risks)")
        if system is not None:
            key = (data.system, data.title.casefold())
            if key in self.seen:
                self.error(row, "title", f"same system and title as row {self.seen[key]}")
            self.seen.setdefault(key, row)
            self._attempt(row, "title", check_title_free, self.session, system.id, data.title)
        if data.has_inherent or data.has_residual:
            try:
                score_request(self.session, None, data)
            except ValidationFailed as exc:
                locs = [e.get("loc", [None])[0] for e in exc.extra.get("errors", [])]
                self.error(row, str(locs[0]) if locs and locs[0] else "likelihood", exc.detail)
            except CharterError as exc:
                self.error(row, "matrix", exc.detail)


def _read_csv(content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str], int]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"the file is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise ValidationFailed(
                "the file is empty; the first row must name the columns (system, title, category, ...)"
            )
        names = [h.strip().lower() for h in header]
        rows = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            extra = max(0, len(cells) - len(names))
            rows.append((number, dict(zip(names, cells, strict=False)), extra))
    except csv.Error as exc:
        raise ValidationFailed(f"the file is not valid CSV: {exc}") from None
    return names, rows


def import_csv(ctx: Ctx, content: bytes, *, dry_run: bool = False) -> ImportResult:
    """Validate every row; import all of them, or nothing when any row has a problem."""
    ctx.require("risks:write")
    names, rows = _read_csv(content)
    header_errors = []
    known = set(IMPORT_COLUMNS) | IGNORED | {"key"}
    for name in names:
        if name not in known:
            header_errors.append(
                {"row": 1, "column": name, "msg": f"unknown column; allowed: {', '.join(IMPORT_COLUMNS)}"}
            )
    dupes = {n for n in names if names.count(n) > 1}
    header_errors += [{"row": 1, "column": n, "msg": "column given twice"} for n in sorted(dupes)]
    header_errors += [{"row": 1, "column": c, "msg": "required column is missing"} for c in REQUIRED if c not in names]
    if header_errors:
        raise _failed(header_errors, len(rows))
    if not rows:
        raise ValidationFailed("the file has a header but no rows; nothing to import")
    checker = _RowChecker(ctx)
    valid: list[tuple[int, RiskCreate]] = []
    for number, raw, extra in rows:
        if extra:
            checker.error(number, "row", f"{extra} more cell(s) than the header has columns")
            continue
        data = checker.check(number, raw)
        if data is not None:
            valid.append((number, data))
        if len(checker.errors) >= MAX_ERRORS:
            break
    if checker.errors:
        raise _failed(checker.errors, len(rows))
    if dry_run:
        return ImportResult(dry_run=True, rows=len(valid), created=[])
    created = [create_risk(ctx, data, reason=f"CSV import, row {number}").key for number, data in valid]
    ctx.record("risk.imported", "risk_import", f"{created[0]}..{created[-1]}", after={"created": created})
    return ImportResult(dry_run=False, rows=len(valid), created=created)


def _failed(errors: list[dict[str, Any]], rows: int) -> ValidationFailed:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ValidationFailed(
        f"nothing was imported ({rows} row(s) read): row {first['row']}, column {first['column']}: "
        f"{first['msg']}{more}",
        errors=errors,
    )
