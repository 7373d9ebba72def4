"""Shipped risk content (content/risk_matrices/*.yaml, content/risk_categories.yaml), validated on load."""

from __future__ import annotations

import functools
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from charter.kit.content import ContentInvalid, Problem, content_path, load_model
from charter.risk.matrices.rules import MatrixShape, MatrixSpec, matrix_problems

MATRIX_DIR: Final = content_path("risk_matrices")
CATEGORIES_FILE: Final = content_path("risk_categories.yaml")
DEFAULT_MATRIX: Final = "seed-5x5"
CATEGORY_KEY: Final = r"^[a-z][a-z0-9_-]{1,39}$"


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    key: str = Field(pattern=CATEGORY_KEY, description="lower-case slug, e.g. privacy")
    label: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2_000)
    examples: list[str] = Field(default_factory=list, max_length=50)


class CategoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: list[Category] = Field(min_length=1)


def _category_problems(f: CategoryFile) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for field in ("key", "label"):
        seen: dict[str, int] = {}
        for i, cat in enumerate(f.categories):
            norm = getattr(cat, field).casefold()
            if norm in seen:
                problems.append((("categories", i, field), f"duplicate {field} (also at categories[{seen[norm]}])"))
            seen.setdefault(norm, i)
    return problems


def parse_matrix(text: str, filename: str) -> MatrixSpec:
    """Validate a matrix YAML text; errors name the file, line and field."""
    shape = load_model(text, filename, MatrixShape, matrix_problems)
    return MatrixSpec.model_validate(shape.model_dump())


def parse_categories(text: str, filename: str) -> CategoryFile:
    return load_model(text, filename, CategoryFile, _category_problems)


@functools.cache
def shipped_matrices() -> dict[str, MatrixSpec]:
    """Every shipped matrix by 'name@version'. A broken file stops start-up with file:line: field."""
    found: dict[str, MatrixSpec] = {}
    for path in sorted(MATRIX_DIR.glob("*.yaml")):
        spec = parse_matrix(path.read_text(encoding="utf-8"), str(path))
        if spec.ref in found:
            raise ContentInvalid([Problem(str(path), 1, "version", f"{spec.ref} is shipped twice")])
        found[spec.ref] = spec
    if not any(s.name == DEFAULT_MATRIX for s in found.values()):
        raise ContentInvalid([Problem(str(MATRIX_DIR), 1, "name", f"the default matrix '{DEFAULT_MATRIX}' is missing")])
    return found


def shipped_default() -> MatrixSpec:
    """The newest shipped version of the default matrix."""
    return max((s for s in shipped_matrices().values() if s.name == DEFAULT_MATRIX), key=lambda s: s.version)


@functools.cache
def shipped_categories() -> tuple[Category, ...]:
    return tuple(parse_categories(CATEGORIES_FILE.read_text(encoding="utf-8"), str(CATEGORIES_FILE)).categories)


def validate_shipped() -> None:
    """Load (and so validate) all shipped risk content; raises ContentInvalid on the first broken file."""
    shipped_matrices()
    shipped_categories()
