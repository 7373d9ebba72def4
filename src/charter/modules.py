"""The domain modules, in lifecycle order. app.py, models.py and the CLI register from this list.

A module contributes, when the file exists: `<module>/models.py` (tables), `<module>/api.py` (`router`),
`<module>/cli.py` (`app`, a Typer sub-app named by CLI_NAMES).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

DOMAINS: tuple[str, ...] = (
    "access",
    "ledger",
    "inventory",
    "risk",
    "procedures",
    "evidence",
    "policy",
    "releases",
    "monitoring",
    "incidents",
    "notifications",
)

# CLI sub-command name per domain (domains whose cli.py exposes `app`).
CLI_NAMES: dict[str, str] = {
    "ledger": "audit",
    "inventory": "system",
    "risk": "risk",
    "procedures": "sop",
    "evidence": "evidence",
    "policy": "policy",
    "releases": "release",
    "monitoring": "metrics",
    "incidents": "incident",
    "notifications": "notify",
}

# Further CLI sub-apps a domain exposes under another attribute: (domain, attribute, command name).
EXTRA_CLI: tuple[tuple[str, str, str], ...] = (
    ("procedures", "review_app", "review"),
    ("policy", "gate_app", "gate"),
    ("releases", "deploy_app", "deploy"),
)


def load(domain: str, part: str) -> ModuleType | None:
    """Import charter.<domain>.<part> if that file exists; errors inside it are not hidden."""
    name = f"charter.{domain}.{part}"
    if importlib.util.find_spec(f"charter.{domain}") is None or importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)
