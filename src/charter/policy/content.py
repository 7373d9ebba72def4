"""The default gate policies shipped as YAML in charter/content/policies/, loaded and validated once."""

from __future__ import annotations

from functools import lru_cache

from charter.kit.content import content_files, load_file, load_model
from charter.kit.errors import ValidationFailed
from charter.policy.programs import compile_rules
from charter.policy.schemas import PolicyDocument


def parse_document(text: str, source: str) -> PolicyDocument:
    """A policy from YAML text; errors name the source, the line and the field."""
    return load_model(text, source, PolicyDocument)


@lru_cache(maxsize=1)
def shipped() -> tuple[PolicyDocument, ...]:
    """Every shipped policy, each rule compiled against the facts schema (a broken file fails here)."""
    docs = []
    for path in content_files("policies"):
        doc = load_file(path, PolicyDocument)
        compile_rules(doc.rules, source=f"content/policies/{path.name}")
        docs.append(doc)
    names = [d.name for d in docs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationFailed(f"content/policies: policy name(s) used twice: {', '.join(dupes)}")
    return tuple(docs)


def validate_shipped() -> list[str]:
    """Start-up check: load and compile the shipped policies; returns their names."""
    return [d.name for d in shipped()]
