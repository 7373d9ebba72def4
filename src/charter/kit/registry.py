"""The domain registry: every domain package, in dependency order, and the parts each may contribute.

Order matters and is checked: a domain may import only domains listed before it (import-linter's layers
contract in pyproject.toml reads the same order), so this list is both the lifecycle's modules and the
build's dependency order. The app, the metadata, the CLI, the sweeper and the gate register from it.

A domain contributes a part when the file exists:

    models.py      tables (Base.metadata)                  load_models()
    api.py         `router`, added flat to the app         charter.http.app
    cli.py         `app`, a Typer sub-app (`cli` name)     charter.cli.main
    gate_facts.py  facts providers for release gates       charter.policy.facts
    sweeps.py      periodic jobs                           charter.sweeps
    coverage.py    `KINDS`, `control_states(ctx, subject)`: which of its controls a system has
                   in place, for compliance coverage (charter.kit.coverage)
    hooks.py       subscriptions to other domains' events  discover("hooks")
    defaults.py    `install(ctx) -> list[str]`: shipped content installed by `charter db upgrade` and at
                   server start (reads never install anything)
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Domain:
    name: str
    cli: str | None = None  # the CLI sub-command of its cli.py `app`
    extra_cli: tuple[tuple[str, str], ...] = ()  # (attribute of cli.py, command name)


DOMAINS_SPEC: tuple[Domain, ...] = (
    Domain("access"),
    Domain("audit", cli="audit"),
    Domain("notifications", cli="notify"),
    Domain("inventory", cli="system"),
    Domain("risk", cli="risk"),
    Domain("evidence", cli="evidence"),
    Domain("procedures", cli="sop", extra_cli=(("review_app", "review"),)),
    Domain("policy", cli="policy"),
    Domain("releases", cli="release", extra_cli=(("gate_app", "gate"), ("deploy_app", "deploy"))),
    Domain("prompts", cli="prompt"),
    Domain("monitoring", cli="metrics"),
    Domain("data", cli="data", extra_cli=(("pii_app", "pii"),)),
    Domain("evaluation", cli="eval"),
    Domain("redteam", cli="redteam"),
    Domain("incidents", cli="incident"),
    Domain("feedback", cli="feedback", extra_cli=(("queue_app", "queue"),)),
    Domain("telemetry", cli="telemetry"),
    Domain("compliance", cli="compliance"),
)

DOMAINS: tuple[str, ...] = tuple(d.name for d in DOMAINS_SPEC)

# The console keeps its sessions and login throttling in tables of its own.
EXTRA_MODELS: tuple[str, ...] = ("charter.web.models",)


def load(domain: str, part: str) -> ModuleType | None:
    """Import charter.<domain>.<part> if that file exists; errors inside it are not hidden."""
    name = f"charter.{domain}.{part}"
    if importlib.util.find_spec(f"charter.{domain}") is None or importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def load_all(part: str) -> list[ModuleType]:
    """Every domain's `part` module that exists, in registry order."""
    return [m for m in (load(d, part) for d in DOMAINS) if m is not None]


def load_models() -> None:
    """Import every table definition, so Base.metadata knows all tables (Alembic, the app, tests)."""
    load_all("models")
    for name in EXTRA_MODELS:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
