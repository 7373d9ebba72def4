"""The catalogs and control mappings in force: the shipped ones (content/frameworks, loaded once) plus what the
organisation added in the database (custom catalogs, mapping edits). Reads only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.compliance.catalog import Catalogs, Framework, load_catalogs, parse_framework
from charter.compliance.controls import ControlIndex, ControlMappings, load_control_mappings
from charter.compliance.models import ControlMappingEdit, CustomCatalog
from charter.compliance.rules import Link
from charter.kit.content import CONTENT_DIR

FRAMEWORKS_DIR: Final = CONTENT_DIR / "frameworks"
MAPPINGS_FILE: Final = FRAMEWORKS_DIR / "mappings" / "charter-controls.yaml"


@lru_cache(maxsize=1)
def shipped_catalogs() -> Catalogs:
    return load_catalogs([FRAMEWORKS_DIR])


@lru_cache(maxsize=1)
def control_index() -> ControlIndex:
    return ControlIndex.from_content(CONTENT_DIR)


@lru_cache(maxsize=1)
def shipped_mappings() -> ControlMappings:
    return load_control_mappings([MAPPINGS_FILE], shipped_catalogs(), control_index())


@lru_cache(maxsize=64)
def _custom_framework(framework_id: str, sha256: str, content: str) -> Framework:
    return parse_framework(content, f"catalog {framework_id}")


def catalogs(session: Session) -> Catalogs:
    """Shipped catalogs plus the organisation's (each parsed once per content hash)."""
    shipped = shipped_catalogs()
    rows = session.execute(select(CustomCatalog).order_by(CustomCatalog.framework_id)).scalars().all()
    if not rows:
        return shipped
    frameworks = dict(shipped.frameworks)
    files = dict(shipped.files)
    for row in rows:
        frameworks[row.framework_id] = _custom_framework(row.framework_id, row.sha256, row.content)
        files[row.framework_id] = f"database: installed by {row.installed_by}"
    return Catalogs(frameworks, shipped.crosswalk, shipped.owasp_versions, files)


def links(session: Session) -> list[Link]:
    """Every control → requirement link in force: the shipped mapping with the organisation's edits applied."""
    merged: dict[tuple[str, str], Link] = {}
    for entry in shipped_mappings().controls:
        for link in entry.requirements:
            merged[(entry.control, link.requirement)] = Link(
                entry.control, link.requirement, link.relation, link.reason
            )
    for edit in session.execute(select(ControlMappingEdit).order_by(ControlMappingEdit.id)).scalars():
        key = (edit.control, edit.requirement)
        if edit.relation == "removed":
            merged.pop(key, None)
        else:
            merged[key] = Link(edit.control, edit.requirement, edit.relation, edit.reason, edited=True)
    return [merged[k] for k in sorted(merged)]
