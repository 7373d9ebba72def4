"""The default gate policies shipped as YAML in charter/content/policies/, loaded and validated once."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import ValidationError

from charter.kit.errors import ValidationFailed
from charter.policy.programs import compile_rules
from charter.policy.schemas import PolicyDocument


def parse_document(text: str, source: str) -> PolicyDocument:
    """A policy from YAML text; errors name the source and the field."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        raise ValidationFailed(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ValidationFailed(f"{source}: a policy is a mapping with name, stage, description and rules")
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(
            f"{source}: {where}: {first['msg']}",
            errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()],
        ) from None


@lru_cache(maxsize=1)
def shipped() -> tuple[PolicyDocument, ...]:
    """Every shipped policy, each rule compiled against the facts schema (a broken file fails here)."""
    docs = []
    for entry in sorted((resources.files("charter") / "content" / "policies").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith((".yaml", ".yml")):
            continue
        doc = parse_document(entry.read_text(encoding="utf-8"), f"content/policies/{entry.name}")
        compile_rules(doc.rules, source=f"content/policies/{entry.name}")
        docs.append(doc)
    names = [d.name for d in docs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationFailed(f"content/policies: policy name(s) used twice: {', '.join(dupes)}")
    return tuple(docs)


def validate_shipped() -> list[str]:
    """Start-up check: load and compile the shipped policies; returns their names."""
    return [d.name for d in shipped()]
