"""The PII guard in front of an external AI vendor: a per-vendor egress policy says, for each entity type, whether
the text is refused (``block``) or the value is ``redact``-ed, ``mask``-ed, ``hash``-ed (keyed HMAC),
``pseudonymise``-d (reversible, through the vault) or ``allow``-ed. Applying a policy returns the text to send, whether
it is blocked, and counts per entity type and action: never the values.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from charter.data.pii import catalog
from charter.data.pii.errors import PolicyError
from charter.data.pii.masking import mask_value
from charter.data.pii.spans import Span
from charter.data.pii.vault import Vault

Action = Literal["block", "redact", "mask", "hash", "pseudonymise", "allow"]
ACTIONS: tuple[Action, ...] = ("block", "redact", "mask", "hash", "pseudonymise", "allow")
#: every entity type a policy may name (the NLP ones too: a policy may ask for them before the backend is installed)
KNOWN_ENTITIES: tuple[str, ...] = catalog.ENTITIES + catalog.NLP_ENTITIES
HASH_HEX = 12


class Finder(Protocol):
    """A :class:`...detectors.Detector` or :class:`...nlp.Analyzer`."""

    @property
    def entities(self) -> frozenset[str]: ...

    def find(self, text: str, *, context: Sequence[str] = (), threshold: float | None = None) -> list[Span]: ...


@dataclass(frozen=True)
class EgressPolicy:
    """What may leave for ``vendor``. ``default`` applies to detected entity types the policy does not name.
    ``on_undetectable``: what to do when the policy protects an entity type nothing here can look for (PERSON and
    LOCATION without the NLP backend): ``warn`` (send, and say so in the result) or ``block``."""

    vendor: str
    actions: Mapping[str, Action] = field(default_factory=dict)
    default: Action = "redact"
    threshold: float | None = None
    on_undetectable: Literal["warn", "block"] = "warn"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EgressPolicy:
        """Validate a policy document: ``{"vendor", "entities": {ENTITY: action}, "default", "threshold",
        "on_undetectable"}``. Errors name the vendor, the offending key and what is allowed."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"a policy must be an object, got {type(data).__name__}")
        unknown_keys = sorted(set(data) - {"vendor", "entities", "default", "threshold", "on_undetectable"})
        if unknown_keys:
            raise PolicyError(
                f"unknown policy key(s) {', '.join(unknown_keys)}; allowed: vendor, entities, default, threshold, "
                "on_undetectable"
            )
        vendor = data.get("vendor")
        if not isinstance(vendor, str) or not vendor.strip():
            raise PolicyError("a policy needs a vendor name (a non-empty string)")
        where = f"policy for vendor {vendor!r}"
        entities = data.get("entities", {})
        if not isinstance(entities, Mapping):
            raise PolicyError(f"{where}: 'entities' must map entity types to actions")
        actions: dict[str, Action] = {}
        for entity, action in entities.items():
            if entity not in KNOWN_ENTITIES:
                close = _suggest(str(entity))
                hint = f" (did you mean {close}?)" if close else ""
                raise PolicyError(f"{where}: unknown entity type {entity!r}{hint}; known: {', '.join(KNOWN_ENTITIES)}")
            actions[entity] = _action(action, f"{where}, entity {entity}")
        default = _action(data.get("default", "redact"), f"{where}, default")
        threshold = data.get("threshold")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1
        ):
            raise PolicyError(f"{where}: threshold must be a number between 0 and 1, got {threshold!r}")
        undetectable = data.get("on_undetectable", "warn")
        if undetectable not in ("warn", "block"):
            raise PolicyError(f"{where}: on_undetectable must be 'warn' or 'block', got {undetectable!r}")
        return cls(
            vendor,
            actions,
            default,
            None if threshold is None else float(threshold),
            cast(Literal["warn", "block"], undetectable),
        )

    def action_for(self, entity: str) -> Action:
        return self.actions.get(entity, self.default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "entities": dict(self.actions),
            "default": self.default,
            "threshold": self.threshold,
            "on_undetectable": self.on_undetectable,
        }


def _suggest(name: str) -> str | None:
    upper = name.upper().replace("-", "_").replace(" ", "_")
    containing = [e for e in KNOWN_ENTITIES if upper and upper in e]
    if containing:
        return min(containing, key=len)
    close = difflib.get_close_matches(upper, KNOWN_ENTITIES, n=1, cutoff=0.5)
    return close[0] if close else None


_ACTION_NAMES: dict[object, Action] = {a: a for a in ACTIONS}


def _action(value: object, where: str) -> Action:
    action = _ACTION_NAMES.get(value) if isinstance(value, str) else None
    if action is None:
        raise PolicyError(f"{where}: unknown action {value!r}; allowed: {', '.join(ACTIONS)}")
    return action


@dataclass(frozen=True)
class GuardResult:
    """``text`` is what may be sent (None when blocked). ``counts``: entity -> action -> occurrences. No values."""

    vendor: str
    text: str | None
    blocked: bool
    counts: dict[str, dict[str, int]]
    blocked_by: tuple[str, ...] = ()
    not_looked_for: tuple[str, ...] = ()

    @property
    def metrics(self) -> dict[str, int]:
        """Monitoring metrics: spans detected, and spans whose entity type blocks the text."""
        return {
            "pii_detected": sum(n for per in self.counts.values() for n in per.values()),
            "pii_blocked": sum(per.get("block", 0) for per in self.counts.values()),
        }

    def to_dict(self) -> dict[str, Any]:
        """The record of the call (for the ledger / API): counts and actions, never the text or the values."""
        return {
            "vendor": self.vendor,
            "blocked": self.blocked,
            "blocked_by": list(self.blocked_by),
            "counts": {e: dict(sorted(per.items())) for e, per in sorted(self.counts.items())},
            "not_looked_for": list(self.not_looked_for),
            **self.metrics,
        }


class Guard:
    """Applies egress policies. ``hmac_key`` is needed by policies that ``hash``, ``vault`` by those that
    ``pseudonymise`` (both injected: the guard holds no secrets of its own)."""

    def __init__(self, finder: Finder, *, hmac_key: bytes | None = None, vault: Vault | None = None) -> None:
        self.finder = finder
        self.hmac_key = hmac_key
        self.vault = vault

    def check(self, policy: EgressPolicy) -> None:
        """Raise PolicyError when this guard cannot apply ``policy`` as written."""
        used = set(policy.actions.values()) | {policy.default}
        if "hash" in used and not self.hmac_key:
            raise PolicyError(f"policy for vendor {policy.vendor!r} hashes values but no HMAC key is configured")
        if "pseudonymise" in used and self.vault is None:
            raise PolicyError(f"policy for vendor {policy.vendor!r} pseudonymises values but no vault is configured")

    def apply(self, text: str, policy: EgressPolicy, *, scope: str = "") -> GuardResult:
        """Detect, then transform (or refuse) ``text`` for ``policy.vendor``. ``scope`` groups pseudonyms (e.g. a
        conversation): the vendor's answer is restored with the same scope."""
        self.check(policy)
        looked_for = self.finder.entities
        undetectable = tuple(e for e, a in sorted(policy.actions.items()) if a != "allow" and e not in looked_for)
        spans = self.finder.find(text, threshold=policy.threshold)
        counts: dict[str, dict[str, int]] = {}
        blocked_by: list[str] = []
        for span in spans:
            action = policy.action_for(span.entity)
            per = counts.setdefault(span.entity, {})
            per[action] = per.get(action, 0) + 1
            if action == "block" and span.entity not in blocked_by:
                blocked_by.append(span.entity)
        if policy.on_undetectable == "block":
            blocked_by += [e for e in undetectable if e not in blocked_by]
        if blocked_by:  # nothing is transformed, hashed or stored for a text that will not be sent
            return GuardResult(policy.vendor, None, True, counts, tuple(blocked_by), undetectable)
        return GuardResult(policy.vendor, self._transform(text, spans, policy, scope), False, counts, (), undetectable)

    def _transform(self, text: str, spans: list[Span], policy: EgressPolicy, scope: str) -> str:
        pseudonymising = self.vault is not None and "pseudonymise" in {*policy.actions.values(), policy.default}
        pieces: list[tuple[bool, str]] = []  # (is a token, text)
        cursor = 0
        for span in spans:
            pieces.append((False, text[cursor : span.start]))
            value = text[span.start : span.end]
            action = policy.action_for(span.entity)
            if action == "pseudonymise" and self.vault is not None:
                pieces.append((True, self.vault.tokenize(value, span.entity, scope=scope)))
            else:
                pieces.append((False, self._replace(value, span.entity, action)))
            cursor = span.end
        pieces.append((False, text[cursor:]))
        if pseudonymising and self.vault is not None:
            vault = self.vault
            # text that only looks like a token is vaulted too, so that restoring the answer gives it back intact
            return "".join(piece if token else vault.escape(piece, scope=scope) for token, piece in pieces)
        return "".join(piece for _, piece in pieces)

    def _replace(self, value: str, entity: str, action: Action) -> str:
        if action == "allow":
            return value
        if action == "mask":
            return mask_value(value, entity)
        if action == "hash":
            assert self.hmac_key is not None  # checked by check()
            digest = hmac.new(self.hmac_key, f"{entity}\x00{value}".encode(), hashlib.sha256).hexdigest()
            return f"<{entity}#{digest[:HASH_HEX]}>"
        return f"<{entity}>"

    def restore(self, text: str, *, scope: str = "") -> str:
        """The vendor's answer with this scope's pseudonyms replaced by the original values."""
        if self.vault is None:
            raise PolicyError("no vault is configured: there is nothing to restore")
        return self.vault.restore(text, scope=scope)
