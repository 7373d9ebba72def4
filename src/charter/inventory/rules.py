"""Pure inventory rules: the lifecycle transition table and the vocabularies."""

from __future__ import annotations

from typing import Final

from charter.errors import IllegalTransition

STAGES: Final = ("proposed", "sandbox", "pilot", "production", "retired")

# Every allowed stage move. Anything not listed is refused with the allowed set.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "proposed": frozenset({"sandbox", "retired"}),
    "sandbox": frozenset({"pilot", "proposed", "retired"}),
    "pilot": frozenset({"production", "sandbox", "retired"}),
    "production": frozenset({"pilot", "retired"}),
    "retired": frozenset(),
}

DEPLOYMENT_TYPES: Final = ("in_house_model", "vendor_api", "vendor_saas", "embedded")
RISK_TIERS: Final = ("prohibited", "high", "limited", "minimal", "unclassified")
DATA_CATEGORIES: Final = (
    "none",
    "personal",
    "special_category",
    "children",
    "biometric",
    "financial",
    "health",
    "confidential_business",
    "public",
)


def check_transition(system_key: str, current: str, target: str) -> None:
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        raise IllegalTransition(f"system '{system_key}'", current, target, allowed)
