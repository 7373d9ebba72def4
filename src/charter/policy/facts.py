"""The governance facts document a gate evaluates, and the registry other modules extend it through.

A facts document is assembled for (system, release, target stage). Its namespaces:

    system, release, target, approvals, history   this module and charter.releases.facts
    risk                                          charter.risk.service.gate_facts
    procedures, release_procedures                charter.procedures.service.gate_facts (system / release runs)
    now                                           the context clock
    monitoring, evaluation                        placeholders ({}), until their modules register providers

Another module adds facts without editing this one: put a `gate_facts.py` in its package that calls

    register_facts_provider("monitoring", fn, schema={"open_alerts": "int", "drift_detected": "bool"})

at import. `fn(request: FactsRequest) -> dict` returns the namespace's values; the schema declares their
CEL types, so rules that use them are type-checked when a policy is saved. Without a schema the namespace
is one `map(string, dyn)` variable (rules then index it: `monitoring.open_alerts`, checked only at run time).
Gate evaluation imports every domain's `gate_facts` module (charter.modules.DOMAINS) before it builds the
CEL environment. A provider that raises does not break the gate: its namespace is left out, the error is
kept in the facts under `provider_errors`, and every rule that reads the namespace fails, naming the fact.
Gate checks may reuse recent facts (see `assemble`); pass cacheable=True only for facts that change
through ledger-recorded changes alone.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from charter.errors import CharterError
from charter.ledger.head import HeadCache, session_head
from charter.policy.facts_schema import CORE_SCHEMA, PLACEHOLDERS
from charter.policy.rules import CelEnvironment, Namespace, check_type_signature

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.inventory.models import AISystem
    from charter.releases.models import Release

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


class FactsUnavailable(CharterError):
    """A module the facts depend on is missing: the gate cannot be evaluated honestly."""

    status = 503
    type_slug = "facts-unavailable"
    title = "Gate facts unavailable"


@dataclass(frozen=True)
class FactsRequest:
    session: Session
    system: AISystem
    release: Release
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
    clear_cache()  # facts assembled without (or with the old) provider are no longer the facts


def unregister_facts_provider(name: str) -> None:
    global _generation
    with _lock:
        removed = _providers.pop(name, None) is not None
        if removed:
            _generation += 1
    if removed:
        clear_cache()


def load_domain_providers() -> None:
    """Import every domain's gate_facts module once, so their providers are registered."""
    global _domains_loaded
    if _domains_loaded:
        return
    from charter.modules import DOMAINS, load

    for domain in DOMAINS:
        load(domain, "gate_facts")
    _domains_loaded = True


def schema() -> dict[str, Namespace]:
    load_domain_providers()
    out: dict[str, Namespace] = {**CORE_SCHEMA, **PLACEHOLDERS}
    with _lock:
        out.update({name: p.schema for name, p in _providers.items()})
    return out


def providers() -> list[dict[str, Any]]:
    """Every facts namespace, its schema and where it comes from (for `charter policy facts`)."""
    load_domain_providers()
    with _lock:
        registered = dict(_providers)
    rows: list[dict[str, Any]] = [{"name": n, "schema": s, "source": "built-in"} for n, s in CORE_SCHEMA.items()]
    for name, spec in PLACEHOLDERS.items():
        if name not in registered:
            rows.append({"name": name, "schema": spec, "source": "placeholder (no provider registered yet)"})
    for name, p in registered.items():
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


def _service_function(module: str, name: str) -> Callable[..., Any]:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise FactsUnavailable(
            f"gate facts need {module}.{name}, but {module} is not installed ({exc}); "
            "the gate refuses to evaluate without them"
        ) from None
    fn = getattr(mod, name, None)
    if fn is None:
        raise FactsUnavailable(f"gate facts need {module}.{name}, which does not exist yet")
    return fn  # type: ignore[no-any-return]


def risk_facts(session: Session, system_id: int, now: datetime) -> dict[str, Any]:
    return dict(_service_function("charter.risk.service", "gate_facts")(session, system_id, now))


def procedure_facts(session: Session, subject_type: str, subject_id: int, now: datetime) -> dict[str, Any]:
    fn = _service_function("charter.procedures.service", "gate_facts")
    return dict(fn(session, subject_type, subject_id, now=now))


def system_facts(session: Session, system: AISystem, allowed_stages: list[str]) -> dict[str, Any]:
    from sqlalchemy import select

    from charter.access.models import User

    owner = None
    if system.owner_id is not None:
        owner = session.execute(select(User.username).where(User.id == system.owner_id)).scalar_one_or_none()
    return {
        "key": system.key,
        "name": system.name,
        "lifecycle_stage": system.stage,
        "risk_tier": system.risk_tier,
        "deployment_type": system.deployment_type,
        "data_categories": list(system.data_categories or []),
        "tags": list(system.tags or []),
        "users_affected": system.users_affected or 0,
        "owner": owner or "",
        "vendor_name": system.vendor_name or "",
        "allowed_stages": allowed_stages,
    }


@dataclass(frozen=True)
class _Cached:
    computed_at: datetime
    facts: dict[str, Any]


_CACHE_MAX = 1_024
_cache: HeadCache[tuple[int, int, str], _Cached] = HeadCache(_CACHE_MAX)


def fresh(computed_at: datetime, now: datetime, ttl: float) -> bool:
    """Whether values computed at `computed_at` may serve a check at `now`: at most `ttl` seconds apart
    either way (a concurrent check may have computed them a moment after this one's `now`)."""
    return -ttl <= (now - computed_at).total_seconds() <= ttl


def _cache_get(key: tuple[int, int, str], state: str, now: datetime, ttl: float) -> dict[str, Any] | None:
    entry = _cache.get(key, state)
    if entry is None or not fresh(entry.computed_at, now, ttl):
        return None
    return dict(entry.facts)


def _cache_put(key: tuple[int, int, str], state: str, now: datetime, facts: dict[str, Any]) -> None:
    _cache.put(key, state, _Cached(now, dict(facts)))


def clear_cache() -> None:
    """Forget cached facts, and the gate checks prepared from them (charter.policy.gate)."""
    _cache.clear()
    from charter.policy.gate import clear_prepared

    clear_prepared()


def _provide(
    session: Session, providers: list[FactsProvider], request: FactsRequest, facts: dict[str, Any]
) -> dict[str, str]:
    errors: dict[str, str] = {}
    for provider in providers:
        facts.pop(provider.name, None)
        try:
            with session.begin_nested():  # a failing provider's SQL error must not poison the transaction
                facts[provider.name] = dict(provider.fn(request))
        except Exception as exc:  # a broken provider must not hide the others; its rules fail by name
            errors[provider.name] = f"{type(exc).__name__}: {exc}"
    return errors


def _core(session: Session, system: AISystem, release: Release, stage: str, now: datetime) -> dict[str, Any]:
    from charter.releases.facts import release_facts

    core = release_facts(session, system, release, stage, now)
    facts: dict[str, Any] = {
        "now": now,
        "system": system_facts(session, system, core["allowed_stages"]),
        "release": core["release"],
        "target": core["target"],
        "risk": risk_facts(session, system.id, now),
        "procedures": procedure_facts(session, "system", system.id, now),
        "release_procedures": procedure_facts(session, "release", release.id, now),
        "approvals": core["approvals"],
        "history": core["history"],
    }
    for name in PLACEHOLDERS:
        facts[name] = {}
    return facts


def _assemble_cacheable(
    session: Session, registered: list[FactsProvider], request: FactsRequest, now: datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    facts = _core(session, request.system, request.release, request.stage, now)
    errors = _provide(session, [p for p in registered if p.cacheable], request, facts)
    return facts, errors


_flights: dict[tuple[int, int, str], threading.Lock] = {}
_FLIGHT_WAIT = 10.0  # seconds; past that a check assembles its facts itself


def _flight_lock(key: tuple[int, int, str]) -> threading.Lock:
    with _lock:
        flight = _flights.get(key)
        if flight is None:
            if len(_flights) > _CACHE_MAX:
                _flights.clear()  # held locks stay referenced by their holders
            flight = _flights[key] = threading.Lock()
        return flight


def assemble(
    session: Session, system: AISystem, release: Release, stage: str, now: datetime, *, ttl: float = 0.0
) -> dict[str, Any]:
    """The facts document for (system, release, target stage) at `now` (see assemble_versioned)."""
    return assemble_versioned(session, system, release, stage, now, ttl=ttl)[0]


def assemble_versioned(
    session: Session,
    system: AISystem,
    release: Release,
    stage: str,
    now: datetime,
    *,
    ttl: float = 0.0,
    state: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """The facts document, and a token naming its content when it is entirely reusable (else None).

    With ttl > 0 (gate checks), the built-in namespaces and cacheable providers computed for the same
    (release, stage) at most `ttl` seconds ago are reused while the ledger head is unchanged: every change
    of governance state is recorded in the ledger, so an unchanged head means unchanged facts, except those
    that move with time alone (days in pilot, overdue reviews), which may then be up to `ttl` seconds old;
    `now` in the document is when they were computed. Other providers are always computed afresh.
    Promotions and approvals use ttl=0.
    """
    load_domain_providers()
    with _lock:
        registered = list(_providers.values())
    request = FactsRequest(session=session, system=system, release=release, stage=stage, now=now)
    key = (system.id, release.id, stage)
    if ttl > 0 and state is None:
        state = session_head(session)
    if ttl <= 0:
        state = None
    facts = _cache_get(key, state, now, ttl) if state is not None else None
    errors: dict[str, str] = {}
    if facts is None and state is not None:
        # Single flight: when the entry expires under load, one check assembles the facts and the
        # concurrent ones wait for it instead of all assembling the same document at once.
        flight = _flight_lock(key)
        acquired = flight.acquire(timeout=_FLIGHT_WAIT)
        try:
            facts = _cache_get(key, state, now, ttl)
            if facts is None:
                facts, errors = _assemble_cacheable(session, registered, request, now)
                if not errors:
                    _cache_put(key, state, now, facts)
        finally:
            if acquired:
                flight.release()
    elif facts is None:
        facts, errors = _assemble_cacheable(session, registered, request, now)
    volatile = [p for p in registered if not p.cacheable]
    errors |= _provide(session, volatile, request, facts)
    if errors:
        facts["provider_errors"] = errors
    token = None
    if state is not None and not volatile and not errors:
        token = f"{state}|{facts['now'].isoformat()}"
    return facts, token
