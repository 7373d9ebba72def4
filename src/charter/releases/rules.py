"""Pure release rules: stages, the status transition table, content hashing, diff, verification.

No database and no web imports: everything here is tested directly in tests/releases/test_rules.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, get_args

from charter.inventory.rules import DEPLOYMENT_STAGES
from charter.kit.errors import IllegalTransition, ValidationFailed

ArtifactKind = Literal["model", "prompt", "dataset", "config", "code"]
ARTIFACT_KINDS: Final[tuple[ArtifactKind, ...]] = get_args(ArtifactKind)
ChangeType = Literal["new_model", "retrain", "prompt_change", "config_change", "data_change"]
CHANGE_TYPES: Final[tuple[ChangeType, ...]] = get_args(ChangeType)
DeploymentKind = Literal["promote", "rollback", "emergency", "withdraw"]
DEPLOYMENT_KINDS: Final[tuple[DeploymentKind, ...]] = get_args(DeploymentKind)

# Status of a release at one stage. 'deployed' is held by at most one release per (system, stage).
#   pending_approval  promotion requested; approvals are being collected
#   approved          the stage policy's approval rules pass (kind: approval)
#   rejected          an approver rejected it for this stage (final: cut a new release)
#   deployed          the stage's deployment pointer names this release
#   superseded        another release was promoted over it (it can come back by a rollback)
#   rolled_back       a rollback took it out (final: fix it in a new release)
#   withdrawn         taken back by its requester or a deployer (final)
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "pending_approval": frozenset({"approved", "rejected", "withdrawn", "deployed"}),
    "approved": frozenset({"deployed", "rejected", "withdrawn"}),
    "rejected": frozenset(),
    "deployed": frozenset({"superseded", "rolled_back", "withdrawn"}),
    "superseded": frozenset({"deployed", "withdrawn"}),
    "rolled_back": frozenset(),
    "withdrawn": frozenset(),
}
STATUSES: Final = tuple(TRANSITIONS)
# A release may be (re)deployed by a rollback from these statuses: it was approved for, or ran at, that stage.
ROLLBACK_TARGET_STATUSES: Final = frozenset({"superseded", "approved"})
PROMOTABLE_STATUSES: Final = frozenset({"pending_approval", "approved"})
DECIDABLE_STATUSES: Final = frozenset({"pending_approval", "approved"})


def check_transition(entity: str, current: str, target: str) -> None:
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        raise IllegalTransition(entity, current, target, allowed)


def ordered_stages(stages: Iterable[str]) -> list[str]:
    """Validate a system's allowed stages and return them in lifecycle order."""
    given = list(stages)
    unknown = [s for s in given if s not in DEPLOYMENT_STAGES]
    if unknown:
        raise ValidationFailed(
            f"unknown stage(s) {', '.join(unknown)}; allowed: {', '.join(DEPLOYMENT_STAGES)}",
            errors=[{"loc": ["stages"], "msg": f"unknown stage {s!r}"} for s in unknown],
        )
    if len(set(given)) != len(given):
        raise ValidationFailed("each stage may be listed once", errors=[{"loc": ["stages"], "msg": "duplicate"}])
    if not given:
        raise ValidationFailed(
            "a system needs at least one release stage", errors=[{"loc": ["stages"], "msg": "empty"}]
        )
    return [s for s in DEPLOYMENT_STAGES if s in given]


def previous_stage(allowed: Sequence[str], stage: str) -> str:
    """The stage a release passes before `stage` in a system's ordered stages ('' for the first)."""
    ordered = [s for s in DEPLOYMENT_STAGES if s in allowed]
    if stage not in ordered:
        return ""
    i = ordered.index(stage)
    return ordered[i - 1] if i > 0 else ""


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_document(artifacts: Iterable[Mapping[str, Any]], change: Mapping[str, Any]) -> dict[str, Any]:
    """What an approval binds to: the artifacts (order-free) and the change record."""
    arts = sorted(
        ({"kind": a["kind"], "name": a["name"], "uri": a["uri"], "sha256": a["sha256"].lower()} for a in artifacts),
        key=lambda a: (a["kind"], a["name"]),
    )
    return {
        "artifacts": arts,
        "change": {
            "summary": change["summary"],
            "type": change["type"],
            "expected_impact": change.get("expected_impact", ""),
            "risk_keys": sorted(set(change.get("risk_keys") or [])),
        },
    }


def content_hash(artifacts: Iterable[Mapping[str, Any]], change: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(content_document(artifacts, change))).hexdigest()


def diff(
    old_artifacts: Iterable[Mapping[str, Any]],
    old_change: Mapping[str, Any],
    new_artifacts: Iterable[Mapping[str, Any]],
    new_change: Mapping[str, Any],
) -> dict[str, Any]:
    """Artifacts added / removed / changed (by kind and name) and changed change-record fields."""
    old_doc = content_document(old_artifacts, old_change)
    new_doc = content_document(new_artifacts, new_change)
    old = {(a["kind"], a["name"]): a for a in old_doc["artifacts"]}
    new = {(a["kind"], a["name"]): a for a in new_doc["artifacts"]}
    changed = []
    for key in sorted(old.keys() & new.keys()):
        fields = {f: [old[key][f], new[key][f]] for f in ("uri", "sha256") if old[key][f] != new[key][f]}
        if fields:
            changed.append({"kind": key[0], "name": key[1], "changes": fields})
    change_fields = {
        f: [old_doc["change"][f], new_doc["change"][f]]
        for f in ("summary", "type", "expected_impact", "risk_keys")
        if old_doc["change"][f] != new_doc["change"][f]
    }
    return {
        "artifacts": {
            "added": [new[k] for k in sorted(new.keys() - old.keys())],
            "removed": [old[k] for k in sorted(old.keys() - new.keys())],
            "changed": changed,
            "unchanged": sum(1 for k in old.keys() & new.keys() if old[k] == new[k]),
        },
        "change": change_fields,
        "same_content": old_doc == new_doc,
    }


def verification_result(sha256: str, deployed: set[str] | None, known: Mapping[str, list[int]]) -> str:
    """'match' when the artifact belongs to the deployed release; 'unknown_artifact' when no release of the
    system has it; 'mismatch' otherwise (an older/other release, or nothing deployed at that stage)."""
    if deployed is not None and sha256 in deployed:
        return "match"
    if sha256 not in known:
        return "unknown_artifact"
    return "mismatch"
