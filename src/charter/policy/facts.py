"""The gate facts schema and the registry other modules extend it through.

A facts document is assembled for (system, release, target stage) by charter.releases.facts. Its
namespaces:

    now, system, release, target, approvals, history   charter.releases.facts (built in)
    risk                                               charter.risk.queries.gate_facts (built in)
    procedures, release_procedures                     charter.procedures.queries.gate_facts (built in)
    monitoring, evaluation, ...                        providers registered by their modules

Another module adds facts without editing this one: put a `gate_facts.py` in its package that calls

    register_facts_provider("monitoring", fn, schema={"open_alerts": "int", "drift_detected": "bool"})

at import. `fn(request: FactsRequest) -> dict` returns the namespace's values; the schema declares their
CEL types, so rules that use them are type-checked when a policy is saved. Without a schema the namespace
is one `map(string, dyn)` variable (rules then index it: `monitoring.open_alerts`, checked only at run time).
The registry imports every domain's `gate_facts` module (charter.kit.registry) before it builds the CEL
environment. A provider that raises does not break the gate: its namespace is left out, the error is kept in
the facts under `provider_errors`, and every rule that reads the namespace fails, naming the fact.
Gate checks may reuse recent facts (charter.releases.facts); pass cacheable=True only for facts that change
through ledger-recorded changes alone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from charter.kit import cache
from charter.kit.registry import load_all
from charter.policy.facts_schema import CORE_SCHEMA, PLACEHOLDERS
from charter.policy.rules import CelEnvironment, Namespace, check_type_signature

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


class SubjectSystem(Protocol):
    """What a provider may read of the AI system (an inventory AISystem; policy sits below inventory's
    users, so it names only the fields it promises)."""

    id: int
    key: str


class SubjectRelease(Protocol):
    """What a provider may read of the release (a releases Release)."""

    id: int
    version: int


@dataclass(frozen=True)
class FactsRequest:
    session: Session
    system: SubjectSystem
    release: SubjectRelease
    stage: str
    now: datetime


FactsFn = Callable[[FactsRequest], Mapping[str, Any]]


@dataclass(frozen=True)
class FactsProvider:
    name: str
    fn: FactsFn
    schema: Namespace
    cacheable: bool = False


_providers: dict[str, FactsProvider] = {}
_lock = threading.Lock()
_generation = 0
_env_cache: tuple[int, CelEnvironment] | None = None
_domains_loaded = False


def register_facts_provider(
    name: str, fn: FactsFn, schema: Namespace = "map(string, dyn)", *, cacheable: bool = False
) -> None:
    """Add (or replace) a facts namespace computed by `fn`. Call it at import of `<domain>/gate_facts.py`.

    cacheable=True lets gate checks reuse its values for a few seconds while the ledger head is unchanged:
    only for facts that change solely through ledger-recorded changes (or may be that many seconds old).
    """
    global _generation
    if not _NAME.match(name):
        raise ValueError(f"facts provider name {name!r} must be lower-case letters, digits and '_'")
    if name in CORE_SCHEMA:
        raise ValueError(f"'{name}' is a built-in facts namespace; choose another name")
    if isinstance(schema, str):
        check_type_signature(schema)
    else:
        for field, sig in schema.items():
            if not _NAME.match(field):
                raise ValueError(f"fact name {field!r} must be lower-case letters, digits and '_'")
            check_type_signature(sig)
    with _lock:
        _providers[name] = FactsProvider(name, fn, schema, cacheable)
        _generation += 1
    cache.clear_all()  # facts assembled without (or with the old) provider are no longer the facts


def unregister_facts_provider(name: str) -> None:
    global _generation
    with _lock:
        removed = _providers.pop(name, None) is not None
        if removed:
            _generation += 1
    if removed:
        cache.clear_all()


def load_domain_providers() -> None:
    """Import every domain's gate_facts module once, so their providers are registered."""
    global _domains_loaded
    if not _domains_loaded:
        load_all("gate_facts")
        _domains_loaded = True


def registered() -> list[FactsProvider]:
    """The registered providers (every domain's loaded first)."""
    load_domain_providers()
    with _lock:
        return list(_providers.values())


def schema() -> dict[str, Namespace]:
    load_domain_providers()
    out: dict[str, Namespace] = {**CORE_SCHEMA, **PLACEHOLDERS}
    with _lock:
        out.update({name: p.schema for name, p in _providers.items()})
    return out


def placeholders() -> list[str]:
    """Namespaces the document carries empty until a module registers a provider for them."""
    with _lock:
        return [name for name in PLACEHOLDERS if name not in _providers]


def providers() -> list[dict[str, Any]]:
    """Every facts namespace, its schema and where it comes from (for `charter policy facts`)."""
    load_domain_providers()
    with _lock:
        registered_now = dict(_providers)
    rows: list[dict[str, Any]] = [{"name": n, "schema": s, "source": "built-in"} for n, s in CORE_SCHEMA.items()]
    for name, spec in PLACEHOLDERS.items():
        if name not in registered_now:
            rows.append({"name": name, "schema": spec, "source": "placeholder (no provider registered yet)"})
    for name, p in registered_now.items():
        rows.append({"name": name, "schema": p.schema, "source": f"provider {p.fn.__module__}.{p.fn.__qualname__}"})
    return rows


def environment() -> CelEnvironment:
    """The CEL environment for the current schema (rebuilt when a provider registers)."""
    global _env_cache
    current = schema()
    with _lock:
        generation = _generation
        cached = _env_cache
    if cached is not None and cached[0] == generation:
        return cached[1]
    env = CelEnvironment(current)
    with _lock:
        _env_cache = (generation, env)
    return env
