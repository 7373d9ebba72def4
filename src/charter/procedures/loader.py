"""Reading procedure templates from YAML (charter.kit.content: errors name the file, the line and the field)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from charter.kit.content import ContentInvalid, Problem, content_files, load_model, read_text
from charter.procedures.template_schema import TemplateSpec, semantic_errors

MAX_TEMPLATE_BYTES = 512 * 1024


class TemplateInvalid(ContentInvalid):
    """A template that does not satisfy the schema; `problems` lists every error with its line."""

    what = "procedure template"


def parse_template(text: str, filename: str) -> TemplateSpec:
    """Parse and validate one template; raise TemplateInvalid naming file, line and field."""
    if len(text.encode()) > MAX_TEMPLATE_BYTES:
        raise TemplateInvalid([Problem(filename, None, "", f"larger than {MAX_TEMPLATE_BYTES} bytes")])
    return load_model(text, filename, TemplateSpec, semantic_errors, error=TemplateInvalid)


def parse_file(path: Path) -> TemplateSpec:
    return parse_template(read_text(path, error=TemplateInvalid), path.name)


def content_hash(spec: TemplateSpec) -> str:
    """SHA-256 of the template's canonical JSON: two texts with the same meaning hash alike."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@lru_cache(maxsize=1)
def shipped_templates() -> tuple[TemplateSpec, ...]:
    """The templates shipped under charter/content/sops, validated. A broken file fails start-up."""
    specs: list[TemplateSpec] = []
    seen: dict[tuple[str, int], str] = {}
    for entry in content_files("sops"):
        spec = parse_template(read_text(entry, error=TemplateInvalid), entry.name)
        if (spec.key, spec.version) in seen:
            where = seen[spec.key, spec.version]
            raise TemplateInvalid(
                [Problem(entry.name, None, "key", f"'{spec.key}' version {spec.version} is also in {where}")]
            )
        seen[spec.key, spec.version] = entry.name
        specs.append(spec)
    return tuple(specs)
