"""Shared by the risk pages: the matrix a picker shows, and reading a picked cell."""

from __future__ import annotations

from charter.context import Ctx
from charter.kit.errors import ValidationFailed
from charter.risk.matrices import service as matrices
from charter.risk.matrices.rules import MatrixSpec, spec_from_json


def active_spec(ctx: Ctx) -> MatrixSpec:
    active = next(m for m in matrices.list_matrices(ctx) if m.active)
    return spec_from_json(active.content)


def spec_of(ctx: Ctx, name: str | None, version: int | None) -> MatrixSpec:
    if name is None:
        return active_spec(ctx)
    return spec_from_json(matrices.read_matrix(ctx, name, version).content)


def parse_cell(text: str, what: str) -> tuple[int, int] | None:
    """'3:4' (likelihood:impact, as the picker sends it) -> (3, 4); '' -> None."""
    if not text:
        return None
    li, sep, im = text.partition(":")
    if not sep or not li.isdigit() or not im.isdigit():
        raise ValidationFailed(f"{what}: pick a cell of the matrix", errors=[{"loc": [what], "msg": "pick a cell"}])
    return int(li), int(im)
