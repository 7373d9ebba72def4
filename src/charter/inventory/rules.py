"""Pure inventory rules: the lifecycle transition table and the vocabularies."""

from __future__ import annotations

from typing import Final, Literal, get_args

from charter.kit.errors import IllegalTransition

# A system's lifecycle stage (seed 003's phases): where the system as a whole stands.
LifecycleStage = Literal["proposed", "sandbox", "pilot", "production", "retired"]
LIFECYCLE_STAGES: Final[tuple[LifecycleStage, ...]] = get_args(LifecycleStage)

# A deployment stage: where a release can be deployed (the middle three lifecycle stages). A release's status
# at one of them is charter.releases (pending_approval, approved, deployed, ...).
DeploymentStage = Literal["sandbox", "pilot", "production"]
DEPLOYMENT_STAGES: Final[tuple[DeploymentStage, ...]] = get_args(DeploymentStage)

# Every allowed stage move. Anything not listed is refused with the allowed set.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "proposed": frozenset({"sandbox", "retired"}),
    "sandbox": frozenset({"pilot", "proposed", "retired"}),
    "pilot": frozenset({"production", "sandbox", "retired"}),
    "production": frozenset({"pilot", "retired"}),
    "retired": frozenset(),
}

StageMove = Literal["forward", "back", "retire"]


def stage_move(current: str, target: str) -> StageMove:
    """Which way a stage move goes: forward (towards production), back (a demotion) or retire."""
    if target == "retired":
        return "retire"
    return "forward" if LIFECYCLE_STAGES.index(target) > LIFECYCLE_STAGES.index(current) else "back"


DeploymentType = Literal["in_house_model", "vendor_api", "vendor_saas", "embedded"]
DEPLOYMENT_TYPES: Final[tuple[DeploymentType, ...]] = get_args(DeploymentType)
RiskTier = Literal["prohibited", "high", "limited", "minimal", "unclassified"]
RISK_TIERS: Final[tuple[RiskTier, ...]] = get_args(RiskTier)
DataCategory = Literal[
    "none",
    "personal",
    "special_category",
    "children",
    "biometric",
    "financial",
    "health",
    "confidential_business",
    "public",
]
DATA_CATEGORIES: Final[tuple[DataCategory, ...]] = get_args(DataCategory)


def check_transition(system_key: str, current: str, target: str) -> None:
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        raise IllegalTransition(f"system '{system_key}'", current, target, allowed)
