"""Prompts follow the release process (charter.releases.hooks): a release artifact `kind=prompt,
uri=prompt:NAME@VERSION` binds a prompt version by its hash; deploying the release at a stage points the label of
the same name (e.g. `production`) at that version; rolling back or withdrawing moves it back.

- On submit: the named version must exist and its hash must be the artifact's sha256 (else 422, nothing stored).
- On a deployment move to release R at stage S: every prompt R names gets label S → its version. A prompt the
  replaced release named and R does not gets label S back to where it was before that release moved it.
Each move is a label event of kind release / rollback / withdraw with the release, the deployment, the gate
evaluation and the approvals for that stage, and a ledger entry, in the deployment's own transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.kit.errors import NotFound, ValidationFailed
from charter.prompts import rules
from charter.prompts.labels import Via, before_releases, set_label
from charter.prompts.models import PromptLabel
from charter.prompts.queries import find_prompt, version_row
from charter.releases.hooks import DeploymentMoved, on_artifacts_submitted, on_deployment_moved
from charter.releases.models import GateEvaluation, Release, ReleaseApproval, ReleaseArtifact

EVALUATION_FACTS = ("runs", "suites_passed", "suites_failed", "pass_rate", "benchmark_passed", "benchmark_tasks")
KIND_OF_MOVE = {"promote": "release", "rollback": "rollback", "emergency": "rollback", "withdraw": "withdraw"}


def _refused(index: int, problem: str) -> ValidationFailed:
    return ValidationFailed(
        f"artifacts[{index}]: {problem}", errors=[{"loc": ["body", "artifacts", index], "msg": problem}]
    )


@on_artifacts_submitted
def check_prompt_artifacts(ctx: Ctx, system_key: str, system_id: int, artifacts: list[dict[str, Any]]) -> None:
    system = ctx.session.get(AISystem, system_id)
    if system is None:  # pragma: no cover - the release service found it
        return
    for index, artifact in enumerate(artifacts):
        if artifact.get("kind") == rules.ARTIFACT_KIND and str(artifact.get("uri", "")).startswith("prompt:"):
            ref = rules.artifact_ref(artifact)
            if ref is None:
                raise _refused(index, f"uri {artifact['uri']!r}: a Charter prompt is named prompt:NAME@VERSION")
            name, number = ref
            if artifact.get("name") != name:
                raise _refused(index, f"name {artifact.get('name')!r} must be the prompt's name, {name!r}")
            try:
                row = version_row(ctx.session, find_prompt(ctx.session, system, name), number)
            except NotFound as exc:
                raise _refused(index, exc.detail) from None
            if artifact["sha256"] != rules.sha256_hex(row.hash):
                raise _refused(
                    index,
                    f"{name}@{number} has sha256 {rules.sha256_hex(row.hash)}, the artifact says {artifact['sha256']}",
                )


def _refs(ctx: Ctx, release_id: int | None) -> dict[str, int]:
    if release_id is None:
        return {}
    rows = ctx.session.execute(
        select(ReleaseArtifact.kind, ReleaseArtifact.name, ReleaseArtifact.uri).where(
            ReleaseArtifact.release_id == release_id, ReleaseArtifact.kind == rules.ARTIFACT_KIND
        )
    ).all()
    out = {}
    for kind, name, uri in rows:
        ref = rules.artifact_ref({"kind": kind, "name": name, "uri": uri})
        if ref is not None:
            out[ref[0]] = ref[1]
    return out


def _approvals(ctx: Ctx, release_id: int | None, stage: str) -> list[dict[str, Any]]:
    if release_id is None:
        return []
    release = ctx.session.get(Release, release_id)
    rows = ctx.session.execute(
        select(ReleaseApproval)
        .where(ReleaseApproval.release_id == release_id, ReleaseApproval.stage == stage)
        .order_by(ReleaseApproval.decided_at, ReleaseApproval.id)
    ).scalars()
    return [
        {"user": a.username, "role": a.role, "decision": a.decision, "at": a.decided_at.isoformat()}
        for a in rows
        if release is not None and a.content_hash == release.content_hash
    ]


def _evaluation(ctx: Ctx, gate_evaluation_id: int | None) -> dict[str, Any] | None:
    """The evaluation results the gate saw (its `evaluation` facts: runs, suites passed and failed, pass rates)."""
    if gate_evaluation_id is None:
        return None
    gate = ctx.session.get(GateEvaluation, gate_evaluation_id)
    facts = (gate.facts or {}).get("evaluation") if gate is not None else None
    if not isinstance(facts, dict):
        return None
    return {key: facts[key] for key in EVALUATION_FACTS if key in facts}


@on_deployment_moved
def move_labels(ctx: Ctx, moved: DeploymentMoved) -> None:
    new = _refs(ctx, moved.to_release_id)
    old = _refs(ctx, moved.from_release_id)
    if not new and not old:
        return
    system = ctx.session.get(AISystem, moved.system_id)
    if system is None:  # pragma: no cover - the deployment names it
        return
    label = moved.stage
    release_id = moved.to_release_id if moved.to_release_id is not None else moved.from_release_id
    via = Via(
        kind=KIND_OF_MOVE.get(moved.kind, "release"),
        release_id=release_id,
        release_version=moved.to_version if moved.to_release_id is not None else moved.from_version,
        deployment_id=moved.deployment_id,
        gate_evaluation_id=moved.gate_evaluation_id,
        approvals=_approvals(ctx, moved.to_release_id, moved.stage),
        evaluation=_evaluation(ctx, moved.gate_evaluation_id),
    )
    reason = moved.reason or f"{moved.kind} of {moved.system_key} release {via.release_version} at {moved.stage}"
    for name, number in sorted(new.items()):
        set_label(ctx, system, find_prompt(ctx.session, system, name), label, number, reason, via)
    for name, number in sorted(old.items()):
        if name in new or moved.from_release_id is None:
            continue
        prompt = find_prompt(ctx.session, system, name)
        pointer = ctx.session.get(PromptLabel, (prompt.id, label))
        if pointer is None or pointer.number != number:
            continue  # moved since: the replaced release no longer owns the label
        back = before_releases(ctx, prompt, label)
        set_label(ctx, system, prompt, label, back, reason, via)
